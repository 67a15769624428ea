//! Path arithmetic in one place. Records and messages name files relative
//! to the config folder (so a project can move, as a CI checkout does,
//! without losing its cache); sources are identified relative to the source
//! folder; the manifest writes `/`-separated paths. All lexical: the paths
//! need not exist.

use std::path::{Component, Path, PathBuf};

/// `path` made absolute against `base`, with `.` and `..` resolved lexically
/// (the folders need not exist yet).
pub fn absolute(base: &Path, path: &Path) -> PathBuf {
    let joined = base.join(path);
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The bytes of `path` before its last separator (empty for a bare
/// name), and its last part: cheaper than `Path::parent` and
/// `Path::file_name`, which parse components, for paths built by
/// joining names (no `.`, `..` or trailing separators).
#[cfg(unix)]
pub fn split_last(path: &Path) -> (&[u8], &std::ffi::OsStr) {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    match bytes.iter().rposition(|&b| b == b'/') {
        Some(slash) => (
            &bytes[..slash],
            std::ffi::OsStr::from_bytes(&bytes[slash + 1..]),
        ),
        None => (&[], path.as_os_str()),
    }
}

/// The bytes of `path` before its last separator (empty for a bare
/// name), and its last part.
#[cfg(not(unix))]
pub fn split_last(path: &Path) -> (&[u8], &std::ffi::OsStr) {
    let bytes = path.as_os_str().as_encoded_bytes();
    match path.file_name() {
        Some(name) if bytes.ends_with(name.as_encoded_bytes()) => {
            let dir = bytes.len() - name.len();
            (&bytes[..dir.saturating_sub(1)], name)
        }
        _ => (bytes, std::ffi::OsStr::new("")),
    }
}

/// Lexical relative path from `base` to `path` (both absolute, normalised).
///
/// ```
/// use std::path::{Path, PathBuf};
/// use thumbgen::paths::relative_to;
///
/// let site = Path::new("/srv/site");
/// assert_eq!(relative_to(Path::new("/srv/site/public/a.jpg"), site), PathBuf::from("public/a.jpg"));
/// assert_eq!(relative_to(Path::new("/srv/cache"), site), PathBuf::from("../cache"));
/// ```
pub fn relative_to(path: &Path, base: &Path) -> PathBuf {
    let path: Vec<_> = path.components().collect();
    let base: Vec<_> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..base.len() {
        out.push("..");
    }
    for part in &path[common..] {
        out.push(part);
    }
    out
}

/// `path` with `/` between its parts on every platform (for URLs and JSON).
pub fn slash(path: &Path) -> String {
    let parts: Vec<_> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect();
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_and_relative_are_inverse() {
        let base = Path::new("/p/site");
        for rel in ["images", "public/thumbs", "../shared/cache", "."] {
            let abs = absolute(base, Path::new(rel));
            let back = relative_to(&abs, base);
            assert_eq!(absolute(base, &back), abs, "{rel}");
        }
        assert_eq!(
            absolute(base, Path::new("a/./b/../c")),
            PathBuf::from("/p/site/a/c")
        );
        assert_eq!(
            relative_to(Path::new("/p/other/x"), base),
            PathBuf::from("../other/x")
        );
        assert_eq!(slash(Path::new("a/b/c.jpg")), "a/b/c.jpg");
        let (dir, name) = split_last(Path::new("out/t/a/b.jpg"));
        assert_eq!(
            (dir, name),
            (&b"out/t/a"[..], std::ffi::OsStr::new("b.jpg"))
        );
        let (dir, name) = split_last(Path::new("b.jpg"));
        assert_eq!((dir, name), (&b""[..], std::ffi::OsStr::new("b.jpg")));
    }
}
