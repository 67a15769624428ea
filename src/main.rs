//! The `thumbgen` command: parses the command line, installs the Ctrl-C
//! handler and runs the library's [`thumbgen::run`].

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;

static STOP: AtomicBool = AtomicBool::new(false);

fn main() -> ExitCode {
    let cli = thumbgen::cli::Cli::parse();
    // First Ctrl-C: finish the outputs being written, record them, exit 130.
    // A second one: leave at once (temporary files are swept next run).
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(thumbgen::error::Exit::Interrupted.code().into());
        }
    });
    ExitCode::from(thumbgen::run(cli, &STOP).code())
}
