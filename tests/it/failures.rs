use crate::common::*;

fn good_jpeg() -> Vec<u8> {
    image_bytes("x.jpg", 120, 90, 7)
}

/// A PNG whose header claims `width` x `height` with almost no data.
fn bomb_png(width: u32, height: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    // zlib stream of a few zero bytes
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

#[test]
fn bad_sources_fail_alone_with_reasons() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("good.jpg", 120, 90, 1);
    env.add_image("also-good.png", 60, 60, 2);
    let jpeg = good_jpeg();
    std::fs::write(env.src("truncated.jpg"), &jpeg[..jpeg.len() / 2]).unwrap();
    std::fs::write(env.src("empty.jpg"), b"").unwrap();
    std::fs::write(env.src("text.png"), b"this is not a picture at all").unwrap();
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(env.src("noise.webp"), noise).unwrap();
    std::fs::write(env.src("bomb.png"), bomb_png(60_000, 60_000)).unwrap();

    // -j1: failures are reported as the workers meet them, in any order
    // with more threads; one at a time, in the order of the paths.
    let run = env.build(&["-j1"], 1);
    assert_transcript!("bad_sources_fail_alone_with_reasons", env, run);
    let files = env.output_files();
    assert_eq!(
        files,
        [
            "large/also-good.webp",
            "large/good.webp",
            "thumb/also-good.jpg",
            "thumb/good.jpg"
        ]
    );
    // failures are retried (and fail again) on the next build
    let run = env.build(&[], 1);
    assert_eq!(run.summary(), [0, 4, 0, 5]);
}

#[test]
fn a_source_that_breaks_loses_its_old_outputs_and_comes_back_when_fixed() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 120, 90, 1);
    env.build(&[], 0);
    let jpeg = std::fs::read(env.src("a.jpg")).unwrap();
    std::fs::write(env.src("a.jpg"), &jpeg[..200]).unwrap();
    let broken = env.build(&["--explain"], 1);
    assert!(!env.out("thumb/a.jpg").exists());
    assert!(!env.out("large/a.webp").exists());
    std::fs::write(env.src("a.jpg"), &jpeg).unwrap();
    let fixed = env.build(&["--explain"], 0);
    assert_transcript!(
        "a_source_that_breaks_and_is_fixed",
        env,
        story(&[
            ("a.jpg: cut to 200 bytes", &broken),
            ("a.jpg: restored", &fixed)
        ])
    );
}

#[test]
fn too_many_pixels_fails_with_the_limit() {
    let env = Env::new(TWO_VARIANTS);
    env.write_config(&format!(
        "source = \"images\"\noutput = \"public/thumbs\"\nmax_pixels = 5000\n{TWO_VARIANTS}"
    ));
    env.add_image("big.jpg", 100, 100, 1);
    env.add_image("small.jpg", 50, 50, 2);
    let run = env.build(&[], 1);
    assert_transcript!("too_many_pixels", env, run);
    assert!(env.out("thumb/small.jpg").exists());
}

#[test]
fn two_sources_for_one_output_both_fail() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 50, 50, 1);
    env.add_image("a.png", 50, 50, 2);
    env.add_image("b.jpg", 50, 50, 3);
    let run = env.build(&[], 1);
    assert_eq!(run.summary(), [2, 0, 0, 2]);
    // Each message names the other file: snapshots::failures.
    assert!(!env.out("thumb/a.jpg").exists());
    std::fs::remove_file(env.src("a.png")).unwrap();
    assert_eq!(env.build(&[], 0).summary(), [2, 2, 0, 0]);
}

#[test]
fn mislabelled_file_is_sniffed() {
    let env = Env::new(TWO_VARIANTS);
    std::fs::write(env.src("really-a-png.jpg"), image_bytes("x.png", 40, 30, 1)).unwrap();
    env.build(&[], 0);
    let out = decode(&env.out("thumb/really-a-png.jpg"));
    assert_eq!((out.width(), out.height()), (40, 30));
}

#[cfg(unix)]
#[test]
fn symlinks_inside_outside_and_dangling() {
    use std::os::unix::fs::symlink;
    let env = Env::new(TWO_VARIANTS);
    env.add_image("real.jpg", 50, 50, 1);
    let outside = env.root().join("outside.jpg");
    std::fs::write(&outside, good_jpeg()).unwrap();
    symlink(env.src("real.jpg"), env.src("inside.jpg")).unwrap();
    symlink(&outside, env.src("escape.jpg")).unwrap();
    symlink(env.src("nothing.jpg"), env.src("dangling.jpg")).unwrap();
    let run = env.build(&[], 1);
    assert_transcript!("symlinks_inside_outside_and_dangling", env, run);
    assert!(env.out("thumb/inside.jpg").exists());
    assert!(!env.out("thumb/escape.jpg").exists());
}

#[test]
fn odd_file_names() {
    let env = Env::new(TWO_VARIANTS);
    for name in [
        "with space.jpg",
        "ñandú café.JPG",
        "#hash%20&.jpeg",
        "dots.in.name.png",
    ] {
        env.add_image(name, 40, 40, 1);
    }
    let run = env.build(&[], 0);
    assert_eq!(run.summary(), [8, 0, 0, 0]);
    assert!(env.out("thumb/ñandú café.jpg").exists());
    assert!(env.out("large/dots.in.name.webp").exists());
}

#[test]
fn deep_and_long_paths() {
    let env = Env::new(TWO_VARIANTS);
    let folder = "a-rather-long-folder-name-for-a-product-category-0123456789";
    let deep = format!("{folder}/{folder}/{folder}/{folder}/{folder}");
    let name = format!("{deep}/{}.jpg", "n".repeat(200));
    env.add_image(&name, 40, 40, 1);
    let run = env.build(&[], 0);
    assert_eq!(run.summary(), [2, 0, 0, 0], "{}", run.stderr);
    assert!(env
        .out(&format!("thumb/{deep}/{}.jpg", "n".repeat(200)))
        .exists());
    assert_eq!(env.build(&[], 0).summary(), [0, 2, 0, 0]);
}

#[test]
fn output_name_too_long_fails_that_source_only() {
    let env = Env::new(TWO_VARIANTS);
    // 251 + ".jpg" fits a file system's 255 bytes; the ".webp" output does not.
    let name = format!("{}.jpg", "x".repeat(251));
    env.add_image(&name, 40, 40, 1);
    env.add_image("fine.jpg", 40, 40, 2);
    let run = env.build(&[], 1);
    assert_eq!(run.summary(), [2, 0, 0, 1], "{}", run.stderr);
    let files = env.output_files();
    assert_eq!(
        files,
        ["large/fine.webp", "thumb/fine.jpg"],
        "no output of the failed source"
    );
}

#[cfg(unix)]
#[test]
fn non_utf8_file_names() {
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new(TWO_VARIANTS);
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.jpg");
    std::fs::write(env.root().join("images").join(name), good_jpeg()).unwrap();
    env.build(&[], 0);
    let out = env
        .root()
        .join("public/thumbs/thumb")
        .join(std::ffi::OsStr::from_bytes(b"caf\xe9.jpg"));
    assert!(out.exists());
    assert_eq!(env.build(&[], 0).summary(), [0, 2, 0, 0]);
}
