//! Integration tests: the real binary on real image files in temporary
//! folders.

mod browser;
mod build;
mod ci;
mod clean;
mod common;
mod equivalence;
mod failures;
mod fuzz;
mod golden;
mod hardening;
mod incremental;
mod inputs;
mod remote;
mod snapshots;
mod trust;
mod watch;
mod web;
