-- What the worker this extension replaces writes (its card: ../shared/seed/; a line-by-line
-- port: ../shared/peers/seed_style.py), as one SQL function, so that tests can fill a
-- database "where the worker has been running": labs named by capitalising their id, models
-- with prices as JSON numbers read by parseFloat (a router's "-1" becomes -1), provider,
-- one modality, empty features, metadata; one 'provider' edge per model.
-- Usage: SELECT pg_temp.worker_ingest(payload jsonb) (the API's /models response).
CREATE OR REPLACE FUNCTION pg_temp.worker_parse_float(v text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_jsonb(substring(v FROM '^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)')::numeric)
$$;

CREATE OR REPLACE FUNCTION pg_temp.worker_ingest(payload jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO things (ns, id, type, data, content)
    SELECT 'labs', lab, 'Lab',
           jsonb_build_object('id', lab, 'name', upper(left(lab, 1)) || substr(lab, 2),
                              'description', 'AI research lab providing ' || lab || ' models',
                              'models', models, 'metadata', '{"ns": "labs", "visibility": "public"}'::jsonb),
           'AI research lab providing ' || lab || ' models'
      FROM (SELECT split_part(m->>'id', '/', 1) AS lab, jsonb_agg(m->'id' ORDER BY ord) AS models
              FROM jsonb_array_elements(payload->'data') WITH ORDINALITY AS d(m, ord)
             GROUP BY 1) l
        ON CONFLICT (ns, id) DO UPDATE SET data = EXCLUDED.data, content = EXCLUDED.content, updated_at = now();

    INSERT INTO things (ns, id, type, data, content)
    SELECT 'models', m->>'id', 'Model',
           jsonb_build_object('id', m->'id')
           || CASE WHEN m ? 'name' THEN jsonb_build_object('name', m->'name') ELSE '{}' END
           || jsonb_build_object('description', coalesce(nullif(m->>'description', ''), ''),
                                 'provider', split_part(m->>'id', '/', 1),
                                 'pricing', jsonb_build_object(
                                     'prompt', pg_temp.worker_parse_float(m->'pricing'->>'prompt'),
                                     'completion', pg_temp.worker_parse_float(m->'pricing'->>'completion')))
           || CASE WHEN m ? 'context_length' THEN jsonb_build_object('context_length', m->'context_length') ELSE '{}' END
           || jsonb_build_object('modalities', jsonb_build_array(m->'architecture'->'modality'),
                                 'features', '[]'::jsonb,
                                 'metadata', '{"ns": "models", "visibility": "public"}'::jsonb),
           coalesce(nullif(m->>'description', ''), '')
      FROM jsonb_array_elements(payload->'data') AS d(m)
        ON CONFLICT (ns, id) DO UPDATE SET data = EXCLUDED.data, content = EXCLUDED.content, updated_at = now();

    INSERT INTO relationships (ns, id, type, from_ns, from_id, to_ns, to_id, data)
    SELECT 'relationships', 'provider-' || (m->>'id'), 'provider', 'labs', split_part(m->>'id', '/', 1),
           'models', m->>'id', '{}'
      FROM jsonb_array_elements(payload->'data') AS d(m)
        ON CONFLICT (ns, id) DO NOTHING;
$$;

-- Rows of the application's other sources: namespaces this extension never writes, and an
-- edge of another source in the shared 'relationships' namespace. Usage: SELECT
-- pg_temp.other_sources_write(), or with a suffix for the ids (tests running side by side
-- must not insert the same keys: each would wait for the other's transaction).
CREATE OR REPLACE FUNCTION pg_temp.other_sources_write(suffix text DEFAULT '') RETURNS void
LANGUAGE sql AS $$
    INSERT INTO things (ns, id, type, data, content, created_at, updated_at) VALUES
        ('sources', 'openrouter' || suffix, 'Source', '{"title": "OpenRouter AI Model Registry", "metadata": {"ns": "sources"}}', '# OpenRouter AI Model Registry', '2025-01-02 03:04:05+00', '2025-01-02 03:04:05+00'),
        ('huggingface', 'meta-llama/Llama-3.3-70B-Instruct' || suffix, 'Model', '{"downloads": 1234567, "pipeline_tag": "text-generation"}', 'Llama 3.3 70B on the Hub', '2025-02-03 04:05:06+00', '2025-03-04 05:06:07+00'),
        ('anthropic', 'claude-opus-4' || suffix, 'Model', '{"pricing": {"prompt": 15, "completion": 75}}', NULL, '2025-02-03 04:05:06+00', '2025-03-04 05:06:07+00'),
        ('together', 'openai/gpt-oss-120b' || suffix, 'Model', '{"pricing": {"prompt": 0.15}}', 'served by Together', '2025-02-03 04:05:06+00', '2025-03-04 05:06:07+00');
    INSERT INTO relationships (ns, id, type, from_ns, from_id, to_ns, to_id, data, created_at) VALUES
        ('huggingface', 'weights-meta-llama/llama-3.3-70b-instruct' || suffix, 'weights', 'huggingface', 'meta-llama/Llama-3.3-70B-Instruct', 'models', 'meta-llama/llama-3.3-70b-instruct', '{"license": "llama3.3"}', '2025-02-03 04:05:06+00'),
        ('relationships', 'hosts-together/openai/gpt-oss-120b' || suffix, 'hosts', 'together', 'openai/gpt-oss-120b', 'models', 'openai/gpt-oss-120b', '{}', '2025-02-03 04:05:06+00');
$$;

-- Every row of the other sources, physical identity included (xmin, ctid: a row rewritten
-- with the same values has new ones). Equal before and after: not one of them was touched.
CREATE OR REPLACE FUNCTION pg_temp.other_sources_rows() RETURNS text
LANGUAGE sql AS $$
    SELECT (SELECT count(*) || ':' || coalesce(string_agg(concat_ws('|', xmin, ctid, t), E'\n' ORDER BY ns, id), '')
              FROM things t WHERE ns NOT IN ('models', 'labs', 'providers', 'endpoints'))
           || E'\n' ||
           (SELECT count(*) || ':' || coalesce(string_agg(concat_ws('|', xmin, ctid, r), E'\n' ORDER BY ns, id), '')
              FROM relationships r
             WHERE ns <> 'relationships' OR NOT (id LIKE 'provider-%' OR id LIKE 'serves-%' OR id LIKE 'endpoint-of-%'))
$$;
