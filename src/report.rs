//! The only module that prints. Human output goes to stderr: a progress bar
//! when stderr is a terminal, plain lines otherwise (CI logs), `--explain`
//! lines, warnings, errors and the one-line summary. It decides nothing.
#![allow(clippy::print_stderr)]

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::plan::{Plan, Reason, RemovalReason};

/// How often a plain-text progress line is printed when stderr is not a
/// terminal, so that CI logs show a long build is alive.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(5);

pub fn reason_text(reason: Reason) -> &'static str {
    match reason {
        Reason::NewSource => "new source",
        Reason::SourceChanged => "source content changed",
        Reason::PreviouslyFailed => "failed last time, retrying",
        Reason::NewVariant => "new variant",
        Reason::VariantChanged => "variant settings changed",
        Reason::PipelineChanged => "thumbgen version changed",
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
    tty: bool,
    started: Instant,
    progress: Mutex<Progress>,
}

struct Progress {
    bar: Option<ProgressBar>,
    done: usize,
    total: usize,
    last_line: Instant,
}

impl Reporter {
    pub fn new(quiet: bool) -> Reporter {
        let now = Instant::now();
        Reporter {
            quiet,
            tty: std::io::stderr().is_terminal(),
            started: now,
            progress: Mutex::new(Progress {
                bar: None,
                done: 0,
                total: 0,
                last_line: now,
            }),
        }
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

    /// One line per planned action with its reason (`--explain`, `--dry-run`).
    pub fn plan(&self, plan: &Plan, source_prefix: &Path) {
        if self.quiet {
            return;
        }
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

    /// Start counting `total` sources; a bar on a terminal.
    pub fn start(&self, total: usize) {
        let mut progress = self.progress.lock().unwrap();
        progress.total = total;
        progress.done = 0;
        progress.last_line = Instant::now();
        if self.quiet || !self.tty || total == 0 {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} sources ({eta} left)",
            )
            .expect("valid template"),
        );
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
            eprintln!("{}/{} sources done", progress.done, progress.total);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = self.progress.lock().unwrap().bar.take() {
            bar.finish_and_clear();
        }
    }

    pub fn summary(&self, summary: &Summary, dry_run: bool) {
        self.finish();
        if self.quiet {
            return;
        }
        let secs = self.started.elapsed().as_secs_f64();
        let text = if dry_run {
            format!(
                "would build {} · up to date {} · would remove {} · would fail {} · {secs:.2} s",
                summary.built, summary.up_to_date, summary.removed, summary.failed
            )
        } else {
            format!(
                "built {} · up to date {} · removed {} · failed {} · {secs:.2} s",
                summary.built, summary.up_to_date, summary.removed, summary.failed
            )
        };
        eprintln!("{text}");
    }
}

/// For errors that end the run before a reporter exists.
pub fn fatal(text: &str) {
    eprintln!("error: {text}");
}
