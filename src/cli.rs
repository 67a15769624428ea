//! The command line: commands and flags, parsed by clap. No I/O here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::shard::Shard;

/// How long the tree must be quiet before `watch` builds a batch, by
/// default: long enough to merge an editor's save-by-rename and a pasted
/// burst, short enough to feel immediate. (Here, not in `watch`, so that
/// the command line depends on nothing else in the crate.)
pub const DEFAULT_DEBOUNCE_MS: u64 = 200;

/// A build system for thumbnails: makes only the thumbnails that are missing
/// or stale, on all cores, and says why.
#[derive(Debug, Parser)]
#[command(name = "thumbgen", version, about, long_about = None)]
pub struct Cli {
    /// The subcommand and its flags.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands; clap shows each variant's doc as its help.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Bring every thumbnail up to date (build what is missing or stale,
    /// remove outputs whose source or variant is gone).
    Build(BuildArgs),
    /// Build, then keep the thumbnails up to date as photos and the config
    /// change, until Ctrl-C.
    Watch(WatchArgs),
    /// Remove every output thumbgen recorded, the manifest and the cache.
    /// Files thumbgen did not write are left alone.
    Clean(CleanArgs),
    /// Write a starter .thumbgen.toml in this folder (or DIR).
    Init(InitArgs),
    /// Upload the outputs (and the manifest) to the bucket of `[publish]`:
    /// only what it lacks or holds in another version, then delete what
    /// thumbgen published there before and no longer builds.
    Publish(PublishArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the manual page (roff), e.g. `thumbgen man > thumbgen.1`.
    Man,
}

/// Flags of `thumbgen publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The config file and `--quiet`.
    #[command(flatten)]
    pub common: CommonArgs,

    /// List what would be uploaded and deleted, and why; change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,

    /// Delete even when more keys are no longer built than `max_deletes`.
    #[arg(long)]
    pub allow_deletes: bool,

    /// List the bucket and upload again what is missing or has another size
    /// than was published.
    #[arg(long)]
    pub verify: bool,

    /// Newline-delimited JSON on stdout: one object per upload and delete,
    /// and a final summary with the publish's counts.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `thumbgen clean`.
#[derive(Debug, Args)]
pub struct CleanArgs {
    /// The config file and `--quiet`.
    #[command(flatten)]
    pub common: CommonArgs,

    /// List what would be removed and remove nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
}

/// Arguments of `thumbgen init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Folder to write .thumbgen.toml in [default: this folder]
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// The folder of source photos, relative to DIR.
    #[arg(long, value_name = "DIR", default_value = "images")]
    pub source: String,

    /// The folder thumbnails go to, relative to DIR.
    #[arg(long, value_name = "DIR", default_value = "public/thumbs")]
    pub output: String,
}

/// Arguments of `thumbgen completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Flags shared by `build`, `watch` and `clean`.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Config file [default: .thumbgen.toml in this directory or the nearest ancestor]
    #[arg(long, short = 'c', value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Print only errors.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Flags of `thumbgen build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The config file and `--quiet`.
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
    #[arg(long, conflicts_with = "check")]
    pub force: bool,

    /// Change nothing; exit 1 (listing what and why) if any output is
    /// missing or stale, 0 if everything is up to date. For CI.
    #[arg(long)]
    pub check: bool,

    /// With --check: sources that fail to build, and would fail again
    /// (same content, same settings), do not fail the check.
    #[arg(long, requires = "check")]
    pub allow_failed: bool,

    /// Use the shared cache (`[remote]`) read-write, read-only (look up,
    /// never upload: for untrusted jobs such as pull requests), or not at
    /// all [default: THUMBGEN_REMOTE_MODE, else `[remote] mode`]
    #[arg(long, value_enum, value_name = "MODE")]
    pub remote: Option<RemoteArg>,

    /// Build only part K of N of the sources (a CI matrix job): outputs of
    /// other parts are left alone and no manifest is written. A final
    /// unsharded build assembles the tree from the shared cache.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,

    /// Make no network request: sources in a bucket or a URL list count as unchanged
    /// where they are recorded (rendered from the cache of originals), and
    /// the shared cache is not used.
    #[arg(long)]
    pub offline: bool,

    /// Then publish the outputs to the bucket of `[publish]` (see `thumbgen
    /// publish`). With `--shard`, only this part's outputs go up, and
    /// nothing is deleted: the assembling build publishes the manifest and
    /// does the deletes.
    #[arg(long, conflicts_with_all = ["check", "dry_run"])]
    pub publish: bool,

    /// With --publish: delete even when more keys are no longer built than
    /// `max_deletes`.
    #[arg(long, requires = "publish")]
    pub allow_deletes: bool,

    /// Newline-delimited JSON on stdout, one object per action and a final
    /// summary. `--json=all` also lists outputs that were up to date.
    #[arg(long, value_enum, value_name = "WHAT", num_args = 0..=1, require_equals = true, default_missing_value = "actions")]
    pub json: Option<JsonMode>,
}

/// Flags of `thumbgen watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The config file and `--quiet`.
    #[command(flatten)]
    pub common: CommonArgs,

    /// Parallel jobs [default: `jobs` from the config, else all cores]
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,

    /// Poll the file system instead of using native events (for network
    /// and virtual file systems where events do not arrive).
    #[arg(long)]
    pub poll: bool,

    /// Milliseconds without changes before a batch is built; 0 builds as
    /// soon as the events already queued are read.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = DEFAULT_DEBOUNCE_MS,
        value_parser = clap::value_parser!(u64).range(0..=MAX_DEBOUNCE_MS),
    )]
    pub debounce: u64,
}

/// A longer quiet period than a minute is a typo, not a choice: rebuilds
/// would look broken.
pub const MAX_DEBOUNCE_MS: u64 = 60_000;

/// `--remote`: how a build uses the shared cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RemoteArg {
    /// Look outputs up, and upload what is rendered here.
    ReadWrite,
    /// Look outputs up; never write.
    ReadOnly,
    /// Do not use the shared cache.
    Off,
}

/// Whether a command line that clap refused asked for `--json`, and how:
/// its events must still come (an error and the summary).
pub fn json_requested(args: &[String]) -> Option<JsonMode> {
    args.iter()
        .take_while(|a| *a != "--")
        .find_map(|a| match a.as_str() {
            "--json" => Some(JsonMode::Actions),
            "--json=all" => Some(JsonMode::All),
            a if a.starts_with("--json=") => Some(JsonMode::Actions),
            _ => None,
        })
}

/// What `--json` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JsonMode {
    /// Builds, removals, failures and the summary.
    Actions,
    /// Also every output that was already up to date.
    All,
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
    fn clean_init_completions_parse() {
        let cli = Cli::parse_from(["thumbgen", "clean", "--dry-run"]);
        assert!(matches!(
            cli.command,
            Command::Clean(CleanArgs { dry_run: true, .. })
        ));
        let cli = Cli::parse_from(["thumbgen", "init", "site", "--source", "photos"]);
        let Command::Init(init) = cli.command else {
            panic!("init")
        };
        assert_eq!(init.dir, Some(PathBuf::from("site")));
        assert_eq!(
            (init.source.as_str(), init.output.as_str()),
            ("photos", "public/thumbs")
        );
        assert!(Cli::try_parse_from(["thumbgen", "completions", "bash"]).is_ok());
        assert!(Cli::try_parse_from(["thumbgen", "completions", "tcsh"]).is_err());
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
        assert_eq!(args.json, None);
    }

    #[test]
    fn watch_debounce_defaults_and_is_bounded() {
        let parse = |args: &[&str]| -> Result<u64, clap::Error> {
            match Cli::try_parse_from(args)?.command {
                Command::Watch(w) => Ok(w.debounce),
                _ => panic!("expected watch"),
            }
        };
        assert_eq!(parse(&["thumbgen", "watch"]).unwrap(), 200);
        assert_eq!(parse(&["thumbgen", "watch", "--debounce", "0"]).unwrap(), 0);
        assert_eq!(
            parse(&["thumbgen", "watch", "--debounce=60000"]).unwrap(),
            60_000
        );
        for bad in ["60001", "1.5", "soon"] {
            let error = parse(&["thumbgen", "watch", "--debounce", bad]).unwrap_err();
            assert_eq!(
                error.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{bad}"
            );
            assert!(error.to_string().contains("--debounce"), "{error}");
        }
        assert!(parse(&["thumbgen", "watch", "--debounce", "-1"]).is_err());
    }

    #[test]
    fn a_refused_command_line_still_says_whether_it_wanted_json() {
        let ask =
            |args: &[&str]| json_requested(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>());
        assert_eq!(
            ask(&["build", "--json", "--shard", "3/2"]),
            Some(JsonMode::Actions)
        );
        assert_eq!(
            ask(&["build", "--json=all", "--bogus"]),
            Some(JsonMode::All)
        );
        assert_eq!(ask(&["build", "--shard", "3/2"]), None);
        assert_eq!(ask(&["build", "--", "--json"]), None);
    }

    #[test]
    fn json_flag_takes_an_optional_mode() {
        let parse = |args: &[&str]| {
            let Command::Build(b) = Cli::try_parse_from(args).unwrap().command else {
                panic!("expected build")
            };
            b.json
        };
        assert_eq!(
            parse(&["thumbgen", "build", "--json"]),
            Some(JsonMode::Actions)
        );
        assert_eq!(
            parse(&["thumbgen", "build", "--json=all"]),
            Some(JsonMode::All)
        );
        assert!(Cli::try_parse_from(["thumbgen", "build", "--check", "--force"]).is_err());
    }

    #[test]
    fn remote_and_shard_parse() {
        let Command::Build(b) = Cli::parse_from([
            "thumbgen",
            "build",
            "--remote",
            "read-only",
            "--shard",
            "2/3",
        ])
        .command
        else {
            panic!("expected build")
        };
        assert_eq!(b.remote, Some(RemoteArg::ReadOnly));
        assert_eq!(b.shard, Some(Shard { index: 2, count: 3 }));
        for bad in [["--shard", "4/3"], ["--remote", "write"]] {
            let mut args = vec!["thumbgen", "build"];
            args.extend(bad);
            let error = Cli::try_parse_from(args).unwrap_err();
            assert!(error.to_string().contains(bad[0]), "{error}");
        }
    }
}
