//! `thumbgen watch` driven through real file-system changes. Every wait
//! polls for a condition with a deadline; nothing sleeps to let the watcher
//! catch up, and no assertion counts builds that scheduling could split or
//! merge. After each scenario the tree must equal what a fresh
//! `thumbgen build` of the same sources produces. (The exact batching rules
//! are unit tests in `src/watch/`, in virtual time.)

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

const DEADLINE: Duration = Duration::from_secs(30);
/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(20);

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
        let w = Watching::spawn(env, args);
        w.wait_for("watching", |log| log.contains("watching "));
        w
    }

    /// Start `thumbgen watch` without waiting for its first build.
    fn spawn(env: &'a Env, args: &[&str]) -> Watching<'a> {
        let log = env.root().join("watch.log");
        let child = Command::new(env!("CARGO_BIN_EXE_thumbgen"))
            .arg("watch")
            .args(args)
            .current_dir(env.root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Watching { env, child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Poll until `done()` holds; panic with the log at the deadline.
    fn wait_until(&self, what: &str, done: impl Fn() -> bool) {
        let start = Instant::now();
        while start.elapsed() < DEADLINE {
            if done() {
                return;
            }
            std::thread::sleep(POLL);
        }
        panic!("timed out waiting for {what}; log:\n{}", self.log());
    }

    /// Poll until `done(log)` holds.
    fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) {
        self.wait_until(what, || done(&self.log()));
    }

    /// Poll until the output tree has exactly these files.
    fn wait_for_outputs(&self, expected: &[&str]) {
        self.wait_until(&format!("outputs {expected:?}"), || {
            self.env.output_files() == expected
        });
    }

    /// Poll until the output tree is byte for byte what a clean build of
    /// the current sources makes; that tree.
    fn wait_for_clean_build_tree(&self) -> BTreeMap<String, Vec<u8>> {
        let clean = clean_build(self.env);
        let start = Instant::now();
        while start.elapsed() < DEADLINE {
            if self.env.outputs() == clean {
                return clean;
            }
            std::thread::sleep(POLL);
        }
        panic!(
            "timed out waiting for the tree of a clean build {:?}; have {:?}; log:\n{}",
            clean.keys().collect::<Vec<_>>(),
            self.env.outputs().keys().collect::<Vec<_>>(),
            self.log()
        );
    }

    /// Ctrl-C; the exit code and the whole log.
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
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Watching<'_> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The output tree of a clean build of `env`'s config and sources.
fn clean_build(env: &Env) -> BTreeMap<String, Vec<u8>> {
    let clean = env.fresh_copy();
    let _ = clean.cmd(&["build"]);
    clean.outputs()
}

fn summaries(log: &str) -> usize {
    log.lines().filter(|l| l.starts_with("built ")).count()
}

/// The `changed: …` lines: one per batch that had changed paths.
fn changed_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.starts_with("changed: ")).collect()
}

fn error_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.starts_with("error")).collect()
}

/// Bytes of a file, `None` while it is missing.
fn read(path: PathBuf) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
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

    let before = read(env.out("thumb/a.jpg"));
    env.add_image("a.jpg", 100, 80, 99);
    w.wait_until("a.jpg rebuilt", || read(env.out("thumb/a.jpg")) != before);

    std::fs::remove_file(env.src("shoes/b.png")).unwrap();
    w.wait_for_outputs(&["large/a.webp", "thumb/a.jpg"]);
    let clean = w.wait_for_clean_build_tree();

    let (code, log) = w.stop();
    assert_eq!(code, 0, "{log}");
    assert_eq!(error_lines(&log), Vec::<&str>::new(), "{log}");
    assert!(env.outputs() == clean, "Ctrl-C changed the tree");
    // the database is consistent: a build after watch has nothing to do
    assert_eq!(env.build(&[], 0).summary(), [0, 2, 0, 0]);
}

/// Ctrl-C during the first build: the build stops as `build` does, the
/// watcher does not go on to watch, and the exit says the work is undone.
#[test]
fn ctrl_c_during_the_first_build_exits_130_without_watching() {
    let env = Env::new(TWO_VARIANTS);
    for i in 0..60 {
        env.add_image(&format!("p{i:03}.jpg"), 1000, 750, i);
    }
    let w = Watching::spawn(&env, &["-j1"]);
    w.wait_until("a first output", || !env.output_files().is_empty());
    let (code, log) = w.stop();
    assert_eq!(code, 130, "{log}");
    assert!(log.contains("interrupted"), "{log}");
    assert!(!log.contains("watching "), "{log}");
    // What it did build is recorded: the next build does only the rest.
    let run = env.build(&[], 0);
    let [built, up_to_date, ..] = run.summary();
    assert_eq!(built + up_to_date, 120, "{run}");
    assert!(up_to_date > 0 && built > 0, "{run}");
}

#[test]
fn polling_watcher_sees_changes_too() {
    let env = Env::new(TWO_VARIANTS);
    let w = Watching::start_with(&env, &["--poll"]);
    env.add_image("p.jpg", 50, 50, 1);
    w.wait_for_outputs(&["large/p.webp", "thumb/p.jpg"]);
    std::fs::remove_file(env.src("p.jpg")).unwrap();
    w.wait_for_outputs(&[]);
    let (code, log) = w.stop();
    assert_eq!(code, 0, "{log}");
}

#[test]
fn slow_copy_is_built_from_the_whole_file() {
    let env = Env::new(TWO_VARIANTS);
    // A quiet period ten times the gap between chunks: a loaded machine
    // stretching a gap must not look like the end of the copy.
    let w = Watching::start_with(&env, &["--debounce", "1000"]);
    let bytes = image_bytes("big.jpg", 300, 200, 5);
    let mut file = File::create(env.src("big.jpg")).unwrap();
    // The scenario, not synchronisation: 12 chunks 100 ms apart, over a
    // second of writing.
    for chunk in bytes.chunks(bytes.len() / 12 + 1) {
        use std::io::Write;
        file.write_all(chunk).unwrap();
        file.flush().unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(file);
    let clean = w.wait_for_clean_build_tree();
    let (code, log) = w.stop();
    assert_eq!(code, 0, "{log}");
    assert_eq!(
        error_lines(&log),
        Vec::<&str>::new(),
        "a half-written file was decoded:\n{log}"
    );
    assert!(env.outputs() == clean);
}

#[test]
fn save_by_rename_and_temp_files() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("x.jpg", 80, 80, 1);
    let w = Watching::start(&env);
    w.wait_for_outputs(&["large/x.webp", "thumb/x.jpg"]);
    let before = read(env.out("thumb/x.jpg"));

    // an editor's save: write a temp file, rename it over the original
    std::fs::write(env.src("x.jpg.tmp"), image_bytes("x.jpg", 80, 80, 2)).unwrap();
    std::fs::rename(env.src("x.jpg.tmp"), env.src("x.jpg")).unwrap();
    // vim-style swap and backup files
    std::fs::write(env.src(".x.jpg.swp"), b"swap").unwrap();
    std::fs::write(env.src("x.jpg~"), b"backup").unwrap();

    w.wait_until("x.jpg rebuilt", || read(env.out("thumb/x.jpg")) != before);
    w.wait_for_clean_build_tree();
    let (code, log) = w.stop();
    assert_eq!(code, 0, "{log}");
    // Every batch was the photo alone: the temp files never made one.
    let changed = changed_lines(&log);
    assert!(
        !changed.is_empty() && changed.iter().all(|l| *l == "changed: images/x.jpg"),
        "{log}"
    );
}

#[test]
fn burst_of_files_is_batched() {
    let env = Env::new(TWO_VARIANTS);
    let w = Watching::start(&env);
    for i in 0..200 {
        env.add_image(&format!("burst/{i:03}.jpg"), 40, 30, i);
    }
    let clean = w.wait_for_clean_build_tree();
    assert_eq!(
        clean.len(),
        2 * 200 + 4 + 2,
        "400 outputs in four folders, two of them variants' with their markers"
    );
    let (code, log) = w.stop();
    assert_eq!(code, 0, "{log}");
    // A loose bound, not a count: the initial build plus a few batches,
    // never one build per file, however the machine schedules the writes.
    assert!(
        summaries(&log) <= 20,
        "too many builds for one burst:\n{log}"
    );
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
    w.wait_for_clean_build_tree();
    let (code, log) = w.stop();
    assert_eq!(code, 0, "{log}");
}

#[test]
fn broken_file_is_reported_and_fixing_it_builds_it() {
    let env = Env::new(TWO_VARIANTS);
    let w = Watching::start(&env);
    std::fs::write(env.src("bad.jpg"), b"this is not a jpeg").unwrap();
    w.wait_for("the error", |log| {
        error_lines(log).iter().any(|l| l.contains("bad.jpg"))
    });
    env.add_image("bad.jpg", 50, 50, 1);
    w.wait_for_outputs(&["large/bad.webp", "thumb/bad.jpg"]);
    w.wait_for_clean_build_tree();
    let (code, log) = w.stop();
    assert_eq!(code, 0, "{log}");
}

#[test]
fn config_edits_reload_and_invalid_ones_keep_the_last_good() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 200, 200, 1);
    let w = Watching::start(&env);
    w.wait_for_outputs(&["large/a.webp", "thumb/a.jpg"]);
    let large = read(env.out("large/a.webp"));

    env.set_variants(&TWO_VARIANTS.replace("width = 64", "width = 32"));
    w.wait_until("the thumb variant rebuilt 32 wide", || {
        decode(&env.out("thumb/a.jpg")).width() == 32
    });
    assert_eq!(
        read(env.out("large/a.webp")),
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
    let (code, log) = w.stop();
    assert_eq!(code, 0, "{log}");
}

#[test]
fn output_beside_source_causes_no_rebuild_loop() {
    let env = Env::new(TWO_VARIANTS);
    env.write_config(&format!(
        "source = \"images\"\noutput = \"images-out\"\n{TWO_VARIANTS}"
    ));
    env.add_image("a.jpg", 60, 60, 1);
    let w = Watching::start(&env);
    let out = |rel: &str| env.root().join("images-out/thumb").join(rel);
    w.wait_until("a.jpg built", || out("a.jpg").exists());
    // Events arrive in order: once a later change has been built, the
    // events of every earlier build's writes were seen before it. Two such
    // markers cover the first build and a rebuild.
    env.add_image("b.jpg", 60, 60, 2);
    w.wait_until("b.jpg built", || out("b.jpg").exists());
    env.add_image("c.jpg", 60, 60, 3);
    w.wait_until("c.jpg built", || out("c.jpg").exists());
    let (code, log) = w.stop();
    assert_eq!(code, 0, "{log}");
    // Every build after the first was for a change we made: writing the
    // outputs and the cache never started one.
    let changed = changed_lines(&log);
    assert!(
        changed
            .iter()
            .all(|l| ["changed: images/b.jpg", "changed: images/c.jpg"].contains(l)),
        "rebuild loop:\n{log}"
    );
    assert_eq!(summaries(&log), 1 + changed.len(), "rebuild loop:\n{log}");
}

#[test]
fn zero_debounce_builds_and_a_huge_one_is_refused() {
    let env = Env::new(TWO_VARIANTS);
    let refused = env.cmd(&["watch", "--debounce", "60001"]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--debounce"), "{stderr}");

    let w = Watching::start_with(&env, &["--debounce", "0"]);
    env.add_image("now.jpg", 50, 50, 1);
    w.wait_for_outputs(&["large/now.webp", "thumb/now.jpg"]);
    w.wait_for_clean_build_tree();
    let (code, log) = w.stop();
    assert_eq!(code, 0, "{log}");
}

#[test]
fn a_build_or_clean_beside_a_watch_is_refused_naming_the_watcher() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 100, 80, 1);
    let w = Watching::start(&env);
    w.wait_for_outputs(&["large/a.webp", "thumb/a.jpg"]);
    let pid = w.child.id().to_string();
    for command in [&["build"][..], &["clean"][..]] {
        let run = Run::from(env.cmd(command));
        assert_eq!(run.code, 2, "{command:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(&format!(
                "a `thumbgen watch` (pid {pid}) is using the cache .thumbgen, and keeps the outputs fresh until it is stopped; stop it"
            )),
            "{command:?} names the watcher as a watcher: {}",
            run.stderr
        );
    }
    // Nothing was removed under the watcher, and it still follows edits.
    env.add_image("b.jpg", 100, 80, 2);
    w.wait_for_outputs(&["large/a.webp", "large/b.webp", "thumb/a.jpg", "thumb/b.jpg"]);
    assert_eq!(env.outputs(), clean_build(&env));
}

#[test]
fn a_watch_started_during_another_run_waits_and_then_builds_everything() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 100, 80, 1);
    // Another run holds the cache (as a long `thumbgen build` would).
    let cache = env.root().join(".thumbgen");
    std::fs::create_dir_all(&cache).unwrap();
    let held = File::create(cache.join("lock")).unwrap();
    held.try_lock().unwrap();
    let w = Watching::spawn(&env, &[]);
    w.wait_for("the wait to be announced", |log| {
        log.contains("waiting until it finishes")
    });
    // A source added while the watcher waits is not lost.
    env.add_image("b.jpg", 100, 80, 2);
    drop(held);
    w.wait_for_outputs(&["large/a.webp", "large/b.webp", "thumb/a.jpg", "thumb/b.jpg"]);
    assert!(error_lines(&w.log()).is_empty(), "{}", w.log());
    assert_eq!(env.outputs(), clean_build(&env));
}
