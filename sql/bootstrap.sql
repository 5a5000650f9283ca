-- openrouter_registry: storage. The first two tables are the seed schema of the worker this
-- extension replaces, unchanged, so that existing SQL keeps working.

CREATE TABLE things (
    ns         text NOT NULL,
    id         text NOT NULL,
    type       text,
    data       jsonb,
    content    text,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now(),
    PRIMARY KEY (ns, id)
);
COMMENT ON TABLE things IS 'Registry objects: models (ns = ''models'', type ''Model''), labs (ns = ''labs'', type ''Lab''). Written by openrouter_sync(); nothing is ever deleted.';
COMMENT ON COLUMN things.ns IS 'Namespace: ''models'' or ''labs''.';
COMMENT ON COLUMN things.id IS 'Model id as the API names it (''openai/gpt-4o'', ''meta-llama/llama-3.3-70b-instruct:free''), or the lab id (the model id prefix, ''openai'').';
COMMENT ON COLUMN things.type IS '''Model'' or ''Lab''.';
COMMENT ON COLUMN things.data IS 'Everything known about the object. Models: id, name, description, provider, pricing (exact USD per token; a variable "-1" price is null and variable_price is true), context_length, modalities, input_modalities, output_modalities, features, supported_parameters, architecture, parameters, released, canonical_slug, hugging_face_id, top_provider, per_request_limits, default_parameters, knowledge_cutoff, expiration_date, reasoning, benchmarks, variant, base_id, deprecated (+ deprecated_at, deprecated_reason), metadata, extra (fields the API added that this version does not know).';
COMMENT ON COLUMN things.content IS 'The description, as plain text.';
COMMENT ON COLUMN things.created_at IS 'When a sync first stored the object.';
COMMENT ON COLUMN things.updated_at IS 'When a sync last confirmed the object (every sync sets it on every object the API listed).';

-- Every sync confirms updated_at on every model it saw. Keep that cheap: free space on each
-- page (fillfactor) lets the new row version stay on its page as a HOT update, which touches
-- no index (no expression index is re-evaluated); without it each confirmation costs 7x more.
-- lz4 compresses several times faster than the default pglz. (Forcing the values out of line
-- with a low toast_tuple_target made the first load 40% slower for no gain on re-syncs.)
ALTER TABLE things SET (fillfactor = 50);
ALTER TABLE things ALTER COLUMN data SET COMPRESSION lz4, ALTER COLUMN content SET COMPRESSION lz4;

CREATE TABLE relationships (
    ns         text NOT NULL,
    id         text NOT NULL,
    type       text,
    from_ns    text,
    from_id    text,
    to_ns      text,
    to_id      text,
    data       jsonb,
    created_at timestamptz DEFAULT now(),
    PRIMARY KEY (ns, id)
);
COMMENT ON TABLE relationships IS 'Edges between registry objects: (''relationships'', ''provider-<model id>'', ''provider'', ''labs'', lab, ''models'', model id) for every model.';
COMMENT ON COLUMN relationships.ns IS 'Always ''relationships''.';
COMMENT ON COLUMN relationships.id IS '''provider-<model id>''.';
COMMENT ON COLUMN relationships.type IS '''provider'': the lab publishes the model.';
COMMENT ON COLUMN relationships.from_ns IS 'Namespace of the source object (''labs'').';
COMMENT ON COLUMN relationships.from_id IS 'Lab id.';
COMMENT ON COLUMN relationships.to_ns IS 'Namespace of the target object (''models'').';
COMMENT ON COLUMN relationships.to_id IS 'Model id.';
COMMENT ON COLUMN relationships.data IS 'Edge attributes (empty today).';
COMMENT ON COLUMN relationships.created_at IS 'When a sync first stored the edge.';

CREATE TABLE openrouter_sync_runs (
    id              bigserial PRIMARY KEY,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL,
    duration_ms     numeric NOT NULL,
    source          text NOT NULL,
    forced          boolean NOT NULL DEFAULT false,
    models          integer NOT NULL,
    labs            integer NOT NULL,
    inserted        integer NOT NULL,
    updated         integer NOT NULL,
    unchanged       integer NOT NULL,
    added           integer NOT NULL,
    removed         integer NOT NULL,
    returned        integer NOT NULL,
    expired         integer NOT NULL,
    repriced        integer NOT NULL,
    prices_changed  integer NOT NULL,
    renamed         integer NOT NULL,
    context_changed integer NOT NULL,
    pages           integer NOT NULL,
    requests        integer NOT NULL,
    bytes           bigint NOT NULL,
    warnings        text[] NOT NULL DEFAULT '{}',
    as_of           timestamptz NOT NULL
);
COMMENT ON TABLE openrouter_sync_runs IS 'One row per successful sync. A failed sync changes nothing, this table included; under pg_cron its error is in cron.job_run_details.';
COMMENT ON COLUMN openrouter_sync_runs.id IS 'Run number.';
COMMENT ON COLUMN openrouter_sync_runs.started_at IS 'When the sync started (before the fetch).';
COMMENT ON COLUMN openrouter_sync_runs.as_of IS 'The time the sync stamped its data with (things.updated_at, price periods, change log): the clock when it took its lock, or the as_of given to openrouter_sync_from_text/_json for an archived snapshot.';
COMMENT ON COLUMN openrouter_sync_runs.finished_at IS 'When the sync finished writing (the transaction commits right after).';
COMMENT ON COLUMN openrouter_sync_runs.duration_ms IS 'Wall time of the whole sync, fetch included, in milliseconds: finished_at - started_at (the summary''s duration_ms).';
COMMENT ON COLUMN openrouter_sync_runs.source IS 'URL fetched (credentials removed), or the function given the payload offline (''openrouter_sync_from_text'' or ''openrouter_sync_from_json'').';
COMMENT ON COLUMN openrouter_sync_runs.forced IS 'Run with force => true (the removal guard was overridden).';
COMMENT ON COLUMN openrouter_sync_runs.models IS 'Models in the response (after skipping unusable ones and duplicates).';
COMMENT ON COLUMN openrouter_sync_runs.labs IS 'Labs in the response.';
COMMENT ON COLUMN openrouter_sync_runs.inserted IS 'Model rows inserted.';
COMMENT ON COLUMN openrouter_sync_runs.updated IS 'Model rows whose data changed.';
COMMENT ON COLUMN openrouter_sync_runs.unchanged IS 'Models listed before and now with no tracked change (prices, name, context length).';
COMMENT ON COLUMN openrouter_sync_runs.added IS 'Models never seen before.';
COMMENT ON COLUMN openrouter_sync_runs.removed IS 'Live models missing from this response, now marked deprecated.';
COMMENT ON COLUMN openrouter_sync_runs.returned IS 'Deprecated models listed again.';
COMMENT ON COLUMN openrouter_sync_runs.expired IS 'Listed models that went past their expiration_date, now marked deprecated.';
COMMENT ON COLUMN openrouter_sync_runs.repriced IS 'Models whose prompt or completion price changed.';
COMMENT ON COLUMN openrouter_sync_runs.prices_changed IS 'Models where only other price keys changed (cache, image, audio, ...).';
COMMENT ON COLUMN openrouter_sync_runs.renamed IS 'Models whose name changed.';
COMMENT ON COLUMN openrouter_sync_runs.context_changed IS 'Models whose context length changed.';
COMMENT ON COLUMN openrouter_sync_runs.pages IS 'Response pages read (links.next pagination).';
COMMENT ON COLUMN openrouter_sync_runs.requests IS 'HTTP requests made, retries included.';
COMMENT ON COLUMN openrouter_sync_runs.bytes IS 'Bytes of response bodies read.';
COMMENT ON COLUMN openrouter_sync_runs.warnings IS 'What the sync skipped or repaired (the first 100 messages).';
CREATE INDEX openrouter_sync_runs_started_idx ON openrouter_sync_runs (started_at DESC);

CREATE TABLE openrouter_model_state (
    model_id         text PRIMARY KEY,
    data_hash        bigint NOT NULL,
    deprecated       boolean NOT NULL DEFAULT false,
    prompt_price     numeric,
    completion_price numeric,
    context_length   integer,
    raw_hash         bigint,
    name             text,
    expires          boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE openrouter_model_state IS 'What the sync last wrote for each model, narrow and typed: a hash of its things.data (a re-sync rewrites only models whose hash changed) and the columns cheapest_models() searches by (indexed here, not as expressions over things.data, so that writing a model costs no jsonb evaluation). Written only by the sync; if truncated, cheapest_models() returns nothing until the next sync, which rewrites every model once.';
COMMENT ON COLUMN openrouter_model_state.model_id IS 'Model id (things.id).';
COMMENT ON COLUMN openrouter_model_state.data_hash IS 'XXH3-64 hash of the things.data text the sync wrote.';
COMMENT ON COLUMN openrouter_model_state.prompt_price IS 'things.data->''pricing''->>''prompt'' as numeric (USD per token; null when variable).';
COMMENT ON COLUMN openrouter_model_state.completion_price IS 'things.data->''pricing''->>''completion'' as numeric (USD per token; null when variable).';
COMMENT ON COLUMN openrouter_model_state.context_length IS 'things.data->>''context_length'' as integer.';
COMMENT ON COLUMN openrouter_model_state.raw_hash IS 'XXH3-64 of the API''s object for the model, seeded with the mapping version: a sync does not map an unchanged object again.';
COMMENT ON COLUMN openrouter_model_state.name IS 'The model''s name (labs are named from their models'' names, unchanged ones included).';
COMMENT ON COLUMN openrouter_model_state.expires IS 'The API object has an expiration date: it is mapped on every sync (whether it is past depends on the day).';
COMMENT ON COLUMN openrouter_model_state.deprecated IS 'Whether the model is marked deprecated in things.data.';

CREATE TABLE openrouter_price_history (
    model_id         text NOT NULL,
    valid_from       timestamptz NOT NULL,
    valid_to         timestamptz,
    pricing          jsonb NOT NULL,
    prompt_price     numeric,
    completion_price numeric,
    variable_price   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (model_id, valid_from),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
COMMENT ON TABLE openrouter_price_history IS 'One row per model per price period: opened when a model first appears, returns or changes any price; closed when a price changes again or the model disappears. Unchanged syncs add nothing.';
COMMENT ON COLUMN openrouter_price_history.model_id IS 'Model id (things.id).';
COMMENT ON COLUMN openrouter_price_history.valid_from IS 'Start of the period (inclusive): the sync that saw these prices first.';
COMMENT ON COLUMN openrouter_price_history.valid_to IS 'End of the period (exclusive); null while in force.';
COMMENT ON COLUMN openrouter_price_history.pricing IS 'Every price key of the period (USD per token, per request or per image), as in things.data->''pricing''.';
COMMENT ON COLUMN openrouter_price_history.prompt_price IS 'USD per prompt token; null when variable.';
COMMENT ON COLUMN openrouter_price_history.completion_price IS 'USD per completion token; null when variable.';
COMMENT ON COLUMN openrouter_price_history.variable_price IS 'The API said "-1": the router decides the price.';
CREATE UNIQUE INDEX openrouter_price_history_open_idx ON openrouter_price_history (model_id) WHERE valid_to IS NULL;

CREATE TABLE openrouter_change_log (
    id         bigserial PRIMARY KEY,
    run_id     bigint NOT NULL REFERENCES openrouter_sync_runs (id) ON DELETE CASCADE,
    changed_at timestamptz NOT NULL,
    model_id   text NOT NULL,
    change     text NOT NULL CHECK (change IN ('added', 'removed', 'returned', 'expired', 'repriced', 'prices_changed', 'renamed', 'context_changed')),
    old_value  jsonb,
    new_value  jsonb
);
COMMENT ON TABLE openrouter_change_log IS 'What each sync changed, one row per model and kind of change; read it through openrouter_changes(since).';
COMMENT ON COLUMN openrouter_change_log.id IS 'Change number.';
COMMENT ON COLUMN openrouter_change_log.run_id IS 'The sync that saw the change (openrouter_sync_runs.id).';
COMMENT ON COLUMN openrouter_change_log.changed_at IS 'When that sync ran.';
COMMENT ON COLUMN openrouter_change_log.model_id IS 'Model id.';
COMMENT ON COLUMN openrouter_change_log.change IS 'added, removed, returned, expired (listed but past its expiration_date), repriced (prompt or completion price), prices_changed (other price keys), renamed, context_changed.';
COMMENT ON COLUMN openrouter_change_log.old_value IS 'Value before (prices object, name or context length).';
COMMENT ON COLUMN openrouter_change_log.new_value IS 'Value after.';
CREATE INDEX openrouter_change_log_changed_idx ON openrouter_change_log (changed_at);
CREATE INDEX openrouter_change_log_model_idx ON openrouter_change_log (model_id);

-- User data survives pg_dump / restore.
SELECT pg_catalog.pg_extension_config_dump('things', '');
SELECT pg_catalog.pg_extension_config_dump('relationships', '');
SELECT pg_catalog.pg_extension_config_dump('openrouter_sync_runs', '');
SELECT pg_catalog.pg_extension_config_dump('openrouter_sync_runs_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('openrouter_price_history', '');
SELECT pg_catalog.pg_extension_config_dump('openrouter_model_state', '');
SELECT pg_catalog.pg_extension_config_dump('openrouter_change_log', '');
SELECT pg_catalog.pg_extension_config_dump('openrouter_change_log_id_seq', '');

-- Reading needs only SELECT; writing is the sync's job.
GRANT SELECT ON things, relationships, openrouter_sync_runs, openrouter_price_history, openrouter_change_log,
                openrouter_model_state TO PUBLIC;

-- Members of openrouter_admin may run syncs and manage the schedule; they cannot change
-- where the server connects or read the key (both superuser-only settings). Roles are
-- cluster-wide: a second database reuses the role.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'openrouter_admin') THEN
        CREATE ROLE openrouter_admin NOLOGIN;
        COMMENT ON ROLE openrouter_admin IS 'May run openrouter_sync*() and openrouter_schedule(); cannot change openrouter.api_url or read openrouter.api_key.';
    END IF;
END
$$;
GRANT SELECT, INSERT, UPDATE ON things, relationships, openrouter_sync_runs, openrouter_price_history,
      openrouter_change_log, openrouter_model_state TO openrouter_admin;
GRANT USAGE ON SEQUENCE openrouter_sync_runs_id_seq, openrouter_change_log_id_seq TO openrouter_admin;
