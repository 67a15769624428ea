//! Merging changes into batches: a batch is ready once no change has come
//! for the quiet period. Pure: time comes in as arguments, so the rules are
//! tested without a clock.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::filter::Change;

/// Collects changes and says when a batch is ready: after `quiet` with no
/// new change.
#[derive(Debug)]
pub(crate) struct Debouncer {
    quiet: Duration,
    pending: BTreeSet<PathBuf>,
    config: bool,
    rescan: bool,
    last: Option<Instant>,
}

/// One batch of changes to build.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Batch {
    /// The changed paths under the source folder, sorted, each once.
    pub paths: Vec<PathBuf>,
    /// The config file changed: reload it before building.
    pub config: bool,
    /// Events were lost, so the paths may not be all that changed.
    pub rescan: bool,
}

impl Debouncer {
    /// A debouncer with nothing pending that waits `quiet` after the last
    /// change.
    pub(crate) fn new(quiet: Duration) -> Debouncer {
        Debouncer {
            quiet,
            pending: BTreeSet::new(),
            config: false,
            rescan: false,
            last: None,
        }
    }

    /// The quiet period.
    pub(crate) fn quiet(&self) -> Duration {
        self.quiet
    }

    /// Add `change`, heard at `now`, to the pending batch; the quiet
    /// period starts again.
    pub(crate) fn add(&mut self, now: Instant, change: Change) {
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
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.last.map(|last| last + self.quiet)
    }

    /// Put the batch off: something is still being written.
    pub(crate) fn postpone(&mut self, now: Instant) {
        if self.last.is_some() {
            self.last = Some(now);
        }
    }

    /// The paths changed in the pending batch.
    pub(crate) fn pending(&self) -> impl Iterator<Item = &PathBuf> {
        self.pending.iter()
    }

    /// Whether a batch is pending and its quiet period is over at `now`.
    pub(crate) fn ready(&self, now: Instant) -> bool {
        self.deadline().is_some_and(|d| now >= d)
    }

    /// The pending batch, leaving nothing pending.
    pub(crate) fn take(&mut self) -> Batch {
        self.last = None;
        Batch {
            paths: std::mem::take(&mut self.pending).into_iter().collect(),
            config: std::mem::take(&mut self.config),
            rescan: std::mem::take(&mut self.rescan),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_burst_merges_into_one_batch() {
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
    fn zero_quiet_is_ready_at_once() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Duration::ZERO);
        d.add(t0, Change::Source("a.jpg".into()));
        assert!(d.ready(t0));
    }
}
