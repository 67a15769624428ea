//! Fixtures and helpers the render package's unit tests share: most tests
//! check one concern through the whole pipeline, from a fixture file to
//! decoded output, so they need the same few tools.

use image::DynamicImage;

use super::{render, Limits, RenderError, Rendered, SourceInfo};
use crate::model::Format;
use crate::variant::{Fit, Variant};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");

pub(super) const LIMITS: Limits = Limits::new(100_000_000);

pub(super) const ALL_FORMATS: [Format; 3] = [Format::Jpeg, Format::Png, Format::Webp];

pub(super) fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub(super) fn variant(width: u32, height: u32, fit: Fit, format: Format) -> Variant {
    Variant {
        fit,
        quality: 90,
        ..Variant::new("t", width, height, format)
    }
}

/// [`render`] for variants that every source gets (no set members).
pub(super) fn render_all(
    source: &[u8],
    wanted: &[usize],
    all: &[Variant],
    limits: &Limits,
) -> Result<(Vec<Rendered>, SourceInfo), RenderError> {
    let (out, info) = render(source, wanted, all, limits, Default::default(), None)?;
    Ok((out.into_iter().map(|r| r.expect("made")).collect(), info))
}

pub(super) fn render_one(name: &str, v: &Variant) -> Rendered {
    let (mut out, _) = render_all(&fixture(name), &[0], std::slice::from_ref(v), &LIMITS)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(out.len(), 1);
    out.remove(0)
}

pub(super) fn render_err(bytes: &[u8]) -> String {
    let v = variant(64, 64, Fit::Contain, Format::Jpeg);
    match render(bytes, &[0], &[v], &LIMITS, Default::default(), None) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

/// A decoded full-size RGB source of `w` x `h` whose pixel at (x, y) is
/// `pixel(x, y)`, stored with `orientation`.
pub(super) fn rgb_source(
    w: u32,
    h: u32,
    orientation: image::metadata::Orientation,
    pixel: impl Fn(u32, u32) -> [u8; 3],
) -> super::pixels::Source {
    let mut pixels = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            pixels.extend_from_slice(&pixel(x, y));
        }
    }
    super::pixels::Source {
        full: (w, h),
        scale: 1.0,
        width: w,
        height: h,
        px: super::pixels::Px::Rgb,
        pixels,
        orientation,
        icc: None,
        coding: crate::model::Coding::Whole,
        leniency: None,
    }
}

/// Decodes an output, checking it has the size it claims.
pub(super) fn decode(r: &Rendered) -> DynamicImage {
    let img = image::load_from_memory(&r.bytes).expect("output decodes");
    assert_eq!((img.width(), img.height()), (r.width, r.height));
    img
}

pub(super) fn rgba_at(img: &DynamicImage, x: u32, y: u32) -> [u8; 4] {
    img.to_rgba8().get_pixel(x, y).0
}

pub(super) fn near(a: &[u8], b: &[u8], tol: u8) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(*y) <= tol)
}
