//! Orchestration, and nothing else: config → scan → fingerprint (with the
//! database) → plan → stop for `--dry-run`, else remove → execute → record
//! → report. `clean` undoes what builds recorded.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::cli::JsonMode;
use crate::config::{self, Config};
use crate::db::Db;
use crate::error::{describe_io, Error, Exit, Result};
use crate::execute::{Executor, Outcome};
use crate::fingerprint::{fs_now, observe_outputs, observe_sources};
use crate::fsutil;
use crate::manifest;
use crate::model::SourceRecord;
use crate::plan::{self, Settings};
use crate::report::{Mode, Reporter, Summary};
use crate::scan;

#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub config: Option<PathBuf>,
    pub jobs: Option<usize>,
    pub dry_run: bool,
    pub check: bool,
    pub explain: bool,
    pub force: bool,
    pub quiet: bool,
    pub json: Option<JsonMode>,
}

impl BuildOptions {
    fn mode(&self) -> Mode {
        if self.check {
            Mode::Check
        } else if self.dry_run {
            Mode::DryRun
        } else {
            Mode::Build
        }
    }
}

/// Find and load the config for a run started in `cwd`.
pub fn load_config(explicit: Option<&Path>) -> Result<Config> {
    let cwd = std::env::current_dir().map_err(|e| {
        Error::Fatal(format!(
            "cannot read the current folder: {}",
            describe_io(&e)
        ))
    })?;
    let file = config::locate(explicit, &cwd)?;
    config::load(&file)
}

pub fn pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("thumbgen-{i}"))
        .build()
        .map_err(|e| Error::Fatal(format!("cannot start worker threads: {e}")))
}

/// `thumbgen build`. `stop` is set by Ctrl-C.
pub fn build(options: &BuildOptions, stop: &AtomicBool) -> Result<Exit> {
    let config = load_config(options.config.as_deref())?;
    let threads = options.jobs.filter(|&j| j > 0).unwrap_or(config.jobs);
    let reporter = Reporter::with_options(options.quiet, options.explain, options.json);
    pool(threads)?.install(|| build_once(&config, options, stop, &reporter))
}

/// One build with a loaded config, on the current rayon pool.
pub fn build_once(
    config: &Config,
    options: &BuildOptions,
    stop: &AtomicBool,
    reporter: &Reporter,
) -> Result<Exit> {
    let mode = options.mode();
    // Neither a dry run nor a check writes anything, not even the cache.
    let read_only = mode != Mode::Build;
    // Walking the sources (stat only) is independent of reading the records
    // and checking the outputs they list: overlap the two.
    let (found, recorded) = rayon::join(
        || scan::scan(config, rayon::current_num_threads()),
        || -> Result<_> {
            let mut warnings = Vec::new();
            let db = if read_only {
                Db::snapshot(&config.cache, &mut warnings)?
            } else {
                Db::open(&config.cache, &mut warnings)?
            };
            // Under the lock, and before any source's content is read: the
            // racy rule compares modification times with this.
            let now = if read_only {
                None
            } else {
                fs_now(&config.cache).ok()
            };
            let state = db.load(&mut warnings);
            let outputs = observe_outputs(&state, &config.root);
            Ok((db, now, state, outputs, warnings))
        },
    );
    let (db, now, mut state, outputs, mut warnings) = recorded?;
    let found = found.map_err(|e| {
        Error::Fatal(format!(
            "source folder {}: {}",
            config.source.display(),
            describe_io(&e)
        ))
    })?;
    warnings.extend(found.warnings);
    for w in &warnings {
        reporter.warn(w);
    }
    let observed = observe_sources(&found.found, &state, &config.source, now, reporter);
    let output_rel = config.relative(&config.output);
    let settings = Settings {
        variants: &config.variants,
        output: &output_rel,
        force: options.force,
    };
    let mut plan = plan::plan(&observed, &state, &outputs, &settings);
    let source_prefix = config.relative(&config.source);
    let executor = Executor { config, stop };
    if mode == Mode::Check {
        trust_verified_outputs(&mut plan, &executor);
    }

    reporter.plan(&plan, &source_prefix, mode);
    if options.json == Some(JsonMode::All) {
        for (source, outputs) in plan::fresh_outputs(&plan, &state, &observed) {
            reporter.up_to_date(&source_prefix.join(source), outputs);
        }
    }
    for path in &plan.disowned {
        reporter.warn(&format!(
            "{} was changed by hand and is no longer needed; left in place and no longer tracked",
            path.display()
        ));
    }
    if read_only {
        let summary = Summary {
            built: plan.build_count(),
            up_to_date: plan.up_to_date,
            removed: plan.removals.len(),
            failed: plan.failures.len(),
        };
        let exit = if mode == Mode::Check && plan.has_work() {
            Exit::Failed
        } else {
            Exit::Ok
        };
        reporter.summary(&summary, mode, exit);
        return Ok(exit);
    }

    let staging = config.output.join(fsutil::STAGING_DIR);
    fsutil::sweep_staging(&staging);
    let mut summary = Summary {
        up_to_date: plan.up_to_date,
        failed: plan.failures.len(),
        ..Summary::default()
    };
    for (removal, result) in plan.removals.iter().zip(executor.remove(&plan.removals)) {
        let source = source_prefix.join(&removal.source);
        match result {
            Ok(true) => {
                summary.removed += 1;
                reporter.removed(&source, removal);
            }
            Ok(false) => {}
            Err(e) => reporter.warn(&format!(
                "cannot remove {e} ({} of {})",
                crate::report::removal_text(removal.reason),
                source.display()
            )),
        }
    }
    // The records change through the database; `state` follows along
    // when the manifest needs the final picture, so it need not be re-read.
    let track = config.manifest.is_some();
    for rel in &plan.forget {
        db.forget(rel)?;
        state.remove(rel);
    }
    for (rel, record) in &plan.updates {
        db.put(rel, record)?;
        if track {
            state.insert(rel.clone(), record.clone());
        }
    }
    for failure in &plan.failures {
        reporter.failed(&source_prefix.join(&failure.source), &failure.error);
    }

    let built = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let committed: Mutex<Vec<(PathBuf, Option<SourceRecord>)>> = Mutex::new(Vec::new());
    let remember = |rel: &Path, record: Option<&SourceRecord>| {
        if track {
            let entry = (rel.to_path_buf(), record.cloned());
            committed.lock().unwrap().push(entry);
        }
    };
    reporter.start(plan.jobs.len());
    executor.run(&plan.jobs, &|job, outcome| {
        let source = source_prefix.join(&job.source);
        let committed = match outcome {
            Outcome::Built {
                record,
                built: outputs,
            } => {
                built.fetch_add(outputs.len(), Ordering::Relaxed);
                reporter.built(&source, &outputs);
                remember(&job.source, Some(&record));
                db.put(&job.source, &record)
            }
            Outcome::Failed { record, error } => {
                failed.fetch_add(1, Ordering::Relaxed);
                reporter.failed(&source, &error);
                remember(&job.source, record.as_ref());
                match record {
                    Some(record) => db.put(&job.source, &record),
                    None => db.forget(&job.source),
                }
            }
            Outcome::Fatal { error } => Err(Error::Fatal(error)),
            Outcome::Skipped => Ok(()),
        };
        if let Err(e) = committed {
            first_error.lock().unwrap().get_or_insert(e);
        }
        reporter.advance();
    });
    reporter.finish();
    fsutil::finish_staging(&staging);
    db.flush()?;
    if let Some(e) = first_error.into_inner().unwrap() {
        return Err(e);
    }
    if let Some(path) = &config.manifest {
        for (rel, record) in committed.into_inner().unwrap() {
            match record {
                Some(record) => state.insert(rel, record),
                None => state.remove(&rel),
            };
        }
        manifest::write(&state, config, path)
            .map_err(|e| Error::Fatal(format!("cannot write the manifest {e}")))?;
    }

    summary.built = built.into_inner();
    summary.failed += failed.into_inner();
    let exit = if stop.load(Ordering::Relaxed) {
        Exit::Interrupted
    } else if summary.failed > 0 {
        Exit::Failed
    } else {
        Exit::Ok
    };
    reporter.summary(&summary, mode, exit);
    // Freeing tens of thousands of small records takes longer than a no-op
    // build's real work on big trees; let it happen off the critical path.
    std::thread::spawn(move || drop((state, observed, outputs, plan)));
    Ok(exit)
}

/// Without records (no cache, as on a CI runner that did not restore it),
/// every source looks new. Outputs already on disk that are byte for byte
/// what a build would write are up to date all the same.
fn trust_verified_outputs(plan: &mut plan::Plan, executor: &Executor) {
    let (unknown, known): (Vec<_>, Vec<_>) =
        std::mem::take(&mut plan.jobs).into_iter().partition(|job| {
            job.builds
                .iter()
                .all(|b| b.reason == plan::Reason::NewSource)
        });
    let verified = executor.verify(&unknown);
    plan.jobs = known;
    for (job, ok) in unknown.into_iter().zip(verified) {
        if ok {
            plan.up_to_date += job.builds.len();
        } else {
            plan.jobs.push(job);
        }
    }
    plan.jobs.sort_by(|a, b| a.source.cmp(&b.source));
}

/// `thumbgen clean`: remove every output thumbgen recorded (if it is still
/// what thumbgen wrote), the folders that emptied, and the cache.
pub fn clean(explicit: Option<&Path>, quiet: bool) -> Result<Exit> {
    let config = load_config(explicit)?;
    let reporter = Reporter::new(quiet);
    if !config.cache.exists() {
        reporter.info("nothing to clean (no cache)");
        return Ok(Exit::Ok);
    }
    let mut warnings = Vec::new();
    let db = Db::open(&config.cache, &mut warnings)?;
    let state = db.load(&mut warnings);
    for w in &warnings {
        reporter.warn(w);
    }
    let mut removed = 0;
    let mut outputs: Vec<_> = state.values().flat_map(|r| &r.outputs).collect();
    outputs.sort_by(|a, b| a.path.cmp(&b.path));
    for output in outputs {
        let path = config.resolve(&output.path);
        match fsutil::remove_if_ours(&path, &output.stat, &output.hash, &config.output) {
            Ok(true) => removed += 1,
            Ok(false) if path.exists() => reporter.warn(&format!(
                "{} was changed by hand; left in place",
                path.display()
            )),
            Ok(false) => {}
            Err(e) => reporter.warn(&format!("cannot remove {e}")),
        }
    }
    fsutil::sweep_staging(&config.output.join(fsutil::STAGING_DIR));
    if let Some(path) = &config.manifest {
        let _ = std::fs::remove_file(path);
    }
    // The output root goes too if thumbgen's files were all it held.
    let _ = std::fs::remove_dir(&config.output);
    drop(db);
    std::fs::remove_dir_all(&config.cache).map_err(|e| Error::io(&config.cache, &e))?;
    reporter.info(&format!("removed {removed} outputs and the cache"));
    Ok(Exit::Ok)
}
