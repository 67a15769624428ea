//! Placeholders shown while an image loads: a ThumbHash and/or a BlurHash,
//! a tiny PNG of the decoded placeholder as a `data:` URL, and the dominant
//! colour. All come from one small upright copy of the decode the outputs
//! are made from, so a placeholder costs no second decode.

use base64::Engine;

use super::orient::orient;
use super::pixels::{Px, Source};
use crate::model::Placeholder;
use crate::model::Placeholders;

/// The small copy placeholders are made from. ThumbHash reads at most
/// 100x100 and keeps 7 components a side, so 64 loses nothing visible and
/// costs 40% of 100 (ThumbHash was half the placeholders' share of a cold
/// build).
const SMALL_SIDE: u32 = 64;
/// The decoded BlurHash's longer side, when only a BlurHash is made.
const BLURHASH_PREVIEW_SIDE: u32 = 32;

/// `src` reduced by averaging blocks of pixels so that its longer side is
/// at most `side`, turned upright, as RGBA. With `sparse`, a block is
/// averaged over at most 4x4 evenly spaced pixels: enough for a blur, and
/// it keeps placeholders to a small share of a cold build.
pub(super) fn reduced(src: &Source, side: u32, sparse: bool) -> (Vec<u8>, u32, u32) {
    let step = src.width.max(src.height).div_ceil(side).max(1);
    let stride = if sparse { step.div_ceil(4) } else { 1 } as usize;
    let (w, h) = (src.width.div_ceil(step), src.height.div_ceil(step));
    let channels = src.px.channels();
    let mut rgba = Vec::with_capacity((w * h * 4) as usize);
    for by in 0..h {
        for bx in 0..w {
            let mut sum = [0u64; 4];
            let mut n = 0u64;
            for y in (by * step..((by + 1) * step).min(src.height)).step_by(stride) {
                let row = (y * src.width) as usize * channels;
                for x in (bx * step..((bx + 1) * step).min(src.width)).step_by(stride) {
                    let p = &src.pixels[row + x as usize * channels..][..channels];
                    let px = match src.px {
                        Px::Gray => [p[0], p[0], p[0], 255],
                        Px::Rgb => [p[0], p[1], p[2], 255],
                        Px::Rgba => [p[0], p[1], p[2], p[3]],
                    };
                    for (s, v) in sum.iter_mut().zip(px) {
                        *s += u64::from(v);
                    }
                    n += 1;
                }
            }
            let n = n.max(1);
            rgba.extend(sum.iter().map(|s| ((s + n / 2) / n) as u8));
        }
    }
    orient(src.orientation, rgba, w, h, 4)
}

/// The placeholders `wanted` of `src`.
pub(super) fn placeholder(src: &Source, wanted: Placeholders) -> Placeholder {
    let (rgba, w, h) = reduced(src, SMALL_SIDE, true);
    let thumbhash = wanted
        .thumbhash
        .then(|| thumbhash::rgba_to_thumb_hash(w as usize, h as usize, &rgba));
    let blurhash = if wanted.blurhash {
        // 4x3 components (the reference's default) for landscape images,
        // 3x4 for portrait ones.
        let (cx, cy) = if w >= h { (4, 3) } else { (3, 4) };
        blurhash::encode(cx, cy, w, h, &rgba).ok()
    } else {
        None
    };
    let preview = match (&thumbhash, &blurhash) {
        (Some(hash), _) => thumbhash::thumb_hash_to_rgba(hash)
            .ok()
            .map(|(w, h, rgba)| (rgba, w as u32, h as u32)),
        (None, Some(hash)) => {
            let (pw, ph) = if w >= h {
                (
                    BLURHASH_PREVIEW_SIDE,
                    (BLURHASH_PREVIEW_SIDE * h).div_ceil(w),
                )
            } else {
                (
                    (BLURHASH_PREVIEW_SIDE * w).div_ceil(h),
                    BLURHASH_PREVIEW_SIDE,
                )
            };
            blurhash::decode(hash, pw, ph, 1.0)
                .ok()
                .map(|rgba| (rgba, pw, ph))
        }
        (None, None) => None,
    };
    let base64 = base64::engine::general_purpose::STANDARD;
    Placeholder {
        thumbhash: thumbhash.map(|hash| base64.encode(hash)),
        blurhash,
        data_url: preview
            .and_then(|(rgba, w, h)| png(&rgba, w, h))
            .map(|png| format!("data:image/png;base64,{}", base64.encode(png)))
            .unwrap_or_default(),
        color: dominant(&rgba),
    }
}

/// A PNG of `rgba`, without the alpha channel when every pixel is opaque.
fn png(rgba: &[u8], w: u32, h: u32) -> Option<Vec<u8>> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::ImageEncoder;
    let opaque = rgba.chunks_exact(4).all(|p| p[3] == 255);
    let (pixels, color) = if opaque {
        let rgb: Vec<u8> = rgba
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        (rgb, image::ExtendedColorType::Rgb8)
    } else {
        (rgba.to_vec(), image::ExtendedColorType::Rgba8)
    };
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Best, FilterType::Adaptive)
        .write_image(&pixels, w, h, color)
        .ok()?;
    Some(out)
}

/// The dominant colour as sharp finds it: the most common of 4,096 colour
/// bins (16 levels per channel) over the visible pixels, here given as the
/// mean of the pixels in that bin rather than the bin's centre.
fn dominant(rgba: &[u8]) -> [u8; 3] {
    let visible = |p: &&[u8]| p[3] >= 128;
    let mut counts = vec![0u32; 4096];
    let bin = |p: &[u8]| {
        (usize::from(p[0] >> 4) << 8) | (usize::from(p[1] >> 4) << 4) | usize::from(p[2] >> 4)
    };
    let pixels: Vec<&[u8]> = {
        let all: Vec<&[u8]> = rgba.chunks_exact(4).collect();
        let shown: Vec<&[u8]> = all.iter().copied().filter(visible).collect();
        // A wholly transparent image: its colour is still its colour.
        if shown.is_empty() {
            all
        } else {
            shown
        }
    };
    for p in &pixels {
        counts[bin(p)] += 1;
    }
    // The first of equals, so that the choice is the same everywhere.
    let (top, _) = counts.iter().enumerate().fold(
        (0, 0),
        |best, (i, &c)| if c > best.1 { (i, c) } else { best },
    );
    let mut sum = [0u64; 3];
    let mut n = 0u64;
    for p in pixels.iter().filter(|p| bin(p) == top) {
        for (s, v) in sum.iter_mut().zip(&p[..3]) {
            *s += u64::from(*v);
        }
        n += 1;
    }
    let n = n.max(1);
    sum.map(|s| ((s + n / 2) / n) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_support::rgb_source;
    use image::metadata::Orientation;

    /// A 200x120 image: the left three quarters `a`, the rest `b`.
    fn two_colours(a: [u8; 3], b: [u8; 3]) -> Source {
        rgb_source(200, 120, Orientation::NoTransforms, |x, _| {
            if x < 150 {
                a
            } else {
                b
            }
        })
    }

    fn mean_of_data_url(url: &str) -> [f64; 3] {
        let b64 = url
            .strip_prefix("data:image/png;base64,")
            .expect("a PNG data URL");
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        let n = f64::from(img.width() * img.height());
        let mut sum = [0f64; 3];
        for p in img.pixels() {
            for (s, v) in sum.iter_mut().zip(p.0) {
                *s += f64::from(v);
            }
        }
        sum.map(|s| s / n)
    }

    #[test]
    fn placeholders_decode_to_the_mean_colour_and_name_the_dominant_one() {
        let (red, blue) = ([200, 40, 30], [20, 40, 220]);
        let src = two_colours(red, blue);
        let want_mean = [155.0, 40.0, 77.5];
        for wanted in [
            Placeholders {
                thumbhash: true,
                blurhash: false,
            },
            Placeholders {
                thumbhash: false,
                blurhash: true,
            },
            Placeholders {
                thumbhash: true,
                blurhash: true,
            },
        ] {
            let p = placeholder(&src, wanted);
            assert_eq!(p.thumbhash.is_some(), wanted.thumbhash);
            assert_eq!(p.blurhash.is_some(), wanted.blurhash);
            assert_eq!(p.color, red, "three quarters are red");
            let mean = mean_of_data_url(&p.data_url);
            // BlurHash averages in linear light, which lifts the mean of a
            // bright and a dark colour above their sRGB mean (here by 12).
            let tolerance = if wanted.thumbhash { 6.0 } else { 16.0 };
            for c in 0..3 {
                assert!(
                    (mean[c] - want_mean[c]).abs() < tolerance,
                    "{wanted:?}: mean {mean:?}, want {want_mean:?}"
                );
            }
        }
    }

    #[test]
    fn the_same_pixels_give_the_same_placeholder() {
        let both = Placeholders {
            thumbhash: true,
            blurhash: true,
        };
        let a = placeholder(&two_colours([1, 2, 3], [250, 250, 250]), both);
        let b = placeholder(&two_colours([1, 2, 3], [250, 250, 250]), both);
        assert_eq!(a, b);
        assert!(a.data_url.len() < 2_000, "{} bytes", a.data_url.len());
    }
}
