#!/usr/bin/env bash
# bench/endpoint_history.sh -- openrouter_endpoint_history() at a year of hourly endpoints
# syncs (issue 22): 8,760 syncs x 700 endpoint rows (350 models x 2 providers) = 6.1 million
# rows of openrouter_endpoint_stats, written in sync order as the syncs would write them.
# Times the function (30 days by day, 7 days by hour, 365 days by week) with EXPLAIN ANALYZE,
# with the (model_id, provider, observed_at) index, with only the older (model_id,
# observed_at) index, and with neither. Prints the figures; bench/RESULTS.md keeps them.
#
# Needs no build: the table, its indexes and the function are taken from sql/endpoints.sql and
# sql/datasets.sql as they are (schema public) into a throwaway cluster (127.0.0.1, trust,
# torn down on exit). Contacts nothing. Knobs (env): SYNCS=8760, MODELS=350, PROVIDERS=2,
# RUNS=5 (timed runs per query; the median and the best are printed), BENCH_PGPORT.
#   bench/endpoint_history.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "== $*"; }
die() { echo "endpoint_history.sh: $*" >&2; exit 1; }
source "$ROOT/bench/lib.sh"
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
SYNCS=${SYNCS:-8760}; MODELS=${MODELS:-350}; PROVIDERS=${PROVIDERS:-2}; RUNS=${RUNS:-5}
PORT=${BENCH_PGPORT:-$(free_port 55650)}
DIR=$(mktemp -d /tmp/or-bench-history.XXXXXX); chmod 755 "$DIR"
chown postgres: "$DIR" 2>/dev/null || true
trap 'as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT

as_pg "$PG_BIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
cat >>"$DIR/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
shared_buffers = 256MB
maintenance_work_mem = 256MB
max_wal_size = 4GB
fsync = off
synchronous_commit = off
full_page_writes = off
jit = off
CONF
as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start >/dev/null
q() { "$PG_BIN/psql" -X -qAt -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

# The table as sql/endpoints.sql creates it (without its indexes: built after the load), the
# new index and the function as sql/datasets.sql creates them.
python3 - "$ROOT" >"$DIR/schema.sql" <<'PY'
import re, sys
root = sys.argv[1]
e = open(f"{root}/sql/endpoints.sql").read()
print(e[e.index("CREATE TABLE openrouter_endpoint_stats"):e.index(");", e.index("CREATE TABLE openrouter_endpoint_stats")) + 2])
d = open(f"{root}/sql/datasets.sql").read()
start = d.index("CREATE FUNCTION openrouter_endpoint_history")
print(d[start:d.index("$$;", d.index("AS $$", start)) + 3])
PY
sed -i 's/@extschema@/public/g' "$DIR/schema.sql"
q -f "$DIR/schema.sql" >/dev/null
indexes=$(python3 - "$ROOT" <<'PY'
import re, sys
for f in ("endpoints.sql", "datasets.sql"):
    for m in re.finditer(r"CREATE INDEX openrouter_endpoint_stats_[^;]*;", open(f"{sys.argv[1]}/sql/{f}").read()):
        print(m.group(0))
PY
)

rows=$((SYNCS * MODELS * PROVIDERS))
say "loading $SYNCS hourly syncs x $MODELS models x $PROVIDERS providers = $rows rows"
t0=$SECONDS
q -c "ALTER TABLE openrouter_endpoint_stats SET (autovacuum_enabled = false)"
q -c "INSERT INTO openrouter_endpoint_stats (observed_at, endpoint_id, model_id, provider, status,
             latency_p50_ms, latency_p90_ms, throughput_p50, uptime_last_5m, uptime_last_30m, uptime_last_1d)
      SELECT date_trunc('hour', now()) - make_interval(hours => $SYNCS - s), 'lab/model-' || m || '@provider-' || p,
             'lab/model-' || m, 'provider-' || p, '0',
             round((200 + 300 * random())::numeric, 1), round((600 + 900 * random())::numeric, 1),
             round((20 + 180 * random())::numeric, 2), 100, round((95 + 5 * random())::numeric, 3),
             round((98 + 2 * random())::numeric, 3)
        FROM generate_series(1, $SYNCS) s, generate_series(1, $MODELS) m, generate_series(1, $PROVIDERS) p
       ORDER BY s, m, p"
say "loaded in $((SECONDS - t0)) s; building the indexes"
t0=$SECONDS
q -c "$indexes" >/dev/null
q -c "VACUUM ANALYZE openrouter_endpoint_stats"
say "indexed and vacuumed in $((SECONDS - t0)) s"
q -c "SELECT 'table ' || pg_size_pretty(pg_table_size('openrouter_endpoint_stats')) || ', ' || string_agg(indexrelid::regclass || ' ' || pg_size_pretty(pg_relation_size(indexrelid)), ', ' ORDER BY indexrelid::regclass::text)
        FROM pg_index WHERE indrelid = 'openrouter_endpoint_stats'::regclass"

# QUERY-LABEL SQL: RUNS timed executions (EXPLAIN ANALYZE's execution time), median and best,
# then the plan of the function's query for the same arguments.
MODEL="lab/model-$((MODELS / 2))"; PROVIDER="provider-1"
time_query() {
  local label=$1 sql=$2 times
  times=$(for _ in $(seq "$RUNS"); do
            q -c "EXPLAIN (ANALYZE, FORMAT JSON) $sql" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Execution Time"])'
          done | sort -n)
  printf '%-58s median %8.2f ms   best %8.2f ms   (%s runs)\n' "$label" \
    "$(echo "$times" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')" \
    "$(echo "$times" | head -1)" "$RUNS"
}
queries=(
  "30 days by day|SELECT * FROM openrouter_endpoint_history('$MODEL', '$PROVIDER', 30)"
  "7 days by hour|SELECT * FROM openrouter_endpoint_history('$MODEL', '$PROVIDER', 7, '1 hour')"
  "365 days by week|SELECT * FROM openrouter_endpoint_history('$MODEL', '$PROVIDER', 365, '7 days')"
  "30 days by day, both providers|SELECT * FROM openrouter_endpoint_history('$MODEL', days => 30)"
)
body="SELECT observed_at, latency_p50_ms, uptime_last_30m FROM openrouter_endpoint_stats
       WHERE model_id = '$MODEL' AND provider = '$PROVIDER' AND observed_at >= now() - make_interval(days => 30)"
run_all() {
  for entry in "${queries[@]}"; do time_query "${entry%%|*}" "${entry#*|}"; done
  say "plan of the 30-day query"
  q -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) $body"
}
say "with openrouter_endpoint_stats_model_provider_idx (model_id, provider, observed_at)"
run_all
q -c "DROP INDEX openrouter_endpoint_stats_model_provider_idx"
say "without it: only openrouter_endpoint_stats_model_idx (model_id, observed_at)"
run_all
q -c "DROP INDEX openrouter_endpoint_stats_model_idx"
say "with neither (RUNS=1)"
RUNS=1 run_all
