//! The decoders of AVIF and HEIF run in a helper process, as browsers
//! isolate theirs: rav1d is reached through a C ABI that a panic cannot
//! unwind through (it aborts the process; rav1d has such panics on damaged
//! data), and libheif and libde265 are C and C++. A crash in the helper
//! fails one source instead of the whole run.
//!
//! The helper is the `thumbgen` binary itself, run with [`SERVE_ARG`]: it
//! reads the source on stdin and writes the decoded pixels (or the
//! error) on stdout. The library decodes in process unless [`isolate_in`]
//! names that binary (unit tests, which have no such binary, do).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use image::metadata::Orientation;

use super::decode::{Px, Source};
use super::{Limits, RenderError};

/// The argument that makes `thumbgen` a decoding helper; then the format
/// and `max_pixels`.
pub const SERVE_ARG: &str = "__decode";

static HELPER: OnceLock<PathBuf> = OnceLock::new();

/// Decode isolated formats in helper processes: `exe` run with
/// [`SERVE_ARG`] (the `thumbgen` binary itself).
pub fn isolate_in(exe: PathBuf) {
    let _ = HELPER.set(exe);
}

/// The formats whose decoders run isolated.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Isolated {
    Avif,
    #[cfg(feature = "heic")]
    Heif,
}

impl Isolated {
    fn name(self) -> &'static str {
        match self {
            Isolated::Avif => "AVIF",
            #[cfg(feature = "heic")]
            Isolated::Heif => "HEIF",
        }
    }

    fn from_name(name: &str) -> Option<Isolated> {
        match name {
            "AVIF" => Some(Isolated::Avif),
            #[cfg(feature = "heic")]
            "HEIF" => Some(Isolated::Heif),
            _ => None,
        }
    }

    fn decode_here(self, source: &[u8], limits: &Limits) -> Result<Source, RenderError> {
        match self {
            Isolated::Avif => super::avif::decode(source, limits),
            #[cfg(feature = "heic")]
            Isolated::Heif => super::heic::decode(source, limits),
        }
    }
}

/// Decodes `source` as `format`, in a helper process when one is set.
pub(super) fn decode(
    format: Isolated,
    source: &[u8],
    limits: &Limits,
) -> Result<Source, RenderError> {
    match HELPER.get() {
        Some(exe) => decode_in_helper(exe, format, source, limits),
        None => format.decode_here(source, limits),
    }
}

/// The helper's side: `args` are the format's name and `max_pixels`; the
/// source comes on stdin, the answer goes to stdout.
pub fn serve(args: &[String]) -> std::io::Result<()> {
    // A panic aborts here (see above), which the parent reports. Printing
    // it first would symbolise a backtrace: ~180 MB of debug info read in.
    std::panic::set_hook(Box::new(|_| {}));
    let format = args.first().and_then(|n| Isolated::from_name(n));
    let limits = Limits {
        max_pixels: args.get(1).and_then(|m| m.parse().ok()).unwrap_or(0),
    };
    let mut source = Vec::new();
    std::io::stdin().lock().read_to_end(&mut source)?;
    let decoded = match format {
        Some(format) => format.decode_here(&source, &limits),
        None => Err(RenderError::NotAnImage),
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let (head, pixels) = encode_reply(decoded);
    out.write_all(&head)?;
    out.write_all(&pixels)?;
    out.flush()
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend(v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend((bytes.len() as u64).to_le_bytes());
    out.extend(bytes);
}

/// A tag (0 decoded, 1 damaged, 2 unsupported, 3 too large), then the
/// source's fields or the reason; the pixels, last, apart (they are most of
/// it, and are written as they are rather than copied).
fn encode_reply(decoded: Result<Source, RenderError>) -> (Vec<u8>, Vec<u8>) {
    let mut out = Vec::new();
    let mut pixels = Vec::new();
    match decoded {
        Ok(src) => {
            out.push(0);
            // Isolated decoders decode at full size.
            for v in [src.width, src.height] {
                put_u32(&mut out, v);
            }
            out.push(src.px.channels() as u8);
            out.push(src.orientation.to_exif());
            match &src.icc {
                Some(icc) => {
                    out.push(1);
                    put_bytes(&mut out, icc);
                }
                None => out.push(0),
            }
            out.extend((src.pixels.len() as u64).to_le_bytes());
            pixels = src.pixels;
        }
        Err(RenderError::TooLarge { width, height, .. }) => {
            out.push(3);
            put_u32(&mut out, width);
            put_u32(&mut out, height);
        }
        Err(e) => {
            let (tag, reason) = match e {
                RenderError::UnsupportedVariant { reason, .. } => (2, reason),
                RenderError::Decode { reason, .. } => (1, reason),
                other => (1, other.to_string()),
            };
            out.push(tag);
            out.extend(reason.as_bytes());
        }
    }
    (out, pixels)
}

fn decode_in_helper(
    exe: &Path,
    format: Isolated,
    source: &[u8],
    limits: &Limits,
) -> Result<Source, RenderError> {
    let name = format.name();
    let failed = |reason: String| RenderError::decode(name, reason);
    let mut child = Command::new(exe)
        .arg(SERVE_ARG)
        .arg(name)
        .arg(limits.max_pixels.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| failed(format!("cannot start the decoder process: {e}")))?;
    // The helper reads all its input before it writes: no deadlock.
    let fed = child.stdin.take().map(|mut stdin| stdin.write_all(source));
    let mut reply = Vec::new();
    let read = child
        .stdout
        .take()
        .map(|mut stdout| stdout.read_to_end(&mut reply));
    let status = child
        .wait()
        .map_err(|e| failed(format!("the decoder process: {e}")))?;
    if !status.success() || !matches!(fed, Some(Ok(()))) || !matches!(read, Some(Ok(_))) {
        return Err(failed("the decoder crashed on this file".into()));
    }
    decode_reply(reply, name, limits)
        .ok_or_else(|| failed("the decoder process gave a garbled answer".into()))?
}

/// Reads the fields of a reply in order.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.0.split_at_checked(n)?;
        self.0 = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = u64::from_le_bytes(self.take(8)?.try_into().ok()?);
        self.take(usize::try_from(len).ok()?)
    }
}

/// Reads what [`encode_reply`] wrote.
fn decode_reply(
    mut reply: Vec<u8>,
    format: &'static str,
    limits: &Limits,
) -> Option<Result<Source, RenderError>> {
    let mut r = Reader(&reply);
    match r.u8()? {
        0 => {}
        3 => {
            let (width, height) = (r.u32()?, r.u32()?);
            return Some(Err(RenderError::TooLarge {
                width,
                height,
                max_pixels: limits.max_pixels,
            }));
        }
        tag => {
            let reason = String::from_utf8_lossy(r.0).into_owned();
            return Some(Err(if tag == 2 {
                RenderError::UnsupportedVariant { format, reason }
            } else {
                RenderError::Decode { format, reason }
            }));
        }
    }
    let (width, height) = (r.u32()?, r.u32()?);
    let px = match r.u8()? {
        1 => Px::Gray,
        3 => Px::Rgb,
        4 => Px::Rgba,
        _ => return None,
    };
    let orientation = Orientation::from_exif(r.u8()?)?;
    let icc = match r.u8()? {
        0 => None,
        _ => Some(r.bytes()?.to_vec()),
    };
    let len = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
    let expected = width as usize * height as usize * px.channels();
    if usize::try_from(len).ok()? != expected || r.0.len() != expected {
        return None;
    }
    // The pixels are the rest: moved to the front, not copied.
    let start = reply.len() - expected;
    reply.drain(..start);
    let pixels = reply;
    Some(Ok(Source::whole(
        (width, height),
        px,
        pixels,
        orientation,
        icc,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_support::{fixture, LIMITS};

    #[test]
    fn a_decoded_source_crosses_the_process_boundary_whole() {
        let here = Isolated::Avif
            .decode_here(&fixture("alpha.avif"), &LIMITS)
            .unwrap();
        let reply = |decoded| {
            let (mut head, pixels) = encode_reply(decoded);
            head.extend(pixels);
            head
        };
        let whole = reply(Isolated::Avif.decode_here(&fixture("alpha.avif"), &LIMITS));
        let back = decode_reply(whole.clone(), "AVIF", &LIMITS)
            .unwrap()
            .unwrap();
        assert_eq!(
            (back.full, back.width, back.height, back.px),
            (here.full, here.width, here.height, here.px)
        );
        assert_eq!(back.pixels, here.pixels);
        assert_eq!(back.orientation, here.orientation);
        assert_eq!(back.icc, here.icc);
        // Errors keep their kind.
        let too_large = reply(Err(RenderError::TooLarge {
            width: 9,
            height: 9,
            max_pixels: 1,
        }));
        assert!(matches!(
            decode_reply(too_large, "AVIF", &LIMITS),
            Some(Err(RenderError::TooLarge { width: 9, .. }))
        ));
        let damaged = reply(Err(RenderError::Decode {
            format: "AVIF",
            reason: "bad".into(),
        }));
        let Some(Err(e)) = decode_reply(damaged, "AVIF", &LIMITS) else {
            panic!("an error stays an error");
        };
        assert_eq!(e.to_string(), "corrupt or truncated AVIF data: bad");
        // A garbled answer is refused, not trusted.
        let short = whole[..whole.len() - 1].to_vec();
        assert!(decode_reply(short, "AVIF", &LIMITS).is_none());
    }
}
