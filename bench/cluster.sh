#!/usr/bin/env bash
# Sizing figures of docs/DEPLOY.md: chatroom-bench (release) against ONE node and against a
# THREE-node cluster on this machine, same load, alternating (single, cluster, single, …) so a
# drift on a shared machine hits both alike. Every run starts fresh nodes on a fresh PostgreSQL
# schema (bench/lib.sh start_cluster); the cluster's nodes also share Redis (own prefix).
#
#   bash bench/cluster.sh            # REPS=3 runs per case; ≈ 4 minutes after the build
#
# Two loads, both v1 in one room (`lobby`), clients round-robin over the nodes:
#   throughput: SENDERS senders with WINDOW messages in flight each, RECEIVERS receivers: deliveries/s
#   latency:    a fixed RATE msg/s in total to LAT_RECEIVERS receivers (well below saturation):
#               p50/p99, and for the cluster cross-node (sender and receiver on different nodes)
#               next to same-node
# Baseline "one node" = one chatroom on the same PostgreSQL without --redis (today's single-node
# deployment on PostgreSQL). Results: bench/results/cluster-<time>.jsonl, then a table of medians.
#
# Environment: CHATROOM_BIN / CHATROOM_BENCH_BIN (default: release builds, built here), REPS,
# DURATION (s of sending, default 10), DRAIN (s to wait for the last deliveries, 10),
# RECEIVERS (200), SENDERS (10), WINDOW (1), RATE (50), LAT_RECEIVERS (100), NODES (3),
# BENCH_PG, BENCH_REDIS (see bench/lib.sh). Each record carries the 1-minute load average at its
# start (`load`): on a shared machine, compare runs taken under similar load only.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

REPS=${REPS:-3}
DURATION=${DURATION:-10}
DRAIN=${DRAIN:-10}
RECEIVERS=${RECEIVERS:-200}
SENDERS=${SENDERS:-10}
WINDOW=${WINDOW:-1}
RATE=${RATE:-50}
LAT_RECEIVERS=${LAT_RECEIVERS:-100}
NODES=${NODES:-3}

if [ -z "${CHATROOM_BIN:-}" ] || [ -z "${CHATROOM_BENCH_BIN:-}" ]; then
  (cd "$BENCH_ROOT" && cargo build --release -p chatroom -p chatroom-bench)
fi
# Copies: a rebuild during the run (other work on this tree) must not swap the binaries.
cp "${CHATROOM_BIN:-$CARGO_TARGET_DIR/release/chatroom}" "$BENCH_TMP/chatroom"
cp "${CHATROOM_BENCH_BIN:-$CARGO_TARGET_DIR/release/chatroom-bench}" "$BENCH_TMP/chatroom-bench"
CHATROOM_BIN=$BENCH_TMP/chatroom
BENCH=$BENCH_TMP/chatroom-bench

mkdir -p "$BENCH_ROOT/bench/results"
OUT=$BENCH_ROOT/bench/results/cluster-$(date -u +%Y%m%dT%H%M%SZ).jsonl
rev=$(cd "$BENCH_ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)

# run LABEL NODES MODE: one throughput and one latency run against fresh nodes.
run() {
  local label=$1 n=$2 mode=$3
  start_cluster "$n" "sizing_$label" "$mode"
  local common=(--url "$CLUSTER_URLS" --pid "$CLUSTER_PIDS" --target "$label" --quiet --check
    --duration "$DURATION" --drain "$DRAIN" --out "$OUT" --label "server_rev=$rev")
  "$BENCH" fanout --protocol v1 --receivers "$RECEIVERS" --senders "$SENDERS" --window "$WINDOW" \
    --case throughput "${common[@]}" --label "load=$(cut -d' ' -f1 /proc/loadavg)" >/dev/null \
    || echo "(check failed: see above)"
  "$BENCH" fanout --protocol v1 --receivers "$LAT_RECEIVERS" --senders "$SENDERS" --rate "$RATE" \
    --case latency "${common[@]}" --label "load=$(cut -d' ' -f1 /proc/loadavg)" >/dev/null \
    || echo "(check failed: see above)"
  stop_cluster
}

echo "sizing: $REPS × (1 node, $NODES nodes); results in $OUT"
for rep in $(seq 1 "$REPS"); do
  echo "== run $rep/$REPS: one node"
  run single 1 --no-redis
  echo "== run $rep/$REPS: $NODES nodes"
  run cluster "$NODES" --redis
done

python3 - "$OUT" <<'PY'
import json, statistics, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(target, case, path):
    vals = []
    for r in recs:
        if r["target"] != target or r["case"] != case:
            continue
        v = r
        for k in path:
            v = v.get(k) if isinstance(v, dict) else None
        if isinstance(v, (int, float)):
            vals.append(v)
    return statistics.median(vals) if vals else None
def f(x, d=1):
    return "-" if x is None else f"{x:,.{d}f}"
def ratio(a, b):
    return "-" if a is None or not b else f"{a / b:.2f}×"
s_rate, c_rate = med("single", "throughput", ["deliveries_per_s"]), med("cluster", "throughput", ["deliveries_per_s"])
print()
print("| figure (medians) | one node | cluster | cluster / one node | target |")
print("|---|---:|---:|---:|---|")
print(f"| throughput: deliveries/s | {f(s_rate, 0)} | {f(c_rate, 0)} | {ratio(c_rate, s_rate)} | ≥ 0.8× |")
for case in ("throughput", "latency"):
    s50, s99 = med("single", case, ["latency_ms", "p50"]), med("single", case, ["latency_ms", "p99"])
    x50, x99 = med("cluster", case, ["latency_cross_node_ms", "p50"]), med("cluster", case, ["latency_cross_node_ms", "p99"])
    m50, m99 = med("cluster", case, ["latency_same_node_ms", "p50"]), med("cluster", case, ["latency_same_node_ms", "p99"])
    tgt = "≤ 2×" if case == "latency" else ""
    print(f"| {case}: p50 ms (cluster: cross-node) | {f(s50, 2)} | {f(x50, 2)} | {ratio(x50, s50)} | |")
    print(f"| {case}: p99 ms (cluster: cross-node) | {f(s99, 2)} | {f(x99, 2)} | {ratio(x99, s99)} | {tgt} |")
    print(f"| {case}: p50 / p99 ms, cluster same-node | | {f(m50, 2)} / {f(m99, 2)} | | |")
rate_s, rate_c = med("single", "latency", ["deliveries_per_s"]), med("cluster", "latency", ["deliveries_per_s"])
print(f"| latency run: deliveries/s (offered rate × receivers) | {f(rate_s, 0)} | {f(rate_c, 0)} | | |")
bad = [(r["target"], r["case"]) for r in recs if r.get("lost") or r.get("duplicates") or r.get("order_violations") or r.get("acks_failed") or r.get("ack_timeouts")]
cpu = lambda t: f(med(t, "throughput", ["server_cpu_pct"]), 0)
gen = lambda t: f(med(t, "throughput", ["gen_cpu_pct"]), 0)
loads = [float(r["load"]) for r in recs if "load" in r]
if loads:
    print(f"\n1-minute load average at the runs' start: {min(loads):.1f}–{max(loads):.1f} (2 cores)")
print(f"server CPU % in the throughput run (all nodes): one node {cpu('single')}, cluster {cpu('cluster')}; generator {gen('single')} / {gen('cluster')}")
print("runs with losses, duplicates, reordering or failed acks:", bad or "none")
PY
