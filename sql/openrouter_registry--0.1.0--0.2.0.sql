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
