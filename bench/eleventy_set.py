#!/usr/bin/env python3
"""The web developer's whole job, against eleventy-img: N photos, each at
widths 320/640/1280 in AVIF, WebP and JPEG, every tool at its defaults;
cold build time, peak RSS and bytes per format, interleaved rounds.

    python3 bench/eleventy_set.py --corpus /tmp/shop --sample 120 --rounds 2 \\
        --thumbgen /tmp/thumbgen-iq --thumbgen /tmp/thumbgen-asm

- Sample: `--sample N` photos of the corpus, drawn as in avif_quality.py
  (stratified by kind, `--seed`), linked into WORK/sample.
- Peer: `@11ty/eleventy-img` 6 (as avif_sharp.py installs it into
  WORK/node), run by a small Node script on the whole sample with
  `widths: [320, 640, 1280]`, `formats: ["avif", "webp", "jpeg"]` and
  nothing else set.
- thumbgen: each `--thumbgen` binary (several may be compared: builds with
  other features) with one variant of the same widths and formats and
  nothing else set.
- Each round runs every tool once, cold (outputs and state removed), in
  rotating order. Prints the median wall time and its ratio to
  eleventy-img's, the highest peak RSS, and the bytes of each format.

Bytes are not at equal quality here (each tool's defaults differ);
avif_sharp.py compares AVIF at equal SSIMULACRA2. Needs Node.js 18+ and npm.
"""

import argparse
import os
import shutil
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from avif_sharp import prepare  # noqa: E402
from benchlib import BenchError, log, rmtree, run_main, snapshot_binary, timed, toml_str  # noqa: E402

WIDTHS = [320, 640, 1280]
FORMATS = ["avif", "webp", "jpeg"]

NODE_SCRIPT = """
const path = require("path");
const fs = require("fs");
const Image = require("@11ty/eleventy-img");
const [listFile, srcDir, outDir] = process.argv.slice(2);
const files = fs.readFileSync(listFile, "utf8").split("\\n").filter(Boolean);
Promise.all(files.map((rel) => Image(path.join(srcDir, rel), {
  widths: %s,
  formats: %s,
  outputDir: outDir,
  filenameFormat: (id, src, width, fmt) =>
    rel.replace(/\\.[^.]+$/, "").replace(/\\//g, "_") + "-" + width + "." + fmt,
}))).catch((e) => { console.error(e); process.exit(1); });
""" % (WIDTHS, FORMATS)


def bytes_by_format(out_dir):
    sizes = {f: 0 for f in FORMATS}
    for d, _, fs in os.walk(out_dir):
        for f in fs:
            ext = f.rsplit(".", 1)[-1]
            ext = "jpeg" if ext == "jpg" else ext
            if ext in sizes:
                sizes[ext] += os.path.getsize(os.path.join(d, f))
    return sizes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--thumbgen", action="append", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--sample", type=int, default=120)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--work", default="/tmp/thumbgen-eleventy-set")
    args = ap.parse_args()
    if not shutil.which("node") or not shutil.which("npm"):
        raise BenchError("Node.js and npm are needed for eleventy-img")
    os.makedirs(args.work, exist_ok=True)
    node_dir, script, sample_dir, list_file, chosen = prepare(
        args.work, "set.js", NODE_SCRIPT, args.corpus, args.sample, args.seed)

    tools = [("eleventy-img", None)]
    for i, path in enumerate(args.thumbgen):
        binary, info = snapshot_binary(path, args.work)
        tools.append(("thumbgen %d (%s)" % (i + 1, os.path.basename(path)), binary))
        log("thumbgen %d: %s" % (i + 1, info["version"].replace("\n", "; ")))

    def run(name, binary):
        out = os.path.join(args.work, "out-%d" % [t[0] for t in tools].index(name))
        rmtree(out)
        if binary is None:
            wall, rss = timed(["node", script, list_file, sample_dir, out], node_dir, ok=(0,))
        else:
            d = out + "-project"
            rmtree(d)
            os.makedirs(d)
            with open(os.path.join(d, ".thumbgen.toml"), "w") as f:
                f.write("source = %s\noutput = %s\n\n[[variants]]\nname = \"photo\"\n"
                        "widths = %s\nformats = %s\n"
                        % (toml_str(sample_dir), toml_str(out), WIDTHS,
                           "[%s]" % ", ".join('"%s"' % f for f in FORMATS)))
            wall, rss = timed([binary, "build", "-q"], d, ok=(0,))
        return wall, rss, bytes_by_format(out)

    runs = {name: [] for name, _ in tools}
    for r in range(args.rounds):
        order = tools[r % len(tools):] + tools[:r % len(tools)]
        for name, binary in order:
            wall, rss, sizes = run(name, binary)
            runs[name].append((wall, rss, sizes))
            log("round %d %-28s %8.2f s %6.0f MB" % (r + 1, name, wall, rss))

    peer = statistics.median(w for w, _, _ in runs["eleventy-img"])
    print("\n%d photos x widths %s x %s, each tool at its defaults, cold; medians of %d "
          "interleaved rounds\n" % (len(chosen), WIDTHS, FORMATS, args.rounds))
    print("| tool | cold build | vs eleventy-img | peak RSS | AVIF bytes | WebP bytes | JPEG bytes |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, _ in tools:
        rows = runs[name]
        wall = statistics.median(w for w, _, _ in rows)
        sizes = rows[-1][2]
        print("| %s | %.2f s | %.3f× | %.0f MB | %d | %d | %d |"
              % (name, wall, wall / peer, max(m for _, m, _ in rows),
                 sizes["avif"], sizes["webp"], sizes["jpeg"]))
    return 0


if __name__ == "__main__":
    run_main(main)
