#!/usr/bin/env python3
"""thumbgen's AVIF against eleventy-img's (sharp, libvips with libaom) at its
defaults: bytes, SSIMULACRA2 and cold build time on the same photos.

    python3 bench/avif_sharp.py --thumbgen target/release/thumbgen --corpus /tmp/shop --sample 40 [--qualities 50..80:5] [--rounds 3]

1. Sample: `--sample N` photos of the corpus, drawn as in avif_quality.py
   (stratified by kind, `--seed`), linked into WORK/sample.
2. Peer: `@11ty/eleventy-img` installed with npm into WORK/node (sharp
   comes with its prebuilt libvips), run by a small Node script on the
   whole sample: `widths: [640]`, `formats: ["avif"]`, nothing else set,
   so sharp's AVIF defaults (quality 50, effort 4, 4:4:4). The same
   script with `formats: ["png"]` gives sharp's lossless resize, the
   reference its AVIF is scored against.
3. thumbgen: one variant `width = 640`, `format = "avif"` at each
   `--qualities` (speed `--speed`, default 10: thumbgen's default), and
   `format = "png"` as its own reference. Each tool is scored against its
   own lossless resize, so only the encoders are compared.
4. Timing: `--rounds` rounds, each a cold run of eleventy-img and of
   thumbgen at `--time-quality` (default: thumbgen's default quality),
   in rotating order; medians of wall time and peak RSS.
5. Score: SSIMULACRA2 (the scorer avif_quality.py finds), mean over the
   sample, and the bytes of all outputs. thumbgen's quality at sharp's mean
   score is interpolated (bytes in log), which gives bytes / sharp's bytes
   at equal score.

Needs Node.js 18+ and npm, Pillow >= 11.3, a scorer (see avif_quality.py).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from avif_quality import (ScoreCache, find_scorer, flatten_to_png, int_list,  # noqa: E402
                          interpolate_equal_score, make_sample, score_pair)
from benchlib import (BenchError, log, rmtree, run_main, sha256_file,  # noqa: E402
                      snapshot_binary, timed, toml_str)

WIDTH = 640
NODE_SCRIPT = r"""
const path = require("path");
const fs = require("fs");
const Image = require("@11ty/eleventy-img");
const [listFile, srcDir, outDir, format] = process.argv.slice(2);
const files = fs.readFileSync(listFile, "utf8").split("\n").filter(Boolean);
Promise.all(files.map((rel) => Image(path.join(srcDir, rel), {
  widths: [%d],
  formats: [format],
  outputDir: outDir,
  filenameFormat: (id, src, width, fmt) => rel.replace(/\.[^.]+$/, "").replace(/\//g, "_") + "." + fmt,
}))).catch((e) => { console.error(e); process.exit(1); });
""" % WIDTH


def prepare(work, script_name, script_text, corpus, sample, seed):
    """eleventy-img installed in WORK/node with the Node script
    `script_text` beside it, and the sample linked into WORK/sample and
    listed in WORK/sample.txt: (node_dir, script, sample_dir, list_file,
    chosen)."""
    node_dir = os.path.join(work, "node")
    install_peer(node_dir)
    script = os.path.join(node_dir, script_name)
    with open(script, "w") as f:
        f.write(script_text)
    sample_dir = os.path.join(work, "sample")
    chosen = make_sample(corpus, sample, seed, sample_dir)
    list_file = os.path.join(work, "sample.txt")
    with open(list_file, "w") as f:
        f.write("\n".join(chosen) + "\n")
    log("%d photos sampled" % len(chosen))
    return node_dir, script, sample_dir, list_file, chosen


def install_peer(node_dir):
    if os.path.isdir(os.path.join(node_dir, "node_modules", "@11ty", "eleventy-img")):
        return
    os.makedirs(node_dir, exist_ok=True)
    log("npm install @11ty/eleventy-img (sharp's prebuilt binaries)")
    subprocess.run(["npm", "install", "--prefix", node_dir, "--no-audit", "--no-fund",
                    "--loglevel=error", "@11ty/eleventy-img@6"], check=True)


def peer_outputs(out_dir, ext):
    """Source path without extension, '/' as '_' -> file."""
    return {os.path.splitext(n)[0]: os.path.join(out_dir, n)
            for n in os.listdir(out_dir) if n.endswith("." + ext)}


def thumbgen_outputs(out_dir):
    """The same keys for thumbgen's tree of the variant `v`."""
    root = os.path.join(out_dir, "v")
    return {os.path.splitext(os.path.relpath(os.path.join(d, n), root))[0].replace("/", "_"):
            os.path.join(d, n) for d, _, names in os.walk(root) for n in names
            if n != ".thumbgen-owned"}


def score_all(name, outs, refs, work, scorer, cache):
    """Mean SSIMULACRA2 of `outs` against `refs` (same keys) and total bytes."""
    if set(outs) != set(refs):
        raise BenchError("%s: outputs and references differ: %s"
                         % (name, sorted(set(outs) ^ set(refs))[:4]))
    scores, total = [], 0
    for k in sorted(outs):
        total += os.path.getsize(outs[k])
        ck = cache.key(sha256_file(refs[k]), sha256_file(outs[k]))
        if ck not in cache.data:
            ref_png = os.path.join(work, "flat", "ref.png")
            dist_png = os.path.join(work, "flat", "dist.png")
            if flatten_to_png(refs[k], ref_png) != flatten_to_png(outs[k], dist_png):
                raise BenchError("%s: %s has another size than its reference" % (name, k))
            cache.data[ck] = score_pair(scorer, ref_png, dist_png)
        scores.append(cache.data[ck])
    cache.save()
    return statistics.mean(scores), total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--thumbgen", default="target/release/thumbgen")
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--sample", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--qualities", default="50..80:5", type=int_list)
    ap.add_argument("--speed", type=int, default=10)
    ap.add_argument("--time-quality", type=int, help="default: thumbgen's default quality")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scorer", default="auto", choices=["auto", "ssimulacra2_rs", "python"])
    ap.add_argument("--work", default="/tmp/thumbgen-avif-sharp")
    args = ap.parse_args()
    if not shutil.which("node") or not shutil.which("npm"):
        raise BenchError("Node.js and npm are needed for eleventy-img")
    os.makedirs(args.work, exist_ok=True)
    binary, info = snapshot_binary(args.thumbgen, args.work)
    scorer = find_scorer(args.scorer)
    cache = ScoreCache(os.path.join(args.work, "scores.json"), scorer)
    node_dir, script, sample_dir, list_file, chosen = prepare(
        args.work, "eleventy.js", NODE_SCRIPT, args.corpus, args.sample, args.seed)

    def peer_command(fmt, out_dir):
        return ["node", script, list_file, sample_dir, out_dir, fmt]

    def thumbgen_dir(label, variant):
        d = os.path.join(args.work, "thumbgen-" + label)
        rmtree(d)
        os.makedirs(d)
        with open(os.path.join(d, ".thumbgen.toml"), "w") as f:
            f.write("source = %s\noutput = \"out\"\njobs = 2\n\n[[variants]]\nname = \"v\"\n"
                    "width = %d\n%s\n" % (toml_str(sample_dir), WIDTH, variant))
        return d

    def thumbgen_cold(d):
        rmtree(os.path.join(d, "out"))
        rmtree(os.path.join(d, ".thumbgen"))
        return timed([binary, "build", "-q"], d, ok=(0,))

    def peer_cold(fmt):
        out_dir = os.path.join(args.work, "peer-" + fmt)
        rmtree(out_dir)
        return timed(peer_command(fmt, out_dir), node_dir, ok=(0,)), out_dir

    # Scores and bytes (untimed).
    _, peer_ref_dir = peer_cold("png")
    (_, _), peer_avif_dir = peer_cold("avif")
    peer_score, peer_bytes = score_all("eleventy-img", peer_outputs(peer_avif_dir, "avif"),
                                       peer_outputs(peer_ref_dir, "png"), args.work, scorer, cache)
    ref_dir = thumbgen_dir("png", 'format = "png"')
    thumbgen_cold(ref_dir)
    refs = thumbgen_outputs(os.path.join(ref_dir, "out"))
    points = []
    for q in args.qualities:
        d = thumbgen_dir("q%d" % q, 'format = "avif"\nquality = %d\nspeed = %d' % (q, args.speed))
        wall, _ = thumbgen_cold(d)
        score, total = score_all("q%d" % q, thumbgen_outputs(os.path.join(d, "out")), refs,
                                 args.work, scorer, cache)
        points.append((q, score, total, wall, 0.0))
        log("thumbgen q%d s%d: score %.2f, %d bytes" % (q, args.speed, score, total))
    log("eleventy-img: score %.2f, %d bytes" % (peer_score, peer_bytes))

    # Cold times, interleaved.
    time_variant = 'format = "avif"\nspeed = %d' % args.speed
    if args.time_quality is not None:
        time_variant += "\nquality = %d" % args.time_quality
    timed_dir = thumbgen_dir("timed", time_variant)
    runs = {"thumbgen": [], "eleventy-img": []}
    for r in range(args.rounds):
        order = ["thumbgen", "eleventy-img"] if r % 2 == 0 else ["eleventy-img", "thumbgen"]
        for tool in order:
            if tool == "thumbgen":
                runs[tool].append(thumbgen_cold(timed_dir))
            else:
                runs[tool].append(peer_cold("avif")[0])
            log("round %d %-12s %7.2f s %5.0f MB" % (r + 1, tool, *runs[tool][-1]))
    timed_score, timed_bytes = score_all("timed", thumbgen_outputs(os.path.join(timed_dir, "out")),
                                         refs, args.work, scorer, cache)

    med = {t: statistics.median(w for w, _ in v) for t, v in runs.items()}
    rss = {t: max(m for _, m in v) for t, v in runs.items()}
    lines = [
        "%d photos, one %d px AVIF each, SSIMULACRA2 (%s) against each tool's own lossless "
        "resize; cold times: medians of %d interleaved rounds (thumbgen: %s)"
        % (len(chosen), WIDTH, scorer["version"], args.rounds, info["version"].splitlines()[0]),
        "",
        "| AVIF | mean SSIMULACRA2 | bytes | cold build | peak RSS |",
        "|---|---:|---:|---:|---:|",
        "| eleventy-img 6 (sharp, quality 50, effort 4) | %.2f | %d | %.2f s | %.0f MB |"
        % (peer_score, peer_bytes, med["eleventy-img"], rss["eleventy-img"]),
        "| thumbgen as timed (speed %d%s) | %.2f | %d | %.2f s | %.0f MB |"
        % (args.speed, "" if args.time_quality is None else ", quality %d" % args.time_quality,
           timed_score, timed_bytes, med["thumbgen"], rss["thumbgen"]),
    ]
    for q, score, total, _, _ in points:
        lines.append("| thumbgen quality %d, speed %d | %.2f | %d | | |" % (q, args.speed, score, total))
    equal = interpolate_equal_score(points, peer_score)
    lines.append("")
    if equal:
        lines.append("At eleventy-img's score thumbgen is quality %.1f: %.3f× its bytes; "
                     "cold time %.3f× its." % (equal["quality"], equal["bytes"] / peer_bytes,
                                               med["thumbgen"] / med["eleventy-img"]))
    else:
        lines.append("eleventy-img's score is outside thumbgen's qualities: widen --qualities.")
    text = "\n".join(lines)
    print("\n" + text)
    with open(os.path.join(args.work, "results-avif-sharp.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.work, "results-avif-sharp.json"), "w") as f:
        json.dump({"peer": [peer_score, peer_bytes], "points": points, "runs": runs}, f)
    return 0


if __name__ == "__main__":
    run_main(main)
