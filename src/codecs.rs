//! Which codecs this build carries and whether they run with their SIMD
//! kernels: the text of `thumbgen --version`, and the one notice a build
//! without the AV1 assembly gives when it first encodes or decodes AVIF.
//! Nothing here is part of a recipe: the kernels change speed, not bytes
//! (CI checks the golden digests with and without them).

use std::sync::atomic::{AtomicBool, Ordering};

use crate::model::Format;
use crate::variant::{encoder, JPEG_SIMD};

/// Whether the AV1 codecs (rav1e for AVIF outputs, rav1d for AVIF sources)
/// were built with their assembly. On x86 it needs nasm, so it comes with
/// the `asm` feature; on 64-bit ARM (but Windows) the C compiler assembles
/// it, and Cargo.toml turns it on for that target.
pub const AV1_ASM: bool = cfg!(any(
    feature = "asm",
    all(target_arch = "aarch64", not(windows))
));

/// How much slower AVIF is without the assembly, as measured on shop
/// photos (`bench/asm_cost.py`; README, "The fast build"). libaom (the
/// `aom` feature) always has its own: then only decoding is slower.
pub const AV1_SLOWDOWN: &str = if cfg!(feature = "aom") {
    "about 1.8x slower to decode"
} else {
    "about 2.6x slower to encode and 1.8x to decode"
};

/// How to get the fast AV1 build.
pub const AV1_ASM_HINT: &str = "install nasm, then build with `--features asm` \
     (`cargo install --locked --features asm --path .`)";

/// Set by the renderer on its first AV1 use, from any worker thread.
static AV1_USED: AtomicBool = AtomicBool::new(false);
/// Set once the notice has been given: once per process tells a user why
/// AVIF is slow, and watch mode runs many builds in one process.
static AV1_NOTICE_GIVEN: AtomicBool = AtomicBool::new(false);

/// Called by the renderer whenever it decodes AV1.
pub fn note_av1_use() {
    if !AV1_ASM {
        AV1_USED.store(true, Ordering::Relaxed);
    }
}

/// Called by the renderer whenever it encodes AV1: rav1e is slow without
/// its assembly, libaom always has its own.
pub fn note_av1_encode() {
    if !cfg!(feature = "aom") {
        note_av1_use();
    }
}

/// Whether to give the slow-AV1 notice now: this build lacks the assembly,
/// has used AV1, and has not said so yet in this process.
pub fn take_av1_notice() -> bool {
    !AV1_ASM && AV1_USED.load(Ordering::Relaxed) && !AV1_NOTICE_GIVEN.swap(true, Ordering::Relaxed)
}

/// `thumbgen --version`: the version, then each codec with its crates and
/// whether its SIMD kernels are in, so that a slow build can be told from
/// a fast one.
pub fn long_version() -> String {
    let x86 = cfg!(any(target_arch = "x86_64", target_arch = "x86"));
    let jpeg = match (JPEG_SIMD, x86) {
        (true, _) => "yes".to_string(),
        (false, true) => "no (nasm was not found when mozjpeg-sys was built)".to_string(),
        (false, false) => "no".to_string(),
    };
    let av1 = if AV1_ASM {
        "yes".to_string()
    } else {
        format!("no: {AV1_SLOWDOWN} (for the fast build, {AV1_ASM_HINT})")
    };
    format!(
        "{version}\n\
         JPEG  {jpeg_codec}; SIMD: {jpeg}\n\
         AVIF  encode: {avif}; decode: {rav1d}; assembly: {av1}\n\
         WebP  {webp}; SIMD: chosen at run time\n\
         PNG   {png}\n\
         resize: fast_image_resize; SIMD: chosen at run time",
        version = env!("CARGO_PKG_VERSION"),
        jpeg_codec = encoder(Format::Jpeg),
        avif = encoder(Format::Avif),
        rav1d = env!("THUMBGEN_DECODER_AV1"),
        webp = encoder(Format::Webp),
        png = encoder(Format::Png),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `.ci/run` sets `THUMBGEN_REQUIRE_SIMD=1` for its build with nasm:
    /// mozjpeg quietly builds without its kernels when it cannot find
    /// nasm, so a build meant to have them fails here. (The AV1 codecs'
    /// assembly cannot be lost quietly: `--features asm` fails to build
    /// without nasm.)
    #[test]
    fn the_fast_build_has_its_jpeg_kernels_where_required() {
        if std::env::var_os("THUMBGEN_REQUIRE_SIMD").is_some_and(|v| v == "1") {
            let missing = (!JPEG_SIMD).then_some(
                "mozjpeg was built without SIMD: install nasm, then `cargo clean --release -p mozjpeg-sys`",
            );
            assert_eq!(missing, None);
        }
    }

    #[test]
    fn the_version_names_each_codec_and_its_kernels() {
        let text = long_version();
        assert!(text.starts_with(env!("CARGO_PKG_VERSION")), "{text}");
        for needle in [
            "mozjpeg-sys",
            if cfg!(feature = "aom") {
                "libaom-sys"
            } else {
                "rav1e"
            },
            "rav1d",
            "libwebp-sys",
            "SIMD: ",
            "assembly: ",
        ] {
            assert!(text.contains(needle), "{needle} missing:\n{text}");
        }
        assert_eq!(text.contains("assembly: yes"), AV1_ASM, "{text}");
    }

    #[test]
    fn the_slow_build_notice_is_given_once() {
        // Another test in this process may have taken it already.
        note_av1_use();
        take_av1_notice();
        assert_eq!(AV1_NOTICE_GIVEN.load(Ordering::Relaxed), !AV1_ASM);
        note_av1_use();
        assert!(!take_av1_notice());
    }
}
