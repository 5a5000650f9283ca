#!/usr/bin/env bash
# Integration tests against a throwaway cluster and the loopback fixture server:
#   1. concurrency: 8 parallel syncs serialize, insert once, leave one open price period each
#   2. cancel: statement_timeout and pg_cancel_backend stop a sync stuck on a slow server
#      within ~1.5 s, change nothing, and leave the session usable
#   3. backups: pg_dump -Fc / pg_restore brings back every row and the sequences
#   4. security, as real login sessions: analyst (no grants) and syncer (openrouter_admin)
#   5. a key without the library preloaded is refused; a key stored with ALTER DATABASE/ROLE
#      ... SET is reported whenever the library loads, never used
#   6. non-UTF8 databases (LATIN1, EUC_JP): CREATE EXTENSION and the syncs refuse clearly
#   7. out of memory in one backend (a capped address space): an ERROR, nothing else harmed
#   8. amcheck (heap, TOAST, B-tree indexes) after all of the syncs
# Section 2 also cancels syncs stuck connecting to a server that never answers and checks
# that the backend's helper threads and sockets are gone within a second.
# About 15-30 s, on the server PG_MAJOR selects (default 15). Nothing but 127.0.0.1 is
# contacted. KEEP=1 leaves the cluster running
# and the work directory in place, for a look after a failure.
source "$(dirname "$0")/../../scripts/common.sh"
need_root "$@"
DIR=${INTEGRATION_DIR:-/tmp/openrouter-integration-pg$PG_SUFFIX}
PORT=${INTEGRATION_PORT:-$((55700 + PORT_SHIFT))}
DB=registry
FIX=$ROOT/../shared/fixtures/openrouter
F26=$FIX/models-2026-03-10.json
F25=$FIX/models-2025-05-23.json
SECRET=sk-or-v1-integration-secret
for f in "$F26" "$F25"; do [[ -f $f ]] || die "missing fixture $f"; done

cluster_stop "$DIR"; rm -rf "$DIR"
WORK=$(mktemp -d /tmp/openrouter-integration.XXXXXX)
SERVERS=()
JOBS=()
cleanup() {
  local p
  for p in "${JOBS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${SERVERS[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -n ${KEEP:-} ]] && return; cluster_stop "$DIR"; rm -rf "$DIR" "$WORK"
}
trap cleanup EXIT
# The documented configuration: the library preloaded, so that openrouter.* settings are
# defined (and protected) in every session, not placeholders anyone can read or set.
# RUST_BACKTRACE set in the server's environment, as on many machines: users must still never
# see Rust frames in an error's DETAIL (checked after the cancels below).
RUST_BACKTRACE=1 EXTRA_PRELOAD=openrouter_registry cluster_start "$DIR" "$PORT"

serve_start "$F26"; SERVERS+=("$SERVE_PID"); URL26="http://127.0.0.1:$SERVE_PORT/api/v1/models"
serve_start "$F25"; SERVERS+=("$SERVE_PID"); URL25="http://127.0.0.1:$SERVE_PORT/api/v1/models"

# Every session gets a generous statement_timeout, so that no wait below is unbounded.
export PGOPTIONS="-c statement_timeout=60000"
PSQL=("$PG_BIN/psql" -X -qAt -h 127.0.0.1 -p "$PORT")
qd() { timeout 90 "${PSQL[@]}" -U postgres -d "$1" -v ON_ERROR_STOP=1 -c "$2"; }  # DB SQL
q() { qd "$DB" "$1"; }
# ALTER SYSTEM knows openrouter.* only once the library is loaded in the session.
alter_system() { timeout 90 "${PSQL[@]}" -U postgres -d postgres -v ON_ERROR_STOP=1 \
  -c "LOAD 'openrouter_registry'" -c "ALTER SYSTEM $1" -c "SELECT pg_reload_conf()" >/dev/null; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

passed=0; failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1${2:+ ($2)}"; }
check() {  # NAME SQL-returning-boolean [DB]
  local got; got=$(qd "${3:-$DB}" "$2" 2>"$WORK/check.err") || true
  if [[ $got == t ]]; then pass "$1"
  else fail "$1" "$2 -> ${got:0:100} $(grep -E 'ERROR|FATAL' "$WORK/check.err" | head -3 | cut -c1-300)"; fi
}
expect() {  # NAME DETAIL-IF-FAILED COMMAND...: passes when COMMAND succeeds
  local name=$1 detail=$2; shift 2
  if "$@"; then pass "$name"; else fail "$name" "$detail"; fi
}
oneline() { [[ -n $1 ]] && tr '\n' ' ' <<<"$1" | cut -c1-300 || echo '<empty>'; }

# Safety net: should a setting ever be lost, the sync goes to a dead loopback port,
# never to the default https://openrouter.ai.
alter_system "SET openrouter.api_url = 'http://127.0.0.1:9/safety-net'"
qd postgres "CREATE DATABASE $DB"
q "CREATE EXTENSION openrouter_registry"
q "ALTER DATABASE $DB SET openrouter.api_url = '$URL26'"

fingerprint() {  # TABLE ORDER-BY: 'count:md5' of every row's text
  echo "(SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY $2)), '') FROM $1 t)"
}
STATE="SELECT $(fingerprint things 'ns, id') || ' ' || $(fingerprint relationships 'ns, id') \
  || ' ' || $(fingerprint openrouter_sync_runs id)"

# ---------------------------------------------------------------------------------------
echo "== 1. concurrency: 8 parallel syncs"
pids=()
for i in 1 2 3 4 5 6 7 8; do
  timeout 90 "${PSQL[@]}" -U postgres -d "$DB" -v ON_ERROR_STOP=1 -c "SELECT openrouter_sync()" \
    >"$WORK/par$i.out" 2>"$WORK/par$i.err" &
  pids+=($!); JOBS+=($!)
done
rcs=(); bad=0
for p in "${pids[@]}"; do
  if wait "$p"; then rcs+=(0); else rc=$?; rcs+=("$rc"); bad=$((bad + 1)); fi
done
JOBS=()
errs=$(cat "$WORK"/par*.err | grep -E 'ERROR|FATAL' | sort | uniq -c | head -5 || true)
expect "all 8 parallel syncs exited 0" "exit codes ${rcs[*]}; $(oneline "$errs")" test "$bad" -eq 0
check "346 models" "SELECT count(*) = 346 FROM things WHERE ns = 'models'"
check "57 labs" "SELECT count(*) = 57 FROM things WHERE ns = 'labs'"
check "346 relationships" "SELECT count(*) = 346 FROM relationships"
echo "     note: $(q "SELECT count(*) FROM openrouter_sync_runs b WHERE EXISTS (SELECT FROM openrouter_sync_runs a
  WHERE a.id < b.id AND b.started_at < a.finished_at)") of the 8 runs started before an earlier one had finished"
check "8 rows in openrouter_sync_runs" "SELECT count(*) = 8 FROM openrouter_sync_runs"
check "the first run inserted 346, the other 7 inserted 0" \
  "SELECT array_agg(inserted ORDER BY id) = '{346,0,0,0,0,0,0,0}' FROM openrouter_sync_runs"
check "exactly 346 open price periods" "SELECT count(*) = 346 FROM openrouter_price_history WHERE valid_to IS NULL"
check "no model has two open price periods" \
  "SELECT NOT EXISTS (SELECT model_id FROM openrouter_price_history WHERE valid_to IS NULL GROUP BY model_id HAVING count(*) > 1)"
check "every model has exactly one price period" \
  "SELECT count(*) = 346 AND count(DISTINCT model_id) = 346 FROM openrouter_price_history"

# ---------------------------------------------------------------------------------------
echo "== 2. cancel: a sync stuck on a slow server (--delay-ms 20000)"
serve_start "$F26" --delay-ms 20000; SLOW_PID=$SERVE_PID; SERVERS+=("$SLOW_PID")
URLSLOW="http://127.0.0.1:$SERVE_PORT/api/v1/models"
SLOWOPTS="-c statement_timeout=60000 -c openrouter.api_url=$URLSLOW"
before=$(q "$STATE")

# statement_timeout
t0=$(now_ms)
PGOPTIONS=$SLOWOPTS timeout 30 "${PSQL[@]}" -U postgres -d "$DB" -v ON_ERROR_STOP=1 \
  -c "SET statement_timeout = 200" -c "SELECT openrouter_sync()" >"$WORK/st.out" 2>"$WORK/st.err" \
  && rc=0 || rc=$?
ms=$(($(now_ms) - t0))
echo "     statement_timeout: psql exited $rc after $ms ms"
expect "statement_timeout: the sync fails with the timeout error" "exit $rc; $(oneline "$(cat "$WORK/st.err")")" \
  grep -q 'canceling statement due to statement timeout' "$WORK/st.err"
expect "statement_timeout: stopped within 1.5 s" "took $ms ms" test "$ms" -lt 1500
expect "statement_timeout: no Rust backtrace in the error (RUST_BACKTRACE=1 on the server)" "$(oneline "$(cat "$WORK/st.err")")" \
  bash -c '! grep -qE "stack backtrace|openrouter_registry::|rust_begin_unwind|DETAIL:  *[0-9]+: " "$1"' _ "$WORK/st.err"

# pg_cancel_backend from another session
PGOPTIONS=$SLOWOPTS timeout 30 "${PSQL[@]}" -U postgres -d "$DB" -v ON_ERROR_STOP=1 \
  -c "SELECT /* integration-cancel */ openrouter_sync()" >"$WORK/cb.out" 2>"$WORK/cb.err" &
victim=$!; JOBS+=("$victim")
pid=""
for _ in $(seq 50); do
  pid=$(q "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid()
             AND query LIKE '%integration-cancel%' LIMIT 1")
  [[ -n $pid ]] && break
  sleep 0.1
done
if [[ -z $pid ]]; then
  fail "pg_cancel_backend: the running sync was found in pg_stat_activity" "not found within 5 s"
else
  sleep 0.5  # let it get into the HTTP request
  # The sync takes its lock and reads the state while its first request is out (the time
  # it waits for the API is not lost): a sync started meanwhile waits for this one.
  check "while waiting for the API, the sync already holds its lock" \
    "SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = $pid AND granted"
  t0=$(now_ms)
  cancelled=$(q "SELECT pg_cancel_backend($pid)")
  for _ in $(seq 1250); do kill -0 "$victim" 2>/dev/null || break; sleep 0.02; done
  ms=$(($(now_ms) - t0))
  wait "$victim" && rc=0 || rc=$?
  echo "     pg_cancel_backend($pid) -> $cancelled; psql exited $rc, $ms ms after the cancel"
  expect "pg_cancel_backend: the sync fails with the cancel error" "exit $rc; $(oneline "$(cat "$WORK/cb.err")")" \
    grep -q 'canceling statement due to user request' "$WORK/cb.err"
  expect "pg_cancel_backend: stopped within 1.5 s of the cancel" "took $ms ms" test "$ms" -lt 1500
  expect "pg_cancel_backend: no Rust backtrace in the error" "$(oneline "$(cat "$WORK/cb.err")")" \
    bash -c '! grep -qE "stack backtrace|openrouter_registry::|rust_begin_unwind|DETAIL:  *[0-9]+: " "$1"' _ "$WORK/cb.err"
fi
kill "$victim" 2>/dev/null || true
JOBS=()
after=$(q "$STATE")
expect "after both cancels, things/relationships/openrouter_sync_runs are unchanged" \
  "before $before, after $after" test "$before" == "$after"

# the same session goes on working after the timeout
t0=$(now_ms)
printf '%s\n' "SET statement_timeout = 200;" "SELECT openrouter_sync();" "SELECT 1;" \
  | PGOPTIONS=$SLOWOPTS timeout 30 "${PSQL[@]}" -U postgres -d "$DB" -v ON_ERROR_STOP=0 -f - \
    >"$WORK/ss.out" 2>"$WORK/ss.err" || true
ms=$(($(now_ms) - t0))
expect "same session: the sync timed out" "$(oneline "$(cat "$WORK/ss.err")")" \
  grep -q 'canceling statement due to statement timeout' "$WORK/ss.err"
expect "same session: the next SELECT printed 1 (after $ms ms)" \
  "stdout: $(oneline "$(cat "$WORK/ss.out")"); stderr: $(oneline "$(cat "$WORK/ss.err")")" \
  test "$(tail -n 1 "$WORK/ss.out")" == 1
kill "$SLOW_PID" 2>/dev/null || true
check "a normal sync still works afterwards (the lock is free)" \
  "SELECT (openrouter_sync()->>'models')::int = 346"

# A cancel stops the helper threads and closes their sockets within about a second, even
# while they wait for a connection or headers (before, they lived on until
# openrouter.timeout_ms, each holding its socket). A server that accepts and never answers:
python3 - "$WORK/hang.port" <<'PY' &
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(128)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
while True:
    held.append(s.accept()[0])
PY
SERVERS+=("$!")
for _ in $(seq 100); do [[ -s $WORK/hang.port ]] && break; sleep 0.1; done
HANGPORT=$(cat "$WORK/hang.port")
URLHANG="http://127.0.0.1:$HANGPORT/api/v1/models"
# NAME HOW(timeout|cancel) SQL: runs SQL against the hanging server in a session that stays
# open afterwards, cancels it, and 1 s later looks at the backend's threads and sockets.
cancel_leaves_nothing() {
  local name=$1 how=$2 sql=$3 pid="" t0 tasks socks
  rm -f "$WORK/cl.out" "$WORK/cl.err"
  local pre="SET openrouter.timeout_ms = 60000;"
  [[ $how == timeout ]] && pre+=" SET statement_timeout = 500;"
  printf '%s\n' "SELECT 'pid=' || pg_backend_pid();" "SET openrouter.api_url = '$URLHANG';" \
    "SET openrouter.endpoints_concurrency = 8;" "$pre" "$sql;" "RESET statement_timeout;" \
    "SELECT pg_sleep(5);" \
    | timeout 60 "${PSQL[@]}" -U postgres -d "$DB" -v ON_ERROR_STOP=0 -f - \
      >"$WORK/cl.out" 2>"$WORK/cl.err" &
  local victim=$!
  for _ in $(seq 100); do
    pid=$(sed -n 's/^pid=//p' "$WORK/cl.out" 2>/dev/null || true); [[ -n $pid ]] && break; sleep 0.05
  done
  if [[ -z $pid ]]; then fail "$name: the session started" "no pid"; wait "$victim" || true; return; fi
  if [[ $how == cancel ]]; then
    sleep 0.7; q "SELECT pg_cancel_backend($pid)" >/dev/null
  fi
  for _ in $(seq 200); do grep -q 'canceling statement' "$WORK/cl.err" && break; sleep 0.02; done
  t0=$(now_ms)
  sleep 1
  tasks=$(ls "/proc/$pid/task" 2>/dev/null | wc -l)
  socks=$(ss -tnpH "( dport = :$HANGPORT )" | grep -c "pid=$pid," || true)
  expect "$name: canceled" "$(oneline "$(cat "$WORK/cl.err")")" grep -q 'canceling statement' "$WORK/cl.err"
  expect "$name: 1 s after the cancel the backend runs no helper thread" "$tasks threads: $(cat /proc/$pid/task/*/comm 2>/dev/null | tr '\n' ' ')" test "$tasks" -eq 1
  expect "$name: ... and holds no socket to the server" "$socks sockets" test "$socks" -eq 0
  wait "$victim" || true
}
cancel_leaves_nothing "models sync, statement_timeout" timeout "SELECT openrouter_sync()"
cancel_leaves_nothing "models sync, pg_cancel_backend" cancel "SELECT openrouter_sync()"
cancel_leaves_nothing "endpoints sync (8 at a time), statement_timeout" timeout "SELECT openrouter_sync_endpoints()"
cancel_leaves_nothing "endpoints sync (8 at a time), pg_cancel_backend" cancel "SELECT openrouter_sync_endpoints()"

# ---------------------------------------------------------------------------------------
echo "== 3. backups: pg_dump -Fc, pg_restore into a fresh database"
SRC=backup_src; DST=backup_restored
q "CREATE DATABASE $SRC"
qd $SRC "CREATE EXTENSION openrouter_registry"
qd $SRC "SET openrouter.api_url = '$URL25'; SELECT openrouter_sync()" >/dev/null 2>"$WORK/b1.err" \
  || fail "sync of the 2025 file" "$(oneline "$(cat "$WORK/b1.err")")"
qd $SRC "SET openrouter.api_url = '$URL26'; SELECT openrouter_sync(force => true)" >/dev/null 2>"$WORK/b2.err" \
  || fail "forced sync of the 2026 file" "$(oneline "$(cat "$WORK/b2.err")")"
check "source: 2 runs, deprecated models, closed price periods and a change log" \
  "SELECT (SELECT count(*) FROM openrouter_sync_runs) = 2
      AND (SELECT count(*) FROM things WHERE ns = 'models' AND data->'deprecated' = 'true'::jsonb) > 0
      AND (SELECT count(*) FROM openrouter_price_history WHERE valid_to IS NOT NULL) > 0
      AND (SELECT count(*) FROM openrouter_change_log) > 0" $SRC
timeout 60 "$PG_BIN/pg_dump" -h 127.0.0.1 -p "$PORT" -U postgres -Fc -f "$WORK/backup.dump" $SRC \
  2>"$WORK/dump.err" && rc=0 || rc=$?
expect "pg_dump -Fc succeeded" "exit $rc; $(oneline "$(cat "$WORK/dump.err")")" test "$rc" -eq 0
q "CREATE DATABASE $DST"
timeout 60 "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$PORT" -U postgres -d $DST --exit-on-error \
  "$WORK/backup.dump" 2>"$WORK/restore.err" && rc=0 || rc=$?
expect "pg_restore succeeded" "exit $rc; $(oneline "$(cat "$WORK/restore.err")")" test "$rc" -eq 0
check "the extension exists in the restored database" \
  "SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'openrouter_registry')" $DST
for spec in "things|ns, id" "relationships|ns, id" "openrouter_sync_runs|id" \
            "openrouter_price_history|model_id, valid_from" "openrouter_change_log|id"; do
  table=${spec%%|*}; order=${spec#*|}
  src_fp=$(qd $SRC "SELECT $(fingerprint "$table" "$order")")
  check "restored $table: same count and md5 ($src_fp)" \
    "SELECT $(fingerprint "$table" "$order") = '$src_fp'" $DST
done
runs_max=$(qd $SRC "SELECT max(id) FROM openrouter_sync_runs")
log_max=$(qd $SRC "SELECT coalesce(max(id), 0) FROM openrouter_change_log")
qd $DST "SET openrouter.api_url = '$URL25'; SELECT openrouter_sync(force => true)" >/dev/null 2>"$WORK/b3.err" \
  && rc=0 || rc=$?
expect "a new sync in the restored database works" "exit $rc; $(oneline "$(cat "$WORK/b3.err")")" test "$rc" -eq 0
check "restored: openrouter_sync_runs ids continue ($runs_max + 1)" \
  "SELECT count(*) = 3 AND max(id) = $runs_max + 1 FROM openrouter_sync_runs" $DST
check "restored: the new change log rows continue after id $log_max" \
  "SELECT count(*) > 0 AND min(id) > $log_max FROM openrouter_change_log WHERE run_id = $runs_max + 1" $DST

# ---------------------------------------------------------------------------------------
echo "== 4. security: analyst and syncer sessions"
q "CREATE ROLE analyst LOGIN"
q "CREATE ROLE syncer LOGIN"
q "GRANT openrouter_admin TO syncer" >/dev/null 2>"$WORK/grant.err" \
  || echo "     note: $(oneline "$(cat "$WORK/grant.err")")"
check "role openrouter_admin exists (created by the extension)" \
  "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = 'openrouter_admin')"
SYNCER_IS_ADMIN="(SELECT EXISTS (SELECT FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
  JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = 'openrouter_admin' AND u.rolname = 'syncer'))"
check "syncer is a member of openrouter_admin" "SELECT $SYNCER_IS_ADMIN"
syncer_admin=$(q "SELECT $SYNCER_IS_ADMIN")

# A sync as a non-superuser, guarded: it runs only if the URL in force is a loopback one.
GUARDED_SYNC="SELECT CASE WHEN current_setting('openrouter.api_url') LIKE 'http://127.0.0.1:%'
  THEN 'models=' || (openrouter_sync()->>'models')
  ELSE 'refusing to sync from ' || current_setting('openrouter.api_url') END;"

# Runs SQL as USER in a new session of $DB. Variant "fresh": the SQL comes first. Variant
# "loaded": the session first calls functions of the extension: cheapest_models(0) (LANGUAGE
# sql: it does not load the library), then the C function openrouter_sync_from_text('')
# (loads the library if the role may execute it; it fails on the empty body before writing
# anything; errors are tolerated). Sets S_OUT and S_ERR (the SQL's stdout and stderr only)
# and S_LOADED ("loaded=true" if the library was loaded before the SQL ran).
session() {  # USER VARIANT SQL
  {
    echo '\set ON_ERROR_STOP 0'
    if [[ $2 == loaded ]]; then
      echo "SELECT count(*) FROM cheapest_models(0);"
      echo "SELECT openrouter_sync_from_text('');"
    fi
    echo "SELECT 'loaded=' || EXISTS (SELECT FROM pg_settings WHERE name = 'openrouter.timeout_ms');"
    echo '\echo @@sql'
    echo '\warn @@sql'
    printf '%s\n' "$3"
  } | timeout 90 "${PSQL[@]}" -U "$1" -d "$DB" -f - >"$WORK/s.out" 2>"$WORK/s.err" || true
  S_LOADED=$(grep -o -m1 'loaded=[a-z]*' "$WORK/s.out" || echo 'loaded=?')
  S_OUT=$(sed '0,/^@@sql$/d' "$WORK/s.out")
  S_ERR=$(sed '0,/^@@sql$/d' "$WORK/s.err")
}
# NAME USER VARIANT SQL MODE PATTERN: MODE "out" = stdout contains PATTERN, "exact" = stdout
# is PATTERN, "denied" = an
# ERROR containing PATTERN, "hidden" = PATTERN appears nowhere in stdout or stderr,
# "no-err" = PATTERN does not appear in stderr.
role_check() {
  local name=$1 user=$2 variant=$3 sql=$4 mode=$5 pat=$6 ok=1
  session "$user" "$variant" "$sql"
  case $mode in
    out) grep -qF -- "$pat" <<<"$S_OUT" || ok=0 ;;
    exact) [[ $S_OUT == "$pat" ]] || ok=0 ;;
    denied) grep -F -- "$pat" <<<"$S_ERR" | grep -q 'ERROR' || ok=0 ;;
    hidden) ! grep -qF -- "$pat" <<<"$S_OUT$S_ERR" || ok=0 ;;
    no-err) ! grep -qF -- "$pat" <<<"$S_ERR" || ok=0 ;;
  esac
  local full="$name [$user, $variant session, $S_LOADED]"
  if ((ok)); then pass "$full"
  else fail "$full" "stdout: $(oneline "$S_OUT"); stderr: $(oneline "$S_ERR")"; fi
}

for v in fresh loaded; do
  role_check "analyst can SELECT from openrouter_models" analyst $v \
    "SELECT count(*) > 0 FROM openrouter_models;" out t
  role_check "analyst can SELECT from cheapest_models(100000)" analyst $v \
    "SELECT count(*) = 10 FROM cheapest_models(100000);" out t
  role_check "analyst cannot run openrouter_sync()" analyst $v "$GUARDED_SYNC" denied 'permission denied'
  role_check "analyst cannot run openrouter_sync_from_json() (write arbitrary data)" analyst $v \
    "SELECT openrouter_sync_from_json('{\"data\": []}');" denied 'permission denied'
  role_check "analyst cannot SET openrouter.api_url" analyst $v \
    "SET openrouter.api_url = 'http://127.0.0.1:1/';" denied 'permission denied'
  role_check "analyst's SET openrouter.api_url never reaches a sync" analyst $v \
    "SET openrouter.api_url = 'http://127.0.0.1:1/';
     $GUARDED_SYNC" no-err '127.0.0.1:1/'
  role_check "syncer can run openrouter_sync()" syncer $v "SELECT $SYNCER_IS_ADMIN; $GUARDED_SYNC" \
    exact "$(printf 't\nmodels=346')"
  role_check "syncer cannot SET openrouter.api_url" syncer $v \
    "SET openrouter.api_url = 'http://127.0.0.1:1/';" denied 'permission denied'
  role_check "syncer's SET openrouter.api_url never reaches a sync" syncer $v \
    "SET openrouter.api_url = 'http://127.0.0.1:1/';
     $GUARDED_SYNC" no-err '127.0.0.1:1/'
  role_check "syncer cannot SET openrouter.api_key" syncer $v \
    "SET openrouter.api_key = 'sk-or-v1-attacker';" denied 'permission denied'
done

alter_system "SET openrouter.api_key = '$SECRET'"
for _ in $(seq 50); do [[ $(q "SELECT current_setting('openrouter.api_key', true)") == "(set)" ]] && break; sleep 0.1; done
check "superuser: a key is in force (shown only as (set))" "SELECT current_setting('openrouter.api_key') = '(set)'"
for user in analyst syncer; do
  for v in fresh loaded; do
    role_check "$user cannot see the key: SHOW" $user $v "SHOW openrouter.api_key;" hidden "$SECRET"
    role_check "$user cannot see the key: current_setting" $user $v \
      "SELECT current_setting('openrouter.api_key', true);" hidden "$SECRET"
    role_check "$user cannot see the key: pg_settings" $user $v \
      "SELECT * FROM pg_settings WHERE name LIKE 'openrouter%';" hidden "$SECRET"
  done
done
# Syncs with the key set: one as syncer, one failing one as superuser (its error is logged).
session syncer fresh "$GUARDED_SYNC"
echo "     syncer's sync with the key set: $(oneline "$S_OUT $(grep -E 'ERROR|WARNING' <<<"$S_ERR")")"
q "SET openrouter.api_url = 'http://127.0.0.1:9/dead'; SELECT openrouter_sync()" >/dev/null 2>&1 || true
alter_system "RESET openrouter.api_key"
for _ in $(seq 50); do [[ -z $(q "SELECT current_setting('openrouter.api_key', true)") ]] && break; sleep 0.1; done
check "the key is reset" "SELECT coalesce(current_setting('openrouter.api_key', true), '') = ''"
check "the key is not in openrouter_sync_runs" \
  "SELECT NOT EXISTS (SELECT FROM openrouter_sync_runs r WHERE r::text LIKE '%$SECRET%')"
logs=$(find "$DIR" -type f \( -name '*.log' -o -name '*.csv' -o -name '*.json' \))
leaks=""
[[ -n $logs ]] && leaks=$(grep -F -- "$SECRET" $logs </dev/null | cut -c1-200 | head -5 || true)
expect "the key is not in the server log ($(echo $logs | wc -w) log files)" "$(oneline "$leaks")" test -z "$leaks"

# ---------------------------------------------------------------------------------------
echo "== 6. non-UTF8 databases: refused at CREATE EXTENSION and at every sync"
for enc in LATIN1 EUC_JP; do
  edb=enc_${enc,,}
  qd postgres "CREATE DATABASE $edb ENCODING '$enc' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" >/dev/null
  out=$(timeout 90 "${PSQL[@]}" -U postgres -d "$edb" -v VERBOSITY=verbose \
    -c "CREATE EXTENSION openrouter_registry" 2>&1 || true)
  expect "$enc: CREATE EXTENSION fails with 0A000, the reason and what to do" "$(oneline "$out")" \
    grep -q "ERROR:  0A000: openrouter_registry needs a UTF8 database; this one's encoding is $enc" <<<"$out"
  expect "$enc: ... and its hint says how to create a UTF8 database" "$(oneline "$out")" \
    grep -q "HINT:  Create a database with ENCODING 'UTF8'" <<<"$out"
  check "$enc: nothing of the extension is left behind" \
    "SELECT NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'openrouter_registry') AND to_regclass('things') IS NULL" "$edb"
  # The syncs refuse too, should the library's functions get there some other way (a
  # script edited by hand): called here straight from the library.
  for fn in "openrouter_sync_offline(text, boolean, timestamptz, text) RETURNS jsonb AS 'openrouter_registry', 'openrouter_sync_offline_wrapper'|SELECT pg_temp.s('{\"data\":[{\"id\":\"a/b\",\"name\":\"caf\u00e9\"}]}', false, NULL, 'openrouter_sync_from_text')" \
            "openrouter_sync_endpoints(text[]) RETURNS jsonb AS 'openrouter_registry', 'openrouter_sync_endpoints_wrapper'|SELECT pg_temp.s(NULL::text[])"; do
    def=${fn%%|*}; call=${fn#*|}
    out=$(printf '%s\n' "CREATE FUNCTION pg_temp.s(${def#*(} LANGUAGE c;" "$call;" \
      | timeout 90 "${PSQL[@]}" -U postgres -d "$edb" -v VERBOSITY=verbose -f - 2>&1 || true)
    expect "$enc: ${def%%(*}() refuses with 0A000 and says why" "$(oneline "$out")" \
      grep -q "ERROR:  0A000: openrouter: this database's encoding is $enc, not UTF8" <<<"$out"
  done
done

# ---------------------------------------------------------------------------------------
echo "== 7. out of memory in one backend: an ERROR there, every other session untouched"
# 30 copies of the registry (10,380 models, as in the report that found the crash), and a
# session whose address space is capped a little above what it uses: its sync fails with
# 53200. Before, Rust aborted the backend on the failed allocation (signal 6) and the
# postmaster terminated every session and reinitialized the server.
BIGPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 "$ROOT/../shared/peers/serve.py" "$F26" "$BIGPORT" --scale 30 2>/dev/null &
SERVERS+=("$!")
for _ in $(seq 100); do
  curl -fs -o /dev/null "http://127.0.0.1:$BIGPORT/api/v1/models?limit=1" && break; sleep 0.1
done
before=$(q "$STATE")
# A bystander: a session busy in a statement of its own for the whole test.
timeout 60 "${PSQL[@]}" -U postgres -d "$DB" -c "SELECT pg_sleep(6), 'bystander done'" \
  >"$WORK/by.out" 2>"$WORK/by.err" &
bystander=$!
printf '%s\n' "SELECT 'pid=' || pg_backend_pid();" "SELECT pg_sleep(2);" \
  "SET openrouter.api_url = 'http://127.0.0.1:$BIGPORT/api/v1/models';" \
  "SELECT openrouter_sync();" "SELECT 'still here';" \
  | timeout 60 "${PSQL[@]}" -U postgres -d "$DB" -v ON_ERROR_STOP=0 -v VERBOSITY=verbose -f - \
    >"$WORK/oom.out" 2>"$WORK/oom.err" &
victim=$!
pid=""
for _ in $(seq 100); do pid=$(sed -n 's/^pid=//p' "$WORK/oom.out" 2>/dev/null || true); [[ -n $pid ]] && break; sleep 0.05; done
[[ -n $pid ]] || die "the out-of-memory session did not start: $(cat "$WORK/oom.err")"
vm_kb=$(awk '/^VmSize:/ {print $2}' "/proc/$pid/status")
cap=$(( (vm_kb + 40 * 1024) * 1024 ))   # 40 MB more: the 22 MB body, not 3 times more
runuser -u postgres -- prlimit --pid "$pid" --as="$cap:$cap"
echo "     backend $pid: VmSize $((vm_kb / 1024)) MB, address space capped at $((cap >> 20)) MB"
wait "$victim" || true
wait "$bystander" && brc=0 || brc=$?
expect "capped backend: the sync fails with 53200 out of memory" "$(oneline "$(cat "$WORK/oom.err")")" \
  grep -q "ERROR:  53200: openrouter: out of memory" "$WORK/oom.err"
expect "capped backend: the session goes on (next statement answered)" "$(oneline "$(cat "$WORK/oom.out")")" \
  grep -q "still here" "$WORK/oom.out"
expect "the bystander session finished its statement" "exit $brc: $(oneline "$(cat "$WORK/by.err")")" \
  grep -q "bystander done" "$WORK/by.out"
crashed=$(grep -E "terminated by signal|server process .* was terminated|all server processes terminated" \
  "$DIR/server.log" | head -3 || true)
expect "no backend died: the server was not reinitialized" "$(oneline "$crashed")" test -z "$crashed"
after=$(q "$STATE")
expect "after the out-of-memory ERROR, the tables are unchanged" "before $before, after $after" \
  test "$before" == "$after"

echo "== 5. the same key without the library preloaded is refused, not used"
cluster_stop "$DIR"
preload_now=""; if has_pg_cron; then preload_now=pg_cron; fi
sed -i "s/^shared_preload_libraries = .*/shared_preload_libraries = '$preload_now'/" "$DIR/postgresql.conf"
cluster_start "$DIR" "$PORT"
alter_system "SET openrouter.api_key = 'sk-or-v1-unsafe-config'"
out=$("$PG_BIN/psql" -X -qAt -h 127.0.0.1 -p "$PORT" -U postgres -d "$DB" -c "SELECT openrouter_sync()" 2>&1 || true)
expect "a configured key without preloading: the sync refuses it" "$(oneline "$out")" \
  grep -q "openrouter.api_key is set in the server configuration, but openrouter_registry is not in shared_preload_libraries" <<<"$out"
alter_system "RESET openrouter.api_key"

# A key stored in pg_db_role_setting, readable by every role: ALTER DATABASE/ROLE ... SET
# succeeds in a session that has not loaded the library (the setting is a placeholder
# there). Whenever the library loads afterwards -- at the first call in a session, or at
# connection start once it is preloaded -- it says so loudly, with the statement that
# removes it, and never uses (or prints) the key.
STORED=sk-or-v1-stored-in-the-catalog
psql_as() {  # USER SQL: stdout and stderr together
  timeout 90 "${PSQL[@]}" -U "$1" -d "$DB" -c "$2" 2>&1 || true
}
q "ALTER DATABASE $DB SET openrouter.api_key = '$STORED'"
q "ALTER ROLE analyst SET openrouter.api_key = '$STORED'"
q "ALTER ROLE syncer IN DATABASE $DB SET openrouter.api_key = '$STORED'"
q "ALTER ROLE ALL SET openrouter.api_key = '$STORED'"
out=$(psql_as postgres "LOAD 'openrouter_registry'")
expect "not preloaded: loading the library warns of the key stored by ALTER DATABASE" \
  "$(oneline "$out")" grep -q "WARNING:  openrouter.api_key is stored in pg_db_role_setting (ALTER DATABASE $DB SET), readable by every role: it is ignored" <<<"$out"
expect "... with the statement that removes it in the HINT" "$(oneline "$out")" \
  grep -q "HINT:  Run ALTER DATABASE $DB RESET openrouter.api_key as a superuser" <<<"$out"
cluster_stop "$DIR"
sed -i "s/^shared_preload_libraries = .*/shared_preload_libraries = '${preload_now:+$preload_now,}openrouter_registry'/" "$DIR/postgresql.conf"
cluster_start "$DIR" "$PORT"
out=$(psql_as postgres "SELECT 'connected'")
expect "preloaded: connecting warns of the stored key, before any function runs" "$(oneline "$out")" \
  grep -q "WARNING:  openrouter.api_key is stored in pg_db_role_setting (ALTER DATABASE $DB SET)" <<<"$out"
expect "... and the session goes on" "$(oneline "$out")" grep -q "^connected$" <<<"$out"
out=$(psql_as analyst "SELECT 'connected'")
expect "a role's stored key: the warning names ALTER ROLE analyst RESET" "$(oneline "$out")" \
  grep -q "Run ALTER ROLE analyst RESET openrouter.api_key" <<<"$out"
out=$(psql_as syncer "SELECT 'connected'")
expect "a role's key stored for one database: ALTER ROLE syncer IN DATABASE $DB RESET" "$(oneline "$out")" \
  grep -q "Run ALTER ROLE syncer IN DATABASE $DB RESET openrouter.api_key" <<<"$out"
expect "every role's stored key (ALTER ROLE ALL SET): ALTER ROLE ALL RESET" "$(oneline "$out")" \
  grep -q "Run ALTER ROLE ALL RESET openrouter.api_key" <<<"$out"
check "the stored key is not in force" "SELECT coalesce(current_setting('openrouter.api_key', true), '') = ''"
expect "the server log has the warning, never the key" "$(grep -c -- "$STORED" "$DIR/server.log")" \
  bash -c "grep -q 'openrouter.api_key is stored in pg_db_role_setting' '$DIR/server.log' && ! grep -q -- '$STORED' '$DIR/server.log'"
q "ALTER DATABASE $DB RESET openrouter.api_key"
q "ALTER ROLE analyst RESET openrouter.api_key"
q "ALTER ROLE syncer IN DATABASE $DB RESET openrouter.api_key"
q "ALTER ROLE ALL RESET openrouter.api_key"
out=$(psql_as postgres "SELECT 'connected'")
expect "after the RESETs, no warning" "$(oneline "$out")" test "$out" == connected

# ---------------------------------------------------------------------------------------
echo "== 8. amcheck after every sync above: heaps, TOAST and every B-tree index are sound"
for adb in "$DB" backup_restored; do
  qd "$adb" "CREATE EXTENSION IF NOT EXISTS amcheck" >/dev/null
  # The extension's own tables, and things and relationships (the application's since
  # issue 19: no longer members of the extension, but written by every sync).
  EXT_RELS="SELECT c.oid, c.relname FROM pg_class c
              JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
              JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'openrouter_registry'
             WHERE c.relkind = 'r'
            UNION SELECT c.oid, c.relname FROM pg_class c WHERE c.oid IN ('things'::regclass, 'relationships'::regclass)"
  # (things and relationships are the application's tables, not members of the extension:
  # named here, with the extension's own.)
  check "$adb: verify_heapam(check_toast) finds nothing in any table of the extension" \
    "SELECT (SELECT count(*) FROM ($EXT_RELS) r) > 5
            AND NOT EXISTS (SELECT FROM ($EXT_RELS) r, verify_heapam(r.oid, check_toast => true))" "$adb"
  # bt_index_check returns void or raises; the aggregate makes sure each call is made.
  check "$adb: bt_index_check(heapallindexed) passes on every index of those tables" \
    "SELECT count(*) > 5 AND coalesce(string_agg(bt_index_check(i.indexrelid, true)::text, ''), 'x') = ''
       FROM ($EXT_RELS) r JOIN pg_index i ON i.indrelid = r.oid
       JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree'" "$adb"
done

echo "integration: $passed passed, $failed failed"
((failed == 0))
