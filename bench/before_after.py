#!/usr/bin/env python3
"""Two thumbgen binaries, interleaved: did a change make builds slower?

    python3 bench/before_after.py --before OLD --after NEW --corpus DIR [--rounds 5]

Scenarios, each run by both binaries in alternating order every round:
  cold    a cold build of the corpus with three variants (256 JPEG,
          640 WebP, 1280 JPEG), -j2, from an empty output and cache
  set     the same with one set, widths = [320, 640, 1280] (JPEG)
  thumb   the same with the 256 JPEG alone
  noop    N tiny sources x 3 variants, all up to date, -j2
Prints medians, the after/before ratio, and peak RSS, and checks that both
binaries wrote byte-identical outputs for the corpus.
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
from compare import V256, V640, V1280, make_tiny_jpegs, write_config  # noqa: E402

VARIANTS = [dict(V256, name="s"), dict(V640, name="m"), dict(V1280, name="l")]
SET = '[[variants]]\nname = "photo"\nwidths = [320, 640, 1280]\nheight = 1280\nformat = "jpeg"\n'
COLD = ["cold", "set", "thumb"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--noop-n", type=int, default=10000)
    ap.add_argument("--work", default=tempfile.gettempdir() + "/thumbgen-before-after")
    ap.add_argument("--scenarios", default="cold,noop",
                    help="of cold,set,thumb,noop (default cold,noop)")
    args = ap.parse_args()
    bins = {"before": os.path.abspath(args.before), "after": os.path.abspath(args.after)}
    os.makedirs(args.work, exist_ok=True)

    noop_src = os.path.join(args.work, "noop-src")
    if not os.path.isdir(noop_src):
        make_tiny_jpegs(noop_src, args.noop_n)
    for name, binary in bins.items():
        d = os.path.join(args.work, "noop-" + name)
        cfg = os.path.join(d, "thumbgen.toml")
        os.makedirs(d, exist_ok=True)
        write_config(cfg, noop_src, os.path.join(d, "out"), os.path.join(d, ".thumbgen"),
                     VARIANTS)
        subprocess.run([binary, "build", "-q", "-c", cfg, "-j2"], check=False)

    scenarios = args.scenarios.split(",")
    results = {(s, n): [] for s in scenarios for n in bins}
    for rnd in range(args.rounds):
        order = list(bins) if rnd % 2 == 0 else list(reversed(list(bins)))
        for name in order:
            for scenario in [c for c in COLD if c in scenarios]:
                d = os.path.join(args.work, "%s-%s" % (scenario, name))
                shutil.rmtree(d, ignore_errors=True)
                os.makedirs(d)
                cfg = os.path.join(d, "thumbgen.toml")
                variants = {"cold": VARIANTS, "thumb": [V256], "set": []}[scenario]
                write_config(cfg, os.path.abspath(args.corpus), os.path.join(d, "out"),
                             os.path.join(d, ".thumbgen"), variants)
                if scenario == "set":
                    with open(cfg, "a") as f:
                        f.write(SET)
                results[(scenario, name)].append(
                    timed([bins[name], "build", "-q", "-c", cfg, "-j2"], d))
            if "noop" in scenarios:
                ncfg = os.path.join(args.work, "noop-" + name, "thumbgen.toml")
                results[("noop", name)].append(
                    timed([bins[name], "build", "-q", "-c", ncfg, "-j2"], args.work))
        print("round %d done" % (rnd + 1), file=sys.stderr)

    print("| scenario | before (median s) | after (median s) | after/before | peak RSS before / after |")
    print("|---|---|---|---|---|")
    for scenario in scenarios:
        b = [w for w, _ in results[(scenario, "before")]]
        a = [w for w, _ in results[(scenario, "after")]]
        rb = max(r for _, r in results[(scenario, "before")])
        ra = max(r for _, r in results[(scenario, "after")])
        print("| %s | %.3f | %.3f | %.2f | %.0f MB / %.0f MB |" % (
            scenario, statistics.median(b), statistics.median(a),
            statistics.median(a) / statistics.median(b), rb, ra))
    identical = True
    for scenario in [c for c in COLD if c in scenarios]:
        same = same_tree(os.path.join(args.work, scenario + "-before", "out"),
                         os.path.join(args.work, scenario + "-after", "out"))
        print("\n%s outputs byte-identical: %s" % (scenario, "yes" if same else "NO"))
        identical = identical and same
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
