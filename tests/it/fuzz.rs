//! Damaged files of every format, through the real binary: seeded-random
//! truncations, bit flips and overwritten 32-bit fields (sizes, counts,
//! offsets: `0`, `2^31 - 1`, `2^32 - 1`, ...) of the fixtures, AVIF and
//! HEIC among them. Each file fails or builds on its own; nothing panics
//! or hangs, and peak memory (the AV1 helper processes' included) stays
//! within what `max_pixels` allows.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{parse_events, Env, FIXTURES};

/// The seeds of the mutations: formats whose decoders differ most.
fn seeds() -> Vec<&'static str> {
    let mut seeds = vec![
        "avif-orientation-6.avif",
        "alpha.avif",
        "grey.avif",
        "jxl-orientation-6.jxl",
        "alpha.jxl",
        "baseline.jpg",
        "progressive.jpg",
        "icc.png",
        "lossy.webp",
        "animated.gif",
        "ycbcr-420.tif",
        "jpeg-ycbcr.tif",
        "bmp-rle-topdown.bmp",
        "bmp-oversized-palette.bmp",
        "icon-grey-png.ico",
    ];
    if cfg!(feature = "heic") {
        seeds.extend(["heic-orientation-6.heic", "alpha.heic"]);
    }
    seeds
}

/// Truncations, bit flips, and overwritten 32-bit fields (sizes, counts,
/// offsets are where decoders go wrong).
fn damaged(bytes: &[u8], rng: &mut fastrand::Rng) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for _ in 0..6 {
        out.push(bytes[..rng.usize(0..bytes.len())].to_vec());
    }
    for _ in 0..10 {
        let mut m = bytes.to_vec();
        for _ in 0..rng.usize(1..8) {
            let i = rng.usize(0..m.len());
            m[i] ^= 1 << rng.u8(0..8);
        }
        out.push(m);
    }
    for _ in 0..8 {
        let mut m = bytes.to_vec();
        let i = rng.usize(0..m.len().saturating_sub(4).max(1));
        let value = [0u32, 0xFFFF_FFFF, 0x7FFF_FFFF, 65_535, 1 << 20][rng.usize(0..5)];
        let end = (i + 4).min(m.len());
        m[i..end].copy_from_slice(&value.to_be_bytes()[..end - i]);
        out.push(m);
    }
    out
}

/// `VmHWM` (peak resident memory, KiB) of process `pid`, while it runs.
#[cfg(target_os = "linux")]
fn vm_hwm(pid: &str) -> Option<i64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Peak resident memory of a finished child, in KiB, reaped by `wait4`.
///
/// The kernel's `ru_maxrss` of a child counts the memory of the process
/// that spawned it, up to its `exec`: here the test process, which other
/// tests running beside it can make larger than the child. So where
/// `ru_maxrss` is no larger than this process's own peak when it spawned
/// the child, it says nothing of the child, and the child's own `VmHWM`,
/// sampled while it runs, is taken instead.
#[cfg(target_os = "linux")]
fn wait_with_peak_rss(child: &std::process::Child, deadline: Duration) -> (i32, i64) {
    let start = Instant::now();
    let spawner_peak = vm_hwm("self").unwrap_or(0);
    let mut sampled = 0;
    loop {
        sampled = vm_hwm(&child.id().to_string()).unwrap_or(0).max(sampled);
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value to be overwritten.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `child` is our own child; WNOHANG does not block, and
        // both out-pointers are valid.
        let pid = unsafe { libc::wait4(child.id() as i32, &mut status, libc::WNOHANG, &mut usage) };
        if pid > 0 {
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                -libc::WTERMSIG(status)
            };
            let peak = if usage.ru_maxrss > spawner_peak {
                usage.ru_maxrss
            } else {
                sampled
            };
            return (code, peak);
        }
        assert!(
            start.elapsed() < deadline,
            "the build of damaged files hangs"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(target_os = "linux")]
#[test]
fn damaged_files_of_every_format_fail_alone_within_memory() {
    let env = Env::new(
        "max_pixels = 2000000\n[[variants]]\nname = \"t\"\nwidth = 64\nformat = \"webp\"\n",
    );
    let mut rng = fastrand::Rng::with_seed(15);
    let mut count = 0;
    for seed in seeds() {
        let bytes = std::fs::read(Path::new(FIXTURES).join(seed)).unwrap();
        let ext = Path::new(seed).extension().unwrap().to_str().unwrap();
        for (i, m) in damaged(&bytes, &mut rng).into_iter().enumerate() {
            std::fs::write(env.src(&format!("{seed}-{i:02}.{ext}")), m).unwrap();
            count += 1;
        }
    }
    // Events go to a file: a pipe nobody reads while waiting would fill up
    // and stop the build.
    let events_path = env.root().join("events.jsonl");
    // Reaped by `wait4` below, which also gives its peak memory.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(env!("CARGO_BIN_EXE_thumbgen"))
        .args(["build", "--json", "-j2"])
        .current_dir(env.root())
        .stdout(std::fs::File::create(&events_path).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (code, peak_kib) = wait_with_peak_rss(&child, Duration::from_secs(300));
    let stdout = std::fs::read_to_string(&events_path).unwrap();
    assert!(matches!(code, 0 | 1), "exit {code}");
    let events = parse_events(&stdout);
    let panics: Vec<_> = events.iter().filter(|e| e["kind"] == "panic").collect();
    assert!(panics.is_empty(), "decoders panicked: {panics:?}");
    let summary = events.last().unwrap();
    let done = summary["built"].as_u64().unwrap() + summary["failed"].as_u64().unwrap();
    assert!(
        done > 0 && summary["failed"].as_u64().unwrap() > 0,
        "{summary}"
    );
    eprintln!(
        "{count} damaged files: peak RSS {} MiB, {} built, {} failed",
        peak_kib / 1024,
        summary["built"],
        summary["failed"]
    );
    // Two decodes at a time of at most 2 Mpx, at 8 bytes a pixel at most
    // (16-bit RGBA), plus the program itself.
    assert!(
        peak_kib < 100 * 1024,
        "peak RSS {} MiB for {count} damaged files",
        peak_kib / 1024
    );
}
