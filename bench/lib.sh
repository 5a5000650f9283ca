# Shared by bench/run.sh and bench/ab.sh: sourced, not run (they define say and die).

# Runs a command as the postgres OS user when root (PostgreSQL refuses to run as root).
as_pg() { if [[ $(id -u) == 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }

port_free() { ! (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; }
free_port() {  # first free port in 55600-55699 at or after $1, skipping $2
  local p
  for ((p = $1; p <= 55699; p++)); do
    [[ $p != "${2:-}" ]] && port_free "$p" && { echo "$p"; return; }
  done
  die "no free port in $1-55699"
}

# The tables the extension owns, as one list for TRUNCATE: a "first sync" empties them all.
EXTENSION_TABLES_SQL="SELECT string_agg(format('%I.%I', n.nspname, c.relname), ', ' ORDER BY c.relname)
                        FROM pg_depend d
                        JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
                        JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
                         AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'openrouter_registry')
                         AND c.relkind IN ('r', 'p')"
