#!/usr/bin/env bash
# Where an idle connection's bytes go: heaptrack over our server while it holds N idle clients.
#
#   bash bench/idle-heap.sh [CONNECTIONS]      # default 5000; ≈ 1 minute after the build
#   MINI=hyper bash bench/idle-heap.sh 5000    # the same over issue 10's engine experiment
#                                              # (`chatroom-bench mini-engine --http hyper|raw`)
#
# heaptrack hooks malloc, which jemalloc's prefixed calls bypass, so the server is built without
# its `jemalloc` feature (glibc malloc; the same bytes per connection within 2 %, see
# docs/BENCHMARKS.md "Memory after churn"). The server starts under heaptrack,
# `chatroom-bench idle` opens the connections (200 at a time) and holds them HOLD s (default 5),
# the server is stopped, and heaptrack_print lists the call sites holding the most memory at the
# peak — the moment every connection was open. bench/heap-sites.py prints them per connection
# (bytes at the peak / CONNECTIONS), with the crate that asked for each. The raw profile and the
# peak consumers stay in bench/results/idle-heap-<time>.*.
#
# Env: MINI (hyper or raw: profile `chatroom-bench mini-engine --http $MINI` instead of the
#      server; chatroom-bench uses glibc malloc, so no special build), HOLD, HEAP_BIN (a server
#      built with --no-default-features, to skip the build), BENCH_BIN
#      (a release chatroom-bench, to skip its build), TOP (backtraces read, default 40).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

N=${1:-5000}
HOLD=${HOLD:-5}
TOP=${TOP:-40}
cd "$BENCH_ROOT"
if [ -z "${BENCH_BIN:-}" ]; then
  cargo build --release -p chatroom-bench
  BENCH_BIN=$CARGO_TARGET_DIR/release/chatroom-bench
fi
cp "$BENCH_BIN" "$BENCH_TMP/chatroom-bench"
if [ -n "${MINI:-}" ]; then
  SERVER_CMD=("$BENCH_TMP/chatroom-bench" mini-engine --host 127.0.0.1 --port 0 --http "$MINI")
  SERVER_NAME=chatroom-bench
else
  if [ -z "${HEAP_BIN:-}" ]; then
    cargo build --release -p chatroom --no-default-features
    HEAP_BIN=$CARGO_TARGET_DIR/release/chatroom
  fi
  cp "$HEAP_BIN" "$BENCH_TMP/chatroom"
  SERVER_CMD=("$BENCH_TMP/chatroom" --host 127.0.0.1 --port 0 --limits off
    --db "sqlite://$BENCH_TMP/bench.db")
  SERVER_NAME=chatroom
fi
ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"
mkdir -p bench/results
PROFILE=$BENCH_ROOT/bench/results/idle-heap${MINI:+-mini-$MINI}-$(date +%Y%m%d-%H%M%S)

heaptrack -o "$PROFILE" "${SERVER_CMD[@]}" >"$BENCH_TMP/out" 2>"$BENCH_TMP/err" &
TRACER=$!
URL=
for _ in $(seq 1 400); do
  URL=$(grep -o 'http://[0-9.:]*' "$BENCH_TMP/out" 2>/dev/null | head -1 || true)
  [ -n "$URL" ] && break
  sleep 0.05
done
[ -n "$URL" ] || { echo "server printed no listening line" >&2; cat "$BENCH_TMP/err" >&2; exit 1; }
SERVER=$(pgrep -P "$TRACER" -x "$SERVER_NAME")
"$BENCH_TMP/chatroom-bench" idle --url "$URL" --pid "$SERVER" --connections "$N" \
  --concurrency 200 --hold "$HOLD" --quiet
kill -TERM "$SERVER"
wait "$TRACER" || true
FILE=$(ls "$PROFILE".*)
echo "profile: $FILE ($N connections)"
heaptrack_print -f "$FILE" --print-peaks 1 --print-allocators 0 --print-temporary 0 \
  --print-leaks 0 --peak-limit "$TOP" --sub-peak-limit "$TOP" >"$PROFILE-peaks.txt" 2>/dev/null
echo "peak consumers: $PROFILE-peaks.txt"
python3 bench/heap-sites.py "$PROFILE-peaks.txt" "$N"
