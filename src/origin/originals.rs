//! The local cache of downloaded originals: one file per content hash in
//! `<cache>/originals/`, so that a recipe change renders again without
//! downloading, bounded in bytes by evicting the least recently used.

use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::fsutil::{self, PathError};
use crate::model::Hash;

/// The folder in the cache folder that holds the originals.
pub(crate) const ORIGINALS_DIR: &str = "originals";

/// Files being written start with this; a run killed mid-download leaves
/// them, and the next trim removes them.
const PART_PREFIX: &str = ".part-";

/// The cache of originals of one cache folder.
pub(crate) struct Originals {
    dir: PathBuf,
    max_bytes: u64,
}

impl Originals {
    /// The originals kept in `cache`, at most `max_bytes` of them after a
    /// build (0: none are kept between builds).
    pub(crate) fn new(cache: &Path, max_bytes: u64) -> Originals {
        Originals {
            dir: cache.join(ORIGINALS_DIR),
            max_bytes,
        }
    }

    fn path(&self, hash: &Hash) -> PathBuf {
        self.dir.join(crate::remote::key::hex(hash))
    }

    /// A new file to download into, in this folder (so that keeping it is
    /// a rename).
    pub(crate) fn part(&self) -> io::Result<tempfile::NamedTempFile> {
        std::fs::create_dir_all(&self.dir)?;
        tempfile::Builder::new()
            .prefix(PART_PREFIX)
            .tempfile_in(&self.dir)
    }

    /// Keep the downloaded `part` as the original whose content hash is
    /// `hash`; its path.
    pub(crate) fn keep(&self, part: tempfile::NamedTempFile, hash: &Hash) -> io::Result<PathBuf> {
        let path = self.path(hash);
        part.persist(&path).map_err(|e| e.error)?;
        Ok(path)
    }

    /// Whether the original with content hash `hash` is kept (not checked).
    pub(crate) fn holds(&self, hash: &Hash) -> bool {
        self.path(hash).is_file()
    }

    /// The bytes of the original with content hash `hash`, if it is kept
    /// (and intact: a file whose content is not its name is dropped). A
    /// read counts as a use.
    pub(crate) fn read(&self, hash: &Hash) -> Option<Vec<u8>> {
        let path = self.path(hash);
        let bytes = std::fs::read(&path).ok()?;
        if crate::hash::hash_bytes(&bytes) != *hash {
            let _ignored_a_damaged_copy = fsutil::remove_entry(&path);
            return None;
        }
        touch(&path);
        Some(bytes)
    }

    /// Evict the least recently used originals until what is kept fits the
    /// bound, and remove parts left by an interrupted download.
    pub(crate) fn trim(&self) -> Result<(), PathError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => {
                return Err(PathError {
                    path: self.dir.clone(),
                    error,
                })
            }
        };
        let mut kept = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if name.to_string_lossy().starts_with(PART_PREFIX) {
                fsutil::remove_entry(&path)?;
                continue;
            }
            if let Ok(meta) = entry.metadata() {
                let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                kept.push((used, meta.len(), path));
            }
        }
        // Newest first; ties broken by name, so the order is the same on
        // every run.
        kept.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.2.cmp(&b.2)));
        let mut total = 0u64;
        for (_, len, path) in kept {
            total = total.saturating_add(len);
            if total > self.max_bytes {
                fsutil::remove_entry(&path)?;
            }
        }
        fsutil::remove_dir_if_empty(&self.dir)?;
        Ok(())
    }
}

/// Set the modification time of `path` to now: it orders eviction.
fn touch(path: &Path) {
    if let Ok(file) = std::fs::File::options().write(true).open(path) {
        let _only_ordering_suffers = file.set_modified(SystemTime::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn put(originals: &Originals, bytes: &[u8]) -> Hash {
        let hash = crate::hash::hash_bytes(bytes);
        let mut part = originals.part().unwrap();
        part.write_all(bytes).unwrap();
        originals.keep(part, &hash).unwrap();
        hash
    }

    fn age(originals: &Originals, hash: &Hash, seconds_ago: u64) {
        let file = std::fs::File::options()
            .write(true)
            .open(originals.path(hash))
            .unwrap();
        let then = SystemTime::now() - std::time::Duration::from_secs(seconds_ago);
        file.set_modified(then).unwrap();
    }

    #[test]
    fn the_least_recently_used_go_first_until_the_rest_fit() {
        let dir = tempfile::tempdir().unwrap();
        let originals = Originals::new(dir.path(), 25);
        let old = put(&originals, &[1; 10]);
        let used = put(&originals, &[2; 10]);
        let new = put(&originals, &[3; 10]);
        age(&originals, &old, 300);
        age(&originals, &used, 200);
        age(&originals, &new, 100);
        assert!(originals.read(&used).is_some(), "a read is a use");
        originals.trim().unwrap();
        assert!(
            originals.read(&old).is_none(),
            "least recently used: evicted"
        );
        assert!(originals.read(&new).is_some() && originals.read(&used).is_some());
    }

    #[test]
    fn a_bound_of_zero_keeps_nothing_and_parts_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let originals = Originals::new(dir.path(), 0);
        put(&originals, b"photo");
        let part = originals.part().unwrap();
        part.keep().unwrap();
        originals.trim().unwrap();
        assert!(!dir.path().join(ORIGINALS_DIR).exists());
    }

    #[test]
    fn a_damaged_copy_is_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let originals = Originals::new(dir.path(), 100);
        let hash = put(&originals, b"photo");
        std::fs::write(originals.path(&hash), b"bitrot").unwrap();
        assert!(originals.read(&hash).is_none());
        assert!(!originals.path(&hash).exists());
    }
}
