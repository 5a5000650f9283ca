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
       t.data->>'name'                                          AS name,
       t.data->>'provider'                                      AS provider,
       coalesce(l.data->>'name', t.data->>'provider')           AS lab_name,
       t.data->>'base_id'                                       AS base_id,
       t.data->>'variant'                                       AS variant,
       (t.data->'pricing'->>'prompt')::numeric                  AS prompt_price,
       (t.data->'pricing'->>'completion')::numeric              AS completion_price,
       trim_scale((t.data->'pricing'->>'prompt')::numeric * 1000000) AS prompt_price_per_million,
       trim_scale((t.data->'pricing'->>'completion')::numeric * 1000000) AS completion_price_per_million,
       (t.data->'pricing'->>'request')::numeric                 AS request_price,
       (t.data->'pricing'->>'image')::numeric                   AS image_price,
       (t.data->'pricing'->>'audio')::numeric                   AS audio_price,
       (t.data->'pricing'->>'web_search')::numeric              AS web_search_price,
       (t.data->'pricing'->>'internal_reasoning')::numeric      AS internal_reasoning_price,
       (t.data->'pricing'->>'input_cache_read')::numeric        AS input_cache_read_price,
       (t.data->'pricing'->>'input_cache_write')::numeric       AS input_cache_write_price,
       (t.data->'pricing'->>'discount')::numeric                AS discount,
       t.data->'pricing'                                        AS pricing,
       coalesce(t.data->'variable_price' = 'true'::jsonb, false) AS is_variable_price,
       ((t.data->'pricing'->>'prompt')::numeric = 0
        AND (t.data->'pricing'->>'completion')::numeric = 0)    AS is_free,
       (t.data->>'context_length')::integer                     AS context_length,
       (t.data->'top_provider'->>'max_completion_tokens')::integer AS max_completion_tokens,
       (t.data->'top_provider'->>'is_moderated')::boolean       AS is_moderated,
       @extschema@.openrouter_text_array(t.data->'input_modalities')        AS input_modalities,
       @extschema@.openrouter_text_array(t.data->'output_modalities')       AS output_modalities,
       @extschema@.openrouter_text_array(t.data->'modalities')              AS modalities,
       @extschema@.openrouter_text_array(t.data->'features')                AS features,
       @extschema@.openrouter_text_array(t.data->'supported_parameters')    AS supported_parameters,
       coalesce(t.data->'features' ? 'function_calling', false) AS supports_tools,
       coalesce(t.data->'input_modalities' ? 'image', false)    AS supports_vision,
       coalesce(t.data->'features' ? 'reasoning', false)        AS supports_reasoning,
       coalesce(t.data->'features' ? 'structured_outputs', false) AS supports_structured_outputs,
       coalesce(t.data->'features' ? 'json_mode', false)        AS supports_json_mode,
       coalesce(t.data->'features' ? 'web_search', false)       AS supports_web_search,
       coalesce(t.data->'output_modalities' ? 'image', false)   AS generates_images,
       t.data->'architecture'->>'tokenizer'                     AS tokenizer,
       t.data->'architecture'->>'instruct_type'                 AS instruct_type,
       t.data->>'parameters'                                    AS parameters,
       (t.data->>'parameters_billions')::numeric                AS parameters_billions,
       (t.data->>'active_parameters_billions')::numeric         AS active_parameters_billions,
       @extschema@.openrouter_date(t.data->>'released')                     AS released,
       @extschema@.openrouter_date(t.data->>'knowledge_cutoff')             AS knowledge_cutoff,
       @extschema@.openrouter_date(t.data->>'expiration_date')              AS expiration_date,
       t.data->>'canonical_slug'                                AS canonical_slug,
       nullif(t.data->>'hugging_face_id', '')                   AS hugging_face_id,
       t.data->'benchmarks'                                     AS benchmarks,
       t.data->'reasoning'                                      AS reasoning,
       coalesce(t.data->'deprecated' = 'true'::jsonb, false)    AS is_deprecated,
       (t.data->>'deprecated_at')::timestamptz                  AS deprecated_at,
       t.data->>'deprecated_reason'                             AS deprecated_reason,
       t.content                                                AS description,
       t.created_at                                             AS first_seen,
       t.updated_at                                             AS last_seen
  FROM @extschema@.things t
  LEFT JOIN @extschema@.things l ON l.ns = 'labs' AND l.id = t.data->>'provider'
 WHERE t.ns = 'models' AND t.type = 'Model';
COMMENT ON VIEW openrouter_models_all IS 'Every model ever synced, one typed column per field (prices numeric USD per token, plus per million), deprecated ones included (is_deprecated).';

CREATE VIEW openrouter_models AS
SELECT * FROM openrouter_models_all WHERE NOT is_deprecated;
COMMENT ON VIEW openrouter_models IS 'Models listed by the API at the last sync and not past their expiration date, one typed column per field. Prices are numeric USD per token (null when variable: see is_variable_price); *_per_million columns are the same per million tokens.';

CREATE VIEW openrouter_labs AS
SELECT l.id,
       l.data->>'name'                                       AS name,
       l.content                                             AS description,
       l.data->>'website'                                    AS website,
       (l.data->>'founded')::integer                         AS founded,
       l.data->>'headquarters'                               AS headquarters,
       m.live_models                                         AS model_count,
       m.models,
       m.cheapest_prompt_price,
       m.max_context_length,
       coalesce(l.data->'deprecated' = 'true'::jsonb, false) AS is_deprecated,
       l.created_at                                          AS first_seen,
       l.updated_at                                          AS last_seen
  FROM @extschema@.things l
  LEFT JOIN LATERAL (
        SELECT count(*)::integer AS live_models,
               array_agg(o.id ORDER BY o.id) AS models,
               min(o.prompt_price) AS cheapest_prompt_price,
               max(o.context_length) AS max_context_length
          FROM openrouter_models o WHERE o.provider = l.id) m ON true
 WHERE l.ns = 'labs' AND l.type = 'Lab';
COMMENT ON VIEW openrouter_labs IS 'Labs (model authors) with their display name, curated facts where known, and their live models.';

CREATE FUNCTION cheapest_models(
    min_context   integer,
    max_results   integer DEFAULT 10,
    exclude_free  boolean DEFAULT false,
    modality      text    DEFAULT NULL,
    feature       text    DEFAULT NULL,
    lab           text    DEFAULT NULL)
RETURNS TABLE (id text, name text, provider text, lab_name text,
               prompt_price numeric, completion_price numeric,
               prompt_price_per_million numeric, completion_price_per_million numeric,
               context_length integer, variant text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT t.id, t.data->>'name', t.data->>'provider',
           coalesce((SELECT l.data->>'name' FROM @extschema@.things l WHERE l.ns = 'labs' AND l.id = t.data->>'provider'),
                    t.data->>'provider'),
           s.prompt_price,
           s.completion_price,
           trim_scale(s.prompt_price * 1000000),
           trim_scale(s.completion_price * 1000000),
           s.context_length,
           t.data->>'variant'
      FROM @extschema@.openrouter_model_state s
      JOIN @extschema@.things t ON t.ns = 'models' AND t.id = s.model_id
     WHERE NOT s.deprecated AND s.prompt_price IS NOT NULL AND s.completion_price IS NOT NULL
       AND s.context_length > min_context
       AND t.type = 'Model'
       AND (NOT exclude_free OR NOT (s.prompt_price = 0 AND s.completion_price = 0))
       AND (modality IS NULL OR t.data->'modalities' ? modality)
       AND (feature IS NULL OR t.data->'features' ? feature)
       AND (lab IS NULL OR t.data->>'provider' = lab)
     ORDER BY s.prompt_price, s.completion_price, s.model_id
     LIMIT max_results
$$;
COMMENT ON FUNCTION cheapest_models(integer, integer, boolean, text, text, text) IS
'The max_results cheapest live models with more than min_context tokens of context, by prompt price, then completion price, then id. Variable-price (router) and deprecated models are never returned. Filters: exclude_free (drops models whose prompt and completion are both free, :free variants included), modality (input or output, e.g. ''image''), feature (e.g. ''function_calling'', ''reasoning''), lab (e.g. ''openai'').';

CREATE FUNCTION @extschema@.openrouter_price_at(model_id text, at timestamptz)
RETURNS TABLE (valid_from timestamptz, valid_to timestamptz, prompt_price numeric,
               completion_price numeric, variable_price boolean, pricing jsonb)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT h.valid_from, h.valid_to, h.prompt_price, h.completion_price, h.variable_price, h.pricing
      FROM @extschema@.openrouter_price_history h
     WHERE h.model_id = openrouter_price_at.model_id
       AND h.valid_from <= at AND (h.valid_to IS NULL OR h.valid_to > at)
$$;
COMMENT ON FUNCTION @extschema@.openrouter_price_at(text, timestamptz) IS 'The price period of a model in force at a time (no row if the model was not listed then). Periods start with the sync that first saw a price.';

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
        RAISE EXCEPTION 'model_cost: % has a variable price (decided by the router per request)', model_id
            USING ERRCODE = '22023';
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
'USD cost of a request (exact numeric): prompt_tokens (all input tokens, cached ones included) and completion_tokens at the model''s prices, cached_prompt_tokens at input_cache_read and cache_write_tokens at input_cache_write where the model has them, requests at the per-request price; long-context overrides apply when prompt_tokens is strictly greater than their min_prompt_tokens; the discount is applied to the total. at => a past time uses the price in force then (openrouter_price_history). Errors for an unknown model or a variable price.';

-- openrouter_changes(since, dataset) is in datasets.sql: it reads every dataset's changes.

GRANT SELECT ON openrouter_models, openrouter_models_all, openrouter_labs TO PUBLIC;
