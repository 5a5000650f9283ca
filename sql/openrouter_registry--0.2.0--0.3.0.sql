-- openrouter_registry 0.2.0 -> 0.3.0 (ALTER EXTENSION openrouter_registry UPDATE).
-- 0.2.0 (commit a6e8c20) is released: what changed after it goes here, never into the
-- 0.1.0 -> 0.2.0 script (a 0.1.0 database updates through both, one after the other).
-- Each change adds its own section, headed "-- issue N, item M: what". A fresh 0.3.0 install
-- and a 0.1.0 or 0.2.0 install updated to 0.3.0 must end up with the same objects
-- (tests/upgrade/run.sh checks both).

-- issue 20, item 5: a key kept in a function's SET clause (pg_proc.proconfig, readable by
-- every role) is reported like one in pg_db_role_setting.
CREATE OR REPLACE FUNCTION @extschema@.openrouter_exposed_key() RETURNS SETOF text
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

-- issue 20, item 17: every per-token price an analyst reads has its per-million twin. The
-- change log and the price history keep their prices as stored (USD per token); the readers
-- compute the twins from them, so rows stored before 0.3.0 have them too. Changing a
-- function's result columns takes DROP + CREATE; a column beside its twin in
-- openrouter_endpoints takes recreating the view, and openrouter_providers, which reads it.
-- The per-token price keys: the only ones a per-million figure means something for ("request"
-- is per request, "image" per image, "web_search" per search, "discount" a fraction).
CREATE FUNCTION @extschema@.openrouter_prices_per_million(prices jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT jsonb_object_agg(p.key, CASE WHEN jsonb_typeof(p.value) = 'number'
                                        THEN to_jsonb(trim_scale(p.value::text::numeric * 1000000)) END)
      FROM jsonb_each(CASE WHEN jsonb_typeof(prices) = 'object' THEN prices END) p
     WHERE p.key IN ('prompt', 'completion', 'input_cache_read', 'input_cache_write', 'audio', 'internal_reasoning')
       AND jsonb_typeof(p.value) IN ('number', 'null')
$$;
COMMENT ON FUNCTION @extschema@.openrouter_prices_per_million(jsonb) IS 'The per-token keys of a prices object (USD per token: prompt, completion, input_cache_read, input_cache_write, audio, internal_reasoning) in USD per million tokens, exactly; a null (variable) price stays null. Keys that are not per token (request, image, web_search, discount, overrides) are left out; null when none is left.';

DROP FUNCTION openrouter_price_at(text, timestamptz);
CREATE FUNCTION @extschema@.openrouter_price_at(model_id text, at timestamptz)
RETURNS TABLE (valid_from timestamptz, valid_to timestamptz, prompt_price numeric,
               completion_price numeric, prompt_price_per_million numeric, completion_price_per_million numeric,
               variable_price boolean, pricing jsonb, pricing_per_million jsonb)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT h.valid_from, h.valid_to, h.prompt_price, h.completion_price,
           trim_scale(h.prompt_price * 1000000), trim_scale(h.completion_price * 1000000),
           h.variable_price, h.pricing, @extschema@.openrouter_prices_per_million(h.pricing)
      FROM @extschema@.openrouter_price_history h
     WHERE h.model_id = openrouter_price_at.model_id
       AND h.valid_from <= at AND (h.valid_to IS NULL OR h.valid_to > at)
$$;
COMMENT ON FUNCTION @extschema@.openrouter_price_at(text, timestamptz) IS 'The price period of a model in force at a time (no row if the model was not listed then). Periods start with the sync that first saw a price. prompt_price and completion_price are USD per token, *_per_million the same per million tokens; pricing holds every price key as stored (USD per token, per request, per image or per search), pricing_per_million its per-token keys per million tokens.';

DROP FUNCTION openrouter_changes(timestamptz, text);
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
COMMENT ON COLUMN openrouter_change_log.old_value IS 'Value before (prices object, name, context length, quantization). Prices as stored: USD per token (per request, per image, per search for those keys); openrouter_changes() gives the per-token ones per million tokens too (old_value_per_million).';
COMMENT ON COLUMN openrouter_change_log.new_value IS 'Value after, in the same form as old_value (openrouter_changes() adds new_value_per_million).';
COMMENT ON COLUMN openrouter_price_history.pricing IS 'Every price key of the period (USD per token, per request, per image or per search), as in things.data->''pricing''; openrouter_price_at() gives its per-token keys per million tokens too.';
COMMENT ON COLUMN openrouter_price_history.prompt_price IS 'USD per prompt token; null when variable (per million: openrouter_price_at()).';
COMMENT ON COLUMN openrouter_price_history.completion_price IS 'USD per completion token; null when variable (per million: openrouter_price_at()).';

DROP VIEW openrouter_providers;
DROP VIEW openrouter_endpoints;
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
GRANT SELECT ON openrouter_endpoints, openrouter_providers TO PUBLIC;

-- issue 20, item 19: one definition of a live lab (at least one live model), in the runs too.
-- The sync now stores a lab deprecated exactly when it has no live model; a run's labs counts
-- the live labs.
COMMENT ON COLUMN openrouter_sync_runs.labs IS 'Live labs after the sync: labs with at least one live model (listed, not past its expiration date), as openrouter_labs and openrouter_health() count them; 0 for another dataset''s run. Rows from before 0.3.0 counted every lab in the response.';

-- issue 20, item 13: every view answers a full scan in one pass at 100 times the registry.
-- openrouter_models_all decompresses each model's things.data once per row instead of once
-- per column (about 60 times), reads each lab's name once per lab, and converts its arrays
-- without a SQL-function call per value; openrouter_labs_all groups the live models once
-- (materialized: the planner would otherwise rescan the grouping once per lab);
-- openrouter_endpoints reads each model's name once per model instead of once per endpoint
-- (in its recreation by item 17's section above).
-- Same columns, same rows (bench/run.sh measures them; src/tests/reads.rs compares them).
CREATE OR REPLACE VIEW openrouter_models_all AS
SELECT t.id,
       d.data->>'name'                                          AS name,
       d.data->>'provider'                                      AS lab,
       coalesce(l.name, d.data->>'provider')                    AS lab_name,
       d.data->>'base_id'                                       AS base_id,
       d.data->>'variant'                                       AS variant,
       coalesce(d.data->'is_alias' = 'true'::jsonb, false)      AS is_alias,
       CASE jsonb_typeof(d.data->'alias_target')
            WHEN 'object' THEN d.data->'alias_target'->>'slug'
            WHEN 'string' THEN d.data->>'alias_target' END      AS alias_target,
       (d.pricing->>'prompt')::numeric                          AS prompt_price,
       (d.pricing->>'completion')::numeric                      AS completion_price,
       trim_scale((d.pricing->>'prompt')::numeric * 1000000)    AS prompt_price_per_million,
       trim_scale((d.pricing->>'completion')::numeric * 1000000) AS completion_price_per_million,
       (d.pricing->>'request')::numeric                         AS request_price,
       (d.pricing->>'image')::numeric                           AS image_price,
       (d.pricing->>'audio')::numeric                           AS audio_price,
       trim_scale((d.pricing->>'audio')::numeric * 1000000)     AS audio_price_per_million,
       (d.pricing->>'web_search')::numeric                      AS web_search_price,
       (d.pricing->>'internal_reasoning')::numeric              AS internal_reasoning_price,
       trim_scale((d.pricing->>'internal_reasoning')::numeric * 1000000) AS internal_reasoning_price_per_million,
       (d.pricing->>'input_cache_read')::numeric                AS input_cache_read_price,
       trim_scale((d.pricing->>'input_cache_read')::numeric * 1000000) AS input_cache_read_price_per_million,
       (d.pricing->>'input_cache_write')::numeric               AS input_cache_write_price,
       trim_scale((d.pricing->>'input_cache_write')::numeric * 1000000) AS input_cache_write_price_per_million,
       (d.pricing->>'discount')::numeric                        AS discount,
       d.pricing                                                AS pricing,
       coalesce(d.data->'variable_price' = 'true'::jsonb, false) AS is_variable_price,
       ((d.pricing->>'prompt')::numeric = 0
        AND (d.pricing->>'completion')::numeric = 0)            AS is_free,
       (d.data->>'context_length')::integer                     AS context_length,
       (d.top_provider->>'max_completion_tokens')::integer      AS max_completion_tokens,
       (d.top_provider->>'is_moderated')::boolean               AS is_moderated,
       d.architecture->>'modality'                              AS modality,
       -- openrouter_text_array() written out: a SQL function holding a subquery is never
       -- inlined, and calling it costs more than the subquery itself.
       CASE WHEN jsonb_typeof(d.input_modalities) = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(d.input_modalities)) ELSE '{}'::text[] END AS input_modalities,
       CASE WHEN jsonb_typeof(d.output_modalities) = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(d.output_modalities)) ELSE '{}'::text[] END AS output_modalities,
       CASE WHEN jsonb_typeof(d.modalities) = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(d.modalities)) ELSE '{}'::text[] END AS modalities,
       CASE WHEN jsonb_typeof(d.features) = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(d.features)) ELSE '{}'::text[] END AS features,
       CASE WHEN jsonb_typeof(d.supported_parameters) = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(d.supported_parameters)) ELSE '{}'::text[] END AS supported_parameters,
       coalesce(d.features ? 'function_calling', false)         AS supports_tools,
       coalesce(d.input_modalities ? 'image', false)            AS supports_vision,
       coalesce(d.features ? 'reasoning', false)                AS supports_reasoning,
       coalesce(d.features ? 'structured_outputs', false)       AS supports_structured_outputs,
       coalesce(d.features ? 'json_mode', false)                AS supports_json_mode,
       coalesce(d.features ? 'web_search', false)               AS supports_web_search,
       coalesce(d.output_modalities ? 'image', false)           AS generates_images,
       d.architecture->>'tokenizer'                             AS tokenizer,
       d.architecture->>'instruct_type'                         AS instruct_type,
       d.data->>'parameters'                                    AS parameters,
       (d.data->>'parameters_billions')::numeric                AS parameters_billions,
       (d.data->>'active_parameters_billions')::numeric         AS active_parameters_billions,
       @extschema@.openrouter_date(d.data->>'released')         AS released,
       @extschema@.openrouter_date(d.data->>'knowledge_cutoff') AS knowledge_cutoff,
       @extschema@.openrouter_date(d.data->>'expiration_date')  AS expiration_date,
       d.data->>'canonical_slug'                                AS canonical_slug,
       nullif(d.data->>'hugging_face_id', '')                   AS hugging_face_id,
       d.data->'benchmarks'                                     AS benchmarks,
       d.data->'reasoning'                                      AS reasoning,
       coalesce(d.data->'deprecated' = 'true'::jsonb, false)    AS is_deprecated,
       (d.data->>'deprecated_at')::timestamptz                  AS deprecated_at,
       d.data->>'deprecated_reason'                             AS deprecated_reason,
       t.content                                                AS description,
       t.created_at                                             AS first_seen,
       t.updated_at                                             AS last_seen
  FROM @extschema@.things t
  -- things.data is stored compressed and out of line: every t.data->... would decompress the
  -- whole object again, about 60 times a row. Here it is decompressed once per row (|| '{}'
  -- returns its left operand, detoasted), and the objects read many times are taken out of
  -- it once; OFFSET 0 keeps each subquery from being folded back into every reference.
 CROSS JOIN LATERAL (
       SELECT x.data, x.data->'pricing' AS pricing, x.data->'architecture' AS architecture,
              x.data->'top_provider' AS top_provider, x.data->'features' AS features,
              x.data->'input_modalities' AS input_modalities, x.data->'output_modalities' AS output_modalities,
              x.data->'modalities' AS modalities, x.data->'supported_parameters' AS supported_parameters
         FROM (SELECT t.data || '{}'::jsonb AS data OFFSET 0) x OFFSET 0) d
  -- A lab's data lists its models (tens of kB at 100 times today's registry): its name is
  -- read once per lab, not once per model.
  LEFT JOIN (SELECT l.id, l.data->>'name' AS name FROM @extschema@.things l WHERE l.ns = 'labs' OFFSET 0) l
         ON l.id = d.data->>'provider'
 WHERE t.ns = 'models' AND t.type = 'Model';
CREATE OR REPLACE VIEW openrouter_labs_all AS
-- Grouped once, materialized: the planner cannot estimate how many labs the models have (the
-- lab comes out of openrouter_models_all's one-row LATERAL subquery, so it guesses one) and,
-- given a subquery, would rescan the whole grouping once per lab.
WITH m AS MATERIALIZED (
    SELECT o.lab,
           count(*)::integer AS model_count,
           array_agg(o.id ORDER BY o.id) AS models,
           min(o.prompt_price) AS cheapest_prompt_price,
           max(o.context_length) AS max_context_length
      FROM @extschema@.openrouter_models o
     GROUP BY o.lab)
SELECT l.id,
       l.data->>'name'                                       AS name,
       l.content                                             AS description,
       l.data->>'website'                                    AS website,
       (l.data->>'founded')::integer                         AS founded,
       l.data->>'headquarters'                               AS headquarters,
       coalesce(m.model_count, 0)                            AS model_count,
       coalesce(m.models, '{}')                              AS models,
       m.cheapest_prompt_price,
       trim_scale(m.cheapest_prompt_price * 1000000)         AS cheapest_prompt_price_per_million,
       m.max_context_length,
       m.model_count IS NULL                                 AS is_deprecated,
       l.created_at                                          AS first_seen,
       l.updated_at                                          AS last_seen
  FROM @extschema@.things l
  LEFT JOIN m ON m.lab = l.id
 WHERE l.ns = 'labs' AND l.type = 'Lab';
-- issue 20, item 4: pg_cron from any database where the extension is installed. pg_cron's
-- side runs in openrouter_cron_job() (C): in cron.database_name's database as before, from
-- any other through a background worker, the job running in the caller's database; the
-- default job names are made distinct per database there; the HINT says only what is missing.
CREATE FUNCTION @extschema@."openrouter_cron_job"(
	"operation" TEXT,
	"job_name" TEXT,
	"schedule" TEXT,
	"command" TEXT
) RETURNS jsonb
VOLATILE PARALLEL UNSAFE
SET search_path TO @extschema@, pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'openrouter_cron_job_wrapper';
CREATE OR REPLACE FUNCTION @extschema@.openrouter_cron_problem() RETURNS text
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

CREATE OR REPLACE FUNCTION @extschema@.openrouter_cron_status(
    OUT problem text, OUT schedule text, OUT job_name text, OUT last_failure_at timestamptz, OUT last_failure text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
DECLARE
    answer jsonb;
BEGIN
    problem := @extschema@.openrouter_cron_problem();
    IF problem IS NOT NULL THEN
        RETURN;
    END IF;
    -- The models' job of this database (found by its command) and the last failure of a job
    -- still scheduled: after openrouter_unschedule() an old job's failure is history, not
    -- the current state. A problem reaching pg_cron's database comes back as problem.
    answer := @extschema@.openrouter_cron_job('status', NULL, NULL, NULL);
    problem := answer->>'problem';
    schedule := answer->>'schedule';
    job_name := answer->>'job_name';
    last_failure_at := (answer->>'last_failure_at')::timestamptz;
    last_failure := answer->>'last_failure';
END
$$;
COMMENT ON FUNCTION @extschema@.openrouter_cron_status() IS 'Whether pg_cron can schedule the sync in this database (problem, null when it can), the openrouter_sync job of this database (schedule, name) and its last failed run, whichever role asks (SECURITY DEFINER: pg_cron shows each role only its own jobs), read in cron.database_name''s database (from any other through a background worker).';

CREATE OR REPLACE FUNCTION openrouter_schedule(schedule text DEFAULT NULL, job_name text DEFAULT 'openrouter-sync',
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

CREATE OR REPLACE FUNCTION openrouter_unschedule(job_name text DEFAULT NULL, dataset text DEFAULT 'models') RETURNS boolean
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
COMMENT ON FUNCTION @extschema@.openrouter_cron_job(text, text, text, text) IS 'Internal: runs one pg_cron operation (schedule, unschedule, status) for this database where pg_cron keeps its jobs: in cron.database_name''s database in this transaction, from any other through a background worker acting as the calling role. Called by openrouter_schedule(), openrouter_unschedule() and openrouter_cron_status().';
REVOKE EXECUTE ON FUNCTION @extschema@.openrouter_cron_job(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.openrouter_cron_job(text, text, text, text) TO openrouter_admin;

-- issue 20, items 1 and 4: openrouter_health_by_dataset() read cron.job and
-- cron.job_run_details as the calling role (pg_cron shows a role only its own jobs, so a
-- monitoring role was told "ok" while the superuser's job failed), only in cron.database_name's
-- database, and reported an unscheduled job's failure as current. It now asks pg_cron through
-- openrouter_cron_status_by_dataset() (SECURITY DEFINER, the background worker from another
-- database), once per call, like openrouter_health().
-- The same, per dataset, for openrouter_health_by_dataset(): one question to pg_cron's
-- database for both jobs (the providers list is read by the endpoints job).
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
COMMENT ON FUNCTION @extschema@.openrouter_cron_status_by_dataset() IS 'openrouter_cron_status() per dataset (models, endpoints, providers: the endpoints job reads the providers list): whether pg_cron can schedule here (problem), the job of this database that syncs the dataset and the last failed run of a job still scheduled, whichever role asks (SECURITY DEFINER), read in cron.database_name''s database (from any other through a background worker).';
GRANT EXECUTE ON FUNCTION @extschema@.openrouter_cron_status_by_dataset() TO PUBLIC;
CREATE OR REPLACE FUNCTION openrouter_health_by_dataset(max_age interval DEFAULT '25 hours',
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

-- issue 20, items 1 and 4: openrouter_cron_status() was a near-copy of
-- openrouter_cron_status_by_dataset(); it is now its models' row (no longer SECURITY
-- DEFINER itself: the function it reads is).
CREATE OR REPLACE FUNCTION @extschema@.openrouter_cron_status(
    OUT problem text, OUT schedule text, OUT job_name text, OUT last_failure_at timestamptz, OUT last_failure text)
LANGUAGE sql STABLE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
    SELECT c.problem, c.schedule, c.job_name, c.last_failure_at, c.last_failure
      FROM @extschema@.openrouter_cron_status_by_dataset() c
     WHERE c.dataset = 'models'
$$;
COMMENT ON FUNCTION @extschema@.openrouter_cron_status() IS 'The models'' row of openrouter_cron_status_by_dataset(): whether pg_cron can schedule the sync in this database (problem, null when it can), the openrouter_sync job of this database (schedule, name) and its last failed run, whichever role asks.';
COMMENT ON FUNCTION @extschema@.openrouter_cron_status_by_dataset() IS 'Per dataset (models, endpoints, providers: the endpoints job reads the providers list): whether pg_cron can schedule the sync in this database (problem, null when it can), the job of this database that syncs the dataset (schedule, name) and the last failed run of a job still scheduled, whichever role asks (SECURITY DEFINER: pg_cron shows each role only its own jobs), read in cron.database_name''s database (from any other through a background worker).';
COMMENT ON FUNCTION @extschema@.openrouter_cron_job(text, text, text, text) IS 'Internal: runs one pg_cron operation (schedule, unschedule, status) for this database where pg_cron keeps its jobs: in cron.database_name''s database in this transaction, from any other through a background worker acting as the calling role. Called by openrouter_schedule(), openrouter_unschedule() and openrouter_cron_status_by_dataset().';
