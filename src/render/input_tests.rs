//! Every source kind beyond the common ones, each checked against the
//! reference picture it was made from (`tests/fixtures/marker.png`, the
//! upright 96×64 orientation marker): its upright size, the corner markers
//! that show its orientation, and its mean colour.

use image::{DynamicImage, GenericImageView};

use super::test_support::{decode, fixture, render_all, render_err, render_one, variant, LIMITS};
use super::Leniency;
use crate::model::Format;
use crate::variant::Fit;

const RED: [u8; 3] = [220, 30, 30];
const GREEN: [u8; 3] = [30, 200, 30];
const BASE: [u8; 3] = [40, 60, 160];

fn mean(img: &DynamicImage) -> [f64; 3] {
    let rgb = img.to_rgb8();
    let mut sum = [0f64; 3];
    for p in rgb.pixels() {
        for (s, v) in sum.iter_mut().zip(p.0) {
            *s += f64::from(v);
        }
    }
    let n = f64::from(rgb.width() * rgb.height());
    sum.map(|s| s / n)
}

fn close(a: [u8; 3], b: [u8; 3], tolerance: u8) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= tolerance)
}

/// Renders `name` at its own size as PNG and compares it with the marker.
fn check_against_marker(name: &str, tolerance: u8) {
    let out = render_one(name, &variant(96, 96, Fit::Contain, Format::Png));
    assert_eq!((out.width, out.height), (96, 64), "{name}: upright size");
    let img = decode(&out);
    let reference = image::load_from_memory(&fixture("marker.png")).unwrap();
    let at = |x, y| {
        let p = img.get_pixel(x, y).0;
        [p[0], p[1], p[2]]
    };
    for (x, y, want, corner) in [
        (6, 6, RED, "top left"),
        (89, 6, GREEN, "top right"),
        (6, 57, BASE, "bottom left"),
        (48, 40, BASE, "middle"),
    ] {
        assert!(
            close(at(x, y), want, tolerance),
            "{name}: {corner} is {:?}, not {want:?}",
            at(x, y)
        );
    }
    let (got, want) = (mean(&img), mean(&reference));
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() < 3.0,
            "{name}: mean colour {got:?}, reference {want:?}"
        );
    }
}

#[test]
fn avif_in_every_rotation_and_mirror() {
    for n in 1..=8 {
        check_against_marker(&format!("avif-orientation-{n}.avif"), 8);
    }
}

#[test]
fn jxl_in_every_orientation_lossy_and_lossless() {
    for n in 1..=8 {
        check_against_marker(&format!("jxl-orientation-{n}.jxl"), 10);
    }
    check_against_marker("lossless.jxl", 1);
}

#[test]
fn jxl_grey_and_alpha() {
    check_grey_and_alpha("jxl");
}

#[cfg(feature = "heic")]
#[test]
fn heic_in_every_rotation_and_mirror() {
    for n in 1..=8 {
        check_against_marker(&format!("heic-orientation-{n}.heic"), 8);
    }
}

/// Grey stays one channel; alpha is kept where it is not opaque.
fn check_grey_and_alpha(ext: &str) {
    let grey = decode(&render_one(
        &format!("grey.{ext}"),
        &variant(96, 96, Fit::Contain, Format::Png),
    ));
    assert_eq!(grey.color(), image::ColorType::L8, "grey.{ext}");
    let alpha = decode(&render_one(
        &format!("alpha.{ext}"),
        &variant(96, 96, Fit::Contain, Format::Png),
    ));
    assert_eq!(alpha.dimensions(), (96, 64));
    assert_eq!(alpha.get_pixel(48, 60).0[3], 0, "alpha.{ext}: clear strip");
    let p = alpha.get_pixel(6, 6).0;
    assert!(close([p[0], p[1], p[2]], RED, 8) && p[3] == 255, "{p:?}");
}

#[test]
fn avif_grey_and_alpha() {
    check_grey_and_alpha("avif");
}

#[cfg(feature = "heic")]
#[test]
fn heic_grey_and_alpha() {
    check_grey_and_alpha("heic");
}

#[cfg(not(feature = "heic"))]
#[test]
fn heic_without_the_feature_says_how_to_get_it() {
    let msg = render_err(&fixture("heic-orientation-1.heic"));
    assert!(msg.contains("`heic` feature"), "{msg}");
}

#[test]
fn ycbcr_tiffs_with_and_without_subsampling() {
    for name in [
        "ycbcr-444.tif",
        "ycbcr-422.tif",
        "ycbcr-420.tif",
        "jpeg-ycbcr.tif",
        "jpeg-rgb.tif",
    ] {
        check_against_marker(name, 8);
    }
}

#[test]
fn bmps_that_browsers_show() {
    for name in [
        "bmp-oversized-palette.bmp",
        "bmp-rle-topdown.bmp",
        "bmp-bitfields-zero-masks.bmp",
    ] {
        check_against_marker(name, 8);
    }
    // The same files cut short still fail: the second decoder would pad.
    for name in ["bmp-oversized-palette.bmp", "bmp-rle-topdown.bmp"] {
        let b = fixture(name);
        let msg = render_err(&b[..b.len() * 3 / 4]);
        assert!(msg.starts_with("corrupt or truncated BMP"), "{name}: {msg}");
    }
}

#[test]
fn icon_with_a_grey_png_entry() {
    let out = render_one(
        "icon-grey-png.ico",
        &variant(96, 96, Fit::Contain, Format::Png),
    );
    assert_eq!((out.width, out.height), (96, 64));
    let img = decode(&out);
    assert_eq!(img.color(), image::ColorType::L8);
    // Luma of the red marker, as Pillow's L conversion gives it.
    let luma = |c: [u8; 3]| {
        ((u32::from(c[0]) * 299 + u32::from(c[1]) * 587 + u32::from(c[2]) * 114) / 1000) as u8
    };
    assert!(img.get_pixel(6, 6).0[0].abs_diff(luma(RED)) <= 2);
}

#[test]
fn a_jpeg_without_its_end_marker_builds_and_says_so() {
    let v = variant(160, 160, Fit::Contain, Format::Png);
    for (cut, whole) in [
        ("no-eoi.jpg", "baseline.jpg"),
        ("no-eoi-progressive.jpg", "progressive.jpg"),
    ] {
        let (out, info) =
            render_all(&fixture(cut), &[0], std::slice::from_ref(&v), &LIMITS).unwrap();
        assert_eq!(info.leniency, Some(Leniency::JpegWithoutEoi), "{cut}");
        let (reference, info) =
            render_all(&fixture(whole), &[0], std::slice::from_ref(&v), &LIMITS).unwrap();
        assert_eq!(info.leniency, None);
        assert_eq!(out[0].bytes, reference[0].bytes, "{cut}: the same pixels");
        // At a reduced DCT scale too.
        let small = variant(20, 20, Fit::Contain, Format::Png);
        let (_, info) = render_all(&fixture(cut), &[0], &[small], &LIMITS).unwrap();
        assert_eq!(info.leniency, Some(Leniency::JpegWithoutEoi));
    }
    // Data that stops inside the scan is still an error, baseline or
    // progressive.
    for name in ["truncated.jpg", "truncated-progressive.jpg"] {
        let msg = render_err(&fixture(name));
        assert!(
            msg.starts_with("corrupt or truncated JPEG data: file ends before"),
            "{name}: {msg}"
        );
    }
    // Forty bytes short is inside the scan.
    let b = fixture("baseline.jpg");
    assert!(render_err(&b[..b.len() - 40]).contains("truncated"));
}

#[test]
fn damaged_avif_containers_are_errors() {
    // (Damaged AV1 payloads are decoded in a helper process by the binary:
    // tests/it/fuzz.rs.)
    let b = fixture("avif-orientation-6.avif");
    for cut in [12, 40, 200] {
        let msg = render_err(&b[..cut]);
        assert!(msg.starts_with("corrupt or truncated AVIF"), "{cut}: {msg}");
    }
}

#[test]
fn max_pixels_applies_to_avif_from_its_headers() {
    let limits = super::Limits::new(1000);
    let e = render_all(
        &fixture("avif-orientation-1.avif"),
        &[0],
        &[variant(32, 32, Fit::Contain, Format::Png)],
        &limits,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "image is 96×64 (0.006 Mpx), more than max_pixels (0.001 Mpx)"
    );
}

/// rav1d decodes to the same pixels with and without its assembly: CI
/// runs this in the default build and in the `asm` build. Lossless PNG
/// renders of the AVIF fixtures at their own size, pinned by digest.
#[test]
fn avif_decodes_are_pinned() {
    let mut got = String::new();
    for name in [
        "alpha.avif",
        "grey.avif",
        "avif-orientation-1.avif",
        "avif-orientation-6.avif",
    ] {
        let out = render_one(name, &variant(4096, 4096, Fit::Contain, Format::Png));
        got += &format!("{} {name}\n", blake3::hash(&out.bytes).to_hex());
    }
    assert_eq!(got, AVIF_DECODES, "AVIF decodes changed:\n{got}");
}

/// Made by the default build (no assembly); the `asm` build must agree.
/// Orientations 1 and 6 hold the same picture, stored upright and turned.
const AVIF_DECODES: &str = "\
29dee116fc3679225f1dcd4c21f608c4dcc8cbc4e87d7281bdd927b9b07f2148 alpha.avif
18ac1307edda6121efb013e03f3a1a9d7a30668fa1b8b6f0ae1da71ba93cb489 grey.avif
2c9ba63c9f2e8d0f3a3744ed1b51255f5aee0c7344447a255a35a8d3b8460457 avif-orientation-1.avif
2c9ba63c9f2e8d0f3a3744ed1b51255f5aee0c7344447a255a35a8d3b8460457 avif-orientation-6.avif
";
