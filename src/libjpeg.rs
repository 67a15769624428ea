//! Safe wrapper over `src/jpeg_shim.c`: scaled JPEG decoding by the system
//! libjpeg-turbo. The shim owns every libjpeg struct; only plain integers,
//! a byte buffer and an error string cross the boundary.

use std::ffi::{c_char, c_int, c_uchar, c_uint, c_ulong, c_ulonglong, CStr};

#[repr(C)]
struct TgJpegImage {
    pixels: *mut c_uchar,
    width: c_int,
    height: c_int,
    components: c_int,
    error: [c_char; 200],
}

extern "C" {
    fn tg_jpeg_decode(
        data: *const c_uchar,
        len: c_ulong,
        eighths: c_int,
        max_bytes: c_ulonglong,
        out: *mut TgJpegImage,
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

/// Decoded pixels: 1 (gray), 3 (RGB) or 4 (CMYK ink) bytes per pixel.
pub struct Decoded {
    pub width: u32,
    pub height: u32,
    pub components: usize,
    pub pixels: Vec<u8>,
}

/// Decode `data` at `eighths`/8 of its size (1, 2, 4 or 8), refusing a
/// decoded buffer larger than `max_bytes` before allocating it.
pub fn decode(data: &[u8], eighths: u32, max_bytes: u64) -> Result<Decoded, String> {
    debug_assert!(matches!(eighths, 1 | 2 | 4 | 8));
    let mut out = TgJpegImage {
        pixels: std::ptr::null_mut(),
        width: 0,
        height: 0,
        components: 0,
        error: [0; 200],
    };
    // SAFETY: `data` outlives the call and is only read; `out` is a valid,
    // exclusively borrowed struct of the layout the shim declares.
    let status = unsafe {
        tg_jpeg_decode(
            data.as_ptr(),
            data.len() as c_ulong,
            eighths as c_int,
            max_bytes,
            &mut out,
        )
    };
    if status != 0 {
        // SAFETY: the shim always NUL-terminates `error` on failure.
        let message = unsafe { CStr::from_ptr(out.error.as_ptr()) };
        return Err(message.to_string_lossy().into_owned());
    }
    let (width, height, components) =
        (out.width as u32, out.height as u32, out.components as usize);
    let len = width as usize * height as usize * components;
    // SAFETY: on success the shim hands over a malloc'd buffer of exactly
    // width * height * components bytes, freed right after the copy.
    let pixels = unsafe {
        let copy = std::slice::from_raw_parts(out.pixels, len).to_vec();
        tg_jpeg_free(out.pixels);
        copy
    };
    Ok(Decoded {
        width,
        height,
        components,
        pixels,
    })
}

/// Encode `pixels` (`components` = 1 for gray, 3 for RGB) as a baseline
/// 4:2:0 JPEG at `quality`, embedding `icc` if given.
pub fn encode(
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
        // SAFETY: the shim NUL-terminates `error` on failure.
        let message = unsafe { CStr::from_ptr(error.as_ptr()) };
        return Err(message.to_string_lossy().into_owned());
    }
    // SAFETY: on success `out` is a malloc'd buffer of `out_len` bytes that
    // we own; it is freed right after the copy.
    let bytes = unsafe {
        let copy = std::slice::from_raw_parts(out, out_len as usize).to_vec();
        tg_jpeg_free(out);
        copy
    };
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn decodes_at_each_scale() {
        let data = fixture("baseline.jpg");
        let full = decode(&data, 8, u64::MAX).unwrap();
        for eighths in [1, 2, 4] {
            let d = decode(&data, eighths, u64::MAX).unwrap();
            assert_eq!(d.width, (full.width * eighths).div_ceil(8));
            assert_eq!(d.pixels.len(), d.width as usize * d.height as usize * 3);
        }
    }

    #[test]
    fn truncated_and_garbage_are_errors() {
        let data = fixture("baseline.jpg");
        assert!(decode(&data[..data.len() / 2], 8, u64::MAX).is_err());
        assert!(decode(b"not a jpeg", 8, u64::MAX).is_err());
        assert!(decode(&[], 8, u64::MAX).is_err());
    }

    #[test]
    fn encodes_what_decodes_back() {
        let gray: Vec<u8> = (0..64 * 48).map(|i| (i % 251) as u8).collect();
        let jpeg = encode(&gray, 64, 48, 1, 90, None).unwrap();
        let back = decode(&jpeg, 8, u64::MAX).unwrap();
        assert_eq!((back.width, back.height, back.components), (64, 48, 1));
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
        let err = decode(&data, 8, 16).err().unwrap();
        assert!(err.contains("bytes"), "{err}");
    }
}
