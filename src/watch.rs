//! `thumbgen watch`: one build, then a build after every batch of changes.
//!
//! Every rebuild is the same `app::build_once` as `thumbgen build`, which
//! re-plans from disk. Events only decide *when* to build, never *what*:
//! a missed, merged or overflowed event cannot leave the tree stale, it can
//! only cost a no-op build. The event filter and the debouncer are pure and
//! tested with a fake clock.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use notify::{RecursiveMode, Watcher};

use crate::app::{self, BuildOptions};
use crate::config::{self, Config};
use crate::error::{Exit, Result};
use crate::problem::Warning;
use crate::report::Reporter;
use crate::scan::is_image_name;

/// How long the tree must be quiet before a batch is built: long enough to
/// merge an editor's save-by-rename and a pasted burst, short enough to feel
/// immediate.
pub const QUIET: Duration = Duration::from_millis(200);
/// How often a polling watcher looks at the tree.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    pub config: Option<PathBuf>,
    pub jobs: Option<usize>,
    /// Poll instead of using native file-system events.
    pub poll: bool,
}

/// What an event means for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A file or folder under the source root (a folder may hold sources).
    Source(PathBuf),
    /// The config file.
    Config,
    /// Events were lost (queue overflow): re-plan everything.
    Rescan,
}

/// The folders and file a watcher cares about.
#[derive(Debug, Clone)]
pub struct Scope {
    pub source: PathBuf,
    pub output: PathBuf,
    pub cache: PathBuf,
    pub config_file: PathBuf,
}

impl Scope {
    fn of(config: &Config) -> Scope {
        Scope {
            source: config.source.clone(),
            output: config.output.clone(),
            cache: config.cache.clone(),
            config_file: config.file.clone(),
        }
    }
}

/// Whether an event on `path` can change what a build does.
pub fn classify(path: &Path, scope: &Scope) -> Option<Change> {
    if path == scope.config_file {
        return Some(Change::Config);
    }
    // Our own writes must never trigger a build (no loops), even when the
    // output or cache folder sits inside the watched tree.
    if path.starts_with(&scope.output) || path.starts_with(&scope.cache) {
        return None;
    }
    let rel = path.strip_prefix(&scope.source).ok()?;
    if rel.as_os_str().is_empty() {
        // The source folder itself: its children's events say what changed.
        return None;
    }
    let hidden = rel
        .components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
    if hidden || is_editor_temp(path) {
        return None;
    }
    // No extension: possibly a folder being created, moved or removed.
    if is_image_name(path) || path.extension().is_none() {
        return Some(Change::Source(path.to_path_buf()));
    }
    None
}

/// Files editors and downloaders write before the real one: `x.jpg~`,
/// `x.jpg.tmp`, `x.swp`, vim's `4913` probe, partial downloads.
/// (Dot-files such as `.x.jpg.swp` and emacs' `.#x.jpg` are hidden anyway.)
fn is_editor_temp(path: &Path) -> bool {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    const SUFFIXES: &[&str] = &[
        "~",
        ".tmp",
        ".temp",
        ".swp",
        ".swx",
        ".part",
        ".crdownload",
        ".partial",
        ".bak",
    ];
    name == "4913"
        || SUFFIXES
            .iter()
            .any(|s| name.len() > s.len() && name.to_ascii_lowercase().ends_with(s))
}

/// Collects changes and says when a batch is ready: after `quiet` with no
/// new change. Pure: time comes in as arguments.
#[derive(Debug)]
pub struct Debouncer {
    quiet: Duration,
    pending: BTreeSet<PathBuf>,
    config: bool,
    rescan: bool,
    last: Option<Instant>,
}

/// One batch of changes to build.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Batch {
    pub paths: Vec<PathBuf>,
    pub config: bool,
    pub rescan: bool,
}

impl Debouncer {
    pub fn new(quiet: Duration) -> Debouncer {
        Debouncer {
            quiet,
            pending: BTreeSet::new(),
            config: false,
            rescan: false,
            last: None,
        }
    }

    pub fn add(&mut self, now: Instant, change: Change) {
        match change {
            Change::Source(path) => {
                self.pending.insert(path);
            }
            Change::Config => self.config = true,
            Change::Rescan => self.rescan = true,
        }
        self.last = Some(now);
    }

    /// When the pending batch becomes ready, if there is one.
    pub fn deadline(&self) -> Option<Instant> {
        self.last.map(|last| last + self.quiet)
    }

    /// Put the batch off: something is still being written.
    pub fn postpone(&mut self, now: Instant) {
        if self.last.is_some() {
            self.last = Some(now);
        }
    }

    /// The paths changed in the pending batch.
    pub fn pending(&self) -> impl Iterator<Item = &PathBuf> {
        self.pending.iter()
    }

    pub fn ready(&self, now: Instant) -> bool {
        self.deadline().is_some_and(|d| now >= d)
    }

    pub fn take(&mut self) -> Batch {
        self.last = None;
        Batch {
            paths: std::mem::take(&mut self.pending).into_iter().collect(),
            config: std::mem::take(&mut self.config),
            rescan: std::mem::take(&mut self.rescan),
        }
    }
}

/// Whether any of `paths` was modified within the last `quiet` (by its
/// mtime): a copy in progress that pauses between chunks longer than the
/// event gap must not be decoded half-written.
fn still_changing<'a>(mut paths: impl Iterator<Item = &'a PathBuf>, quiet: Duration) -> bool {
    let now = SystemTime::now();
    paths.any(|p| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age < quiet)
    })
}

/// Whether an event kind can change a file: reads (our own, when we decode
/// sources or load the config) must not trigger builds.
fn changes_content(kind: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind};
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// A watcher on the source folder and the config file's folder.
struct Watching {
    _watcher: Box<dyn Watcher + Send>,
}

type Events = mpsc::Sender<notify::Result<notify::Event>>;

fn start(scope: &Scope, events: Events, poll: bool, reporter: &Reporter) -> Result<Watching> {
    let native = if poll {
        None
    } else {
        match notify::recommended_watcher(events.clone()) {
            Ok(w) => Some(w),
            Err(e) => {
                reporter.warn(&Warning::Polling {
                    path: None,
                    error: e.to_string(),
                    every_ms: POLL_INTERVAL.as_millis() as u64,
                });
                None
            }
        }
    };
    if let Some(mut watcher) = native {
        match add_paths(&mut watcher, scope) {
            Ok(()) => {
                return Ok(Watching {
                    _watcher: Box::new(watcher),
                })
            }
            Err(e) => reporter.warn(&Warning::Polling {
                path: Some(scope.source.clone()),
                error: e.to_string(),
                every_ms: POLL_INTERVAL.as_millis() as u64,
            }),
        }
    }
    let config = notify::Config::default().with_poll_interval(POLL_INTERVAL);
    let mut watcher = notify::PollWatcher::new(events, config)
        .map_err(|e| crate::error::Error::Fatal(format!("cannot watch files: {e}")))?;
    add_paths(&mut watcher, scope).map_err(|e| {
        crate::error::Error::Fatal(format!("cannot watch {}: {e}", scope.source.display()))
    })?;
    Ok(Watching {
        _watcher: Box::new(watcher),
    })
}

fn add_paths(watcher: &mut dyn Watcher, scope: &Scope) -> notify::Result<()> {
    watcher.watch(&scope.source, RecursiveMode::Recursive)?;
    if let Some(dir) = scope.config_file.parent() {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    Ok(())
}

/// Run until `stop` is set (Ctrl-C); exits 0 with the database consistent.
pub fn watch(options: &WatchOptions, stop: &AtomicBool, reporter: &Reporter) -> Result<Exit> {
    let mut config = app::load_config(options.config.as_deref())?;
    let build_options = BuildOptions {
        jobs: options.jobs,
        ..BuildOptions::default()
    };
    let threads = options.jobs.filter(|&j| j > 0).unwrap_or(config.jobs);
    let pool = app::pool(threads)?;
    let build = |config: &Config| {
        if let Err(e) = pool.install(|| app::build_once(config, &build_options, stop, reporter)) {
            reporter.error(&e.to_string());
        }
    };

    build(&config);
    let (events, received) = mpsc::channel();
    let mut scope = Scope::of(&config);
    let mut watching = start(&scope, events.clone(), options.poll, reporter)?;
    reporter.info(&format!(
        "watching {} (Ctrl-C to stop)",
        scope.source.display()
    ));

    let mut debouncer = Debouncer::new(QUIET);
    while !stop.load(Ordering::Relaxed) {
        // Wake at least every 100 ms to notice Ctrl-C.
        let now = Instant::now();
        let wait = debouncer
            .deadline()
            .map_or(Duration::from_millis(100), |d| {
                d.saturating_duration_since(now)
            })
            .min(Duration::from_millis(100));
        match received.recv_timeout(wait) {
            Ok(Ok(event)) => {
                let now = Instant::now();
                if !changes_content(&event.kind) {
                    continue;
                }
                if event.need_rescan() {
                    debouncer.add(now, Change::Rescan);
                }
                for path in &event.paths {
                    if let Some(change) = classify(path, &scope) {
                        debouncer.add(now, change);
                    }
                }
                continue;
            }
            Ok(Err(e)) => {
                // Errors (e.g. queue overflow) mean events may be lost.
                reporter.warn(&Warning::EventsLost {
                    error: e.to_string(),
                });
                debouncer.add(Instant::now(), Change::Rescan);
                continue;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        if !debouncer.ready(now) {
            continue;
        }
        if still_changing(debouncer.pending(), QUIET) {
            debouncer.postpone(now);
            continue;
        }
        let batch = debouncer.take();
        if batch.config {
            match config::load(&config.file) {
                Ok(new) => {
                    let moved = new.source != config.source || new.output != config.output;
                    config = new;
                    if moved {
                        scope = Scope::of(&config);
                        watching = start(&scope, events.clone(), options.poll, reporter)?;
                    }
                    reporter.info("config reloaded");
                }
                Err(e) => {
                    reporter.error(&format!("{e}\n(keeping the last good config)"));
                    if batch.paths.is_empty() && !batch.rescan {
                        continue;
                    }
                }
            }
        }
        if !batch.paths.is_empty() {
            reporter.info(&describe(&batch.paths, &config.source));
        }
        build(&config);
    }
    drop(watching);
    Ok(Exit::Ok)
}

/// `changed: a.jpg, b/c.png and 3 more`
fn describe(paths: &[PathBuf], source: &Path) -> String {
    let names: Vec<String> = paths
        .iter()
        .take(3)
        .map(|p| p.strip_prefix(source).unwrap_or(p).display().to_string())
        .collect();
    let more = paths.len().saturating_sub(names.len());
    let mut text = format!("changed: {}", names.join(", "));
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            source: "/p/images".into(),
            output: "/p/public/thumbs".into(),
            cache: "/p/.thumbgen".into(),
            config_file: "/p/.thumbgen.toml".into(),
        }
    }

    fn class(path: &str) -> Option<Change> {
        classify(Path::new(path), &scope())
    }

    #[test]
    fn images_and_folders_under_source_count() {
        assert_eq!(
            class("/p/images/a.jpg"),
            Some(Change::Source("/p/images/a.jpg".into()))
        );
        assert_eq!(
            class("/p/images/x/B.PNG"),
            Some(Change::Source("/p/images/x/B.PNG".into()))
        );
        assert_eq!(
            class("/p/images/new-folder"),
            Some(Change::Source("/p/images/new-folder".into()))
        );
        assert_eq!(class("/p/.thumbgen.toml"), Some(Change::Config));
    }

    #[test]
    fn own_output_cache_and_other_files_are_ignored() {
        assert_eq!(class("/p/public/thumbs/thumb/a.jpg"), None);
        assert_eq!(class("/p/images"), None);
        assert_eq!(class("/p/.thumbgen/db/conf"), None);
        assert_eq!(class("/p/images/notes.txt"), None);
        assert_eq!(class("/p/README.md"), None);
        assert_eq!(class("/p/other.toml"), None);
    }

    #[test]
    fn editor_temp_files_are_ignored() {
        for temp in [
            "/p/images/a.jpg~",
            "/p/images/a.jpg.tmp",
            "/p/images/.a.jpg.swp",
            "/p/images/.#a.jpg",
            "/p/images/4913",
            "/p/images/a.jpg.part",
            "/p/images/a.jpg.crdownload",
            "/p/images/.git/index",
        ] {
            assert_eq!(class(temp), None, "{temp}");
        }
    }

    #[test]
    fn output_inside_source_tree_is_still_ignored() {
        let mut s = scope();
        s.output = "/p/images/.out".into();
        assert_eq!(classify(Path::new("/p/images/.out/t/a.jpg"), &s), None);
        s.output = "/p/images-out".into();
        assert_eq!(classify(Path::new("/p/images-out/t/a.jpg"), &s), None);
    }

    #[test]
    fn debouncer_waits_for_quiet() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut d = Debouncer::new(Duration::from_millis(200));
        assert!(!d.ready(ms(0)));
        assert_eq!(d.deadline(), None);
        d.add(ms(0), Change::Source("a.jpg".into()));
        d.add(ms(150), Change::Source("a.jpg".into()));
        assert!(!d.ready(ms(300)), "a write at 150 restarts the wait");
        assert!(d.ready(ms(350)));
        let batch = d.take();
        assert_eq!(batch.paths, [PathBuf::from("a.jpg")]);
        assert!(!batch.config && !batch.rescan);
        assert!(!d.ready(ms(10_000)), "nothing pending after take");
    }

    #[test]
    fn burst_becomes_one_batch() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Duration::from_millis(200));
        for i in 0..200u64 {
            d.add(
                t0 + Duration::from_millis(i * 5),
                Change::Source(format!("{i}.jpg").into()),
            );
            assert!(!d.ready(t0 + Duration::from_millis(i * 5 + 1)));
        }
        assert!(d.ready(t0 + Duration::from_millis(995 + 200)));
        assert_eq!(d.take().paths.len(), 200);
    }

    #[test]
    fn save_by_rename_is_one_change() {
        // editor writes x.jpg.tmp then renames it over x.jpg
        let events = [
            "/p/images/x.jpg.tmp",
            "/p/images/x.jpg.tmp",
            "/p/images/x.jpg",
        ];
        let t0 = Instant::now();
        let mut d = Debouncer::new(Duration::from_millis(200));
        for (i, path) in events.iter().enumerate() {
            if let Some(change) = class(path) {
                d.add(t0 + Duration::from_millis(i as u64), change);
            }
        }
        let batch = d.take();
        assert_eq!(batch.paths, [PathBuf::from("/p/images/x.jpg")]);
    }

    #[test]
    fn config_and_rescan_are_flags_and_postpone_extends() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Duration::from_millis(200));
        d.add(t0, Change::Config);
        d.add(t0, Change::Rescan);
        d.postpone(t0 + Duration::from_millis(190));
        assert!(!d.ready(t0 + Duration::from_millis(300)));
        assert!(d.ready(t0 + Duration::from_millis(390)));
        let batch = d.take();
        assert!(batch.config && batch.rescan && batch.paths.is_empty());
    }

    #[test]
    fn reads_are_not_changes() {
        use notify::event::{AccessKind, AccessMode, CreateKind, EventKind, ModifyKind};
        assert!(!changes_content(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!changes_content(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(changes_content(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(changes_content(&EventKind::Create(CreateKind::File)));
        assert!(changes_content(&EventKind::Modify(ModifyKind::Any)));
    }

    #[test]
    fn describe_lists_a_few() {
        let paths: Vec<PathBuf> = (0..5).map(|i| format!("/s/{i}.jpg").into()).collect();
        assert_eq!(
            describe(&paths, Path::new("/s")),
            "changed: 0.jpg, 1.jpg, 2.jpg and 2 more"
        );
    }
}
