-- openrouter_registry: the analyst's SQL. Typed views over things.data, the questions people
-- ask (cheapest_models, model_cost, openrouter_price_at, openrouter_changes) and the indexes
-- that keep them fast at 100 times today's registry.

-- A date from the API's free-form date text ('2025-01-31', '2025-01-31T00:00:00Z', '2025-01').
CREATE FUNCTION openrouter_date(value text) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $$
    SELECT CASE
        WHEN value ~ '^\d{4}-\d{2}-\d{2}' THEN to_date(left(value, 10), 'YYYY-MM-DD')
        WHEN value ~ '^\d{4}-\d{2}$' THEN to_date(value || '-01', 'YYYY-MM-DD')
    END
$$;
COMMENT ON FUNCTION openrouter_date(text) IS 'Reads a date as the API writes it (''2025-01-31'', an ISO timestamp, or ''2025-01'' as the first of the month); null for anything else.';

CREATE FUNCTION openrouter_text_array(value jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN jsonb_typeof(value) = 'array'
                THEN ARRAY(SELECT jsonb_array_elements_text(value)) ELSE '{}'::text[] END
$$;
COMMENT ON FUNCTION openrouter_text_array(jsonb) IS 'A jsonb array of strings as text[] (empty for anything else).';

-- The cheapest-first scan of live, fixed-price models: cheapest_models() reads this index in
-- order and stops after max_results rows that pass its filters. It lives on the narrow, typed
-- openrouter_model_state, not as expression indexes over things.data: there, every model a
-- sync writes would pay for evaluating jsonb expressions and predicates (about half of the
-- time of writing things at 100 times today's registry).
CREATE INDEX openrouter_model_state_live_by_price_idx ON openrouter_model_state
    (prompt_price, completion_price, model_id)
    WHERE NOT deprecated AND prompt_price IS NOT NULL AND completion_price IS NOT NULL;

CREATE VIEW openrouter_models_all AS
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
COMMENT ON VIEW openrouter_models_all IS 'Every model ever synced, one typed column per field (prices numeric USD per token, plus per million), deprecated ones included (is_deprecated).';

CREATE VIEW openrouter_models AS
SELECT * FROM openrouter_models_all WHERE NOT is_deprecated;
COMMENT ON VIEW openrouter_models IS 'Models listed by the API at the last sync and not past their expiration date, one typed column per field. Prices are numeric USD per token (null when variable: see is_variable_price); *_per_million columns are the same per million tokens.';

-- One definition of a live lab, used everywhere (openrouter_labs, openrouter_health): a lab
-- with at least one live model. One pass: the live models grouped by lab, joined to the labs.
CREATE VIEW openrouter_labs_all AS
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
COMMENT ON VIEW openrouter_labs_all IS 'Every lab (model author) ever synced, with its display name, curated facts where known and its live models; is_deprecated when it has no live model.';

CREATE VIEW openrouter_labs AS
SELECT * FROM openrouter_labs_all WHERE NOT is_deprecated;
COMMENT ON VIEW openrouter_labs IS 'Live labs (model authors: at least one live model) with their display name, curated facts where known, and their live models. openrouter_labs_all has the others too.';

-- Every column of the analyst's views says what it holds and in which unit; the views
-- without _all take their columns' comments from those with.
COMMENT ON COLUMN openrouter_models_all.id IS 'Model id as the API names it (''openai/gpt-4o'', ''meta-llama/llama-3.3-70b-instruct:free'').';
COMMENT ON COLUMN openrouter_models_all.name IS 'Display name (''OpenAI: GPT-4o'').';
COMMENT ON COLUMN openrouter_models_all.lab IS 'The lab (model author) id: the id up to its first /, without the ~ of an alias (''openai''). Stored as data->>''provider'', the seed''s key; openrouter_endpoints.provider is the inference host instead.';
COMMENT ON COLUMN openrouter_models_all.lab_name IS 'The lab''s display name (openrouter_labs.name), or its id when unknown.';
COMMENT ON COLUMN openrouter_models_all.base_id IS 'The id without its :variant suffix.';
COMMENT ON COLUMN openrouter_models_all.variant IS 'The :variant suffix of the id (''free'', ''thinking'', ''exacto''), or null.';
COMMENT ON COLUMN openrouter_models_all.is_alias IS 'An alias (''~anthropic/claude-opus-latest''): the API routes it to another model of its lab, whose price it shows; cheapest_models() leaves aliases out unless include_aliases => true.';
COMMENT ON COLUMN openrouter_models_all.alias_target IS 'The model an alias routes to (the API''s alias_target slug), when the API says; null otherwise.';
COMMENT ON COLUMN openrouter_models_all.prompt_price IS 'USD per prompt (input) token; null when variable (is_variable_price).';
COMMENT ON COLUMN openrouter_models_all.completion_price IS 'USD per completion (output) token; null when variable (is_variable_price).';
COMMENT ON COLUMN openrouter_models_all.prompt_price_per_million IS 'USD per million prompt tokens (prompt_price * 1,000,000).';
COMMENT ON COLUMN openrouter_models_all.completion_price_per_million IS 'USD per million completion tokens (completion_price * 1,000,000).';
COMMENT ON COLUMN openrouter_models_all.request_price IS 'USD per request, on top of the token prices; null when the API gives none.';
COMMENT ON COLUMN openrouter_models_all.image_price IS 'USD per input image; null when the API gives none.';
COMMENT ON COLUMN openrouter_models_all.audio_price IS 'USD per audio input token; null when the API gives none.';
COMMENT ON COLUMN openrouter_models_all.audio_price_per_million IS 'USD per million audio input tokens.';
COMMENT ON COLUMN openrouter_models_all.web_search_price IS 'USD per web search; null when the API gives none.';
COMMENT ON COLUMN openrouter_models_all.internal_reasoning_price IS 'USD per internal reasoning token; null when the API gives none.';
COMMENT ON COLUMN openrouter_models_all.internal_reasoning_price_per_million IS 'USD per million internal reasoning tokens.';
COMMENT ON COLUMN openrouter_models_all.input_cache_read_price IS 'USD per prompt token read from the cache; null when the API gives none (then model_cost() uses prompt_price).';
COMMENT ON COLUMN openrouter_models_all.input_cache_read_price_per_million IS 'USD per million prompt tokens read from the cache.';
COMMENT ON COLUMN openrouter_models_all.input_cache_write_price IS 'USD per prompt token written to the cache; null when the API gives none (then model_cost() uses prompt_price).';
COMMENT ON COLUMN openrouter_models_all.input_cache_write_price_per_million IS 'USD per million prompt tokens written to the cache.';
COMMENT ON COLUMN openrouter_models_all.discount IS 'Fraction taken off the total cost (0.25 = 25%); null for none.';
COMMENT ON COLUMN openrouter_models_all.pricing IS 'Every price key as stored (USD per token, per request, per image or per search), overrides included.';
COMMENT ON COLUMN openrouter_models_all.is_variable_price IS 'The API priced the model "-1": the router decides the price per request (prompt_price and completion_price are null).';
COMMENT ON COLUMN openrouter_models_all.is_free IS 'Prompt and completion both cost 0.';
COMMENT ON COLUMN openrouter_models_all.context_length IS 'Context window in tokens.';
COMMENT ON COLUMN openrouter_models_all.max_completion_tokens IS 'Most tokens one completion may have (the top provider''s limit), or null.';
COMMENT ON COLUMN openrouter_models_all.is_moderated IS 'The top provider moderates requests.';
COMMENT ON COLUMN openrouter_models_all.modality IS 'The API''s architecture.modality, inputs->outputs (''text+image->text'').';
COMMENT ON COLUMN openrouter_models_all.input_modalities IS 'What the model takes (text, image, file, audio, video), sorted.';
COMMENT ON COLUMN openrouter_models_all.output_modalities IS 'What the model produces, sorted.';
COMMENT ON COLUMN openrouter_models_all.modalities IS 'input_modalities and output_modalities together, sorted.';
COMMENT ON COLUMN openrouter_models_all.features IS 'What the supported parameters allow: function_calling, tool_choice, structured_outputs, json_mode, reasoning, web_search, logprobs, streaming.';
COMMENT ON COLUMN openrouter_models_all.supported_parameters IS 'Request parameters the model accepts, as the API lists them.';
COMMENT ON COLUMN openrouter_models_all.supports_tools IS 'Takes tools (function calling).';
COMMENT ON COLUMN openrouter_models_all.supports_vision IS 'Takes images as input.';
COMMENT ON COLUMN openrouter_models_all.supports_reasoning IS 'Has a reasoning mode.';
COMMENT ON COLUMN openrouter_models_all.supports_structured_outputs IS 'Takes a JSON schema for its output.';
COMMENT ON COLUMN openrouter_models_all.supports_json_mode IS 'Takes response_format (JSON mode).';
COMMENT ON COLUMN openrouter_models_all.supports_web_search IS 'Takes web_search_options.';
COMMENT ON COLUMN openrouter_models_all.generates_images IS 'Outputs images.';
COMMENT ON COLUMN openrouter_models_all.tokenizer IS 'Tokenizer family (architecture.tokenizer).';
COMMENT ON COLUMN openrouter_models_all.instruct_type IS 'Instruction format (architecture.instruct_type), or null.';
COMMENT ON COLUMN openrouter_models_all.parameters IS 'Parameter count as stated in the id or name (''70B'', ''30B-A3B''), or null.';
COMMENT ON COLUMN openrouter_models_all.parameters_billions IS 'Total parameters, in billions.';
COMMENT ON COLUMN openrouter_models_all.active_parameters_billions IS 'Active parameters per token (mixture of experts), in billions.';
COMMENT ON COLUMN openrouter_models_all.released IS 'Date the model was added to the API (from created).';
COMMENT ON COLUMN openrouter_models_all.knowledge_cutoff IS 'Training data cutoff date, when the API gives it.';
COMMENT ON COLUMN openrouter_models_all.expiration_date IS 'Date the API stops serving the model, when announced; after it the model is deprecated.';
COMMENT ON COLUMN openrouter_models_all.canonical_slug IS 'The API''s permanent slug of the model.';
COMMENT ON COLUMN openrouter_models_all.hugging_face_id IS 'Hugging Face repository id, or null.';
COMMENT ON COLUMN openrouter_models_all.benchmarks IS 'Benchmark scores as the API gives them (jsonb).';
COMMENT ON COLUMN openrouter_models_all.reasoning IS 'The API''s reasoning settings of the model (jsonb).';
COMMENT ON COLUMN openrouter_models_all.is_deprecated IS 'Removed upstream (missing from a sync) or past its expiration_date.';
COMMENT ON COLUMN openrouter_models_all.deprecated_at IS 'When a sync first saw the model missing or expired.';
COMMENT ON COLUMN openrouter_models_all.deprecated_reason IS '''removed'' or ''expired''.';
COMMENT ON COLUMN openrouter_models_all.description IS 'The API''s description.';
COMMENT ON COLUMN openrouter_models_all.first_seen IS 'When a sync first stored the model (the snapshot''s as_of for an archived one).';
COMMENT ON COLUMN openrouter_models_all.last_seen IS 'When a sync last listed the model.';
COMMENT ON COLUMN openrouter_labs_all.id IS 'Lab id: the model id prefix (''openai'').';
COMMENT ON COLUMN openrouter_labs_all.name IS 'Display name, from the models'' names (''Mistral: Devstral Small'' -> Mistral) or curated.';
COMMENT ON COLUMN openrouter_labs_all.description IS 'What the lab is, where known.';
COMMENT ON COLUMN openrouter_labs_all.website IS 'Web site, where known.';
COMMENT ON COLUMN openrouter_labs_all.founded IS 'Year founded, where known.';
COMMENT ON COLUMN openrouter_labs_all.headquarters IS 'Headquarters, where known.';
COMMENT ON COLUMN openrouter_labs_all.model_count IS 'Live models.';
COMMENT ON COLUMN openrouter_labs_all.models IS 'Ids of the live models, sorted.';
COMMENT ON COLUMN openrouter_labs_all.cheapest_prompt_price IS 'Lowest prompt price of its live models, USD per token.';
COMMENT ON COLUMN openrouter_labs_all.cheapest_prompt_price_per_million IS 'Lowest prompt price of its live models, USD per million tokens.';
COMMENT ON COLUMN openrouter_labs_all.max_context_length IS 'Largest context window of its live models, in tokens.';
COMMENT ON COLUMN openrouter_labs_all.is_deprecated IS 'No live model (a live lab has at least one; openrouter_labs lists only those).';
COMMENT ON COLUMN openrouter_labs_all.first_seen IS 'When a sync first stored the lab.';
COMMENT ON COLUMN openrouter_labs_all.last_seen IS 'When a sync last listed the lab.';
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT v.view, a.attname, col_description(('@extschema@.' || v.view || '_all')::regclass, a.attnum) AS comment
               FROM (VALUES ('openrouter_models'), ('openrouter_labs')) v(view)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = ('@extschema@.' || v.view)::regclass AND a.attnum > 0
    LOOP
        EXECUTE format('COMMENT ON COLUMN @extschema@.%I.%I IS %L', c.view, c.attname, c.comment);
    END LOOP;
END
$$;

-- cheapest_models() filters as a person types them: any case, the API's words and the
-- columns' words. Each returns the stored value to look for, or raises listing the valid ones.
CREATE FUNCTION @extschema@.openrouter_feature(feature text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT
AS $$
DECLARE
    valid text[] := '{function_calling,tool_choice,structured_outputs,json_mode,reasoning,web_search,logprobs,streaming}';
    f text := regexp_replace(lower(btrim(feature)), '^supports_', '');
BEGIN
    f := CASE f WHEN 'tools' THEN 'function_calling' WHEN 'tool_calling' THEN 'function_calling'
                WHEN 'response_format' THEN 'json_mode' ELSE f END;
    IF NOT f = ANY(valid) THEN
        RAISE EXCEPTION 'cheapest_models: unknown feature %', quote_literal(feature) USING ERRCODE = '22023',
            HINT = 'Valid features: ' || array_to_string(valid, ', ') || ' (also tools for function_calling, response_format for json_mode; any case).';
    END IF;
    RETURN f;
END
$$;
COMMENT ON FUNCTION @extschema@.openrouter_feature(text) IS 'A feature as cheapest_models() takes it (any case; tools or function_calling, response_format or json_mode; a supports_ prefix ignored), as stored in things.data->''features''; an error listing the valid ones for anything else.';

CREATE FUNCTION @extschema@.openrouter_modality(modality text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE STRICT
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
DECLARE
    valid text[] := '{text,image,file,audio,video}';
    m text := lower(btrim(modality));
BEGIN
    IF NOT m = ANY(valid) AND NOT EXISTS (SELECT 1 FROM things t WHERE t.ns = 'models' AND t.data->'modalities' ? m) THEN
        RAISE EXCEPTION 'cheapest_models: unknown modality %', quote_literal(modality) USING ERRCODE = '22023',
            HINT = 'Valid modalities: ' || array_to_string(valid, ', ') || ' (input or output; any case).';
    END IF;
    RETURN m;
END
$$;
COMMENT ON FUNCTION @extschema@.openrouter_modality(text) IS 'A modality as cheapest_models() takes it (any case), as stored in things.data->''modalities''; an error listing the valid ones for anything else.';

CREATE FUNCTION @extschema@.openrouter_lab_id(lab text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE STRICT
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
DECLARE
    found_id text;
BEGIN
    SELECT l.id INTO found_id FROM things l
     WHERE l.ns = 'labs' AND (l.id = lower(btrim(lab)) OR lower(l.data->>'name') = lower(btrim(lab)))
     ORDER BY l.id = lower(btrim(lab)) DESC, l.id LIMIT 1;
    IF found_id IS NULL THEN
        RAISE EXCEPTION 'cheapest_models: unknown lab %', quote_literal(lab) USING ERRCODE = '22023',
            HINT = 'Valid labs (id or name, any case): '
                   || coalesce((SELECT string_agg(o.id, ', ' ORDER BY o.id) FROM openrouter_labs o), 'none yet (sync first)') || '.';
    END IF;
    RETURN found_id;
END
$$;
COMMENT ON FUNCTION @extschema@.openrouter_lab_id(text) IS 'The id of a lab given by its id or its display name, any case (''OpenAI'' -> ''openai''); an error listing the live labs for anything else.';

-- LANGUAGE sql, one SELECT: the planner inlines it, folds the arguments, and reads
-- openrouter_model_state_live_by_price_idx in order when no workload is given (the cost is
-- then a constant NULL, which orders nothing). The filters' lookups run once (InitPlans).
CREATE FUNCTION cheapest_models(
    context_above        integer,
    max_results          integer DEFAULT 10,
    exclude_free         boolean DEFAULT false,
    modality             text    DEFAULT NULL,
    feature              text    DEFAULT NULL,
    lab                  text    DEFAULT NULL,
    prompt_tokens        bigint  DEFAULT NULL,
    completion_tokens    bigint  DEFAULT NULL,
    cached_prompt_tokens bigint  DEFAULT 0,
    include_aliases      boolean DEFAULT false)
RETURNS TABLE (id text, name text, lab_id text, lab_name text,
               prompt_price numeric, completion_price numeric,
               prompt_price_per_million numeric, completion_price_per_million numeric,
               context_length integer, variant text, cost numeric)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT c.id, c.name, c.lab_id, c.lab_name, c.prompt_price, c.completion_price,
           trim_scale(c.prompt_price * 1000000), trim_scale(c.completion_price * 1000000),
           c.context_length, c.variant, c.cost
      FROM (SELECT t.id, t.data->>'name' AS name, t.data->>'provider' AS lab_id,
                   coalesce((SELECT l.data->>'name' FROM @extschema@.things l WHERE l.ns = 'labs' AND l.id = t.data->>'provider'),
                            t.data->>'provider') AS lab_name,
                   s.prompt_price, s.completion_price, s.context_length, t.data->>'variant' AS variant,
                   s.model_id,
                   CASE WHEN prompt_tokens IS NOT NULL OR completion_tokens IS NOT NULL
                        THEN @extschema@.model_cost(s.model_id, coalesce(prompt_tokens, 0), coalesce(completion_tokens, 0),
                                                    coalesce(cached_prompt_tokens, 0)) END AS cost
              FROM @extschema@.openrouter_model_state s
              JOIN @extschema@.things t ON t.ns = 'models' AND t.id = s.model_id
             WHERE NOT s.deprecated AND s.prompt_price IS NOT NULL AND s.completion_price IS NOT NULL
               AND s.context_length > context_above
               AND t.type = 'Model'
               AND (NOT exclude_free OR NOT (s.prompt_price = 0 AND s.completion_price = 0))
               AND (modality IS NULL OR t.data->'modalities' ? (SELECT @extschema@.openrouter_modality(modality)))
               AND (feature IS NULL OR t.data->'features' ? (SELECT @extschema@.openrouter_feature(feature)))
               AND (lab IS NULL OR t.data->>'provider' = (SELECT @extschema@.openrouter_lab_id(lab)))
               AND (include_aliases OR left(s.model_id, 1) <> '~')
             ORDER BY cost, s.prompt_price, s.completion_price, s.model_id
             LIMIT max_results) c
     ORDER BY c.cost, c.prompt_price, c.completion_price, c.model_id
$$;
COMMENT ON FUNCTION cheapest_models(integer, integer, boolean, text, text, text, bigint, bigint, bigint, boolean) IS
'The max_results cheapest live models with more than context_above tokens of context (strictly more: a model with exactly context_above is left out), by prompt price, then completion price, then id; or, given a workload (prompt_tokens, completion_tokens, cached_prompt_tokens), by the exact USD cost model_cost() gives for it (returned as cost). Variable-price (router) and deprecated models are never returned. Prices: USD per token, and per million. Filters, any case: exclude_free (drops models whose prompt and completion are both free, :free variants included), modality (input or output: text, image, file, audio, video), feature (function_calling or tools, tool_choice, structured_outputs, json_mode or response_format, reasoning, web_search, logprobs, streaming), lab (its id, ''openai'', or its name, ''OpenAI''). An unknown filter value is an error listing the valid ones. Aliases (''~openai/gpt-latest'', priced like the model they route to) are left out unless include_aliases => true.';

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

CREATE FUNCTION model_cost(
    model_id              text,
    prompt_tokens         bigint,
    completion_tokens     bigint,
    cached_prompt_tokens  bigint DEFAULT 0,
    cache_write_tokens    bigint DEFAULT 0,
    requests              integer DEFAULT 1,
    at                    timestamptz DEFAULT NULL)
RETURNS numeric
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
DECLARE
    p        jsonb;
    ovr      jsonb;
    prompt_p numeric;
    compl_p  numeric;
    read_p   numeric;
    write_p  numeric;
    cost     numeric;
BEGIN
    -- NULL in, NULL out (the function is not STRICT only because at => NULL means now).
    IF model_id IS NULL OR prompt_tokens IS NULL OR completion_tokens IS NULL OR cached_prompt_tokens IS NULL
       OR cache_write_tokens IS NULL OR requests IS NULL THEN
        RETURN NULL;
    END IF;
    IF prompt_tokens < 0 OR completion_tokens < 0 OR cached_prompt_tokens < 0 OR cache_write_tokens < 0 OR requests < 0 THEN
        RAISE EXCEPTION 'model_cost: token and request counts cannot be negative' USING ERRCODE = '22023';
    END IF;
    IF cached_prompt_tokens + cache_write_tokens > prompt_tokens THEN
        RAISE EXCEPTION 'model_cost: cached_prompt_tokens + cache_write_tokens (%) exceed prompt_tokens (%)',
            cached_prompt_tokens + cache_write_tokens, prompt_tokens
            USING ERRCODE = '22023', HINT = 'prompt_tokens counts every input token, cached ones included.';
    END IF;
    IF at IS NULL THEN
        SELECT t.data->'pricing' INTO p FROM @extschema@.things t WHERE t.ns = 'models' AND t.id = model_cost.model_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'model_cost: unknown model %', model_id USING ERRCODE = 'P0002',
                HINT = 'Model ids look like ''anthropic/claude-sonnet-4''; see SELECT id FROM openrouter_models.';
        END IF;
    ELSE
        SELECT h.pricing INTO p FROM @extschema@.openrouter_price_at(model_cost.model_id, at) h;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'model_cost: no price for % at %', model_id, at USING ERRCODE = 'P0002',
                HINT = 'The model was not listed at that time (see openrouter_price_history).';
        END IF;
    END IF;
    IF p->>'prompt' IS NULL OR p->>'completion' IS NULL THEN
        RETURN NULL;  -- a variable price: the router decides it per request
    END IF;
    prompt_p := (p->>'prompt')::numeric;
    compl_p  := (p->>'completion')::numeric;
    read_p   := coalesce((p->>'input_cache_read')::numeric, prompt_p);
    write_p  := coalesce((p->>'input_cache_write')::numeric, prompt_p);
    -- Long-context overrides: the one with the highest threshold strictly below the prompt.
    IF jsonb_typeof(p->'overrides') = 'array' THEN
        SELECT o INTO ovr FROM jsonb_array_elements(p->'overrides') o
         WHERE (o->>'min_prompt_tokens')::bigint < prompt_tokens
         ORDER BY (o->>'min_prompt_tokens')::bigint DESC LIMIT 1;
        IF ovr IS NOT NULL THEN
            prompt_p := coalesce((ovr->>'prompt')::numeric, prompt_p);
            compl_p  := coalesce((ovr->>'completion')::numeric, compl_p);
            read_p   := coalesce((ovr->>'input_cache_read')::numeric, read_p);
            write_p  := coalesce((ovr->>'input_cache_write')::numeric, write_p);
        END IF;
    END IF;
    cost := (prompt_tokens - cached_prompt_tokens - cache_write_tokens) * prompt_p
          + cached_prompt_tokens * read_p
          + cache_write_tokens * write_p
          + completion_tokens * compl_p
          + requests * coalesce((p->>'request')::numeric, 0);
    IF p->>'discount' IS NOT NULL THEN
        cost := cost * (1 - (p->>'discount')::numeric);
    END IF;
    RETURN trim_scale(cost);
END
$$;
COMMENT ON FUNCTION model_cost(text, bigint, bigint, bigint, bigint, integer, timestamptz) IS
'USD cost of a request (exact numeric): prompt_tokens (all input tokens, cached ones included) and completion_tokens at the model''s prices, cached_prompt_tokens at input_cache_read and cache_write_tokens at input_cache_write where the model has them, requests at the per-request price; long-context overrides apply when prompt_tokens is strictly greater than their min_prompt_tokens; the discount is applied to the total. at => a past time uses the price in force then (openrouter_price_history). NULL for a variable price (decided by the router per request) and when any argument but at is NULL; an error for an unknown model.';

-- openrouter_changes(since, dataset) is in datasets.sql: it reads every dataset's changes.

GRANT SELECT ON openrouter_models, openrouter_models_all, openrouter_labs, openrouter_labs_all TO PUBLIC;
