//! Pure bytes -> bytes thumbnail rendering: sniff the content, decode, then
//! crop, resize, orient and encode once per variant. Nothing here touches the
//! disk, so the caller decides about paths, hashing and atomic writes.
//!
//! A source is decoded once for all its variants, the way
//! [`geometry::derivation`] says for the whole configured set: JPEGs at one
//! DCT scale, and smaller variants resized from larger ones. An output
//! depends only on the source bytes, its own variant's settings and that
//! derivation (which the caller records), never on which other variants
//! happen to be rendered in the same call.
//!
//! One file per step: `sniff` picks the decoder; `decode` (with `bmp` and
//! `tiff_ycbcr` for what `image` refuses), `jpeg` (shrunk on load), `jxl`,
//! and behind [`isolate`]'s helper process `avif` (with `av1`) and `heic`
//! decode; [`geometry`] sizes every variant, `resize` makes its pixels,
//! `orient` turns them upright and `encode` writes the output format. This
//! file holds the entry point, the types the caller sees, and the order of
//! the steps.

use crate::model::Placeholders;
use crate::model::{Placeholder, Shape};
use crate::variant::Variant;

mod av1;
mod avif;
mod bmp;
mod decode;
mod encode;
mod ends;
pub mod geometry;
#[cfg(feature = "heic")]
mod heic;
#[cfg(test)]
mod input_tests;
pub mod isolate;
mod jpeg;
mod jxl;
mod orient;
mod pixels;
mod placeholder;
mod resize;
mod smartcrop;
mod sniff;
#[cfg(test)]
mod test_support;
mod tiff_ycbcr;

use geometry::derivation;
use sniff::{sniff, Kind};

/// Resource limits for one render.
pub struct Limits {
    /// Largest accepted source, in pixels (width × height), checked from the
    /// header before anything of that size is allocated.
    pub max_pixels: u64,
    /// How long a decoder in the helper process ([`isolate`]) may take for
    /// one source before it is killed and the source fails.
    pub decode_timeout: std::time::Duration,
}

impl Limits {
    /// `max_pixels`, with the default decode timeout.
    pub const fn new(max_pixels: u64) -> Limits {
        Limits {
            max_pixels,
            decode_timeout: DEFAULT_DECODE_TIMEOUT,
        }
    }
}

/// [`Limits::decode_timeout`] unless configured: far more than any sound
/// image needs (the largest AVIF the tests decode takes under a second).
pub const DEFAULT_DECODE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// One encoded output.
#[derive(Debug)]
pub struct Rendered {
    /// Pixel width as written (upright).
    pub width: u32,
    /// Pixel height as written (upright).
    pub height: u32,
    /// The encoded file, ready to be written.
    pub bytes: Vec<u8>,
    /// The chain of resizes it was made through (`Derivation::via`).
    pub via: u64,
}

/// Why a source could not be rendered. The message names no path: the
/// caller knows which file it was.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The source has no bytes.
    #[error("empty file")]
    Empty,
    /// The content matches no image format we know of.
    #[error("not an image (unrecognised content)")]
    NotAnImage,
    /// A known image format that no decoder here reads (such as AVIF or
    /// HEIF), by name.
    #[error("unsupported image format ({0})")]
    Unsupported(&'static str),
    /// A supported format, but a kind of it the decoder does not implement
    /// (e.g. 12-bit JPEG, an unknown pixel layout), rather than damaged data.
    #[error("{format} variant not supported: {reason}")]
    UnsupportedVariant {
        /// The format's name.
        format: &'static str,
        /// What the decoder does not support.
        reason: String,
    },
    /// The header gives more pixels than [`Limits::max_pixels`]; refused
    /// before decoding.
    #[error(
        "image is {width}×{height} ({} Mpx), more than max_pixels ({} Mpx)",
        mpx(u64::from(*.width) * u64::from(*.height)),
        mpx(*.max_pixels)
    )]
    TooLarge {
        /// Stored width in pixels, from the header.
        width: u32,
        /// Stored height in pixels, from the header.
        height: u32,
        /// The limit it exceeds.
        max_pixels: u64,
    },
    /// The data is damaged or truncated, or holds no pixels.
    #[error("corrupt or truncated {format} data: {reason}")]
    Decode {
        /// The format's name.
        format: &'static str,
        /// What is wrong with the data.
        reason: String,
    },
    /// A configured variant that cannot be rendered (an empty box).
    #[error("variant `{name}`: {reason}")]
    Variant {
        /// The variant's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The decoder in the helper process was still at work after
    /// [`Limits::decode_timeout`], and was stopped.
    #[error(
        "the {format} decoder did not finish within {seconds} s and was stopped \
         (`decode_timeout` in the config sets how long it may take)"
    )]
    TimedOut {
        /// The format's name.
        format: &'static str,
        /// The deadline it missed, in seconds.
        seconds: f64,
    },
    /// The resizer failed, in its words.
    #[error("could not resize: {0}")]
    Resize(String),
    /// The encoder of the output format failed.
    #[error("could not encode {format}: {reason}")]
    Encode {
        /// The output format's name.
        format: &'static str,
        /// The encoder's complaint.
        reason: String,
    },
}

impl RenderError {
    /// Damaged or truncated `format` data.
    pub(crate) fn decode(format: &'static str, reason: impl Into<String>) -> RenderError {
        RenderError::Decode {
            format,
            reason: reason.into(),
        }
    }

    /// A kind of `format` its decoder does not implement.
    pub(crate) fn unsupported_variant(
        format: &'static str,
        reason: impl Into<String>,
    ) -> RenderError {
        RenderError::UnsupportedVariant {
            format,
            reason: reason.into(),
        }
    }
}

/// Megapixels for messages, with as many decimals as small numbers need.
fn mpx(pixels: u64) -> String {
    let m = pixels as f64 / 1e6;
    if m >= 10.0 {
        format!("{m:.0}")
    } else if m >= 0.1 {
        format!("{m:.1}")
    } else {
        format!("{m:.3}")
    }
}

/// A flaw in a source that was read past, as browsers do, and that the
/// caller should warn about: the outputs are whole, the file is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leniency {
    /// A JPEG whose image data is complete but whose end marker (EOI) is
    /// missing, as when a copy stops two bytes short.
    JpegWithoutEoi,
    /// A file of another format whose image data is complete but that
    /// ends before its own structure says it does.
    CutShort {
        /// The format, in words.
        format: &'static str,
        /// What is missing, in words ("its end chunk (IEND) is missing").
        what: &'static str,
    },
}

/// What the source was, for the record: its shape (upright size, and
/// whether it is a JPEG) and the JPEG DCT scale it was decoded at (8 = full
/// size, always for other formats).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// Upright size, and whether it is a JPEG.
    pub shape: Shape,
    /// The JPEG DCT scale it was decoded at, in eighths.
    pub eighths: u8,
    /// Its placeholders, when asked for.
    pub placeholder: Option<Box<Placeholder>>,
    /// A flaw read past.
    pub leniency: Option<Leniency>,
}

/// The upright shape of `source` from its header alone, for a plan that
/// has no record of it: which members of a set it gets is then known
/// before any decode. `None` where only a decode tells (AVIF, HEIF and
/// JPEG XL, decoded in a helper or whole) or the header cannot be read
/// from these bytes (a prefix of the file may be enough).
pub fn probe(source: &[u8]) -> Option<Shape> {
    match sniff(source).ok()? {
        Kind::Jpeg => {
            let unlimited = Limits::new(u64::MAX);
            jpeg::read_header(source, &unlimited)
                .ok()
                .map(|h| h.shape())
        }
        Kind::Other(format) => decode::probe_other(source, format),
        _ => None,
    }
}

/// Decode `source` once and produce the outputs of the variants `wanted`
/// (indices into `all`, the configured set), in that order — `None` for a
/// member of a set that this source gets no output of
/// ([`geometry::is_made`]) — made the way
/// [`geometry::derivation`] says for the whole set: the decode scale, and the
/// larger variant each is resized from. An output thus depends on the
/// source, its own settings and that derivation (which the caller records),
/// never on which other variants happen to be rendered in this call.
/// `placeholders` are made from the same decode.
pub fn render(
    source: &[u8],
    wanted: &[usize],
    all: &[Variant],
    limits: &Limits,
    placeholders: Placeholders,
) -> Result<(Vec<Option<Rendered>>, SourceInfo), RenderError> {
    for v in all {
        // `geometry` cannot size an empty box; config validation should have
        // caught this, but a bad variant must not take the process down.
        if v.width == 0 || v.height == 0 {
            return Err(RenderError::Variant {
                name: v.name.clone(),
                reason: "width and height must be at least 1".into(),
            });
        }
    }
    let (src, derivation) = match sniff(source)? {
        Kind::Jpeg => {
            let header = jpeg::read_header(source, limits)?;
            let derivation = derivation(header.shape(), all);
            let eighths = u32::from(derivation.eighths);
            (
                jpeg::decode_at_scale(source, &header, eighths, limits)?,
                derivation,
            )
        }
        #[cfg(feature = "heic")]
        Kind::Heif => {
            let src = isolate::decode(isolate::Isolated::Heif, source, limits)?;
            let derivation = derivation(src.shape(), all);
            (src, derivation)
        }
        Kind::Jxl => {
            let src = jxl::decode(source, limits)?;
            let derivation = derivation(src.shape(), all);
            (src, derivation)
        }
        Kind::Avif => {
            crate::codecs::note_av1_use();
            let src = isolate::decode(isolate::Isolated::Avif, source, limits)?;
            let derivation = derivation(src.shape(), all);
            (src, derivation)
        }
        Kind::Other(format) => {
            let src = decode::decode_other(source, format, limits)?;
            let derivation = derivation(src.shape(), all);
            (src, derivation)
        }
    };
    let shape = src.shape();
    let placeholder = placeholders
        .any()
        .then(|| Box::new(placeholder::placeholder(&src, placeholders)));
    let made: Vec<usize> = wanted
        .iter()
        .copied()
        .filter(|&i| geometry::is_made(shape, &all[i]))
        .collect();
    let mut resized = resize::resize_wanted(&src, &derivation.parent, &made, all)?;
    let rendered = wanted
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            if !made.contains(&i) {
                return Ok(None);
            }
            // Every resize is done: the buffers can go to the encoders.
            let pixels = if wanted[k + 1..].contains(&i) {
                resized[i].clone()
            } else {
                resized[i].take()
            };
            let pixels = pixels.expect("resized above");
            encode::encode_variant(&src, pixels, &all[i], derivation.via[i]).map(Some)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let info = SourceInfo {
        shape,
        eighths: src.eighths,
        placeholder,
        leniency: src.leniency,
    };
    Ok((rendered, info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Format;
    use crate::variant::Fit;
    use test_support::{fixture, render_all, variant, LIMITS};

    #[test]
    fn outputs_follow_variant_order() {
        let vs = [
            variant(20, 20, Fit::Contain, Format::Webp),
            variant(30, 30, Fit::Cover, Format::Jpeg),
            variant(40, 40, Fit::Contain, Format::Png),
        ];
        let (out, _) = render_all(&fixture("baseline.jpg"), &[0, 1, 2], &vs, &LIMITS).unwrap();
        assert_eq!(out.len(), 3);
        assert!(out[0].bytes.starts_with(b"RIFF") && (out[0].width, out[0].height) == (20, 15));
        assert!(
            out[1].bytes.starts_with(&[0xFF, 0xD8]) && (out[1].width, out[1].height) == (30, 30)
        );
        assert!(out[2].bytes.starts_with(b"\x89PNG") && (out[2].width, out[2].height) == (40, 30));
        assert!(render_all(&fixture("baseline.jpg"), &[], &vs, &LIMITS)
            .unwrap()
            .0
            .is_empty());
    }

    #[test]
    fn an_empty_variant_box_is_an_error() {
        let zero = variant(0, 10, Fit::Contain, Format::Png);
        let e = render_all(&fixture("baseline.jpg"), &[0], &[zero], &LIMITS).unwrap_err();
        assert!(e.to_string().contains("at least 1"), "{e}");
    }

    #[test]
    fn a_variant_renders_the_same_whatever_its_companions() {
        // With the same configured set, rendering one variant alone (a
        // partial rebuild) gives the bytes a full render gives.
        // The small one is resized from the big one's pixels, which are
        // made for it even when only the small one is wanted.
        let small = variant(24, 24, Fit::Contain, Format::Jpeg);
        let big = variant(96, 96, Fit::Contain, Format::Png);
        let src = fixture("exif-orientation-6.jpg");
        let config = [big.clone(), small.clone()];
        let (alone, info) = render_all(&src, &[1], &config, &LIMITS).unwrap();
        let (both, info_both) = render_all(&src, &[0, 1], &config, &LIMITS).unwrap();
        let (reversed, _) = render_all(&src, &[1, 0, 1], &config, &LIMITS).unwrap();
        assert_eq!(alone[0].bytes, both[1].bytes);
        assert_eq!(reversed[0].bytes, both[1].bytes);
        assert_eq!(reversed[1].bytes, both[0].bytes);
        assert_eq!(reversed[2].bytes, both[1].bytes);
        assert_eq!(info, info_both);
        assert_eq!(
            render_all(&src, &[0], &config, &LIMITS).unwrap().0[0].bytes,
            both[0].bytes
        );
        assert_eq!((both[0].via, alone[0].via != 0), (0, true));
        // The decode scale follows the configured set: 24x24 alone needs
        // a quarter of the 96x64 source, next to the 96x96 one all of it.
        assert_eq!(info.eighths, 8);
        let shape = Shape {
            width: 96,
            height: 64,
            jpeg: true,
        };
        assert_eq!(info.shape, shape, "upright size");
        let (_, alone_info) = render_all(&src, &[0], &[small], &LIMITS).unwrap();
        assert_eq!(alone_info.eighths, 2);
    }

    #[test]
    fn same_input_same_bytes() {
        let vs = [
            variant(50, 50, Fit::Cover, Format::Jpeg),
            variant(50, 50, Fit::Contain, Format::Png),
            variant(50, 50, Fit::Contain, Format::Webp),
        ];
        for src in [
            "baseline.jpg",
            "icc.webp",
            "rgba-transparent.png",
            "exif-orientation-6.jpg",
        ] {
            let (a, _) = render_all(&fixture(src), &[0, 1, 2], &vs, &LIMITS).unwrap();
            let (b, _) = render_all(&fixture(src), &[0, 1, 2], &vs, &LIMITS).unwrap();
            for (x, y) in a.iter().zip(&b) {
                assert_eq!(x.bytes, y.bytes, "{src}");
            }
        }
    }

    /// Bit flips, truncations and splices of the fixtures must give Ok or
    /// Err, never a panic.
    #[test]
    fn mangled_input_never_panics() {
        let names = [
            "baseline.jpg",
            "progressive.jpg",
            "cmyk.jpg",
            "exif-orientation-6.jpg",
            "icc.png",
            "palette-trns.png",
            "rgb16.png",
            "animated.gif",
            "animated.webp",
            "lossy-alpha.webp",
            "icc.webp",
            "image.tiff",
            "image.bmp",
        ];
        let files: Vec<Vec<u8>> = names.iter().map(|n| fixture(n)).collect();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let vs = [
            variant(24, 24, Fit::Cover, Format::Jpeg),
            variant(40, 30, Fit::Contain, Format::Webp),
        ];
        let limits = Limits::new(4_000_000);
        let (mut ok, mut err) = (0, 0);
        for case in 0..600 {
            let which = (next() % files.len() as u64) as usize;
            let mut b = files[which].clone();
            match case % 4 {
                0 | 1 => {
                    for _ in 0..1 + next() % 8 {
                        let i = (next() % b.len() as u64) as usize;
                        b[i] ^= 1 << (next() % 8);
                    }
                }
                2 => b.truncate((next() % b.len() as u64) as usize),
                _ => {
                    let other = &files[(next() % files.len() as u64) as usize];
                    let at = (next() % b.len() as u64) as usize;
                    let from = (next() % other.len() as u64) as usize;
                    b.truncate(at);
                    b.extend_from_slice(&other[from..]);
                }
            }
            let all = Placeholders {
                thumbhash: true,
                blurhash: true,
            };
            let result =
                std::panic::catch_unwind(|| render(&b, &[0, 1], &vs, &limits, all).map(|_| ()));
            match result {
                Ok(Ok(())) => ok += 1,
                Ok(Err(_)) => err += 1,
                Err(_) => panic!("case {case} ({}) panicked", names[which]),
            }
        }
        // Both outcomes must occur, or the mangling tests nothing.
        assert!(ok > 20 && err > 20, "{ok} rendered, {err} refused");
    }
}
