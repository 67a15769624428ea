//! AV1 payloads to planes, by rav1d, the Rust port of dav1d, driven
//! through its dav1d-compatible C ABI, its only public interface. A panic
//! inside it (it has some on damaged data) cannot unwind through that ABI
//! and aborts the process: `isolate` runs it in a helper process.

use std::ffi::c_int;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use rav1d::include::dav1d::data::Dav1dData;
use rav1d::include::dav1d::dav1d::{Dav1dContext, Dav1dSettings};
use rav1d::include::dav1d::headers::{
    Dav1dSequenceHeader, DAV1D_PIXEL_LAYOUT_I400, DAV1D_PIXEL_LAYOUT_I420, DAV1D_PIXEL_LAYOUT_I422,
};
use rav1d::include::dav1d::picture::Dav1dPicture;
use rav1d::src::lib as dav1d;

use super::pixels::check_pixels;
use super::{Limits, RenderError};

const NAME: &str = "AVIF";

/// One decoded AV1 frame: its planes, copied out of the decoder.
pub(super) struct Frame {
    pub(super) width: u32,
    pub(super) height: u32,
    /// dav1d's pixel layout (`DAV1D_PIXEL_LAYOUT_*`).
    pub(super) layout: u32,
    /// Bits per sample: 8, 10 or 12.
    pub(super) bits: u32,
    pub(super) full_range: bool,
    /// H.273 matrix coefficients, as the sequence header gives them.
    pub(super) matrix: u32,
    /// Y, U, V samples, one u16 each whatever the depth.
    pub(super) planes: [Vec<u16>; 3],
    /// Chroma subsampling shifts (x, y).
    pub(super) shift: (u32, u32),
}

/// A decoder context, closed on drop.
struct Context(Option<Dav1dContext>);

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: the context came from `dav1d_open` and is closed once.
        unsafe { dav1d::dav1d_close(NonNull::new(&mut self.0)) };
    }
}

/// A picture handed out by the decoder, released on drop.
struct Picture(Dav1dPicture);

impl Drop for Picture {
    fn drop(&mut self) {
        // SAFETY: the picture came from `dav1d_get_picture` (or is the
        // empty default, which unref ignores) and is released once.
        unsafe { dav1d::dav1d_picture_unref(NonNull::new(&mut self.0)) };
    }
}

/// "Not yet", as rav1d says it: the negated errno.
const EAGAIN: c_int = -libc::EAGAIN;

/// Decodes one AV1 still frame, refusing more than `max_pixels` from its
/// sequence header before any frame buffer is allocated.
pub(super) fn decode(coded: &[u8], limits: &Limits) -> Result<Frame, RenderError> {
    if coded.is_empty() {
        return Err(RenderError::decode(NAME, "the image item has no data"));
    }
    let mut header = MaybeUninit::<Dav1dSequenceHeader>::zeroed();
    // SAFETY: `header` is writable, `coded` is a valid slice of its length.
    let status = unsafe {
        dav1d::dav1d_parse_sequence_header(
            NonNull::new(header.as_mut_ptr()),
            NonNull::new(coded.as_ptr().cast_mut()),
            coded.len(),
        )
    };
    if status.0 != 0 {
        return Err(RenderError::decode(NAME, "no valid AV1 sequence header"));
    }
    // SAFETY: initialised by the successful call above.
    let header = unsafe { header.assume_init() };
    let (w, h) = (
        header.max_width.max(0) as u32,
        header.max_height.max(0) as u32,
    );
    if w == 0 || h == 0 {
        return Err(RenderError::decode(NAME, "image has no pixels"));
    }
    check_pixels(w, h, limits)?;

    let mut settings = MaybeUninit::<Dav1dSettings>::uninit();
    // SAFETY: writes a whole default settings struct.
    unsafe { dav1d::dav1d_default_settings(NonNull::new(settings.as_mut_ptr()).unwrap()) };
    // SAFETY: initialised just above.
    let mut settings = unsafe { settings.assume_init() };
    // Outputs are decoded in parallel, one source per worker already.
    settings.n_threads = 1;
    settings.max_frame_delay = 1;
    // Film grain is part of the picture as its author meant it to be seen.
    settings.apply_grain = 1;
    settings.all_layers = 0;
    settings.frame_size_limit = u32::try_from(limits.max_pixels).unwrap_or(u32::MAX);
    let mut context = Context(None);
    // SAFETY: both pointers are valid for the call.
    let status =
        unsafe { dav1d::dav1d_open(NonNull::new(&mut context.0), NonNull::new(&mut settings)) };
    if status.0 != 0 || context.0.is_none() {
        return Err(RenderError::decode(NAME, "the AV1 decoder could not start"));
    }

    let mut data = Dav1dData::default();
    // SAFETY: `data` is writable; the call allocates `coded.len()` bytes.
    let buffer = unsafe { dav1d::dav1d_data_create(NonNull::new(&mut data), coded.len()) };
    if buffer.is_null() {
        return Err(RenderError::decode(
            NAME,
            "image needs more memory than allowed",
        ));
    }
    // SAFETY: `buffer` holds `coded.len()` writable bytes, just allocated.
    unsafe { std::ptr::copy_nonoverlapping(coded.as_ptr(), buffer, coded.len()) };
    let mut picture = Picture(Dav1dPicture::default());
    let mut got = false;
    // A still image is one temporal unit: send it, then take its picture.
    for _ in 0..64 {
        if data.sz > 0 {
            // SAFETY: the context is open; `data` came from `dav1d_data_create`.
            let status = unsafe { dav1d::dav1d_send_data(context.0, NonNull::new(&mut data)) };
            if status.0 != 0 && status.0 != EAGAIN {
                // SAFETY: releases what `dav1d_data_create` allocated.
                unsafe { dav1d::dav1d_data_unref(NonNull::new(&mut data)) };
                return Err(RenderError::decode(NAME, "invalid AV1 data"));
            }
        }
        // SAFETY: the context is open; `picture.0` is writable.
        let status = unsafe { dav1d::dav1d_get_picture(context.0, NonNull::new(&mut picture.0)) };
        if status.0 == 0 {
            got = true;
            break;
        }
        if status.0 != EAGAIN {
            break;
        }
    }
    if data.sz > 0 {
        // SAFETY: releases what `dav1d_data_create` allocated.
        unsafe { dav1d::dav1d_data_unref(NonNull::new(&mut data)) };
    }
    if !got {
        return Err(RenderError::decode(
            NAME,
            "the AV1 data holds no complete picture",
        ));
    }
    frame(&picture.0, &header)
}

/// Copies a decoded picture's planes out of the decoder's buffers.
fn frame(picture: &Dav1dPicture, header: &Dav1dSequenceHeader) -> Result<Frame, RenderError> {
    let p = &picture.p;
    let (width, height) = (p.w.max(0) as u32, p.h.max(0) as u32);
    let bits = p.bpc.max(0) as u32;
    if width == 0 || height == 0 {
        return Err(RenderError::decode(NAME, "image has no pixels"));
    }
    if !matches!(bits, 8 | 10 | 12) {
        return Err(RenderError::unsupported_variant(
            NAME,
            format!("{bits}-bit samples"),
        ));
    }
    let layout = p.layout;
    let shift = match layout {
        DAV1D_PIXEL_LAYOUT_I420 => (1, 1),
        DAV1D_PIXEL_LAYOUT_I422 => (1, 0),
        _ => (0, 0),
    };
    // The picture's own sequence header is the one it was coded with.
    // SAFETY: a decoded picture's header pointer is valid while it is held.
    let seq = picture
        .seq_hdr
        .map(|h| unsafe { h.as_ref() })
        .unwrap_or(header);
    let wide = bits > 8;
    let plane = |index: usize, w: u32, h: u32| -> Result<Vec<u16>, RenderError> {
        let base =
            picture.data[index].ok_or_else(|| RenderError::decode(NAME, "a plane is missing"))?;
        let stride = picture.stride[index.min(1)];
        let mut out = Vec::with_capacity(w as usize * h as usize);
        for y in 0..h as isize {
            // SAFETY: dav1d's planes hold `h` rows of at least `w` samples,
            // `stride` bytes apart, valid while the picture is held.
            unsafe {
                let row = base.as_ptr().cast::<u8>().offset(y * stride);
                if wide {
                    let row = std::slice::from_raw_parts(row.cast::<u16>(), w as usize);
                    out.extend_from_slice(row);
                } else {
                    let row = std::slice::from_raw_parts(row, w as usize);
                    out.extend(row.iter().map(|&v| u16::from(v)));
                }
            }
        }
        Ok(out)
    };
    let y = plane(0, width, height)?;
    let (cw, ch) = ((width + shift.0) >> shift.0, (height + shift.1) >> shift.1);
    let (u, v) = if layout == DAV1D_PIXEL_LAYOUT_I400 {
        (Vec::new(), Vec::new())
    } else {
        (plane(1, cw, ch)?, plane(2, cw, ch)?)
    };
    Ok(Frame {
        width,
        height,
        layout,
        bits,
        full_range: seq.color_range != 0,
        matrix: seq.mtrx,
        planes: [y, u, v],
        shift,
    })
}
