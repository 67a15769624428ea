//! Error types that carry the path they concern, and the one mapping from
//! outcomes to process exit codes.

use std::path::PathBuf;

/// Process exit codes, the contract CI scripts rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything is up to date (or was built).
    Ok = 0,
    /// One or more sources failed, or `--check` found work to do.
    Failed = 1,
    /// Usage or configuration error, or a fatal error (cache locked, output
    /// not writable).
    Fatal = 2,
    /// Interrupted by SIGINT (128 + 2), like a shell reports it.
    Interrupted = 130,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The one place that decides how a run that did not stop on an
    /// [`Error`] exits. (An [`Error`] always exits [`Exit::Fatal`].)
    pub fn decide(end: &Ending) -> Exit {
        if end.interrupted {
            Exit::Interrupted
        } else if end.failed > 0 || end.not_up_to_date {
            Exit::Failed
        } else {
            Exit::Ok
        }
    }
}

/// What of a finished run decides its exit code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ending {
    /// Stopped by Ctrl-C before the work was done.
    pub interrupted: bool,
    /// Sources that could not be built.
    pub failed: usize,
    /// `--check` found outputs that a build would change.
    pub not_up_to_date: bool,
}

/// The run that holds a cache's lock, as it says in the lock file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Holder {
    /// Its process id, when it wrote one.
    pub pid: Option<u32>,
    /// It is a `thumbgen watch`, which holds the lock until it is stopped.
    pub watch: bool,
}

/// Why a run cannot have the cache `cache` (as shown), and what to do.
pub(crate) fn lock_held(holder: &Holder, cache: &str) -> String {
    let pid = holder
        .pid
        .map(|p| format!(" (pid {p})"))
        .unwrap_or_default();
    if holder.watch {
        format!(
            "a `thumbgen watch`{pid} is using the cache {cache}, and keeps the outputs fresh until it is stopped; stop it (Ctrl-C in its terminal), then run again"
        )
    } else {
        format!(
            "another thumbgen run{pid} is using the cache {cache}; wait for it to finish, then run again"
        )
    }
}

/// Errors that stop a whole run. Per-source failures are not errors of this
/// kind: they are reported and counted, and the run goes on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config cannot be found, read or accepted; the message names
    /// the file, line and key.
    #[error("{0}")]
    Config(String),
    /// A file-system error about one path that stops the run.
    #[error("{path}: {message}")]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// What went wrong, in words.
        message: String,
    },
    /// An output (or the manifest) cannot be written or removed: the disk
    /// is full, a folder is not writable.
    #[error("cannot {verb} {}: {message}", .path.display())]
    Output {
        /// `write` or `remove`.
        verb: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// What went wrong, in words.
        message: String,
    },
    /// Another run holds the cache.
    #[error("{}", crate::error::lock_held(.holder, &.cache.display().to_string()))]
    LockHeld {
        /// The cache folder.
        cache: PathBuf,
        /// Who holds it, as it wrote in the lock file.
        holder: Holder,
    },
    /// The record store failed while in use.
    #[error("cache database error: {0}")]
    Cache(String),
    /// Anything else that stops the run, in words.
    #[error("{0}")]
    Fatal(String),
    /// A publish that was asked for cannot reach or write its bucket; the
    /// build before it stays recorded.
    #[error("publish: {0}")]
    Publish(String),
}

impl Error {
    /// An [`Error::Io`] about `path`.
    pub fn io(path: impl Into<PathBuf>, err: &std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            message: describe_io(err),
        }
    }

    /// An [`Error::Output`]: `verb`ing `path` failed with `err`.
    pub fn output(verb: &'static str, path: PathBuf, err: &std::io::Error) -> Self {
        Error::Output {
            verb,
            message: describe_io(err),
            path,
        }
    }

    /// Every error that stops a run exits 2, except a publish that
    /// failed, which exits 1 as a failed source does: the build is done.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Publish(_) => Exit::Failed,
            _ => Exit::Fatal,
        }
    }
}

/// An io::Error in words a person can act on, without Rust's "(os error N)".
pub fn describe_io(err: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match err.kind() {
        K::NotFound => "no such file or directory".into(),
        K::PermissionDenied => "permission denied".into(),
        K::StorageFull => "no space left on device".into(),
        K::ReadOnlyFilesystem => "read-only file system".into(),
        K::UnexpectedEof => "file ended unexpectedly".into(),
        _ => {
            let text = err.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

/// A result whose error stops the run.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        let end = |interrupted, failed, not_up_to_date| {
            Exit::decide(&Ending {
                interrupted,
                failed,
                not_up_to_date,
            })
        };
        assert_eq!(end(false, 0, false), Exit::Ok);
        assert_eq!(end(false, 2, false), Exit::Failed);
        assert_eq!(end(false, 0, true), Exit::Failed);
        assert_eq!(end(true, 2, true), Exit::Interrupted);
        assert_eq!(Error::Fatal("x".into()).exit().code(), 2);
        assert_eq!(Exit::Interrupted.code(), 130);
    }
}
