//! The defining property: after any sequence of edits to sources and
//! configuration, and losses of the cache, an incremental build leaves
//! exactly what a clean build of the same state leaves, and a build right
//! after it has nothing to do.

use std::collections::BTreeMap;

use crate::common::*;

const NAMES: &[&str] = &["p", "q", "r", "s"];
const DIRS: &[&str] = &["", "a/", "a/b/", "c/"];
const EXTS: &[&str] = &["jpg", "png"];
const VARIANT_NAMES: &[&str] = &["thumb", "large", "mid"];
const FORMATS: &[&str] = &["jpeg", "png", "webp"];
/// Box sizes: sources are 8-120 px, so some variants are at least twice
/// as large as others and smaller ones are resized from them.
const SIZES: &[u32] = &[12, 16, 24, 32, 48, 64, 96];

/// Cover positions; the content-aware ones look at the pixels, and
/// `focus` at the sources' focal points (`focus.toml`), where they have one.
const POSITIONS: &[&str] = &["center", "top", "right", "entropy", "attention", "focus"];

#[derive(Clone, Debug)]
struct VariantSpec {
    name: &'static str,
    size: u32,
    format: &'static str,
    cover: bool,
    quality: u32,
    /// A set of three widths (half, whole, twice `size`) in its format and
    /// PNG: sources narrower than a width make no file of it.
    set: bool,
    /// Into [`POSITIONS`]; used with `cover`.
    position: usize,
    /// `blur = 1.5` after the downscale.
    blur: bool,
    /// `animated = "keep"`, where the format is WebP.
    animated: bool,
}

/// Top-level keys the sequences turn on and off. The manifest is always
/// written (into the output tree, so it is compared too).
#[derive(Clone, Debug, Default)]
struct TopSpec {
    hash_names: bool,
    placeholder: bool,
    /// `focus = "focus.toml"`, the focal points the random edits write.
    focus: bool,
}

fn config_text(top: &TopSpec, variants: &[VariantSpec]) -> String {
    let mut text = String::from("manifest = \"public/thumbs/manifest.json\"\n");
    if top.hash_names {
        text.push_str("hash_names = true\n");
    }
    if top.placeholder {
        text.push_str("placeholder = [\"thumbhash\", \"blurhash\"]\n");
    }
    if top.focus {
        text.push_str("focus = \"focus.toml\"\n");
    }
    text + &variants
        .iter()
        .map(|v| {
            // PNG is lossless: a quality for it is a config error.
            let quality = if v.format == "png" {
                String::new()
            } else {
                format!("quality = {}\n", v.quality)
            };
            let blur = if v.blur { "blur = 1.5\n" } else { "" };
            let animated = if v.animated && v.format == "webp" {
                "animated = \"keep\"\n"
            } else {
                ""
            };
            let position = if v.cover {
                format!("position = \"{}\"\n", POSITIONS[v.position])
            } else {
                String::new()
            };
            let (width, format) = if v.set {
                let quality = if v.format == "png" { "" } else { &quality };
                let formats = if v.format == "png" {
                    "formats = [\"png\"]".to_string()
                } else {
                    format!("formats = [\"{}\", \"png\"]\n{quality}", v.format)
                };
                (
                    format!("widths = [{}, {}, {}]", v.size / 2, v.size, v.size * 2),
                    formats,
                )
            } else {
                (
                    format!("width = {}", v.size),
                    format!("format = \"{}\"\n{quality}", v.format),
                )
            };
            format!(
                "[[variants]]\nname = \"{}\"\n{width}\nheight = {}\n{format}\nfit = \"{}\"\n{position}{blur}{animated}",
                v.name,
                v.size,
                if v.cover { "cover" } else { "contain" },
            )
        })
        .collect::<String>()
}

fn sources(env: &Env) -> Vec<String> {
    tree(&env.root().join("images"))
        .into_keys()
        .filter(|k| !k.ends_with('/'))
        .collect()
}

fn random_name(rng: &mut fastrand::Rng) -> String {
    format!(
        "{}{}.{}",
        DIRS[rng.usize(..DIRS.len())],
        NAMES[rng.usize(..NAMES.len())],
        EXTS[rng.usize(..EXTS.len())]
    )
}

/// The files a person might edit or delete in the output tree: not the
/// hidden marker of a folder thumbgen owns.
fn outputs_by_hand(env: &Env, foreign: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    env.output_files()
        .into_iter()
        .filter(|k| !k.rsplit('/').next().unwrap_or(k).starts_with('.'))
        .filter(|k| !foreign.contains_key(k))
        .collect()
}

/// Apply one random edit; returns a description for the failure log.
fn random_edit(
    env: &Env,
    rng: &mut fastrand::Rng,
    top: &mut TopSpec,
    variants: &mut Vec<VariantSpec>,
    foreign: &BTreeMap<String, Vec<u8>>,
) -> String {
    let present = sources(env);
    let pick = |rng: &mut fastrand::Rng| present[rng.usize(..present.len())].clone();
    let seed = rng.u32(..);
    match rng.u32(..14) {
        0 | 1 => {
            let name = random_name(rng);
            env.add_image(&name, rng.u32(8..120), rng.u32(8..120), seed);
            format!("add {name}")
        }
        2 if !present.is_empty() => {
            let name = pick(rng);
            env.add_image(&name, rng.u32(8..120), rng.u32(8..120), seed);
            format!("replace {name}")
        }
        3 if !present.is_empty() => {
            let name = pick(rng);
            touch(&env.src(&name), rng.i64(1..1000));
            format!("touch {name}")
        }
        4 if !present.is_empty() => {
            let name = pick(rng);
            std::fs::remove_file(env.src(&name)).unwrap();
            format!("delete {name}")
        }
        5 if !present.is_empty() => {
            let from = pick(rng);
            let to = random_name(rng);
            if present.contains(&to) {
                return format!("rename {from} -> {to} (skipped, exists)");
            }
            std::fs::create_dir_all(env.src(&to).parent().unwrap()).unwrap();
            std::fs::rename(env.src(&from), env.src(&to)).unwrap();
            format!("rename {from} -> {to}")
        }
        6 if !present.is_empty() => {
            let name = pick(rng);
            let bytes = std::fs::read(env.src(&name)).unwrap();
            std::fs::write(env.src(&name), &bytes[..bytes.len() / 3]).unwrap();
            format!("truncate {name}")
        }
        7 => {
            let i = rng.usize(..variants.len());
            let v = &mut variants[i];
            match rng.u32(..8) {
                6 => v.animated = !v.animated,
                0 => v.size = SIZES[rng.usize(..SIZES.len())],
                1 => v.format = FORMATS[rng.usize(..FORMATS.len())],
                2 => v.cover = !v.cover,
                3 => v.set = !v.set,
                4 => v.position = rng.usize(..POSITIONS.len()),
                5 => v.blur = !v.blur,
                _ => v.quality = rng.u32(50..95),
            }
            let v = v.clone();
            env.set_variants(&config_text(top, variants));
            format!("change variant {v:?}")
        }
        8 => {
            let unused: Vec<_> = VARIANT_NAMES
                .iter()
                .filter(|n| !variants.iter().any(|v| v.name == **n))
                .collect();
            if !unused.is_empty() && (variants.len() == 1 || rng.bool()) {
                let name = *unused[rng.usize(..unused.len())];
                variants.push(VariantSpec {
                    name,
                    size: SIZES[rng.usize(..SIZES.len())],
                    format: FORMATS[rng.usize(..FORMATS.len())],
                    cover: rng.bool(),
                    quality: 80,
                    set: rng.bool(),
                    position: rng.usize(..POSITIONS.len()),
                    blur: false,
                    animated: false,
                });
                env.set_variants(&config_text(top, variants));
                format!("add variant {name}")
            } else {
                let removed = variants.remove(rng.usize(..variants.len()));
                env.set_variants(&config_text(top, variants));
                format!("remove variant {}", removed.name)
            }
        }
        10 => {
            if rng.bool() {
                top.hash_names = !top.hash_names;
            } else {
                top.placeholder = !top.placeholder;
            }
            env.set_variants(&config_text(top, variants));
            format!("top-level keys now {top:?}")
        }
        11 => {
            // Focal points as a CMS writes them: for some of the sources
            // (and for names that are not sources), anywhere in 0–1.
            let mut points = String::new();
            let mut names = present.clone();
            names.push(random_name(rng));
            names.sort();
            names.dedup();
            for name in names {
                if rng.bool() {
                    let (x, y) = (rng.u32(..=100), rng.u32(..=100));
                    points.push_str(&format!(
                        "\"{name}\" = [{}, {}]\n",
                        x as f64 / 100.0,
                        y as f64 / 100.0
                    ));
                }
            }
            std::fs::write(env.root().join("focus.toml"), &points).unwrap();
            if !top.focus || rng.u32(..4) == 0 {
                top.focus = !top.focus;
                env.set_variants(&config_text(top, variants));
            }
            format!("focal points (used: {}):\n{points}", top.focus)
        }
        12 => {
            // A CI runner whose cache was not restored: the records are
            // gone, the outputs are not.
            let cache = env.root().join(".thumbgen");
            if cache.exists() {
                std::fs::remove_dir_all(&cache).unwrap();
            }
            "lose the cache".into()
        }
        9 => {
            // Not the manifest: one replaced by hand is the user's file, which
            // stops the build (`trust::a_recorded_manifest_replaced_by_hand_…`).
            let outputs: Vec<String> = outputs_by_hand(env, foreign)
                .into_iter()
                .filter(|k| k != "manifest.json")
                .collect();
            if outputs.is_empty() {
                return "edit output (none)".into();
            }
            let name = &outputs[rng.usize(..outputs.len())];
            std::fs::write(env.out(name), b"edited by hand").unwrap();
            format!("hand-edit output {name}")
        }
        _ => {
            let outputs = outputs_by_hand(env, foreign);
            if outputs.is_empty() {
                return "delete output (none)".into();
            }
            let name = &outputs[rng.usize(..outputs.len())];
            std::fs::remove_file(env.out(name)).unwrap();
            format!("delete output {name}")
        }
    }
}

/// With `shared`, the incremental builds use a shared folder as their
/// `[remote]`, and a third, fresh workspace with the same remote must get
/// what the clean build gets, downloading instead of rendering. With
/// `focus`, the thumbnails start cropped around focal points that every
/// source starts with. With `animations`, half the first sources are
/// animated GIFs, and the WebP set keeps their animation.
fn check_sequence(
    seed: u64,
    steps: usize,
    shared: Option<&std::path::Path>,
    focus: bool,
    animations: bool,
) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut variants = vec![
        VariantSpec {
            name: "thumb",
            size: 32,
            format: "jpeg",
            cover: false,
            quality: 80,
            set: false,
            position: 0,
            blur: false,
            animated: false,
        },
        VariantSpec {
            name: "large",
            size: 64,
            format: "webp",
            cover: false,
            quality: 75,
            set: true,
            position: 0,
            blur: false,
            animated: false,
        },
    ];
    let mut top = TopSpec::default();
    let env = Env::new("");
    let mut points = BTreeMap::new();
    for i in 0..4 {
        let mut name = random_name(&mut rng);
        if animations && i % 2 == 0 {
            name = name.rsplit_once('.').unwrap().0.to_string() + ".gif";
        }
        env.add_image(&name, rng.u32(8..120), rng.u32(8..120), rng.u32(..));
        points.insert(name, (rng.u32(..10), rng.u32(..10)));
    }
    let points: String = points
        .iter()
        .map(|(name, (x, y))| format!("\"{name}\" = [0.{x}, 0.{y}]\n"))
        .collect();
    variants[1].animated = animations;
    if focus {
        variants[0].cover = true;
        variants[0].position = POSITIONS.iter().position(|p| *p == "focus").unwrap();
        top.focus = true;
        std::fs::write(env.root().join("focus.toml"), points).unwrap();
    }
    env.set_variants(&config_text(&top, &variants));
    let mut log = Vec::new();
    for step in 0..steps {
        let edit = random_edit(&env, &mut rng, &mut top, &mut variants, &BTreeMap::new());
        log.push(edit);
        let context = || format!("seed {seed}, step {step}, edits:\n  {}", log.join("\n  "));

        let remote = shared.map(|dir| format!("\n[remote]\nurl = \"file://{}\"\n", dir.display()));
        let config = env.root().join(".thumbgen.toml");
        let local = std::fs::read_to_string(&config).unwrap();
        if let Some(table) = &remote {
            std::fs::write(&config, format!("{local}{table}")).unwrap();
        }
        let incremental = Run::from(env.cmd(&["build", "-j2"]));
        let clean = env.fresh_copy();
        clean.write_config(&local);
        let fresh = Run::from(clean.cmd(&["build", "-j1"]));
        if remote.is_some() {
            let downloader = env.fresh_copy();
            let got = Run::from(downloader.cmd(&["build", "-j2"]));
            assert_eq!(got.code, fresh.code, "{}\n{}", context(), got.stderr);
            assert_eq!(
                downloader.outputs(),
                clean.outputs(),
                "downloaded != clean; {}\n{}",
                context(),
                got.stderr
            );
            assert!(
                !got.stderr.contains("warning: shared cache"),
                "{}",
                got.stderr
            );
        }

        assert_eq!(
            incremental.code,
            fresh.code,
            "exit codes differ; {}\nincremental:\n{}\nclean:\n{}",
            context(),
            incremental.stderr,
            fresh.stderr
        );
        let (a, b) = (env.outputs(), clean.outputs());
        if a != b {
            let keys_a: Vec<_> = a.keys().collect();
            let keys_b: Vec<_> = b.keys().collect();
            let differ: Vec<_> = a
                .iter()
                .filter(|(k, v)| b.get(*k).is_some_and(|w| w != *v))
                .map(|(k, _)| k)
                .collect();
            panic!(
                "incremental != clean; {}\nincremental: {keys_a:?}\nclean: {keys_b:?}\ncontent differs: {differ:?}\n{}",
                context(),
                incremental.stderr
            );
        }
        let again = Run::from(env.cmd(&["build"]));
        if remote.is_some() {
            std::fs::write(&config, &local).unwrap();
        }
        let s = again.summary();
        assert!(
            s[0] == 0 && s[2] == 0,
            "a second build did work: {s:?}; {}\n{}",
            context(),
            again.stderr
        );
    }
}

#[test]
fn random_edit_sequences_seed_1() {
    check_sequence(1, 14, None, false, false);
}

#[test]
fn random_edit_sequences_seed_2() {
    check_sequence(2, 14, None, false, false);
}

#[test]
fn random_edit_sequences_seed_3() {
    check_sequence(3, 14, None, false, false);
}

#[test]
fn random_edit_sequences_with_animations() {
    check_sequence(13, 16, None, false, true);
}

#[test]
fn random_edit_sequences_with_focal_points() {
    check_sequence(8, 20, None, true, false);
}

#[test]
fn random_edit_sequences_through_a_shared_cache() {
    let shared = tempfile::tempdir().unwrap();
    check_sequence(4, 14, Some(shared.path()), false, false);
}

#[test]
fn random_edit_sequences_with_focal_points_and_animations_through_a_shared_cache() {
    let shared = tempfile::tempdir().unwrap();
    check_sequence(12, 14, Some(shared.path()), true, true);
}

/// Files of the user's at every path thumbgen might touch: in the folders
/// of variants (configured now or later) at output paths of sources that
/// exist now or later, and beside them under other names. Through random
/// edits, losses of the cache and builds, not one of their bytes changes.
fn check_foreign_files_survive(seed: u64, steps: usize) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut variants = vec![VariantSpec {
        name: "thumb",
        size: 32,
        format: "jpeg",
        cover: false,
        quality: 80,
        set: rng.bool(),
        position: 0,
        blur: false,
        animated: false,
    }];
    let mut top = TopSpec {
        hash_names: rng.bool(),
        ..TopSpec::default()
    };
    let env = Env::new(&config_text(&top, &variants));
    let mut foreign: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for variant in VARIANT_NAMES {
        // Some folders hold nothing of the user's: thumbgen makes them.
        if rng.u32(..3) == 0 {
            continue;
        }
        for dir in DIRS {
            foreign.insert(format!("{variant}/{dir}notes.txt"), vec![b'n'; 5]);
            foreign.insert(format!("{variant}/{dir}.hidden.jpg"), vec![b'h'; 5]);
            for name in NAMES {
                let ext = ["jpg", "png", "webp"][rng.usize(..3)];
                let size = SIZES[rng.usize(..SIZES.len())];
                let file = match rng.u32(..3) {
                    0 => format!("{name}.{ext}"),
                    1 => format!("{name}-{size}.{ext}"),
                    _ => format!("{name}.0123abcd.{ext}"),
                };
                foreign.insert(
                    format!("{variant}/{dir}{file}"),
                    rng.u64(..).to_le_bytes().to_vec(),
                );
            }
        }
    }
    foreign.insert("top.jpg".into(), b"top".to_vec());
    for (rel, bytes) in &foreign {
        std::fs::create_dir_all(env.out(rel).parent().unwrap()).unwrap();
        std::fs::write(env.out(rel), bytes).unwrap();
    }
    for _ in 0..4 {
        let name = random_name(&mut rng);
        env.add_image(&name, rng.u32(8..120), rng.u32(8..120), rng.u32(..));
    }
    let mut log = Vec::new();
    for step in 0..steps {
        log.push(random_edit(
            &env,
            &mut rng,
            &mut top,
            &mut variants,
            &foreign,
        ));
        let run = Run::from(env.cmd(&["build"]));
        assert!(
            run.code == 0 || run.code == 1,
            "seed {seed}, step {step}: {}",
            run.stderr
        );
        for (rel, bytes) in &foreign {
            assert_eq!(
                std::fs::read(env.out(rel)).ok().as_ref(),
                Some(bytes),
                "{rel} changed; seed {seed}, step {step}, edits:\n  {}\n{}",
                log.join("\n  "),
                run.stderr
            );
        }
    }
}

#[test]
fn foreign_files_survive_random_edits_seed_1() {
    check_foreign_files_survive(1, 12);
}

#[test]
fn foreign_files_survive_random_edits_seed_2() {
    check_foreign_files_survive(2, 12);
}
