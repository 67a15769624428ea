//! Web-ready outputs through the real binary: responsive sets and their
//! manifest entries, AVIF, cover positions, content-hashed names and
//! placeholders.

use image::{ImageFormat, Rgb, RgbImage};

use crate::common::*;

fn manifest(env: &Env) -> serde_json::Value {
    let bytes = std::fs::read(env.out("manifest.json")).expect("the manifest is written");
    serde_json::from_slice(&bytes).unwrap()
}

fn with_manifest(variants: &str) -> String {
    format!("manifest = \"public/thumbs/manifest.json\"\nurl_prefix = \"/t/\"\n{variants}")
}

const SET: &str = r#"
[[variants]]
name = "photo"
widths = [100, 200, 400, 800]
formats = ["webp", "jpeg"]
"#;

#[test]
fn a_set_makes_each_size_once_and_its_srcset_never_repeats_a_width() {
    let env = Env::new(&with_manifest(SET));
    env.add_image("wide.jpg", 1000, 500, 1);
    env.add_image("narrow.jpg", 300, 150, 2);
    env.build(&[], 0);
    let of = |stem: &str| -> Vec<String> {
        env.output_files()
            .into_iter()
            .filter(|f| f.starts_with(&format!("photo/{stem}-")))
            .collect()
    };
    assert_eq!(
        of("wide"),
        [
            "photo/wide-100.jpg",
            "photo/wide-100.webp",
            "photo/wide-200.jpg",
            "photo/wide-200.webp",
            "photo/wide-400.jpg",
            "photo/wide-400.webp",
            "photo/wide-800.jpg",
            "photo/wide-800.webp",
        ]
    );
    // 300 px wide: 400 is made once, at 300; 800 is not made at all.
    assert_eq!(
        of("narrow"),
        [
            "photo/narrow-100.jpg",
            "photo/narrow-100.webp",
            "photo/narrow-200.jpg",
            "photo/narrow-200.webp",
            "photo/narrow-400.jpg",
            "photo/narrow-400.webp",
        ]
    );
    assert_eq!(decode(&env.out("photo/narrow-400.webp")).width(), 300);
    let m = manifest(&env);
    assert_eq!(
        m["sources"]["narrow.jpg"]["srcset"]["photo"]["webp"],
        "/t/photo/narrow-100.webp 100w, /t/photo/narrow-200.webp 200w, /t/photo/narrow-400.webp 300w"
    );
    let picture = m["sources"]["narrow.jpg"]["picture"]["photo"]
        .as_str()
        .unwrap();
    assert!(
        picture.starts_with(
            "<picture><source type=\"image/webp\" srcset=\"/t/photo/narrow-100.webp 100w"
        ) && picture.contains("<img src=\"/t/photo/narrow-400.jpg\"")
            && picture.contains("width=\"300\" height=\"150\""),
        "{picture}"
    );
    assert_eq!(m["sources"]["wide.jpg"]["width"], 1000);
    assert_eq!(env.build(&[], 0).summary(), [0, 14, 0, 0], "a no-op");

    // The source grows past 400: its 400 and 800 are made now.
    env.add_image("narrow.jpg", 900, 450, 2);
    env.build(&[], 0);
    assert_eq!(of("narrow").len(), 8);
    // And shrinks again: the 800s go.
    env.add_image("narrow.jpg", 300, 150, 3);
    env.build(&[], 0);
    assert_eq!(of("narrow").len(), 6);
    assert!(!env.out("photo/narrow-800.jpg").exists());
}

#[test]
fn changing_one_width_rebuilds_only_that_widths_outputs() {
    let env = Env::new(SET);
    env.add_image("a.jpg", 1000, 500, 1);
    env.build(&[], 0);
    // Each output is made from the decode its own size calls for:
    // changing the smallest width or the largest rebuilds that width's
    // two outputs only, and leaves the others' bytes as they were.
    let before: Vec<Vec<u8>> = ["a-200.webp", "a-400.jpg"]
        .iter()
        .map(|f| std::fs::read(env.out(&format!("photo/{f}"))).unwrap())
        .collect();
    env.set_variants(&SET.replace("100", "120"));
    let run = env.build(&["--explain"], 0);
    assert_eq!(run.summary(), [2, 6, 2, 0], "{}", run.stderr);
    assert!(env.out("photo/a-120.webp").exists() && !env.out("photo/a-100.webp").exists());
    env.set_variants(&SET.replace("100", "120").replace("800", "700"));
    let run = env.build(&["--explain"], 0);
    assert_eq!(run.summary(), [2, 6, 2, 0], "{}", run.stderr);
    let after: Vec<Vec<u8>> = ["a-200.webp", "a-400.jpg"]
        .iter()
        .map(|f| std::fs::read(env.out(&format!("photo/{f}"))).unwrap())
        .collect();
    assert!(before == after, "another width changed these bytes");
}

#[test]
fn width_or_height_alone_fits_that_side() {
    let env = Env::new(
        "[[variants]]\nname = \"w\"\nwidth = 100\n[[variants]]\nname = \"h\"\nheight = 40\nformat = \"png\"\n",
    );
    env.add_image("a.jpg", 400, 300, 1);
    env.build(&[], 0);
    let w = decode(&env.out("w/a.jpg"));
    assert_eq!((w.width(), w.height()), (100, 75));
    let h = decode(&env.out("h/a.png"));
    assert_eq!((h.width(), h.height()), (53, 40));
}

/// A grey 300x100 JPEG with a busy, skin-toned patch 60 px wide whose left
/// edge is at `x`.
fn off_centre_subject(env: &Env, rel: &str, x: u32) {
    let img = RgbImage::from_fn(300, 100, |px, py| {
        let inside = (x..x + 60).contains(&px) && (20..80).contains(&py);
        if inside && (px / 3 + py / 3) % 2 == 0 {
            Rgb([230, 170, 140])
        } else if inside {
            Rgb([140, 90, 70])
        } else {
            Rgb([128, 128, 128])
        }
    });
    let path = env.src(rel);
    img.save_with_format(&path, ImageFormat::Png).unwrap();
}

/// How far from flat grey an image is: the mean absolute difference.
fn busyness(img: &image::DynamicImage) -> f64 {
    let rgb = img.to_rgb8();
    let sum: u64 = rgb
        .pixels()
        .flat_map(|p| p.0)
        .map(|c| u64::from(c.abs_diff(128)))
        .sum();
    sum as f64 / (rgb.width() * rgb.height() * 3) as f64
}

#[test]
fn cover_positions_find_or_follow_an_off_centre_subject() {
    let positions = ["center", "left", "right", "entropy", "attention"];
    let variants: String = positions
        .iter()
        .map(|p| {
            format!("[[variants]]\nname = \"{p}\"\nwidth = 100\nheight = 100\nfit = \"cover\"\nposition = \"{p}\"\nformat = \"png\"\n")
        })
        .collect();
    let env = Env::new(&variants);
    off_centre_subject(&env, "left.png", 10);
    off_centre_subject(&env, "right.png", 225);
    env.build(&[], 0);
    for (source, holds) in [
        ("left", ["left", "entropy", "attention"]),
        ("right", ["right", "entropy", "attention"]),
    ] {
        for position in positions {
            let img = decode(&env.out(&format!("{position}/{source}.png")));
            assert_eq!((img.width(), img.height()), (100, 100));
            let busy = busyness(&img);
            if holds.contains(&position) {
                // The patch fills about a third of the crop.
                assert!(busy > 10.0, "{position} of {source}: {busy}");
            } else {
                assert!(
                    busy < 5.0,
                    "{position} of {source} holds the subject: {busy}"
                );
            }
        }
    }
}

#[test]
fn content_hashed_names_follow_the_content_and_leave_no_old_files() {
    let env = Env::new(&with_manifest(
        "hash_names = true\n[[variants]]\nname = \"t\"\nwidth = 32\n",
    ));
    env.add_image("red.jpg", 64, 48, 1);
    env.build(&[], 0);
    let named = |env: &Env| -> Vec<String> {
        env.output_files()
            .into_iter()
            .filter(|f| f.starts_with("t/"))
            .collect()
    };
    let first = named(&env);
    assert_eq!(first.len(), 1);
    let name = first[0].strip_prefix("t/red.").unwrap();
    let digest = name.strip_suffix(".jpg").unwrap();
    assert_eq!(digest.len(), 8);
    let bytes = std::fs::read(env.out(&first[0])).unwrap();
    let hex = blake3::hash(&bytes).to_hex()[..8].to_string();
    assert_eq!(digest, hex, "the name is the content's digest");
    assert_eq!(
        manifest(&env)["sources"]["red.jpg"]["outputs"][0]["path"],
        first[0]
    );
    assert_eq!(env.build(&[], 0).summary(), [0, 1, 0, 0]);

    env.add_image("red.jpg", 64, 48, 2);
    env.build(&[], 0);
    let second = named(&env);
    assert_eq!(second.len(), 1, "the old version is gone: {second:?}");
    assert_ne!(second, first);
    // Deleted by hand: made again under the same name.
    std::fs::remove_file(env.out(&second[0])).unwrap();
    env.build(&[], 0);
    assert_eq!(named(&env), second);
}

#[test]
fn placeholders_are_made_once_and_kept_in_step_with_the_config() {
    let env = Env::new(&with_manifest(
        "placeholder = \"thumbhash\"\n[[variants]]\nname = \"t\"\nwidth = 32\nheight = 32\n",
    ));
    let img = RgbImage::from_pixel(80, 60, Rgb([200, 60, 30]));
    img.save_with_format(env.src("red.png"), ImageFormat::Png)
        .unwrap();
    env.build(&[], 0);
    let m = manifest(&env);
    let p = &m["sources"]["red.png"]["placeholder"];
    assert_eq!(p["color"], "#c83c1e");
    assert!(p["thumbhash"].as_str().is_some_and(|h| !h.is_empty()));
    assert!(p.get("blurhash").is_none());
    let url = p["data_url"].as_str().unwrap();
    let png = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        url.strip_prefix("data:image/png;base64,").unwrap(),
    )
    .unwrap();
    let preview = image::load_from_memory(&png).unwrap().to_rgb8();
    let mean = |c: usize| {
        preview.pixels().map(|p| f64::from(p.0[c])).sum::<f64>()
            / f64::from(preview.width() * preview.height())
    };
    assert!(
        (mean(0) - 200.0).abs() < 8.0
            && (mean(1) - 60.0).abs() < 8.0
            && (mean(2) - 30.0).abs() < 8.0
    );
    assert_eq!(
        env.build(&[], 0).summary(),
        [0, 1, 0, 0],
        "no work on a no-op"
    );

    // Both kinds: the source is decoded again, its output is not rewritten.
    let config = std::fs::read_to_string(env.root().join(".thumbgen.toml")).unwrap();
    env.write_config(&config.replace("\"thumbhash\"", "[\"thumbhash\", \"blurhash\"]"));
    env.build(&[], 0);
    let m = manifest(&env);
    assert!(m["sources"]["red.png"]["placeholder"]["blurhash"].is_string());
    // Off: gone from the manifest, as in a clean build.
    env.write_config(&config.replace("placeholder = \"thumbhash\"\n", ""));
    env.build(&[], 0);
    let incremental = std::fs::read(env.out("manifest.json")).unwrap();
    let clean = env.fresh_copy();
    clean.build(&[], 0);
    assert_eq!(
        incremental,
        std::fs::read(clean.out("manifest.json")).unwrap()
    );
    assert!(manifest(&env)["sources"]["red.png"]
        .get("placeholder")
        .is_none());
}

/// The AVIF outputs decode, in an independent decoder (Pillow, with its
/// libavif), to the size and colour of the source.
#[test]
fn avif_outputs_round_trip_through_an_independent_decoder() {
    let env = Env::new(
        "[[variants]]\nname = \"a\"\nwidth = 64\nformat = \"avif\"\nspeed = 10\n[[variants]]\nname = \"b\"\nwidth = 64\nformat = \"avif\"\nquality = 90\n",
    );
    RgbImage::from_pixel(128, 96, Rgb([30, 120, 200]))
        .save_with_format(env.src("blue.png"), ImageFormat::Png)
        .unwrap();
    env.add_image("photo.png", 120, 90, 3);
    env.build(&[], 0);
    for name in ["a/blue.avif", "b/blue.avif", "a/photo.avif"] {
        let bytes = std::fs::read(env.out(name)).unwrap();
        assert_eq!(&bytes[4..12], b"ftypavif", "{name}");
    }
    let script = r#"
import sys
from PIL import Image, features
if not features.check("avif"):
    print("no-avif"); sys.exit(0)
for path in sys.argv[1:]:
    im = Image.open(path); im.load()
    px = im.convert("RGBA").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    print(im.size[0], im.size[1], *px)
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(env.out("a/blue.avif"))
        .arg(env.out("b/blue.avif"))
        .arg(env.out("a/photo.avif"))
        .output();
    let stdout = match &out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        _ => String::new(),
    };
    if stdout.is_empty() || stdout.starts_with("no-avif") {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs Pillow with AVIF to check AVIF outputs: pip install pillow"
        );
        eprintln!("skipped: Pillow with AVIF support not found (pip install pillow)");
        return;
    }
    let rows: Vec<Vec<i64>> = stdout
        .lines()
        .map(|l| l.split(' ').map(|n| n.parse().unwrap()).collect())
        .collect();
    for row in &rows[..2] {
        assert_eq!(&row[..2], [64, 48]);
        let [r, g, b, a] = [row[2], row[3], row[4], row[5]];
        assert!(
            (r - 30).abs() <= 6 && (g - 120).abs() <= 6 && (b - 200).abs() <= 6 && a == 255,
            "{row:?}"
        );
    }
    // The PNG has transparent pixels: AVIF keeps alpha.
    assert_eq!(&rows[2][..2], [64, 48]);
    assert!(rows[2][5] < 255, "alpha kept: {:?}", rows[2]);
}

/// A photo in a wide-gamut profile: its AVIF output (which can only be
/// tagged sRGB) shows the colours its WebP output shows through a
/// colour-managed decode (Pillow's ImageCms), not the raw numbers.
#[test]
fn a_wide_gamut_photo_keeps_its_colours_in_avif() {
    let env = Env::new(
        "[[variants]]\nname = \"a\"\nwidth = 48\nformat = \"avif\"\nquality = 90\n[[variants]]\nname = \"w\"\nwidth = 48\nformat = \"webp\"\nquality = 100\n",
    );
    for (name, profile) in [
        ("p3.png", moxcms::ColorProfile::new_display_p3()),
        ("adobe.png", moxcms::ColorProfile::new_adobe_rgb()),
    ] {
        let mut png = Vec::new();
        let mut encoder = image::codecs::png::PngEncoder::new(&mut png);
        image::ImageEncoder::set_icc_profile(&mut encoder, profile.encode().unwrap()).unwrap();
        // Four patches of saturated and middling colours.
        let img = RgbImage::from_fn(96, 96, |x, y| match (x < 48, y < 48) {
            (true, true) => Rgb([220, 40, 30]),
            (false, true) => Rgb([40, 190, 60]),
            (true, false) => Rgb([30, 60, 200]),
            (false, false) => Rgb([150, 120, 90]),
        });
        image::ImageEncoder::write_image(
            encoder,
            img.as_raw(),
            96,
            96,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
        std::fs::write(env.src(name), png).unwrap();
    }
    env.build(&[], 0);
    let script = r#"
import io, sys
from PIL import Image, ImageCms, features
if not features.check("avif"):
    print("no-avif"); sys.exit(0)
srgb = ImageCms.createProfile("sRGB")
for avif, webp in zip(sys.argv[1::2], sys.argv[2::2]):
    w = Image.open(webp); w.load()
    managed = ImageCms.profileToProfile(w.convert("RGB"), ImageCms.ImageCmsProfile(io.BytesIO(w.info["icc_profile"])), srgb,
                                        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
    a = Image.open(avif).convert("RGB")
    for x, y in ((12, 12), (36, 12), (12, 36), (36, 36)):
        print(*a.getpixel((x, y)), *managed.getpixel((x, y)), *w.convert("RGB").getpixel((x, y)))
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args([
            env.out("a/p3.avif"),
            env.out("w/p3.webp"),
            env.out("a/adobe.avif"),
            env.out("w/adobe.webp"),
        ])
        .output();
    let stdout = match &out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => panic!("{}", String::from_utf8_lossy(&o.stderr)),
        Err(_) => String::new(),
    };
    if stdout.is_empty() || stdout.starts_with("no-avif") {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs Pillow with AVIF to check AVIF outputs: pip install pillow"
        );
        return;
    }
    let mut moved = 0;
    for line in stdout.lines() {
        let n: Vec<i64> = line.split(' ').map(|v| v.parse().unwrap()).collect();
        let (avif, managed, raw) = (&n[0..3], &n[3..6], &n[6..9]);
        for c in 0..3 {
            assert!(
                (avif[c] - managed[c]).abs() <= 5,
                "AVIF {avif:?} against the colour-managed WebP {managed:?}"
            );
        }
        moved += usize::from((0..3).any(|c| (raw[c] - managed[c]).abs() > 8));
    }
    assert!(
        moved >= 4,
        "the profiles must move colours for this to test anything"
    );
}
