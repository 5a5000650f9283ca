#!/usr/bin/env bash
# bench/run.sh -- openrouter_sync() against the two peers a DBA would run instead
# (../shared/peers/seed_style.py, ../shared/peers/sql_only.sh), measured in one run on one
# machine: first sync into empty tables and re-sync of unchanged data, on the real registry
# (1x) and on 100 copies of it (served by ../shared/peers/serve.py --scale 100).
# Also: peak backend memory during our 100x sync, table sizes after it, and the latency and
# plan of cheapest_models(100000) at 100x, and every view and read function of the README at
# 100x with its plan, median time and PASS/MISS (the reads step, below). Ends with a table of
# medians, ratios and PASS/MISS per target. Not part of scripts/test.sh.
#
# Ours is timed twice over, once the way each peer times itself: "ours" end to end around
# psql (sql_only.sh's figure includes starting psql), "ours_session" from connecting to the
# end of the last statement inside one Python process (bench/session_sync.py, as
# seed_style.py's figure: its interpreter start is not counted). Each ratio pairs a peer with
# the figure taken its way.
#
#   bench/run.sh                          build a release .so and run everything (N=3)
#   N=5 bench/run.sh                      more runs per contender
#   BENCH_SO=/path/libopenrouter_registry.so bench/run.sh   use an existing build
#   PG_MAJOR=18 bench/run.sh              on PostgreSQL 18 (15, the default, 16, 17 or 18;
#                                         16-18: PG_MAJOR=18 scripts/setup.sh first)
#   BENCH_ONLY=reads bench/run.sh         only the reads at SCALE (no peers, no sync timing;
#                                         a few minutes)
#
# Knobs (env): N=3 runs per contender and payload, N1=3N of them on the 1x payload (a few
#   seconds per run; its medians move most between runs); SCALE=100; BENCH_SO (skip the build);
#   BENCH_TARGET_DIR=/tmp/bench-target, /tmp/bench-target-pg18 for 18 (cargo target dir of the release build, kept apart
#   from ./target); BENCH_PGPORT / BENCH_HTTPPORT (default: first free port in 55600-55699);
#   BENCH_INITDB_OPTS (more initdb options, e.g. --no-data-checksums);
#   BENCH_REPORT=FILE (also write the final report there); BENCH_KEEP=1 (keep the scratch
#   directory with the server log after the run); PEERS, FIXTURE (where the peers and the
#   snapshot are; default ../shared/... beside the repository); BENCH_ONLY=reads (only the
#   reads step below); READS_RUNS=5 (timed runs per read query; the median is judged);
#   BENCH_LOCK_FD=N (a file descriptor the caller locked, e.g. with flock, while the SQL files
#   are installed: closed once CREATE EXTENSION has read them, so the lock is held no longer:
#   ( flock 9 && cargo pgrx install && BENCH_LOCK_FD=9 exec bench/run.sh ) 9>/tmp/or-pg.lock).
#
# Needs: PostgreSQL PG_MAJOR with this extension's SQL files installed (scripts/setup.sh), curl,
# python3 with psycopg 3 (installed with pip if missing), and cargo + cargo-pgrx's config
# unless BENCH_SO is given. Run as root (the cluster then runs as the postgres OS user) or as
# a user that may run PostgreSQL itself. Contacts nothing but 127.0.0.1.
#
# Isolation: the release .so is copied into a scratch directory that the throwaway cluster
# (127.0.0.1, trust, no pg_cron, torn down on exit) puts first on dynamic_library_path; the
# control file names the module without $libdir, so the server loads that copy, not the one
# in PostgreSQL's lib directory (checked at run time in /proc/<backend>/maps). The SQL script
# and control file come from the system share dir; if that script was installed by
# `cargo pgrx test` (it then declares the #[pg_test] functions too), the build adds
# --features pg_test so that CREATE EXTENSION finds every symbol; the sync code is the same.
#
# Databases: ours (the extension), peers (../shared/peers/schema.sql; both peers write it),
# fresh (the extension, synced once at 100x right before cheapest_models() is timed there).
# A "first sync" empties every table the extension owns (ours) or things + relationships
# (peers), then CHECKPOINT; a "re-sync" follows it with the same payload. Contenders run in
# rotating order, N times per payload. reads (the reads step): the extension, synced at SCALE
# from bench/reads_server.py (the older snapshot, then FIXTURE with benchmark scores on every
# third model, then the provider endpoints of every model), ANALYZEd; then every view and read
# function of the README, each with its plan and the median of READS_RUNS executions (EXPLAIN
# ANALYZE with TIMING OFF), judged against the issue-20 targets: under 50 ms for a question
# about one model (or a top-N list), under 1 s for a full view or a pass over every model.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PEERS=${PEERS:-$(realpath -m "$ROOT/../shared/peers")}
FIXTURE=${FIXTURE:-$(realpath -m "$ROOT/../shared/fixtures/openrouter/models-2026-03-10.json")}
OLD_FIXTURE=${OLD_FIXTURE:-$(dirname "$FIXTURE")/models-2025-05-23.json}
BENCH_ONLY=${BENCH_ONLY:-}; READS_RUNS=${READS_RUNS:-5}
N=${N:-3}; N1=${N1:-$((3 * ${N}))}; SCALE=${SCALE:-100}
BENCH_SO=${BENCH_SO:-}
# The servers and their pinned versions: scripts/common.sh (PG_BIN, PG_CONFIG of PG_MAJOR).
# shellcheck source=scripts/common.sh
. "$ROOT/scripts/common.sh"
say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }
# One build per major (a build is for one major's headers); 15 keeps the old directory.
BENCH_TARGET_DIR=${BENCH_TARGET_DIR:-/tmp/bench-target${PG_SUFFIX:+-pg$PG_SUFFIX}}
PG_FEATURES=(); [[ $PG_MAJOR == 15 ]] || PG_FEATURES=(--no-default-features --features "pg$PG_MAJOR")
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer"
[[ $N1 =~ ^[1-9][0-9]*$ ]] || die "N1 must be a positive integer"
[[ $SCALE =~ ^[1-9][0-9]*$ ]] || die "SCALE must be a positive integer"
[[ $READS_RUNS =~ ^[1-9][0-9]*$ ]] || die "READS_RUNS must be a positive integer"
[[ -z $BENCH_ONLY || $BENCH_ONLY == reads ]] || die "BENCH_ONLY must be empty or 'reads'"

# ---------------------------------------------------------------- preconditions
[[ -x $PG_BIN/postgres ]] || die "PostgreSQL $PG_MAJOR is not installed ($PG_BIN): run PG_MAJOR=$PG_MAJOR scripts/setup.sh first"
EXTDIR=$("$PG_CONFIG" --sharedir)/extension
if [[ ! -f $EXTDIR/openrouter_registry.control ]] || ! compgen -G "$EXTDIR/openrouter_registry--*.sql" >/dev/null; then
  die "the extension's SQL files are not installed in $EXTDIR: run PG_MAJOR=$PG_MAJOR scripts/setup.sh first"
fi
for f in serve.py seed_style.py sql_only.sh sql_only.sql schema.sql; do
  [[ -f $PEERS/$f ]] || die "$PEERS/$f not found (set PEERS=/path/to/shared/peers)"
done
[[ -f $FIXTURE ]] || die "$FIXTURE not found (set FIXTURE=/path/to/models-2026-03-10.json)"
[[ -f $OLD_FIXTURE ]] || die "$OLD_FIXTURE not found (set OLD_FIXTURE=/path/to/models-2025-05-23.json)"
command -v curl >/dev/null || die "curl is required (sql_only fetches with it)"
python3 -c 'import psycopg' 2>/dev/null || {
  say "pip install 'psycopg[binary]' (needed by seed_style.py)"
  pip install -q 'psycopg[binary]' || die "could not install psycopg: pip install 'psycopg[binary]'"
}

# ---------------------------------------------------------------- release build
# The C functions the installed SQL script asks the .so for. `cargo pgrx test` installs a
# script that also declares the #[pg_test] functions (schema tests); a plain release build
# does not export those, and CREATE EXTENSION would fail. Then the build adds
# --features pg_test: that only compiles the test modules in (src/testkit.rs,
# src/pg_tests.rs); the sync code is the same.
CTL_VERSION=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$EXTDIR/openrouter_registry.control")
EXT_SQL=$EXTDIR/openrouter_registry--$CTL_VERSION.sql
[[ -f $EXT_SQL ]] || die "$EXT_SQL not found: run scripts/setup.sh first"
missing_symbols() {  # SO: C symbols the installed SQL script needs that SO does not export
  command -v nm >/dev/null || return 0   # binutils missing: CREATE EXTENSION will tell
  comm -23 <(sed -n "s/.*AS 'MODULE_PATHNAME', '\([A-Za-z0-9_]*\)'.*/\1/p" "$EXT_SQL" | sort -u) \
           <(nm -D --defined-only "$1" | awk '{print $3}' | sort -u)
}
build() {  # [cargo args]: release build into BENCH_TARGET_DIR
  say "cargo build --release --lib $* (CARGO_TARGET_DIR=$BENCH_TARGET_DIR; the first build takes several minutes)"
  (cd "$ROOT" && CARGO_TARGET_DIR=$BENCH_TARGET_DIR cargo build --release --lib "$@" 2>&1 \
     | grep -vE '^\s+(Compiling|Checking|Downloaded|Downloading)' >&2) || die "the release build failed"
  [[ -f $SO ]] || die "the build produced no $SO"
}
if [[ -n $BENCH_SO ]]; then
  [[ -f $BENCH_SO ]] || die "BENCH_SO=$BENCH_SO does not exist"
  SO=$(realpath "$BENCH_SO"); FEATURES="BENCH_SO"
  say "using the existing build $SO"
else
  command -v cargo >/dev/null || die "cargo is required to build the extension (or set BENCH_SO=path/to/libopenrouter_registry.so)"
  if [[ -z ${PGRX_PG_CONFIG_PATH:-} ]] && ! grep -qs "pg$PG_MAJOR" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
    die "cargo-pgrx is not initialised for PostgreSQL $PG_MAJOR: run PG_MAJOR=$PG_MAJOR scripts/setup.sh first (or set BENCH_SO)"
  fi
  SO=$BENCH_TARGET_DIR/release/libopenrouter_registry.so; FEATURES="cargo build --release ${PG_FEATURES[*]}"
  build "${PG_FEATURES[@]}"
  if [[ -n $(missing_symbols "$SO") ]]; then
    say "the installed SQL script declares test functions (installed by cargo pgrx test): rebuilding with --features pg_test"
    if [[ $PG_MAJOR == 15 ]]; then test_features=(--features pg_test)
    else test_features=(--no-default-features --features "pg$PG_MAJOR pg_test"); fi
    build "${test_features[@]}"; FEATURES="cargo build --release ${test_features[*]}"
  fi
fi
missing=$(missing_symbols "$SO")
[[ -z $missing ]] || die "$SO lacks $(wc -w <<<"$missing") functions that $EXT_SQL declares (e.g. $(head -1 <<<"$missing")): the installed SQL and this build differ; run scripts/setup.sh, or rebuild"

# ---------------------------------------------------------------- scratch dir, cleanup
BENCH_DIR=$(mktemp -d /tmp/openrouter-bench.XXXXXX)
chmod 755 "$BENCH_DIR"
mkdir -p "$BENCH_DIR/lib" "$BENCH_DIR/report"
cp "$SO" "$BENCH_DIR/lib/openrouter_registry.so"
chmod 755 "$BENCH_DIR/lib" "$BENCH_DIR/lib/openrouter_registry.so"
PGDATA_DIR=$BENCH_DIR/pgdata
RESULTS=$BENCH_DIR/results.jsonl; : >"$RESULTS"
NOTICES=$BENCH_DIR/client-stderr.log; : >"$NOTICES"
SRV=""; CLUSTER_UP=0; T_START=$SECONDS

cleanup() {  # only what this script started: its server by PID, its cluster by directory
  if [[ -n $SRV ]]; then kill "$SRV" 2>/dev/null || true; wait "$SRV" 2>/dev/null || true; fi
  if (( CLUSTER_UP )); then as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null 2>&1 || true; fi
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then
    say "kept $BENCH_DIR (server log: $PGDATA_DIR/server.log)"
  else
    rm -rf "$BENCH_DIR"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PGPORT=${BENCH_PGPORT:-$(free_port 55611)}
port_free "$PGPORT" || die "port $PGPORT is in use"

# ---------------------------------------------------------------- machine info
{
  echo "date:       $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine:    $(nproc) cores, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo), Linux $(uname -r)"
  echo "postgres:   $("$PG_BIN/postgres" --version), default settings (shared_buffers 128MB)${BENCH_INITDB_OPTS:+, initdb $BENCH_INITDB_OPTS}, one cluster for all contenders"
  echo "extension:  release build ($FEATURES) $(basename "$SO") ($(stat -c %s "$SO") bytes, sha256 $(sha256sum "$SO" | cut -c1-12), built $(date -u -r "$SO" '+%Y-%m-%d %H:%M UTC')), SQL from $EXTDIR"
  echo "peers:      $PEERS (seed_style.py: psycopg $(python3 -c 'import psycopg; print(psycopg.__version__)'), $(python3 --version))"
  echo "load:       $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at the start: other work on the machine skews absolute times; ratios are measured in the same run"
  [[ $BENCH_ONLY == reads ]] || echo "payload:    $(basename "$FIXTURE") as 1x and --scale $SCALE, served by peers/serve.py on 127.0.0.1; N=$N runs per contender and phase (N1=$N1 at 1x)"
  echo "reads:      $(basename "$OLD_FIXTURE") then $(basename "$FIXTURE") (scores on every third model), both --scale $SCALE, and every model's endpoints, served by bench/reads_server.py on 127.0.0.1; $READS_RUNS timed runs per read"
} >"$BENCH_DIR/report/0-machine.txt"
cat "$BENCH_DIR/report/0-machine.txt" >&2

# ---------------------------------------------------------------- cluster
say "starting a throwaway cluster on 127.0.0.1:$PGPORT ($PGDATA_DIR)"
mkdir -p "$PGDATA_DIR"; chmod 700 "$PGDATA_DIR"
[[ $(id -u) == 0 ]] && chown postgres:postgres "$PGDATA_DIR"
# BENCH_INITDB_OPTS: more initdb options, e.g. --no-data-checksums (on by default from 18).
# shellcheck disable=SC2086
out=$(as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres -A trust -E UTF8 --locale=C.UTF-8 ${BENCH_INITDB_OPTS:-} 2>&1) || { echo "$out" >&2; die "initdb failed"; }
cat >>"$PGDATA_DIR/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = ''          # TCP on loopback only
dynamic_library_path = '$BENCH_DIR/lib:\$libdir'   # the release .so under test, not the system one
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %a: '      # bench/report.py reads NOTICE times per application_name
log_min_messages = debug1   # a sync's progress is logged at DEBUG1, its summary as a NOTICE
EOF
echo "host all all 127.0.0.1/32 trust" >"$PGDATA_DIR/pg_hba.conf"
as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PGDATA_DIR/server.log" -w -t 60 start >/dev/null \
  || { cat "$PGDATA_DIR/server.log" >&2; die "the cluster did not start"; }
CLUSTER_UP=1
SERVERLOG=$PGDATA_DIR/server.log

# psql DB [args]: quiet, unaligned, stop on error, no psqlrc
psql_() { local db=$1; shift; "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$db" "$@"; }
psql_ postgres -c "CREATE DATABASE ours" -c "CREATE DATABASE peers" -c "CREATE DATABASE fresh" -c "CREATE DATABASE reads"
# ours: the extension's own things/relationships (+ history tables, indexes); peers: the
# seed schema (peers/schema.sql). Separate databases, one cluster: the contenders share
# shared_buffers, WAL and checkpoints, and never see each other's rows. fresh: the extension,
# synced once at 100x just before cheapest_models() is timed there (what a new user sees).
make_ext() {  # DB: CREATE EXTENSION openrouter_registry there
  psql_ "$1" -c "CREATE EXTENSION openrouter_registry" 2>&1 | sed 's/^/  /' >&2 || true
  [[ $(psql_ "$1" -c "SELECT count(*) FROM pg_extension WHERE extname = 'openrouter_registry'") == 1 ]] \
    || die "CREATE EXTENSION openrouter_registry failed (see above). If the SQL script in $EXTDIR names a function the .so lacks, the installed SQL and this source differ: run scripts/setup.sh or pass BENCH_SO"
  # An older install's control file may say module_pathname = '$libdir/openrouter_registry',
  # which bypasses dynamic_library_path: point this throwaway catalog at the bare name.
  local fixed
  fixed=$(psql_ "$1" -c "WITH u AS (UPDATE pg_proc SET probin = 'openrouter_registry'
                                     WHERE probin = '\$libdir/openrouter_registry' RETURNING 1)
                        SELECT count(*) FROM u")
  (( fixed == 0 )) || say "note: the installed control file uses \$libdir; repointed $fixed C functions to dynamic_library_path in this throwaway cluster"
}
make_ext ours; make_ext fresh; make_ext reads   # all now: the installed SQL script may change during the run
if [[ -n ${BENCH_LOCK_FD:-} ]]; then
  [[ $BENCH_LOCK_FD =~ ^[0-9]+$ ]] || die "BENCH_LOCK_FD must be a file descriptor number"
  eval "exec $BENCH_LOCK_FD>&-"; say "the extension is created: closed fd $BENCH_LOCK_FD (the caller's lock)"
fi
# "First sync" = every table of the extension emptied (things, relationships, the sync runs,
# price history, change log, and whatever state tables the extension has), then CHECKPOINT.
TABLES=$(psql_ ours -c "$EXTENSION_TABLES_SQL")
[[ -n $TABLES ]] || die "the extension owns no tables?"
# things and relationships are the application's tables (the extension creates them only where
# they are missing, and they are not its members): emptied too.
TABLES="things, relationships, $TABLES"
echo "first sync of ours: TRUNCATE $TABLES CASCADE; CHECKPOINT (the peers: TRUNCATE things, relationships; CHECKPOINT)" >"$BENCH_DIR/report/1-reset.txt"
psql_ peers -f "$PEERS/schema.sql"
DSN_PEERS=postgresql://postgres@127.0.0.1:$PGPORT/peers
DSN_OURS=postgresql://postgres@127.0.0.1:$PGPORT/ours

# ---------------------------------------------------------------- loopback server
serve_start() {  # K: serve the snapshot K times; sets SRV, URL
  local k=$1 port
  port=${BENCH_HTTPPORT:-$(free_port 55681 "$PGPORT")}
  port_free "$port" || die "port $port is in use"
  python3 "$PEERS/serve.py" "$FIXTURE" "$port" --scale "$k" 2>"$BENCH_DIR/serve-$k.log" &
  SRV=$!
  until [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ready") == 404 ]]; do
    kill -0 "$SRV" 2>/dev/null || { cat "$BENCH_DIR/serve-$k.log" >&2; die "serve.py did not start (port $port)"; }
    sleep 0.2
  done
  URL=http://127.0.0.1:$port/api/v1/models
  say "$(cat "$BENCH_DIR/serve-$k.log")"
}
serve_stop() { kill "$SRV" 2>/dev/null || true; wait "$SRV" 2>/dev/null || true; SRV=""; }

# ---------------------------------------------------------------- contenders
SYNC_SQL() { echo "SET openrouter.api_url = '$URL'; SET openrouter.max_response_bytes = '200MB'; SELECT openrouter_sync(force => true);"; }
reset_ours() {
  psql_ ours -c "SET client_min_messages = warning" -c "TRUNCATE $TABLES CASCADE" -c "CHECKPOINT"
  [[ $(psql_ ours -c "SELECT count(*) FROM things") == 0 ]] || die "things is not empty after the reset"
}
reset_peers() { psql_ peers -c "TRUNCATE things, relationships" -c "CHECKPOINT"; }

run_one() {  # CONTENDER PAYLOAD PHASE RUN: one timed sync, appends a JSON line to $RESULTS
  local who=$1 payload=$2 phase=$3 run=$4 app="bench:$1:$2:$3:$4" t0 t1 out
  t0=$EPOCHREALTIME
  case $who in
    ours)       out=$(PGAPPNAME=$app psql_ ours -c "$(SYNC_SQL)" 2>>"$NOTICES") \
                  || { tail -5 "$NOTICES" >&2; die "openrouter_sync() failed ($app)"; } ;;
    sql_only)   out=$(PGAPPNAME=$app "$PEERS/sql_only.sh" "$URL" "$DSN_PEERS") || die "sql_only.sh failed" ;;
    ours_session) out=$(python3 "$HERE/session_sync.py" "$URL" "$DSN_OURS?application_name=$app" 2>>"$NOTICES") \
                  || { tail -5 "$NOTICES" >&2; die "session_sync.py failed ($app)"; } ;;
    seed_style) out=$(python3 "$PEERS/seed_style.py" "$URL" "$DSN_PEERS?application_name=$app") || die "seed_style.py failed" ;;
  esac
  t1=$EPOCHREALTIME
  if [[ $who == ours* && $phase == first ]]; then check_first "$out"; fi
  printf '{"contender":"%s","payload":"%s","phase":"%s","run":%d,"app":"%s","t0":%s,"t1":%s,"out":%s}\n' \
    "$who" "$payload" "$phase" "$run" "$app" "$t0" "$t1" "$out" >>"$RESULTS"
  python3 - "$out" "$t0" "$t1" <<'EOF' >&2
import json, sys
o = json.loads(sys.argv[1]); wall = float(sys.argv[3]) - float(sys.argv[2])
s = o.get("seconds", wall)
extra = f", duration_ms {o['duration_ms']}, {o['inserted']} inserted {o['updated']} updated {o['unchanged']} unchanged" if "duration_ms" in o else ""
print(f"      {s:8.3f} s  ({o.get('models')} models, {o.get('labs')} labs{extra})")
EOF
}

check_first() {  # SUMMARY: a sync into emptied tables must insert every model
  python3 -c 'import json, sys; o = json.loads(sys.argv[1]); sys.exit(0 if o["inserted"] == o["models"] else 1)' "$1" \
    || die "a first sync into emptied tables inserted fewer rows than models ($1): does the reset miss a table?"
}

model_ids() {  # DB: count and md5 of the model ids in things
  psql_ "$1" -c "SELECT count(*) || ' ' || md5(coalesce(string_agg(id, ',' ORDER BY id), '')) FROM things WHERE ns = 'models'"
}

rss_sync() {  # LABEL: one sync of ours in a session whose backend is sampled; prints nothing
  local label=$1 f=$BENCH_DIR/report/rss-$1
  rm -f "$f".*
  BENCH_RSS_OUT=$f BENCH_HERE=$HERE PGAPPNAME="bench:rss:$label" psql_ ours >"$f.summary" 2>>"$NOTICES" <<SQL
SELECT pg_backend_pid() AS pid \gset
\setenv BENCH_PID :pid
\! grep -E '^(VmHWM|VmRSS|RssAnon|RssFile|RssShmem)' /proc/\$BENCH_PID/status > "\$BENCH_RSS_OUT.before"
\! python3 "\$BENCH_HERE/rss_sampler.py" "\$BENCH_PID" "\$BENCH_RSS_OUT.json" 0.01 </dev/null >/dev/null 2>&1 & echo \$! > "\$BENCH_RSS_OUT.pid"; sleep 0.3
$(SYNC_SQL)
\! grep -E '^(VmHWM|VmRSS|RssAnon|RssFile|RssShmem)' /proc/\$BENCH_PID/status > "\$BENCH_RSS_OUT.after"; awk '\$6 ~ /openrouter_registry/ {print \$6}' /proc/\$BENCH_PID/maps | sort -u > "\$BENCH_RSS_OUT.maps"
\! kill \$(cat "\$BENCH_RSS_OUT.pid")
SQL
  for _ in $(seq 50); do [[ -s $f.json ]] && break; sleep 0.1; done
  [[ -s $f.json ]] || die "the RSS sampler wrote nothing ($f.json)"
  local loaded
  loaded=$(cat "$f.maps")
  [[ $loaded == "$BENCH_DIR/lib/openrouter_registry.so" ]] \
    || die "the backend loaded '$loaded', not $BENCH_DIR/lib/openrouter_registry.so: the measurement would not be of the release build"
}

sizes() {  # DB LABEL: sizes of the tables after a sync
  {
    echo "$2"
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$1" -P footer=off <<'SQL'
SELECT * FROM (
SELECT c.relname AS "table",
       (xpath('//n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I', c.relname), false, false, '')))[1]::text::bigint AS rows,
       pg_size_pretty(pg_relation_size(c.oid)) AS heap,
       pg_size_pretty(coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0)) AS toast,
       pg_size_pretty(pg_indexes_size(c.oid)) AS indexes,
       pg_size_pretty(pg_total_relation_size(c.oid)) AS total
  FROM pg_class c
 WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
UNION ALL
SELECT 'all', NULL, NULL, NULL, NULL,
       pg_size_pretty(sum(pg_total_relation_size(c.oid)))
  FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
) s ORDER BY "table" = 'all', "table";
SQL
    echo
  } >>"$BENCH_DIR/report/3-sizes.txt"
}

cheapest() {  # DB SLUG LABEL: plan + latency of cheapest_models(100000); appends to the report
  local db=$1 label=$3 f=$BENCH_DIR/report/cheapest-$2 q="SELECT * FROM cheapest_models(100000)"
  local stats="SELECT coalesce(to_char(greatest(last_analyze, last_autoanalyze), 'HH24:MI:SS'), 'never'),
                      to_char(now(), 'HH24:MI:SS'), n_mod_since_analyze
                 FROM pg_stat_user_tables WHERE relname = 'things'"
  psql_ "$db" -F ' ' -c "$stats" >"$f.stats"
  psql_ "$db" -c "EXPLAIN (ANALYZE, BUFFERS) $q" >"$f.plan"
  {
    echo '\timing on'
    echo '\o /dev/null'
    for _ in $(seq 21); do echo "$q;"; done
  } | psql_ "$db" >"$f.timing" 2>&1
  for _ in $(seq 20); do psql_ "$db" -c "EXPLAIN (ANALYZE) $q" | sed -n 's/^Execution Time: //p'; done >"$f.exec"
  psql_ "$db" -F ' ' -c "$stats" >"$f.stats-after"
  python3 "$HERE/report.py" cheapest "$label" "$f" >>"$BENCH_DIR/report/4-cheapest.txt"
}

reads_setup() {  # the reads database at SCALE: older snapshot, newer one, endpoints; ANALYZE
  local port out
  port=${BENCH_HTTPPORT:-$(free_port 55681 "$PGPORT")}
  port_free "$port" || die "port $port is in use"
  python3 "$HERE/reads_server.py" "$FIXTURE" "$OLD_FIXTURE" "$port" --scale "$SCALE" 2>"$BENCH_DIR/reads-server.log" >&2 &
  SRV=$!
  until [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ready") == 404 ]]; do
    kill -0 "$SRV" 2>/dev/null || { cat "$BENCH_DIR/reads-server.log" >&2; die "reads_server.py did not start (port $port)"; }
    sleep 0.2
  done
  local base=http://127.0.0.1:$port set="SET openrouter.max_response_bytes = '200MB'; SET client_min_messages = warning;"
  for step in "old|$base/old/api/v1/models|SELECT openrouter_sync(force => true)" \
              "new|$base/api/v1/models|SELECT openrouter_sync(force => true)" \
              "endpoints|$base/api/v1/models|SET openrouter.endpoints_concurrency = 16; SELECT openrouter_sync_endpoints()"; do
    IFS='|' read -r label url sql <<<"$step"
    say "reads: $label sync from $url"
    out=$(psql_ reads -c "$set SET openrouter.api_url = '$url'; $sql" 2>>"$NOTICES") \
      || { tail -5 "$NOTICES" >&2; die "the $label sync of the reads database failed"; }
    python3 -c 'import json, sys; o = json.loads(sys.argv[2]); print(f"reads: {sys.argv[1]} sync: " + ", ".join(f"{k} {o[k]}" for k in ("models", "labs", "endpoints", "providers", "added", "repriced", "requests", "duration_ms") if k in o))' "$label" "$out" >&2
  done
  serve_stop
  psql_ reads -c "ANALYZE"
}

# One line per read: its target class (q: a question about one model or a top-N list, under
# 50 ms; v: a full view or a pass over every model, under 1 s) and the SQL. Ranking by a
# workload costs every model; openrouter_health() counts every model and live lab: both v.
READS=(
  "v|SELECT * FROM openrouter_models"
  "v|SELECT * FROM openrouter_models_all"
  "v|SELECT * FROM openrouter_labs"
  "v|SELECT * FROM openrouter_labs_all"
  "v|SELECT * FROM openrouter_endpoints"
  "v|SELECT * FROM openrouter_providers"
  "v|SELECT * FROM openrouter_model_quality"
  "q|SELECT * FROM openrouter_models WHERE id = 'openai/gpt-4o'"
  "q|SELECT * FROM openrouter_models_all WHERE id = 'openai/gpt-4o'"
  "q|SELECT * FROM openrouter_endpoints WHERE model_id = 'openai/gpt-4o'"
  "q|SELECT * FROM openrouter_model_quality WHERE id = 'openai/gpt-4o'"
  "q|SELECT * FROM cheapest_models(100000)"
  "q|SELECT * FROM cheapest_models(100000, exclude_free => true)"
  "q|SELECT * FROM cheapest_models(0, feature => 'tools')"
  "q|SELECT * FROM cheapest_models(0, modality => 'image')"
  "q|SELECT * FROM cheapest_models(0, lab => 'OpenAI')"
  "q|SELECT * FROM cheapest_models(0, include_aliases => true)"
  "v|SELECT * FROM cheapest_models(100000, prompt_tokens => 10000, completion_tokens => 1000)"
  "q|SELECT model_cost('openai/gpt-4o', 10000, 1000)"
  "q|SELECT model_cost('openai/gpt-4o', 10000, 1000, at => now())"
  "v|SELECT id, model_cost(id, 10000, 1000) FROM openrouter_models"
  "q|SELECT * FROM openrouter_price_at('openai/gpt-4o', now())"
  "v|SELECT * FROM openrouter_changes(now() - interval '1 day')"
  "v|SELECT * FROM openrouter_changes(now() - interval '1 day', 'endpoints')"
  "v|SELECT * FROM openrouter_health()"
  "q|SELECT * FROM openrouter_health_by_dataset()"
  "q|SELECT openrouter_last_sync(), openrouter_is_stale()"
  "q|SELECT * FROM fastest_endpoints('openai/gpt-4o')"
  "q|SELECT * FROM fastest_endpoints('openai/gpt-4o', 'latency')"
  "v|SELECT * FROM best_value_models(100000)"
  "v|SELECT * FROM best_value_models(0, min_uptime => 99, max_latency_ms => 1000)"
  "q|SELECT * FROM openrouter_endpoint_history('openai/gpt-4o')"
)

reads() {  # DB: every read of READS: its plan, READS_RUNS timed executions, PASS/MISS
  local db=$1 entry class q i f=$BENCH_DIR/report/4b-reads.txt times=$BENCH_DIR/report/4b-reads.times
  : >"$times"
  {
    echo "targets: under 50 ms for a question about one model or a top-N list (q), under 1 s for a full view or a pass over every model (v); execution time of EXPLAIN ANALYZE, median of $READS_RUNS runs with TIMING OFF after one with timing for the plan below"
    echo "database: $(psql_ "$db" -c "SELECT (SELECT count(*) FROM things WHERE ns = 'models') || ' models, ' || (SELECT count(*) FROM openrouter_models) || ' live, ' || (SELECT count(*) FROM things WHERE ns = 'labs') || ' labs, ' || (SELECT count(*) FROM openrouter_endpoints) || ' endpoints, ' || (SELECT count(*) FROM openrouter_providers) || ' providers, ' || (SELECT count(*) FROM openrouter_model_quality) || ' models with scores, ' || (SELECT count(*) FROM openrouter_change_log) || ' change log rows, ' || (SELECT count(*) FROM openrouter_price_history) || ' price periods, ' || (SELECT count(*) FROM openrouter_endpoint_stats) || ' endpoint metric rows'")"
    for entry in "${READS[@]}"; do
      class=${entry%%|*}; q=${entry#*|}
      echo "== $q"
      psql_ "$db" -c "EXPLAIN (ANALYZE, BUFFERS) $q" | sed 's/^/   /'  || true
      for ((i = 0; i < READS_RUNS; i++)); do
        psql_ "$db" -c "EXPLAIN (ANALYZE, TIMING OFF) $q" | sed -n 's/^Execution Time: \([0-9.]*\) ms$/\1/p' || true
      done | python3 "$HERE/report.py" read "$class" "$q" | tee -a "$times" | sed 's/^/   median /'
    done
  } >"$f" 2>&1
  {
    echo "$(grep -c PASS "$times") of $(wc -l <"$times") reads within target (load average $(cut -d' ' -f1-3 /proc/loadavg) at the end)"
    cat "$times"
  } >"$BENCH_DIR/report/4b-reads-summary.txt"
}

diag_sync() {  # PHASE: one sync of ours with auto_explain logging every SPI statement
  PGAPPNAME="bench:diag:$1" psql_ ours >/dev/null 2>>"$NOTICES" <<SQL
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 1;   -- ms; skips the per-row foreign-key checks
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_analyze = on;
SET auto_explain.log_timing = off;
SET auto_explain.log_buffers = on;
SET auto_explain.log_wal = on;
SET auto_explain.log_format = json;
$(SYNC_SQL)
SQL
}

floor() {  # fixed client cost inside our end-to-end times: psql start + connect (+ loading the .so)
  local i t0 a=() b=()
  for ((i = 0; i < 10; i++)); do
    t0=$EPOCHREALTIME; psql_ ours -c "SELECT 1" >/dev/null; a+=("$t0 $EPOCHREALTIME")
    t0=$EPOCHREALTIME; psql_ ours -c "LOAD 'openrouter_registry'" >/dev/null; b+=("$t0 $EPOCHREALTIME")
  done
  python3 - "${a[@]}" -- "${b[@]}" <<'EOF' >"$BENCH_DIR/report/1-floor.txt"
import statistics, sys
args = sys.argv[1:]; k = args.index("--")
ms = lambda xs: statistics.median((float(x.split()[1]) - float(x.split()[0])) * 1000 for x in xs)
print(f"client floor inside our end-to-end times (median of 10): psql start + connect + SELECT 1 {ms(args[:k]):.1f} ms; "
      f"psql start + connect + LOAD of the .so {ms(args[k + 1:]):.1f} ms")
EOF
}
[[ $BENCH_ONLY == reads ]] || floor

# ---------------------------------------------------------------- the runs
# ours is timed twice over, once per way the peers time themselves: end to end around psql
# (as sql_only.sh, whose figure includes starting psql) and from connect to the last
# statement in one client process (as seed_style.py, whose interpreter start is not counted).
contenders=(ours ours_session sql_only seed_style)
payloads=(1 "$SCALE"); [[ $BENCH_ONLY != reads ]] || payloads=()
for k in "${payloads[@]}"; do
  payload=${k}x; runs=$N
  [[ $k == 1 ]] && runs=$N1
  serve_start "$k"
  for ((i = 1; i <= runs; i++)); do
    for ((j = 0; j < ${#contenders[@]}; j++)); do   # rotate the order every run to spread drift (cache, WAL, checkpoints)
      who=${contenders[$(( (i - 1 + j) % ${#contenders[@]} ))]}
      if [[ $who == ours* ]]; then reset_ours; else reset_peers; fi
      say "$payload run $i/$runs $who: first sync"
      run_one "$who" "$payload" first "$i"
      say "$payload run $i/$runs $who: re-sync"
      run_one "$who" "$payload" resync "$i"
    done
  done
  a=$(model_ids ours); b=$(model_ids peers)
  if [[ $a == "$b" ]]; then same=yes; else same="NO (ours $a, peers $b)"; fi
  echo "$payload: ours and the peers hold the same model ids: $same (${a%% *} models)" >>"$BENCH_DIR/report/1-checks.txt"

  if [[ $k == "$SCALE" ]]; then
    say "$payload: peak backend memory of a first sync and a re-sync (VmHWM, sampled every 10 ms)"
    reset_ours
    rss_sync first;  check_first "$(tail -1 "$BENCH_DIR/report/rss-first.summary")"; sizes ours "ours after a first sync at $payload:"
    rss_sync resync; sizes ours "ours after a first sync and a re-sync at $payload:"
    python3 "$HERE/report.py" rss "$payload" "$BENCH_DIR/report/rss-first" "$BENCH_DIR/report/rss-resync" >"$BENCH_DIR/report/2-rss.txt"
    say "$payload: cheapest_models(100000) plan and latency"
    cheapest ours 1 "database ours, after the syncs above (no manual ANALYZE)"
    psql_ ours -c "ANALYZE things, openrouter_model_state"
    cheapest ours 2 "database ours, after ANALYZE things, openrouter_model_state"
    # what a new user sees: a new database, one sync, then the query. Autovacuum would
    # analyze things within about a minute (autovacuum_naptime); it is off for both tables
    # so that the measurement is of that first minute every time.
    psql_ fresh -c "ALTER TABLE things SET (autovacuum_enabled = off)" -c "ALTER TABLE openrouter_model_state SET (autovacuum_enabled = off)"
    check_first "$(psql_ fresh -c "$(SYNC_SQL)" 2>>"$NOTICES")"
    cheapest fresh 3 "new database, right after its first sync (before autovacuum analyzes things and openrouter_model_state: off for both)"
    say "$payload: table sizes of the peers (one untimed sql_only first sync and re-sync)"
    reset_peers
    "$PEERS/sql_only.sh" "$URL" "$DSN_PEERS" >/dev/null; sizes peers "peers (sql_only) after a first sync at $payload:"
    "$PEERS/sql_only.sh" "$URL" "$DSN_PEERS" >/dev/null; sizes peers "peers (sql_only) after a first sync and a re-sync at $payload:"
    say "$payload: one untimed first sync and re-sync of ours with auto_explain (per-statement times)"
    reset_ours
    diag_sync first
    diag_sync resync
  fi
  serve_stop
done

# ---------------------------------------------------------------- reads
say "${SCALE}x: the reads database (older snapshot, newer one, endpoints), then every view and read function"
reads_setup
reads reads

# ---------------------------------------------------------------- report
if [[ $BENCH_ONLY == reads ]]; then
  report() {
    echo "================ openrouter_registry benchmark: reads only ================"
    cat "$BENCH_DIR/report/0-machine.txt"; echo
    echo "---- every view and read function at ${SCALE}x"; cat "$BENCH_DIR/report/4b-reads-summary.txt"
    echo "  (plans: $BENCH_DIR/report/4b-reads.txt)"
    echo "bench took $((SECONDS - T_START)) s; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
  }
  report
  [[ -z ${BENCH_REPORT:-} ]] || { report >"$BENCH_REPORT"; cp "$BENCH_DIR/report/4b-reads.txt" "${BENCH_REPORT%.*}-plans.txt"; }
  exit 0
fi
sleep 0.5   # let the server log catch up
python3 "$HERE/report.py" phases "$RESULTS" "$SERVERLOG" >"$BENCH_DIR/report/5-phases.txt"
python3 "$HERE/report.py" diag "$SERVERLOG" >"$BENCH_DIR/report/6-diag.txt"
python3 "$HERE/report.py" table "$RESULTS" "$BENCH_DIR/report" >"$BENCH_DIR/report/9-table.txt"
report() {
  echo "================ openrouter_registry benchmark ================"
  cat "$BENCH_DIR/report/0-machine.txt"; echo
  cat "$BENCH_DIR/report/1-reset.txt" "$BENCH_DIR/report/1-checks.txt" "$BENCH_DIR/report/1-floor.txt"; echo
  echo "---- peak backend memory during our ${SCALE}x sync"; cat "$BENCH_DIR/report/2-rss.txt"; echo
  echo "---- table sizes after the ${SCALE}x sync"; cat "$BENCH_DIR/report/3-sizes.txt"
  echo "---- cheapest_models(100000) at ${SCALE}x"; cat "$BENCH_DIR/report/4-cheapest.txt"
  echo "---- every view and read function at ${SCALE}x"; cat "$BENCH_DIR/report/4b-reads-summary.txt"; echo "  (plans: $BENCH_DIR/report/4b-reads.txt)"; echo
  echo "---- where our sync spends its time (medians; from the progress messages in the server log)"; cat "$BENCH_DIR/report/5-phases.txt"; echo
  echo "---- SPI statements of one ${SCALE}x sync (auto_explain, untimed run)"; cat "$BENCH_DIR/report/6-diag.txt"; echo
  cat "$BENCH_DIR/report/9-table.txt"
  echo "bench took $((SECONDS - T_START)) s; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
}
report
[[ -z ${BENCH_REPORT:-} ]] || { report >"$BENCH_REPORT"; cp "$BENCH_DIR/report/4b-reads.txt" "${BENCH_REPORT%.*}-plans.txt"; }
