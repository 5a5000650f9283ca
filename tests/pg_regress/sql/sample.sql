-- The analyst's SQL on the sample registry the repository ships (sample/models.json).
CREATE EXTENSION openrouter_registry;
\getenv abs_srcdir PG_ABS_SRCDIR
\set sample :abs_srcdir '/../../sample/models.json'
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';

SELECT s->'models' AS models, s->'labs' AS labs, s->'inserted' AS inserted, s->'source' AS source
  FROM openrouter_sync_from_json(pg_read_file(:'sample')::jsonb) s;

-- The seed's queries, unchanged.
SELECT COUNT(*) FROM things WHERE ns='models' AND type='Model';
SELECT COUNT(*) FROM things WHERE ns='labs' AND type='Lab';
SELECT id, data->>'name', (data->'pricing'->>'prompt')::float, (data->>'context_length')::int
  FROM things WHERE ns='models' AND type='Model' AND (data->>'context_length')::int > 100000
 ORDER BY 3, 1 LIMIT 10;

-- Ten cheapest with more than 100,000 tokens of context.
SELECT * FROM cheapest_models(100000);
SELECT id, prompt_price_per_million, completion_price_per_million
  FROM cheapest_models(100000, max_results => 5, exclude_free => true, feature => 'function_calling');
SELECT id, context_length FROM cheapest_models(200000, 3, modality => 'image');

-- Typed views.
SELECT id, prompt_price, input_modalities, supports_tools, supports_vision, supports_reasoning
  FROM openrouter_models WHERE supports_tools AND 'image' = ANY(input_modalities) ORDER BY id;
SELECT id, is_variable_price, prompt_price, completion_price FROM openrouter_models WHERE is_variable_price;
SELECT id, variant, base_id, is_free FROM openrouter_models WHERE variant IS NOT NULL ORDER BY id;
SELECT id, parameters, parameters_billions, active_parameters_billions
  FROM openrouter_models WHERE parameters IS NOT NULL ORDER BY id;
SELECT id, expiration_date, is_deprecated, deprecated_reason FROM openrouter_models_all
 WHERE expiration_date IS NOT NULL ORDER BY id;
SELECT id, knowledge_cutoff, released FROM openrouter_models WHERE knowledge_cutoff IS NOT NULL ORDER BY id;
SELECT id, name, website, founded, headquarters, model_count FROM openrouter_labs ORDER BY id;

-- Costs: plain, cached, discounted, long-context override, past price.
SELECT model_cost('anthropic/claude-sonnet-4.5', prompt_tokens => 150000, completion_tokens => 2000);
SELECT model_cost('anthropic/claude-sonnet-4.5', prompt_tokens => 250000, completion_tokens => 2000);
SELECT model_cost('anthropic/claude-sonnet-4.5', 250000, 2000, cached_prompt_tokens => 200000);
SELECT model_cost('deepseek/deepseek-v3.2', 1000000, 1000000);
SELECT model_cost('openrouter/auto', 1, 1);
SELECT model_cost('nobody/nothing', 1, 1);
SELECT model_cost('openai/gpt-5.2', 100, 10, cached_prompt_tokens => 200);

-- Bad input: a clear error, nothing changed.
SELECT openrouter_sync_from_text('{"data": {"id": "a/b"}}');
SELECT openrouter_sync_from_text('<html>502 Bad Gateway</html>');
SELECT openrouter_sync_from_text('{"data": []}');
SELECT openrouter_sync_from_text('{"data": [{"name": "no id"}]}');
SELECT count(*) AS models_still_there FROM things WHERE ns = 'models';
