//! Carrying out a plan: removals first, then every job on the rayon pool —
//! read the source once, render every needed variant from one decode, write
//! each output atomically, and hand back an [`Outcome`] for the caller to
//! record. A panic in a decoder is contained to its source. Nothing here
//! prints or touches the database.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use crate::config::Config;
use crate::error::describe_io;
use crate::fsutil::{self, PathError};
use crate::hash::hash_bytes;
use crate::model::{OutputRecord, Shape, SourceRecord};
use crate::plan::{Build, Job, Removal};
use crate::record;
use crate::render::{render, Limits, Rendered};

pub struct Built {
    pub build: Build,
    pub output: OutputRecord,
}

pub enum Outcome {
    Built {
        record: SourceRecord,
        built: Vec<Built>,
    },
    /// The source could not be turned into thumbnails; its outputs are gone.
    Failed {
        /// What to record (a failed source is retried next build), or
        /// `None` to forget the source.
        record: Option<SourceRecord>,
        error: String,
    },
    /// Writing an output failed: the run cannot go on.
    Fatal { error: String },
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

/// Why a job could not be rendered, and what to record (if the source
/// could be read at all).
struct RenderFailure {
    record: Option<Box<SourceRecord>>,
    error: String,
}

pub struct Executor<'a> {
    pub config: &'a Config,
    /// Set on Ctrl-C, or by a fatal error: no new job starts.
    pub stop: &'a AtomicBool,
}

impl Executor<'_> {
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
        fsutil::remove_if_ours(&path, &output.stat, &output.hash, &self.config.output)
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
        let path = self.config.source.join(&job.source);
        let bytes = std::fs::read(&path).map_err(|e| RenderFailure {
            record: None,
            error: describe_io(&e),
        })?;
        let record = record::read(&job.fingerprint, hash_bytes(&bytes));
        let wanted: Vec<usize> = job.builds.iter().map(|b| b.variant).collect();
        let limits = Limits {
            max_pixels: self.config.max_pixels,
        };
        let rendered = catch_unwind(AssertUnwindSafe(|| {
            render(&bytes, &wanted, &self.config.variants, &limits)
        }));
        let error = match rendered {
            Ok(Ok((images, info))) => {
                return Ok(RenderedJob {
                    record,
                    images,
                    shape: info.shape,
                    eighths: info.eighths,
                });
            }
            Ok(Err(e)) => e.to_string(),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                format!("the decoder crashed on this file ({message})")
            }
        };
        Err(RenderFailure {
            record: Some(Box::new(record)),
            error,
        })
    }

    /// For each job, whether the files already at its output paths are
    /// byte for byte what a build would write (outputs are deterministic).
    /// Lets `--check` trust committed outputs when there is no cache.
    pub fn verify(&self, jobs: &[Job]) -> Vec<bool> {
        jobs.par_iter()
            .map(|job| {
                let exists = job
                    .builds
                    .iter()
                    .all(|b| self.config.resolve(&b.path).is_file());
                exists
                    && self.render_job(job).is_ok_and(|done| {
                        job.builds.iter().zip(&done.images).all(|(b, image)| {
                            fsutil::same_content(&self.config.resolve(&b.path), &image.bytes)
                                .is_some()
                        })
                    })
            })
            .collect()
    }

    fn run_one(&self, job: &Job) -> Outcome {
        let RenderedJob {
            record,
            images: rendered,
            shape,
            eighths,
        } = match self.render_job(job) {
            Ok(done) => done,
            Err(failure) => return self.fail(job, failure.record.map(|r| *r), failure.error),
        };

        let staging = self.staging();
        let mut built: Vec<Built> = Vec::with_capacity(rendered.len());
        for (build, image) in job.builds.iter().zip(rendered) {
            let target = self.config.resolve(&build.path);
            // An identical file is left as it is (its mtime too), so a build
            // after losing the cache does not rewrite the whole tree.
            let written = match fsutil::same_content(&target, &image.bytes) {
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
                    let error = format!("cannot write {e} (rename the source)");
                    return self.fail(job, Some(record), error);
                }
                // Anything else (no space, no permission) stops the run.
                Err(e) => {
                    return Outcome::Fatal {
                        error: format!("cannot write {e}"),
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
    fn fail(&self, job: &Job, record: Option<SourceRecord>, error: String) -> Outcome {
        for output in job.previous.iter().chain(&job.keep) {
            if let Err(e) = self.remove_output(output) {
                return Outcome::Fatal {
                    error: format!("cannot remove {e}"),
                };
            }
        }
        Outcome::Failed {
            record: record.map(record::failed),
            error,
        }
    }
}
