#!/usr/bin/env python3
"""AVIF against WebP and JPEG for 640 px thumbnails: bytes, build time and
SSIMULACRA2, to choose AVIF's default speed and quality.

    python3 bench/avif_quality.py --thumbgen target/release/thumbgen --corpus /tmp/shop --sample 40

What it does:

1. Sample: `--sample N` sources of the corpus (default 40; 0 = all), drawn
   with `--seed` and stratified by kind (JPEG photos, PNG cut-outs) so the
   cut-outs' share is the corpus's. They are hard-linked (else copied)
   into `WORK/sample`, the `source` of every config.
2. References: one untimed thumbgen build of the sample with a lossless
   variant (`format = "png"`, 640 x 640, `fit = "contain"`): the 640 px image
   exactly as thumbgen resized it, before any lossy encoding.
3. Candidates, each a variant of the same box in its own config, output
   folder and cache: `webp` and `jpeg` at thumbgen's defaults (no `quality`
   key, unless --webp-quality / --jpeg-quality are given) and `avif` with
   `quality = Q`, `speed = S` for every S in --speeds and Q in --qualities.
4. Timing: `--rounds` rounds; every round runs every candidate once, in an
   order rotated each round, each a cold build (`thumbgen build -j 2`, output
   folder and cache removed just before). Wall time around the child
   (`time.perf_counter`) and the child's CPU time (`os.wait4`); medians. The
   figure is the whole build (hash, decode, resize, encode, write), so the
   ratio to the WebP build understates the ratio of the encoders alone; the
   decode and resize are the same for every candidate. Every run must exit
   0 and its `--json` summary must say built = sample size, failed = 0.
5. Score: SSIMULACRA2 of every output against its reference, mean (and
   10th percentile) over the sample. Both sides are decoded with Pillow
   (Pillow >= 11.3 reads AVIF through its bundled libavif), composited onto
   white (thumbgen's default `background`, onto which the JPEG encoder
   flattens transparency; the PNG cut-outs keep alpha in PNG, WebP and
   AVIF) and written as RGB PNGs, which the scorer compares. Scorer
   (--scorer, default auto = the first found): `ssimulacra2_rs` (the Rust
   implementation, `cargo install --locked ssimulacra2_rs
   --no-default-features`; looked for on PATH and in ~/.cargo/bin), else the
   Python package `ssimulacra2` (`pip install ssimulacra2`: a NumPy port
   whose blur differs from libjxl's, so its scores are close to, not the
   same as, the reference tool's; compare runs only with the same scorer).
   Scores are cached in WORK/scores.json by the hashes of both files.
6. Equal score: WebP's mean score is the target. For each AVIF speed, the
   two neighbouring qualities whose mean scores bracket it give, by linear
   interpolation in score, the quality, the bytes (interpolated in log
   bytes) and the build time at WebP's score: AVIF bytes / WebP bytes and
   AVIF time / WebP time at equal score. A speed whose scores do not
   bracket WebP's needs a wider --qualities range.

Prints a Markdown table (also WORK/results-avif-quality.md) and the
equal-score summary; raw runs and per-image scores go to
WORK/results-avif-quality-YYYYmmdd-HHMMSS.json. See bench/README.md.

Needs Python 3 with Pillow >= 11.3 (AVIF) and one scorer as above.
"""

import argparse
import concurrent.futures
import datetime
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (  # noqa: E402,F401
    BenchError, log, machine_info, rmtree, run_main, sha256_file, snapshot_binary, toml_str)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SHARED = os.environ.get(
    "THUMBGEN_BENCH_SHARED", os.path.join(os.path.dirname(REPO), "shared", "bench"))
# what thumbgen treats as a source (README: sources have an image extension)
SOURCE_EXTS = (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".gif", ".webp",
               ".tif", ".tiff", ".bmp", ".dib", ".ico")
BOX = 640
VARIANT = "v"  # the variant's name: outputs go to OUT/v/<source path>


def int_list(text):
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"(\d+)\.\.(\d+)(?::(\d+))?", part)  # 40..80:5
        if m:
            lo, hi, step = int(m.group(1)), int(m.group(2)), int(m.group(3) or 10)
            out.extend(range(lo, hi + 1, step))
        else:
            out.append(int(part))
    return out


# --------------------------------------------------------------------------
# machine, binary, corpus, sample

def ensure_corpus(args):
    if args.corpus:
        corpus = os.path.abspath(args.corpus)
        if not os.path.isdir(corpus):
            raise BenchError("corpus folder not found: %s" % corpus)
        return corpus
    corpus = os.path.join(args.work, "corpus-shop-%d" % args.count)
    if os.path.isdir(corpus) and os.listdir(corpus):
        return corpus
    script = os.path.join(args.shared, "make_corpus.sh")
    if not os.path.isfile(script):
        raise BenchError("make_corpus.sh not found in %s (see --shared, or pass --corpus)"
                         % args.shared)
    tmp = corpus + ".partial"
    rmtree(tmp)
    log("corpus: generating %d 'shop' photos into %s (make_corpus.sh, a few minutes)..."
        % (args.count, corpus))
    if subprocess.run(["bash", script, tmp, str(args.count), "shop"]).returncode != 0:
        rmtree(tmp)
        raise BenchError("make_corpus.sh failed")
    os.replace(tmp, corpus)
    return corpus


def list_sources(corpus):
    found = []
    for dirpath, dirs, files in os.walk(corpus, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.startswith(".") or os.path.splitext(name)[1].lower() not in SOURCE_EXTS:
                continue
            p = os.path.join(dirpath, name)
            if os.path.isfile(p):
                found.append(os.path.relpath(p, corpus))
    return sorted(found)


def make_sample(corpus, n, seed, dest):
    """Stratified by kind: PNG (the cut-outs with alpha) and the rest (JPEG
    photos), each in proportion. Returns the relative paths."""
    files = list_sources(corpus)
    if not files:
        raise BenchError("no image sources in %s" % corpus)
    if n <= 0 or n >= len(files):
        chosen = files
    else:
        rng = random.Random(seed)
        groups = {}
        for f in files:
            groups.setdefault(os.path.splitext(f)[1].lower() == ".png", []).append(f)
        chosen = []
        remaining = n
        keys = sorted(groups, key=lambda k: len(groups[k]))  # smaller group first
        for i, k in enumerate(keys):
            want = remaining if i == len(keys) - 1 else max(1, round(n * len(groups[k]) / len(files)))
            want = min(want, len(groups[k]), remaining)
            chosen += rng.sample(groups[k], want)
            remaining -= want
        chosen.sort()
    rmtree(dest)
    for rel in chosen:
        link = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        try:
            os.link(os.path.join(corpus, rel), link)
        except OSError:
            shutil.copy2(os.path.join(corpus, rel), link)
    return chosen


# --------------------------------------------------------------------------
# candidates and builds

class Candidate:
    def __init__(self, fmt, quality=None, speed=None):
        self.fmt, self.quality, self.speed = fmt, quality, speed
        if fmt == "avif":
            self.key = "avif-s%d-q%d" % (speed, quality)
        else:
            self.key = fmt + ("" if quality is None else "-q%d" % quality)
        self.walls, self.cpus = [], []
        self.total_bytes = None
        self.bytes_per_round = []
        self.scores = {}        # rel path (no extension) -> score
        self.sizes = {}         # rel path (no extension) -> bytes

    def variant_lines(self):
        lines = ["[[variants]]", "name = %s" % toml_str(VARIANT),
                 "width = %d" % BOX, "height = %d" % BOX, 'fit = "contain"',
                 "format = %s" % toml_str(self.fmt)]
        if self.quality is not None:
            lines.append("quality = %d" % self.quality)
        if self.speed is not None:
            lines.append("speed = %d" % self.speed)
        return lines


def write_config(path, source, out, cache, variant_lines):
    lines = ["# written by bench/avif_quality.py",
             "source = %s" % toml_str(source), "output = %s" % toml_str(out),
             "cache = %s" % toml_str(cache), ""] + variant_lines + [""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def build(binary, cfg_dir, jobs, expect, timeout, what):
    """A cold build of the config in cfg_dir: wall and CPU seconds."""
    out_dir, cache = os.path.join(cfg_dir, "out"), os.path.join(cfg_dir, "cache")
    rmtree(out_dir)
    rmtree(cache)
    stdout_p, stderr_p = os.path.join(cfg_dir, "stdout.jsonl"), os.path.join(cfg_dir, "stderr.txt")
    argv = [binary, "build", "--config", os.path.join(cfg_dir, "thumbgen.toml"),
            "-j", str(jobs), "--json"]
    with open(stdout_p, "wb") as so, open(stderr_p, "wb") as se:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=so, stderr=se)
        deadline = t0 + timeout
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise BenchError("%s: no result after %d s (--timeout)" % (what, timeout))
            time.sleep(0.002)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    summary = None
    with open(stdout_p, errors="replace") as f:
        for line in f:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if obj.get("type") == "summary":
                summary = obj
    if proc.returncode != 0 or not summary or summary.get("built") != expect \
            or summary.get("failed"):
        with open(stderr_p, errors="replace") as f:
            err = f.read()[-2000:]
        raise BenchError("%s: build failed or incomplete (exit %d, summary %s)\n"
                         "  command: %s\n  stderr:\n%s"
                         % (what, proc.returncode, summary, " ".join(argv), err))
    return wall, ru.ru_utime + ru.ru_stime


def outputs(out_dir):
    """rel path without extension -> file, for one variant's output tree."""
    root = os.path.join(out_dir, VARIANT)
    found = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name.startswith("."):  # thumbgen's folder-ownership marker
                continue
            p = os.path.join(dirpath, name)
            found[os.path.splitext(os.path.relpath(p, root))[0]] = p
    return found


def probe_avif(binary, work, sample_dir, one_source):
    """Does this binary know format = "avif" with quality and speed?"""
    d = os.path.join(work, "probe")
    rmtree(d)
    os.makedirs(os.path.join(d, "src"))
    shutil.copy2(os.path.join(sample_dir, one_source),
                 os.path.join(d, "src", "a" + os.path.splitext(one_source)[1]))
    write_config(os.path.join(d, "thumbgen.toml"), os.path.join(d, "src"), os.path.join(d, "out"),
                 os.path.join(d, "cache"), Candidate("avif", 60, 8).variant_lines())
    r = subprocess.run([binary, "build", "--config", os.path.join(d, "thumbgen.toml"), "-j", "1",
                        "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    return r.returncode == 0, r.stdout.strip()


# --------------------------------------------------------------------------
# scoring

def find_scorer(choice):
    if choice in ("auto", "ssimulacra2_rs"):
        exe = shutil.which("ssimulacra2_rs") or os.path.expanduser("~/.cargo/bin/ssimulacra2_rs")
        if os.access(exe, os.X_OK):
            r = subprocess.run([exe, "--version"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, universal_newlines=True)
            return {"name": "ssimulacra2_rs", "path": exe, "version": r.stdout.strip()}
        if choice == "ssimulacra2_rs":
            raise BenchError("ssimulacra2_rs not found: cargo install --locked ssimulacra2_rs "
                             "--no-default-features")
    try:
        import ssimulacra2  # noqa: F401
        from importlib import metadata
        return {"name": "python-ssimulacra2", "path": None,
                "version": "ssimulacra2 %s (Python)" % metadata.version("ssimulacra2")}
    except ImportError:
        raise BenchError("no SSIMULACRA2 scorer: cargo install --locked ssimulacra2_rs "
                         "--no-default-features, or pip install ssimulacra2")


SCORE_RE = re.compile(r"(-?\d+(?:\.\d+)?)\s*$")


def score_pair(scorer, ref_png, dist_png):
    if scorer["name"] == "ssimulacra2_rs":
        r = subprocess.run([scorer["path"], "image", ref_png, dist_png], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
        m = SCORE_RE.search(r.stdout.strip()) if r.returncode == 0 else None
        if not m:
            raise BenchError("ssimulacra2_rs failed on %s: %s" % (dist_png, r.stdout.strip()))
        return float(m.group(1))
    import ssimulacra2
    return float(ssimulacra2.compute_ssimulacra2(ref_png, dist_png))


def flatten_to_png(src, dest):
    """Decode (any format Pillow reads, AVIF included), composite onto white,
    write an RGB PNG. Returns (width, height)."""
    from PIL import Image
    with Image.open(src) as im:
        im.load()
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            im = im.convert("RGBA")
            bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(bg, im).convert("RGB")
        else:
            im = im.convert("RGB")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        im.save(dest, "PNG", compress_level=1)
        return im.size


class ScoreCache:
    def __init__(self, path, scorer):
        self.path, self.tag = path, scorer["name"] + " " + scorer["version"]
        self.data = {}
        try:
            with open(path) as f:
                self.data = json.load(f)
        except (OSError, ValueError):
            pass

    def key(self, ref_hash, dist_hash):
        return "%s|%s|%s" % (self.tag, ref_hash, dist_hash)

    def save(self):
        with open(self.path + ".tmp", "w") as f:
            json.dump(self.data, f)
        os.replace(self.path + ".tmp", self.path)


def score_candidate(cand, out_dir, refs, ref_flat, work, scorer, cache, jobs):
    outs = outputs(out_dir)
    if set(outs) != set(refs):
        raise BenchError("%s: outputs do not match the references (missing %s, extra %s)"
                         % (cand.key, sorted(set(refs) - set(outs))[:3],
                            sorted(set(outs) - set(refs))[:3]))
    flat_root = os.path.join(work, "flat", cand.key)
    rmtree(flat_root)

    def one(rel):
        dist = outs[rel]
        size = os.path.getsize(dist)
        k = cache.key(ref_flat[rel][1], sha256_file(dist))
        if k in cache.data:
            return rel, size, cache.data[k], k
        flat = os.path.join(flat_root, rel + ".png")
        dims = flatten_to_png(dist, flat)
        if dims != ref_flat[rel][2]:
            raise BenchError("%s: %s is %dx%d, its reference %dx%d"
                             % (cand.key, rel, dims[0], dims[1], *ref_flat[rel][2]))
        s = score_pair(scorer, ref_flat[rel][0], flat)
        os.unlink(flat)
        return rel, size, s, k

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        for rel, size, s, k in ex.map(one, sorted(refs)):
            cand.sizes[rel], cand.scores[rel] = size, s
            cache.data[k] = s
    cache.save()
    rmtree(flat_root)


# --------------------------------------------------------------------------
# report

def p10(values):
    v = sorted(values)
    return v[max(0, int(math.ceil(0.1 * len(v))) - 1)]


def interpolate_equal_score(points, target):
    """points: [(quality, score, bytes, wall, cpu)] sorted by quality. The
    first neighbouring pair whose scores bracket target, interpolated at it."""
    for (q0, s0, b0, w0, c0), (q1, s1, b1, w1, c1) in zip(points, points[1:]):
        if (s0 - target) * (s1 - target) <= 0 and s0 != s1:
            t = (target - s0) / (s1 - s0)
            return {"quality": q0 + t * (q1 - q0),
                    "bytes": math.exp(math.log(b0) + t * (math.log(b1) - math.log(b0))),
                    "wall": w0 + t * (w1 - w0), "cpu": c0 + t * (c1 - c0),
                    "between": [q0, q1]}
    return None


def report(cands, webp, n, header):
    lines = [header, "",
             "| format | speed | quality | total bytes | bytes/image | SSIMULACRA2 mean | p10 "
             "| build s (median) | CPU s | time vs WebP | bytes vs WebP |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    wmed = statistics.median(webp.walls)
    for c in cands:
        scores = list(c.scores.values())
        med = statistics.median(c.walls)
        lines.append("| %s | %s | %s | %d | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.3f |" % (
            c.fmt, "-" if c.speed is None else c.speed,
            "default" if c.quality is None else c.quality,
            c.total_bytes, c.total_bytes / n, statistics.mean(scores), p10(scores),
            med, statistics.median(c.cpus), med / wmed, c.total_bytes / webp.total_bytes))
    target = statistics.mean(webp.scores.values())
    if not any(c.fmt == "avif" for c in cands):
        return "\n".join(lines), []
    lines += ["", "Equal score: AVIF interpolated along quality at WebP's mean SSIMULACRA2 "
              "(%.2f; WebP %d bytes, %.2f s)." % (target, webp.total_bytes, wmed), "",
              "| speed | quality at WebP's score | between | bytes | bytes vs WebP "
              "| build s | time vs WebP | CPU vs WebP | bar (<= 0.75 bytes, <= 3x time) |",
              "|---|---|---|---|---|---|---|---|---|"]
    summary = []
    wcpu = statistics.median(webp.cpus)
    for speed in sorted({c.speed for c in cands if c.fmt == "avif"}):
        pts = sorted((c.quality, statistics.mean(c.scores.values()), c.total_bytes,
                      statistics.median(c.walls), statistics.median(c.cpus))
                     for c in cands if c.fmt == "avif" and c.speed == speed)
        eq = interpolate_equal_score(pts, target)
        if eq is None:
            lo, hi = min(p[1] for p in pts), max(p[1] for p in pts)
            lines.append("| %d | out of range (scores %.2f..%.2f): widen --qualities "
                         "| | | | | | | |" % (speed, lo, hi))
            summary.append({"speed": speed, "equal_score": None})
            continue
        br, tr = eq["bytes"] / webp.total_bytes, eq["wall"] / wmed
        ok = br <= 0.75 and tr <= 3.0
        lines.append("| %d | %.1f | %d..%d | %.0f | %.3f | %.2f | %.2f | %.2f | %s |" % (
            speed, eq["quality"], eq["between"][0], eq["between"][1], eq["bytes"], br,
            eq["wall"], tr, eq["cpu"] / wcpu, "meets" if ok else "misses"))
        summary.append(dict(eq, speed=speed, bytes_ratio=br, time_ratio=tr,
                            cpu_ratio=eq["cpu"] / wcpu, meets_bar=ok))
    good = [s for s in summary if s.get("meets_bar")]
    if good:
        best = min(good, key=lambda s: s["bytes_ratio"])
        lines += ["", "Smallest at equal score within the bar: speed %d, quality %.0f "
                  "(%.0f%% smaller than WebP, %.2fx its build time)."
                  % (best["speed"], best["quality"], 100 * (1 - best["bytes_ratio"]),
                     best["time_ratio"])]
    elif summary:
        lines += ["", "No AVIF speed meets the bar at equal score."]
    return "\n".join(lines), summary


# --------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--thumbgen", default=os.path.join(REPO, "target", "release", "thumbgen"),
                    help="thumbgen binary (default target/release/thumbgen); copied to WORK/bin")
    ap.add_argument("--corpus", help="source photos (default: make_corpus.sh, --count photos, "
                    "into WORK)")
    ap.add_argument("--count", type=int, default=300, help="photos to generate without --corpus")
    ap.add_argument("--shared", default=DEFAULT_SHARED, help="folder with make_corpus.sh")
    ap.add_argument("--sample", type=int, default=40, help="sources to use, 0 = all (default 40)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the sample (default 1)")
    ap.add_argument("--speeds", default="4,6,8,10",
                    help="AVIF speeds (default 4,6,8,10; empty: no AVIF)")
    ap.add_argument("--qualities", default="60..90:5",
                    help="AVIF qualities: a list and/or LO..HI[:STEP] (default 60..90:5)")
    ap.add_argument("--webp-quality", type=int, help="default: thumbgen's (no quality key)")
    ap.add_argument("--jpeg-quality", type=int, help="default: thumbgen's (no quality key)")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds (default 3)")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="thumbgen -j, and scorer threads")
    ap.add_argument("--scorer", default="auto", choices=["auto", "ssimulacra2_rs", "python"])
    ap.add_argument("--work", default="/tmp/thumbgen-avif-quality")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per build")
    args = ap.parse_args()
    args.work = os.path.abspath(args.work)
    os.makedirs(args.work, exist_ok=True)

    speeds, qualities = int_list(args.speeds), int_list(args.qualities)
    scorer = find_scorer("python" if args.scorer == "python" else args.scorer)
    try:
        import PIL
        from PIL import features
    except ImportError:
        raise BenchError("Pillow is needed: pip install 'pillow>=11.3'")
    if speeds and not features.check("avif"):
        raise BenchError("this Pillow (%s) does not read AVIF: pip install -U 'pillow>=11.3'"
                         % PIL.__version__)
    binary, tg = snapshot_binary(args.thumbgen, args.work)
    corpus = ensure_corpus(args)
    sample_dir = os.path.join(args.work, "sample")
    sample = make_sample(corpus, args.sample, args.seed, sample_dir)
    n = len(sample)
    n_png = sum(1 for s in sample if s.lower().endswith(".png"))
    log("sample: %d of %s (%d PNG), scorer %s" % (n, corpus, n_png, scorer["version"]))

    if speeds:
        ok, msg = probe_avif(binary, args.work, sample_dir, sample[0])
        if not ok:
            raise BenchError("%s does not build format = \"avif\" with quality and speed:\n  %s\n"
                             "(pass --speeds '' for WebP and JPEG only)" % (args.thumbgen, msg))

    # references: untimed lossless build, flattened once
    ref_dir = os.path.join(args.work, "ref")
    os.makedirs(ref_dir, exist_ok=True)
    write_config(os.path.join(ref_dir, "thumbgen.toml"), sample_dir, os.path.join(ref_dir, "out"),
                 os.path.join(ref_dir, "cache"), Candidate("png").variant_lines())
    build(binary, ref_dir, args.jobs, n, args.timeout, "png reference")
    refs = outputs(os.path.join(ref_dir, "out"))
    ref_flat = {}
    for rel, p in refs.items():
        flat = os.path.join(args.work, "flat", "ref", rel + ".png")
        dims = flatten_to_png(p, flat)
        ref_flat[rel] = (flat, sha256_file(flat), dims)

    cands = [Candidate("webp", args.webp_quality), Candidate("jpeg", args.jpeg_quality)]
    cands += [Candidate("avif", q, s) for s in speeds for q in qualities]
    for c in cands:
        d = os.path.join(args.work, "cand", c.key)
        os.makedirs(d, exist_ok=True)
        write_config(os.path.join(d, "thumbgen.toml"), sample_dir, os.path.join(d, "out"),
                     os.path.join(d, "cache"), c.variant_lines())
    # one untimed warm-up build (page cache for the sample, the binary)
    build(binary, os.path.join(args.work, "cand", cands[0].key), args.jobs, n, args.timeout,
          "warm-up")

    t_start = time.time()
    for rnd in range(args.rounds):
        shift = (rnd * max(1, len(cands) // args.rounds)) % len(cands)
        order = cands[shift:] + cands[:shift]
        for c in order:
            d = os.path.join(args.work, "cand", c.key)
            wall, cpu = build(binary, d, args.jobs, n, args.timeout, c.key)
            c.walls.append(wall)
            c.cpus.append(cpu)
            c.bytes_per_round.append(sum(os.path.getsize(p)
                                         for p in outputs(os.path.join(d, "out")).values()))
        log("round %d/%d done (%.0f s)" % (rnd + 1, args.rounds, time.time() - t_start))
    for c in cands:
        if len(set(c.bytes_per_round)) > 1:
            log("warning: %s wrote different bytes in different rounds: %s"
                % (c.key, c.bytes_per_round))

    cache = ScoreCache(os.path.join(args.work, "scores.json"), scorer)
    for c in cands:
        score_candidate(c, os.path.join(args.work, "cand", c.key, "out"), refs, ref_flat,
                        args.work, scorer, cache, args.jobs)
        c.total_bytes = sum(c.sizes.values())
        log("scored %s: %.2f" % (c.key, statistics.mean(c.scores.values())))

    m = machine_info()
    header = ("%d photos of %s (%d PNG cut-outs, seed %d), %d px box, `-j %d`, %d rounds; "
              "%s; %d cores, %s, load %s at start; scorer %s; Pillow %s (libavif %s)"
              % (n, corpus, n_png, args.seed, BOX, args.jobs, args.rounds, tg["version"],
                 m["nproc"], m["cpu_model"], m["loadavg_at_start"], scorer["version"],
                 PIL.__version__, features.version("avif") if speeds else "-"))
    text, summary = report(cands, cands[0], n, header)
    print(text)
    with open(os.path.join(args.work, "results-avif-quality.md"), "w") as f:
        f.write(text + "\n")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    raw = {"machine": m, "thumbgen": tg, "scorer": scorer, "corpus": corpus, "sample": sample,
           "args": vars(args), "equal_score": summary,
           "candidates": [{"key": c.key, "format": c.fmt, "quality": c.quality,
                           "speed": c.speed, "walls": c.walls, "cpus": c.cpus,
                           "total_bytes": c.total_bytes, "sizes": c.sizes,
                           "scores": c.scores} for c in cands]}
    with open(os.path.join(args.work, "results-avif-quality-%s.json" % stamp), "w") as f:
        json.dump(raw, f, indent=1)
    return 0


if __name__ == "__main__":
    run_main(main)
