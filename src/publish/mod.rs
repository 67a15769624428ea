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
use crate::report::Reporter;
use plan::{plan, Published, PublishedObject, Wanted, PUBLISHED_VERSION};

/// The record of what was published, under the bucket's prefix.
const RECORD_NAME: &str = ".thumbgen-published.json";

/// Uploads in flight at once.
const UPLOADS_IN_FLIGHT: usize = 16;

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
}

/// What one publish did.
#[derive(Debug, Default)]
struct Done {
    uploaded: usize,
    bytes: u64,
    deleted: usize,
    failed: usize,
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
    let outputs = wanted_outputs(config, settings, state);
    let manifest = manifest
        .filter(|_| settings.publish_manifest)
        .map(|(path, hash)| wanted_manifest(config, settings, path, hash))
        .transpose()?;
    let bucket = Bucket::open(settings)?;
    let mut published = bucket.read_record(settings)?;
    if options.verify {
        let drifted = bucket.drifted(&published)?;
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
    }
    let plan = plan(&outputs, manifest.as_ref(), &published);
    if options.dry_run {
        for &(index, why) in &plan.uploads {
            reporter.info(&format!("upload {}  ({})", outputs[index].key, why.words()));
        }
        if let (Some(manifest), Some(why)) = (&manifest, plan.manifest) {
            reporter.info(&format!("upload {}  ({})", manifest.key, why.words()));
        }
        for key in &plan.deletes {
            reporter.info(&format!("delete {key}  (no longer built)"));
        }
        reporter.info(&format!(
            "would upload {}, unchanged {}, would delete {} (nothing was changed)",
            plan.uploads.len() + usize::from(plan.manifest.is_some()),
            plan.unchanged,
            plan.deletes.len()
        ));
        return Ok(Exit::Ok);
    }
    let mut done = Done::default();
    let uploads: Vec<&Wanted> = plan.uploads.iter().map(|&(i, _)| &outputs[i]).collect();
    bucket.upload(&uploads, &mut published, &mut done, reporter);
    bucket.write_record(&published)?;
    if done.failed == 0 {
        if let (Some(manifest), Some(_)) = (&manifest, plan.manifest) {
            bucket.upload(&[manifest], &mut published, &mut done, reporter);
            bucket.write_record(&published)?;
        }
    }
    let guarded = plan.deletes.len() > settings.max_deletes && !options.allow_deletes;
    if guarded {
        reporter.error(&format!(
            "{} keys are no longer built, more than max_deletes ({}): none was deleted; run again with --allow-deletes to delete them",
            plan.deletes.len(),
            settings.max_deletes
        ));
    } else if done.failed == 0 {
        bucket.delete(&plan.deletes, &mut published, &mut done, reporter);
        bucket.write_record(&published)?;
    }
    reporter.info(&format!(
        "published to {}: uploaded {} ({}), unchanged {}, deleted {}{} · {:.2} s",
        settings.url,
        done.uploaded,
        megabytes(done.bytes),
        plan.unchanged,
        done.deleted,
        if done.failed > 0 {
            format!(", failed {}", done.failed)
        } else {
            String::new()
        },
        started.elapsed().as_secs_f64()
    ));
    Ok(if done.failed > 0 || guarded {
        Exit::Failed
    } else {
        Exit::Ok
    })
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Every recorded output, as the object it is published as, by key.
fn wanted_outputs(config: &Config, settings: &PublishSettings, state: &State) -> Vec<Wanted> {
    let mut wanted: Vec<Wanted> = state
        .values()
        .flat_map(|record| &record.outputs)
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
    env_credentials: bool,
    /// Whether objects carry headers (a `file://` folder has none: the web
    /// server in front of it decides them).
    headers: bool,
    url: String,
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
            env_credentials: opened.env_credentials,
            headers: matches!(settings.location, RemoteLocation::S3 { .. }),
            url: settings.url.clone(),
            runtime,
        })
    }

    fn path(&self, key: &str) -> ObjectPath {
        store::object_path(&self.prefix, key)
    }

    fn describe(&self, error: &object_store::Error) -> String {
        store::describe(error, self.env_credentials)
    }

    /// The record of what was published; empty if there is none (or it is
    /// not one this version reads: then everything is uploaded again, and
    /// nothing deleted). A bucket that cannot be read fails the publish.
    fn read_record(&self, settings: &PublishSettings) -> Result<Published> {
        let path = self.path(RECORD_NAME);
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
                settings.url,
                self.describe(&e)
            ))),
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

    fn write_record(&self, published: &Published) -> Result<()> {
        let record = Published {
            v: PUBLISHED_VERSION,
            objects: published.objects.clone(),
        };
        let bytes = serde_json::to_vec(&record).expect("plain data serializes");
        let path = self.path(RECORD_NAME);
        self.runtime
            .block_on(self.store.put(&path, PutPayload::from(bytes)))
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
        objects: &[&Wanted],
        published: &mut Published,
        done: &mut Done,
        reporter: &Reporter,
    ) {
        let results: Vec<(usize, std::result::Result<(), String>)> = self.runtime.block_on(
            futures::stream::iter(objects.iter().enumerate())
                .map(|(index, wanted)| async move { (index, self.put(wanted).await) })
                .buffer_unordered(UPLOADS_IN_FLIGHT)
                .collect(),
        );
        for (index, result) in results {
            let wanted = objects[index];
            match result {
                Ok(()) => {
                    done.uploaded += 1;
                    done.bytes += wanted.size;
                    published
                        .objects
                        .insert(wanted.key.clone(), PublishedObject::of(wanted));
                }
                Err(error) => {
                    done.failed += 1;
                    reporter.error(&format!("cannot publish {}: {error}", wanted.key));
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
        done: &mut Done,
        reporter: &Reporter,
    ) {
        let results: Vec<(&String, std::result::Result<(), object_store::Error>)> =
            self.runtime.block_on(
                futures::stream::iter(keys)
                    .map(|key| async move { (key, self.store.delete(&self.path(key)).await) })
                    .buffer_unordered(UPLOADS_IN_FLIGHT)
                    .collect(),
            );
        for (key, result) in results {
            match result {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                    done.deleted += 1;
                    published.objects.remove(key);
                }
                Err(e) => {
                    done.failed += 1;
                    reporter.error(&format!("cannot delete {key}: {}", self.describe(&e)));
                }
            }
        }
    }
}
