#!/usr/bin/env bash
# Retention (issue 12): v1 send latency with and without a purge of 1,000,000 messages running.
#
# For each store (sqlite, postgres) and each mode (off, on): a fresh database, migrated by a
# first short server start, then 1,000,000 messages from 1970 in 10 rooms `seed-N` inserted in
# SQL (recursive CTE on SQLite, generate_series on PostgreSQL), then a server started with
# `--limits off` (and `--retention-days 1` for `on`, so its purge at start deletes those rows
# while the load runs) and one fanout run:
#   chatroom-bench fanout --protocol v1 --receivers 10 --senders 5 --window 1 --duration 20
#
#   bash bench/retention.sh                      # both stores
#   STORES=sqlite bash bench/retention.sh        # one
# Env: STORES, PG (admin URL, default postgres://postgres@127.0.0.1:5432/test), ROWS.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

STORES=${STORES:-sqlite postgres}
PG=${PG:-postgres://postgres@127.0.0.1:5432/test}
ROWS=${ROWS:-1000000}
SCHEMA=chatroom_bench_retention
cd "$BENCH_ROOT"
cargo build --release -p chatroom -p chatroom-bench
cp "$CARGO_TARGET_DIR/release/chatroom-bench" "$BENCH_TMP/chatroom-bench"
cp "$CARGO_TARGET_DIR/release/chatroom" "$BENCH_TMP/chatroom"
BENCH=$BENCH_TMP/chatroom-bench
CHATROOM_BIN=$BENCH_TMP/chatroom
ulimit -Hn 65536 2>/dev/null || true
ulimit -n 65536 2>/dev/null || true

# start DB_URL [extra flags...]: like lib.sh's start_server, with our own database and flags.
start() {
  local url=$1 out=$BENCH_TMP/ours.out err=$BENCH_TMP/ours.err
  shift
  : >"$out"
  "$CHATROOM_BIN" --host 127.0.0.1 --port 0 --limits off --db "$url" "$@" >"$out" 2>"$err" &
  SRV_PID=$!
  for _ in $(seq 1 400); do
    SRV_URL=$(grep -o 'http://[0-9.:]*' "$out" 2>/dev/null | head -1 || true)
    [ -n "$SRV_URL" ] && return 0
    kill -0 "$SRV_PID" 2>/dev/null || { cat "$err" >&2; return 1; }
    sleep 0.05
  done
  return 1
}

seed() { # store url
  case $1 in
    sqlite)
      sqlite3 "${2#sqlite://}" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
        INSERT INTO messages (room, name, text, ts) SELECT 'seed-' || (i % 10), 'seed', printf('%0100d', i), 1000 FROM n;" ;;
    postgres)
      psql -q "$PG" -c "INSERT INTO $SCHEMA.messages (room, name, text, ts)
        SELECT 'seed-' || (i % 10), 'seed', lpad(i::text, 100, '0'), 1000 FROM generate_series(1, $ROWS) i;" \
        -c "VACUUM ANALYZE $SCHEMA.messages" ;;
  esac
}

for store in $STORES; do
  for mode in off on; do
    case $store in
      sqlite) rm -f "$BENCH_TMP"/ret.db*; url="sqlite://$BENCH_TMP/ret.db" ;;
      postgres) psql -q "$PG" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE"; url="$PG?schema=$SCHEMA" ;;
    esac
    start "$url"; stop_server            # creates and migrates the database
    t0=$(date +%s); seed "$store" "$url"; echo "# $store: seeded $ROWS rows in $(( $(date +%s) - t0 )) s" >&2
    flags=(); [ "$mode" = on ] && flags=(--retention-days 1)
    start "$url" "${flags[@]}"
    echo "## $store retention=$mode: $CHATROOM_BIN --limits off --db $url ${flags[*]}"
    out=$BENCH_TMP/$store-$mode.jsonl
    "$BENCH" fanout --url "$SRV_URL" --pid "$SRV_PID" --target "$store-retention-$mode" \
      --case "retention-$store-$mode" --out "$out" --protocol v1 --receivers 10 --senders 5 \
      --window 1 --duration 20 >/dev/null
    "$BENCH" report "$out"
    curl -s "$SRV_URL/healthz"; echo
    grep -h "retention purge" "$BENCH_TMP/ours.err" | tail -2 || true
    stop_server
  done
done
