//! What every decoder hands on and every later step reads: [`Source`], a
//! decoded image with its channel layout ([`Px`]), orientation, profile
//! and the scale it was decoded at; and the size check every decoder makes
//! before it allocates. It lives apart from any one decoder, so that the
//! decoders import it and not each other.

use image::metadata::Orientation;

use super::orient::upright_shape;
use super::{Leniency, Limits, RenderError};
use crate::model::{Coding, Shape};

/// The channel layout of decoded pixels, 8 bits each.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Px {
    Gray,
    Rgb,
    Rgba,
}

impl Px {
    pub(super) fn channels(self) -> usize {
        match self {
            Px::Gray => 1,
            Px::Rgb => 3,
            Px::Rgba => 4,
        }
    }
}

/// Decoded pixels in the stored (not yet EXIF-rotated) orientation, 8 bits a
/// channel, possibly at a DCT-reduced scale.
pub(super) struct Source {
    /// Size of the full-resolution stored image.
    pub(super) full: (u32, u32),
    /// Decoded pixels per full-resolution pixel (1, 1/2, 1/4 or 1/8).
    pub(super) scale: f64,
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) px: Px,
    pub(super) pixels: Vec<u8>,
    pub(super) orientation: Orientation,
    pub(super) icc: Option<Vec<u8>>,
    /// How the file is coded (a JPEG, an animation, or neither).
    pub(super) coding: Coding,
    /// A flaw read past, as browsers do.
    pub(super) leniency: Option<Leniency>,
}

impl Source {
    /// A decode at full size (every format but JPEG). An alpha channel
    /// that is opaque everywhere is dropped, so that outputs are plain RGB
    /// and the resize skips alpha premultiplication.
    pub(super) fn whole(
        (width, height): (u32, u32),
        px: Px,
        pixels: Vec<u8>,
        orientation: Orientation,
        icc: Option<Vec<u8>>,
    ) -> Source {
        let (px, pixels) = if px == Px::Rgba && pixels.chunks_exact(4).all(|p| p[3] == 255) {
            (Px::Rgb, rgba_to_rgb(pixels))
        } else {
            (px, pixels)
        };
        Source {
            full: (width, height),
            scale: 1.0,
            width,
            height,
            px,
            pixels,
            orientation,
            icc,
            coding: Coding::Whole,
            leniency: None,
        }
    }

    /// The upright size, as the planner records it.
    pub(super) fn shape(&self) -> Shape {
        upright_shape(self.full, self.orientation, self.coding)
    }
}

/// Refuses a source larger than `max_pixels`, from its header, before
/// anything of that size is allocated.
pub(super) fn check_pixels(width: u32, height: u32, limits: &Limits) -> Result<(), RenderError> {
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(RenderError::TooLarge {
            width,
            height,
            max_pixels: limits.max_pixels,
        });
    }
    Ok(())
}

/// RGBA pixels without their alpha channel, in place.
pub(super) fn rgba_to_rgb(mut pixels: Vec<u8>) -> Vec<u8> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_alpha_is_dropped_in_place() {
        let rgba: Vec<u8> = (0..40u8).collect();
        let rgb = rgba_to_rgb(rgba.clone());
        let expected: Vec<u8> = rgba.chunks(4).flat_map(|p| p[..3].to_vec()).collect();
        assert_eq!(rgb, expected);
        assert!(rgba_to_rgb(Vec::new()).is_empty());
    }
}
