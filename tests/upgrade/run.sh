#!/usr/bin/env bash
# ALTER EXTENSION openrouter_registry UPDATE from a released version (UPGRADE_FROM: 0.1.0,
# commit 3a19379, the default; or 0.2.0, commit a6e8c20), on a throwaway cluster:
#   - builds that version from its commit (git archive of it; a debug build cached in
#     $UPGRADE_BUILD_DIR, its dependencies shared by every old version's build of a major:
#     about 4 minutes the first time) and installs it beside this build;
#   - the old version syncs the older fixture, other sources write into its things and
#     relationships;
#   - this build's library replaces the old one; until the update it refuses to sync into
#     the old objects, saying what to do;
#   - ALTER EXTENSION ... UPDATE (through every script in between) keeps every row of every
#     table;
#   - the newer fixture syncs on, and the result equals a fresh install of this version fed
#     the same two snapshots (models, labs, edges, prices, price history, change log; ids and
#     timestamps aside), with the same SQL objects, comments and dependencies;
#   - DROP EXTENSION then keeps things and relationships, every row.
# Runs after cargo pgrx test installed this build; puts this build's library back at the end.
# KEEP=1 leaves the cluster running.
source "$(dirname "$0")/../../scripts/common.sh"
need_root "$@"
FROM_VERSION=${UPGRADE_FROM:-0.1.0}
case $FROM_VERSION in  # each release's commit
  0.1.0) FROM_COMMIT=3a19379 ;;
  0.2.0) FROM_COMMIT=a6e8c20 ;;
  *) die "UPGRADE_FROM=$FROM_VERSION: no such release (0.1.0, 0.2.0)" ;;
esac
BUILD=${UPGRADE_BUILD_DIR:-/tmp/openrouter-$FROM_VERSION-build$PG_SUFFIX}
# The old versions' builds of one major share their dependencies (pgrx, its bindings).
OLD_TARGET=/tmp/openrouter-old-builds-target$PG_SUFFIX
DIR=${UPGRADE_DIR:-/tmp/openrouter-upgrade-pg$PG_SUFFIX}
PORT=${UPGRADE_PORT:-$((55723 + PORT_SHIFT))}
FIX=$ROOT/../shared/fixtures/openrouter
F25=$FIX/models-2025-05-23.json
F26=$FIX/models-2026-03-10.json
for f in "$F25" "$F26"; do [[ -f $f ]] || die "missing fixture $f"; done
TO_VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)
PKGLIB=$("$PG_CONFIG" --pkglibdir)
EXTDIR=$("$PG_CONFIG" --sharedir)/extension
LIB=$PKGLIB/openrouter_registry.so
[[ -f $EXTDIR/openrouter_registry--$TO_VERSION.sql && -f $LIB ]] \
  || die "openrouter_registry $TO_VERSION is not installed: run cargo pgrx test pg15 (or cargo pgrx install) first"
[[ -f $EXTDIR/openrouter_registry--0.2.0--$TO_VERSION.sql ]] \
  || die "the upgrade script openrouter_registry--0.2.0--$TO_VERSION.sql is not installed"

# --- the old version, built once per commit ------------------------------------------------------
sha=$(git -C "$ROOT" rev-parse --verify "$FROM_COMMIT^{commit}") \
  || die "commit $FROM_COMMIT ($FROM_VERSION) is not in this clone's history (a shallow clone? git fetch --unshallow)"
OLD_PKG=$BUILD/pkg
OLD_LIB=$OLD_PKG$PKGLIB/openrouter_registry.so
OLD_SQL=$OLD_PKG$EXTDIR/openrouter_registry--$FROM_VERSION.sql
if [[ $(cat "$BUILD/commit" 2>/dev/null) != "$sha" || ! -f $OLD_LIB || ! -f $OLD_SQL ]]; then
  say "building openrouter_registry $FROM_VERSION from $FROM_COMMIT (debug, once) in $BUILD"
  rm -rf "$BUILD"; mkdir -p "$BUILD/src"
  git -C "$ROOT" archive "$sha" | tar -x -C "$BUILD/src"
  # 0.1.0 was built for 15 only: for 16-18 it gets their Cargo feature, nothing else.
  # (0.2.0 has them.)
  if ! grep -q "^pg$PG_MAJOR = " "$BUILD/src/Cargo.toml"; then
    sed -i "s|^pg15 = .*|&\npg$PG_MAJOR = [\"pgrx/pg$PG_MAJOR\", \"pgrx-tests/pg$PG_MAJOR\"]|" "$BUILD/src/Cargo.toml"
  fi
  (cd "$BUILD/src" && CARGO_TARGET_DIR=$OLD_TARGET cargo pgrx package --debug --pg-config "$PG_CONFIG" --out-dir "$OLD_PKG" >"$BUILD/build.log" 2>&1) \
    || { tail -30 "$BUILD/build.log" >&2; die "building $FROM_VERSION failed (log: $BUILD/build.log)"; }
  echo "$sha" >"$BUILD/commit"
fi

WORK=$(mktemp -d /tmp/openrouter-upgrade.XXXXXX)
chmod 755 "$WORK"
cp "$LIB" "$WORK/new.so"
ADDED_SQL=
[[ -f $EXTDIR/openrouter_registry--$FROM_VERSION.sql ]] || ADDED_SQL=$EXTDIR/openrouter_registry--$FROM_VERSION.sql
# A rename, not a copy over the file: backends that have the library mapped keep theirs.
put_lib() { cp "$1" "$LIB.upgrade-test"; mv -f "$LIB.upgrade-test" "$LIB"; }
cleanup() {
  put_lib "$WORK/new.so"
  [[ -n $ADDED_SQL ]] && rm -f "$ADDED_SQL"
  [[ -n ${KEEP:-} ]] && return; cluster_stop "$DIR"; rm -rf "$DIR" "$WORK"
}
trap cleanup EXIT
cp "$OLD_SQL" "$EXTDIR/"
put_lib "$OLD_LIB"

cluster_stop "$DIR"; rm -rf "$DIR"
# Not preloaded: every new session loads the library file installed at that moment.
cluster_start "$DIR" "$PORT"
export PGOPTIONS="-c statement_timeout=120000 -c client_min_messages=warning"
PSQL=("$PG_BIN/psql" -X -qAt -h 127.0.0.1 -p "$PORT" -U postgres)
q() { timeout 120 "${PSQL[@]}" -d "$1" -v ON_ERROR_STOP=1 -c "$2"; }
qs() { timeout 120 "${PSQL[@]}" -d "$1" -v ON_ERROR_STOP=1 -f "$ROOT/tests/seed/worker.sql" -c "$2"; }

passed=0; failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1${2:+ ($2)}"; }
check() {  # NAME DB SQL-returning-boolean
  local got; got=$(q "$2" "$3" 2>"$WORK/check.err") || true
  if [[ $got == t ]]; then pass "$1"
  else fail "$1" "${3:0:200} -> ${got:0:100} $(grep -E 'ERROR|FATAL' "$WORK/check.err" | head -3 | cut -c1-300)"; fi
}
same() {  # NAME EXPECTED GOT (both non-empty)
  if [[ -n $2 && $2 == "$3" ]]; then pass "$1"
  else fail "$1" "they differ:"; diff <(echo "$2") <(echo "$3") | head -40; fi
}
expect_has() {  # LABEL OUTPUT NEEDLE
  if grep -qF -- "$3" <<<"$2"; then pass "$1"; else fail "$1" "$(head -3 <<<"$2")"; fi
}
sync_file() { echo "SELECT openrouter_sync_from_text(pg_read_file('$1'), force => ${2:-false})"; }

fingerprint() {  # TABLE ORDER-BY
  echo "(SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY $2)), '') FROM $1 t)"
}
# The runs as 0.1.0 recorded them, less duration_ms: the update recomputes it as
# finished_at - started_at (0.1.0 stored the time up to the data's timestamp) and adds
# as_of, dataset and changes.
RUNS_0_1_0="(SELECT id, started_at, finished_at, source, forced, models, labs, inserted, updated, unchanged,
                    added, removed, returned, expired, repriced, prices_changed, renamed, context_changed,
                    pages, requests, bytes, warnings FROM openrouter_sync_runs)"
ALL_ROWS="SELECT $(fingerprint things 'ns, id') || ' ' || $(fingerprint relationships 'ns, id') \
  || ' ' || $(fingerprint "$RUNS_0_1_0" id) || ' ' || $(fingerprint openrouter_price_history 'model_id, valid_from') \
  || ' ' || $(fingerprint openrouter_change_log id) || ' ' || $(fingerprint openrouter_model_state model_id) \
  || ' ' || $(fingerprint openrouter_endpoint_stats 'endpoint_id, observed_at')"
SHARED_ROWS="SELECT $(fingerprint things 'ns, id') || ' ' || $(fingerprint relationships 'ns, id')"
# What two syncs of the same snapshots must agree on, ids and timestamps aside.
RESULTS="
SELECT 'things ' || (SELECT count(*) || ':' || md5(string_agg(concat_ws('|', ns, id, type,
         -- A model gone upstream keeps the document of the version that last saw it listed
         -- (0.1.0 here, 0.2.0 in the fresh install: 0.2.0 sorts modalities, for one): the
         -- same models must be gone, under the same names.
         CASE WHEN ns = 'models' AND data->>'deprecated_reason' = 'removed'
              THEN jsonb_build_object('deprecated', data->'deprecated', 'name', data->'name')
              ELSE data - 'deprecated_at' END, content), E'\n' ORDER BY ns, id)) FROM things)
UNION ALL
SELECT 'relationships ' || (SELECT count(*) || ':' || md5(string_agg(concat_ws('|', ns, id, type, from_ns, from_id, to_ns, to_id, data), E'\n' ORDER BY ns, id)) FROM relationships)
UNION ALL
SELECT 'state ' || (SELECT count(*) || ':' || md5(string_agg(concat_ws('|', model_id, deprecated, prompt_price, completion_price,
         context_length, name, expires, CASE WHEN NOT deprecated THEN data_hash::text || '/' || raw_hash::text END), E'\n' ORDER BY model_id))
                      FROM openrouter_model_state s)
UNION ALL
SELECT 'price history ' || (SELECT count(*) || ':' || md5(string_agg(concat_ws('|', model_id, n, pricing, prompt_price, completion_price, variable_price, valid_to IS NULL), E'\n' ORDER BY model_id, n))
                              FROM (SELECT h.*, row_number() OVER (PARTITION BY model_id ORDER BY valid_from) AS n FROM openrouter_price_history h) h)
UNION ALL
SELECT 'change log ' || (SELECT count(*) || ':' || md5(string_agg(concat_ws('|', model_id, change, old_value, new_value), E'\n' ORDER BY model_id, change, old_value::text, new_value::text)) FROM openrouter_change_log)
UNION ALL
SELECT 'cheapest ' || (SELECT md5(string_agg(c::text, E'\n')) FROM cheapest_models(100000, 20) c)"
# The extension's objects as the catalog describes them: members, what it depends on,
# comments, columns, function definitions.
OBJECTS="
WITH e AS (SELECT oid FROM pg_extension WHERE extname = 'openrouter_registry'),
members AS (
  SELECT d.classid, d.objid, d.deptype FROM pg_depend d, e
   WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid AND d.deptype IN ('e', 'x')),
lines AS (
  SELECT 'member ' || deptype::text || ' ' || pg_describe_object(classid, objid, 0) AS line FROM members
  UNION ALL
  SELECT 'needs ' || pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid) FROM pg_depend d, e
   WHERE d.classid = 'pg_extension'::regclass AND d.objid = e.oid
  UNION ALL
  SELECT 'comment ' || pg_describe_object(classoid, objoid, objsubid) || ': ' || description
    FROM pg_description WHERE classoid = 'pg_class'::regclass
     AND objoid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)
  UNION ALL
  SELECT 'comment ' || pg_describe_object(classoid, objoid, objsubid) || ': ' || description
    FROM pg_description WHERE (classoid, objoid) IN (SELECT classid, objid FROM members)
     AND classoid <> 'pg_class'::regclass
  UNION ALL
  SELECT 'column ' || a.attrelid::regclass || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
         || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
   WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'relation ' || c.oid::regclass || ' ' || c.relkind::text || ' ' || coalesce(array_to_string(c.reloptions, ','), '')
    FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT 'function ' || p.oid::regprocedure || ' ' || md5(pg_get_functiondef(p.oid))
    FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.prokind <> 'a'
  UNION ALL
  SELECT 'view ' || c.oid::regclass || ' ' || md5(pg_get_viewdef(c.oid))
    FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('v', 'm')
  UNION ALL
  SELECT 'acl ' || c.oid::regclass || ' ' || coalesce(c.relacl::text, '')
    FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
)
-- (cargo pgrx test installs a build with its tests schema: not part of the extension's SQL)
SELECT string_agg(line, E'\n' ORDER BY line) FROM lines WHERE line !~ ' tests(\.|$)'"

# ---------------------------------------------------------------------------------------
echo "== $FROM_VERSION, upgraded to $TO_VERSION"
q postgres "CREATE DATABASE upgraded"
q upgraded "CREATE EXTENSION openrouter_registry VERSION '$FROM_VERSION'"
check "$FROM_VERSION is installed" upgraded \
  "SELECT extversion = '$FROM_VERSION' FROM pg_extension WHERE extname = 'openrouter_registry'"
check "$FROM_VERSION syncs the older snapshot" upgraded "SELECT s->>'inserted' = '321' FROM ($(sync_file "$F25")) AS q(s)"
qs upgraded "SELECT pg_temp.other_sources_write()" >/dev/null

put_lib "$WORK/new.so"
# Before the update, this build's library refuses to sync into $FROM_VERSION's objects (its
# tables lack what it writes) and says what to do; the data stays as it was.
out=$(q upgraded "SELECT openrouter_sync(force => true)" 2>&1 || true)
expect_has "before the update, openrouter_sync() asks for ALTER EXTENSION ... UPDATE" "$out" \
  "openrouter_sync: the library is $TO_VERSION, the extension's objects are $FROM_VERSION"
out=$(q upgraded "SELECT openrouter_sync_from_text('{\"data\": []}')" 2>&1 || true)
expect_has "... and so does openrouter_sync_from_text()" "$out" \
  "openrouter_sync_from_text: the library is $TO_VERSION, the extension's objects are $FROM_VERSION"
before=$(q upgraded "$ALL_ROWS")
others=$(qs upgraded "SELECT pg_temp.other_sources_rows()")
if out=$(q upgraded "ALTER EXTENSION openrouter_registry UPDATE" 2>&1); then pass "ALTER EXTENSION openrouter_registry UPDATE"
else fail "ALTER EXTENSION openrouter_registry UPDATE" "$(head -5 <<<"$out")"; fi
check "the extension is at $TO_VERSION" upgraded \
  "SELECT extversion = '$TO_VERSION' FROM pg_extension WHERE extname = 'openrouter_registry'"
same "every row of every table is still there" "$before" "$(q upgraded "$ALL_ROWS")"
same "other sources' rows untouched by the update" "$others" "$(qs upgraded "SELECT pg_temp.other_sources_rows()")"
check "the newer snapshot syncs on" upgraded "SELECT s->>'added' = '197' FROM ($(sync_file "$F26" true)) AS q(s)"
same "... and touches no other source's row" "$others" "$(qs upgraded "SELECT pg_temp.other_sources_rows()")"

echo "== a fresh $TO_VERSION install fed the same two snapshots"
q postgres "CREATE DATABASE fresh"
q fresh "CREATE EXTENSION openrouter_registry"
qs fresh "SELECT pg_temp.other_sources_write(); $(sync_file "$F25"); $(sync_file "$F26" true)" >/dev/null
same "the same models, labs, edges, state, prices, price history and change log" \
  "$(q fresh "$RESULTS")" "$(q upgraded "$RESULTS")"
same "the same SQL objects, comments, columns, dependencies and grants" \
  "$(q fresh "$OBJECTS")" "$(q upgraded "$OBJECTS")"

shared=$(q upgraded "$SHARED_ROWS")
q upgraded "DROP EXTENSION openrouter_registry"
same "DROP EXTENSION after the upgrade keeps things and relationships, every row" "$shared" \
  "$(q upgraded "$SHARED_ROWS" 2>&1)"

echo "upgrade: $passed passed, $failed failed"
[[ $failed == 0 ]]
