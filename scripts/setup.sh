#!/usr/bin/env bash
# Installs what building and testing need, skipping what is already there:
# Debian packages, cargo-pgrx (pinned), pgrx's config for the system PostgreSQL 15,
# and the extension itself (release build) into that PostgreSQL.
source "$(dirname "$0")/common.sh"
need_root "$@"

packages=(postgresql-15 postgresql-server-dev-15 postgresql-15-cron libclang-dev clang pkg-config
          sudo curl python3 build-essential ca-certificates)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Debian's package starts a system cluster on 5432; this project never uses it.

command -v cargo >/dev/null || die "Rust (cargo) is required: https://rustup.rs"
if [[ $(cargo pgrx --version 2>/dev/null) != "cargo-pgrx $PGRX_VERSION" ]]; then
  say "cargo install cargo-pgrx $PGRX_VERSION (about 6 minutes, once)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi
if ! grep -qs "pg15" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
  say "cargo pgrx init --pg15 $PG_CONFIG"
  cargo pgrx init --pg15 "$PG_CONFIG" >/dev/null
fi

if [[ ${1:-} != --no-install ]]; then
  say "building and installing openrouter_registry into PostgreSQL 15"
  (cd "$ROOT" && cargo pgrx install --release --pg-config "$PG_CONFIG" 2>&1 | grep -vE '^\s+(Compiling|Checking)' >&2)
fi
