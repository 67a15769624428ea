//! What a file is: its stat data (the fast path) and its blake3 content hash
//! (the truth), the file system's own clock, and the racy-timestamp rule.
//!
//! Freshness is decided by content. Stat data only lets us skip hashing: when
//! a file's stat equals the recorded one, and the record was not taken in the
//! same clock tick as the file's last modification, the recorded hash is
//! trusted. Stat is compared by equality, never "newer than", so a fresh
//! checkout that changes every mtime costs one hash per file and no rebuild.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use rustc_hash::FxBuildHasher;

use crate::error::describe_io;
use crate::fsutil::Folder;
use crate::hash::hash_file;
use crate::model::{
    FetchedSources, Fingerprint, Found, Hash, ObservedSource, OutputRecord, OutputState,
    OutputStates, Shape, SourceRecord, Stat, State, Unreadable,
};

/// The racy-timestamp rule (git's racy-git.txt): a file modified at or after
/// the moment its record was taken may change again within the same clock
/// tick without its stat changing, so its stat cannot vouch for its content.
pub(crate) fn is_racy(stat: &Stat, recorded_at_ns: i64) -> bool {
    stat.mtime_ns >= recorded_at_ns
}

/// The file in the cache folder whose mtime marks the last build's start.
pub(crate) const CLOCK_FILE: &str = "clock";

/// "Now" by the clock that stamps mtimes: write a marker file and read its
/// mtime. Not the system clock: file systems stamp writes with a coarser
/// clock (a kernel tick on Linux, or the server's clock on network file
/// systems), and a file written just after this moment may carry an mtime
/// that is earlier than the system time; compared with this marker it is
/// still seen as racy.
pub(crate) fn fs_now(dir: &Path) -> io::Result<i64> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(dir.join(CLOCK_FILE))?;
    file.write_all(b"mtime of this file = start of the last build\n")?;
    Ok(Stat::of(&file.metadata()?).mtime_ns)
}

/// Where the bytes of sources are read, to hash them or read their headers.
#[derive(Clone, Copy)]
pub(crate) enum SourceFiles<'a> {
    /// A local folder: a source is the file at its relative path.
    Folder(&'a Path),
    /// A store's sources, those to be read downloaded already: by relative
    /// path, the original's hash and file, or why it could not be had.
    Fetched(&'a FetchedSources),
}

impl SourceFiles<'_> {
    /// The content hash of the source at `rel`.
    fn hash(&self, rel: &Path) -> Result<Hash, Unreadable> {
        match self {
            SourceFiles::Folder(root) => {
                hash_file(&root.join(rel)).map_err(|e| Unreadable::Io(describe_io(&e)))
            }
            SourceFiles::Fetched(fetched) => match fetched.get(rel) {
                Some(Ok(original)) => Ok(original.hash),
                Some(Err(error)) => Err(Unreadable::Io(error.clone())),
                None => Err(Unreadable::Io("it was not downloaded".into())),
            },
        }
    }

    /// The local file holding the bytes of the source at `rel`, if any.
    fn path(&self, rel: &Path) -> Option<PathBuf> {
        match self {
            SourceFiles::Folder(root) => Some(root.join(rel)),
            SourceFiles::Fetched(fetched) => fetched.get(rel)?.as_ref().ok()?.path.clone(),
        }
    }

    /// Whether the racy rule applies: not to a store's listing, whose
    /// times come from the store's clock and whose ETag changes with every
    /// write.
    fn racy_rule(&self) -> bool {
        matches!(self, SourceFiles::Folder(_))
    }
}

/// Whether the source with `stat` must be read to know its content:
/// recorded with another stat (or a racy one), or new when `hash_new`.
pub(crate) fn needs_reading(stat: &Stat, record: Option<&SourceRecord>, hash_new: bool) -> bool {
    match record {
        Some(r) => r.stat != *stat || r.racy,
        None => hash_new,
    }
}

/// What to read of sources beyond their stat.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Reads {
    /// Hash new sources too (to ask the shared cache before building).
    pub hash_new: bool,
    /// Read the header of each source whose record cannot say its shape
    /// (see [`Fingerprint::probed`]).
    pub probe: bool,
}

/// Fingerprint every found source, hashing only those with a record whose
/// stat cannot vouch for the recorded hash. `now_ns` is the file-system
/// clock at the start of the run (for the racy rule); `None` when nothing
/// is recorded. `reads.hash_new`: hash sources without a record too (the
/// shared cache finds outputs by their source's content). `progress` hears
/// how many files need hashing (a fresh checkout hashes them all), then
/// once per file hashed.
pub(crate) fn observe_found(
    found: Vec<Found>,
    state: &State,
    files: SourceFiles,
    now_ns: Option<i64>,
    reads: Reads,
    progress: &(dyn HashProgress + Sync),
) -> Vec<ObservedSource> {
    let hash_new = reads.hash_new;
    // One lookup per source: its record, and whether its stat can vouch for
    // the recorded hash. Counted first, so that progress has a total.
    let mut records: Vec<(Option<&SourceRecord>, bool)> = found
        .par_iter()
        .map(|f| {
            let record = state.get(&f.rel);
            let stale = f
                .stat
                .as_ref()
                .is_ok_and(|stat| needs_reading(stat, record, hash_new));
            (record, stale)
        })
        .collect();
    // A new source the size of a source that vanished may be that source
    // renamed: hash it now, so the planner can move its outputs instead of
    // rendering them again. Other new sources are hashed while they build.
    let seen = records.iter().filter(|(r, _)| r.is_some()).count();
    if seen < state.len() {
        let vanished = vanished_sizes(&found, state);
        for (f, (record, stale)) in found.iter().zip(&mut records) {
            if record.is_none() && f.stat.as_ref().is_ok_and(|s| vanished.contains(&s.len)) {
                *stale = true;
            }
        }
    }
    let to_hash = records.iter().filter(|(_, stale)| *stale).count();
    if to_hash > 0 {
        progress.start(to_hash);
    }
    let observed = found
        .into_par_iter()
        .zip(&records)
        .map(|(f, &(record, stale))| {
            let fingerprint = f.stat.clone().and_then(|stat| {
                let hash = match record {
                    None if !stale => None,
                    Some(record) if !stale => Some(record.hash),
                    _ => {
                        let hash = files.hash(&f.rel);
                        progress.hashed();
                        Some(hash?)
                    }
                };
                // Its record knows its shape unless it is new or its
                // content changed (a touched but identical file, as after a
                // checkout, is not read again).
                let content_unknown = record.is_none_or(|r| hash != Some(r.hash));
                let probed = (reads.probe && content_unknown)
                    .then(|| probe_file(&files.path(&f.rel)?))
                    .flatten();
                Ok(Fingerprint {
                    stat,
                    hash,
                    racy: files.racy_rule() && now_ns.is_none_or(|now| is_racy(&stat, now)),
                    probed,
                })
            });
            ObservedSource {
                rel: f.rel,
                fingerprint,
            }
        })
        .collect();
    if to_hash > 0 {
        progress.finish();
    }
    observed
}

/// The upright shape of the photo at `path`, from its header: the first
/// 64 KiB hold it for nearly every file; the whole file is read otherwise
/// (big metadata segments, a TIFF whose directory is at its end).
fn probe_file(path: &Path) -> Option<Shape> {
    use std::io::Read;
    const HEAD: u64 = 64 << 10;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(HEAD)
        .read_to_end(&mut head)
        .ok()?;
    match crate::render::probe(&head) {
        Some(shape) => Some(shape),
        None if head.len() as u64 == HEAD => crate::render::probe(&std::fs::read(path).ok()?),
        None => None,
    }
}

/// The sizes of recorded sources that were built and are not among `found`.
fn vanished_sizes(found: &[Found], state: &State) -> HashSet<u64, FxBuildHasher> {
    let present: HashSet<&Path, FxBuildHasher> = found.iter().map(|f| f.rel.as_path()).collect();
    state
        .iter()
        .filter(|(rel, r)| {
            r.failed.is_none() && !r.outputs.is_empty() && !present.contains(rel.as_path())
        })
        .map(|(_, r)| r.stat.len)
        .collect()
}

/// Where [`observe_found`] reports how hashing goes.
pub(crate) trait HashProgress {
    /// Hashing `files` files begins.
    fn start(&self, files: usize);
    /// One more file hashed.
    fn hashed(&self);
    /// Hashing is over.
    fn finish(&self);
}

/// The state of every recorded output: stat first, content only when the
/// stat changed. Only the outputs that are not intact are listed.
pub(crate) fn observe_outputs(state: &State, root: &Path) -> OutputStates {
    // Grouped by folder, each opened once; keyed by the folder's bytes,
    // which are cheaper to hash than a `Path`'s components.
    let mut by_dir: HashMap<&[u8], (&Path, Vec<&OutputRecord>), FxBuildHasher> = HashMap::default();
    for o in state.values().flat_map(|r| &r.outputs) {
        let (dir, _) = crate::paths::split_last(&o.path);
        by_dir
            .entry(dir)
            .or_insert_with(|| (o.path.parent().unwrap_or(Path::new("")), Vec::new()))
            .1
            .push(o);
    }
    let dirs: Vec<(&Path, Vec<&OutputRecord>)> = by_dir.into_values().collect();
    let changed: Vec<(OsString, OutputState)> = dirs
        .par_iter()
        .flat_map_iter(|(dir, outputs)| {
            let folder = Folder::open(crate::paths::absolute(root, dir));
            outputs.iter().filter_map(move |o| {
                let (_, name) = crate::paths::split_last(&o.path);
                let observed = match folder.lstat(name) {
                    Err(_) => OutputState::Missing,
                    Ok((_, false)) => OutputState::Modified,
                    Ok((stat, true)) if stat == o.stat => return None,
                    Ok((stat, true)) => match hash_file(&crate::paths::absolute(root, &o.path)) {
                        Ok(hash) if hash == o.hash => OutputState::Restat(stat),
                        _ => OutputState::Modified,
                    },
                };
                Some((o.path.as_os_str().to_os_string(), observed))
            })
        })
        .collect();
    OutputStates::intact_except(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`observe_found`] without probing, from borrowed paths.
    fn observe_sources(
        found: &[Found],
        state: &State,
        source_root: &Path,
        now_ns: Option<i64>,
        hash_new: bool,
        progress: &(dyn HashProgress + Sync),
    ) -> Vec<ObservedSource> {
        let reads = Reads {
            hash_new,
            probe: false,
        };
        observe_found(
            found.to_vec(),
            state,
            SourceFiles::Folder(source_root),
            now_ns,
            reads,
            progress,
        )
    }
    use std::path::PathBuf;

    #[test]
    fn racy_when_modified_in_or_after_the_record_tick() {
        let stat = Stat {
            mtime_ns: 1_000,
            ..Stat::default()
        };
        assert!(is_racy(&stat, 1_000));
        assert!(is_racy(&stat, 999));
        assert!(!is_racy(&stat, 1_001));
    }

    #[derive(Default)]
    struct Counted {
        started: std::sync::Mutex<Vec<usize>>,
        hashed: std::sync::atomic::AtomicUsize,
        finished: std::sync::atomic::AtomicUsize,
    }

    impl HashProgress for Counted {
        fn start(&self, files: usize) {
            self.started.lock().unwrap().push(files);
        }
        fn hashed(&self) {
            self.hashed
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        fn finish(&self) {
            self.finished
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn only_sources_whose_stat_changed_are_hashed_with_progress() {
        let dir = tempfile::tempdir().unwrap();
        let mut found = Vec::new();
        let mut state = State::default();
        for (i, name) in ["same", "touched", "racy", "new"].iter().enumerate() {
            std::fs::write(dir.path().join(name), [i as u8; 10]).unwrap();
            let stat = Stat::of(&std::fs::metadata(dir.path().join(name)).unwrap());
            if *name != "new" {
                let recorded = SourceRecord {
                    stat: if *name == "touched" {
                        Stat::default()
                    } else {
                        stat
                    },
                    hash: crate::hash::hash_bytes(&[i as u8; 10]),
                    racy: *name == "racy",
                    failed: None,
                    placeholder: None,
                    shape: None,
                    outputs: Vec::new(),
                };
                state.insert(PathBuf::from(name), recorded);
            }
            found.push(Found {
                rel: PathBuf::from(name),
                stat: Ok(stat),
            });
        }
        let progress = Counted::default();
        let observed =
            observe_sources(&found, &state, dir.path(), Some(i64::MAX), false, &progress);
        assert_eq!(*progress.started.lock().unwrap(), [2], "touched and racy");
        assert_eq!(progress.hashed.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(
            progress.finished.load(std::sync::atomic::Ordering::SeqCst),
            1
        );
        let hashes: Vec<_> = observed
            .iter()
            .map(|o| o.fingerprint.as_ref().unwrap().hash)
            .collect();
        assert_eq!(
            hashes[..3],
            [0u8, 1, 2].map(|i| Some(crate::hash::hash_bytes(&[i; 10])))
        );
        assert_eq!(hashes[3], None, "a new source is hashed while it is built");
        // With a shared cache, outputs are found by content: hash it now.
        let observed = observe_sources(&found, &state, dir.path(), None, true, &Counted::default());
        assert_eq!(
            observed[3].fingerprint.as_ref().unwrap().hash,
            Some(crate::hash::hash_bytes(&[3; 10]))
        );

        // Nothing to hash: no progress at all.
        let quiet = Counted::default();
        observe_sources(&found[..1], &state, dir.path(), None, false, &quiet);
        assert!(quiet.started.lock().unwrap().is_empty());
        assert_eq!(quiet.finished.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[test]
    fn fs_now_is_not_before_an_earlier_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").unwrap();
        let written = Stat::of(&std::fs::metadata(&path).unwrap()).mtime_ns;
        assert!(fs_now(dir.path()).unwrap() >= written);
    }
}
