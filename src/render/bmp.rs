//! BMPs that browsers show but `image`'s decoder refuses (an oversized
//! palette, zero 16-bit bitfield masks, top-down RLE) go to a second
//! maintained decoder, zune-bmp. It pads missing data with black instead of
//! failing, so it is only asked about files whose pixel data is all there,
//! which is checked here from the headers first: half a picture is not a
//! thumbnail.

use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

use super::decode::{check_pixels, rgba_to_rgb, Px, Source};
use super::{Limits, RenderError};
use image::metadata::Orientation;

/// What the headers say, as far as completeness needs.
struct Header {
    offset: usize,
    /// The DIB header's size.
    dib: u32,
    width: u32,
    height: i32,
    bits: u32,
    compression: u32,
}

const RGB: u32 = 0;
const RLE8: u32 = 1;
const RLE4: u32 = 2;
const BITFIELDS: u32 = 3;
const ALPHA_BITFIELDS: u32 = 6;

fn header(b: &[u8]) -> Option<Header> {
    let u16_at = |at: usize| Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?));
    let offset = usize::try_from(u32_at(10)?).ok()?;
    let dib = u32_at(14)?;
    if dib == 12 {
        // OS/2 1.x core header: 16-bit sizes, never compressed.
        return Some(Header {
            offset,
            dib,
            width: u32::from(u16_at(18)?),
            height: i32::from(u16_at(20)?),
            bits: u32::from(u16_at(24)?),
            compression: RGB,
        });
    }
    Some(Header {
        offset,
        dib,
        width: u32_at(18)?,
        height: u32_at(22)? as i32,
        bits: u32::from(u16_at(28)?),
        compression: u32_at(30)?,
    })
}

/// Whether every pixel the headers promise is in the file: whole rows for
/// uncompressed data, an end-of-bitmap code for RLE.
fn pixel_data_is_whole(b: &[u8], h: &Header) -> bool {
    let Some(data) = b.get(h.offset..) else {
        return false;
    };
    // After a 40-byte header the bitfield masks follow it, before the
    // pixels: if the pixels start there, the masks are missing.
    let masks = match h.compression {
        BITFIELDS if h.dib == 40 => 12,
        ALPHA_BITFIELDS if h.dib == 40 => 16,
        _ => 0,
    };
    if h.offset < 14 + h.dib as usize + masks {
        return false;
    }
    match h.compression {
        RGB | BITFIELDS | ALPHA_BITFIELDS => {
            let stride = (u64::from(h.width) * u64::from(h.bits)).div_ceil(32) * 4;
            stride * u64::from(h.height.unsigned_abs()) <= data.len() as u64
        }
        RLE8 | RLE4 => rle_ends(data, h.compression == RLE4),
        _ => false,
    }
}

/// Walks RLE codes to the end-of-bitmap escape (0, 1).
fn rle_ends(data: &[u8], four_bit: bool) -> bool {
    let mut at = 0;
    while let (Some(&count), Some(&code)) = (data.get(at), data.get(at + 1)) {
        at += 2;
        if count != 0 {
            continue;
        }
        match code {
            0 => {}
            1 => return true,
            2 => at += 2,
            n => {
                let bytes = if four_bit {
                    usize::from(n).div_ceil(2)
                } else {
                    usize::from(n)
                };
                // Absolute runs are padded to a 16-bit boundary.
                at += bytes.next_multiple_of(2);
            }
        }
    }
    false
}

/// Decodes a BMP that `image` refused, if zune-bmp reads it whole; `None`
/// when it does not, so that the caller reports the first decoder's error.
pub(super) fn decode_refused(
    source: &[u8],
    limits: &Limits,
) -> Option<Result<Source, RenderError>> {
    let h = header(source)?;
    if h.width == 0 || h.height == 0 || !pixel_data_is_whole(source, &h) {
        return None;
    }
    let height = h.height.unsigned_abs();
    if let Err(e) = check_pixels(h.width, height, limits) {
        return Some(Err(e));
    }
    let side = usize::try_from(limits.max_pixels).unwrap_or(usize::MAX);
    let options = DecoderOptions::new_safe()
        .set_max_width(side)
        .set_max_height(side);
    let mut dec = zune_bmp::BmpDecoder::new_with_options(ZCursor::new(source), options);
    let pixels = dec.decode().ok()?;
    let (w, ht) = dec.dimensions()?;
    let (w, ht) = (u32::try_from(w).ok()?, u32::try_from(ht).ok()?);
    let px = match dec.colorspace()? {
        ColorSpace::RGB => Px::Rgb,
        ColorSpace::RGBA => Px::Rgba,
        ColorSpace::Luma => Px::Gray,
        _ => return None,
    };
    if (w, ht) != (h.width, height) || pixels.len() != w as usize * ht as usize * px.channels() {
        return None;
    }
    let mut pixels = pixels;
    // zune-bmp turns every RLE image the bottom-up way, also those that
    // say they are top-down; put them back.
    if h.height < 0 && matches!(h.compression, RLE8 | RLE4) {
        flip_rows(&mut pixels, w as usize * px.channels());
    }
    let (px, pixels) = if px == Px::Rgba && pixels.chunks_exact(4).all(|p| p[3] == 255) {
        (Px::Rgb, rgba_to_rgb(pixels))
    } else {
        (px, pixels)
    };
    Some(Ok(Source {
        full: (w, ht),
        scale: 1.0,
        width: w,
        height: ht,
        px,
        pixels,
        orientation: Orientation::NoTransforms,
        icc: None,
        eighths: 8,
        jpeg: false,
        leniency: None,
    }))
}

fn flip_rows(pixels: &mut [u8], row: usize) {
    let rows = pixels.len() / row.max(1);
    for y in 0..rows / 2 {
        let (top, bottom) = pixels.split_at_mut((rows - 1 - y) * row);
        top[y * row..(y + 1) * row].swap_with_slice(&mut bottom[..row]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rle_streams_are_whole_only_with_their_end_code() {
        assert!(rle_ends(&[4, 1, 0, 0, 0, 1], false));
        // An absolute run of 3 bytes is padded to 4.
        assert!(rle_ends(&[0, 3, 9, 9, 9, 0, 0, 1], false));
        assert!(!rle_ends(&[0, 3, 9, 9, 9, 0, 0], false));
        // Four-bit: 5 pixels are 3 bytes, padded to 4.
        assert!(rle_ends(&[0, 5, 1, 2, 3, 0, 0, 1], true));
        // A delta skips its two bytes.
        assert!(rle_ends(&[0, 2, 0, 1, 0, 1], false));
        assert!(!rle_ends(&[0, 2, 0, 1], false));
        assert!(!rle_ends(&[], false));
    }

    #[test]
    fn rows_flip_in_place() {
        let mut p = vec![1, 1, 2, 2, 3, 3];
        flip_rows(&mut p, 2);
        assert_eq!(p, [3, 3, 2, 2, 1, 1]);
    }
}
