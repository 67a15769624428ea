#!/usr/bin/env python3
"""What the default build (no nasm) loses against the fast build, interleaved.

    python3 bench/asm_cost.py --fast FAST_BIN --default DEFAULT_BIN --corpus DIR \
        [--sample 40] [--rounds 3]

FAST_BIN is built with nasm installed and `--features asm`, DEFAULT_BIN on
a machine without nasm (`cargo build --release`). Cases, each a cold build
with -j2 from an empty output folder and cache, run by both binaries in an
order that alternates every round:

  example      the repository's .thumbgen.toml on examples/images (thumbs,
               and a set of 3 widths x AVIF, WebP, JPEG)
  jpeg         --sample photos of the corpus -> one 256 px JPEG q80
  avif-encode  the same photos -> one 640 px AVIF (default quality, speed)
  avif-decode  640 px AVIF copies of them (made once, untimed, by the fast
               binary) -> one 256 px JPEG q80

Prints median wall seconds, default/fast, and peak RSS, and checks that both
binaries wrote byte-identical outputs in every case.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import same_tree, timed  # noqa: E402
from compare import V256, write_config  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
V640_AVIF = dict(name="avif", width=640, height=640, format="avif", quality=80)
CASES = ["example", "jpeg", "avif-encode", "avif-decode"]


def sample(corpus, n, dest):
    """The first `n` photos of the corpus (sorted paths), linked into `dest`."""
    files = []
    for root, _, names in os.walk(corpus):
        files += [os.path.join(root, f) for f in names
                  if f.lower().endswith((".jpg", ".jpeg", ".png"))]
    files.sort()
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    for i, f in enumerate(files[:n]):
        os.symlink(f, os.path.join(dest, "%04d-%s" % (i, os.path.basename(f))))
    return dest


def prepare(case, work, label, sources):
    """A fresh folder for one cold build; returns the command's arguments."""
    d = os.path.join(work, case + "-" + label)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    if case == "example":
        shutil.copy(os.path.join(REPO, ".thumbgen.toml"), d)
        shutil.copytree(os.path.join(REPO, "examples", "images"),
                        os.path.join(d, "examples", "images"))
        return ["build", "-q", "-j2"], d, os.path.join(d, "examples", "thumbs")
    variant = V640_AVIF if case == "avif-encode" else V256
    cfg = os.path.join(d, "thumbgen.toml")
    write_config(cfg, sources[case], os.path.join(d, "out"), os.path.join(d, ".thumbgen"),
                 [variant])
    return ["build", "-q", "-j2", "-c", cfg], d, os.path.join(d, "out")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fast", required=True)
    ap.add_argument("--default", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--sample", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--work", default=tempfile.gettempdir() + "/thumbgen-asm-cost")
    args = ap.parse_args()
    bins = {"fast": os.path.abspath(args.fast), "default": os.path.abspath(args.default)}
    cases = args.cases.split(",")
    os.makedirs(args.work, exist_ok=True)
    for name, binary in bins.items():
        version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
        print("%s: %s" % (name, " | ".join(version.strip().splitlines())), file=sys.stderr)

    photos = sample(os.path.abspath(args.corpus), args.sample, os.path.join(args.work, "photos"))
    sources = {"jpeg": photos, "avif-encode": photos}
    if "avif-decode" in cases:
        # AVIF sources, made once by the fast build.
        d = os.path.join(args.work, "avif-sources")
        if not os.path.isdir(os.path.join(d, "out")):
            os.makedirs(d, exist_ok=True)
            cfg = os.path.join(d, "thumbgen.toml")
            write_config(cfg, photos, os.path.join(d, "out"), os.path.join(d, ".thumbgen"),
                         [V640_AVIF])
            subprocess.run([bins["fast"], "build", "-q", "-j2", "-c", cfg], check=True)
        sources["avif-decode"] = os.path.join(d, "out")

    results = {(c, n): [] for c in cases for n in bins}
    outputs = {}
    for rnd in range(args.rounds):
        order = list(bins) if rnd % 2 == 0 else list(reversed(list(bins)))
        for case in cases:
            for name in order:
                argv, cwd, out = prepare(case, args.work, name, sources)
                results[(case, name)].append(timed([bins[name]] + argv, cwd))
                outputs[(case, name)] = out
        print("round %d done" % (rnd + 1), file=sys.stderr)

    print("| case | fast (median s) | default (median s) | default/fast | peak RSS fast / default |"
          " same bytes |")
    print("|---|---:|---:|---:|---|---|")
    same_everywhere = True
    for case in cases:
        f = statistics.median(w for w, _ in results[(case, "fast")])
        d = statistics.median(w for w, _ in results[(case, "default")])
        rf = max(r for _, r in results[(case, "fast")])
        rd = max(r for _, r in results[(case, "default")])
        same = same_tree(outputs[(case, "fast")], outputs[(case, "default")])
        same_everywhere &= same
        print("| %s | %.2f | %.2f | %.2f | %.0f MB / %.0f MB | %s |" % (
            case, f, d, d / f, rf, rd, "yes" if same else "NO"))
    return 0 if same_everywhere else 1


if __name__ == "__main__":
    sys.exit(main())
