//! Focal points (`focus = "focus.toml"`, `position = "focus"`): a crop
//! centred where the sidecar says, and a point edited rebuilding exactly
//! that source's outputs cropped around it.

use crate::common::*;

const CONFIG: &str = r#"focus = "cms/focus.toml"
[[variants]]
name = "square"
width = 40
height = 40
fit = "cover"
position = "focus"
format = "png"

[[variants]]
name = "whole"
width = 40
format = "png"
"#;

fn write_points(env: &Env, text: &str) {
    let dir = env.root().join("cms");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("focus.toml"), text).unwrap();
}

/// The `built` events of a `--json` run: (source, variant).
fn built(run: &Run) -> Vec<(String, String)> {
    let mut built: Vec<_> = parse_events(&run.stdout)
        .into_iter()
        .filter(|e| e["type"] == "built")
        .map(|e| {
            let field = |k: &str| e[k].as_str().unwrap().to_string();
            (field("source"), field("variant"))
        })
        .collect();
    built.sort();
    built
}

#[test]
fn editing_a_point_rebuilds_that_sources_crops_alone() {
    let env = Env::new("");
    env.set_variants(CONFIG);
    // Wide photos: a square crop has room to move across them.
    for name in ["a.jpg", "b.jpg", "c.png"] {
        env.add_image(name, 160, 60, name.len() as u32 + name.as_bytes()[0] as u32);
    }
    write_points(&env, "\"a.jpg\" = [0.1, 0.5]\n\"b.jpg\" = [0.9, 0.5]\n");
    env.build(&[], 0);
    let first = env.outputs();

    // The same points written another way: nothing to do.
    write_points(&env, "'b.jpg' = [0.90, 0.5]\n\"./a.jpg\" = [0.1, 0.50]\n");
    let again = env.build(&["--json"], 0);
    assert_eq!(built(&again), []);

    // One point moved: that source's crop alone, and `--explain` says so.
    write_points(&env, "\"a.jpg\" = [0.8, 0.5]\n\"b.jpg\" = [0.9, 0.5]\n");
    let moved = env.build(&["--json", "--explain"], 0);
    assert_eq!(built(&moved), [("images/a.jpg".into(), "square".into())]);
    assert!(
        moved.stderr.contains("focus 0.1,0.5 → 0.8,0.5"),
        "{}",
        moved.stderr
    );
    let now = env.outputs();
    assert_ne!(now["square/a.png"], first["square/a.png"], "the crop moved");
    for unchanged in ["square/b.png", "square/c.png", "whole/a.png"] {
        assert_eq!(now[unchanged], first[unchanged], "{unchanged}");
    }

    // A point given to `c`, which had none (so was cropped by attention),
    // and `b`'s taken away: their crops alone.
    write_points(&env, "\"a.jpg\" = [0.8, 0.5]\n\"c.png\" = [0, 0]\n");
    let swapped = env.build(&["--json"], 0);
    assert_eq!(
        built(&swapped),
        [
            ("images/b.jpg".into(), "square".into()),
            ("images/c.png".into(), "square".into())
        ]
    );

    // A point for a path that is no source (a typo) is named.
    write_points(
        &env,
        "\"a.jpg\" = [0.8, 0.5]\n\"c.png\" = [0, 0]\n\"shoes/a.jpg\" = [0.5, 0.5]\n",
    );
    let typo = env.build(&["--json"], 0);
    assert!(
        typo.stderr
            .contains("1 focal point(s) name no source (shoes/a.jpg)"),
        "{}",
        typo.stderr
    );
    assert_eq!(built(&typo), []);

    // Whatever the history, the same as a clean build of the same state.
    let clean = env.fresh_copy();
    std::fs::create_dir_all(clean.root().join("cms")).unwrap();
    std::fs::copy(
        env.root().join("cms/focus.toml"),
        clean.root().join("cms/focus.toml"),
    )
    .unwrap();
    clean.build(&[], 0);
    assert!(env.outputs() == clean.outputs(), "incremental != clean");
}

#[test]
fn a_bad_sidecar_stops_the_build_before_any_work() {
    let env = Env::new("");
    env.set_variants(CONFIG);
    env.add_image("a.jpg", 160, 60, 1);
    let missing = env.build(&[], 2);
    assert!(
        missing.stderr.contains("`focus` names") && missing.stderr.contains("cannot be read"),
        "{}",
        missing.stderr
    );
    write_points(&env, "\"a.jpg\" = [0.5, 0.5]\n\"b.jpg\" = [0.5, 1.2]\n");
    let bad = env.build(&[], 2);
    assert!(
        bad.stderr
            .contains("cms/focus.toml:2: \"b.jpg\" must be [x, y]"),
        "{}",
        bad.stderr
    );
    assert!(env.outputs().is_empty());
}
