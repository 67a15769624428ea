//! The two clocks the watch loop reads, behind one trait so that tests run
//! whole scenarios in virtual time (like notify-debouncer-full's mock
//! `time.rs`): a monotonic clock for the quiet period, and the file
//! system's clock for "was this file written just now?".
//!
//! They are different clocks on purpose. Mtimes are stamped by the file
//! system (a coarse kernel tick on Linux, the server's clock on NFS or SMB),
//! so they can only be compared with a "now" taken from the same source:
//! [`fingerprint::fs_now`] writes a marker file and reads its mtime.

use std::path::Path;
use std::time::Instant;

use crate::fingerprint;

/// Where the watch loop gets the time: [`SystemClock`] for real, a manual
/// clock in tests.
pub(crate) trait Clock {
    /// Monotonic time, for the quiet period.
    fn now(&self) -> Instant;

    /// The file system's "now" in nanoseconds since the epoch: the mtime a
    /// file written at this moment would get. `marker_dir` is where a
    /// marker may be written to find out (the cache folder).
    fn fs_now(&self, marker_dir: &Path) -> i64;
}

/// The real clocks.
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn fs_now(&self, marker_dir: &Path) -> i64 {
        // A cache folder that cannot be written (read-only, full disk)
        // leaves the system clock as the best guess; the build that follows
        // reports the real problem.
        fingerprint::fs_now(marker_dir).unwrap_or_else(|_| system_now_ns())
    }
}

fn system_now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
pub(super) use manual::ManualClock;

#[cfg(test)]
mod manual {
    use std::cell::Cell;
    use std::path::Path;
    use std::time::{Duration, Instant};

    use super::Clock;

    /// Virtual time for tests: both clocks move only when told to. The file
    /// system's clock starts in 2001, far from the real time, so that code
    /// comparing mtimes with the system clock instead fails the tests.
    pub(crate) struct ManualClock {
        start: Instant,
        elapsed: Cell<Duration>,
        fs_reads: Cell<usize>,
    }

    const FS_START_NS: i64 = 1_000_000_000 * 1_000_000_000;

    impl ManualClock {
        pub(crate) fn new() -> ManualClock {
            ManualClock {
                start: Instant::now(),
                elapsed: Cell::new(Duration::ZERO),
                fs_reads: Cell::new(0),
            }
        }

        /// Time since the clock was made.
        pub(crate) fn elapsed(&self) -> Duration {
            self.elapsed.get()
        }

        pub(crate) fn advance(&self, by: Duration) {
            self.elapsed.set(self.elapsed.get() + by);
        }

        /// Move to `at` after the start; never backwards.
        pub(crate) fn advance_to(&self, at: Duration) {
            self.elapsed.set(self.elapsed.get().max(at));
        }

        /// The file system's time `at` after the start, to stamp files with.
        pub(crate) fn fs_at(&self, at: Duration) -> i64 {
            FS_START_NS + i64::try_from(at.as_nanos()).unwrap()
        }

        /// How often the file system's clock was read (each read costs a
        /// marker write for real).
        pub(crate) fn fs_reads(&self) -> usize {
            self.fs_reads.get()
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Instant {
            self.start + self.elapsed.get()
        }

        fn fs_now(&self, _marker_dir: &Path) -> i64 {
            self.fs_reads.set(self.fs_reads.get() + 1);
            self.fs_at(self.elapsed.get())
        }
    }
}
