//! AVIF sources: the container (its primary image, alpha, ICC, rotation
//! and mirror) read by mp4parse, Firefox's parser; the AV1 payloads decoded
//! by rav1d, the Rust port of dav1d; YCbCr turned into RGB here.
//!
//! AV1 decoding is bit-exact by its standard. The colour conversion after
//! it is not, in general: each library rounds its own way. It is done here,
//! in integers, so that output bytes depend on nothing but this code.

use image::metadata::Orientation;
use mp4parse::{ImageMirror, ImageRotation, ParseStrictness};
use rav1d::include::dav1d::headers::{
    DAV1D_MC_BT2020_CL, DAV1D_MC_BT2020_NCL, DAV1D_MC_BT709, DAV1D_MC_FCC, DAV1D_MC_IDENTITY,
    DAV1D_MC_SMPTE240, DAV1D_MC_SMPTE_YCGCO, DAV1D_PIXEL_LAYOUT_I400,
};

use super::av1::{self, Frame};
use super::pixels::{Px, Source};
use super::{Limits, RenderError};

const NAME: &str = "AVIF";

/// Decodes an AVIF still image (or the still image of an image sequence),
/// upright by its `irot`/`imir` boxes, with its alpha and ICC profile.
pub(super) fn decode(source: &[u8], limits: &Limits) -> Result<Source, RenderError> {
    let avif =
        mp4parse::read_avif(&mut &source[..], ParseStrictness::Normal).map_err(|e| match e {
            mp4parse::Error::Unsupported(what) => RenderError::unsupported_variant(NAME, what),
            mp4parse::Error::UnexpectedEOF => RenderError::decode(NAME, "unexpected end of file"),
            mp4parse::Error::OutOfMemory => {
                RenderError::decode(NAME, "image needs more memory than allowed")
            }
            mp4parse::Error::InvalidData(status) => {
                RenderError::decode(NAME, format!("damaged container ({status:?})"))
            }
            other => RenderError::decode(NAME, format!("damaged container ({other})")),
        })?;
    let coded = avif.primary_item_coded_data().ok_or_else(|| {
        RenderError::unsupported_variant(NAME, "an image sequence without a still image")
    })?;
    let colour = av1::decode(coded, limits)?;
    let (width, height) = (colour.width, colour.height);
    let alpha = match avif.alpha_item_coded_data() {
        Some(coded) => {
            let alpha = av1::decode(coded, limits)?;
            if (alpha.width, alpha.height) != (width, height) {
                return Err(RenderError::decode(
                    NAME,
                    format!(
                        "alpha is {}×{} but the image is {width}×{height}",
                        alpha.width, alpha.height
                    ),
                ));
            }
            Some(alpha.luma_8bit())
        }
        None => None,
    };
    let grey = colour.layout == DAV1D_PIXEL_LAYOUT_I400;
    let (px, pixels) = match alpha {
        None if grey => (Px::Gray, colour.luma_8bit()),
        None => (Px::Rgb, colour.rgb(&Matrix::of(&colour)?)),
        Some(alpha) => {
            let mut rgba = colour.rgba(&Matrix::of(&colour)?, &alpha);
            if avif.premultiplied_alpha {
                unpremultiply(&mut rgba);
            }
            (Px::Rgba, rgba)
        }
    };
    let orientation = orientation(
        avif.image_rotation().unwrap_or(ImageRotation::D0),
        avif.image_mirror_ptr()
            .ok()
            // SAFETY: a non-null pointer from mp4parse points into `avif`,
            // which outlives this use.
            .and_then(|p| unsafe { p.as_ref() }),
    );
    let icc = avif
        .icc_colour_information()
        .and_then(Result::ok)
        .map(<[u8]>::to_vec);
    Ok(Source::whole((width, height), px, pixels, orientation, icc))
}

/// The EXIF orientation that does what HEIF's transformative properties
/// do: rotate anticlockwise by `irot`, then mirror by `imir` (MIAF fixes
/// that order).
fn orientation(rotation: ImageRotation, mirror: Option<&ImageMirror>) -> Orientation {
    use Orientation::*;
    match (rotation, mirror) {
        (ImageRotation::D0, None) => NoTransforms,
        (ImageRotation::D0, Some(ImageMirror::LeftRight)) => FlipHorizontal,
        (ImageRotation::D0, Some(ImageMirror::TopBottom)) => FlipVertical,
        (ImageRotation::D90, None) => Rotate270,
        (ImageRotation::D90, Some(ImageMirror::LeftRight)) => Rotate270FlipH,
        (ImageRotation::D90, Some(ImageMirror::TopBottom)) => Rotate90FlipH,
        (ImageRotation::D180, None) => Rotate180,
        (ImageRotation::D180, Some(ImageMirror::LeftRight)) => FlipVertical,
        (ImageRotation::D180, Some(ImageMirror::TopBottom)) => FlipHorizontal,
        (ImageRotation::D270, None) => Rotate90,
        (ImageRotation::D270, Some(ImageMirror::LeftRight)) => Rotate90FlipH,
        (ImageRotation::D270, Some(ImageMirror::TopBottom)) => Rotate270FlipH,
    }
}

/// Fixed-point (16 fractional bits) YCbCr → RGB for one frame's matrix,
/// range and depth.
struct Matrix {
    y_offset: i32,
    y_gain: i64,
    c_offset: i32,
    r_v: i64,
    g_u: i64,
    g_v: i64,
    b_u: i64,
    identity: bool,
}

const ONE: f64 = 65536.0;

impl Matrix {
    fn of(frame: &Frame) -> Result<Matrix, RenderError> {
        // Kr and Kb of H.273's matrix coefficients; unspecified is BT.601,
        // as libavif and browsers take it.
        let (kr, kb) = match frame.matrix {
            DAV1D_MC_BT709 => (0.2126, 0.0722),
            DAV1D_MC_FCC => (0.30, 0.11),
            DAV1D_MC_SMPTE240 => (0.212, 0.087),
            DAV1D_MC_BT2020_NCL | DAV1D_MC_BT2020_CL => (0.2627, 0.0593),
            DAV1D_MC_SMPTE_YCGCO => {
                return Err(RenderError::unsupported_variant(NAME, "YCgCo colour"))
            }
            _ => (0.299, 0.114),
        };
        let kg = 1.0 - kr - kb;
        let depth = frame.bits - 8;
        let max = f64::from((1u32 << frame.bits) - 1);
        let (y_offset, y_range, c_range) = if frame.full_range {
            (0, max, max)
        } else {
            (
                16 << depth,
                f64::from(219u32 << depth),
                f64::from(224u32 << depth),
            )
        };
        let c_gain = 255.0 / c_range;
        let fixed = |v: f64| (v * ONE).round() as i64;
        Ok(Matrix {
            y_offset,
            y_gain: fixed(255.0 / y_range),
            c_offset: 1 << (frame.bits - 1),
            r_v: fixed(2.0 * (1.0 - kr) * c_gain),
            g_u: fixed(2.0 * kb * (1.0 - kb) / kg * c_gain),
            g_v: fixed(2.0 * kr * (1.0 - kr) / kg * c_gain),
            b_u: fixed(2.0 * (1.0 - kb) * c_gain),
            identity: frame.matrix == DAV1D_MC_IDENTITY,
        })
    }

    fn rgb(&self, y: u16, u: u16, v: u16) -> [u8; 3] {
        let to8 = |x: i64| ((x + (1 << 15)) >> 16).clamp(0, 255) as u8;
        if self.identity {
            // GBR stored as Y = G, U = B, V = R, each at luma's range.
            let scale = |s: u16| to8((i64::from(s) - i64::from(self.y_offset)) * self.y_gain);
            return [scale(v), scale(y), scale(u)];
        }
        let y = (i64::from(y) - i64::from(self.y_offset)) * self.y_gain;
        let u = i64::from(u) - i64::from(self.c_offset);
        let v = i64::from(v) - i64::from(self.c_offset);
        [
            to8(y + self.r_v * v),
            to8(y - self.g_u * u - self.g_v * v),
            to8(y + self.b_u * u),
        ]
    }
}

impl Frame {
    /// The chroma sample for pixel (x, y): its co-sited neighbour, as
    /// libyuv's conversions in browsers take it.
    fn chroma_index(&self, x: u32, y: u32) -> usize {
        let cw = (self.width + self.shift.0) >> self.shift.0;
        ((y >> self.shift.1) * cw + (x >> self.shift.0)) as usize
    }

    /// Each pixel's RGB, in order. A grey frame (no chroma planes) has
    /// neutral chroma.
    fn for_each_rgb(&self, m: &Matrix, mut put: impl FnMut([u8; 3])) {
        let [ys, us, vs] = &self.planes;
        let neutral = m.c_offset as u16;
        for y in 0..self.height {
            for x in 0..self.width {
                let c = self.chroma_index(x, y);
                let i = (y * self.width + x) as usize;
                let (u, v) = (
                    us.get(c).copied().unwrap_or(neutral),
                    vs.get(c).copied().unwrap_or(neutral),
                );
                put(m.rgb(ys[i], u, v));
            }
        }
    }

    fn rgb(&self, m: &Matrix) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.width as usize * self.height as usize * 3);
        self.for_each_rgb(m, |p| out.extend_from_slice(&p));
        out
    }

    fn rgba(&self, m: &Matrix, alpha: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.width as usize * self.height as usize * 4);
        let mut a = alpha.iter();
        self.for_each_rgb(m, |p| {
            out.extend_from_slice(&p);
            out.push(*a.next().unwrap_or(&255));
        });
        out
    }

    /// The first plane as 8 bits, at its range: grey, or alpha's values.
    fn luma_8bit(&self) -> Vec<u8> {
        let depth = self.bits - 8;
        let max = (1i64 << self.bits) - 1;
        let (offset, range) = if self.full_range {
            (0, max)
        } else {
            (16i64 << depth, 219i64 << depth)
        };
        self.planes[0]
            .iter()
            .map(|&s| {
                (((i64::from(s) - offset) * 255 * 2 + range) / (2 * range)).clamp(0, 255) as u8
            })
            .collect()
    }
}

/// RGB divided by alpha, for sources stored premultiplied (`prem`).
fn unpremultiply(rgba: &mut [u8]) {
    for p in rgba.chunks_exact_mut(4) {
        let a = u32::from(p[3]);
        if a == 0 || a == 255 {
            continue;
        }
        for c in &mut p[..3] {
            *c = ((u32::from(*c) * 255 + a / 2) / a).min(255) as u8;
        }
    }
}
