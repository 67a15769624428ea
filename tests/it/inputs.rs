//! Sources beyond the common formats, through the real binary: AVIF, JPEG
//! XL, HEIC
//! (with the `heic` feature, else a warning that says how to get it),
//! YCbCr TIFFs, BMPs and icons that browsers show, and a JPEG without its
//! end marker, which builds with a warning.

use std::path::Path;

use crate::common::{decode, parse_events, Env, FIXTURES};

const PNG_AT_FULL_SIZE: &str = r#"
[[variants]]
name = "full"
width = 96
height = 96
format = "png"
"#;

fn copy_fixture(env: &Env, name: &str, to: &str) {
    let to = env.src(to);
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(Path::new(FIXTURES).join(name), to).unwrap();
}

#[test]
fn every_input_kind_builds_upright() {
    let env = Env::new(PNG_AT_FULL_SIZE);
    let mut sources = vec![
        ("avif-orientation-6.avif", "phone/a.avif"),
        ("avif-orientation-7.avif", "phone/b.avif"),
        ("jxl-orientation-5.jxl", "web/a.jxl"),
        ("ycbcr-420.tif", "scans/a.tif"),
        ("jpeg-ycbcr.tif", "scans/b.tiff"),
        ("bmp-rle-topdown.bmp", "old/a.bmp"),
        ("bmp-oversized-palette.bmp", "old/b.bmp"),
        ("icon-grey-png.ico", "icons/a.ico"),
    ];
    if cfg!(feature = "heic") {
        sources.push(("heic-orientation-8.heic", "phone/c.heic"));
    }
    for (fixture, to) in &sources {
        copy_fixture(&env, fixture, to);
    }
    let run = env.build(&[], 0);
    assert_eq!(run.summary()[0], sources.len(), "{run}");
    for (_, to) in &sources {
        let stem = Path::new(to).with_extension("png");
        let img = decode(&env.out(&format!("full/{}", stem.display())));
        assert_eq!((img.width(), img.height()), (96, 64), "{to}");
        let top_left = img.to_rgb8().get_pixel(6, 6).0;
        let top_right = img.to_rgb8().get_pixel(89, 6).0;
        // Red over green, as the picture stands, whatever way it is stored
        // (the icon is grey: brighter red than green there is not a given).
        if !to.starts_with("icons/") {
            assert!(
                top_left[0] > 150 && top_right[1] > 150,
                "{to}: {top_left:?} {top_right:?}"
            );
        }
    }
    assert_eq!(env.build(&[], 0).summary(), [0, sources.len(), 0, 0]);
}

#[cfg(not(feature = "heic"))]
#[test]
fn heic_without_the_feature_is_skipped_with_a_pointer_to_it() {
    let env = Env::new(PNG_AT_FULL_SIZE);
    copy_fixture(&env, "heic-orientation-1.heic", "IMG_0001.HEIC");
    copy_fixture(&env, "avif-orientation-1.avif", "a.avif");
    let run = env.build(&[], 0);
    assert_eq!(run.summary(), [1, 0, 0, 0]);
    assert!(
        run.stderr.contains("skipped 1 HEIC/HEIF file: this thumbgen was built without HEIC/HEIF support (build it with `--features heic`"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_jpeg_missing_its_end_marker_builds_with_a_warning() {
    let env = Env::new(PNG_AT_FULL_SIZE);
    copy_fixture(&env, "no-eoi.jpg", "cut.jpg");
    copy_fixture(&env, "baseline.jpg", "whole.jpg");
    copy_fixture(&env, "truncated.jpg", "half.jpg");
    let run = env.build(&["-j1"], 1);
    assert_eq!(run.summary(), [2, 0, 0, 1], "{run}");
    assert!(
        run.stderr.contains("warning: images/cut.jpg: the JPEG has no end marker (EOI), but its image data is complete; built"),
        "{}",
        run.stderr
    );
    assert!(run
        .stderr
        .contains("images/half.jpg: corrupt or truncated JPEG data"));
    assert_eq!(
        std::fs::read(env.out("full/cut.png")).unwrap(),
        std::fs::read(env.out("full/whole.png")).unwrap(),
        "the same picture"
    );
    // Machine-readable too, once per build of that source.
    copy_fixture(&env, "no-eoi-progressive.jpg", "cut2.jpg");
    let run = env.build(&["--json"], 1);
    let events = parse_events(&run.stdout);
    let warnings: Vec<_> = events
        .iter()
        .filter(|e| e["type"] == "warning" && e["kind"] == "source_repaired")
        .collect();
    assert_eq!(warnings.len(), 1, "{events:?}");
    assert!(warnings[0]["message"]
        .as_str()
        .unwrap()
        .contains("cut2.jpg"));
}
