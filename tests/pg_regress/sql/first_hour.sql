-- An analyst's first hour, on the two real snapshots in ../shared/fixtures/openrouter: loaded
-- offline in date order with as_of, so that every answer below follows from the two files
-- alone (expired is judged on the snapshot's date, not today). In a database of its own.
CREATE DATABASE openrouter_first_hour;
\c openrouter_first_hour
CREATE EXTENSION openrouter_registry;
\getenv abs_srcdir PG_ABS_SRCDIR
\set older :abs_srcdir '/../../../shared/fixtures/openrouter/models-2025-05-23.json'
\set newer :abs_srcdir '/../../../shared/fixtures/openrouter/models-2026-03-10.json'
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';

-- The older snapshot, then the newer one. A sync says one NOTICE, its summary's gist.
SELECT s->'models' AS models, s->'labs' AS labs, s->'inserted' AS inserted, s->'source' AS source
  FROM openrouter_sync_from_text(pg_read_file(:'older'), as_of => '2025-05-23') s;
-- More than a quarter of the models vanished between the two: refused unless forced.
SELECT openrouter_sync_from_text(pg_read_file(:'newer'), as_of => '2026-03-10');
SELECT s->'added' AS added, s->'removed' AS removed, s->'repriced' AS repriced,
       s->'prices_changed' AS prices_changed, s->'expired' AS expired
  FROM openrouter_sync_from_text(pg_read_file(:'newer'), force => true, as_of => '2026-03-10') s;
SET client_min_messages = warning;

-- The runs: stamped with the snapshots' dates; duration_ms is finished_at - started_at.
SELECT id, source, as_of, models, duration_ms = round(extract(epoch FROM finished_at - started_at) * 1000, 1) AS duration_is_the_span
  FROM openrouter_sync_runs ORDER BY id;

-- A snapshot older than the last one is refused.
SELECT openrouter_sync_from_text(pg_read_file(:'older'), as_of => '2026-01-01');
-- NULL is no payload.
SELECT openrouter_sync_from_text(NULL);
SELECT openrouter_sync_from_json('{"data": []}', force => NULL);

-- The ten cheapest with more than 100,000 tokens of context.
SELECT id, lab_id, prompt_price_per_million, completion_price_per_million, context_length
  FROM cheapest_models(100000);
-- "More than": the 42 live models with exactly 128,000 tokens are out at 128000, in at 127999.
SELECT (SELECT count(*) FROM cheapest_models(128000, 1000) WHERE context_length = 128000) AS at_128000,
       (SELECT count(*) FROM cheapest_models(127999, 1000) WHERE context_length = 128000) AS at_127999;
-- Filters as a person types them.
SELECT (SELECT count(*) FROM cheapest_models(0, 1000, feature => 'tools')) AS tools,
       (SELECT count(*) FROM cheapest_models(0, 1000, feature => 'function_calling')) AS function_calling,
       (SELECT count(*) FROM cheapest_models(0, 1000, lab => 'OpenAI')) AS lab_openai,
       (SELECT count(*) FROM cheapest_models(0, 1000, modality => 'IMAGE')) AS image;
SELECT * FROM cheapest_models(0, feature => 'vision');
-- For a workload: 10,000 prompt tokens and 1,000 completion tokens, cheapest first.
SELECT id, prompt_price_per_million, completion_price_per_million, cost
  FROM cheapest_models(100000, 5, exclude_free => true, prompt_tokens => 10000, completion_tokens => 1000);

-- What each model costs for that request; variable-price routers have no cost.
SELECT count(*) AS models, count(cost) AS priced, string_agg(id, ', ' ORDER BY id) FILTER (WHERE cost IS NULL) AS unpriced
  FROM (SELECT id, model_cost(id, 10000, 1000) AS cost FROM openrouter_models) c;
SELECT model_cost(NULL, 10000, 1000) IS NULL AS null_model, model_cost('openai/gpt-4o', NULL, 1000) IS NULL AS null_tokens;
-- A price as it was: devstral-small cost 0.07 USD per million prompt tokens in May 2025.
SELECT model_cost('mistralai/devstral-small', 1000000, 0, at => '2025-06-01') AS in_2025,
       model_cost('mistralai/devstral-small', 1000000, 0) AS now;

-- What changed between the snapshots.
SELECT change, count(*) FROM openrouter_changes('2026-01-01') GROUP BY change ORDER BY change;
-- A key dropped at zero ("request": "0") is no price change.
SELECT count(*) AS only_zero_keys_changed
  FROM openrouter_changes('2026-01-01') c
 WHERE c.change = 'prices_changed'
   AND (SELECT jsonb_object_agg(k, v) FROM jsonb_each(c.old_value) AS o(k, v) WHERE v <> '0')
       IS NOT DISTINCT FROM (SELECT jsonb_object_agg(k, v) FROM jsonb_each(c.new_value) AS n(k, v) WHERE v <> '0');

-- The same changes per million tokens: devstral-small repriced; gemini-2.5-pro-preview's
-- cache prices fell (its "image" price is per image: no twin).
SELECT model_id, change, old_value_per_million, new_value_per_million
  FROM openrouter_changes('2026-01-01')
 WHERE model_id IN ('mistralai/devstral-small', 'google/gemini-2.5-pro-preview') ORDER BY model_id;
SELECT prompt_price_per_million, completion_price_per_million, pricing_per_million
  FROM openrouter_price_at('mistralai/devstral-small', '2025-06-01');

-- Deprecated models: removed ones and those past their expiration date on 2026-03-10, each
-- with the time a sync first saw it so.
SELECT deprecated_reason, count(*), count(deprecated_at) AS with_deprecated_at, min(deprecated_at), max(deprecated_at)
  FROM openrouter_models_all WHERE is_deprecated GROUP BY 1 ORDER BY 1;
SELECT id, expiration_date, deprecated_at FROM openrouter_models_all WHERE deprecated_reason = 'expired' ORDER BY id;

-- Modalities are sets: one group per combination.
SELECT input_modalities, count(*) FROM openrouter_models GROUP BY 1 ORDER BY 2 DESC, 1;
SELECT modality, count(*) FROM openrouter_models GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5;

-- Labs: live ones (with a live model), the same count as health's.
SELECT (SELECT count(*) FROM openrouter_labs) AS live_labs,
       (SELECT labs FROM openrouter_health()) AS health_labs,
       (SELECT count(*) FROM openrouter_labs_all WHERE is_deprecated) AS labs_without_live_models;
SELECT id, name, model_count, cheapest_prompt_price_per_million, max_context_length
  FROM openrouter_labs ORDER BY model_count DESC, id LIMIT 5;
SELECT status, live_models, deprecated_models, labs FROM openrouter_health();

-- A read-only transaction: refused before anything is fetched.
BEGIN READ ONLY;
SELECT openrouter_sync_from_text(pg_read_file(:'newer'), as_of => '2026-03-11');
ROLLBACK;

\c openrouter_regress
DROP DATABASE openrouter_first_hour;
