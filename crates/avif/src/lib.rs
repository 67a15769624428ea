//! thumbgen's AVIF encode: ravif (rav1e's still-image front end) behind one
//! function that is not generic.
//!
//! Why a crate of its own: ravif's `encode_rgb`/`encode_rgba` are inlined
//! and generic over the pixel iterator, so rav1e's whole encoder (for 8-
//! and 10-bit pixels) was compiled in whichever crate called them. Called
//! from thumbgen, that was an eighth of its code, compiled twice by
//! `cargo test --release` (the library and its unit tests); called here,
//! it is compiled once, beside the rest of the dependencies.

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

/// The AVIF file of the `width`×`height` image `pixels`, at `quality`
/// (1–100, colour and alpha alike) and `speed` (1–10), on one thread.
/// Errors are ravif's, in its words.
pub fn encode(
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
}
