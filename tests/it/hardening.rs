//! Promises that need a hostile environment: a held lock, a damaged cache,
//! an unwritable output, a killed or interrupted build.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

fn project(n: u32) -> Env {
    let env = Env::new(TWO_VARIANTS);
    for i in 0..n {
        env.add_image(&format!("d{}/p{i:03}.jpg", i % 4), 320, 240, i);
    }
    env
}

#[test]
fn second_run_exits_2_naming_the_holder_of_the_lock() {
    let env = project(1);
    env.build(&[], 0);
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(env.root().join(".thumbgen/lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let run = env.build(&[], 2);
    assert_transcript!("lock_held_by_another_run", env, run);
    drop(lock);
    env.build(&[], 0);
}

#[test]
fn garbage_truncated_or_missing_cache_is_rebuilt_without_losing_outputs() {
    let env = project(3);
    env.build(&[], 0);
    let outputs = env.outputs();
    let db = env.root().join(".thumbgen/db");
    type Damage = fn(&std::path::Path);
    let damage: [(&str, Damage); 3] = [
        ("garbage", |db| {
            for entry in std::fs::read_dir(db).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() {
                    std::fs::write(&path, vec![0xA5; 4096]).unwrap();
                }
            }
        }),
        ("truncated", |db| {
            for entry in std::fs::read_dir(db).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() {
                    let len = std::fs::metadata(&path).unwrap().len();
                    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
                    f.set_len(len / 2).unwrap();
                }
            }
        }),
        ("a file instead of the database", |db| {
            std::fs::remove_dir_all(db).unwrap();
            std::fs::write(db, b"not a database").unwrap();
        }),
    ];
    for (what, damage) in damage {
        damage(&db);
        let run = env.build(&[], 0);
        assert_eq!(run.summary()[3], 0, "{what}: {}", run.stderr);
        assert!(env.outputs() == outputs, "{what}: outputs changed");
        assert_eq!(
            env.build(&[], 0).summary(),
            [0, 6, 0, 0],
            "{what}: records rebuilt"
        );
    }
}

#[test]
fn unusable_cache_folder_warns_and_builds_anyway() {
    let env = project(2);
    // A file where the cache folder must go: nothing can be recorded.
    env.write_config(&format!(
        "source = \"images\"\noutput = \"public/thumbs\"\ncache = \"not-a-folder\"\n{TWO_VARIANTS}"
    ));
    std::fs::write(env.root().join("not-a-folder"), b"in the way").unwrap();
    let run = env.build(&[], 0);
    assert_transcript!("unusable_cache_folder", env, run);
    // Nothing was recorded, but the outputs are verified, not duplicated.
    let outputs = env.outputs();
    let run = env.build(&[], 0);
    assert_eq!(run.summary()[3], 0);
    assert!(env.outputs() == outputs);
}

#[test]
fn unwritable_output_is_fatal_and_records_nothing() {
    let env = project(2);
    // A file where the variant's folder must go: no output can be written.
    std::fs::create_dir_all(env.root().join("public/thumbs")).unwrap();
    std::fs::write(env.root().join("public/thumbs/thumb"), b"in the way").unwrap();
    let run = env.build(&[], 2);
    assert!(run.stderr.contains("public/thumbs/thumb"), "{}", run.stderr);
    std::fs::remove_file(env.root().join("public/thumbs/thumb")).unwrap();
    let run = env.build(&[], 0);
    assert_eq!(
        run.summary()[0],
        4,
        "nothing was recorded as built: {}",
        run.stderr
    );
}

#[cfg(unix)]
#[test]
fn outputs_are_never_written_through_a_symlink() {
    let env = project(1);
    env.build(&[], 0);
    // Someone replaces an output with a link to a file outside the tree.
    let outside = env.root().join("precious.txt");
    std::fs::write(&outside, b"do not overwrite").unwrap();
    let output = env.out("thumb/d0/p000.jpg");
    std::fs::remove_file(&output).unwrap();
    std::os::unix::fs::symlink(&outside, &output).unwrap();
    let run = env.build(&["--explain"], 0);
    assert_transcript!("output_replaced_by_a_symlink", env, run);
    assert_eq!(std::fs::read(&outside).unwrap(), b"do not overwrite");
    assert!(!std::fs::symlink_metadata(&output)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(image::open(&output).is_ok());
}

/// A small tmpfs mounted over the output folder, unmounted on drop.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    /// `None` where mounting is not allowed (not root, no mount namespace).
    fn mount(at: &std::path::Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| SmallDisk(at.to_path_buf()))
    }

    fn grow(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
#[allow(clippy::print_stderr)] // says why it did not run, in the test log
fn disk_full_is_fatal_and_records_only_what_was_written() {
    let env = project(24);
    let Some(disk) = SmallDisk::mount(&env.root().join("public"), "40k") else {
        eprintln!("skipped: this environment cannot mount a tmpfs (needs root)");
        return;
    };
    let run = env.build(&[], 2);
    assert!(
        run.stderr.contains("no space left on device"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("public/thumbs/"),
        "names the path: {}",
        run.stderr
    );
    let written = env.output_files();
    assert!(!written.is_empty() && written.len() < 48, "{written:?}");
    // Room again: the next build makes exactly what is missing.
    disk.grow("16m");
    let run = env.build(&[], 0);
    let [built, up_to_date, _, _] = run.summary();
    // An output of a job cut short by the full disk may be in place but
    // unrecorded: it is rendered again and found right (verified).
    assert_eq!(built + run.verified() + up_to_date, 48, "{}", run.stderr);
    assert!(
        up_to_date <= written.len(),
        "only files that exist were recorded"
    );
    assert_eq!(env.build(&[], 0).summary(), [0, 48, 0, 0]);
    let clean = project(24);
    clean.build(&[], 0);
    assert!(env.outputs() == clean.outputs());
}

/// Start a build of `env` in the background.
fn spawn_build(env: &Env) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_thumbgen"))
        .args(["build", "-j2"])
        .current_dir(env.root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn killed_at_random_moments_the_next_build_finishes_the_job() {
    let env = project(40);
    let mut rng = fastrand::Rng::with_seed(7);
    for round in 0..6 {
        let mut child = spawn_build(&env);
        std::thread::sleep(Duration::from_millis(rng.u64(0..400)));
        let _ = child.kill();
        let _ = child.wait();
        // No partial file under an output name: every visible output decodes.
        for name in env.output_files() {
            assert!(
                name.starts_with(".thumbgen-tmp/") || image::open(env.out(&name)).is_ok(),
                "round {round}: partial output {name}"
            );
        }
    }
    env.build(&[], 0);
    assert!(env
        .output_files()
        .iter()
        .all(|f| !f.contains(".thumbgen-tmp")));
    let clean = project(40);
    clean.build(&[], 0);
    assert!(
        env.outputs() == clean.outputs(),
        "killed builds then one build != clean build"
    );
    assert_eq!(env.build(&[], 0).summary(), [0, 80, 0, 0]);
}

#[test]
fn sources_changing_or_vanishing_during_a_build() {
    let env = project(60);
    let mut child = spawn_build(&env);
    let start = Instant::now();
    while env.output_files().len() < 4 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(2));
    }
    // Edits while the build runs: some photos vanish, some are replaced.
    for i in 0..60u32 {
        let name = format!("d{}/p{i:03}.jpg", i % 4);
        match i % 6 {
            0 => std::fs::remove_file(env.src(&name)).unwrap(),
            1 => env.add_image(&name, 200, 150, 1000 + i),
            _ => {}
        }
    }
    let status = child.wait().unwrap();
    assert!(
        matches!(status.code(), Some(0 | 1)),
        "the build must neither crash nor stop on vanishing files: {status:?}"
    );
    // The next build repairs everything, as a clean build would have it.
    env.build(&[], 0);
    let clean = Env::new(TWO_VARIANTS);
    for i in 0..60u32 {
        let name = format!("d{}/p{i:03}.jpg", i % 4);
        match i % 6 {
            0 => {}
            1 => clean.add_image(&name, 200, 150, 1000 + i),
            _ => clean.add_image(&name, 320, 240, i),
        }
    }
    clean.build(&[], 0);
    assert!(
        env.outputs() == clean.outputs(),
        "tree differs from a clean build"
    );
    assert_eq!(env.build(&[], 0).summary(), [0, 100, 0, 0]);
}

#[test]
fn interrupted_build_exits_130_keeps_finished_work_and_leaves_no_temp_files() {
    let env = project(60);
    let mut child = spawn_build(&env);
    // Interrupt once some outputs are in place.
    let start = Instant::now();
    while env.output_files().len() < 6 {
        assert!(start.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let interrupted = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            interrupted.elapsed() < Duration::from_secs(5),
            "did not stop"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let stopped_in = interrupted.elapsed();
    let done = env.output_files();
    if status.code() == Some(0) {
        // The build won the race and finished; nothing more to check.
        return;
    }
    assert_eq!(status.code(), Some(130));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains(
            "interrupted: finished outputs are recorded; run `thumbgen build` to do the rest"
        ),
        "{stderr}"
    );
    assert!(
        stopped_in < Duration::from_secs(1),
        "took {stopped_in:?} to stop"
    );
    assert!(
        done.iter().all(|f| !f.contains(".thumbgen-tmp")),
        "{done:?}"
    );
    let run = env.build(&[], 0);
    let [built, up_to_date, _, _] = run.summary();
    assert_eq!(built + up_to_date, 120);
    assert!(
        up_to_date >= done.len() - 2,
        "finished work was kept: {up_to_date} of {}",
        done.len()
    );
}
