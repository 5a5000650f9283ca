//! Postgres tests: Operating it: pg_cron scheduling, staleness and health.

#[pgrx::pg_schema]
mod tests {
    use crate::tests::support::*;
    use crate::tests::testkit::sql::{count, one, run};
    use crate::tests::testkit::NEW;
    use pgrx::prelude::*;

    /// On a server that has pg_cron (Debian's 15, where the tests preload it) but a
    /// database without the extension.
    #[cfg(feature = "pg15")]
    #[pg_test]
    fn schedule_without_pg_cron_says_how_to_enable_it() {
        let e = err("SELECT openrouter_schedule()");
        assert_eq!(e, "55000: openrouter_schedule: the pg_cron extension is not created in this database: run CREATE EXTENSION pg_cron");
        // The hint says only what is missing here: pg_cron is loaded and runs its jobs from
        // this database, only CREATE EXTENSION is missing (no restart steps).
        run("CREATE OR REPLACE FUNCTION pg_temp.hint() RETURNS text LANGUAGE plpgsql AS $$
             DECLARE h text; BEGIN PERFORM openrouter_schedule(); RETURN NULL;
             EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT; RETURN h; END $$");
        let hint = one::<String>("SELECT pg_temp.hint()");
        assert_eq!(
            hint,
            "Run CREATE EXTENSION pg_cron in this database (as a superuser). Without pg_cron, run SELECT openrouter_sync() from any scheduler."
        );
    }

    /// On a server that has no pg_cron at all (this project's 16-18), the error says so,
    /// instead of asking for a shared_preload_libraries entry the server would not start with.
    #[cfg(not(feature = "pg15"))]
    #[pg_test]
    fn schedule_on_a_server_without_pg_cron_says_it_is_not_installed() {
        assert_eq!(
            count("SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_cron'"),
            0
        );
        let major =
            one::<String>("SELECT current_setting('server_version_num')::int / 10000 || ''");
        assert_eq!(
            err("SELECT openrouter_schedule()"),
            format!("55000: openrouter_schedule: pg_cron is not installed on this server: install pg_cron for PostgreSQL {major} (on Debian and Ubuntu: postgresql-{major}-cron), or run SELECT openrouter_sync() from any other scheduler")
        );
        assert_eq!(
            one::<String>("SELECT status FROM openrouter_health()"),
            "never synced"
        );
        assert!(one::<bool>(
            "SELECT schedule IS NULL FROM openrouter_health()"
        ));
        assert!(err("SELECT openrouter_unschedule()")
            .starts_with("55000: openrouter_unschedule: pg_cron is not installed on this server"));
    }

    #[cfg(feature = "pg15")]
    #[pg_test]
    fn schedule_reschedule_unschedule() {
        run("CREATE EXTENSION IF NOT EXISTS pg_cron");
        let job = one::<i64>("SELECT openrouter_schedule()");
        assert_eq!(
            one::<String>("SELECT schedule || ' | ' || command || ' | ' || database FROM cron.job WHERE jobname = 'openrouter-sync'"),
            "0 2 * * * | SELECT public.openrouter_sync() | pgrx_tests"
        );
        let again = one::<i64>("SELECT openrouter_schedule('30 3 * * *')");
        assert_eq!(again, job, "rescheduling replaces the job");
        assert_eq!(
            count("SELECT count(*) FROM cron.job WHERE command LIKE '%openrouter_sync%'"),
            1
        );
        assert_eq!(
            one::<String>(&format!(
                "SELECT schedule FROM cron.job WHERE jobid = {job}"
            )),
            "30 3 * * *"
        );
        let health_schedule =
            one::<String>("SELECT schedule || ' ' || job_name FROM openrouter_health()");
        assert_eq!(health_schedule, "30 3 * * * openrouter-sync");
        assert!(one::<bool>("SELECT openrouter_unschedule()"));
        assert_eq!(
            count("SELECT count(*) FROM cron.job WHERE command LIKE '%openrouter_sync%'"),
            0
        );
        assert!(!one::<bool>("SELECT openrouter_unschedule()"));
        assert!(err("SELECT openrouter_schedule('every full moon')").contains("invalid schedule"));
    }

    /// pg_cron 1.4 names a job per role, whatever its database, and on a clash keeps the old
    /// job's database while taking the new command: a name taken by another database's job
    /// is refused, and unscheduling by name removes this database's job only (issue 20,
    /// item 4).
    #[cfg(feature = "pg15")]
    #[pg_test]
    fn a_job_name_of_another_database_is_not_taken_over() {
        run("SET client_min_messages = warning");
        run("CREATE EXTENSION IF NOT EXISTS pg_cron");
        let other = one::<i64>(
            "SELECT cron.schedule_in_database('nightly', '0 4 * * *', 'SELECT 1', 'postgres')",
        );
        assert_eq!(
            err("SELECT openrouter_schedule(job_name => 'nightly')"),
            "42710: openrouter_schedule: the pg_cron job nightly of this role runs in database \"postgres\", not this one"
        );
        assert!(!one::<bool>("SELECT openrouter_unschedule('nightly')"));
        assert_eq!(
            one::<String>(&format!(
                "SELECT database || ' | ' || schedule || ' | ' || command FROM cron.job WHERE jobid = {other}"
            )),
            "postgres | 0 4 * * * | SELECT 1"
        );
        // In cron.database_name's own database the default name stays as it always was.
        one::<i64>("SELECT openrouter_schedule()");
        assert_eq!(
            one::<String>("SELECT jobname::text FROM cron.job WHERE database = current_database()"),
            "openrouter-sync"
        );
        assert!(one::<bool>(
            "SELECT openrouter_unschedule('openrouter-sync')"
        ));
        run(&format!("SELECT cron.unschedule({other})"));
    }

    #[pg_test]
    fn staleness_and_health() {
        let others = other_sources_write();
        // Never synced: stale, and the health row says so without erroring.
        assert!(one::<bool>("SELECT openrouter_is_stale()"));
        assert_eq!(
            one::<String>("SELECT status FROM openrouter_health()"),
            "never synced"
        );
        assert!(Spi::get_one::<pgrx::datum::TimestampWithTimeZone>(
            "SELECT openrouter_last_sync()"
        )
        .unwrap()
        .is_none());

        let _server = serve(NEW);
        sync();
        assert!(!one::<bool>("SELECT openrouter_is_stale()"));
        assert_eq!(
            one::<String>("SELECT status FROM openrouter_health()"),
            "ok"
        );
        assert!(one::<bool>("SELECT live_models = 336 AND deprecated_models = 10 AND labs = 57 AND NOT is_stale FROM openrouter_health()"));
        // The seed's check agrees with ours.
        assert!(one::<bool>("SELECT openrouter_last_sync() - MAX(updated_at) BETWEEN '0' AND '5 seconds' FROM things WHERE ns = 'models'"));

        // Move the recorded times back instead of sleeping.
        run("UPDATE openrouter_sync_runs SET started_at = started_at - interval '26 hours', finished_at = finished_at - interval '26 hours'");
        run("UPDATE things SET updated_at = updated_at - interval '26 hours' WHERE ns IN ('models', 'labs')");
        assert!(one::<bool>("SELECT openrouter_is_stale()"));
        assert!(!one::<bool>("SELECT openrouter_is_stale('2 days')"));
        assert!(one::<bool>(
            "SELECT MAX(updated_at) < now() - interval '25 hours' FROM things WHERE ns = 'models'"
        ));
        assert!(one::<bool>("SELECT status = 'stale' AND is_stale AND hours_since_success >= 26 FROM openrouter_health()"));

        // The history row of the run.
        assert!(one::<bool>(
            "SELECT models = 346 AND labs = 57 AND inserted = 346 AND updated = 0 AND pages = 1 AND requests = 1
                    AND source LIKE 'http://127.0.0.1:%/api/v1/models' AND duration_ms > 0 AND finished_at >= started_at
               FROM openrouter_sync_runs"
        ));
        assert_other_sources_untouched(&others, "staleness_and_health");
    }
}
