//! The record store: the only module that knows about sled. It persists
//! the records of `model` (per source, what the source was and which outputs
//! were made from it) with postcard, under a schema version, and holds the
//! run lock. The rest of the program sees plain structs.
//!
//! The cache is derived data. When it is missing, corrupt or from another
//! schema, we warn and start over: every record can be recomputed from the
//! sources, the config and the output tree. An output is only trusted if its
//! record was committed after the file was in place.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{describe_io, Error, Holder, Result};
use crate::fsutil;
use crate::model::{path_bytes, Hash, Recipe, Recipes, Setting, SourceRecord, State, Validators};
use crate::problem::{CacheDamage, Warning};

/// Bump when the record layout changes; older caches are discarded.
/// 5: records hold placeholders.
/// 6: outputs and placeholders no longer record the decode they came from
/// (each follows from its own recipe).
/// The folder in the cache folder that holds the record store.
pub(crate) const STORE_DIR: &str = "db";
/// The file in the cache folder that one run at a time holds locked.
pub(crate) const LOCK_FILE: &str = "lock";

const SCHEMA_VERSION: u32 = 6;
const SCHEMA_KEY: &[u8] = b"schema";
/// Key prefixes: a source's record, and a recipe's settings.
const SOURCE_PREFIX: u8 = b's';
const RECIPE_PREFIX: u8 = b'r';
/// Validators of URL sources (`source_list`), by the source's identity.
const VALIDATOR_PREFIX: u8 = b'h';
/// sled's page cache. Its default (1 GiB) keeps every page a build reads:
/// tens of megabytes more for a large catalogue, read once per run, in a
/// sorted scan or in sorted puts that need only the pages at hand.
const CACHE_BYTES: u64 = 16 << 20;
/// The manifest last written: its path (relative to the config folder)
/// and the hash of its bytes.
const MANIFEST_KEY: &[u8] = b"manifest";
/// Present once a build has swept the output tree against these records
/// (`owned`): from then on the records say what the tree holds. (Not
/// under the source prefix.)
const SWEPT_KEY: &[u8] = b"tree-swept";

/// The run lock on a cache folder: one writing run at a time. `build` holds
/// it for one build, `watch` for its whole life, so that neither a `build`
/// nor a `clean` can change the tree under a watcher. Released by the OS
/// when the process ends, however it ends. Cloning shares the one lock.
#[derive(Clone)]
pub(crate) struct RunLock {
    cache: PathBuf,
    /// The locked file, or why the cache folder cannot be written: then
    /// the run goes on with records in memory (see
    /// [`Warning::CacheInMemory`]).
    file: std::result::Result<std::sync::Arc<File>, String>,
}

impl RunLock {
    /// Take the lock on `cache` for a build or clean, creating the folder.
    /// Another run holding it is [`Error::LockHeld`], naming its pid.
    pub(crate) fn acquire(cache: &Path) -> Result<RunLock> {
        RunLock::acquire_as(cache, false)
    }

    /// The same for a `watch`, which says so in the lock file: a run it
    /// refuses can then name it as a watcher.
    pub(crate) fn acquire_for_watch(cache: &Path) -> Result<RunLock> {
        RunLock::acquire_as(cache, true)
    }

    fn acquire_as(cache: &Path, watch: bool) -> Result<RunLock> {
        let unusable = |e: &std::io::Error| RunLock {
            cache: cache.to_path_buf(),
            file: Err(describe_io(e)),
        };
        if let Err(e) = std::fs::create_dir_all(cache) {
            return Ok(unusable(&e));
        }
        match lock(cache, watch) {
            Ok(file) => Ok(RunLock {
                cache: cache.to_path_buf(),
                file: Ok(std::sync::Arc::new(file)),
            }),
            Err(LockError::Held(holder)) => Err(Error::LockHeld {
                cache: cache.to_path_buf(),
                holder,
            }),
            Err(LockError::Unwritable(e)) => Ok(unusable(&e)),
        }
    }

    /// The cache folder it locks.
    pub(crate) fn cache(&self) -> &Path {
        &self.cache
    }
}

/// The open record store, with the run lock held (or a private copy for
/// read-only runs, or nothing for a run that must not touch the cache).
pub(crate) struct Db {
    tree: Option<sled::Db>,
    /// The store is the cache's own, in its folder (not a temporary one,
    /// nor a private copy: both are removed when dropped).
    in_cache: bool,
    _lock: Option<RunLock>,
    /// For a read-only run: the copy of the store that was opened.
    _snapshot: Option<tempfile::TempDir>,
}

/// Put `all` validators, by identity, into `batch`.
fn insert_validators(batch: &mut sled::Batch, all: &HashMap<String, Validators>) {
    for (id, validators) in all {
        let mut key = vec![VALIDATOR_PREFIX];
        key.extend_from_slice(id.as_bytes());
        batch.insert(
            key,
            postcard::to_allocvec(validators).expect("plain data encodes"),
        );
    }
}

impl Db {
    /// Take the run lock and open the store in `cache`, creating it (see
    /// [`Db::open_locked`]).
    pub(crate) fn open(cache: &Path, warnings: &mut Vec<Warning>) -> Result<Db> {
        Db::open_locked(&RunLock::acquire(cache)?, warnings)
    }

    /// Open the store of the cache that `lock` holds. A store that cannot
    /// be opened or read is started over, with a warning pushed onto
    /// `warnings`.
    pub(crate) fn open_locked(lock: &RunLock, warnings: &mut Vec<Warning>) -> Result<Db> {
        if let Err(error) = &lock.file {
            warnings.push(Warning::CacheInMemory {
                path: lock.cache.clone(),
                damage: CacheDamage::Io(error.clone()),
            });
            return Db::in_memory();
        }
        let path = lock.cache.join(STORE_DIR);
        let mut in_cache = true;
        let tree = match open_checked(&path) {
            Ok(tree) => tree,
            Err(damage) => {
                warnings.push(Warning::CacheReset {
                    path: path.clone(),
                    damage,
                });
                let reopened = fsutil::remove_entry(&path)
                    .map_err(|e| CacheDamage::Io(e.to_string()))
                    .and_then(|()| open_checked(&path));
                match reopened {
                    Ok(tree) => tree,
                    Err(damage) => {
                        warnings.push(Warning::CacheInMemory { path, damage });
                        in_cache = false;
                        temporary()?
                    }
                }
            }
        };
        Ok(Db {
            tree: Some(tree),
            in_cache,
            _lock: Some(lock.clone()),
            _snapshot: None,
        })
    }

    /// Open a private copy of the store in `cache`, for runs that must not
    /// write (`--dry-run`, `--check`): sled writes even when only read.
    /// Waits for no lock; a run in progress may make the copy stale, which
    /// only makes the answer conservative.
    pub(crate) fn snapshot(cache: &Path, warnings: &mut Vec<Warning>) -> Result<Db> {
        let source = cache.join(STORE_DIR);
        if !source.is_dir() {
            return Ok(Db::empty());
        }
        let copy = tempfile::tempdir().map_err(|e| {
            Error::Fatal(format!(
                "cannot create a temporary folder: {}",
                describe_io(&e)
            ))
        })?;
        let target = copy.path().join("db");
        if let Err(e) = copy_dir(&source, &target) {
            warnings.push(Warning::CacheUnread {
                path: source,
                damage: CacheDamage::Io(describe_io(&e)),
            });
            return Ok(Db::empty());
        }
        let tree = match open_checked(&target) {
            Ok(tree) => Some(tree),
            Err(damage) => {
                warnings.push(Warning::CacheUnread {
                    path: source,
                    damage,
                });
                None
            }
        };
        Ok(Db {
            tree,
            in_cache: false,
            _lock: None,
            _snapshot: Some(copy),
        })
    }

    /// A store that lives in memory for this run only (the cache folder is
    /// unusable): builds still work, the next run starts over.
    fn in_memory() -> Result<Db> {
        Ok(Db {
            tree: Some(temporary()?),
            in_cache: false,
            _lock: None,
            _snapshot: None,
        })
    }

    /// A store with no records that writes nothing.
    pub(crate) fn empty() -> Db {
        Db {
            tree: None,
            in_cache: false,
            _lock: None,
            _snapshot: None,
        }
    }

    /// Every record. Undecodable records are dropped with a warning: the
    /// sources they describe are then treated as new.
    pub(crate) fn load(&self, warnings: &mut Vec<Warning>) -> State {
        let Some(tree) = &self.tree else {
            return State::default();
        };
        // Read in batches, each decoded on the pool while the next one is
        // read: the raw bytes of one batch at a time stay in memory, and
        // reading (one thread: sled's iterator) overlaps decoding.
        const BATCH: usize = 4096;
        let mut state = State::default();
        let mut bad = 0usize;
        let mut items = tree.scan_prefix([SOURCE_PREFIX]);
        let read = |items: &mut sled::Iter| -> Vec<_> { items.by_ref().take(BATCH).collect() };
        let mut batch = read(&mut items);
        while !batch.is_empty() {
            let (next, decoded) = rayon::join(
                || read(&mut items),
                || -> Vec<Option<(PathBuf, SourceRecord)>> {
                    batch
                        .par_iter()
                        .map(|item| {
                            let (key, value) = item.as_ref().ok()?;
                            let record = postcard::from_bytes::<SourceRecord>(value).ok()?;
                            Some((path_bytes::from_bytes(&key[1..]), record))
                        })
                        .collect()
                },
            );
            state.reserve(decoded.len());
            for (item, decoded) in batch.iter().zip(decoded) {
                match (item, decoded) {
                    // "schema" starts with the source prefix; it is no record.
                    (Ok((key, _)), None) if &**key == SCHEMA_KEY => {}
                    (_, Some((path, record))) => {
                        state.insert(path, record);
                    }
                    _ => bad += 1,
                }
            }
            batch = next;
        }
        if bad > 0 {
            warnings.push(Warning::RecordsDropped { count: bad });
        }
        state
    }

    /// The settings of every recorded recipe; a recipe that cannot be
    /// decoded is simply unknown (it only makes `--explain` vaguer).
    pub(crate) fn recipes(&self) -> Recipes {
        let Some(tree) = &self.tree else {
            return Recipes::default();
        };
        tree.scan_prefix([RECIPE_PREFIX])
            .filter_map(|item| {
                let (key, value) = item.ok()?;
                let recipe: Recipe = key.get(1..)?.try_into().ok()?;
                Some((recipe, postcard::from_bytes(&value).ok()?))
            })
            .collect()
    }

    /// The manifest the last build wrote, if any: its path (relative to the
    /// config folder) and the hash of its bytes.
    pub(crate) fn manifest(&self) -> Option<(PathBuf, Hash)> {
        let value = self.tree.as_ref()?.get(MANIFEST_KEY).ok()??;
        let (path, hash): (Vec<u8>, Hash) = postcard::from_bytes(&value).ok()?;
        Some((path_bytes::from_bytes(&path), hash))
    }

    /// Whether a build has swept the output tree against these records.
    pub(crate) fn swept(&self) -> bool {
        self.tree
            .as_ref()
            .is_some_and(|t| t.contains_key(SWEPT_KEY).unwrap_or(false))
    }

    /// Record that this build swept the output tree.
    pub(crate) fn set_swept(&self) -> Result<()> {
        if let Some(tree) = &self.tree {
            tree.insert(SWEPT_KEY, &[1u8][..]).map_err(db_error)?;
        }
        Ok(())
    }

    /// Record the manifest just written, or with `None` that there is none.
    pub(crate) fn set_manifest(&self, manifest: Option<(&Path, &Hash)>) -> Result<()> {
        let Some(tree) = &self.tree else {
            return Ok(());
        };
        match manifest {
            Some((path, hash)) => {
                let value = postcard::to_allocvec(&(path_bytes::to_bytes(path), hash))
                    .expect("paths always encode");
                tree.insert(MANIFEST_KEY, value).map_err(db_error)?;
            }
            None => {
                tree.remove(MANIFEST_KEY).map_err(db_error)?;
            }
        }
        Ok(())
    }

    /// Remember what `recipe` is made of, if it is not known yet.
    pub(crate) fn put_recipe(&self, recipe: &Recipe, settings: &[Setting]) -> Result<()> {
        let Some(tree) = &self.tree else {
            return Ok(());
        };
        let mut key = vec![RECIPE_PREFIX];
        key.extend_from_slice(recipe);
        if tree.contains_key(&key).map_err(db_error)? {
            return Ok(());
        }
        let value = postcard::to_allocvec(settings).expect("settings always encode");
        tree.insert(key, value).map_err(db_error)?;
        Ok(())
    }

    /// The validators last answered for each URL source, by its identity.
    pub(crate) fn validators(&self) -> HashMap<String, Validators> {
        let Some(tree) = &self.tree else {
            return HashMap::new();
        };
        tree.scan_prefix([VALIDATOR_PREFIX])
            .filter_map(|item| {
                let (key, value) = item.ok()?;
                let id = String::from_utf8(key.get(1..)?.to_vec()).ok()?;
                Some((id, postcard::from_bytes(&value).ok()?))
            })
            .collect()
    }

    /// Replace the validators of URL sources with `all`.
    pub(crate) fn set_validators(&self, all: &HashMap<String, Validators>) -> Result<()> {
        let Some(tree) = &self.tree else {
            return Ok(());
        };
        let mut batch = sled::Batch::default();
        for item in tree.scan_prefix([VALIDATOR_PREFIX]).keys() {
            let key = item.map_err(db_error)?;
            let known = std::str::from_utf8(&key[1..]).is_ok_and(|id| all.contains_key(id));
            if !known {
                batch.remove(key);
            }
        }
        insert_validators(&mut batch, all);
        tree.apply_batch(batch).map_err(db_error)?;
        Ok(())
    }

    /// Keep `more` validators beside those kept (see [`Db::set_validators`]).
    pub(crate) fn add_validators(&self, more: &HashMap<String, Validators>) -> Result<()> {
        let Some(tree) = &self.tree else {
            return Ok(());
        };
        let mut batch = sled::Batch::default();
        insert_validators(&mut batch, more);
        tree.apply_batch(batch).map_err(db_error)?;
        Ok(())
    }

    /// Record what is now true of `source`.
    pub(crate) fn put(&self, source: &Path, record: &SourceRecord) -> Result<()> {
        let Some(tree) = &self.tree else {
            return Ok(());
        };
        let value = postcard::to_allocvec(record).expect("records always encode");
        tree.insert(key(source), value).map_err(db_error)?;
        Ok(())
    }

    /// Drop the record of `source`.
    pub(crate) fn forget(&self, source: &Path) -> Result<()> {
        let Some(tree) = &self.tree else {
            return Ok(());
        };
        tree.remove(key(source)).map_err(db_error)?;
        Ok(())
    }

    /// Close the store when the process is about to end: a store of the
    /// cache, flushed, is left to the OS (sled's closing flushes again,
    /// and frees every page it read, one by one); any other is dropped,
    /// which removes it.
    pub(crate) fn close_at_exit(self) -> Result<()> {
        if self.in_cache {
            self.flush()?;
            std::mem::forget(self);
        }
        Ok(())
    }

    /// Make every record written so far durable.
    pub(crate) fn flush(&self) -> Result<()> {
        if let Some(tree) = &self.tree {
            tree.flush().map_err(db_error)?;
        }
        Ok(())
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Source keys are prefixed so they can never equal the schema key.
fn key(source: &Path) -> Vec<u8> {
    let mut k = vec![SOURCE_PREFIX];
    k.extend_from_slice(&path_bytes::to_bytes(source));
    k
}

fn db_error(e: sled::Error) -> Error {
    Error::Cache(e.to_string())
}

fn temporary() -> Result<sled::Db> {
    sled::Config::new().temporary(true).open().map_err(db_error)
}

/// Open the store and check its schema; `Err` says what is wrong with it.
fn open_checked(path: &Path) -> std::result::Result<sled::Db, CacheDamage> {
    let unreadable = |e: sled::Error| CacheDamage::Unreadable(e.to_string());
    let tree = sled::Config::new()
        .path(path)
        .cache_capacity(CACHE_BYTES)
        .open()
        .map_err(unreadable)?;
    let schema = tree.get(SCHEMA_KEY).map_err(unreadable)?;
    let expected = SCHEMA_VERSION.to_le_bytes();
    match schema {
        Some(v) if *v == expected => Ok(tree),
        None if tree.is_empty() => {
            tree.insert(SCHEMA_KEY, &expected).map_err(unreadable)?;
            Ok(tree)
        }
        _ => {
            drop(tree);
            Err(CacheDamage::OtherVersion)
        }
    }
}

enum LockError {
    /// Held by another run, as it described itself.
    Held(Holder),
    Unwritable(std::io::Error),
}

/// An advisory lock on `<cache>/lock`, holding our pid so that a second run
/// can say who has it. Released by the OS when the process ends, however it
/// ends.
fn lock(cache: &Path, watch: bool) -> std::result::Result<File, LockError> {
    let path = cache.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(LockError::Unwritable)?;
    match file.try_lock() {
        Ok(()) => {
            // "PID" for a build or clean, "PID watch" for a watcher.
            let holder = format!(
                "{}{}",
                std::process::id(),
                if watch { " watch" } else { "" }
            );
            let _ = file.set_len(0);
            let _ = file.write_all(holder.as_bytes());
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let mut words = text.split_whitespace();
            Err(LockError::Held(Holder {
                pid: words.next().and_then(|pid| pid.parse().ok()),
                watch: words.next() == Some("watch"),
            }))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(LockError::Unwritable(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Format, OutputRecord, Shape, Stat};

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The bytes of a record of each kind stored under this
    /// `SCHEMA_VERSION`. A field added, removed or reordered changes them,
    /// and then old caches would be misread: bump `SCHEMA_VERSION` (old
    /// caches are then discarded) and paste the new bytes here, together.
    #[test]
    fn record_layouts_are_pinned_to_the_schema_version() {
        let mut with_everything = record();
        with_everything.racy = true;
        with_everything.failed = Some([9; 32]);
        with_everything.placeholder = Some(Box::new(crate::model::Placeholder {
            thumbhash: Some("th".into()),
            blurhash: Some("bh".into()),
            data_url: "d".into(),
            color: [1, 2, 3],
        }));
        let settings = vec![Setting {
            key: "width".into(),
            value: "64".into(),
        }];
        let manifest = (path_bytes::to_bytes(Path::new("out/m.json")), [5u8; 32]);
        let encoded = [
            hex(&postcard::to_allocvec(&record()).unwrap()),
            hex(&postcard::to_allocvec(&with_everything).unwrap()),
            hex(&postcard::to_allocvec(&settings).unwrap()),
            hex(&postcard::to_allocvec(&manifest).unwrap()),
        ];
        let pinned = PINNED.map(String::from);
        assert_eq!(
            (SCHEMA_VERSION, &encoded),
            (6, &pinned),
            "a record's layout changed: bump SCHEMA_VERSION and pin the new bytes"
        );
    }

    const PINNED: [&str; 4] = [
        // A source record with one output.
        "030a0c0701010101010101010101010101010101010101010101010101010101010101010000\
         01a01fb817010001057468756d620f6f75742f7468756d622f612e6a70670202020202020202\
         0202020202020202020202020202020202020202020202020100000000030303030303030303\
         03030303030303030303030303030303030303030303030a1400",
        // One that is racy, failed before, with placeholders.
        "030a0c0701010101010101010101010101010101010101010101010101010101010101010101\
         090909090909090909090909090909090909090909090909090909090909090901a01fb81701\
         010102746801026268016401020301057468756d620f6f75742f7468756d622f612e6a7067\
         0202020202020202020202020202020202020202020202020202020202020202010000000003\
         030303030303030303030303030303030303030303030303030303030303030a1400",
        // A recipe's settings.
        "01057769647468023634",
        // The manifest last written.
        "0a6f75742f6d2e6a736f6e0505050505050505050505050505050505050505050505050505050505050505",
    ];

    fn record() -> SourceRecord {
        SourceRecord {
            stat: Stat {
                len: 3,
                mtime_ns: 5,
                ctime_ns: 6,
                ino: 7,
            },
            hash: [1; 32],
            racy: false,
            failed: None,
            placeholder: None,
            shape: Some(Shape {
                width: 4000,
                height: 3000,
                coding: crate::model::Coding::Jpeg,
            }),
            outputs: vec![OutputRecord {
                variant: "thumb".into(),
                path: Path::new("out/thumb/a.jpg").into(),
                settings: [2; 32],
                pipeline: 1,
                stat: Stat::default(),
                hash: [3; 32],
                width: 10,
                height: 20,
                format: Format::Jpeg,
            }],
        }
    }

    #[test]
    fn records_round_trip_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        let mut warnings = vec![];
        {
            let db = Db::open(dir.path(), &mut warnings).unwrap();
            db.put(Path::new("a/b.jpg"), &record()).unwrap();
            db.put(Path::new("gone.jpg"), &record()).unwrap();
            db.forget(Path::new("gone.jpg")).unwrap();
            let settings = vec![crate::model::Setting {
                key: "width".into(),
                value: "640".into(),
            }];
            db.put_recipe(&[5; 32], &settings).unwrap();
            db.flush().unwrap();
        }
        let db = Db::open(dir.path(), &mut warnings).unwrap();
        let state = db.load(&mut warnings);
        assert_eq!(state.len(), 1);
        let recipes = db.recipes();
        assert_eq!(recipes.len(), 1);
        assert_eq!(recipes[&[5; 32]][0].value, "640");
        assert_eq!(state[Path::new("a/b.jpg")], record());
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn second_open_is_refused_while_locked() {
        let dir = tempfile::tempdir().unwrap();
        let mut warnings = vec![];
        let _first = Db::open(dir.path(), &mut warnings).unwrap();
        let second = Db::open(dir.path(), &mut warnings);
        let message = second.err().expect("locked").to_string();
        assert!(
            message.contains(&std::process::id().to_string()),
            "{message}"
        );
    }

    #[test]
    fn garbage_cache_is_started_over_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("db"), b"not a database at all").unwrap();
        let mut warnings = vec![];
        let db = Db::open(dir.path(), &mut warnings).unwrap();
        assert!(db.load(&mut warnings).is_empty());
        assert!(!warnings.is_empty());
    }

    #[test]
    fn a_cache_from_another_schema_is_started_over() {
        let dir = tempfile::tempdir().unwrap();
        let mut warnings = vec![];
        {
            let db = Db::open(dir.path(), &mut warnings).unwrap();
            db.put(Path::new("a.jpg"), &record()).unwrap();
            let tree = db.tree.as_ref().unwrap();
            tree.insert(SCHEMA_KEY, &(SCHEMA_VERSION + 1).to_le_bytes())
                .unwrap();
            db.flush().unwrap();
        }
        let db = Db::open(dir.path(), &mut warnings).unwrap();
        assert!(
            db.load(&mut warnings).is_empty(),
            "old records are not trusted"
        );
        assert!(
            warnings.iter().any(|w| matches!(
                w,
                Warning::CacheReset {
                    damage: CacheDamage::OtherVersion,
                    ..
                }
            )),
            "{warnings:?}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_paths_survive() {
        use std::os::unix::ffi::OsStrExt;
        let name = PathBuf::from(std::ffi::OsStr::from_bytes(b"caf\xe9.jpg"));
        let dir = tempfile::tempdir().unwrap();
        let mut warnings = vec![];
        let db = Db::open(dir.path(), &mut warnings).unwrap();
        db.put(&name, &record()).unwrap();
        assert!(db.load(&mut warnings).contains_key(&name));
    }
}
