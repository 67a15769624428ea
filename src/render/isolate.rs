//! The decoders of AVIF and HEIF run in a helper process, as browsers
//! isolate theirs: rav1d is reached through a C ABI that a panic cannot
//! unwind through (it aborts the process; rav1d has such panics on damaged
//! data), and libheif and libde265 are C and C++. A crash in the helper
//! fails one source instead of the whole run.
//!
//! The helper is the `thumbgen` binary itself, run with [`SERVE_ARG`]: it
//! reads the source on stdin and writes its answer on stdout (a postcard
//! `Reply`, then the decoded pixels). A helper that takes longer than
//! [`Limits::decode_timeout`] is killed, and the source fails. The library decodes in process unless [`isolate_in`]
//! names that binary (unit tests, which have no such binary, do).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, OnceLock};

use image::metadata::Orientation;
use serde::{Deserialize, Serialize};

use super::pixels::{Px, Source};
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
    let limits = Limits::new(args.get(1).and_then(|m| m.parse().ok()).unwrap_or(0));
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

/// What the helper answers, in postcard; a decoded image's pixels follow
/// it as they are (they are most of the answer, and are not copied).
#[derive(Debug, Serialize, Deserialize)]
enum Reply {
    /// Decoded at full size.
    Decoded {
        width: u32,
        height: u32,
        /// Bytes per pixel: 1, 3 or 4.
        channels: u8,
        /// The EXIF orientation value.
        orientation: u8,
        icc: Option<Vec<u8>>,
    },
    Damaged(String),
    Unsupported(String),
    TooLarge {
        width: u32,
        height: u32,
    },
}

fn encode_reply(decoded: Result<Source, RenderError>) -> (Vec<u8>, Vec<u8>) {
    let (reply, pixels) = match decoded {
        Ok(src) => (
            Reply::Decoded {
                width: src.width,
                height: src.height,
                channels: src.px.channels() as u8,
                orientation: src.orientation.to_exif(),
                icc: src.icc,
            },
            src.pixels,
        ),
        Err(RenderError::TooLarge { width, height, .. }) => {
            (Reply::TooLarge { width, height }, Vec::new())
        }
        Err(RenderError::UnsupportedVariant { reason, .. }) => {
            (Reply::Unsupported(reason), Vec::new())
        }
        Err(RenderError::Decode { reason, .. }) => (Reply::Damaged(reason), Vec::new()),
        Err(other) => (Reply::Damaged(other.to_string()), Vec::new()),
    };
    let head = postcard::to_stdvec(&reply).expect("plain data serializes");
    (head, pixels)
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
    let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
    // Feeding and reading happen beside this thread, which waits for the
    // answer no longer than the deadline: a helper stuck in a decoder is
    // killed, which ends both (the pipes close).
    let answer = std::thread::scope(|scope| {
        let fed = scope.spawn(move || stdin.map(|mut stdin| stdin.write_all(source)));
        let (sender, receiver) = mpsc::channel();
        scope.spawn(move || {
            let mut reply = Vec::new();
            let read = stdout.map(|mut stdout| stdout.read_to_end(&mut reply));
            let _ = sender.send((read, reply));
        });
        let answer = receiver.recv_timeout(limits.decode_timeout).ok();
        if answer.is_none() {
            let _ = child.kill();
        }
        let fed = fed.join().ok().flatten();
        answer.map(|answer| (fed, answer))
    });
    let status = child
        .wait()
        .map_err(|e| failed(format!("the decoder process: {e}")))?;
    let Some((fed, (read, reply))) = answer else {
        return Err(RenderError::TimedOut {
            format: name,
            seconds: limits.decode_timeout.as_secs_f64(),
        });
    };
    if !status.success() || !matches!(fed, Some(Ok(()))) || !matches!(read, Some(Ok(_))) {
        return Err(failed("the decoder crashed on this file".into()));
    }
    decode_reply(reply, name, limits)
        .ok_or_else(|| failed("the decoder process gave a garbled answer".into()))?
}

/// Reads what [`encode_reply`] wrote.
fn decode_reply(
    mut reply: Vec<u8>,
    format: &'static str,
    limits: &Limits,
) -> Option<Result<Source, RenderError>> {
    let (head, rest) = postcard::take_from_bytes::<Reply>(&reply).ok()?;
    let (width, height, channels, orientation, icc) = match head {
        Reply::Decoded {
            width,
            height,
            channels,
            orientation,
            icc,
        } => (width, height, channels, orientation, icc),
        Reply::TooLarge { width, height } => {
            return Some(Err(RenderError::TooLarge {
                width,
                height,
                max_pixels: limits.max_pixels,
            }))
        }
        Reply::Unsupported(reason) => {
            return Some(Err(RenderError::UnsupportedVariant { format, reason }))
        }
        Reply::Damaged(reason) => return Some(Err(RenderError::Decode { format, reason })),
    };
    let px = match channels {
        1 => Px::Gray,
        3 => Px::Rgb,
        4 => Px::Rgba,
        _ => return None,
    };
    let orientation = Orientation::from_exif(orientation)?;
    let expected = (width as usize)
        .checked_mul(height as usize)?
        .checked_mul(px.channels())?;
    if rest.len() != expected {
        return None;
    }
    // The pixels are the rest: moved to the front, not copied.
    let start = reply.len() - expected;
    reply.drain(..start);
    Some(Ok(Source::whole(
        (width, height),
        px,
        reply,
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
        assert!(decode_reply(vec![9; 40], "AVIF", &LIMITS).is_none());
    }

    /// A helper that never answers (here a script that sleeps whatever it
    /// is asked) fails the source once the deadline passes, and is killed.
    #[test]
    fn a_helper_that_never_answers_is_stopped_at_the_deadline() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let helper = dir.path().join("helper");
        let pid_file = dir.path().join("pid");
        std::fs::write(
            &helper,
            format!(
                "#!/bin/sh\necho $$ > '{}'\nexec sleep 600\n",
                pid_file.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let limits = Limits {
            decode_timeout: std::time::Duration::from_millis(300),
            ..Limits::new(1_000_000)
        };
        let source = fixture("alpha.avif");
        let Err(e) = decode_in_helper(&helper, Isolated::Avif, &source, &limits) else {
            panic!("a helper that never answers cannot decode");
        };
        let message = e.to_string();
        assert!(
            message.contains("AVIF decoder did not finish within 0.3 s"),
            "{message}"
        );
        assert!(message.contains("decode_timeout"), "{message}");
        // The helper was killed (and reaped): its process is gone.
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        assert!(
            !Path::new(&format!("/proc/{}", pid.trim())).exists(),
            "helper {pid} still runs"
        );
    }
}
