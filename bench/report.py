#!/usr/bin/env python3
"""Report helpers for bench/run.sh (stdlib only).

report.py table RESULTS.jsonl REPORT_DIR     medians, ratios, PASS/MISS per target
report.py rss PREFIX_FIRST PREFIX_RESYNC     peak backend memory of the sampled syncs
report.py cheapest LABEL PREFIX              plan and latency of cheapest_models(100000)
report.py phases RESULTS.jsonl SERVER_LOG    where our timed syncs spent their time
report.py diag SERVER_LOG                    per-SPI-statement times (auto_explain, json)
report.py read CLASS QUERY < TIMES           one read's median execution time, PASS/MISS
"""
import json, os, re, statistics, sys
from datetime import datetime, timezone

MB = 1024 * 1024
# Targets of the issue (ratios measured in the same run).
MAX_OURS_OVER_SQL_ONLY = 0.5
MIN_SEED_STYLE_OVER_OURS = 20.0
MAX_RSS_OVER_PAYLOAD = 4.0
MAX_CHEAPEST_MS = 5.0
INDEX = "openrouter_model_state_live_by_price_idx"
# Issue 20, item 13: a question about one model (or a top-N list), and a full view or a pass
# over every model, at 100 times the registry.
MAX_READ_MS = {"q": 50.0, "v": 1000.0}

LOG_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC \[(\d+)\] (.*?): "
    r"(DEBUG\d?|INFO|NOTICE|WARNING|ERROR|LOG|FATAL|PANIC|DETAIL|HINT|CONTEXT|STATEMENT):  (.*)$")


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def verdict(ok):
    return "PASS" if ok else "MISS"


def read_log(path):
    """[(epoch seconds, pid, application_name, level, message with continuation lines)]"""
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = LOG_LINE.match(line)
            if m:
                ts = datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)
                out.append([ts.timestamp(), int(m[2]), m[3], m[4], m[5]])
            elif out and line.startswith("\t"):
                out[-1][4] += "\n" + line[1:]
    return out


def load_results(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    for r in rows:
        r["wall"] = r["t1"] - r["t0"]
        # the peers time themselves (seed_style: connect and fetch to last statement; sql_only:
        # its psql call); ours is timed end to end by the client (psql start, connect, SETs,
        # sync), ours_session by session_sync.py the way seed_style times itself.
        r["s"] = r["wall"] if r["contender"] == "ours" else float(r["out"]["seconds"])
    return rows


# ------------------------------------------------------------------------------ table
def cmd_table(results, report_dir):
    rows = load_results(results)
    payloads = list(dict.fromkeys(r["payload"] for r in rows))
    contenders = ["ours", "ours_session", "sql_only", "seed_style"]
    med = {}
    for p in payloads:
        for c in contenders:
            for ph in ("first", "resync"):
                med[p, c, ph] = median([r["s"] for r in rows if (r["payload"], r["contender"], r["phase"]) == (p, c, ph)])
    n_runs = {p: sum(1 for r in rows if (r["payload"], r["contender"], r["phase"]) == (p, "ours", "first")) for p in payloads}
    print(f"==== median seconds per contender over {', '.join(f'{n} runs at {p}' for p, n in n_runs.items())} (first = into empty tables, re-sync = unchanged data)")
    print(f"{'payload':<8} {'contender':<11} {'models':>7} {'first sync s':>13} {'re-sync s':>10}   all runs (first / re-sync)")
    for p in payloads:
        for c in contenders:
            models = next((r["out"].get("models") for r in rows if (r["payload"], r["contender"]) == (p, c)), "?")
            runs = lambda ph: " ".join(f"{r['s']:.3f}" for r in rows if (r["payload"], r["contender"], r["phase"]) == (p, c, ph))
            print(f"{p:<8} {c:<11} {models:>7} {med[p, c, 'first']:>13.3f} {med[p, c, 'resync']:>10.3f}   {runs('first')} / {runs('resync')}")
    print()
    print(f"==== targets (ratios of the medians above; ours/sql_only <= {MAX_OURS_OVER_SQL_ONLY}, seed_style/ours >= {MIN_SEED_STYLE_OVER_OURS:g})")
    print("each peer is compared with ours timed the way it times itself: sql_only with ours end to end around")
    print("psql (both start psql), seed_style with ours_session (both from connect to the last statement)")
    print(f"{'payload':<8} {'phase':<9} {'ours s':>8} {'sql_only s':>10} {'ours_session s':>14} {'seed_style s':>12}   {'ours/sql_only':>13}        {'seed_style/ours_session':>23}")
    checks = []
    for p in payloads:
        for ph, name in (("first", "first"), ("resync", "re-sync")):
            o, q = med[p, "ours", ph], med[p, "sql_only", ph]
            os_, s = med[p, "ours_session", ph], med[p, "seed_style", ph]
            r1, r2 = o / q, s / os_
            ok1, ok2 = r1 <= MAX_OURS_OVER_SQL_ONLY, r2 >= MIN_SEED_STYLE_OVER_OURS
            checks += [ok1, ok2]
            print(f"{p:<8} {name:<9} {o:>8.3f} {q:>10.3f} {os_:>14.3f} {s:>12.3f}   {r1:>12.2f}x {verdict(ok1)}   {r2:>22.1f}x {verdict(ok2)}")
    extra = []
    try:
        v = json.load(open(os.path.join(report_dir, "verdict-rss.json")))
        checks.append(v["ok"])
        extra.append(f"peak backend memory (VmHWM, counting the shared buffers it touched) during the {v['payload_label']}: {v['peak_kB'] / 1024:.0f} MB = "
                     f"{v['ratio']:.2f}x the {v['payload_bytes'] / MB:.1f} MB payload (target <= {MAX_RSS_OVER_PAYLOAD:g}x): {verdict(v['ok'])}")
        if "private_ok" in v:
            checks.append(v["private_ok"])
            extra.append(f"peak private backend memory (RssAnon, sampled every 10 ms) during the {v['payload_label']}: {v['private_kB'] / 1024:.0f} MB = "
                         f"{v['private_ratio']:.2f}x the payload (target <= {MAX_RSS_OVER_PAYLOAD:g}x): {verdict(v['private_ok'])}")
    except FileNotFoundError:
        extra.append("peak backend memory: not measured")
    for name in sorted(f for f in os.listdir(report_dir) if f.startswith("verdict-cheapest-")):
        v = json.load(open(os.path.join(report_dir, name)))
        checks.append(v["ok"])
        extra.append(f"cheapest_models(100000), {v['label']}: median {v['client_ms']:.2f} ms client-side "
                     f"({v['exec_ms']:.3f} ms execution), index scan: {'yes' if v['index'] else 'no'} "
                     f"(target < {MAX_CHEAPEST_MS:g} ms via {INDEX}): {verdict(v['ok'])}")
    for line in extra:
        print(line)
    print(f"targets met: {sum(checks)} of {len(checks)}")


# ------------------------------------------------------------------------------ rss
def status_file(path):
    vals = {}
    for line in open(path):
        k, _, v = line.partition(":")
        vals[k] = int(v.split()[0])
    return vals


def cmd_rss(payload_label, *prefixes):
    worst = None
    for prefix in prefixes:
        label = {"first": "first sync", "resync": "re-sync"}.get(prefix.rsplit("rss-", 1)[-1], prefix)
        before, after = status_file(prefix + ".before"), status_file(prefix + ".after")
        sampled = json.load(open(prefix + ".json"))
        summary = json.loads(open(prefix + ".summary").read().strip().splitlines()[-1])
        payload = summary["bytes"]
        peak = after["VmHWM"]
        ratio = peak * 1024 / payload
        ps, at = sampled["kB_peak_sampled"], sampled["peak_at_s"]
        print(f"{payload_label} {label} ({summary['models']} models, payload {payload:,} bytes = {payload / MB:.1f} MB, "
              f"duration_ms {summary['duration_ms']}, {summary['inserted']} inserted, {summary['updated']} updated):")
        print(f"  VmHWM before {before['VmHWM'] / 1024:7.1f} MB, after {peak / 1024:7.1f} MB  -> peak RSS = {ratio:.2f}x the payload "
              f"(target <= {MAX_RSS_OVER_PAYLOAD:g}x: {verdict(ratio <= MAX_RSS_OVER_PAYLOAD)}); "
              f"growth during the sync {(peak - before['VmHWM']) / 1024:.1f} MB = {(peak - before['VmHWM']) * 1024 / payload:.2f}x")
        print(f"  sampled every 10 ms ({sampled['samples']} samples): peak VmRSS {ps['VmRSS'] / 1024:.1f} MB at {at['VmRSS']:.2f} s; "
              f"of which private (RssAnon) peaked at {ps['RssAnon'] / 1024:.1f} MB ({ps['RssAnon'] * 1024 / payload:.2f}x payload) at {at['RssAnon']:.2f} s, "
              f"shared buffers (RssShmem) {ps['RssShmem'] / 1024:.1f} MB, files (RssFile) {ps['RssFile'] / 1024:.1f} MB")
        print(f"  after the sync: VmRSS {after['VmRSS'] / 1024:.1f} MB (RssAnon {after['RssAnon'] / 1024:.1f} MB); "
              f"the backend had loaded {open(prefix + '.maps').read().strip()}")
        private = ps["RssAnon"] * 1024 / payload
        if worst is None or peak > worst["peak_kB"]:
            worst = {"peak_kB": peak, "payload_bytes": payload, "ratio": ratio, "label": label,
                     "ok": ratio <= MAX_RSS_OVER_PAYLOAD,
                     "private_kB": ps["RssAnon"], "private_ratio": private,
                     "private_ok": private <= MAX_RSS_OVER_PAYLOAD}
    worst["payload_label"] = f"{payload_label} {worst['label']}"
    json.dump(worst, open(os.path.join(os.path.dirname(prefixes[0]), "verdict-rss.json"), "w"))


# ------------------------------------------------------------------------------ cheapest
def cmd_cheapest(label, prefix):
    plan = open(prefix + ".plan").read().rstrip()
    client = [float(x) for x in re.findall(r"^Time: ([\d.]+) ms", open(prefix + ".timing").read(), re.M)]
    first_call, client = client[0], client[1:]  # the first call plans the function and warms the cache
    execs = [float(x.split()[0]) for x in open(prefix + ".exec") if x.strip()]
    index = bool(re.search(rf"Index (Only )?Scan( Backward)? using {INDEX}\b", plan))
    seq = "Seq Scan on things" in plan
    c_ms, e_ms = median(client), median(execs)
    m = re.search(r"actual time=[\d.]+\.\.[\d.]+ rows=(\d+)", plan)
    rows = int(m[1]) if m else 0
    ok = index and c_ms < MAX_CHEAPEST_MS and rows > 0
    analyzed, now, mods = open(prefix + ".stats").read().split()
    print(f"{label}:")
    print(f"  statistics of things: last (auto)analyze {analyzed}, now {now}, rows modified since: {mods}")
    print("  EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM cheapest_models(100000);")
    print("    " + plan.replace("\n", "\n    "))
    print(f"  index scan: {'yes' if index else 'no'} ({INDEX}){'; a Seq Scan on things is in the plan' if seq else ''}; "
          f"{rows} rows returned{' (none: nothing to measure)' if not rows else ''}")
    print(f"  latency over {len(client)} calls (psql \\timing, client side) after a first call of {first_call:.3f} ms: "
          f"median {c_ms:.3f} ms, min {min(client):.3f}, max {max(client):.3f}")
    after = open(prefix + ".stats-after").read().split()
    if after[0] != analyzed:
        print(f"  note: things was analyzed at {after[0]}, during these measurements (the plan above is from before)")
    print(f"  EXPLAIN ANALYZE execution time over {len(execs)} calls: median {e_ms:.3f} ms")
    print(f"  target < {MAX_CHEAPEST_MS:g} ms with the index: {verdict(ok)}")
    print()
    json.dump({"label": label, "client_ms": c_ms, "exec_ms": e_ms, "index": index, "ok": ok},
              open(os.path.join(os.path.dirname(prefix), "verdict-" + os.path.basename(prefix) + ".json"), "w"))


# ------------------------------------------------------------------------------ phases
def cmd_phases(results, log):
    rows = [r for r in load_results(results) if r["contender"] == "ours"]
    notices = {}
    for ts, pid, app, level, msg in read_log(log):
        # Progress is logged at DEBUG1, the summary as a NOTICE ("openrouter_sync stored ...").
        if level in ("NOTICE", "DEBUG") and msg.startswith("openrouter: "):
            notices.setdefault(app, []).append((ts, msg[len("openrouter: "):]))
    table = {}
    for r in rows:
        ev = notices.get(r["app"], [])
        fetched = [ts for ts, m in ev if m.startswith("fetched page")]
        mapped = [ts for ts, m in ev if m.startswith("mapped")]
        stored = [ts for ts, m in ev if m.startswith("stored") or m.startswith("openrouter_sync stored")]
        if not (fetched and mapped and stored):
            continue
        d = table.setdefault((r["payload"], r["phase"]), {k: [] for k in ("fetch", "map", "store", "end", "total", "dur")})
        d["fetch"].append(fetched[-1] - r["t0"])
        d["map"].append(mapped[-1] - fetched[-1])
        d["store"].append(stored[-1] - mapped[-1])
        d["end"].append(r["t1"] - stored[-1])
        d["total"].append(r["wall"])
        d["dur"].append(r["out"]["duration_ms"] / 1000)
    if not table:
        print("(no NOTICE timings found in the server log)")
        return
    print("fetch = client start to 'fetched page' (psql start, connect, SETs, HTTP GET, first parse to find links.next);")
    print("map = 'fetched' to 'mapped' (parse + map in Rust); store = 'mapped' to 'stored' (lock, read prior rows, diff,")
    print("SPI writes); end = 'stored' to client exit (summary, commit, psql exit). Server log times have 1 ms resolution.")
    print(f"{'payload':<8} {'phase':<8} {'fetch s':>8} {'map s':>8} {'store s':>8} {'end s':>8} {'total s':>8} {'duration_ms':>12}")
    for (p, ph), d in table.items():
        print(f"{p:<8} {ph:<8} {median(d['fetch']):>8.3f} {median(d['map']):>8.3f} {median(d['store']):>8.3f} "
              f"{median(d['end']):>8.3f} {median(d['total']):>8.3f} {median(d['dur']) * 1000:>12.1f}")


# ------------------------------------------------------------------------------ diag
def cmd_diag(log):
    runs = {}
    for ts, pid, app, level, msg in read_log(log):
        if not app.startswith("bench:diag:") or level != "LOG":
            continue
        m = re.match(r"duration: ([\d.]+) ms  plan:\n(.*)", msg, re.S)
        if not m:
            continue
        try:
            plan = json.loads(m[2])
        except ValueError:
            continue
        runs.setdefault({"first": "first sync", "resync": "re-sync"}.get(app.split(":")[-1]), []).append((float(m[1]), plan))
    if not runs:
        print("(no auto_explain output found in the server log)")
        return
    for phase, stmts in runs.items():
        top = [s for s in stmts if "openrouter_sync" in s[1].get("Query Text", "") and "SELECT openrouter_sync" in s[1]["Query Text"]]
        total = top[-1][0] if top else None
        nested = [s for s in stmts if not (top and s is top[-1])]
        # foreign-key checks run inside the statement that fired them: count, do not add
        fk = [s for s in nested if s[1].get("Query Text", "").startswith("SELECT 1 FROM ONLY")]
        nested = [s for s in nested if s not in fk]
        spent = sum(d for d, _ in nested)
        if fk:
            print(f"{phase}: {len(fk)} foreign-key checks (one per inserted row that references another table) "
                  f"ran inside the statements below, {sum(d for d, _ in fk):.0f} ms in all")
        print(f"{phase}: openrouter_sync() took {total:.0f} ms; its {len(nested)} SPI statements of >= 1 ms: {spent:.0f} ms "
              f"({100 * spent / total:.0f}%), the rest (fetch, parse, map, diff, Rust<->SPI conversion) {total - spent:.0f} ms"
              if total else f"{phase}: {len(stmts)} statements")
        groups = {}  # the same statement run in batches counts once, with its calls summed
        for d, p in nested:
            q = " ".join(p.get("Query Text", "").split())
            g = groups.setdefault(q, {"ms": 0.0, "calls": 0, "wal": 0, "hit": 0, "read": 0, "dirtied": 0,
                                      "node": p.get("Plan", {}).get("Node Type", "?")})
            node = p.get("Plan", {})
            g["ms"] += d; g["calls"] += 1
            g["wal"] += node.get("WAL Bytes", 0) or 0
            g["hit"] += node.get("Shared Hit Blocks", 0); g["read"] += node.get("Shared Read Blocks", 0)
            g["dirtied"] += node.get("Shared Dirtied Blocks", 0)
        for q, g in sorted(groups.items(), key=lambda x: -x[1]["ms"])[:10]:
            print(f"  {g['ms']:9.1f} ms  {g['calls']:>3}x  {q[:90]}{'...' if len(q) > 90 else ''}")
            print(f"  {'':9}          {g['node']}, buffers hit {g['hit']} read {g['read']} dirtied {g['dirtied']}"
                  + (f", WAL {g['wal'] / MB:.1f} MB" if g["wal"] else ""))
        print()


def cmd_read(class_, query):
    """Execution times (ms, one a line) on stdin: the median against the class's target."""
    times = [float(x) for x in sys.stdin.read().split()]
    limit = MAX_READ_MS[class_]
    if not times:
        print(f"{'':>10}    ERROR (< {limit:.0f} ms)  {query}   [it failed: see the plans]")
        return
    m = median(times)
    runs = " ".join(f"{t:.1f}" for t in times)
    print(f"{m:10.2f} ms {verdict(m < limit)} (< {limit:.0f} ms)  {query}   [runs: {runs}]")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"table": cmd_table, "rss": cmd_rss, "cheapest": cmd_cheapest, "phases": cmd_phases, "diag": cmd_diag, "read": cmd_read}[cmd](*args)
