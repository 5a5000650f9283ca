-- openrouter_registry: storage.
--
-- things and relationships are the seed schema of the worker this extension replaces: the
-- application's tables, shared by every source it has (each writes its own namespaces, ns).
-- This extension writes the namespaces models, labs, providers and endpoints of things, and
-- its edges in relationships; it never reads, changes or deletes a row of another namespace.
-- Where the two tables exist (the worker ran here, or pg_restore just created them) they are
-- used as they are, once checked; where they do not, they are created. Either way they are
-- not members of the extension: DROP EXTENSION leaves them, and every row in them, alone,
-- and pg_dump dumps them as the ordinary tables they are.

-- The API's text is UTF-8 and is stored as it is, without conversion: in a database of any
-- other encoding it would read back garbled (LATIN1) or not at all (EUC_JP). Refuse at once;
-- every sync checks again (a database cannot change its encoding, but a dump can be restored
-- elsewhere).
DO $$
BEGIN
    IF pg_catalog.current_setting('server_encoding') <> 'UTF8' THEN
        RAISE EXCEPTION 'openrouter_registry needs a UTF8 database; this one''s encoding is %',
                pg_catalog.current_setting('server_encoding')
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'The registry''s text (names, descriptions, every document) is UTF-8 and is stored without conversion.',
                  HINT = 'Create a database with ENCODING ''UTF8'' (CREATE DATABASE ... ENCODING ''UTF8'' TEMPLATE template0) and install the extension there.';
    END IF;
END
$$;

-- Check a table that exists; stop CREATE EXTENSION, changing nothing, where it does not fit.
-- An empty table without a primary key is accepted: that is how pg_restore creates it (the
-- key comes after the rows); the sync checks for the key before it writes.
DO $$
DECLARE
    spec     record;
    rel      oid;
    problems text[];
    col      record;
    key      text[];
    has_rows boolean;
BEGIN
    FOR spec IN
        SELECT * FROM (VALUES
            ('things', ARRAY['ns text', 'id text', 'type text', 'data jsonb', 'content text',
                             'created_at timestamp with time zone', 'updated_at timestamp with time zone']),
            ('relationships', ARRAY['ns text', 'id text', 'type text', 'from_ns text', 'from_id text',
                                    'to_ns text', 'to_id text', 'data jsonb', 'created_at timestamp with time zone'])
        ) AS t(name, columns)
    LOOP
        rel := pg_catalog.to_regclass('@extschema@.' || spec.name);
        CONTINUE WHEN rel IS NULL;
        problems := '{}';
        IF (SELECT relkind FROM pg_catalog.pg_class WHERE oid = rel) <> 'r' THEN
            problems := problems || 'it is not an ordinary table (a view, a partitioned or a foreign table?)'::text;
        END IF;
        FOR col IN
            SELECT split_part(want, ' ', 1) AS name, substr(want, strpos(want, ' ') + 1) AS type,
                   pg_catalog.format_type(a.atttypid, a.atttypmod) AS actual
              FROM unnest(spec.columns) AS want
              LEFT JOIN pg_catalog.pg_attribute a
                ON a.attrelid = rel AND a.attname = split_part(want, ' ', 1) AND a.attnum > 0 AND NOT a.attisdropped
        LOOP
            IF col.actual IS NULL THEN
                problems := problems || format('no column %I (%s)', col.name, col.type);
            ELSIF col.actual <> col.type THEN
                problems := problems || format('column %I is %s, not %s', col.name, col.actual, col.type);
            END IF;
        END LOOP;
        -- Rows are inserted naming these columns only: any other column needs a default.
        FOR col IN
            SELECT a.attname AS name FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull
               AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = ''
               AND NOT a.attname = ANY (SELECT split_part(w, ' ', 1) FROM unnest(spec.columns) AS w)
        LOOP
            problems := problems || format('column %I is NOT NULL without a default', col.name);
        END LOOP;
        SELECT array_agg(a.attname::text ORDER BY a.attname) INTO key
          FROM pg_catalog.pg_constraint c
          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
         WHERE c.conrelid = rel AND c.contype = 'p';
        IF key IS NULL THEN
            IF EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.conrelid = rel AND c.contype <> 'n')
               OR EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = rel) THEN
                problems := problems || 'no primary key on (ns, id)'::text;
            ELSE
                EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', rel::regclass) INTO STRICT has_rows;
                IF has_rows THEN
                    problems := problems || 'no primary key on (ns, id)'::text;
                END IF;
            END IF;
        ELSIF key <> ARRAY['id', 'ns'] THEN
            problems := problems || format('its primary key is on (%s), not on (ns, id)', array_to_string(key, ', '));
        END IF;
        IF cardinality(problems) > 0 THEN
            RAISE EXCEPTION 'openrouter_registry cannot use the existing table %: %',
                    rel::regclass, array_to_string(problems, '; ')
                USING ERRCODE = '42P17',
                      DETAIL = format('openrouter_registry writes its rows into %s, shared with the application (the seed schema: %s, primary key (ns, id)). Nothing was changed.',
                                      rel::regclass, array_to_string(spec.columns, ', ')),
                      HINT = format('Make %s match (ALTER TABLE ... ADD COLUMN / ALTER COLUMN ... TYPE / ADD PRIMARY KEY (ns, id)) and run CREATE EXTENSION again, or install the extension into another schema (CREATE EXTENSION openrouter_registry SCHEMA ...), where it creates its own tables.',
                                    rel::regclass);
        END IF;
    END LOOP;
END
$$;

-- Created here only where missing, then handed to the application: not a member of the
-- extension, so that DROP EXTENSION cannot take other sources' rows with it.
DO $$
BEGIN
    IF pg_catalog.to_regclass('@extschema@.things') IS NULL THEN
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
        -- Every sync confirms updated_at on every model it saw. Keep that cheap: free space on
        -- each page (fillfactor) lets the new row version stay on its page as a HOT update,
        -- which touches no index; without it each confirmation costs 7x more. lz4 compresses
        -- several times faster than the default pglz. (Forcing the values out of line with a
        -- low toast_tuple_target made the first load 40% slower for no gain on re-syncs.)
        -- Applied only to a table created here: on the application's own table they would
        -- change how every source's rows are stored (fillfactor 50 leaves half of each page
        -- free), which is the DBA's decision; the README gives the two statements.
        ALTER TABLE things SET (fillfactor = 50);
        ALTER TABLE things ALTER COLUMN data SET COMPRESSION lz4, ALTER COLUMN content SET COMPRESSION lz4;
        ALTER EXTENSION openrouter_registry DROP TABLE things;
    END IF;
    IF pg_catalog.to_regclass('@extschema@.relationships') IS NULL THEN
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
        ALTER EXTENSION openrouter_registry DROP TABLE relationships;
    END IF;
END
$$;

-- The extension needs both tables: recorded as a dependency, which PostgreSQL has no
-- statement for. pg_dump then restores the tables before CREATE EXTENSION (which finds them
-- and uses them), and DROP TABLE things says that the extension needs it. pg_upgrade does
-- not carry such a record over (pg_dump cannot write it): the function records it again.
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

COMMENT ON TABLE things IS 'Objects of every source of the application, by namespace (ns). openrouter_registry writes models (ns = ''models'', type ''Model'') and labs (ns = ''labs'', type ''Lab'') with openrouter_sync(), and never touches another namespace; it deletes nothing.';
COMMENT ON COLUMN things.ns IS 'Namespace: which source and kind of object (openrouter_registry: ''models'', ''labs'').';
COMMENT ON COLUMN things.id IS 'Id within the namespace. openrouter_registry: the model id as the API names it (''openai/gpt-4o'', ''meta-llama/llama-3.3-70b-instruct:free''), or the lab id (the model id prefix, ''openai'').';
COMMENT ON COLUMN things.type IS 'Kind of object (openrouter_registry: ''Model'' or ''Lab'').';
COMMENT ON COLUMN things.data IS 'Everything known about the object. openrouter_registry models: id, name, description, provider, pricing (exact USD per token; a variable "-1" price is null and variable_price is true), context_length, modalities, input_modalities, output_modalities, features, supported_parameters, architecture, parameters, released, canonical_slug, hugging_face_id, top_provider, per_request_limits, default_parameters, knowledge_cutoff, expiration_date, reasoning, benchmarks, variant, base_id, deprecated (+ deprecated_at, deprecated_reason), metadata, extra (fields the API added that this version does not know).';
COMMENT ON COLUMN things.content IS 'The description, as plain text.';
COMMENT ON COLUMN things.created_at IS 'When the object was first stored (a row the extension takes over keeps it).';
COMMENT ON COLUMN things.updated_at IS 'When the object was last written or confirmed (openrouter_sync() sets it on every object the API listed).';

COMMENT ON TABLE relationships IS 'Edges between objects of every source, by namespace (ns). openrouter_registry writes (''relationships'', ''provider-<model id>'', ''provider'', ''labs'', lab, ''models'', model id) for every model.';
COMMENT ON COLUMN relationships.ns IS 'Namespace of the edge (openrouter_registry: ''relationships'').';
COMMENT ON COLUMN relationships.id IS 'Id within the namespace (openrouter_registry: ''provider-<model id>'').';
COMMENT ON COLUMN relationships.type IS 'Kind of edge (''provider'': the lab publishes the model).';
COMMENT ON COLUMN relationships.from_ns IS 'Namespace of the source object (''labs'').';
COMMENT ON COLUMN relationships.from_id IS 'Id of the source object (a lab id).';
COMMENT ON COLUMN relationships.to_ns IS 'Namespace of the target object (''models'').';
COMMENT ON COLUMN relationships.to_id IS 'Id of the target object (a model id).';
COMMENT ON COLUMN relationships.data IS 'Edge attributes (empty for openrouter_registry''s edges).';
COMMENT ON COLUMN relationships.created_at IS 'When the edge was first stored.';

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
COMMENT ON COLUMN openrouter_sync_runs.labs IS 'Live labs after the sync: labs with at least one live model (listed, not past its expiration date), as openrouter_labs and openrouter_health() count them; 0 for another dataset''s run. Rows from before 0.3.0 counted every lab in the response.';
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
COMMENT ON COLUMN openrouter_price_history.pricing IS 'Every price key of the period (USD per token, per request, per image or per search), as in things.data->''pricing''; openrouter_price_at() gives its per-token keys per million tokens too.';
COMMENT ON COLUMN openrouter_price_history.prompt_price IS 'USD per prompt token; null when variable (per million: openrouter_price_at()).';
COMMENT ON COLUMN openrouter_price_history.completion_price IS 'USD per completion token; null when variable (per million: openrouter_price_at()).';
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

-- The extension's own tables survive pg_dump / restore (things and relationships, not
-- members, are dumped like any table).
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
