//! Postgres tests: the views rewritten to answer a full scan in one pass (issue 20, item 13;
//! bench/run.sh times them at 100 times the registry) give exactly what their earlier
//! definitions gave, row for row and digit for digit (compared as text, so that 1.0 and 1.00
//! differ), on both fixtures: the older one synced first, so that deprecated models are there
//! too, then the newer one with benchmark scores, then the endpoints of four models.

#[pgrx::pg_schema]
mod tests {
    use crate::tests::support::point_at;
    use crate::tests::testkit::sql::{count, one, run};
    use crate::tests::testkit::{fixture, fixture_dir, with_benchmarks, TestServer, NEW, OLD};
    use pgrx::prelude::*;

    fn both_fixtures_and_endpoints() -> TestServer {
        run("SET client_min_messages = warning");
        one::<pgrx::JsonB>(&format!(
            "SELECT openrouter_sync_from_text(pg_read_file('{}'), as_of => '2025-05-23 00:00:00+00')",
            fixture_dir().join(OLD).display()
        ));
        let server = TestServer::openrouter(with_benchmarks(&fixture(NEW)), &[]);
        point_at(&server.models_url());
        run("SET openrouter.max_retries = 1");
        one::<pgrx::JsonB>("SELECT openrouter_sync(force => true)");
        one::<pgrx::JsonB>(
            "SELECT openrouter_sync_endpoints(ARRAY['openai/gpt-oss-120b', 'anthropic/claude-sonnet-4.5',
                                                    'qwen/qwen3-coder', 'qwen/qwen3-coder:free'])",
        );
        server
    }

    /// Every row of a query as text, in order: equal digests mean identical results.
    fn digest(sql: &str) -> String {
        one::<String>(&format!(
            "SELECT count(*) || ' ' || md5(string_agg(r::text, E'\\n' ORDER BY r::text)) FROM ({sql}) r"
        ))
    }

    fn schema() -> String {
        one::<String>("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'openrouter_registry'")
    }

    #[pg_test]
    fn openrouter_models_all_gives_what_the_released_definition_gave() {
        let _server = both_fixtures_and_endpoints();
        // The definition released in 0.2.0, from the frozen upgrade script, as a temporary view.
        let script = include_str!("../../sql/openrouter_registry--0.1.0--0.2.0.sql");
        let start = script
            .find("CREATE VIEW openrouter_models_all AS")
            .expect("the 0.2.0 script defines openrouter_models_all");
        let end = start + script[start..].find(";\n").unwrap();
        run(&script[start..end]
            .replace(
                "CREATE VIEW openrouter_models_all",
                "CREATE TEMP VIEW released_models_all",
            )
            .replace("@extschema@", &schema()));

        // What the comparison covers: models of both fixtures, deprecated ones, scores.
        assert_eq!(count("SELECT count(*) FROM openrouter_models_all"), 518);
        assert!(count("SELECT count(*) FROM openrouter_models_all WHERE is_deprecated") > 100);
        assert_eq!(
            count("SELECT count(*) FROM openrouter_models_all WHERE benchmarks <> 'null'::jsonb"),
            4
        );
        assert!(count("SELECT count(*) FROM openrouter_models_all WHERE lab_name <> lab AND cardinality(features) > 0") > 100);
        assert_eq!(
            digest("SELECT * FROM openrouter_models_all"),
            digest("SELECT * FROM released_models_all")
        );
        // The view built on it for the live models (and, through it, the labs).
        assert_eq!(
            digest("SELECT * FROM openrouter_models"),
            digest("SELECT * FROM released_models_all WHERE NOT is_deprecated")
        );
    }

    #[pg_test]
    fn openrouter_labs_all_materialized_gives_what_the_subquery_gave() {
        let _server = both_fixtures_and_endpoints();
        // The same definition with the grouping inlined (NOT MATERIALIZED: what the subquery
        // in FROM did before), so that only the materialization is compared.
        let definition = one::<String>("SELECT pg_get_viewdef('openrouter_labs_all'::regclass)");
        assert!(definition.contains("AS MATERIALIZED"), "{definition}");
        run(&format!(
            "CREATE TEMP VIEW inlined_labs_all AS {}",
            definition.replace("AS MATERIALIZED", "AS NOT MATERIALIZED")
        ));
        assert_eq!(
            count("SELECT count(*) FROM openrouter_labs_all"),
            count("SELECT count(*) FROM things WHERE ns = 'labs'")
        );
        assert!(count("SELECT count(*) FROM openrouter_labs_all WHERE is_deprecated") > 0);
        assert!(count("SELECT count(*) FROM openrouter_labs_all WHERE model_count > 1") > 10);
        assert_eq!(
            digest("SELECT * FROM openrouter_labs_all"),
            digest("SELECT * FROM inlined_labs_all")
        );
        assert_eq!(
            digest("SELECT * FROM openrouter_labs"),
            digest("SELECT * FROM inlined_labs_all WHERE NOT is_deprecated")
        );
    }

    #[pg_test]
    fn openrouter_endpoints_gives_what_the_earlier_definition_gave() {
        let _server = both_fixtures_and_endpoints();
        // The two columns whose expressions changed, as the earlier definition computed them:
        // the model's name by a plain join, the parameters by openrouter_text_array().
        let earlier = format!(
            "SELECT e.id, m.data->>'name', {s}.openrouter_text_array(e.data->'supported_parameters')
               FROM {s}.things e
               LEFT JOIN {s}.things m ON m.ns = 'models' AND m.id = e.data->>'model_id'
              WHERE e.ns = 'endpoints' AND e.type = 'Endpoint'
                AND e.data->'deprecated' IS DISTINCT FROM 'true'::jsonb",
            s = schema()
        );
        assert!(count("SELECT count(*) FROM openrouter_endpoints") >= 7);
        assert_eq!(
            count("SELECT count(*) FROM openrouter_endpoints WHERE model_name IS NULL"),
            0
        );
        assert_eq!(
            digest("SELECT id, model_name, supported_parameters FROM openrouter_endpoints"),
            digest(&earlier)
        );
        // The model's name, read through the memoized lookup, for a variant's endpoints too.
        assert_eq!(
            one::<String>("SELECT string_agg(DISTINCT model_name, ', ') FROM openrouter_endpoints WHERE model_id = 'openai/gpt-oss-120b'"),
            "OpenAI: gpt-oss-120b"
        );
    }
}
