#!/usr/bin/env python3
"""URL sources (`source_list`) against the script they replace, interleaved.

    python3 bench/urls.py --thumbgen target/release/thumbgen --corpus DIR [--rounds 3]
        [--scenarios thumbgen-cold,peer-cold,...] [--baseline OLD_BINARY]

Serves every photo of the corpus from a loopback HTTP origin that adds
`--latency-ms` (20) to each response and answers `If-None-Match` with 304,
and lists their URLs. Each round runs, in rotating order:

  thumbgen-cold   thumbgen from an empty output folder and cache
  peer-cold       bench/peer_download.py: requests in 16 threads, then
                  Pillow in 2 processes (the three variants)
  thumbgen-noop   thumbgen over a built tree: every answer a 304
  thumbgen-1pct   the same after 1% of the photos changed at the origin
  baseline-cold   with --baseline: that binary's cold build, the ratio
                  thumbgen-cold is compared with (a before/after of a change)

All with three variants (256 JPEG, 640 WebP, 1280 JPEG) and 2 workers.
Prints medians, the ratios the README quotes, and peak RSS.
"""

import argparse
import http.server
import os
import shutil
import socketserver
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import log, machine_info, rmtree, snapshot_binary, timed, toml_str  # noqa: E402
from compare import V256, V640, V1280  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class Origin(http.server.SimpleHTTPRequestHandler):
    """Files of `root`, each after `latency` seconds, with a strong ETag
    (mtime and size) and 304 for a matching If-None-Match."""

    root = "."
    latency = 0.02
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        time.sleep(self.latency)
        path = os.path.join(self.root, self.path.split("?")[0].lstrip("/"))
        try:
            st = os.stat(path)
        except OSError:
            self.send_error(404)
            return
        etag = '"%x-%x"' % (st.st_mtime_ns, st.st_size)
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with open(path, "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def photos(root):
    out = []
    for folder, _, files in os.walk(root):
        for name in files:
            if name.lower().endswith((".jpg", ".jpeg", ".png", ".webp")):
                out.append(os.path.relpath(os.path.join(folder, name), root))
    return sorted(out)


def write_config(path, list_file, output, cache):
    lines = ["source_list = %s" % toml_str(list_file), "output = %s" % toml_str(output),
             "cache = %s" % toml_str(cache), "jobs = 2", ""]
    for v in (V256, V640, V1280):
        lines += ["[[variants]]", "name = %s" % toml_str(v["name"]), "width = %d" % v["width"],
                  "height = %d" % v["height"], "format = %s" % toml_str(v["format"]),
                  "quality = %d" % v["quality"], ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--thumbgen", default="target/release/thumbgen")
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--latency-ms", type=float, default=20)
    ap.add_argument("--work", default="/tmp/thumbgen-bench-urls")
    ap.add_argument("--scenarios", default="thumbgen-cold,peer-cold,thumbgen-noop,thumbgen-1pct")
    ap.add_argument("--baseline", help="another thumbgen binary, built cold beside it")
    args = ap.parse_args()

    rmtree(args.work)
    os.makedirs(args.work)
    binary, info = snapshot_binary(args.thumbgen, args.work)
    if args.baseline:
        baseline, _ = snapshot_binary(args.baseline, args.work)
    served = os.path.join(args.work, "served")
    shutil.copytree(args.corpus, served)
    names = photos(served)
    Origin.root, Origin.latency = served, args.latency_ms / 1000
    server = Server(("127.0.0.1", 0), Origin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    list_file = os.path.join(args.work, "list.txt")
    with open(list_file, "w") as f:
        for name in names:
            f.write("http://127.0.0.1:%d/%s?sig=%d\n" % (port, name, hash(name) & 0xffff))
    log("%d photos served on port %d, %.0f ms per response" % (len(names), port, args.latency_ms))

    def project(name):
        folder = os.path.join(args.work, name)
        os.makedirs(folder, exist_ok=True)
        write_config(os.path.join(folder, ".thumbgen.toml"), list_file, "out", "cache")
        return folder

    cold, warm, base = project("cold"), project("warm"), project("base")
    peer_out = os.path.join(args.work, "peer")
    if "thumbgen-noop" in args.scenarios or "thumbgen-1pct" in args.scenarios:
        timed([binary, "build", "-q"], warm)
    changed_each_round = max(1, len(names) // 100)

    def thumbgen_cold():
        rmtree(os.path.join(cold, "out"))
        rmtree(os.path.join(cold, "cache"))
        return timed([binary, "build", "-q"], cold, ok=(0,))

    def baseline_cold():
        rmtree(os.path.join(base, "out"))
        rmtree(os.path.join(base, "cache"))
        return timed([baseline, "build", "-q"], base, ok=(0,))

    def peer_cold():
        rmtree(peer_out)
        return timed([sys.executable, os.path.join(HERE, "peer_download.py"), list_file, peer_out],
                     args.work, ok=(0,))

    def thumbgen_noop():
        return timed([binary, "build", "-q"], warm, ok=(0,))

    def thumbgen_1pct(round_no=[0]):
        round_no[0] += 1
        stride = len(names) // changed_each_round
        for i in range(changed_each_round):
            name = names[(round_no[0] + i * stride) % len(names)]
            with open(os.path.join(served, name), "ab") as f:
                f.write(b"\0")  # after the image's end: new content, same picture
        return timed([binary, "build", "-q"], warm, ok=(0,))

    wanted = args.scenarios.split(",") + (["baseline-cold"] if args.baseline else [])
    contenders = [(name, run) for name, run in [
        ("thumbgen-cold", thumbgen_cold), ("peer-cold", peer_cold),
        ("thumbgen-noop", thumbgen_noop), ("thumbgen-1pct", thumbgen_1pct),
        ("baseline-cold", baseline_cold)] if name in wanted]
    results = {name: [] for name, _ in contenders}
    for r in range(args.rounds):
        order = contenders[r % len(contenders):] + contenders[:r % len(contenders)]
        for name, run in order:
            wall, rss = run()
            results[name].append((wall, rss))
            log("round %d %-14s %7.2f s %6.0f MB" % (r + 1, name, wall, rss))
    server.shutdown()

    med = {n: statistics.median(w for w, _ in v) for n, v in results.items()}
    rss = {n: max(m for _, m in v) for n, v in results.items()}
    print("\nmachine: %s" % machine_info())
    print("thumbgen: %s" % info["version"].splitlines()[0])
    print("%d photos, %.0f ms per response, %d rounds, medians\n" % (len(names), args.latency_ms,
                                                                     args.rounds))
    print("| scenario | wall | peak RSS | ratio |")
    print("|---|---|---|---|")
    ratios = {"thumbgen-cold": ("peer-cold", "vs the peer"),
              "peer-cold": (None, ""),
              "thumbgen-noop": ("thumbgen-cold", "vs thumbgen cold"),
              "thumbgen-1pct": ("thumbgen-cold", "vs thumbgen cold"),
              "baseline-cold": (None, "")}
    if args.baseline:
        ratios["thumbgen-cold"] = ("baseline-cold", "vs the baseline")
    for name in results:
        base, what = ratios[name]
        ratio = "%.3f× %s" % (med[name] / med[base], what) if base in med else ""
        print("| %s | %.2f s | %.0f MB | %s |" % (name, med[name], rss[name], ratio))
    return 0


if __name__ == "__main__":
    sys.exit(main())
