//! Sources in an object store (`source = "s3://bucket/prefix"`). The
//! store's listing stands in for the walk of a folder: its size, ETag and
//! last-modified time are a source's stat, compared by equality as a
//! file's are. A source whose listing changed (or that is new) is
//! downloaded, streamed to a local cache of originals while it is hashed,
//! so that freshness is still decided by content: a new ETag over the same
//! bytes rebuilds nothing. Renders read originals from that cache, and
//! download again only what it no longer holds (`originals`).
//!
//! Nothing is ever written to the source store.

mod originals;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore};

use crate::config::{RemoteLocation, StoreSource};
use crate::fingerprint::HashProgress;
use crate::fsutil::PathError;
use crate::model::{Fetched, Hash, Stat};
use crate::remote::store::{self, Patience};

use originals::Originals;
pub(crate) use originals::ORIGINALS_DIR;

/// A source store is the build's input, not an optimisation: connections
/// get a few seconds, a whole original a few minutes, and a failed request
/// is tried again four times with exponential backoff and jitter.
const SOURCE_PATIENCE: Patience = Patience {
    connect: Duration::from_secs(5),
    request: Duration::from_secs(300),
    retries: 4,
    retrying: Duration::from_secs(120),
};

/// A download that receives nothing for this long has stalled, and fails.
const STALL: Duration = Duration::from_secs(30);

/// Downloads in flight at once.
const DOWNLOADS_IN_FLIGHT: usize = 16;

/// The sources of one object store, for one run.
pub(crate) struct Store {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    env_credentials: bool,
    /// The url the sources are named by in the shared cache; `None` where
    /// the listing's validators are not known to change with every write
    /// (a `file://` store's are made from the file's stat).
    strong_url: Option<String>,
    max_bytes: u64,
    offline: bool,
    originals: Originals,
    downloads: AtomicUsize,
    runtime: tokio::runtime::Runtime,
    /// The folder of a read-only run's originals, removed when dropped.
    _scratch: Option<tempfile::TempDir>,
}

impl Store {
    /// Open the store `settings` names, with its originals kept in `cache`,
    /// or for a run that writes nothing (`None`) in a temporary folder.
    /// `offline`: make no request (sources are read from the cache of
    /// originals only). The error is in words.
    pub(crate) fn open(
        settings: &StoreSource,
        cache: Option<&Path>,
        offline: bool,
    ) -> Result<Store, String> {
        let scratch = match cache {
            Some(_) => None,
            None => Some(tempfile::tempdir().map_err(|e| {
                format!(
                    "cannot create a temporary folder: {}",
                    crate::error::describe_io(&e)
                )
            })?),
        };
        let cache = cache
            .or(scratch.as_ref().map(|s| s.path()))
            .expect("one of the two");
        let opened = store::open_at(
            &settings.location,
            settings.endpoint.as_deref(),
            settings.region.as_deref(),
            SOURCE_PATIENCE,
        )?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("thumbgen-source")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start its client: {e}"))?;
        Ok(Store {
            store: opened.store,
            prefix: opened.prefix,
            env_credentials: opened.env_credentials,
            strong_url: matches!(settings.location, RemoteLocation::S3 { .. })
                .then(|| settings.url.clone()),
            max_bytes: settings.max_bytes,
            offline,
            originals: Originals::new(cache, settings.originals_max_bytes),
            downloads: AtomicUsize::new(0),
            runtime,
            _scratch: scratch,
        })
    }

    /// Every object under the prefix: its key relative to the prefix (as a
    /// path) and its stat. Keys with a hidden part (`.x`) are left out, as
    /// a walk leaves out hidden files.
    pub(crate) fn list(&self) -> Result<Vec<(PathBuf, Stat)>, String> {
        let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
        let listed: Vec<_> = self.runtime.block_on(async {
            let mut stream = self.store.list(prefix);
            let mut all = Vec::new();
            while let Some(meta) = stream.next().await {
                all.push(meta.map_err(|e| self.describe(&e))?);
            }
            Ok::<_, String>(all)
        })?;
        Ok(listed
            .into_iter()
            .filter_map(|meta| Some((self.relative(&meta.location)?, stat_of(&meta))))
            .collect())
    }

    /// The path of `key` relative to the prefix, unless it is hidden.
    fn relative(&self, key: &ObjectPath) -> Option<PathBuf> {
        let parts: Vec<_> = key.prefix_match(&self.prefix)?.collect();
        if parts.is_empty() || parts.iter().any(|p| p.as_ref().starts_with('.')) {
            return None;
        }
        Some(parts.iter().map(|p| p.as_ref()).collect())
    }

    /// The key of the source at `rel`: the listing's parts joined again as
    /// they came (already in the store's encoding, so parsed, not encoded).
    fn key(&self, rel: &Path) -> ObjectPath {
        let rel = crate::paths::slash(rel);
        let key = if self.prefix.as_ref().is_empty() {
            rel
        } else {
            format!("{}/{rel}", self.prefix)
        };
        ObjectPath::parse(&key).unwrap_or_else(|_| ObjectPath::from(key))
    }

    /// The name under which the shared cache keeps the content hash of the
    /// source at `rel` as listed with `stat`, if its validator is strong
    /// enough to name one write of it.
    pub(crate) fn content_name(&self, rel: &Path, stat: &Stat) -> Option<String> {
        let url = self.strong_url.as_ref()?;
        (stat.ino != NO_VALIDATOR).then(|| {
            crate::remote::key::source_name(url, &crate::paths::slash(rel), stat.len, stat.ino)
        })
    }

    /// Download the sources at `rels`, several at a time, into the cache of
    /// originals; each one's hash and file, or why it could not be had.
    pub(crate) fn fetch(
        &self,
        rels: Vec<PathBuf>,
        progress: &(dyn HashProgress + Sync),
    ) -> HashMap<PathBuf, Result<Fetched, String>> {
        if rels.is_empty() {
            return HashMap::new();
        }
        progress.start(rels.len());
        let fetched = self.runtime.block_on(
            futures::stream::iter(rels)
                .map(|rel| async move {
                    let result = self.download(&rel).await;
                    progress.hashed();
                    (rel, result)
                })
                .buffer_unordered(DOWNLOADS_IN_FLIGHT)
                .collect(),
        );
        progress.finish();
        fetched
    }

    /// The bytes of the source at `rel`, whose content hash is `expected`
    /// when known: from the cache of originals if it holds them, else
    /// downloaded (and kept). Bytes that are not the expected ones mean the
    /// object changed after it was listed: an error, so that a record never
    /// pairs one content with another's outputs.
    pub(crate) fn read(&self, rel: &Path, expected: Option<&Hash>) -> Result<Vec<u8>, String> {
        if let Some(bytes) = expected.and_then(|hash| self.originals.read(hash)) {
            return Ok(bytes);
        }
        let fetched = self.runtime.block_on(self.download(rel))?;
        if expected.is_some_and(|hash| *hash != fetched.hash) {
            return Err("it changed in the store after it was listed; build again".into());
        }
        let path = fetched.path.expect("a download is kept");
        std::fs::read(&path).map_err(|e| {
            format!(
                "cannot read its downloaded copy {}: {}",
                path.display(),
                crate::error::describe_io(&e)
            )
        })
    }

    /// How many originals this run downloaded.
    pub(crate) fn downloads(&self) -> usize {
        self.downloads.load(Ordering::Relaxed)
    }

    /// Bring the cache of originals within its bound.
    pub(crate) fn trim(&self) -> Result<(), PathError> {
        self.originals.trim()
    }

    /// Stream the object of `rel` into the cache of originals, hashing it
    /// on the way; never more than `max_bytes`, and never a partial file.
    async fn download(&self, rel: &Path) -> Result<Fetched, String> {
        if self.offline {
            return Err(
                "it is not in the cache of originals, and --offline makes no request".into(),
            );
        }
        let got = self
            .store
            .get(&self.key(rel))
            .await
            .map_err(|e| self.describe(&e))?;
        let size = got.meta.size;
        if size > self.max_bytes {
            return Err(too_large(self.max_bytes));
        }
        let local = |e: std::io::Error| {
            format!(
                "cannot keep a downloaded copy: {}",
                crate::error::describe_io(&e)
            )
        };
        let mut part = self.originals.part().map_err(local)?;
        let mut hasher = blake3::Hasher::new();
        let mut received = 0u64;
        let mut stream = got.into_stream();
        loop {
            let next = tokio::time::timeout(STALL, stream.next())
                .await
                .map_err(|_| format!("the download stalled: nothing for {} s", STALL.as_secs()))?;
            let Some(chunk) = next else { break };
            let chunk = chunk.map_err(|e| self.describe(&e))?;
            received += chunk.len() as u64;
            if received > self.max_bytes {
                return Err(too_large(self.max_bytes));
            }
            hasher.update(&chunk);
            part.write_all(&chunk).map_err(local)?;
        }
        if received != size {
            return Err(format!(
                "the download was cut short: {received} of {size} bytes"
            ));
        }
        let hash = *hasher.finalize().as_bytes();
        let path = self.originals.keep(part, &hash).map_err(local)?;
        self.downloads.fetch_add(1, Ordering::Relaxed);
        Ok(Fetched {
            hash,
            path: Some(path),
        })
    }

    fn describe(&self, error: &object_store::Error) -> String {
        match error {
            object_store::Error::NotFound { .. } => "it is no longer in the store".into(),
            _ => store::describe(error, self.env_credentials),
        }
    }
}

/// The inode number of an object listed without a strong ETag.
const NO_VALIDATOR: u64 = 0;

fn too_large(max_bytes: u64) -> String {
    format!("it is larger than max_bytes ({max_bytes} bytes); raise max_bytes to build it")
}

/// An object's listing as a stat: its size, its last-modified time, and
/// its ETag (and version) folded into the inode number, so that a stat
/// compares equal only while the object is the same write. The listing's
/// time comes from the store's clock and its ETag changes with every
/// write, so the racy rule has nothing to guard here.
fn stat_of(meta: &ObjectMeta) -> Stat {
    let ino = match meta.e_tag.as_deref() {
        // A weak ETag (`W/"…"`) may stay the same over other bytes.
        Some(tag) if !tag.starts_with("W/") => {
            let mut h = blake3::Hasher::new();
            h.update(tag.as_bytes());
            h.update(b"\0");
            h.update(meta.version.as_deref().unwrap_or("").as_bytes());
            let folded =
                u64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().expect("8 bytes"));
            folded.max(1)
        }
        _ => NO_VALIDATOR,
    };
    Stat {
        len: meta.size,
        mtime_ns: meta.last_modified.timestamp_nanos_opt().unwrap_or(0),
        ctime_ns: 0,
        ino,
    }
}
