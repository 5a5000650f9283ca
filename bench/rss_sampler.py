#!/usr/bin/env python3
"""rss_sampler.py PID OUT [INTERVAL_S] -- sample /proc/PID/status until PID exits or SIGTERM.

Writes OUT (JSON) on exit: the backend's VmHWM/VmRSS at start and at the end, and the largest
VmRSS / RssAnon / RssFile / RssShmem seen (kB), with the seconds since start of the peak.
VmHWM is the kernel's own high-water mark of the process's RSS, so it is exact even between
samples; the sampled Rss* values show what the peak consisted of (private heap vs shared
buffers vs mapped files)."""
import json, signal, sys, time

pid, out = sys.argv[1], sys.argv[2]
interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.01
KEYS = ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem")


def read():
    vals = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in KEYS:
                    vals[k] = int(v.split()[0])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return vals


stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)
t0 = time.monotonic()
first = read() or {}
last = first
peak = {k: first.get(k, 0) for k in KEYS}
peak_at = {k: 0.0 for k in KEYS}
samples = 0
while not stop:
    v = read()
    if v is None:
        break
    samples += 1
    last = v
    now = time.monotonic() - t0
    for k in KEYS:
        if v.get(k, 0) > peak[k]:
            peak[k], peak_at[k] = v[k], round(now, 3)
    time.sleep(interval)
json.dump({"pid": int(pid), "kB_at_start": first, "kB_at_end": last, "kB_peak_sampled": peak,
           "peak_at_s": peak_at, "samples": samples,
           "seconds": round(time.monotonic() - t0, 3)}, open(out, "w"))
