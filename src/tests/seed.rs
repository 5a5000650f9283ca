//! Postgres tests: Moving into the seed's database: the worker's rows taken over, other
//! sources' rows never touched.

#[pgrx::pg_schema]
mod tests {
    use crate::tests::support::*;
    use crate::tests::testkit::sql::{count, one, run};
    use crate::tests::testkit::{fixture, OLD};
    use pgrx::prelude::*;

    /// The models, labs and edges the sync writes for the listed models, as text.
    const STORED: &str = "SELECT md5(string_agg(concat_ws('|', ns, id, type, data::text, content), E'\\n' ORDER BY ns, id))
                            FROM things
                           WHERE ns = 'labs' OR (ns = 'models' AND id <> 'openai/gpt-3.5-turbo-0301')";
    const EDGES: &str = "SELECT md5(string_agg(concat_ws('|', ns, id, type, from_ns, from_id, to_ns, to_id, data::text), E'\\n' ORDER BY ns, id))
                           FROM relationships WHERE ns = 'relationships' AND id LIKE 'provider-%'
                            AND id <> 'provider-openai/gpt-3.5-turbo-0301'";

    /// A database where the worker ran: the first sync rewrites its models and labs in this
    /// extension's shape (the same rows a sync into empty tables writes), keeps their
    /// created_at, marks the model it stored that the API no longer lists as removed, keeps
    /// its edges (already in this extension's form), and touches no other source's row.
    #[pg_test]
    fn the_workers_rows_are_taken_over() {
        let others = other_sources_write();
        worker_ingest(OLD);
        // A model the worker stored from an older response, gone from the API since.
        Spi::run_with_args(
            "SELECT pg_temp.worker_ingest($1::jsonb)",
            &[r#"{"data": [{"id": "openai/gpt-3.5-turbo-0301", "name": "OpenAI: GPT-3.5 Turbo (older v0301)",
                            "pricing": {"prompt": "0.0000015", "completion": "0.000002"},
                            "context_length": 4095, "architecture": {"modality": "text->text"}}]}"#
                .into()],
        )
        .unwrap();
        run("UPDATE things SET created_at = '2025-05-23 02:00:00+00', updated_at = '2025-05-23 02:00:00+00'
              WHERE ns IN ('models', 'labs')");
        run(
            "UPDATE relationships SET created_at = '2025-05-23 02:00:00+00'
              WHERE ns = 'relationships' AND id LIKE 'provider-%'",
        );
        assert_eq!(
            count("SELECT count(*) FROM things WHERE ns = 'models'"),
            322
        );
        assert_eq!(
            one::<String>(
                "SELECT data->'pricing'->>'prompt' FROM things WHERE ns = 'models' AND id = 'openrouter/auto'"
            ),
            "-1",
            "the worker's parseFloat"
        );
        let worker_edges = one::<String>(EDGES);

        let s = sync_text(OLD);
        assert_eq!(s["models"], 321, "{s}");
        assert_eq!(s["inserted"], 0, "{s}");
        assert_eq!(s["updated"], 321, "{s}");
        assert_eq!(s["removed"], 1, "{s}");
        assert_eq!(
            one::<String>(
                "SELECT data->>'deprecated_reason' FROM things WHERE ns = 'models' AND id = 'openai/gpt-3.5-turbo-0301'"
            ),
            "removed"
        );
        assert_eq!(
            count("SELECT count(*) FROM openrouter_changes('-infinity') WHERE change = 'removed' AND model_id = 'openai/gpt-3.5-turbo-0301'"),
            1
        );
        // Exact prices now: the router's "-1" is null and a flag, not -1.
        assert!(one::<bool>(
            "SELECT data->'pricing'->'prompt' = 'null'::jsonb AND (data->>'variable_price')::boolean
               FROM things WHERE ns = 'models' AND id = 'openrouter/auto'"
        ));
        // Every row keeps when it was first stored.
        assert_eq!(
            count("SELECT count(*) FROM things WHERE ns IN ('models', 'labs') AND created_at <> '2025-05-23 02:00:00+00'"),
            0
        );
        assert_eq!(
            count("SELECT count(*) FROM relationships WHERE ns = 'relationships' AND id LIKE 'provider-%' AND created_at <> '2025-05-23 02:00:00+00'"),
            0
        );
        assert_eq!(
            one::<String>(EDGES),
            worker_edges,
            "the edges were already in this extension's form"
        );
        // The gone model was never tracked (no state row, no price period): a later sync
        // leaves it as it is, removed once.
        let again = sync_text(OLD);
        assert_eq!(again["unchanged"], 321, "{again}");
        assert_eq!(again["removed"], 0, "{again}");
        assert_eq!(
            count("SELECT count(*) FROM openrouter_change_log WHERE model_id = 'openai/gpt-3.5-turbo-0301'"),
            1
        );
        run("DELETE FROM things WHERE ns = 'models' AND id = 'openai/gpt-3.5-turbo-0301'");
        assert_state_matches_things("after the takeover");
        assert_other_sources_untouched(&others, "the takeover");
        let taken_over = one::<String>(STORED);

        // The same rows as a first sync into tables the worker never wrote.
        run("DELETE FROM things WHERE ns IN ('models', 'labs')");
        run("DELETE FROM relationships WHERE ns = 'relationships' AND id LIKE 'provider-%'");
        for table in [
            "openrouter_model_state",
            "openrouter_price_history",
            "openrouter_change_log",
            "openrouter_sync_runs",
        ] {
            run(&format!("DELETE FROM {table}"));
        }
        assert_eq!(sync_text(OLD)["inserted"], 321);
        assert_eq!(one::<String>(STORED), taken_over);
        assert_eq!(one::<String>(EDGES), worker_edges);
        assert_other_sources_untouched(&others, "a first sync");
    }

    fn sync_text(file: &str) -> serde_json::Value {
        Spi::get_one_with_args::<pgrx::JsonB>(
            "SELECT openrouter_sync_from_text($1)",
            &[fixture(file).into()],
        )
        .unwrap()
        .unwrap()
        .0
    }
}
