#!/usr/bin/env bash
# An installable tree of the extension for one PostgreSQL major (release build, `cargo pgrx
# package` against that major's headers), laid out for copying into a server you already run:
#
#   PG_MAJOR=17 scripts/package.sh     -> target/package/openrouter_registry-<version>-pg17/
#       lib/openrouter_registry.so                       into $(pg_config --pkglibdir)
#       extension/openrouter_registry.control            into $(pg_config --sharedir)/extension
#       extension/openrouter_registry--<version>.sql     (the install script)
#       extension/openrouter_registry--A--B.sql          (every upgrade script in sql/)
#     and the same tree as a .tar.gz beside it.
#
# PG_MAJOR is 15 (default: Debian's), 16, 17 or 18 (installed from PyPI by setup.sh). A build
# is for one major only: a .so built for 17 is refused by a 16 or 18 server. README.md, "Installing
# into a server you already run", has the copy commands.
source "$(dirname "$0")/common.sh"
need_root "$@"
PG_MAJORS=$PG_MAJOR "$ROOT/scripts/setup.sh" --no-install
cd "$ROOT"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
name=openrouter_registry-$version-pg$PG_MAJOR
staging=target/package/staging-pg$PG_MAJOR
out=target/package/$name
rm -rf "$staging" "$out" "$out.tar.gz"
say "cargo pgrx package --pg-config $PG_CONFIG (a release build for PostgreSQL $PG_MAJOR)"
cargo pgrx package --pg-config "$PG_CONFIG" --out-dir "$staging" 2>&1 | grep -vE '^\s+(Compiling|Checking)' >&2
# cargo pgrx lays the files out under the build server's own absolute paths: flatten them.
mkdir -p "$out/lib" "$out/extension"
cp "$staging$("$PG_CONFIG" --pkglibdir)/openrouter_registry.so" "$out/lib/"
cp "$staging$("$PG_CONFIG" --sharedir)"/extension/openrouter_registry* "$out/extension/"
rm -rf "$staging"
tar -czf "$out.tar.gz" -C target/package "$name"
say "PostgreSQL $PG_MAJOR: $out (and $out.tar.gz)"
(cd "$out" && find . -type f | sort)
