-- openrouter_registry: operating it. A daily pg_cron job, and the health and staleness
-- checks a DBA runs when something looks wrong. pg_cron is optional: the extension installs
-- and syncs without it; only scheduling needs it (looked up at run time, never required).

CREATE FUNCTION @extschema@.openrouter_last_sync(dataset text DEFAULT 'models') RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    -- Data synced before the run history existed still counts (the seed's health check).
    SELECT coalesce((SELECT max(r.finished_at) FROM @extschema@.openrouter_sync_runs r
                      WHERE r.dataset = openrouter_last_sync.dataset),
                    (SELECT max(t.updated_at) FROM @extschema@.things t
                      WHERE openrouter_last_sync.dataset = 'models' AND t.ns = 'models'))
$$;
COMMENT ON FUNCTION @extschema@.openrouter_last_sync(text) IS 'When the last successful sync of a dataset (''models'' by default, ''endpoints'' or ''providers'') finished (null if never synced).';

CREATE FUNCTION openrouter_is_stale(max_age interval DEFAULT '25 hours', dataset text DEFAULT 'models') RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT coalesce(now() - @extschema@.openrouter_last_sync(dataset) > max_age, true)
$$;
COMMENT ON FUNCTION openrouter_is_stale(interval, text) IS 'True when the last successful sync of a dataset (''models'' by default, ''endpoints'' or ''providers'') is older than max_age (default 25 hours: a daily job plus an hour of slack; for hourly endpoints pass e.g. ''2 hours''), or when there has never been one.';

-- pg_cron's objects, or why they cannot be used here, as far as this database can tell.
CREATE FUNCTION @extschema@.openrouter_cron_problem() RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
DECLARE
    preload text := current_setting('shared_preload_libraries', true);
    cron_db text := current_setting('cron.database_name', true);
    major int := current_setting('server_version_num')::int / 10000;
BEGIN
    -- Asking a server without pg_cron to preload it would keep it from starting.
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_cron') THEN
        RETURN format('pg_cron is not installed on this server: install pg_cron for PostgreSQL %s (on Debian and Ubuntu: postgresql-%s-cron), or run SELECT openrouter_sync() from any other scheduler', major, major);
    END IF;
    IF preload IS NULL OR preload !~ '(^|[ ,])pg_cron([ ,]|$)' THEN
        RETURN 'pg_cron is not loaded: add pg_cron to shared_preload_libraries in postgresql.conf and restart PostgreSQL';
    END IF;
    -- pg_cron is created in cron.database_name's database only. From any other database,
    -- openrouter_cron_job() asks that one (and says when pg_cron is not created there).
    IF coalesce(cron_db, 'postgres') = current_database()
       AND NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RETURN 'the pg_cron extension is not created in this database: run CREATE EXTENSION pg_cron';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.openrouter_cron_problem() IS 'Why pg_cron cannot schedule the sync, as far as this database can tell (not installed, not loaded, or not created when this is cron.database_name''s database), or null; openrouter_cron_status() asks cron.database_name''s database for the rest.';

-- What pg_cron says about the sync jobs of this database, whoever asks: the settings that
-- tell whether pg_cron is loaded are readable only by superusers (and pg_read_all_settings),
-- and cron.job shows each role only its own jobs, so a monitoring role would be told "ok"
-- while the superuser's job fails. SECURITY DEFINER (the extension's owner, a superuser),
-- with a pinned search_path; it returns only what health reports about this database's
-- jobs, one row per dataset (the providers list is read by the endpoints job). pg_cron's
-- tables are in cron.database_name's database: read there by openrouter_cron_job(), one
-- question for both jobs (through a background worker acting as the owner when that is
-- another database): each job found by its command, and the last failure of a job still
-- scheduled (after openrouter_unschedule() an old job's failure is history, not the current
-- state). A problem reaching pg_cron's database comes back as problem.
CREATE FUNCTION @extschema@.openrouter_cron_status_by_dataset(
    OUT dataset text, OUT problem text, OUT schedule text, OUT job_name text, OUT last_failure_at timestamptz,
    OUT last_failure text)
RETURNS SETOF record
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
DECLARE
    answer jsonb;
    part jsonb;
BEGIN
    problem := @extschema@.openrouter_cron_problem();
    IF problem IS NULL THEN
        answer := @extschema@.openrouter_cron_job('status', NULL, NULL, NULL);
        problem := answer->>'problem';
    END IF;
    FOREACH dataset IN ARRAY ARRAY['models', 'endpoints', 'providers'] LOOP
        part := CASE dataset WHEN 'models' THEN answer ELSE answer->'endpoints' END;
        schedule := part->>'schedule';
        job_name := part->>'job_name';
        last_failure_at := (part->>'last_failure_at')::timestamptz;
        last_failure := part->>'last_failure';
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.openrouter_cron_status_by_dataset() IS 'Per dataset (models, endpoints, providers: the endpoints job reads the providers list): whether pg_cron can schedule the sync in this database (problem, null when it can), the job of this database that syncs the dataset (schedule, name) and the last failed run of a job still scheduled, whichever role asks (SECURITY DEFINER: pg_cron shows each role only its own jobs), read in cron.database_name''s database (from any other through a background worker).';

-- The models' row of it, for openrouter_health(), openrouter_schedule() and
-- openrouter_unschedule().
CREATE FUNCTION @extschema@.openrouter_cron_status(
    OUT problem text, OUT schedule text, OUT job_name text, OUT last_failure_at timestamptz, OUT last_failure text)
LANGUAGE sql STABLE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
    SELECT c.problem, c.schedule, c.job_name, c.last_failure_at, c.last_failure
      FROM @extschema@.openrouter_cron_status_by_dataset() c
     WHERE c.dataset = 'models'
$$;
COMMENT ON FUNCTION @extschema@.openrouter_cron_status() IS 'The models'' row of openrouter_cron_status_by_dataset(): whether pg_cron can schedule the sync in this database (problem, null when it can), the openrouter_sync job of this database (schedule, name) and its last failed run, whichever role asks.';

CREATE FUNCTION openrouter_schedule(schedule text DEFAULT NULL, job_name text DEFAULT 'openrouter-sync',
                                    endpoints text DEFAULT NULL, endpoints_job_name text DEFAULT 'openrouter-sync-endpoints')
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
DECLARE
    problem text := (@extschema@.openrouter_cron_status()).problem;
    ext_schema text;
    job     bigint;
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'openrouter_schedule: %', problem USING ERRCODE = '55000',
            -- Only what is missing: the restart only when pg_cron is not installed or loaded.
            HINT = concat_ws(' ', CASE
                        WHEN problem LIKE 'pg_cron is not installed%'
                        THEN 'Install pg_cron for this server''s PostgreSQL major, then restart with it in shared_preload_libraries.'
                        WHEN problem LIKE 'pg_cron is not loaded%'
                        THEN 'Add pg_cron to shared_preload_libraries in postgresql.conf, restart, then run CREATE EXTENSION pg_cron in the database cron.database_name names (as a superuser).'
                        WHEN problem LIKE 'the pg_cron extension is not created in this database%'
                        THEN 'Run CREATE EXTENSION pg_cron in this database (as a superuser).'
                        WHEN problem LIKE 'the pg_cron extension is not created in database %'
                        THEN 'Run CREATE EXTENSION pg_cron in the database cron.database_name names (as a superuser).'
                        WHEN problem LIKE 'no background worker slot is free%'
                        THEN 'Raise max_worker_processes in postgresql.conf (takes a restart), or try again when a parallel query or another background worker has finished.' END,
                   'Without pg_cron, run SELECT openrouter_sync() from any scheduler.');
    END IF;
    IF endpoints IS NOT NULL AND job_name IS NOT DISTINCT FROM endpoints_job_name THEN
        RAISE EXCEPTION 'openrouter_schedule: the models and endpoints jobs need distinct names, not both %', quote_literal(job_name)
            USING ERRCODE = '22023';
    END IF;
    ext_schema := (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                    WHERE e.extname = 'openrouter_registry');
    -- Scheduling replaces a job of the same name: rescheduling never duplicates. Outside
    -- cron.database_name's database the default names get '@<database>' appended (pg_cron
    -- names a job per role, whatever its database), and the job runs in this database.
    -- The endpoints job first: when both are scheduled, the models job's id is returned.
    IF endpoints IS NOT NULL THEN
        job := (@extschema@.openrouter_cron_job('schedule', endpoints_job_name, endpoints,
                    format('SELECT %I.openrouter_sync_endpoints()', ext_schema))->>'job')::bigint;
    END IF;
    -- No schedule at all: the models daily at 02:00, as before 0.2.0.
    IF schedule IS NOT NULL OR endpoints IS NULL THEN
        job := (@extschema@.openrouter_cron_job('schedule', job_name, coalesce(schedule, '0 2 * * *'),
                    format('SELECT %I.openrouter_sync()', ext_schema))->>'job')::bigint;
    END IF;
    RETURN job;
END
$$;
COMMENT ON FUNCTION openrouter_schedule(text, text, text, text) IS 'Registers (or replaces) pg_cron jobs that run in this database, one per dataset (cron syntax, UTC): schedule => the models'' job job_name (default ''openrouter-sync'') running openrouter_sync(); endpoints => the endpoints'' job endpoints_job_name (default ''openrouter-sync-endpoints'') running openrouter_sync_endpoints(), which also reads the providers list (e.g. ''17 * * * *'' hourly: one request per live model per run). With neither, the models daily at 02:00 (as before 0.2.0); with only endpoints, the models'' job is left as it is. Returns the models job''s id, or the endpoints job''s when only that was scheduled. Needs pg_cron; from a database other than cron.database_name''s, the default names get @<database> appended and a background worker (a free max_worker_processes slot) schedules the job there as the calling role, committed at once.';

CREATE FUNCTION openrouter_unschedule(job_name text DEFAULT NULL, dataset text DEFAULT 'models') RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
DECLARE
    problem text := (@extschema@.openrouter_cron_status()).problem;
    command text;
    found_job boolean;
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'openrouter_unschedule: %', problem USING ERRCODE = '55000';
    END IF;
    IF job_name IS NULL AND dataset IS DISTINCT FROM 'models' AND dataset IS DISTINCT FROM 'endpoints' THEN
        RAISE EXCEPTION 'openrouter_unschedule: dataset must be ''models'' or ''endpoints'' (the providers list is read by the endpoints job), not %',
                        coalesce(quote_literal(dataset), 'null') USING ERRCODE = '22023';
    END IF;
    command := format(CASE dataset WHEN 'endpoints' THEN 'SELECT %I.openrouter_sync_endpoints()' ELSE 'SELECT %I.openrouter_sync()' END,
                      (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                        WHERE e.extname = 'openrouter_registry'));
    -- By name when one is given (with the default names' rule of openrouter_schedule()),
    -- else every job of this database running the dataset's sync (whatever it is named);
    -- this database's jobs only; the other dataset's job stays.
    found_job := (@extschema@.openrouter_cron_job('unschedule', job_name, NULL, command)->>'removed')::int > 0;
    RETURN found_job;
END
$$;
COMMENT ON FUNCTION openrouter_unschedule(text, text) IS 'Removes this database''s pg_cron job job_name (named as openrouter_schedule() names it), or (job_name null, the default) every job of this database running the sync of dataset (''models'', the default, or ''endpoints''), leaving the other dataset''s job alone; false if there was none.';

-- openrouter.api_key stored where every role can read it: ALTER DATABASE/ROLE ... SET
-- (pg_db_role_setting) succeeds in a session that has not loaded the library. One line per
-- place, with the statement that removes it.
CREATE FUNCTION @extschema@.openrouter_exposed_key() RETURNS SETOF text
LANGUAGE sql STABLE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
    SELECT k FROM (
        SELECT format('openrouter.api_key is stored in pg_db_role_setting, readable by every role: run %s',
                      CASE WHEN s.setdatabase <> 0 AND s.setrole <> 0
                           THEN format('ALTER ROLE %I IN DATABASE %I RESET openrouter.api_key', r.rolname, d.datname)
                           WHEN s.setdatabase <> 0 THEN format('ALTER DATABASE %I RESET openrouter.api_key', d.datname)
                           WHEN s.setrole <> 0 THEN format('ALTER ROLE %I RESET openrouter.api_key', r.rolname)
                           ELSE 'ALTER ROLE ALL RESET openrouter.api_key' END)
          FROM pg_catalog.pg_db_role_setting s
          LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
          LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
         WHERE EXISTS (SELECT 1 FROM unnest(s.setconfig) c WHERE c LIKE 'openrouter.api\_key=%')
        UNION ALL
        -- A function's SET clause (pg_proc.proconfig, this database's functions): every role
        -- can read it, and the function puts the key in force whenever it runs.
        SELECT format('openrouter.api_key is stored in the SET clause of function %s (pg_proc), readable by every role: run ALTER FUNCTION %s RESET openrouter.api_key',
                      p.oid::regprocedure, p.oid::regprocedure)
          FROM pg_catalog.pg_proc p
         WHERE p.proconfig IS NOT NULL
           AND EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'openrouter.api\_key=%')
    ) AS places(k)
     ORDER BY 1
$$;
COMMENT ON FUNCTION @extschema@.openrouter_exposed_key() IS 'Where openrouter.api_key is stored readable by every role: in pg_db_role_setting (ALTER DATABASE/ROLE ... SET) or in a function''s SET clause (pg_proc.proconfig, this database), each with the ALTER ... RESET that removes it; no row when nowhere. openrouter_health() reports it and every sync warns.';

CREATE FUNCTION openrouter_health(max_age interval DEFAULT '25 hours')
RETURNS TABLE (status text, last_success timestamptz, hours_since_success numeric, is_stale boolean,
               live_models bigint, deprecated_models bigint, labs bigint, last_run_id bigint,
               last_run_duration_ms numeric, last_run_changes jsonb, schedule text, job_name text,
               last_failure_at timestamptz, last_failure text, exposed_key text)
LANGUAGE plpgsql STABLE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    last_success := @extschema@.openrouter_last_sync();
    hours_since_success := round((extract(epoch FROM now() - last_success) / 3600)::numeric, 2);
    is_stale := @extschema@.openrouter_is_stale(max_age);
    SELECT count(*) FILTER (WHERE data->'deprecated' IS DISTINCT FROM 'true'::jsonb),
           count(*) FILTER (WHERE data->'deprecated' = 'true'::jsonb)
      INTO live_models, deprecated_models FROM @extschema@.things WHERE ns = 'models';
    SELECT count(*) INTO labs FROM @extschema@.openrouter_labs;  -- live labs: the one definition
    SELECT * INTO r FROM @extschema@.openrouter_sync_runs WHERE dataset = 'models' ORDER BY finished_at DESC LIMIT 1;
    IF FOUND THEN
        last_run_id := r.id;
        last_run_duration_ms := r.duration_ms;
        last_run_changes := jsonb_build_object('added', r.added, 'removed', r.removed, 'returned', r.returned, 'expired', r.expired,
                                               'repriced', r.repriced, 'prices_changed', r.prices_changed,
                                               'renamed', r.renamed, 'context_changed', r.context_changed);
    END IF;
    SELECT c.schedule, c.job_name, c.last_failure_at, c.last_failure
      INTO schedule, job_name, last_failure_at, last_failure
      FROM @extschema@.openrouter_cron_status() c;
    exposed_key := (SELECT string_agg(k, '; ') FROM @extschema@.openrouter_exposed_key() k);
    status := CASE
        WHEN exposed_key IS NOT NULL THEN 'key exposed'
        WHEN last_success IS NULL AND last_failure_at IS NULL THEN 'never synced'
        WHEN last_failure_at IS NOT NULL AND (last_success IS NULL OR last_failure_at > last_success) THEN 'failing'
        WHEN is_stale THEN 'stale'
        ELSE 'ok' END;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION openrouter_health(interval) IS 'One row: status (key exposed, ok, stale, failing, never synced), the last successful sync and its age in hours, stale or not (older than max_age), live and deprecated model counts, labs, the last run, the pg_cron job of this database if any, and the last failed run of that job (time and error), whichever role asks; exposed_key says where openrouter.api_key is stored readable by every role (pg_db_role_setting) and how to remove it.';

-- Health per dataset: the same questions as openrouter_health(), one row each for models,
-- endpoints and providers. The providers list has no job of its own: the endpoints job reads it.
CREATE FUNCTION openrouter_health_by_dataset(max_age interval DEFAULT '25 hours',
                                             endpoints_max_age interval DEFAULT '25 hours')
RETURNS TABLE (dataset text, status text, last_success timestamptz, hours_since_success numeric, is_stale boolean,
               last_run_id bigint, last_run_duration_ms numeric, last_run_requests integer, last_run_changes jsonb,
               last_run_warnings integer, schedule text, job_name text, last_failure_at timestamptz, last_failure text)
LANGUAGE plpgsql STABLE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    jobs jsonb;
BEGIN
    -- pg_cron's view of each dataset's job, whichever role asks and from whichever database:
    -- asked once, for the three datasets.
    jobs := (SELECT jsonb_object_agg(c.dataset, to_jsonb(c)) FROM @extschema@.openrouter_cron_status_by_dataset() c);
    FOREACH dataset IN ARRAY ARRAY['models', 'endpoints', 'providers'] LOOP
        last_success := @extschema@.openrouter_last_sync(dataset);
        hours_since_success := round((extract(epoch FROM now() - last_success) / 3600)::numeric, 2);
        is_stale := @extschema@.openrouter_is_stale(CASE dataset WHEN 'models' THEN max_age ELSE endpoints_max_age END, dataset);
        last_run_id := NULL; last_run_duration_ms := NULL; last_run_requests := NULL;
        last_run_changes := NULL; last_run_warnings := NULL;
        schedule := NULL; job_name := NULL; last_failure_at := NULL; last_failure := NULL;
        SELECT * INTO r FROM @extschema@.openrouter_sync_runs s WHERE s.dataset = openrouter_health_by_dataset.dataset
         ORDER BY s.finished_at DESC LIMIT 1;
        IF FOUND THEN
            last_run_id := r.id;
            last_run_duration_ms := r.duration_ms;
            last_run_requests := r.requests;
            last_run_changes := r.changes;
            last_run_warnings := cardinality(r.warnings);
        END IF;
        schedule := jobs->dataset->>'schedule';
        job_name := jobs->dataset->>'job_name';
        last_failure_at := (jobs->dataset->>'last_failure_at')::timestamptz;
        last_failure := jobs->dataset->>'last_failure';
        status := CASE
            WHEN last_success IS NULL AND last_failure_at IS NULL THEN 'never synced'
            WHEN last_failure_at IS NOT NULL AND (last_success IS NULL OR last_failure_at > last_success) THEN 'failing'
            WHEN is_stale THEN 'stale'
            ELSE 'ok' END;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION openrouter_health_by_dataset(interval, interval) IS 'One row per dataset (models, endpoints, providers): status (ok, stale, failing, never synced), the last successful sync and its age in hours, stale or not (older than max_age for models, endpoints_max_age for endpoints and providers; both 25 hours by default), the last run (id, duration, requests, changes per kind, warnings), the pg_cron job of this database that syncs it if any (providers: the endpoints job, which reads the providers list), and the last failed run of that job while it is scheduled (time and error), whichever role asks.';
GRANT EXECUTE ON FUNCTION openrouter_health_by_dataset(interval, interval) TO PUBLIC;

GRANT EXECUTE ON FUNCTION @extschema@.openrouter_last_sync(text), openrouter_is_stale(interval, text), openrouter_health(interval),
      @extschema@.openrouter_cron_status(), @extschema@.openrouter_cron_status_by_dataset() TO PUBLIC;

-- Writing and scheduling: not for PUBLIC. Reading needs only SELECT (granted above).
REVOKE EXECUTE ON FUNCTION openrouter_sync(boolean, boolean), openrouter_sync_offline(text, boolean, timestamptz, text),
       openrouter_sync_from_text(text, boolean, timestamptz), openrouter_sync_from_json(jsonb, boolean, timestamptz),
       openrouter_schedule(text, text, text, text), openrouter_unschedule(text, text)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION openrouter_sync(boolean, boolean), openrouter_sync_offline(text, boolean, timestamptz, text),
      openrouter_sync_from_text(text, boolean, timestamptz), openrouter_sync_from_json(jsonb, boolean, timestamptz),
      openrouter_schedule(text, text, text, text), openrouter_unschedule(text, text)
  TO openrouter_admin;

-- pg_cron's side of scheduling: for the functions above, not for PUBLIC.
COMMENT ON FUNCTION @extschema@.openrouter_cron_job(text, text, text, text) IS 'Internal: runs one pg_cron operation (schedule, unschedule, status) for this database where pg_cron keeps its jobs: in cron.database_name''s database in this transaction, from any other through a background worker acting as the calling role. Called by openrouter_schedule(), openrouter_unschedule() and openrouter_cron_status_by_dataset().';
REVOKE EXECUTE ON FUNCTION @extschema@.openrouter_cron_job(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.openrouter_cron_job(text, text, text, text) TO openrouter_admin;
