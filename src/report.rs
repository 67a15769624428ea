//! The only module that prints. Human output goes to stderr: a progress bar
//! when stderr is a terminal, plain lines otherwise (CI logs), `--explain`
//! lines, warnings, errors and the one-line summary. `--json` events go to
//! stdout, one object per line. It decides nothing.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::cli::JsonMode;
use crate::db::OutputRecord;
use crate::execute::Built;
use crate::plan::{Plan, Reason, Removal, RemovalReason};

/// Version of the `--json` event schema; bumped on incompatible change.
pub const JSON_VERSION: u32 = 1;

/// How often a plain-text progress line is printed when stderr is not a
/// terminal, so that CI logs show a long build is alive.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Fewer sources than this finish too fast for a bar to help (watch mode's
/// small batches, a one-photo change).
const BAR_MIN_SOURCES: usize = 16;

pub fn reason_text(reason: Reason) -> &'static str {
    match reason {
        Reason::NewSource => "new source",
        Reason::SourceChanged => "source content changed",
        Reason::PreviouslyFailed => "failed last time, retrying",
        Reason::NewVariant => "new variant",
        Reason::VariantChanged => "variant settings changed",
        Reason::PipelineChanged => "thumbgen version changed",
        Reason::DecodeChanged => "another variant changed how it is made",
        Reason::OutputMissing => "output missing",
        Reason::OutputModified => "output modified",
        Reason::Forced => "forced",
    }
}

pub fn removal_text(reason: RemovalReason) -> &'static str {
    match reason {
        RemovalReason::SourceRemoved => "source removed",
        RemovalReason::VariantRemoved => "variant removed",
        RemovalReason::Moved => "variant now writes elsewhere",
        RemovalReason::SourceFailed => "source failed",
    }
}

/// Stable machine names of reasons, for `--json`.
pub fn reason_code(reason: Reason) -> &'static str {
    match reason {
        Reason::NewSource => "new_source",
        Reason::SourceChanged => "source_changed",
        Reason::PreviouslyFailed => "previously_failed",
        Reason::NewVariant => "new_variant",
        Reason::VariantChanged => "variant_changed",
        Reason::PipelineChanged => "pipeline_changed",
        Reason::DecodeChanged => "decode_changed",
        Reason::OutputMissing => "output_missing",
        Reason::OutputModified => "output_modified",
        Reason::Forced => "forced",
    }
}

pub fn removal_code(reason: RemovalReason) -> &'static str {
    match reason {
        RemovalReason::SourceRemoved => "source_removed",
        RemovalReason::VariantRemoved => "variant_removed",
        RemovalReason::Moved => "moved",
        RemovalReason::SourceFailed => "source_failed",
    }
}

/// What kind of run is being reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Build,
    DryRun,
    Check,
}

/// Counts for the summary line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub built: usize,
    pub up_to_date: usize,
    pub removed: usize,
    pub failed: usize,
}

pub struct Reporter {
    quiet: bool,
    explain: bool,
    json: Option<JsonMode>,
    tty: bool,
    /// When the current run began, for the summary's duration.
    started: Mutex<Instant>,
    progress: Mutex<Progress>,
}

struct Progress {
    bar: Option<ProgressBar>,
    done: usize,
    total: usize,
    /// What is counted: "sources built", "sources hashed".
    unit: &'static str,
    last_line: Instant,
}

impl Reporter {
    pub fn new(quiet: bool) -> Reporter {
        Reporter::with_options(quiet, false, None)
    }

    pub fn with_options(quiet: bool, explain: bool, json: Option<JsonMode>) -> Reporter {
        let now = Instant::now();
        Reporter {
            quiet,
            explain,
            json,
            tty: std::io::stderr().is_terminal(),
            started: Mutex::new(now),
            progress: Mutex::new(Progress {
                bar: None,
                done: 0,
                total: 0,
                unit: "sources built",
                last_line: now,
            }),
        }
    }

    /// Start timing a new run with the same reporter (`watch` reports
    /// every rebuild through one).
    pub fn begin_run(&self) {
        *self.started.lock().unwrap() = Instant::now();
    }

    /// Print a line without tearing the progress bar.
    fn line(&self, text: &str) {
        let progress = self.progress.lock().unwrap();
        match &progress.bar {
            Some(bar) => bar.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }

    pub fn info(&self, text: &str) {
        if !self.quiet {
            self.line(text);
        }
    }

    pub fn warn(&self, text: &str) {
        if !self.quiet {
            self.line(&format!("warning: {text}"));
        }
    }

    pub fn error(&self, text: &str) {
        self.line(&format!("error: {text}"));
    }

    /// One `--json` event; `make` only runs when JSON is on.
    fn event(&self, make: impl FnOnce() -> serde_json::Value) {
        if self.json.is_none() {
            return;
        }
        let value = make();
        let mut out = std::io::stdout().lock();
        // A closed stdout (`| head`) must not kill the build half-way.
        let _ = writeln!(out, "{value}");
    }

    /// The plan before any work: `--explain` lines, or for `--dry-run` and
    /// `--check` every planned action (as text, and as JSON events).
    pub fn plan(&self, plan: &Plan, source_prefix: &Path, mode: Mode) {
        let listing = mode != Mode::Build;
        if !self.quiet && (self.explain || listing) {
            for r in &plan.removals {
                self.line(&format!(
                    "remove {}  ({})",
                    r.output.path.display(),
                    removal_text(r.reason)
                ));
            }
            for f in &plan.failures {
                self.line(&format!(
                    "fail   {}  ({})",
                    source_prefix.join(&f.source).display(),
                    f.error
                ));
            }
            for job in &plan.jobs {
                for b in &job.builds {
                    self.line(&format!(
                        "build  {}  ({})",
                        b.path.display(),
                        reason_text(b.reason)
                    ));
                }
            }
        }
        if !listing {
            return;
        }
        for r in &plan.removals {
            self.event(|| {
                json!({"version": JSON_VERSION, "type": "remove",
                "source": text(&source_prefix.join(&r.source)), "variant": r.output.variant,
                "path": text(&r.output.path), "reason": removal_code(r.reason)})
            });
        }
        for f in &plan.failures {
            self.event(|| {
                json!({"version": JSON_VERSION, "type": "fail",
                "source": text(&source_prefix.join(&f.source)), "error": f.error})
            });
        }
        for job in &plan.jobs {
            for b in &job.builds {
                self.event(|| {
                    json!({"version": JSON_VERSION, "type": "build",
                    "source": text(&source_prefix.join(&job.source)), "path": text(&b.path),
                    "reason": reason_code(b.reason)})
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
            self.event(|| {
                json!({"version": JSON_VERSION, "type": "up_to_date",
                "source": text(source), "variant": o.variant, "path": text(&o.path),
                "bytes": o.stat.len, "width": o.width, "height": o.height,
                "format": o.format.name()})
            });
        }
    }

    pub fn built(&self, source: &Path, built: &[Built]) {
        for b in built {
            let o = &b.output;
            self.event(|| {
                json!({"version": JSON_VERSION, "type": "built",
                "source": text(source), "variant": o.variant, "path": text(&o.path),
                "reason": reason_code(b.build.reason), "bytes": o.stat.len,
                "width": o.width, "height": o.height, "format": o.format.name()})
            });
        }
    }

    pub fn removed(&self, source: &Path, removal: &Removal) {
        self.event(|| {
            json!({"version": JSON_VERSION, "type": "removed",
            "source": text(source), "variant": removal.output.variant,
            "path": text(&removal.output.path), "reason": removal_code(removal.reason)})
        });
    }

    /// A source that could not be built.
    pub fn failed(&self, source: &Path, error: &str) {
        self.error(&format!("{}: {error}", source.display()));
        self.event(|| {
            json!({"version": JSON_VERSION, "type": "failed",
            "source": text(source), "error": error})
        });
    }

    /// Start counting `total` sources to build; a bar on a terminal.
    pub fn start(&self, total: usize) {
        self.start_counting(total, "sources built");
    }

    fn start_counting(&self, total: usize, unit: &'static str) {
        let mut progress = self.progress.lock().unwrap();
        progress.total = total;
        progress.done = 0;
        progress.unit = unit;
        progress.last_line = Instant::now();
        if self.quiet || !self.tty || total < BAR_MIN_SOURCES {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        let template = format!(
            "{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} {unit} ({{eta}} left)"
        );
        bar.set_style(ProgressStyle::with_template(&template).expect("valid template"));
        bar.enable_steady_tick(Duration::from_millis(120));
        progress.bar = Some(bar);
    }

    /// One more source done.
    pub fn advance(&self) {
        let mut progress = self.progress.lock().unwrap();
        progress.done += 1;
        if let Some(bar) = &progress.bar {
            bar.inc(1);
        } else if !self.quiet && progress.last_line.elapsed() >= PLAIN_PROGRESS_EVERY {
            progress.last_line = Instant::now();
            eprintln!("{}/{} {}", progress.done, progress.total, progress.unit);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = self.progress.lock().unwrap().bar.take() {
            bar.finish_and_clear();
        }
    }

    pub fn summary(&self, summary: &Summary, mode: Mode, exit: crate::error::Exit) {
        self.finish();
        let elapsed = self.started.lock().unwrap().elapsed();
        self.event(|| json!({"version": JSON_VERSION, "type": "summary",
            "mode": match mode { Mode::Build => "build", Mode::DryRun => "dry_run", Mode::Check => "check" },
            "built": summary.built, "up_to_date": summary.up_to_date,
            "removed": summary.removed, "failed": summary.failed,
            "duration_ms": elapsed.as_millis() as u64, "exit_code": exit.code()}));
        if self.quiet {
            return;
        }
        let secs = elapsed.as_secs_f64();
        let text = match mode {
            Mode::Build => format!(
                "built {} · up to date {} · removed {} · failed {} · {secs:.2} s",
                summary.built, summary.up_to_date, summary.removed, summary.failed
            ),
            Mode::DryRun | Mode::Check => format!(
                "would build {} · up to date {} · would remove {} · would fail {} · {secs:.2} s",
                summary.built, summary.up_to_date, summary.removed, summary.failed
            ),
        };
        eprintln!("{text}");
        if mode == Mode::Check && exit != crate::error::Exit::Ok {
            eprintln!("not up to date: run `thumbgen build`");
        }
    }
}

/// A path for JSON: lossy for names that are not UTF-8.
fn text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
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

/// For errors that end the run before a reporter exists.
pub fn fatal(text: &str) {
    eprintln!("error: {text}");
}
