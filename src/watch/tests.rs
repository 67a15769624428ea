//! Whole watch scenarios in virtual time: a scripted event source and a
//! manual clock drive [`run`], and a recording build shows which batches
//! were built, when, and with which config. Nothing sleeps.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use notify::event::{CreateKind, EventKind, Flag, ModifyKind, RenameMode};

use super::clock::ManualClock;
use super::*;

const QUIET: Duration = Duration::from_millis(200);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One scripted happening, at a virtual time.
enum Scripted<'a> {
    Event(notify::Event),
    Error(notify::Error),
    /// A change on disk (a write, a config edit) that brings no event of
    /// its own, or comes before its event.
    Do(Box<dyn FnOnce() + 'a>),
    /// Ctrl-C.
    Stop,
}

/// Plays a script in virtual time: a wait for events advances the clock to
/// the next scripted event, or by the whole timeout if none comes sooner.
struct ScriptedSource<'a> {
    clock: &'a ManualClock,
    stop: &'a AtomicBool,
    script: VecDeque<(Duration, Scripted<'a>)>,
    rewatched: Vec<Scope>,
}

impl EventSource for ScriptedSource<'_> {
    fn next(&mut self, timeout: Duration) -> Received {
        let until = self.clock.elapsed() + timeout;
        while self.script.front().is_some_and(|(at, _)| *at <= until) {
            let (at, item) = self.script.pop_front().unwrap();
            self.clock.advance_to(at);
            match item {
                Scripted::Event(event) => return Received::Event(Ok(event)),
                Scripted::Error(error) => return Received::Event(Err(error)),
                Scripted::Do(change) => change(),
                Scripted::Stop => self.stop.store(true, Ordering::Relaxed),
            }
        }
        if self.script.is_empty() && !self.stop.load(Ordering::Relaxed) {
            return Received::Closed;
        }
        self.clock.advance_to(until);
        Received::Timeout
    }

    fn rewatch(&mut self, scope: &Scope) -> crate::error::Result<()> {
        self.rewatched.push(scope.clone());
        Ok(())
    }
}

/// A project on disk: `images/` and a config with one variant of the given
/// width (the config is real so that reloading it is too).
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let project = Project {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(project.src("")).unwrap();
        project.set_width(64);
        project
    }

    fn config_file(&self) -> PathBuf {
        self.dir.path().join(".thumbgen.toml")
    }

    fn src(&self, rel: &str) -> PathBuf {
        self.dir.path().join("images").join(rel)
    }

    fn set_config(&self, text: &str) {
        std::fs::write(self.config_file(), text).unwrap();
    }

    fn set_width(&self, width: u32) {
        self.set_config(&format!(
            "source = \"images\"\noutput = \"out\"\n\
             [[variants]]\nname = \"thumb\"\nwidth = {width}\nheight = 64\nformat = \"jpeg\"\n"
        ));
    }

    fn config(&self) -> Config {
        config::load(&self.config_file()).unwrap()
    }
}

fn event(kind: EventKind, paths: &[&Path]) -> Scripted<'static> {
    let mut event = notify::Event::new(kind);
    for path in paths {
        event = event.add_path(path.to_path_buf());
    }
    Scripted::Event(event)
}

fn created(path: &Path) -> Scripted<'static> {
    event(EventKind::Create(CreateKind::File), &[path])
}

fn modified(path: &Path) -> Scripted<'static> {
    event(EventKind::Modify(ModifyKind::Any), &[path])
}

/// Set `path`'s mtime to the file system's time `at`.
fn stamp(path: &Path, clock: &ManualClock, at: Duration) {
    let ns = clock.fs_at(at);
    let time = filetime::FileTime::from_unix_time(
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) as u32,
    );
    filetime::set_file_mtime(path, time).unwrap();
}

/// What the recording build saw.
#[derive(Debug)]
struct Built {
    at: Duration,
    batch: Batch,
    width: u32,
}

struct Outcome {
    builds: Vec<Built>,
    rewatched: Vec<Scope>,
    /// Virtual time when `run` returned.
    ended: Duration,
}

/// Run `script` through the watch loop with `debounce`.
fn play<'a>(
    project: &Project,
    clock: &'a ManualClock,
    debounce: Duration,
    script: Vec<(Duration, Scripted<'a>)>,
) -> Outcome {
    let stop = AtomicBool::new(false);
    let mut source = ScriptedSource {
        clock,
        stop: &stop,
        script: script.into(),
        rewatched: Vec::new(),
    };
    let mut builds = Vec::new();
    let mut build = |config: &Config, batch: &Batch| {
        builds.push(Built {
            at: clock.elapsed(),
            batch: batch.clone(),
            width: config.variants[0].width,
        })
    };
    let reporter = Reporter::new(true);
    run(
        project.config(),
        debounce,
        clock,
        &mut source,
        &stop,
        &reporter,
        &mut build,
    )
    .unwrap();
    Outcome {
        builds,
        rewatched: source.rewatched,
        ended: clock.elapsed(),
    }
}

#[test]
fn a_burst_becomes_one_batch() {
    let project = Project::new();
    let clock = ManualClock::new();
    let mut script: Vec<_> = (0..200u64)
        .map(|i| (ms(i * 5), created(&project.src(&format!("{i:03}.jpg")))))
        .collect();
    script.push((ms(5000), Scripted::Stop));
    let outcome = play(&project, &clock, QUIET, script);
    assert_eq!(outcome.builds.len(), 1, "{:?}", outcome.builds);
    let built = &outcome.builds[0];
    assert_eq!(built.batch.paths.len(), 200);
    assert_eq!(built.at, ms(995) + QUIET, "built once the burst was quiet");
}

#[test]
fn save_by_rename_is_one_change() {
    let project = Project::new();
    let clock = ManualClock::new();
    let (temp, photo) = (project.src("x.jpg.tmp"), project.src("x.jpg"));
    let script = vec![
        (ms(0), created(&temp)),
        (ms(1), modified(&temp)),
        (
            ms(2),
            event(
                EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
                &[&temp, &photo],
            ),
        ),
        (ms(3), created(&project.src(".x.jpg.swp"))),
        (ms(4), created(&project.src("x.jpg~"))),
        (ms(2000), Scripted::Stop),
    ];
    let outcome = play(&project, &clock, QUIET, script);
    let batches: Vec<_> = outcome.builds.iter().map(|b| &b.batch.paths).collect();
    assert_eq!(batches, [&[photo]]);
}

#[test]
fn a_slow_copy_is_built_once_it_stops() {
    let project = Project::new();
    let clock = ManualClock::new();
    let big = project.src("big.jpg");
    std::fs::write(&big, b"").unwrap();
    stamp(&big, &clock, ms(0));
    // One event, then chunks every 100 ms for over a second that move the
    // mtime without events of their own (a polling watcher's view).
    let mut script = vec![(ms(0), created(&big))];
    for at in (100..=1100).step_by(100) {
        let (big, clock) = (&big, &clock);
        script.push((
            ms(at),
            Scripted::Do(Box::new(move || stamp(big, clock, ms(at)))),
        ));
    }
    script.push((ms(5000), Scripted::Stop));
    let outcome = play(&project, &clock, QUIET, script);
    assert_eq!(outcome.builds.len(), 1, "{:?}", outcome.builds);
    assert!(
        outcome.builds[0].at >= ms(1100) + QUIET,
        "built at {:?}, while the file was being written",
        outcome.builds[0].at
    );
    // One marker write per readiness check, not per event or wait.
    assert!(clock.fs_reads() <= 7, "{} clock reads", clock.fs_reads());
}

#[test]
fn config_edits_reload_and_an_invalid_one_keeps_the_last_good() {
    let project = Project::new();
    let clock = ManualClock::new();
    let config = project.config_file();
    let project_ref = &project;
    let script = vec![
        (ms(0), Scripted::Do(Box::new(|| project_ref.set_width(32)))),
        (ms(1), modified(&config)),
        (
            ms(1000),
            Scripted::Do(Box::new(|| project_ref.set_config("source = 3"))),
        ),
        (ms(1001), modified(&config)),
        (ms(2000), created(&project.src("b.jpg"))),
        (ms(3000), Scripted::Stop),
    ];
    let outcome = play(&project, &clock, QUIET, script);
    let seen: Vec<_> = outcome
        .builds
        .iter()
        .map(|b| (b.batch.config, b.batch.paths.len(), b.width))
        .collect();
    // The reload builds with the new width; the broken edit builds nothing;
    // the next change builds with the last good config.
    assert_eq!(seen, [(true, 0, 32), (false, 1, 32)]);
    assert!(outcome.rewatched.is_empty(), "the source did not move");
}

#[test]
fn a_config_that_moves_the_source_watches_the_new_one() {
    let project = Project::new();
    std::fs::create_dir_all(project.dir.path().join("photos")).unwrap();
    let clock = ManualClock::new();
    let config = project.config_file();
    let project_ref = &project;
    let moved = project.dir.path().join("photos/new.jpg");
    let script = vec![
        (
            ms(0),
            Scripted::Do(Box::new(|| {
                let text = std::fs::read_to_string(project_ref.config_file()).unwrap();
                project_ref.set_config(&text.replace("\"images\"", "\"photos\""));
            })),
        ),
        (ms(1), modified(&config)),
        (ms(1000), created(&project.src("old.jpg"))),
        (ms(2000), created(&moved)),
        (ms(3000), Scripted::Stop),
    ];
    let outcome = play(&project, &clock, QUIET, script);
    assert_eq!(outcome.rewatched.len(), 1);
    assert!(outcome.rewatched[0].source.ends_with("photos"));
    let batches: Vec<_> = outcome.builds.iter().map(|b| &b.batch.paths).collect();
    assert_eq!(
        batches,
        [&vec![], &vec![moved]],
        "the old source is ignored"
    );
}

#[test]
fn a_watcher_error_rescans() {
    let project = Project::new();
    let clock = ManualClock::new();
    let overflow = notify::Event::new(EventKind::Other).set_flag(Flag::Rescan);
    let script = vec![
        (
            ms(0),
            Scripted::Error(notify::Error::generic("queue overflow")),
        ),
        (ms(1000), Scripted::Event(overflow)),
        (ms(2000), Scripted::Stop),
    ];
    let outcome = play(&project, &clock, QUIET, script);
    let rescans: Vec<_> = outcome
        .builds
        .iter()
        .map(|b| (b.at, b.batch.rescan, b.batch.paths.len()))
        .collect();
    assert_eq!(rescans, [(QUIET, true, 0), (ms(1000) + QUIET, true, 0)]);
}

#[test]
fn ctrl_c_ends_the_loop_without_building_a_pending_batch() {
    let project = Project::new();
    let clock = ManualClock::new();
    let script = vec![
        (ms(0), created(&project.src("a.jpg"))),
        (ms(50), Scripted::Stop),
        (ms(10_000), created(&project.src("never.jpg"))),
    ];
    let outcome = play(&project, &clock, QUIET, script);
    assert!(outcome.builds.is_empty(), "{:?}", outcome.builds);
    assert!(
        outcome.ended <= ms(50) + STOP_CHECK,
        "noticed the stop only at {:?}",
        outcome.ended
    );
}

#[test]
fn no_debounce_builds_once_the_queued_events_are_in() {
    let project = Project::new();
    let clock = ManualClock::new();
    let script = vec![
        (ms(0), created(&project.src("a.jpg"))),
        (ms(0), created(&project.src("b.jpg"))),
        (ms(500), created(&project.src("c.jpg"))),
        (ms(1000), Scripted::Stop),
    ];
    let outcome = play(&project, &clock, Duration::ZERO, script);
    let seen: Vec<_> = outcome
        .builds
        .iter()
        .map(|b| (b.at, b.batch.paths.len()))
        .collect();
    assert_eq!(seen, [(ms(0), 2), (ms(500), 1)]);
}
