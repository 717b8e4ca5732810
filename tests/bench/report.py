#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""The table of `make bench`, from the raw results of tests/bench/host.sh
and tests/bench/vm.sh (lines "sample|value|info ...", see lib.sh).

    report.py [--txt FILE] [--json FILE] [--md FILE] RAW...

prints the table (plain text), and below it the second chance's, one per
half that measured it (host.sh: anypind; vm.sh: anypin.ko), and writes
them to the given files; --md gives the same tables in Markdown, for
docs/bench.md.
"""

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

# Columns: a datapath and its ratio; a cell is blank where a block does not
# run that datapath (anypind on the host, anypin.ko in the VM).
MODES = [("anypind", "anypind"), ("kmod", "anypin.ko"), ("dnat", "DNAT")]
BLOCKS = [("host", "host"), ("vm", "VM (qemu TCG)")]

# Path metrics: name, label, whether lower is better.
PATH = [
    ("bulk1", "bulk, 1 stream (Gbit/s)", False),
    ("bulk8", "bulk, 8 streams (Gbit/s)", False),
    ("bulkR", "bulk, 1 stream, -R (Gbit/s)", False),
    ("conn1", "connections/s, 1 client", False),
    ("conn8", "connections/s, 8 clients", False),
    ("hs50", "handshake p50 (us)", True),
    ("hs99", "handshake p99 (us)", True),
]

# anypind's own CPU time during the bulk runs (host.sh: user + system of
# its process, /proc/PID/stat, over the run's wall time), on the client
# and on the instance that serves: metric, label; samples "cpu.HOST.METRIC".
CPU = [
    ("bulk1", "anypind CPU, bulk 1 stream (%, client/inst1)"),
    ("bulk8", "anypind CPU, bulk 8 streams (%, client/inst1)"),
    ("bulkR", "anypind CPU, bulk 1 stream, -R (%, client/inst1)"),
]
CPU_HOSTS = ["client", "inst1"]

# The second chance, of each datapath in its half (lib.sh's sc_rounds:
# anypind's on the host, anypin.ko's in the VM): a client without anypin;
# sc_off (no instance: nothing stamped), sc_direct (the second chance on, A
# routed to inst1), sc_fwd (on, A moved to inst2 once the connection is up:
# inst2 forwards the client's segments to inst1). Metric, label, lower is
# better.
SC = [
    ("scbulk1", "bulk, 1 stream, the client sends (Gbit/s)", False),
    ("scbulkR", "bulk, 1 stream, -R (Gbit/s)", False),
    ("rr50", "round trip p50 (us)", True),
    ("rr99", "round trip p99 (us)", True),
]
# The halves that measure it, each its own table, titled in the first column.
SC_BLOCKS = [("host", "second chance (host, anypind)"),
             ("vm", "second chance (VM, anypin.ko)")]
# The columns after that title: the reference, then each mode and its
# ratio(s).
SC_HEAD = ["off", "direct", "ratio", "forwarded", "ratio", "fwd/direct"]
# sc_fwd's counters over each measurement, values "COUNTER.NAME.rROUND":
# the measurements and the counters (inst2's, inst2's, inst1's).
SC_RUNS = [("scbulk1", "bulk, the client sends"), ("scbulkR", "bulk, -R"),
           ("rr", "round trips")]
SC_COUNTERS = ["sc_forwarded", "sc_limited", "sc_tunnel"]

GOALS = [
    ("bulk1", "module bulk throughput, 1 stream", 0.98),
    ("bulk8", "module bulk throughput, 8 streams", 0.98),
    ("conn1", "module connection rate, 1 client", 0.95),
    ("conn8", "module connection rate, 8 clients", 0.95),
]


def num(s):
    try:
        v = float(s)
    except ValueError:
        return math.nan
    return v


def load(paths):
    samples = {}   # (block, metric, mode) -> {round: value}
    values = {}    # (block, metric, mode) -> value
    info = {}      # block -> [(key, text)]
    for p in paths:
        with open(p) as f:
            for line in f:
                w = line.split()
                if len(w) >= 6 and w[0] == "sample":
                    samples.setdefault((w[1], w[2], w[3]), {})[w[4]] = num(w[5])
                elif len(w) >= 4 and w[0] == "value":
                    values[(w[1], w[2], w[3])] = num(w[4]) if len(w) > 4 else math.nan
                elif len(w) >= 3 and w[0] == "info":
                    info.setdefault(w[1], []).append((w[2], " ".join(w[3:])))
    return samples, values, info


def ok(xs):
    return [x for x in xs if not math.isnan(x)]


def median(xs):
    xs = ok(xs)
    return statistics.median(xs) if xs else math.nan


def fmt(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.2f" % v


def fratio(r):
    if r is None or math.isnan(r[0]):
        return "-"
    if r[1] is None or math.isnan(r[1]) or r[1] == r[2]:
        return "%.2f" % r[0]
    return "%.2f (%.2f-%.2f)" % r


def paired(without, with_, lower):
    """Ratio per round (same round of both modes): median, min, max."""
    rs = []
    for k, a in without.items():
        b = with_.get(k, math.nan)
        if math.isnan(a) or math.isnan(b) or a == 0 or b == 0:
            continue
        rs.append(a / b if lower else b / a)
    if not rs:
        return None
    return (statistics.median(rs), min(rs), max(rs))


def against(ref, at, lower):
    """Ratio of the samples at a table size to the reference (empty) ones:
    median over median, and the widest pairs as the range."""
    ref, at = ok(ref), ok(at)
    if not ref or not at or 0 in ref or 0 in at:
        return None
    m = median(at) / median(ref)
    lo, hi = min(at) / max(ref), max(at) / min(ref)
    if lower:
        m, lo, hi = 1 / m, 1 / hi, 1 / lo
    return (m, lo, hi)


class Table:
    def __init__(self, head=None):
        if head is None:
            head = ["metric", "without"]
            for _, name in MODES:
                head += [name, "ratio"]
        self.head = head
        self.rows = []   # ("section", text) or ("row", columns)

    def section(self, text):
        self.rows.append(("section", text))

    def row(self, label, without, cells):
        """cells: mode -> (value text, ratio text)"""
        cols = [label, without]
        for mode, _ in MODES:
            cols += list(cells.get(mode, ("", "")))
        self.rows.append(("row", cols))

    def add(self, cols):
        self.rows.append(("row", cols))

    def text(self):
        head = self.head
        lines = []
        body = self.rows
        widths = [len(h) for h in head]
        for r in body:
            if r[0] == "row":
                widths = [max(w, len(c)) for w, c in zip(widths, r[1])]
        line = "  ".join(h.ljust(widths[0]) if i == 0 else h.rjust(widths[i])
                         for i, h in enumerate(head))
        lines.append(line)
        lines.append("-" * len(line))
        for r in body:
            if r[0] == "section":
                lines.append(r[1])
            else:
                lines.append("  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])
                                       for i, c in enumerate(r[1])))
        return "\n".join(lines)

    def markdown(self):
        head = self.head
        out = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        for r in self.rows:
            if r[0] == "section":
                out.append("| **%s** |" % r[1] + " |" * (len(head) - 1))
                continue
            out.append("| " + " | ".join(c.replace("|", "/") for c in r[1]) + " |")
        return "\n".join(out)


def build(samples, values, info):
    t = Table()
    summary = {"rows": [], "goals": []}
    for block, title in BLOCKS:
        modes = sorted({k[2] for k in samples if k[0] == block} |
                       {k[2] for k in values if k[0] == block})
        if not modes:
            continue
        t.section(title)
        for metric, label, lower in PATH:
            wo = samples.get((block, metric, "without"))
            if not wo:
                continue
            cells = {}
            for mode, _ in MODES:
                w = samples.get((block, metric, mode))
                if not w:
                    continue
                r = paired(wo, w, lower)
                cells[mode] = (fmt(median(w.values())), fratio(r))
                summary["rows"].append({
                    "block": block, "metric": metric, "label": label,
                    "mode": mode, "without": median(wo.values()),
                    "with": median(w.values()), "ratio": r and r[0],
                    "ratio_min": r and r[1], "ratio_max": r and r[2],
                    "lower_is_better": lower,
                    "rounds_without": wo, "rounds_with": w})
            label2 = label + (" (ratio without/with)" if lower else "")
            t.row(label2, fmt(median(wo.values())), cells)
        cpu_rows(t, block, samples, summary)
        table_rows(t, block, samples, values, summary)
    return t, summary


def cpu_rows(t, block, samples, summary):
    """anypind's CPU during the bulk runs: one row per metric, the medians
    of the client's and the instance's as "client/instance"."""
    for metric, label in CPU:
        cells = {}
        for mode, _ in MODES:
            ws = [samples.get((block, "cpu.%s.%s" % (h, metric), mode))
                  for h in CPU_HOSTS]
            if not all(ws):
                continue
            ms = [median(w.values()) for w in ws]
            cells[mode] = ("/".join(fmt(m) for m in ms), "")
            for h, w, m in zip(CPU_HOSTS, ws, ms):
                summary["rows"].append({
                    "block": block, "metric": "cpu.%s.%s" % (h, metric),
                    "label": label, "mode": mode, "with": m, "rounds_with": w})
        if cells:
            t.row(label, "-", cells)


def table_rows(t, block, samples, values, summary):
    def v(metric, mode):
        return values.get((block, metric, mode), math.nan)

    sizes = []
    for (b, metric, _), _ in values.items():
        if b == block and metric.startswith("mem@") and metric[4:] not in sizes:
            sizes.append(metric[4:])
    if not sizes:
        return
    for at in sizes:
        cells = {}
        for mode, _ in MODES:
            x = v("mem@" + at, mode)
            if not math.isnan(x):
                cells[mode] = (fmt(x), "")
                summary["rows"].append({"block": block, "metric": "mem@" + at,
                                        "mode": mode, "with": x})
        t.row("memory per flow, %s flows (bytes)" % at, "-", cells)
    for at in sizes:
        cells = {}
        for mode, _ in MODES:
            x, s = v("mem@" + at, mode), v("slabsize", mode)
            if not math.isnan(x) and not math.isnan(s):
                cells[mode] = (fmt(x - s), "")
        if cells:
            t.row("  of which beyond the entry, %s flows" % at, "-", cells)
    cells = {}
    for mode, _ in MODES:
        o, s = v("objsize", mode), v("slabsize", mode)
        if not math.isnan(o):
            cells[mode] = ("%s/%s" % (fmt(o), fmt(s)), "")
    if cells:
        t.row("entry object/slab size (bytes)", "-", cells)
    for what in ["lookup", "insert"]:
        for at in sizes:
            cells = {}
            for mode, _ in MODES:
                x = v("%s_ns@%s" % (what, at), mode)
                if not math.isnan(x):
                    cells[mode] = (fmt(x), "")
            if cells:
                t.row("%s, %s flows (ns, table alone)" % (what, at), "-", cells)
    # The path with the table full, against the same path from a client
    # whose table is empty (MODE.ctl, paired by round), or else against
    # itself with the table almost empty (@0, before and after).
    for metric, label, lower in [("conn1", "connections/s", False),
                                 ("hs50", "handshake p50 (us)", True),
                                 ("hs99", "handshake p99 (us)", True),
                                 ("bulk1", "bulk, 1 stream (Gbit/s)", False)]:
        for at in ["0"] + sizes:
            cells = {}
            for mode, _ in MODES:
                got = samples.get((block, "%s@%s" % (metric, at), mode))
                ctl = samples.get((block, "%s@%s" % (metric, at), mode + ".ctl"))
                ref = samples.get((block, metric + "@0", mode))
                if not got:
                    continue
                if ctl:
                    r, base = paired(ctl, got, lower), ctl
                elif ref and at != "0":
                    r, base = against(list(ref.values()), list(got.values()), lower), ref
                else:
                    continue
                cells[mode] = (fmt(median(got.values())), fratio(r))
                summary["rows"].append({
                    "block": block, "metric": "%s@%s" % (metric, at), "mode": mode,
                    "reference": "control client" if ctl else "empty table",
                    "reference_value": median(base.values()),
                    "with": median(got.values()),
                    "ratio": r and r[0], "ratio_min": r and r[1],
                    "ratio_max": r and r[2], "rounds_reference": base,
                    "rounds_with": got})
            if cells:
                t.row("%s, %s flows in the table" % (label, at), "-", cells)
    for at in ["0"] + sizes:
        cells = {}
        for mode, _ in MODES:
            x = v("idlecpu@" + at, mode)
            if not math.isnan(x):
                cells[mode] = (fmt(x), "")
        if cells:
            t.row("idle guest CPU, %s flows (%% of one CPU)" % at, "-", cells)
    for at in ["0"] + sizes:
        cells = {}
        for mode, _ in MODES:
            x, m, n = v("gc@" + at, mode), v("gc_max@" + at, mode), v("gc_runs@" + at, mode)
            if not math.isnan(x):
                cells[mode] = ("%s/%s/%s" % (fmt(x), fmt(m), fmt(n)), "")
        if cells:
            t.row("expiry work, %s flows (%% CPU/longest ms/runs)" % at, "-", cells)
    for at in sizes:
        cells = {}
        for mode, _ in MODES:
            x = v("fill_rate@" + at, mode)
            if not math.isnan(x):
                cells[mode] = (fmt(x), "")
        if cells:
            t.row("SYNs/s while filling to %s flows" % at, "-", cells)


def sc_table(samples, values, summary, block, title):
    """The second chance's table of one half (block): sc_direct and sc_fwd
    against sc_off (the stamp's cost), and sc_fwd against sc_direct
    (forwarded/direct), as paired ratios; then sc_fwd's counters. None
    when that half did not measure it."""
    t = Table([title] + SC_HEAD)
    for metric, label, lower in SC:
        got = {m: samples.get((block, metric, m)) for m in ["sc_off", "sc_direct", "sc_fwd"]}
        if not any(got.values()):
            continue
        cols = [label + (" (ratios inverted)" if lower else "")]
        for mode in ["sc_off", "sc_direct", "sc_fwd"]:
            w = got[mode]
            cols.append(fmt(median(w.values())) if w else "-")
            if mode == "sc_off":
                continue
            refs = [("sc_off", got["sc_off"])]
            if mode == "sc_fwd":
                refs.append(("sc_direct", got["sc_direct"]))
            for ref, base in refs:
                r = paired(base, w, lower) if base and w else None
                cols.append(fratio(r))
                if r is None:
                    continue
                summary["rows"].append({
                    "block": block, "metric": metric, "label": label, "mode": mode,
                    "reference": ref, "reference_value": median(base.values()),
                    "with": median(w.values()), "ratio": r[0], "ratio_min": r[1],
                    "ratio_max": r[2], "lower_is_better": lower,
                    "rounds_reference": base, "rounds_with": w})
        t.add(cols)
    if not t.rows:
        return None
    for name, label in SC_RUNS:
        ms = []
        for c in SC_COUNTERS:
            pre = "%s.%s.r" % (c, name)
            ms.append(median([v for (b, m, mode), v in values.items()
                              if b == block and mode == "sc_fwd" and m.startswith(pre)]))
        if all(math.isnan(m) for m in ms):
            continue
        cols = ["  sc_forwarded/limited/tunnel, %s" % label, "", "", "",
                "/".join("-" if math.isnan(m) else "%.0f" % m for m in ms), "", ""]
        t.add(cols)
    return t


def goals(summary):
    out = []
    for metric, what, goal in GOALS:
        for r in summary["rows"]:
            if r["block"] == "vm" and r["metric"] == metric and r["mode"] == "kmod" \
                    and r.get("ratio") is not None:
                m, lo, hi = r["ratio"], r["ratio_min"], r["ratio_max"]
                if lo >= goal:
                    verdict = "reached in every round"
                elif m >= goal:
                    verdict = "reached (median; not in every round)"
                elif hi >= goal:
                    verdict = "not reached (median; some rounds did)"
                else:
                    verdict = "not reached in any round"
                out.append("%s >= %.2f: %.2f (rounds %.2f-%.2f): %s" %
                           (what, goal, m, lo, hi, verdict))
                summary["goals"].append({"goal": what, "target": goal, "ratio": m,
                                         "min": lo, "max": hi, "verdict": verdict})
    for r in summary["rows"]:
        if r["block"] == "vm" and r["mode"] == "kmod" and r["metric"].startswith("mem@"):
            x = r["with"]
            # No entry added, a failed count: nothing measured, nothing reached.
            if not x > 0:
                verdict = "not measured"
            else:
                verdict = "reached" if x <= 128 else "not reached"
            out.append("module memory per flow <= 128 bytes, %s flows: %.0f: %s" %
                       (r["metric"][4:], x, verdict))
            summary["goals"].append({"goal": "memory per flow " + r["metric"][4:],
                                     "target": 128, "value": x, "verdict": verdict})
    return out


def clean(x):
    """NaN (a failed measurement) as null: JSON has no NaN."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--txt")
    ap.add_argument("--json")
    ap.add_argument("--md")
    ap.add_argument("raw", nargs="+")
    a = ap.parse_args()
    raws = [p for p in a.raw if os.path.exists(p)]
    if not raws:
        sys.stderr.write("report.py: no results (%s)\n" % " ".join(a.raw))
        return 1
    samples, values, info = load(raws)
    t, summary = build(samples, values, info)
    scs = [sc for sc in (sc_table(samples, values, summary, block, title)
                         for block, title in SC_BLOCKS) if sc]
    head = ["make bench, %s, %s" % (time.strftime("%Y-%m-%d %H:%M %Z"), platform.node())]
    for block, title in BLOCKS:
        for k, text in info.get(block, []):
            head.append("%s %s: %s" % (title, k, text))
    g = goals(summary)
    notes = [
        "Medians of the rounds; ratio = with/without (for latency without/with),",
        "the median of the per-round ratios and (in brackets) their range.",
        "Rows 'N flows in the table': the same path with N other (half-open)",
        "entries in the table; ratio against a second client whose table is",
        "empty, measured alternately (anypin.ko), or against the table almost",
        "empty before and after (DNAT: conntrack's table is one for all",
        "namespaces). Their value column is the full table's.",
        "anypind CPU: user + system time of the client's and the serving",
        "instance's anypind over each bulk run's wall time, % of one core.",
        "VM numbers are emulated (TCG): only ratios within the VM block mean anything.",
    ]
    if scs:
        notes += [
            "Second chance, of each datapath in its own half (anypind's tc",
            "programs on the host, anypin.ko in the VM; ratios within a table",
            "only): a client without anypin; off = no instance (nothing",
            "stamped; anypind loads no tc program), direct = on with A at",
            "inst1, forwarded = on with A moved to inst2 after the connection",
            "was up (inst2 forwards the client's segments to inst1). Ratios to",
            "off (the second chance's cost), and fwd/direct (what forwarding",
            "adds); latency ratios inverted, so below 1 is worse. The",
            "counters: inst2's sc_forwarded and sc_limited and inst1's",
            "sc_tunnel per forwarded measurement, medians of the rounds.",
        ]
    text = "\n".join(head) + "\n\n" + t.text() + "\n\n"
    for sc in scs:
        text += sc.text() + "\n\n"
    text += "\n".join(notes) + "\n"
    if g:
        text += "\ngoals (anypin.ko, VM):\n" + "\n".join("  " + x for x in g) + "\n"
    sys.stdout.write(text)
    if a.txt:
        with open(a.txt, "w") as f:
            f.write(text)
    if a.md:
        with open(a.md, "w") as f:
            f.write("\n".join(head) + "\n\n" + t.markdown() + "\n")
            for sc in scs:
                f.write("\n" + sc.markdown() + "\n")
            if g:
                f.write("\n" + "\n".join("- " + x for x in g) + "\n")
    if a.json:
        summary["head"] = head
        summary["info"] = info
        summary["values"] = {" ".join(k): v for k, v in values.items()}
        with open(a.json, "w") as f:
            json.dump(clean(summary), f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
