#!/usr/bin/env bash
# Every test: the pure Rust unit tests and the Postgres tests (cargo pgrx test, a cluster
# run as the postgres OS user, with pg_cron preloaded), then the SQL regression tests
# (pg_regress against a throwaway cluster). Installs what is missing first.
source "$(dirname "$0")/common.sh"
need_root "$@"
"$ROOT/scripts/setup.sh" --no-install
cd "$ROOT"

[[ -d ../shared/fixtures/openrouter ]] || die "the fixtures are read in place from $(cd .. && pwd)/shared/fixtures/openrouter, which is missing"

say "cargo pgrx test pg15 (unit tests + Postgres tests)"
mkdir -p target/test-pgdata
chown postgres:postgres target/test-pgdata
# The postgres OS user must read the fixtures and the test database directory.
CARGO_PGRX_TEST_RUNAS=postgres cargo pgrx test pg15

say "SQL regression tests (pg_regress)"
"$ROOT/tests/pg_regress/run.sh"
