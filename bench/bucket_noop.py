#!/usr/bin/env python3
"""A no-op build over sources in a bucket against the same no-op over a
local folder, interleaved.

    python3 bench/bucket_noop.py --thumbgen target/release/thumbgen [--count 10000] [--rounds 5]
        [--server moto | --s3s-fs PATH | --server memory]

Starts `moto_server` (or with `--s3s-fs` the Rust S3 server from
`cargo install s3s-fs --features binary`; or with `--server memory` the
in-memory listing server of `s3_memory.py`: moto and s3s-fs walk the whole
bucket for every listing request, which bounds a listing of thousands of
keys whoever asks) on a free loopback port, puts `--count` small JPEGs
(the same bytes in a local folder), builds both once (one 64 px variant),
then times, in rotating order, a no-op build of each: the bucket's is one
listing and no download; the folder's is a walk. Prints medians, the ratio
bucket / local, and peak RSS.
"""

import argparse
import io
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, log, rmtree, snapshot_binary, toml_str, wait_for_port  # noqa: E402

BUCKET = "bench-sources"


def tiny_jpeg(i):
    from PIL import Image
    im = Image.new("RGB", (48, 36), ((i * 37) % 256, (i * 91) % 256, (i * 13) % 256))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=80)
    return out.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--thumbgen", default="target/release/thumbgen")
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--work", default="/tmp/thumbgen-bench-bucket")
    ap.add_argument("--s3s-fs", help="path of an s3s-fs binary to use instead of moto")
    ap.add_argument("--server", choices=["moto", "memory"], default="moto",
                    help="memory: s3_memory.py's in-memory server, which answers listings "
                         "at once and so leaves thumbgen's own share to measure")
    args = ap.parse_args()
    if args.s3s_fs:
        args.server = "s3s-fs"
    import boto3

    rmtree(args.work)
    os.makedirs(args.work)
    binary, info = snapshot_binary(args.thumbgen, args.work)
    port = free_port()
    memory = None
    if args.server == "memory":
        import s3_memory
        memory = s3_memory.MemoryBucket(BUCKET)
        stop = s3_memory.serve(memory, port).shutdown
    elif args.s3s_fs:
        root = os.path.join(args.work, "s3s-root")
        os.makedirs(root)
        command = [args.s3s_fs, "--host", "127.0.0.1", "--port", str(port),
                   "--access-key", "testing", "--secret-key", "testing", root]
    else:
        command = ["moto_server", "-H", "127.0.0.1", "-p", str(port)]
    if memory is None:
        stop = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL).kill
    try:
        wait_for_port(port)
        endpoint = "http://127.0.0.1:%d" % port
        env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_REGION="us-east-1")
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        if memory is None:
            s3.create_bucket(Bucket=BUCKET)
            put = lambda key, data: s3.put_object(Bucket=BUCKET, Key=key, Body=data)  # noqa: E731
        else:
            put = memory.put
        local = os.path.join(args.work, "local")
        images = os.path.join(local, "images")
        for i in range(args.count):
            rel = "c%02d/p%05d.jpg" % (i % 50, i)
            data = tiny_jpeg(i)
            put("cat/" + rel, data)
            os.makedirs(os.path.dirname(os.path.join(images, rel)), exist_ok=True)
            with open(os.path.join(images, rel), "wb") as f:
                f.write(data)
        log("%d sources in the bucket and the folder" % args.count)
        variant = '[[variants]]\nname = "t"\nwidth = 64\nformat = "jpeg"\n'
        with open(os.path.join(local, ".thumbgen.toml"), "w") as f:
            f.write('source = "images"\noutput = "out"\njobs = 2\n' + variant)
        bucket = os.path.join(args.work, "bucket")
        os.makedirs(bucket)
        with open(os.path.join(bucket, ".thumbgen.toml"), "w") as f:
            f.write("source = %s\nsource_endpoint = %s\nsource_region = \"us-east-1\"\n"
                    "output = \"out\"\njobs = 2\n%s" % (toml_str("s3://%s/cat" % BUCKET),
                                                      toml_str(endpoint), variant))
        for folder in (local, bucket):
            subprocess.run([binary, "build", "-q"], cwd=folder, env=env, check=True)

        def run(folder):
            start = time.perf_counter()
            out = subprocess.run(["/usr/bin/time", "-f", "%M", binary, "build", "--json"],
                                 cwd=folder, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            wall = time.perf_counter() - start
            if out.returncode != 0 or '"built":0' not in out.stdout:
                raise SystemExit("not a no-op in %s:\n%s" % (folder, out.stderr))
            return wall, int(out.stderr.strip().splitlines()[-1]) / 1024

        contenders = [("local-noop", local), ("bucket-noop", bucket)]
        results = {name: [] for name, _ in contenders}
        for r in range(args.rounds):
            for name, folder in (contenders if r % 2 == 0 else contenders[::-1]):
                wall, rss = run(folder)
                results[name].append((wall, rss))
                log("round %d %-12s %6.3f s %5.0f MB" % (r + 1, name, wall, rss))
    finally:
        stop()
    med = {n: statistics.median(w for w, _ in v) for n, v in results.items()}
    print("\n%d sources on %s, %d rounds, medians (thumbgen: %s)\n" % (
        args.count, args.server, args.rounds,
        info["version"].splitlines()[0]))
    print("| scenario | wall | peak RSS |")
    print("|---|---|---|")
    for name, values in results.items():
        print("| %s | %.3f s | %.0f MB |" % (name, med[name], max(m for _, m in values)))
    print("\nbucket / local: %.2f×" % (med["bucket-noop"] / med["local-noop"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
