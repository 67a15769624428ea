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
use crate::variant::Variant;

/// Where a variant sits in the stored (not yet upright) source: the region
/// it needs, in stored full-resolution pixels, and the size it is resized
/// to, stored and upright.
pub(super) struct Placement {
    crop: (f64, f64, f64, f64),
    out_stored: (u32, u32),
    pub(super) out_upright: (u32, u32),
}

/// `map`: the small copy of the source that content-aware positions look
/// at (without one they crop the centre).
pub(super) fn placement(
    full: (u32, u32),
    orientation: Orientation,
    v: &Variant,
    map: Option<&Map>,
) -> Placement {
    let (sw, sh) = full;
    let swaps = swaps_axes(orientation);
    let (uw, uh) = if swaps { (sh, sw) } else { (sw, sh) };
    let focus = map.and_then(|m| {
        let centred = geometry(uw, uh, v.width, v.height, v.fit);
        m.focus(v.position, centred.crop.2, centred.crop.3)
    });
    let g = positioned(uw, uh, v, focus);
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
    resizer: &mut Resizer,
) -> Result<Resized, RenderError> {
    let p = placement(src.full, src.orientation, v, map);
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

    /// Whatever SIMD the machine has, the resize gives the same pixels, so
    /// outputs do not depend on the CPU they were made on.
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
                let out = r.resize(pixels, (w, h), *pt, crop, (23, 17)).unwrap();
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
}
