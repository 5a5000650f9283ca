#!/usr/bin/env python3
"""session_sync.py URL DSN -- one openrouter_sync(force => true), timed the way
../shared/peers/seed_style.py times itself: from connecting to the end of the last statement,
in one Python process whose interpreter start is not counted. Prints the sync's JSON summary
with "seconds" added. bench/run.sh compares this figure with seed_style's (same clock, same
client library); its psql-timed run of the same sync is the one compared with sql_only.sh,
which starts psql inside its own figure."""
import json
import sys
import time

import psycopg

if len(sys.argv) != 3:
    sys.exit("usage: session_sync.py URL DSN")
url, dsn = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
with psycopg.connect(dsn, autocommit=True) as conn:
    conn.execute("SELECT set_config('openrouter.api_url', %s, false), "
                 "set_config('openrouter.max_response_bytes', '200MB', false)", (url,))
    out = conn.execute("SELECT openrouter_sync(force => true)").fetchone()[0]
out["seconds"] = round(time.perf_counter() - t0, 4)
print(json.dumps(out))
