//! The only module that prints. Human output goes to stderr: a progress bar
//! when stderr is a terminal, plain lines otherwise (CI logs), `--explain`
//! lines, warnings, errors and the one-line summary. `--json` events go to
//! stdout, one object per line. It decides nothing.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::JsonMode;
use crate::error::{Error, Exit, Holder};
use crate::execute::{Built, Provenance};
use crate::model::OutputRecord;
use crate::plan::{Build, Plan, Removal};
use crate::problem::{Failure, Warning};
use crate::reason::RemovalReason;

mod event;
mod text;

use event::{Event, SourceFailure, SummaryEvent};
pub use event::{PublishedCounts, JSON_VERSION};

/// How often a plain-text progress line is printed when stderr is not a
/// terminal, so that CI logs show a long build is alive.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Fewer sources than this finish too fast for a bar to help (watch mode's
/// small batches, a one-photo change).
const BAR_MIN_SOURCES: usize = 16;

/// What kind of run is being reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `thumbgen build`.
    Build,
    /// `--dry-run`: the plan only.
    DryRun,
    /// `--check`: the plan, and exit 1 if there is work.
    Check,
    /// `thumbgen publish`.
    Publish,
}

/// Counts for the summary line: outputs, except `failed`, which counts
/// sources.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Outputs rendered and found on disk byte for byte, so left alone (a
    /// build after the cache was lost, `--force`).
    pub verified: usize,
    /// Outputs moved from a renamed source's old path, not rendered.
    pub moved: usize,
    /// Outputs rendered and written.
    pub built: usize,
    /// Outputs downloaded from the shared cache and written.
    pub downloaded: usize,
    /// Outputs that were already right.
    pub up_to_date: usize,
    /// Recorded outputs deleted.
    pub removed: usize,
    /// Sources that could not be built.
    pub failed: usize,
    /// Originals downloaded from a source store (`source = "s3://…"`).
    pub sources_downloaded: usize,
}

/// Where every line and event of a process goes.
pub struct Reporter {
    quiet: bool,
    explain: bool,
    json: Option<JsonMode>,
    tty: bool,
    /// When the current run began (watch runs many in one process).
    started: Mutex<Instant>,
    /// How paths are shown: relative to the config folder once known.
    shown: Mutex<text::Shown>,
    progress: Mutex<Progress>,
    /// The `summary` event of a run that publishes after it builds: held
    /// back until the publish adds its counts, so that it stays last.
    held: Mutex<Held>,
    /// The URL of each source of a list (`source_list`), by the name
    /// messages give it: `--json` events carry both.
    source_urls: Mutex<HashMap<PathBuf, String>>,
}

#[derive(Default)]
struct Held {
    /// Whether the summary event waits for [`Reporter::release_summary`].
    holding: bool,
    /// The build's counts, once it summed up (or failed).
    summary: Option<(Summary, Mode)>,
    /// The publish's counts.
    published: Option<PublishedCounts>,
}

struct Progress {
    bar: Option<ProgressBar>,
    done: u64,
    total: u64,
    /// Whether `done` and `total` are bytes (a publish) or sources.
    bytes: bool,
    /// What is counted: "sources built", "sources hashed".
    unit: &'static str,
    last_line: Instant,
}

impl Reporter {
    /// A reporter that prints only warnings, errors and summaries
    /// (`quiet`: errors only).
    pub fn new(quiet: bool) -> Reporter {
        Reporter::with_options(quiet, false, None)
    }

    /// Whether the plan is shown before any work (`--explain`).
    pub fn explains(&self) -> bool {
        self.explain && !self.quiet
    }

    /// The one reporter of a process: `--quiet`, `--explain`, `--json`.
    pub fn with_options(quiet: bool, explain: bool, json: Option<JsonMode>) -> Reporter {
        let now = Instant::now();
        Reporter {
            quiet,
            explain,
            json,
            tty: std::io::stderr().is_terminal(),
            started: Mutex::new(now),
            shown: Mutex::new(text::Shown::default()),
            progress: Mutex::new(Progress {
                bar: None,
                done: 0,
                total: 0,
                bytes: false,
                unit: "sources built",
                last_line: now,
            }),
            held: Mutex::new(Held::default()),
            source_urls: Mutex::default(),
        }
    }

    /// Whether every up-to-date output is listed (`--json=all`).
    pub fn lists_up_to_date(&self) -> bool {
        self.json == Some(JsonMode::All)
    }

    /// A new run begins, for the config in folder `root` (watch reuses one
    /// reporter for every build): the summary's clock restarts, and paths
    /// are shown relative to `root` from now on.
    pub fn begin_run(&self, root: &Path) {
        *self.started.lock().unwrap() = Instant::now();
        self.shown.lock().unwrap().root = Some(root.to_path_buf());
    }

    /// The sources of this run that are fetched from a URL, by the name
    /// messages give them, so that their events carry the URL too.
    pub fn name_urls(&self, urls: HashMap<PathBuf, String>) {
        *self.source_urls.lock().unwrap() = urls;
    }

    /// The URL of the source messages name `source`, if it is one.
    fn url_of(&self, source: &Path) -> Option<String> {
        self.source_urls.lock().unwrap().get(source).cloned()
    }

    fn shown(&self) -> text::Shown {
        self.shown.lock().unwrap().clone()
    }

    /// Print a line without tearing the progress bar.
    fn line(&self, text: &str) {
        let progress = self.progress.lock().unwrap();
        match &progress.bar {
            Some(bar) => bar.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }

    /// A line of information (not under `--quiet`).
    pub fn info(&self, text: &str) {
        if !self.quiet {
            self.line(text);
        }
    }

    /// An error line (always printed).
    pub fn error(&self, text: &str) {
        self.line(&format!("error: {text}"));
    }

    /// One `--json` event; `make` only runs when JSON is on.
    fn event<'a>(&self, make: impl FnOnce() -> Event<'a>) {
        if self.json.is_none() {
            return;
        }
        let line = make().line();
        let mut out = std::io::stdout().lock();
        // A closed stdout (`| head`) must not kill the build half-way.
        let _ = writeln!(out, "{line}");
    }

    /// A failing source, for `--json`.
    fn source_failure(&self, source: &Path, failure: &Failure) -> SourceFailure {
        SourceFailure {
            source: path_text(source),
            url: self.url_of(source),
            kind: failure.kind(),
            error: text::failure(source, failure),
        }
    }

    /// The plan before any work: `--explain` lines, or for `--dry-run` and
    /// `--check` every planned action (as text, and as JSON events).
    pub fn plan(&self, plan: &Plan, names: &Names, mode: Mode) {
        let listing = mode != Mode::Build;
        if !self.quiet && (self.explain || listing) {
            for r in &plan.removals {
                self.line(&format!(
                    "remove {}  ({})",
                    r.output.path.display(),
                    text::removal(r.reason)
                ));
            }
            for path in &plan.leftovers {
                self.line(&format!(
                    "remove {}  ({})",
                    path.display(),
                    text::removal(RemovalReason::Leftover)
                ));
            }
            for f in &plan.failures {
                let source = names.source(&f.source);
                self.line(&format!(
                    "fail   {}  ({})",
                    source.display(),
                    text::failure(&source, &f.failure)
                ));
            }
            for job in &plan.jobs {
                for b in &job.builds {
                    let replacing = b
                        .replaces
                        .as_ref()
                        .map(|old| &*old.path)
                        .or(b.stray.as_deref())
                        .map(|old| format!(", replacing {}", old.display()))
                        .unwrap_or_default();
                    self.line(&format!(
                        "build  {}  ({}{replacing})",
                        names.planned_path(b).display(),
                        text::reason(&b.reason, names.source_prefix)
                    ));
                }
            }
        }
        if !listing {
            return;
        }
        for r in &plan.removals {
            self.event(|| {
                let source = names.source(&r.source);
                Event::Remove(event::Removal {
                    url: self.url_of(&source),
                    source: Some(path_text(&source)),
                    variant: Some(&r.output.variant),
                    path: path_text(&r.output.path),
                    reason: r.reason.code(),
                })
            });
        }
        for path in &plan.leftovers {
            self.event(|| Event::Remove(leftover(path)));
        }
        for f in &plan.failures {
            self.event(|| Event::Fail(self.source_failure(&names.source(&f.source), &f.failure)));
        }
        for job in &plan.jobs {
            for b in &job.builds {
                self.event(|| Event::Build {
                    source: path_text(&names.source(&job.source)),
                    url: self.url_of(&names.source(&job.source)),
                    variant: names.variant(b.variant),
                    path: path_text(&names.planned_path(b)),
                    reason: b.reason.code(),
                    replaces: b
                        .replaces
                        .as_ref()
                        .map(|o| &*o.path)
                        .or(b.stray.as_deref())
                        .map(path_text),
                    changes: event::changes(&b.reason),
                });
            }
        }
    }

    /// Outputs that were already right (`--json=all` only).
    pub fn up_to_date(&self, source: &Path, outputs: &[OutputRecord]) {
        if self.json != Some(JsonMode::All) {
            return;
        }
        for o in outputs {
            self.event(|| Event::UpToDate {
                source: path_text(source),
                url: self.url_of(source),
                variant: &o.variant,
                path: path_text(&o.path),
                bytes: o.stat.len,
                width: o.width,
                height: o.height,
                format: o.format.name(),
            });
        }
    }

    /// Outputs of one source now in place.
    pub fn built(&self, source: &Path, built: &[Built]) {
        for b in built {
            let o = &b.output;
            if self.explain && b.how.downloaded() && !self.quiet {
                self.line(&format!(
                    "got    {}  (downloaded from the shared cache)",
                    o.path.display()
                ));
            }
            self.event(|| Event::Built {
                source: path_text(source),
                url: self.url_of(source),
                variant: &o.variant,
                path: path_text(&o.path),
                reason: b.build.reason.code(),
                verified: matches!(b.how, Provenance::Verified { .. }),
                moved: b.how == Provenance::Moved,
                downloaded: b.how.downloaded(),
                bytes: o.stat.len,
                width: o.width,
                height: o.height,
                format: o.format.name(),
                changes: event::changes(&b.build.reason),
            });
        }
    }

    /// A recorded output deleted by the build.
    pub fn removed(&self, source: &Path, removal: &Removal) {
        self.event(|| {
            Event::Removed(event::Removal {
                source: Some(path_text(source)),
                url: self.url_of(source),
                variant: Some(&removal.output.variant),
                path: path_text(&removal.output.path),
                reason: removal.reason.code(),
            })
        });
    }

    /// A leftover (`Plan::leftovers`) deleted by the build.
    pub fn removed_leftover(&self, path: &Path) {
        self.event(|| Event::Removed(leftover(path)));
    }

    /// Under `--explain`: why a source in a bucket or behind a URL was
    /// asked for, and what the answer was.
    pub fn fetched(&self, source: &Path, why: &str) {
        if self.explains() {
            self.line(&format!("fetch  {}  ({why})", source.display()));
        }
    }

    /// A source that could not be built.
    pub fn failed(&self, source: &Path, failure: &Failure) {
        self.error(&format!(
            "{}: {}",
            source.display(),
            text::failure(source, failure)
        ));
        self.event(|| Event::Failed(self.source_failure(source, failure)));
    }

    /// Something a person should know; a `warning` event under `--json`.
    pub fn warn(&self, warning: &Warning) {
        let message = text::warning(warning, &self.shown());
        if !self.quiet {
            self.line(&format!("warning: {message}"));
        }
        self.event(|| Event::Warning {
            kind: warning.kind(),
            message,
        });
    }

    /// `watch` is waiting for changes under `source` (relative to the
    /// config folder).
    pub fn watching(&self, source: &Path) {
        self.info(&format!("watching {} (Ctrl-C to stop)", source.display()));
    }

    /// `watch` builds after these changes (relative to the config folder).
    pub fn changed(&self, paths: &[PathBuf]) {
        self.info(&text::changed(paths));
    }

    /// `watch` waits for another run to release the cache.
    pub fn waiting_for_lock(&self, cache: &Path, holder: Holder) {
        let who = holder
            .pid
            .map(|p| format!(" (pid {p})"))
            .unwrap_or_default();
        let (run, until) = if holder.watch {
            ("a `thumbgen watch`", "it is stopped")
        } else {
            ("another thumbgen run", "it finishes")
        };
        self.info(&format!(
            "{run}{who} is using the cache {}; waiting until {until}",
            self.shown().path(cache)
        ));
    }

    /// `watch` took an edited config.
    pub fn config_reloaded(&self) {
        self.info("config reloaded");
    }

    /// `watch` refused an edited config and keeps the last good one.
    pub fn config_rejected(&self, error: &Error) {
        self.error(&format!(
            "{}\n(keeping the last good config)",
            text::error(error, &self.shown())
        ));
    }

    /// A build under `watch` stopped on an error; watching goes on.
    pub fn fatal_in_watch(&self, error: &Error) {
        self.finish();
        self.error(&text::error(error, &self.shown()));
    }

    /// `thumbgen init` wrote `file`.
    pub fn initialized(&self, file: &Path) {
        self.info(&format!(
            "wrote {}; put photos in its `source` folder, then run `thumbgen build`",
            file.display()
        ));
    }

    /// `thumbgen clean --dry-run`: what would go.
    pub fn would_remove(&self, path: &Path) {
        self.info(&format!("remove {}", self.shown().path(path)));
    }

    /// `thumbgen clean --dry-run` finished.
    /// `with_cache`: there is a cache to remove too.
    pub fn would_clean(&self, outputs: usize, with_cache: bool) {
        let cache = if with_cache { " and the cache" } else { "" };
        self.info(&format!(
            "would remove {outputs} outputs{cache} (nothing was changed)"
        ));
    }

    /// `thumbgen clean` finished; `with_cache`: it removed the cache too.
    pub fn cleaned(&self, removed: usize, with_cache: bool) {
        let cache = if with_cache { " and the cache" } else { "" };
        self.info(&format!("removed {removed} outputs{cache}"));
    }

    /// Start counting `total` sources to build; a bar on a terminal.
    pub fn start(&self, total: usize) {
        self.start_counting(total, "sources built");
    }

    fn start_counting(&self, total: usize, unit: &'static str) {
        self.start_progress(total as u64, false, unit, total >= BAR_MIN_SOURCES);
    }

    fn start_progress(&self, total: u64, bytes: bool, unit: &'static str, worth_a_bar: bool) {
        let mut progress = self.progress.lock().unwrap();
        progress.total = total;
        progress.done = 0;
        progress.bytes = bytes;
        progress.unit = unit;
        progress.last_line = Instant::now();
        if self.quiet || !self.tty || !worth_a_bar {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let counts = if bytes {
            "{bytes}/{total_bytes}"
        } else {
            "{pos}/{len}"
        };
        let template = format!(
            "{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {counts} {unit} ({{eta}} left)"
        );
        bar.set_style(ProgressStyle::with_template(&template).expect("valid template"));
        bar.enable_steady_tick(Duration::from_millis(120));
        progress.bar = Some(bar);
    }

    /// One more source done.
    pub fn advance(&self) {
        self.advance_by(1);
    }

    fn advance_by(&self, amount: u64) {
        let mut progress = self.progress.lock().unwrap();
        progress.done += amount;
        if let Some(bar) = &progress.bar {
            bar.inc(amount);
        } else if !self.quiet && progress.last_line.elapsed() >= PLAIN_PROGRESS_EVERY {
            progress.last_line = Instant::now();
            if progress.bytes {
                eprintln!(
                    "{}/{} {}",
                    megabytes(progress.done),
                    megabytes(progress.total),
                    progress.unit
                );
            } else {
                eprintln!("{}/{} {}", progress.done, progress.total, progress.unit);
            }
        }
    }

    /// Take the progress bar down.
    pub fn finish(&self) {
        if let Some(bar) = self.progress.lock().unwrap().bar.take() {
            bar.finish_and_clear();
        }
    }

    /// The last line of a run: counts, time, and under `--json` the
    /// `summary` event, which is always the last event.
    pub fn summary(&self, summary: &Summary, mode: Mode, exit: Exit) {
        self.finish();
        let elapsed = self.started.lock().unwrap().elapsed();
        self.summary_event(summary, mode, exit, elapsed);
        if self.quiet {
            return;
        }
        self.line(&text::summary(summary, mode, elapsed.as_secs_f64()));
        if exit == Exit::Interrupted {
            self.line(
                "interrupted: finished outputs are recorded; run `thumbgen build` to do the rest",
            );
        }
    }

    /// What `--check` concludes, after its summary: what to do about
    /// outputs that are not up to date, and sources that fail to build
    /// (named, relative to the config folder), which a build cannot help.
    pub fn check_verdict(&self, stale: bool, failing: &[PathBuf], allowed: bool) {
        if self.quiet {
            return;
        }
        if stale {
            self.line("not up to date: run `thumbgen build`");
        }
        if !failing.is_empty() {
            self.line(&text::failing(failing, allowed));
        }
    }

    /// An error that ends the run (exit 2). Under `--json` it is an `error`
    /// event followed by the summary, so a script always gets one.
    pub fn fatal(&self, error: &Error, mode: Mode) {
        self.finish();
        let message = text::error(error, &self.shown());
        self.line(&format!("error: {message}"));
        self.event(|| Event::Error {
            kind: error_kind(error),
            message,
        });
        let elapsed = self.started.lock().unwrap().elapsed();
        self.summary_event(&Summary::default(), mode, error.exit(), elapsed);
    }

    /// A command line that clap refused, which clap explains on stderr:
    /// under `--json`, an `error` event and the summary, as for any error
    /// that ends a run, so that a script always gets them.
    pub fn usage_error(&self, message: &str) {
        self.event(|| Event::Error {
            kind: "usage",
            message: message.to_string(),
        });
        let elapsed = self.started.lock().unwrap().elapsed();
        self.summary_event(&Summary::default(), Mode::Build, Exit::Fatal, elapsed);
    }

    /// The `summary` event: the same fields whatever ended the run (and
    /// the same `elapsed` as the summary line).
    fn summary_event(&self, summary: &Summary, mode: Mode, exit: Exit, elapsed: Duration) {
        let published = {
            let mut held = self.held.lock().unwrap();
            if held.holding {
                // The first summary is the build's (a later one is a
                // fatal error's, whose counts are nothing).
                held.summary.get_or_insert((*summary, mode));
                return;
            }
            held.published.take()
        };
        self.event(|| {
            Event::Summary(SummaryEvent {
                mode: mode.code(),
                built: summary.built,
                downloaded: summary.downloaded,
                verified: summary.verified,
                moved: summary.moved,
                up_to_date: summary.up_to_date,
                removed: summary.removed,
                failed: summary.failed,
                sources_downloaded: summary.sources_downloaded,
                interrupted: exit == Exit::Interrupted,
                duration_ms: elapsed.as_millis() as u64,
                exit_code: exit.code(),
                published,
            })
        });
    }

    /// Hold the `summary` event back until [`Reporter::release_summary`]:
    /// a publish follows the run, and adds its counts to it.
    pub fn hold_summary(&self) {
        self.held.lock().unwrap().holding = true;
    }

    /// The held `summary` event, with the publish's counts and the run's
    /// `exit`; `mode` if no build summed up before.
    pub fn release_summary(&self, mode: Mode, exit: Exit) {
        let summary = {
            let mut held = self.held.lock().unwrap();
            if !held.holding {
                return;
            }
            held.holding = false;
            held.summary.take()
        };
        let (summary, mode) = summary.unwrap_or((Summary::default(), mode));
        let elapsed = self.started.lock().unwrap().elapsed();
        self.summary_event(&summary, mode, exit, elapsed);
    }

    /// Start counting the bytes a publish uploads; a bar on a terminal.
    pub fn start_publishing(&self, bytes: u64) {
        self.start_progress(bytes, true, "published", bytes > 0);
    }

    /// An object a publish `--dry-run` would upload, and why (`reason`:
    /// `new`, `changed`, `headers_changed`).
    pub fn would_upload(&self, key: &str, reason: &'static str, bytes: u64) {
        self.info(&format!("upload {key}  ({})", text::upload_reason(reason)));
        self.event(|| Event::Upload { key, reason, bytes });
    }

    /// An object a publish `--dry-run` would delete.
    pub fn would_delete(&self, key: &str) {
        self.info(&format!("delete {key}  (no longer built)"));
        self.event(|| Event::Delete { key });
    }

    /// An object now in the bucket.
    pub fn uploaded(&self, key: &str, reason: &'static str, bytes: u64) {
        self.advance_by(bytes);
        self.event(|| Event::Uploaded { key, reason, bytes });
    }

    /// An object deleted from the bucket.
    pub fn deleted(&self, key: &str) {
        self.event(|| Event::Deleted { key });
    }

    /// An object that could not be uploaded (`action` "upload") or deleted
    /// ("delete").
    pub fn publish_failed(&self, key: &str, action: &'static str, message: String) {
        self.error(&format!("cannot {action} {key}: {message}"));
        self.event(|| Event::PublishFailed {
            key,
            action,
            message,
        });
    }

    /// A publish ended: its line, and its counts for the summary event.
    pub fn published(&self, counts: PublishedCounts, secs: f64) {
        self.finish();
        self.info(&text::published(&counts, secs));
        self.held.lock().unwrap().published = Some(counts);
    }
}

/// Bytes as decimal megabytes with one decimal, as publishing reports them.
fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Bytes a command exists to print (a completion script, a manual page),
/// to stdout. A closed pipe (`| head`) is not an error.
pub fn print_stdout(bytes: &[u8]) {
    let _ = std::io::stdout().lock().write_all(bytes);
}

/// Stable machine names of run-stopping errors, for `--json`.
fn error_kind(error: &Error) -> &'static str {
    match error {
        Error::Config(_) => "config",
        Error::Io { .. } => "io",
        Error::Output { .. } => "output",
        Error::LockHeld { .. } => "lock_held",
        Error::Cache(_) => "cache",
        Error::Fatal(_) => "fatal",
        Error::Publish(_) => "publish",
    }
}

impl Mode {
    /// Stable machine name, for `--json`.
    fn code(self) -> &'static str {
        match self {
            Mode::Build => "build",
            Mode::DryRun => "dry_run",
            Mode::Check => "check",
            Mode::Publish => "publish",
        }
    }
}

/// How sources and variants are named in messages: sources by their path
/// relative to the config folder (as outputs are), variants by name.
pub struct Names<'a> {
    /// The source folder relative to the config folder.
    pub source_prefix: &'a Path,
    /// The configured variants' names, by index.
    pub variants: Vec<&'a str>,
    /// Whether each variant's outputs are content-named (`hash_names`).
    pub hash_names: Vec<bool>,
}

impl Names<'_> {
    /// A source (relative to the source folder) as messages name it.
    pub fn source(&self, rel: &Path) -> PathBuf {
        self.source_prefix.join(rel)
    }

    fn variant(&self, index: usize) -> &str {
        self.variants.get(index).copied().unwrap_or("")
    }

    /// Where a planned build writes, as plans name it: a content-named
    /// output's digest is unknown until its bytes are.
    fn planned_path(&self, build: &Build) -> PathBuf {
        if self.hash_names.get(build.variant).copied().unwrap_or(false) {
            crate::variant::with_unknown_hash(&build.path)
        } else {
            build.path.clone()
        }
    }
}

/// A leftover's removal: no record names a source or a variant for it.
fn leftover(path: &Path) -> event::Removal<'static> {
    event::Removal {
        source: None,
        url: None,
        variant: None,
        path: path_text(path),
        reason: RemovalReason::Leftover.code(),
    }
}

/// A path for JSON: lossy for names that are not UTF-8.
fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// The progress of downloading sources from a store, on the same bar.
pub struct Downloads<'a>(&'a Reporter);

impl Reporter {
    /// Progress for downloads of sources.
    pub fn downloads(&self) -> Downloads<'_> {
        Downloads(self)
    }
}

impl crate::fingerprint::HashProgress for Downloads<'_> {
    fn start(&self, files: usize) {
        self.0.start_counting(files, "sources downloaded");
    }

    fn hashed(&self) {
        self.0.advance();
    }

    fn finish(&self) {
        self.0.finish();
    }
}

/// Hashing sources whose stat changed (a fresh checkout: all of them) can
/// take a while on a big tree; it gets the same bar as building.
impl crate::fingerprint::HashProgress for Reporter {
    fn start(&self, files: usize) {
        self.start_counting(files, "sources hashed");
    }

    fn hashed(&self) {
        self.advance();
    }

    fn finish(&self) {
        Reporter::finish(self);
    }
}
