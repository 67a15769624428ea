//! Where events come from: the [`EventSource`] the loop reads, and its real
//! form over notify (native events, falling back to polling with a hint
//! when the inotify watch limit is the reason). Tests substitute a scripted
//! source that runs in virtual time.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::filter::Scope;
use crate::error::{Error, Result};
use crate::problem::Warning;
use crate::report::Reporter;

/// How often a polling watcher looks at the tree.
pub(super) const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// What one wait for an event gave.
#[derive(Debug)]
pub(crate) enum Received {
    /// An event, or a watcher error (events may have been lost).
    Event(notify::Result<notify::Event>),
    /// Nothing arrived within the timeout.
    Timeout,
    /// No more events will ever come.
    Closed,
}

/// Where the watch loop's events come from: [`NotifySource`] for real, a
/// scripted source in tests.
pub(crate) trait EventSource {
    /// The next event, waiting at most `timeout`.
    fn next(&mut self, timeout: Duration) -> Received;

    /// Watch `scope` instead of what was watched so far (the config moved
    /// the source folder).
    fn rewatch(&mut self, scope: &Scope) -> Result<()>;
}

type Events = notify::Result<notify::Event>;

/// File-system events from notify, on the source folder and the config
/// file's folder.
pub(crate) struct NotifySource<'r> {
    poll: bool,
    reporter: &'r Reporter,
    sender: mpsc::Sender<Events>,
    received: mpsc::Receiver<Events>,
    // Only held: dropping it stops the events.
    _watcher: Box<dyn Watcher + Send>,
}

impl<'r> NotifySource<'r> {
    /// Start watching `scope`: polling if `poll` is set, or (with a warning
    /// to `reporter`) if native events cannot be had.
    pub(crate) fn start(
        scope: &Scope,
        poll: bool,
        reporter: &'r Reporter,
    ) -> Result<NotifySource<'r>> {
        let (sender, received) = mpsc::channel();
        let watcher = start_watcher(scope, sender.clone(), poll, reporter)?;
        Ok(NotifySource {
            poll,
            reporter,
            sender,
            received,
            _watcher: watcher,
        })
    }
}

impl EventSource for NotifySource<'_> {
    fn next(&mut self, timeout: Duration) -> Received {
        match self.received.recv_timeout(timeout) {
            Ok(event) => Received::Event(event),
            Err(mpsc::RecvTimeoutError::Timeout) => Received::Timeout,
            Err(mpsc::RecvTimeoutError::Disconnected) => Received::Closed,
        }
    }

    fn rewatch(&mut self, scope: &Scope) -> Result<()> {
        // The new watcher starts before the old one stops: no gap.
        self._watcher = start_watcher(scope, self.sender.clone(), self.poll, self.reporter)?;
        Ok(())
    }
}

fn start_watcher(
    scope: &Scope,
    events: mpsc::Sender<Events>,
    poll: bool,
    reporter: &Reporter,
) -> Result<Box<dyn Watcher + Send>> {
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
            Ok(()) => return Ok(Box::new(watcher)),
            Err(e) => reporter.warn(&Warning::Polling {
                path: Some(scope.source.clone()),
                error: e.to_string(),
                every_ms: POLL_INTERVAL.as_millis() as u64,
            }),
        }
    }
    let config = notify::Config::default().with_poll_interval(POLL_INTERVAL);
    let mut watcher = notify::PollWatcher::new(events, config)
        .map_err(|e| Error::Fatal(format!("cannot watch files: {e}")))?;
    add_paths(&mut watcher, scope)
        .map_err(|e| Error::Fatal(format!("cannot watch {}: {e}", scope.source.display())))?;
    Ok(Box::new(watcher))
}

fn add_paths(watcher: &mut dyn Watcher, scope: &Scope) -> notify::Result<()> {
    watcher.watch(&scope.source, RecursiveMode::Recursive)?;
    let config_dir = scope.config_file.parent();
    if let Some(dir) = config_dir {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    let focus_dir = scope.focus_file.as_deref().and_then(Path::parent);
    if let Some(dir) = focus_dir.filter(|d| Some(*d) != config_dir && !d.starts_with(&scope.source))
    {
        // A sidecar that does not exist yet is a config error the watch
        // reports; its folder may not exist either.
        if dir.is_dir() {
            watcher.watch(dir, RecursiveMode::NonRecursive)?;
        }
    }
    Ok(())
}
