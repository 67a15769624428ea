//! thumbgen's AVIF encode: ravif (rav1e's still-image front end) behind one
//! function that is not generic.
//!
//! Why a crate of its own: ravif's `encode_rgb`/`encode_rgba` are inlined
//! and generic over the pixel iterator, so rav1e's whole encoder (for 8-
//! and 10-bit pixels) was compiled in whichever crate called them. Called
//! from thumbgen, that was an eighth of its code, compiled twice by
//! `cargo test --release` (the library and its unit tests); called here,
//! it is compiled once, beside the rest of the dependencies.
//!
//! With the `aom` feature, libaom writes the AV1 data instead (`aom.rs`).

#[cfg(feature = "aom")]
mod aom;

/// What thumbgen sets in the AV1 encoder beyond quality and speed, for
/// codec identities: empty for rav1e, whose settings are ravif's (named by
/// its version).
#[cfg(feature = "aom")]
pub const SETTINGS: &str = aom::SETTINGS;
/// Empty for rav1e: its settings are ravif's, named by ravif's version.
#[cfg(not(feature = "aom"))]
pub const SETTINGS: &str = "";

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
    #[cfg(feature = "aom")]
    return aom::encode(pixels, size, layout, quality, speed);
    #[cfg(not(feature = "aom"))]
    return encode_rav1e(pixels, size, layout, quality, speed);
}

/// [`encode`] through ravif.
#[cfg(not(feature = "aom"))]
fn encode_rav1e(
    pixels: &[u8],
    (width, height): (u32, u32),
    layout: Pixels,
    quality: u8,
    speed: u8,
) -> Result<Vec<u8>, String> {
    let encoder = ravif::Encoder::new()
        .with_quality(f32::from(quality.clamp(1, 100)))
        .with_alpha_quality(f32::from(quality.clamp(1, 100)))
        .with_speed(speed.clamp(1, 10))
        .with_num_threads(Some(1));
    let (w, h) = (width as usize, height as usize);
    let encoded = match layout {
        Pixels::Rgba => {
            let rgba: Vec<ravif::RGBA8> = pixels
                .chunks_exact(4)
                .map(|p| ravif::RGBA8::new(p[0], p[1], p[2], p[3]))
                .collect();
            encoder.encode_rgba(ravif::Img::new(&rgba[..], w, h))
        }
        Pixels::Rgb | Pixels::Gray => {
            let rgb: Vec<ravif::RGB8> = match layout {
                Pixels::Gray => pixels.iter().map(|&g| ravif::RGB8::new(g, g, g)).collect(),
                _ => pixels
                    .chunks_exact(3)
                    .map(|p| ravif::RGB8::new(p[0], p[1], p[2]))
                    .collect(),
            };
            encoder.encode_rgb(ravif::Img::new(&rgb[..], w, h))
        }
    }
    .map_err(|e| e.to_string())?;
    Ok(encoded.avif_file)
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
