#!/usr/bin/env python3
"""AVIF and HEIC sources: thumbgen against libvips, interleaved.

    python3 bench/phone_formats.py --thumbgen BIN --photos DIR [--rounds 3]
    python3 bench/phone_formats.py --make DIR --from /tmp/shop [--count 40]

`--make` writes a folder of phone-sized photos (at most 4032 px, as an
iPhone saves them) from JPEGs of a corpus: half AVIF (Pillow's libavif,
quality 70, speed 8), half HEIC (pillow-heif's libheif/x265, quality 80).

The run makes one 256x256 JPEG q80 thumbnail per photo, 2 workers each:
thumbgen (built with `--features heic`) from an empty output and cache, and
`vipsthumbnail` (Debian's libvips, libheif with libde265 and dav1d/aom
inside) through `xargs -P2`. Prints medians, the ratio, and peak RSS.
"""

import argparse
import glob
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import timed  # noqa: E402


def make(out, corpus, count):
    from PIL import Image
    import pillow_heif

    pillow_heif.register_heif_opener()
    os.makedirs(out, exist_ok=True)
    files = sorted(glob.glob(os.path.join(corpus, "**", "*.jpg"), recursive=True))[:count]
    for i, f in enumerate(files):
        im = Image.open(f)
        im.draft("RGB", (4032, 4032))
        im = im.convert("RGB")
        im.thumbnail((4032, 4032))
        if i % 2:
            im.save(os.path.join(out, f"p{i:03}.heic"), quality=80)
        else:
            im.save(os.path.join(out, f"p{i:03}.avif"), quality=70, speed=8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--thumbgen")
    ap.add_argument("--photos")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--make")
    ap.add_argument("--from", dest="corpus")
    ap.add_argument("--count", type=int, default=40)
    args = ap.parse_args()
    if args.make:
        make(args.make, args.corpus, args.count)
        return
    photos = os.path.abspath(args.photos)
    names = sorted(os.listdir(photos))
    work = tempfile.mkdtemp(prefix="phone-bench-")
    with open(os.path.join(work, ".thumbgen.toml"), "w") as f:
        f.write('source = "%s"\noutput = "out"\n[[variants]]\nname = "t"\n'
                'width = 256\nheight = 256\nformat = "jpeg"\nquality = 80\n' % photos)
    vips_out = os.path.join(work, "vips")
    results = {"thumbgen": [], "vipsthumbnail": []}
    rss = {"thumbgen": 0, "vipsthumbnail": 0}
    for r in range(args.rounds):
        order = ["thumbgen", "vipsthumbnail"] if r % 2 == 0 else ["vipsthumbnail", "thumbgen"]
        for tool in order:
            if tool == "thumbgen":
                for d in ("out", ".thumbgen"):
                    shutil.rmtree(os.path.join(work, d), ignore_errors=True)
                wall, peak = timed([os.path.abspath(args.thumbgen), "build", "-j2", "-q"], work, ok=(0,))
            else:
                shutil.rmtree(vips_out, ignore_errors=True)
                os.makedirs(vips_out)
                script = ("ls %s | xargs -P2 -I{} vipsthumbnail %s/{} -s 256x256 "
                          "-o %s/%%s.jpg[Q=80]" % (photos, photos, vips_out))
                wall, peak = timed(script, work, ok=(0,), shell=True)
            results[tool].append(wall)
            rss[tool] = max(rss[tool], peak)
        print("round %d done" % (r + 1), file=sys.stderr)
    made = len(glob.glob(os.path.join(work, "out", "t", "*.jpg")))
    vips_made = len(glob.glob(os.path.join(vips_out, "*.jpg")))
    base = statistics.median(results["vipsthumbnail"])
    print("%d photos (%d AVIF, %d HEIC); thumbgen made %d, vipsthumbnail %d" % (
        len(names), sum(n.endswith(".avif") for n in names),
        sum(n.endswith(".heic") for n in names), made, vips_made))
    print("| tool | median s | × vipsthumbnail | peak RSS MB |")
    print("|---|---:|---:|---:|")
    for tool in ("thumbgen", "vipsthumbnail"):
        m = statistics.median(results[tool])
        print("| %s | %.2f | %.2f | %.0f |" % (tool, m, m / base, rss[tool]))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
