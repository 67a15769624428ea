//! File system helpers whose errors carry the path: atomic writes through a
//! staging folder, removal of files only when they are provably ours, and
//! pruning of folders a removal emptied, and [`Folder`], whose entries are
//! stat'ed relative to an open descriptor.

use std::ffi::OsStr;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::hash::hash_file;
use crate::model::Stat;

/// Hidden folder inside the output root holding files being written. Being
/// in the output tree keeps the final rename on the same file system; being
/// one folder means a run killed mid-write leaves its debris in one place,
/// which the next run sweeps.
pub(crate) const STAGING_DIR: &str = ".thumbgen-tmp";

/// An error about one path, in words.
#[derive(Debug)]
pub(crate) struct PathError {
    /// The path concerned.
    pub path: PathBuf,
    /// What the file system said.
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
pub(crate) fn atomic_write(staging: &Path, target: &Path, bytes: &[u8]) -> Result<Stat, PathError> {
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
    let mut tries = 0;
    while let Err(e) = temp.persist(target) {
        temp = e.file;
        make_parent_after(tries, target, e.error)?;
        tries += 1;
    }
    let meta = std::fs::symlink_metadata(target).map_err(at(target))?;
    Ok(Stat::of(&meta))
}

/// After the `tries`-th failed move of a file to `target` with `error`:
/// when something on the way was missing, make `target`'s folder for
/// another try (another worker may have made it meanwhile: that is no
/// error); else the error. The folder is made here rather than before the
/// first move, because it can vanish in between: another worker prunes
/// the folders that its removals emptied, and a folder being written into
/// is empty until the move.
fn make_parent_after(tries: u32, target: &Path, error: io::Error) -> Result<(), PathError> {
    if error.kind() != io::ErrorKind::NotFound || tries >= 4 {
        return Err(at(target)(error));
    }
    let parent = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(at(parent))
}

/// The stat of the file at `path` if it holds exactly `bytes`.
pub(crate) fn same_content(path: &Path, bytes: &[u8]) -> Option<Stat> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() || meta.len() != bytes.len() as u64 {
        return None;
    }
    (std::fs::read(path).ok()? == bytes).then(|| Stat::of(&meta))
}

/// Remove the debris of an interrupted run.
pub(crate) fn sweep_staging(staging: &Path) -> Result<(), PathError> {
    remove_entry(staging)
}

/// Remove the staging folder if nothing is left in it.
pub(crate) fn finish_staging(staging: &Path) -> Result<(), PathError> {
    remove_dir_if_empty(staging).map(|_| ())
}

/// Whether the file at `path` is still the one recorded with `stat` and
/// `hash`: stat equality is proof enough, else the content decides.
pub(crate) fn is_ours(path: &Path, stat: &Stat, hash: &[u8; 32]) -> bool {
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
pub(crate) fn remove_if_ours(
    path: &Path,
    stat: &Stat,
    hash: &[u8; 32],
    root: &Path,
) -> Result<bool, PathError> {
    if !is_ours(path, stat, hash) {
        return Ok(false);
    }
    remove_and_prune(path, root)
}

/// Delete the file at `path` (no record to check it against: the caller
/// has proved it is thumbgen's), then the folders that emptied, up to
/// (not including) `root`. `Ok(false)` when it is already gone.
pub(crate) fn remove_and_prune(path: &Path, root: &Path) -> Result<bool, PathError> {
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

/// Move the file at `from`, if it is still the one recorded with `stat`
/// and `hash`, to `to` (same file system: both are in the output tree),
/// then prune the folders that emptied up to `root`. The stat of the file
/// now at `to`, or `None` if `from` is no longer ours.
pub(crate) fn relocate(
    from: &Path,
    to: &Path,
    stat: &Stat,
    hash: &[u8; 32],
    root: &Path,
) -> Result<Option<Stat>, PathError> {
    if !is_ours(from, stat, hash) {
        return Ok(None);
    }
    if from != to {
        let mut tries = 0;
        while let Err(error) = std::fs::rename(from, to) {
            make_parent_after(tries, to, error)?;
            tries += 1;
        }
        if let Some(parent) = from.parent() {
            prune_empty_dirs(parent, root);
        }
    }
    let meta = std::fs::symlink_metadata(to).map_err(at(to))?;
    Ok(Some(Stat::of(&meta)))
}

/// Remove the folder `dir` if it is empty: whether it went. A folder that
/// holds something, or is gone already, is no error; anything else is.
pub(crate) fn remove_dir_if_empty(dir: &Path) -> Result<bool, PathError> {
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(true),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::DirectoryNotEmpty
            ) =>
        {
            Ok(false)
        }
        Err(error) => Err(PathError {
            path: dir.to_path_buf(),
            error,
        }),
    }
}

/// Remove the entries of `dir` that thumbgen made there, named by
/// `names` (a folder with all it holds), then `dir` if that emptied it:
/// whether `dir` went. Anything else in `dir` is someone's, and it stays
/// with `dir`, so a cache folder set to a user's folder loses only what
/// thumbgen put there. Entries already gone are no error.
pub(crate) fn remove_entries(dir: &Path, names: &[&str]) -> Result<bool, PathError> {
    for name in names {
        remove_entry(&dir.join(name))?;
    }
    remove_dir_if_empty(dir)
}

/// Remove the file or folder (with what it holds) at `path`; a path
/// already gone is no error.
pub(crate) fn remove_entry(path: &Path) -> Result<(), PathError> {
    let removed = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) => Err(e),
    };
    match removed {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(PathError {
            path: path.to_path_buf(),
            error: e,
        }),
        _ => Ok(()),
    }
}

/// Remove `dir` and its parents while they are empty, stopping at `stop`
/// (which is kept). A folder holding only thumbgen's ownership marker is
/// empty too: a clean build would not have made it.
pub(crate) fn prune_empty_dirs(mut dir: &Path, stop: &Path) {
    while dir.starts_with(stop) && dir != stop {
        if std::fs::remove_dir(dir).is_err() && !remove_if_only_marker(dir) {
            break;
        }
        match dir.parent() {
            Some(parent) => dir = parent,
            None => break,
        }
    }
}

/// Remove `dir` if the marker is all it holds.
fn remove_if_only_marker(dir: &Path) -> bool {
    let Ok(mut entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let only_marker = matches!(entries.next(), Some(Ok(e)) if e.file_name() == crate::owned::MARKER)
        && entries.next().is_none();
    only_marker
        && std::fs::remove_file(dir.join(crate::owned::MARKER)).is_ok()
        && std::fs::remove_dir(dir).is_ok()
}

/// A folder opened once, whose entries are stat'ed relative to it: a stat by
/// full path walks every component again, which was most of a no-op build
/// over tens of thousands of files.
pub(crate) struct Folder {
    path: PathBuf,
    #[cfg(unix)]
    fd: Option<rustix::fd::OwnedFd>,
}

impl Folder {
    /// Open `path` (a folder that cannot be opened has no entries).
    pub(crate) fn open(path: PathBuf) -> Folder {
        #[cfg(unix)]
        {
            use rustix::fs::{Mode, OFlags};
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let fd = rustix::fs::open(&path, flags, Mode::empty()).ok();
            Folder { path, fd }
        }
        #[cfg(not(unix))]
        Folder { path }
    }

    /// The stat of entry `name` (not following a symlink), and whether it
    /// is a regular file.
    pub(crate) fn lstat(&self, name: &OsStr) -> io::Result<(Stat, bool)> {
        #[cfg(unix)]
        if let Some(fd) = &self.fd {
            use rustix::fs::{AtFlags, FileType};
            let st = rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
            let is_file = FileType::from_raw_mode(st.st_mode) == FileType::RegularFile;
            return Ok((stat_of_raw(&st), is_file));
        }
        let meta = std::fs::symlink_metadata(self.path.join(name))?;
        Ok((Stat::of(&meta), meta.is_file()))
    }
}

/// The same numbers as [`Stat::of`], from a raw `stat`.
#[cfg(unix)]
// The field types differ between platforms.
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
fn stat_of_raw(st: &rustix::fs::Stat) -> Stat {
    Stat {
        len: st.st_size as u64,
        mtime_ns: st.st_mtime as i64 * 1_000_000_000 + st.st_mtime_nsec as i64,
        ctime_ns: st.st_ctime as i64 * 1_000_000_000 + st.st_ctime_nsec as i64,
        ino: st.st_ino as u64,
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
        finish_staging(&staging).unwrap();
        assert!(!staging.exists());
        atomic_write(&staging, &target, b"xy").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"xy");
    }

    #[test]
    fn a_folder_goes_only_when_empty_and_a_failure_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("out");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("user.txt"), b"mine").unwrap();
        assert!(!remove_dir_if_empty(&folder).unwrap(), "not empty: stays");
        assert!(folder.join("user.txt").exists());
        std::fs::remove_file(folder.join("user.txt")).unwrap();
        assert!(remove_dir_if_empty(&folder).unwrap());
        assert!(!remove_dir_if_empty(&folder).unwrap(), "gone already");
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        let e = remove_dir_if_empty(&file).unwrap_err();
        assert_eq!(e.path, file, "not a folder: {}", e.error);
        assert!(file.exists());
    }

    #[test]
    fn a_cache_folder_loses_only_the_entries_named() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        std::fs::create_dir_all(cache.join("db/blobs")).unwrap();
        std::fs::write(cache.join("db/conf"), b"x").unwrap();
        std::fs::write(cache.join("lock"), b"1").unwrap();
        std::fs::write(cache.join("holiday.jpg"), b"a user's").unwrap();
        let names = ["db", "lock", "clock"];
        assert!(
            !remove_entries(&cache, &names).unwrap(),
            "a user's file keeps it"
        );
        assert!(cache.join("holiday.jpg").exists());
        assert!(!cache.join("db").exists() && !cache.join("lock").exists());
        std::fs::remove_file(cache.join("holiday.jpg")).unwrap();
        std::fs::write(cache.join("lock"), b"1").unwrap();
        assert!(remove_entries(&cache, &names).unwrap());
        assert!(!cache.exists());
        assert!(!remove_entries(&cache, &names).unwrap(), "gone already");
    }

    #[test]
    fn removes_only_files_that_are_still_ours() {
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join(STAGING_DIR);
        let target = dir.path().join("x/y.jpg");
        let stat = atomic_write(&staging, &target, b"ours").unwrap();
        let hash = crate::hash::hash_bytes(b"ours");
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

    #[test]
    fn folder_lstat_agrees_with_std_metadata() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"12345").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let folder = Folder::open(dir.path().to_path_buf());
        let (stat, is_file) = folder.lstat(OsStr::new("f")).unwrap();
        let meta = std::fs::symlink_metadata(dir.path().join("f")).unwrap();
        assert_eq!(stat, Stat::of(&meta));
        assert!(is_file);
        assert!(!folder.lstat(OsStr::new("sub")).unwrap().1);
        assert!(folder.lstat(OsStr::new("missing")).is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("f", dir.path().join("link")).unwrap();
            assert!(!folder.lstat(OsStr::new("link")).unwrap().1, "not followed");
        }
        // A folder that does not exist: every entry is missing.
        let gone = Folder::open(dir.path().join("nope"));
        assert!(gone.lstat(OsStr::new("f")).is_err());
    }
}
