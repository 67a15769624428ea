//! One 12-megapixel JPEG through the render path: one variant, the largest
//! alone, and three variants from one decode (`render::render`). The
//! whole-corpus comparison with other tools is `bench/compare.py`.

use criterion::{criterion_main, Criterion};
use image::codecs::jpeg::JpegEncoder;
use image::{ImageEncoder, RgbImage};
use thumbgen::config::Placeholders;
use thumbgen::model::Format;
use thumbgen::render::{render, Limits};
use thumbgen::variant::Variant;

fn variant(name: &str, size: u32, format: Format) -> Variant {
    Variant::new(name, size, size, format)
}

/// A 4000x3000 JPEG with photo-like detail: smooth gradients plus texture.
fn photo() -> Vec<u8> {
    let (w, h) = (4000u32, 3000u32);
    let mut seed = 0x9E37_79B9_u32;
    let img = RgbImage::from_fn(w, h, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let noise = (seed % 24) as u8;
        let r = (x * 255 / w) as u8;
        let g = (y * 255 / h) as u8;
        let b = (((x / 40) ^ (y / 40)) % 2 * 120) as u8;
        image::Rgb([
            r.saturating_add(noise),
            g.saturating_add(noise),
            b.saturating_add(noise),
        ])
    });
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn bench_render(c: &mut Criterion) {
    let source = photo();
    let limits = Limits::new(100_000_000);
    let thumb = variant("thumb", 256, Format::Jpeg);
    let card = variant("card", 640, Format::Webp);
    let large = variant("large", 1280, Format::Jpeg);
    let three = [thumb.clone(), card, large.clone()];
    let mut group = c.benchmark_group("render 12 Mpx JPEG");
    group.sample_size(20);
    let none = Placeholders::default();
    let both = Placeholders {
        thumbhash: true,
        blurhash: true,
    };
    group.bench_function("256 jpeg", |b| {
        b.iter(|| {
            render(
                &source,
                &[0],
                std::slice::from_ref(&thumb),
                &limits,
                none,
                None,
            )
            .unwrap()
        })
    });
    group.bench_function("1280 jpeg", |b| {
        b.iter(|| {
            render(
                &source,
                &[0],
                std::slice::from_ref(&large),
                &limits,
                none,
                None,
            )
            .unwrap()
        })
    });
    group.bench_function("256 jpeg + 640 webp + 1280 jpeg", |b| {
        b.iter(|| render(&source, &[0, 1, 2], &three, &limits, none, None).unwrap())
    });
    // Placeholders are made from the same decode: this is their whole cost.
    group.bench_function("256 jpeg + 640 webp + 1280 jpeg + placeholders", |b| {
        b.iter(|| render(&source, &[0, 1, 2], &three, &limits, both, None).unwrap())
    });
    group.finish();
}

/// Runs the benchmarks with Criterion's options from the command line:
/// what `criterion_group!` expands to, written out because the macro's
/// `pub fn` cannot carry a doc comment.
fn benches() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_render(&mut criterion);
}

criterion_main!(benches);
