"""Helpers every benchmark script shares: errors and logging, files,
the machine's description, snapshots of the binaries measured, and timed
runs with peak memory. One copy, so the scripts cannot drift apart."""

import filecmp
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time


class BenchError(Exception):
    """An expected failure: reported as one clear message, no traceback."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_main(main):
    """A script's entry point: exit with what `main()` returns; a
    BenchError is printed as one line and exits 2."""
    try:
        sys.exit(main())
    except BenchError as e:
        log("error: %s" % e)
        sys.exit(2)


def rmtree(path):
    if os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def toml_str(s):
    return json.dumps(s)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def machine_info():
    model = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, val = line.partition(":")
                if key.strip() in ("model name", "Hardware", "cpu model") and val.strip():
                    model = val.strip()
                    break
    except OSError:
        pass
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count()
    mem_mb = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_mb = int(line.split()[1]) // 1024
    except (OSError, ValueError):
        pass
    return {
        "nproc": nproc,
        "cpu_model": model or platform.processor() or "unknown",
        "kernel": "%s %s" % (platform.system(), platform.release()),
        "mem_total_mb": mem_mb,
        "loadavg_at_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "hostname": platform.node(),
    }


def snapshot_binary(path, work):
    """Copy the binary into WORK/bin, so a rebuild during the benchmark
    changes nothing; named by its hash, so several versions can coexist."""
    path = os.path.abspath(path)
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise BenchError("thumbgen binary not found or not executable: %s" % path)
    digest = sha256_file(path)
    bindir = os.path.join(work, "bin")
    os.makedirs(bindir, exist_ok=True)
    snap = os.path.join(bindir, "thumbgen-" + digest[:12])
    if not os.path.isfile(snap):
        shutil.copy2(path, snap + ".tmp")
        os.replace(snap + ".tmp", snap)
    r = subprocess.run([snap, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if r.returncode != 0:
        raise BenchError("'%s --version' failed: %s" % (path, r.stdout.strip()))
    return snap, {"path": path, "version": r.stdout.strip(), "sha256": digest}


def timed(argv, cwd, ok=(0, 1), shell=False):
    """Run `argv` (a shell line with `shell`) in `cwd`: wall seconds, to the
    microsecond (/usr/bin/time's %e has 10 ms steps, as long as a no-op
    build), and peak RSS in MB (from /usr/bin/time). An exit code outside
    `ok` (thumbgen's 1 says outputs were stale, which is not a failure of
    the run) stops the benchmark with the command's stderr."""
    cmd = ["/usr/bin/time", "-f", "%M"] + (["sh", "-c", argv] if shell else list(argv))
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    wall = time.perf_counter() - start
    if out.returncode not in ok:
        raise BenchError("%s failed (exit %d):\n%s" % (argv, out.returncode, out.stderr))
    return wall, int(out.stderr.strip().splitlines()[-1]) / 1024


def same_tree(a, b):
    """Whether two folders hold the same files with the same bytes (the
    marker of a folder thumbgen owns aside: older builds write none)."""
    cmp = filecmp.dircmp(a, b, ignore=[".thumbgen-owned"])
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    return not mismatch and not errors and all(
        same_tree(os.path.join(a, d), os.path.join(b, d)) for d in cmp.common_dirs)


def free_port():
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, deadline=30):
    """Wait until something listens on loopback `port` (a server just
    started), at most `deadline` seconds."""
    end = time.time() + deadline
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise BenchError("nothing listens on port %d" % port)
