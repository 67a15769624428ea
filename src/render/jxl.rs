//! JPEG XL sources, by jxl-oxide (pure Rust): the first frame, upright by
//! the header's orientation (jxl-oxide applies it), rendered to sRGB when
//! the file describes its colours by an enumerated encoding, or in its own
//! ICC profile, which the outputs then carry. Samples come out as 8 bits.

use std::io::Cursor;

use image::metadata::Orientation;
use jxl_oxide::{AllocTracker, EnumColourEncoding, JxlImage, JxlThreadPool, PixelFormat};

use super::pixels::{check_pixels, Px, Source};
use super::{Limits, RenderError};

const NAME: &str = "JPEG XL";

/// Decodes the first frame of a JPEG XL file (a still image, or the first
/// frame of an animation).
pub(super) fn decode(source: &[u8], limits: &Limits) -> Result<Source, RenderError> {
    // Samples are f32 while rendering: 4 channels of 4 bytes a pixel, and
    // room for the frame's groups besides.
    let budget = usize::try_from(limits.max_pixels.saturating_mul(32))
        .unwrap_or(usize::MAX)
        .saturating_add(64 << 20);
    let mut image = JxlImage::builder()
        // Sources are decoded in parallel already, one per worker.
        .pool(JxlThreadPool::none())
        .alloc_tracker(AllocTracker::with_limit(budget))
        .read(Cursor::new(source))
        .map_err(|e| RenderError::decode(NAME, e.to_string()))?;
    let (width, height) = (image.width(), image.height());
    if width == 0 || height == 0 {
        return Err(RenderError::decode(NAME, "image has no pixels"));
    }
    check_pixels(width, height, limits)?;
    let icc = image.original_icc().map(<[u8]>::to_vec);
    if icc.is_none() {
        // An enumerated encoding (Display P3, linear, PQ...) converts to
        // sRGB without a colour management system; grey stays grey.
        let srgb = if image.image_header().metadata.grayscale() {
            EnumColourEncoding::gray_srgb(Default::default())
        } else {
            EnumColourEncoding::srgb(Default::default())
        };
        image.request_color_encoding(srgb);
    }
    let (channels, px) = match image.pixel_format() {
        PixelFormat::Gray => (1, Px::Gray),
        PixelFormat::Graya => (2, Px::Rgba),
        PixelFormat::Rgb => (3, Px::Rgb),
        PixelFormat::Rgba => (4, Px::Rgba),
        other => {
            return Err(RenderError::unsupported_variant(
                NAME,
                format!("{other:?} pixels"),
            ))
        }
    };
    if image.num_loaded_keyframes() == 0 {
        return Err(RenderError::decode(NAME, "unexpected end of file"));
    }
    let render = image
        .render_frame(0)
        .map_err(|e| RenderError::decode(NAME, e.to_string()))?;
    let mut stream = render.stream();
    if (stream.width(), stream.height()) != (width, height)
        || stream.channels() as usize != channels
    {
        return Err(RenderError::decode(
            NAME,
            "the frame is not the image's size",
        ));
    }
    let mut samples = vec![0u8; width as usize * height as usize * channels];
    let written = stream.write_to_buffer(&mut samples);
    if written != samples.len() {
        return Err(RenderError::decode(
            NAME,
            "the decoder gave fewer pixels than it said",
        ));
    }
    let pixels = match (channels, px) {
        // Grey with alpha joins RGBA, as it does for PNG.
        (2, _) => samples
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        _ => samples,
    };
    // jxl-oxide has applied the orientation: the pixels are upright.
    Ok(Source::whole(
        (width, height),
        px,
        pixels,
        Orientation::NoTransforms,
        icc,
    ))
}
