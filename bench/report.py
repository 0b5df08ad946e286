#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The x86 side of `make bench`: turn the blobs that bench/host-bench.sh
wrote on the emulated host's console into build/bench/results.json, a table
on the terminal and build/bench/boot.png (gnuplot).

  report.py collect CONSOLE_LOG OUT_JSON [--meta K=V ...] [--prev PREV_JSON]
  report.py table RESULTS_JSON [--prev PREV_JSON]
  report.py plot RESULTS_JSON OUT_PNG

A blob is a sequence of console lines "=ARMVMD-BENCH= NAME TEXT" closed by
"=ARMVMD-BENCH-END= NAME BYTES RC"; the figures of all blobs are merged in
order.  Every figure is {id, title, rows: [{label, unit, armvmd: STATS,
floor: STATS, ratio}], notes}; the table prints any such figure, so a new
figure needs no change here.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

EMULATED_NOTE = ("measured inside an emulated arm64 host (qemu-system-aarch64 TCG, "
                 "virtualization=on, nested KVM): absolute values are emulated-hardware "
                 "numbers, not what a real arm64 machine gives; compare the ratios to "
                 "the floor, which were measured in the same run")

# the bars of the issue (real hardware; for orientation only)
BARS = [
    ("Firecracker: boot to guest init", "125 ms"),
    ("Firecracker: VMM memory per microVM", "< 5 MiB (about 2.5 MB measured)"),
    ("Firecracker: creation rate", "5 microVMs per core per second"),
    ("QEMU on arm64 KVM: userspace MMIO exit", "about 2.3 us"),
]


def collect(console, out, meta, prev):
    blobs, order = {}, []
    ends = {}
    with open(console, errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            i = line.find("=ARMVMD-BENCH")
            if i < 0:
                continue
            line = line[i:]
            if line.startswith("=ARMVMD-BENCH= "):
                parts = line.split(" ", 2)
                name = parts[1]
                if name not in blobs:
                    blobs[name] = []
                    order.append(name)
                blobs[name].append(parts[2] if len(parts) > 2 else "")
            elif line.startswith("=ARMVMD-BENCH-END= "):
                parts = line.split()
                if len(parts) >= 4:
                    ends[parts[1]] = (int(parts[2]), int(parts[3]))
    result = {"figures": [], "samples": {}, "errors": [], "tools": {}}
    if not order:
        result["errors"].append("no benchmark output on the host's console")
    for name in order:
        text = "".join(blobs[name])
        try:
            doc = json.loads(text)
        except ValueError as e:
            result["errors"].append("%s: malformed output (%s; %d bytes, %s expected)"
                                    % (name, e, len(text.encode()),
                                       ends.get(name, ("?",))[0]))
            continue
        if name not in ends:
            result["errors"].append("%s: output not closed (the host stopped?)" % name)
        result["figures"].extend(doc.get("figures", []))
        result["samples"].update(doc.get("samples", {}))
        result["errors"].extend("%s: %s" % (name, e) for e in doc.get("errors", []))
        result["tools"][name] = {k: v for k, v in doc.items()
                                 if k not in ("figures", "samples", "errors")}
    result["environment"] = dict(kv.split("=", 1) for kv in meta)
    result["environment"]["emulated"] = True
    result["environment"]["note"] = EMULATED_NOTE
    result["bars"] = [{"what": a, "value": b} for a, b in BARS]
    if prev and os.path.exists(prev):
        result["previous"] = os.path.basename(prev)
    with open(out + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    os.replace(out + ".tmp", out)
    return result


def fmt(x):
    if x is None:
        return "-"
    a = abs(x)
    if a >= 1000:
        return "%.0f" % x
    if a >= 100:
        return "%.1f" % x
    if a >= 10:
        return "%.2f" % x
    return "%.3f" % x


def stat(s, k):
    return fmt(s.get(k)) if isinstance(s, dict) else "-"


def prev_ratios(prev):
    out = {}
    if not prev or not os.path.exists(prev):
        return out
    try:
        with open(prev) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return out
    for fig in doc.get("figures", []):
        for r in fig.get("rows", []):
            out[(fig.get("id"), r.get("label"))] = r
    return out


def table(res, prev=None):
    old = prev_ratios(prev)
    env = res.get("environment", {})
    w = sys.stdout.write
    w("\narmvmd benchmark")
    if env.get("commit"):
        w(" at %s" % env["commit"])
    if env.get("date"):
        w(", %s" % env["date"])
    w("\n")
    host = next(iter(res.get("tools", {}).values()), {}).get("host", {})
    if host:
        w("host: %s, %s CPUs, Linux %s (%s)\n" % (env.get("host_label", "arm64 host"),
          host.get("cpus"), host.get("kernel"), host.get("model", "").strip("\0")))
    if env.get("qemu"):
        w("platform: %s\n" % env["qemu"])
    w("NOTE: %s.\n" % EMULATED_NOTE)
    tool = res.get("tools", {}).get("armvmd", {})
    fs = tool.get("params", {}).get("state_dir_fs")
    if fs:
        w("the daemons' state directory: on %s\n" % fs)
    for k, v in sorted(tool.get("counters", {}).items()):
        w("counts, %s: %s\n" % (k, v))
    if old:
        w("last column: the ratio of the previous run (%s)\n" % res.get("previous", "?"))
    cols = ["", "unit", "median", "p99", "floor med", "floor p99", "ratio"]
    if old:
        cols.append("prev")
    rows = []
    for fig in res.get("figures", []):
        rows.append(("title", fig.get("title", fig.get("id", "?"))))
        notes = fig.get("notes") or {}
        if notes.get("skipped"):
            rows.append(("note", "skipped: %s" % notes["skipped"]))
        short = ["%s: %s" % (k, v) for k, v in notes.items()
                 if k != "skipped" and len(str(v)) < 80]
        if short:
            rows.append(("note", "; ".join(short)))
        for r in fig.get("rows", []):
            a, f = r.get("armvmd"), r.get("floor")
            cells = ["  " + r.get("label", "?"), r.get("unit", ""), stat(a, "median"),
                     stat(a, "p99"), stat(f, "median"), stat(f, "p99"),
                     ("x" + fmt(r["ratio"])) if r.get("ratio") is not None else "-"]
            if old:
                o = old.get((fig.get("id"), r.get("label")), {})
                cells.append(("x" + fmt(o["ratio"])) if o.get("ratio") is not None else "-")
            rows.append(("row", cells))
    width = [len(c) for c in cols]
    for kind, cells in rows:
        if kind == "row":
            width = [max(wd, len(c)) for wd, c in zip(width, cells)]
    width[0] = min(width[0], 72)

    def line(cells):
        out = cells[0][:width[0]].ljust(width[0])
        for wd, c in zip(width[1:], cells[1:]):
            out += "  " + c.rjust(wd)
        return out.rstrip() + "\n"

    w("\n" + line(cols))
    for kind, cells in rows:
        if kind == "title":
            w(cells + "\n")
        elif kind == "note":
            w("  (" + cells + ")\n")
        else:
            w(line(cells))
    w("\nratio: armvmd's median over the floor's (for rates the floor's over armvmd's):\n"
      "how many times the floor's cost armvmd pays.  Floors: kvm-floor (the fewest KVM\n"
      "ioctls running the same bare-metal guest) and a raw Unix-socket echo.\n")
    w("\nthe bars (real hardware, for orientation only):\n")
    for b in res.get("bars", []):
        w("  %-42s %s\n" % (b["what"], b["value"]))
    if res.get("errors"):
        w("\nerrors:\n")
        for e in res["errors"]:
            w("  %s\n" % e)


def cdf_file(d, name, values):
    path = os.path.join(d, name + ".dat")
    v = sorted(x for x in values if x is not None)
    with open(path, "w") as f:
        if v:
            f.write("%g 0\n" % v[0])
        for i, x in enumerate(v):
            f.write("%g %g\n" % (x, (i + 1) / len(v)))
    return path if v else None


def plot(res, png):
    if not shutil.which("gnuplot"):
        print("report: gnuplot not found: no plot (make deps installs gnuplot-nox)",
              file=sys.stderr)
        return 1
    s = res.get("samples", {})
    d = tempfile.mkdtemp(prefix="armvmd-bench-plot.")
    try:
        a = cdf_file(d, "armvmd", s.get("start_armvmd_ms", []))
        f = cdf_file(d, "floor", s.get("start_floor_ms", []))
        lx = cdf_file(d, "linux", s.get("linux_init_ms", []))
        g = ['set terminal pngcairo size 1200,520 noenhanced font ",10"'
             if term_ok("pngcairo") else 'set terminal png size 1200,520',
             'set output "%s"' % png,
             'set multiplot layout 1,2 title "armvmd boot times (emulated arm64 host: '
             'compare ratios, not absolute values)"',
             'set grid', 'set key bottom right', 'set ylabel "fraction of runs"',
             'set yrange [0:1.05]', 'set logscale x']
        g += ['set title "start to first guest instruction (bare-metal guest)"',
              'set xlabel "ms (log scale)"']
        lv = cdf_file(d, "linuxvmm", s.get("linux_vmm_ms", []))

        def series(path, color, title):
            return ['"%s" using 1:2 with steps lw 2 lc rgb "%s" title "%s"' % (path, color, title),
                    '"%s" using 1:2 every ::1 with points pt 7 ps 0.7 lc rgb "%s" notitle'
                    % (path, color)]

        p = []
        if a:
            p += series(a, "#8030c0", "armvmd: vm.create+vm.start")
        if f:
            p += series(f, "#10a080", "floor: kvm-floor fork+exec")
        g.append("plot " + ", ".join(p) if p else
                 'set label "no samples" at graph 0.4,0.5; plot 2 notitle')
        g += ['unset label',
              'set title "Linux boot to init (Debian kernel, busybox init)"',
              'set xlabel "ms (log scale)"']
        p = []
        if lx:
            p += series(lx, "#8030c0", "armvmd: vm.create -> init")
        if lv:
            p += series(lv, "#d07010", "its VMM share: vm.create -> vCPU runs")
        g.append("plot " + ", ".join(p) if p else
                 'set label "not measured" at graph 0.4,0.5; plot 2 notitle')
        g.append("unset multiplot")
        r = subprocess.run(["gnuplot"], input="\n".join(g) + "\n", text=True,
                           capture_output=True)
        if r.returncode:
            print("report: gnuplot failed: %s" % r.stderr.strip(), file=sys.stderr)
            return 1
        return 0
    finally:
        shutil.rmtree(d, ignore_errors=True)


def term_ok(name):
    r = subprocess.run(["gnuplot", "-e", "set terminal %s" % name],
                       capture_output=True, text=True)
    return r.returncode == 0 and "unknown" not in r.stderr.lower()


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "collect" and len(argv) >= 4:
        meta, prev, rest = [], None, argv[4:]
        while rest:
            if rest[0] == "--meta" and len(rest) > 1:
                meta.append(rest[1])
                rest = rest[2:]
            elif rest[0] == "--prev" and len(rest) > 1:
                prev = rest[1]
                rest = rest[2:]
            else:
                print("report: unknown argument %s" % rest[0], file=sys.stderr)
                return 2
        res = collect(argv[2], argv[3], meta, prev)
        return 1 if res["errors"] else 0
    with open(argv[2]) as f:
        res = json.load(f)
    if cmd == "table":
        prev = argv[4] if len(argv) > 4 and argv[3] == "--prev" else None
        table(res, prev)
        return 0
    if cmd == "plot" and len(argv) >= 4:
        return plot(res, argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
