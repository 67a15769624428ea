//! thumbgen: a build system for thumbnails.
//!
//! Data flow: [`config`] → `scan` → `fingerprint` (with `db`) →
//! [`plan`] (pure) → `execute` ([`render`] on a rayon pool, atomic writes
//! via `fsutil`) → `db` commit → [`report`]. `app` wires it together;
//! `watch` reruns the same build on file-system events; the binary only
//! parses the command line. docs/ARCHITECTURE.md describes every module,
//! including those the crate keeps to itself.

pub(crate) mod app;
pub mod cli;
pub mod codecs;
pub mod config;
pub(crate) mod db;
pub mod error;
pub(crate) mod execute;
pub(crate) mod fingerprint;
pub mod focus;
pub(crate) mod fsutil;
pub(crate) mod hash;
pub(crate) mod init;
pub(crate) mod manifest;
pub mod model;
pub(crate) mod origin;
pub(crate) mod owned;
pub mod paths;
pub mod plan;
pub(crate) mod problem;
pub(crate) mod publish;
pub(crate) mod reason;
pub(crate) mod record;
pub(crate) mod remote;
pub mod render;
pub mod report;
pub(crate) mod scan;
pub mod shard;
pub mod variant;
pub(crate) mod watch;

use std::sync::atomic::AtomicBool;

use std::path::PathBuf;

use clap::CommandFactory;
use cli::{Cli, Command};
use error::Exit;
use report::{Mode, Reporter};

/// Run a parsed command line with the one reporter of this process;
/// errors that end the run are reported here. The process is expected to
/// end when it returns (see `app::BuildOptions::process_ends`).
pub fn run(cli: Cli, stop: &AtomicBool) -> Exit {
    let (result, reporter, mode) = match cli.command {
        Command::Build(args) => {
            let reporter = Reporter::with_options(args.common.quiet, args.explain, args.json);
            let options = app::BuildOptions {
                config: args.common.config,
                jobs: args.jobs,
                dry_run: args.dry_run,
                check: args.check,
                allow_failed: args.allow_failed,
                force: args.force,
                remote: args.remote.map(|r| match r {
                    cli::RemoteArg::ReadWrite => model::RemoteMode::ReadWrite,
                    cli::RemoteArg::ReadOnly => model::RemoteMode::ReadOnly,
                    cli::RemoteArg::Off => model::RemoteMode::Off,
                }),
                shard: args.shard,
                offline: args.offline,
                publish: args.publish.then_some(publish::PublishOptions {
                    allow_deletes: args.allow_deletes,
                    shard: args.shard,
                    ..publish::PublishOptions::default()
                }),
                // A publish after the build opens the store again: the
                // build must close it (and its lock) first.
                process_ends: !args.publish,
            };
            if options.publish.is_some() {
                reporter.hold_summary();
            }
            let result = app::build(&options, stop, &reporter);
            (result, reporter, options.mode())
        }
        Command::Watch(args) => {
            let reporter = Reporter::new(args.common.quiet);
            let options = watch::WatchOptions {
                config: args.common.config,
                jobs: args.jobs,
                poll: args.poll,
                debounce: std::time::Duration::from_millis(args.debounce),
            };
            let result = watch::watch(&options, stop, &reporter);
            (result, reporter, Mode::Build)
        }
        Command::Publish(args) => {
            let json = args.json.then_some(cli::JsonMode::Actions);
            let reporter = Reporter::with_options(args.common.quiet, false, json);
            reporter.hold_summary();
            let options = publish::PublishOptions {
                dry_run: args.dry_run,
                allow_deletes: args.allow_deletes,
                verify: args.verify,
                shard: None,
            };
            let result = app::load_config(args.common.config.as_deref()).and_then(|config| {
                reporter.begin_run(&config.root);
                app::publish_recorded(&config, options, &reporter)
            });
            (result, reporter, Mode::Publish)
        }
        Command::Clean(args) => {
            let reporter = Reporter::new(args.common.quiet);
            let result = app::clean(args.common.config.as_deref(), args.dry_run, &reporter);
            (result, reporter, Mode::Build)
        }
        Command::Init(args) => {
            let reporter = Reporter::new(false);
            let dir = args.dir.unwrap_or_else(|| PathBuf::from("."));
            let result = init::init(&dir, &args.source, &args.output).map(|file| {
                reporter.initialized(&file);
                Exit::Ok
            });
            (result, reporter, Mode::Build)
        }
        Command::Completions(args) => {
            let mut script = Vec::new();
            let mut command = Cli::command();
            clap_complete::generate(args.shell, &mut command, "thumbgen", &mut script);
            report::print_stdout(&script);
            return Exit::Ok;
        }
        Command::Man => {
            let mut page = Vec::new();
            let written = clap_mangen::Man::new(Cli::command()).render(&mut page);
            if written.is_ok() {
                report::print_stdout(&page);
            }
            return Exit::Ok;
        }
    };
    let exit = result.unwrap_or_else(|e| {
        reporter.fatal(&e, mode);
        e.exit()
    });
    // A run that publishes ends with its summary event, counts and all.
    reporter.release_summary(mode, exit);
    exit
}
