#!/usr/bin/env python3
"""Benchmark thumbgen against the tools a user would otherwise use.

Scenarios (pick with --scenarios, default all):
  cold      cold build, one 256 px JPEG q80 variant, -j2, vs image peers
  variants3 cold build with three variants (256 jpeg, 640 webp, 1280 jpeg)
            vs the 1280 jpeg variant alone, and vs the same three made by
            a Pillow script from one decode (pillow-three) and by libvips
            (vips-three)
  j1        cold build at -j1 vs -j2 (parallel scaling)
  noop      N tiny sources x 3 variants, all up to date: thumbgen vs
            ninja and make
  touched   every source's mtime changed, content identical (a fresh CI
            checkout): thumbgen must build nothing

Every round runs every contender once, in rotated (round-robin) order, each
under /usr/bin/time. Medians are printed as Markdown tables; raw runs go to
a JSON file in the work directory. See bench/README.md.

Python 3 standard library only (the no-op scenario's tiny JPEGs are made with
Pillow, imported only for that).
"""

import argparse
import datetime
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (  # noqa: E402,F401
    BenchError, log, machine_info, rmtree, snapshot_binary, toml_str)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The corpus generator and peer scripts live beside the checkout.
DEFAULT_SHARED = os.environ.get(
    "THUMBGEN_BENCH_SHARED", os.path.join(os.path.dirname(REPO), "shared", "bench"))
TIME_BIN = "/usr/bin/time"
TIME_FMT = "%e %U %S %M"
JOBS = 2  # the peers use 2 workers; thumbgen gets -j2 to match

IMAGE_PEERS = ["pillow-seq", "pillow-procpool", "pillow-draft", "pillow-fulldecode",
               "vips", "imagemagick", "floor-djpeg"]
PEERS_WITHOUT_OUTPUT = {"floor-djpeg"}  # decodes to /dev/null
PEER_EXTS = (".jpg", ".jpeg", ".png")
# what thumbgen treats as a source (README: "Sources are the files under
# source with an image extension")
THUMBGEN_EXTS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".tif", ".tiff", ".bmp")
SCENARIOS = ["cold", "variants3", "j1", "noop", "touched"]

V256 = dict(name="thumb", width=256, height=256, format="jpeg", quality=80)
V640 = dict(name="card", width=640, height=640, format="webp", quality=80)
V1280 = dict(name="large", width=1280, height=1280, format="jpeg", quality=80)


# --------------------------------------------------------------------------
# small helpers

def tail(path, n=15):
    try:
        with open(path, "r", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in lines[-n:])


def count_files(root):
    """Files under root, not counting the marker of a folder thumbgen owns."""
    n = 0
    for _dirpath, _dirs, files in os.walk(root):
        n += sum(1 for f in files if f != ".thumbgen-owned")
    return n


def sudo_prefix():
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo"):
        return ["sudo"]
    raise BenchError("need root or sudo to install Debian packages")


def apt_install(pkg):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = sudo_prefix() + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", pkg]
    if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode == 0:
        return
    subprocess.run(sudo_prefix() + ["apt-get", "update", "-qq"], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       universal_newlines=True)
    if r.returncode != 0:
        raise BenchError("could not install Debian package '%s': %s" % (pkg, r.stderr.strip()))


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)


def write_config(path, source, output, cache, variants):
    lines = ["# written by bench/compare.py",
             "source = %s" % toml_str(source),
             "output = %s" % toml_str(output),
             "cache = %s" % toml_str(cache),
             "follow_links = true", ""]
    for v in variants:
        lines += ["[[variants]]",
                  "name = %s" % toml_str(v["name"]),
                  "width = %d" % v["width"],
                  "height = %d" % v["height"],
                  'fit = "contain"',
                  "format = %s" % toml_str(v["format"]),
                  "quality = %d" % v["quality"], ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


SUMMARY_RE = re.compile(r"built (\d+).*?up to date (\d+)\D+?removed (\d+)\D+?failed (\d+)")


def parse_summary(stderr_path):
    """thumbgen's summary line: built N · up to date N · removed N · failed N."""
    try:
        with open(stderr_path, "r", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    found = None
    for line in text.splitlines():
        m = SUMMARY_RE.search(line)
        if m:
            found = dict(zip(("built", "up_to_date", "removed", "failed"),
                             (int(x) for x in m.groups())))
    return found


# --------------------------------------------------------------------------
# machine, binary, corpus

def ensure_time():
    if os.access(TIME_BIN, os.X_OK):
        return
    log("%s missing: installing the Debian package 'time'..." % TIME_BIN)
    apt_install("time")
    if not os.access(TIME_BIN, os.X_OK):
        raise BenchError("%s still missing after installing 'time'" % TIME_BIN)


def resolve_thumbgen(arg, work):
    if arg:
        path = os.path.abspath(arg)
        if not os.path.isfile(path):
            raise BenchError("thumbgen binary not found: %s" % path)
    else:
        path = os.path.join(REPO, "target", "release", "thumbgen")
        if not os.path.isfile(path):
            if not shutil.which("cargo"):
                raise BenchError("%s is missing and cargo is not on PATH; build it or pass "
                                 "--thumbgen PATH" % path)
            log("%s missing: running cargo build --release in %s ..." % (path, REPO))
            r = subprocess.run(["cargo", "build", "--release"], cwd=REPO)
            if r.returncode != 0 or not os.path.isfile(path):
                raise BenchError("cargo build --release failed (exit %d)" % r.returncode)
    if not os.access(path, os.X_OK):
        raise BenchError("thumbgen binary is not executable: %s" % path)
    if "%sdebug%s" % (os.sep, os.sep) in path:
        log("warning: %s looks like a debug build; timings will not be representative" % path)
    return snapshot_binary(path, work)


def ensure_corpus(args, shared):
    if args.corpus:
        corpus = os.path.abspath(args.corpus)
        if not os.path.isdir(corpus):
            raise BenchError("corpus folder not found: %s (leave out --corpus to have one "
                             "generated with make_corpus.sh)" % corpus)
        return corpus
    corpus = os.path.join(args.work, "corpus-%s-%d" % (args.profile, args.count))
    if os.path.isdir(corpus) and os.listdir(corpus):
        log("corpus: reusing %s" % corpus)
        return corpus
    script = os.path.join(shared, "make_corpus.sh")
    if not os.path.isfile(script):
        raise BenchError("make_corpus.sh not found in %s (see --shared)" % shared)
    tmp = corpus + ".partial"
    rmtree(tmp)
    log("corpus: generating %d '%s' images into %s (make_corpus.sh)..."
        % (args.count, args.profile, corpus))
    r = subprocess.run(["bash", script, tmp, str(args.count), args.profile])
    if r.returncode != 0:
        rmtree(tmp)
        raise BenchError("make_corpus.sh failed (exit %d)" % r.returncode)
    rmtree(corpus)
    os.replace(tmp, corpus)
    return corpus


def scan_corpus(corpus):
    """Count sources the way thumbgen sees them (hidden skipped, links followed
    since the configs set follow_links) and the way peers.sh sees them
    (find -type f: regular files only, symlinks not followed)."""
    tg_jp, tg_other, nbytes = [], 0, 0
    for dirpath, dirs, files in os.walk(corpus, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            ext = os.path.splitext(name)[1].lower()
            p = os.path.join(dirpath, name)
            if ext in PEER_EXTS and os.path.isfile(p):
                tg_jp.append(p)
                nbytes += os.path.getsize(p)
            elif ext in THUMBGEN_EXTS and os.path.isfile(p):
                tg_other += 1
    peer_n = 0
    for dirpath, _dirs, files in os.walk(corpus):
        for name in files:
            p = os.path.join(dirpath, name)
            if os.path.splitext(name)[1].lower() in PEER_EXTS and not os.path.islink(p) \
                    and os.path.isfile(p):
                peer_n += 1
    return {"path": corpus, "jpeg_png": len(tg_jp), "other_images": tg_other,
            "thumbgen_sources": len(tg_jp) + tg_other, "peer_sources": peer_n,
            "bytes": nbytes, "files": tg_jp}


def warm_page_cache(files):
    buf = bytearray(1 << 20)
    for p in files:
        try:
            with open(p, "rb", buffering=0) as f:
                while f.readinto(buf):
                    pass
        except OSError:
            pass


# --------------------------------------------------------------------------
# contenders

class Contender:
    def __init__(self, key, label, argv, cwd, setup=None, check=None, env=None):
        self.key, self.label, self.argv, self.cwd = key, label, argv, cwd
        self.setup, self.check, self.env = setup, check, env


class Bench:
    def __init__(self, args, shared, tg, corpus_info):
        self.args, self.shared, self.tg, self.corpus = args, shared, tg, corpus_info
        self.work = args.work
        self.peers_sh = os.path.join(shared, "peers.sh")
        self.logs = os.path.join(self.work, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.contenders = {}      # key -> Contender, in insertion order
        self.runs = []            # raw results
        self.warnings = []
        self.tables = []          # (scenario, title, [keys], baseline key, note)

    def warn(self, msg):
        self.warnings.append(msg)
        log("warning: " + msg)

    def add(self, c):
        self.contenders.setdefault(c.key, c)
        return c.key

    # ---- one timed run ----------------------------------------------------
    def run(self, c, rnd, timed=True):
        base = os.path.join(self.logs, c.key)
        out_p, err_p, time_p = base + ".out", base + ".err", base + ".time"
        argv = ([TIME_BIN, "-f", TIME_FMT, "-o", time_p] if timed else []) + c.argv
        env = dict(os.environ, **(c.env or {}))
        with open(out_p, "wb") as out, open(err_p, "wb") as err:
            t0 = time.perf_counter()
            proc = subprocess.Popen(argv, cwd=c.cwd, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=err, env=env, start_new_session=True)
            try:
                rc = proc.wait(timeout=self.args.timeout)
            except subprocess.TimeoutExpired:
                self._kill(proc)
                raise BenchError("%s: no result after %d s (timeout; see --timeout)\n"
                                 "  command: %s" % (c.label, self.args.timeout,
                                                    " ".join(map(shlex.quote, c.argv))))
            except KeyboardInterrupt:
                self._kill(proc)
                raise
            outer = time.perf_counter() - t0
        res = {"key": c.key, "round": rnd, "exit_code": rc, "wall_outer_s": round(outer, 4),
               "stdout": out_p, "stderr": err_p}
        if rc != 0:
            raise BenchError("%s failed (exit %d)\n  command: %s\n  stderr (last lines):\n%s"
                             % (c.label, rc, " ".join(map(shlex.quote, c.argv)), tail(err_p)))
        if timed:
            try:
                with open(time_p) as f:
                    last = f.read().strip().splitlines()[-1]
                wall, user, sys_, rss = last.split()
                res.update(wall_s=float(wall), user_s=float(user), sys_s=float(sys_),
                           cpu_s=round(float(user) + float(sys_), 3), maxrss_kb=int(rss))
            except (OSError, IndexError, ValueError):
                raise BenchError("%s: could not read /usr/bin/time output in %s"
                                 % (c.label, time_p))
        return res

    @staticmethod
    def _kill(proc):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()

    # ---- thumbgen contenders ---------------------------------------------
    def tg_dir(self, name):
        d = os.path.join(self.work, "thumbgen", name)
        os.makedirs(d, exist_ok=True)
        return d

    def tg_cold(self, key, label, variants, jobs):
        d = self.tg_dir(key)
        cfg, out, cache = (os.path.join(d, "thumbgen.toml"), os.path.join(d, "out"),
                           os.path.join(d, ".thumbgen"))
        write_config(cfg, self.corpus["path"], out, cache, variants)
        expected = self.corpus["thumbgen_sources"] * len(variants)

        def setup():
            rmtree(out)
            rmtree(cache)

        def check(res):
            s = parse_summary(res["stderr"])
            n = count_files(out) if os.path.isdir(out) else 0
            res["summary"], res["outputs"] = s, n
            problems = []
            if n != expected:
                problems.append("%d output files, expected %d (%d sources x %d variants)"
                                % (n, expected, self.corpus["thumbgen_sources"], len(variants)))
            if s is None:
                problems.append("no summary line on stderr")
            elif s["built"] != expected or s["failed"] != 0:
                problems.append("summary says built %d, failed %d; expected built %d, failed 0"
                                % (s["built"], s["failed"], expected))
            if problems:
                raise BenchError("SANITY CHECK FAILED after %s (round %d): %s\n  config: %s\n"
                                 "  stderr (last lines):\n%s"
                                 % (label, res["round"], "; ".join(problems), cfg,
                                    tail(res["stderr"])))

        return self.add(Contender(key, label, [self.tg, "build", "-c", cfg, "-j", str(jobs)],
                                  d, setup, check))

    def tg_uptodate_check(self, label, cfg, expected_uptodate):
        def check(res):
            s = parse_summary(res["stderr"])
            res["summary"] = s
            if s is None:
                raise BenchError("SANITY CHECK FAILED after %s: no summary line on stderr\n%s"
                                 % (label, tail(res["stderr"])))
            if s["built"] != 0 or s["removed"] != 0 or s["failed"] != 0 \
                    or s["up_to_date"] != expected_uptodate:
                raise BenchError("SANITY CHECK FAILED after %s (round %d): summary says built "
                                 "%d, up to date %d, removed %d, failed %d; expected built 0, "
                                 "up to date %d\n  config: %s"
                                 % (label, res["round"], s["built"], s["up_to_date"],
                                    s["removed"], s["failed"], expected_uptodate, cfg))
        return check

    # ---- peers -------------------------------------------------------------
    def peer(self, name, per_source=1):
        outroot = os.path.join(self.work, "peers")
        out = os.path.join(outroot, name)
        expected = self.corpus["peer_sources"] * per_source

        def setup():
            rmtree(out)

        def check(res):
            if name in PEERS_WITHOUT_OUTPUT:
                return
            n = count_files(out) if os.path.isdir(out) else 0
            res["outputs"] = n
            if n != expected and res["round"] == 0:
                self.warn("peer %s wrote %d files for %d JPEG/PNG sources" % (name, n, expected))

        return self.add(Contender("peer-" + name, name,
                                  ["bash", self.peers_sh, self.corpus["path"], outroot, name],
                                  self.work, setup, check))

    def warm_up_peers(self, peers):
        """Run each peer once on a 2-image copy (untimed): installs what it
        needs before anything is measured."""
        src = os.path.join(self.work, "warmup", "src")
        rmtree(src)
        os.makedirs(src)
        picked = {}
        for p in self.corpus["files"]:
            ext = os.path.splitext(p)[1].lower()
            kind = "png" if ext == ".png" else "jpg"
            if kind not in picked:
                picked[kind] = p
        for i, p in enumerate(picked.values()):
            shutil.copyfile(p, os.path.join(src, "w%d%s" % (i, os.path.splitext(p)[1].lower())))
        for name in peers:
            log("warm-up: %s (installs what it needs)" % name)
            c = Contender("warmup-" + name, "warm-up of peer " + name,
                          ["bash", self.peers_sh, src, os.path.join(self.work, "warmup", "out"),
                           name], self.work)
            self.run(c, -1, timed=False)

    # ---- scenarios ---------------------------------------------------------
    def scenario_cold(self, peers):
        keys = [self.tg_cold("tg-256-j2", "thumbgen -j2", [V256], JOBS)]
        keys += [self.peer(p) for p in peers]
        base = "peer-pillow-draft" if "pillow-draft" in peers else keys[0]
        self.tables.append(("cold", "cold build: 1 variant (256 px JPEG q80), 2 workers",
                            keys, base, None))

    def scenario_variants3(self):
        k3 = self.tg_cold("tg-3v-j2", "thumbgen 3 variants (256 jpeg, 640 webp, 1280 jpeg)",
                          [V256, V640, V1280], JOBS)
        k1 = self.tg_cold("tg-1280-j2", "thumbgen 1 variant (1280 jpeg)", [V1280], JOBS)
        three = [self.peer(p, 3) for p in ("pillow-three", "vips-three")]
        self.tables.append(("variants3", "cold build, three variants (256 jpeg, 640 webp, "
                            "1280 jpeg), 2 workers; ratios to pillow-three",
                            [k3] + three + [k1], three[0], None))

    def scenario_j1(self):
        k2 = self.tg_cold("tg-256-j2", "thumbgen -j2", [V256], JOBS)
        k1 = self.tg_cold("tg-256-j1", "thumbgen -j1", [V256], 1)
        self.tables.append(("j1", "cold build, 1 variant (256 px JPEG q80): -j1 vs -j2",
                            [k2, k1], k2,
                            "Ratio of -j1 to -j2 wall = parallel speed-up on %d cores."
                            % JOBS))

    def scenario_noop(self):
        n = self.args.noop_n
        # make / ninja tree, from peers.sh --noop-setup
        mdir = os.path.join(self.work, "noop", "make-ninja")
        marker = os.path.join(mdir, ".bench-complete.json")
        if (read_json(marker) or {}).get("n") != n:
            log("noop: building the make/ninja tree (%d sources x 3) with peers.sh "
                "--noop-setup..." % n)
            c = Contender("noop-setup", "peers.sh --noop-setup",
                          ["bash", self.peers_sh, "--noop-setup", mdir, str(n)], self.work)
            self.run(c, -1, timed=False)
            write_json(marker, {"n": n})
        km = self.add(Contender("noop-make", "make -j2",
                                ["bash", self.peers_sh, mdir, "-", "noop-make"], self.work))
        kn = self.add(Contender("noop-ninja", "ninja -j2",
                                ["bash", self.peers_sh, mdir, "-", "noop-ninja"], self.work))
        # thumbgen tree: same layout, tiny real JPEGs
        tdir = os.path.join(self.work, "noop", "thumbgen")
        tmarker = os.path.join(tdir, ".bench-complete.json")
        if (read_json(tmarker) or {}).get("n") != n:
            log("noop: writing %d tiny JPEGs for thumbgen (Pillow)..." % n)
            rmtree(tdir)
            make_tiny_jpegs(os.path.join(tdir, "src"), n)
            write_json(tmarker, {"n": n})
        cfg = os.path.join(tdir, "thumbgen.toml")
        variants = [dict(V256, name="s"), dict(V640, name="m"), dict(V1280, name="l")]
        write_config(cfg, os.path.join(tdir, "src"), os.path.join(tdir, "out"),
                     os.path.join(tdir, ".thumbgen"), variants)
        log("noop: first thumbgen build of the tiny tree (untimed; no-op if already built)...")
        self.run(Contender("noop-tg-prime", "thumbgen first build of the no-op tree",
                           [self.tg, "build", "-c", cfg, "-j", str(JOBS)], tdir), -1,
                 timed=False)
        kt = self.add(Contender("noop-thumbgen", "thumbgen -j2 (no-op)",
                                [self.tg, "build", "-c", cfg, "-j", str(JOBS)], tdir, None,
                                self.tg_uptodate_check("thumbgen no-op", cfg, n * 3)))
        for k in (km, kn):  # untimed warm-up: page cache, first-run effects
            self.run(self.contenders[k], -1, timed=False)
        self.tables.append(("noop", "no-op: %d sources x 3 variants, all up to date" % n,
                            [kt, kn, km], kn,
                            "make and ninja run through peers.sh (bash start-up included)."))

    def scenario_touched(self):
        src = os.path.join(self.work, "touched", "src")
        d = os.path.join(self.work, "touched")
        marker = os.path.join(d, ".bench-copy.json")
        want = {"corpus": self.corpus["path"], "sources": self.corpus["thumbgen_sources"],
                "bytes": self.corpus["bytes"]}
        if read_json(marker) != want:
            log("touched: copying the corpus to %s (sources are touched, the corpus is "
                "left alone)..." % src)
            rmtree(d)
            os.makedirs(d)
            shutil.copytree(self.corpus["path"], src, symlinks=False)
            write_json(marker, want)
        cfg = os.path.join(d, "thumbgen.toml")
        write_config(cfg, src, os.path.join(d, "out"), os.path.join(d, ".thumbgen"), [V256])
        log("touched: first thumbgen build of the copy (untimed; no-op if already built)...")
        self.run(Contender("touched-prime", "thumbgen first build of the touched copy",
                           [self.tg, "build", "-c", cfg, "-j", str(JOBS)], d), -1, timed=False)
        n = self.corpus["thumbgen_sources"]
        files = []
        for dirpath, _dirs, names in os.walk(src):
            files += [os.path.join(dirpath, x) for x in names]

        def touch_all():
            t = time.time() - 2.0  # new and distinct per round; not "racy"
            for p in files:
                os.utime(p, (t, t))

        kt = self.add(Contender("touched-thumbgen", "thumbgen -j2, every mtime new",
                                [self.tg, "build", "-c", cfg, "-j", str(JOBS)], d, touch_all,
                                self.tg_uptodate_check("thumbgen touched", cfg, n)))
        kn = self.add(Contender("touched-noop", "thumbgen -j2, untouched (no-op)",
                                [self.tg, "build", "-c", cfg, "-j", str(JOBS)], d, None,
                                self.tg_uptodate_check("thumbgen no-op", cfg, n)))
        self.tables.append(("touched", "touched: %d sources, every mtime changed, content "
                            "identical, 1 variant" % n, [kn, kt], kn,
                            "Must build nothing: the content hash decides."))

    # ---- rounds --------------------------------------------------------------
    def run_rounds(self):
        order = list(self.contenders.values())
        k = len(order)
        for rnd in range(self.args.rounds):
            rot = order[rnd % k:] + order[:rnd % k]
            for i, c in enumerate(rot):
                if c.setup:
                    c.setup()
                res = self.run(c, rnd)
                res["position"] = i
                if c.check:
                    c.check(res)
                self.runs.append(res)
                log("[round %d/%d] %-50s wall %6.2f s  cpu %6.2f s  rss %6.0f MB"
                    % (rnd + 1, self.args.rounds, c.label[:50], res["wall_s"], res["cpu_s"],
                       res["maxrss_kb"] / 1024))

    def stats(self):
        out = {}
        for key, c in self.contenders.items():
            rs = [r for r in self.runs if r["key"] == key]
            if not rs:
                continue
            walls = [r["wall_s"] for r in rs]
            out[key] = {"label": c.label, "runs": len(rs),
                        "wall_median_s": statistics.median(walls),
                        "wall_min_s": min(walls), "wall_max_s": max(walls),
                        "cpu_median_s": statistics.median(r["cpu_s"] for r in rs),
                        "maxrss_median_mb": statistics.median(r["maxrss_kb"] for r in rs) / 1024}
        return out


def make_tiny_jpegs(src, n):
    """n distinct 32x24 JPEGs in src/dNNN/fNNNNN.jpg, 100 per folder (the
    layout of peers.sh --noop-setup)."""
    try:
        from PIL import Image
    except ImportError:
        raise BenchError("the noop scenario needs Pillow for its tiny JPEGs "
                         "(python3 -m pip install pillow)")
    import io
    for i in range(n):
        sub = os.path.join(src, "d%03d" % (i // 100))
        if i % 100 == 0:
            os.makedirs(sub, exist_ok=True)
        im = Image.new("RGB", (32, 24), (i % 256, (i // 256) % 256, 128))
        im.putpixel((i % 32, (i // 32) % 24), (255 - i % 256, 0, 0))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=90)
        with open(os.path.join(sub, "f%05d.jpg" % i), "wb") as f:
            f.write(buf.getvalue())


# --------------------------------------------------------------------------
# report

def report(bench, meta, stats):
    m = meta["machine"]
    lines = ["# thumbgen benchmark", "",
             "- machine: %s cores (nproc), %s, %s, %s MB RAM, load average at start %s"
             % (m["nproc"], m["cpu_model"], m["kernel"], m["mem_total_mb"],
                " ".join("%.2f" % x for x in m["loadavg_at_start"])),
             "- thumbgen: %s (%s)" % (meta["thumbgen"]["version"], meta["thumbgen"]["path"]),
             "- corpus: %s — %d JPEG/PNG sources%s, %.1f MB"
             % (meta["corpus"]["path"], meta["corpus"]["jpeg_png"],
                (" + %d other images" % meta["corpus"]["other_images"])
                if meta["corpus"]["other_images"] else "", meta["corpus"]["bytes"] / 1e6),
             "- rounds: %d, contenders interleaved round-robin; medians of /usr/bin/time"
             % meta["rounds"], ""]
    for scen, title, keys, base, note in bench.tables:
        bl = stats.get(base)
        lines += ["## %s — %s" % (scen, title), ""]
        lines += ["| contender | median wall s | median CPU s | median peak RSS MB "
                  "| wall × %s | wall min–max s |" % bench.contenders[base].label,
                  "|---|---:|---:|---:|---:|---:|"]
        for k in keys:
            s = stats.get(k)
            if not s:
                continue
            if bl and bl["wall_median_s"] > 0:
                ratio = "%.2f" % (s["wall_median_s"] / bl["wall_median_s"])
            else:
                ratio = "n/a"
            lines.append("| %s | %.2f | %.2f | %.0f | %s | %.2f–%.2f |"
                         % (s["label"], s["wall_median_s"], s["cpu_median_s"],
                            s["maxrss_median_mb"], ratio, s["wall_min_s"], s["wall_max_s"]))
        if note:
            lines += ["", note]
        lines.append("")
    if bench.warnings:
        lines += ["Warnings:", ""] + ["- " + w for w in bench.warnings] + [""]
    return "\n".join(lines)


# --------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Benchmark thumbgen against peers (see bench/README.md).")
    ap.add_argument("--corpus", metavar="DIR",
                    help="folder of source images (default: generate one with make_corpus.sh "
                         "into the work dir, see --count/--profile)")
    ap.add_argument("--count", type=int, default=1000,
                    help="images in a generated corpus (default 1000)")
    ap.add_argument("--profile", choices=["shop", "small"], default="shop",
                    help="make_corpus.sh profile for a generated corpus (default shop)")
    ap.add_argument("--thumbgen", metavar="PATH",
                    help="thumbgen binary (default: target/release/thumbgen of the repository, "
                         "built with cargo build --release if missing)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    ap.add_argument("--peers", default="pillow-draft,vips,floor-djpeg",
                    help="comma-separated image peers for 'cold' (default "
                         "pillow-draft,vips,floor-djpeg; all: %s)" % ",".join(IMAGE_PEERS))
    ap.add_argument("--scenarios", default=",".join(SCENARIOS),
                    help="comma-separated, from %s (default all)" % ",".join(SCENARIOS))
    ap.add_argument("--work", default="/tmp/thumbgen-bench",
                    help="work folder for outputs, caches, logs, results (default "
                         "/tmp/thumbgen-bench)")
    ap.add_argument("--noop-n", type=int, default=10000,
                    help="sources in the no-op trees (x 3 variants; default 10000)")
    ap.add_argument("--timeout", type=int, default=1800,
                    help="seconds before a single run is killed (default 1800)")
    ap.add_argument("--shared", default=DEFAULT_SHARED,
                    help="folder with peers.sh and make_corpus.sh (default %s)" % DEFAULT_SHARED)
    args = ap.parse_args(argv)
    bad = lambda msg: ap.error(msg)  # exits 2 with a usage message
    if args.rounds < 1:
        bad("--rounds must be at least 1")
    if args.count < 1:
        bad("--count must be at least 1")
    if args.noop_n < 1:
        bad("--noop-n must be at least 1")
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown or not args.scenarios:
        bad("unknown scenario(s) %s; choose from %s" % (",".join(unknown), ",".join(SCENARIOS)))
    args.peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = [p for p in args.peers if p not in IMAGE_PEERS]
    if unknown:
        bad("unknown peer(s) %s; choose from %s" % (",".join(unknown), ",".join(IMAGE_PEERS)))
    args.work = os.path.abspath(args.work)
    return args


def main(argv):
    args = parse_args(argv)
    bench = None
    meta = {"started": datetime.datetime.now().isoformat(timespec="seconds"),
            "argv": argv, "rounds": args.rounds, "scenarios": args.scenarios,
            "peers": args.peers, "jobs": JOBS}
    results_path = os.path.join(
        args.work, "results-%s.json" % datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))

    def save(status, error=None):
        if bench is None:
            return
        doc = dict(meta, status=status, error=error, warnings=bench.warnings,
                   scenarios_tables=[{"scenario": s, "title": t, "contenders": k, "baseline": b}
                                     for s, t, k, b, _n in bench.tables],
                   contenders={k: {"label": c.label, "argv": c.argv}
                               for k, c in bench.contenders.items()},
                   stats=bench.stats(), runs=bench.runs)
        write_json(results_path, doc)
        log("raw results: %s" % results_path)

    try:
        shared = os.path.abspath(args.shared)
        if not os.path.isfile(os.path.join(shared, "peers.sh")):
            raise BenchError("peers.sh not found in %s (see --shared)" % shared)
        try:
            os.makedirs(args.work, exist_ok=True)
        except OSError as e:
            raise BenchError("cannot create work folder %s: %s" % (args.work, e))
        ensure_time()
        meta["machine"] = machine_info()
        tg, meta["thumbgen"] = resolve_thumbgen(args.thumbgen, args.work)
        image_scen = {"cold", "variants3", "j1", "touched"} & set(args.scenarios)
        corpus_info = {"path": None, "jpeg_png": 0, "other_images": 0, "thumbgen_sources": 0,
                       "peer_sources": 0, "bytes": 0, "files": []}
        if image_scen:
            corpus_info = scan_corpus(ensure_corpus(args, shared))
            if corpus_info["thumbgen_sources"] == 0:
                raise BenchError("no images in corpus %s" % corpus_info["path"])
            if "cold" in args.scenarios and args.peers and corpus_info["peer_sources"] == 0:
                raise BenchError("the peers see no regular JPEG/PNG files in %s (peers.sh "
                                 "uses find -type f, which skips symlinks); use a corpus of "
                                 "real files" % corpus_info["path"])
        meta["corpus"] = {k: v for k, v in corpus_info.items() if k != "files"}
        bench = Bench(args, shared, tg, corpus_info)
        if corpus_info["other_images"]:
            bench.warn("corpus has %d non-JPEG/PNG images: thumbgen builds them, the peers "
                       "skip them" % corpus_info["other_images"])
        if corpus_info["peer_sources"] != corpus_info["jpeg_png"] and "cold" in args.scenarios:
            bench.warn("peers see %d JPEG/PNG files, thumbgen %d (symlinks or hidden files)"
                       % (corpus_info["peer_sources"], corpus_info["jpeg_png"]))

        m = meta["machine"]
        log("machine: nproc %s, %s, %s; thumbgen: %s"
            % (m["nproc"], m["cpu_model"], m["kernel"], meta["thumbgen"]["version"]))
        if "cold" in args.scenarios:
            bench.warm_up_peers(args.peers)
            bench.scenario_cold(args.peers)
        if "variants3" in args.scenarios:
            bench.warm_up_peers(["pillow-three", "vips-three"])
            bench.scenario_variants3()
        if "j1" in args.scenarios:
            bench.scenario_j1()
        if "noop" in args.scenarios:
            bench.scenario_noop()
        if "touched" in args.scenarios:
            bench.scenario_touched()
        if corpus_info["files"]:
            log("warming the page cache with the corpus (%.0f MB)..."
                % (corpus_info["bytes"] / 1e6))
            warm_page_cache(corpus_info["files"])
        log("%d contenders x %d rounds" % (len(bench.contenders), args.rounds))
        bench.run_rounds()
        stats = bench.stats()
        text = report(bench, meta, stats)
        print(text)
        with open(os.path.join(args.work, "results.md"), "w") as f:
            f.write(text)
        save("ok")
        return 0
    except (BenchError, OSError) as e:
        log("compare.py: error: %s" % e)
        save("error", str(e))
        return 1
    except KeyboardInterrupt:
        log("compare.py: interrupted")
        save("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
