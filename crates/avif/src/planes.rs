//! From thumbgen's pixels to the planes either AV1 encoder takes: 8-bit
//! full-range BT.601 YCbCr 4:4:4, and alpha as a plane of its own, with the
//! colour under hidden pixels flattened first.

use std::borrow::Cow;

use crate::Pixels;

/// An image as the encoders take it: its colour as Y, Cb and Cr planes,
/// and its alpha plane if any pixel is not opaque (an alpha that is opaque
/// everywhere is left out of the file).
pub(crate) struct Planes {
    pub(crate) color: [Vec<u8>; 3],
    pub(crate) alpha: Option<Vec<u8>>,
}

/// The planes of `pixels`, a `width`-wide image laid out as `layout` says
/// (its size already checked).
pub(crate) fn planes(pixels: &[u8], width: usize, layout: Pixels) -> Planes {
    let has_alpha = layout == Pixels::Rgba && pixels.chunks_exact(4).any(|p| p[3] != 255);
    let pixels: Cow<'_, [u8]> = if has_alpha {
        let mut copy = pixels.to_vec();
        flatten_hidden(&mut copy, width);
        Cow::Owned(copy)
    } else {
        Cow::Borrowed(pixels)
    };
    let count = pixels.len() / layout.channels();
    let mut color = [vec![0u8; count], vec![0u8; count], vec![0u8; count]];
    for (i, px) in pixels.chunks_exact(layout.channels()).enumerate() {
        let rgb = match layout {
            Pixels::Gray => [px[0]; 3],
            Pixels::Rgb | Pixels::Rgba => [px[0], px[1], px[2]],
        };
        let [y, cb, cr] = ycbcr(rgb);
        color[0][i] = y;
        color[1][i] = cb;
        color[2][i] = cr;
    }
    let alpha = has_alpha.then(|| pixels.chunks_exact(4).map(|p| p[3]).collect());
    Planes { color, alpha }
}

/// The colour under fully transparent pixels is never seen, but the
/// encoder spends bytes on whatever is there (often the photo the cutout
/// was cut from): each such pixel takes the mean colour of the visible
/// pixels of its 8×8 block, or, in a block with none, of the whole image,
/// so that hidden areas are flat and meet the visible ones softly. ravif
/// blurs them for the same reason; libwebp flattens hidden blocks.
fn flatten_hidden(rgba: &mut [u8], width: usize) {
    const BLOCK: usize = 8;
    let height = rgba.len() / 4 / width;
    // Sums of red, green and blue, and the count, of visible pixels.
    let add_visible = |sum: &mut [u64; 4], p: &[u8]| {
        if p[3] != 0 {
            for c in 0..3 {
                sum[c] += u64::from(p[c]);
            }
            sum[3] += 1;
        }
    };
    let mean = |sum: [u64; 4]| -> [u8; 3] {
        let n = sum[3].max(1);
        [0, 1, 2].map(|c| ((sum[c] + n / 2) / n) as u8)
    };
    let mut all = [0u64; 4];
    rgba.chunks_exact(4).for_each(|p| add_visible(&mut all, p));
    let everywhere = mean(all);
    for top in (0..height).step_by(BLOCK) {
        for left in (0..width).step_by(BLOCK) {
            let rows = top..(top + BLOCK).min(height);
            let cols = left..(left + BLOCK).min(width);
            let at = |y: usize, x: usize| (y * width + x) * 4;
            let mut sum = [0u64; 4];
            for y in rows.clone() {
                for x in cols.clone() {
                    add_visible(&mut sum, &rgba[at(y, x)..][..4]);
                }
            }
            let fill = if sum[3] == 0 { everywhere } else { mean(sum) };
            for y in rows {
                for x in cols.clone() {
                    let p = &mut rgba[at(y, x)..][..4];
                    if p[3] == 0 {
                        p[..3].copy_from_slice(&fill);
                    }
                }
            }
        }
    }
}

/// Full-range BT.601 YCbCr of an sRGB pixel, rounded as ravif rounded it
/// (thumbgen's encoder before this crate wrote its own).
fn ycbcr([r, g, b]: [u8; 3]) -> [u8; 3] {
    let [kr, kg, kb] = [0.299f32, 0.587, 0.114];
    let (r, g, b) = (f32::from(r), f32::from(g), f32::from(b));
    let y = kr * r + kg * g + kb * b;
    let cb = (b - y).mul_add(0.5 / (1. - kb), 128.);
    let cr = (r - y).mul_add(0.5 / (1. - kr), 128.);
    [y, cb, cr].map(|v| v.round().clamp(0., 255.) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hidden pixels take their block's visible mean (or the image's);
    /// visible ones, however transparent, keep their colour.
    #[test]
    fn hidden_colour_is_flattened_and_visible_colour_kept() {
        // 16×8: the left block visible red and hidden green, half and half;
        // the right block hidden blue throughout.
        let mut rgba = Vec::new();
        for _y in 0..8 {
            for x in 0..16 {
                rgba.extend_from_slice(match x {
                    0..4 => &[200, 0, 0, 1],
                    4..8 => &[0, 200, 0, 0],
                    _ => &[0, 0, 200, 0],
                });
            }
        }
        flatten_hidden(&mut rgba, 16);
        let px = |x: usize| &rgba[x * 4..x * 4 + 4];
        assert_eq!(px(0), [200, 0, 0, 1]);
        assert_eq!(px(5), [200, 0, 0, 0]);
        assert_eq!(px(12), [200, 0, 0, 0]);
    }

    /// Grey stays grey (no chroma), and only a real alpha becomes a plane.
    #[test]
    fn grey_has_neutral_chroma_and_opaque_alpha_is_dropped() {
        let grey = planes(&[0, 128, 255, 7], 2, Pixels::Gray);
        assert_eq!(grey.color[0], [0, 128, 255, 7]);
        assert!(grey.color[1..].iter().flatten().all(|&c| c == 128));
        assert!(grey.alpha.is_none());
        let opaque = planes(&[1, 2, 3, 255, 4, 5, 6, 255], 2, Pixels::Rgba);
        assert!(opaque.alpha.is_none());
        let clear = planes(&[1, 2, 3, 255, 4, 5, 6, 0], 2, Pixels::Rgba);
        assert_eq!(clear.alpha.as_deref(), Some(&[255, 0][..]));
    }
}
