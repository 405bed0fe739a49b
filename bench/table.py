#!/usr/bin/env python3
"""Prints bench/compare.sh's results as a Markdown table: one row per store, shape, client count
and stored history, with each server's median over rounds and the ratio dtmd / the other server
(DTM, or another dtmd configuration such as dtmd-nohistory)."""
import json
import statistics
import sys
from collections import defaultdict


def median(values):
    return statistics.median(values) if values else None


def fmt(v, digits=0):
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


def main():
    results_path = sys.argv[1]
    settings = open(sys.argv[2]).read().strip() if len(sys.argv) > 2 else ""
    runs = defaultdict(lambda: defaultdict(list))  # key -> server -> [result]
    names = []  # servers in order of appearance
    for line in open(results_path):
        line = line.strip()
        if not line:
            continue
        row = json.loads(line)
        r = row.get("result")
        if not r:
            continue
        key = (row["store"], r["mode"], r["concurrency"], row.get("history", 0))
        r = dict(r)
        r["store_cpu_s"] = row.get("store_cpu_s")
        runs[key][row["server"]].append(r)
        if row["server"] not in names:
            names.append(row["server"])
    other = next((n for n in names if n != "dtmd"), "dtm")
    label = "DTM" if other == "dtm" else other

    print()
    for s in settings.splitlines():
        print(f"    {s}")
    print()
    print(f"| store | shape | clients | history | dtmd tx/s | {label} tx/s | dtmd / {label}"
          f" | dtmd p50 / p99 ms | {label} p50 / p99 ms | dtmd CPU ms/tx | {label} CPU ms/tx"
          f" | store CPU ms/tx dtmd / {label} | dtmd peak RSS MiB | {label} peak RSS MiB | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key in sorted(runs, key=lambda k: (k[0], k[1], k[2], k[3])):
        store, mode, clients, history = key
        cols = {}
        errors = 0
        for server in ("dtmd", other):
            rs = runs[key].get(server, [])
            errors += sum(r.get("errors", 0) + r.get("unverified", 0) for r in rs)
            tps = median([r["tps"] for r in rs])
            p50 = median([r["p50_ms"] for r in rs])
            p99 = median([r["p99_ms"] for r in rs])
            cpu = median([1000.0 * r["server_cpu_s"] / r["count"] for r in rs
                          if r.get("server_cpu_s") is not None and r.get("count")])
            rss = median([r["server_peak_rss_kb"] / 1024.0 for r in rs
                          if r.get("server_peak_rss_kb") is not None])
            # Store-server CPU includes the warm-up second(s); per transaction it is an estimate.
            scpu = median([1000.0 * r["store_cpu_s"] / r["count"] for r in rs
                           if r.get("store_cpu_s") is not None and r.get("count")])
            cols[server] = (tps, p50, p99, cpu, rss, scpu)
        d, t = cols["dtmd"], cols[other]
        ratio = f"{d[0] / t[0]:.2f}x" if d[0] and t[0] else "-"
        print(f"| {store} | {mode} | {clients} | {history} | {fmt(d[0])} | {fmt(t[0])} | {ratio}"
              f" | {fmt(d[1], 1)} / {fmt(d[2], 1)} | {fmt(t[1], 1)} / {fmt(t[2], 1)}"
              f" | {fmt(d[3], 3)} | {fmt(t[3], 3)} | {fmt(d[5], 3)} / {fmt(t[5], 3)}"
              f" | {fmt(d[4], 0)} | {fmt(t[4], 0)} | {errors} |")


if __name__ == "__main__":
    main()
