//! Integration tests: the real binary on real image files in temporary
//! folders.

// A test says on stderr what it skipped or measured (cargo shows it with
// `--nocapture`); the crate's own rule that only `report` prints is for
// the library.
#![allow(clippy::print_stderr)]

mod animation;
mod browser;
mod build;
mod ci;
mod clean;
mod clouds;
mod common;
mod damaged;
mod equivalence;
mod failures;
mod focus;
mod fuzz;
mod golden;
mod hardening;
mod incremental;
mod inputs;
mod publish;
mod remote;
mod slips;
mod snapshots;
mod sources;
mod trust;
mod urls;
mod watch;
mod web;
