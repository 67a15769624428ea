use std::path::Path;

use crate::common::*;

#[test]
fn builds_every_variant_at_the_right_size() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("shoes/red.jpg", 400, 300, 1);
    env.add_image("bags/blue.png", 100, 200, 2);
    let run = env.build(&[], 0);
    assert_eq!(run.summary(), [4, 0, 0, 0]);

    let thumb = decode(&env.out("thumb/shoes/red.jpg"));
    assert_eq!((thumb.width(), thumb.height()), (64, 48));
    let large = decode(&env.out("large/shoes/red.webp"));
    assert_eq!((large.width(), large.height()), (160, 120));
    let thumb = decode(&env.out("thumb/bags/blue.jpg"));
    assert_eq!((thumb.width(), thumb.height()), (32, 64));
    // never upscaled
    let large = decode(&env.out("large/bags/blue.webp"));
    assert_eq!((large.width(), large.height()), (80, 160));
    assert_eq!(env.output_files().len(), 4);
}

#[test]
fn outputs_are_sniffable_in_their_format() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.png", 90, 90, 3);
    env.build(&[], 0);
    let jpg = std::fs::read(env.out("thumb/a.jpg")).unwrap();
    assert_eq!(&jpg[..3], &[0xFF, 0xD8, 0xFF], "JPEG magic");
    let webp = std::fs::read(env.out("large/a.webp")).unwrap();
    assert_eq!(&webp[..4], b"RIFF");
    assert_eq!(&webp[8..12], b"WEBP");
}

#[test]
fn second_build_does_nothing() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 120, 80, 1);
    env.add_image("b/c.jpg", 120, 80, 2);
    env.build(&[], 0);
    let before = env.outputs();
    let run = env.build(&["--explain"], 0);
    assert_eq!(run.summary(), [0, 4, 0, 0]);
    // That no `--explain` line is printed: snapshots::noop_build.
    assert_eq!(env.outputs(), before);
}

#[test]
fn parallel_and_sequential_builds_write_identical_bytes() {
    let one = Env::new(TWO_VARIANTS);
    let many = Env::new(TWO_VARIANTS);
    for (i, name) in ["a.jpg", "b.png", "c/d.jpg", "c/e.jpeg", "f.PNG"]
        .iter()
        .enumerate()
    {
        one.add_image(name, 150 + i as u32 * 10, 100, i as u32);
        many.add_image(name, 150 + i as u32 * 10, 100, i as u32);
    }
    one.build(&["-j1"], 0);
    many.build(&["-j4"], 0);
    assert_eq!(one.outputs(), many.outputs());
    // and a forced rebuild reproduces them byte for byte
    let before = many.outputs();
    let run = many.build(&["--force", "-j2"], 0);
    // Re-rendered, found identical, and left alone (not rewritten).
    assert_eq!(run.summary()[0], 0);
    assert_eq!(run.verified(), 10);
    assert_eq!(many.outputs(), before);
}

#[test]
fn dry_run_changes_nothing() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 120, 80, 1);
    // What it prints, for both runs here: snapshots::dry_run.
    env.build(&["--dry-run"], 0);
    assert!(!env.root().join("public").exists());
    assert!(!env.root().join(".thumbgen").exists());

    env.build(&[], 0);
    std::fs::remove_file(env.src("a.jpg")).unwrap();
    let before = env.outputs();
    env.build(&["--dry-run"], 0);
    assert_eq!(env.outputs(), before);
}

#[test]
fn config_found_in_an_ancestor_folder() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("deep/a.jpg", 100, 100, 1);
    let output = crate::common::thumbgen_command()
        .current_dir(env.src("deep"))
        .arg("build")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(env.out("thumb/deep/a.jpg").exists());
}

#[test]
fn explicit_config_path() {
    let env = Env::new(TWO_VARIANTS);
    std::fs::rename(
        env.root().join(".thumbgen.toml"),
        env.root().join("other.toml"),
    )
    .unwrap();
    env.add_image("a.jpg", 50, 50, 1);
    env.build(&[], 2);
    env.build(&["--config", "other.toml"], 0);
    assert!(env.out("thumb/a.jpg").exists());
}

#[test]
fn config_errors_exit_2_naming_file_line_and_key() {
    // The messages, for these configs and others: snapshots::config_errors.
    let env = Env::new(&TWO_VARIANTS.replace("width = 64", "width = 0"));
    env.add_image("a.jpg", 50, 50, 1);
    env.build(&[], 2);
    assert!(
        !env.root().join("public").exists(),
        "no work before validation"
    );

    env.set_variants(&TWO_VARIANTS.replace("format = \"webp\"", "formt = \"webp\""));
    env.build(&[], 2);
}

#[test]
fn missing_config_and_bad_usage_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let run: Run = crate::common::thumbgen_command()
        .current_dir(dir.path())
        .arg("build")
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 2, "{}", run.stderr);
    // The message: snapshots::config_errors.
    let env = Env::new(TWO_VARIANTS);
    assert_eq!(Run::from(env.cmd(&["build", "--bogus"])).code, 2);
    assert_eq!(Run::from(env.cmd(&["frobnicate"])).code, 2);
}

#[test]
fn missing_source_folder_is_fatal() {
    let env = Env::new(TWO_VARIANTS);
    std::fs::remove_dir(env.root().join("images")).unwrap();
    // The message, naming the folder: snapshots::config_errors.
    env.build(&[], 2);
}

#[test]
fn quiet_prints_nothing_on_success() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 50, 50, 1);
    let run = env.build(&["--quiet"], 0);
    assert_eq!(run.stderr, "");
}

#[test]
fn hidden_files_other_files_and_gitignore() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 50, 50, 1);
    env.add_image(".hidden.jpg", 50, 50, 2);
    env.add_image(".git/b.jpg", 50, 50, 3);
    std::fs::write(env.src("notes.txt"), "not an image").unwrap();
    std::fs::write(env.src(".gitignore"), "*.jpg\n").unwrap();
    let run = env.build(&[], 0);
    assert_eq!(run.summary(), [2, 0, 0, 0]);
    assert!(env.out("thumb/a.jpg").exists());
}

#[test]
fn no_temporary_files_are_left() {
    let env = Env::new(TWO_VARIANTS);
    for i in 0..5 {
        env.add_image(&format!("d{i}/x{i}.jpg"), 80, 60, i);
    }
    env.build(&[], 0);
    assert!(env
        .outputs()
        .keys()
        .all(|k| !k.contains(".tmp") && !k.contains(".thumbgen-tmp")));
}

#[cfg(unix)]
#[test]
fn outputs_are_world_readable() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 50, 50, 1);
    env.build(&[], 0);
    let mode = std::fs::metadata(env.out("thumb/a.jpg"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o044, 0o044, "mode {mode:o}");
}

/// An output is made from the decode its own size calls for: the same
/// bytes with other variants beside it or without, and close to a
/// full-resolution Lanczos resize either way.
#[test]
fn a_thumbnail_is_the_same_with_or_without_other_variants() {
    let photo = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/images/landscapes/sunset.jpg"
    );
    let thumb = "[[variants]]\nname = \"thumb\"\nwidth = 200\nheight = 200\nformat = \"png\"\n";
    let large = "[[variants]]\nname = \"large\"\nwidth = 600\nheight = 600\nformat = \"png\"\n";
    let alone = Env::new(thumb);
    let both = Env::new(&format!("{thumb}{large}"));
    for env in [&alone, &both] {
        std::fs::copy(photo, env.src("sunset.jpg")).unwrap();
        env.build(&[], 0);
    }
    let a = std::fs::read(alone.out("thumb/sunset.png")).unwrap();
    let b = std::fs::read(both.out("thumb/sunset.png")).unwrap();
    assert!(a == b, "the 600 px variant changed the thumbnail");
    let a = decode(&alone.out("thumb/sunset.png")).to_rgb8();
    assert_eq!(a.dimensions(), (200, 133));
    let reference = decode(Path::new(photo))
        .resize_exact(200, 133, image::imageops::FilterType::Lanczos3)
        .to_rgb8();
    let n = a.as_raw().len() as f64;
    let mse = a
        .as_raw()
        .iter()
        .zip(reference.as_raw())
        .map(|(&p, &q)| (f64::from(p) - f64::from(q)).powi(2))
        .sum::<f64>()
        / n;
    let psnr = 10.0 * (255.0f64 * 255.0 / mse).log10();
    // From a half-size decode halved while twice the thumbnail's size remains.
    assert!(
        psnr > 45.0,
        "{psnr:.2} dB against a full-size Lanczos3 resize"
    );
}
