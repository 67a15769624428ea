//! Pure box geometry for rendering, shared with the planner: which region
//! of a source a variant uses and at what size (`contain` / `cover`), the
//! JPEG DCT scale a source is decoded at, and the cascade deciding which
//! variant is resized from which. The planner needs the same answers as the
//! renderer to tell when an output's derivation changed, so they live here,
//! free of pixels and I/O, rather than inside the resize.

use crate::model::Shape;
use crate::variant::{Fit, Position, Variant};

/// Where a resized image comes from and what size it is written at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    /// Region of the (upright) source that is used, in source pixels:
    /// left, top, width, height. Fractional so that scaled decodes stay exact.
    pub crop: (f64, f64, f64, f64),
    /// Width of the output, in pixels.
    pub out_width: u32,
    /// Height of the output, in pixels.
    pub out_height: u32,
}

impl Geometry {
    /// Output pixels per source pixel over the crop, across and down.
    pub fn density(&self) -> (f64, f64) {
        (
            f64::from(self.out_width) / self.crop.2,
            f64::from(self.out_height) / self.crop.3,
        )
    }
}

/// `contain`: the largest size that fits the box with the source's aspect
/// ratio, never larger than the source. `cover`: the box exactly, cropping the
/// centre; a source smaller than the box in one dimension is not upscaled, so
/// that dimension keeps the source's size.
pub fn geometry(src_w: u32, src_h: u32, box_w: u32, box_h: u32, fit: Fit) -> Geometry {
    let (sw, sh) = (f64::from(src_w.max(1)), f64::from(src_h.max(1)));
    let (bw, bh) = (f64::from(box_w), f64::from(box_h));
    match fit {
        Fit::Contain => {
            let scale = (bw / sw).min(bh / sh).min(1.0);
            let out_width = ((sw * scale).round() as u32).clamp(1, box_w.min(src_w.max(1)));
            let out_height = ((sh * scale).round() as u32).clamp(1, box_h.min(src_h.max(1)));
            Geometry {
                crop: (0.0, 0.0, sw, sh),
                out_width,
                out_height,
            }
        }
        Fit::Cover => {
            let scale = (bw / sw).max(bh / sh).min(1.0);
            let out_width = box_w.min(src_w.max(1));
            let out_height = box_h.min(src_h.max(1));
            let crop_w = (f64::from(out_width) / scale).min(sw);
            let crop_h = (f64::from(out_height) / scale).min(sh);
            Geometry {
                crop: ((sw - crop_w) / 2.0, (sh - crop_h) / 2.0, crop_w, crop_h),
                out_width,
                out_height,
            }
        }
    }
}

/// `geometry` with the crop moved to where `position` says. `focus` is
/// the top-left corner a content-aware position chose for the crop (see
/// `render::smartcrop`), in upright source pixels; without one, such a
/// position crops the centre.
pub fn positioned(src_w: u32, src_h: u32, v: &Variant, focus: Option<(f64, f64)>) -> Geometry {
    let mut g = geometry(src_w, src_h, v.width, v.height, v.fit);
    if v.fit == Fit::Contain {
        return g;
    }
    let (x, y, w, h) = g.crop;
    let (max_x, max_y) = (
        (f64::from(src_w.max(1)) - w).max(0.0),
        (f64::from(src_h.max(1)) - h).max(0.0),
    );
    let (x, y) = match (v.position, focus) {
        (Position::Top, _) => (x, 0.0),
        (Position::Bottom, _) => (x, max_y),
        (Position::Left, _) => (0.0, y),
        (Position::Right, _) => (max_x, y),
        (Position::Entropy | Position::Attention, Some((fx, fy))) => {
            (fx.clamp(0.0, max_x), fy.clamp(0.0, max_y))
        }
        _ => (x, y),
    };
    g.crop = (x, y, w, h);
    g
}

/// Whether a source of upright size `shape` gets an output of `v` at all.
/// A member of a set is left out where the next smaller width of its set
/// already comes out at the same size (the source is narrower than both):
/// widths wider than the source make one output at the source's size, not
/// several identical ones.
pub fn is_made(shape: Shape, v: &Variant) -> bool {
    let Some((w, h)) = v.smaller else {
        return true;
    };
    let this = geometry(shape.width, shape.height, v.width, v.height, v.fit);
    let smaller = geometry(shape.width, shape.height, w, h, v.fit);
    (this.out_width, this.out_height) != (smaller.out_width, smaller.out_height)
}

/// The JPEG DCT scale, in eighths (1, 2, 4 or 8), a source of upright size
/// `width` x `height` is decoded at when rendering `variants`: the smallest
/// that still gives every variant at least its output size over its crop.
///
/// It depends on *all* configured variants, so that one decode serves them
/// all; the scale is recorded with each output, and the planner rebuilds an
/// output whose source would now be decoded at another scale. That keeps an
/// incremental build byte-identical to a clean one.
pub fn decode_eighths<'a>(
    width: u32,
    height: u32,
    variants: impl IntoIterator<Item = &'a Variant>,
) -> u8 {
    let geometries: Vec<Geometry> = variants
        .into_iter()
        .map(|v| geometry(width, height, v.width, v.height, v.fit))
        .collect();
    eighths_for(&geometries)
}

/// [`decode_eighths`] for variants whose geometry is already known.
fn eighths_for(geometries: &[Geometry]) -> u8 {
    let needed = geometries
        .iter()
        .map(|g| {
            let (x, y) = g.density();
            x.max(y)
        })
        .fold(0.0, f64::max);
    [1u8, 2, 4]
        .into_iter()
        .find(|&s| f64::from(s) / 8.0 >= needed)
        .unwrap_or(8)
}

/// How every configured variant is made from one decode of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derivation {
    /// The JPEG DCT scale of the decode (8 for other formats).
    pub eighths: u8,
    /// Per variant: the variant whose resized pixels it is resized from,
    /// or `None` for the decoded image itself.
    pub parent: Vec<Option<usize>>,
    /// Per variant: a digest of the resizes its pixels go through before
    /// its own (0: none). Recorded with each output, like the DCT scale, so
    /// that an output whose chain changes with the other variants is rebuilt.
    pub via: Vec<u64>,
}

/// A variant is resized from a larger one only if that one has at least
/// this many pixels per output pixel over the variant's crop, so that
/// Lanczos3 still has real detail to filter (libvips's "reducing gap").
const DERIVE_GAP: f64 = 2.0;

/// How the `variants` of a source of shape `shape` are made: one decode at
/// [`decode_eighths`], then each variant resized from the smallest `contain`
/// variant that still has `DERIVE_GAP` times its resolution (a cascade, as
/// mipmaps are made), or from the decode. A resize costs in proportion to
/// the pixels it reads, so a small variant made from a mid-sized one costs
/// a fraction of one made from the decode.
pub fn derivation(shape: Shape, variants: &[Variant]) -> Derivation {
    let (w, h) = (shape.width, shape.height);
    let geometries: Vec<Geometry> = variants
        .iter()
        .map(|v| geometry(w, h, v.width, v.height, v.fit))
        .collect();
    let eighths = if shape.jpeg {
        eighths_for(&geometries)
    } else {
        8
    };
    let area = |g: &Geometry| u64::from(g.out_width) * u64::from(g.out_height);
    let parent: Vec<Option<usize>> = geometries
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let (need_x, need_y) = g.density();
            (0..variants.len())
                .filter(|&j| j != i && variants[j].fit == Fit::Contain)
                .filter(|&j| {
                    let (have_x, have_y) = geometries[j].density();
                    have_x >= need_x * DERIVE_GAP && have_y >= need_y * DERIVE_GAP
                })
                .min_by_key(|&j| (area(&geometries[j]), j))
        })
        .collect();
    // Parents have at least four times their children's pixels, so
    // following them always ends.
    let via = (0..variants.len())
        .map(|i| {
            let mut chain = Vec::new();
            let mut at = parent[i];
            while let Some(p) = at {
                chain.push((geometries[p].out_width, geometries[p].out_height));
                at = parent[p];
            }
            if chain.is_empty() {
                return 0;
            }
            // FNV-1a: stable across builds and platforms (it is stored), and
            // cheap enough to compute for every source on a no-op build.
            let mut digest: u64 = 0xcbf2_9ce4_8422_2325;
            for (cw, ch) in chain.iter().rev() {
                for byte in cw.to_le_bytes().into_iter().chain(ch.to_le_bytes()) {
                    digest = (digest ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
                }
            }
            digest.max(1)
        })
        .collect();
    Derivation {
        eighths,
        parent,
        via,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Format;

    fn variant(name: &str, format: Format) -> Variant {
        Variant::new(name, 256, 256, format)
    }

    #[test]
    fn contain_keeps_aspect_and_never_upscales() {
        let g = geometry(4000, 3000, 256, 256, Fit::Contain);
        assert_eq!((g.out_width, g.out_height), (256, 192));
        let g = geometry(3000, 4000, 256, 256, Fit::Contain);
        assert_eq!((g.out_width, g.out_height), (192, 256));
        let g = geometry(100, 50, 256, 256, Fit::Contain);
        assert_eq!((g.out_width, g.out_height), (100, 50));
        assert_eq!(g.crop, (0.0, 0.0, 100.0, 50.0));
        // extreme aspect ratios never collapse to zero
        let g = geometry(100_000, 1, 256, 256, Fit::Contain);
        assert_eq!((g.out_width, g.out_height), (256, 1));
    }

    #[test]
    fn cover_fills_the_box_cropping_the_centre() {
        let g = geometry(4000, 3000, 256, 256, Fit::Cover);
        assert_eq!((g.out_width, g.out_height), (256, 256));
        let (x, y, w, h) = g.crop;
        assert!((w - 3000.0).abs() < 1e-6 && (h - 3000.0).abs() < 1e-6);
        assert!((x - 500.0).abs() < 1e-6 && y.abs() < 1e-6);
    }

    #[test]
    fn cover_does_not_upscale_a_small_source() {
        let g = geometry(200, 100, 256, 256, Fit::Cover);
        assert_eq!((g.out_width, g.out_height), (200, 100));
        let g = geometry(1000, 100, 256, 256, Fit::Cover);
        assert_eq!((g.out_width, g.out_height), (256, 100));
        let (x, _, w, h) = g.crop;
        assert!((w - 256.0).abs() < 1e-6 && (h - 100.0).abs() < 1e-6);
        assert!((x - 372.0).abs() < 1e-6);
    }

    #[test]
    fn decode_scale_serves_the_largest_variant() {
        let thumb = variant("t", Format::Jpeg);
        let mut large = variant("l", Format::Jpeg);
        (large.width, large.height) = (1280, 1280);
        assert_eq!(decode_eighths(4000, 3000, [&thumb]), 1);
        assert_eq!(decode_eighths(1600, 1200, [&thumb]), 2);
        assert_eq!(decode_eighths(4000, 3000, [&thumb, &large]), 4);
        assert_eq!(
            decode_eighths(200, 100, [&thumb]),
            8,
            "small sources decode whole"
        );
        let mut cover = thumb.clone();
        cover.fit = Fit::Cover;
        // a 4:1 panorama covered into a square needs its full height
        assert_eq!(decode_eighths(4096, 1024, [&cover]), 2);
    }

    fn sized(name: &str, size: u32, fit: Fit) -> Variant {
        Variant {
            fit,
            ..Variant::new(name, size, size, Format::Jpeg)
        }
    }

    #[test]
    fn variants_cascade_from_the_smallest_large_enough_contain_variant() {
        let photo = Shape {
            width: 4000,
            height: 3000,
            jpeg: true,
        };
        let v = [
            sized("small", 256, Fit::Contain),
            sized("large", 1280, Fit::Contain),
            sized("medium", 640, Fit::Contain),
            sized("square", 200, Fit::Cover),
        ];
        let d = derivation(photo, &v);
        assert_eq!(d.eighths, 4);
        assert_eq!(d.parent, [Some(2), None, Some(1), Some(2)]);
        assert_eq!(d.via[1], 0);
        assert!(d.via[0] != 0 && d.via[2] != 0 && d.via[0] != d.via[2]);
        assert_eq!(d.via[0], d.via[3], "same chain, same digest");

        // Without the large variant the medium one comes from the decode,
        // and the chain of the small one changes with it.
        let without_large = [v[0].clone(), v[2].clone()];
        let e = derivation(photo, &without_large);
        assert_eq!(e.parent, [Some(1), None]);
        assert_eq!(e.via[1], 0);
        assert_ne!(e.via[0], d.via[0]);
        assert_eq!(e.eighths, 2);

        // A cover variant crops: it is never a parent.
        let covers = [
            sized("big", 1280, Fit::Cover),
            sized("small", 256, Fit::Contain),
        ];
        assert_eq!(derivation(photo, &covers).parent, [None, None]);
    }

    #[test]
    fn no_cascade_without_the_gap() {
        // A small source is not upscaled: every variant keeps its size,
        // so none has twice the resolution of another.
        let small = Shape {
            width: 300,
            height: 200,
            jpeg: false,
        };
        let v = [
            sized("a", 256, Fit::Contain),
            sized("b", 1280, Fit::Contain),
        ];
        let d = derivation(small, &v);
        assert_eq!(d.parent, [None, None]);
        assert_eq!(d.via, [0, 0]);
        assert_eq!(d.eighths, 8, "only JPEGs decode scaled");
        // 640 -> 400 is less than the gap.
        let v = [sized("a", 400, Fit::Contain), sized("b", 640, Fit::Contain)];
        assert_eq!(
            derivation(
                Shape {
                    width: 4000,
                    height: 3000,
                    jpeg: true
                },
                &v
            )
            .parent,
            [None, None]
        );
    }

    #[test]
    fn open_sides_fit_the_other_side_alone() {
        use crate::variant::UNBOUNDED;
        let g = geometry(4000, 3000, 600, UNBOUNDED, Fit::Contain);
        assert_eq!((g.out_width, g.out_height), (600, 450));
        let g = geometry(4000, 3000, UNBOUNDED, 300, Fit::Contain);
        assert_eq!((g.out_width, g.out_height), (400, 300));
        let g = geometry(300, 200, 600, UNBOUNDED, Fit::Contain);
        assert_eq!((g.out_width, g.out_height), (300, 200), "never upscaled");
    }

    #[test]
    fn positions_move_the_crop_to_their_edge() {
        let at = |position, focus| {
            let v = Variant {
                fit: Fit::Cover,
                position,
                ..Variant::new("c", 100, 100, Format::Jpeg)
            };
            positioned(400, 200, &v, focus).crop
        };
        assert_eq!(at(Position::Center, None), (100.0, 0.0, 200.0, 200.0));
        assert_eq!(at(Position::Left, None), (0.0, 0.0, 200.0, 200.0));
        assert_eq!(at(Position::Right, None), (200.0, 0.0, 200.0, 200.0));
        assert_eq!(at(Position::Top, None), (100.0, 0.0, 200.0, 200.0));
        assert_eq!(
            at(Position::Attention, Some((170.0, 9.0))),
            (170.0, 0.0, 200.0, 200.0)
        );
        assert_eq!(
            at(Position::Entropy, Some((900.0, 0.0))),
            (200.0, 0.0, 200.0, 200.0),
            "clamped inside the source"
        );
        let tall = Variant {
            fit: Fit::Cover,
            position: Position::Bottom,
            ..Variant::new("c", 100, 100, Format::Jpeg)
        };
        assert_eq!(
            positioned(200, 400, &tall, None).crop,
            (0.0, 200.0, 200.0, 200.0)
        );
    }

    #[test]
    fn set_members_wider_than_the_source_make_one_output() {
        use crate::variant::UNBOUNDED;
        let member = |w: u32, smaller: Option<u32>| Variant {
            smaller: smaller.map(|s| (s, UNBOUNDED)),
            ..Variant::new("s", w, UNBOUNDED, Format::Webp)
        };
        let shape = Shape {
            width: 800,
            height: 600,
            jpeg: true,
        };
        let made: Vec<bool> = [
            (320, None),
            (640, Some(320)),
            (1280, Some(640)),
            (1920, Some(1280)),
        ]
        .into_iter()
        .map(|(w, s)| is_made(shape, &member(w, s)))
        .collect();
        assert_eq!(
            made,
            [true, true, true, false],
            "1280 comes out at 800, 1920 too"
        );
        let tiny = Shape {
            width: 200,
            height: 100,
            jpeg: false,
        };
        assert!(
            is_made(tiny, &member(320, None)),
            "the smallest is always made"
        );
        assert!(!is_made(tiny, &member(640, Some(320))));
    }

    #[test]
    fn geometry_is_within_bounds_for_many_sizes() {
        for sw in [1u32, 2, 3, 7, 255, 256, 257, 1000, 4001] {
            for sh in [1u32, 2, 5, 256, 999, 3000] {
                for fit in [Fit::Contain, Fit::Cover] {
                    let g = geometry(sw, sh, 256, 128, fit);
                    assert!(g.out_width >= 1 && g.out_width <= 256.min(sw));
                    assert!(g.out_height >= 1 && g.out_height <= 128.min(sh));
                    let (x, y, w, h) = g.crop;
                    assert!(x >= 0.0 && y >= 0.0 && w > 0.0 && h > 0.0);
                    assert!(x + w <= f64::from(sw) + 1e-9 && y + h <= f64::from(sh) + 1e-9);
                }
            }
        }
    }
}
