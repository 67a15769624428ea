//! Carrying out a plan: removals first, then every job on the rayon pool —
//! read the source once, render every needed variant from one decode, write
//! each output atomically, and hand back an [`Outcome`] for the caller to
//! record. A panic in a decoder is contained to its source. Nothing here
//! prints or touches the database.
//!
//! `--check` writes nothing; for it the executor has a second mode,
//! [`Executor::settle_by_content`]: outputs already on disk for sources the
//! cache does not know are re-rendered in memory and compared, because
//! outputs are deterministic.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::RwLock;

use rayon::prelude::*;

use crate::config::Config;
use crate::error::{describe_io, Error};
use crate::fsutil::{self, PathError};
use crate::hash::hash_bytes;
use crate::model::{Hash, OutputRecord, Shape, SourceRecord, Unreadable};
use crate::origin::Store;
use crate::owned;
use crate::plan::{Build, Job, Plan, Removal, Standing};
use crate::problem::Failure;
use crate::record;
use crate::remote::{self, Entry, Found, Made, Remote, Repair};
use crate::render::{render, Leniency, Limits, Rendered};

/// One output of a job, in place and recorded.
pub struct Built {
    /// What was asked.
    pub build: Build,
    /// What is now recorded for it.
    pub output: OutputRecord,
    /// How it came to be in place.
    pub how: Provenance,
}

/// How an output came to be in place: each is counted once, under one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// Rendered here and written.
    Built,
    /// Downloaded from the shared cache and written.
    Downloaded,
    /// Moved from a renamed source's old path, not rendered.
    Moved,
    /// The file already held exactly these bytes and was left alone (a
    /// build after losing the cache, or `--force`, verifies what it finds
    /// rather than rewriting it); `downloaded` when the bytes came from the
    /// shared cache.
    Verified {
        /// The bytes were downloaded, not rendered.
        downloaded: bool,
    },
}

impl Provenance {
    /// The output was rendered or downloaded, and found already on disk
    /// (`verified`) or written.
    fn placed(downloaded: bool, verified: bool) -> Provenance {
        match (downloaded, verified) {
            (downloaded, true) => Provenance::Verified { downloaded },
            (true, false) => Provenance::Downloaded,
            (false, false) => Provenance::Built,
        }
    }

    /// Its bytes came from the shared cache.
    pub fn downloaded(self) -> bool {
        matches!(
            self,
            Provenance::Downloaded | Provenance::Verified { downloaded: true }
        )
    }
}

/// What became of one job.
pub(crate) enum Outcome {
    /// Every wanted output is in place.
    Built {
        /// The source's new record.
        record: SourceRecord,
        /// The outputs written (or found already right).
        built: Vec<Built>,
        /// A flaw of the source that its decode read past, to warn about.
        leniency: Option<Leniency>,
        /// It is an animation whose outputs hold its first frame only.
        flattened: bool,
    },
    /// The source could not be turned into thumbnails; its outputs are gone.
    Failed {
        /// What to record (a failed source is retried next build), or
        /// `None` to forget the source.
        record: Option<SourceRecord>,
        /// Why.
        failure: Failure,
    },
    /// The source could not be read now; its record and outputs stay as
    /// they were ([`Failure::Unread`]).
    Unread {
        /// Why.
        failure: Failure,
    },
    /// Writing an output failed: the run cannot go on.
    Fatal {
        /// Why.
        error: Error,
    },
    /// Not started because the run was cancelled.
    Skipped,
}

/// A job's outputs, rendered but not yet written.
/// A build the shared cache has: its index in the job, the build, the
/// cache's entry and the downloaded bytes.
type Hit<'j> = (usize, &'j Build, Entry, Vec<u8>);
/// A build to render: its index in the job, the build, and what to repair
/// in the shared cache once rendered.
type ToRender<'j> = (usize, &'j Build, Repair);

/// One output's bytes, to install for `build`.
struct Output<'b> {
    build: &'b Build,
    bytes: &'b [u8],
    /// Their blake3.
    hash: Hash,
    /// Pixel size as encoded.
    size: (u32, u32),
    /// From the shared cache rather than rendered here.
    downloaded: bool,
}

struct RenderedJob {
    record: SourceRecord,
    /// One per build; `None` where the source gets no output of that set
    /// member (`geometry::is_made`).
    images: Vec<Option<Rendered>>,
    /// The source's upright size and kind.
    shape: Shape,
    /// Made from the decode, when the job needed them.
    placeholder: Option<Box<crate::model::Placeholder>>,
    /// A flaw the decode read past.
    leniency: Option<Leniency>,
    /// An animation rendered as its first frame.
    flattened: bool,
}

/// Why an output could not be put in place.
enum Placed {
    /// The file system refuses its name: the source fails.
    Refused(Failure),
    /// Anything else: the run stops.
    Fatal(Error),
}

/// Hand an output rendered here to the shared cache.
fn upload(remote: &Remote, key: Hash, image: Rendered, hash: Hash, shape: Shape, repair: Repair) {
    let made = Made {
        width: image.width,
        height: image.height,
        shape,
    };
    let entry = Entry::new(&hash, image.bytes.len() as u64, made);
    remote.upload(key, entry, image.bytes, repair);
}

/// What `--check` finds of a source it has no record of.
enum Verdict {
    /// Its outputs are on disk, byte for byte.
    UpToDate,
    /// A build would write them.
    Stale,
    /// A build would fail.
    Fails,
}

/// Why a job could not be rendered, and what to record (if the source
/// could be read at all).
struct RenderFailure {
    record: Option<Box<SourceRecord>>,
    failure: Failure,
}

/// Runs jobs on the current rayon pool.
pub(crate) struct Executor<'a> {
    /// Paths, variants and limits.
    pub config: &'a Config,
    /// Set on Ctrl-C, or by a fatal error: no new job starts.
    pub stop: &'a AtomicBool,
    /// Recorded with a failure: the settings it failed under.
    failure_context: Hash,
    /// The shared cache: rendered outputs are uploaded to it if it may be
    /// written, and with `lookups` outputs are first looked up in it.
    remote: Option<&'a Remote>,
    lookups: bool,
    /// Where sources are read when `source` is a bucket.
    store: Option<&'a Store>,
    /// Held shared while a worker makes a folder and writes into it, and
    /// exclusively while one removes or moves a file and prunes the folders
    /// that emptied: a folder being written into is empty until the file's
    /// move, and a prune must not take it in between.
    folders: RwLock<()>,
}

impl<'a> Executor<'a> {
    /// An executor for `config`'s outputs; a failure is recorded with
    /// `failure_context` (`record::failure_context` of this build).
    pub(crate) fn new(
        config: &'a Config,
        stop: &'a AtomicBool,
        failure_context: Hash,
    ) -> Executor<'a> {
        Executor {
            config,
            stop,
            failure_context,
            folders: RwLock::new(()),
            remote: None,
            lookups: false,
            store: None,
        }
    }

    /// Read sources from `store` (when `source` is a bucket).
    pub(crate) fn use_store(&mut self, store: Option<&'a Store>) {
        self.store = store;
    }

    /// Use `remote` for this run's jobs: look outputs up in it first (with
    /// `lookups`), and upload what is rendered (if it may be written).
    pub(crate) fn use_remote(&mut self, remote: Option<&'a Remote>, lookups: bool) {
        self.remote = remote;
        self.lookups = lookups;
    }

    /// The action key of each build of `job` in the shared cache (`None`
    /// for an output moved from a renamed source, or a source whose
    /// content is not known before it is read).
    fn keys(&self, job: &Job) -> Vec<Option<Hash>> {
        job.builds
            .iter()
            .map(|b| {
                let hash = job.fingerprint.hash.filter(|_| b.from.is_none())?;
                let variant = &self.config.variants[b.variant];
                Some(remote::action_key(&hash, variant, job.focus))
            })
            .collect()
    }

    fn staging(&self) -> PathBuf {
        self.config.output.join(fsutil::STAGING_DIR)
    }

    /// Delete recorded outputs that are still ours; emptied folders go too.
    pub(crate) fn remove(&self, removals: &[Removal]) -> Vec<Result<bool, PathError>> {
        removals
            .par_iter()
            .map(|r| self.remove_output(&r.output))
            .collect()
    }

    /// Remove the content-named output `build` replaces, now that the new
    /// one is at `now` (`None`: the source gets no output of this variant).
    /// A new output of the same name has the same bytes: it stays.
    /// The same for a `stray` of the build (one with no record).
    fn retire_replaced(&self, build: &Build, now: Option<&Path>) -> Result<(), Box<Outcome>> {
        let fatal = |e: PathError| {
            Box::new(Outcome::Fatal {
                error: Error::output("remove", e.path, &e.error),
            })
        };
        if let Some(old) = build.replaces.as_ref().filter(|o| now != Some(&*o.path)) {
            self.remove_output(old).map_err(fatal)?;
        }
        if let Some(stray) = build.stray.as_deref().filter(|s| now != Some(*s)) {
            self.remove_leftover(stray).map_err(fatal)?;
        }
        Ok(())
    }

    fn remove_output(&self, output: &OutputRecord) -> Result<bool, PathError> {
        let path = self.config.resolve(&output.path);
        let boundary = self.config.prune_boundary(&path);
        let _pruning = self.pruning();
        fsutil::remove_if_ours(&path, &output.stat, &output.hash, boundary)
    }

    /// The right to prune folders (see `folders`).
    fn pruning(&self) -> std::sync::RwLockWriteGuard<'_, ()> {
        self.folders
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The right to make a folder and write into it (see `folders`).
    fn writing(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.folders
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Run `jobs` on the current rayon pool, calling `done` with each
    /// outcome as soon as it is known (from a worker thread). Workers take
    /// jobs in order, the order in which the shared cache is asked ahead.
    pub(crate) fn run(&self, jobs: &[Job], done: &(dyn Fn(&Job, Outcome) + Sync)) {
        let prefetch = match self.remote {
            Some(remote) if self.lookups => {
                Some(remote.prefetch(jobs.iter().map(|j| self.keys(j)).collect()))
            }
            _ => None,
        };
        // Originals to download run ahead of the workers, which render
        // those already here meanwhile. (Not beside the shared cache's
        // lookups: their answers may leave nothing to render.)
        let ahead = self.store.filter(|_| prefetch.is_none()).map(|store| {
            let reading = jobs.iter().filter(|job| {
                let renders = job.builds.is_empty() || job.builds.iter().any(|b| b.from.is_none());
                renders && store.lacks(job.fingerprint.hash.as_ref())
            });
            (
                store,
                store.ahead(reading.map(|job| job.source.clone()).collect()),
            )
        });
        let next = AtomicUsize::new(0);
        let work = || loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(job) = jobs.get(index) else {
                return;
            };
            if self.stop.load(Ordering::Relaxed) {
                done(job, Outcome::Skipped);
                continue;
            }
            let found = prefetch.as_ref().map(|p| p.take(index, job.builds.len()));
            let outcome = self.run_one(job, found);
            if let Some((_, ahead)) = &ahead {
                ahead.done(&job.source);
            }
            if matches!(outcome, Outcome::Fatal { .. }) {
                self.stop.store(true, Ordering::Relaxed);
            }
            done(job, outcome);
        };
        std::thread::scope(|threads| {
            if let Some((store, ahead)) = &ahead {
                threads.spawn(|| store.download_ahead(ahead));
            }
            // The downloads stop when the workers do, even by a panic:
            // the scope waits for them, and they wait for the workers.
            let _stop = ahead.as_ref().map(|(_, ahead)| ahead.stopper());
            rayon::scope(|scope| {
                for _ in 0..rayon::current_num_threads() {
                    scope.spawn(|_| work());
                }
            });
        });
    }

    /// Read the source and render the job's variants, without writing.
    fn render_job(&self, job: &Job) -> Result<RenderedJob, RenderFailure> {
        let builds: Vec<&Build> = job.builds.iter().collect();
        self.render_builds(job, &builds)
    }

    /// The bytes of `job`'s source.
    fn read_source(&self, job: &Job) -> Result<Vec<u8>, RenderFailure> {
        let had_outputs = !job.previous.is_empty() || !job.keep.is_empty();
        let failed = |failure| RenderFailure {
            record: None,
            failure,
        };
        if let Some(store) = self.store {
            // Not to be had now (the network, the store): what it had stays.
            return store
                .read(&job.source, job.fingerprint.hash.as_ref())
                .map_err(|error| match had_outputs {
                    true => failed(Failure::Unread { error }),
                    false => failed(Failure::Unreadable(Unreadable::Io(error))),
                });
        }
        std::fs::read(self.config.source.join(&job.source)).map_err(|e| {
            // Gone since the walk: its outputs go, as in a clean build.
            // There but unreadable: they stay (see `Failure::Unread`).
            failed(if had_outputs && e.kind() != std::io::ErrorKind::NotFound {
                Failure::Unread {
                    error: describe_io(&e),
                }
            } else {
                Failure::Unreadable(Unreadable::Io(describe_io(&e)))
            })
        })
    }

    /// Read `job`'s source and render `builds`, without writing.
    fn render_builds(&self, job: &Job, builds: &[&Build]) -> Result<RenderedJob, RenderFailure> {
        let bytes = self.read_source(job)?;
        let record = record::read(&job.fingerprint, hash_bytes(&bytes));
        let wanted: Vec<usize> = builds.iter().map(|b| b.variant).collect();
        let limits = Limits {
            max_pixels: self.config.max_pixels,
            decode_timeout: self.config.decode_timeout,
        };
        let placeholders = if self.needs_placeholder(job) {
            self.config.placeholders
        } else {
            Default::default()
        };
        let rendered = catch_unwind(AssertUnwindSafe(|| {
            render(
                &bytes,
                &wanted,
                &self.config.variants,
                &limits,
                placeholders,
                job.focus,
            )
        }));
        let failure = match rendered {
            Ok(Ok((images, info))) => {
                return Ok(RenderedJob {
                    record,
                    images,
                    shape: info.shape,
                    placeholder: info.placeholder,
                    leniency: info.leniency,
                    flattened: info.flattened,
                });
            }
            Ok(Err(e)) => Failure::Render(e),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Failure::Panic(message)
            }
        };
        Err(RenderFailure {
            record: Some(Box::new(record)),
            failure,
        })
    }

    /// The `--check` mode: without records (no cache, as on a CI runner
    /// that did not restore it), every source looks new. Jobs whose outputs
    /// are already on disk, byte for byte what a build would write, are
    /// taken out of `plan` and counted up to date. Writes nothing.
    ///
    /// Sources that are known to fail are taken out too, into
    /// [`Plan::failing`]: those that failed last time with the same content
    /// and settings, and those without records that fail to render now. A
    /// build cannot help them, so `--check` must not say it would.
    pub(crate) fn settle_by_content(&self, plan: &mut Plan) {
        let jobs = std::mem::take(&mut plan.jobs);
        let (failing, jobs): (Vec<Job>, Vec<Job>) = jobs
            .into_iter()
            .partition(|job| job.standing == Standing::FailsAsBefore);
        plan.failing = failing.into_iter().map(|job| job.source).collect();
        let (unknown, known): (Vec<_>, Vec<_>) = jobs
            .into_iter()
            .partition(|job| job.standing == Standing::Unrecorded);
        let verdicts: Vec<Verdict> = unknown.par_iter().map(|job| self.verify(job)).collect();
        plan.jobs = known;
        for (job, verdict) in unknown.into_iter().zip(verdicts) {
            match verdict {
                Verdict::UpToDate => plan.up_to_date += job.builds.len(),
                Verdict::Stale => plan.jobs.push(job),
                Verdict::Fails => plan.failing.push(job.source),
            }
        }
        plan.jobs.sort_by(|a, b| a.source.cmp(&b.source));
        plan.failing.sort();
    }

    /// Whether the files at `job`'s output paths are byte for byte what a
    /// build would write (outputs are deterministic), or the source fails.
    fn verify(&self, job: &Job) -> Verdict {
        match self.render_job(job) {
            Err(_) => Verdict::Fails,
            Ok(done) => {
                let same = job
                    .builds
                    .iter()
                    .zip(&done.images)
                    .all(|(b, image)| match image {
                        Some(image) => {
                            let path = self.final_path(b, || hash_bytes(&image.bytes));
                            fsutil::same_content(&self.config.resolve(&path), &image.bytes)
                                .is_some()
                        }
                        None => !self.config.resolve(&b.path).exists(),
                    });
                if same {
                    Verdict::UpToDate
                } else {
                    Verdict::Stale
                }
            }
        }
    }

    /// Whether `job` must decode its source for placeholders: the config
    /// wants them and the plan has none that still hold.
    fn needs_placeholder(&self, job: &Job) -> bool {
        self.config.placeholders.any() && job.placeholder.is_none()
    }

    /// Where `build`'s output with content digest `hash` goes: its planned
    /// path, with the digest in the name for a `hash_names` variant (the
    /// only case that needs the digest).
    fn final_path(&self, build: &Build, hash: impl FnOnce() -> Hash) -> PathBuf {
        if self.config.variants[build.variant].hash_names {
            crate::variant::with_content_hash(&build.path, &hash())
        } else {
            build.path.clone()
        }
    }

    /// Move an output of a renamed source to where `build` puts it; `None`
    /// if it is no longer what was recorded (it is rendered instead).
    fn relocate(&self, job: &Job, from: &OutputRecord, build: &Build) -> Option<OutputRecord> {
        let path = &self.final_path(build, || from.hash);
        if !self.may_write(job, build, path) {
            return None;
        }
        let old = self.config.resolve(&from.path);
        let new = self.config.resolve(path);
        let boundary = self.config.prune_boundary(&old);
        let moved = {
            let _pruning = self.pruning();
            fsutil::relocate(&old, &new, &from.stat, &from.hash, boundary)
        };
        match moved {
            Ok(Some(stat)) => Some(record::moved(from, path.to_path_buf(), stat)),
            Ok(None) | Err(_) => None,
        }
    }

    /// Carry out one job: move what a renamed source's outputs give,
    /// install what the shared cache had (`found`, one answer per build),
    /// render the rest from one decode and upload it.
    fn run_one(&self, job: &Job, found: Option<Vec<Found>>) -> Outcome {
        let (mut built, mut hits, mut to_render) = self.sort_builds(job, found);
        let done = match self.render_needed(job, &mut hits, &mut to_render) {
            Ok(done) => done,
            Err(outcome) => return *outcome,
        };
        let RenderedJob {
            record,
            images,
            shape,
            placeholder,
            leniency,
            flattened,
        } = done;
        let placed = self
            .place_downloaded(job, hits, &record, &mut built)
            .and_then(|()| self.place_rendered(job, to_render, images, shape, &record, &mut built));
        if let Err(outcome) = placed {
            return *outcome;
        }
        let record = record::built(
            record,
            shape,
            placeholder,
            &job.keep,
            built.iter().map(|b| b.output.clone()),
        );
        Outcome::Built {
            record,
            built,
            leniency,
            flattened,
        }
    }

    /// A job's builds by how each is made: moved from a renamed source's
    /// output (done here), downloaded from the shared cache (`found`, in
    /// build order), or rendered.
    fn sort_builds<'j>(
        &self,
        job: &'j Job,
        found: Option<Vec<Found>>,
    ) -> (Vec<Built>, Vec<Hit<'j>>, Vec<ToRender<'j>>) {
        let mut answers = found.map(Vec::into_iter);
        let mut built: Vec<Built> = Vec::with_capacity(job.builds.len());
        let mut hits = Vec::new();
        let mut to_render = Vec::new();
        for (index, build) in job.builds.iter().enumerate() {
            let answer = answers.as_mut().and_then(Iterator::next);
            let moved = build
                .from
                .as_ref()
                .and_then(|from| self.relocate(job, from, build));
            match (moved, answer) {
                (Some(output), _) => built.push(Built {
                    build: build.clone(),
                    output,
                    how: Provenance::Moved,
                }),
                (None, Some(Found::Hit { entry, bytes })) => {
                    hits.push((index, build, entry, bytes))
                }
                (None, Some(Found::Miss { repair })) => to_render.push((index, build, repair)),
                (None, None) => to_render.push((index, build, Repair::default())),
            }
        }
        (built, hits, to_render)
    }

    /// Renders what is to be rendered (and the placeholders, when the job
    /// needs them); or, with nothing to render, what is known of the source
    /// from the plan: the content was hashed, and the shape is known from
    /// what the cache or the renamed source says.
    fn render_needed<'j>(
        &self,
        job: &'j Job,
        hits: &mut Vec<Hit<'j>>,
        to_render: &mut Vec<ToRender<'j>>,
    ) -> Result<RenderedJob, Box<Outcome>> {
        let render = |to_render: &[ToRender]| {
            let builds: Vec<&Build> = to_render.iter().map(|(_, b, _)| *b).collect();
            self.render_builds(job, &builds).map_err(|failure| {
                Box::new(match failure.failure {
                    Failure::Unread { .. } => Outcome::Unread {
                        failure: failure.failure,
                    },
                    _ => self.fail(job, failure.record.map(|r| *r), failure.failure),
                })
            })
        };
        let known_shape = hits
            .first()
            .map(|(_, _, e, _)| e.made().shape)
            .or(job.shape);
        if let (Some(hash), Some(shape)) = (job.fingerprint.hash, known_shape) {
            if to_render.is_empty() && !self.needs_placeholder(job) {
                return Ok(RenderedJob {
                    record: record::read(&job.fingerprint, hash),
                    images: Vec::new(),
                    shape,
                    placeholder: job.placeholder.clone(),
                    leniency: None,
                    flattened: false,
                });
            }
        }
        let mut done = render(to_render)?;
        // The source changed after it was looked up: what the cache had is
        // of the old content, so render everything.
        if !hits.is_empty() && Some(done.record.hash) != job.fingerprint.hash {
            to_render.extend(hits.drain(..).map(|(i, b, _, _)| (i, b, Repair::default())));
            to_render.sort_by_key(|(i, _, _)| *i);
            done = render(to_render)?;
        }
        done.placeholder = done.placeholder.or_else(|| job.placeholder.clone());
        Ok(done)
    }

    /// Installs the outputs downloaded from the shared cache.
    fn place_downloaded(
        &self,
        job: &Job,
        hits: Vec<Hit>,
        record: &SourceRecord,
        built: &mut Vec<Built>,
    ) -> Result<(), Box<Outcome>> {
        for (_, build, entry, bytes) in hits {
            let made = entry.made();
            let output = Output {
                build,
                bytes: &bytes,
                hash: entry.digest().expect("verified on download"),
                size: (made.width, made.height),
                downloaded: true,
            };
            self.install(job, output, record, built)?;
        }
        Ok(())
    }

    /// Puts one output's bytes in place (replacing the content-named file
    /// it succeeds) and records it in `built`.
    fn install(
        &self,
        job: &Job,
        output: Output,
        record: &SourceRecord,
        built: &mut Vec<Built>,
    ) -> Result<(), Box<Outcome>> {
        let Output {
            build,
            bytes,
            hash,
            size: (width, height),
            downloaded,
        } = output;
        let path = self.final_path(build, || hash);
        let (stat, verified) = self
            .place(job, build, &path, bytes, built)
            .map_err(|placed| Box::new(self.fail_placed(job, record.clone(), placed)))?;
        self.retire_replaced(build, Some(&path))?;
        let written = record::Written {
            path,
            stat,
            hash,
            width,
            height,
        };
        built.push(Built {
            build: build.clone(),
            output: record::written(&self.config.variants[build.variant], job.focus, written),
            how: Provenance::placed(downloaded, verified),
        });
        Ok(())
    }

    /// Writes the rendered outputs (and uploads them to a shared cache that
    /// takes writes); a set member the source does not get removes what an
    /// earlier, wider version of it had there.
    fn place_rendered(
        &self,
        job: &Job,
        to_render: Vec<ToRender>,
        images: Vec<Option<Rendered>>,
        shape: Shape,
        record: &SourceRecord,
        built: &mut Vec<Built>,
    ) -> Result<(), Box<Outcome>> {
        let keys = self.remote.filter(|r| r.writes()).map(|_| self.keys(job));
        for ((index, build, repair), image) in to_render.into_iter().zip(images) {
            let Some(image) = image else {
                for old in job.previous.iter().filter(|o| *o.path == *build.path) {
                    self.remove_output(old).map_err(|e| {
                        Box::new(Outcome::Fatal {
                            error: Error::output("remove", e.path, &e.error),
                        })
                    })?;
                }
                self.retire_replaced(build, None)?;
                continue;
            };
            let hash = hash_bytes(&image.bytes);
            let output = Output {
                build,
                bytes: &image.bytes,
                hash,
                size: (image.width, image.height),
                downloaded: false,
            };
            self.install(job, output, record, built)?;
            let key = keys.as_ref().and_then(|k| k[index]);
            if let (Some(remote), Some(key)) = (self.remote, key) {
                upload(remote, key, image, hash, shape, repair);
            }
        }
        Ok(())
    }

    /// Put `bytes` at `path`, atomically. An identical file is left
    /// as it is (its mtime too), so a build after losing the cache does not
    /// rewrite the whole tree: then the flag is true. On error, the
    /// outcome of the job (after removing what `built` already placed).
    fn place(
        &self,
        job: &Job,
        build: &Build,
        path: &Path,
        bytes: &[u8],
        built: &[Built],
    ) -> Result<(crate::model::Stat, bool), Placed> {
        // A failed source has no outputs: those this job already put in
        // place go. One that cannot go stops the run, as in `fail`.
        let undo = |failure: Failure| -> Placed {
            for done in built {
                let placed = self.config.resolve(&done.output.path);
                let boundary = self.config.prune_boundary(&placed);
                let (stat, hash) = (&done.output.stat, &done.output.hash);
                let _pruning = self.pruning();
                if let Err(e) = fsutil::remove_if_ours(&placed, stat, hash, boundary) {
                    return Placed::Fatal(Error::output("remove", e.path, &e.error));
                }
            }
            Placed::Refused(failure)
        };
        if !self.may_write(job, build, path) {
            return Err(undo(Failure::Occupied {
                path: path.to_path_buf(),
            }));
        }
        let target = self.config.resolve(path);
        let folder = self.folder_of(build);
        let writing = self.writing();
        if !folder.exists() {
            // A variant's folder thumbgen creates is its own.
            if let Err(e) = owned::mark(&folder) {
                return Err(Placed::Fatal(Error::output("write", folder, &e)));
            }
        }
        if let Some(stat) = fsutil::same_content(&target, bytes) {
            return Ok((stat, true));
        }
        let written = fsutil::atomic_write(&self.staging(), &target, bytes);
        drop(writing);
        match written {
            Ok(stat) => Ok((stat, false)),
            // A name the file system refuses concerns this source only.
            Err(e) if e.error.kind() == std::io::ErrorKind::InvalidFilename => {
                Err(undo(Failure::Unwritable {
                    path: path.to_path_buf(),
                    error: describe_io(&e.error),
                }))
            }
            // Anything else (no space, no permission) stops the run.
            Err(e) => Err(Placed::Fatal(Error::output("write", e.path, &e.error))),
        }
    }

    /// The folder of `build`'s variant.
    fn folder_of(&self, build: &Build) -> PathBuf {
        self.config
            .output
            .join(&self.config.variants[build.variant].folder)
    }

    /// Whether thumbgen may put an output at `path`: nothing is there, or
    /// what is there is its own — recorded for this source, or named like
    /// an output in a folder it owns. A file it did not write is never
    /// written over.
    fn may_write(&self, job: &Job, build: &Build, path: &Path) -> bool {
        let target = self.config.resolve(path);
        if std::fs::symlink_metadata(&target).is_err() {
            return true;
        }
        let recorded = job
            .previous
            .iter()
            .chain(&job.keep)
            .chain(&build.replaces)
            .chain(&build.from)
            .any(|o| *o.path == *path);
        recorded || (owned::is_owned(&self.folder_of(build)) && owned::is_output_name(&target))
    }

    /// Delete the plan's leftovers (`Plan::leftovers`), each only if it is
    /// still named like an output in a folder thumbgen owns; emptied
    /// folders go too. `Ok(false)` for one that is gone or not ours.
    pub(crate) fn remove_leftovers(&self, leftovers: &[PathBuf]) -> Vec<Result<bool, PathError>> {
        leftovers
            .par_iter()
            .map(|rel| self.remove_leftover(rel))
            .collect()
    }

    fn remove_leftover(&self, rel: &Path) -> Result<bool, PathError> {
        let path = self.config.resolve(rel);
        let folder = path
            .strip_prefix(&self.config.output)
            .ok()
            .and_then(|inner| inner.components().next())
            .map(|first| self.config.output.join(first));
        if !folder.is_some_and(|f| owned::is_owned(&f)) || !owned::is_output_name(&path) {
            return Ok(false);
        }
        let _pruning = self.pruning();
        fsutil::remove_and_prune(&path, &self.config.output)
    }

    fn fail_placed(&self, job: &Job, record: SourceRecord, placed: Placed) -> Outcome {
        match placed {
            Placed::Refused(failure) => self.fail(job, Some(record), failure),
            Placed::Fatal(error) => Outcome::Fatal { error },
        }
    }

    /// A failed source has no outputs, as after a clean build.
    fn fail(&self, job: &Job, record: Option<SourceRecord>, failure: Failure) -> Outcome {
        for output in job.previous.iter().chain(&job.keep) {
            if let Err(e) = self.remove_output(output) {
                return Outcome::Fatal {
                    error: Error::output("remove", e.path, &e.error),
                };
            }
        }
        Outcome::Failed {
            record: record.map(|r| record::failed(r, self.failure_context)),
            failure,
        }
    }
}
