//! Builds the small C shim over the vendored mozjpeg (`mozjpeg-sys`, a
//! libjpeg-turbo fork, built from source and linked statically) used for
//! scaled JPEG decoding and for encoding, and tells the crate which codec
//! libraries write its bytes (their identities are part of every recipe).
//!
//! Set for the crate (read with `env!` in `src/variant.rs`):
//! - `THUMBGEN_CODEC_JPEG`, `_PNG`, `_WEBP`, `_AVIF`: the
//!   crates (and versions) that encode each output format;
//! - `THUMBGEN_DECODERS`: the crates that decode the other source formats;
//! - `THUMBGEN_DECODER_AV1`: rav1d's version, for `--version`;
//! - `THUMBGEN_JPEG_SIMD`: `1` when mozjpeg was built with its SIMD kernels
//!   (on x86 they need nasm), else `0`.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/render/jpeg_shim.c");
    println!("cargo:rerun-if-changed=Cargo.lock");

    // mozjpeg-sys (`links = "jpeg"`) hands its include folders to the build
    // scripts of the crates that depend on it: its generated jconfig.h and
    // jversion.h, then the vendored headers.
    let include = std::env::var_os("DEP_JPEG_INCLUDE")
        .expect("mozjpeg-sys gives its include folders in DEP_JPEG_INCLUDE");
    let include: Vec<PathBuf> = std::env::split_paths(&include).collect();
    let header = |name: &str| -> String {
        include
            .iter()
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_else(|| panic!("{name} not found in DEP_JPEG_INCLUDE ({include:?})"))
    };

    // The library's own record of how it was built: mozjpeg-sys writes
    // WITH_SIMD into jconfig.h only when it compiled the SIMD kernels, and
    // its crate version into jversion.h.
    let simd = header("jconfig.h")
        .lines()
        .any(|l| l.split_whitespace().eq(["#define", "WITH_SIMD", "1"]));
    let jversion = header("jversion.h");
    let mozjpeg_version = jversion
        .lines()
        .find_map(|l| {
            let rest = l.trim().strip_prefix("#define JVERSION")?;
            Some(rest.trim().trim_matches('"').to_string())
        })
        .expect("JVERSION in mozjpeg-sys's jversion.h");

    let mut build = cc::Build::new();
    build
        .file("src/render/jpeg_shim.c")
        .warnings(true)
        .opt_level(2);
    for dir in &include {
        build.include(dir);
    }
    build.compile("thumbgen_jpeg");

    println!("cargo:rustc-env=THUMBGEN_JPEG_SIMD={}", u8::from(simd));
    if !simd
        && matches!(
            std::env::var("CARGO_CFG_TARGET_ARCH").as_deref(),
            Ok("x86_64" | "x86")
        )
    {
        println!(
            "cargo:warning=JPEG SIMD is off: nasm was not found when mozjpeg-sys was built, so \
             JPEG decoding and encoding are slower (cold builds of photos measured ~1.5x \
             slower; the output bytes are the same). For the fast build install nasm (`apt-get install nasm`, `brew install nasm`, \
             `winget install nasm`), then `cargo clean -p mozjpeg-sys` and build again."
        );
    }

    // The crates that write each output format's bytes, at the versions
    // this build resolves (Cargo.lock, committed and used with --locked).
    let lock = std::fs::read_to_string("Cargo.lock").expect("Cargo.lock beside Cargo.toml");
    let versions = |name: &str| -> String {
        let found = locked_versions(&lock, name);
        assert!(!found.is_empty(), "{name} is not in Cargo.lock");
        format!("{name} {}", found.join("/"))
    };
    println!("cargo:rustc-env=THUMBGEN_CODEC_JPEG=mozjpeg-sys {mozjpeg_version}");
    println!(
        "cargo:rustc-env=THUMBGEN_CODEC_PNG={}, {}, {}",
        versions("image"),
        versions("png"),
        versions("fdeflate")
    );
    println!(
        "cargo:rustc-env=THUMBGEN_CODEC_WEBP={}, {}",
        versions("webp"),
        versions("libwebp-sys")
    );
    // With the `aom` feature libaom writes the AV1 data, not rav1e: a
    // build with it has other AVIF recipes, so switching rebuilds them.
    let av1_encoder = if std::env::var_os("CARGO_FEATURE_AOM").is_some() {
        // The bindings' version: the libaom linked may be another
        // (`.ci/libaom`), and thumbgen-avif's settings name that one.
        format!("{} bindings", versions("libaom-sys"))
    } else {
        versions("rav1e")
    };
    println!(
        "cargo:rustc-env=THUMBGEN_CODEC_AVIF={}, {}, {}",
        av1_encoder,
        versions("avif-serialize"),
        // Converts pixels in other RGB spaces to sRGB before the encode.
        versions("moxcms")
    );
    println!("cargo:rustc-env=THUMBGEN_DECODER_AV1={}", versions("rav1d"));
    // The decoders of the other source formats (libheif-sys only takes
    // part with the `heic` feature; its version is in Cargo.lock either way).
    let decoders: Vec<String> = [
        "image",
        "png",
        "gif",
        "image-webp",
        "tiff",
        "mp4parse",
        "rav1d",
        "jxl-oxide",
        "libheif-sys",
    ]
    .iter()
    .map(|name| versions(name))
    .collect();
    println!("cargo:rustc-env=THUMBGEN_DECODERS={}", decoders.join(", "));
}

/// Every version of package `name` in a Cargo.lock (one, unless several
/// majors are in the tree).
fn locked_versions(lock: &str, name: &str) -> Vec<String> {
    let want = format!("name = \"{name}\"");
    let mut out = Vec::new();
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == want {
            if let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = "))
            {
                out.push(v.trim_matches('"').to_string());
            }
        }
    }
    out
}
