//! Halving a decode: each output pixel the mean of a 2×2 box (of the ones
//! inside the image, at an odd edge). A decode is halved as far as
//! `geometry::reduction` allows for an output before its Lanczos3 resize:
//! a half costs one pass over the pixels, where each Lanczos pass reads six
//! per output pixel. Colour is averaged weighted by alpha, so transparent
//! pixels lend no colour to their neighbours.

use super::pixels::{Px, Source};

/// `src` at half its size, rounded up.
pub(super) fn halve(src: &Source) -> Source {
    let (w, h) = (src.width as usize, src.height as usize);
    let pixels = match src.px {
        Px::Gray => halve_plain::<1>(&src.pixels, w, h),
        Px::Rgb => halve_plain::<3>(&src.pixels, w, h),
        Px::Rgba => halve_weighted(&src.pixels, w, h),
    };
    Source {
        scale: src.scale / 2.0,
        width: w.div_ceil(2) as u32,
        height: h.div_ceil(2) as u32,
        pixels,
        icc: src.icc.clone(),
        ..*src
    }
}

/// Opaque pixels of `C` channels: plain means, rounded to nearest. A last
/// odd row is paired with itself, which gives the mean of its two pixels.
fn halve_plain<const C: usize>(pixels: &[u8], w: usize, h: usize) -> Vec<u8> {
    let (hw, hh) = (w.div_ceil(2), h.div_ceil(2));
    let stride = w * C;
    let mut out = vec![0u8; hw * hh * C];
    for (y, out_row) in out.chunks_exact_mut(hw * C).enumerate() {
        let top = &pixels[2 * y * stride..][..stride];
        let bottom = match 2 * y + 1 < h {
            true => &pixels[(2 * y + 1) * stride..][..stride],
            false => top,
        };
        let (pairs, odd) = out_row.split_at_mut(w / 2 * C);
        for ((o, t), b) in pairs
            .chunks_exact_mut(C)
            .zip(top.chunks_exact(2 * C))
            .zip(bottom.chunks_exact(2 * C))
        {
            for c in 0..C {
                let sum =
                    u16::from(t[c]) + u16::from(t[C + c]) + u16::from(b[c]) + u16::from(b[C + c]);
                o[c] = ((sum + 2) >> 2) as u8;
            }
        }
        if w % 2 == 1 {
            let (t, b) = (&top[(w - 1) * C..], &bottom[(w - 1) * C..]);
            for c in 0..C {
                odd[c] = ((u16::from(t[c]) + u16::from(b[c]) + 1) >> 1) as u8;
            }
        }
    }
    out
}

/// RGBA: colour weighted by alpha, so that transparent pixels lend no
/// colour to their neighbours; alpha a plain mean.
fn halve_weighted(pixels: &[u8], w: usize, h: usize) -> Vec<u8> {
    let (hw, hh) = (w.div_ceil(2), h.div_ceil(2));
    let mut out = vec![0u8; hw * hh * 4];
    for y in 0..hh {
        let rows = [2 * y, (2 * y + 1).min(h - 1)];
        let rows = if rows[0] == rows[1] {
            &rows[..1]
        } else {
            &rows
        };
        let out_row = &mut out[y * hw * 4..][..hw * 4];
        for (x, pixel) in out_row.chunks_exact_mut(4).enumerate() {
            let cols = [2 * x, (2 * x + 1).min(w - 1)];
            let cols = if cols[0] == cols[1] {
                &cols[..1]
            } else {
                &cols
            };
            let mut sum = [0u32; 4];
            let mut weight = 0u32;
            let mut count = 0u32;
            for &row in rows {
                for &col in cols {
                    let p = &pixels[(row * w + col) * 4..][..4];
                    let alpha = u32::from(p[3]);
                    for (s, &v) in sum.iter_mut().zip(&p[..3]) {
                        *s += u32::from(v) * alpha;
                    }
                    sum[3] += alpha;
                    weight += alpha;
                    count += 1;
                }
            }
            for (value, s) in pixel[..3].iter_mut().zip(sum) {
                // Rounded to nearest; a fully transparent box has no colour.
                *value = (s + weight / 2).checked_div(weight).unwrap_or(0) as u8;
            }
            pixel[3] = ((sum[3] + count / 2) / count) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_support::rgb_source;
    use image::metadata::Orientation;

    #[test]
    fn each_pixel_is_the_mean_of_its_box_and_odd_edges_keep_theirs() {
        let src = rgb_source(3, 3, Orientation::NoTransforms, |x, y| {
            [(x * 10 + y * 100) as u8, 0, 255]
        });
        let half = halve(&src);
        assert_eq!((half.width, half.height, half.scale), (2, 2, 0.5));
        // (0,0): mean of 0, 10, 100, 110; (1,0): 20 and 120; (0,1): 200, 210.
        assert_eq!(&half.pixels[..3], &[55, 0, 255]);
        assert_eq!(&half.pixels[3..6], &[70, 0, 255]);
        assert_eq!(&half.pixels[6..9], &[205, 0, 255]);
        assert_eq!(&half.pixels[9..], &[220, 0, 255]);
    }

    #[test]
    fn odd_sizes_average_what_is_inside_the_image() {
        // 3x3 grey: the right column pairs rows, the bottom row pairs
        // columns, the corner stays itself.
        let mut src = rgb_source(3, 3, Orientation::NoTransforms, |_, _| [0, 0, 0]);
        src.px = Px::Gray;
        src.pixels = vec![10, 20, 31, 40, 50, 60, 71, 80, 90];
        let half = halve(&src);
        assert_eq!(half.pixels, [30, 46, 76, 90]);
    }

    #[test]
    fn transparent_pixels_lend_no_colour() {
        let mut src = rgb_source(2, 2, Orientation::NoTransforms, |_, _| [0, 0, 0]);
        src.px = Px::Rgba;
        // One opaque red pixel, three clear white ones.
        src.pixels = [
            [255, 0, 0, 255],
            [255, 255, 255, 0],
            [255, 255, 255, 0],
            [255, 255, 255, 0],
        ]
        .concat();
        let half = halve(&src);
        assert_eq!(half.pixels, [255, 0, 0, 64]);
    }
}
