//! Pure bytes -> bytes thumbnail rendering: sniff the content, decode, then
//! crop, resize, orient and encode once per variant. Nothing here touches the
//! disk, so the caller decides about paths, hashing and atomic writes.
//!
//! Each output is made through the [`geometry::Reduction`] its own size
//! calls for (a JPEG decoded at half or full size, then halved while twice
//! the output's size remains), never from a sibling's pixels, so its bytes
//! depend only on the source and its own settings: changing, adding or
//! removing one variant changes no other output. The work is still shared
//! where that changes no byte: outputs that need the same decode or the
//! same half share it.
//!
//! One file per step: `sniff` picks the decoder; `decodes` makes the
//! decodes a source's outputs need, through `decode` (with `bmp` and
//! `tiff_ycbcr` for what `image` refuses), `jpeg` (shrunk on load), `jxl`,
//! and behind [`isolate`]'s helper process `avif` (with `av1`) and `heic`;
//! [`geometry`] sizes every variant, `resize` halves decodes and makes each
//! output's pixels, `orient` turns them upright and `encode` writes the
//! output format. This file holds the entry point, the types the caller
//! sees, and the order of the steps.

use crate::focus::FocalPoint;
use crate::model::Placeholders;
use crate::model::{Coding, Placeholder, Shape};
use crate::variant::Variant;

mod animation;
mod av1;
mod avif;
mod bmp;
mod decode;
mod decodes;
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
    /// An animation whose frames hold more pixels in all than
    /// [`Limits::max_pixels`]; refused at the frame that passes it.
    #[error(
        "the animation's frames of {width}×{height} hold more than max_pixels ({} Mpx) in all",
        mpx(*.max_pixels)
    )]
    TooManyFrames {
        /// Canvas width in pixels.
        width: u32,
        /// Canvas height in pixels.
        height: u32,
        /// The limit all its frames exceed.
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
/// whether it is a JPEG).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// Upright size, and whether it is a JPEG.
    pub shape: Shape,
    /// Its placeholders, when asked for.
    pub placeholder: Option<Box<Placeholder>>,
    /// A flaw read past.
    pub leniency: Option<Leniency>,
    /// It is an animation, and its outputs hold its first frame only: none
    /// of their variants says `animated = "keep"`.
    pub flattened: bool,
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

/// Decode `source` and produce the outputs of the variants `wanted`
/// (indices into `all`, the configured set), in that order — `None` for a
/// member of a set that this source gets no output of
/// ([`geometry::is_made`]). Each output is made through the reduction its
/// own size calls for ([`geometry::reduction`]), so its bytes depend on
/// the source and its own settings alone, never on the other variants.
/// `placeholders` are made from a small picture that depends on the source
/// alone ([`geometry::preview_reduction`]). `focus` is the source's focal
/// point, for the variants that crop around it.
pub fn render(
    source: &[u8],
    wanted: &[usize],
    all: &[Variant],
    limits: &Limits,
    placeholders: Placeholders,
    focus: Option<FocalPoint>,
) -> Result<(Vec<Option<Rendered>>, SourceInfo), RenderError> {
    for &i in wanted {
        let v = &all[i];
        // `geometry` cannot size an empty box; config validation should have
        // caught this, but a bad variant must not take the process down.
        if v.width == 0 || v.height == 0 {
            return Err(RenderError::Variant {
                name: v.name.clone(),
                reason: "width and height must be at least 1".into(),
            });
        }
    }
    let mut resizer = thumbgen_lanczos::Resizer::new();
    let wants_map = wanted.iter().any(|&i| looks_at_content(&all[i], focus));
    let wants_preview = placeholders.any() || wants_map;
    let decodes = decodes::decode(source, wanted, all, limits, wants_preview, &mut resizer)?;
    let shape = decodes.shape();
    let placeholder = placeholders
        .any()
        .then(|| Box::new(placeholder::placeholder(decodes.preview(), placeholders)));
    let map = wants_map.then(|| smartcrop::Map::of(decodes.preview()));
    let animated = shape.coding == Coding::Animation;
    let animation = (animated && wanted.iter().any(|&i| all[i].animated))
        .then(|| animation::decode(source, limits))
        .transpose()?;
    let rendered = wanted
        .iter()
        .map(|&i| {
            let v = &all[i];
            if !geometry::is_made(shape, v) {
                return Ok(None);
            }
            if let Some(animation) = animation.as_ref().filter(|_| v.animated) {
                let (bytes, width, height) = animation::encode(animation, v, &mut resizer)?;
                return Ok(Some(Rendered {
                    width,
                    height,
                    bytes,
                }));
            }
            let src = decodes.for_variant(v);
            let map = map.as_ref().filter(|_| looks_at_content(v, focus));
            let focus = focus.filter(|_| v.uses_focus());
            let pixels = resize::resize_variant(src, v, map, focus, &mut resizer)?;
            encode::encode_variant(src, pixels, v).map(Some)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let info = SourceInfo {
        shape,
        placeholder,
        leniency: decodes.leniency(),
        flattened: animated && animation.is_none(),
    };
    Ok((rendered, info))
}

/// Whether `v` crops where the content is, which needs a look at it (a
/// source with a focal point `focus` says where instead).
fn looks_at_content(v: &Variant, focus: Option<FocalPoint>) -> bool {
    v.fit == crate::variant::Fit::Cover && v.position.looks_at_content(focus.is_some())
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
    fn an_output_is_the_same_whatever_its_companions() {
        // Every other variant set, placeholders or not, and the order
        // asked in leave an output's bytes as they are: it is made through
        // the reduction its own size calls for. JPEGs of each colour
        // layout, and a PNG.
        let small = variant(24, 24, Fit::Contain, Format::Jpeg);
        let mut smart = variant(20, 20, Fit::Cover, Format::Webp);
        smart.position = crate::variant::Position::Attention;
        let companions = [
            variant(96, 96, Fit::Contain, Format::Png),
            variant(48, 48, Fit::Cover, Format::Jpeg),
            variant(8, 8, Fit::Contain, Format::Webp),
        ];
        for name in [
            "exif-orientation-6.jpg",
            "baseline.jpg",
            "grayscale.jpg",
            "cmyk.jpg",
            "rgba-transparent.png",
        ] {
            let src = fixture(name);
            for own in [&small, &smart] {
                let alone = render_all(&src, &[0], std::slice::from_ref(own), &LIMITS).unwrap();
                for k in 0..=companions.len() {
                    let mut config = vec![own.clone()];
                    config.extend_from_slice(&companions[..k]);
                    let order: Vec<usize> = (0..config.len()).rev().collect();
                    let (out, info) = render(
                        &src,
                        &order,
                        &config,
                        &LIMITS,
                        Placeholders {
                            thumbhash: k % 2 == 1,
                            blurhash: false,
                        },
                        None,
                    )
                    .unwrap();
                    let mine = out.last().unwrap().as_ref().unwrap();
                    assert_eq!(mine.bytes, alone.0[0].bytes, "{name} with {k} others");
                    assert_eq!(info.shape, alone.1.shape);
                }
            }
        }
        let (_, info) =
            render_all(&fixture("exif-orientation-6.jpg"), &[0], &[small], &LIMITS).unwrap();
        let shape = Shape {
            width: 96,
            height: 64,
            coding: crate::model::Coding::Jpeg,
        };
        assert_eq!(info.shape, shape, "upright size");
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
            let result = std::panic::catch_unwind(|| {
                render(&b, &[0, 1], &vs, &limits, all, None).map(|_| ())
            });
            match result {
                Ok(Ok(())) => ok += 1,
                Ok(Err(_)) => err += 1,
                Err(_) => panic!("case {case} ({}) panicked", names[which]),
            }
        }
        // Both outcomes must occur, or the mangling tests nothing.
        assert!(ok > 20 && err > 20, "{ok} rendered, {err} refused");
    }

    #[test]
    fn a_focal_point_centres_the_crop_in_the_upright_photo() {
        use crate::variant::Position;
        let with = |name: &str, position: Position, point: Option<(f64, f64)>| {
            let mut v = variant(30, 30, Fit::Cover, Format::Png);
            v.position = position;
            let point = point.map(|(x, y)| FocalPoint::new(x, y).unwrap());
            let (out, _) = render(
                &fixture(name),
                &[0],
                &[v],
                &LIMITS,
                Default::default(),
                point,
            )
            .unwrap();
            out[0].as_ref().unwrap().bytes.clone()
        };
        // A landscape photo: a point at an edge crops as that edge does
        // (the crop is clamped inside the photo), one in the middle as
        // the centre.
        let focus = |point| with("baseline.jpg", Position::Focus, point);
        assert_eq!(
            focus(Some((0.0, 0.5))),
            with("baseline.jpg", Position::Left, None)
        );
        assert_eq!(
            focus(Some((1.0, 0.2))),
            with("baseline.jpg", Position::Right, None)
        );
        assert_eq!(
            focus(Some((0.5, 0.5))),
            with("baseline.jpg", Position::Center, None)
        );
        assert_ne!(focus(Some((0.4, 0.5))), focus(Some((0.6, 0.5))));
        // Without a point: as `attention`.
        assert_eq!(focus(None), with("baseline.jpg", Position::Attention, None));
        // Points are in the upright photo: one stored taller than wide
        // and turned by EXIF (orientation 6) is wider than tall upright,
        // and its crop moves across.
        let turned = |point| with("exif-orientation-6.jpg", Position::Focus, point);
        assert_ne!(turned(Some((0.0, 0.5))), turned(Some((1.0, 0.5))));
        assert_eq!(
            turned(Some((0.0, 0.5))),
            with("exif-orientation-6.jpg", Position::Left, None)
        );
        assert_eq!(
            turned(Some((1.0, 0.5))),
            with("exif-orientation-6.jpg", Position::Right, None)
        );
    }
}
