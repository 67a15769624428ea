use crate::common::*;

#[test]
fn clean_removes_recorded_outputs_and_cache_only() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 100, 80, 1);
    env.add_image("s/b.png", 100, 80, 2);
    env.build(&[], 0);
    std::fs::write(env.out("thumb/s/mine.txt"), b"keep me").unwrap();
    let run = Run::from(env.cmd(&["clean"]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!env.root().join(".thumbgen").exists());
    let left: Vec<String> = env.outputs().into_keys().collect();
    assert_eq!(left, ["thumb/", "thumb/s/", "thumb/s/mine.txt"]);
    assert!(env.src("a.jpg").exists() && env.src("s/b.png").exists());
    // and a build after clean makes everything again
    assert_eq!(env.build(&[], 0).summary(), [4, 0, 0, 0]);
}

#[test]
fn clean_without_cache_is_harmless() {
    let env = Env::new(TWO_VARIANTS);
    let run = Run::from(env.cmd(&["clean"]));
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn clean_removes_the_emptied_output_root() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 100, 80, 1);
    env.build(&[], 0);
    assert_eq!(Run::from(env.cmd(&["clean"])).code, 0);
    assert!(!env.root().join("public/thumbs").exists());
}

/// `clean --dry-run` names exactly the files `clean` then removes: recorded
/// outputs still as written, other images in the folders thumbgen owns, and
/// the recorded manifest; not an output or a manifest edited by hand, not
/// the user's other files. (The folders' markers go too, unlisted.)
#[test]
fn clean_dry_run_names_exactly_what_clean_removes() {
    let env = Env::new(TWO_VARIANTS);
    env.write_config(&format!(
        "source = \"images\"\noutput = \"public/thumbs\"\nmanifest = \"public/thumbs/manifest.json\"\n{TWO_VARIANTS}"
    ));
    env.add_image("a.jpg", 100, 80, 1);
    env.add_image("s/b.png", 100, 80, 2);
    env.build(&[], 0);
    std::fs::write(env.out("thumb/a.jpg"), b"edited by hand").unwrap();
    std::fs::write(env.out("manifest.json"), b"{}").unwrap();
    std::fs::write(env.out("thumb/dropped.jpg"), b"an image").unwrap();
    std::fs::write(env.out("thumb/notes.txt"), b"mine").unwrap();
    let files = |env: &Env| -> std::collections::BTreeSet<String> {
        env.output_files()
            .into_iter()
            .map(|f| format!("public/thumbs/{f}"))
            .collect()
    };
    let before = files(&env);

    let dry = env.run(&["clean", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(files(&env), before, "a dry run changes nothing");
    let listed: std::collections::BTreeSet<String> = dry
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("remove "))
        .filter(|p| p.starts_with("public/thumbs/"))
        .map(String::from)
        .collect();
    let run = env.run(&["clean"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let removed: std::collections::BTreeSet<String> =
        before.difference(&files(&env)).cloned().collect();
    assert_eq!(listed, removed, "dry run:\n{}", dry.stderr);
    for kept in ["thumb/a.jpg", "manifest.json", "thumb/notes.txt"] {
        assert!(env.out(kept).exists(), "{kept}");
    }
    assert!(!env.out("thumb/dropped.jpg").exists());
}

/// `cache` set to a folder that holds other things (by mistake, or shared):
/// `clean` removes what thumbgen keeps there and nothing else.
#[test]
fn clean_keeps_a_users_files_in_the_cache_folder() {
    let env = Env::new(TWO_VARIANTS);
    env.write_config(&format!(
        "source = \"images\"\noutput = \"public/thumbs\"\ncache = \"notes\"\n{TWO_VARIANTS}"
    ));
    std::fs::create_dir_all(env.root().join("notes")).unwrap();
    std::fs::write(env.root().join("notes/todo.txt"), b"mine").unwrap();
    env.add_image("a.jpg", 100, 80, 1);
    env.build(&[], 0);
    assert!(env.root().join("notes/db").is_dir());
    let run = env.run(&["clean"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let left: Vec<_> = std::fs::read_dir(env.root().join("notes"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, ["todo.txt"]);
}
