//! Encoding per output format (JPEG, PNG, WebP), each from the resized
//! pixels turned upright: alpha flattened where the format has none, and the
//! source's ICC profile carried over where it describes the pixels written
//! (libwebp writes none, so the WebP container is rebuilt with one).

use super::jpeg;
use super::orient::orient;
use super::pixels::{Px, Source};
use super::resize::{placement, Resized};
use super::{RenderError, Rendered};
use crate::model::Format;
use crate::variant::Variant;

/// Turn resized pixels upright and encode them as `v` says.
pub(super) fn encode_variant(
    src: &Source,
    resized: Resized,
    v: &Variant,
) -> Result<Rendered, RenderError> {
    let (pixels, w, h) = orient(
        src.orientation,
        resized.pixels,
        resized.width,
        resized.height,
        src.px.channels(),
    );
    debug_assert_eq!(
        (w, h),
        placement(src.full, src.orientation, v, None, None).out_upright
    );
    let pixels = if v.sharpen_milli > 0 {
        sharpen(pixels, w, h, src.px, v.sharpen_milli)
    } else {
        pixels
    };
    let pixels = if v.blur_milli > 0 {
        blur(pixels, w, h, src.px, v.blur_milli)
    } else {
        pixels
    };

    let bytes = match v.format {
        Format::Jpeg => encode_jpeg(src, pixels, w, h, v)?,
        Format::Png => encode_png(src, &pixels, w, h)?,
        Format::Webp => encode_webp(src, pixels, w, h, v)?,
        Format::Avif => {
            crate::codecs::note_av1_encode();
            encode_avif(src, pixels, w, h, v)?
        }
    };
    Ok(Rendered {
        width: w,
        height: h,
        bytes,
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

/// An unsharp mask of Gaussian `sigma` (thousandths), as libvips and Hugo
/// apply after a downscale: a resized photo looks soft without one. Done
/// on the output's own pixels, never on the ones smaller variants are made
/// from, so that only this variant's bytes depend on it.
fn sharpen(pixels: Vec<u8>, w: u32, h: u32, px: Px, sigma_milli: u16) -> Vec<u8> {
    // No threshold: every difference is sharpened, as libvips's default does.
    let threshold = 0;
    as_image(pixels, w, h, px)
        .unsharpen(f32::from(sigma_milli) / 1000.0, threshold)
        .into_bytes()
}

/// A Gaussian blur of `sigma` (thousandths) on the output's own pixels
/// (blurred backgrounds, privacy crops): image's fast blur, three box
/// passes that approximate the Gaussian in a time that does not grow with
/// sigma, deterministic like the rest of the pipeline.
fn blur(pixels: Vec<u8>, w: u32, h: u32, px: Px, sigma_milli: u16) -> Vec<u8> {
    as_image(pixels, w, h, px)
        .fast_blur(f32::from(sigma_milli) / 1000.0)
        .into_bytes()
}

/// `pixels` (`w`×`h`, laid out as `px` says) as an image, for image's
/// filters; `into_bytes` gives the same layout back.
fn as_image(pixels: Vec<u8>, w: u32, h: u32, px: Px) -> image::DynamicImage {
    use image::{DynamicImage, ImageBuffer};
    match px {
        Px::Gray => ImageBuffer::from_raw(w, h, pixels).map(DynamicImage::ImageLuma8),
        Px::Rgb => ImageBuffer::from_raw(w, h, pixels).map(DynamicImage::ImageRgb8),
        Px::Rgba => ImageBuffer::from_raw(w, h, pixels).map(DynamicImage::ImageRgba8),
    }
    .expect("the buffer holds w x h pixels")
}

/// AVIF through rav1e or libaom (the `aom` feature), 4:4:4 YCbCr;
/// one thread per output, since outputs are already encoded in parallel.
/// Either tags the colour as sRGB (nclx) and has no way to carry an ICC
/// profile, so pixels in another RGB space are converted to sRGB first:
/// never pixels of one space tagged as another.
fn encode_avif(
    src: &Source,
    mut pixels: Vec<u8>,
    w: u32,
    h: u32,
    v: &Variant,
) -> Result<Vec<u8>, RenderError> {
    let px = src.px;
    if let Some(icc) = icc_for(src, px) {
        to_srgb(&mut pixels, px, icc);
    }
    let layout = match px {
        Px::Gray => thumbgen_avif::Pixels::Gray,
        Px::Rgb => thumbgen_avif::Pixels::Rgb,
        Px::Rgba => thumbgen_avif::Pixels::Rgba,
    };
    thumbgen_avif::encode(&pixels, (w, h), layout, v.quality, v.speed).map_err(encode_error("AVIF"))
}

/// Convert RGB(A) `pixels` described by the ICC profile `icc` to sRGB, in
/// place. A profile that maps colours to themselves (an sRGB profile, as
/// most photos carry) leaves the pixels exactly as they are; one that
/// cannot be read leaves them too, as the other formats carry it unread.
/// Grey pixels are left as they are.
fn to_srgb(pixels: &mut Vec<u8>, px: Px, icc: &[u8]) {
    use moxcms::{ColorProfile, Layout, RenderingIntent, TransformOptions};
    let layout = match px {
        Px::Rgb => Layout::Rgb,
        Px::Rgba => Layout::Rgba,
        Px::Gray => return,
    };
    let Ok(profile) = ColorProfile::new_from_slice(icc) else {
        return;
    };
    // Relative colorimetric, as browsers convert images with a profile.
    let options = TransformOptions {
        rendering_intent: RenderingIntent::RelativeColorimetric,
        ..TransformOptions::default()
    };
    let Ok(transform) =
        profile.create_transform_8bit(layout, &ColorProfile::new_srgb(), layout, options)
    else {
        return;
    };
    // Every 17th level on each axis: a profile that moves none of them by
    // more than a level is sRGB for this purpose.
    let levels: Vec<u8> = (0..=255).step_by(17).collect();
    let channels = if px == Px::Rgba { 4 } else { 3 };
    let mut probe = Vec::with_capacity(levels.len().pow(3) * channels);
    for &r in &levels {
        for &g in &levels {
            for &b in &levels {
                probe.extend_from_slice(&[r, g, b, 255][..channels]);
            }
        }
    }
    let mut mapped = vec![0; probe.len()];
    if transform.transform(&probe, &mut mapped).is_err()
        || probe.iter().zip(&mapped).all(|(a, b)| a.abs_diff(*b) <= 1)
    {
        return;
    }
    let mut converted = vec![0; pixels.len()];
    if transform.transform(pixels, &mut converted).is_ok() {
        *pixels = converted;
    }
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
    // mozjpeg with libjpeg-turbo's defaults (see jpeg_shim.c); 4:2:0, baseline, no EXIF (pixels are
    // already upright).
    let components = if px == Px::Gray { 1 } else { 3 };
    jpeg::encode(&pixels, w, h, components, v.quality, icc_for(src, px)).map_err(err)
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
    use std::io::Cursor;

    use image::codecs::{png::PngDecoder, tiff::TiffDecoder, webp::WebPDecoder};
    use image::{ImageDecoder, ImageFormat};

    use crate::model::Format;
    use crate::render::test_support::render_all;
    use crate::render::test_support::{
        decode, fixture, near, render_one, rgba_at, variant, ALL_FORMATS, LIMITS,
    };
    use crate::variant::Fit;

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
        let r = render_all(&with_alpha, &[0], &[v], &LIMITS)
            .unwrap()
            .0
            .remove(0);
        assert_eq!(output_icc(&r.bytes).as_deref(), Some(&want[..]));
        let img = decode(&r);
        assert!(img.color().has_alpha());
        assert!(rgba_at(&img, 4, 4)[3] < 8);
        // No profile in, none out.
        let r = render_one("baseline.jpg", &variant(32, 32, Fit::Contain, Format::Webp));
        assert_eq!(output_icc(&r.bytes), None);
    }

    /// The mean absolute difference between horizontal neighbours.
    fn busyness(img: &image::DynamicImage) -> f64 {
        let rgb = img.to_rgb8();
        let mut sum = 0u64;
        for y in 0..rgb.height() {
            for x in 1..rgb.width() {
                let (a, b) = (rgb.get_pixel(x - 1, y), rgb.get_pixel(x, y));
                sum += (0..3).map(|c| u64::from(a[c].abs_diff(b[c]))).sum::<u64>();
            }
        }
        sum as f64 / f64::from(rgb.width() * rgb.height())
    }

    #[test]
    fn blur_smooths_the_output_and_only_when_asked() {
        let sharp = variant(96, 96, Fit::Contain, Format::Png);
        let mut blurred = sharp.clone();
        blurred.blur_milli = 3000;
        // Fine detail: a checkerboard of 3-pixel squares.
        let board = image::RgbImage::from_fn(128, 128, |x, y| {
            image::Rgb(if (x / 3 + y / 3) % 2 == 0 {
                [20, 20, 20]
            } else {
                [230, 230, 230]
            })
        });
        let mut png = Vec::new();
        board
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let render = |v: &crate::variant::Variant| {
            render_all(&png, &[0], std::slice::from_ref(v), &LIMITS)
                .unwrap()
                .0
                .remove(0)
        };
        let (plain, soft) = (decode(&render(&sharp)), decode(&render(&blurred)));
        assert_eq!(
            (plain.width(), plain.height()),
            (soft.width(), soft.height())
        );
        assert!(
            busyness(&soft) < busyness(&plain) * 0.2,
            "{} against {}",
            busyness(&soft),
            busyness(&plain)
        );
        // Deterministic: the same bytes every time.
        assert_eq!(render(&blurred).bytes, render(&blurred).bytes);
    }

    /// A 48×48 PNG of one `colour`, with the ICC profile `icc`.
    fn uniform_png(colour: [u8; 3], icc: &[u8]) -> Vec<u8> {
        let img = image::RgbaImage::from_pixel(
            48,
            48,
            image::Rgba([colour[0], colour[1], colour[2], 255]),
        );
        let mut png = Vec::new();
        img.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        reencode_png_with_icc(&png, icc)
    }

    /// The middle pixel of an AVIF output, read by thumbgen's own decoder.
    fn avif_centre(r: &crate::render::Rendered) -> [u8; 3] {
        let decoded = crate::render::avif::decode(&r.bytes, &LIMITS).unwrap();
        let channels = decoded.px.channels();
        let at = ((decoded.height / 2 * decoded.width + decoded.width / 2) as usize) * channels;
        [
            decoded.pixels[at],
            decoded.pixels[at + 1],
            decoded.pixels[at + 2],
        ]
    }

    #[test]
    fn avif_outputs_of_other_rgb_spaces_are_converted_to_srgb() {
        use moxcms::{ColorProfile, Layout, RenderingIntent, TransformOptions};
        let colour = [200, 60, 40];
        let v = variant(32, 32, Fit::Contain, Format::Avif);
        for (name, profile) in [
            ("Display P3", ColorProfile::new_display_p3()),
            ("Adobe RGB", ColorProfile::new_adobe_rgb()),
        ] {
            let icc = profile.encode().unwrap();
            let png = uniform_png(colour, &icc);
            let r = render_all(&png, &[0], std::slice::from_ref(&v), &LIMITS)
                .unwrap()
                .0
                .remove(0);
            let mut want = [0u8; 3];
            profile
                .create_transform_8bit(
                    Layout::Rgb,
                    &ColorProfile::new_srgb(),
                    Layout::Rgb,
                    TransformOptions {
                        rendering_intent: RenderingIntent::RelativeColorimetric,
                        ..TransformOptions::default()
                    },
                )
                .unwrap()
                .transform(&colour, &mut want)
                .unwrap();
            assert!(
                !near(&want, &colour, 10),
                "{name}: the colour must move in sRGB for this test to mean anything"
            );
            let got = avif_centre(&r);
            assert!(near(&got, &want, 3), "{name}: {got:?}, want sRGB {want:?}");
        }

        // An sRGB profile changes no pixel: the same bytes as without one.
        let srgb = ColorProfile::new_srgb().encode().unwrap();
        let tagged = render_all(
            &uniform_png(colour, &srgb),
            &[0],
            std::slice::from_ref(&v),
            &LIMITS,
        )
        .unwrap()
        .0
        .remove(0);
        assert!(near(&avif_centre(&tagged), &colour, 3));
        let mut plain = Vec::new();
        image::RgbImage::from_pixel(48, 48, image::Rgb(colour))
            .write_to(&mut Cursor::new(&mut plain), ImageFormat::Png)
            .unwrap();
        let untagged = render_all(&plain, &[0], std::slice::from_ref(&v), &LIMITS)
            .unwrap()
            .0
            .remove(0);
        assert_eq!(tagged.bytes, untagged.bytes);
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
}
