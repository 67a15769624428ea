//! Damaged image data is a failure of that source, in the decoder's words,
//! never a thumbnail of garbage: JPEG scan data that libjpeg had to fill
//! in or guess, and every truncation of every format, fail or build with a
//! named warning (`source_repaired`, for a JPEG whose data is complete but
//! for its end marker).

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{image_bytes, parse_events, Env, FIXTURES};

const WEBP_THUMB: &str = "[[variants]]\nname = \"t\"\nwidth = 64\nformat = \"webp\"\n";

/// Where a baseline JPEG's scan data starts and ends (after the SOS
/// segment, before the EOI marker).
fn scan_data(jpeg: &[u8]) -> (usize, usize) {
    let sos = jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xDA])
        .expect("an SOS marker");
    let len = usize::from(u16::from_be_bytes([jpeg[sos + 2], jpeg[sos + 3]]));
    assert_eq!(&jpeg[jpeg.len() - 2..], [0xFF, 0xD9], "ends with EOI");
    (sos + 2 + len, jpeg.len() - 2)
}

/// `jpeg` with `count` bytes of its scan data, from the middle on,
/// replaced by noise (never 0xFF, so no marker appears).
fn garbled(jpeg: &[u8], count: usize) -> Vec<u8> {
    let (start, end) = scan_data(jpeg);
    let at = start + (end - start) / 2;
    let mut out = jpeg.to_vec();
    let mut rng = fastrand::Rng::with_seed(7);
    for b in &mut out[at..at + count] {
        *b = rng.u8(0..0xFF);
    }
    out
}

/// `jpeg` whose frame header claims `factor` times as many rows as its
/// scan data holds (the end marker is there).
fn too_tall(jpeg: &[u8], factor: u16) -> Vec<u8> {
    let sof = jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline SOF");
    let mut out = jpeg.to_vec();
    let height = u16::from_be_bytes([out[sof + 5], out[sof + 6]]);
    out[sof + 5..sof + 7].copy_from_slice(&(height * factor).to_be_bytes());
    out
}

/// `jpeg` with `count` zero bytes between its scan data and its end
/// marker, as some encoders pad.
fn zero_padded(jpeg: &[u8], count: usize) -> Vec<u8> {
    let mut out = jpeg[..jpeg.len() - 2].to_vec();
    out.extend(std::iter::repeat_n(0, count));
    out.extend([0xFF, 0xD9]);
    out
}

#[test]
fn damaged_jpeg_data_fails_in_libjpegs_words_and_padding_builds() {
    let env = Env::new(WEBP_THUMB);
    let good = image_bytes("good.jpg", 320, 240, 3);
    std::fs::write(env.src("good.jpg"), &good).unwrap();
    std::fs::write(env.src("garbled.jpg"), garbled(&good, 120)).unwrap();
    std::fs::write(env.src("tall.jpg"), too_tall(&good, 4)).unwrap();
    std::fs::write(env.src("padded.jpg"), zero_padded(&good, 24)).unwrap();
    let run = env.build(&["--json", "-j1"], 1);
    let events = parse_events(&run.stdout);
    let failed: BTreeMap<&str, &str> = events
        .iter()
        .filter(|e| e["type"] == "failed")
        .map(|e| (e["source"].as_str().unwrap(), e["error"].as_str().unwrap()))
        .collect();
    assert_eq!(
        failed.keys().copied().collect::<Vec<_>>(),
        ["images/garbled.jpg", "images/tall.jpg"],
        "{run}"
    );
    for error in failed.values() {
        assert!(
            error.starts_with("corrupt or truncated JPEG data: "),
            "{error}"
        );
    }
    assert!(
        failed["images/tall.jpg"].contains("premature end of data segment"),
        "{failed:?}"
    );
    assert!(
        !events.iter().any(|e| e["type"] == "warning"),
        "zero padding is not damage: {events:?}"
    );
    assert!(!env.out("t/garbled.webp").exists());
    assert!(!env.out("t/tall.webp").exists());
    assert_eq!(
        std::fs::read(env.out("t/padded.webp")).unwrap(),
        std::fs::read(env.out("t/good.webp")).unwrap()
    );

    // A photo that was fine and is then damaged loses its thumbnails, as
    // in a clean build.
    std::fs::write(env.src("good.jpg"), garbled(&good, 40)).unwrap();
    let run = env.build(&[], 1);
    assert!(
        run.stderr
            .contains("images/good.jpg: corrupt or truncated JPEG data"),
        "{run}"
    );
    assert!(!env.out("t/good.webp").exists());
}

/// The fixtures whose every truncation is damage that shows: the file
/// ends inside what the first frame needs. (Animated files are left out:
/// a cut in a later frame loses nothing of the first, which is what a
/// thumbnail shows.)
const WHOLE_FILE_SEEDS: &[&str] = &[
    "baseline.jpg",
    "progressive.jpg",
    "arithmetic.jpg",
    "cmyk.jpg",
    "icc.png",
    "palette-trns.png",
    "lossy.webp",
    "lossless-alpha.webp",
    "image.tiff",
    "ycbcr-420.tif",
    "jpeg-ycbcr.tif",
    "image.bmp",
    "avif-orientation-6.avif",
    "alpha.jxl",
];

/// Every cut of a file fails, or builds with a named warning: no
/// truncated source makes a thumbnail silently.
#[test]
fn no_truncation_of_any_format_builds_silently() {
    let env = Env::new(WEBP_THUMB);
    let mut rng = fastrand::Rng::with_seed(31);
    let mut cuts = BTreeMap::new();
    for seed in WHOLE_FILE_SEEDS {
        let bytes = std::fs::read(Path::new(FIXTURES).join(seed)).unwrap();
        let ext = Path::new(seed).extension().unwrap().to_str().unwrap();
        let stem = Path::new(seed).file_stem().unwrap().to_str().unwrap();
        // Cuts anywhere, and near the end, where a decoder is most likely
        // to take what it has.
        let mut at: Vec<usize> = (0..5).map(|_| rng.usize(1..bytes.len())).collect();
        at.extend([bytes.len() - 1, bytes.len() - 3, bytes.len() * 9 / 10]);
        for (i, cut) in at.into_iter().enumerate() {
            let name = format!("{stem}-{i}.{ext}");
            std::fs::write(env.src(&name), &bytes[..cut]).unwrap();
            cuts.insert(format!("images/{name}"), cut);
        }
    }
    let run = env.build(&["--json"], 1);
    let events = parse_events(&run.stdout);
    let mut silent: Vec<String> = events
        .iter()
        .filter(|e| e["type"] == "built")
        .filter_map(|e| e["source"].as_str().map(str::to_string))
        .collect();
    silent.sort();
    silent.dedup();
    let warnings: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "warning")
        .filter_map(|e| e["message"].as_str())
        .collect();
    silent.retain(|s| !warnings.iter().any(|w| w.contains(&format!("{s}:"))));
    let silent: Vec<String> = silent
        .into_iter()
        .map(|s| format!("{s} (cut at {} bytes)", cuts[&s]))
        .collect();
    assert!(silent.is_empty(), "built silently: {silent:#?}");
}
