//! EXIF orientation: mapping upright coordinates onto the stored image, and
//! turning a resized result upright. Sources are decoded and resized in
//! their stored orientation, so the crop is mapped onto the stored image
//! and only thumbnail-sized buffers are ever rotated.

use image::metadata::Orientation;

use crate::model::{Coding, Shape};

/// Whether the orientation turns the image a quarter, so that upright width
/// is stored height.
pub(super) fn swaps_axes(o: Orientation) -> bool {
    matches!(
        o,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// The upright shape of a `width`×`height` stored image shown with `o`.
pub(super) fn upright_shape((width, height): (u32, u32), o: Orientation, coding: Coding) -> Shape {
    let (width, height) = if swaps_axes(o) {
        (height, width)
    } else {
        (width, height)
    };
    Shape {
        width,
        height,
        coding,
    }
}

/// Where upright point (u, v) lies in the stored image, for a stored image
/// whose far edges are at `sw`, `sh` (continuous coordinates: the size; pixel
/// indices: the size minus one).
fn upright_to_stored(o: Orientation, sw: f64, sh: f64, u: f64, v: f64) -> (f64, f64) {
    match o {
        Orientation::NoTransforms => (u, v),
        Orientation::FlipHorizontal => (sw - u, v),
        Orientation::FlipVertical => (u, sh - v),
        Orientation::Rotate180 => (sw - u, sh - v),
        Orientation::Rotate90 => (v, sh - u),
        Orientation::Rotate270 => (sw - v, u),
        Orientation::Rotate90FlipH => (v, u),
        Orientation::Rotate270FlipH => (sw - v, sh - u),
    }
}

/// [`upright_to_stored`] for a rectangle (left, top, width, height).
pub(super) fn upright_rect_to_stored(
    o: Orientation,
    sw: f64,
    sh: f64,
    (x, y, w, h): (f64, f64, f64, f64),
) -> (f64, f64, f64, f64) {
    let (ax, ay) = upright_to_stored(o, sw, sh, x, y);
    let (bx, by) = upright_to_stored(o, sw, sh, x + w, y + h);
    (ax.min(bx), ay.min(by), (ax - bx).abs(), (ay - by).abs())
}

/// Turns a small stored-orientation result upright. Done after the resize,
/// where it touches thumbnail-sized buffers only.
pub(super) fn orient(
    o: Orientation,
    pixels: Vec<u8>,
    w: u32,
    h: u32,
    ch: usize,
) -> (Vec<u8>, u32, u32) {
    if o == Orientation::NoTransforms {
        return (pixels, w, h);
    }
    let (uw, uh) = if swaps_axes(o) { (h, w) } else { (w, h) };
    let (mx, my) = (f64::from(w - 1), f64::from(h - 1));
    let mut out = vec![0u8; pixels.len()];
    let mut i = 0;
    for v in 0..uh {
        for u in 0..uw {
            let (x, y) = upright_to_stored(o, mx, my, f64::from(u), f64::from(v));
            let s = (y as usize * w as usize + x as usize) * ch;
            out[i..i + ch].copy_from_slice(&pixels[s..s + ch]);
            i += ch;
        }
    }
    (out, uw, uh)
}

#[cfg(test)]
mod tests {
    use crate::model::Format;
    use crate::render::test_support::render_all;
    use crate::render::test_support::{
        decode, fixture, near, render_one, rgba_at, variant, LIMITS,
    };
    use crate::variant::Fit;

    /// The fixtures store the same upright picture (96x64, red block top
    /// left, green block top right, blue elsewhere) under each EXIF value.
    #[test]
    fn every_orientation_comes_out_upright() {
        const RED: [u8; 3] = [220, 30, 30];
        const GREEN: [u8; 3] = [30, 200, 30];
        const BASE: [u8; 3] = [40, 60, 160];
        // 96x96 box: no resize; 24x24: DCT-scaled decode at 1/2 plus resize;
        // cover 40x40 crops the middle 64x64, so the markers sit at the edges.
        let cases = [
            (variant(96, 96, Fit::Contain, Format::Png), (96, 64)),
            (variant(24, 24, Fit::Contain, Format::Png), (24, 16)),
            (variant(40, 40, Fit::Cover, Format::Jpeg), (40, 40)),
            (variant(20, 20, Fit::Cover, Format::Jpeg), (20, 20)),
        ];
        // Each also made next to a 96x96 one: the same bytes, as an
        // output is made from the decode its own size calls for.
        let whole = variant(96, 96, Fit::Contain, Format::Png);
        for n in 1..=8 {
            let name = format!("exif-orientation-{n}.jpg");
            for (v, (w, h)) in &cases {
                let r = render_one(&name, v);
                let (beside, _) =
                    render_all(&fixture(&name), &[1], &[whole.clone(), v.clone()], &LIMITS)
                        .unwrap();
                assert_eq!(beside[0].bytes, r.bytes, "orientation {n}");
                assert_eq!((r.width, r.height), (*w, *h), "orientation {n}");
                assert!(
                    !r.bytes.windows(6).any(|s| s == b"Exif\0\0"),
                    "no EXIF kept"
                );
                let img = decode(&r);
                let (x1, y1, y2) = (w / 12, h / 12, h - 1 - h / 12);
                let tl = rgba_at(&img, x1, y1);
                let tr = rgba_at(&img, w - 1 - x1, y1);
                let bl = rgba_at(&img, x1, y2);
                let br = rgba_at(&img, w - 1 - x1, y2);
                let ctx = format!("orientation {n}, {w}x{h}: {tl:?} {tr:?} {bl:?} {br:?}");
                assert!(near(&tl[..3], &RED, 40), "{ctx}");
                assert!(near(&tr[..3], &GREEN, 40), "{ctx}");
                assert!(near(&bl[..3], &BASE, 40), "{ctx}");
                assert!(near(&br[..3], &BASE, 40), "{ctx}");
            }
        }
    }
}
