-- openrouter_registry: provider endpoints, providers, their metric history and the model
-- quality scores, and the questions they answer: who serves a model fastest, which model
-- gives the most quality per dollar. Written by openrouter_sync_endpoints() into things
-- ('providers', slug, 'Provider') and ('endpoints', '<model id>@<tag>', 'Endpoint'), edges
-- 'serves' (provider -> model) and 'endpoint-of' (endpoint -> model).

CREATE TABLE openrouter_endpoint_stats (
    observed_at      timestamptz NOT NULL,
    endpoint_id      text NOT NULL,
    model_id         text NOT NULL,
    provider         text NOT NULL,
    status           text,
    latency_p50_ms   numeric,
    latency_p90_ms   numeric,
    throughput_p50   numeric,
    uptime_last_5m   numeric,
    uptime_last_30m  numeric,
    uptime_last_1d   numeric,
    PRIMARY KEY (endpoint_id, observed_at)
);
COMMENT ON TABLE openrouter_endpoint_stats IS 'Metric history: one row per endpoint per openrouter_sync_endpoints() run, so trends can be plotted. Rows older than openrouter.endpoint_stats_retention_days (default 90) are deleted by each run.';
COMMENT ON COLUMN openrouter_endpoint_stats.observed_at IS 'When the sync that read the metrics ran.';
COMMENT ON COLUMN openrouter_endpoint_stats.endpoint_id IS 'Endpoint id (''<model id>@<provider tag>'', things.id with ns = ''endpoints'').';
COMMENT ON COLUMN openrouter_endpoint_stats.model_id IS 'Model id.';
COMMENT ON COLUMN openrouter_endpoint_stats.provider IS 'Provider slug (the tag up to its first /).';
COMMENT ON COLUMN openrouter_endpoint_stats.status IS 'The endpoint''s status as the API states it (0 = normal; negative values are degraded states).';
COMMENT ON COLUMN openrouter_endpoint_stats.latency_p50_ms IS 'Median latency (time to first token) over the last 30 minutes, milliseconds; null without an API key.';
COMMENT ON COLUMN openrouter_endpoint_stats.latency_p90_ms IS '90th percentile latency over the last 30 minutes, milliseconds; null without an API key.';
COMMENT ON COLUMN openrouter_endpoint_stats.throughput_p50 IS 'Median throughput over the last 30 minutes, tokens per second; null without an API key.';
COMMENT ON COLUMN openrouter_endpoint_stats.uptime_last_5m IS 'Uptime over the last 5 minutes, percent.';
COMMENT ON COLUMN openrouter_endpoint_stats.uptime_last_30m IS 'Uptime over the last 30 minutes, percent.';
COMMENT ON COLUMN openrouter_endpoint_stats.uptime_last_1d IS 'Uptime over the last day, percent.';
CREATE INDEX openrouter_endpoint_stats_observed_idx ON openrouter_endpoint_stats (observed_at);
CREATE INDEX openrouter_endpoint_stats_model_idx ON openrouter_endpoint_stats (model_id, observed_at);

SELECT pg_catalog.pg_extension_config_dump('openrouter_endpoint_stats', '');
GRANT SELECT ON openrouter_endpoint_stats TO PUBLIC;
GRANT SELECT, INSERT, DELETE ON openrouter_endpoint_stats TO openrouter_admin;

-- A number from a jsonb value: a JSON number, or a string holding a plain decimal.
CREATE FUNCTION openrouter_number(value jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN jsonb_typeof(value) = 'number' THEN value::text::numeric
        WHEN jsonb_typeof(value) = 'string' AND value #>> '{}' ~ '^\s*[0-9]+(\.[0-9]+)?\s*$'
            THEN (value #>> '{}')::numeric
    END
$$;
COMMENT ON FUNCTION openrouter_number(jsonb) IS 'A jsonb number (or a string holding a plain non-negative decimal) as numeric, exactly; null for anything else.';

-- Looking endpoints up by model (fastest_endpoints, best_value_models, the views). things is
-- the application's table, not the extension's: the index is marked as depending on the
-- extension, so that DROP EXTENSION drops it (and only it). Not created while things has no
-- primary key: pg_restore is then restoring it, and creates both right after its rows.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_constraint
                WHERE conrelid = '@extschema@.things'::regclass AND contype = 'p') THEN
        CREATE INDEX IF NOT EXISTS things_endpoints_by_model_idx ON things ((data->>'model_id')) WHERE ns = 'endpoints';
        ALTER INDEX things_endpoints_by_model_idx DEPENDS ON EXTENSION openrouter_registry;
        COMMENT ON INDEX things_endpoints_by_model_idx IS 'openrouter_registry: endpoints by model; dropped with the extension.';
    END IF;
END
$$;

CREATE VIEW openrouter_endpoints AS
SELECT e.id,
       e.data->>'model_id'                                       AS model_id,
       m.name                                                    AS model_name,
       e.data->>'provider'                                       AS provider,
       e.data->>'provider_name'                                  AS provider_name,
       e.data->>'tag'                                            AS tag,
       e.data->>'name'                                           AS name,
       e.data->>'status'                                         AS status,
       e.data->>'quantization'                                   AS quantization,
       (e.data->'pricing'->>'prompt')::numeric                   AS prompt_price,
       (e.data->'pricing'->>'completion')::numeric               AS completion_price,
       trim_scale((e.data->'pricing'->>'prompt')::numeric * 1000000) AS prompt_price_per_million,
       trim_scale((e.data->'pricing'->>'completion')::numeric * 1000000) AS completion_price_per_million,
       (e.data->'pricing'->>'request')::numeric                  AS request_price,
       (e.data->'pricing'->>'image')::numeric                    AS image_price,
       (e.data->'pricing'->>'input_cache_read')::numeric         AS input_cache_read_price,
       trim_scale((e.data->'pricing'->>'input_cache_read')::numeric * 1000000) AS input_cache_read_price_per_million,
       (e.data->'pricing'->>'input_cache_write')::numeric        AS input_cache_write_price,
       trim_scale((e.data->'pricing'->>'input_cache_write')::numeric * 1000000) AS input_cache_write_price_per_million,
       (e.data->'pricing'->>'discount')::numeric                 AS discount,
       e.data->'pricing'                                         AS pricing,
       @extschema@.openrouter_prices_per_million(e.data->'pricing') AS pricing_per_million,
       (e.data->>'context_length')::integer                      AS context_length,
       (e.data->>'max_prompt_tokens')::integer                   AS max_prompt_tokens,
       (e.data->>'max_completion_tokens')::integer               AS max_completion_tokens,
       -- openrouter_text_array() written out: a SQL function holding a subquery is never
       -- inlined, and calling it costs more than the subquery itself.
       CASE WHEN jsonb_typeof(e.data->'supported_parameters') = 'array'
            THEN ARRAY(SELECT jsonb_array_elements_text(e.data->'supported_parameters')) ELSE '{}'::text[] END AS supported_parameters,
       (e.data->>'supports_implicit_caching')::boolean           AS supports_implicit_caching,
       @extschema@.openrouter_number(e.data->'latency_last_30m'->'p50')    AS latency_p50_ms,
       @extschema@.openrouter_number(e.data->'latency_last_30m'->'p90')    AS latency_p90_ms,
       @extschema@.openrouter_number(e.data->'throughput_last_30m'->'p50') AS throughput_p50,
       @extschema@.openrouter_number(e.data->'uptime_last_5m')   AS uptime_last_5m,
       @extschema@.openrouter_number(e.data->'uptime_last_30m')  AS uptime_last_30m,
       @extschema@.openrouter_number(e.data->'uptime_last_1d')   AS uptime_last_1d,
       e.data->'latency_last_30m'                                AS latency_last_30m,
       e.data->'throughput_last_30m'                             AS throughput_last_30m,
       e.created_at                                              AS first_seen,
       e.updated_at                                              AS last_seen
  FROM @extschema@.things e
  -- The model's name, read once per model rather than once per endpoint: the model's data is
  -- stored compressed, out of line, and must be decompressed whole for its name. The model id
  -- comes out of a subquery of its own so that the lookup is memoized by id.
 CROSS JOIN LATERAL (SELECT e.data->>'model_id' AS model_id OFFSET 0) k
  LEFT JOIN LATERAL (SELECT m.data->>'name' AS name FROM @extschema@.things m
                      WHERE m.ns = 'models' AND m.id = k.model_id OFFSET 0) m ON true
 WHERE e.ns = 'endpoints' AND e.type = 'Endpoint'
   AND e.data->'deprecated' IS DISTINCT FROM 'true'::jsonb;
COMMENT ON VIEW openrouter_endpoints IS 'Provider endpoints listed at the last endpoints sync of their model, one typed column per field: prices numeric USD per token (null when variable) and per million, latency p50/p90 in milliseconds and throughput p50 in tokens per second over the last 30 minutes (null without an API key), uptime in percent, quantization, limits.';

CREATE VIEW openrouter_providers AS
SELECT p.id,
       coalesce(p.data->>'name', p.content)                      AS name,
       p.data->>'headquarters'                                   AS headquarters,
       @extschema@.openrouter_text_array(p.data->'datacenters')  AS datacenters,
       p.data->>'privacy_policy_url'                             AS privacy_policy_url,
       p.data->>'terms_of_service_url'                           AS terms_of_service_url,
       p.data->>'status_page_url'                                AS status_page_url,
       p.data->'listed' IS DISTINCT FROM 'false'::jsonb          AS is_listed,
       coalesce(e.endpoints, 0)                                  AS endpoint_count,
       coalesce(e.models, 0)                                     AS model_count,
       p.created_at                                              AS first_seen,
       p.updated_at                                              AS last_seen
  FROM @extschema@.things p
  -- One pass: the live endpoints grouped by provider, joined to the providers.
  LEFT JOIN (SELECT o.provider, count(*)::integer AS endpoints, count(DISTINCT o.model_id)::integer AS models
               FROM openrouter_endpoints o GROUP BY o.provider) e ON e.provider = p.id
 WHERE p.ns = 'providers' AND p.type = 'Provider';
COMMENT ON VIEW openrouter_providers IS 'Inference providers: name, headquarters, datacenters (country codes), policy and status page URLs, and how many live endpoints and models they serve. is_listed is false for a provider known only from an endpoint (missing from GET /providers).';

CREATE VIEW openrouter_model_quality AS
SELECT t.id,
       t.data->>'name'                                                            AS name,
       @extschema@.openrouter_number(t.data->'benchmarks'->'artificial_analysis'->'intelligence_index') AS intelligence_index,
       @extschema@.openrouter_number(t.data->'benchmarks'->'artificial_analysis'->'coding_index')       AS coding_index,
       @extschema@.openrouter_number(t.data->'benchmarks'->'artificial_analysis'->'agentic_index')      AS agentic_index,
       (SELECT max(@extschema@.openrouter_number(d->'elo'))
          FROM jsonb_array_elements(CASE WHEN jsonb_typeof(t.data->'benchmarks'->'design_arena') = 'array'
                                         THEN t.data->'benchmarks'->'design_arena' ELSE '[]'::jsonb END) d) AS design_arena_best_elo,
       t.data->'benchmarks'                                                       AS benchmarks
  FROM @extschema@.things t
 WHERE t.ns = 'models' AND t.type = 'Model'
   AND t.data->'deprecated' IS DISTINCT FROM 'true'::jsonb
   AND jsonb_typeof(t.data->'benchmarks') = 'object';
COMMENT ON VIEW openrouter_model_quality IS 'Quality scores of the live models that carry benchmarks: the Artificial Analysis intelligence, coding and agentic indices (higher is better), the best Design Arena ELO across its arenas, and the raw benchmarks object.';

CREATE FUNCTION fastest_endpoints(model_id text, order_by text DEFAULT 'throughput', max_results integer DEFAULT 10)
RETURNS TABLE (endpoint_id text, provider text, provider_name text, tag text, quantization text, status text,
               latency_p50_ms numeric, latency_p90_ms numeric, throughput_p50 numeric, uptime_last_30m numeric,
               prompt_price_per_million numeric, completion_price_per_million numeric, context_length integer)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
BEGIN
    IF order_by NOT IN ('throughput', 'latency') THEN
        RAISE EXCEPTION 'fastest_endpoints: order_by must be ''throughput'' or ''latency'', not %', quote_literal(order_by)
            USING ERRCODE = '22023';
    END IF;
    RETURN QUERY
    SELECT e.id, e.provider, e.provider_name, e.tag, e.quantization, e.status,
           e.latency_p50_ms, e.latency_p90_ms, e.throughput_p50, e.uptime_last_30m,
           e.prompt_price_per_million, e.completion_price_per_million, e.context_length
      FROM @extschema@.openrouter_endpoints e
     WHERE e.model_id IN (fastest_endpoints.model_id, split_part(fastest_endpoints.model_id, ':', 1))
     ORDER BY CASE WHEN order_by = 'throughput' THEN -e.throughput_p50 ELSE e.latency_p50_ms END NULLS LAST,
              CASE WHEN order_by = 'throughput' THEN e.latency_p50_ms ELSE -e.throughput_p50 END NULLS LAST,
              e.id
     LIMIT max_results;
END
$$;
COMMENT ON FUNCTION fastest_endpoints(text, text, integer) IS
'The providers serving a model (a :variant id finds its base model''s endpoints), fastest first: by median throughput (tokens/s, highest first; order_by => ''latency'' for median time to first token, lowest first), with latency, uptime and prices. Endpoints without metrics (no API key) come last.';

CREATE FUNCTION best_value_models(
    min_context      integer,
    max_results      integer DEFAULT 10,
    min_intelligence numeric DEFAULT NULL,
    max_latency_ms   numeric DEFAULT NULL,
    min_uptime       numeric DEFAULT NULL,
    exclude_free     boolean DEFAULT true)
RETURNS TABLE (id text, name text, intelligence_index numeric, coding_index numeric, agentic_index numeric,
               prompt_price_per_million numeric, completion_price_per_million numeric,
               blended_price_per_million numeric, intelligence_per_dollar numeric, context_length integer,
               best_endpoint text, latency_p50_ms numeric, throughput_p50 numeric, uptime_last_30m numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
    SELECT m.id, m.name, q.intelligence_index, q.coding_index, q.agentic_index,
           m.prompt_price_per_million, m.completion_price_per_million, b.blended,
           round(q.intelligence_index / nullif(b.blended, 0), 2),
           m.context_length, e.id, e.latency_p50_ms, e.throughput_p50, e.uptime_last_30m
      FROM @extschema@.openrouter_models m
      JOIN @extschema@.openrouter_model_quality q ON q.id = m.id
     CROSS JOIN LATERAL (SELECT trim_scale((3 * m.prompt_price_per_million + m.completion_price_per_million) / 4) AS blended) b
      LEFT JOIN LATERAL (
            SELECT o.id, o.latency_p50_ms, o.throughput_p50, o.uptime_last_30m
              FROM @extschema@.openrouter_endpoints o
             WHERE o.model_id IN (m.id, split_part(m.id, ':', 1))
               AND (max_latency_ms IS NULL OR o.latency_p50_ms <= max_latency_ms)
               AND (min_uptime IS NULL OR o.uptime_last_30m >= min_uptime)
             ORDER BY o.latency_p50_ms NULLS LAST, o.throughput_p50 DESC NULLS LAST, o.id
             LIMIT 1) e ON true
     WHERE m.context_length > min_context
       AND q.intelligence_index IS NOT NULL
       AND b.blended IS NOT NULL
       AND (min_intelligence IS NULL OR q.intelligence_index >= min_intelligence)
       AND (NOT exclude_free OR b.blended > 0)
       AND ((max_latency_ms IS NULL AND min_uptime IS NULL) OR e.id IS NOT NULL)
     ORDER BY b.blended = 0 DESC, q.intelligence_index / nullif(b.blended, 0) DESC, m.id
     LIMIT max_results
$$;
COMMENT ON FUNCTION best_value_models(integer, integer, numeric, numeric, numeric, boolean) IS
'Live models with more than min_context tokens of context and an Artificial Analysis intelligence index, most intelligence per dollar first: intelligence_index / blended price (USD per million tokens, 3 prompt : 1 completion, the usual blend). best_endpoint is the provider endpoint with the lowest median latency that meets max_latency_ms (milliseconds) and min_uptime (percent, last 30 minutes); with either filter set, models without such an endpoint are left out. Free models are left out unless exclude_free => false (then they come first).';

-- Every column of the endpoints views says what it holds and in which unit.
COMMENT ON COLUMN openrouter_endpoints.id IS 'Endpoint id: ''<model id>@<provider tag>''.';
COMMENT ON COLUMN openrouter_endpoints.model_id IS 'The model served (openrouter_models.id).';
COMMENT ON COLUMN openrouter_endpoints.model_name IS 'The model''s display name.';
COMMENT ON COLUMN openrouter_endpoints.provider IS 'The inference provider (its slug, openrouter_providers.id): who serves the model, not its lab.';
COMMENT ON COLUMN openrouter_endpoints.provider_name IS 'The provider''s display name.';
COMMENT ON COLUMN openrouter_endpoints.tag IS 'The provider''s tag of the endpoint (slug, and a variant such as /fp8).';
COMMENT ON COLUMN openrouter_endpoints.name IS 'The endpoint''s name as the API gives it.';
COMMENT ON COLUMN openrouter_endpoints.status IS 'The API''s status code of the endpoint (0 when it serves normally).';
COMMENT ON COLUMN openrouter_endpoints.quantization IS 'Weights precision (fp8, bf16, int4, ...), or null.';
COMMENT ON COLUMN openrouter_endpoints.prompt_price IS 'USD per prompt token at this endpoint; null when variable.';
COMMENT ON COLUMN openrouter_endpoints.completion_price IS 'USD per completion token at this endpoint; null when variable.';
COMMENT ON COLUMN openrouter_endpoints.prompt_price_per_million IS 'USD per million prompt tokens at this endpoint.';
COMMENT ON COLUMN openrouter_endpoints.completion_price_per_million IS 'USD per million completion tokens at this endpoint.';
COMMENT ON COLUMN openrouter_endpoints.request_price IS 'USD per request at this endpoint, or null.';
COMMENT ON COLUMN openrouter_endpoints.image_price IS 'USD per input image at this endpoint, or null.';
COMMENT ON COLUMN openrouter_endpoints.input_cache_read_price IS 'USD per prompt token read from the cache at this endpoint, or null.';
COMMENT ON COLUMN openrouter_endpoints.input_cache_read_price_per_million IS 'USD per million prompt tokens read from the cache at this endpoint, or null.';
COMMENT ON COLUMN openrouter_endpoints.input_cache_write_price IS 'USD per prompt token written to the cache at this endpoint, or null.';
COMMENT ON COLUMN openrouter_endpoints.input_cache_write_price_per_million IS 'USD per million prompt tokens written to the cache at this endpoint, or null.';
COMMENT ON COLUMN openrouter_endpoints.discount IS 'Fraction taken off the cost at this endpoint (0.25 = 25%), or null.';
COMMENT ON COLUMN openrouter_endpoints.pricing IS 'Every price key of the endpoint as stored (USD per token, per request, per image or per search).';
COMMENT ON COLUMN openrouter_endpoints.pricing_per_million IS 'The per-token keys of pricing (prompt, completion, input_cache_read, input_cache_write, audio, internal_reasoning) in USD per million tokens; per request, per image and per search keys left out.';
COMMENT ON COLUMN openrouter_endpoints.context_length IS 'Context window at this endpoint, in tokens.';
COMMENT ON COLUMN openrouter_endpoints.max_prompt_tokens IS 'Most prompt tokens per request at this endpoint, or null.';
COMMENT ON COLUMN openrouter_endpoints.max_completion_tokens IS 'Most completion tokens per request at this endpoint, or null.';
COMMENT ON COLUMN openrouter_endpoints.supported_parameters IS 'Request parameters this endpoint accepts.';
COMMENT ON COLUMN openrouter_endpoints.supports_implicit_caching IS 'The endpoint caches prompts without being asked.';
COMMENT ON COLUMN openrouter_endpoints.latency_p50_ms IS 'Median time to first token over the last 30 minutes, in milliseconds (null without an API key).';
COMMENT ON COLUMN openrouter_endpoints.latency_p90_ms IS '90th percentile time to first token over the last 30 minutes, in milliseconds.';
COMMENT ON COLUMN openrouter_endpoints.throughput_p50 IS 'Median throughput over the last 30 minutes, in tokens per second.';
COMMENT ON COLUMN openrouter_endpoints.uptime_last_5m IS 'Uptime over the last 5 minutes, in percent.';
COMMENT ON COLUMN openrouter_endpoints.uptime_last_30m IS 'Uptime over the last 30 minutes, in percent.';
COMMENT ON COLUMN openrouter_endpoints.uptime_last_1d IS 'Uptime over the last day, in percent.';
COMMENT ON COLUMN openrouter_endpoints.latency_last_30m IS 'The API''s latency percentiles over the last 30 minutes (jsonb, milliseconds).';
COMMENT ON COLUMN openrouter_endpoints.throughput_last_30m IS 'The API''s throughput percentiles over the last 30 minutes (jsonb, tokens per second).';
COMMENT ON COLUMN openrouter_endpoints.first_seen IS 'When an endpoints sync first stored the endpoint.';
COMMENT ON COLUMN openrouter_endpoints.last_seen IS 'When an endpoints sync last listed the endpoint.';
COMMENT ON COLUMN openrouter_providers.id IS 'Provider slug (''deepinfra'').';
COMMENT ON COLUMN openrouter_providers.name IS 'Display name.';
COMMENT ON COLUMN openrouter_providers.headquarters IS 'Headquarters country code, where known.';
COMMENT ON COLUMN openrouter_providers.datacenters IS 'Datacenter country codes.';
COMMENT ON COLUMN openrouter_providers.privacy_policy_url IS 'Privacy policy URL.';
COMMENT ON COLUMN openrouter_providers.terms_of_service_url IS 'Terms of service URL.';
COMMENT ON COLUMN openrouter_providers.status_page_url IS 'Status page URL.';
COMMENT ON COLUMN openrouter_providers.is_listed IS 'Listed by GET /providers (false: known only from an endpoint).';
COMMENT ON COLUMN openrouter_providers.endpoint_count IS 'Live endpoints it serves.';
COMMENT ON COLUMN openrouter_providers.model_count IS 'Distinct live models it serves.';
COMMENT ON COLUMN openrouter_providers.first_seen IS 'When a sync first stored the provider.';
COMMENT ON COLUMN openrouter_providers.last_seen IS 'When a sync last listed the provider.';
COMMENT ON COLUMN openrouter_model_quality.id IS 'Model id.';
COMMENT ON COLUMN openrouter_model_quality.name IS 'Model display name.';
COMMENT ON COLUMN openrouter_model_quality.intelligence_index IS 'Artificial Analysis intelligence index (higher is better).';
COMMENT ON COLUMN openrouter_model_quality.coding_index IS 'Artificial Analysis coding index (higher is better).';
COMMENT ON COLUMN openrouter_model_quality.agentic_index IS 'Artificial Analysis agentic index (higher is better).';
COMMENT ON COLUMN openrouter_model_quality.design_arena_best_elo IS 'Best Design Arena ELO rating across its arenas.';
COMMENT ON COLUMN openrouter_model_quality.benchmarks IS 'The API''s benchmarks object, as given (jsonb).';

GRANT SELECT ON openrouter_endpoints, openrouter_providers, openrouter_model_quality TO PUBLIC;

-- Syncing is not for PUBLIC.
REVOKE EXECUTE ON FUNCTION openrouter_sync_endpoints(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION openrouter_sync_endpoints(text[]) TO openrouter_admin;
COMMENT ON FUNCTION openrouter_sync_endpoints(text[]) IS
'Fetches GET {base}/models/{author}/{slug}/endpoints for every live model (or those in model_ids; a :variant shares its base model''s request) and GET {base}/providers, where {base} is openrouter.api_url without its /models path, openrouter.endpoints_concurrency requests at a time, and stores providers, endpoints, their edges and one openrouter_endpoint_stats row per endpoint in the current transaction. A model whose endpoints cannot be fetched is skipped with a WARNING and listed in models_failed of the returned summary.';

-- The seed tables now hold two more kinds of object and two more kinds of edge.
COMMENT ON TABLE things IS 'Objects of every source of the application, by namespace (ns). openrouter_registry writes models (ns = ''models'', type ''Model''), labs (ns = ''labs'', type ''Lab''), providers (ns = ''providers'', type ''Provider'', id = provider slug) and provider endpoints (ns = ''endpoints'', type ''Endpoint'', id = ''<model id>@<provider tag>'') with openrouter_sync() and openrouter_sync_endpoints(), and never touches another namespace; it deletes nothing.';
COMMENT ON COLUMN things.ns IS 'Namespace: which source and kind of object (openrouter_registry: ''models'', ''labs'', ''providers'', ''endpoints'').';
COMMENT ON COLUMN things.type IS 'Kind of object (openrouter_registry: ''Model'', ''Lab'', ''Provider'' or ''Endpoint'').';
COMMENT ON TABLE relationships IS 'Edges between objects of every source, by namespace (ns). openrouter_registry writes, in ns ''relationships'': ''provider'' (''provider-<model id>'': lab -> model), ''serves'' (''serves-<model id>@<provider slug>'': provider -> model) and ''endpoint-of'' (''endpoint-of-<endpoint id>'': endpoint -> model).';
COMMENT ON COLUMN relationships.type IS 'Kind of edge (openrouter_registry: ''provider'' (the lab publishes the model), ''serves'' (the provider serves the model), ''endpoint-of'' (the endpoint serves the model)).';
