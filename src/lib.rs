//! thumbgen: a build system for thumbnails.
//!
//! Data flow: [`config`] → [`scan`] → [`fingerprint`] (with [`db`]) →
//! [`plan`] (pure) → [`execute`] ([`render`] on a rayon pool, atomic writes
//! via [`fsutil`]) → [`db`] commit → [`report`]. [`app`] wires it together;
//! [`watch`] reruns the same build on file-system events; the binary only
//! parses the command line.

pub mod app;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod execute;
pub mod fingerprint;
pub mod fsutil;
pub mod hash;
pub mod manifest;
pub mod model;
pub mod plan;
pub mod record;
pub mod render;
pub mod report;
pub mod scan;
pub mod variant;
pub mod watch;

use std::sync::atomic::AtomicBool;

use cli::{Cli, Command};
use error::Exit;

/// Run a parsed command line; errors are reported here.
pub fn run(cli: Cli, stop: &AtomicBool) -> Exit {
    let result = match cli.command {
        Command::Build(args) => {
            let options = app::BuildOptions {
                config: args.common.config,
                jobs: args.jobs,
                dry_run: args.dry_run,
                check: args.check,
                explain: args.explain,
                force: args.force,
                quiet: args.common.quiet,
                json: args.json,
            };
            app::build(&options, stop)
        }
        Command::Watch(args) => watch::watch(
            &watch::WatchOptions {
                config: args.common.config,
                jobs: args.jobs,
                quiet: args.common.quiet,
                poll: args.poll,
            },
            stop,
        ),
        Command::Clean(args) => app::clean(args.config.as_deref(), args.quiet),
    };
    result.unwrap_or_else(|e| {
        report::fatal(&e.to_string());
        e.exit()
    })
}
