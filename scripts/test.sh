#!/usr/bin/env bash
# Every test: the pure Rust unit and property tests and the Postgres tests (cargo pgrx test,
# a cluster run as the postgres OS user, with pg_cron preloaded), the SQL regression tests
# (pg_regress), the integration tests (concurrency, cancel, backups, roles), the seed's
# database (tests/seed), the upgrade from 0.1.0 (tests/upgrade) and a real pg_cron job, each
# against throwaway clusters on 127.0.0.1. Installs what is missing first.
source "$(dirname "$0")/common.sh"
need_root "$@"
"$ROOT/scripts/setup.sh" --no-install
cd "$ROOT"

if cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1; then
  say "cargo fmt --check, cargo clippy -D warnings"
  cargo fmt --all -- --check
  cargo clippy --quiet --all-targets --features "pg15 pg_test" -- -D warnings
else
  say "NOTE: rustfmt/clippy are not installed with this toolchain: formatting and lints not checked"
fi

say "layout of src/: no import circle, pure modules without pgrx (scripts/check_layout.py)"
python3 "$ROOT/scripts/check_layout.py"

[[ -d ../shared/fixtures/openrouter ]] || die "the fixtures are read in place from $(cd .. && pwd)/shared/fixtures/openrouter, which is missing"

say "cargo pgrx test pg15 (unit tests + Postgres tests)"
mkdir -p target/test-pgdata
chown postgres:postgres target/test-pgdata
# The postgres OS user must read the fixtures and the test database directory.
CARGO_PGRX_TEST_RUNAS=postgres cargo pgrx test pg15

# cargo pgrx test installed this build into PostgreSQL 15: the SQL tests below use it.
say "SQL regression tests (pg_regress)"
"$ROOT/tests/pg_regress/run.sh"

say "integration: 8 concurrent syncs, statement_timeout and pg_cancel_backend, pg_dump/pg_restore, roles and the key"
"$ROOT/tests/integration/run.sh"

say "the seed's database: adopting its tables, other namespaces untouched, DROP EXTENSION keeps them, dump/restore"
"$ROOT/tests/seed/run.sh"

say "ALTER EXTENSION UPDATE from 0.1.0 (builds 0.1.0 once: about 4 minutes the first time)"
"$ROOT/tests/upgrade/run.sh"

say "pg_cron integration (a real every-minute job; about 2 minutes)"
"$ROOT/tests/cron/run.sh"
