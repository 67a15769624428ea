#!/usr/bin/env python3
"""Where AV1 encoder settings sit against sharp's AVIF: bytes at sharp's
SSIMULACRA2 score, and encoder CPU time, for rav1e with any of its speed
settings and for libaom, on the same lossless resizes.

    cargo build --release --manifest-path bench/avif_front/Cargo.toml [--features aom]
    python3 bench/avif_front.py --refs /tmp/thumbgen-avif-sharp/thumbgen-png --target 68.61 \\
        --config "rav1e 10 50,70 ravif=1" --config "aom 5 45,55 usage=good" ...

`--refs`: a folder of PNGs, searched recursively (`bench/avif_sharp.py`
leaves thumbgen's lossless 640 px resizes of its sample in
WORK/thumbgen-png). `--target`: the mean score to compare at (sharp's, as
`avif_sharp.py` prints it). Each `--config` is `ENCODER SPEED QUALITIES
[knob=value ...]`: the encoder binary of `bench/avif_front` (`rav1e` or
`aom`, the latter built with `--features aom`: libaom 3.11 from source,
needs cmake and nasm), its speed (rav1e's preset; libaom's cpu-used), the
qualities to encode at (their scores must bracket the target), and the
knobs that binary takes (see the top of its source; `ravif=1` is ravif
0.13's encode, thumbgen's before it had its own; bench/README.md gives
thumbgen's speeds as knobs). Every PNG is encoded once per quality, one process per
core, each encoder on one thread; CPU is the encoders' user + system time.
Each output is decoded with Pillow (>= 11.3) and scored against its PNG
with the scorer avif_quality.py finds. Prints per config and quality the
mean score, total bytes and CPU, then the bytes interpolated at `--target`
(log bytes, linear in score) as a ratio to `--sharp-bytes` if given.
"""

import argparse
import concurrent.futures
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from avif_quality import ScoreCache, find_scorer, flatten_to_png, interpolate_equal_score, score_pair  # noqa: E402
from benchlib import BenchError, log, rmtree, run_main, sha256_file  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def encode(binary, ref, out, quality, speed, knobs):
    r = subprocess.run([binary, ref, out, str(quality), str(speed)] + knobs,
                       stderr=subprocess.PIPE, universal_newlines=True)
    if r.returncode != 0:
        raise BenchError("%s on %s: %s" % (os.path.basename(binary), ref, r.stderr.strip()))


def children_cpu():
    t = os.times()
    return t.children_user + t.children_system


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--refs", required=True)
    ap.add_argument("--target", type=float, required=True)
    ap.add_argument("--sharp-bytes", type=int)
    ap.add_argument("--config", action="append", required=True)
    ap.add_argument("--bin", default=os.path.join(HERE, "avif_front", "target", "release"))
    ap.add_argument("--work", default="/tmp/thumbgen-avif-front")
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--scorer", default="auto")
    args = ap.parse_args()
    refs = sorted(os.path.join(d, f) for d, _, fs in os.walk(args.refs) for f in fs
                  if f.endswith(".png"))
    if not refs:
        raise BenchError("no PNG under %s" % args.refs)
    scorer = find_scorer(args.scorer)
    os.makedirs(args.work, exist_ok=True)
    cache = ScoreCache(os.path.join(args.work, "scores.json"), scorer)
    ref_hash = {r: sha256_file(r) for r in refs}
    rows = []
    for config in args.config:
        encoder, speed, qualities, *knobs = config.split()
        binary = os.path.join(args.bin, "avif-" + encoder)
        if not os.access(binary, os.X_OK):
            raise BenchError("%s is not built (see the top of this script)" % binary)
        points = []
        for quality in [float(q) for q in qualities.split(",")]:
            out_dir = os.path.join(args.work, "out")
            rmtree(out_dir)
            os.makedirs(out_dir)
            outs = [os.path.join(out_dir, "%d.avif" % i) for i in range(len(refs))]
            # Of the whole batch: a child's time is counted once it is
            # waited for, whichever thread started it.
            before = children_cpu()
            with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
                list(ex.map(lambda p: encode(binary, p[0], p[1], quality, speed, knobs),
                            zip(refs, outs)))
            cpu = children_cpu() - before

            def score(pair):
                ref, out = pair
                key = cache.key(ref_hash[ref], sha256_file(out))
                if key not in cache.data:
                    flat = out + ".png"
                    flatten_to_png(out, flat)
                    cache.data[key] = score_pair(scorer, ref, flat)
                return cache.data[key]

            with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
                scores = list(ex.map(score, zip(refs, outs)))
            cache.save()
            size = sum(os.path.getsize(o) for o in outs)
            mean = sum(scores) / len(scores)
            # No wall time: the encoders run side by side, so only CPU is theirs.
            points.append((quality, mean, size, 0.0, cpu))
            log("%s q%g: score %.2f, %d bytes, CPU %.1f s" % (config, quality, mean, size, cpu))
        at = interpolate_equal_score(sorted(points), args.target)
        rows.append((config, points, at))
    print("\n%d images, SSIMULACRA2 (%s) against their PNG; bytes at score %.2f\n"
          % (len(refs), scorer["version"], args.target))
    print("| config | quality: score, bytes, CPU | bytes at target | vs sharp | CPU at target |")
    print("|---|---|---:|---:|---:|")
    for config, points, at in rows:
        cells = "; ".join("q%g: %.2f, %d, %.1f s" % (q, s, b, c) for q, s, b, _, c in points)
        if at is None:
            print("| `%s` | %s | not bracketed | | |" % (config, cells))
            continue
        ratio = "%.3f×" % (at["bytes"] / args.sharp_bytes) if args.sharp_bytes else ""
        print("| `%s` | %s | %d | %s | %.1f s |" % (config, cells, at["bytes"], ratio, at["cpu"]))
    return 0


if __name__ == "__main__":
    run_main(main)
