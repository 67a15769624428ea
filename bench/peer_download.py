#!/usr/bin/env python3
"""The script thumbgen replaces, for URL sources: download every URL of a
list with a thread pool (requests), then make the three variants of each
photo with Pillow in a process pool. Used by bench/urls.py as the peer.

    python3 bench/peer_download.py LIST OUT [--threads 16] [--procs 2]
"""

import argparse
import concurrent.futures
import os
import sys

import requests
from PIL import Image

VARIANTS = [("thumb", 256, "JPEG", ".jpg"), ("card", 640, "WEBP", ".webp"),
            ("large", 1280, "JPEG", ".jpg")]


def download(session, url, folder):
    name = url.split("/", 3)[3].split("?")[0]
    path = os.path.join(folder, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    r = session.get(url, timeout=60)
    r.raise_for_status()
    with open(path, "wb") as f:
        f.write(r.content)
    return path, name


def render(job):
    path, name, out = job
    with Image.open(path) as im:
        im.load()
        im = im.convert("RGB")
        for folder, side, fmt, ext in VARIANTS:
            copy = im.copy()
            copy.thumbnail((side, side), Image.LANCZOS)
            target = os.path.join(out, folder, os.path.splitext(name)[0] + ext)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            copy.save(target, fmt, quality=80)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("list")
    ap.add_argument("out")
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--procs", type=int, default=2)
    args = ap.parse_args()
    with open(args.list) as f:
        urls = [line.strip() for line in f if line.strip()]
    folder = os.path.join(args.out, ".downloads")
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=args.threads)
    session.mount("http://", adapter)
    with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
        got = list(pool.map(lambda u: download(session, u, folder), urls))
    with concurrent.futures.ProcessPoolExecutor(args.procs) as pool:
        list(pool.map(render, [(p, n, args.out) for p, n in got], chunksize=4))
    return 0


if __name__ == "__main__":
    sys.exit(main())
