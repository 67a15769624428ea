//! thumbgen's resize: Lanczos3 on 8-bit grey, RGB or RGBA pixels, through
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
        (width, height): (u32, u32),
        pixels: Pixels,
        crop: Crop,
        out: (u32, u32),
    ) -> Result<Vec<u8>, String> {
        let options = fr::ResizeOptions::new()
            .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3))
            .crop(crop.left, crop.top, crop.width, crop.height);
        let mut dst = vec![0u8; out.0 as usize * out.1 as usize * pixels.bytes()];
        match pixels {
            Pixels::Gray => {
                self.typed::<fr::pixels::U8>(src, (width, height), &mut dst, out, &options)
            }
            Pixels::Rgb => {
                self.typed::<fr::pixels::U8x3>(src, (width, height), &mut dst, out, &options)
            }
            Pixels::Rgba => {
                self.typed::<fr::pixels::U8x4>(src, (width, height), &mut dst, out, &options)
            }
        }?;
        Ok(dst)
    }

    fn typed<P: fr::PixelTrait>(
        &mut self,
        src: &[u8],
        (width, height): (u32, u32),
        dst: &mut [u8],
        out: (u32, u32),
        options: &fr::ResizeOptions,
    ) -> Result<(), String> {
        let src = fr::images::TypedImageRef::<P>::from_buffer(width, height, src)
            .map_err(|e| e.to_string())?;
        let mut dst = fr::images::TypedImage::<P>::from_buffer(out.0, out.1, dst)
            .map_err(|e| e.to_string())?;
        self.0
            .resize_typed(&src, &mut dst, options)
            .map_err(|e| e.to_string())
    }
}
