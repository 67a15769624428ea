//! Animated GIF and WebP sources: the first frame by default (said once a
//! run), every frame in WebP with `animated = "keep"`, with the source's
//! timing and loop count, read back by Pillow; an animation with too many
//! pixels in all is refused.

use std::path::Path;

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, RgbaImage};

use crate::common::*;

/// A GIF of `delays.len()` frames of `width`×`height` (each a colour of
/// its own, with a square moving across), looping forever.
fn animated_gif(width: u32, height: u32, delays: &[u32]) -> Vec<u8> {
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut bytes, 30);
        encoder.set_repeat(Repeat::Infinite).unwrap();
        for (i, &delay) in delays.iter().enumerate() {
            let i = i as u32;
            let image = RgbaImage::from_fn(width, height, |x, y| {
                let square = x / 10 == i % (width / 10).max(1) && y < 10;
                match square {
                    true => image::Rgba([255, 255, 255, 255]),
                    false => {
                        image::Rgba([(i * 50 % 256) as u8, 80, (255 - i * 30 % 256) as u8, 255])
                    }
                }
            });
            let frame = Frame::from_parts(image, 0, 0, Delay::from_numer_denom_ms(delay, 1));
            encoder.encode_frame(frame).unwrap();
        }
    }
    bytes
}

/// Pillow's view of an image: size, frame count, each frame's duration and
/// the loop count; `None` without Pillow (only outside CI).
fn pillow(path: &Path) -> Option<String> {
    let script = r#"
import sys
from PIL import Image
im = Image.open(sys.argv[1])
durations = []
for i in range(getattr(im, "n_frames", 1)):
    im.seek(i)
    im.load()
    durations.append(str(im.info.get("duration", 0)))
print(im.size[0], im.size[1], getattr(im, "n_frames", 1), im.info.get("loop"), ",".join(durations))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .ok()
        .filter(|o| o.status.success());
    if out.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs Pillow to read animations back: pip install pillow"
        );
        eprintln!("skipped: Pillow not found");
    }
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

const KEEP: &str = r#"
[[variants]]
name = "moving"
width = 40
height = 40
fit = "cover"
format = "webp"
animated = "keep"

[[variants]]
name = "still"
width = 40
format = "jpeg"
"#;

#[test]
fn keep_writes_every_frame_with_its_timing_and_first_writes_one() {
    let manifest = "manifest = \"public/thumbs/manifest.json\"\n";
    let env = Env::new(&format!("{manifest}{KEEP}"));
    std::fs::write(
        env.src("spin.gif"),
        animated_gif(120, 60, &[40, 80, 120, 200, 60]),
    )
    .unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/animated.webp"),
        env.src("wave.webp"),
    )
    .unwrap();
    let run = env.build(&[], 0);
    assert!(
        !run.stderr.contains("animation_flattened") && !run.stderr.contains("first frame"),
        "{}",
        run.stderr
    );

    let Some(spin) = pillow(&env.out("moving/spin.webp")) else {
        return;
    };
    assert_eq!(
        spin, "40 40 5 0 40,80,120,200,60",
        "size, frames, loop, durations"
    );
    let wave = pillow(&env.out("moving/wave.webp")).unwrap();
    // 48×32: a cover box is never filled by enlarging.
    assert_eq!(wave, "40 32 2 0 100,100");
    // The JPEG variant holds the first frame.
    assert_eq!(
        pillow(&env.out("still/spin.jpg")).unwrap(),
        "40 20 1 None 0"
    );

    // The manifest marks the animated outputs, and only them.
    let animated = |env: &Env| -> Vec<String> {
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(env.out("manifest.json")).unwrap()).unwrap();
        let mut marked: Vec<String> = manifest["sources"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|s| s["outputs"].as_array().unwrap().clone())
            .filter(|o| o["animated"] == true)
            .map(|o| o["path"].as_str().unwrap().to_string())
            .collect();
        marked.sort();
        marked
    };
    assert_eq!(animated(&env), ["moving/spin.webp", "moving/wave.webp"]);

    // The same bytes again from scratch: frames are encoded deterministically.
    let first = env.outputs();
    let clean = env.fresh_copy();
    clean.build(&[], 0);
    assert!(
        clean.outputs() == first,
        "a clean build writes the same bytes"
    );

    // Back to the first frame: the WebP is rebuilt as a still, and the
    // build says once how to keep the animation.
    env.set_variants(&format!(
        "{manifest}{}",
        KEEP.replace("animated = \"keep\"", "")
    ));
    let flat = env.build(&[], 0);
    let told: Vec<&str> = flat
        .stderr
        .lines()
        .filter(|l| l.contains("is animated, and its outputs hold its first frame"))
        .collect();
    assert_eq!(told.len(), 1, "said once a run:\n{}", flat.stderr);
    assert!(told[0].contains("animated = \"keep\""), "{}", told[0]);
    assert_eq!(flat.summary()[0], 2, "both WebPs rebuilt:\n{}", flat.stderr);
    assert!(animated(&env).is_empty(), "no output is animated now");
    let still = pillow(&env.out("moving/spin.webp")).unwrap();
    assert!(still.starts_with("40 40 1 "), "one frame: {still}");
}

#[test]
fn an_animation_with_too_many_pixels_in_all_is_refused() {
    let env = Env::new(&format!("max_pixels = 1000000\n{KEEP}"));
    // 1,000 frames of 50×50: 2.5 Mpx in all, each frame small.
    std::fs::write(env.src("bomb.gif"), animated_gif(50, 50, &[10; 1000])).unwrap();
    env.add_image("fine.png", 50, 50, 1);
    let run = env.build(&["--json"], 1);
    let failed: Vec<_> = parse_events(&run.stdout)
        .into_iter()
        .filter(|e| e["type"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{}", run.stderr);
    assert_eq!(failed[0]["kind"], "too_large");
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("more than max_pixels"),
        "{}",
        failed[0]
    );
    assert!(env.out("moving/fine.webp").exists(), "the rest is built");
}
