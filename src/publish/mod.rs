//! `thumbgen publish`: the output tree to the bucket a CDN serves, in step
//! with the manifest.
//!
//! What to upload is decided without listing or hashing the bucket: the
//! records say each output's blake3, and a small record of what was
//! published (`.thumbgen-published.json`, beside the objects, so that a
//! fresh runner reads it too) says what the bucket holds. Order keeps every
//! page whole: new and changed outputs first, then the manifest, then the
//! deletes of keys thumbgen published before and no longer wants. The
//! record is written after each of those steps, so a publish cut short is
//! finished by the next one, and a key thumbgen never published is never
//! deleted.

pub(crate) mod plan;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{Attribute, Attributes, ObjectStore, PutMode, PutOptions, PutPayload};

use crate::config::{Config, PublishSettings, RemoteLocation};
use crate::error::{Error, Exit, Result};
use crate::model::{Format, Hash, State};
use crate::remote::store;
use crate::report::{PublishedCounts, Reporter};
use crate::shard::Shard;
use plan::{plan, Published, PublishedObject, Wanted, Why, PUBLISHED_VERSION};

/// The record of what was published, under the bucket's prefix.
const RECORD_NAME: &str = ".thumbgen-published.json";

/// The folder (under the prefix) of the records of shards' publishes,
/// which the next whole publish takes into its record, then deletes: N
/// jobs cannot write one object safely at once.
const SHARD_RECORDS: &str = ".thumbgen-published.shards";

/// How a publish runs.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PublishOptions {
    /// List what would be uploaded and deleted; change nothing.
    pub dry_run: bool,
    /// Delete even more keys than `max_deletes`.
    pub allow_deletes: bool,
    /// List the bucket and upload again what is missing from it or has
    /// another size than was published (drift, damage).
    pub verify: bool,
    /// Publish only this part's outputs, and delete nothing (`build
    /// --shard K/N --publish`).
    pub shard: Option<Shard>,
}

/// Publish the outputs `state` records (and the manifest thumbgen
/// recorded writing, `manifest`: its path and hash, if it is published) to
/// the bucket of `settings`.
pub(crate) fn publish(
    config: &Config,
    settings: &PublishSettings,
    state: &State,
    manifest: Option<(&Path, Hash)>,
    options: PublishOptions,
    reporter: &Reporter,
) -> Result<Exit> {
    let started = Instant::now();
    let outputs = wanted_outputs(config, settings, state, options.shard);
    let manifest = manifest
        .filter(|_| settings.publish_manifest && options.shard.is_none())
        .map(|(path, hash)| wanted_manifest(config, settings, path, hash))
        .transpose()?;
    let bucket = Bucket::open(settings)?;
    let records = bucket.read_records(options.shard)?;
    let mut published = records.view();
    if options.verify {
        verify(&bucket, &mut published, reporter)?;
    }
    let mut plan = plan(&outputs, manifest.as_ref(), &published);
    if options.shard.is_some() {
        // The assembling build, which sees the whole tree, deletes.
        plan.deletes.clear();
    }
    let mut counts = PublishedCounts {
        url: settings.url.clone(),
        unchanged: plan.unchanged,
        dry_run: options.dry_run,
        ..PublishedCounts::default()
    };
    let uploads: Vec<(&Wanted, Why)> = plan
        .uploads
        .iter()
        .map(|&(i, why)| (&outputs[i], why))
        .chain(manifest.iter().zip(plan.manifest))
        .collect();
    let guarded = plan.deletes.len() > settings.max_deletes && !options.allow_deletes;
    if options.dry_run {
        list_planned(&uploads, &plan.deletes, guarded, &mut counts, reporter);
        reporter.published(counts, started.elapsed().as_secs_f64());
        return Ok(Exit::Ok);
    }
    reporter.start_publishing(uploads.iter().map(|(w, _)| w.size).sum());
    let (outputs_first, manifest_last) = uploads.split_at(plan.uploads.len());
    bucket.upload(outputs_first, &mut published, &mut counts, reporter);
    bucket.write_record(&records, &published)?;
    if options.shard.is_none() {
        // Their entries are in the record now.
        bucket.delete_shard_records(&records.shard_records, reporter);
    }
    if counts.failed == 0 && !manifest_last.is_empty() {
        bucket.upload(manifest_last, &mut published, &mut counts, reporter);
        bucket.write_record(&records, &published)?;
    }
    if guarded {
        reporter.error(&format!(
            "{} keys are no longer built, more than max_deletes ({}): none was deleted; run again with --allow-deletes to delete them",
            plan.deletes.len(),
            settings.max_deletes
        ));
        counts.held_back = plan.deletes.len();
    } else if counts.failed == 0 && !plan.deletes.is_empty() {
        bucket.delete(&plan.deletes, &mut published, &mut counts, reporter);
        bucket.write_record(&records, &published)?;
    }
    let failed = counts.failed > 0;
    reporter.published(counts, started.elapsed().as_secs_f64());
    Ok(if failed || guarded {
        Exit::Failed
    } else {
        Exit::Ok
    })
}

/// `--dry-run`: what would be uploaded and deleted, listed and counted.
fn list_planned(
    uploads: &[(&Wanted, Why)],
    deletes: &[String],
    guarded: bool,
    counts: &mut PublishedCounts,
    reporter: &Reporter,
) {
    for (wanted, why) in uploads {
        reporter.would_upload(&wanted.key, why.code(), wanted.size);
        counts.uploaded += 1;
        counts.bytes += wanted.size;
    }
    for key in deletes {
        reporter.would_delete(key);
    }
    if guarded {
        counts.held_back = deletes.len();
    } else {
        counts.deleted = deletes.len();
    }
}

/// `--verify`: forget what the bucket lacks or holds with another size,
/// so that it is uploaded again.
fn verify(bucket: &Bucket, published: &mut Published, reporter: &Reporter) -> Result<()> {
    let drifted = bucket.drifted(published)?;
    for key in &drifted {
        reporter.info(&format!(
            "verify: {key} is missing or of another size in the bucket"
        ));
        published.objects.remove(key);
    }
    reporter.info(&format!(
        "verified {} published objects: {} to upload again",
        published.objects.len() + drifted.len(),
        drifted.len()
    ));
    Ok(())
}

/// The records a publish starts from.
struct Records {
    /// The record of the whole publishes (and of the shards' records it
    /// took in).
    main: Published,
    /// The shard's own record, for a shard's publish.
    own: Option<(String, Published)>,
    /// The shards' records found beside the main one (a whole publish
    /// takes them in, then deletes them), by name.
    shard_records: Vec<String>,
    /// Their entries.
    from_shards: Published,
}

impl Records {
    /// What the bucket holds, as far as thumbgen knows: the main record,
    /// and what shards published since.
    fn view(&self) -> Published {
        let mut view = self.main.clone();
        view.merge(&self.from_shards);
        if let Some((_, own)) = &self.own {
            view.merge(own);
        }
        view
    }

    /// The record this publish writes, now that the bucket holds
    /// `published`: the whole record, or for a shard, its own entries
    /// (those the main record does not already say); `None` if the bucket
    /// already holds that record as it is.
    fn to_write(&self, published: &Published) -> Option<(&str, Published)> {
        let (name, record, read) = match &self.own {
            None => (RECORD_NAME, published.clone(), &self.main),
            Some((name, own)) => (name.as_str(), published.minus(&self.main), own),
        };
        let unchanged = record.objects == read.objects && self.shard_records.is_empty();
        (!unchanged).then_some((name, record))
    }
}

/// Every recorded output, as the object it is published as, by key.
fn wanted_outputs(
    config: &Config,
    settings: &PublishSettings,
    state: &State,
    shard: Option<Shard>,
) -> Vec<Wanted> {
    let mut wanted: Vec<Wanted> = state
        .iter()
        .filter(|(rel, _)| shard.is_none_or(|shard| shard.contains(rel)))
        .flat_map(|(_, record)| &record.outputs)
        .filter_map(|output| {
            let file = config.resolve(&output.path);
            let key = crate::paths::slash(file.strip_prefix(&config.output).ok()?);
            let content_named = config
                .variants
                .iter()
                .any(|v| v.name.as_str() == &*output.variant && v.hash_names);
            Some(Wanted {
                key,
                file,
                hash: output.hash,
                size: output.stat.len,
                content_type: content_type(output.format),
                cache_control: if content_named {
                    settings.cache_control.clone()
                } else {
                    settings.cache_control_plain.clone()
                },
            })
        })
        .collect();
    wanted.sort_by(|a, b| a.key.cmp(&b.key));
    wanted
}

/// The manifest at `path`, whose bytes thumbgen recorded as hashing to
/// `hash`, as the object it is published as: its path under `output`, or
/// its file name if it is elsewhere.
fn wanted_manifest(
    config: &Config,
    settings: &PublishSettings,
    path: &Path,
    hash: Hash,
) -> Result<Wanted> {
    let size = std::fs::metadata(path)
        .map_err(|e| Error::io(path, &e))?
        .len();
    let key = match path.strip_prefix(&config.output) {
        Ok(rel) => crate::paths::slash(rel),
        Err(_) => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "manifest.json".into()),
    };
    Ok(Wanted {
        key,
        file: path.to_path_buf(),
        hash,
        size,
        content_type: "application/json",
        cache_control: settings.cache_control_plain.clone(),
    })
}

/// The `Content-Type` of an output of `format`.
fn content_type(format: Format) -> &'static str {
    match format {
        Format::Jpeg => "image/jpeg",
        Format::Png => "image/png",
        Format::Webp => "image/webp",
        Format::Avif => "image/avif",
    }
}

/// The bucket of one publish.
struct Bucket {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    missing_credentials: Option<crate::config::Cloud>,
    /// Whether objects carry headers (a `file://` folder has none: the web
    /// server in front of it decides them).
    headers: bool,
    url: String,
    /// Requests in flight at once.
    concurrency: usize,
    runtime: tokio::runtime::Runtime,
}

impl Bucket {
    fn open(settings: &PublishSettings) -> Result<Bucket> {
        let fail = |e: String| Error::Config(format!("[publish] {}: {e}", settings.url));
        if let RemoteLocation::Folder(folder) = &settings.location {
            std::fs::create_dir_all(folder).map_err(|e| Error::io(folder, &e))?;
        }
        let opened = store::open_at(
            &settings.location,
            settings.endpoint.as_deref(),
            settings.region.as_deref(),
            store::PATIENT,
        )
        .map_err(fail)?;
        let runtime = store::runtime("publish").map_err(fail)?;
        Ok(Bucket {
            store: opened.store,
            prefix: opened.prefix,
            missing_credentials: opened.missing_credentials,
            headers: matches!(settings.location, RemoteLocation::Bucket { .. }),
            url: settings.url.clone(),
            concurrency: settings.concurrency,
            runtime,
        })
    }

    fn path(&self, key: &str) -> ObjectPath {
        store::object_path(&self.prefix, key)
    }

    fn describe(&self, error: &object_store::Error) -> String {
        store::describe(error, self.missing_credentials)
    }

    /// The records a publish starts from: the main one, and a shard's own
    /// (for `shard`) or else every shard's. A bucket that cannot be read
    /// fails the publish.
    fn read_records(&self, shard: Option<Shard>) -> Result<Records> {
        let main = self.read_record(RECORD_NAME)?;
        let mut records = Records {
            main,
            own: None,
            shard_records: Vec::new(),
            from_shards: Published::default(),
        };
        match shard {
            Some(shard) => {
                let name = format!("{SHARD_RECORDS}/{}-of-{}.json", shard.index, shard.count);
                let own = self.read_record(&name)?;
                records.own = Some((name, own));
            }
            None => {
                records.shard_records = self.list_shard_records()?;
                for name in &records.shard_records {
                    let shard = self.read_record(name)?;
                    records.from_shards.merge(&shard);
                }
            }
        }
        Ok(records)
    }

    /// The record `name`; empty if there is none (or it is not one this
    /// version reads: then everything is uploaded again, and nothing
    /// deleted).
    fn read_record(&self, name: &str) -> Result<Published> {
        let path = self.path(name);
        let got = self.runtime.block_on(async {
            match self.store.get(&path).await {
                Ok(got) => got.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        match got {
            Ok(Some(bytes)) => Ok(serde_json::from_slice::<Published>(&bytes)
                .ok()
                .filter(|p| p.v == PUBLISHED_VERSION)
                .unwrap_or_default()),
            Ok(None) => Ok(Published::default()),
            Err(e) => Err(Error::Publish(format!(
                "cannot read {}: {}; the build is recorded, publish again when the bucket answers",
                self.url,
                self.describe(&e)
            ))),
        }
    }

    /// The names of the shards' records (one listing of their folder,
    /// which holds only them).
    fn list_shard_records(&self) -> Result<Vec<String>> {
        let folder = self.path(SHARD_RECORDS);
        let listed = self.runtime.block_on(async {
            let mut stream = self.store.list(Some(&folder));
            let mut names = Vec::new();
            while let Some(meta) = stream.next().await {
                if let Some(name) = meta?.location.filename() {
                    names.push(format!("{SHARD_RECORDS}/{name}"));
                }
            }
            Ok::<_, object_store::Error>(names)
        });
        listed.map_err(|e| {
            Error::Publish(format!(
                "cannot list the shards' records in {}: {}",
                self.url,
                self.describe(&e)
            ))
        })
    }

    /// Delete the shards' records a whole publish took in. One left
    /// behind is harmless (it says what the record says), so a failure
    /// is only reported.
    fn delete_shard_records(&self, names: &[String], reporter: &Reporter) {
        for name in names {
            if let Err(e) = self.runtime.block_on(self.store.delete(&self.path(name))) {
                reporter.error(&format!(
                    "cannot delete {name}, a shard's record already taken in: {}",
                    self.describe(&e)
                ));
            }
        }
    }

    /// The keys the record says were published whose object the bucket
    /// lacks, or holds with another size: one listing of the prefix.
    fn drifted(&self, published: &Published) -> Result<Vec<String>> {
        let listed = self.runtime.block_on(async {
            let mut stream = self.store.list(Some(&self.prefix));
            let mut sizes = std::collections::HashMap::new();
            while let Some(meta) = stream.next().await {
                let meta = meta?;
                let key: Option<Vec<String>> = meta
                    .location
                    .prefix_match(&self.prefix)
                    .map(|parts| parts.map(|p| p.as_ref().to_string()).collect());
                if let Some(key) = key {
                    sizes.insert(key.join("/"), meta.size);
                }
            }
            Ok::<_, object_store::Error>(sizes)
        });
        let sizes = listed.map_err(|e| {
            Error::Publish(format!("cannot list {}: {}", self.url, self.describe(&e)))
        })?;
        Ok(published
            .objects
            .iter()
            .filter(|(key, object)| sizes.get(key.as_str()) != Some(&object.size))
            .map(|(key, _)| key.clone())
            .collect())
    }

    /// Write the record of what the bucket now holds, `published` (unless
    /// it is already there as it is).
    fn write_record(&self, records: &Records, published: &Published) -> Result<()> {
        let Some((name, record)) = records.to_write(published) else {
            return Ok(());
        };
        let record = Published {
            v: PUBLISHED_VERSION,
            objects: record.objects,
        };
        let bytes = serde_json::to_vec(&record).expect("plain data serializes");
        self.runtime
            .block_on(self.store.put(&self.path(name), PutPayload::from(bytes)))
            .map(|_| ())
            .map_err(|e| {
                Error::Publish(format!(
                    "cannot write the record of what was published to {}: {}",
                    self.url,
                    self.describe(&e)
                ))
            })
    }

    /// Upload `objects`, several at once, each whole, with its headers;
    /// record each that went up.
    fn upload(
        &self,
        objects: &[(&Wanted, Why)],
        published: &mut Published,
        counts: &mut PublishedCounts,
        reporter: &Reporter,
    ) {
        let results: Vec<(usize, std::result::Result<(), String>)> = self.runtime.block_on(
            futures::stream::iter(objects.iter().enumerate())
                .map(|(index, (wanted, _))| async move { (index, self.put(wanted).await) })
                .buffer_unordered(self.concurrency)
                .inspect(|(index, result)| {
                    if result.is_ok() {
                        let (wanted, why) = objects[*index];
                        reporter.uploaded(&wanted.key, why.code(), wanted.size);
                    }
                })
                .collect(),
        );
        for (index, result) in results {
            let (wanted, _) = objects[index];
            match result {
                Ok(()) => {
                    counts.uploaded += 1;
                    counts.bytes += wanted.size;
                    published
                        .objects
                        .insert(wanted.key.clone(), PublishedObject::of(wanted));
                }
                Err(error) => {
                    counts.failed += 1;
                    reporter.publish_failed(&wanted.key, "upload", error);
                }
            }
        }
    }

    /// Upload one object, if the local file is still the recorded output.
    async fn put(&self, wanted: &Wanted) -> std::result::Result<(), String> {
        let bytes = std::fs::read(&wanted.file).map_err(|e| {
            format!(
                "{}: {}",
                wanted.file.display(),
                crate::error::describe_io(&e)
            )
        })?;
        if crate::hash::hash_bytes(&bytes) != wanted.hash {
            return Err(format!(
                "{} is not the file thumbgen wrote (edited by hand?); build again",
                wanted.file.display()
            ));
        }
        let mut attributes = Attributes::new();
        if self.headers {
            attributes.insert(Attribute::ContentType, wanted.content_type.into());
            attributes.insert(Attribute::CacheControl, wanted.cache_control.clone().into());
        }
        let options = PutOptions {
            mode: PutMode::Overwrite,
            attributes,
            ..PutOptions::default()
        };
        self.store
            .put_opts(&self.path(&wanted.key), PutPayload::from(bytes), options)
            .await
            .map(|_| ())
            .map_err(|e| self.describe(&e))
    }

    /// Delete `keys` (each one thumbgen published); record each that went.
    fn delete(
        &self,
        keys: &[String],
        published: &mut Published,
        counts: &mut PublishedCounts,
        reporter: &Reporter,
    ) {
        let results: Vec<(&String, std::result::Result<(), object_store::Error>)> =
            self.runtime.block_on(
                futures::stream::iter(keys)
                    .map(|key| async move { (key, self.store.delete(&self.path(key)).await) })
                    .buffer_unordered(self.concurrency)
                    .collect(),
            );
        for (key, result) in results {
            match result {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                    counts.deleted += 1;
                    published.objects.remove(key);
                    reporter.deleted(key);
                }
                Err(e) => {
                    counts.failed += 1;
                    reporter.publish_failed(key, "delete", self.describe(&e));
                }
            }
        }
    }
}
