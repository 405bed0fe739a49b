#!/usr/bin/env python3
"""Prints bench/compare.sh's results as a Markdown table: one row per store, shape, client count
and stored history, with each server's median over rounds and the ratio dtmd / each other server
(DTM, dtmrs, or another dtmd configuration such as dtmd-nohistory or dtmd-compact;
a dtmd configuration also gets its ratio to DTM and dtmrs). A server that did not run a
shape (dtmrs has no tcc) shows "-"."""
import json
import statistics
import sys
from collections import defaultdict

LABELS = {"dtm": "DTM", "dtmrs": "dtmrs"}


def median(values):
    return statistics.median(values) if values else None


def fmt(v, digits=0):
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


def summary(rs):
    """(tx/s, p50, p99, server CPU ms/tx, peak RSS MiB, store CPU ms/tx, errors) of one server."""
    tps = median([r["tps"] for r in rs])
    p50 = median([r["p50_ms"] for r in rs])
    p99 = median([r["p99_ms"] for r in rs])
    cpu = median([1000.0 * r["server_cpu_s"] / r["count"] for r in rs
                  if r.get("server_cpu_s") is not None and r.get("count")])
    rss = median([r["server_peak_rss_kb"] / 1024.0 for r in rs
                  if r.get("server_peak_rss_kb") is not None])
    # Store-server CPU covers the warm-up too: divided by the transactions of warm-up and window,
    # estimated at the measured rate.
    scpu = median([1000.0 * r["store_cpu_s"] / (r["tps"] * (r["warmup_s"] + r["window_s"]))
                   for r in rs if r.get("store_cpu_s") is not None and r.get("tps")])
    errors = sum(r.get("errors", 0) + r.get("unverified", 0) for r in rs)
    return tps, p50, p99, cpu, rss, scpu, errors


def main():
    results_path = sys.argv[1]
    settings = open(sys.argv[2]).read().strip() if len(sys.argv) > 2 else ""
    runs = defaultdict(lambda: defaultdict(list))  # key -> server -> [result]
    names = []  # servers in order of appearance, dtmd first
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
    names.sort(key=lambda n: (n != "dtmd", not n.startswith("dtmd")))
    label = {n: LABELS.get(n, n) for n in names}
    # Ratios: dtmd against every other server; another dtmd configuration (dtmd-compact)
    # against the other implementations too.
    pairs = [(b, o) for b in names if b.startswith("dtmd") for o in names
             if o != b and (b == "dtmd" or not o.startswith("dtmd"))]

    print()
    for s in settings.splitlines():
        print(f"    {s}")
    print()
    head = ["store", "shape", "clients", "history"]
    head += [f"{label[n]} tx/s" for n in names]
    head += [f"{label[b]} / {label[o]}" for b, o in pairs]
    head += [f"{label[n]} p50 / p99 ms" for n in names]
    head += [f"{label[n]} CPU ms/tx" for n in names]
    head += ["store CPU ms/tx " + " / ".join(label[n] for n in names)]
    head += [f"{label[n]} peak RSS MiB" for n in names]
    head += ["errors"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for key in sorted(runs, key=lambda k: (k[0], k[1], k[2], k[3])):
        store, mode, clients, history = key
        cols = {n: summary(runs[key].get(n, [])) for n in names}
        row = [store, mode, str(clients), str(history)]
        row += [fmt(cols[n][0]) for n in names]
        row += [f"{cols[b][0] / cols[o][0]:.2f}x" if cols[b][0] and cols[o][0] else "-"
                for b, o in pairs]
        row += [f"{fmt(cols[n][1], 1)} / {fmt(cols[n][2], 1)}" for n in names]
        row += [fmt(cols[n][3], 3) for n in names]
        row += [" / ".join(fmt(cols[n][5], 3) for n in names)]
        row += [fmt(cols[n][4], 0) for n in names]
        row += [str(sum(cols[n][6] for n in names))]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
