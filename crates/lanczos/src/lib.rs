//! thumbgen's resize: Lanczos3 (and 2×2 box halving) on 8-bit grey, RGB or RGBA pixels, through
//! `fast_image_resize`, behind one function that is not generic.
//!
//! Why a crate of its own: `fast_image_resize`'s `Resizer::resize` is
//! generic, so its kernels (a copy per pixel type, CPU extension and row
//! count: over a million lines of LLVM IR) are compiled in whichever crate
//! calls it. Called from thumbgen, they were a third of its code and were
//! compiled twice by `cargo test` (the library and its unit tests), and
//! again after every edit. Called here, they are compiled once, and only
//! for the three pixel types thumbgen has: `resize_typed` per type rather
//! than `resize`, whose run-time pixel type compiles the kernels of all
//! of them (16-bit, float, ...) for nothing.

use fast_image_resize as fr;

pub use fast_image_resize::CpuExtensions;

/// How the bytes of a pixel are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pixels {
    /// One byte: grey.
    Gray,
    /// Three bytes: red, green, blue.
    Rgb,
    /// Four bytes: red, green, blue, alpha (not premultiplied).
    Rgba,
}

impl Pixels {
    fn bytes(self) -> usize {
        match self {
            Pixels::Gray => 1,
            Pixels::Rgb => 3,
            Pixels::Rgba => 4,
        }
    }
}

/// A region of the source in its pixels, fractions allowed: left, top,
/// width, height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crop {
    /// Left edge.
    pub left: f64,
    /// Top edge.
    pub top: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

/// Reusable buffers of the resize; one per thread.
#[derive(Default)]
pub struct Resizer(fr::Resizer);

impl Resizer {
    /// A resizer with the fastest kernels this CPU has.
    pub fn new() -> Resizer {
        Resizer(fr::Resizer::new())
    }

    /// A resizer limited to `extensions`, or `None` when this CPU lacks
    /// them (tests compare the kernels with each other).
    pub fn with_cpu_extensions(extensions: CpuExtensions) -> Option<Resizer> {
        if !extensions.is_supported() {
            return None;
        }
        let mut resizer = fr::Resizer::new();
        // SAFETY: the CPU reports the extensions (checked above).
        unsafe { resizer.set_cpu_extensions(extensions) };
        Some(Resizer(resizer))
    }

    /// `crop` of the `width`×`height` image `src`, resized with Lanczos3 to
    /// `out` (width, height): the output's pixels, in the same layout.
    /// Errors are `fast_image_resize`'s, in its words.
    pub fn resize(
        &mut self,
        src: &[u8],
        size: (u32, u32),
        pixels: Pixels,
        crop: Crop,
        out: (u32, u32),
    ) -> Result<Vec<u8>, String> {
        let options = fr::ResizeOptions::new()
            .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3))
            .crop(crop.left, crop.top, crop.width, crop.height);
        let mut dst = vec![0u8; out.0 as usize * out.1 as usize * pixels.bytes()];
        self.resize_into(src, size, pixels, &mut dst, (out, out), &options)?;
        Ok(dst)
    }

    /// The `width`×`height` image `src` at half its size (rounded up),
    /// each pixel the mean of its 2×2 box, colour weighted by alpha: a
    /// cheap reduction before a Lanczos3 resize, with the same SIMD
    /// kernels. Pixel `i` of the half is exactly pixels `2i` and `2i + 1`;
    /// a last odd row or column is averaged with itself. (Letting the box
    /// stretch over it instead shifts the far edge by up to a pixel, which
    /// cost 12 dB PSNR in a test against a full-size resize.)
    pub fn halve(
        &mut self,
        src: &[u8],
        (width, height): (u32, u32),
        pixels: Pixels,
    ) -> Result<Vec<u8>, String> {
        let out = (width.div_ceil(2), height.div_ceil(2));
        let mut dst = vec![0u8; out.0 as usize * out.1 as usize * pixels.bytes()];
        let whole_boxes = (width / 2, height / 2);
        if whole_boxes.0 > 0 && whole_boxes.1 > 0 {
            let options = fr::ResizeOptions::new()
                .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Box))
                .crop(
                    0.0,
                    0.0,
                    f64::from(2 * whole_boxes.0),
                    f64::from(2 * whole_boxes.1),
                );
            let size = (width, height);
            self.resize_into(src, size, pixels, &mut dst, (out, whole_boxes), &options)?;
        }
        halve_odd_edges(src, (width, height), pixels, &mut dst);
        Ok(dst)
    }

    /// `options`' crop of the `width`×`height` image `src`, resized into
    /// the top left `within` of `dst`, an image of size `out`.
    fn resize_into(
        &mut self,
        src: &[u8],
        size: (u32, u32),
        pixels: Pixels,
        dst: &mut [u8],
        (out, within): ((u32, u32), (u32, u32)),
        options: &fr::ResizeOptions,
    ) -> Result<(), String> {
        match pixels {
            Pixels::Gray => self.typed::<fr::pixels::U8>(src, size, dst, out, within, options),
            Pixels::Rgb => self.typed::<fr::pixels::U8x3>(src, size, dst, out, within, options),
            Pixels::Rgba => self.typed::<fr::pixels::U8x4>(src, size, dst, out, within, options),
        }
    }

    fn typed<P: fr::PixelTrait>(
        &mut self,
        src: &[u8],
        (width, height): (u32, u32),
        dst: &mut [u8],
        out: (u32, u32),
        within: (u32, u32),
        options: &fr::ResizeOptions,
    ) -> Result<(), String> {
        let src = fr::images::TypedImageRef::<P>::from_buffer(width, height, src)
            .map_err(|e| e.to_string())?;
        let mut dst = fr::images::TypedImage::<P>::from_buffer(out.0, out.1, dst)
            .map_err(|e| e.to_string())?;
        let mut view =
            fr::images::TypedCroppedImageMut::from_ref(&mut dst, 0, 0, within.0, within.1)
                .map_err(|e| e.to_string())?;
        self.0
            .resize_typed(&src, &mut view, options)
            .map_err(|e| e.to_string())
    }
}

/// The last column and row of a half of `src` where its width or height is
/// odd: each the mean of the two pixels (or the one) it covers.
fn halve_odd_edges(src: &[u8], (width, height): (u32, u32), pixels: Pixels, dst: &mut [u8]) {
    let (w, h) = (width as usize, height as usize);
    let (out_w, out_h) = (w.div_ceil(2), h.div_ceil(2));
    let n = pixels.bytes();
    let at = |x: usize, y: usize| &src[(y * w + x) * n..][..n];
    let mut put = |x: usize, y: usize, from: &[&[u8]]| {
        mean_into(from, pixels, &mut dst[(y * out_w + x) * n..][..n]);
    };
    if w % 2 == 1 {
        for y in 0..h / 2 {
            put(out_w - 1, y, &[at(w - 1, 2 * y), at(w - 1, 2 * y + 1)]);
        }
    }
    if h % 2 == 1 {
        for x in 0..w / 2 {
            put(x, out_h - 1, &[at(2 * x, h - 1), at(2 * x + 1, h - 1)]);
        }
    }
    if w % 2 == 1 && h % 2 == 1 {
        put(out_w - 1, out_h - 1, &[at(w - 1, h - 1)]);
    }
}

/// The mean of `from`, rounded to nearest, into `out`; with alpha, colour
/// weighted by it (a wholly transparent mean has no colour).
fn mean_into(from: &[&[u8]], pixels: Pixels, out: &mut [u8]) {
    let count = from.len() as u32;
    let mean = |sum: u32, of: u32| (sum + of / 2).checked_div(of).unwrap_or(0) as u8;
    if pixels != Pixels::Rgba {
        for (c, value) in out.iter_mut().enumerate() {
            *value = mean(from.iter().map(|p| u32::from(p[c])).sum(), count);
        }
        return;
    }
    let alpha: u32 = from.iter().map(|p| u32::from(p[3])).sum();
    for (c, value) in out[..3].iter_mut().enumerate() {
        let weighted = from.iter().map(|p| u32::from(p[c]) * u32::from(p[3])).sum();
        *value = mean(weighted, alpha);
    }
    out[3] = mean(alpha, count);
}
