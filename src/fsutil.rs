//! File system helpers whose errors carry the path: atomic writes through a
//! staging folder, removal of files only when they are provably ours, and
//! pruning of folders a removal emptied.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::fingerprint::{hash_file, Stat};

/// Hidden folder inside the output root holding files being written. Being
/// in the output tree keeps the final rename on the same file system; being
/// one folder means a run killed mid-write leaves its debris in one place,
/// which the next run sweeps.
pub const STAGING_DIR: &str = ".thumbgen-tmp";

/// An error about one path, in words.
#[derive(Debug)]
pub struct PathError {
    pub path: PathBuf,
    pub error: io::Error,
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}",
            self.path.display(),
            crate::error::describe_io(&self.error)
        )
    }
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> PathError + '_ {
    move |error| PathError {
        path: path.to_path_buf(),
        error,
    }
}

/// Write `bytes` to `target` so that no reader ever sees a partial file:
/// write a temporary file in `staging`, then rename it over `target`.
/// Returns the stat of the file now at `target`.
pub fn atomic_write(staging: &Path, target: &Path, bytes: &[u8]) -> Result<Stat, PathError> {
    let parent = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(at(parent))?;
    std::fs::create_dir_all(staging).map_err(at(staging))?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Thumbnails are served by web servers: readable by all, like any
        // file the user would create (tempfile's default is 0600).
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut temp = builder.tempfile_in(staging).map_err(at(staging))?;
    temp.write_all(bytes).map_err(at(target))?;
    temp.persist(target).map_err(|e| PathError {
        path: target.to_path_buf(),
        error: e.error,
    })?;
    let meta = std::fs::symlink_metadata(target).map_err(at(target))?;
    Ok(Stat::of(&meta))
}

/// The stat of the file at `path` if it holds exactly `bytes`.
pub fn same_content(path: &Path, bytes: &[u8]) -> Option<Stat> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() || meta.len() != bytes.len() as u64 {
        return None;
    }
    (std::fs::read(path).ok()? == bytes).then(|| Stat::of(&meta))
}

/// Remove the debris of an interrupted run.
pub fn sweep_staging(staging: &Path) {
    let _ = std::fs::remove_dir_all(staging);
}

/// Remove the staging folder if nothing is left in it.
pub fn finish_staging(staging: &Path) {
    let _ = std::fs::remove_dir(staging);
}

/// Whether the file at `path` is still the one recorded with `stat` and
/// `hash`: stat equality is proof enough, else the content decides.
pub fn is_ours(path: &Path, stat: &Stat, hash: &[u8; 32]) -> bool {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => {
            Stat::of(&meta) == *stat || hash_file(path).is_ok_and(|h| h == *hash)
        }
        _ => false,
    }
}

/// Delete `path` if it is still the file we recorded, then the folders
/// that emptied, up to (not including) `root`. `Ok(false)` when it is
/// missing or no longer ours (then it is left alone).
pub fn remove_if_ours(
    path: &Path,
    stat: &Stat,
    hash: &[u8; 32],
    root: &Path,
) -> Result<bool, PathError> {
    if !is_ours(path, stat, hash) {
        return Ok(false);
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(at(path)(e)),
    }
    if let Some(parent) = path.parent() {
        prune_empty_dirs(parent, root);
    }
    Ok(true)
}

/// Remove `dir` and its parents while they are empty, stopping at `stop`
/// (which is kept).
fn prune_empty_dirs(mut dir: &Path, stop: &Path) {
    while dir.starts_with(stop) && dir != stop {
        if std::fs::remove_dir(dir).is_err() {
            break;
        }
        match dir.parent() {
            Some(parent) => dir = parent,
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_creates_folders_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join(STAGING_DIR);
        let target = dir.path().join("a/b/c.jpg");
        let stat = atomic_write(&staging, &target, b"abc").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"abc");
        assert_eq!(stat.len, 3);
        finish_staging(&staging);
        assert!(!staging.exists());
        atomic_write(&staging, &target, b"xy").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"xy");
    }

    #[test]
    fn removes_only_files_that_are_still_ours() {
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join(STAGING_DIR);
        let target = dir.path().join("x/y.jpg");
        let stat = atomic_write(&staging, &target, b"ours").unwrap();
        let hash = crate::fingerprint::hash_bytes(b"ours");
        std::fs::write(&target, b"edited by hand").unwrap();
        assert!(!remove_if_ours(&target, &stat, &hash, dir.path()).unwrap());
        assert!(target.exists());
        std::fs::write(&target, b"ours").unwrap();
        assert!(
            remove_if_ours(&target, &stat, &hash, dir.path()).unwrap(),
            "same content is ours"
        );
        assert!(!target.exists());
        assert!(!dir.path().join("x").exists());
        assert!(dir.path().exists());
    }
}
