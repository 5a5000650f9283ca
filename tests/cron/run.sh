#!/usr/bin/env bash
# pg_cron really runs the sync: a throwaway cluster with pg_cron 1.4 preloaded, an
# every-minute job against the loopback fixture server, then an every-minute endpoints job
# of its own (issue 22; serve.py answers /endpoints and /providers); then a refusing source,
# whose failures must land in cron.job_run_details with the data unchanged, each in its
# dataset's health. Issue 20, item 4: databases other than cron.database_name's ("second",
# "third") schedule through openrouter_schedule() too: the job runs there, and health,
# failures and unscheduling work from there, for an unprivileged role as well. About 3-4
# minutes (pg_cron has minute granularity; the second database's job runs in the same minutes).
# Then a canceled schedule from there, and one with no background worker slot free.
source "$(dirname "$0")/../../scripts/common.sh"
need_root "$@"
has_pg_cron || die "PostgreSQL $PG_MAJOR has no pg_cron here ($("$PG_CONFIG" --pkglibdir)/pg_cron.so): this test runs on 15"
DIR=${CRON_DIR:-/tmp/openrouter-cron-pg}
PORT=${CRON_PORT:-55433}
FIXTURE=$ROOT/../shared/fixtures/openrouter/models-2026-03-10.json
[[ -f $FIXTURE ]] || die "missing fixture $FIXTURE"

STANDBY_DIR=$DIR-standby
STANDBY_PORT=$((PORT + 1))
cluster_stop "$STANDBY_DIR"; rm -rf "$STANDBY_DIR"
cluster_stop "$DIR"; rm -rf "$DIR"
cluster_start "$DIR" "$PORT"
SERVE_PID=""
trap '[[ -n $SERVE_PID ]] && kill $SERVE_PID 2>/dev/null; cluster_stop "$STANDBY_DIR"; rm -rf "$STANDBY_DIR"; cluster_stop "$DIR"; rm -rf "$DIR"' EXIT
serve_start "$FIXTURE"
qdb() { "$PG_BIN/psql" -X -qAt -h 127.0.0.1 -p "$PORT" -U postgres -d "$1" -v ON_ERROR_STOP=1 -c "$2"; }
q() { qdb postgres "$1"; }
q2() { qdb second "$1"; }
passed=0; failed=0
check() {  # NAME SQL-returning-boolean [DATABASE]
  if [[ $(qdb "${3:-postgres}" "$2") == t ]]; then passed=$((passed + 1)); echo "ok   $1"
  else failed=$((failed + 1)); echo "FAIL $1 ($2)"; fi
}
wait_for() {  # SQL-returning-boolean, seconds
  local deadline=$((SECONDS + $2))
  until [[ $(q "$1") == t ]]; do
    ((SECONDS < deadline)) || return 1
    sleep 2
  done
}

# Two more databases with the extension, neither of them cron.database_name ('postgres').
for db in second third; do
  q "CREATE DATABASE $db"
  qdb $db "CREATE EXTENSION openrouter_registry"
  q "ALTER DATABASE $db SET openrouter.api_url = 'http://127.0.0.1:$SERVE_PORT/api/v1/models'"
  q "ALTER DATABASE $db SET openrouter.max_retries = 0"
done
q "CREATE ROLE or_monitor"
# Only CREATE EXTENSION pg_cron is missing (in 'postgres'): the hint says that, no restart.
# What openrouter_schedule() raises in the second database: "SQLSTATE message HINT: hint".
schedule_error() {
  q2 "CREATE FUNCTION pg_temp.schedule_error() RETURNS text LANGUAGE plpgsql AS \$\$
    DECLARE m text; h text;
    BEGIN PERFORM openrouter_schedule(); RETURN 'no error';
    EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, h = PG_EXCEPTION_HINT; RETURN SQLSTATE || ' ' || m || ' HINT: ' || h; END \$\$;
  SELECT pg_temp.schedule_error()"
}
hint=$(schedule_error)
expected_hint='55000 openrouter_schedule: the pg_cron extension is not created in database "postgres" (cron.database_name): run CREATE EXTENSION pg_cron there HINT: Run CREATE EXTENSION pg_cron in the database cron.database_name names (as a superuser). Without pg_cron, run SELECT openrouter_sync() from any scheduler.'
if [[ $hint == "$expected_hint" ]]; then passed=$((passed + 1)); echo "ok   from another database, only CREATE EXTENSION pg_cron is missing: so says the hint"
else failed=$((failed + 1)); echo "FAIL the hint when only CREATE EXTENSION pg_cron is missing: $hint"; fi

q "CREATE EXTENSION pg_cron"
q "CREATE EXTENSION openrouter_registry"
q "ALTER DATABASE postgres SET openrouter.api_url = 'http://127.0.0.1:$SERVE_PORT/api/v1/models'"
q "ALTER DATABASE postgres SET openrouter.max_retries = 0"
job=$(q "SELECT openrouter_schedule('* * * * *')")
# From another database: the job runs there, under a name of its own; a third database's
# default job is a third job, not a replacement.
job2=$(q2 "SELECT openrouter_schedule('* * * * *')")
job3=$(qdb third "SELECT openrouter_schedule()")
check "from another database openrouter_schedule() returns a job id" "SELECT '$job2' ~ '^[0-9]+\$' AND '$job2' <> '$job'"
check "that job runs the sync in that database" \
  "SELECT database = 'second' AND command = 'SELECT public.openrouter_sync()' AND jobname = 'openrouter-sync@second' AND schedule = '* * * * *' AND username = 'postgres' FROM cron.job WHERE jobid = '$job2'"
check "three databases with the default name: three jobs" \
  "SELECT count(*) = 3 AND count(DISTINCT database) = 3 AND count(DISTINCT jobname) = 3 FROM cron.job WHERE command = 'SELECT public.openrouter_sync()'"
echo "scheduled job $job, and $job2 in database second; waiting for pg_cron to run them (up to 150 s)"
wait_for "SELECT count(*) = 2 FROM (SELECT DISTINCT jobid FROM cron.job_run_details WHERE jobid IN ($job, $job2) AND status IN ('succeeded', 'failed')) j" 150 \
  || { tail -20 "$DIR/server.log"; die "pg_cron did not run the jobs"; }
check "the second database's job succeeded" \
  "SELECT bool_and(status = 'succeeded') FROM cron.job_run_details WHERE jobid = $job2 AND status <> 'running'"
check "its sync is in the second database's history" \
  "SELECT count(*) >= 1 AND bool_and(models = 346) FROM openrouter_sync_runs WHERE dataset = 'models'" second
check "health in the second database shows its job, to an unprivileged role too" \
  "SET ROLE or_monitor; SELECT status = 'ok' AND schedule = '* * * * *' AND job_name = 'openrouter-sync@second' AND last_failure IS NULL FROM openrouter_health()" second
check "health by dataset in the second database shows the models job, to an unprivileged role too" \
  "SET ROLE or_monitor; SELECT status = 'ok' AND schedule = '* * * * *' AND job_name = 'openrouter-sync@second' FROM openrouter_health_by_dataset() WHERE dataset = 'models'" second
check "the job succeeded in cron.job_run_details" \
  "SELECT bool_and(status = 'succeeded') FROM cron.job_run_details WHERE jobid = $job AND status <> 'running'"
check "the sync is in the history" "SELECT count(*) >= 1 AND bool_and(models = 346) FROM openrouter_sync_runs WHERE dataset = 'models'"
check "the models are there" "SELECT count(*) = 346 FROM things WHERE ns = 'models'"
check "health is ok and shows the schedule" "SELECT status = 'ok' AND schedule = '* * * * *' FROM openrouter_health()"

# The endpoints on a schedule of their own (issue 22): a second job, the models' job unchanged.
ejob=$(q "SELECT openrouter_schedule(endpoints => '* * * * *')")
check "two jobs, one per dataset" \
  "SELECT count(*) = 2 AND count(DISTINCT jobname) = 2 AND bool_or(jobid = $job AND command LIKE '%openrouter_sync()') AND bool_or(jobid = $ejob AND command LIKE '%openrouter_sync_endpoints()') FROM cron.job WHERE database = 'postgres'"
echo "scheduled endpoints job $ejob; waiting for pg_cron to run it (up to 150 s)"
wait_for "SELECT EXISTS (SELECT 1 FROM cron.job_run_details WHERE jobid = $ejob AND status IN ('succeeded', 'failed'))" 150 \
  || { tail -20 "$DIR/server.log"; die "pg_cron did not run the endpoints job"; }
check "the endpoints job succeeded" \
  "SELECT bool_and(status = 'succeeded') FROM cron.job_run_details WHERE jobid = $ejob AND status <> 'running'"
check "its run is in the history, with the providers list's" \
  "SELECT count(*) FILTER (WHERE dataset = 'endpoints' AND models > 300 AND requests = models AND changes->>'endpoint_added' = models::text) >= 1
      AND count(*) FILTER (WHERE dataset = 'providers' AND requests = 1 AND changes->>'provider_listed' = '1') = 1
     FROM openrouter_sync_runs"
check "the endpoints and their metrics are there" \
  "SELECT count(*) > 300 AND bool_and(provider = 'loopback' AND uptime_last_30m = 99.5) FROM openrouter_endpoints"
check "health per dataset is ok and shows each job" \
  "SELECT string_agg(dataset || ' ' || status || ' ' || schedule || ' ' || job_name, ', ' ORDER BY dataset)
          = 'endpoints ok * * * * * openrouter-sync-endpoints, models ok * * * * * openrouter-sync, providers ok * * * * * openrouter-sync-endpoints'
     FROM openrouter_health_by_dataset()"

# A source that refuses connections: the next run fails, the data stays as it was.
dead_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
q "ALTER DATABASE postgres SET openrouter.api_url = 'http://127.0.0.1:$dead_port/api/v1/models'"
q "ALTER DATABASE second SET openrouter.api_url = 'http://127.0.0.1:$dead_port/api/v1/models'"
marker=$(q "SELECT now()")
# A run that started before the switch may still commit: count the runs once none is running.
wait_for "SELECT NOT EXISTS (SELECT 1 FROM cron.job_run_details WHERE status = 'running' AND start_time <= '$marker')" 120 || true
before=$(q "SELECT count(*) || md5(string_agg(id || data::text, ',' ORDER BY id)) FROM things")
runs_before=$(q "SELECT count(*) FROM openrouter_sync_runs")
wait_for "SELECT count(DISTINCT jobid) = 3 FROM cron.job_run_details WHERE jobid IN ($job, $ejob, $job2) AND status = 'failed' AND start_time > '$marker'" 150 \
  || die "no failed run recorded for the three jobs"
check "health reports the failure" \
  "SELECT status = 'failing' AND last_failure LIKE '%could not connect%' AND last_failure_at IS NOT NULL FROM openrouter_health()"
check "health per dataset reports the endpoints job's failure to an unprivileged role too (pg_cron shows it only its own jobs)" \
  "SET ROLE or_monitor; SELECT status = 'failing' AND job_name = 'openrouter-sync-endpoints' AND last_failure LIKE '%the endpoints sync read nothing%' FROM openrouter_health_by_dataset() WHERE dataset = 'endpoints'"
check "the endpoints' health reports their own failure" \
  "SELECT status = 'failing' AND last_failure LIKE '%the endpoints sync read nothing from http://127.0.0.1:$dead_port/api/v1%' FROM openrouter_health_by_dataset() WHERE dataset = 'endpoints'"
check "health in the second database reports its job's failure, to an unprivileged role too" \
  "SET ROLE or_monitor; SELECT status = 'failing' AND job_name = 'openrouter-sync@second' AND last_failure LIKE '%could not connect to http://127.0.0.1:$dead_port/api/v1/models%' FROM openrouter_health()" second
check "health by dataset in the second database reports that failure too, to an unprivileged role" \
  "SET ROLE or_monitor; SELECT status = 'failing' AND job_name = 'openrouter-sync@second' AND last_failure LIKE '%could not connect to http://127.0.0.1:$dead_port/api/v1/models%' FROM openrouter_health_by_dataset() WHERE dataset = 'models'" second
check "openrouter_unschedule() from the second database removes its job" "SELECT openrouter_unschedule()" second
check "its job is gone, the others stay" \
  "SELECT NOT bool_or(jobid = $job2) AND bool_or(jobid = $job) AND bool_or(jobid = $job3) FROM cron.job"
check "unscheduled, health in the second database reports no job and no current failure" \
  "SET ROLE or_monitor; SELECT status = 'ok' AND schedule IS NULL AND job_name IS NULL AND last_failure IS NULL FROM openrouter_health()" second
check "... and so does health by dataset, for every dataset" \
  "SET ROLE or_monitor; SELECT bool_and(schedule IS NULL AND job_name IS NULL AND last_failure IS NULL) AND count(*) = 3 FROM openrouter_health_by_dataset()" second
check "the third database's job is removed by its name" "SELECT openrouter_unschedule('openrouter-sync')" third
check "the endpoints job is removed" "SELECT openrouter_unschedule(dataset => 'endpoints')"
check "the models' job stays" "SELECT array_agg(jobid) = ARRAY[$job]::bigint[] FROM cron.job"
q "SELECT openrouter_unschedule()" >/dev/null
check "the failure names the cause" \
  "SELECT return_message LIKE '%could not connect to http://127.0.0.1:$dead_port/api/v1/models%' FROM cron.job_run_details WHERE jobid = $job AND status = 'failed' ORDER BY end_time DESC LIMIT 1"
wait_for "SELECT NOT EXISTS (SELECT 1 FROM cron.job_run_details WHERE status = 'running')" 60 || true
check "the data is unchanged" "SELECT count(*) || md5(string_agg(id || data::text, ',' ORDER BY id)) = '$before' FROM things"
check "no run was recorded for the failure" "SELECT count(*) = $runs_before FROM openrouter_sync_runs"
check "unscheduled" "SELECT count(*) = 0 FROM cron.job"
check "unscheduled, the old job's failure is history: health reports the last sync" \
  "SELECT status = 'ok' AND last_failure IS NULL AND schedule IS NULL FROM openrouter_health()"

# A member of openrouter_admin schedules from another database as itself. pg_cron grants
# cron.schedule_in_database to nobody: the error says what to grant, where, and to whom.
q "CREATE ROLE or_scheduler IN ROLE openrouter_admin"
q "GRANT USAGE ON SCHEMA cron TO or_scheduler"
denied=$(q2 "SET ROLE or_scheduler; SELECT openrouter_schedule('0 5 * * *', 'nightly')" 2>&1 || true)
expected_denied='ERROR:  openrouter_schedule: permission denied for function schedule_in_database
DETAIL:  Raised in database "postgres" (cron.database_name), where pg_cron keeps its jobs, by a background worker acting as role "or_scheduler".
HINT:  A superuser runs, in database "postgres": GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text, text, text, text, text, boolean) TO "or_scheduler";'
if [[ $denied == "$expected_denied"* ]]; then passed=$((passed + 1)); echo "ok   a role without cron.schedule_in_database is told what to grant"
else failed=$((failed + 1)); echo "FAIL a role without cron.schedule_in_database: $denied"; fi
q "GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text, text, text, text, text, boolean) TO or_scheduler"
sjob=$(q2 "SET ROLE or_scheduler; SELECT openrouter_schedule('0 5 * * *', 'nightly')")
check "granted, the job is the role's own, running in the second database" \
  "SELECT username = 'or_scheduler' AND database = 'second' AND jobname = 'nightly' AND command = 'SELECT public.openrouter_sync()' FROM cron.job WHERE jobid = '$sjob'"
check "health in the second database shows that job" "SELECT job_name = 'nightly' AND schedule = '0 5 * * *' FROM openrouter_health()" second
check "the role unschedules it by name from there" "SET ROLE or_scheduler; SELECT openrouter_unschedule('nightly')" second
check "gone" "SELECT NOT EXISTS (SELECT 1 FROM cron.job WHERE database = 'second')"

# On a hot standby the worker starts too (at a consistent state, not after recovery, which
# never ends there): health in the second database answers, with the job.
q2 "SELECT openrouter_schedule()" >/dev/null
echo "host replication all 127.0.0.1/32 trust" >>"$DIR/pg_hba.conf"
q "SELECT pg_reload_conf()" >/dev/null
as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PORT" -U postgres -D "$STANDBY_DIR" -R -X stream -c fast
printf "port = %s\nunix_socket_directories = '%s'\n" "$STANDBY_PORT" "$STANDBY_DIR" >>"$STANDBY_DIR/postgresql.conf"
as_pg "$PG_BIN/pg_ctl" -D "$STANDBY_DIR" -l "$STANDBY_DIR/server.log" -w -t 60 start >/dev/null \
  || { cat "$STANDBY_DIR/server.log" >&2; die "the standby did not start"; }
standby_health=$(PGOPTIONS='-c statement_timeout=60s' "$PG_BIN/psql" -X -qAt -h 127.0.0.1 -p "$STANDBY_PORT" -U postgres -d second \
  -c "SELECT pg_is_in_recovery() || ' ' || status || ' ' || job_name FROM openrouter_health()" 2>&1 || true)
if [[ $standby_health == "true ok openrouter-sync@second" ]]; then passed=$((passed + 1)); echo "ok   health in the second database on a hot standby shows its job"
else failed=$((failed + 1)); echo "FAIL health on a hot standby: $standby_health"; fi
cluster_stop "$STANDBY_DIR"; rm -rf "$STANDBY_DIR"
check "the second database's daily job is removed" "SELECT openrouter_unschedule()" second

# The caller waits for the worker interruptibly: pg_cron's table locked in 'postgres', a
# schedule from the second database waits on its worker, which waits on the lock; the
# caller's statement_timeout cancels it and stops the worker, while the lock is still held.
"$PG_BIN/psql" -X -qAt -h 127.0.0.1 -p "$PORT" -U postgres -d postgres \
  -c "BEGIN; LOCK TABLE cron.job IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60); COMMIT" >/dev/null 2>&1 &
locker=$!
wait_for "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'cron.job'::regclass AND mode = 'AccessExclusiveLock' AND granted)" 30 \
  || die "the lock on cron.job was not taken"
canceled_file=$(mktemp)
(PGOPTIONS='-c statement_timeout=4s' q2 "SELECT openrouter_schedule('* * * * *')" >"$canceled_file" 2>&1 || true) &
caller=$!
worker_waits="SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'openrouter_registry pg_cron' AND wait_event_type = 'Lock')"
wait_for "$worker_waits" 30 || true
check "the worker asks 'postgres' and waits there on the lock" "$worker_waits"
wait "$caller"
canceled=$(cat "$canceled_file"); rm -f "$canceled_file"
if [[ $canceled == *"canceling statement due to statement timeout"* ]]; then passed=$((passed + 1)); echo "ok   a schedule from another database can be canceled while it waits"
else failed=$((failed + 1)); echo "FAIL a canceled schedule from another database: $canceled"; fi
wait_for "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'openrouter_registry pg_cron')" 30 || true
check "the canceled call's worker stopped, before the lock was released" \
  "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'openrouter_registry pg_cron')
      AND EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'cron.job'::regclass AND mode = 'AccessExclusiveLock' AND granted)"
q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'BEGIN; LOCK TABLE cron.job%'" >/dev/null
wait "$locker" || true
check "no job for the second database" "SELECT NOT EXISTS (SELECT 1 FROM cron.job WHERE database = 'second')"

# No background worker slot free (pg_cron's launcher takes the only one): scheduling from
# another database says so and how to fix it; health still answers.
echo "max_worker_processes = 1" >>"$DIR/postgresql.conf"
as_pg "$PG_BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -m fast -w -t 60 restart >/dev/null
no_slot=$(schedule_error)
expected_no_slot='55000 openrouter_schedule: no background worker slot is free to ask database "postgres" (cron.database_name), where pg_cron keeps its jobs: all max_worker_processes = 1 are in use HINT: Raise max_worker_processes in postgresql.conf (takes a restart), or try again when a parallel query or another background worker has finished. Without pg_cron, run SELECT openrouter_sync() from any scheduler.'
if [[ $no_slot == "$expected_no_slot" ]]; then passed=$((passed + 1)); echo "ok   no background worker slot free: the error says so"
else failed=$((failed + 1)); echo "FAIL no background worker slot free: $no_slot"; fi
check "health still answers in the second database" "SELECT status = 'ok' AND schedule IS NULL FROM openrouter_health()" second
echo "pg_cron: $passed passed, $failed failed"
((failed == 0))
