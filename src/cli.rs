//! The command line: commands and flags, parsed by clap. No I/O here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A build system for thumbnails: makes only the thumbnails that are missing
/// or stale, on all cores, and says why.
#[derive(Debug, Parser)]
#[command(name = "thumbgen", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Bring every thumbnail up to date (build what is missing or stale,
    /// remove outputs whose source or variant is gone).
    Build(BuildArgs),
    /// Remove every output thumbgen recorded, the manifest and the cache.
    /// Files thumbgen did not write are left alone.
    Clean(CommonArgs),
}

#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Config file [default: .thumbgen.toml in this directory or the nearest ancestor]
    #[arg(long, short = 'c', value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Print only errors.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Parallel jobs [default: `jobs` from the config, else all cores]
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,

    /// Print what would be done and change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,

    /// Print one line per action with the reason for it.
    #[arg(long)]
    pub explain: bool,

    /// Rebuild every output, even those that are up to date.
    #[arg(long)]
    pub force: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn build_flags_parse() {
        let cli = Cli::parse_from([
            "thumbgen",
            "build",
            "-j",
            "3",
            "--explain",
            "--config",
            "x.toml",
        ]);
        let Command::Build(args) = cli.command else {
            panic!("expected build")
        };
        assert_eq!(args.jobs, Some(3));
        assert!(args.explain && !args.dry_run && !args.force);
        assert_eq!(args.common.config, Some(PathBuf::from("x.toml")));
    }
}
