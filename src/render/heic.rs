//! HEIC/HEIF sources (the `heic` cargo feature): libheif, built from the
//! source that `libheif-sys` vendors (so its version, and with it the
//! colour conversion after decoding, is pinned by Cargo.lock), decoding
//! HEVC through libde265. libheif applies the file's `clap`, `irot` and
//! `imir` boxes; the EXIF orientation of a HEIF file is informative only,
//! and is ignored, as the format says.

use image::metadata::Orientation;
use libheif_rs::{
    ColorSpace, DecodingOptions, HeifContext, HeifError, HeifErrorCode, LibHeif, RgbChroma,
    SecurityLimits,
};

use super::pixels::{check_pixels, Px, Source};
use super::{Limits, RenderError};

const NAME: &str = "HEIF";

fn refused(e: HeifError) -> RenderError {
    let reason = e.message;
    match e.code {
        HeifErrorCode::UnsupportedFeature
        | HeifErrorCode::UnsupportedFileType
        | HeifErrorCode::DecoderPluginError => RenderError::unsupported_variant(NAME, reason),
        HeifErrorCode::MemoryAllocationError => RenderError::decode(
            NAME,
            format!("image needs more memory than allowed ({reason})"),
        ),
        _ => RenderError::decode(NAME, reason),
    }
}

/// Decodes the primary image of a HEIF file, upright, with its alpha and
/// ICC profile, as 8-bit pixels.
pub(super) fn decode(source: &[u8], limits: &Limits) -> Result<Source, RenderError> {
    let lib = LibHeif::new();
    let mut context = HeifContext::new().map_err(refused)?;
    // libheif's own limits back up max_pixels: no image, and no grid of
    // tiles, larger than the pixel budget.
    let mut security = SecurityLimits::new();
    security.set_max_image_size_pixels(limits.max_pixels);
    context.set_security_limits(&security).map_err(refused)?;
    // Outputs are rendered in parallel already, one source per worker.
    context.set_max_decoding_threads(0);
    context.read_bytes(source).map_err(refused)?;
    let handle = context.primary_image_handle().map_err(refused)?;
    let (width, height) = (handle.width(), handle.height());
    if width == 0 || height == 0 {
        return Err(RenderError::decode(NAME, "image has no pixels"));
    }
    check_pixels(width, height, limits)?;
    let alpha = handle.has_alpha_channel();
    let grey = !alpha
        && matches!(
            handle.preferred_decoding_colorspace(),
            Ok(ColorSpace::Monochrome)
        );
    let colour_space = match (grey, alpha) {
        (true, _) => ColorSpace::Monochrome,
        (false, true) => ColorSpace::Rgb(RgbChroma::Rgba),
        (false, false) => ColorSpace::Rgb(RgbChroma::Rgb),
    };
    let mut options = DecodingOptions::new()
        .ok_or_else(|| RenderError::decode(NAME, "image needs more memory than allowed"))?;
    options.set_convert_hdr_to_8bit(true);
    let image = lib
        .decode(&handle, colour_space, Some(options))
        .map_err(refused)?;
    let planes = image.planes();
    let plane = if grey { planes.y } else { planes.interleaved };
    let plane = plane.ok_or_else(|| RenderError::decode(NAME, "the decoder gave no pixels"))?;
    let channels: usize = match (grey, alpha) {
        (true, _) => 1,
        (false, true) => 4,
        (false, false) => 3,
    };
    let (w, h) = (plane.width, plane.height);
    let row = w as usize * channels;
    if plane.stride < row || plane.data.len() < plane.stride * (h as usize - 1) + row {
        return Err(RenderError::decode(
            NAME,
            "the decoder gave fewer pixels than it said",
        ));
    }
    let mut pixels = Vec::with_capacity(row * h as usize);
    for y in 0..h as usize {
        pixels.extend_from_slice(&plane.data[y * plane.stride..][..row]);
    }
    let px = match channels {
        1 => Px::Gray,
        3 => Px::Rgb,
        _ => Px::Rgba,
    };
    let icc = handle.color_profile_raw().map(|p| p.data);
    // libheif has applied the transformations: the pixels are upright.
    Ok(Source::whole(
        (w, h),
        px,
        pixels,
        Orientation::NoTransforms,
        icc,
    ))
}
