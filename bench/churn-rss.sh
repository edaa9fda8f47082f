#!/usr/bin/env bash
# Memory after churn (Hostile clients #7): does the server's RSS come back down once every
# client has gone, round after round? Starts the release server (--limits off, a temporary
# SQLite database), then ROUNDS times: opens CONNECTIONS idle Socket.IO connections with
# `chatroom-bench idle` (held 2 s, then closed), waits until /healthz shows the baseline again
# (connections, presence, tasks; at most SETTLE_MAX seconds), waits IDLE_WAIT more seconds and
# reads VmRSS. Prints one table: baseline, per round RSS with clients, its growth over the
# baseline per connection (KB), and idle RSS.
#
#   bash bench/churn-rss.sh [ROUNDS] [CONNECTIONS]          # default 3 rounds of 5000
#   SERVER_ENV='MALLOC_ARENA_MAX=2' bash bench/churn-rss.sh # env for the server only
#
# Env: SERVER_ENV (space-separated VAR=VALUE for the server process only, e.g. MALLOC_* for
#      glibc or _RJEM_MALLOC_CONF for jemalloc), IDLE_WAIT (default 5), SETTLE_MAX (default 60),
#      CHATROOM_BIN / CHATROOM_BENCH_BIN (default: build release), OUT (append the table's
#      rows as JSON lines).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
ROUNDS=${1:-3}
CONNS=${2:-5000}
IDLE_WAIT=${IDLE_WAIT:-5}
SETTLE_MAX=${SETTLE_MAX:-60}
SERVER_ENV=${SERVER_ENV:-}

cd "$BENCH_ROOT"
if [ -z "${CHATROOM_BIN:-}" ] || [ -z "${CHATROOM_BENCH_BIN:-}" ]; then
  cargo build -q --release -p chatroom -p chatroom-bench
fi
# Private copies: others may rebuild the shared target directory while this runs.
cp "${CHATROOM_BIN:-$CARGO_TARGET_DIR/release/chatroom}" "$BENCH_TMP/chatroom.real"
cp "${CHATROOM_BENCH_BIN:-$CARGO_TARGET_DIR/release/chatroom-bench}" "$BENCH_TMP/chatroom-bench"
BENCH=$BENCH_TMP/chatroom-bench
# The server runs through `exec env`: SERVER_ENV reaches it alone, under the same process id.
printf '#!/bin/sh\nexec env %s "%s" "$@"\n' "$SERVER_ENV" "$BENCH_TMP/chatroom.real" \
  >"$BENCH_TMP/chatroom"
chmod +x "$BENCH_TMP/chatroom"
CHATROOM_BIN=$BENCH_TMP/chatroom
# Thousands of sockets on each side of loopback: lift the open-files limit (as compare.sh does).
ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$SRV_PID/status"; }
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
health() { curl -fsS --max-time 5 "$SRV_URL/healthz"; }
# "connections presence_connections tasks" from /healthz.
gauges() { health | jq -r '"\(.connections) \(.presence_connections) \(.tasks)"'; }

start_server ours
sleep 1
read -r base_conns base_pres base_tasks < <(gauges)
base_rss=$(rss_kib)
echo "churn-rss: $ROUNDS x $CONNS idle connections; server env: ${SERVER_ENV:-(none)}"
echo "server: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates Cargo.lock || echo +dirty);" \
  "baseline: $base_conns connections, $base_pres presence, $base_tasks tasks, RSS $(mb "$base_rss") MB"

rows=()
for r in $(seq 1 "$ROUNDS"); do
  rec=$(timeout 600 "$BENCH" idle --url "$SRV_URL" --pid "$SRV_PID" --target ours --quiet \
    --connections "$CONNS" --concurrency 200 --hold 2)
  with_kib=$(jq -r '.server_rss_after_kib' <<<"$rec")
  opened=$(jq -r '.opened' <<<"$rec")
  # Growth over the baseline (not over the round's start, which reuses the last round's memory).
  per_conn=$(awk -v w="$with_kib" -v b="$base_rss" -v n="$opened" \
    'BEGIN {printf "%.1f", (n > 0 ? (w - b) / n : 0)}')
  # Wait for the server to forget every client (never-reading sockets would linger until the
  # Engine.IO heartbeat; `idle` closes politely, so this is usually a second or two).
  t0=$SECONDS
  settled=no
  while [ $((SECONDS - t0)) -lt "$SETTLE_MAX" ]; do
    read -r c p t < <(gauges)
    if [ "$c" -le "$base_conns" ] && [ "$p" -le "$base_pres" ] && [ "$t" -le "$base_tasks" ]; then
      settled=yes; break
    fi
    sleep 0.5
  done
  drain_s=$((SECONDS - t0))
  sleep "$IDLE_WAIT"
  idle_kib=$(rss_kib)
  rows+=("$r $opened $(mb "$with_kib") $per_conn $settled/${drain_s}s $(mb "$idle_kib")")
  if [ -n "${OUT:-}" ]; then
    jq -nc --arg env "$SERVER_ENV" --argjson round "$r" --argjson conns "$CONNS" \
      --argjson opened "$opened" --argjson base "$base_rss" --argjson with "$with_kib" \
      --argjson idle "$idle_kib" --arg settled "$settled" \
      '{env: $env, round: $round, connections: $conns, opened: $opened, baseline_kib: $base,
        with_clients_kib: $with, idle_kib: $idle, settled: $settled}' >>"$OUT"
  fi
done

echo
printf '%-6s %7s %14s %9s %10s %10s\n' round opened "with clients" "KB/conn" "settled" "idle"
printf '%-6s %7s %14s %9s %10s %10s\n' base - - - - "$(mb "$base_rss") MB"
for row in "${rows[@]}"; do
  read -r r o w k s i <<<"$row"
  printf '%-6s %7s %11s MB %9s %10s %7s MB\n' "$r" "$o" "$w" "$k" "$s" "$i"
done
