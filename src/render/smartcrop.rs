//! Content-aware `cover` crops (`position = "entropy" | "attention"`), after
//! libvips's smartcrop: the source is reduced to a small upright map, each
//! map pixel is scored, and the crop window that scores highest wins.
//!
//! - `attention` scores what draws the eye: edges (a Laplacian of the
//!   luminance), skin tones and saturated colour, summed over the window.
//! - `entropy` picks the window whose luminance histogram has the most
//!   information: detail rather than a plain backdrop.
//!
//! Only integer arithmetic decides `attention`, and `entropy` compares
//! sums of `n·log2 n` over the same counts, so the choice is the same on
//! every machine. The map is made from the decode (whose DCT scale the
//! record keeps), never from another variant, so an output's crop does not
//! depend on which other variants are configured.

use super::pixels::Source;
use super::placeholder::reduced;
use crate::variant::Position;

/// The longer side of the map, in map pixels: enough to place a crop within
/// a fraction of a percent, small enough to cost nothing next to a resize.
const MAP_SIDE: u32 = 128;

/// A small upright RGB copy of a source, to place crops in.
pub(super) struct Map {
    rgb: Vec<u8>,
    width: u32,
    height: u32,
    /// Map pixels per upright full-resolution source pixel, across and down.
    scale: (f64, f64),
}

impl Map {
    /// Reduce `src` to a small upright copy.
    pub(super) fn of(src: &Source) -> Map {
        let (rgba, width, height) = reduced(src, MAP_SIDE, false);
        let rgb = rgba
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        let upright = src.shape();
        Map {
            rgb,
            width,
            height,
            scale: (
                f64::from(width) / f64::from(upright.width.max(1)),
                f64::from(height) / f64::from(upright.height.max(1)),
            ),
        }
    }

    /// The top-left corner, in upright source pixels, of the `crop_w` x
    /// `crop_h` window that `position` prefers; `None` for positions that
    /// do not look at the content.
    pub(super) fn focus(&self, position: Position, crop_w: f64, crop_h: f64) -> Option<(f64, f64)> {
        let ww = ((crop_w * self.scale.0).round() as u32).clamp(1, self.width);
        let wh = ((crop_h * self.scale.1).round() as u32).clamp(1, self.height);
        let (x, y) = match position {
            // A source without a focal point is cropped as `attention` would.
            Position::Attention | Position::Focus => {
                self.best(ww, wh, &Summed::new(&self.attention(), self.width))
            }
            Position::Entropy => self.most_detailed(ww, wh),
            _ => return None,
        };
        Some((f64::from(x) / self.scale.0, f64::from(y) / self.scale.1))
    }

    fn luma(&self) -> Vec<u8> {
        self.rgb
            .chunks_exact(3)
            .map(|p| {
                ((77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2])) >> 8) as u8
            })
            .collect()
    }

    /// Per map pixel: edge strength, plus a bonus for skin and for
    /// saturated colour that is neither near black nor near white.
    fn attention(&self) -> Vec<u64> {
        let (w, h) = (self.width as usize, self.height as usize);
        let luma = self.luma();
        let at = |x: usize, y: usize| i32::from(luma[y * w + x]);
        let mut score = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let c = at(x, y);
                let edge = (4 * c
                    - at(x.saturating_sub(1), y)
                    - at((x + 1).min(w - 1), y)
                    - at(x, y.saturating_sub(1))
                    - at(x, (y + 1).min(h - 1)))
                .unsigned_abs();
                let p = &self.rgb[(y * w + x) * 3..][..3];
                let (r, g, b) = (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
                let (max, min) = (r.max(g).max(b), r.min(g).min(b));
                // A widely used rule for skin in RGB (Kovač et al.).
                let skin = r > 95
                    && g > 40
                    && b > 20
                    && max - min > 15
                    && (r - g).abs() > 15
                    && r > g
                    && r > b;
                let saturation = if (24..=232).contains(&c) {
                    (max - min) as u32
                } else {
                    0
                };
                score.push(u64::from(edge) * 2 + u64::from(skin) * 255 + u64::from(saturation));
            }
        }
        score
    }

    /// The window position with the largest sum; the one nearest the centre
    /// among equals, so that a flat image crops like `center`.
    fn best(&self, ww: u32, wh: u32, sums: &Summed) -> (u32, u32) {
        let (cx, cy) = (self.width - ww, self.height - wh);
        let mut best = (0u64, u64::MAX, cx / 2, cy / 2);
        for y in 0..=cy {
            for x in 0..=cx {
                let s = sums.window(x, y, ww, wh);
                let off_centre = u64::from((2 * x).abs_diff(cx)) + u64::from((2 * y).abs_diff(cy));
                if s > best.0 || (s == best.0 && off_centre < best.1) {
                    best = (s, off_centre, x, y);
                }
            }
        }
        (best.2, best.3)
    }

    /// The window whose luminance histogram (32 bins) has the largest
    /// Shannon entropy; nearest the centre among equals.
    fn most_detailed(&self, ww: u32, wh: u32) -> (u32, u32) {
        let w = self.width as usize;
        let bins: Vec<usize> = self.luma().iter().map(|&l| usize::from(l >> 3)).collect();
        let (cx, cy) = (self.width - ww, self.height - wh);
        let n = f64::from(ww * wh);
        let mut best: (f64, u64, u32, u32) = (f64::NEG_INFINITY, u64::MAX, cx / 2, cy / 2);
        for y in 0..=cy {
            for x in 0..=cx {
                let mut hist = [0u32; 32];
                for row in y..y + wh {
                    let start = row as usize * w + x as usize;
                    for &bin in &bins[start..start + ww as usize] {
                        hist[bin] += 1;
                    }
                }
                // H = log2 n - (Σ c·log2 c) / n
                let sum: f64 = hist
                    .iter()
                    .filter(|&&c| c > 1)
                    .map(|&c| f64::from(c) * f64::from(c).log2())
                    .sum();
                let entropy = n.log2() - sum / n;
                let off_centre = u64::from((2 * x).abs_diff(cx)) + u64::from((2 * y).abs_diff(cy));
                // Entropies that differ in the last bits are equal: the
                // choice must not depend on how a libm rounds.
                let better = entropy > best.0 + 1e-9
                    || ((entropy - best.0).abs() <= 1e-9 && off_centre < best.1);
                if better {
                    best = (entropy, off_centre, x, y);
                }
            }
        }
        (best.2, best.3)
    }
}

/// A summed-area table: the sum of any window in constant time.
struct Summed {
    table: Vec<u64>,
    stride: usize,
}

impl Summed {
    fn new(values: &[u64], width: u32) -> Summed {
        let w = width as usize;
        let h = values.len() / w.max(1);
        let stride = w + 1;
        let mut table = vec![0u64; stride * (h + 1)];
        for y in 0..h {
            let mut row = 0u64;
            for x in 0..w {
                row += values[y * w + x];
                table[(y + 1) * stride + x + 1] = table[y * stride + x + 1] + row;
            }
        }
        Summed { table, stride }
    }

    fn window(&self, x: u32, y: u32, w: u32, h: u32) -> u64 {
        let (x0, y0, x1, y1) = (x as usize, y as usize, (x + w) as usize, (y + h) as usize);
        let t = |x: usize, y: usize| self.table[y * self.stride + x];
        t(x1, y1) + t(x0, y0) - t(x0, y1) - t(x1, y0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_support::rgb_source;
    use image::metadata::Orientation;

    /// A grey 300x100 picture with a detailed, skin-coloured patch whose
    /// left edge is at `patch_x`.
    fn with_patch(patch_x: u32, orientation: Orientation) -> Source {
        rgb_source(300, 100, orientation, |x, y| {
            let inside = (patch_x..patch_x + 60).contains(&x) && (20..80).contains(&y);
            if inside && (x / 3 + y / 3) % 2 == 0 {
                [224, 172, 140]
            } else if inside {
                [150, 100, 80]
            } else {
                [128, 128, 128]
            }
        })
    }

    #[test]
    fn both_positions_find_an_off_centre_subject() {
        for position in [Position::Attention, Position::Entropy] {
            for patch_x in [10, 220] {
                let map = Map::of(&with_patch(patch_x, Orientation::NoTransforms));
                let (x, y) = map.focus(position, 100.0, 100.0).unwrap();
                assert_eq!(y, 0.0);
                // The 100-wide window holds the whole 60-wide patch.
                assert!(
                    x <= f64::from(patch_x) + 1.0 && x + 100.0 >= f64::from(patch_x + 60) - 1.0,
                    "{position:?}, patch at {patch_x}: crop at {x}"
                );
            }
        }
    }

    #[test]
    fn a_flat_image_is_cropped_in_the_centre() {
        let mut flat = with_patch(0, Orientation::NoTransforms);
        flat.pixels.fill(90);
        let map = Map::of(&flat);
        for position in [Position::Attention, Position::Entropy] {
            let (x, y) = map.focus(position, 100.0, 100.0).unwrap();
            // The middle, to within a map pixel (three source pixels here).
            assert!((x - 100.0).abs() <= 3.0 && y == 0.0, "{position:?}: {x}");
        }
        assert_eq!(map.focus(Position::Top, 100.0, 100.0), None);
    }

    #[test]
    fn the_map_is_upright() {
        // Stored 300x100 and rotated a quarter turn: upright it is 100x300,
        // the patch near the stored left edge is near the upright top.
        let map = Map::of(&with_patch(10, Orientation::Rotate90));
        assert!(map.height > 2 * map.width, "{}x{}", map.width, map.height);
        let (x, y) = map.focus(Position::Attention, 100.0, 100.0).unwrap();
        assert_eq!(x, 0.0);
        assert!(y <= 11.0, "crop at y = {y}");
    }
}
