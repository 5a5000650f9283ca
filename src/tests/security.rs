//! Postgres tests: Roles, settings and the key.

#[pgrx::pg_schema]
mod tests {
    use crate::tests::support::*;
    use crate::tests::testkit::sql::{count, one, run};
    use crate::tests::testkit::OLD;
    use pgrx::prelude::*;

    /// The key's check hook replaces the value and hands its own "extra" to the assign hook:
    /// both must come from the allocator this major's GUC code frees them with (malloc on
    /// 15, guc_malloc from 16). Each SET, RESET, rolled-back SET LOCAL and subtransaction
    /// below frees one of them.
    #[pg_test]
    fn the_key_survives_being_set_and_reset_many_times() {
        for i in 0..200 {
            run(&format!("SET openrouter.api_key = 'sk-or-v1-cycle-{i}'"));
            assert_eq!(one::<String>("SHOW openrouter.api_key"), "(set)");
            run("RESET openrouter.api_key");
            assert_eq!(one::<String>("SHOW openrouter.api_key"), "");
        }
        run("SET openrouter.api_key = 'sk-or-v1-outer'");
        run(
            "CREATE OR REPLACE FUNCTION pg_temp.flip() RETURNS text LANGUAGE plpgsql AS $$
             BEGIN
               BEGIN
                 SET LOCAL openrouter.api_key = '';
                 PERFORM 1 / 0;
               EXCEPTION WHEN division_by_zero THEN NULL;
               END;
               RETURN current_setting('openrouter.api_key');
             END $$",
        );
        for _ in 0..50 {
            assert_eq!(one::<String>("SELECT pg_temp.flip()"), "(set)");
        }
        assert_eq!(one::<String>("SHOW openrouter.api_key"), "(set)");
        run("RESET openrouter.api_key");
    }

    #[pg_test]
    fn roles_settings_and_the_key() {
        seeded();
        let server = serve(OLD);
        run("CREATE ROLE test_analyst");
        run("CREATE ROLE test_syncer IN ROLE openrouter_admin");
        run("SET openrouter.api_key = 'sk-or-v1-pgtest-secret'");
        // Even a superuser sees it masked.
        assert_eq!(
            one::<String>("SELECT current_setting('openrouter.api_key')"),
            "(set)"
        );
        assert_eq!(
            count("SELECT count(*) FROM pg_settings WHERE setting LIKE '%sk-or-v1%'"),
            0
        );
        // It is sent, as a Bearer token.
        sync();
        assert!(
            server.request_heads().iter().any(|h| h
                .contains("Authorization: Bearer sk-or-v1-pgtest-secret")
                || h.contains("authorization: Bearer sk-or-v1-pgtest-secret")),
            "{:?}",
            server.request_heads()
        );

        err("SELECT 1");
        run("SET ROLE test_analyst");
        assert!(
            err("SHOW openrouter.api_key").starts_with("42501: "),
            "{}",
            err("SHOW openrouter.api_key")
        );
        assert!(err("SELECT current_setting('openrouter.api_key')").starts_with("42501: "));
        assert_eq!(
            count("SELECT count(*) FROM pg_settings WHERE name = 'openrouter.api_key'"),
            0
        );
        assert_eq!(
            err("SET openrouter.api_url = 'http://127.0.0.1:1/'"),
            "42501: permission denied to set parameter \"openrouter.api_url\""
        );
        assert_eq!(
            err("SELECT openrouter_sync()"),
            "42501: permission denied for function openrouter_sync"
        );
        assert_eq!(
            err("SELECT openrouter_schedule()"),
            "42501: permission denied for function openrouter_schedule"
        );
        assert!(count("SELECT count(*) FROM cheapest_models(100000)") > 0);
        assert!(count("SELECT count(*) FROM openrouter_models") > 0);
        run("RESET ROLE");

        run("SET ROLE test_syncer");
        assert_eq!(
            err("SET openrouter.api_url = 'http://127.0.0.1:1/'"),
            "42501: permission denied to set parameter \"openrouter.api_url\""
        );
        assert_eq!(
            err("SET openrouter.api_key = 'mine'"),
            "42501: permission denied to set parameter \"openrouter.api_key\""
        );
        assert!(err("SHOW openrouter.api_key").starts_with("42501: "));
        assert_eq!(
            sync()["models"],
            321,
            "a member of openrouter_admin may sync"
        );
        run("RESET ROLE");

        // The key is refused where every role could read it.
        let e = err("ALTER ROLE test_syncer SET openrouter.api_key = 'sk-or-v1-leak'");
        assert!(
            e.starts_with(
                "42501: openrouter.api_key cannot be stored with ALTER DATABASE/ROLE ... SET"
            ),
            "{e}"
        );
        let e = err("ALTER DATABASE pgrx_tests SET openrouter.api_key = 'sk-or-v1-leak'");
        assert!(
            e.starts_with(
                "42501: openrouter.api_key cannot be stored with ALTER DATABASE/ROLE ... SET"
            ),
            "{e}"
        );
        assert_eq!(count("SELECT count(*) FROM pg_db_role_setting WHERE array_to_string(setconfig, ',') LIKE '%sk-or-v1%'"), 0);
        // The key file: only its path is a setting.
        let path = std::env::temp_dir().join(format!("openrouter-key-{}", std::process::id()));
        std::fs::write(&path, "sk-or-v1-from-file\n").unwrap();
        run("RESET openrouter.api_key");
        run(&format!(
            "SET openrouter.api_key_file = '{}'",
            path.display()
        ));
        sync();
        std::fs::remove_file(&path).unwrap();
        assert!(server
            .request_heads()
            .last()
            .unwrap()
            .to_ascii_lowercase()
            .contains("authorization: bearer sk-or-v1-from-file"));
        let e = sync_error().unwrap();
        assert!(
            e.starts_with("22023: openrouter: cannot read openrouter.api_key_file")
                && !e.contains("sk-or"),
            "{e}"
        );
        // Nothing recorded holds a key.
        assert_eq!(count("SELECT count(*) FROM openrouter_sync_runs WHERE source LIKE '%sk-or%' OR array_to_string(warnings, ' ') LIKE '%sk-or%'"), 0);
    }
}
