# Shared by bench/compare.sh and bench/smoke.sh: locate binaries, start and stop the servers.
# Sourced, not run. Servers listen on 127.0.0.1 with port 0; their URL is read from the one line
# each prints on stdout (`listening on http://<ip>:<port>`).

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$BENCH_ROOT/target}
BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/chatroom-bench.XXXXXX")
SRV_PID=
SRV_URL=

# Start the server of $1 (ours|node) in the background; sets SRV_PID and SRV_URL.
start_server() {
  local which=$1 out=$BENCH_TMP/$1.out err=$BENCH_TMP/$1.err
  : >"$out"
  case $which in
    ours)
      rm -f "$BENCH_TMP"/bench.db*
      # A load generator is one address opening thousands of connections: a trusted client
      # (--limits off lifts every per-client and per-IP limit, the message rate included).
      "$CHATROOM_BIN" --host 127.0.0.1 --port 0 --limits off \
        --db "sqlite://$BENCH_TMP/bench.db" >"$out" 2>"$err" &
      ;;
    node)
      (cd "$BENCH_ROOT/bench/node-baseline" && HOST=127.0.0.1 PORT=0 exec node bin/www) >"$out" 2>"$err" &
      ;;
    *) echo "unknown server $which" >&2; return 1 ;;
  esac
  SRV_PID=$!
  local i
  for i in $(seq 1 200); do
    SRV_URL=$(grep -o 'http://[0-9.:]*' "$out" 2>/dev/null | head -1 || true)
    [ -n "$SRV_URL" ] && return 0
    if ! kill -0 "$SRV_PID" 2>/dev/null; then
      echo "$which server exited at start:" >&2; cat "$err" >&2; return 1
    fi
    sleep 0.05
  done
  echo "$which server printed no listening line in 10 s" >&2
  return 1
}

# SIGTERM the server started last and wait (at most 10 s) for it to exit.
stop_server() {
  [ -n "$SRV_PID" ] || return 0
  kill -TERM "$SRV_PID" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$SRV_PID" 2>/dev/null || true
  wait "$SRV_PID" 2>/dev/null || true
  SRV_PID=
}

bench_cleanup() {
  stop_server
  rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT
