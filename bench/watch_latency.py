#!/usr/bin/env python3
"""Latency of `thumbgen watch`: from the moment a photo stops changing (its
file is written and closed) to its thumbnail being in place.

Starts `thumbgen watch` on a scratch project, drops photos in one at a time,
polls for each output every 2 ms, and reports the median latency next to
the median time of the build that made it (from watch's own summary line),
so the watch overhead (debounce + event delivery) can be read off directly.

usage: python3 bench/watch_latency.py [--thumbgen PATH] [--photos DIR] [-n N]
"""
import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.002)
    sys.exit(f"timed out waiting for {what}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--thumbgen", default=str(REPO / "target/release/thumbgen"))
    ap.add_argument("--photos", default=str(REPO / "examples/images"),
                    help="folder of photos to drop in (JPEG/PNG), used round-robin")
    ap.add_argument("-n", type=int, default=20, help="number of photos to drop in")
    args = ap.parse_args()

    if not Path(args.thumbgen).exists():
        subprocess.run(["cargo", "build", "--release"], cwd=REPO, check=True)
    photos = sorted(p for p in Path(args.photos).rglob("*")
                    if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not photos:
        sys.exit(f"no photos under {args.photos}")

    work = Path(tempfile.mkdtemp(prefix="thumbgen-watch-bench-"))
    try:
        (work / "src").mkdir()
        (work / ".thumbgen.toml").write_text(
            'source = "src"\noutput = "out"\n'
            '[[variants]]\nname = "thumb"\nwidth = 256\nheight = 256\nformat = "jpeg"\n')
        log_path = work / "watch.log"
        with open(log_path, "w") as log:
            watch = subprocess.Popen([args.thumbgen, "watch"], cwd=work,
                                     stdout=subprocess.DEVNULL, stderr=log)
        try:
            wait_for(lambda: "watching" in log_path.read_text(), 30, "watch to start")
            latencies, builds = [], []
            for i in range(args.n):
                photo = photos[i % len(photos)]
                target = work / "src" / f"p{i:03d}{photo.suffix.lower()}"
                out = work / "out" / "thumb" / f"p{i:03d}.jpg"
                data = photo.read_bytes()
                with open(target, "wb") as f:
                    f.write(data)
                stopped = time.monotonic()
                wait_for(out.exists, 30, f"{out}")
                latencies.append(time.monotonic() - stopped)
                # the summary line of the batch that built it
                wait_for(lambda: len(re.findall(r"^built 1 ", log_path.read_text(), re.M)) > i,
                         30, "the batch summary")
                summaries = re.findall(r"^built 1 .* · ([0-9.]+) s$", log_path.read_text(), re.M)
                builds.append(float(summaries[i]))
                time.sleep(0.3)  # let the batch finish before the next drop
        finally:
            watch.send_signal(2)
            code = watch.wait(timeout=30)
        if code != 0:
            sys.exit(f"thumbgen watch exited {code}:\n{log_path.read_text()}")

        ms = lambda xs: statistics.median(xs) * 1000
        over = [lat - b for lat, b in zip(latencies, builds)]
        print(f"photos dropped in: {args.n} (from {args.photos})")
        print("| measure | median ms | max ms |")
        print("|---|---:|---:|")
        print(f"| file closed -> thumbnail in place | {ms(latencies):.0f} | {max(latencies)*1000:.0f} |")
        print(f"| the build itself (watch's summary) | {ms(builds):.0f} | {max(builds)*1000:.0f} |")
        print(f"| watch overhead (latency - build) | {ms(over):.0f} | {max(over)*1000:.0f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
