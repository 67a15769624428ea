//! Snapshots of what a user sees: the human output on stderr (and stdout
//! where something is printed there) of the real binary in the main
//! scenarios. The snapshots are in `tests/it/snapshots/`; when a message
//! changes on purpose, re-bless them with
//! `INSTA_UPDATE=always cargo test --test it` (or `cargo insta review`)
//! and read the diff.
//!
//! Each snapshot is a transcript: the command, its exit code, stdout and
//! stderr, with the temporary folder as `[ROOT]`, timings as `[TIME]` and
//! pids as `[PID]` (see `common::snapshot_settings`). A story of several
//! runs puts a `#` line before each step saying what was done.

use crate::common::*;

/// A small project: two variants, sources in nested folders.
fn project() -> Env {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("shoes/red.jpg", 400, 300, 1);
    env.add_image("shoes/blue.png", 120, 200, 2);
    env.add_image("bags/leather/brown.jpg", 300, 300, 3);
    env.add_image("hero.jpg", 640, 360, 4);
    env
}

#[test]
fn cold_build() {
    let env = project();
    let run = env.build(&[], 0);
    assert_transcript!("cold_build", env, run);
    let other = project();
    let explained = other.build(&["--explain"], 0);
    assert_transcript!("cold_build_explain", other, explained);
}

#[test]
fn noop_build() {
    let env = project();
    env.build(&[], 0);
    let plain = env.build(&[], 0);
    let explained = env.build(&["--explain"], 0);
    assert_transcript!(
        "noop_build",
        env,
        story(&[
            ("built once already", &plain),
            ("nothing to explain either", &explained),
        ])
    );
}

/// Failing sources mixed with good ones. `-j1`: the sources that fail while
/// rendering are reported as workers finish them, so with more threads
/// their lines come in any order.
#[test]
fn failures() {
    let env = project();
    let jpeg = image_bytes("x.jpg", 200, 150, 9);
    // A JPEG cut off after its headers: the pixels are missing.
    std::fs::write(env.src("shoes/corrupt.jpg"), &jpeg[..jpeg.len() / 3]).unwrap();
    std::fs::write(env.src("empty.jpg"), b"").unwrap();
    std::fs::write(
        env.src("bags/notes.jpg"),
        b"remember to reorder the blue bags\n",
    )
    .unwrap();
    // Both would write thumb/twin.jpg and large/twin.webp.
    env.add_image("twin.png", 80, 80, 5);
    env.add_image("twin.jpg", 80, 80, 6);
    let run = env.build(&["-j1"], 1);
    let again = env.build(&["-j1", "--explain"], 1);
    assert_transcript!(
        "failures",
        env,
        story(&[
            (
                "a corrupt, an empty and a text file, and twin.png + twin.jpg",
                &run
            ),
            ("the same again: the failures are retried", &again),
        ])
    );
}

#[test]
fn explain_after_edits() {
    let env = project();
    env.build(&[], 0);
    let mut steps = Vec::new();

    env.add_image("shoes/red.jpg", 400, 300, 100);
    steps.push(("shoes/red.jpg: new pixels", env.build(&["--explain"], 0)));

    touch(&env.src("shoes/blue.png"), 10);
    steps.push((
        "shoes/blue.png: touched, same bytes",
        env.build(&["--explain"], 0),
    ));

    std::fs::remove_file(env.src("bags/leather/brown.jpg")).unwrap();
    steps.push((
        "bags/leather/brown.jpg: deleted",
        env.build(&["--explain"], 0),
    ));

    env.set_variants(&TWO_VARIANTS.replace("width = 64", "width = 48"));
    steps.push((
        "variant thumb: width 64 -> 48",
        env.build(&["--explain"], 0),
    ));

    std::fs::remove_file(env.out("thumb/hero.jpg")).unwrap();
    steps.push((
        "output thumb/hero.jpg: deleted by hand",
        env.build(&["--explain"], 0),
    ));

    std::fs::write(env.out("large/shoes/red.webp"), b"retouched").unwrap();
    steps.push((
        "output large/shoes/red.webp: edited by hand",
        env.build(&["--explain"], 0),
    ));

    let steps: Vec<_> = steps.iter().map(|(what, run)| (*what, run)).collect();
    assert_transcript!("explain_after_edits", env, story(&steps));
}

#[test]
fn check() {
    let env = project();
    env.build(&[], 0);
    let up_to_date = env.build(&["--check"], 0);
    env.add_image("hero.jpg", 640, 360, 40);
    std::fs::remove_file(env.src("shoes/blue.png")).unwrap();
    env.add_image("shoes/green.png", 90, 90, 41);
    let stale = env.build(&["--check"], 1);
    assert_transcript!(
        "check",
        env,
        story(&[
            ("after a build", &up_to_date),
            (
                "hero.jpg: new pixels; shoes/blue.png: deleted; shoes/green.png: added",
                &stale
            ),
        ])
    );
}

#[test]
fn dry_run() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 120, 80, 1);
    let fresh = env.build(&["--dry-run"], 0);
    env.build(&[], 0);
    std::fs::remove_file(env.src("a.jpg")).unwrap();
    env.add_image("b/c.png", 60, 90, 2);
    let edited = env.build(&["--dry-run"], 0);
    assert_transcript!(
        "dry_run",
        env,
        story(&[
            ("a new project with a.jpg", &fresh),
            ("after a build: a.jpg deleted, b/c.png added", &edited),
        ])
    );
}

#[test]
fn config_errors() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 50, 50, 1);
    let mut steps = Vec::new();

    env.set_variants(&TWO_VARIANTS.replace("format = \"webp\"", "formt = \"webp\""));
    steps.push(("unknown key: formt", env.build(&[], 2)));

    env.set_variants(&TWO_VARIANTS.replace("height = 64", "height = \"64\""));
    steps.push(("wrong type: height = \"64\"", env.build(&[], 2)));

    env.set_variants(&TWO_VARIANTS.replace("width = 64", "width = 0"));
    steps.push(("width = 0", env.build(&[], 2)));
    assert!(
        !env.root().join("public").exists() && !env.root().join(".thumbgen").exists(),
        "no work before validation"
    );

    env.set_variants(TWO_VARIANTS);
    std::fs::remove_dir_all(env.root().join("images")).unwrap();
    steps.push(("the source folder images/ is missing", env.build(&[], 2)));

    std::fs::remove_file(env.root().join(".thumbgen.toml")).unwrap();
    steps.push(("no .thumbgen.toml here or above", env.build(&[], 2)));

    let steps: Vec<_> = steps.iter().map(|(what, run)| (*what, run)).collect();
    assert_transcript!("config_errors", env, story(&steps));
}

#[test]
fn help() {
    let env = Env::new(TWO_VARIANTS);
    assert_transcript!("help", env, env.run(&["--help"]));
    assert_transcript!("build_help", env, env.run(&["build", "--help"]));
}

/// `--json` events on stdout. `-j1`: `built` events are printed as workers
/// finish, in any order with more threads. Byte sizes depend on the
/// encoder libraries' versions; `ci::json_events_match_the_file_system`
/// checks them against the files.
#[test]
fn json_build() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 200, 100, 1);
    env.add_image("b/c.png", 100, 100, 2);
    std::fs::write(env.src("broken.jpg"), b"nope").unwrap();
    let run = env.build(&["--json", "-j1"], 1);
    let text = normalize(&run.to_string(), &[env.root()]);
    let text = replace_numbers(&text, "\"bytes\":", "", "\"bytes\":[BYTES]", false);
    snapshot_settings().bind(|| insta::assert_snapshot!("json_build", text));
}
