-- openrouter_registry: operating it. A daily pg_cron job, and the health and staleness
-- checks a DBA runs when something looks wrong. pg_cron is optional: the extension installs
-- and syncs without it; only scheduling needs it (looked up at run time, never required).

CREATE FUNCTION @extschema@.openrouter_last_sync() RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    -- Data synced before the run history existed still counts (the seed's health check).
    SELECT coalesce((SELECT max(finished_at) FROM @extschema@.openrouter_sync_runs),
                    (SELECT max(updated_at) FROM @extschema@.things WHERE ns = 'models'))
$$;
COMMENT ON FUNCTION @extschema@.openrouter_last_sync() IS 'When the last successful sync finished (null if never synced).';

CREATE FUNCTION openrouter_is_stale(max_age interval DEFAULT '25 hours') RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT coalesce(now() - @extschema@.openrouter_last_sync() > max_age, true)
$$;
COMMENT ON FUNCTION openrouter_is_stale(interval) IS 'True when the last successful sync is older than max_age (default 25 hours: a daily job plus an hour of slack), or when there has never been one.';

-- pg_cron's objects, or why they cannot be used here.
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
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        IF coalesce(cron_db, 'postgres') <> current_database() THEN
            RETURN format('pg_cron runs jobs from database %L (cron.database_name), not %L: set cron.database_name = %L and restart, or create openrouter_registry in %L',
                          coalesce(cron_db, 'postgres'), current_database(), current_database(), coalesce(cron_db, 'postgres'));
        END IF;
        RETURN 'the pg_cron extension is not created in this database: run CREATE EXTENSION pg_cron';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.openrouter_cron_problem() IS 'Why pg_cron cannot schedule the sync in this database, or null when it can.';

CREATE FUNCTION openrouter_schedule(schedule text DEFAULT '0 2 * * *', job_name text DEFAULT 'openrouter-sync')
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
DECLARE
    problem text := @extschema@.openrouter_cron_problem();
    command text;
    job     bigint;
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'openrouter_schedule: %', problem USING ERRCODE = '55000',
            HINT = 'pg_cron needs: shared_preload_libraries = ''pg_cron'', cron.database_name = ''' || current_database()
                   || ''' in postgresql.conf, a restart, then CREATE EXTENSION pg_cron. Without pg_cron, run SELECT openrouter_sync() from any scheduler.';
    END IF;
    command := format('SELECT %I.openrouter_sync()',
                      (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                        WHERE e.extname = 'openrouter_registry'));
    -- cron.schedule(name, ...) replaces a job of the same name: rescheduling never duplicates.
    EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job USING job_name, schedule, command;
    RETURN job;
END
$$;
COMMENT ON FUNCTION openrouter_schedule(text, text) IS 'Registers (or replaces) the pg_cron job job_name running openrouter_sync() in this database on schedule (cron syntax, UTC; default daily at 02:00). Returns the job id. Needs pg_cron.';

CREATE FUNCTION openrouter_unschedule(job_name text DEFAULT 'openrouter-sync') RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
DECLARE
    problem text := @extschema@.openrouter_cron_problem();
    found_job boolean;
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'openrouter_unschedule: %', problem USING ERRCODE = '55000';
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM cron.job WHERE jobname = $1)' INTO found_job USING job_name;
    IF found_job THEN
        EXECUTE 'SELECT cron.unschedule($1)' USING job_name;
    END IF;
    RETURN found_job;
END
$$;
COMMENT ON FUNCTION openrouter_unschedule(text) IS 'Removes the pg_cron job job_name; false if there was none.';

CREATE FUNCTION openrouter_health(max_age interval DEFAULT '25 hours')
RETURNS TABLE (status text, last_success timestamptz, hours_since_success numeric, is_stale boolean,
               live_models bigint, deprecated_models bigint, labs bigint, last_run_id bigint,
               last_run_duration_ms numeric, last_run_changes jsonb, schedule text, job_name text,
               last_failure_at timestamptz, last_failure text)
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
    SELECT count(*) INTO labs FROM @extschema@.things WHERE ns = 'labs' AND data->'deprecated' IS DISTINCT FROM 'true'::jsonb;
    SELECT * INTO r FROM @extschema@.openrouter_sync_runs ORDER BY finished_at DESC LIMIT 1;
    IF FOUND THEN
        last_run_id := r.id;
        last_run_duration_ms := r.duration_ms;
        last_run_changes := jsonb_build_object('added', r.added, 'removed', r.removed, 'returned', r.returned, 'expired', r.expired,
                                               'repriced', r.repriced, 'prices_changed', r.prices_changed,
                                               'renamed', r.renamed, 'context_changed', r.context_changed);
    END IF;
    IF @extschema@.openrouter_cron_problem() IS NULL THEN
        BEGIN
            EXECUTE $q$SELECT j.schedule, j.jobname FROM cron.job j
                        WHERE j.command LIKE '%openrouter_sync(%' AND j.database = current_database()
                        ORDER BY j.jobid LIMIT 1$q$ INTO schedule, job_name;
            -- job_run_details keeps the command: failures stay visible after unscheduling.
            EXECUTE $q$SELECT d.end_time, d.return_message FROM cron.job_run_details d
                        WHERE d.command LIKE '%openrouter_sync(%' AND d.database = current_database()
                          AND d.status = 'failed'
                        ORDER BY d.end_time DESC NULLS LAST LIMIT 1$q$ INTO last_failure_at, last_failure;
        EXCEPTION WHEN insufficient_privilege OR undefined_table OR undefined_column THEN
            NULL;  -- this role cannot see pg_cron's tables: leave schedule and failures empty
        END;
    END IF;
    status := CASE
        WHEN last_success IS NULL AND last_failure_at IS NULL THEN 'never synced'
        WHEN last_failure_at IS NOT NULL AND (last_success IS NULL OR last_failure_at > last_success) THEN 'failing'
        WHEN is_stale THEN 'stale'
        ELSE 'ok' END;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION openrouter_health(interval) IS 'One row: status (ok, stale, failing, never synced), the last successful sync and its age in hours, stale or not (older than max_age), live and deprecated model counts, labs, the last run, the pg_cron schedule if any, and the last failed pg_cron run it can see (time and error).';

GRANT EXECUTE ON FUNCTION @extschema@.openrouter_last_sync(), openrouter_is_stale(interval), openrouter_health(interval) TO PUBLIC;

-- Writing and scheduling: not for PUBLIC. Reading needs only SELECT (granted above).
REVOKE EXECUTE ON FUNCTION openrouter_sync(boolean, boolean), openrouter_sync_from_text(text, boolean),
       openrouter_sync_from_json(jsonb, boolean), openrouter_schedule(text, text), openrouter_unschedule(text)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION openrouter_sync(boolean, boolean), openrouter_sync_from_text(text, boolean),
      openrouter_sync_from_json(jsonb, boolean), openrouter_schedule(text, text), openrouter_unschedule(text)
  TO openrouter_admin;
