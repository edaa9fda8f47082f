#!/usr/bin/env bash
# Issue 10's engine experiment against the real server and Node, with the same harness.
#
#   bash bench/mini-engine.sh          # ≈ 4 minutes after the build
#
# 1. Checks that the official socket.io-client (WebSocket transport) can use the experiment
#    (`chatroom-bench mini-engine`, crates/chatroom-bench/src/mini_engine.rs): broadcast, ack,
#    and 3 s of heartbeats at a 0.5 s ping interval (bench/mini-engine-check.js).
# 2. Runs `chatroom-bench idle --connections N --concurrency 200 --hold 3` REPS times against each
#    target, alternating (ours, node, mini-hyper, mini-raw, ours, ...), a fresh server per run,
#    and prints the median bytes per connection of each with its ratio to Node's.
#
# Env: REPS (default 3), N (default 10000), TARGETS (default "ours node mini-hyper mini-raw"),
#      CHATROOM_BIN (default: release build of this tree, jemalloc as shipped), BENCH_BIN (a
#      release chatroom-bench, to skip its build).
# Results: bench/results/mini-engine-<time>.jsonl.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

REPS=${REPS:-3}
N=${N:-10000}
TARGETS=${TARGETS:-ours node mini-hyper mini-raw}
cd "$BENCH_ROOT"
if [ -z "${BENCH_BIN:-}" ]; then
  cargo build --release -p chatroom-bench
  BENCH_BIN=$CARGO_TARGET_DIR/release/chatroom-bench
fi
cp "$BENCH_BIN" "$BENCH_TMP/chatroom-bench"
BENCH=$BENCH_TMP/chatroom-bench
if [[ " $TARGETS " == *" ours "* ]]; then
  if [ -z "${CHATROOM_BIN:-}" ]; then
    cargo build --release -p chatroom
    CHATROOM_BIN=$CARGO_TARGET_DIR/release/chatroom
  fi
  cp "$CHATROOM_BIN" "$BENCH_TMP/chatroom"
  CHATROOM_BIN=$BENCH_TMP/chatroom
fi
REV=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates Cargo.lock || echo +dirty)
[ -d bench/node-baseline/node_modules ] || (cd bench/node-baseline && npm ci --no-audit --no-fund)
[ -d interop/node/node_modules ] || (cd interop/node && npm ci --no-audit --no-fund)
ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"

echo "=== socket.io-client against mini-engine (both modes, 0.5 s pings)"
for mode in hyper raw; do
  : >"$BENCH_TMP/check.out"
  "$BENCH" mini-engine --http "$mode" --ping-interval 0.5 --ping-timeout 0.5 \
    >"$BENCH_TMP/check.out" 2>"$BENCH_TMP/check.err" &
  CHECK=$!
  for _ in $(seq 1 100); do grep -q http "$BENCH_TMP/check.out" && break; sleep 0.05; done
  URL=$(grep -o 'http://[0-9.:]*' "$BENCH_TMP/check.out")
  node bench/mini-engine-check.js "$URL" || { kill "$CHECK"; exit 1; }
  kill -TERM "$CHECK"; wait "$CHECK" || true
  echo "mini-$mode counters: $(cat "$BENCH_TMP/check.err")"
done

mkdir -p bench/results
OUT=bench/results/mini-engine-$(date +%Y%m%d-%H%M%S).jsonl
echo "results: $OUT (chatroom at $REV; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg))"
for rep in $(seq 1 "$REPS"); do
  for t in $TARGETS; do
    echo "=== idle-$N [$t] run $rep/$REPS"
    start_server "$t"
    timeout 300 "$BENCH" idle --url "$SRV_URL" --pid "$SRV_PID" --target "$t" --case "idle-$N" \
      --connections "$N" --concurrency 200 --hold 3 --quiet --out "$OUT" \
      --label "server_rev=$REV" >/dev/null || echo "!!! $t run $rep failed"
    stop_server
  done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$OUT" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("server_bytes_per_conn") is not None and r.get("still_open") == r.get("connections"):
        runs.setdefault(r["target"], []).append(r["server_bytes_per_conn"])
node = statistics.median(runs["node"]) if "node" in runs else None
print("| target | runs | bytes/connection (median) | min–max | / Node |")
print("|---|---:|---:|---|---:|")
for t, v in runs.items():
    m = statistics.median(v)
    ratio = f"{m / node:.2f}×" if node else "-"
    print(f"| {t} | {len(v)} | {m:,.0f} | {min(v):,.0f}–{max(v):,.0f} | {ratio} |")
PY
