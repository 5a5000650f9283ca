-- openrouter_registry 0.1.0 -> 0.2.0 (ALTER EXTENSION openrouter_registry UPDATE).
-- Each issue adds its own section, headed "-- issue N: what". A fresh 0.2.0 install and a
-- 0.1.0 install updated with this script must end up with the same objects.

-- issue 22: one run history and change log for every dataset (models, endpoints, providers),
-- schedules and health per dataset, metric history by model and provider
-- The same statements as sql/datasets.sql (fresh installs run that file): existing runs and
-- changes keep every row and become dataset 'models'. Then the functions whose signature
-- grew a dataset (or endpoints) parameter are replaced as sql/operate.sql defines them;
-- their grants are given again.
DROP FUNCTION openrouter_changes(timestamptz);
ALTER TABLE openrouter_sync_runs
    ADD COLUMN dataset text NOT NULL DEFAULT 'models'
        CONSTRAINT openrouter_sync_runs_dataset_check CHECK (dataset IN ('models', 'endpoints', 'providers')),
    ADD COLUMN changes jsonb NOT NULL DEFAULT '{}'::jsonb;
-- The model counters mean nothing to another dataset's run: 0 there.
ALTER TABLE openrouter_sync_runs
    ALTER COLUMN models SET DEFAULT 0, ALTER COLUMN labs SET DEFAULT 0,
    ALTER COLUMN inserted SET DEFAULT 0, ALTER COLUMN updated SET DEFAULT 0,
    ALTER COLUMN unchanged SET DEFAULT 0, ALTER COLUMN added SET DEFAULT 0,
    ALTER COLUMN removed SET DEFAULT 0, ALTER COLUMN returned SET DEFAULT 0,
    ALTER COLUMN expired SET DEFAULT 0, ALTER COLUMN repriced SET DEFAULT 0,
    ALTER COLUMN prices_changed SET DEFAULT 0, ALTER COLUMN renamed SET DEFAULT 0,
    ALTER COLUMN context_changed SET DEFAULT 0, ALTER COLUMN pages SET DEFAULT 0;
-- Runs from before 0.2.0 were all model syncs: their counts become changes too.
UPDATE openrouter_sync_runs
   SET changes = jsonb_build_object('added', added, 'removed', removed, 'returned', returned, 'expired', expired,
                                    'repriced', repriced, 'prices_changed', prices_changed,
                                    'renamed', renamed, 'context_changed', context_changed)
 WHERE dataset = 'models';
CREATE INDEX openrouter_sync_runs_dataset_idx ON openrouter_sync_runs (dataset, finished_at DESC);
COMMENT ON INDEX openrouter_sync_runs_dataset_idx IS 'The last run of a dataset (openrouter_last_sync, openrouter_health_by_dataset).';
COMMENT ON TABLE openrouter_sync_runs IS 'One row per successful sync of a dataset (models, endpoints, providers). A failed sync changes nothing, this table included; under pg_cron its error is in cron.job_run_details (see openrouter_health_by_dataset()).';
COMMENT ON COLUMN openrouter_sync_runs.dataset IS 'What was synced: ''models'' (openrouter_sync), ''endpoints'' (openrouter_sync_endpoints) or ''providers'' (the GET /providers list read by an endpoints sync; no row when it failed). Rows from before 0.2.0 are ''models''.';
COMMENT ON COLUMN openrouter_sync_runs.changes IS 'What the run changed, counts per kind of change as in openrouter_change_log.change (models: added, removed, returned, expired, repriced, prices_changed, renamed, context_changed; endpoints: endpoint_added, endpoint_removed, endpoint_repriced, quantization_changed; providers: provider_listed, provider_gone).';
COMMENT ON COLUMN openrouter_sync_runs.models IS 'Models in the response (after skipping unusable ones and duplicates); for an endpoints run, the models whose endpoints were read; 0 for providers.';
COMMENT ON COLUMN openrouter_sync_runs.source IS 'URL fetched (credentials removed), or ''openrouter_sync_from_json'' for an offline payload; for endpoints the API base ({base}/models/{author}/{slug}/endpoints), for providers {base}/providers.';
COMMENT ON COLUMN openrouter_sync_runs.requests IS 'HTTP requests made, retries included (an endpoints run counts its /endpoints requests, the providers run its one request).';
COMMENT ON COLUMN openrouter_sync_runs.warnings IS 'What the sync skipped or repaired (the first 100 messages); for endpoints, the models whose endpoints could not be fetched come first.';

ALTER TABLE openrouter_change_log
    ADD COLUMN dataset text NOT NULL DEFAULT 'models'
        CONSTRAINT openrouter_change_log_dataset_check CHECK (dataset IN ('models', 'endpoints', 'providers')),
    ADD COLUMN provider text,
    ADD COLUMN endpoint_id text,
    ALTER COLUMN model_id DROP NOT NULL,
    DROP CONSTRAINT openrouter_change_log_change_check,
    ADD CONSTRAINT openrouter_change_log_change_check CHECK (change IN (
        'added', 'removed', 'returned', 'expired', 'repriced', 'prices_changed', 'renamed', 'context_changed',
        'endpoint_added', 'endpoint_removed', 'endpoint_repriced', 'quantization_changed',
        'provider_listed', 'provider_gone'));
CREATE INDEX openrouter_change_log_provider_idx ON openrouter_change_log (provider) WHERE provider IS NOT NULL;
COMMENT ON INDEX openrouter_change_log_provider_idx IS 'The endpoint and provider changes of a provider.';
COMMENT ON TABLE openrouter_change_log IS 'What each sync changed, one row per model (endpoint, provider) and kind of change; read it through openrouter_changes(since, dataset).';
COMMENT ON COLUMN openrouter_change_log.model_id IS 'Model id; null for a provider change.';
COMMENT ON COLUMN openrouter_change_log.change IS 'models: added, removed, returned, expired (listed but past its expiration_date), repriced (prompt or completion price), prices_changed (other price keys), renamed, context_changed. endpoints: endpoint_added (a provider endpoint appears for the model, or returns), endpoint_removed (the model no longer lists it), endpoint_repriced (any of its prices changed; old and new pricing objects), quantization_changed. providers: provider_listed (in GET /providers for the first time, or again), provider_gone (missing from it; marked listed = false).';
COMMENT ON COLUMN openrouter_change_log.old_value IS 'Value before (prices object, name, context length, quantization).';
COMMENT ON COLUMN openrouter_change_log.dataset IS 'The dataset whose sync saw the change (''models'', ''endpoints'', ''providers''); rows from before 0.2.0 are ''models''.';
COMMENT ON COLUMN openrouter_change_log.provider IS 'Provider slug, for endpoint and provider changes.';
COMMENT ON COLUMN openrouter_change_log.endpoint_id IS 'Endpoint id (''<model id>@<provider tag>''), for endpoint changes.';

-- Metric history by model and provider, in time order, covering what
-- openrouter_endpoint_history() reads: an index-only scan, one index page per ~50 samples,
-- where the (model_id, observed_at) index must visit one table page per sync (each sync's
-- ~700 rows sit together). bench/endpoint_history.sh measures both at a year of hourly syncs.
CREATE INDEX openrouter_endpoint_stats_model_provider_idx ON openrouter_endpoint_stats (model_id, provider, observed_at)
    INCLUDE (latency_p50_ms, latency_p90_ms, throughput_p50, uptime_last_30m, uptime_last_1d);
COMMENT ON INDEX openrouter_endpoint_stats_model_provider_idx IS 'Metric history of one model at one provider in time order, covering the columns openrouter_endpoint_history() reads.';

CREATE FUNCTION openrouter_endpoint_history(model_id text, provider text DEFAULT NULL, days integer DEFAULT 7,
                                            bucket interval DEFAULT '1 day')
RETURNS TABLE (bucket_start timestamptz, provider_slug text, samples bigint, latency_p50_ms numeric,
               latency_p50_ms_max numeric, latency_p90_ms numeric, throughput_p50 numeric,
               uptime_last_30m_min numeric, uptime_last_30m_avg numeric, uptime_last_1d_min numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
    SELECT date_bin(bucket, s.observed_at, '2000-01-01 00:00:00+00'::timestamptz), s.provider, count(*),
           percentile_disc(0.5) WITHIN GROUP (ORDER BY s.latency_p50_ms),
           max(s.latency_p50_ms),
           percentile_disc(0.5) WITHIN GROUP (ORDER BY s.latency_p90_ms),
           percentile_disc(0.5) WITHIN GROUP (ORDER BY s.throughput_p50),
           min(s.uptime_last_30m), round(avg(s.uptime_last_30m), 3), min(s.uptime_last_1d)
      FROM @extschema@.openrouter_endpoint_stats s
     WHERE s.model_id = openrouter_endpoint_history.model_id
       AND (openrouter_endpoint_history.provider IS NULL OR s.provider = openrouter_endpoint_history.provider)
       AND s.observed_at >= now() - make_interval(days => days)
     GROUP BY 1, 2
     ORDER BY 2, 1
$$;
COMMENT ON FUNCTION openrouter_endpoint_history(text, text, integer, interval) IS
'How a provider''s latency, throughput and uptime for a model moved over the last days (default 7), one row per provider (provider_slug; all of the model''s providers when provider is null) per bucket (default a day; buckets start at UTC midnight for whole days): samples (endpoint metric rows), the median of the observed p50 latency (ms) and its worst value, the median p90 latency, the median p50 throughput (tokens/s), and the lowest and average 30-minute uptime and lowest 1-day uptime (percent). Read from openrouter_endpoint_stats, one row per endpoint per endpoints sync.';
GRANT EXECUTE ON FUNCTION openrouter_endpoint_history(text, text, integer, interval) TO PUBLIC;

CREATE FUNCTION openrouter_changes(since timestamptz, dataset text DEFAULT NULL)
RETURNS TABLE (changed_at timestamptz, model_id text, change text, old_value jsonb, new_value jsonb, run_id bigint,
               dataset text, provider text, endpoint_id text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT c.changed_at, c.model_id, c.change, c.old_value, c.new_value, c.run_id, c.dataset, c.provider, c.endpoint_id
      FROM @extschema@.openrouter_change_log c
     WHERE c.changed_at >= since
       AND (openrouter_changes.dataset IS NULL OR c.dataset = openrouter_changes.dataset)
     ORDER BY c.changed_at, c.dataset, c.model_id, c.change, c.endpoint_id, c.provider
$$;
COMMENT ON FUNCTION openrouter_changes(timestamptz, text) IS 'What the syncs since a time changed, for one dataset (''models'', ''endpoints'', ''providers'') or all (dataset null, the default). models: added, removed, returned, expired, repriced (old and new prompt/completion prices), prices_changed (other price keys), renamed, context_changed; endpoints: endpoint_added, endpoint_removed, endpoint_repriced (old and new pricing), quantization_changed; providers: provider_listed, provider_gone.';

-- openrouter_health() reads the models' last run only (it showed the last run of any kind).
-- Its plpgsql body calls openrouter_last_sync() and openrouter_is_stale(max_age), which
-- resolve to the new signatures through their defaults.
DROP FUNCTION @extschema@.openrouter_last_sync();
DROP FUNCTION openrouter_is_stale(interval);
DROP FUNCTION openrouter_schedule(text, text);
DROP FUNCTION openrouter_unschedule(text);
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

CREATE FUNCTION openrouter_schedule(schedule text DEFAULT NULL, job_name text DEFAULT 'openrouter-sync',
                                    endpoints text DEFAULT NULL, endpoints_job_name text DEFAULT 'openrouter-sync-endpoints')
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
DECLARE
    problem text := @extschema@.openrouter_cron_problem();
    ext_schema text;
    job     bigint;
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'openrouter_schedule: %', problem USING ERRCODE = '55000',
            HINT = 'pg_cron needs: shared_preload_libraries = ''pg_cron'', cron.database_name = ''' || current_database()
                   || ''' in postgresql.conf, a restart, then CREATE EXTENSION pg_cron. Without pg_cron, run SELECT openrouter_sync() from any scheduler.';
    END IF;
    IF endpoints IS NOT NULL AND job_name IS NOT DISTINCT FROM endpoints_job_name THEN
        RAISE EXCEPTION 'openrouter_schedule: the models and endpoints jobs need distinct names, not both %', quote_literal(job_name)
            USING ERRCODE = '22023';
    END IF;
    ext_schema := (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                    WHERE e.extname = 'openrouter_registry');
    -- cron.schedule(name, ...) replaces a job of the same name: rescheduling never duplicates.
    -- The endpoints job first: when both are scheduled, the models job's id is returned.
    IF endpoints IS NOT NULL THEN
        EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
          USING endpoints_job_name, endpoints, format('SELECT %I.openrouter_sync_endpoints()', ext_schema);
    END IF;
    -- No schedule at all: the models daily at 02:00, as before 0.2.0.
    IF schedule IS NOT NULL OR endpoints IS NULL THEN
        EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
          USING job_name, coalesce(schedule, '0 2 * * *'), format('SELECT %I.openrouter_sync()', ext_schema);
    END IF;
    RETURN job;
END
$$;
COMMENT ON FUNCTION openrouter_schedule(text, text, text, text) IS 'Registers (or replaces) pg_cron jobs in this database, one per dataset (cron syntax, UTC): schedule => the models'' job job_name (default ''openrouter-sync'') running openrouter_sync(); endpoints => the endpoints'' job endpoints_job_name (default ''openrouter-sync-endpoints'') running openrouter_sync_endpoints(), which also reads the providers list (e.g. ''17 * * * *'' hourly: one request per live model per run). With neither, the models daily at 02:00 (as before 0.2.0); with only endpoints, the models'' job is left as it is. Returns the models job''s id, or the endpoints job''s when only that was scheduled. Needs pg_cron.';

CREATE FUNCTION openrouter_unschedule(job_name text DEFAULT NULL, dataset text DEFAULT 'models') RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
DECLARE
    problem text := @extschema@.openrouter_cron_problem();
    command text;
    job     bigint;
    found_job boolean := false;
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
    -- By name when one is given, else every job of this database running the dataset's sync
    -- (whatever it is named); the other dataset's job stays.
    FOR job IN EXECUTE 'SELECT jobid FROM cron.job
                         WHERE CASE WHEN $1 IS NOT NULL THEN jobname = $1
                                    ELSE command = $2 AND database = current_database() END
                         ORDER BY jobid'
               USING job_name, command
    LOOP
        EXECUTE 'SELECT cron.unschedule($1)' USING job;
        found_job := true;
    END LOOP;
    RETURN found_job;
END
$$;
COMMENT ON FUNCTION openrouter_unschedule(text, text) IS 'Removes the pg_cron job job_name, or (job_name null, the default) every job of this database running the sync of dataset (''models'', the default, or ''endpoints''), leaving the other dataset''s job alone; false if there was none.';

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
    pattern text;
BEGIN
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
        -- LIKE's _ matches any character: escape it, so that one dataset's pattern does not
        -- match the other's command.
        pattern := CASE dataset WHEN 'models' THEN '%openrouter\_sync(%' ELSE '%openrouter\_sync\_endpoints(%' END;
        IF @extschema@.openrouter_cron_problem() IS NULL THEN
            BEGIN
                EXECUTE $q$SELECT j.schedule, j.jobname FROM cron.job j
                            WHERE j.command LIKE $1 AND j.database = current_database()
                            ORDER BY j.jobid LIMIT 1$q$ INTO schedule, job_name USING pattern;
                -- job_run_details keeps the command: failures stay visible after unscheduling.
                EXECUTE $q$SELECT d.end_time, d.return_message FROM cron.job_run_details d
                            WHERE d.command LIKE $1 AND d.database = current_database()
                              AND d.status = 'failed'
                            ORDER BY d.end_time DESC NULLS LAST LIMIT 1$q$ INTO last_failure_at, last_failure USING pattern;
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
    END LOOP;
END
$$;
COMMENT ON FUNCTION openrouter_health_by_dataset(interval, interval) IS 'One row per dataset (models, endpoints, providers): status (ok, stale, failing, never synced), the last successful sync and its age in hours, stale or not (older than max_age for models, endpoints_max_age for endpoints and providers; both 25 hours by default), the last run (id, duration, requests, changes per kind, warnings), the pg_cron job that syncs it if any (providers: the endpoints job, which reads the providers list), and the last failed pg_cron run of that sync it can see (time and error).';
GRANT EXECUTE ON FUNCTION openrouter_health_by_dataset(interval, interval) TO PUBLIC;

-- openrouter_health(): its last run is the models' last run (it read the last run of any
-- dataset); nothing else changes.
CREATE OR REPLACE FUNCTION openrouter_health(max_age interval DEFAULT '25 hours')
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
    SELECT * INTO r FROM @extschema@.openrouter_sync_runs WHERE dataset = 'models' ORDER BY finished_at DESC LIMIT 1;
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

GRANT EXECUTE ON FUNCTION @extschema@.openrouter_last_sync(text), openrouter_is_stale(interval, text) TO PUBLIC;
REVOKE EXECUTE ON FUNCTION openrouter_schedule(text, text, text, text), openrouter_unschedule(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION openrouter_schedule(text, text, text, text), openrouter_unschedule(text, text) TO openrouter_admin;
