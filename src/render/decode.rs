//! Decoding into [`Source`] (see `pixels`): the formats the `image` crate
//! reads, each by its own decoder, under the
//! `max_pixels` limit checked from the header before any pixel buffer is
//! allocated. JPEG decodes (shrunk on load at a DCT scale) are in `jpeg`,
//! which fills the same `Source`.

use std::io::Cursor;

use image::codecs::{
    bmp::BmpDecoder, gif::GifDecoder, ico::IcoDecoder, png::PngDecoder, tiff::TiffDecoder,
    webp::WebPDecoder,
};
use image::error::UnsupportedErrorKind;
use image::metadata::Orientation;
use image::{DynamicImage, ExtendedColorType, ImageDecoder, ImageFormat};

use super::orient::upright_shape;
use super::pixels::{check_pixels, Px, Source};
use super::{Leniency, Limits, RenderError};
use crate::model::Shape;

fn image_error(format: &'static str, e: image::ImageError) -> RenderError {
    let reason = match e {
        image::ImageError::IoError(ref io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "unexpected end of file".to_string()
        }
        image::ImageError::Limits(_) => "image needs more memory than allowed".to_string(),
        image::ImageError::Unsupported(u) => {
            let reason = match u.kind() {
                UnsupportedErrorKind::Color(ExtendedColorType::Unknown(bits)) => {
                    format!("{bits}-bit pixels of a layout the decoder does not know")
                }
                UnsupportedErrorKind::Color(color) => format!("{color:?} pixels"),
                UnsupportedErrorKind::GenericFeature(feature) => feature,
                _ => u.to_string(),
            };
            return RenderError::UnsupportedVariant { format, reason };
        }
        // The decoder's own wording repeats what our message already says
        // ("Format error decoding Gif: ..."); keep the part after it.
        image::ImageError::Decoding(d) => {
            let text = d.to_string();
            let text = match text.split_once(": ") {
                Some((head, rest)) if head.starts_with("Format error") => rest.to_string(),
                _ => text,
            };
            // The PNG decoder prints the whole chunk type struct; name it.
            match text.split_once("type: ") {
                Some((head, rest)) if head.starts_with("CRC error") => {
                    let chunk: String = rest.chars().take_while(|c| c.is_alphanumeric()).collect();
                    format!("checksum mismatch in the {chunk} chunk")
                }
                _ => text,
            }
        }
        other => other.to_string(),
    };
    RenderError::Decode { format, reason }
}

fn format_name(f: ImageFormat) -> &'static str {
    match f {
        ImageFormat::Png => "PNG",
        ImageFormat::Gif => "GIF",
        ImageFormat::WebP => "WebP",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Ico => "ICO",
        ImageFormat::Jpeg => "JPEG",
        _ => "image",
    }
}

/// Decodes what the `image` crate reads (PNG, GIF, WebP, TIFF, BMP, ICO),
/// whole: only JPEG has a cheaper reduced-size decode.
pub(super) fn decode_other(
    source: &[u8],
    format: ImageFormat,
    limits: &Limits,
) -> Result<Source, RenderError> {
    let mut decoded = decode_whole(source, format, limits)?;
    decoded.leniency = super::ends::missing_end(format, source).map(|what| Leniency::CutShort {
        format: format_name(format),
        what,
    });
    decoded.coding = super::animation::coding(source, format);
    Ok(decoded)
}

fn decode_whole(
    source: &[u8],
    format: ImageFormat,
    limits: &Limits,
) -> Result<Source, RenderError> {
    // image's ICO decoder refuses PNG entries that are not 8-bit RGBA
    // ("The PNG is not in RGBA format!"), which browsers show; an icon
    // whose best entry is a PNG is that PNG.
    if format == ImageFormat::Ico {
        if let Some(png) = best_png_icon(source) {
            return decode_other(png, ImageFormat::Png, limits);
        }
    }
    if format == ImageFormat::Tiff {
        if let Some(decoded) = super::tiff_ycbcr::decode(source, limits) {
            return decoded;
        }
    }
    match decode_with_image(source, format, limits) {
        // A header flaw that browsers read past: read it as they do.
        Err(e @ (RenderError::Decode { .. } | RenderError::UnsupportedVariant { .. }))
            if format == ImageFormat::Bmp =>
        {
            let Some(repaired) = super::bmp::repair(source) else {
                return Err(e);
            };
            let mut src = decode_with_image(&repaired.bytes, format, limits)?;
            if repaired.flip {
                let row = src.width as usize * src.px.channels();
                super::bmp::flip_rows(&mut src.pixels, row);
            }
            Ok(src)
        }
        decoded => decoded,
    }
}

/// The upright shape of a file the `image` crate reads, from its header.
pub(super) fn probe_other(source: &[u8], format: ImageFormat) -> Option<Shape> {
    if format == ImageFormat::Ico {
        if let Some(png) = best_png_icon(source) {
            return probe_other(png, ImageFormat::Png);
        }
    }
    let mut dec = image_decoder(source, format, image::Limits::no_limits()).ok()?;
    let orientation = dec.orientation().unwrap_or(Orientation::NoTransforms);
    let coding = super::animation::coding(source, format);
    Some(upright_shape(dec.dimensions(), orientation, coding))
}

/// The `image` crate's decoder for `format`, its header read. Only PNG's
/// takes `limits` this early; the others get them before their pixels.
fn image_decoder(
    source: &[u8],
    format: ImageFormat,
    limits: image::Limits,
) -> image::ImageResult<Box<dyn ImageDecoder + '_>> {
    let cursor = Cursor::new(source);
    Ok(match format {
        ImageFormat::Png => Box::new(PngDecoder::with_limits(cursor, limits)?),
        ImageFormat::Gif => Box::new(GifDecoder::new(cursor)?),
        ImageFormat::WebP => Box::new(WebPDecoder::new(cursor)?),
        ImageFormat::Tiff => Box::new(TiffDecoder::new(cursor)?),
        ImageFormat::Ico => Box::new(IcoDecoder::new(cursor)?),
        _ => Box::new(BmpDecoder::new(cursor)?),
    })
}

/// Decodes with the `image` crate's decoder for `format`.
fn decode_with_image(
    source: &[u8],
    format: ImageFormat,
    limits: &Limits,
) -> Result<Source, RenderError> {
    let name = format_name(format);
    let err = |e| image_error(name, e);
    // The decoders' own limits back up the explicit max_pixels check below:
    // no side may exceed the pixel budget, and no decoder may allocate more
    // than the 16-bit RGBA buffer of a maximal image plus slack.
    let side = u32::try_from(limits.max_pixels).unwrap_or(u32::MAX).max(1);
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(side);
    image_limits.max_image_height = Some(side);
    image_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8).saturating_add(64 << 20));
    // Decoders are built by hand rather than through `ImageReader`, whose
    // `into_decoder` applies the limits at once: image's TIFF decoder then
    // sizes the tag budget by the pixel buffer and loses the ICC profile of
    // small images. Metadata is read first, limits are set before pixels.
    let mut dec = image_decoder(source, format, image_limits.clone()).map_err(err)?;
    let (w, h) = dec.dimensions();
    if w == 0 || h == 0 {
        return Err(RenderError::Decode {
            format: name,
            reason: "image has no pixels".into(),
        });
    }
    check_pixels(w, h, limits)?;
    // Broken metadata is not worth refusing an otherwise good picture.
    let orientation = dec.orientation().unwrap_or(Orientation::NoTransforms);
    let icc = dec.icc_profile().ok().flatten();
    dec.set_limits(image_limits).map_err(err)?;
    let img = DynamicImage::from_decoder(dec).map_err(err)?;
    let (px, pixels) = match img {
        DynamicImage::ImageLuma8(b) => (Px::Gray, b.into_raw()),
        DynamicImage::ImageRgb8(b) => (Px::Rgb, b.into_raw()),
        DynamicImage::ImageRgba8(b) => (Px::Rgba, b.into_raw()),
        DynamicImage::ImageLuma16(_) => (Px::Gray, img.to_luma8().into_raw()),
        DynamicImage::ImageRgb16(_) | DynamicImage::ImageRgb32F(_) => {
            (Px::Rgb, img.to_rgb8().into_raw())
        }
        // Grey + alpha joins RGBA: fast_image_resize would handle U8x2, but
        // the encoders below would then need a fourth layout for little gain.
        _ => (Px::Rgba, img.to_rgba8().into_raw()),
    };
    Ok(Source::whole((w, h), px, pixels, orientation, icc))
}

/// Drops the alpha bytes in place: a second buffer would double the peak
/// memory of a large source (a 100 Mpx canvas is 400 MB as RGBA).
/// The PNG bytes of an icon's best entry — the largest, then the deepest,
/// as image's ICO decoder chooses — if that entry is a PNG. The directory
/// is 6 bytes, then 16 per entry: width and height (0 means 256; a PNG's
/// own header says its real size), colours, reserved, planes, bits per
/// pixel, then the payload's length and offset.
fn best_png_icon(source: &[u8]) -> Option<&[u8]> {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    let u16_at = |at: usize| Some(u16::from_le_bytes(source.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(source.get(at..at + 4)?.try_into().ok()?));
    let count = usize::from(u16_at(4)?);
    let mut best: Option<((u64, u16), &[u8])> = None;
    for i in 0..count {
        let entry = 6 + 16 * i;
        let side = |at: usize| {
            source
                .get(at)
                .map(|&b| if b == 0 { 256 } else { u32::from(b) })
        };
        let (mut width, mut height) = (side(entry)?, side(entry + 1)?);
        let bits = u16_at(entry + 6)?;
        let length = usize::try_from(u32_at(entry + 8)?).ok()?;
        let offset = usize::try_from(u32_at(entry + 12)?).ok()?;
        let payload = source.get(offset..offset.checked_add(length)?)?;
        if payload.starts_with(PNG) {
            let ihdr = |at: usize| {
                Some(u32::from_be_bytes(
                    payload.get(at..at + 4)?.try_into().ok()?,
                ))
            };
            width = ihdr(16)?;
            height = ihdr(20)?;
        }
        let rank = (u64::from(width) * u64::from(height), bits);
        if best.is_none_or(|(r, _)| rank > r) {
            best = Some((rank, payload));
        }
    }
    best.map(|(_, payload)| payload)
        .filter(|p| p.starts_with(PNG))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::model::Format;
    use crate::render::test_support::{
        decode, fixture, near, render_err, render_one, rgba_at, variant, ALL_FORMATS,
    };
    use crate::variant::Fit;

    /// An icon holding `entries` (PNG or other bytes, with the size and
    /// depth its directory declares).
    fn icon(entries: &[(u8, u8, u16, Vec<u8>)]) -> Vec<u8> {
        let mut out = vec![0, 0, 1, 0];
        out.extend((entries.len() as u16).to_le_bytes());
        let mut offset = 6 + 16 * entries.len() as u32;
        for (w, h, bits, data) in entries {
            out.extend([*w, *h, 0, 0, 1, 0]);
            out.extend(bits.to_le_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend(offset.to_le_bytes());
            offset += data.len() as u32;
        }
        for (_, _, _, data) in entries {
            out.extend(data);
        }
        out
    }

    fn png_of(img: image::DynamicImage) -> Vec<u8> {
        let mut bytes = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        bytes
    }

    #[test]
    fn icons_with_grey_or_rgb_png_entries_use_the_largest() {
        let grey = png_of(image::DynamicImage::ImageLuma8(
            image::GrayImage::from_pixel(48, 40, image::Luma([200])),
        ));
        let small = png_of(image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            16,
            16,
            image::Rgb([255, 0, 0]),
        )));
        // image's own ICO decoder refuses this one.
        let only_grey = icon(&[(48, 40, 8, grey.clone())]);
        assert!(IcoDecoder::new(Cursor::new(&only_grey[..]))
            .and_then(image::DynamicImage::from_decoder)
            .is_err());
        let v = variant(64, 64, Fit::Contain, Format::Png);
        for bytes in [only_grey, icon(&[(16, 16, 24, small), (48, 40, 8, grey)])] {
            let (out, _) = crate::render::test_support::render_all(
                &bytes,
                &[0],
                std::slice::from_ref(&v),
                &crate::render::test_support::LIMITS,
            )
            .unwrap();
            let img = decode(&out[0]);
            assert_eq!((img.width(), img.height()), (48, 40), "the largest entry");
            assert!(near(&rgba_at(&img, 10, 10), &[200, 200, 200, 255], 2));
        }
        // A directory that lies about its entries is an error, not a panic.
        let mut broken = icon(&[(48, 40, 8, vec![1, 2, 3])]);
        broken[18] = 0xff;
        assert!(!render_err(&broken).is_empty());
    }

    #[test]
    fn reads_every_supported_container() {
        for src in [
            "baseline.jpg",
            "progressive.jpg",
            "arithmetic.jpg",
            "grayscale.jpg",
            "cmyk.jpg",
            "icc.webp",
            "lossy.webp",
            "lossless-alpha.webp",
            "image.tiff",
            "image.bmp",
            "gray16.png",
            "rgb16.png",
            "palette-trns.png",
            "gray-alpha.png",
            "animated.gif",
        ] {
            for f in ALL_FORMATS {
                let r = render_one(src, &variant(30, 30, Fit::Cover, f));
                assert_eq!((r.width, r.height), (30, 30), "{src} -> {f:?}");
                decode(&r);
            }
        }
        // 16-bit sources come out as 8-bit with the right values.
        let img = decode(&render_one(
            "rgb16.png",
            &variant(64, 48, Fit::Contain, Format::Png),
        ));
        assert_eq!(img.color(), image::ColorType::Rgb8);
        assert!(near(&rgba_at(&img, 0, 0)[..3], &[255, 0, 0], 1));
        assert!(near(&rgba_at(&img, 40, 0)[..3], &[255, 160, 0], 1));
        let img = decode(&render_one(
            "gray16.png",
            &variant(64, 48, Fit::Contain, Format::Png),
        ));
        assert_eq!(img.color(), image::ColorType::L8);
        // Progressive and baseline versions of the same picture agree.
        let a = decode(&render_one(
            "baseline.jpg",
            &variant(40, 40, Fit::Contain, Format::Png),
        ));
        let b = decode(&render_one(
            "progressive.jpg",
            &variant(40, 40, Fit::Contain, Format::Png),
        ));
        assert!(near(a.as_bytes(), b.as_bytes(), 8));
        // Arithmetic coding is lossless re-coding: the very same pixels.
        let c = decode(&render_one(
            "arithmetic.jpg",
            &variant(40, 40, Fit::Contain, Format::Png),
        ));
        assert_eq!(a.as_bytes(), c.as_bytes());
    }

    #[test]
    fn animations_give_their_first_frame() {
        for src in ["animated.gif", "animated.webp"] {
            for f in ALL_FORMATS {
                let img = decode(&render_one(src, &variant(24, 24, Fit::Contain, f)));
                let p = rgba_at(&img, 12, 8);
                assert!(near(&p[..3], &[255, 0, 0], 12), "{src} -> {f:?}: {p:?}");
            }
        }
    }

    #[test]
    fn decompression_bomb_is_refused_from_the_header() {
        let start = Instant::now();
        let msg = render_err(&fixture("bomb.png"));
        assert!(
            start.elapsed() < Duration::from_millis(200),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(
            msg,
            "image is 60000×60000 (3600 Mpx), more than max_pixels (100 Mpx)"
        );
    }

    #[test]
    fn damaged_input_gives_a_readable_error() {
        let msg = render_err(&fixture("truncated.png"));
        assert!(msg.starts_with("corrupt or truncated PNG data"), "{msg}");
        // One flipped bit in the checksum of a PNG's pixel data chunk.
        let mut png = fixture("icc.png");
        let idat = png.windows(4).position(|w| w == b"IDAT").unwrap();
        let len = u32::from_be_bytes(png[idat - 4..idat].try_into().unwrap()) as usize;
        png[idat + 4 + len] ^= 1;
        assert_eq!(
            render_err(&png),
            "corrupt or truncated PNG data: checksum mismatch in the IDAT chunk"
        );
        for src in [
            "animated.gif",
            "lossy.webp",
            "image.tiff",
            "image.bmp",
            "progressive.jpg",
        ] {
            let b = fixture(src);
            let msg = render_err(&b[..b.len() / 2]);
            assert!(msg.starts_with("corrupt or truncated"), "{src}: {msg}");
        }
        let msg = render_err(&fixture("float.tif"));
        assert!(
            msg.starts_with("TIFF variant not supported: 32-bit"),
            "{msg}"
        );
    }
}
