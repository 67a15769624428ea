//! Resizing with Lanczos3 (`thumbgen-lanczos`, over `fast_image_resize`):
//! each variant's crop of the decode its own size calls for, at its output
//! size.
//! Resizes run in the stored orientation, so the crop is mapped onto the
//! stored image here and the result is turned upright only when encoded.

use image::metadata::Orientation;
use thumbgen_lanczos::{Crop, Pixels, Resizer};

use super::geometry::{geometry, positioned};
use super::orient::{swaps_axes, upright_rect_to_stored};
use super::pixels::{Px, Source};
use super::smartcrop::Map;
use super::RenderError;
use crate::focus::FocalPoint;
use crate::variant::Variant;

/// Where a variant sits in the stored (not yet upright) source: the region
/// it needs, in stored full-resolution pixels, and the size it is resized
/// to, stored and upright.
pub(super) struct Placement {
    crop: (f64, f64, f64, f64),
    out_stored: (u32, u32),
    pub(super) out_upright: (u32, u32),
}

impl Placement {
    /// The region of the stored source to resize, and the size to resize
    /// it to, for a source stored upright.
    pub(super) fn stored(&self) -> ((f64, f64, f64, f64), (u32, u32)) {
        (self.crop, self.out_stored)
    }
}

/// `map`: the small copy of the source that content-aware positions look
/// at (without one they crop the centre); `point`: the source's focal
/// point, which the crop of a `focus` variant is centred on.
pub(super) fn placement(
    full: (u32, u32),
    orientation: Orientation,
    v: &Variant,
    map: Option<&Map>,
    point: Option<FocalPoint>,
) -> Placement {
    let (sw, sh) = full;
    let swaps = swaps_axes(orientation);
    let (uw, uh) = if swaps { (sh, sw) } else { (sw, sh) };
    let centred = geometry(uw, uh, v.width, v.height, v.fit);
    let (crop_w, crop_h) = (centred.crop.2, centred.crop.3);
    let corner = match point {
        Some(p) => Some((
            p.x() * f64::from(uw) - crop_w / 2.0,
            p.y() * f64::from(uh) - crop_h / 2.0,
        )),
        None => map.and_then(|m| m.focus(v.position, crop_w, crop_h)),
    };
    let g = positioned(uw, uh, v, corner);
    let crop = upright_rect_to_stored(orientation, f64::from(sw), f64::from(sh), g.crop);
    let out_upright = (g.out_width, g.out_height);
    let out_stored = if swaps {
        (g.out_height, g.out_width)
    } else {
        out_upright
    };
    Placement {
        crop,
        out_stored,
        out_upright,
    }
}

fn pixel_layout(px: Px) -> Pixels {
    match px {
        Px::Gray => Pixels::Gray,
        Px::Rgb => Pixels::Rgb,
        Px::Rgba => Pixels::Rgba,
    }
}

/// `src` at half its size (rounded up), each pixel the mean of its 2×2
/// box, colour weighted by alpha so that transparent pixels lend no colour
/// to their neighbours. A decode is halved as far as
/// `geometry::reduction` allows before an output's Lanczos3 resize: a half
/// costs one pass over the pixels, where each Lanczos pass reads six per
/// output pixel.
pub(super) fn halve(src: &Source, resizer: &mut Resizer) -> Result<Source, RenderError> {
    let pixels = resizer
        .halve(&src.pixels, (src.width, src.height), pixel_layout(src.px))
        .map_err(RenderError::Resize)?;
    Ok(Source {
        scale: src.scale / 2.0,
        width: src.width.div_ceil(2),
        height: src.height.div_ceil(2),
        pixels,
        icc: src.icc.clone(),
        ..*src
    })
}

/// A variant's pixels after the resize, still in the stored orientation
/// (as the decode is).
pub(super) struct Resized {
    pub(super) pixels: Vec<u8>,
    pub(super) width: u32,
    pub(super) height: u32,
}

/// `v`'s pixels from `src` (the decode its own size calls for), at its
/// output size.
pub(super) fn resize_variant(
    src: &Source,
    v: &Variant,
    map: Option<&Map>,
    point: Option<FocalPoint>,
    resizer: &mut Resizer,
) -> Result<Resized, RenderError> {
    let p = placement(src.full, src.orientation, v, map, point);
    let (sw, sh) = p.out_stored;
    // Crop in the decode's pixels, clamped: scaled decodes round their size
    // up, and float noise must not push the box past the buffer.
    let (dw, dh) = (f64::from(src.width), f64::from(src.height));
    let cx = (p.crop.0 * src.scale).clamp(0.0, dw - 1.0);
    let cy = (p.crop.1 * src.scale).clamp(0.0, dh - 1.0);
    let cw = (p.crop.2 * src.scale).clamp(1.0, dw - cx);
    let ch = (p.crop.3 * src.scale).clamp(1.0, dh - cy);
    let crop = Crop {
        left: cx,
        top: cy,
        width: cw,
        height: ch,
    };
    let pixels = resizer
        .resize(
            &src.pixels,
            (src.width, src.height),
            pixel_layout(src.px),
            crop,
            (sw, sh),
        )
        .map_err(RenderError::Resize)?;
    Ok(Resized {
        pixels,
        width: sw,
        height: sh,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_support::{decode, fixture, render_one, variant, ALL_FORMATS};
    use crate::variant::Fit;

    #[test]
    fn contain_and_cover_sizes() {
        for f in ALL_FORMATS {
            for (src, w, h, fit, want) in [
                ("baseline.jpg", 64, 64, Fit::Contain, (64, 48)),
                ("baseline.jpg", 64, 64, Fit::Cover, (64, 64)),
                ("baseline.jpg", 100, 30, Fit::Cover, (100, 30)),
                ("baseline.jpg", 500, 500, Fit::Contain, (160, 120)),
                ("baseline.jpg", 20, 100, Fit::Cover, (20, 100)),
                ("icc.png", 40, 40, Fit::Contain, (40, 30)),
                ("icc.png", 40, 40, Fit::Cover, (40, 40)),
                ("exif-orientation-6.jpg", 32, 32, Fit::Contain, (32, 21)),
                ("exif-orientation-6.jpg", 64, 20, Fit::Cover, (64, 20)),
            ] {
                let r = render_one(src, &variant(w, h, fit, f));
                assert_eq!((r.width, r.height), want, "{src} {w}x{h} {fit:?} {f:?}");
                decode(&r);
            }
        }
    }

    /// Whatever SIMD the machine has, the resize and the halving give the
    /// same pixels, so outputs do not depend on the CPU they were made on.
    #[test]
    fn resize_is_the_same_on_every_cpu_path() {
        let img = image::load_from_memory(&fixture("rgba-transparent.png")).unwrap();
        let (w, h) = (img.width(), img.height());
        let layouts = [
            (Pixels::Gray, img.to_luma8().into_raw()),
            (Pixels::Rgb, img.to_rgb8().into_raw()),
            (Pixels::Rgba, img.to_rgba8().into_raw()),
        ];
        let crop = Crop {
            left: 3.5,
            top: 2.25,
            width: 55.0,
            height: 41.0,
        };
        for (pt, pixels) in &layouts {
            let mut outs = Vec::new();
            for ext in [
                thumbgen_lanczos::CpuExtensions::None,
                thumbgen_lanczos::CpuExtensions::Sse4_1,
                thumbgen_lanczos::CpuExtensions::Avx2,
            ] {
                let Some(mut r) = Resizer::with_cpu_extensions(ext) else {
                    continue;
                };
                let mut out = r.resize(pixels, (w, h), *pt, crop, (23, 17)).unwrap();
                out.extend(r.halve(pixels, (w, h), *pt).unwrap());
                outs.push((ext, out));
            }
            for (ext, o) in &outs[1..] {
                assert!(
                    *o == outs[0].1,
                    "{pt:?}: {ext:?} differs from {:?}",
                    outs[0].0
                );
            }
        }
    }

    #[test]
    fn a_half_is_the_mean_of_each_box() {
        use crate::render::test_support::rgb_source;
        use image::metadata::Orientation;
        let src = rgb_source(4, 2, Orientation::NoTransforms, |x, y| {
            [(x * 10 + y * 100) as u8, 0, 255]
        });
        let half = halve(&src, &mut Resizer::new()).unwrap();
        assert_eq!((half.width, half.height, half.scale), (2, 1, 0.5));
        // (0,0): mean of 0, 10, 100, 110; (1,0): of 20, 30, 120, 130.
        assert_eq!(half.pixels, [55, 0, 255, 75, 0, 255]);
        // A last odd column and row are each averaged with themselves.
        let odd = rgb_source(3, 3, Orientation::NoTransforms, |x, y| {
            [(x * 10 + y * 100) as u8, 0, 255]
        });
        let half = halve(&odd, &mut Resizer::new()).unwrap();
        assert_eq!((half.width, half.height), (2, 2));
        // (1,0): 20 and 120; (0,1): 200 and 210; (1,1): 220.
        let red: Vec<u8> = half.pixels.chunks(3).map(|p| p[0]).collect();
        assert_eq!(red, [55, 70, 205, 220]);
    }

    #[test]
    fn transparent_pixels_lend_no_colour_to_a_half() {
        use crate::render::test_support::rgb_source;
        use image::metadata::Orientation;
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
        let half = halve(&src, &mut Resizer::new()).unwrap();
        assert_eq!(half.pixels, [255, 0, 0, 64]);
    }
}
