//! The shared cache: outputs that another machine rendered, on object
//! storage (S3 and S3-compatible stores, or a shared folder), found by an
//! action key and verified before they are installed.
//!
//! Two rules shape everything here:
//!
//! - **The cache never fails a build.** Every problem with the store — down,
//!   slow, refusing, throttling, damaged objects — costs at most one warning
//!   ([`Warning::RemoteUnavailable`]) and the build renders locally with the
//!   same exit code. After the first failure the store is not asked again in
//!   this run, so a dead remote costs one timeout, not one per output.
//! - **Nothing unverified is installed.** A blob is named by the blake3 of
//!   its bytes; a download whose bytes do not hash to its name is damage
//!   ([`Warning::RemoteDamaged`]): the output is rendered locally, and a
//!   read-write run replaces the damaged object (put-if-absent alone would
//!   keep it forever).
//!
//! Lookups run ahead of the executor ([`Remote::prefetch`]): a hundred
//! requests in flight, in the order the executor takes jobs, with a bounded window so
//! downloaded bytes do not pile up while misses render. Uploads run in the
//! background, bounded, and are finished before the run ends
//! ([`Remote::finish`]) or abandoned on Ctrl-C (an object is either wholly
//! written or absent, and an entry is written only after its blob).
//!
//! What decides a key, and the layout of the store, is in [`key`].

pub(crate) mod key;
pub(crate) mod store;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};
use tokio::sync::Semaphore;

use crate::config::RemoteSettings;
use crate::model::{Hash, RemoteMode};
use crate::problem::Warning;
pub(crate) use key::{action_key, Entry, Made};
use store::object_path;

/// Requests in flight at once (lookups and downloads together). Each takes
/// a round trip of the store's latency, and an output needs two in a row:
/// on a loopback S3 server 32 took 1.85 s for 900 outputs, 64 took 1.03 s,
/// 128 took 0.74 s. S3 serves thousands of requests a second per prefix.
const REQUESTS_IN_FLIGHT: usize = 128;
/// Jobs looked up at once; each asks for every output it builds.
const JOBS_IN_FLIGHT: usize = 64;
/// Jobs fetched ahead of the executor; bounds the downloaded bytes held.
const JOBS_AHEAD: usize = 128;
/// Uploads queued or in flight; a worker waits for a free one.
const UPLOADS_IN_FLIGHT: usize = 32;
/// How long a worker waits for its job's lookups before it calls the store
/// slow, stops asking it and renders locally.
const PATIENCE: Duration = Duration::from_secs(5);
/// How long the end of a run waits for uploads still in flight.
const UPLOAD_GRACE: Duration = Duration::from_secs(60);

/// What the store had for one output.
#[derive(Debug)]
pub(crate) enum Found {
    /// Verified bytes and what they are.
    Hit {
        /// The action's entry.
        entry: Entry,
        /// The blob, whose blake3 is `entry`'s digest.
        bytes: Vec<u8>,
    },
    /// Render it; `repair` says which objects must be overwritten on upload
    /// because what the store holds under the names is damaged.
    Miss {
        /// What to replace.
        repair: Repair,
    },
}

/// Damaged objects for one action, replaced when its output is uploaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Repair {
    /// The entry is unreadable, or names a blob other than the one the
    /// action makes.
    pub entry: bool,
    /// The blob's bytes do not hash to its name.
    pub blob: bool,
}

/// Counts of one run, for tests and benchmarks.
#[derive(Debug, Default)]
struct Counts {
    downloaded_bytes: AtomicUsize,
    uploaded: AtomicUsize,
}

/// Whether the store is still worth asking, and what went wrong.
struct Health {
    url: String,
    /// Set on the first failure: nothing more is asked of the store.
    dead: AtomicBool,
    /// Warnings not yet handed to the reporter.
    warnings: Mutex<Vec<Warning>>,
    /// The cloud whose credentials the environment lacks (for the hint).
    missing_credentials: Option<crate::config::Cloud>,
    /// Whether this run may write (and so replaces damaged objects).
    writes: bool,
}

impl Health {
    fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Relaxed)
    }

    /// The store failed: one warning for the run, then it is left alone.
    fn failed(&self, error: String) {
        if !self.dead.swap(true, Ordering::SeqCst) {
            self.warnings
                .lock()
                .unwrap()
                .push(Warning::RemoteUnavailable {
                    url: self.url.clone(),
                    error,
                });
        }
    }

    fn store_error(&self, error: &object_store::Error) {
        self.failed(store::describe(error, self.missing_credentials));
    }

    fn damaged(&self, object: String, problem: &'static str) {
        self.warnings.lock().unwrap().push(Warning::RemoteDamaged {
            url: self.url.clone(),
            object,
            problem,
            replaced: self.writes,
        });
    }
}

/// An open shared cache for one run.
pub(crate) struct Remote {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    writes: bool,
    health: Arc<Health>,
    counts: Arc<Counts>,
    requests: Arc<Semaphore>,
    uploads: Arc<Semaphore>,
    runtime: Option<tokio::runtime::Runtime>,
}

/// Where a setting of the mode came from, strongest first: the command
/// line's `--remote`, then `THUMBGEN_REMOTE_MODE`, then `[remote] mode`.
pub(crate) fn resolve_mode(
    configured: Option<RemoteMode>,
    flag: Option<RemoteMode>,
    env: Option<&str>,
) -> Result<RemoteMode, String> {
    let env = match env.map(str::trim).filter(|v| !v.is_empty()) {
        Some(text) => Some(RemoteMode::parse(text).ok_or_else(|| {
            format!(
                "THUMBGEN_REMOTE_MODE must be one of read-write | read-only | off (got \"{text}\")"
            )
        })?),
        None => None,
    };
    Ok(flag.or(env).or(configured).unwrap_or(RemoteMode::Off))
}

impl Remote {
    /// Open the store `settings` names, read-write or read-only (`mode`);
    /// a store that cannot even be set up is a warning and no remote.
    pub(crate) fn open(
        settings: &RemoteSettings,
        mode: RemoteMode,
    ) -> Result<Remote, Box<Warning>> {
        let unavailable = |error: String| {
            Box::new(Warning::RemoteUnavailable {
                url: settings.url.clone(),
                error,
            })
        };
        let opened = store::open(settings).map_err(unavailable)?;
        let runtime = store::runtime("remote").map_err(unavailable)?;
        Ok(Remote::with_store(
            opened.store,
            opened.prefix,
            &settings.url,
            mode,
            opened.missing_credentials,
            runtime,
        ))
    }

    fn with_store(
        store: Arc<dyn ObjectStore>,
        prefix: ObjectPath,
        url: &str,
        mode: RemoteMode,
        missing_credentials: Option<crate::config::Cloud>,
        runtime: tokio::runtime::Runtime,
    ) -> Remote {
        Remote {
            store,
            prefix,
            writes: mode == RemoteMode::ReadWrite,
            health: Arc::new(Health {
                url: url.to_string(),
                dead: AtomicBool::new(false),
                warnings: Mutex::new(Vec::new()),
                missing_credentials,
                writes: mode == RemoteMode::ReadWrite,
            }),
            counts: Arc::default(),
            requests: Arc::new(Semaphore::new(REQUESTS_IN_FLIGHT)),
            uploads: Arc::new(Semaphore::new(UPLOADS_IN_FLIGHT)),
            runtime: Some(runtime),
        }
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("the runtime lives until drop")
    }

    /// Ask the store one cheap question (is this name there?), so that a
    /// store that is down or refusing is known, with its one warning,
    /// before sources are hashed for it. Whether it answered.
    pub(crate) fn probe(&self) -> bool {
        let path = self.object("probe");
        let answer = self
            .runtime()
            .block_on(async { tokio::time::timeout(PATIENCE, self.store.head(&path)).await });
        match answer {
            Ok(Ok(_)) | Ok(Err(object_store::Error::NotFound { .. })) => true,
            Ok(Err(e)) => {
                self.health.store_error(&e);
                false
            }
            Err(_) => {
                self.health
                    .failed(format!("no answer within {} s", PATIENCE.as_secs()));
                false
            }
        }
    }

    /// Whether rendered outputs are uploaded.
    pub(crate) fn writes(&self) -> bool {
        self.writes
    }

    /// Warnings raised since the last call, for the reporter.
    pub(crate) fn take_warnings(&self) -> Vec<Warning> {
        std::mem::take(&mut *self.health.warnings.lock().unwrap())
    }

    /// Bytes downloaded so far.
    #[cfg(test)]
    pub(crate) fn downloaded_bytes(&self) -> usize {
        self.counts.downloaded_bytes.load(Ordering::Relaxed)
    }

    /// Objects uploaded so far.
    #[cfg(test)]
    pub(crate) fn uploaded(&self) -> usize {
        self.counts.uploaded.load(Ordering::Relaxed)
    }

    /// Start looking up `jobs` — for each job, the action keys of its
    /// outputs (`None` for one that is not looked up) — in order, ahead of
    /// the executor, which takes each job's answer with [`Prefetch::take`].
    pub(crate) fn prefetch(&self, jobs: Vec<Vec<Option<Hash>>>) -> Prefetch {
        let slots: Arc<Vec<Slot>> = Arc::new(jobs.iter().map(|_| Slot::default()).collect());
        let ahead = Arc::new(Semaphore::new(JOBS_AHEAD));
        let lookup = self.lookup();
        let filled = slots.clone();
        self.runtime().spawn(async move {
            futures::stream::iter(jobs.into_iter().enumerate())
                .for_each_concurrent(JOBS_IN_FLIGHT, |(index, keys)| {
                    let lookup = lookup.clone();
                    let ahead = ahead.clone();
                    let filled = filled.clone();
                    async move {
                        let Ok(permit) = ahead.acquire_owned().await else {
                            return;
                        };
                        let found = futures::future::join_all(
                            keys.iter().map(|key| lookup.find(key.as_ref())),
                        )
                        .await;
                        filled[index].fill(found, permit);
                    }
                })
                .await;
        });
        Prefetch {
            slots,
            health: self.health.clone(),
        }
    }

    /// Upload an output rendered here: its blob, then its entry, each put
    /// only if absent — unless `repair` says what is there is damaged.
    /// Returns at once; the upload runs in the background.
    pub(crate) fn upload(&self, key: Hash, entry: Entry, bytes: Vec<u8>, repair: Repair) {
        let blob = self.object(&key::blob_name(&entry.digest().expect("made here")));
        let name = self.object(&key::entry_name(&key));
        self.put_in_background(vec![
            (blob, bytes, repair.blob),
            (name, entry.to_bytes(), repair.entry),
        ]);
    }

    /// Write `puts` (each an object, its bytes, and whether to overwrite
    /// what is there rather than put only if absent) one after the other,
    /// in the background, if this run writes and the store still answers.
    /// A worker waits here for a free upload slot.
    fn put_in_background(&self, puts: Vec<(ObjectPath, Vec<u8>, bool)>) {
        if !self.writes || self.health.is_dead() {
            return;
        }
        let Ok(permit) = self
            .runtime()
            .block_on(self.uploads.clone().acquire_owned())
        else {
            return;
        };
        let store = self.store.clone();
        let health = self.health.clone();
        let counts = self.counts.clone();
        self.runtime().spawn(async move {
            let _permit = permit;
            for (path, bytes, overwrite) in puts {
                let mode = if overwrite {
                    PutMode::Overwrite
                } else {
                    PutMode::Create
                };
                let options = PutOptions {
                    mode,
                    ..PutOptions::default()
                };
                match store
                    .put_opts(&path, PutPayload::from(bytes), options)
                    .await
                {
                    Ok(_) => {
                        counts.uploaded.fetch_add(1, Ordering::Relaxed);
                    }
                    // Another machine got there first with the same bytes.
                    Err(object_store::Error::AlreadyExists { .. }) => {}
                    Err(e) => {
                        // An entry is written only after its blob.
                        health.store_error(&e);
                        return;
                    }
                }
            }
        });
    }

    /// The content hashes the store holds under `names` (see
    /// [`key::source_name`]), several at a time; `None` for each one it
    /// does not have, or when it fails (then it is not asked again).
    pub(crate) fn source_hashes(&self, names: &[String]) -> Vec<Option<Hash>> {
        let lookup = self.lookup();
        self.runtime().block_on(
            futures::stream::iter(names)
                .map(|name| {
                    let lookup = lookup.clone();
                    async move {
                        let bytes = lookup.get(name).await.ok().flatten()?;
                        key::parse_source_hash(&bytes)
                    }
                })
                .buffered(REQUESTS_IN_FLIGHT)
                .collect(),
        )
    }

    /// Keep, in the background and put-if-absent, that the source named
    /// `name` (see [`key::source_name`]) holds content `hash`.
    pub(crate) fn record_source(&self, name: &str, hash: &Hash) {
        let path = self.object(name);
        self.put_in_background(vec![(path, key::source_hash_bytes(hash), false)]);
    }

    /// Wait for uploads still in flight (at most `UPLOAD_GRACE`); after
    /// Ctrl-C (`abandon`), do not wait.
    pub(crate) fn finish(&self, abandon: bool) {
        if abandon {
            return;
        }
        let all = UPLOADS_IN_FLIGHT as u32;
        let waited = self.runtime().block_on(async {
            tokio::time::timeout(UPLOAD_GRACE, self.uploads.acquire_many(all)).await
        });
        if waited.is_err() {
            self.health.failed(format!(
                "uploads did not finish within {} s",
                UPLOAD_GRACE.as_secs()
            ));
        }
    }

    /// What a lookup task needs, cloned from this run's store.
    fn lookup(&self) -> Lookup {
        Lookup {
            store: self.store.clone(),
            prefix: self.prefix.clone(),
            health: self.health.clone(),
            counts: self.counts.clone(),
            requests: self.requests.clone(),
        }
    }

    fn object(&self, name: &str) -> ObjectPath {
        object_path(&self.prefix, name)
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        // Requests still in flight (a dead store's, or uploads abandoned on
        // Ctrl-C) must not hold up the end of the run.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// What a lookup needs, cloned into each task.
#[derive(Clone)]
struct Lookup {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    health: Arc<Health>,
    counts: Arc<Counts>,
    requests: Arc<Semaphore>,
}

impl Lookup {
    /// Fetch an object's bytes: `Ok(None)` if it is absent, `Err` if the
    /// store failed (and is then given up on).
    async fn get(&self, name: &str) -> Result<Option<Vec<u8>>, ()> {
        if self.health.is_dead() {
            return Err(());
        }
        let Ok(_permit) = self.requests.acquire().await else {
            return Err(());
        };
        if self.health.is_dead() {
            return Err(());
        }
        let path = object_path(&self.prefix, name);
        let result = match self.store.get(&path).await {
            Ok(got) => got.bytes().await,
            Err(e) => Err(e),
        };
        match result {
            Ok(bytes) => Ok(Some(bytes.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => {
                self.health.store_error(&e);
                Err(())
            }
        }
    }

    /// What the store has for the action `key`.
    async fn find(&self, key: Option<&Hash>) -> Found {
        let miss = |repair| Found::Miss { repair };
        let Some(key) = key else {
            return miss(Repair::default());
        };
        let name = key::entry_name(key);
        let Ok(Some(raw)) = self.get(&name).await else {
            return miss(Repair::default());
        };
        let Some(entry) = Entry::parse(&raw) else {
            self.health
                .damaged(name, "is not an entry this version reads");
            return miss(Repair {
                entry: true,
                blob: false,
            });
        };
        let digest = entry.digest().expect("parse checks the digest");
        let blob = key::blob_name(&digest);
        // An entry whose blob is gone: uploading the blob mends it.
        let Ok(Some(bytes)) = self.get(&blob).await else {
            return miss(Repair::default());
        };
        if bytes.len() as u64 != entry.bytes || *blake3::hash(&bytes).as_bytes() != digest {
            self.health.damaged(blob, "does not match its digest");
            return miss(Repair {
                entry: false,
                blob: true,
            });
        }
        self.counts
            .downloaded_bytes
            .fetch_add(bytes.len(), Ordering::Relaxed);
        Found::Hit { entry, bytes }
    }
}

/// One job's answer, filled by the lookup task.
#[derive(Default)]
struct Slot {
    value: Mutex<Option<(Vec<Found>, tokio::sync::OwnedSemaphorePermit)>>,
    ready: Condvar,
}

impl Slot {
    fn fill(&self, found: Vec<Found>, permit: tokio::sync::OwnedSemaphorePermit) {
        *self.value.lock().unwrap() = Some((found, permit));
        self.ready.notify_all();
    }
}

/// Lookups running ahead of the executor.
pub(crate) struct Prefetch {
    slots: Arc<Vec<Slot>>,
    health: Arc<Health>,
}

impl Prefetch {
    /// The answer for job `index`, one [`Found`] per key asked (all misses
    /// once the store has failed, or if it keeps the worker waiting longer
    /// than `PATIENCE`, which counts as failing).
    pub(crate) fn take(&self, index: usize, outputs: usize) -> Vec<Found> {
        let misses = || {
            (0..outputs)
                .map(|_| Found::Miss {
                    repair: Repair::default(),
                })
                .collect()
        };
        let Some(slot) = self.slots.get(index) else {
            return misses();
        };
        let deadline = Instant::now() + PATIENCE;
        let mut value = slot.value.lock().unwrap();
        loop {
            if let Some((found, permit)) = value.take() {
                drop(permit);
                return found;
            }
            if self.health.is_dead() {
                return misses();
            }
            let now = Instant::now();
            if now >= deadline {
                self.health.failed(format!(
                    "no answer within {} s; building locally",
                    PATIENCE.as_secs()
                ));
                return misses();
            }
            // Short waits, so that a store found dead meanwhile by another
            // lookup releases this worker at once.
            let wait = (deadline - now).min(Duration::from_millis(50));
            value = slot.ready.wait_timeout(value, wait).unwrap().0;
        }
    }
}

#[cfg(test)]
mod tests;
