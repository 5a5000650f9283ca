#!/usr/bin/env bash
# bench/ab.sh A.so B.so [...]: compares builds of the extension, alternating them on one
# throwaway cluster, for changes too small for bench/run.sh's run-to-run spread (a few
# percent, a few MB). Each variant syncs in a fresh backend, in rotating order, N times per
# payload and phase; prints the median server time (duration_ms) and the backend's peak
# memory (VmHWM, read from /proc after the sync) per variant.
#
#   git stash; cargo build --release --lib; cp target/release/libopenrouter_registry.so /tmp/a.so
#   git stash pop; cargo build --release --lib; cp target/release/libopenrouter_registry.so /tmp/b.so
#   N=8 PHASES="1:first 100:first" bench/ab.sh /tmp/a.so /tmp/b.so
#
# PHASES: SCALE:first (into emptied tables, after CHECKPOINT) or SCALE:resync (after an
# untimed sync of the same payload); default "1:first 1:resync 100:first 100:resync". The
# builds must match the installed SQL script (see bench/run.sh, "release build"). Same
# cluster settings as bench/run.sh (defaults, 127.0.0.1, no preloaded libraries); contacts
# nothing but 127.0.0.1. Run as root (the cluster runs as postgres) or as a user that may run
# PostgreSQL itself.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PEERS=${PEERS:-$(realpath -m "$ROOT/../shared/peers")}
FIXTURE=${FIXTURE:-$(realpath -m "$ROOT/../shared/fixtures/openrouter/models-2026-03-10.json")}
N=${N:-6}; PHASES=${PHASES:-"1:first 1:resync 100:first 100:resync"}
PG_BIN=/usr/lib/postgresql/15/bin

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'ab: error: %s\n' "$*" >&2; exit 1; }
(( $# >= 2 )) || die "usage: [N=6] [PHASES='1:first 100:first'] bench/ab.sh A.so B.so [...]"
[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer"
for so in "$@"; do [[ -f $so ]] || die "$so does not exist"; done
for ph in $PHASES; do [[ $ph =~ ^[1-9][0-9]*:(first|resync)$ ]] || die "bad phase $ph (SCALE:first or SCALE:resync)"; done
[[ -x $PG_BIN/postgres ]] || die "PostgreSQL 15 is not installed: run scripts/setup.sh first"
[[ -f $PEERS/serve.py && -f $FIXTURE ]] || die "$PEERS/serve.py or $FIXTURE not found"
[[ -r /proc/self/status ]] || die "needs /proc (Linux) for the backends' memory"

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

DIR=$(mktemp -d /tmp/openrouter-ab.XXXXXX); chmod 755 "$DIR"; mkdir -p "$DIR/lib" "$DIR/so"
PGDATA_DIR=$DIR/pgdata; CLUSTER_UP=0; SERVERS=()
cleanup() {
  for pid in "${SERVERS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  (( CLUSTER_UP )) && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null 2>&1
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Variants: copied in, named v1, v2, ... in the order given.
names=()
for so in "$@"; do
  names+=("v$(( ${#names[@]} + 1 ))")
  cp "$so" "$DIR/so/${names[-1]}.so"
  say "${names[-1]} = $so ($(stat -c %s "$so") bytes, sha256 $(sha256sum "$so" | cut -c1-12))"
done
chmod -R a+rX "$DIR"
use() {  # VARIANT: the .so the next backend loads (replaced whole: running backends keep theirs)
  cp "$DIR/so/$1.so" "$DIR/lib/.next.so" && mv "$DIR/lib/.next.so" "$DIR/lib/openrouter_registry.so"
}

PGPORT=$(free_port 55640)
mkdir -p "$PGDATA_DIR"; chmod 700 "$PGDATA_DIR"
[[ $(id -u) == 0 ]] && chown postgres:postgres "$PGDATA_DIR"
as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
cat >>"$PGDATA_DIR/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = ''
dynamic_library_path = '$DIR/lib:\$libdir'
EOF
echo "host all all 127.0.0.1/32 trust" >"$PGDATA_DIR/pg_hba.conf"
as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PGDATA_DIR/server.log" -w -t 60 start >/dev/null \
  || { cat "$PGDATA_DIR/server.log" >&2; die "the cluster did not start"; }
CLUSTER_UP=1
psql_() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$@"; }
use v1
psql_ postgres -c "CREATE DATABASE ab"
psql_ ab -c "CREATE EXTENSION openrouter_registry" >/dev/null
# As in bench/run.sh: an older control file's '$libdir/...' would bypass dynamic_library_path.
psql_ ab -c "UPDATE pg_proc SET probin = 'openrouter_registry' WHERE probin = '\$libdir/openrouter_registry'" >/dev/null
TABLES=$(psql_ ab -c "$EXTENSION_TABLES_SQL")

declare -A URL
for scale in $(for ph in $PHASES; do echo "${ph%%:*}"; done | sort -un); do
  port=$(free_port $(( PGPORT + 1 + ${#SERVERS[@]} )))
  python3 "$PEERS/serve.py" "$FIXTURE" "$port" --scale "$scale" >/dev/null 2>&1 &
  SERVERS+=($!)
  until [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ready") == 404 ]]; do
    kill -0 "${SERVERS[-1]}" 2>/dev/null || die "serve.py did not start (port $port)"
    sleep 0.2
  done
  URL[$scale]=http://127.0.0.1:$port/api/v1/models
done
sync_sql() { echo "SET openrouter.api_url = '${URL[$1]}'; SET openrouter.max_response_bytes = '200MB'; SET client_min_messages = warning; SELECT openrouter_sync(force => true)->>'duration_ms';"; }

run_one() {  # VARIANT SCALE PHASE: prints "duration_ms vmhwm_kB"
  local v=$1 scale=$2 phase=$3 pid d hwm
  use "$v"
  if [[ $phase == first ]]; then
    psql_ ab -c "SET client_min_messages = warning" -c "TRUNCATE $TABLES CASCADE" -c CHECKPOINT >/dev/null
  else
    psql_ ab -c "$(sync_sql "$scale")" >/dev/null
  fi
  coproc PSQL { psql_ ab 2>&1; }
  echo "SELECT pg_backend_pid();" >&"${PSQL[1]}"; read -r pid <&"${PSQL[0]}"
  sync_sql "$scale" >&"${PSQL[1]}"; read -r d <&"${PSQL[0]}"
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  echo '\q' >&"${PSQL[1]}"; wait "$PSQL_PID" 2>/dev/null || true
  [[ $d =~ ^[0-9.]+$ ]] || die "$v, ${scale}x $phase: the sync failed: $d"
  echo "$d $hwm"
}

RESULTS=$DIR/results.txt; : >"$RESULTS"
say "cluster 127.0.0.1:$PGPORT; N=$N; phases: $PHASES; variants in rotating order"
for ((i = 0; i < N; i++)); do
  for ph in $PHASES; do
    scale=${ph%%:*}; phase=${ph#*:}
    for ((j = 0; j < ${#names[@]}; j++)); do   # rotate the order every run
      v=${names[$(( (i + j) % ${#names[@]} ))]}
      out=$(run_one "$v" "$scale" "$phase")   # a failed sync ends the script here
      echo "$v $scale $phase $out" >>"$RESULTS"
    done
  done
  say "run $((i + 1))/$N done"
done

python3 - "$RESULTS" "$@" <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
paths = sys.argv[2:]
print(f"{'variant':8} {'payload':8} {'phase':7} {'median ms':>10} {'min-max ms':>17} {'VmHWM MB median (min-max)':>28}")
seen = []
for v, s, p, *_ in rows:
    if (s, p) not in seen: seen.append((s, p))
for s, p in seen:
    base = None
    for k, path in enumerate(paths):
        v = f"v{k + 1}"
        d = [float(r[3]) for r in rows if r[:3] == [v, s, p]]
        h = [int(r[4]) / 1024 for r in rows if r[:3] == [v, s, p]]
        med = st.median(d)
        base = base or med
        rel = "" if k == 0 else f"  ({100 * (med / base - 1):+.1f}% vs v1)"
        print(f"{v:8} {s + 'x':8} {p:7} {med:10.1f} {min(d):8.1f}-{max(d):<8.1f} "
              f"{st.median(h):10.1f} ({min(h):.1f}-{max(h):.1f}){rel}")
for k, path in enumerate(paths):
    print(f"v{k + 1} = {path}")
PY
