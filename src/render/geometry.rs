//! Pure box geometry for rendering, shared with the planner: which region
//! of a source a variant uses and at what size (`contain` / `cover`),
//! which members of a set a source gets, and the [`Reduction`] each output
//! is resized from (a decode's scale and its halvings). Every answer about
//! an output follows from the source's shape and that output's own recipe,
//! never from the other variants.

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
/// `render::smartcrop`), or that centres it on a focal point, in upright
/// source pixels; it is clamped to keep the crop inside the source.
/// Without one, such a position crops the centre.
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
        (Position::Entropy | Position::Attention | Position::Focus, Some((fx, fy))) => {
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

/// How an output's pixels are got from its source before its own resize:
/// a decode at `eighths`/8 of the source's size (a JPEG's DCT scaling; 8
/// for other formats), then `halvings` 2×2 box halvings of it. It follows
/// from the source's shape and the output's own recipe alone
/// ([`reduction`]), never from the other variants, so no output's bytes
/// change when another one's settings do. Outputs with the same reduction
/// share its pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reduction {
    /// The JPEG DCT scale of the decode, in eighths: 4 or 8.
    pub eighths: u8,
    /// How many times that decode is halved.
    pub halvings: u32,
}

/// A decode is made smaller (halved with 2×2 box means) only while it
/// still has this many pixels per output pixel over the output's crop, so
/// that Lanczos3 reads fewer pixels but keeps real detail to filter
/// (Pillow's and libvips's "reducing gap").
const REDUCING_GAP: f64 = 2.0;

/// The [`Reduction`] an output of `v` is made through from a source of
/// shape `shape`.
///
/// A JPEG is decoded at half size where that still gives the output its
/// own size (`decode_eighths`), at full size otherwise. Only two scales:
/// each decode reads all of the file's entropy-coded data, about 10 ms of
/// a 10 MP photo whatever the scale, so the distinct decodes a source's
/// outputs need are kept few. Smaller outputs then halve that decode,
/// which costs a fraction of a DCT-scaled decode and gives the same
/// box-filtered detail.
pub fn reduction(shape: Shape, v: &Variant) -> Reduction {
    let (x, y) = geometry(shape.width, shape.height, v.width, v.height, v.fit).density();
    let need = x.max(y);
    reduced(shape, need, need * REDUCING_GAP)
}

/// The decode that gives `need` pixels per source pixel
/// ([`decode_eighths`]), halved while it keeps `floor` of them.
fn reduced(shape: Shape, need: f64, floor: f64) -> Reduction {
    let eighths = decode_eighths(shape, need);
    let density = f64::from(eighths) / 8.0;
    let mut halvings = 0;
    // 30 halvings leave one pixel of any size.
    while halvings < 30 && density * 0.5f64.powi(halvings as i32 + 1) >= floor {
        halvings += 1;
    }
    Reduction { eighths, halvings }
}

/// A JPEG is decoded at half size only if that still has this many pixels
/// on its longer side. Below it, every output is made from the full-size
/// decode: the outputs most configurations make (up to 1280 px) then share
/// one decode, where a half-size one for the small outputs and a full-size
/// one for the large would read the file twice.
const HALF_DECODE_MIN_SIDE: f64 = 1280.0;

/// The DCT scale, in eighths, of the decode an output needing `need`
/// pixels per source pixel is made from: half size where that gives it
/// its size and [`HALF_DECODE_MIN_SIDE`], full size otherwise.
fn decode_eighths(shape: Shape, need: f64) -> u8 {
    let half_side = f64::from(shape.width.max(shape.height)) / 2.0;
    if shape.jpeg() && need <= 0.5 && half_side >= HALF_DECODE_MIN_SIDE {
        4
    } else {
        8
    }
}

/// Longer side of the small picture that placeholders and content-aware
/// crops look at (the larger of theirs).
const PREVIEW_SIDE: f64 = 128.0;

/// The [`Reduction`] that placeholders and content-aware crops look at:
/// the smallest whose longer side still has `PREVIEW_SIDE` pixels, from a
/// half-size decode for a JPEG. It depends on the source alone.
pub fn preview_reduction(shape: Shape) -> Reduction {
    let long = f64::from(shape.width.max(shape.height).max(1));
    let need = (PREVIEW_SIDE / long).min(1.0);
    reduced(shape, need, need)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Format;

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

    fn jpeg(width: u32, height: u32) -> Shape {
        Shape {
            width,
            height,
            coding: crate::model::Coding::Jpeg,
        }
    }

    fn sized(name: &str, size: u32, fit: Fit) -> Variant {
        Variant {
            fit,
            ..Variant::new(name, size, size, Format::Jpeg)
        }
    }

    fn reduced(eighths: u8, halvings: u32) -> Reduction {
        Reduction { eighths, halvings }
    }

    #[test]
    fn a_jpeg_decodes_at_half_size_where_that_gives_the_output_its_size() {
        let at = |shape, size| reduction(shape, &sized("v", size, Fit::Contain));
        // 4000 -> 1280: half is 2000, less than twice 1280: not halved.
        assert_eq!(at(jpeg(4000, 3000), 1280), reduced(4, 0));
        // 2000 -> 1280: half (1000) is too small.
        assert_eq!(at(jpeg(2000, 1500), 1280), reduced(8, 0));
        // 2000 -> 256: a source under twice HALF_DECODE_MIN_SIDE decodes
        // whole for every output, halved to 1000 here.
        assert_eq!(at(jpeg(2000, 1500), 256), reduced(8, 1));
        // 4000 -> 640: 2000 is not halved, as 1000 is less than twice 640.
        assert_eq!(at(jpeg(4000, 3000), 640), reduced(4, 0));
        // 4000 -> 256: 2000 halves to 1000, not to 500 (under 512).
        assert_eq!(at(jpeg(4000, 3000), 256), reduced(4, 1));
        // A source no larger than the box decodes whole.
        assert_eq!(at(jpeg(200, 100), 256), reduced(8, 0));
        // A cover crop is sized by the short side: 3000 -> 256.
        let cover = sized("c", 256, Fit::Cover);
        assert_eq!(reduction(jpeg(4000, 3000), &cover), reduced(4, 1));
        // A 4:1 panorama covered into a square needs its full height.
        assert_eq!(reduction(jpeg(4096, 1024), &cover), reduced(4, 0));
    }

    #[test]
    fn other_formats_decode_whole_and_halve_while_twice_the_output_remains() {
        let png = Shape {
            coding: crate::model::Coding::Whole,
            ..jpeg(4000, 3000)
        };
        let at = |size, fit| reduction(png, &sized("v", size, fit));
        assert_eq!(at(1280, Fit::Contain), reduced(8, 0));
        assert_eq!(at(640, Fit::Contain), reduced(8, 1));
        assert_eq!(at(256, Fit::Contain), reduced(8, 2));
        assert_eq!(at(256, Fit::Cover), reduced(8, 2));
        // A source smaller than the box is not halved.
        let small = Shape {
            coding: crate::model::Coding::Whole,
            ..jpeg(300, 200)
        };
        assert_eq!(
            reduction(small, &sized("s", 256, Fit::Contain)),
            reduced(8, 0)
        );
    }

    #[test]
    fn the_preview_follows_the_source_alone() {
        // 4000 -> 2000, then 1000, 500, 250; 125 would be under 128.
        assert_eq!(preview_reduction(jpeg(4000, 3000)), reduced(4, 3));
        assert_eq!(preview_reduction(jpeg(800, 600)), reduced(8, 2));
        assert_eq!(preview_reduction(jpeg(200, 60)), reduced(8, 0));
        let png = Shape {
            coding: crate::model::Coding::Whole,
            ..jpeg(4000, 3000)
        };
        assert_eq!(preview_reduction(png), reduced(8, 4));
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
            coding: crate::model::Coding::Jpeg,
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
            coding: crate::model::Coding::Whole,
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
