//! `thumbgen watch` driven through real file-system changes. Every wait
//! polls for a condition with a deadline; after each scenario the tree must
//! equal what a fresh `thumbgen build` of the same sources produces.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

const DEADLINE: Duration = Duration::from_secs(30);

struct Watching<'a> {
    env: &'a Env,
    child: Child,
    log: PathBuf,
}

impl<'a> Watching<'a> {
    fn start(env: &'a Env) -> Watching<'a> {
        Watching::start_with(env, &[])
    }

    fn start_with(env: &'a Env, args: &[&str]) -> Watching<'a> {
        let log = env.root().join("watch.log");
        let child = Command::new(assert_cmd::cargo::cargo_bin("thumbgen"))
            .arg("watch")
            .args(args)
            .current_dir(env.root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let w = Watching { env, child, log };
        w.wait_for("watching", |log| log.contains("watching "));
        w
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Poll until `done(log)` holds; panic with the log at the deadline.
    fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) {
        let start = Instant::now();
        while start.elapsed() < DEADLINE {
            if done(&self.log()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("timed out waiting for {what}; log:\n{}", self.log());
    }

    /// Poll until the output tree has exactly these files.
    fn wait_for_outputs(&self, expected: &[&str]) {
        let start = Instant::now();
        let mut files = Vec::new();
        while start.elapsed() < DEADLINE {
            files = self.env.output_files();
            if files == expected {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "timed out waiting for outputs {expected:?}; have {files:?}; log:\n{}",
            self.log()
        );
    }

    /// Ctrl-C, and the exit code.
    fn stop(mut self) -> (i32, String) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code().unwrap_or(-1), self.log());
            }
            assert!(start.elapsed() < DEADLINE, "watch did not stop on SIGINT");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watching<'_> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The tree after watching equals a clean build of the same sources.
fn assert_same_as_clean_build(env: &Env) {
    let clean = env.fresh_copy();
    let _ = clean.cmd(&["build"]);
    assert!(
        env.outputs() == clean.outputs(),
        "watch tree {:?} != clean build {:?}",
        env.outputs().keys().collect::<Vec<_>>(),
        clean.outputs().keys().collect::<Vec<_>>()
    );
}

fn summaries(log: &str) -> usize {
    log.lines().filter(|l| l.starts_with("built ")).count()
}

#[test]
fn add_modify_delete_and_ctrl_c() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 100, 80, 1);
    let w = Watching::start(&env);
    w.wait_for_outputs(&["large/a.webp", "thumb/a.jpg"]);

    env.add_image("shoes/b.png", 90, 90, 2);
    w.wait_for_outputs(&[
        "large/a.webp",
        "large/shoes/b.webp",
        "thumb/a.jpg",
        "thumb/shoes/b.jpg",
    ]);

    let before = std::fs::read(env.out("thumb/a.jpg")).unwrap();
    env.add_image("a.jpg", 100, 80, 99);
    let start = Instant::now();
    while std::fs::read(env.out("thumb/a.jpg")).unwrap() == before {
        assert!(
            start.elapsed() < DEADLINE,
            "a.jpg was not rebuilt:\n{}",
            w.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    std::fs::remove_file(env.src("shoes/b.png")).unwrap();
    w.wait_for_outputs(&["large/a.webp", "thumb/a.jpg"]);

    let (code, log) = w.stop();
    assert_eq!(code, 0, "{log}");
    assert!(!log.contains("error"), "{log}");
    assert_same_as_clean_build(&env);
    // the database is consistent: a build after watch has nothing to do
    assert_eq!(env.build(&[], 0).summary(), [0, 2, 0, 0]);
}

#[test]
fn polling_watcher_sees_changes_too() {
    let env = Env::new(TWO_VARIANTS);
    let w = Watching::start_with(&env, &["--poll"]);
    env.add_image("p.jpg", 50, 50, 1);
    w.wait_for_outputs(&["large/p.webp", "thumb/p.jpg"]);
    std::fs::remove_file(env.src("p.jpg")).unwrap();
    w.wait_for_outputs(&[]);
    let (code, _) = w.stop();
    assert_eq!(code, 0);
}

#[test]
fn slow_copy_is_built_once_from_the_whole_file() {
    let env = Env::new(TWO_VARIANTS);
    let w = Watching::start(&env);
    let bytes = image_bytes("big.jpg", 300, 200, 5);
    let mut file = File::create(env.src("big.jpg")).unwrap();
    // 12 chunks, 100 ms apart: over a second of writing, with gaps well
    // inside the 200 ms quiet period even on a loaded machine.
    for chunk in bytes.chunks(bytes.len() / 12 + 1) {
        use std::io::Write;
        file.write_all(chunk).unwrap();
        file.flush().unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(file);
    w.wait_for_outputs(&["large/big.webp", "thumb/big.jpg"]);
    let (code, log) = w.stop();
    assert_eq!(code, 0);
    assert!(
        !log.contains("error"),
        "a half-written file was decoded:\n{log}"
    );
    assert_same_as_clean_build(&env);
}

#[test]
fn save_by_rename_and_temp_files() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("x.jpg", 80, 80, 1);
    let w = Watching::start(&env);
    w.wait_for_outputs(&["large/x.webp", "thumb/x.jpg"]);
    let before = std::fs::read(env.out("thumb/x.jpg")).unwrap();
    let builds = summaries(&w.log());

    // an editor's save: write a temp file, rename it over the original
    std::fs::write(env.src("x.jpg.tmp"), image_bytes("x.jpg", 80, 80, 2)).unwrap();
    std::fs::rename(env.src("x.jpg.tmp"), env.src("x.jpg")).unwrap();
    // vim-style swap and backup files
    std::fs::write(env.src(".x.jpg.swp"), b"swap").unwrap();
    std::fs::write(env.src("x.jpg~"), b"backup").unwrap();

    let start = Instant::now();
    while std::fs::read(env.out("thumb/x.jpg")).unwrap() == before {
        assert!(start.elapsed() < DEADLINE, "not rebuilt:\n{}", w.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    w.wait_for("the summary of the rebuild", |log| summaries(log) > builds);
    let (code, log) = w.stop();
    assert_eq!(code, 0);
    for temp in ["x.jpg.tmp", ".x.jpg.swp", "x.jpg~"] {
        assert!(
            !log.contains(temp),
            "{temp} was treated as a source:\n{log}"
        );
    }
    assert_eq!(
        summaries(&log),
        builds + 1,
        "one rebuild for one save:\n{log}"
    );
    assert_same_as_clean_build(&env);
}

#[test]
fn burst_of_files_is_batched() {
    let env = Env::new(TWO_VARIANTS);
    let w = Watching::start(&env);
    let mut expected = Vec::new();
    for i in 0..200 {
        env.add_image(&format!("burst/{i:03}.jpg"), 40, 30, i);
        expected.push(format!("large/burst/{i:03}.webp"));
        expected.push(format!("thumb/burst/{i:03}.jpg"));
    }
    expected.sort();
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    w.wait_for_outputs(&expected);
    let (code, log) = w.stop();
    assert_eq!(code, 0);
    // the initial build plus a few batches, not one build per file (the
    // bound leaves room for a slow machine pausing mid-burst)
    assert!(
        summaries(&log) <= 20,
        "too many builds for one burst:\n{log}"
    );
    assert_same_as_clean_build(&env);
}

#[test]
fn folders_renamed_and_moved_out() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("cat/a.jpg", 60, 60, 1);
    env.add_image("cat/b.jpg", 60, 60, 2);
    env.add_image("dog/c.jpg", 60, 60, 3);
    let w = Watching::start(&env);
    w.wait_for_outputs(&[
        "large/cat/a.webp",
        "large/cat/b.webp",
        "large/dog/c.webp",
        "thumb/cat/a.jpg",
        "thumb/cat/b.jpg",
        "thumb/dog/c.jpg",
    ]);
    std::fs::rename(env.src("cat"), env.src("kitten")).unwrap();
    std::fs::rename(env.src("dog"), env.root().join("dog-elsewhere")).unwrap();
    w.wait_for_outputs(&[
        "large/kitten/a.webp",
        "large/kitten/b.webp",
        "thumb/kitten/a.jpg",
        "thumb/kitten/b.jpg",
    ]);
    std::fs::rename(env.root().join("dog-elsewhere"), env.src("dog")).unwrap();
    w.wait_for_outputs(&[
        "large/dog/c.webp",
        "large/kitten/a.webp",
        "large/kitten/b.webp",
        "thumb/dog/c.jpg",
        "thumb/kitten/a.jpg",
        "thumb/kitten/b.jpg",
    ]);
    let (code, _) = w.stop();
    assert_eq!(code, 0);
    assert_same_as_clean_build(&env);
}

#[test]
fn broken_file_is_reported_and_fixing_it_builds_it() {
    let env = Env::new(TWO_VARIANTS);
    let w = Watching::start(&env);
    std::fs::write(env.src("bad.jpg"), b"this is not a jpeg").unwrap();
    w.wait_for("the error", |log| log.contains("bad.jpg"));
    env.add_image("bad.jpg", 50, 50, 1);
    w.wait_for_outputs(&["large/bad.webp", "thumb/bad.jpg"]);
    let (code, _) = w.stop();
    assert_eq!(code, 0);
    assert_same_as_clean_build(&env);
}

#[test]
fn config_edits_reload_and_invalid_ones_keep_the_last_good() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 200, 200, 1);
    let w = Watching::start(&env);
    w.wait_for_outputs(&["large/a.webp", "thumb/a.jpg"]);
    let large = std::fs::read(env.out("large/a.webp")).unwrap();

    env.set_variants(&TWO_VARIANTS.replace("width = 64", "width = 32"));
    let start = Instant::now();
    while decode(&env.out("thumb/a.jpg")).width() != 32 {
        assert!(
            start.elapsed() < DEADLINE,
            "variant not rebuilt:\n{}",
            w.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        std::fs::read(env.out("large/a.webp")).unwrap(),
        large,
        "other variant untouched"
    );

    env.set_variants(&TWO_VARIANTS.replace("width = 64", "width = 0"));
    w.wait_for("the config error", |log| {
        log.contains("keeping the last good config")
    });
    env.add_image("b.jpg", 100, 100, 2);
    w.wait_for_outputs(&["large/a.webp", "large/b.webp", "thumb/a.jpg", "thumb/b.jpg"]);
    assert_eq!(
        decode(&env.out("thumb/b.jpg")).width(),
        32,
        "built with the last good config"
    );
    let (code, _) = w.stop();
    assert_eq!(code, 0);
}

#[test]
fn output_beside_source_causes_no_rebuild_loop() {
    let env = Env::new(TWO_VARIANTS);
    env.write_config(&format!(
        "source = \"images\"\noutput = \"images-out\"\n{TWO_VARIANTS}"
    ));
    env.add_image("a.jpg", 60, 60, 1);
    let w = Watching::start(&env);
    let out = env.root().join("images-out/thumb/a.jpg");
    let start = Instant::now();
    while !out.exists() {
        assert!(start.elapsed() < DEADLINE, "{}", w.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    // Writing outputs and the cache must not wake the watcher: over a second
    // of idling, no further build starts.
    let builds = summaries(&w.log());
    std::thread::sleep(Duration::from_millis(1000));
    let (code, log) = w.stop();
    assert_eq!(code, 0);
    assert_eq!(summaries(&log), builds, "rebuild loop:\n{log}");
}
