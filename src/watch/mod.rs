//! `thumbgen watch`: one build, then a build after every batch of changes.
//!
//! Every rebuild is the same `app::build_once` as `thumbgen build`, which
//! re-plans from disk. Events only decide *when* to build, never *what*:
//! a missed, merged or overflowed event cannot leave the tree stale, it can
//! only cost a no-op build.
//!
//! The parts: `filter` says which events matter, `debounce` merges
//! them into batches, `state` decides when a batch is ready, `clock`
//! and `source` are the time and the events it runs on. `run` drives
//! them and owns what a batch leads to (a config reload, a build); it takes
//! the clock, the events and the build as arguments, so tests play whole
//! scenarios in virtual time. [`watch`] wires in notify, the real clocks
//! and real builds.

mod clock;
mod debounce;
mod filter;
mod source;
mod state;

pub(crate) use clock::{Clock, SystemClock};
pub(crate) use debounce::Batch;
pub(crate) use filter::Scope;
pub(crate) use source::{EventSource, NotifySource, Received};
pub(crate) use state::{Input, Step, WatchLoop};

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::app::{self, BuildOptions};
use crate::config::{self, Config};
use crate::db::RunLock;
use crate::error::{Exit, Result};
use crate::problem::Warning;
use crate::report::Reporter;

/// How long the tree must be quiet before a batch is built.
pub(crate) const DEFAULT_DEBOUNCE: Duration =
    Duration::from_millis(crate::cli::DEFAULT_DEBOUNCE_MS);
/// The longest wait for events before the stop flag (Ctrl-C) is looked at.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// How `thumbgen watch` runs, from the command line.
#[derive(Debug, Clone)]
pub(crate) struct WatchOptions {
    /// `--config`; `None` finds the nearest `.thumbgen.toml`.
    pub config: Option<PathBuf>,
    /// `-j`; `None` or 0 takes `jobs` from the config.
    pub jobs: Option<usize>,
    /// Poll instead of using native file-system events.
    pub poll: bool,
    /// How long the tree must be quiet before a batch is built.
    pub debounce: Duration,
}

impl Default for WatchOptions {
    fn default() -> WatchOptions {
        WatchOptions {
            config: None,
            jobs: None,
            poll: false,
            debounce: DEFAULT_DEBOUNCE,
        }
    }
}

/// Run until `stop` is set (Ctrl-C), with the database consistent: exit 0
/// if the watcher was idle then, 130 if Ctrl-C cut a build short (as a
/// `build` exits), without going on to watch.
pub(crate) fn watch(
    options: &WatchOptions,
    stop: &AtomicBool,
    reporter: &Reporter,
) -> Result<Exit> {
    let config = app::load_config(options.config.as_deref())?;
    refuse_store(&config)?;
    reporter.begin_run(&config.root);
    app::warn_no_effect(&config, reporter);
    let build_options = BuildOptions {
        jobs: options.jobs,
        ..BuildOptions::default()
    };
    let threads = options.jobs.filter(|&j| j > 0).unwrap_or(config.jobs);
    let pool = app::pool(threads)?;
    // The run lock is held from the first build to the end, so that no
    // `build` or `clean` changes the tree under the watcher; it is taken
    // again only if an edited config moves the cache.
    let mut lock: Option<RunLock> = None;
    // Whether Ctrl-C cut the last build short (or came while it waited for
    // the lock): then the watcher exits as an interrupted build does.
    let cut_short = Cell::new(false);
    let mut build = |config: &Config, _: &Batch| {
        if lock.as_ref().is_none_or(|l| l.cache() != config.cache) {
            lock = None;
            lock = wait_for_lock(&config.cache, stop, reporter);
            if lock.is_none() {
                // Stopped while waiting, or the lock cannot be had.
                cut_short.set(stop.load(Ordering::Relaxed));
                return;
            }
        }
        let built =
            pool.install(|| app::build_once(config, &build_options, lock.as_ref(), stop, reporter));
        cut_short.set(matches!(built, Ok(Exit::Interrupted)));
        if let Err(e) = built {
            reporter.fatal_in_watch(&e);
        }
    };
    let exit = |cut_short: bool| {
        if cut_short {
            Exit::Interrupted
        } else {
            Exit::Ok
        }
    };

    // Watching starts before the first build, so that a change made while
    // it runs is not missed.
    let mut events = NotifySource::start(&Scope::of(&config), options.poll, reporter)?;
    build(&config, &Batch::default());
    if stop.load(Ordering::Relaxed) {
        return Ok(exit(cut_short.get()));
    }
    reporter.watching(&config.relative(&config.source));
    run(
        config,
        options.debounce,
        &SystemClock,
        &mut events,
        stop,
        reporter,
        &mut build,
    )?;
    Ok(exit(cut_short.get()))
}

/// The run lock on `cache`, waiting while another run holds it (a `build`
/// that was started first): a watcher must not give up on its tree, nor
/// drop a batch. `None` if `stop` is set while waiting, or the lock cannot
/// be had for another reason (reported).
fn wait_for_lock(cache: &Path, stop: &AtomicBool, reporter: &Reporter) -> Option<RunLock> {
    let mut told = false;
    while !stop.load(Ordering::Relaxed) {
        match RunLock::acquire_for_watch(cache) {
            Ok(lock) => return Some(lock),
            Err(crate::error::Error::LockHeld { cache, holder }) => {
                if !told {
                    reporter.waiting_for_lock(&cache, holder);
                    told = true;
                }
                // Another process holds the lock; there is no event for its
                // release, so look again shortly.
                std::thread::sleep(LOCK_RETRY);
            }
            // Not a held lock (`acquire` turns an unusable folder into a
            // lock that keeps records in memory): say it once, skip the build.
            Err(e) => {
                reporter.fatal_in_watch(&e);
                return None;
            }
        }
    }
    None
}

/// How often a watcher waiting for the run lock looks again.
const LOCK_RETRY: Duration = Duration::from_millis(100);

/// The loop after the first build: events become batches, a batch reloads
/// the config if it changed and then builds, until `stop` is set or the
/// events end. `build` hears the batch only so that tests can see it: what
/// to build is always re-planned from disk.
pub(crate) fn run(
    mut config: Config,
    debounce: Duration,
    clock: &impl Clock,
    events: &mut impl EventSource,
    stop: &AtomicBool,
    reporter: &Reporter,
    build: &mut impl FnMut(&Config, &Batch),
) -> Result<()> {
    let mut state = WatchLoop::new(Scope::of(&config), debounce);
    let mut wait = None;
    while !stop.load(Ordering::Relaxed) {
        let timeout = wait.map_or(STOP_CHECK, |w: Duration| w.min(STOP_CHECK));
        let input = match events.next(timeout) {
            Received::Event(event) => {
                if let Err(e) = &event {
                    reporter.warn(&Warning::EventsLost {
                        error: e.to_string(),
                    });
                }
                Input::Event(event)
            }
            Received::Timeout => Input::Idle,
            Received::Closed => break,
        };
        wait = match state.step(input, clock) {
            Step::Wait(wait) => wait,
            Step::Build(batch) => {
                let config_failed =
                    batch.config && !reload(&mut config, &mut state, events, reporter)?;
                // A broken config edit alone leaves nothing new to build.
                let nothing_else = batch.paths.is_empty() && !batch.rescan;
                if !(config_failed && nothing_else) {
                    if !batch.paths.is_empty() {
                        let changed: Vec<PathBuf> =
                            batch.paths.iter().map(|p| config.relative(p)).collect();
                        reporter.changed(&changed);
                    }
                    build(&config, &batch);
                }
                None
            }
        };
    }
    Ok(())
}

/// A bucket sends no file-system events: `watch` is for a local folder.
fn refuse_store(config: &Config) -> Result<()> {
    match &config.store {
        Some(store) => Err(crate::error::Error::Config(format!(
            "{}: `watch` follows a local folder, and `source` is {}; run `thumbgen build` (in CI, or on a schedule) instead",
            config.source_origin, store.url
        ))),
        None => Ok(()),
    }
}

/// Load the edited config and watch what it names. An invalid one is
/// reported and the last good one stays. Whether it loaded.
fn reload(
    config: &mut Config,
    state: &mut WatchLoop,
    events: &mut impl EventSource,
    reporter: &Reporter,
) -> Result<bool> {
    match config::load(&config.file).and_then(|new| refuse_store(&new).map(|()| new)) {
        Ok(new) => {
            let scope = Scope::of(&new);
            if scope.source != state.scope().source || scope.focus_file != state.scope().focus_file
            {
                events.rewatch(&scope)?;
            }
            state.set_scope(scope);
            *config = new;
            reporter.config_reloaded();
            app::warn_no_effect(config, reporter);
            Ok(true)
        }
        Err(e) => {
            reporter.config_rejected(&e);
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests;
