#!/usr/bin/env bash
# SQL regression tests: PGXS's pg_regress against a throwaway cluster (run as postgres),
# using the extension as installed in the server PG_MAJOR selects (default: the system's
# PostgreSQL 15). Deterministic output only.
source "$(dirname "$0")/../../scripts/common.sh"
need_root "$@"
HERE=$ROOT/tests/pg_regress
DIR=${REGRESS_DIR:-/tmp/openrouter-regress-pg$PG_SUFFIX}
PORT=${REGRESS_PORT:-$((55432 + PORT_SHIFT))}
PG_REGRESS=$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress

cluster_stop "$DIR"; rm -rf "$DIR"
cluster_start "$DIR" "$PORT"
trap 'cluster_stop "$DIR"; rm -rf "$DIR"' EXIT
out=$(mktemp -d); chmod 777 "$out"
tests=$(cd "$HERE/sql" && ls *.sql | sed 's/\.sql$//' | sort)
set +e
# --bindir: the 16-18 trees are relocated; their pg_regress would look for psql where they were built.
(cd "$HERE" && "$PG_REGRESS" --bindir="$PG_BIN" --host=127.0.0.1 --port="$PORT" --user=postgres \
   --inputdir="$HERE" --outputdir="$out" --dbname=openrouter_regress $tests)
rc=$?
set -e
if ((rc)); then
  cat "$out/regression.diffs" >&2 || true
  cp "$out/regression.diffs" "$HERE/regression.diffs" 2>/dev/null || true
  mkdir -p "$HERE/results"; cp "$out"/results/*.out "$HERE/results/" 2>/dev/null || true
fi
rm -rf "$out"
exit $rc
