//! Sources that are not files in a local folder: objects in a bucket
//! (`source = "s3://bucket/prefix"`, `gs://…`, `az://…`), or URLs listed
//! in a file (`source_list`, see [`http`]).
//!
//! A bucket's listing stands in for the walk of a folder: its size, ETag
//! and last-modified time are a source's stat, compared by equality as a
//! file's are. A URL is asked for with the validators of its last answer,
//! and a `304 Not Modified` is its unchanged stat. Either way, a source
//! that is new or changed is downloaded, streamed to a local cache of
//! originals while it is hashed, so that freshness is still decided by
//! content: a new ETag over the same bytes rebuilds nothing. Renders read
//! originals from that cache, and download again only what it no longer
//! holds (`originals`).
//!
//! Nothing is ever written to a source store.

mod ahead;
mod http;
mod originals;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::{Stream, StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore};

use crate::config::{RemoteLocation, SourceLocation, StoreSource, UrlList};
use crate::fingerprint::HashProgress;
use crate::fsutil::PathError;
use crate::model::{Fetched, FetchedSources, Hash, Stat, State, Validators};
use crate::remote::store;

pub(crate) use ahead::Ahead;
pub(crate) use http::BadLine;
use originals::Originals;
pub(crate) use originals::ORIGINALS_DIR;

/// Requests in flight at once: downloads from a bucket, or a list's
/// requests (most of them revalidations, answered with a bodiless 304).
const DOWNLOADS_IN_FLIGHT: usize = 32;

/// The inode number of an object listed without a strong ETag.
const NO_VALIDATOR: u64 = 0;

/// Where the sources are, opened.
enum Backend {
    Bucket(Bucket),
    Urls(Urls),
}

struct Bucket {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    missing_credentials: Option<crate::config::Cloud>,
    /// The url the sources are named by in the shared cache; `None` where
    /// the listing's validators are not known to change with every write
    /// (a `file://` store's are made from the file's stat).
    strong_url: Option<String>,
}

struct Urls {
    client: http::Client,
    list: UrlList,
    /// The list as read, by output path.
    listed: HashMap<PathBuf, http::Listed>,
    /// In list order.
    order: Vec<PathBuf>,
    bad_lines: Vec<BadLine>,
}

/// What asking for every URL of a list found.
pub(crate) struct Survey {
    /// Each source's path and stat: the recorded stat where the server
    /// said (or `max_age` let us assume) it is unchanged.
    pub objects: Vec<(PathBuf, Stat)>,
    /// What was downloaded (or why it could not be).
    pub fetched: FetchedSources,
    /// The validators to keep for next time, by source identity.
    pub validators: HashMap<String, Validators>,
    /// Each source asked for, with why and what the server answered, in
    /// words (for `--explain`).
    pub asked: Vec<(PathBuf, String)>,
}

/// The sources of one store or list, for one run.
pub(crate) struct Store {
    backend: Backend,
    max_bytes: u64,
    /// A download that receives nothing for this long has stalled, and
    /// fails.
    stall: Duration,
    offline: bool,
    originals: Originals,
    downloads: AtomicUsize,
    /// The downloads running ahead of this run's workers, if any.
    ahead: Mutex<Option<Arc<Ahead>>>,
    /// The validators of URLs downloaded while the build ran (not by the
    /// survey), by identity, to keep for next time.
    late_validators: Mutex<HashMap<String, Validators>>,
    runtime: tokio::runtime::Runtime,
    /// The folder of a read-only run's originals, removed when dropped.
    _scratch: Option<tempfile::TempDir>,
}

impl Store {
    /// Open the store or list `settings` names, with its originals kept in
    /// `cache`, or for a run that writes nothing (`None`) in a temporary
    /// folder. `offline`: make no request (sources are read from the cache
    /// of originals only). The error is in words.
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
        let backend = match &settings.location {
            SourceLocation::Store(location) => Backend::Bucket(Bucket::open(settings, location)?),
            SourceLocation::List(list) => Backend::Urls(Urls::open(list)?),
        };
        let runtime = store::runtime("source")?;
        Ok(Store {
            backend,
            max_bytes: settings.max_bytes,
            stall: settings.stall_timeout,
            offline,
            originals: Originals::new(cache, settings.originals_max_bytes),
            downloads: AtomicUsize::new(0),
            ahead: Mutex::default(),
            late_validators: Mutex::default(),
            runtime,
            _scratch: scratch,
        })
    }

    /// Whether a list's source is at `rel` (a bucket's: always).
    pub(crate) fn lists(&self, rel: &Path) -> bool {
        match &self.backend {
            Backend::Urls(urls) => urls.listed.contains_key(rel),
            Backend::Bucket(_) => true,
        }
    }

    /// Whether the sources are listed in a file of URLs (asked for one by
    /// one with [`Store::survey`]) rather than listed by a bucket.
    pub(crate) fn is_list(&self) -> bool {
        matches!(self.backend, Backend::Urls(_))
    }

    /// The lines of a URL list that name no source.
    pub(crate) fn bad_lines(&self) -> (&Path, &[BadLine]) {
        match &self.backend {
            Backend::Urls(urls) => (&urls.list.file, &urls.bad_lines),
            Backend::Bucket(_) => (Path::new(""), &[]),
        }
    }

    /// Each source of a URL list, by its path, with the URL it is known
    /// by: without the query string unless `keep_query` (a signed URL's
    /// query is a credential, not a name).
    pub(crate) fn urls(&self) -> HashMap<PathBuf, String> {
        match &self.backend {
            Backend::Urls(urls) => urls
                .listed
                .iter()
                .map(|(rel, listed)| (rel.clone(), listed.id.clone()))
                .collect(),
            Backend::Bucket(_) => HashMap::new(),
        }
    }

    /// Every object under a bucket's prefix: its key relative to the
    /// prefix (as a path) and its stat. Keys with a hidden part (`.x`) are
    /// left out, as a walk leaves out hidden files.
    pub(crate) fn list(&self) -> Result<Vec<(PathBuf, Stat)>, String> {
        let Backend::Bucket(bucket) = &self.backend else {
            return Ok(Vec::new());
        };
        let listed = self.runtime.block_on(bucket.list_all())?;
        Ok(listed
            .into_iter()
            .filter_map(|meta| Some((bucket.relative(&meta.location)?, stat_of(&meta))))
            .collect())
    }

    /// The name under which the shared cache keeps the content hash of the
    /// source at `rel` as listed with `stat`, if its validator is strong
    /// enough to name one write of it.
    pub(crate) fn content_name(&self, rel: &Path, stat: &Stat) -> Option<String> {
        let Backend::Bucket(bucket) = &self.backend else {
            return None;
        };
        let url = bucket.strong_url.as_ref()?;
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
    ) -> FetchedSources {
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

    /// Ask for every source of a URL list whose last answer is not fresh
    /// (`max_age`), sending the validators `known` recorded for it, and
    /// download those that changed. Offline, nothing is asked: recorded
    /// sources are as recorded, and the others cannot be had.
    ///
    /// With `defer_new`, a URL that has no record is not asked for: it is
    /// new, and is downloaded while the build runs ([`Store::ahead`]).
    pub(crate) fn survey(
        &self,
        state: &State,
        known: &HashMap<String, Validators>,
        defer_new: bool,
        progress: &(dyn HashProgress + Sync),
    ) -> Survey {
        let Backend::Urls(urls) = &self.backend else {
            unreachable!("only a list is surveyed");
        };
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let mut survey = Survey {
            objects: Vec::new(),
            fetched: HashMap::new(),
            validators: HashMap::new(),
            asked: Vec::new(),
        };
        let mut asked = Vec::new();
        for (index, rel) in urls.order.iter().enumerate() {
            let listed = &urls.listed[rel];
            let record = state.get(rel);
            let recorded = record.map(|r| r.stat);
            let validators = known
                .get(&listed.id)
                .filter(|v| record.is_some_and(|r| r.hash == v.hash));
            // A stat no record has: the source is read (or fails) this run.
            let unknown = Stat {
                ctime_ns: now.as_nanos() as i64 + index as i64,
                ..Stat::default()
            };
            if let Some(v) = validators {
                survey.validators.insert(listed.id.clone(), v.clone());
            }
            let fresh = validators.is_some_and(|v| {
                now.as_secs().saturating_sub(v.checked_at) < urls.list.max_age.as_secs()
            });
            match recorded {
                Some(stat) if fresh || self.offline => survey.objects.push((rel.clone(), stat)),
                None if defer_new && !self.offline => survey.objects.push((rel.clone(), unknown)),
                _ if self.offline => {
                    survey.objects.push((rel.clone(), unknown));
                    survey.fetched.insert(
                        rel.clone(),
                        Err("it was never downloaded, and --offline makes no request".into()),
                    );
                }
                _ => asked.push((
                    rel.clone(),
                    listed.clone(),
                    validators.cloned(),
                    recorded,
                    unknown,
                )),
            }
        }
        if asked.is_empty() {
            return survey;
        }
        progress.start(asked.len());
        let answers: Vec<_> = self.runtime.block_on(
            futures::stream::iter(asked)
                .map(|(rel, listed, validators, recorded, unknown)| async move {
                    let answer = self
                        .revalidate(&urls.client, &listed, validators.as_ref())
                        .await;
                    progress.hashed();
                    (rel, listed.id, recorded, unknown, answer)
                })
                .buffer_unordered(DOWNLOADS_IN_FLIGHT)
                .collect(),
        );
        progress.finish();
        let mut answers = answers;
        answers.sort_by(|a, b| a.0.cmp(&b.0));
        for (rel, id, recorded, unknown, answer) in answers {
            let why = match (&answer, recorded, survey.validators.contains_key(&id)) {
                (_, None, _) => "new URL",
                (_, Some(_), false) => "no validators recorded",
                (Ok(Revalidated::Unchanged), _, _) => "revalidated: 304 Not Modified",
                (Ok(Revalidated::Downloaded(..)), _, _) => "changed: the server sent a new body",
                (Err(_), _, _) => "asked again, and it failed",
            };
            let expired = urls.list.max_age > Duration::ZERO && recorded.is_some();
            let why = if expired {
                format!("max_age expired; {why}")
            } else {
                why.to_string()
            };
            survey.asked.push((rel.clone(), why));
            match (answer, recorded) {
                (Ok(Revalidated::Unchanged), Some(stat)) => {
                    if let Some(v) = survey.validators.get_mut(&id) {
                        v.checked_at = now.as_secs();
                    }
                    survey.objects.push((rel, stat));
                }
                (Ok(Revalidated::Unchanged), None) => unreachable!("asked without validators"),
                (Ok(Revalidated::Downloaded(fetched, mut validators)), _) => {
                    validators.checked_at = now.as_secs();
                    validators.hash = fetched.hash;
                    survey.validators.insert(id, validators);
                    survey.objects.push((rel.clone(), unknown));
                    survey.fetched.insert(rel, Ok(fetched));
                }
                (Err(error), _) => {
                    survey.objects.push((rel.clone(), unknown));
                    survey.fetched.insert(rel, Err(error));
                }
            }
        }
        survey
    }

    /// The bytes of the source at `rel`, whose content hash is `expected`
    /// when known: from the cache of originals if it holds them, else
    /// downloaded (and kept). Bytes that are not the expected ones mean the
    /// source changed after it was listed: an error, so that a record
    /// never pairs one content with another's outputs.
    pub(crate) fn read(&self, rel: &Path, expected: Option<&Hash>) -> Result<Vec<u8>, String> {
        if let Some(bytes) = expected.and_then(|hash| self.originals.read(hash)) {
            return Ok(bytes);
        }
        let ahead = self.ahead.lock().unwrap().clone();
        let fetched = match ahead.and_then(|ahead| ahead.take(rel)) {
            Some(downloaded) => downloaded?,
            None => self.runtime.block_on(self.download(rel))?,
        };
        if expected.is_some_and(|hash| *hash != fetched.hash) {
            return Err("it changed at its origin after it was listed; build again".into());
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

    /// Whether reading the source at `rel`, whose content hash is
    /// `expected` when known, needs a download.
    pub(crate) fn lacks(&self, expected: Option<&Hash>) -> bool {
        expected.is_none_or(|hash| !self.originals.holds(hash))
    }

    /// Downloads of the sources at `rels` (in the order the workers will
    /// read them), to run beside the workers with [`Store::download_ahead`];
    /// [`Store::read`] takes them from there.
    pub(crate) fn ahead(&self, rels: Vec<PathBuf>) -> Arc<Ahead> {
        let ahead = Arc::new(Ahead::new(rels));
        *self.ahead.lock().unwrap() = Some(ahead.clone());
        ahead
    }

    /// Run `ahead`'s downloads until they are all done or it is stopped.
    pub(crate) fn download_ahead(&self, ahead: &Ahead) {
        self.runtime
            .block_on(ahead.run(DOWNLOADS_IN_FLIGHT, |rel| async move {
                self.download(&rel).await
            }));
    }

    /// The validators of URLs downloaded after the survey, to keep.
    pub(crate) fn late_validators(&self) -> HashMap<String, Validators> {
        std::mem::take(&mut *self.late_validators.lock().unwrap())
    }

    /// How many originals this run downloaded.
    pub(crate) fn downloads(&self) -> usize {
        self.downloads.load(Ordering::Relaxed)
    }

    /// Bring the cache of originals within its bound.
    pub(crate) fn trim(&self) -> Result<(), PathError> {
        self.originals.trim()
    }

    /// Download the source at `rel` (unconditionally) into the cache of
    /// originals.
    async fn download(&self, rel: &Path) -> Result<Fetched, String> {
        if self.offline {
            return Err(
                "it is not in the cache of originals, and --offline makes no request".into(),
            );
        }
        match &self.backend {
            Backend::Bucket(bucket) => {
                let got = bucket
                    .store
                    .get(&bucket.key(rel))
                    .await
                    .map_err(|e| bucket.describe(&e))?;
                let size = got.meta.size;
                let stream = got
                    .into_stream()
                    .map(|chunk| chunk.map_err(|e| bucket.describe(&e)));
                self.keep(Some(size), stream, false).await
            }
            Backend::Urls(urls) => {
                let listed = urls
                    .listed
                    .get(rel)
                    .ok_or_else(|| "it is no longer in the list".to_string())?;
                match self.revalidate(&urls.client, listed, None).await? {
                    Revalidated::Downloaded(fetched, mut validators) => {
                        validators.hash = fetched.hash;
                        validators.checked_at = SystemTime::now()
                            .duration_since(SystemTime::UNIX_EPOCH)
                            .unwrap_or_default()
                            .as_secs();
                        let mut late = self.late_validators.lock().unwrap();
                        late.insert(listed.id.clone(), validators);
                        Ok(fetched)
                    }
                    Revalidated::Unchanged => unreachable!("asked without validators"),
                }
            }
        }
    }

    /// Ask for a listed URL (with `validators`, if any) and keep its body
    /// if the server sends one.
    async fn revalidate(
        &self,
        client: &http::Client,
        listed: &http::Listed,
        validators: Option<&Validators>,
    ) -> Result<Revalidated, String> {
        match client.get(&listed.url, validators).await? {
            http::Answer::NotModified => Ok(Revalidated::Unchanged),
            http::Answer::Body {
                len,
                validators,
                stream,
                permit,
            } => {
                let fetched = self.keep(len, stream, true).await;
                drop(permit);
                Ok(Revalidated::Downloaded(fetched?, validators))
            }
        }
    }

    /// Stream a body of `size` bytes (if known) into the cache of
    /// originals, hashing it on the way; never more than `max_bytes`,
    /// never a partial file, and (`not_html`) never a web page.
    async fn keep(
        &self,
        size: Option<u64>,
        mut stream: impl Stream<Item = Result<bytes::Bytes, String>> + Unpin,
        not_html: bool,
    ) -> Result<Fetched, String> {
        if size.is_some_and(|size| size > self.max_bytes) {
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
        loop {
            let next = tokio::time::timeout(self.stall, stream.next())
                .await
                .map_err(|_| {
                    format!(
                        "the download stalled: nothing for {} s",
                        self.stall.as_secs()
                    )
                })?;
            let Some(chunk) = next else { break };
            let chunk = chunk.map_err(|e| match size {
                Some(size) => {
                    format!("the download was cut short at {received} of {size} bytes ({e})")
                }
                None => e,
            })?;
            if not_html && received == 0 && http::looks_like_html(&chunk) {
                return Err("the server sent a web page (HTML), not an image".into());
            }
            received += chunk.len() as u64;
            if received > self.max_bytes {
                return Err(too_large(self.max_bytes));
            }
            hasher.update(&chunk);
            part.write_all(&chunk).map_err(local)?;
        }
        if let Some(size) = size.filter(|&size| size != received) {
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
}

/// What asking for a URL with validators gave.
enum Revalidated {
    /// `304 Not Modified`.
    Unchanged,
    /// A body, kept, with the validators to send next time.
    Downloaded(Fetched, Validators),
}

impl Bucket {
    fn open(settings: &StoreSource, location: &RemoteLocation) -> Result<Bucket, String> {
        let opened = store::open_at(
            location,
            settings.endpoint.as_deref(),
            settings.region.as_deref(),
            store::PATIENT,
        )?;
        Ok(Bucket {
            store: opened.store,
            prefix: opened.prefix,
            missing_credentials: opened.missing_credentials,
            strong_url: matches!(location, RemoteLocation::Bucket { .. })
                .then(|| settings.url.clone()),
        })
    }

    /// Every object under the prefix. A listing is pages of a thousand
    /// keys, each asked for with the last one's token, one after the
    /// other; so the top level is listed first, with `/` as delimiter, and
    /// then each of its folders, several at once.
    async fn list_all(&self) -> Result<Vec<ObjectMeta>, String> {
        let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
        let top = self
            .store
            .list_with_delimiter(prefix)
            .await
            .map_err(|e| self.describe(&e))?;
        let mut all = top.objects;
        // A hidden folder holds no sources (see `relative`).
        let shown = top
            .common_prefixes
            .into_iter()
            .filter(|folder| !folder.filename().is_some_and(|name| name.starts_with('.')));
        let folders: Vec<Vec<ObjectMeta>> = futures::stream::iter(shown)
            .map(|folder| async move {
                let mut stream = self.store.list(Some(&folder));
                let mut objects = Vec::new();
                while let Some(meta) = stream.next().await {
                    objects.push(meta.map_err(|e| self.describe(&e))?);
                }
                Ok::<_, String>(objects)
            })
            .buffer_unordered(DOWNLOADS_IN_FLIGHT)
            .try_collect()
            .await?;
        all.extend(folders.into_iter().flatten());
        Ok(all)
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

    fn describe(&self, error: &object_store::Error) -> String {
        match error {
            object_store::Error::NotFound { .. } => "it is no longer in the store".into(),
            _ => store::describe(error, self.missing_credentials),
        }
    }
}

impl Urls {
    fn open(list: &UrlList) -> Result<Urls, String> {
        let text = std::fs::read_to_string(&list.file).map_err(|e| {
            format!(
                "cannot read the list {}: {}",
                list.file.display(),
                crate::error::describe_io(&e)
            )
        })?;
        let (listed, bad_lines) = http::parse_list(&text, list.keep_query);
        Ok(Urls {
            client: http::Client::new(list.per_host, store::PATIENT.connect)?,
            list: list.clone(),
            order: listed.iter().map(|l| l.rel.clone()).collect(),
            listed: listed.into_iter().map(|l| (l.rel.clone(), l)).collect(),
            bad_lines,
        })
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(e_tag: Option<&str>, size: u64) -> ObjectMeta {
        ObjectMeta {
            location: ObjectPath::from("cat/a.jpg"),
            last_modified: "2023-11-14T22:13:20.000000005Z".parse().unwrap(),
            size,
            e_tag: e_tag.map(str::to_string),
            version: None,
        }
    }

    #[test]
    fn a_listing_is_a_stat_that_changes_with_each_write() {
        let one = stat_of(&meta(Some("\"abc\""), 10));
        assert_eq!(one, stat_of(&meta(Some("\"abc\""), 10)), "stable");
        assert_ne!(one.ino, NO_VALIDATOR);
        assert_eq!(one.len, 10);
        assert_eq!(one.mtime_ns, 1_700_000_000_000_000_005);
        assert_ne!(one, stat_of(&meta(Some("\"abd\""), 10)), "another ETag");
        assert_ne!(one, stat_of(&meta(Some("\"abc\""), 11)), "another size");
        // Without a strong ETag there is no validator to name a write by.
        assert_eq!(stat_of(&meta(Some("W/\"abc\""), 10)).ino, NO_VALIDATOR);
        assert_eq!(stat_of(&meta(None, 10)).ino, NO_VALIDATOR);
    }
}
