#!/usr/bin/env bash
# CI smoke test of the load generator against our server, then against a two-node cluster
# (PostgreSQL 127.0.0.1:5432 and Redis 127.0.0.1:6379, see bench/lib.sh): a few seconds of seed and
# v1 traffic, asserting correctness only (nothing lost, duplicated or reordered; every ack ok). Figures are
# not judged here: CI machines are shared. Exits non-zero if any check fails.
#
#   CHATROOM_BIN=/path/to/chatroom bash bench/smoke.sh
#
# CHATROOM_BIN defaults to $CARGO_TARGET_DIR/release/chatroom if it exists, else debug/.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

if [ -z "${CHATROOM_BIN:-}" ]; then
  if [ -x "$CARGO_TARGET_DIR/release/chatroom" ]; then
    CHATROOM_BIN=$CARGO_TARGET_DIR/release/chatroom
  else
    CHATROOM_BIN=$CARGO_TARGET_DIR/debug/chatroom
  fi
fi
if [ ! -x "$CHATROOM_BIN" ]; then
  (cd "$BENCH_ROOT" && cargo build -q -p chatroom) || { echo "cannot build chatroom"; echo "0 passed, 1 failed"; exit 1; }
fi
BENCH=${CHATROOM_BENCH_BIN:-}
if [ -z "$BENCH" ]; then
  (cd "$BENCH_ROOT" && cargo build -q -p chatroom-bench) || { echo "cannot build chatroom-bench"; echo "0 passed, 1 failed"; exit 1; }
  BENCH=$CARGO_TARGET_DIR/debug/chatroom-bench
fi

passed=0
failed=0
check() {
  local name=$1; shift
  echo "--- $name"
  if timeout 120 "$BENCH" "$@" --url "$SRV_URL" --pid "$SRV_PID" --target ours --case "$name" \
      --check --quiet --out "$BENCH_TMP/smoke.jsonl" >/dev/null; then
    echo "ok: $name"; passed=$((passed + 1))
  else
    echo "FAILED: $name"; failed=$((failed + 1))
  fi
}

echo "smoke: $CHATROOM_BIN"
if start_server ours; then
  check smoke-seed-fanout fanout --protocol seed --receivers 20 --senders 2 --window 4 --duration 3
  check smoke-v1-fanout fanout --protocol v1 --receivers 20 --senders 2 --window 4 --duration 3
  check smoke-v1-rooms rooms --rooms 20 --members 3 --rate 100 --duration 2
  check smoke-storm storm --connections 200 --concurrency 50 --hold 0
  stop_server
else
  failed=$((failed + 1))
fi
# The load generator against a cluster: two nodes on one PostgreSQL schema and Redis, clients
# spread over both; nothing lost, and cross-node deliveries really happened and were measured.
check_cluster() {
  local name=$1; shift
  echo "--- $name"
  if timeout 120 "$BENCH" "$@" --url "$CLUSTER_URLS" --pid "$CLUSTER_PIDS" --target cluster --case "$name" \
      --check --quiet --out "$BENCH_TMP/smoke.jsonl" >"$BENCH_TMP/$name.json" \
    && python3 - "$BENCH_TMP/$name.json" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert r["nodes"] == 2, r.get("nodes")
cross, same = r["latency_cross_node_ms"], r["latency_same_node_ms"]
assert cross and cross["count"] > 0, "no cross-node deliveries measured"
assert same and same["count"] > 0, "no same-node deliveries measured"
assert cross["count"] + same["count"] == r["received"], (cross["count"], same["count"], r["received"])
PY
  then
    echo "ok: $name"; passed=$((passed + 1))
  else
    echo "FAILED: $name"; failed=$((failed + 1))
  fi
}

if start_cluster 2 smoke_cluster; then
  check_cluster smoke-cluster-v1-fanout fanout --protocol v1 --receivers 20 --senders 2 --window 4 --duration 3
  check_cluster smoke-cluster-seed-fanout fanout --protocol seed --receivers 20 --senders 2 --window 4 --duration 3
  check_cluster smoke-cluster-v1-rooms rooms --rooms 20 --members 3 --rate 100 --duration 2
  stop_cluster
else
  failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
