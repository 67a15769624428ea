use crate::common::*;

fn built_env() -> Env {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 200, 100, 1);
    env.add_image("b/c.png", 100, 100, 2);
    env.build(&[], 0);
    env
}

#[test]
fn touched_but_identical_source_is_not_rebuilt() {
    let env = built_env();
    touch(&env.src("a.jpg"), 10);
    let run = env.build(&["--explain"], 0);
    assert_eq!(run.summary(), [0, 4, 0, 0]);
    // rewritten with the same bytes (new inode, new mtime): still nothing
    let bytes = std::fs::read(env.src("b/c.png")).unwrap();
    std::fs::remove_file(env.src("b/c.png")).unwrap();
    std::fs::write(env.src("b/c.png"), bytes).unwrap();
    let run = env.build(&[], 0);
    assert_eq!(run.summary(), [0, 4, 0, 0]);
}

#[test]
fn changed_content_rebuilds_only_that_source() {
    let env = built_env();
    let untouched = std::fs::read(env.out("thumb/b/c.jpg")).unwrap();
    env.add_image("a.jpg", 200, 100, 99);
    let run = env.build(&["--explain"], 0);
    assert_transcript!("changed_content_rebuilds_only_that_source", env, run);
    assert_eq!(std::fs::read(env.out("thumb/b/c.jpg")).unwrap(), untouched);
}

#[test]
fn changing_one_variant_rebuilds_only_that_variant() {
    let env = built_env();
    let large_before = std::fs::read(env.out("large/a.webp")).unwrap();
    env.set_variants(&TWO_VARIANTS.replace("width = 64", "width = 48"));
    let run = env.build(&["--explain"], 0);
    assert_transcript!("changing_one_variant_rebuilds_only_that_variant", env, run);
    assert_eq!(decode(&env.out("thumb/a.jpg")).width(), 48);
    assert_eq!(
        std::fs::read(env.out("large/a.webp")).unwrap(),
        large_before
    );
}

#[test]
fn renaming_a_variant_moves_its_outputs() {
    let env = built_env();
    env.set_variants(&TWO_VARIANTS.replace("name = \"thumb\"", "name = \"small\""));
    let run = env.build(&["--explain"], 0);
    assert_eq!(run.summary(), [2, 2, 2, 0]);
    assert!(env.out("small/a.jpg").exists());
    assert!(
        !env.root().join("public/thumbs/thumb").exists(),
        "emptied folder removed"
    );
}

#[test]
fn changing_the_format_replaces_the_file() {
    let env = built_env();
    env.set_variants(&TWO_VARIANTS.replace("format = \"jpeg\"", "format = \"png\""));
    let run = env.build(&["--explain"], 0);
    assert_eq!(run.summary(), [2, 2, 2, 0]);
    assert!(env.out("thumb/a.png").exists());
    assert!(!env.out("thumb/a.jpg").exists());
}

#[test]
fn removing_a_variant_removes_its_outputs() {
    let env = built_env();
    let one = TWO_VARIANTS
        .split("[[variants]]")
        .take(2)
        .collect::<Vec<_>>()
        .join("[[variants]]");
    env.set_variants(&one);
    let run = env.build(&["--explain"], 0);
    // The JPEG was decoded at full size for the large variant; with only the
    // thumbnail left it is decoded smaller, so its thumbnail is redone (as a
    // clean build would make it). The PNG's thumbnail stays.
    assert_transcript!("removing_a_variant_removes_its_outputs", env, run);
    assert!(!env.root().join("public/thumbs/large").exists());
    assert_eq!(env.build(&[], 0).summary(), [0, 2, 0, 0]);
}

#[test]
fn deleted_or_edited_outputs_are_rebuilt() {
    let env = built_env();
    let original = std::fs::read(env.out("thumb/a.jpg")).unwrap();
    std::fs::remove_file(env.out("thumb/a.jpg")).unwrap();
    std::fs::write(env.out("large/a.webp"), b"scribbled over").unwrap();
    let run = env.build(&["--explain"], 0);
    assert_transcript!("deleted_or_edited_outputs_are_rebuilt", env, run);
    assert_eq!(std::fs::read(env.out("thumb/a.jpg")).unwrap(), original);
}

#[test]
fn touched_output_is_not_rebuilt() {
    let env = built_env();
    touch(&env.out("thumb/a.jpg"), 10);
    assert_eq!(env.build(&[], 0).summary(), [0, 4, 0, 0]);
}

#[test]
fn deleted_source_removes_its_outputs_and_empty_folders() {
    let env = built_env();
    std::fs::remove_file(env.src("b/c.png")).unwrap();
    let run = env.build(&["--explain"], 0);
    assert_transcript!("deleted_source_removes_its_outputs", env, run);
    assert!(!env.root().join("public/thumbs/thumb/b").exists());
    assert!(env.out("thumb/a.jpg").exists());
}

#[test]
fn untracked_files_in_the_output_are_never_touched() {
    let env = built_env();
    // Files not named like outputs, even in a folder thumbgen owns.
    std::fs::write(env.out("thumb/b/mine.txt"), b"user file").unwrap();
    std::fs::write(env.out("thumb/.mine.jpg"), b"user file").unwrap();
    // Anything in a folder thumbgen does not own.
    std::fs::create_dir_all(env.out("mine")).unwrap();
    std::fs::write(env.out("mine/c.jpg"), b"user file").unwrap();
    std::fs::write(env.out("top.jpg"), b"user file").unwrap();
    std::fs::remove_file(env.src("b/c.png")).unwrap();
    env.build(&[], 0);
    for kept in [
        "thumb/b/mine.txt",
        "thumb/.mine.jpg",
        "mine/c.jpg",
        "top.jpg",
    ] {
        assert_eq!(
            std::fs::read(env.out(kept)).unwrap(),
            b"user file",
            "{kept}"
        );
    }
    // An image dropped into a variant's folder is taken for a leftover of
    // an earlier build, as the folder's marker says, once the records no
    // longer say what the tree holds (a lost cache, or `--force`).
    std::fs::write(env.out("thumb/dropped.jpg"), b"user file").unwrap();
    env.build(&[], 0);
    assert!(env.out("thumb/dropped.jpg").exists());
    let run = env.build(&["--explain", "--force"], 0);
    assert!(!env.out("thumb/dropped.jpg").exists());
    assert!(
        run.stderr
            .contains("remove public/thumbs/thumb/dropped.jpg  (no source makes it"),
        "{}",
        run.stderr
    );
}

#[test]
fn hand_edited_output_of_a_removed_source_is_kept() {
    let env = built_env();
    std::fs::write(env.out("thumb/a.jpg"), b"my retouched thumbnail").unwrap();
    std::fs::remove_file(env.src("a.jpg")).unwrap();
    let run = env.build(&["--explain"], 0);
    assert_transcript!("hand_edited_output_of_a_removed_source_is_kept", env, run);
    assert_eq!(
        std::fs::read(env.out("thumb/a.jpg")).unwrap(),
        b"my retouched thumbnail"
    );
    assert!(!env.out("large/a.webp").exists());
}

#[test]
fn renamed_source_moves_its_outputs() {
    let env = built_env();
    std::fs::rename(env.src("a.jpg"), env.src("z.jpg")).unwrap();
    let run = env.build(&[], 0);
    // Moved, not rendered again, and nothing left to remove.
    assert_eq!(run.summary(), [0, 2, 0, 0]);
    assert!(run.stderr.contains("moved 2"), "{}", run.stderr);
    assert!(env.out("thumb/z.jpg").exists() && !env.out("thumb/a.jpg").exists());
}

#[test]
fn force_rebuilds_everything() {
    let env = built_env();
    let run = env.build(&["--force", "--explain"], 0);
    assert_transcript!("force_rebuilds_everything", env, run);
}

#[test]
fn deleted_cache_rebuilds_records_without_losing_outputs() {
    let env = built_env();
    let before = env.outputs();
    std::fs::remove_dir_all(env.root().join(".thumbgen")).unwrap();
    let run = env.build(&[], 0);
    assert_eq!(run.summary()[3], 0);
    assert_eq!(env.outputs(), before);
    assert_eq!(env.build(&[], 0).summary(), [0, 4, 0, 0]);
}
