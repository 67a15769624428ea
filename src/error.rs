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
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Errors that stop a whole run. Per-source failures are not errors of this
/// kind: they are reported and counted, and the run goes on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{0}")]
    Fatal(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, err: &std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            message: describe_io(err),
        }
    }

    pub fn exit(&self) -> Exit {
        Exit::Fatal
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

pub type Result<T, E = Error> = std::result::Result<T, E>;
