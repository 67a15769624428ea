#!/usr/bin/env python3
"""How a no-op build scales with the size of the catalogue.

For each N in --sizes (default 10000,50000,200000): a tree of N tiny PNG
sources (8x8, all distinct) in nested folders c{i%200}/b{i%10}/p{i}.png,
a .thumbgen.toml with three variants (256 jpeg, 640 webp, 1280 jpeg), one
untimed build (the cold build the first time, a no-op afterwards) and one
untimed warm-up no-op; then R timed no-op runs of

    thumbgen build -j2 --quiet --json

per N, interleaved round-robin over the sizes so that machine noise hits
every size alike. Each run's wall time is taken around the child process
(time.perf_counter) and its peak RSS from the child's rusage (os.wait4).
Every timed run must exit 0 and its JSON summary must say built 0, removed
0, failed 0 and up to date 3N.

Trees are kept under --work and reused by the next run (a marker file
records what was made); delete a tree's folder to have it made again.

Python 3 standard library only.

    python3 bench/noop_scale.py target/release/thumbgen
    python3 bench/noop_scale.py target/release/thumbgen --sizes 10000 --runs 3
"""

import argparse
import datetime
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import BenchError, log, snapshot_binary  # noqa: E402,F401
from compare import read_json, write_json  # noqa: E402

VARIANTS = [
    dict(name="s", width=256, height=256, format="jpeg", quality=80),
    dict(name="m", width=640, height=640, format="webp", quality=80),
    dict(name="l", width=1280, height=1280, format="jpeg", quality=80),
]
LAYOUT = 1  # bump when the generated tree changes, so old trees are remade


# --------------------------------------------------------------------------
# the tree

def png_chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


PNG_HEAD = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
PNG_END = png_chunk(b"IEND", b"")


def tiny_png(i):
    """An 8x8 RGB PNG whose pixels depend on i: every source is distinct."""
    rows = []
    for y in range(8):
        row = bytearray([0])  # filter: none
        for x in range(8):
            v = (i * 31 + x * 7 + y * 13) & 0xFF
            row += bytes((v, (i >> 8) & 0xFF, (i >> 16) ^ (x * y) & 0xFF))
        rows.append(bytes(row))
    return PNG_HEAD + png_chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + PNG_END


def source_rel(i):
    return os.path.join("c%d" % (i % 200), "b%d" % (i % 10), "p%d.png" % i)


def write_config(path):
    lines = ["# written by bench/noop_scale.py", 'source = "src"', 'output = "out"', ""]
    for v in VARIANTS:
        lines += ["[[variants]]", 'name = "%s"' % v["name"], "width = %d" % v["width"],
                  "height = %d" % v["height"], 'format = "%s"' % v["format"],
                  "quality = %d" % v["quality"], ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def ensure_tree(work, n):
    """WORK/nN with src/ of N sources and its config; made once, then reused."""
    tree = os.path.join(work, "n%d" % n)
    marker = os.path.join(tree, ".bench-tree.json")
    want = {"n": n, "layout": LAYOUT}
    if read_json(marker) == want:
        return tree
    log("n=%d: writing %d tiny PNGs into %s ..." % (n, n, tree))
    if os.path.lexists(tree):
        shutil.rmtree(tree)
    src = os.path.join(tree, "src")
    made = set()
    t0 = time.perf_counter()
    for i in range(n):
        rel = source_rel(i)
        folder = os.path.dirname(rel)
        if folder not in made:
            os.makedirs(os.path.join(src, folder), exist_ok=True)
            made.add(folder)
        with open(os.path.join(src, rel), "wb") as f:
            f.write(tiny_png(i))
    write_config(os.path.join(tree, ".thumbgen.toml"))
    write_json(marker, want)
    log("n=%d: tree written in %.0f s" % (n, time.perf_counter() - t0))
    return tree


# --------------------------------------------------------------------------
# runs

def run_build(tg, tree, jobs, timeout):
    """One `thumbgen build`: wall seconds, peak RSS (KiB), exit code, the
    JSON summary event (or None) and the last lines of stderr."""
    argv = [tg, "build", "-j%d" % jobs, "--quiet", "--json"]
    out_p = os.path.join(tree, ".bench-last.out")
    err_p = os.path.join(tree, ".bench-last.err")
    with open(out_p, "wb") as out, open(err_p, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=tree, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=err)
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise BenchError("no result after %d s in %s (see --timeout)" % (timeout, tree))
            time.sleep(0.002)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    summary = None
    with open(out_p, errors="replace") as f:
        for line in f:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("type") == "summary":
                summary = event
    with open(err_p, errors="replace") as f:
        err_tail = "\n".join("    " + l for l in f.read().splitlines()[-15:])
    return {"wall_s": wall, "maxrss_kb": usage.ru_maxrss, "exit_code": proc.returncode,
            "user_s": usage.ru_utime, "sys_s": usage.ru_stime, "summary": summary,
            "stderr_tail": err_tail}


def check_noop(res, n, what):
    s = res["summary"]
    problems = []
    if res["exit_code"] != 0:
        problems.append("exit code %d" % res["exit_code"])
    if s is None:
        problems.append("no JSON summary on stdout")
    else:
        got = {k: s.get(k) for k in ("built", "moved", "removed", "failed", "up_to_date")}
        if got != {"built": 0, "moved": 0, "removed": 0, "failed": 0, "up_to_date": 3 * n}:
            problems.append("summary %s, expected nothing built and up to date %d"
                            % (got, 3 * n))
    if problems:
        raise BenchError("SANITY CHECK FAILED (%s, n=%d): %s\n  stderr (last lines):\n%s"
                         % (what, n, "; ".join(problems), res["stderr_tail"]))


def prime(tg, tree, n, jobs, timeout):
    """The cold build (or a no-op if the tree is built already), then a
    warm-up no-op; neither is timed."""
    log("n=%d: first build (untimed; the cold build takes minutes at 200k)..." % n)
    t0 = time.perf_counter()
    res = run_build(tg, tree, jobs, timeout)
    s = res["summary"] or {}
    if res["exit_code"] != 0 or s.get("failed") != 0 \
            or s.get("built", 0) + s.get("up_to_date", 0) + s.get("moved", 0) != 3 * n:
        raise BenchError("first build failed in %s: exit %d, summary %s\n%s"
                         % (tree, res["exit_code"], s, res["stderr_tail"]))
    log("n=%d: first build: built %d, up to date %d in %.1f s"
        % (n, s.get("built", 0), s.get("up_to_date", 0), time.perf_counter() - t0))
    check_noop(run_build(tg, tree, jobs, timeout), n, "warm-up no-op")


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, val = line.partition(":")
                if key.strip() == "model name":
                    model = val.strip()
                    break
    except OSError:
        pass
    return {"nproc": len(os.sched_getaffinity(0)), "cpu_model": model,
            "loadavg_at_start": list(os.getloadavg())}


def report(meta, stats):
    m = meta["machine"]
    lines = ["# thumbgen no-op scaling", "",
             "- machine: %d cores, %s, load average at start %s"
             % (m["nproc"], m["cpu_model"], " ".join("%.2f" % x for x in m["loadavg_at_start"])),
             "- thumbgen: %s (%s)" % (meta["thumbgen"]["version"], meta["thumbgen"]["path"]),
             "- %d timed no-op runs per size, `build -j%d --quiet --json`, interleaved; "
             "3 variants per source" % (meta["runs"], meta["jobs"]), "",
             "| sources | outputs | median wall s | min–max s | median CPU s "
             "| median peak RSS MB | µs per source | per source × smallest |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    base = None
    for s in stats:
        per = s["wall_median_s"] / s["n"] * 1e6
        base = base or per
        lines.append("| %d | %d | %.3f | %.3f–%.3f | %.2f | %.0f | %.2f | %.2f |"
                     % (s["n"], 3 * s["n"], s["wall_median_s"], s["wall_min_s"],
                        s["wall_max_s"], s["cpu_median_s"], s["maxrss_median_mb"], per,
                        per / base))
    return "\n".join(lines) + "\n"


def parse_args(argv):
    ap = argparse.ArgumentParser(description="Time no-op builds of N tiny sources x 3 "
                                             "variants for several N (see bench/README.md).")
    ap.add_argument("thumbgen", help="the thumbgen binary (e.g. target/release/thumbgen)")
    ap.add_argument("--work", default="/tmp/thumbgen-noop-scale", metavar="DIR",
                    help="where the trees, logs and results go (default %(default)s)")
    ap.add_argument("--sizes", default="10000,50000,200000", metavar="LIST",
                    help="comma-separated numbers of sources (default %(default)s)")
    ap.add_argument("--runs", type=int, default=7, metavar="R",
                    help="timed no-op runs per size (default %(default)s)")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="thumbgen -j (default 2)")
    ap.add_argument("--timeout", type=int, default=3600, metavar="S",
                    help="per run, in seconds (default %(default)s)")
    args = ap.parse_args(argv)
    try:
        args.sizes = sorted({int(x) for x in args.sizes.split(",") if x.strip()})
    except ValueError:
        ap.error("--sizes must be a comma-separated list of integers")
    if not args.sizes or min(args.sizes) < 1:
        ap.error("--sizes must list positive numbers")
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    args.work = os.path.abspath(args.work)
    return args


def main(argv):
    args = parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    tg, tg_info = snapshot_binary(args.thumbgen, args.work)
    meta = {"machine": machine(), "thumbgen": tg_info, "runs": args.runs, "jobs": args.jobs,
            "started": datetime.datetime.now().isoformat(timespec="seconds")}
    trees = {n: ensure_tree(args.work, n) for n in args.sizes}
    for n in args.sizes:
        prime(tg, trees[n], n, args.jobs, args.timeout)
    runs = {n: [] for n in args.sizes}
    for r in range(args.runs):
        # Rotate the order each round, so no size always runs first.
        order = args.sizes[r % len(args.sizes):] + args.sizes[:r % len(args.sizes)]
        for n in order:
            res = run_build(tg, trees[n], args.jobs, args.timeout)
            check_noop(res, n, "timed no-op, round %d" % (r + 1))
            res.pop("stderr_tail")
            res["round"] = r + 1
            runs[n].append(res)
            log("round %d, n=%d: %.3f s, %.0f MB" % (r + 1, n, res["wall_s"],
                                                    res["maxrss_kb"] / 1024))
    stats = []
    for n in args.sizes:
        walls = [x["wall_s"] for x in runs[n]]
        stats.append({"n": n, "wall_median_s": statistics.median(walls),
                      "wall_min_s": min(walls), "wall_max_s": max(walls),
                      "cpu_median_s": statistics.median(x["user_s"] + x["sys_s"]
                                                        for x in runs[n]),
                      "maxrss_median_mb": statistics.median(x["maxrss_kb"]
                                                            for x in runs[n]) / 1024})
    text = report(meta, stats)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    write_json(os.path.join(args.work, "results-noop-scale-%s.json" % stamp),
               {"meta": meta, "stats": stats, "runs": runs})
    with open(os.path.join(args.work, "results-noop-scale.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except BenchError as e:
        log("error: %s" % e)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
