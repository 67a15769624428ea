//! Small slips that used to give silently wrong results: URLs joined with
//! exactly one slash, patterns and settings that do nothing, and a source
//! that cannot be read for a moment.

use crate::common::{parse_events, Env};

const ONE: &str = "[[variants]]\nname = \"t\"\nwidth = 64\nformat = \"jpeg\"\n";

fn config(env: &Env, top: &str, variants: &str) {
    env.write_config(&format!(
        "source = \"images\"\noutput = \"public/thumbs\"\n{top}\n{variants}"
    ));
}

#[test]
fn url_prefix_without_a_trailing_slash_gives_working_urls() {
    let env = Env::new(ONE);
    config(
        &env,
        "manifest = \"public/thumbs/manifest.json\"\nurl_prefix = \"/thumbs\"",
        ONE,
    );
    env.add_image("shoes/red.jpg", 120, 90, 1);
    env.build(&[], 0);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.out("manifest.json")).unwrap()).unwrap();
    let text = manifest.to_string();
    assert!(text.contains("\"/thumbs/t/shoes/red.jpg\""), "{text}");
    assert!(!text.contains("/thumbst/"), "{text}");
}

#[test]
fn patterns_that_match_no_image_are_named_with_the_likely_fix() {
    let env = Env::new(ONE);
    config(
        &env,
        "exclude = [\"drafts\", \"drafts/\", \"old/**\"]\ninclude = [\"**/*.jpg\", \"**/*.tiff\"]",
        ONE,
    );
    env.add_image("a.jpg", 40, 30, 1);
    env.add_image("drafts/b.jpg", 40, 30, 2);
    env.add_image("old/c.jpg", 40, 30, 3);
    let run = env.build(&["--json"], 0);
    let warnings: Vec<String> = parse_events(&run.stdout)
        .iter()
        .filter(|e| e["type"] == "warning" && e["kind"] == "pattern_matches_nothing")
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        warnings,
        [
            "`include` pattern \"**/*.tiff\" matches no image",
            "`exclude` pattern \"drafts\" matches no image; patterns match whole paths under `source`: for the folder, write \"drafts/**\"",
            "`exclude` pattern \"drafts/\" matches no image; patterns match whole paths under `source`: for the folder, write \"drafts/**\"",
        ],
        "{run}"
    );
    // The slip's effect, which the warning explains: drafts/ is built.
    assert!(env.out("t/drafts/b.jpg").exists());
    assert!(!env.out("t/old/c.jpg").exists());
}

#[test]
fn settings_without_effect_are_named_with_their_line() {
    let env = Env::new(ONE);
    config(
        &env,
        "url_prefix = \"/thumbs/\"",
        "[[variants]]\nname = \"t\"\nwidth = 64\nformat = \"jpeg\"\nsizes = \"50vw\"\n",
    );
    env.add_image("a.jpg", 40, 30, 1);
    let run = env.build(&[], 0);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("has no effect"))
        .collect();
    assert_eq!(lines.len(), 2, "{run}");
    assert!(
        lines[0].contains(".thumbgen.toml:3: `url_prefix` has no effect: there is no `manifest`"),
        "{run}"
    );
    assert!(
        lines[1].contains(".thumbgen.toml:8: `variants[0].sizes` has no effect"),
        "{run}"
    );

    // With a manifest, `sizes` on one width still does nothing.
    config(
        &env,
        "manifest = \"public/thumbs/manifest.json\"",
        "[[variants]]\nname = \"t\"\nwidth = 64\nformat = \"jpeg\"\nsizes = \"50vw\"\n",
    );
    let run = env.build(&["--json"], 0);
    let events = parse_events(&run.stdout);
    let kinds: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "warning")
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["setting_has_no_effect"], "{run}");
    assert!(events.iter().any(|e| e["message"]
        .as_str()
        .unwrap_or("")
        .contains("the variant has one width")));
}

/// A source that is there but cannot be read keeps the thumbnails of its
/// last build, says so, and builds again once it can be read. (Root reads
/// any file, so this needs a user account.)
#[cfg(unix)]
#[test]
fn a_source_that_cannot_be_read_for_now_keeps_its_thumbnails() {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        eprintln!("skipped: root reads files whatever their permissions");
        return;
    }
    let env = Env::new(ONE);
    env.add_image("a.jpg", 40, 30, 1);
    env.build(&[], 0);
    let before = env.outputs();
    let src = env.src("a.jpg");
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o000)).unwrap();
    let run = env.build(&[], 1);
    assert!(
        run.stderr.contains("images/a.jpg: cannot read it (")
            && run
                .stderr
                .contains("its thumbnails from the last build are kept"),
        "{run}"
    );
    assert_eq!(env.outputs(), before);
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(env.build(&[], 0).summary()[2], 0, "nothing removed");
    assert_eq!(env.outputs(), before);
}

/// Without a cache, the plan reads each photo's size from its header, so
/// `--dry-run`, `--explain` and `--check` name exactly the members of a
/// set that a build makes (a photo narrower than a width gets none of it).
#[test]
fn plans_without_a_cache_list_only_the_outputs_a_build_makes() {
    let set =
        "[[variants]]\nname = \"p\"\nwidths = [320, 640, 1280]\nformats = [\"jpeg\", \"webp\"]\n";
    let env = Env::new(set);
    env.add_image("narrow.jpg", 500, 300, 1);
    env.add_image("wide.png", 1400, 700, 2);
    env.add_image("tall.jpg", 300, 900, 3);
    let listed = |run: &crate::common::Run, verb: &str| -> Vec<String> {
        let mut paths: Vec<String> = run
            .stderr
            .lines()
            .filter_map(|l| l.strip_prefix(verb))
            .map(|l| l.trim().split("  ").next().unwrap().to_string())
            .collect();
        paths.sort();
        paths
    };
    let dry = env.build(&["--dry-run"], 0);
    let built = env.build(&["--explain"], 0);
    let made: Vec<String> = env
        .output_files()
        .into_iter()
        .map(|p| format!("public/thumbs/{p}"))
        .collect();
    assert_eq!(listed(&dry, "build "), made, "{dry}");
    assert_eq!(listed(&built, "build "), made, "{built}");
    assert_eq!(built.summary()[0], made.len());
    assert!(!made.iter().any(|p| p.contains("narrow-1280")), "{made:?}");

    // A check without the cache counts what is there, and no more.
    std::fs::remove_dir_all(env.root().join(".thumbgen")).unwrap();
    let up_to_date = |run: &crate::common::Run| -> usize {
        let summary = run
            .stderr
            .lines()
            .rfind(|l| l.starts_with("would build "))
            .unwrap();
        let at = summary.find("up to date ").unwrap() + "up to date ".len();
        summary[at..].split(',').next().unwrap().parse().unwrap()
    };
    let check = env.build(&["--check"], 0);
    assert_eq!(up_to_date(&check), made.len(), "{check}");
    assert!(
        !env.root().join(".thumbgen").exists(),
        "a check writes nothing"
    );
    std::fs::remove_file(env.out("p/wide-640.webp")).unwrap();
    let check = env.build(&["--check"], 1);
    assert!(up_to_date(&check) < made.len(), "{check}");
    assert!(
        listed(&check, "build ").contains(&"public/thumbs/p/wide-640.webp".to_string()),
        "{check}"
    );
}

/// With `hash_names`, reports name the files a build really writes, and
/// rewriting identical bytes is verified, not removed and built again.
#[test]
fn content_named_outputs_are_reported_as_they_really_change() {
    let env = Env::new(ONE);
    config(&env, "hash_names = true", ONE);
    env.add_image("a.jpg", 120, 90, 1);
    env.add_image("b.jpg", 120, 90, 2);
    env.build(&[], 0);
    let before = env.output_files();
    assert_eq!(before.len(), 2, "{before:?}");

    let forced = env.build(&["--force", "--explain"], 0);
    assert_eq!(forced.summary(), [0, 0, 0, 0], "{forced}");
    assert_eq!(forced.verified(), 2, "{forced}");
    assert!(!forced.stderr.contains("remove "), "{forced}");
    assert_eq!(env.output_files(), before);

    env.add_image("a.jpg", 120, 90, 3);
    let edited = env.build(&["--explain", "--json"], 0);
    assert_eq!(edited.summary(), [1, 1, 0, 0], "{edited}");
    let old_a = before.iter().find(|p| p.starts_with("t/a.")).unwrap();
    assert!(
        edited.stderr.contains(&format!(
            "build  public/thumbs/t/a.????????.jpg  (source content changed, replacing public/thumbs/{old_a})"
        )),
        "{edited}"
    );
    assert!(!edited.stderr.contains("writes elsewhere"), "{edited}");
    let built: Vec<String> = parse_events(&edited.stdout)
        .iter()
        .filter(|e| e["type"] == "built")
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect();
    let now = env.output_files();
    assert!(!now.contains(old_a), "{now:?}");
    let new_a = now.iter().find(|p| p.starts_with("t/a.")).unwrap();
    assert_eq!(built, [format!("public/thumbs/{new_a}")]);
}
