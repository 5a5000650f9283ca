# Shared by setup.sh, demo.sh, test.sh: sourced, not run.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_BIN=/usr/lib/postgresql/15/bin
PG_CONFIG=$PG_BIN/pg_config
PGRX_VERSION=0.18.0
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Postgres refuses to run as root, and the extension installs into the system's
# PostgreSQL directories: run as root, or re-run this script through sudo.
need_root() {
  if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null || die "run as root, or install sudo"
    exec sudo --preserve-env=PATH,CARGO_HOME,RUSTUP_HOME,OPENROUTER_API_URL,OPENROUTER_API_KEY,CI \
      env HOME="$HOME" "$0" "$@"
  fi
}

# Runs a command as the postgres OS user.
as_pg() { (cd / && runuser -u postgres -- "$@"); }

# A throwaway cluster: as postgres, TCP on 127.0.0.1 only, trust auth, pg_cron preloaded.
cluster_start() {  # DIR PORT
  local dir=$1 port=$2
  if [[ -f $dir/postmaster.pid ]] && as_pg "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    return 0
  fi
  if [[ ! -f $dir/PG_VERSION ]]; then
    rm -rf "$dir"; mkdir -p "$dir"; chmod 700 "$dir"; chown postgres:postgres "$dir"
    as_pg "$PG_BIN/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$dir/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
shared_preload_libraries = 'pg_cron${EXTRA_PRELOAD:+,$EXTRA_PRELOAD}'
cron.database_name = 'postgres'
cron.host = '127.0.0.1'
CONF
    echo "host all all 127.0.0.1/32 trust" >"$dir/pg_hba.conf"
    echo "local all all trust" >>"$dir/pg_hba.conf"
  fi
  as_pg "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null \
    || { cat "$dir/server.log" >&2; die "the cluster in $dir did not start"; }
}

cluster_stop() {  # DIR
  [[ -f $1/PG_VERSION ]] && as_pg "$PG_BIN/pg_ctl" -D "$1" -m fast -w stop >/dev/null 2>&1 || true
}

# Starts scripts/serve.py on 127.0.0.1 with an ephemeral port; sets SERVE_PID and SERVE_PORT.
serve_start() {  # FILE [extra args]
  local file=$1; shift
  local port_file; port_file=$(mktemp)
  python3 "$ROOT/scripts/serve.py" "$file" 0 --port-file "$port_file" "$@" &
  SERVE_PID=$!
  for _ in $(seq 100); do
    [[ -s $port_file ]] && break
    kill -0 "$SERVE_PID" 2>/dev/null || die "serve.py did not start"
    sleep 0.1
  done
  SERVE_PORT=$(cat "$port_file"); rm -f "$port_file"
  [[ -n $SERVE_PORT ]] || die "serve.py did not report its port"
}
