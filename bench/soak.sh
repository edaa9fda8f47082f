#!/usr/bin/env bash
# Soak test (Hostile clients #7): starts the server on a free loopback port with a temporary
# SQLite database, runs `chatroom-bench soak --check` against it for SECONDS (default 60), prints
# the summary and stops the server. Exits non-zero if the soak found a violation (lost or
# duplicated messages, ghost members, leaked files/tasks, RSS growth) or could not run.
#
#   bash bench/soak.sh [SECONDS]
#
# Builds release binaries unless CHATROOM_BIN / CHATROOM_BENCH_BIN point at existing ones
# (scripts/test.sh passes its debug builds). Extra soak flags: SOAK_ARGS="--clients 100".
set -uo pipefail
. "$(dirname "$0")/lib.sh"
secs=${1:-60}

if [ -z "${CHATROOM_BIN:-}" ] || [ -z "${CHATROOM_BENCH_BIN:-}" ]; then
  (cd "$BENCH_ROOT" && cargo build -q --release -p chatroom -p chatroom-bench) \
    || { echo "soak: cannot build"; exit 1; }
fi
CHATROOM_BIN=${CHATROOM_BIN:-$CARGO_TARGET_DIR/release/chatroom}
BENCH=${CHATROOM_BENCH_BIN:-$CARGO_TARGET_DIR/release/chatroom-bench}

echo "soak: ${secs}s against $CHATROOM_BIN"
start_server ours || exit 1
# shellcheck disable=SC2086 # SOAK_ARGS is a list of flags
timeout $((secs + 180)) "$BENCH" soak --duration "$secs" --url "$SRV_URL" --server-pid "$SRV_PID" \
  --target ours --check --quiet --out "$BENCH_TMP/soak.jsonl" ${SOAK_ARGS:-} >/dev/null
rc=$?
[ -s "$BENCH_TMP/soak.jsonl" ] && cp "$BENCH_TMP/soak.jsonl" "${SOAK_OUT:-/dev/null}" 2>/dev/null
stop_server
if [ "$rc" -eq 0 ]; then echo "soak: ok"; else echo "soak: FAILED (exit $rc)"; fi
exit "$rc"
