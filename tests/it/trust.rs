//! Regression tests for promises a new user relies on: config mistakes
//! explained, globs that match extensions in any case, and sources that
//! leave the selection called excluded, not removed.

use crate::common::*;

#[test]
fn include_globs_match_extensions_in_any_case() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("Photo.JPG", 40, 30, 1);
    env.add_image("b.jpg", 40, 30, 2);
    env.write_config(&format!(
        "source = \"images\"\noutput = \"public/thumbs\"\ninclude = [\"**/*.jpg\"]\n{TWO_VARIANTS}"
    ));
    env.build(&[], 0);
    assert!(env.out("thumb/Photo.jpg").exists());
    assert!(env.out("thumb/b.jpg").exists());
}

#[test]
fn a_source_left_out_by_exclude_is_excluded_not_removed() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("drafts/a.jpg", 40, 30, 1);
    env.add_image("b.jpg", 40, 30, 2);
    env.build(&[], 0);
    env.write_config(&format!(
        "source = \"images\"\noutput = \"public/thumbs\"\nexclude = [\"drafts/**\"]\n{TWO_VARIANTS}"
    ));
    let run = env.build(&["--explain"], 0);
    assert_transcript!(
        "a_source_left_out_by_exclude_is_excluded_not_removed",
        env,
        run
    );
}

#[test]
fn config_type_errors_name_the_file_line_key_and_fix() {
    let env = Env::new(&TWO_VARIANTS.replace("width = 64", "width = \"64\""));
    let run = env.build(&[], 2);
    assert!(
        run.stderr.contains(
            ".thumbgen.toml:6: `variants[0].width` must be a whole number, not the text \"64\": write width = 64 (without quotes)"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn config_given_as_a_folder_is_read_from_it() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 40, 30, 1);
    let elsewhere = tempfile::tempdir().unwrap();
    let run = crate::common::thumbgen_command()
        .current_dir(elsewhere.path())
        .args(["build", "--config"])
        .arg(env.root())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    assert!(env.out("thumb/a.jpg").exists());
}

#[test]
fn a_missing_source_folder_names_the_config_line() {
    let env = Env::new(TWO_VARIANTS);
    env.write_config(&format!(
        "output = \"public/thumbs\"\nsource = \"photos\"\n{TWO_VARIANTS}"
    ));
    let run = env.build(&[], 2);
    assert!(
        run.stderr.contains(".thumbgen.toml:2: `source` folder") && run.stderr.contains("photos"),
        "{}",
        run.stderr
    );
}

#[test]
fn json_ends_with_a_summary_even_on_a_config_error() {
    let env = Env::new("[[variants]]\nname = \"t\"\nwidth = 0\nheight = 9\n");
    let run = env.build(&["--json"], 2);
    let last: serde_json::Value =
        serde_json::from_str(run.stdout.lines().last().expect("some JSON")).unwrap();
    assert_eq!(last["type"], "summary");
    assert_eq!(last["exit_code"], 2);
    let first: serde_json::Value =
        serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["type"], "error");
    assert_eq!(first["kind"], "config");
}

fn config_with(env: &Env, extra: &str, output: &str) {
    env.write_config(&format!(
        "source = \"images\"\noutput = \"{output}\"\n{extra}\n{TWO_VARIANTS}"
    ));
}

#[test]
fn a_moved_or_dropped_manifest_leaves_no_old_file() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 40, 30, 1);
    config_with(
        &env,
        "manifest = \"public/thumbs/manifest.json\"",
        "public/thumbs",
    );
    env.build(&[], 0);
    assert!(env.out("manifest.json").exists());

    config_with(&env, "manifest = \"public/index.json\"", "public/thumbs");
    env.build(&[], 0);
    assert!(
        !env.out("manifest.json").exists(),
        "the old manifest is gone"
    );
    assert!(env.root().join("public/index.json").exists());

    config_with(&env, "", "public/thumbs");
    env.build(&[], 0);
    assert!(!env.root().join("public/index.json").exists());
    assert_eq!(env.output_files(), ["large/a.webp", "thumb/a.jpg"]);
}

#[test]
fn a_moved_output_leaves_no_empty_folders_behind() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("shoes/red/a.jpg", 40, 30, 1);
    env.build(&[], 0);
    config_with(&env, "", "site/thumbs");
    let run = env.build(&[], 0);
    assert_eq!(run.summary(), [2, 0, 2, 0]);
    assert!(
        !env.root().join("public").exists(),
        "the old output tree is gone, folders and all"
    );
    assert!(env
        .root()
        .join("site/thumbs/thumb/shoes/red/a.jpg")
        .exists());
}

#[test]
fn check_names_sources_that_fail_and_does_not_ask_for_a_build() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 40, 30, 1);
    std::fs::write(env.src("broken.jpg"), b"not a picture").unwrap();
    env.build(&[], 1);
    for cache in ["kept", "lost"] {
        if cache == "lost" {
            std::fs::remove_dir_all(env.root().join(".thumbgen")).unwrap();
        }
        let run = env.build(&["--check"], 1);
        assert!(
            run.stderr.contains(
                "1 source fails to build with the same content and settings: images/broken.jpg"
            ),
            "cache {cache}: {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("run `thumbgen build`"),
            "cache {cache}: a build cannot help: {}",
            run.stderr
        );
        let allowed = env.build(&["--check", "--allow-failed"], 0);
        assert!(allowed.stderr.contains("allowed by --allow-failed"));
    }
    // A stale output on top of the broken source: both are said.
    env.add_image("new.jpg", 40, 30, 3);
    let run = env.build(&["--check", "--allow-failed"], 1);
    assert!(run.stderr.contains("not up to date: run `thumbgen build`"));
}

#[test]
fn a_known_failure_is_retried_when_the_settings_change() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("big.jpg", 400, 300, 1);
    env.write_config(&format!(
        "source = \"images\"\noutput = \"public/thumbs\"\nmax_pixels = 1000\n{TWO_VARIANTS}"
    ));
    env.build(&[], 1);
    env.build(&["--check"], 1);
    // Raising the limit can help: the check says a build would.
    env.set_variants(TWO_VARIANTS);
    let run = env.build(&["--check"], 1);
    assert!(
        run.stderr.contains("run `thumbgen build`"),
        "{}",
        run.stderr
    );
    env.build(&[], 0);
    env.build(&["--check"], 0);
}

#[test]
fn init_writes_a_config_that_builds_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let thumbgen = |args: &[&str]| {
        Run::from(
            crate::common::thumbgen_command()
                .current_dir(dir.path())
                .args(args)
                .output()
                .unwrap(),
        )
    };
    let missing = thumbgen(&["build"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("run `thumbgen init`"),
        "{}",
        missing.stderr
    );
    let init = thumbgen(&["init"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    std::fs::create_dir(dir.path().join("images")).unwrap();
    std::fs::write(
        dir.path().join("images/a.jpg"),
        image_bytes("a.jpg", 300, 200, 1),
    )
    .unwrap();
    let build = thumbgen(&["build"]);
    assert_eq!(build.code, 0, "{}", build.stderr);
    // Today's features, as the starter shows them: a cropped thumb, a
    // set in three formats (a 300 px photo gets its smallest member), and
    // the manifest.
    for made in [
        "thumb/a.jpg",
        "photo/a-320.avif",
        "photo/a-320.webp",
        "photo/a-320.jpg",
        "manifest.json",
    ] {
        assert!(
            dir.path().join("public/thumbs").join(made).exists(),
            "{made}"
        );
    }
    assert!(!build.stderr.contains("has no effect"), "{}", build.stderr);
    let again = thumbgen(&["init"]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
}

#[test]
fn clean_dry_run_lists_and_changes_nothing() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 40, 30, 1);
    env.build(&[], 0);
    let before = tree(env.root());
    let run = Run::from(env.cmd(&["clean", "--dry-run"]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("remove public/thumbs/thumb/a.jpg"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("remove .thumbgen"), "{}", run.stderr);
    assert_eq!(tree(env.root()), before, "nothing changed");
    assert_eq!(Run::from(env.cmd(&["clean"])).code, 0);
    assert!(env.output_files().is_empty());
}

#[test]
fn completions_and_man_page_are_generated() {
    let env = Env::new(TWO_VARIANTS);
    let bash = Run::from(env.cmd(&["completions", "bash"]));
    assert_eq!(bash.code, 0);
    assert!(bash.stdout.contains("--allow-failed") && bash.stdout.contains("thumbgen"));
    let man = Run::from(env.cmd(&["man"]));
    assert_eq!(man.code, 0);
    assert!(
        man.stdout.starts_with(".ie") || man.stdout.contains(".TH thumbgen"),
        "{}",
        &man.stdout[..200.min(man.stdout.len())]
    );
}

#[test]
fn a_renamed_photo_moves_its_outputs_instead_of_rendering_them() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("shoes/red.jpg", 300, 200, 1);
    env.add_image("b.png", 120, 90, 2);
    env.build(&[], 0);
    std::fs::create_dir_all(env.src("archive")).unwrap();
    std::fs::rename(env.src("shoes/red.jpg"), env.src("archive/crimson.jpg")).unwrap();
    let run = env.build(&["--explain"], 0);
    assert_transcript!("a_renamed_photo_moves_its_outputs", env, run);
    assert_eq!(
        run.summary(),
        [0, 2, 0, 0],
        "nothing rendered, nothing removed"
    );
    assert_eq!(env.outputs(), {
        let clean = env.fresh_copy();
        clean.build(&[], 0);
        clean.outputs()
    });
    assert!(
        !env.out("thumb/shoes").exists(),
        "the emptied folder is gone"
    );
    env.build(&["--check"], 0);
}

#[test]
fn a_renamed_photo_renders_only_the_variants_that_changed_meanwhile() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 300, 200, 1);
    env.build(&[], 0);
    std::fs::rename(env.src("a.jpg"), env.src("z.jpg")).unwrap();
    // Only the large variant's quality changes: the thumbnail is made the
    // same way as before, so it can move.
    env.set_variants(&TWO_VARIANTS.replace("format = \"webp\"", "format = \"webp\"\nquality = 70"));
    let run = env.build(&[], 0);
    assert!(run.stderr.contains("built 1, moved 1,"), "{}", run.stderr);
    assert_eq!(run.summary(), [1, 0, 1, 0], "the old large output goes");
    let clean = env.fresh_copy();
    clean.build(&[], 0);
    assert_eq!(env.outputs(), clean.outputs());
}

#[test]
fn json_ends_with_a_summary_when_the_cache_is_locked_and_plans_name_variants() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 40, 30, 1);
    let planned = env.build(&["--dry-run", "--json"], 0);
    let builds: Vec<serde_json::Value> = planned
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &serde_json::Value| e["type"] == "build")
        .collect();
    assert_eq!(builds.len(), 2);
    assert!(builds
        .iter()
        .all(|e| e["variant"] == "thumb" || e["variant"] == "large"));

    let cache = env.root().join(".thumbgen");
    std::fs::create_dir_all(&cache).unwrap();
    let held = std::fs::File::create(cache.join("lock")).unwrap();
    held.try_lock().unwrap();
    let locked = env.build(&["--json"], 2);
    let events: Vec<serde_json::Value> = locked
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["kind"], "lock_held");
    assert_eq!(events.last().unwrap()["type"], "summary");
    assert_eq!(events.last().unwrap()["exit_code"], 2);
}

#[test]
fn after_losing_the_cache_outputs_already_right_are_verified_not_built() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 40, 30, 1);
    env.add_image("b.png", 40, 30, 2);
    env.build(&[], 0);
    std::fs::remove_dir_all(env.root().join(".thumbgen")).unwrap();
    let run = env.build(&[], 0);
    assert_eq!(run.summary()[0], 0, "nothing was written: {}", run.stderr);
    assert_eq!(run.verified(), 4);
}

/// A config whose manifest is at `manifest`.
fn with_manifest(manifest: &str) -> String {
    format!(
        "source = \"images\"\noutput = \"public/thumbs\"\nmanifest = \"{manifest}\"\n{TWO_VARIANTS}"
    )
}

#[test]
fn a_manifest_inside_source_is_a_config_error() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("aitzgorri.jpg", 40, 30, 1);
    let photo = std::fs::read(env.src("aitzgorri.jpg")).unwrap();
    env.write_config(&with_manifest("images/aitzgorri.jpg"));
    for args in [&[][..], &["--dry-run"], &["--check"]] {
        let run = env.build(args, 2);
        assert!(
            run.stderr
                .contains(".thumbgen.toml:3: `manifest` must not be inside `source`"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(std::fs::read(env.src("aitzgorri.jpg")).unwrap(), photo);
    assert!(env.output_files().is_empty());
}

#[test]
fn a_users_file_at_the_manifest_path_is_never_written_over() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 40, 30, 1);
    let products = env.root().join("data/products.json");
    std::fs::create_dir_all(products.parent().unwrap()).unwrap();
    std::fs::write(&products, br#"{"products": [1, 2, 3]}"#).unwrap();
    env.write_config(&with_manifest("data/products.json"));
    for args in [&[][..], &["--dry-run"], &["--check"]] {
        let run = env.build(args, 2);
        assert!(
            run.stderr.contains("data/products.json: `manifest` names a file that thumbgen did not write; it is left as it is"),
            "{}",
            run.stderr
        );
    }
    assert!(env.output_files().is_empty(), "nothing is built first");
    // Nor does `clean` (or its dry run) touch it, or its folder.
    let dry = env.run(&["clean", "--dry-run"]);
    assert!(!dry.stderr.contains("products.json"), "{}", dry.stderr);
    env.run(&["clean"]);
    // Moved away, the manifest is written; `clean` then removes only it.
    std::fs::rename(&products, env.root().join("products.json")).unwrap();
    env.build(&[], 0);
    assert!(products.exists());
    env.run(&["clean"]);
    assert!(!products.exists());
    assert!(
        products.parent().unwrap().is_dir(),
        "the user's folder stays"
    );
    assert_eq!(
        std::fs::read(env.root().join("products.json")).unwrap(),
        br#"{"products": [1, 2, 3]}"#
    );
}

#[test]
fn a_previous_manifest_is_written_over_even_without_the_cache() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 40, 30, 1);
    env.write_config(&with_manifest("public/thumbs/manifest.json"));
    env.build(&[], 0);
    // A CI runner whose cache was not restored, with a new photo.
    std::fs::remove_dir_all(env.root().join(".thumbgen")).unwrap();
    env.add_image("b.jpg", 40, 30, 2);
    env.build(&[], 0);
    let manifest = std::fs::read_to_string(env.out("manifest.json")).unwrap();
    assert!(manifest.contains("\"b.jpg\""), "{manifest}");
}

#[test]
fn json_gets_an_error_event_and_a_full_summary_on_a_usage_error() {
    let env = Env::new(TWO_VARIANTS);
    for args in [
        &["build", "--json", "--shard", "3/2"][..],
        &["build", "--json=all", "--bogus"],
    ] {
        let run = env.run(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("error:"),
            "clap still explains: {}",
            run.stderr
        );
        let events = parse_events(&run.stdout);
        assert_eq!(events.len(), 2, "{args:?}: {}", run.stdout);
        assert_eq!(events[0]["type"], "error");
        assert_eq!(events[0]["kind"], "usage");
        assert!(!events[0]["message"].as_str().unwrap().is_empty());
        let summary = &events[1];
        assert_eq!(summary["type"], "summary");
        assert_eq!(summary["exit_code"], 2);
        for key in [
            "built",
            "verified",
            "moved",
            "downloaded",
            "removed",
            "interrupted",
        ] {
            assert!(summary.get(key).is_some(), "{key} missing: {summary}");
        }
    }
    // Without --json, stdout stays empty.
    assert!(env.run(&["build", "--shard", "3/2"]).stdout.is_empty());
}

#[test]
fn a_recorded_manifest_replaced_by_hand_is_not_written_over() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 40, 30, 1);
    env.write_config(&with_manifest("public/thumbs/manifest.json"));
    env.build(&[], 0);
    // The cache records the manifest; the user puts their own file there.
    let mine = br#"{"mine": true}"#;
    std::fs::write(env.out("manifest.json"), mine).unwrap();
    env.add_image("b.jpg", 40, 30, 2);
    let run = env.build(&[], 2);
    assert!(
        run.stderr
            .contains("`manifest` names a file that thumbgen did not write"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(env.out("manifest.json")).unwrap(), mine);
}

/// A CI runner whose cache was not restored: the content-named outputs of
/// the last build are there, the records are not. `--check` sees what
/// would be left over, and a build leaves what a clean build leaves.
#[test]
fn a_lost_cache_leaves_no_old_content_named_file() {
    let variants = format!("hash_names = true\n{TWO_VARIANTS}");
    let env = Env::new(&variants);
    env.add_image("a.jpg", 100, 80, 1);
    env.add_image("b.jpg", 100, 80, 2);
    env.add_image("c.jpg", 100, 80, 3);
    env.build(&[], 0);
    std::fs::remove_dir_all(env.root().join(".thumbgen")).unwrap();
    env.add_image("a.jpg", 100, 80, 4);
    std::fs::remove_file(env.src("b.jpg")).unwrap();

    let check = env.run(&["build", "--check", "--json"]);
    assert_eq!(check.code, 1, "{}", check.stderr);
    let leftovers: Vec<String> = parse_events(&check.stdout)
        .iter()
        .filter(|e| e["type"] == "remove" && e["reason"] == "leftover")
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(leftovers.len(), 2, "b's two outputs: {leftovers:?}");
    assert!(leftovers.iter().all(|p| p.contains("/b.")), "{leftovers:?}");
    let explain = env.run(&["build", "--dry-run"]);
    assert!(
        explain
            .stderr
            .contains("(new source, replacing public/thumbs/thumb/a."),
        "a's old file goes once the new one is in place:\n{}",
        explain.stderr
    );

    env.build(&[], 0);
    let clean = env.fresh_copy();
    clean.build(&[], 0);
    assert_eq!(env.outputs(), clean.outputs());
    env.build(&["--check"], 0);
}

/// Plain names: the outputs of a source deleted while the cache was lost
/// go, and so do those of a variant removed meanwhile.
#[test]
fn a_lost_cache_and_a_deleted_source_or_variant_converge() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 100, 80, 1);
    env.add_image("s/b.jpg", 100, 80, 2);
    env.build(&[], 0);
    std::fs::remove_dir_all(env.root().join(".thumbgen")).unwrap();
    std::fs::remove_file(env.src("s/b.jpg")).unwrap();
    env.set_variants(
        &TWO_VARIANTS[..TWO_VARIANTS
            .find("\n[[variants]]\nname = \"large\"")
            .unwrap()],
    );
    let run = env.build(&[], 0);
    assert_eq!(env.output_files(), ["thumb/a.jpg"], "{}", run.stderr);
    assert!(!env.out("large").exists() && !env.out("thumb/s").exists());
    let clean = env.fresh_copy();
    clean.build(&[], 0);
    assert_eq!(env.outputs(), clean.outputs());
}

/// A file of the user's where an output goes, in a folder thumbgen did not
/// make: never written over. The source fails with the fix; the others
/// build; once the file is moved away, the folder becomes thumbgen's.
#[test]
fn a_file_thumbgen_did_not_write_is_never_written_over() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 100, 80, 1);
    env.add_image("b.jpg", 100, 80, 2);
    std::fs::create_dir_all(env.out("thumb")).unwrap();
    std::fs::write(env.out("thumb/a.jpg"), b"mine").unwrap();
    let run = env.run(&["build", "--json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("public/thumbs/thumb/a.jpg is in the way: thumbgen did not write it"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "public/thumbs/thumb holds public/thumbs/thumb/a.jpg, which thumbgen did not write"
        ),
        "{}",
        run.stderr
    );
    let events = parse_events(&run.stdout);
    assert!(events
        .iter()
        .any(|e| e["type"] == "failed" && e["kind"] == "occupied"));
    assert!(events.iter().any(|e| e["kind"] == "folder_not_owned"));
    assert_eq!(std::fs::read(env.out("thumb/a.jpg")).unwrap(), b"mine");
    // A failed source has no outputs; the other one has all of its own.
    assert_eq!(
        env.output_files(),
        ["large/b.webp", "thumb/a.jpg", "thumb/b.jpg"]
    );
    assert!(!env.out("thumb").join(OWNED_MARKER).exists());

    std::fs::remove_file(env.out("thumb/a.jpg")).unwrap();
    env.build(&[], 0);
    assert!(env.out("thumb").join(OWNED_MARKER).exists());
    assert_eq!(env.output_files().len(), 4);
}

/// `clean` without a cache still removes the outputs in the folders
/// thumbgen owns, and nothing else.
#[test]
fn clean_without_a_cache_removes_what_the_owned_folders_hold() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 100, 80, 1);
    env.build(&[], 0);
    std::fs::remove_dir_all(env.root().join(".thumbgen")).unwrap();
    std::fs::write(env.out("thumb/notes.txt"), b"mine").unwrap();
    std::fs::write(env.out("top.jpg"), b"mine").unwrap();
    let dry = env.run(&["clean", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(env.output_files().len(), 4);
    let run = env.run(&["clean"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let left: Vec<String> = env.outputs().into_keys().collect();
    assert_eq!(left, ["thumb/", "thumb/notes.txt", "top.jpg"]);
}
