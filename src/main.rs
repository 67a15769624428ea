//! The `thumbgen` command: parses the command line, installs the Ctrl-C
//! handler and runs the library's [`thumbgen::run`].

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;

static STOP: AtomicBool = AtomicBool::new(false);

fn main() -> ExitCode {
    // Run as the AV1 decoding helper of another thumbgen process.
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() == Some(thumbgen::render::av1::SERVE_ARG.as_ref()) {
        let max_pixels = args.next().unwrap_or_default();
        let served = thumbgen::render::av1::serve(&max_pixels.to_string_lossy());
        return ExitCode::from(u8::from(served.is_err()));
    }
    if let Ok(exe) = std::env::current_exe() {
        thumbgen::render::av1::isolate_in(exe);
    }
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
