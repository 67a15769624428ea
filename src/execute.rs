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
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use crate::config::Config;
use crate::error::{describe_io, Error};
use crate::fsutil::{self, PathError};
use crate::hash::hash_bytes;
use crate::model::{Hash, OutputRecord, Shape, SourceRecord, Unreadable};
use crate::plan::{Build, Job, Plan, Removal};
use crate::problem::Failure;
use crate::reason::Reason;
use crate::record;
use crate::render::{render, Limits, Rendered};

/// One output of a job, in place and recorded.
pub struct Built {
    /// What was asked.
    pub build: Build,
    /// What is now recorded for it.
    pub output: OutputRecord,
    /// The file already held exactly these bytes and was left alone: a
    /// build after losing the cache, or `--force`, verifies what it finds
    /// rather than rewriting it.
    pub verified: bool,
    /// Moved from a renamed source's old path, not rendered.
    pub moved: bool,
}

/// What became of one job.
pub enum Outcome {
    /// Every wanted output is in place.
    Built {
        /// The source's new record.
        record: SourceRecord,
        /// The outputs written (or found already right).
        built: Vec<Built>,
    },
    /// The source could not be turned into thumbnails; its outputs are gone.
    Failed {
        /// What to record (a failed source is retried next build), or
        /// `None` to forget the source.
        record: Option<SourceRecord>,
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
struct RenderedJob {
    record: SourceRecord,
    images: Vec<Rendered>,
    /// The source's upright size and kind.
    shape: Shape,
    /// The JPEG DCT scale the source was decoded at (8: full size).
    eighths: u8,
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
pub struct Executor<'a> {
    /// Paths, variants and limits.
    pub config: &'a Config,
    /// Set on Ctrl-C, or by a fatal error: no new job starts.
    pub stop: &'a AtomicBool,
    /// Recorded with a failure: the settings it failed under.
    failure_context: Hash,
}

impl<'a> Executor<'a> {
    /// An executor for `config`'s outputs; a failure is recorded with
    /// `failure_context` (`record::failure_context` of this build).
    pub fn new(config: &'a Config, stop: &'a AtomicBool, failure_context: Hash) -> Executor<'a> {
        Executor {
            config,
            stop,
            failure_context,
        }
    }

    fn staging(&self) -> PathBuf {
        self.config.output.join(fsutil::STAGING_DIR)
    }

    /// Delete recorded outputs that are still ours; emptied folders go too.
    pub fn remove(&self, removals: &[Removal]) -> Vec<Result<bool, PathError>> {
        removals
            .par_iter()
            .map(|r| self.remove_output(&r.output))
            .collect()
    }

    fn remove_output(&self, output: &OutputRecord) -> Result<bool, PathError> {
        let path = self.config.resolve(&output.path);
        let boundary = self.config.prune_boundary(&path);
        fsutil::remove_if_ours(&path, &output.stat, &output.hash, boundary)
    }

    /// Run `jobs` on the current rayon pool, calling `done` with each
    /// outcome as soon as it is known (from a worker thread).
    pub fn run(&self, jobs: &[Job], done: &(dyn Fn(&Job, Outcome) + Sync)) {
        jobs.par_iter().for_each(|job| {
            if self.stop.load(Ordering::Relaxed) {
                return done(job, Outcome::Skipped);
            }
            let outcome = self.run_one(job);
            if matches!(outcome, Outcome::Fatal { .. }) {
                self.stop.store(true, Ordering::Relaxed);
            }
            done(job, outcome);
        });
    }

    /// Read the source and render the job's variants, without writing.
    fn render_job(&self, job: &Job) -> Result<RenderedJob, RenderFailure> {
        let builds: Vec<&Build> = job.builds.iter().collect();
        self.render_builds(job, &builds)
    }

    /// Read `job`'s source and render `builds`, without writing.
    fn render_builds(&self, job: &Job, builds: &[&Build]) -> Result<RenderedJob, RenderFailure> {
        let path = self.config.source.join(&job.source);
        let bytes = std::fs::read(&path).map_err(|e| RenderFailure {
            record: None,
            failure: Failure::Unreadable(Unreadable::Io(describe_io(&e))),
        })?;
        let record = record::read(&job.fingerprint, hash_bytes(&bytes));
        let wanted: Vec<usize> = builds.iter().map(|b| b.variant).collect();
        let limits = Limits {
            max_pixels: self.config.max_pixels,
        };
        let rendered = catch_unwind(AssertUnwindSafe(|| {
            render(&bytes, &wanted, &self.config.variants, &limits)
        }));
        let failure = match rendered {
            Ok(Ok((images, info))) => {
                return Ok(RenderedJob {
                    record,
                    images,
                    shape: info.shape,
                    eighths: info.eighths,
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
    pub fn settle_by_content(&self, plan: &mut Plan) {
        let jobs = std::mem::take(&mut plan.jobs);
        let (failing, jobs): (Vec<Job>, Vec<Job>) = jobs.into_iter().partition(|job| {
            job.builds.iter().all(|b| {
                b.reason
                    == Reason::PreviouslyFailed {
                        same_settings: true,
                    }
            })
        });
        plan.failing = failing.into_iter().map(|job| job.source).collect();
        let (unknown, known): (Vec<_>, Vec<_>) = jobs
            .into_iter()
            .partition(|job| job.builds.iter().all(|b| b.reason == Reason::NewSource));
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
                let same = job.builds.iter().zip(&done.images).all(|(b, image)| {
                    fsutil::same_content(&self.config.resolve(&b.path), &image.bytes).is_some()
                });
                if same {
                    Verdict::UpToDate
                } else {
                    Verdict::Stale
                }
            }
        }
    }

    /// Move an output of a renamed source to `path`; `None` if it is no
    /// longer what was recorded (it is rendered instead).
    fn relocate(&self, from: &OutputRecord, path: &Path) -> Option<OutputRecord> {
        let old = self.config.resolve(&from.path);
        let new = self.config.resolve(path);
        let boundary = self.config.prune_boundary(&old);
        match fsutil::relocate(&old, &new, &from.stat, &from.hash, boundary) {
            Ok(Some(stat)) => Some(record::moved(from, path.to_path_buf(), stat)),
            Ok(None) | Err(_) => None,
        }
    }

    fn run_one(&self, job: &Job) -> Outcome {
        // Outputs of a renamed source move; the rest are rendered.
        let mut built: Vec<Built> = Vec::with_capacity(job.builds.len());
        let mut to_render: Vec<&Build> = Vec::new();
        for build in &job.builds {
            let moved = build
                .from
                .as_ref()
                .and_then(|from| self.relocate(from, &build.path));
            match moved {
                Some(output) => built.push(Built {
                    build: build.clone(),
                    output,
                    verified: false,
                    moved: true,
                }),
                None => to_render.push(build),
            }
        }
        if to_render.is_empty() {
            if let (Some(hash), Some(shape)) = (job.fingerprint.hash, job.shape) {
                let read = record::read(&job.fingerprint, hash);
                let outputs = built.iter().map(|b| b.output.clone());
                let record = record::built(read, shape, &job.keep, outputs);
                return Outcome::Built { record, built };
            }
        }
        let RenderedJob {
            record,
            images: rendered,
            shape,
            eighths,
        } = match self.render_builds(job, &to_render) {
            Ok(done) => done,
            Err(failure) => return self.fail(job, failure.record.map(|r| *r), failure.failure),
        };

        let staging = self.staging();
        for (&build, image) in to_render.iter().zip(rendered) {
            let target = self.config.resolve(&build.path);
            // An identical file is left as it is (its mtime too), so a build
            // after losing the cache does not rewrite the whole tree.
            let existing = fsutil::same_content(&target, &image.bytes);
            let verified = existing.is_some();
            let written = match existing {
                Some(stat) => Ok(stat),
                None => fsutil::atomic_write(&staging, &target, &image.bytes),
            };
            let stat = match written {
                Ok(stat) => stat,
                // A name the file system refuses concerns this source only.
                Err(e) if e.error.kind() == std::io::ErrorKind::InvalidFilename => {
                    for done in &built {
                        let _ = std::fs::remove_file(self.config.resolve(&done.output.path));
                    }
                    let failure = Failure::Unwritable {
                        path: build.path.clone(),
                        error: describe_io(&e.error),
                    };
                    return self.fail(job, Some(record), failure);
                }
                // Anything else (no space, no permission) stops the run.
                Err(e) => {
                    return Outcome::Fatal {
                        error: Error::output("write", e.path, &e.error),
                    }
                }
            };
            let written = record::Written {
                path: build.path.clone(),
                stat,
                hash: hash_bytes(&image.bytes),
                width: image.width,
                height: image.height,
                via: image.via,
            };
            built.push(Built {
                build: build.clone(),
                verified,
                moved: false,
                output: record::written(&self.config.variants[build.variant], eighths, written),
            });
        }
        let record = record::built(
            record,
            shape,
            &job.keep,
            built.iter().map(|b| b.output.clone()),
        );
        Outcome::Built { record, built }
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
