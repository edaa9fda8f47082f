#!/usr/bin/env bash
# Ours vs the Node.js baseline, in one run on this machine.
#
# Builds release, then for every case starts a fresh server, runs one scenario, stops it, and
# alternates servers (ours, node, ours, node, ...) so slow drifts of a shared machine hit both
# alike. Writes bench/results/compare-<time>.jsonl, prints the table (each figure with the ratio
# ours/Node) and draws docs/bench/*.svg.
#
#   bash bench/compare.sh                 # every case, REPS=2 runs each, DURATION=10 s
#   REPS=1 DURATION=5 ONLY='seed' bash bench/compare.sh   # quick look at the matching cases
#   WINDOW=64 REPS=3 ONLY='seed|v1-sqlite|idle-10k' bash bench/compare.sh   # issue 10's table
#
# Env: REPS, DURATION (seconds of sending per run), ONLY (regex on case names), WINDOW (messages
#      in flight per sender in the closed-loop cases, default 1; issue 10's table used 64),
#      CHATROOM_BIN (default $CARGO_TARGET_DIR/release/chatroom), PLOTS_DIR (default docs/bench),
#      RUN_TIMEOUT (seconds one run may take, default 300; a run cut off is reported as failed).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

REPS=${REPS:-2}
DURATION=${DURATION:-10}
ONLY=${ONLY:-.}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
PLOTS_DIR=${PLOTS_DIR:-$BENCH_ROOT/docs/bench}

cd "$BENCH_ROOT"
if [ -z "${CHATROOM_BIN:-}" ]; then
  cargo build --release -p chatroom -p chatroom-bench
  CHATROOM_BIN=$CARGO_TARGET_DIR/release/chatroom
else
  cargo build --release -p chatroom-bench
fi
# Private copies: others may rebuild the shared target directory while this runs.
cp "$CARGO_TARGET_DIR/release/chatroom-bench" "$BENCH_TMP/chatroom-bench"
cp "$CHATROOM_BIN" "$BENCH_TMP/chatroom"
BENCH=$BENCH_TMP/chatroom-bench
CHATROOM_BIN=$BENCH_TMP/chatroom
REV=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates Cargo.lock || echo +dirty)
[ -d bench/node-baseline/node_modules ] || (cd bench/node-baseline && npm ci --no-audit --no-fund)
# 19,000 sockets on each side of loopback: lift the open-files limit for us and the servers.
# The server caps connections below its open-file limit, so give it room (root may raise it).
ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"

mkdir -p bench/results
OUT=bench/results/compare-$(date +%Y%m%d-%H%M%S).jsonl
echo "results: $OUT"
echo "server: chatroom at $REV; node $(node --version), socket.io $(node -p "require('./bench/node-baseline/node_modules/socket.io/package.json').version")"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(uname -sr)"

# run_case NAME "ours node" SCENARIO ARGS... : REPS alternating runs, fresh server each run.
run_case() {
  local name=$1 targets=$2; shift 2
  [[ $name =~ $ONLY ]] || return 0
  local rep t
  for rep in $(seq 1 "$REPS"); do
    for t in $targets; do
      echo "=== $name [$t] run $rep/$REPS"
      start_server "$t"
      if ! timeout "$RUN_TIMEOUT" "$BENCH" "$@" --url "$SRV_URL" --pid "$SRV_PID" --target "$t" \
          --case "$name" --out "$OUT" --label "server_rev=$REV" >/dev/null; then
        echo "!!! $name [$t] run $rep failed (see above)"
      fi
      stop_server
    done
  done
}

D=$DURATION
W=${WINDOW:-1}
# Case names carry the window when it is not 1, so results of both kinds never mix.
WS=; [ "$W" = 1 ] || WS=-w$W
run_case seed-1000r-1s$WS    "ours node" fanout --protocol seed --receivers 1000 --senders 1 --window "$W" --duration "$D"
run_case seed-100r-10s$WS    "ours node" fanout --protocol seed --receivers 100 --senders 10 --window "$W" --duration "$D"
run_case seed-500r-200mps    "ours node" fanout --protocol seed --receivers 500 --senders 1 --rate 200 --duration "$D"
run_case v1-sqlite-100r-10s$WS "ours"    fanout --protocol v1 --receivers 100 --senders 10 --window "$W" --duration "$D"
run_case rooms-2000x3-1000mps "ours"     rooms --rooms 2000 --members 3 --rate 1000 --duration "$D"
run_case idle-10k            "ours node" idle --connections 10000 --concurrency 200 --hold 3
REPS=1 run_case idle-19k     "ours node" idle --connections 19000 --concurrency 200 --hold 3
run_case storm-5000-c500     "ours node" storm --connections 5000 --concurrency 500 --hold 0

echo
"$BENCH" report "$OUT"
"$BENCH" plot --out-dir "$PLOTS_DIR" "$OUT"
