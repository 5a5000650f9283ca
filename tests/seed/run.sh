#!/usr/bin/env bash
# The seed's database (issue 19), against a throwaway cluster, as a DBA would meet it:
#   1. adopted: CREATE EXTENSION where the worker ran (the seed's things and relationships,
#      its rows, other sources' rows) uses those tables; syncs take the worker's rows over
#      and never touch another namespace; pg_dump/pg_restore keeps every row and the
#      restored database syncs on; DROP EXTENSION leaves both tables and every row
#   2. created: where they are missing, CREATE EXTENSION creates them; other sources write
#      into them; pg_dump/pg_restore keeps every row; DROP EXTENSION leaves them
#   3. misfits: tables that do not fit stop CREATE EXTENSION with an error that names the
#      difference, and nothing is changed
# Uses the build cargo pgrx test installed. About 20 s. KEEP=1 leaves the cluster running.
source "$(dirname "$0")/../../scripts/common.sh"
need_root "$@"
DIR=${SEED_DIR:-/tmp/openrouter-seed-pg$PG_SUFFIX}
PORT=${SEED_PORT:-$((55713 + PORT_SHIFT))}
FIX=$ROOT/../shared/fixtures/openrouter
F25=$FIX/models-2025-05-23.json
F26=$FIX/models-2026-03-10.json
for f in "$F25" "$F26"; do [[ -f $f ]] || die "missing fixture $f"; done

cluster_stop "$DIR"; rm -rf "$DIR"
WORK=$(mktemp -d /tmp/openrouter-seed.XXXXXX)
chown postgres "$WORK"
cleanup() { [[ -n ${KEEP:-} ]] && return; cluster_stop "$DIR"; rm -rf "$DIR" "$WORK"; }
trap cleanup EXIT
cluster_start "$DIR" "$PORT"

export PGOPTIONS="-c statement_timeout=120000 -c client_min_messages=warning"
PSQL=("$PG_BIN/psql" -X -qAt -h 127.0.0.1 -p "$PORT" -U postgres)
# One session: the worker's functions (pg_temp) are there for every statement after them.
qd() { timeout 120 "${PSQL[@]}" -d "$1" -v ON_ERROR_STOP=1 -f "$ROOT/tests/seed/worker.sql" -c "$2"; }
q() { timeout 120 "${PSQL[@]}" -d "$1" -v ON_ERROR_STOP=1 -c "$2"; }

passed=0; failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1${2:+ ($2)}"; }
check() {  # NAME DB SQL-returning-boolean
  local got; got=$(qd "$2" "$3" 2>"$WORK/check.err") || true
  if [[ $got == t ]]; then pass "$1"
  else fail "$1" "${3:0:200} -> ${got:0:100} $(grep -E 'ERROR|FATAL' "$WORK/check.err" | head -3 | cut -c1-300)"; fi
}
oneline() { tr '\n' ' ' <<<"$1" | cut -c1-300; }
same() {  # NAME EXPECTED GOT (both non-empty)
  if [[ -n $2 && $2 == "$3" ]]; then pass "$1"; else fail "$1" "expected ${2:0:150}, got ${3:0:150}"; fi
}

# The seed schema, as the worker's deployment created it (../shared/peers/schema.sql).
SEED_SCHEMA="
CREATE TABLE IF NOT EXISTS things (
  ns text, id text, type text, data jsonb, content text,
  created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now(),
  PRIMARY KEY (ns, id));
CREATE TABLE IF NOT EXISTS relationships (
  ns text, id text, type text, from_ns text, from_id text, to_ns text, to_id text,
  data jsonb, created_at timestamptz DEFAULT now(),
  PRIMARY KEY (ns, id));"
sync_file() { echo "SELECT openrouter_sync_from_text(pg_read_file('$1'), force => ${2:-false})"; }
fingerprint() {  # TABLE ORDER-BY: 'count:md5' of every row's text
  echo "(SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY $2)), '') FROM $1 t)"
}
ALL_ROWS="SELECT $(fingerprint things 'ns, id') || ' ' || $(fingerprint relationships 'ns, id') \
  || ' ' || $(fingerprint openrouter_sync_runs id) || ' ' || $(fingerprint openrouter_price_history 'model_id, valid_from') \
  || ' ' || $(fingerprint openrouter_change_log id) || ' ' || $(fingerprint openrouter_model_state model_id)"
SHARED_ROWS="SELECT $(fingerprint things 'ns, id') || ' ' || $(fingerprint relationships 'ns, id')"
# Other sources' rows without their physical identity (a restore gives them new ones).
OTHERS="SELECT string_agg(t::text, '|' ORDER BY t::text) FROM (
          SELECT t::text FROM things t WHERE ns NOT IN ('models', 'labs', 'providers', 'endpoints')
          UNION ALL SELECT r::text FROM relationships r WHERE ns <> 'relationships' OR id LIKE 'hosts-%') t"
MEMBERS="SELECT count(*) FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
          WHERE e.extname = 'openrouter_registry' AND d.deptype = 'e'
            AND d.objid IN ('things'::regclass, 'relationships'::regclass)"

dump_and_restore() {  # DB NEW-DB: pg_dump -Fc, pg_restore into a new database, stopping at any error
  as_pg "$PG_BIN/pg_dump" -h 127.0.0.1 -p "$PORT" -U postgres -Fc -f "$WORK/$1.dump" "$1"
  q postgres "CREATE DATABASE $2"
  as_pg "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$PORT" -U postgres --exit-on-error -d "$2" "$WORK/$1.dump" \
    2>"$WORK/restore.err"
}

# ---------------------------------------------------------------------------------------
echo "== 1. adopted: the database where the worker ran"
q postgres "CREATE DATABASE seeded"
q seeded "$SEED_SCHEMA"
qd seeded "
  SELECT pg_temp.worker_ingest(pg_read_file('$F25')::jsonb);
  SELECT pg_temp.worker_ingest('{\"data\": [{\"id\": \"openai/gpt-3.5-turbo-0301\", \"name\": \"GPT-3.5 Turbo (v0301)\",
      \"pricing\": {\"prompt\": \"0.0000015\", \"completion\": \"0.000002\"}, \"architecture\": {\"modality\": \"text->text\"}}]}');
  UPDATE things SET created_at = '2025-05-23 02:00:00+00' WHERE ns IN ('models', 'labs');
  SELECT pg_temp.other_sources_write();" >/dev/null
others_before=$(qd seeded "SELECT pg_temp.other_sources_rows()")
adopted() {  # the rest of section 1, once the extension is in
check "things and relationships are not members of the extension" seeded "SELECT ($MEMBERS) = 0"
check "the application's table keeps its storage settings" seeded \
  "SELECT reloptions IS NULL FROM pg_class WHERE oid = 'things'::regclass"
same "the extension's objects did not touch another source's row" "$others_before" \
  "$(qd seeded "SELECT pg_temp.other_sources_rows()")"
check "the first sync takes the worker's models over" seeded \
  "SELECT s->>'inserted' = '0' AND s->>'updated' = '321' AND s->>'removed' = '1' FROM ($(sync_file "$F25")) AS q(s)"
check "taken-over rows keep their created_at" seeded \
  "SELECT count(*) = 0 FROM things WHERE ns IN ('models', 'labs') AND created_at <> '2025-05-23 02:00:00+00'"
check "the worker's gone model is marked removed" seeded \
  "SELECT data->>'deprecated_reason' = 'removed' FROM things WHERE ns = 'models' AND id = 'openai/gpt-3.5-turbo-0301'"
check "the newer snapshot syncs on" seeded \
  "SELECT s->>'added' = '197' FROM ($(sync_file "$F26" true)) AS q(s)"
same "no sync read or wrote another source's row" "$others_before" "$(qd seeded "SELECT pg_temp.other_sources_rows()")"
check "the views count only this extension's models" seeded \
  "SELECT count(*) = (SELECT count(*) FROM things WHERE ns = 'models') FROM openrouter_models_all"

before=$(q seeded "$ALL_ROWS")
if dump_and_restore seeded seeded_restored; then pass "pg_dump | pg_restore --exit-on-error (adopted tables)"
else fail "pg_dump | pg_restore --exit-on-error (adopted tables)" "$(grep -m3 -E 'error|ERROR' "$WORK/restore.err")"; fi
same "the restore keeps every row" "$before" "$(q seeded_restored "$ALL_ROWS")"
check "the restored tables are still not members" seeded_restored "SELECT ($MEMBERS) = 0"
check "the restored index on things goes with the extension again" seeded_restored \
  "SELECT EXISTS (SELECT 1 FROM pg_depend WHERE objid = 'things_endpoints_by_model_idx'::regclass AND deptype = 'x')"
check "the restored database syncs on" seeded_restored \
  "SELECT s->>'models' = '346' AND s->>'inserted' = '0' AND s->>'added' = '0' AND s->>'removed' = '0' FROM ($(sync_file "$F26")) AS q(s)"
same "... and touches no other source's row" "$(q seeded "$OTHERS")" "$(q seeded_restored "$OTHERS")"

shared=$(q seeded "$SHARED_ROWS")
if out=$(q seeded "DROP EXTENSION openrouter_registry" 2>&1); then pass "DROP EXTENSION (adopted)"
else fail "DROP EXTENSION (adopted)" "$(head -3 <<<"$out")"; fi
same "DROP EXTENSION keeps things and relationships, every row" "$shared" "$(q seeded "$SHARED_ROWS" 2>&1)"
check "DROP EXTENSION drops the extension's own tables and its index on things" seeded \
  "SELECT to_regclass('openrouter_sync_runs') IS NULL AND to_regclass('things_endpoints_by_model_idx') IS NULL"
check "CREATE EXTENSION again uses them again, and syncs on" seeded \
  "CREATE EXTENSION openrouter_registry; SELECT s->>'models' = '346' FROM ($(sync_file "$F26" true)) AS q(s)"

}
if out=$(q seeded "CREATE EXTENSION openrouter_registry" 2>&1); then
  pass "CREATE EXTENSION in the seed's database succeeds"
  adopted
else
  fail "CREATE EXTENSION in the seed's database succeeds" "$(head -3 <<<"$out")"
fi

# ---------------------------------------------------------------------------------------
echo "== 2. created: a database without the seed's tables"
q postgres "CREATE DATABASE fresh"
q fresh "CREATE EXTENSION openrouter_registry"
check "CREATE EXTENSION creates things and relationships, not as members" fresh \
  "SELECT to_regclass('things') IS NOT NULL AND to_regclass('relationships') IS NOT NULL AND ($MEMBERS) = 0"
check "... with the storage settings a sync is fastest with" fresh \
  "SELECT reloptions = '{fillfactor=50}' FROM pg_class WHERE oid = 'things'::regclass"
qd fresh "$(sync_file "$F25"); SELECT pg_temp.other_sources_write();" >/dev/null
check "the newer snapshot syncs" fresh "SELECT s->>'added' = '197' FROM ($(sync_file "$F26" true)) AS q(s)"
before=$(q fresh "$ALL_ROWS")
if dump_and_restore fresh fresh_restored; then pass "pg_dump | pg_restore --exit-on-error (created tables)"
else fail "pg_dump | pg_restore --exit-on-error (created tables)" "$(grep -m3 -E 'error|ERROR' "$WORK/restore.err")"; fi
same "the restore keeps every row" "$before" "$(q fresh_restored "$ALL_ROWS")"
check "the restored database syncs on" fresh_restored \
  "SELECT s->>'models' = '346' AND s->>'inserted' = '0' AND s->>'added' = '0' AND s->>'removed' = '0' FROM ($(sync_file "$F26")) AS q(s)"
check "the restored things keeps its storage settings" fresh_restored \
  "SELECT reloptions = '{fillfactor=50}' FROM pg_class WHERE oid = 'things'::regclass"
check "the restored index on things goes with the extension again" fresh_restored \
  "SELECT EXISTS (SELECT 1 FROM pg_depend WHERE objid = 'things_endpoints_by_model_idx'::regclass AND deptype = 'x')"
shared=$(q fresh "$SHARED_ROWS")
check "the dependency lost (as pg_upgrade loses it), openrouter_depend_on_shared_tables() records it again" fresh \
  "DELETE FROM pg_depend WHERE classid = 'pg_extension'::regclass AND refobjid IN ('things'::regclass, 'relationships'::regclass);
   SELECT openrouter_depend_on_shared_tables() = 2 AND openrouter_depend_on_shared_tables() = 0"
out=$(q fresh "DROP TABLE things" 2>&1) || true
if grep -q 'extension openrouter_registry depends on table things' <<<"$out"; then pass "DROP TABLE things says the extension needs it"
else fail "DROP TABLE things says the extension needs it" "$(oneline "$out")"; fi
q fresh "DROP EXTENSION openrouter_registry"
same "DROP EXTENSION keeps things and relationships, every row (other sources' too)" "$shared" \
  "$(q fresh "$SHARED_ROWS" 2>&1)"

# ---------------------------------------------------------------------------------------
echo "== 3. tables that do not fit"
misfit() {  # NAME SQL-making-the-tables EXPECTED-MESSAGE-PART
  local db=misfit$((passed + failed)) out
  q postgres "CREATE DATABASE $db"
  q "$db" "$2"
  local catalog="SELECT count(*) || ':' || md5(string_agg(relname || relkind::text, ',' ORDER BY relname)) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
  local before; before=$(q "$db" "$catalog")
  if out=$(q "$db" "CREATE EXTENSION openrouter_registry" 2>&1); then
    fail "$1: CREATE EXTENSION fails" "it succeeded"
  elif grep -qF -- "$3" <<<"$out" && grep -q 'HINT:' <<<"$out"; then
    pass "$1: CREATE EXTENSION fails naming it ($(grep -o 'ERROR: .*' <<<"$out" | cut -c1-160))"
  else
    fail "$1: CREATE EXTENSION fails naming it" "$(oneline "$out")"
  fi
  same "$1: nothing changed" "$before|f" "$(q "$db" "$catalog")|$(q "$db" "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'openrouter_registry')")"
}
misfit "a missing column" "$SEED_SCHEMA ALTER TABLE things DROP COLUMN content;" \
  'cannot use the existing table things: no column content (text)'
misfit "another type" "$SEED_SCHEMA ALTER TABLE relationships ALTER COLUMN data TYPE json;" \
  'cannot use the existing table relationships: column data is json, not jsonb'
misfit "no primary key" "$SEED_SCHEMA ALTER TABLE things DROP CONSTRAINT things_pkey;
  INSERT INTO things (ns, id) VALUES ('sources', 'openrouter');" \
  'cannot use the existing table things: no primary key on (ns, id)'
misfit "another primary key" "$SEED_SCHEMA ALTER TABLE things DROP CONSTRAINT things_pkey, ADD PRIMARY KEY (id);" \
  'its primary key is on (id), not on (ns, id)'
misfit "a view" "CREATE VIEW things AS SELECT ''::text AS ns;" \
  'cannot use the existing table things: it is not an ordinary table'

echo "seed: $passed passed, $failed failed"
[[ $failed == 0 ]]
