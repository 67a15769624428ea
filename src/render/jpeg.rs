//! The JPEG codec: a safe binding over `jpeg_shim.c` (headers, DCT-scaled
//! decoding and encoding by mozjpeg, the libjpeg-turbo fork that the
//! `mozjpeg-sys` crate vendors, builds and links statically), and the glue that
//! turns its headers, pixels and refusals into the render package's
//! `Source` and `RenderError`. The shim owns every libjpeg struct; only
//! plain integers, byte buffers and an error string cross the boundary.
//!
//! JPEG gets its own decoder rather than the `image` crate's for
//! shrink-on-load: libjpeg-turbo decodes at 1/2, 1/4 or 1/8 scale, skipping
//! most of the work a full-size decode does.

use std::ffi::{c_char, c_int, c_uchar, c_uint, c_ulong, c_ulonglong, CStr};

// Nothing of its Rust API is used: naming the crate makes rustc link its
// static library, which the shim's libjpeg calls resolve to.
use mozjpeg_sys as _;

use image::metadata::Orientation;

use super::orient::upright_shape;
use super::pixels::{check_pixels, Px, Source};
use super::{Leniency, Limits, RenderError};
use crate::model::{Coding, Shape};

#[repr(C)]
struct TgJpegInfo {
    width: c_int,
    height: c_int,
    components: c_int,
    exif: *mut c_uchar,
    exif_len: c_uint,
    icc: *mut c_uchar,
    icc_len: c_uint,
    error: [c_char; 200],
}

extern "C" {
    fn tg_jpeg_read_info(data: *const c_uchar, len: c_ulong, out: *mut TgJpegInfo) -> c_int;
    fn tg_jpeg_decode(
        data: *const c_uchar,
        len: c_ulong,
        eighths: c_int,
        pixels: *mut c_uchar,
        pixels_len: c_ulonglong,
        missing_eoi: *mut c_int,
        error: *mut c_char,
    ) -> c_int;
    fn tg_jpeg_free(pixels: *mut c_uchar);
    #[allow(clippy::too_many_arguments)]
    fn tg_jpeg_encode(
        pixels: *const c_uchar,
        width: c_int,
        height: c_int,
        components: c_int,
        quality: c_int,
        icc: *const c_uchar,
        icc_len: c_uint,
        out: *mut *mut c_uchar,
        out_len: *mut c_ulong,
        error: *mut c_char,
    ) -> c_int;
}

/// What a JPEG's header says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Info {
    width: u32,
    height: u32,
    /// Bytes per decoded pixel: 1 (gray), 3 (RGB) or 4 (CMYK ink).
    components: usize,
    /// The TIFF data of the Exif segment.
    exif: Option<Vec<u8>>,
    icc: Option<Vec<u8>>,
}

/// Decoded pixels, `Info::components` bytes each.
struct Decoded {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
    /// Whole but for its end marker.
    missing_eoi: bool,
}

/// Why libjpeg refused a file.
#[derive(Debug)]
struct Refusal {
    message: String,
    /// The file is a JPEG of a kind this libjpeg does not implement (12-bit,
    /// lossless, hierarchical), rather than a damaged one.
    unsupported: bool,
}

impl Refusal {
    fn new(status: c_int, error: &[c_char; 200]) -> Refusal {
        let message = message(error);
        Refusal {
            // libjpeg's warnings of damaged data start with this; the error
            // that carries them already says "corrupt".
            message: match message.strip_prefix("Corrupt JPEG data: ") {
                Some(rest) => rest.to_string(),
                None => message,
            },
            unsupported: status == -2,
        }
    }

    fn ours(message: String) -> Refusal {
        Refusal {
            message,
            unsupported: false,
        }
    }
}

fn message(error: &[c_char; 200]) -> String {
    // SAFETY: the shim always NUL-terminates the error buffer on failure.
    unsafe { CStr::from_ptr(error.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// Take ownership of a malloc'd buffer from the shim.
///
/// # Safety
/// `ptr` is null or a malloc'd buffer of at least `len` bytes that nothing
/// else frees.
unsafe fn take(ptr: *mut c_uchar, len: usize) -> Option<Vec<u8>> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: as the caller promises; freed right after the copy.
    let copy = unsafe { std::slice::from_raw_parts(ptr, len).to_vec() };
    // SAFETY: `ptr` is non-null and came from C `malloc` (the caller's
    // promise), which `tg_jpeg_free` undoes with `free`; nothing else frees
    // it, and no reference into it outlives the copy above.
    unsafe { tg_jpeg_free(ptr) };
    Some(copy)
}

/// Read `data`'s header (size, colour layout, Exif, ICC) without decoding.
fn read_info(data: &[u8]) -> Result<Info, Refusal> {
    let mut out = TgJpegInfo {
        width: 0,
        height: 0,
        components: 0,
        exif: std::ptr::null_mut(),
        exif_len: 0,
        icc: std::ptr::null_mut(),
        icc_len: 0,
        error: [0; 200],
    };
    // SAFETY: `data` outlives the call and is only read; `out` is a valid,
    // exclusively borrowed struct of the layout the shim declares.
    let status = unsafe { tg_jpeg_read_info(data.as_ptr(), data.len() as c_ulong, &mut out) };
    if status != 0 {
        return Err(Refusal::new(status, &out.error));
    }
    // SAFETY: on success the shim hands over these buffers (or nulls).
    let (exif, icc) = unsafe {
        (
            take(out.exif, out.exif_len as usize),
            take(out.icc, out.icc_len as usize),
        )
    };
    Ok(Info {
        width: out.width as u32,
        height: out.height as u32,
        components: out.components as usize,
        exif,
        icc,
    })
}

/// Decode `data`, whose header is `info`, at `eighths`/8 of its size (1, 2,
/// 4 or 8), refusing a decoded buffer larger than `max_bytes` before
/// allocating it.
fn decode(data: &[u8], info: &Info, eighths: u32, max_bytes: u64) -> Result<Decoded, Refusal> {
    debug_assert!(matches!(eighths, 1 | 2 | 4 | 8));
    // libjpeg's scaled size: each dimension times eighths/8, rounded up.
    let width = (u64::from(info.width) * u64::from(eighths)).div_ceil(8);
    let height = (u64::from(info.height) * u64::from(eighths)).div_ceil(8);
    let len = width * height * info.components as u64;
    if len == 0 || len > max_bytes {
        return Err(Refusal::ours(format!(
            "decoded image would need {len} bytes"
        )));
    }
    // Not zeroed first: libjpeg writes every row before the shim returns 0
    // (a few percent of a build went to clearing buffers about to be
    // overwritten), and the bytes are only read after that.
    let mut pixels: Vec<u8> = Vec::with_capacity(len as usize);
    let mut error: [c_char; 200] = [0; 200];
    let mut missing_eoi: c_int = 0;
    // SAFETY: `data` is only read; `pixels` has `len` writable bytes of
    // capacity, which the shim checks against the scaled size before
    // writing; `missing_eoi` is a valid int.
    let status = unsafe {
        tg_jpeg_decode(
            data.as_ptr(),
            data.len() as c_ulong,
            eighths as c_int,
            pixels.as_mut_ptr(),
            len,
            &mut missing_eoi,
            error.as_mut_ptr(),
        )
    };
    if status != 0 {
        return Err(Refusal::new(status, &error));
    }
    // SAFETY: status 0 means the shim wrote all `output_height` rows, the
    // whole `len` bytes (it checked that size against libjpeg's).
    unsafe { pixels.set_len(len as usize) };
    Ok(Decoded {
        width: width as u32,
        height: height as u32,
        pixels,
        missing_eoi: missing_eoi != 0,
    })
}

/// Encode `pixels` (`components` = 1 for gray, 3 for RGB) as a baseline
/// 4:2:0 JPEG at `quality`, embedding `icc` if given.
pub(super) fn encode(
    pixels: &[u8],
    width: u32,
    height: u32,
    components: usize,
    quality: u8,
    icc: Option<&[u8]>,
) -> Result<Vec<u8>, String> {
    if !matches!(components, 1 | 3) {
        return Err(format!("cannot encode {components} components"));
    }
    if pixels.len() != width as usize * height as usize * components {
        return Err("pixel buffer does not match the size".into());
    }
    if width == 0 || height == 0 || width > 65_500 || height > 65_500 {
        return Err(format!("{width}×{height} is outside what JPEG allows"));
    }
    let (icc_ptr, icc_len) = icc.map_or((std::ptr::null(), 0), |p| (p.as_ptr(), p.len()));
    let icc_len = c_uint::try_from(icc_len).map_err(|_| "ICC profile too large".to_string())?;
    let mut out: *mut c_uchar = std::ptr::null_mut();
    let mut out_len: c_ulong = 0;
    let mut error: [c_char; 200] = [0; 200];
    // SAFETY: `pixels` holds width * height * components bytes (checked
    // above) and outlives the call, as does `icc`; the out-pointers are
    // valid, and `error` has the 200 bytes the shim may write.
    let status = unsafe {
        tg_jpeg_encode(
            pixels.as_ptr(),
            width as c_int,
            height as c_int,
            components as c_int,
            c_int::from(quality.clamp(1, 100)),
            icc_ptr,
            icc_len,
            &mut out,
            &mut out_len,
            error.as_mut_ptr(),
        )
    };
    if status != 0 {
        return Err(message(&error));
    }
    // SAFETY: on success `out` is a malloc'd buffer of `out_len` bytes that
    // we own.
    unsafe { take(out, out_len as usize) }.ok_or_else(|| "no output".to_string())
}

// ---------------------------------------------------------------------------
// The render package's side: headers, pixels and refusals in its own types.

/// What the JPEG header says, read before any pixel is decoded.
pub(super) struct Header {
    info: Info,
    orientation: Orientation,
}

impl Header {
    /// The upright size, which decides the decode scale.
    pub(super) fn shape(&self) -> Shape {
        upright_shape(
            (self.info.width, self.info.height),
            self.orientation,
            Coding::Jpeg,
        )
    }
}

fn decode_error(reason: String) -> RenderError {
    RenderError::Decode {
        format: "JPEG",
        reason,
    }
}

fn refused(refusal: Refusal) -> RenderError {
    if !refusal.unsupported {
        return decode_error(refusal.message);
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

/// Reads the header (size, Exif orientation, ICC profile) and checks the
/// size against the limit, before any pixel is decoded.
pub(super) fn read_header(source: &[u8], limits: &Limits) -> Result<Header, RenderError> {
    let info = read_info(source).map_err(refused)?;
    if info.width == 0 || info.height == 0 {
        return Err(decode_error("image has no pixels".into()));
    }
    check_pixels(info.width, info.height, limits)?;
    // Broken Exif is not worth refusing an otherwise good picture.
    let orientation = info
        .exif
        .as_deref()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    Ok(Header { info, orientation })
}

/// Pixels come from libjpeg's (mozjpeg's) DCT-scaled decode: at 1/8 it skips most
/// of the IDCT, upsampling and colour work, which dominate for big photos.
pub(super) fn decode_at_scale(
    source: &[u8],
    header: &Header,
    eighths: u32,
    limits: &Limits,
) -> Result<Source, RenderError> {
    let info = &header.info;
    let (w, h) = (info.width, info.height);
    let max_bytes = limits.max_pixels.saturating_mul(4);
    let decoded = decode(source, info, eighths, max_bytes).map_err(refused)?;
    let (dw, dh) = (decoded.width, decoded.height);
    let leniency = decoded.missing_eoi.then_some(Leniency::JpegWithoutEoi);
    let (px, pixels) = match info.components {
        1 => (Px::Gray, decoded.pixels),
        3 => (Px::Rgb, decoded.pixels),
        4 => (Px::Rgb, cmyk_to_rgb(&decoded.pixels)),
        n => return Err(decode_error(format!("{n} colour components"))),
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
        coding: Coding::Jpeg,
        leniency,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Format;
    use crate::render::test_support::render_all;
    use crate::render::test_support::{
        decode as decode_output, fixture, near, render_err, render_one, rgba_at, variant,
    };
    use crate::variant::Fit;

    fn decode_all(data: &[u8], eighths: u32) -> Result<Decoded, Refusal> {
        decode(data, &read_info(data)?, eighths, u64::MAX)
    }

    #[test]
    fn encodes_baseline_with_standard_tables() {
        let rgb: Vec<u8> = (0..96 * 64 * 3).map(|i| (i * 7 % 256) as u8).collect();
        let jpeg = encode(&rgb, 96, 64, 3, 80, None).unwrap();
        // SOF0 (baseline), no SOF2 (progressive, mozjpeg's own default).
        assert!(jpeg.windows(2).any(|w| w == [0xFF, 0xC0]), "baseline");
        assert!(
            !jpeg.windows(2).any(|w| w == [0xFF, 0xC2]),
            "not progressive"
        );
        // A JFIF APP0 header right after SOI, as libjpeg-turbo writes.
        assert_eq!(&jpeg[..4], &[0xFF, 0xD8, 0xFF, 0xE0]);
        assert_eq!(&jpeg[6..11], b"JFIF\0");
        let back = image::load_from_memory(&jpeg).unwrap().to_rgb8();
        assert_eq!(back.dimensions(), (96, 64));
        // At quality 50 the luminance table is the standard's (Annex K),
        // not one of mozjpeg's alternatives: the first eight in zigzag order.
        let jpeg = encode(&rgb, 96, 64, 3, 50, None).unwrap();
        let dqt = jpeg.windows(2).position(|w| w == [0xFF, 0xDB]).unwrap();
        assert_eq!(jpeg[dqt + 4], 0, "8-bit table 0");
        assert_eq!(&jpeg[dqt + 5..dqt + 13], &[16, 11, 12, 14, 12, 10, 16, 14]);
    }

    #[test]
    fn decodes_at_each_scale() {
        let data = fixture("baseline.jpg");
        let full = decode_all(&data, 8).unwrap();
        for eighths in [1, 2, 4] {
            let d = decode_all(&data, eighths).unwrap();
            assert_eq!(d.width, (full.width * eighths).div_ceil(8));
            assert_eq!(d.pixels.len(), d.width as usize * d.height as usize * 3);
        }
    }

    #[test]
    fn header_gives_exif_and_icc() {
        let info = read_info(&fixture("exif-orientation-6.jpg")).unwrap();
        assert_eq!((info.width, info.height, info.components), (64, 96, 3));
        let exif = info.exif.unwrap();
        assert_eq!(
            image::metadata::Orientation::from_exif_chunk(&exif),
            Some(image::metadata::Orientation::Rotate90)
        );
        let icc = read_info(&fixture("icc.jpg")).unwrap().icc.unwrap();
        assert_eq!(&icc[36..40], b"acsp", "a whole ICC profile");
        assert_eq!(read_info(&fixture("grayscale.jpg")).unwrap().components, 1);
        assert_eq!(read_info(&fixture("cmyk.jpg")).unwrap().components, 4);
    }

    #[test]
    fn truncated_and_garbage_are_errors() {
        let data = fixture("baseline.jpg");
        for bad in [&data[..data.len() / 2], b"not a jpeg", &[]] {
            let refusal = decode_all(bad, 8).err().unwrap();
            assert!(!refusal.unsupported, "{}", refusal.message);
        }
    }

    #[test]
    fn processes_libjpeg_lacks_are_told_apart_from_damage() {
        // The frame header of a baseline file, patched to 12-bit.
        let mut twelve = fixture("baseline.jpg");
        let sof = twelve.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        twelve[sof + 4] = 12;
        let refusal = read_info(&twelve).err().unwrap();
        assert!(refusal.unsupported, "{}", refusal.message);
    }

    #[test]
    fn encodes_what_decodes_back() {
        let gray: Vec<u8> = (0..64 * 48).map(|i| (i % 251) as u8).collect();
        let jpeg = encode(&gray, 64, 48, 1, 90, None).unwrap();
        let back = decode_all(&jpeg, 8).unwrap();
        assert_eq!(
            (back.width, back.height, back.pixels.len()),
            (64, 48, 64 * 48)
        );
        let rgb = vec![200u8; 30 * 20 * 3];
        let icc = vec![7u8; 300];
        let jpeg = encode(&rgb, 30, 20, 3, 80, Some(&icc)).unwrap();
        assert_eq!(
            encode(&rgb, 30, 20, 3, 80, Some(&icc)).unwrap(),
            jpeg,
            "deterministic"
        );
        assert!(jpeg.windows(12).any(|w| w == b"ICC_PROFILE\0"));
        assert!(encode(&rgb, 31, 20, 3, 80, None).is_err(), "size mismatch");
    }

    #[test]
    fn size_limit_is_checked_before_decoding() {
        let data = fixture("baseline.jpg");
        let err = decode(&data, &read_info(&data).unwrap(), 8, 16)
            .err()
            .unwrap();
        assert!(err.message.contains("bytes"), "{}", err.message);
        assert!(!err.unsupported);
    }

    #[test]
    fn cmyk_jpeg_colours_match_pillow() {
        let expected = image::load_from_memory(&fixture("cmyk-expected-rgb.png")).unwrap();
        let r = render_one("cmyk.jpg", &variant(64, 48, Fit::Contain, Format::Png));
        let got = decode_output(&r);
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
    fn oversized_jpeg_is_refused_from_its_frame_header() {
        let v = variant(64, 64, Fit::Contain, Format::Jpeg);
        let e = render_all(&fixture("baseline.jpg"), &[0], &[v], &Limits::new(10_000)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "image is 160×120 (0.019 Mpx), more than max_pixels (0.010 Mpx)"
        );
    }

    #[test]
    fn damaged_and_unsupported_jpegs_give_a_readable_error() {
        let msg = render_err(&fixture("truncated.jpg"));
        assert!(msg.starts_with("corrupt or truncated JPEG data"), "{msg}");
        // (One cut right before its EOI marker is whole, and builds:
        // input_tests.)
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
    }
}
