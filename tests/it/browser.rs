//! The example page in a real browser: thumbgen builds a copy of
//! `examples/images` with responsive sets, `examples/site/build.mjs` makes
//! a page of the manifest's picture snippets, and `tests/browser/check.mjs`
//! loads it in headless Chromium at a phone's and a desktop's width (every
//! image loads, AVIF is chosen where offered, srcset picks the right width,
//! nothing shifts as images arrive).
//!
//! It needs Node.js, Debian's Chromium and `npm ci --prefix tests/browser`.
//! Without them it says so and passes, except on CI (`CI` set), where
//! `.ci/run` installs them and their absence is a failure.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{copy_dir, Env};

const CONFIG: &str = r#"source = "images"
output = "site/thumbs"
manifest = "site/thumbs/manifest.json"
url_prefix = "thumbs/"
placeholder = "thumbhash"

[[variants]]
name = "photo"
widths = [320, 640, 1280]
formats = ["avif", "webp", "jpeg"]

[[variants]]
name = "thumb"
width = 256
height = 256
fit = "cover"
format = "jpeg"
"#;

/// The browser check.mjs launches: the same default, and override, as it.
fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// What is missing to run the check, each with how to install it.
fn missing_tools(repo: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|out| out.status.success()) {
        missing.push("node (Node.js 20 or newer)".to_string());
    }
    let chromium = chromium();
    if !chromium.is_file() {
        missing.push(format!(
            "{} (apt-get install chromium, or set CHROMIUM)",
            chromium.display()
        ));
    }
    let playwright = repo.join("tests/browser/node_modules/playwright-core");
    if !playwright.is_dir() {
        missing.push("playwright-core (npm ci --prefix tests/browser)".to_string());
    }
    missing
}

/// Whether the tools are there; outside CI, says what is not.
#[allow(clippy::print_stderr)] // says why it did not run, in the test log
fn tools_present(repo: &Path) -> bool {
    let missing = missing_tools(repo);
    if missing.is_empty() {
        return true;
    }
    let missing = missing.join(", ");
    if std::env::var_os("CI").is_none() {
        eprintln!("skipped: not found: {missing}");
        return false;
    }
    panic!("the browser test is required on CI; install {missing}");
}

/// `node ARGS` in the project's folder, asserting that it succeeds.
fn node(env: &Env, args: &[&OsStr]) {
    let out = Command::new("node")
        .current_dir(env.root())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "node {args:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_example_page_loads_its_images_right_in_chromium() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !tools_present(repo) {
        return;
    }
    let env = Env::new("");
    copy_dir(&repo.join("examples/images"), &env.root().join("images"));
    env.write_config(CONFIG);
    env.build(&[], 0);

    node(
        &env,
        &[
            repo.join("examples/site/build.mjs").as_os_str(),
            "site/thumbs/manifest.json".as_ref(),
            "site/index.html".as_ref(),
        ],
    );
    // Kept after the run (under target/), for a look at what was checked.
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser/example-site.png");
    let _ = std::fs::remove_file(&screenshot);
    node(
        &env,
        &[
            repo.join("tests/browser/check.mjs").as_os_str(),
            "--root".as_ref(),
            "site".as_ref(),
            "--page".as_ref(),
            "index.html".as_ref(),
            "--screenshot".as_ref(),
            screenshot.as_os_str(),
        ],
    );
    let bytes = std::fs::metadata(&screenshot).map_or(0, |m| m.len());
    assert!(bytes > 0, "no screenshot at {}", screenshot.display());
}
