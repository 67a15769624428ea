//! thumbgen's AVIF encode: one function, not generic, over rav1e (or
//! libaom, with the `aom` feature) and avif-serialize.
//!
//! Why a crate of its own: rav1e's encoder is generic over the pixel type,
//! and it was compiled in whichever crate instantiated it. Called from
//! thumbgen, that was an eighth of its code, compiled twice by
//! `cargo test --release` (the library and its unit tests); called here,
//! it is compiled once, beside the rest of the dependencies.
//!
//! Both encoders take the same planes (`planes.rs`: 8-bit full-range
//! BT.601 YCbCr 4:4:4, alpha as a monochrome image of its own) and their
//! AV1 data goes into the same container.

#[cfg(feature = "aom")]
mod aom;
mod planes;
#[cfg(not(feature = "aom"))]
mod rav1e_av1;

#[cfg(feature = "aom")]
use aom as av1;
#[cfg(not(feature = "aom"))]
use rav1e_av1 as av1;

/// What thumbgen sets in the AV1 encoder beyond quality and speed, for
/// codec identities: change it with any setting that changes the bytes.
/// With libaom it also names the library linked, whose version a build
/// may choose (see `aom.rs`).
pub fn settings() -> &'static str {
    av1::settings()
}

/// The libaom whose AVIF bytes thumbgen's tests pin, for a build with the
/// `aom` feature: the one `.ci/libaom` builds.
pub const PINNED_LIBAOM: &str = "3.12.1";

/// Whether this build writes the AVIF bytes thumbgen's tests pin: rav1e's
/// always (it is vendored), libaom's when the library linked is
/// [`PINNED_LIBAOM`] (the one libaom-sys vendors, 3.11, writes others).
pub fn writes_pinned_bytes() -> bool {
    !cfg!(feature = "aom") || settings().starts_with(&format!("libaom {PINNED_LIBAOM},"))
}

/// How the bytes of a pixel are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pixels {
    /// One byte: grey.
    Gray,
    /// Three bytes: red, green, blue.
    Rgb,
    /// Four bytes: red, green, blue, alpha (not premultiplied).
    Rgba,
}

impl Pixels {
    /// Bytes per pixel.
    fn channels(self) -> usize {
        match self {
            Pixels::Gray => 1,
            Pixels::Rgb => 3,
            Pixels::Rgba => 4,
        }
    }
}

/// The AVIF file of the `width`×`height` image `pixels`, at `quality`
/// (1–100, colour and alpha alike) and `speed` (1–10), on one thread.
/// A buffer of another size is an error; other errors are the encoder's,
/// in its words.
pub fn encode(
    pixels: &[u8],
    size: (u32, u32),
    layout: Pixels,
    quality: u8,
    speed: u8,
) -> Result<Vec<u8>, String> {
    let (width, height) = size;
    let channels = layout.channels();
    if width == 0 || height == 0 || pixels.len() != width as usize * height as usize * channels {
        return Err(format!(
            "{} bytes are not a {width}x{height} image of {channels} channels",
            pixels.len()
        ));
    }
    let planes = planes::planes(pixels, width as usize, layout);
    let color = av1::encode_planes(&planes.color, size, quality, speed)?;
    let alpha = (planes.alpha.as_ref())
        .map(|alpha| av1::encode_planes(std::slice::from_ref(alpha), size, quality, speed))
        .transpose()?;
    Ok(avif_serialize::Aviffy::new()
        .matrix_coefficients(avif_serialize::constants::MatrixCoefficients::Bt601)
        .full_color_range(true)
        .to_vec(&color, alpha.as_deref(), width, height, 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layout_encodes_to_an_avif_file() {
        for (layout, channels) in [(Pixels::Gray, 1), (Pixels::Rgb, 3), (Pixels::Rgba, 4)] {
            let pixels: Vec<u8> = (0..16 * 8 * channels).map(|i| (i * 7) as u8).collect();
            let file = encode(&pixels, (16, 8), layout, 80, 10).unwrap();
            assert_eq!(&file[4..12], b"ftypavif", "{layout:?}");
        }
    }

    /// Tiny and odd sizes, with and without alpha, encode at every speed
    /// (the encoders pad to their block sizes themselves).
    #[test]
    fn avif_of_tiny_and_odd_sizes_at_every_speed() {
        for (w, h) in [(1, 1), (1, 7), (17, 3)] {
            let rgba: Vec<u8> = (0..w * h * 4).map(|i| (i * 29) as u8).collect();
            for speed in [1, 8, 9, 10] {
                let file = encode(&rgba, (w, h), Pixels::Rgba, 80, speed).unwrap();
                assert_eq!(&file[4..12], b"ftypavif", "{w}x{h} at speed {speed}");
            }
        }
    }

    /// A buffer that is not the size it claims is an error, never a read
    /// past its end, whichever encoder.
    #[test]
    fn avif_of_a_short_buffer_is_an_error() {
        let err = encode(&[0; 10], (4, 4), Pixels::Rgb, 80, 10).unwrap_err();
        assert!(err.contains("not a 4x4 image"), "{err}");
        assert!(encode(&[], (0, 4), Pixels::Gray, 80, 10).is_err());
    }

    /// An alpha channel that is opaque everywhere is left out (no
    /// auxiliary alpha item); one with any transparency is kept.
    #[test]
    fn avif_keeps_alpha_only_where_it_is_not_opaque() {
        let mut rgba: Vec<u8> = (0..32 * 16 * 4).map(|i| (i * 5) as u8).collect();
        rgba.chunks_exact_mut(4).for_each(|p| p[3] = 255);
        let has_alpha = |file: &[u8]| file.windows(4).any(|w| w == b"auxC");
        let opaque = encode(&rgba, (32, 16), Pixels::Rgba, 80, 10).unwrap();
        assert!(!has_alpha(&opaque));
        rgba[3] = 0;
        let transparent = encode(&rgba, (32, 16), Pixels::Rgba, 80, 10).unwrap();
        assert!(has_alpha(&transparent));
    }

    /// Higher quality, more bytes, whichever encoder.
    #[test]
    fn avif_quality_buys_bytes() {
        let pixels: Vec<u8> = (0..64 * 64 * 3u32)
            .map(|i| ((i * 37) ^ (i / 192 * 11)) as u8)
            .collect();
        let size = |q| encode(&pixels, (64, 64), Pixels::Rgb, q, 10).unwrap().len();
        assert!(size(30) < size(60) && size(60) < size(90));
    }
}
