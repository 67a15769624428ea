//! The watch loop's state machine: events and the passing of time go in,
//! "wait this long" or "build this batch" comes out. It owns the rule for
//! when a batch is ready: quiet for the debounce period, and no changed
//! file written within that period by the file system's clock (a copy that
//! pauses between chunks, or a polling watcher that reports late, must not
//! have a half-written photo decoded). No I/O but one marker write and a
//! stat of the pending paths per readiness check.

use std::path::PathBuf;
use std::time::Duration;

use super::clock::Clock;
use super::debounce::{Batch, Debouncer};
use super::filter::{changes, Change, Scope};
use crate::model::Stat;

/// What the loop hears.
#[derive(Debug)]
pub(crate) enum Input {
    /// An event, or a watcher error (events may have been lost).
    Event(notify::Result<notify::Event>),
    /// No event came within the last wait.
    Idle,
}

/// What the loop should do next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Wait for an event, at most this long (`None`: nothing is pending).
    Wait(Option<Duration>),
    /// Build this batch (reloading the config first if it changed).
    Build(Batch),
}

/// The state between steps: the scope events are classified by, and the
/// batch being gathered.
pub(crate) struct WatchLoop {
    scope: Scope,
    debouncer: Debouncer,
}

impl WatchLoop {
    /// A loop over `scope` with nothing pending, building a batch after
    /// `quiet` without changes.
    pub(crate) fn new(scope: Scope, quiet: Duration) -> WatchLoop {
        WatchLoop {
            scope,
            debouncer: Debouncer::new(quiet),
        }
    }

    /// The scope events are classified by.
    pub(crate) fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Classify events by this scope from now on (the config changed).
    pub(crate) fn set_scope(&mut self, scope: Scope) {
        self.scope = scope;
    }

    /// Take in one input at `clock`'s time and say what to do next. A batch
    /// is built only on [`Input::Idle`], and put off while a changed file is
    /// still being written.
    pub(crate) fn step(&mut self, input: Input, clock: &impl Clock) -> Step {
        let now = clock.now();
        match input {
            Input::Event(Ok(event)) => {
                for change in changes(&event, &self.scope) {
                    self.debouncer.add(now, change);
                }
            }
            Input::Event(Err(_)) => self.debouncer.add(now, Change::Rescan),
            // A batch is only built once the source has nothing more to
            // give right now, so events already queued join it.
            Input::Idle => {
                if self.debouncer.ready(now) {
                    if !self.still_changing(clock) {
                        return Step::Build(self.debouncer.take());
                    }
                    self.debouncer.postpone(now);
                }
            }
        }
        Step::Wait(
            self.debouncer
                .deadline()
                .map(|d| d.saturating_duration_since(now)),
        )
    }

    /// Whether a pending path was written within the quiet period, by the
    /// file system's clock. The clock is only read when there are paths.
    fn still_changing(&self, clock: &impl Clock) -> bool {
        let mut paths = self.debouncer.pending().peekable();
        if paths.peek().is_none() {
            return false;
        }
        let fs_now = clock.fs_now(&self.scope.cache);
        written_within(paths, fs_now, self.debouncer.quiet())
    }
}

/// Whether any of `paths` has an mtime within `window` of `fs_now`, either
/// side: a write just after the clock was read is as recent as one just
/// before, while an mtime far in the future (a deliberate touch, a skewed
/// server) must not hold the batch back until that date.
fn written_within<'a>(
    mut paths: impl Iterator<Item = &'a PathBuf>,
    fs_now: i64,
    window: Duration,
) -> bool {
    let window = i64::try_from(window.as_nanos()).unwrap_or(i64::MAX);
    paths.any(|p| {
        std::fs::metadata(p)
            .is_ok_and(|m| (fs_now.saturating_sub(Stat::of(&m).mtime_ns)).abs() < window)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::clock::ManualClock;
    use crate::watch::filter::tests::scope;
    use notify::event::{CreateKind, EventKind, ModifyKind};

    const QUIET: Duration = Duration::from_millis(200);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn created(path: &std::path::Path) -> Input {
        Input::Event(Ok(
            notify::Event::new(EventKind::Create(CreateKind::File)).add_path(path.into())
        ))
    }

    /// Set `path`'s mtime to the file system's time `at`.
    fn stamp(path: &std::path::Path, clock: &ManualClock, at: Duration) {
        let ns = clock.fs_at(at);
        let time = filetime::FileTime::from_unix_time(
            ns.div_euclid(1_000_000_000),
            ns.rem_euclid(1_000_000_000) as u32,
        );
        filetime::set_file_mtime(path, time).unwrap();
    }

    /// A scope whose source is a real temporary folder.
    fn real_scope(dir: &std::path::Path) -> Scope {
        Scope {
            source: dir.join("images"),
            output: dir.join("out"),
            cache: dir.join(".thumbgen"),
            config_file: dir.join(".thumbgen.toml"),
            focus_file: None,
        }
    }

    #[test]
    fn waits_out_the_quiet_period_then_builds() {
        let clock = ManualClock::new();
        let mut state = WatchLoop::new(scope(), QUIET);
        assert_eq!(state.step(Input::Idle, &clock), Step::Wait(None));
        let a = std::path::Path::new("/p/images/a.jpg");
        assert_eq!(state.step(created(a), &clock), Step::Wait(Some(QUIET)));
        clock.advance(ms(150));
        assert_eq!(state.step(Input::Idle, &clock), Step::Wait(Some(ms(50))));
        clock.advance(ms(50));
        let Step::Build(batch) = state.step(Input::Idle, &clock) else {
            panic!("not built")
        };
        assert_eq!(batch.paths, [a]);
        assert_eq!(state.step(Input::Idle, &clock), Step::Wait(None));
    }

    #[test]
    fn a_ready_batch_still_waits_for_queued_events() {
        // With no quiet period the deadline has passed as soon as an event
        // is in; the batch is built on the next idle wait, not before.
        let clock = ManualClock::new();
        let mut state = WatchLoop::new(scope(), Duration::ZERO);
        for name in ["a.jpg", "b.jpg"] {
            let path = std::path::Path::new("/p/images").join(name);
            assert_eq!(
                state.step(created(&path), &clock),
                Step::Wait(Some(Duration::ZERO))
            );
        }
        let Step::Build(batch) = state.step(Input::Idle, &clock) else {
            panic!("not built")
        };
        assert_eq!(batch.paths.len(), 2);
    }

    #[test]
    fn ignored_events_arm_nothing() {
        let clock = ManualClock::new();
        let mut state = WatchLoop::new(scope(), QUIET);
        for path in [
            "/p/public/thumbs/thumb/a.jpg",
            "/p/.thumbgen/clock",
            "/p/x.txt",
        ] {
            let modified = notify::Event::new(EventKind::Modify(ModifyKind::Any));
            let input = Input::Event(Ok(modified.add_path(path.into())));
            assert_eq!(state.step(input, &clock), Step::Wait(None), "{path}");
        }
    }

    #[test]
    fn a_file_still_being_written_postpones_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let scope = real_scope(dir.path());
        std::fs::create_dir_all(&scope.source).unwrap();
        let big = scope.source.join("big.jpg");
        std::fs::write(&big, b"first chunk").unwrap();
        let clock = ManualClock::new();
        stamp(&big, &clock, ms(0));

        let mut state = WatchLoop::new(scope, QUIET);
        state.step(created(&big), &clock);
        // The copy goes on without further events (a polling watcher sees
        // it late), each chunk moving the mtime.
        for at in (100..=1100).step_by(100) {
            clock.advance_to(ms(at));
            stamp(&big, &clock, ms(at));
            assert!(
                matches!(state.step(Input::Idle, &clock), Step::Wait(Some(_))),
                "built at {at} ms while the file was being written"
            );
        }
        clock.advance_to(ms(1100) + QUIET);
        assert!(matches!(
            state.step(Input::Idle, &clock),
            Step::Build(batch) if batch.paths == [big]
        ));
        // One clock read per readiness check, not per event or per wait.
        assert!(clock.fs_reads() <= 7, "{} reads", clock.fs_reads());
    }

    #[test]
    fn only_batches_with_paths_read_the_file_system_clock() {
        let clock = ManualClock::new();
        let mut state = WatchLoop::new(scope(), QUIET);
        let config = notify::Event::new(EventKind::Modify(ModifyKind::Any));
        state.step(
            Input::Event(Ok(config.add_path("/p/.thumbgen.toml".into()))),
            &clock,
        );
        clock.advance(QUIET);
        assert!(matches!(
            state.step(Input::Idle, &clock),
            Step::Build(batch) if batch.config && batch.paths.is_empty()
        ));
        assert_eq!(clock.fs_reads(), 0);
    }

    #[test]
    fn mtimes_compare_with_the_file_system_clock_either_side() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.jpg");
        std::fs::write(&file, b"x").unwrap();
        let clock = ManualClock::new();
        stamp(&file, &clock, ms(1000));
        let recent =
            |now_ms: u64| written_within(std::iter::once(&file), clock.fs_at(ms(now_ms)), QUIET);
        assert!(recent(1000) && recent(1199), "just written");
        assert!(recent(900), "written just after the clock was read");
        assert!(!recent(1200), "quiet for the whole period");
        assert!(!recent(0), "far-future mtimes do not hold a batch back");
        let missing = dir.path().join("gone.jpg");
        assert!(!written_within(
            std::iter::once(&missing),
            clock.fs_at(ms(0)),
            QUIET
        ));
    }

    #[test]
    fn a_watcher_error_asks_for_a_rescan() {
        let clock = ManualClock::new();
        let mut state = WatchLoop::new(scope(), QUIET);
        state.step(
            Input::Event(Err(notify::Error::generic("queue overflow"))),
            &clock,
        );
        clock.advance(QUIET);
        assert_eq!(
            state.step(Input::Idle, &clock),
            Step::Build(Batch {
                rescan: true,
                ..Batch::default()
            })
        );
    }
}
