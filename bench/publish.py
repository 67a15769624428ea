#!/usr/bin/env python3
"""`thumbgen publish` against `aws s3 sync` on the same output tree and the
same S3 server, interleaved.

    python3 bench/publish.py --thumbgen target/release/thumbgen --corpus /tmp/shop [--rounds 3]

Builds the corpus once (three variants: 256 px JPEG, 640 px WebP, 1280 px
JPEG), starts `moto_server` on a free loopback port, then in each round,
in rotating order, each tool publishes the same tree to its own prefix:

- `first`: into an empty prefix (everything goes up);
- `noop`: again, nothing changed;
- `fresh`: as on a fresh CI runner, whose checkout and build give every
  output a new mtime (`touch`): `aws s3 sync` compares size and time, so
  it uploads everything again; thumbgen compares its records' hashes with
  the record of what it published;
- `changed1pct`: 1% of the photos re-encoded and rebuilt, then published.

Prints medians, ratios thumbgen / aws, and peak RSS. Needs `aws` (awscli,
`pip install awscli`) and `moto_server` (`pip install 'moto[server]'`).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (BenchError, free_port, log, rmtree, run_main, snapshot_binary,  # noqa: E402
                      timed, toml_str, wait_for_port)

BUCKET = "bench-cdn"
VARIANTS = """
[[variants]]
name = "thumb"
width = 256
format = "jpeg"

[[variants]]
name = "card"
width = 640
format = "webp"

[[variants]]
name = "large"
width = 1280
format = "jpeg"
"""


def change_photos(images, share, round_index):
    """Re-encode `share` of the photos (new bytes, same picture size)."""
    from PIL import Image
    names = sorted(os.path.join(d, n) for d, _, ns in os.walk(images) for n in ns
                   if n.lower().endswith((".jpg", ".jpeg")))
    picked = names[round_index % 7::max(1, int(1 / share))][:max(1, round(len(names) * share))]
    for path in picked:
        with Image.open(path) as im:
            im.load()
            im.save(path, "JPEG", quality=70 + round_index % 20)
    return len(picked)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--thumbgen", default="target/release/thumbgen")
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work", default="/tmp/thumbgen-bench-publish")
    args = ap.parse_args()
    if shutil.which("aws") is None:
        raise BenchError("aws not found: pip install awscli")
    rmtree(args.work)
    os.makedirs(args.work)
    binary, info = snapshot_binary(args.thumbgen, args.work)
    project = os.path.join(args.work, "project")
    images = os.path.join(project, "images")
    shutil.copytree(args.corpus, images)
    port = free_port()
    endpoint = "http://127.0.0.1:%d" % port
    with open(os.path.join(project, ".thumbgen.toml"), "w") as f:
        f.write('source = "images"\noutput = "out"\njobs = 2\n%s\n[publish]\nurl = %s\n'
                'endpoint = %s\nregion = "us-east-1"\n'
                % (VARIANTS, toml_str("s3://%s/thumbgen" % BUCKET), toml_str(endpoint)))
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1",
               AWS_ENDPOINT_URL=endpoint)
    os.environ.update(env)
    subprocess.run([binary, "build", "-q"], cwd=project, check=True)
    out = os.path.join(project, "out")
    # The folders' .thumbgen-owned markers are not outputs, and not published.
    paths = [os.path.join(d, n) for d, _, ns in os.walk(out) for n in ns if n != ".thumbgen-owned"]
    files = len(paths)
    size = sum(os.path.getsize(p) for p in paths)
    log("%d outputs, %.1f MB" % (files, size / 1e6))
    server = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tools = {
        "thumbgen": [binary, "publish", "-q"],
        "aws": ["aws", "s3", "sync", "--only-show-errors", "--exclude", "*.thumbgen-owned",
                out, "s3://%s/aws" % BUCKET],
    }
    results = {}

    def run(scenario, tool):
        wall, rss = timed(tools[tool], project, ok=(0,))
        results.setdefault((scenario, tool), []).append((wall, rss))
        log("%-12s %-9s %7.3f s %5.0f MB" % (scenario, tool, wall, rss))

    try:
        wait_for_port(port)
        subprocess.run(["aws", "s3", "mb", "s3://" + BUCKET], check=True,
                       stdout=subprocess.DEVNULL)
        for r in range(args.rounds):
            order = ["thumbgen", "aws"] if r % 2 == 0 else ["aws", "thumbgen"]
            for prefix in ("thumbgen", "aws"):
                subprocess.run(["aws", "s3", "rm", "--recursive", "--only-show-errors",
                                "s3://%s/%s" % (BUCKET, prefix)], check=True)
            for tool in order:
                run("first", tool)
            for tool in order:
                run("noop", tool)
            for d, _, names in os.walk(out):
                for n in names:
                    os.utime(os.path.join(d, n))
            for tool in order:
                run("fresh", tool)
            changed = change_photos(images, 0.01, r)
            subprocess.run([binary, "build", "-q"], cwd=project, check=True)
            log("%d photos changed" % changed)
            for tool in order:
                run("changed1pct", tool)
    finally:
        server.kill()
    print("\n%d outputs (%.1f MB) of %d photos, moto on loopback, %d rounds, medians"
          " (thumbgen: %s)\n" % (files, size / 1e6, sum(len(ns) for _, _, ns in os.walk(images)), args.rounds,
                                 info["version"].splitlines()[0]))
    print("| scenario | thumbgen | aws s3 sync | thumbgen / aws | peak RSS thumbgen / aws |")
    print("|---|---|---|---|---|")
    med = {k: statistics.median(w for w, _ in v) for k, v in results.items()}
    for scenario in ("first", "noop", "fresh", "changed1pct"):
        t, a = med[(scenario, "thumbgen")], med[(scenario, "aws")]
        print("| %s | %.2f s | %.2f s | %.3f× | %.0f / %.0f MB |" % (
            scenario, t, a, t / a, max(m for _, m in results[(scenario, "thumbgen")]),
            max(m for _, m in results[(scenario, "aws")])))
    print("\nthumbgen: 1%% changed / first = %.3f×" % (
        med[("changed1pct", "thumbgen")] / med[("first", "thumbgen")]))
    return 0


if __name__ == "__main__":
    run_main(main)
