//! The `thumbgen` command: parses the command line, installs the Ctrl-C
//! handler and runs the library's [`thumbgen::run`].

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{CommandFactory, FromArgMatches};

static STOP: AtomicBool = AtomicBool::new(false);

fn main() -> ExitCode {
    // Run as the decoding helper of another thumbgen process.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if args.first().map(String::as_str) == Some(thumbgen::render::isolate::SERVE_ARG) {
        let served = thumbgen::render::isolate::serve(&args[1..]);
        return ExitCode::from(u8::from(served.is_err()));
    }
    if let Ok(exe) = std::env::current_exe() {
        thumbgen::render::isolate::isolate_in(exe);
    }
    // `--version` names the codecs and whether their SIMD kernels are in;
    // the text is made at run time, and clap wants it for the whole run.
    let command = thumbgen::cli::Cli::command()
        .long_version(String::leak(thumbgen::codecs::long_version()) as &str);
    let matches = command.try_get_matches().unwrap_or_else(|e| {
        // clap explains a refused command line on stderr; `--json` still
        // gets its error event and summary on stdout.
        if e.use_stderr() {
            if let Some(json) = thumbgen::cli::json_requested(&args) {
                let message = e.to_string();
                let first = message.lines().next().unwrap_or_default();
                thumbgen::report::Reporter::with_options(true, false, Some(json))
                    .usage_error(first.trim_start_matches("error: "));
            }
        }
        e.exit()
    });
    let cli = thumbgen::cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // First Ctrl-C: finish the outputs being written, record them, exit 130.
    // A second one: leave at once (temporary files are swept next run).
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(thumbgen::error::Exit::Interrupted.code().into());
        }
    });
    ExitCode::from(thumbgen::run(cli, &STOP).code())
}
