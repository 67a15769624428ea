//! YCbCr TIFFs, as scanners and some cameras write them, which the `image`
//! crate refuses ("24-bit pixels of a layout the decoder does not know"):
//! the `tiff` crate reads their tags and, without subsampling, their
//! samples; uncompressed subsampled data (the TIFF default is 4:2:0) is
//! unpacked here from its data units. The colour conversion follows the
//! file's YCbCrCoefficients and ReferenceBlackWhite, as TIFF 6.0 says.
//! JPEG-compressed YCbCr (what libtiff writes for `-c jpeg`, and scanners)
//! comes out of the tiff crate's JPEG decoder upsampled but still YCbCr,
//! and is converted the same way.

use std::io::Cursor;

use image::metadata::Orientation;
use tiff::decoder::{Decoder, DecodingResult};
use tiff::tags::Tag;
use tiff::ColorType;

use super::pixels::{check_pixels, Px, Source};
use super::{Limits, RenderError};

const NAME: &str = "TIFF";

fn tiff_error(e: tiff::TiffError) -> RenderError {
    match e {
        tiff::TiffError::UnsupportedError(u) => {
            RenderError::unsupported_variant(NAME, u.to_string())
        }
        tiff::TiffError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            RenderError::decode(NAME, "unexpected end of file")
        }
        tiff::TiffError::LimitsExceeded => {
            RenderError::decode(NAME, "image needs more memory than allowed")
        }
        other => RenderError::decode(NAME, other.to_string()),
    }
}

/// New-style JPEG compression, whose decoder upsamples the chroma itself.
const JPEG: u16 = 7;

/// Decodes `source` if it is an 8-bit YCbCr TIFF, which `image` cannot
/// read; `None` for every other TIFF.
pub(super) fn decode(source: &[u8], limits: &Limits) -> Option<Result<Source, RenderError>> {
    let mut dec = Decoder::new(Cursor::new(source)).ok()?;
    let colour = dec.colortype().ok()?;
    let compression = dec
        .find_tag_unsigned::<u16>(Tag::Compression)
        .ok()
        .flatten()
        .unwrap_or(1);
    if !matches!(colour, ColorType::YCbCr(_)) {
        return None;
    }
    Some(decode_ycbcr(&mut dec, source, colour, compression, limits))
}

fn decode_ycbcr(
    dec: &mut Decoder<Cursor<&[u8]>>,
    source: &[u8],
    colour: ColorType,
    compression: u16,
    limits: &Limits,
) -> Result<Source, RenderError> {
    if colour != ColorType::YCbCr(8) {
        return Err(RenderError::unsupported_variant(
            NAME,
            format!("{colour:?} samples"),
        ));
    }
    let (width, height) = dec.dimensions().map_err(tiff_error)?;
    if width == 0 || height == 0 {
        return Err(RenderError::decode(NAME, "image has no pixels"));
    }
    check_pixels(width, height, limits)?;
    let subsampling = match dec.find_tag_unsigned_vec::<u16>(Tag::ChromaSubsampling) {
        Ok(Some(v)) if v.len() == 2 => (v[0], v[1]),
        Ok(Some(_)) | Err(_) => {
            return Err(RenderError::decode(NAME, "invalid YCbCrSubSampling tag"))
        }
        // TIFF 6.0's default.
        Ok(None) => (2, 2),
    };
    if !matches!(subsampling.0, 1 | 2 | 4)
        || !matches!(subsampling.1, 1 | 2 | 4)
        || subsampling.1 > subsampling.0
    {
        return Err(RenderError::decode(
            NAME,
            format!(
                "YCbCr subsampling {}×{} is not one TIFF allows",
                subsampling.0, subsampling.1
            ),
        ));
    }
    let conversion = Conversion::of(dec);
    let orientation = dec
        .find_tag_unsigned::<u8>(Tag::Orientation)
        .ok()
        .flatten()
        .and_then(Orientation::from_exif)
        .unwrap_or(Orientation::NoTransforms);
    let icc = dec.get_tag_u8_vec(Tag::IccProfile).ok();
    let ycbcr = if subsampling == (1, 1) || compression == JPEG {
        let samples = dec.read_image().map_err(tiff_error)?;
        match samples {
            DecodingResult::U8(v) => Planes::interleaved(&v, width, height)?,
            _ => {
                return Err(RenderError::unsupported_variant(
                    NAME,
                    "YCbCr samples wider than 8 bits",
                ))
            }
        }
    } else if compression == 1 {
        Planes::subsampled(dec, source, width, height, subsampling)?
    } else {
        return Err(RenderError::unsupported_variant(
            NAME,
            format!(
                "compressed ({compression}) YCbCr with {}×{} subsampling",
                subsampling.0, subsampling.1
            ),
        ));
    };
    let pixels = conversion.to_rgb(&ycbcr);
    Ok(Source::whole(
        (width, height),
        Px::Rgb,
        pixels,
        orientation,
        icc,
    ))
}

/// Full-resolution Y, Cb and Cr samples.
struct Planes {
    y: Vec<u8>,
    cb: Vec<u8>,
    cr: Vec<u8>,
}

impl Planes {
    fn interleaved(samples: &[u8], width: u32, height: u32) -> Result<Planes, RenderError> {
        let n = width as usize * height as usize;
        if samples.len() < n * 3 {
            return Err(RenderError::decode(
                NAME,
                "fewer samples than the image needs",
            ));
        }
        let mut planes = Planes {
            y: Vec::with_capacity(n),
            cb: Vec::with_capacity(n),
            cr: Vec::with_capacity(n),
        };
        for p in samples.chunks_exact(3).take(n) {
            planes.y.push(p[0]);
            planes.cb.push(p[1]);
            planes.cr.push(p[2]);
        }
        Ok(planes)
    }

    /// Unpacks uncompressed, chunky, subsampled strips: each data unit is
    /// `sx × sy` luma samples, row by row, then one Cb and one Cr for all of
    /// them. Units at the right and bottom edges are whole, padded.
    fn subsampled(
        dec: &mut Decoder<Cursor<&[u8]>>,
        source: &[u8],
        width: u32,
        height: u32,
        (sx, sy): (u16, u16),
    ) -> Result<Planes, RenderError> {
        if dec
            .find_tag_unsigned::<u16>(Tag::PlanarConfiguration)
            .ok()
            .flatten()
            .is_some_and(|p| p != 1)
        {
            return Err(RenderError::unsupported_variant(
                NAME,
                "planar subsampled YCbCr",
            ));
        }
        let offsets = dec
            .get_tag_u64_vec(Tag::StripOffsets)
            .map_err(|_| RenderError::unsupported_variant(NAME, "tiled subsampled YCbCr"))?;
        let counts = dec
            .get_tag_u64_vec(Tag::StripByteCounts)
            .map_err(|_| RenderError::decode(NAME, "no StripByteCounts"))?;
        let rows_per_strip = dec
            .find_tag_unsigned::<u32>(Tag::RowsPerStrip)
            .ok()
            .flatten()
            .unwrap_or(height)
            .clamp(1, height);
        let (sx, sy) = (u32::from(sx), u32::from(sy));
        if !rows_per_strip.is_multiple_of(sy) && rows_per_strip != height {
            return Err(RenderError::decode(
                NAME,
                "RowsPerStrip is not a multiple of the subsampling",
            ));
        }
        let n = width as usize * height as usize;
        let mut planes = Planes {
            y: vec![0; n],
            cb: vec![128; n],
            cr: vec![128; n],
        };
        let units_across = width.div_ceil(sx);
        let unit_len = (sx * sy + 2) as usize;
        let strips = height.div_ceil(rows_per_strip) as usize;
        if offsets.len() < strips || counts.len() < strips {
            return Err(RenderError::decode(
                NAME,
                "fewer strips than the image needs",
            ));
        }
        for (strip, &offset) in offsets.iter().enumerate().take(strips) {
            let top = strip as u32 * rows_per_strip;
            let rows = rows_per_strip.min(height - top);
            let units = units_across as usize * rows.div_ceil(sy) as usize;
            let start =
                usize::try_from(offset).map_err(|_| RenderError::decode(NAME, "strip offset"))?;
            let data = start
                .checked_add(units * unit_len)
                .and_then(|end| source.get(start..end))
                .ok_or_else(|| RenderError::decode(NAME, "unexpected end of file"))?;
            for (u, unit) in data.chunks_exact(unit_len).enumerate() {
                let ux = (u % units_across as usize) as u32 * sx;
                let uy = top + (u / units_across as usize) as u32 * sy;
                let (cb, cr) = (unit[unit_len - 2], unit[unit_len - 1]);
                for dy in 0..sy {
                    for dx in 0..sx {
                        let (x, y) = (ux + dx, uy + dy);
                        if x < width && y < height {
                            let i = (y * width + x) as usize;
                            planes.y[i] = unit[(dy * sx + dx) as usize];
                            planes.cb[i] = cb;
                            planes.cr[i] = cr;
                        }
                    }
                }
            }
        }
        Ok(planes)
    }
}

/// TIFF 6.0 section 21's YCbCr → RGB, for one file's tags.
struct Conversion {
    kr: f32,
    kb: f32,
    /// ReferenceBlackWhite: black and white codes of Y, Cb and Cr.
    reference: [f32; 6],
}

impl Conversion {
    fn of(dec: &mut Decoder<Cursor<&[u8]>>) -> Conversion {
        let coefficients = dec
            .get_tag_f32_vec(Tag::Unknown(529))
            .ok()
            .filter(|c| c.len() == 3 && c.iter().all(|v| v.is_finite() && *v > 0.0) && c[1] > 0.0);
        let (kr, kb) = coefficients.map_or((0.299, 0.114), |c| (c[0], c[2]));
        let reference = dec
            .get_tag_f32_vec(Tag::Unknown(532))
            .ok()
            .and_then(|r| <[f32; 6]>::try_from(r).ok())
            .filter(|r| {
                r.iter().all(|v| v.is_finite()) && r[1] > r[0] && r[3] > r[2] && r[5] > r[4]
            })
            .unwrap_or([0.0, 255.0, 128.0, 255.0, 128.0, 255.0]);
        Conversion { kr, kb, reference }
    }

    fn to_rgb(&self, planes: &Planes) -> Vec<u8> {
        let r = &self.reference;
        let (kr, kb) = (self.kr, self.kb);
        let kg = 1.0 - kr - kb;
        let y_gain = 255.0 / (r[1] - r[0]);
        let cb_gain = 127.0 / (r[3] - r[2]);
        let cr_gain = 127.0 / (r[5] - r[4]);
        let to8 = |v: f32| v.round().clamp(0.0, 255.0) as u8;
        let mut out = Vec::with_capacity(planes.y.len() * 3);
        for ((&y, &cb), &cr) in planes.y.iter().zip(&planes.cb).zip(&planes.cr) {
            let y = (f32::from(y) - r[0]) * y_gain;
            let cb = (f32::from(cb) - r[2]) * cb_gain;
            let cr = (f32::from(cr) - r[4]) * cr_gain;
            let red = y + cr * (2.0 - 2.0 * kr);
            let blue = y + cb * (2.0 - 2.0 * kb);
            let green = (y - kb * blue - kr * red) / kg;
            out.extend([to8(red), to8(green), to8(blue)]);
        }
        out
    }
}
