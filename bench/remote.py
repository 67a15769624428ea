#!/usr/bin/env python3
"""The shared cache and shards, as ratios against a local build, interleaved.

    python3 bench/remote.py --thumbgen target/release/thumbgen --corpus DIR [--rounds 3]

Starts `moto_server` (pip install 'moto[server]') on a free loopback port
(or, with `--s3s-fs PATH`, the Rust S3 server `s3s-fs`, from
`cargo install s3s-fs --features binary`: moto is Python and serves a few
hundred requests a second, which bounds the warm scenario on it),
fills a bucket with one read-write build of the corpus (three variants:
256 JPEG, 640 WebP, 1280 JPEG), then every round runs, in rotating order,
each from an empty output folder and an empty local cache, with -j2:

  cold         no remote at all: every output rendered here
  warm-s3      the remote on moto: every output downloaded and verified
  warm-folder  the same from a `file://` shared folder
  shard-1of2   --shard 1/2 without a remote: half the photos, rendered here
  unreachable  the remote on a closed loopback port: one warning, all local

Prints the median wall time, the ratio to `cold`, peak RSS, the download
throughput, and checks that every scenario wrote the same bytes as `cold`.
`--latency-ms` adds a proxy that delays every request to moto, to estimate
what a real network's round trips cost.
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, same_tree, timed, wait_for_port  # noqa: E402
from compare import V256, V640, V1280, write_config  # noqa: E402

VARIANTS = [dict(V256, name="s"), dict(V640, name="m"), dict(V1280, name="l")]
BUCKET = "bench"


def http(port, method, path):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(("%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
                   % (method, path)).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.decode(errors="replace")


def delaying_proxy(listen, target, delay):
    """A TCP proxy that holds everything the client sends `delay` seconds
    before passing it on: a real network's round trip for every request."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", listen))
    server.listen(256)

    def pipe(src, dst, hold):
        # Connections are kept alive: every request the client sends (one
        # read, for the small GETs of a lookup) waits, not each connection.
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if hold:
                    time.sleep(delay)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve():
        while True:
            client, _ = server.accept()
            upstream = socket.create_connection(("127.0.0.1", target))
            threading.Thread(target=pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, client, False), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()


def config(path, corpus, d, remote):
    write_config(path, corpus, os.path.join(d, "out"), os.path.join(d, ".thumbgen"), VARIANTS)
    if remote:
        with open(path, "a") as f:
            f.write("\n[remote]\n" + remote)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--thumbgen", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--s3s-fs", help="path of an s3s-fs binary to use instead of moto")
    ap.add_argument("--latency-ms", type=float, default=0.0,
                    help="delay per request to moto, through a local proxy")
    ap.add_argument("--work", default=tempfile.gettempdir() + "/thumbgen-remote-bench")
    ap.add_argument("--scenarios", default="cold,warm-s3,warm-folder,shard-1of2,unreachable")
    args = ap.parse_args()
    binary = os.path.abspath(args.thumbgen)
    corpus = os.path.abspath(args.corpus)
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)

    port = free_port()
    if args.s3s_fs:
        root = os.path.join(args.work, "s3s-root")
        os.makedirs(os.path.join(root, BUCKET))  # its buckets are folders
        server = [args.s3s_fs, "--host", "127.0.0.1", "--port", str(port),
                  "--access-key", "bench", "--secret-key", "bench", root]
    else:
        server = ["moto_server", "-H", "127.0.0.1", "-p", str(port)]
    moto = subprocess.Popen(server, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        if not args.s3s_fs:
            http(port, "PUT", "/" + BUCKET)
        endpoint = port
        if args.latency_ms > 0:
            endpoint = free_port()
            delaying_proxy(endpoint, port, args.latency_ms / 1000)
            wait_for_port(endpoint)
        env = dict(os.environ, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                   AWS_METADATA_ENDPOINT="http://127.0.0.1:%d" % free_port())
        s3 = ('url = "s3://%s/cache"\nendpoint = "http://127.0.0.1:%d"\n'
              'region = "us-east-1"\n' % (BUCKET, endpoint))
        shared = os.path.join(args.work, "shared-folder")
        folder = 'url = "file://%s"\n' % shared
        closed = ('url = "s3://%s/cache"\nendpoint = "http://127.0.0.1:%d"\n'
                  % (BUCKET, free_port()))
        remotes = {
            "cold": (None, []),
            "warm-s3": (s3, []),
            "warm-folder": (folder, []),
            "shard-1of2": (None, ["--shard", "1/2"]),
            "unreachable": (closed, []),
        }
        scenarios = args.scenarios.split(",")

        # Fill both stores once (untimed).
        for name, remote in [("fill-s3", s3), ("fill-folder", folder)]:
            d = os.path.join(args.work, name)
            os.makedirs(d)
            cfg = os.path.join(d, "thumbgen.toml")
            config(cfg, corpus, d, remote)
            out = subprocess.run([binary, "build", "-q", "-c", cfg, "-j2"], env=env)
            if out.returncode != 0:
                raise SystemExit("filling %s failed" % name)

        results = {s: [] for s in scenarios}
        for rnd in range(args.rounds):
            order = scenarios[rnd % len(scenarios):] + scenarios[:rnd % len(scenarios)]
            for name in order:
                d = os.path.join(args.work, name)
                shutil.rmtree(d, ignore_errors=True)
                os.makedirs(d)
                cfg = os.path.join(d, "thumbgen.toml")
                remote, extra = remotes[name]
                config(cfg, corpus, d, remote)
                os.environ.update(env)
                results[name].append(timed([binary, "build", "-q", "-c", cfg, "-j2"] + extra, d))
            print("round %d done" % (rnd + 1), file=sys.stderr)

        cold = statistics.median(w for w, _ in results["cold"]) if "cold" in results else None
        total = sum(os.path.getsize(os.path.join(r, f))
                    for r, _, fs in os.walk(os.path.join(args.work, "fill-s3", "out"))
                    for f in fs)
        print("S3 server: %s; latency per request: %.1f ms\n"
              % ("s3s-fs" if args.s3s_fs else "moto", args.latency_ms))
        print("| scenario | median s | vs cold | peak RSS | download throughput |")
        print("|---|---|---|---|---|")
        for name in scenarios:
            wall = statistics.median(w for w, _ in results[name])
            rss = max(r for _, r in results[name])
            ratio = "%.2f" % (wall / cold) if cold else "-"
            speed = ("%.0f MB/s" % (total / wall / 1e6)) if name.startswith("warm") else ""
            print("| %s | %.2f | %s | %.0f MB | %s |" % (name, wall, ratio, rss, speed))
        if "cold" in scenarios:
            reference = os.path.join(args.work, "cold", "out")
            for name in scenarios:
                if name in ("cold", "shard-1of2"):
                    continue
                same = same_tree(reference, os.path.join(args.work, name, "out"))
                print("%s outputs identical to cold: %s" % (name, "yes" if same else "NO"))
    finally:
        moto.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
