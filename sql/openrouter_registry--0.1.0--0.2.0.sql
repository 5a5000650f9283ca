-- openrouter_registry 0.1.0 -> 0.2.0 (ALTER EXTENSION openrouter_registry UPDATE).
-- Each issue adds its own section, headed "-- issue N: what". A fresh 0.2.0 install and a
-- 0.1.0 install updated with this script must end up with the same objects.

-- issue 19: things and relationships belong to the application, not to the extension
-- DROP EXTENSION must not drop them (other sources write into them too): they leave the
-- extension (which also takes them off its pg_dump configuration: pg_dump now dumps them
-- as ordinary tables, definition and rows), and the extension depends on them instead, so
-- that pg_restore creates them before CREATE EXTENSION. Their storage settings stay.
ALTER EXTENSION openrouter_registry DROP TABLE things;
ALTER EXTENSION openrouter_registry DROP TABLE relationships;
CREATE FUNCTION openrouter_depend_on_shared_tables() RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
    WITH recorded AS (
        INSERT INTO pg_catalog.pg_depend (classid, objid, objsubid, refclassid, refobjid, refobjsubid, deptype)
        SELECT 'pg_catalog.pg_extension'::regclass, e.oid, 0, 'pg_catalog.pg_class'::regclass, t.oid, 0, 'n'
          FROM pg_catalog.pg_extension e,
               (VALUES ('@extschema@.things'::regclass), ('@extschema@.relationships'::regclass)) AS t(oid)
         WHERE e.extname = 'openrouter_registry'
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                            WHERE d.classid = 'pg_catalog.pg_extension'::regclass AND d.objid = e.oid
                              AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = t.oid)
        RETURNING 1)
    SELECT count(*)::integer FROM recorded
$$;
REVOKE EXECUTE ON FUNCTION openrouter_depend_on_shared_tables() FROM PUBLIC;
COMMENT ON FUNCTION openrouter_depend_on_shared_tables() IS 'Records that the extension needs things and relationships (so that pg_dump restores them first and DROP TABLE refuses); returns how many of the two records were missing. CREATE EXTENSION and ALTER EXTENSION UPDATE run it; after pg_upgrade, which does not carry the records over, run it as a superuser in each database.';
SELECT openrouter_depend_on_shared_tables();

-- The extension's index on things goes with the extension, not with the table.
ALTER INDEX things_endpoints_by_model_idx DEPENDS ON EXTENSION openrouter_registry;
COMMENT ON INDEX things_endpoints_by_model_idx IS 'openrouter_registry: endpoints by model; dropped with the extension.';
COMMENT ON TABLE things IS 'Objects of every source of the application, by namespace (ns). openrouter_registry writes models (ns = ''models'', type ''Model''), labs (ns = ''labs'', type ''Lab''), providers (ns = ''providers'', type ''Provider'', id = provider slug) and provider endpoints (ns = ''endpoints'', type ''Endpoint'', id = ''<model id>@<provider tag>'') with openrouter_sync() and openrouter_sync_endpoints(), and never touches another namespace; it deletes nothing.';
COMMENT ON COLUMN things.ns IS 'Namespace: which source and kind of object (openrouter_registry: ''models'', ''labs'', ''providers'', ''endpoints'').';
COMMENT ON COLUMN things.id IS 'Id within the namespace. openrouter_registry: the model id as the API names it (''openai/gpt-4o'', ''meta-llama/llama-3.3-70b-instruct:free''), or the lab id (the model id prefix, ''openai'').';
COMMENT ON COLUMN things.type IS 'Kind of object (openrouter_registry: ''Model'', ''Lab'', ''Provider'' or ''Endpoint'').';
COMMENT ON COLUMN things.data IS 'Everything known about the object. openrouter_registry models: id, name, description, provider, pricing (exact USD per token; a variable "-1" price is null and variable_price is true), context_length, modalities, input_modalities, output_modalities, features, supported_parameters, architecture, parameters, released, canonical_slug, hugging_face_id, top_provider, per_request_limits, default_parameters, knowledge_cutoff, expiration_date, reasoning, benchmarks, variant, base_id, deprecated (+ deprecated_at, deprecated_reason), metadata, extra (fields the API added that this version does not know).';
COMMENT ON COLUMN things.created_at IS 'When the object was first stored (a row the extension takes over keeps it).';
COMMENT ON COLUMN things.updated_at IS 'When the object was last written or confirmed (openrouter_sync() sets it on every object the API listed).';
COMMENT ON TABLE relationships IS 'Edges between objects of every source, by namespace (ns). openrouter_registry writes, in ns ''relationships'': ''provider'' (''provider-<model id>'': lab -> model), ''serves'' (''serves-<model id>@<provider slug>'': provider -> model) and ''endpoint-of'' (''endpoint-of-<endpoint id>'': endpoint -> model).';
COMMENT ON COLUMN relationships.ns IS 'Namespace of the edge (openrouter_registry: ''relationships'').';
COMMENT ON COLUMN relationships.id IS 'Id within the namespace (openrouter_registry: ''provider-<model id>'').';
COMMENT ON COLUMN relationships.type IS 'Kind of edge (openrouter_registry: ''provider'' (the lab publishes the model), ''serves'' (the provider serves the model), ''endpoint-of'' (the endpoint serves the model)).';
COMMENT ON COLUMN relationships.from_id IS 'Id of the source object (a lab id).';
COMMENT ON COLUMN relationships.to_id IS 'Id of the target object (a model id).';
COMMENT ON COLUMN relationships.data IS 'Edge attributes (empty for openrouter_registry''s edges).';
COMMENT ON COLUMN relationships.created_at IS 'When the edge was first stored.';

-- issue 20: what a DBA and an analyst ran into in their first hour. Self-contained: it
-- touches only objects of 0.1.0 that issue 19 leaves alone, and recreates the views, the
-- offline syncs and cheapest_models() with the definitions of sql/*.sql and src/api.rs
-- (copied from there by hand; a fresh install and an updated one were compared object by
-- object: functions, views, columns, comments, grants).

-- The run history: as_of (the time the data was stamped with) and a duration_ms that is
-- finished_at - started_at. 0.1.0 stored as duration_ms the time from the start to the
-- data's timestamp, and started_at = that timestamp - duration_ms.
ALTER TABLE openrouter_sync_runs ADD COLUMN as_of timestamptz;
UPDATE openrouter_sync_runs
   SET as_of = started_at + duration_ms * interval '1 millisecond',
       duration_ms = round(extract(epoch FROM finished_at - started_at) * 1000, 1);
ALTER TABLE openrouter_sync_runs ALTER COLUMN as_of SET NOT NULL;
COMMENT ON COLUMN openrouter_sync_runs.as_of IS 'The time the sync stamped its data with (things.updated_at, price periods, change log): the clock when it took its lock, or the as_of given to openrouter_sync_from_text/_json for an archived snapshot.';
COMMENT ON COLUMN openrouter_sync_runs.duration_ms IS 'Wall time of the whole sync, fetch included, in milliseconds: finished_at - started_at (the summary''s duration_ms).';
COMMENT ON COLUMN openrouter_sync_runs.source IS 'URL fetched (credentials removed), or the function given the payload offline (''openrouter_sync_from_text'' or ''openrouter_sync_from_json'').';

-- Expired models got no deprecated_at in 0.1.0: the time of their 'expired' change, or when
-- they were first stored (first seen expired).
UPDATE things t
   SET data = t.data || jsonb_build_object('deprecated_at', coalesce(
           (SELECT max(c.changed_at) FROM openrouter_change_log c
             WHERE c.model_id = t.id AND c.change = 'expired'), t.created_at))
 WHERE t.ns = 'models' AND t.data->'deprecated' = 'true'::jsonb AND NOT t.data ? 'deprecated_at';

-- The offline syncs name themselves (openrouter_sync_offline), take as_of, and refuse NULLs;
-- openrouter_sync refuses NULLs instead of returning NULL.
DROP FUNCTION openrouter_sync_from_json(jsonb, boolean);
DROP FUNCTION openrouter_sync_from_text(text, boolean);
ALTER FUNCTION openrouter_sync(boolean, boolean) CALLED ON NULL INPUT;
CREATE FUNCTION "openrouter_sync_offline"(
	"payload" TEXT,
	"force" bool,
	"as_of" timestamp with time zone,
	"entry_point" TEXT
) RETURNS jsonb
VOLATILE PARALLEL UNSAFE
SET search_path TO @extschema@, pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'openrouter_sync_offline_wrapper';
CREATE FUNCTION openrouter_sync_from_text(payload text, force boolean DEFAULT false, as_of timestamptz DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$ SELECT openrouter_sync_offline(payload, force, as_of, 'openrouter_sync_from_text') $$;

CREATE FUNCTION openrouter_sync_from_json(payload jsonb, force boolean DEFAULT false, as_of timestamptz DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$ SELECT openrouter_sync_offline(payload::text, force, as_of, 'openrouter_sync_from_json') $$;

COMMENT ON FUNCTION openrouter_sync(boolean, boolean) IS
'Fetches the OpenRouter model registry from openrouter.api_url (following links.next) and upserts models, labs and their relationships in the current transaction. Returns a summary (models, labs, inserted, updated, added, removed, repriced, ..., duration_ms, source). force => true overrides the guard against removing more than openrouter.max_removed_fraction of the live models. endpoints => true then also runs openrouter_sync_endpoints() (one request per live model) and puts its summary under "endpoints". NULL arguments are an error.';
COMMENT ON FUNCTION openrouter_sync_offline(text, boolean, timestamptz, text) IS
'Internal: the offline sync behind openrouter_sync_from_text() and openrouter_sync_from_json(), which name themselves in entry_point. Call those instead.';
COMMENT ON FUNCTION openrouter_sync_from_text(text, boolean, timestamptz) IS
'Same as openrouter_sync(), from a response body given as text, e.g. pg_read_file(''/path/models.json''). No network access. as_of => the time the snapshot was taken: everything is stamped with it (price periods, change log, first and last seen) and expiration dates are judged on its date, so archived snapshots loaded in date order build real price history; a snapshot not after the last sync is refused. NULL payload or force is an error.';
COMMENT ON FUNCTION openrouter_sync_from_json(jsonb, boolean, timestamptz) IS
'Same as openrouter_sync_from_text(), from a response body given as jsonb. No network access.';

-- Views: lab (not provider) for the model's author, per-million twins of every per-token
-- price, architecture.modality, one definition of a live lab, openrouter_labs in one pass.
DROP VIEW openrouter_labs;
DROP VIEW openrouter_models;
DROP VIEW openrouter_models_all;
CREATE VIEW openrouter_models_all AS
SELECT t.id,
       t.data->>'name'                                          AS name,
       t.data->>'provider'                                      AS lab,
       coalesce(l.data->>'name', t.data->>'provider')           AS lab_name,
       t.data->>'base_id'                                       AS base_id,
       t.data->>'variant'                                       AS variant,
       coalesce(t.data->'is_alias' = 'true'::jsonb, false)      AS is_alias,
       CASE jsonb_typeof(t.data->'alias_target')
            WHEN 'object' THEN t.data->'alias_target'->>'slug'
            WHEN 'string' THEN t.data->>'alias_target' END      AS alias_target,
       (t.data->'pricing'->>'prompt')::numeric                  AS prompt_price,
       (t.data->'pricing'->>'completion')::numeric              AS completion_price,
       trim_scale((t.data->'pricing'->>'prompt')::numeric * 1000000) AS prompt_price_per_million,
       trim_scale((t.data->'pricing'->>'completion')::numeric * 1000000) AS completion_price_per_million,
       (t.data->'pricing'->>'request')::numeric                 AS request_price,
       (t.data->'pricing'->>'image')::numeric                   AS image_price,
       (t.data->'pricing'->>'audio')::numeric                   AS audio_price,
       trim_scale((t.data->'pricing'->>'audio')::numeric * 1000000) AS audio_price_per_million,
       (t.data->'pricing'->>'web_search')::numeric              AS web_search_price,
       (t.data->'pricing'->>'internal_reasoning')::numeric      AS internal_reasoning_price,
       trim_scale((t.data->'pricing'->>'internal_reasoning')::numeric * 1000000) AS internal_reasoning_price_per_million,
       (t.data->'pricing'->>'input_cache_read')::numeric        AS input_cache_read_price,
       trim_scale((t.data->'pricing'->>'input_cache_read')::numeric * 1000000) AS input_cache_read_price_per_million,
       (t.data->'pricing'->>'input_cache_write')::numeric       AS input_cache_write_price,
       trim_scale((t.data->'pricing'->>'input_cache_write')::numeric * 1000000) AS input_cache_write_price_per_million,
       (t.data->'pricing'->>'discount')::numeric                AS discount,
       t.data->'pricing'                                        AS pricing,
       coalesce(t.data->'variable_price' = 'true'::jsonb, false) AS is_variable_price,
       ((t.data->'pricing'->>'prompt')::numeric = 0
        AND (t.data->'pricing'->>'completion')::numeric = 0)    AS is_free,
       (t.data->>'context_length')::integer                     AS context_length,
       (t.data->'top_provider'->>'max_completion_tokens')::integer AS max_completion_tokens,
       (t.data->'top_provider'->>'is_moderated')::boolean       AS is_moderated,
       t.data->'architecture'->>'modality'                      AS modality,
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

-- One definition of a live lab, used everywhere (openrouter_labs, openrouter_health): a lab
-- with at least one live model. One pass: the live models grouped by lab, joined to the labs.
CREATE VIEW openrouter_labs_all AS
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
  LEFT JOIN (SELECT o.lab,
                    count(*)::integer AS model_count,
                    array_agg(o.id ORDER BY o.id) AS models,
                    min(o.prompt_price) AS cheapest_prompt_price,
                    max(o.context_length) AS max_context_length
               FROM @extschema@.openrouter_models o
              GROUP BY o.lab) m ON m.lab = l.id
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

-- cheapest_models: context_above (strictly more, as before), tolerant filters, a workload.
DROP FUNCTION cheapest_models(integer, integer, boolean, text, text, text);
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

-- model_cost: NULL for a variable price and for NULL arguments.
CREATE OR REPLACE FUNCTION model_cost(
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

-- pg_cron for every role: openrouter_cron_status() (SECURITY DEFINER) reads the settings
-- and pg_cron's tables for them; an unscheduled job's failures are history.
-- What pg_cron says about the sync's job in this database, whoever asks: the settings that
-- tell whether pg_cron is loaded are readable only by superusers (and pg_read_all_settings),
-- and cron.job shows each role only its own jobs, so a monitoring role would be told "ok"
-- while the superuser's job fails. SECURITY DEFINER (the extension's owner, a superuser),
-- with a pinned search_path; it returns only what health reports about this database's
-- openrouter_sync jobs.
CREATE FUNCTION @extschema@.openrouter_cron_status(
    OUT problem text, OUT schedule text, OUT job_name text, OUT last_failure_at timestamptz, OUT last_failure text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
BEGIN
    problem := @extschema@.openrouter_cron_problem();
    IF problem IS NOT NULL THEN
        RETURN;
    END IF;
    BEGIN
        EXECUTE $q$SELECT j.schedule, j.jobname FROM cron.job j
                    WHERE j.command LIKE '%openrouter_sync(%' AND j.database = current_database()
                    ORDER BY j.jobid LIMIT 1$q$ INTO schedule, job_name;
        -- Failures of a job still scheduled: after openrouter_unschedule() an old job's
        -- failure is history, not the current state.
        EXECUTE $q$SELECT d.end_time, d.return_message FROM cron.job_run_details d
                     JOIN cron.job j ON j.jobid = d.jobid
                    WHERE j.command LIKE '%openrouter_sync(%' AND j.database = current_database()
                      AND d.status = 'failed'
                    ORDER BY d.end_time DESC NULLS LAST LIMIT 1$q$ INTO last_failure_at, last_failure;
    EXCEPTION WHEN undefined_table OR undefined_column THEN
        NULL;  -- a pg_cron without these tables: nothing to report
    END;
END
$$;
COMMENT ON FUNCTION @extschema@.openrouter_cron_status() IS 'Whether pg_cron can schedule the sync in this database (problem, null when it can), the openrouter_sync job of this database (schedule, name) and its last failed run, whichever role asks (SECURITY DEFINER: pg_cron shows each role only its own jobs).';

-- openrouter_schedule() and openrouter_unschedule() (read openrouter_cron_status(), HINT of only
-- what is missing) are replaced once, in the issue 22 section below, with their 0.2.0 signatures.

-- openrouter_health counts live labs as openrouter_labs does, and asks openrouter_cron_status().
DROP FUNCTION openrouter_health(interval);
-- openrouter.api_key stored where every role can read it: ALTER DATABASE/ROLE ... SET
-- (pg_db_role_setting) succeeds in a session that has not loaded the library. One line per
-- place, with the statement that removes it.
CREATE FUNCTION @extschema@.openrouter_exposed_key() RETURNS SETOF text
LANGUAGE sql STABLE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
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
     ORDER BY 1
$$;
COMMENT ON FUNCTION @extschema@.openrouter_exposed_key() IS 'Where openrouter.api_key is stored in pg_db_role_setting (ALTER DATABASE/ROLE ... SET), which every role can read, each with the ALTER ... RESET that removes it; no row when nowhere. openrouter_health() reports it and every sync warns.';

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
    SELECT * INTO r FROM @extschema@.openrouter_sync_runs ORDER BY finished_at DESC LIMIT 1;
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
GRANT EXECUTE ON FUNCTION @extschema@.openrouter_last_sync(), openrouter_is_stale(interval), openrouter_health(interval),
      @extschema@.openrouter_cron_status() TO PUBLIC;

GRANT SELECT ON openrouter_models, openrouter_models_all, openrouter_labs, openrouter_labs_all TO PUBLIC;
REVOKE EXECUTE ON FUNCTION openrouter_sync(boolean, boolean), openrouter_sync_offline(text, boolean, timestamptz, text),
       openrouter_sync_from_text(text, boolean, timestamptz), openrouter_sync_from_json(jsonb, boolean, timestamptz),
       openrouter_schedule(text, text), openrouter_unschedule(text)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION openrouter_sync(boolean, boolean), openrouter_sync_offline(text, boolean, timestamptz, text),
      openrouter_sync_from_text(text, boolean, timestamptz), openrouter_sync_from_json(jsonb, boolean, timestamptz),
      openrouter_schedule(text, text), openrouter_unschedule(text)
  TO openrouter_admin;

-- openrouter_providers in one pass (same columns); every column of the endpoints views commented.
CREATE OR REPLACE VIEW openrouter_providers AS
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
COMMENT ON COLUMN openrouter_endpoints.input_cache_write_price IS 'USD per prompt token written to the cache at this endpoint, or null.';
COMMENT ON COLUMN openrouter_endpoints.discount IS 'Fraction taken off the cost at this endpoint (0.25 = 25%), or null.';
COMMENT ON COLUMN openrouter_endpoints.pricing IS 'Every price key of the endpoint as stored (USD per token, per request or per image).';
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
    problem text := (@extschema@.openrouter_cron_status()).problem;
    ext_schema text;
    job     bigint;
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'openrouter_schedule: %', problem USING ERRCODE = '55000',
            -- Only what is missing: the restart steps only when pg_cron is not loaded or runs
            -- its jobs from another database.
            HINT = CASE WHEN problem LIKE 'pg_cron is not installed%'
                        THEN 'Install pg_cron for this server''s PostgreSQL major, then restart with it in shared_preload_libraries.'
                        WHEN problem LIKE 'the pg_cron extension is not created%'
                        THEN 'Run CREATE EXTENSION pg_cron in this database (as a superuser).'
                        WHEN problem LIKE 'pg_cron runs jobs from database%'
                        THEN 'Set cron.database_name = ''' || current_database() || ''' in postgresql.conf and restart, then CREATE EXTENSION pg_cron here.'
                        ELSE 'pg_cron needs: shared_preload_libraries = ''pg_cron'', cron.database_name = ''' || current_database()
                             || ''' in postgresql.conf, a restart, then CREATE EXTENSION pg_cron.' END
                   || ' Without pg_cron, run SELECT openrouter_sync() from any scheduler.';
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
    problem text := (@extschema@.openrouter_cron_status()).problem;
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
        IF (@extschema@.openrouter_cron_status()).problem IS NULL THEN
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

GRANT EXECUTE ON FUNCTION @extschema@.openrouter_last_sync(text), openrouter_is_stale(interval, text) TO PUBLIC;
REVOKE EXECUTE ON FUNCTION openrouter_schedule(text, text, text, text), openrouter_unschedule(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION openrouter_schedule(text, text, text, text), openrouter_unschedule(text, text) TO openrouter_admin;

-- issue 21: on a server without pg_cron (none exists for this project's PostgreSQL 16-18),
-- openrouter_schedule() says pg_cron is not installed, instead of asking for a
-- shared_preload_libraries entry the server would then not start with.
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
