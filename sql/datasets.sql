-- openrouter_registry: one history of runs and one change log for every dataset it syncs
-- (issue 22). The run and change tables were built for models; these statements widen them
-- the same way on a fresh install and on ALTER EXTENSION ... UPDATE from 0.1.0 (the upgrade
-- script repeats them word for word), so both end with the same columns in the same order.
--
-- Datasets: 'models' (openrouter_sync), 'endpoints' (openrouter_sync_endpoints: every live
-- model's provider endpoints and their metrics) and 'providers' (GET /providers, fetched by
-- every endpoints sync: a run row of its own when the list was read, none when it failed, so
-- it goes stale on its own).

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
COMMENT ON COLUMN openrouter_change_log.old_value IS 'Value before (prices object, name, context length, quantization). Prices as stored: USD per token (per request, per image, per search for those keys); openrouter_changes() gives the per-token ones per million tokens too (old_value_per_million).';
COMMENT ON COLUMN openrouter_change_log.new_value IS 'Value after, in the same form as old_value (openrouter_changes() adds new_value_per_million).';
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
RETURNS TABLE (changed_at timestamptz, model_id text, change text, old_value jsonb, new_value jsonb,
               old_value_per_million jsonb, new_value_per_million jsonb, run_id bigint,
               dataset text, provider text, endpoint_id text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT c.changed_at, c.model_id, c.change, c.old_value, c.new_value,
           CASE WHEN c.change IN ('added', 'removed', 'repriced', 'prices_changed',
                                  'endpoint_added', 'endpoint_removed', 'endpoint_repriced')
                THEN @extschema@.openrouter_prices_per_million(c.old_value) END,
           CASE WHEN c.change IN ('added', 'removed', 'repriced', 'prices_changed',
                                  'endpoint_added', 'endpoint_removed', 'endpoint_repriced')
                THEN @extschema@.openrouter_prices_per_million(c.new_value) END,
           c.run_id, c.dataset, c.provider, c.endpoint_id
      FROM @extschema@.openrouter_change_log c
     WHERE c.changed_at >= since
       AND (openrouter_changes.dataset IS NULL OR c.dataset = openrouter_changes.dataset)
     ORDER BY c.changed_at, c.dataset, c.model_id, c.change, c.endpoint_id, c.provider
$$;
COMMENT ON FUNCTION openrouter_changes(timestamptz, text) IS 'What the syncs since a time changed, for one dataset (''models'', ''endpoints'', ''providers'') or all (dataset null, the default). models: added, removed, returned, expired, repriced (old and new prompt/completion prices), prices_changed (other price keys), renamed, context_changed; endpoints: endpoint_added, endpoint_removed, endpoint_repriced (old and new pricing), quantization_changed; providers: provider_listed, provider_gone. Prices in old_value and new_value are as stored: USD per token (per request, per image, per search for those keys); old_value_per_million and new_value_per_million hold their per-token keys in USD per million tokens (added, removed, repriced, prices_changed and the endpoint_ changes; null for the others).';
