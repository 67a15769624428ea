//! Pure bytes -> bytes thumbnail rendering: sniff the content, decode, then
//! crop, resize, orient and encode once per variant. Nothing here touches the
//! disk, so the caller decides about paths, hashing and atomic writes.
//!
//! A source is decoded once for all its variants, the way
//! [`geometry::derivation`] says for the whole configured set: JPEGs at one
//! DCT scale, and smaller variants resized from larger ones. An output
//! depends only on the source bytes, its own variant's settings and that
//! derivation (which the caller records), never on which other variants
//! happen to be rendered in the same call.

use std::io::Cursor;

use fast_image_resize as fr;
use image::codecs::{
    bmp::BmpDecoder, gif::GifDecoder, ico::IcoDecoder, png::PngDecoder, tiff::TiffDecoder,
    webp::WebPDecoder,
};
use image::error::UnsupportedErrorKind;
use image::metadata::Orientation;
use image::{DynamicImage, ExtendedColorType, ImageDecoder, ImageFormat};

use crate::model::{Format, Shape};
use crate::variant::Variant;
use geometry::{derivation, geometry};

pub mod geometry;

/// Resource limits for one render.
pub struct Limits {
    /// Largest accepted source, in pixels (width × height), checked from the
    /// header before anything of that size is allocated.
    pub max_pixels: u64,
}

/// One encoded output.
#[derive(Debug)]
pub struct Rendered {
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
    /// The chain of resizes it was made through (`Derivation::via`).
    pub via: u64,
}

/// Why a source could not be rendered. The message names no path: the
/// caller knows which file it was.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("empty file")]
    Empty,
    #[error("not an image (unrecognised content)")]
    NotAnImage,
    #[error("unsupported image format ({0})")]
    Unsupported(&'static str),
    #[error("{format} variant not supported: {reason}")]
    UnsupportedVariant {
        format: &'static str,
        reason: String,
    },
    #[error(
        "image is {width}×{height} ({} Mpx), more than max_pixels ({} Mpx)",
        mpx(u64::from(*.width) * u64::from(*.height)),
        mpx(*.max_pixels)
    )]
    TooLarge {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
    #[error("corrupt or truncated {format} data: {reason}")]
    Decode {
        format: &'static str,
        reason: String,
    },
    #[error("variant `{name}`: {reason}")]
    Variant { name: String, reason: String },
    #[error("could not resize: {0}")]
    Resize(String),
    #[error("could not encode {format}: {reason}")]
    Encode {
        format: &'static str,
        reason: String,
    },
}

/// Megapixels for messages, with as many decimals as small numbers need.
fn mpx(pixels: u64) -> String {
    let m = pixels as f64 / 1e6;
    if m >= 10.0 {
        format!("{m:.0}")
    } else if m >= 0.1 {
        format!("{m:.1}")
    } else {
        format!("{m:.3}")
    }
}

/// What the source was, for the record: its shape (upright size, and
/// whether it is a JPEG) and the JPEG DCT scale it was decoded at (8 = full
/// size, always for other formats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceInfo {
    pub shape: Shape,
    pub eighths: u8,
}

/// Decode `source` once and produce one output per variant, in the same
/// order, as if `variants` were the whole configured set.
pub fn render(
    source: &[u8],
    variants: &[&Variant],
    limits: &Limits,
) -> Result<Vec<Rendered>, RenderError> {
    let all: Vec<Variant> = variants.iter().map(|&v| v.clone()).collect();
    let wanted: Vec<usize> = (0..all.len()).collect();
    render_shared(source, &wanted, &all, limits).map(|(out, _)| out)
}

/// Decode `source` once and produce the outputs of the variants `wanted`
/// (indices into `all`, the configured set), in that order, made the way
/// [`geometry::derivation`] says for the whole set: the decode scale, and the
/// larger variant each is resized from. An output thus depends on the
/// source, its own settings and that derivation (which the caller records),
/// never on which other variants happen to be rendered in this call.
pub fn render_shared(
    source: &[u8],
    wanted: &[usize],
    all: &[Variant],
    limits: &Limits,
) -> Result<(Vec<Rendered>, SourceInfo), RenderError> {
    for v in all {
        // `geometry` cannot size an empty box; config validation should have
        // caught this, but a bad variant must not take the process down.
        if v.width == 0 || v.height == 0 {
            return Err(RenderError::Variant {
                name: v.name.clone(),
                reason: "width and height must be at least 1".into(),
            });
        }
    }
    let (src, derivation) = match sniff(source)? {
        Kind::Jpeg => {
            let header = jpeg_header(source, limits)?;
            let (width, height) = if swaps_axes(header.orientation) {
                (header.info.height, header.info.width)
            } else {
                (header.info.width, header.info.height)
            };
            let shape = Shape {
                width,
                height,
                jpeg: true,
            };
            let derivation = derivation(shape, all);
            let src = decode_jpeg(source, &header, u32::from(derivation.eighths), limits)?;
            (src, derivation)
        }
        Kind::Other(format) => {
            let src = decode_other(source, format, limits)?;
            let derivation = derivation(src.shape(), all);
            (src, derivation)
        }
    };

    // Resize every wanted variant, and the larger ones they derive from,
    // parents first; then orient and encode the wanted ones.
    let mut resizer = fr::Resizer::new();
    let mut resized: Vec<Option<Resized>> = (0..all.len()).map(|_| None).collect();
    for &i in wanted {
        let mut chain = vec![i];
        while let Some(p) = derivation.parent[*chain.last().expect("not empty")] {
            chain.push(p);
        }
        for &j in chain.iter().rev() {
            if resized[j].is_none() {
                let from = derivation.parent[j].and_then(|p| resized[p].as_ref());
                resized[j] = Some(resize_variant(&src, from, &all[j], &mut resizer)?);
            }
        }
    }
    let rendered = wanted
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            // Every resize is done: the buffers can go to the encoders.
            let pixels = if wanted[k + 1..].contains(&i) {
                resized[i].clone()
            } else {
                resized[i].take()
            };
            let pixels = pixels.expect("resized above");
            encode_variant(&src, pixels, &all[i], derivation.via[i])
        })
        .collect::<Result<Vec<_>, _>>()?;
    let info = SourceInfo {
        shape: src.shape(),
        eighths: src.eighths,
    };
    Ok((rendered, info))
}

// ---------------------------------------------------------------------------
// Sniffing

enum Kind {
    Jpeg,
    Other(ImageFormat),
}

/// Decides the decoder from the content alone: file names lie.
fn sniff(b: &[u8]) -> Result<Kind, RenderError> {
    if b.is_empty() {
        return Err(RenderError::Empty);
    }
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Kind::Jpeg);
    }
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Kind::Other(ImageFormat::Png));
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return Ok(Kind::Other(ImageFormat::Gif));
    }
    if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        return Ok(Kind::Other(ImageFormat::WebP));
    }
    if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        return Ok(Kind::Other(ImageFormat::Tiff));
    }
    // "BM" alone starts plenty of text files; also require a known DIB
    // header size so that those get the "not an image" message.
    if b.len() >= 18 && b.starts_with(b"BM") {
        let dib = u32::from_le_bytes([b[14], b[15], b[16], b[17]]);
        if matches!(dib, 12 | 16 | 40 | 52 | 56 | 64 | 108 | 124) {
            return Ok(Kind::Other(ImageFormat::Bmp));
        }
    }
    // Icons: reserved 0, type 1, then a non-zero image count.
    if b.len() >= 22 && b.starts_with(&[0, 0, 1, 0]) && (b[4] != 0 || b[5] != 0) {
        return Ok(Kind::Other(ImageFormat::Ico));
    }
    // Formats people do drop into photo folders but that are not read here:
    // say so instead of claiming the file is no image at all.
    if b.len() >= 12 && &b[4..8] == b"ftyp" {
        let brand = &b[8..12];
        if matches!(brand, b"avif" | b"avis") {
            return Err(RenderError::Unsupported("AVIF"));
        }
        if matches!(brand, b"heic" | b"heix" | b"hevc" | b"mif1" | b"msf1") {
            return Err(RenderError::Unsupported("HEIF/HEIC"));
        }
    }
    if b.starts_with(&[0xFF, 0x0A]) || b.starts_with(b"\0\0\0\x0cJXL \r\n\x87\n") {
        return Err(RenderError::Unsupported("JPEG XL"));
    }
    if b.starts_with(b"8BPS") {
        return Err(RenderError::Unsupported("Photoshop PSD"));
    }
    if b.starts_with(b"qoif") {
        return Err(RenderError::Unsupported("QOI"));
    }
    Err(RenderError::NotAnImage)
}

// ---------------------------------------------------------------------------
// Decoding

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Px {
    Gray,
    Rgb,
    Rgba,
}

impl Px {
    fn channels(self) -> usize {
        match self {
            Px::Gray => 1,
            Px::Rgb => 3,
            Px::Rgba => 4,
        }
    }

    fn resize_type(self) -> fr::PixelType {
        match self {
            Px::Gray => fr::PixelType::U8,
            Px::Rgb => fr::PixelType::U8x3,
            Px::Rgba => fr::PixelType::U8x4,
        }
    }
}

/// Decoded pixels in the stored (not yet EXIF-rotated) orientation, 8 bits a
/// channel, possibly at a DCT-reduced scale.
struct Source {
    /// Size of the full-resolution stored image.
    full: (u32, u32),
    /// Decoded pixels per full-resolution pixel (1, 1/2, 1/4 or 1/8).
    scale: f64,
    width: u32,
    height: u32,
    px: Px,
    pixels: Vec<u8>,
    orientation: Orientation,
    icc: Option<Vec<u8>>,
    /// The DCT scale of a JPEG decode, in eighths; 8 for other formats.
    eighths: u8,
    jpeg: bool,
}

impl Source {
    fn shape(&self) -> Shape {
        let (width, height) = if swaps_axes(self.orientation) {
            (self.full.1, self.full.0)
        } else {
            self.full
        };
        Shape {
            width,
            height,
            jpeg: self.jpeg,
        }
    }
}

fn check_pixels(width: u32, height: u32, limits: &Limits) -> Result<(), RenderError> {
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(RenderError::TooLarge {
            width,
            height,
            max_pixels: limits.max_pixels,
        });
    }
    Ok(())
}

/// Where a variant sits in the stored (not yet upright) source: the region
/// it needs, in stored full-resolution pixels, and the size it is resized
/// to, stored and upright.
struct Placement {
    crop: (f64, f64, f64, f64),
    out_stored: (u32, u32),
    out_upright: (u32, u32),
}

fn placement(full: (u32, u32), orientation: Orientation, v: &Variant) -> Placement {
    let (sw, sh) = full;
    let swaps = swaps_axes(orientation);
    let (uw, uh) = if swaps { (sh, sw) } else { (sw, sh) };
    let g = geometry(uw, uh, v.width, v.height, v.fit);
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

/// What the JPEG header says, read before any pixel is decoded.
struct JpegHeader {
    info: crate::libjpeg::Info,
    orientation: Orientation,
}

fn jpeg_decode_error(reason: String) -> RenderError {
    RenderError::Decode {
        format: "JPEG",
        reason,
    }
}

fn jpeg_refused(refusal: crate::libjpeg::Refusal) -> RenderError {
    if !refusal.unsupported {
        return jpeg_decode_error(refusal.message);
    }
    // "Unsupported JPEG data precision 12" would say "unsupported" twice.
    let reason = match refusal.message.strip_prefix("Unsupported JPEG ") {
        Some(rest) => rest.to_string(),
        None => refusal.message,
    };
    RenderError::UnsupportedVariant {
        format: "JPEG",
        reason,
    }
}

fn jpeg_header(source: &[u8], limits: &Limits) -> Result<JpegHeader, RenderError> {
    let info = crate::libjpeg::read_info(source).map_err(jpeg_refused)?;
    if info.width == 0 || info.height == 0 {
        return Err(jpeg_decode_error("image has no pixels".into()));
    }
    check_pixels(info.width, info.height, limits)?;
    // Broken Exif is not worth refusing an otherwise good picture.
    let orientation = info
        .exif
        .as_deref()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    Ok(JpegHeader { info, orientation })
}

/// Pixels come from libjpeg-turbo's DCT-scaled decode: at 1/8 it skips most
/// of the IDCT, upsampling and colour work, which dominate for big photos.
fn decode_jpeg(
    source: &[u8],
    header: &JpegHeader,
    eighths: u32,
    limits: &Limits,
) -> Result<Source, RenderError> {
    let info = &header.info;
    let (w, h) = (info.width, info.height);
    let max_bytes = limits.max_pixels.saturating_mul(4);
    let decoded = crate::libjpeg::decode(source, info, eighths, max_bytes).map_err(jpeg_refused)?;
    let (dw, dh) = (decoded.width, decoded.height);
    let (px, pixels) = match info.components {
        1 => (Px::Gray, decoded.pixels),
        3 => (Px::Rgb, decoded.pixels),
        4 => (Px::Rgb, cmyk_to_rgb(&decoded.pixels)),
        n => return Err(jpeg_decode_error(format!("{n} colour components"))),
    };
    // A DCT-scaled decode maps each 8-pixel block onto `eighths` pixels, so
    // that is the exact ratio; the size is only rounded up at the edge.
    let scale = f64::from(eighths) / 8.0;
    Ok(Source {
        full: (w, h),
        scale,
        width: dw,
        height: dh,
        px,
        pixels,
        orientation: header.orientation,
        icc: info.icc.clone(),
        eighths: eighths as u8,
        jpeg: true,
    })
}

/// libjpeg hands out ink values here (the shim undoes Adobe's inverted
/// storage, and libjpeg converts YCCK), so this is the naive ink -> light formula,
/// rounded the way Pillow does, as there is no colour management here.
fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    fn mul255(a: u32, b: u32) -> u32 {
        let t = a * b + 128;
        ((t >> 8) + t) >> 8
    }
    let mut out = Vec::with_capacity(cmyk.len() / 4 * 3);
    for p in cmyk.chunks_exact(4) {
        let nk = 255 - u32::from(p[3]);
        for &c in &p[..3] {
            out.push((nk - mul255(u32::from(c), nk)) as u8);
        }
    }
    out
}

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

fn decode_other(
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
    let cursor = Cursor::new(source);
    let built: image::ImageResult<Box<dyn ImageDecoder + '_>> = match format {
        ImageFormat::Png => PngDecoder::with_limits(cursor, image_limits.clone())
            .map(|d| Box::new(d) as Box<dyn ImageDecoder>),
        ImageFormat::Gif => GifDecoder::new(cursor).map(|d| Box::new(d) as Box<dyn ImageDecoder>),
        ImageFormat::WebP => WebPDecoder::new(cursor).map(|d| Box::new(d) as Box<dyn ImageDecoder>),
        ImageFormat::Tiff => TiffDecoder::new(cursor).map(|d| Box::new(d) as Box<dyn ImageDecoder>),
        ImageFormat::Ico => IcoDecoder::new(cursor).map(|d| Box::new(d) as Box<dyn ImageDecoder>),
        _ => BmpDecoder::new(cursor).map(|d| Box::new(d) as Box<dyn ImageDecoder>),
    };
    let mut dec = built.map_err(err)?;
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
    let (px, pixels) = if px == Px::Rgba && pixels.chunks_exact(4).all(|p| p[3] == 255) {
        // An alpha channel that is opaque everywhere is dropped so that
        // outputs are plain RGB and the resize skips alpha premultiplication.
        (Px::Rgb, rgba_to_rgb(pixels))
    } else {
        (px, pixels)
    };
    Ok(Source {
        full: (w, h),
        scale: 1.0,
        width: w,
        height: h,
        px,
        pixels,
        orientation,
        icc,
        eighths: 8,
        jpeg: false,
    })
}

/// Drops the alpha bytes in place: a second buffer would double the peak
/// memory of a large source (a 100 Mpx canvas is 400 MB as RGBA).
fn rgba_to_rgb(mut pixels: Vec<u8>) -> Vec<u8> {
    let n = pixels.len() / 4;
    // Pixel i moves from 4i to 3i: never onto bytes not yet read.
    for i in 0..n {
        let (from, to) = (4 * i, 3 * i);
        pixels[to] = pixels[from];
        pixels[to + 1] = pixels[from + 1];
        pixels[to + 2] = pixels[from + 2];
    }
    pixels.truncate(3 * n);
    pixels
}

// ---------------------------------------------------------------------------
// Geometry of orientation

fn swaps_axes(o: Orientation) -> bool {
    matches!(
        o,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
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

fn upright_rect_to_stored(
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
fn orient(o: Orientation, pixels: Vec<u8>, w: u32, h: u32, ch: usize) -> (Vec<u8>, u32, u32) {
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

// ---------------------------------------------------------------------------
// Per variant

/// A variant's pixels after the resize, still in the stored orientation
/// (as the decode is), so that smaller variants can be resized from them.
#[derive(Clone)]
struct Resized {
    pixels: Vec<u8>,
    width: u32,
    height: u32,
}

/// Resize for `v` from the decode, or `from` a larger `contain` variant of
/// the same source (which holds the whole image).
fn resize_variant(
    src: &Source,
    from: Option<&Resized>,
    v: &Variant,
    resizer: &mut fr::Resizer,
) -> Result<Resized, RenderError> {
    let p = placement(src.full, src.orientation, v);
    let (sw, sh) = p.out_stored;
    // The image resized from, and its pixels per full-resolution pixel.
    let (pixels, iw, ih, scale_x, scale_y) = match from {
        None => (&src.pixels, src.width, src.height, src.scale, src.scale),
        Some(r) => (
            &r.pixels,
            r.width,
            r.height,
            f64::from(r.width) / f64::from(src.full.0),
            f64::from(r.height) / f64::from(src.full.1),
        ),
    };
    // Crop in those pixels, clamped: scaled decodes round their size up,
    // and float noise must not push the box past the buffer.
    let (dw, dh) = (f64::from(iw), f64::from(ih));
    let cx = (p.crop.0 * scale_x).clamp(0.0, dw - 1.0);
    let cy = (p.crop.1 * scale_y).clamp(0.0, dh - 1.0);
    let cw = (p.crop.2 * scale_x).clamp(1.0, dw - cx);
    let ch = (p.crop.3 * scale_y).clamp(1.0, dh - cy);

    let src_view = fr::images::ImageRef::new(iw, ih, pixels, src.px.resize_type())
        .map_err(|e| RenderError::Resize(e.to_string()))?;
    let mut dst = fr::images::Image::new(sw, sh, src.px.resize_type());
    let options = fr::ResizeOptions::new()
        .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3))
        .crop(cx, cy, cw, ch);
    resizer
        .resize(&src_view, &mut dst, &options)
        .map_err(|e| RenderError::Resize(e.to_string()))?;
    Ok(Resized {
        pixels: dst.into_vec(),
        width: sw,
        height: sh,
    })
}

/// Turn resized pixels upright and encode them as `v` says.
fn encode_variant(
    src: &Source,
    resized: Resized,
    v: &Variant,
    via: u64,
) -> Result<Rendered, RenderError> {
    let (pixels, w, h) = orient(
        src.orientation,
        resized.pixels,
        resized.width,
        resized.height,
        src.px.channels(),
    );
    debug_assert_eq!((w, h), placement(src.full, src.orientation, v).out_upright);

    let bytes = match v.format {
        Format::Jpeg => encode_jpeg(src, pixels, w, h, v)?,
        Format::Png => encode_png(src, &pixels, w, h)?,
        Format::Webp => encode_webp(src, pixels, w, h, v)?,
    };
    Ok(Rendered {
        width: w,
        height: h,
        bytes,
        via,
    })
}

/// The source's ICC profile, if it describes pixels like the ones written:
/// a CMYK profile on converted RGB, or a grey one on expanded RGB, would be
/// wrong, so those are dropped.
fn icc_for(src: &Source, px: Px) -> Option<&[u8]> {
    let icc = src.icc.as_deref()?;
    let space = icc.get(16..20)?;
    let fits = match px {
        Px::Gray => space == b"GRAY",
        Px::Rgb | Px::Rgba => space == b"RGB ",
    };
    fits.then_some(icc)
}

fn flatten(rgba: &[u8], bg: [u8; 3]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rgba.len() / 4 * 3);
    for p in rgba.chunks_exact(4) {
        let a = u32::from(p[3]);
        for c in 0..3 {
            let v = u32::from(p[c]) * a + u32::from(bg[c]) * (255 - a);
            out.push(((v + 127) / 255) as u8);
        }
    }
    out
}

fn gray_to_rgb(gray: &[u8]) -> Vec<u8> {
    gray.iter().flat_map(|&g| [g, g, g]).collect()
}

fn encode_error(format: &'static str) -> impl Fn(String) -> RenderError {
    move |reason| RenderError::Encode { format, reason }
}

fn encode_jpeg(
    src: &Source,
    pixels: Vec<u8>,
    w: u32,
    h: u32,
    v: &Variant,
) -> Result<Vec<u8>, RenderError> {
    let err = encode_error("JPEG");
    let (px, pixels) = match src.px {
        Px::Rgba => (Px::Rgb, flatten(&pixels, v.background)),
        px => (px, pixels),
    };
    // libjpeg-turbo's SIMD encoder; 4:2:0, baseline, no EXIF (pixels are
    // already upright).
    let components = if px == Px::Gray { 1 } else { 3 };
    crate::libjpeg::encode(&pixels, w, h, components, v.quality, icc_for(src, px)).map_err(err)
}

fn encode_png(src: &Source, pixels: &[u8], w: u32, h: u32) -> Result<Vec<u8>, RenderError> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::ImageEncoder;
    let err = encode_error("PNG");
    let mut out = Vec::new();
    // Measured on product photos with alpha: `Fast` (fdeflate) is about 6x
    // quicker than `Default` for outputs only ~8% larger.
    let mut enc =
        PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive);
    if let Some(icc) = icc_for(src, src.px) {
        enc.set_icc_profile(icc.to_vec())
            .map_err(|e| err(e.to_string()))?;
    }
    let color = match src.px {
        Px::Gray => image::ExtendedColorType::L8,
        Px::Rgb => image::ExtendedColorType::Rgb8,
        Px::Rgba => image::ExtendedColorType::Rgba8,
    };
    enc.write_image(pixels, w, h, color)
        .map_err(|e| err(e.to_string()))?;
    Ok(out)
}

fn encode_webp(
    src: &Source,
    pixels: Vec<u8>,
    w: u32,
    h: u32,
    v: &Variant,
) -> Result<Vec<u8>, RenderError> {
    let err = encode_error("WebP");
    let (px, pixels) = match src.px {
        Px::Gray => (Px::Rgb, gray_to_rgb(&pixels)),
        px => (px, pixels),
    };
    let enc = if px == Px::Rgba {
        webp::Encoder::from_rgba(&pixels, w, h)
    } else {
        webp::Encoder::from_rgb(&pixels, w, h)
    };
    let mut config = webp::WebPConfig::new().map_err(|()| err("libwebp config".into()))?;
    config.quality = f32::from(v.quality.clamp(1, 100));
    // Method 2 instead of libwebp's default 4: measured 2.5x faster on
    // product photos for files ~2.5% larger at the same quality.
    config.method = 2;
    config.alpha_compression = 1;
    let mem = enc
        .encode_advanced(&config)
        .map_err(|e| err(format!("{e:?}")))?;
    match icc_for(src, px) {
        Some(icc) => {
            webp_with_icc(&mem, icc, w, h).ok_or_else(|| err("unexpected libwebp output".into()))
        }
        None => Ok(mem.to_vec()),
    }
}

/// libwebp's simple API writes no ICC profile, so rebuild the RIFF container
/// in its extended form: VP8X (with the ICC flag, and the alpha flag when an
/// ALPH chunk is there), then ICCP, then libwebp's image chunks unchanged.
fn webp_with_icc(simple: &[u8], icc: &[u8], w: u32, h: u32) -> Option<Vec<u8>> {
    if simple.len() < 12 || &simple[..4] != b"RIFF" || &simple[8..12] != b"WEBP" {
        return None;
    }
    let mut chunks: Vec<(&[u8], &[u8])> = Vec::new();
    let mut at = 12;
    while at + 8 <= simple.len() {
        let tag = &simple[at..at + 4];
        let len = u32::from_le_bytes(simple[at + 4..at + 8].try_into().ok()?) as usize;
        let body = simple.get(at + 8..at + 8 + len)?;
        chunks.push((tag, body));
        at += 8 + len + (len & 1);
    }
    // 0x20: ICC profile present; 0x10: alpha. An existing VP8X (libwebp
    // writes one for lossy + alpha) contributes its own flags.
    let mut flags = 0x20u8;
    for (tag, body) in &chunks {
        match *tag {
            b"ALPH" => flags |= 0x10,
            b"VP8X" => flags |= body.first().copied().unwrap_or(0),
            _ => {}
        }
    }
    let mut vp8x = Vec::with_capacity(10);
    vp8x.extend_from_slice(&[flags, 0, 0, 0]);
    vp8x.extend_from_slice(&(w - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(h - 1).to_le_bytes()[..3]);

    let mut body = Vec::with_capacity(simple.len() + icc.len() + 64);
    body.extend_from_slice(b"WEBP");
    let mut push = |tag: &[u8], data: &[u8]| {
        body.extend_from_slice(tag);
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        if data.len() & 1 == 1 {
            body.push(0);
        }
    };
    push(b"VP8X", &vp8x);
    push(b"ICCP", icc);
    for (tag, data) in chunks.iter().filter(|(t, _)| *t != b"VP8X") {
        push(tag, data);
    }
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&u32::try_from(body.len()).ok()?.to_le_bytes());
    out.extend_from_slice(&body);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variant::Fit;
    use std::time::{Duration, Instant};

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
    const LIMITS: Limits = Limits {
        max_pixels: 100_000_000,
    };

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn variant(width: u32, height: u32, fit: Fit, format: Format) -> Variant {
        Variant {
            name: "t".into(),
            width,
            height,
            fit,
            format,
            quality: 90,
            background: [255, 255, 255],
        }
    }

    fn render_one(name: &str, v: &Variant) -> Rendered {
        let mut out =
            render(&fixture(name), &[v], &LIMITS).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out.len(), 1);
        out.remove(0)
    }

    fn render_err(bytes: &[u8]) -> String {
        let v = variant(64, 64, Fit::Contain, Format::Jpeg);
        match render(bytes, &[&v], &LIMITS) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    fn decode(r: &Rendered) -> DynamicImage {
        let img = image::load_from_memory(&r.bytes).expect("output decodes");
        assert_eq!((img.width(), img.height()), (r.width, r.height));
        img
    }

    fn rgba_at(img: &DynamicImage, x: u32, y: u32) -> [u8; 4] {
        img.to_rgba8().get_pixel(x, y).0
    }

    fn near(a: &[u8], b: &[u8], tol: u8) -> bool {
        a.iter().zip(b).all(|(x, y)| x.abs_diff(*y) <= tol)
    }

    /// The embedded ICC profile, read without `ImageReader` (see
    /// `decode_other` on why it would lose small TIFFs' profiles).
    fn output_icc(bytes: &[u8]) -> Option<Vec<u8>> {
        let c = Cursor::new(bytes);
        match image::guess_format(bytes).unwrap() {
            ImageFormat::Jpeg => image::codecs::jpeg::JpegDecoder::new(c)
                .unwrap()
                .icc_profile()
                .unwrap(),
            ImageFormat::Png => PngDecoder::new(c).unwrap().icc_profile().unwrap(),
            ImageFormat::WebP => WebPDecoder::new(c).unwrap().icc_profile().unwrap(),
            ImageFormat::Tiff => TiffDecoder::new(c).unwrap().icc_profile().unwrap(),
            f => panic!("{f:?}"),
        }
    }

    const ALL_FORMATS: [Format; 3] = [Format::Jpeg, Format::Png, Format::Webp];

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
        // Each also made next to a 96x96 one, which the smaller ones are
        // then resized from (in stored orientation, crop mapped onto it).
        let whole = variant(96, 96, Fit::Contain, Format::Png);
        for n in 1..=8 {
            let name = format!("exif-orientation-{n}.jpg");
            let cascaded = cases.iter().map(|(v, _)| {
                let (mut out, _) =
                    render_shared(&fixture(&name), &[1], &[whole.clone(), v.clone()], &LIMITS)
                        .unwrap();
                out.remove(0)
            });
            let direct = cases.iter().map(|(v, _)| render_one(&name, v));
            let expected = cases.iter().chain(&cases).map(|(_, size)| size);
            for ((r, (w, h)), i) in direct.chain(cascaded).zip(expected).zip(0..) {
                let derived = i == 5 || i == 7;
                assert_eq!(r.via != 0, derived, "case {i}");
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

    #[test]
    fn transparency_is_flattened_for_jpeg_and_kept_otherwise() {
        // rgba-transparent: left half clear, right half red, bottom strip
        // half-transparent blue.
        let mut v = variant(64, 64, Fit::Contain, Format::Jpeg);
        v.background = [0, 255, 0];
        let img = decode(&render_one("rgba-transparent.png", &v));
        assert!(near(&rgba_at(&img, 8, 8)[..3], &[0, 255, 0], 8));
        assert!(near(&rgba_at(&img, 50, 8)[..3], &[255, 0, 0], 8));
        assert!(near(&rgba_at(&img, 8, 44)[..3], &[0, 127, 128], 12));

        let png = decode(&render_one(
            "rgba-transparent.png",
            &variant(64, 64, Fit::Contain, Format::Png),
        ));
        assert_eq!(png.color(), image::ColorType::Rgba8);
        assert_eq!(rgba_at(&png, 8, 8)[3], 0);
        assert_eq!(rgba_at(&png, 50, 8), [255, 0, 0, 255]);
        assert!(near(&rgba_at(&png, 8, 44), &[0, 0, 255, 128], 2));

        for src in [
            "rgba-transparent.png",
            "lossless-alpha.webp",
            "lossy-alpha.webp",
        ] {
            let r = render_one(src, &variant(32, 32, Fit::Contain, Format::Webp));
            let webp = decode(&r);
            assert!(webp.color().has_alpha(), "{src}");
            assert!(rgba_at(&webp, 4, 4)[3] < 8, "{src}");
            assert!(rgba_at(&webp, 28, 4)[3] > 247, "{src}");
        }

        // Palette with a tRNS entry, and grey + alpha.
        for src in ["palette-trns.png", "gray-alpha.png"] {
            let png = decode(&render_one(
                src,
                &variant(64, 64, Fit::Contain, Format::Png),
            ));
            assert!(png.color().has_alpha(), "{src}");
            assert_eq!(rgba_at(&png, 8, 8)[3], 0, "{src}");
            assert_eq!(rgba_at(&png, 50, 8)[3], 255, "{src}");
        }
        let pal = decode(&render_one(
            "palette-trns.png",
            &variant(64, 64, Fit::Contain, Format::Jpeg),
        ));
        assert!(near(&rgba_at(&pal, 8, 8)[..3], &[255, 255, 255], 4));
        assert!(near(&rgba_at(&pal, 50, 8)[..3], &[0, 128, 0], 8));
    }

    #[test]
    fn opaque_sources_give_outputs_without_alpha() {
        for src in [
            "baseline.jpg",
            "icc.png",
            "lossy.webp",
            "image.tiff",
            "image.bmp",
            "animated.gif",
        ] {
            let png = decode(&render_one(
                src,
                &variant(32, 32, Fit::Contain, Format::Png),
            ));
            assert_eq!(png.color(), image::ColorType::Rgb8, "{src}");
            let webp = decode(&render_one(
                src,
                &variant(32, 32, Fit::Contain, Format::Webp),
            ));
            assert!(!webp.color().has_alpha(), "{src}");
        }
        let gray = decode(&render_one(
            "grayscale.jpg",
            &variant(32, 32, Fit::Contain, Format::Png),
        ));
        assert_eq!(gray.color(), image::ColorType::L8);
        let gray = decode(&render_one(
            "grayscale.jpg",
            &variant(32, 32, Fit::Contain, Format::Jpeg),
        ));
        assert_eq!(gray.color(), image::ColorType::L8);
    }

    #[test]
    fn icc_profile_is_carried_into_every_output_format() {
        let want = output_icc(&fixture("icc.png")).expect("fixture has a profile");
        for src in ["icc.jpg", "icc.png", "icc.webp", "icc.tiff"] {
            assert_eq!(
                output_icc(&fixture(src)).as_deref(),
                Some(&want[..]),
                "{src} fixture"
            );
            for f in ALL_FORMATS {
                let r = render_one(src, &variant(40, 40, Fit::Cover, f));
                assert_eq!(
                    output_icc(&r.bytes).as_deref(),
                    Some(&want[..]),
                    "{src} -> {f:?}"
                );
                decode(&r);
            }
        }
        // With alpha the WebP output is VP8X + ALPH + VP8: the profile must
        // join the existing extended header, and alpha must survive.
        let mut with_alpha = fixture("rgba-transparent.png");
        let src_icc = output_icc(&fixture("icc.png")).unwrap();
        with_alpha = reencode_png_with_icc(&with_alpha, &src_icc);
        let v = variant(32, 32, Fit::Contain, Format::Webp);
        let r = render(&with_alpha, &[&v], &LIMITS).unwrap().remove(0);
        assert_eq!(output_icc(&r.bytes).as_deref(), Some(&want[..]));
        let img = decode(&r);
        assert!(img.color().has_alpha());
        assert!(rgba_at(&img, 4, 4)[3] < 8);
        // No profile in, none out.
        let r = render_one("baseline.jpg", &variant(32, 32, Fit::Contain, Format::Webp));
        assert_eq!(output_icc(&r.bytes), None);
    }

    fn reencode_png_with_icc(png: &[u8], icc: &[u8]) -> Vec<u8> {
        use image::ImageEncoder;
        let img = image::load_from_memory(png).unwrap().to_rgba8();
        let mut out = Vec::new();
        let mut enc = image::codecs::png::PngEncoder::new(&mut out);
        enc.set_icc_profile(icc.to_vec()).unwrap();
        enc.write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgba8,
        )
        .unwrap();
        out
    }

    #[test]
    fn cmyk_jpeg_colours_match_pillow() {
        let expected = image::load_from_memory(&fixture("cmyk-expected-rgb.png")).unwrap();
        let r = render_one("cmyk.jpg", &variant(64, 48, Fit::Contain, Format::Png));
        let got = decode(&r);
        // Centres of the four flat patches.
        for (x, y) in [(16, 12), (48, 12), (16, 36), (48, 36)] {
            let (g, e) = (rgba_at(&got, x, y), rgba_at(&expected, x, y));
            assert!(
                near(&g[..3], &e[..3], 4),
                "({x},{y}): got {g:?}, Pillow {e:?}"
            );
        }
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
    fn content_decides_the_format_not_the_name() {
        let r = render_one(
            "png-named.jpg",
            &variant(40, 40, Fit::Contain, Format::Jpeg),
        );
        assert_eq!((r.width, r.height), (40, 30));
        assert!(r.bytes.starts_with(&[0xFF, 0xD8, 0xFF]));
        // an icon saved under a .png name, as favicons often are
        let r = render_one(
            "icon-named.png",
            &variant(64, 64, Fit::Contain, Format::Png),
        );
        assert_eq!((r.width, r.height), (32, 32));
        let img = decode(&r);
        assert_eq!(rgba_at(&img, 2, 2)[3], 0, "transparent quarter kept");
        assert_eq!(rgba_at(&img, 30, 30), [200, 30, 30, 255]);
    }

    #[test]
    fn outputs_follow_variant_order() {
        let vs = [
            variant(20, 20, Fit::Contain, Format::Webp),
            variant(30, 30, Fit::Cover, Format::Jpeg),
            variant(40, 40, Fit::Contain, Format::Png),
        ];
        let refs: Vec<&Variant> = vs.iter().collect();
        let out = render(&fixture("baseline.jpg"), &refs, &LIMITS).unwrap();
        assert_eq!(out.len(), 3);
        assert!(out[0].bytes.starts_with(b"RIFF") && (out[0].width, out[0].height) == (20, 15));
        assert!(
            out[1].bytes.starts_with(&[0xFF, 0xD8]) && (out[1].width, out[1].height) == (30, 30)
        );
        assert!(out[2].bytes.starts_with(b"\x89PNG") && (out[2].width, out[2].height) == (40, 30));
        assert!(render(&fixture("baseline.jpg"), &[], &LIMITS)
            .unwrap()
            .is_empty());
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
        // Same check for JPEG, from its frame header.
        let v = variant(64, 64, Fit::Contain, Format::Jpeg);
        let e = render(
            &fixture("baseline.jpg"),
            &[&v],
            &Limits { max_pixels: 10_000 },
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "image is 160×120 (0.019 Mpx), more than max_pixels (0.010 Mpx)"
        );
    }

    #[test]
    fn bad_input_gives_a_readable_error() {
        assert_eq!(render_err(&fixture("empty.jpg")), "empty file");
        assert_eq!(
            render_err(&fixture("not-an-image.jpg")),
            "not an image (unrecognised content)"
        );
        assert_eq!(
            render_err(b"BM is also how some text starts"),
            "not an image (unrecognised content)"
        );
        assert_eq!(
            render_err(b"\0\0\0\x18ftypheic\0\0\0\0"),
            "unsupported image format (HEIF/HEIC)"
        );
        let msg = render_err(&fixture("truncated.jpg"));
        assert!(msg.starts_with("corrupt or truncated JPEG data"), "{msg}");
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
        // A JPEG cut right before its EOI marker still is incomplete.
        let jpg = fixture("baseline.jpg");
        let msg = render_err(&jpg[..jpg.len() - 2]);
        assert!(msg.starts_with("corrupt or truncated JPEG"), "{msg}");
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
        // Valid JPEGs of processes libjpeg does not implement: the frame
        // header of a baseline file patched to 12-bit, then to lossless.
        let mut twelve = fixture("baseline.jpg");
        let sof = twelve.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        twelve[sof + 4] = 12;
        let msg = render_err(&twelve);
        assert!(msg.starts_with("JPEG variant not supported"), "{msg}");
        assert!(msg.contains("12"), "{msg}");
        let mut lossless = fixture("baseline.jpg");
        lossless[sof + 1] = 0xC3;
        let msg = render_err(&lossless);
        assert!(msg.starts_with("JPEG variant not supported"), "{msg}");
        let zero = variant(0, 10, Fit::Contain, Format::Png);
        let e = render(&fixture("baseline.jpg"), &[&zero], &LIMITS).unwrap_err();
        assert!(e.to_string().contains("at least 1"), "{e}");
    }

    #[test]
    fn opaque_alpha_is_dropped_in_place() {
        let rgba: Vec<u8> = (0..40u8).collect();
        let rgb = rgba_to_rgb(rgba.clone());
        let expected: Vec<u8> = rgba.chunks(4).flat_map(|p| p[..3].to_vec()).collect();
        assert_eq!(rgb, expected);
        assert!(rgba_to_rgb(Vec::new()).is_empty());
    }

    #[test]
    fn a_variant_renders_the_same_whatever_its_companions() {
        // With the same configured set, rendering one variant alone (a
        // partial rebuild) gives the bytes a full render gives.
        // The small one is resized from the big one's pixels, which are
        // made for it even when only the small one is wanted.
        let small = variant(24, 24, Fit::Contain, Format::Jpeg);
        let big = variant(96, 96, Fit::Contain, Format::Png);
        let src = fixture("exif-orientation-6.jpg");
        let config = [big.clone(), small.clone()];
        let (alone, info) = render_shared(&src, &[1], &config, &LIMITS).unwrap();
        let (both, info_both) = render_shared(&src, &[0, 1], &config, &LIMITS).unwrap();
        let (reversed, _) = render_shared(&src, &[1, 0, 1], &config, &LIMITS).unwrap();
        assert_eq!(alone[0].bytes, both[1].bytes);
        assert_eq!(reversed[0].bytes, both[1].bytes);
        assert_eq!(reversed[1].bytes, both[0].bytes);
        assert_eq!(reversed[2].bytes, both[1].bytes);
        assert_eq!(info, info_both);
        assert_eq!(
            render_shared(&src, &[0], &config, &LIMITS).unwrap().0[0].bytes,
            both[0].bytes
        );
        assert_eq!((both[0].via, alone[0].via != 0), (0, true));
        // The decode scale follows the configured set: 24x24 alone needs
        // a quarter of the 96x64 source, next to the 96x96 one all of it.
        assert_eq!(info.eighths, 8);
        let shape = Shape {
            width: 96,
            height: 64,
            jpeg: true,
        };
        assert_eq!(info.shape, shape, "upright size");
        let (_, alone_info) = render_shared(&src, &[0], &[small], &LIMITS).unwrap();
        assert_eq!(alone_info.eighths, 2);
    }

    /// Whatever SIMD the machine has, the resize gives the same pixels, so
    /// outputs do not depend on the CPU they were made on.
    #[test]
    fn resize_is_the_same_on_every_cpu_path() {
        let img = image::load_from_memory(&fixture("rgba-transparent.png")).unwrap();
        let (w, h) = (img.width(), img.height());
        let layouts = [
            (fr::PixelType::U8, img.to_luma8().into_raw()),
            (fr::PixelType::U8x3, img.to_rgb8().into_raw()),
            (fr::PixelType::U8x4, img.to_rgba8().into_raw()),
        ];
        for (pt, pixels) in &layouts {
            let src = fr::images::ImageRef::new(w, h, pixels, *pt).unwrap();
            let mut outs = Vec::new();
            for ext in [
                fr::CpuExtensions::None,
                fr::CpuExtensions::Sse4_1,
                fr::CpuExtensions::Avx2,
            ] {
                if !ext.is_supported() {
                    continue;
                }
                let mut r = fr::Resizer::new();
                // SAFETY: only extensions the CPU reports are selected.
                unsafe { r.set_cpu_extensions(ext) };
                let mut dst = fr::images::Image::new(23, 17, *pt);
                let opts = fr::ResizeOptions::new().crop(3.5, 2.25, 55.0, 41.0);
                r.resize(&src, &mut dst, &opts).unwrap();
                outs.push((ext, dst.into_vec()));
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
    fn same_input_same_bytes() {
        let vs = [
            variant(50, 50, Fit::Cover, Format::Jpeg),
            variant(50, 50, Fit::Contain, Format::Png),
            variant(50, 50, Fit::Contain, Format::Webp),
        ];
        let refs: Vec<&Variant> = vs.iter().collect();
        for src in [
            "baseline.jpg",
            "icc.webp",
            "rgba-transparent.png",
            "exif-orientation-6.jpg",
        ] {
            let a = render(&fixture(src), &refs, &LIMITS).unwrap();
            let b = render(&fixture(src), &refs, &LIMITS).unwrap();
            for (x, y) in a.iter().zip(&b) {
                assert_eq!(x.bytes, y.bytes, "{src}");
            }
        }
    }

    /// Bit flips, truncations and splices of the fixtures must give Ok or
    /// Err, never a panic.
    #[test]
    fn mangled_input_never_panics() {
        let names = [
            "baseline.jpg",
            "progressive.jpg",
            "cmyk.jpg",
            "exif-orientation-6.jpg",
            "icc.png",
            "palette-trns.png",
            "rgb16.png",
            "animated.gif",
            "animated.webp",
            "lossy-alpha.webp",
            "icc.webp",
            "image.tiff",
            "image.bmp",
        ];
        let files: Vec<Vec<u8>> = names.iter().map(|n| fixture(n)).collect();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let vs = [
            variant(24, 24, Fit::Cover, Format::Jpeg),
            variant(40, 30, Fit::Contain, Format::Webp),
        ];
        let refs: Vec<&Variant> = vs.iter().collect();
        let limits = Limits {
            max_pixels: 4_000_000,
        };
        let (mut ok, mut err) = (0, 0);
        for case in 0..600 {
            let which = (next() % files.len() as u64) as usize;
            let mut b = files[which].clone();
            match case % 4 {
                0 | 1 => {
                    for _ in 0..1 + next() % 8 {
                        let i = (next() % b.len() as u64) as usize;
                        b[i] ^= 1 << (next() % 8);
                    }
                }
                2 => b.truncate((next() % b.len() as u64) as usize),
                _ => {
                    let other = &files[(next() % files.len() as u64) as usize];
                    let at = (next() % b.len() as u64) as usize;
                    let from = (next() % other.len() as u64) as usize;
                    b.truncate(at);
                    b.extend_from_slice(&other[from..]);
                }
            }
            let result = std::panic::catch_unwind(|| render(&b, &refs, &limits).map(|_| ()));
            match result {
                Ok(Ok(())) => ok += 1,
                Ok(Err(_)) => err += 1,
                Err(_) => panic!("case {case} ({}) panicked", names[which]),
            }
        }
        // Both outcomes must occur, or the mangling tests nothing.
        assert!(ok > 20 && err > 20, "{ok} rendered, {err} refused");
    }
}
