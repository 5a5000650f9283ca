-- openrouter_registry 0.2.0 -> 0.3.0 (ALTER EXTENSION openrouter_registry UPDATE).
-- 0.2.0 (commit a6e8c20) is released: what changed after it goes here, never into the
-- 0.1.0 -> 0.2.0 script (a 0.1.0 database updates through both, one after the other).
-- Each change adds its own section, headed "-- issue N, item M: what". A fresh 0.3.0 install
-- and a 0.1.0 or 0.2.0 install updated to 0.3.0 must end up with the same objects
-- (tests/upgrade/run.sh checks both).

-- issue 20, item 5: a key kept in a function's SET clause (pg_proc.proconfig, readable by
-- every role) is reported like one in pg_db_role_setting.
CREATE OR REPLACE FUNCTION @extschema@.openrouter_exposed_key() RETURNS SETOF text
LANGUAGE sql STABLE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
    SELECT k FROM (
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
        UNION ALL
        -- A function's SET clause (pg_proc.proconfig, this database's functions): every role
        -- can read it, and the function puts the key in force whenever it runs.
        SELECT format('openrouter.api_key is stored in the SET clause of function %s (pg_proc), readable by every role: run ALTER FUNCTION %s RESET openrouter.api_key',
                      p.oid::regprocedure, p.oid::regprocedure)
          FROM pg_catalog.pg_proc p
         WHERE p.proconfig IS NOT NULL
           AND EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'openrouter.api\_key=%')
    ) AS places(k)
     ORDER BY 1
$$;
COMMENT ON FUNCTION @extschema@.openrouter_exposed_key() IS 'Where openrouter.api_key is stored readable by every role: in pg_db_role_setting (ALTER DATABASE/ROLE ... SET) or in a function''s SET clause (pg_proc.proconfig, this database), each with the ALTER ... RESET that removes it; no row when nowhere. openrouter_health() reports it and every sync warns.';
