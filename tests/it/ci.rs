//! CI mode (`--check`), `--json` events and the manifest.

use crate::common::*;

fn project() -> Env {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 200, 100, 1);
    env.add_image("b/c.png", 100, 100, 2);
    env
}

/// Every mtime changed, content the same: what a fresh clone looks like.
fn reset_all_mtimes(dir: &std::path::Path) {
    for (rel, _) in tree(dir).into_iter().filter(|(k, _)| !k.ends_with('/')) {
        touch(&dir.join(rel), 3600);
    }
}

#[test]
fn check_passes_when_up_to_date_even_after_mtimes_change() {
    let env = project();
    env.build(&[], 0);
    reset_all_mtimes(&env.root().join("images"));
    reset_all_mtimes(&env.root().join("public"));
    let db = env.root().join(".thumbgen/db");
    let cache = tree(&db);
    let outputs = env.outputs();
    let run = env.build(&["--check"], 0);
    assert_transcript!("check_after_every_mtime_changed", env, run);
    // wrote nothing: the database and the outputs are byte-identical
    assert!(tree(&db) == cache, "the database changed");
    assert!(env.outputs() == outputs, "the outputs changed");
}

#[test]
fn check_without_cache_trusts_identical_outputs() {
    let env = project();
    env.build(&[], 0);
    std::fs::remove_dir_all(env.root().join(".thumbgen")).unwrap();
    reset_all_mtimes(&env.root().join("images"));
    let verified = env.build(&["--check"], 0);
    assert!(
        !env.root().join(".thumbgen").exists(),
        "check creates no cache"
    );
    std::fs::write(env.out("thumb/a.jpg"), b"stale").unwrap();
    let stale = env.build(&["--check"], 1);
    assert_transcript!(
        "check_without_cache",
        env,
        story(&[
            ("no cache, outputs as built", &verified),
            ("thumb/a.jpg overwritten", &stale)
        ])
    );
}

#[test]
fn check_fails_naming_the_stale_file_and_writes_nothing() {
    let env = project();
    env.build(&[], 0);
    env.add_image("a.jpg", 200, 100, 42);
    let before = env.outputs();
    let changed = env.build(&["--check"], 1);
    assert_eq!(env.outputs(), before);
    // and a removed source is stale too
    env.build(&[], 0);
    std::fs::remove_file(env.src("b/c.png")).unwrap();
    let removed = env.build(&["--check"], 1);
    assert_transcript!(
        "check_names_the_stale_files",
        env,
        story(&[
            ("a.jpg: new pixels", &changed),
            ("b/c.png: deleted", &removed)
        ])
    );
}

#[test]
fn check_on_a_fresh_project_fails() {
    let env = project();
    env.build(&["--check"], 1);
    assert!(!env.root().join("public").exists());
}

#[test]
fn json_events_match_the_file_system() {
    let env = project();
    std::fs::write(env.src("broken.jpg"), b"nope").unwrap();
    let run = env.build(&["--json"], 1);
    let events = parse_events(&run.stdout);
    let last = events.last().unwrap();
    assert_eq!(last["type"], "summary");
    assert_eq!(last["version"], 1);
    assert_eq!(
        (last["built"].as_u64(), last["failed"].as_u64()),
        (Some(4), Some(1))
    );
    assert_eq!(last["exit_code"], 1);
    let built: Vec<_> = events.iter().filter(|e| e["type"] == "built").collect();
    assert_eq!(built.len(), 4);
    for e in &built {
        let path = env.root().join(e["path"].as_str().unwrap());
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(e["bytes"].as_u64(), Some(meta.len()));
        let img = decode(&path);
        assert_eq!(e["width"].as_u64(), Some(u64::from(img.width())));
        assert_eq!(e["height"].as_u64(), Some(u64::from(img.height())));
        assert_eq!(e["reason"], "new_source");
    }
    let failed: Vec<_> = events.iter().filter(|e| e["type"] == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["source"], "images/broken.jpg");
    assert!(!failed[0]["error"].as_str().unwrap().is_empty());

    std::fs::remove_file(env.src("a.jpg")).unwrap();
    let run = env.build(&["--json=all"], 1);
    let events = parse_events(&run.stdout);
    assert_eq!(events.iter().filter(|e| e["type"] == "removed").count(), 2);
    assert_eq!(
        events.iter().filter(|e| e["type"] == "up_to_date").count(),
        2
    );
    assert!(!run.stdout.contains('\u{1b}'), "no escapes on stdout");
}

#[test]
fn manifest_lists_every_output_and_is_stable() {
    let env = project();
    env.write_config(&format!(
        "source = \"images\"\noutput = \"public/thumbs\"\nmanifest = \"public/manifest.json\"\n{TWO_VARIANTS}"
    ));
    env.build(&[], 0);
    let path = env.root().join("public/manifest.json");
    let bytes = std::fs::read(&path).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json["version"], 2);
    let sources = json["sources"].as_object().unwrap();
    let names: Vec<&String> = sources.keys().collect();
    assert_eq!(names, ["a.jpg", "b/c.png"]);
    for source in sources.values() {
        for o in source["outputs"].as_array().unwrap() {
            // Relative to `output`, wherever the manifest is.
            let file = env.out(o["path"].as_str().unwrap());
            assert_eq!(
                o["bytes"].as_u64(),
                Some(std::fs::metadata(&file).unwrap().len())
            );
            let img = decode(&file);
            assert_eq!(o["width"].as_u64(), Some(u64::from(img.width())));
        }
    }
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    env.build(&[], 0);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "byte-identical when nothing changed"
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        mtime,
        "not rewritten"
    );

    std::fs::remove_file(env.src("a.jpg")).unwrap();
    env.build(&[], 0);
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(json["sources"].as_object().unwrap().len(), 1);

    assert_eq!(Run::from(env.cmd(&["clean"])).code, 0);
    assert!(!path.exists());
}

/// The schema the events are checked against refuses what it does not
/// describe: an unknown type, a missing field, an unknown reason.
#[test]
fn the_event_schema_refuses_what_it_does_not_describe() {
    let good = r#"{"type":"warning","version":1,"kind":"polling","message":"m"}"#;
    assert_eq!(parse_events(good).len(), 1);
    for bad in [
        r#"{"type":"sparkle","version":1}"#,
        r#"{"type":"warning","version":1,"kind":"polling"}"#,
        r#"{"type":"warning","version":2,"kind":"polling","message":"m"}"#,
        r#"{"type":"removed","version":1,"source":"a","path":"p","reason":"whim"}"#,
        r#"{"type":"failed","version":1,"source":"a","kind":"io","error":"e","extra":1}"#,
    ] {
        let refused = std::panic::catch_unwind(|| parse_events(bad));
        assert!(refused.is_err(), "the schema allowed {bad}");
    }
}

/// Every reason and kind the schema allows is explained in the README's
/// JSON section.
#[test]
fn the_readme_explains_every_kind_the_schema_allows() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{root}/docs/events.schema.json")).unwrap(),
    )
    .unwrap();
    for (def, bullet) in [
        ("build_reason", "- Build reasons:"),
        ("removal_reason", "- Removal reasons:"),
        ("failure_kind", "- Failure kinds:"),
        ("warning_kind", "- Warning kinds:"),
        ("error_kind", "- Error kinds:"),
        ("upload_reason", "- Upload reasons:"),
    ] {
        let start = readme.find(bullet).unwrap_or_else(|| panic!("{bullet}"));
        let rest = &readme[start + bullet.len()..];
        let text = &rest[..rest
            .find("\n- ")
            .or(rest.find("\n\n"))
            .unwrap_or(rest.len())];
        for value in schema["$defs"][def]["enum"].as_array().unwrap() {
            let value = value.as_str().unwrap();
            assert!(
                text.contains(&format!("`{value}`")),
                "README's \"{bullet}\" does not name `{value}`"
            );
        }
    }
}

/// Placeholders asked for after a build make the sources stale, not
/// failing: `--check` says to build, and the build makes them.
#[test]
fn check_after_adding_placeholders_says_stale_not_failing() {
    let variants = "[[variants]]\nname = \"t\"\nwidth = 64\nheight = 64\n";
    let env = Env::new(&format!(
        "manifest = \"public/thumbs/manifest.json\"\n{variants}"
    ));
    env.add_image("a.jpg", 120, 80, 1);
    env.add_image("b.png", 90, 90, 2);
    env.build(&[], 0);
    env.set_variants(&format!(
        "manifest = \"public/thumbs/manifest.json\"\nplaceholder = \"thumbhash\"\n{variants}"
    ));
    let check = env.build(&["--check", "--json"], 1);
    assert!(check.stderr.contains("not up to date"), "{}", check.stderr);
    assert!(!check.stderr.contains("fail to build"), "{}", check.stderr);
    let summary = parse_events(&check.stdout).pop().unwrap();
    assert_eq!(summary["failed"], 0, "{summary}");
    env.build(&[], 0);
    env.build(&["--check"], 0);
}
