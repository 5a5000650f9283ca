-- openrouter_registry 0.2.0 -> 0.3.0 (ALTER EXTENSION openrouter_registry UPDATE).
-- 0.2.0 (commit a6e8c20) is released: what changed after it goes here, never into the
-- 0.1.0 -> 0.2.0 script (a 0.1.0 database updates through both, one after the other).
-- Each change adds its own section, headed "-- issue N, item M: what". A fresh 0.3.0 install
-- and a 0.1.0 or 0.2.0 install updated to 0.3.0 must end up with the same objects
-- (tests/upgrade/run.sh checks both).

-- issue 20, item 13: every view answers a full scan in one pass at 100 times the registry.
-- openrouter_models_all decompresses each model's things.data once per row instead of once
-- per column (about 60 times), reads each lab's name once per lab, and converts its arrays
-- without a SQL-function call per value; openrouter_labs_all groups the live models once
-- (materialized: the planner would otherwise rescan the grouping once per lab);
-- openrouter_endpoints reads each model's name once per model instead of once per endpoint.
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
CREATE OR REPLACE VIEW openrouter_endpoints AS
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
       (e.data->'pricing'->>'input_cache_write')::numeric        AS input_cache_write_price,
       (e.data->'pricing'->>'discount')::numeric                 AS discount,
       e.data->'pricing'                                         AS pricing,
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
