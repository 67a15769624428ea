//! Animated sources (GIF, WebP). Every output holds the first frame
//! unless its variant says `animated = "keep"`: then its WebP holds every
//! frame, each resized as a still would be, with the source's timing and
//! loop count. All frames × the canvas is bounded by `max_pixels`, so an
//! animation cannot be a bomb.

use std::io::Cursor;

use image::codecs::gif::GifDecoder;
use image::codecs::webp::WebPDecoder;
use image::metadata::LoopCount;
use image::{AnimationDecoder, ImageFormat};
use thumbgen_lanczos::{Crop, Pixels, Resizer};

use super::resize::placement;
use super::Limits;
use super::RenderError;
use crate::model::Coding;
use crate::variant::Variant;

/// The frames of an animation, decoded, each the whole canvas.
pub(super) struct Animation {
    width: u32,
    height: u32,
    /// RGBA pixels and how long each is shown, in milliseconds.
    frames: Vec<(Vec<u8>, u32)>,
    /// How many times it plays; 0: forever.
    loops: u32,
}

/// How `source`, a file of `format` that is not a JPEG, is coded: an
/// animation if it holds more than one frame, read from its structure
/// without decoding any.
pub(super) fn coding(source: &[u8], format: ImageFormat) -> Coding {
    let animated = match format {
        ImageFormat::Gif => gif_frames(source) > 1,
        // VP8X's flags: bit 1 is "animation".
        ImageFormat::WebP => {
            source.len() > 20 && &source[12..16] == b"VP8X" && source[20] & 0x02 != 0
        }
        _ => false,
    };
    if animated {
        Coding::Animation
    } else {
        Coding::Whole
    }
}

/// How many images a GIF holds (counted up to 2), walking its blocks.
fn gif_frames(gif: &[u8]) -> usize {
    // Header (6) and logical screen descriptor (7), then its colour table.
    let Some(&packed) = gif.get(10) else {
        return 0;
    };
    let mut at = 13 + colour_table(packed);
    let mut images = 0;
    // Skips a run of data sub-blocks (each a length byte, then that many).
    let skip_blocks = |mut at: usize| -> Option<usize> {
        loop {
            let len = usize::from(*gif.get(at)?);
            at += 1 + len;
            if len == 0 {
                return Some(at);
            }
        }
    };
    while images < 2 {
        match gif.get(at) {
            Some(0x21) => match skip_blocks(at + 2) {
                Some(next) => at = next,
                None => break,
            },
            Some(0x2C) => {
                images += 1;
                let Some(&packed) = gif.get(at + 9) else {
                    break;
                };
                // Descriptor (10), its colour table, the LZW code size (1).
                match skip_blocks(at + 10 + colour_table(packed) + 1) {
                    Some(next) => at = next,
                    None => break,
                }
            }
            _ => break,
        }
    }
    images
}

/// The size of the colour table a GIF packed-fields byte announces.
fn colour_table(packed: u8) -> usize {
    if packed & 0x80 != 0 {
        3 << ((packed & 0x07) + 1)
    } else {
        0
    }
}

/// Decode every frame of the animated GIF or WebP `source` (told apart by
/// their signatures: [`coding`] found it animated).
pub(super) fn decode(source: &[u8], limits: &Limits) -> Result<Animation, RenderError> {
    let damaged = |format: &'static str| {
        move |e: image::ImageError| RenderError::Decode {
            format,
            reason: e.to_string(),
        }
    };
    match source.starts_with(b"GIF8") {
        true => {
            let decoder = GifDecoder::new(Cursor::new(source)).map_err(damaged("GIF"))?;
            frames_of(decoder, limits, "GIF")
        }
        false => {
            let decoder = WebPDecoder::new(Cursor::new(source)).map_err(damaged("WebP"))?;
            frames_of(decoder, limits, "WebP")
        }
    }
}

fn frames_of<'a>(
    decoder: impl AnimationDecoder<'a> + image::ImageDecoder,
    limits: &Limits,
    format: &'static str,
) -> Result<Animation, RenderError> {
    let (width, height) = decoder.dimensions();
    let loops = match decoder.loop_count() {
        LoopCount::Infinite => 0,
        LoopCount::Finite(n) => n.get(),
    };
    let area = u64::from(width) * u64::from(height);
    let mut frames = Vec::new();
    for frame in decoder.into_frames() {
        // Checked as each frame arrives, before it is kept: at most one
        // frame more than the bound allows is ever decoded.
        if area * (frames.len() as u64 + 1) > limits.max_pixels {
            return Err(RenderError::TooManyFrames {
                width,
                height,
                max_pixels: limits.max_pixels,
            });
        }
        let frame = frame.map_err(|e| RenderError::Decode {
            format,
            reason: e.to_string(),
        })?;
        let (numer, denom) = frame.delay().numer_denom_ms();
        let delay = (f64::from(numer) / f64::from(denom.max(1))).round() as u32;
        frames.push((frame.into_buffer().into_raw(), delay));
    }
    Ok(Animation {
        width,
        height,
        frames,
        loops,
    })
}

/// `animation` as an animated WebP of `v`: every frame cropped and resized
/// as a still source would be, encoded at `v`'s quality.
pub(super) fn encode(
    animation: &Animation,
    v: &Variant,
    resizer: &mut Resizer,
) -> Result<(Vec<u8>, u32, u32), RenderError> {
    let (w, h) = (animation.width, animation.height);
    let placed = placement(
        (w, h),
        image::metadata::Orientation::NoTransforms,
        v,
        None,
        None,
    );
    let (crop, (ow, oh)) = placed.stored();
    let crop = Crop {
        left: crop.0,
        top: crop.1,
        width: crop.2,
        height: crop.3,
    };
    let mut resized = Vec::with_capacity(animation.frames.len());
    for (pixels, delay) in &animation.frames {
        let out = resizer
            .resize(pixels, (w, h), Pixels::Rgba, crop, (ow, oh))
            .map_err(RenderError::Resize)?;
        resized.push((out, *delay));
    }
    let bytes = webp_animation(&resized, ow, oh, animation.loops, v.quality)?;
    Ok((bytes, ow, oh))
}

/// Encode RGBA `frames` (each with its duration in milliseconds) of
/// `width`×`height` as an animated WebP with libwebp's animation encoder,
/// which keeps each frame's duration, the last one's included.
fn webp_animation(
    frames: &[(Vec<u8>, u32)],
    width: u32,
    height: u32,
    loops: u32,
    quality: u8,
) -> Result<Vec<u8>, RenderError> {
    use libwebp_sys as sys;
    let fail = |reason: &str| RenderError::Encode {
        format: "WebP",
        reason: reason.to_string(),
    };
    let side = |n: u32| i32::try_from(n).map_err(|_| fail("too large"));
    let (w, h) = (side(width)?, side(height)?);
    let mut config = sys::WebPConfig::new().map_err(|()| fail("libwebp config"))?;
    config.quality = f32::from(quality.clamp(1, 100));
    // As for still WebP outputs (encode.rs).
    config.method = 2;
    config.alpha_compression = 1;
    let mut options = std::mem::MaybeUninit::<sys::WebPAnimEncoderOptions>::uninit();
    // SAFETY: the options are initialised by libwebp before they are read;
    // the ABI version is the one these bindings were made for.
    let mut options = unsafe {
        if sys::WebPAnimEncoderOptionsInitInternal(
            options.as_mut_ptr(),
            sys::WebPGetMuxABIVersion(),
        ) == 0
        {
            return Err(fail("libwebp animation options"));
        }
        options.assume_init()
    };
    options.anim_params.loop_count = i32::try_from(loops).unwrap_or(0);
    // SAFETY: width, height and options are valid; the encoder is deleted
    // on every path below (`Encoder`'s drop).
    let encoder = Encoder(unsafe {
        sys::WebPAnimEncoderNewInternal(w, h, &options, sys::WebPGetMuxABIVersion())
    });
    if encoder.0.is_null() {
        return Err(fail("libwebp animation encoder"));
    }
    let mut timestamp: i32 = 0;
    for (pixels, delay) in frames {
        let mut picture = sys::WebPPicture::new().map_err(|()| fail("libwebp picture"))?;
        picture.use_argb = 1;
        picture.width = w;
        picture.height = h;
        // SAFETY: `pixels` holds w × h RGBA pixels (the resize made them),
        // and the picture copies them; it is freed right after the add.
        let added = unsafe {
            let imported = sys::WebPPictureImportRGBA(&mut picture, pixels.as_ptr(), w * 4);
            let added = imported != 0
                && sys::WebPAnimEncoderAdd(encoder.0, &mut picture, timestamp, &config) != 0;
            sys::WebPPictureFree(&mut picture);
            added
        };
        if !added {
            return Err(fail(&encoder.error()));
        }
        timestamp = timestamp.saturating_add(i32::try_from(*delay).unwrap_or(i32::MAX));
    }
    let mut data = sys::WebPData::default();
    // SAFETY: the end of the last frame, then the assembly into `data`,
    // which libwebp allocates and `WebPDataClear` frees after the copy.
    unsafe {
        if sys::WebPAnimEncoderAdd(encoder.0, std::ptr::null_mut(), timestamp, std::ptr::null())
            == 0
            || sys::WebPAnimEncoderAssemble(encoder.0, &mut data) == 0
        {
            return Err(fail(&encoder.error()));
        }
        let bytes = std::slice::from_raw_parts(data.bytes, data.size).to_vec();
        sys::WebPDataClear(&mut data);
        Ok(bytes)
    }
}

/// libwebp's animation encoder, deleted when dropped.
struct Encoder(*mut libwebp_sys::WebPAnimEncoder);

impl Encoder {
    /// What libwebp says went wrong.
    fn error(&self) -> String {
        // SAFETY: the encoder is live; the message is a C string it owns.
        let message = unsafe { libwebp_sys::WebPAnimEncoderGetError(self.0) };
        if message.is_null() {
            return "libwebp could not encode the animation".into();
        }
        // SAFETY: non-null, NUL-terminated, alive as long as the encoder.
        unsafe { std::ffi::CStr::from_ptr(message) }
            .to_string_lossy()
            .into_owned()
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: made by WebPAnimEncoderNewInternal, deleted once.
            unsafe { libwebp_sys::WebPAnimEncoderDelete(self.0) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Format;
    use crate::render::test_support::{fixture, render_all, LIMITS};

    fn is_animated(bytes: &[u8], format: ImageFormat) -> bool {
        coding(bytes, format) == Coding::Animation
    }

    #[test]
    fn animations_are_told_from_stills_by_their_structure() {
        for (name, animated) in [
            ("animated.gif", true),
            ("animated.webp", true),
            ("lossy.webp", false),
            ("baseline.jpg", false),
        ] {
            let bytes = fixture(name);
            let format = ImageFormat::from_path(name).unwrap();
            assert_eq!(is_animated(&bytes, format), animated, "{name}");
            // As the decoders record it.
            let (_, info) = render_all(&bytes, &[], &[], &LIMITS).unwrap();
            assert_eq!(info.shape.coding == Coding::Animation, animated, "{name}");
        }
        let still = {
            let mut out = Vec::new();
            image::RgbaImage::new(4, 4)
                .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Gif)
                .unwrap();
            out
        };
        assert_eq!(gif_frames(&still), 1);
        assert!(!is_animated(&still, ImageFormat::Gif));
        // Cut anywhere, the walk stops without reading past the end.
        let whole = fixture("animated.gif");
        for end in 0..whole.len() {
            assert!(gif_frames(&whole[..end]) <= 2);
        }
    }

    #[test]
    fn every_frame_is_resized_and_timed_and_the_bound_holds() {
        let bytes = fixture("animated.gif");
        let animation = decode(&bytes, &LIMITS).unwrap();
        assert_eq!((animation.width, animation.height), (48, 32));
        assert_eq!(animation.frames.len(), 2);
        let mut v = Variant::new("a", 24, 24, Format::Webp);
        v.animated = true;
        let mut resizer = Resizer::new();
        let (webp, w, h) = encode(&animation, &v, &mut resizer).unwrap();
        assert_eq!((w, h), (24, 16));
        let again = encode(&animation, &v, &mut resizer).unwrap().0;
        assert_eq!(webp, again, "deterministic");
        let back = WebPDecoder::new(Cursor::new(&webp)).unwrap();
        assert!(back.has_animation());
        let frames: Vec<_> = back.into_frames().collect::<Result<_, _>>().unwrap();
        assert_eq!(frames.len(), 2);
        for frame in &frames {
            assert_eq!(frame.buffer().dimensions(), (24, 16));
            assert_eq!(frame.delay().numer_denom_ms(), (100, 1));
        }

        let tight = Limits {
            max_pixels: 48 * 32 * 2 - 1,
            ..LIMITS
        };
        assert!(matches!(
            decode(&bytes, &tight),
            Err(RenderError::TooManyFrames {
                width: 48,
                height: 32,
                ..
            })
        ));
    }
}
