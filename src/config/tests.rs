//! Validation of `.thumbgen.toml`: defaults, every kind of mistake and
//! the message it gets.

use super::*;

const GOOD: &str = r#"
source = "images"
output = "public/thumbs"
exclude = ["drafts/**"]

[[variants]]
name = "thumb"
width = 256
height = 256
fit = "cover"
format = "jpeg"
quality = 80

[[variants]]
name = "large"
width = 1200
height = 1200
format = "webp"
"#;

fn parse_at(text: &str) -> Result<Config> {
    parse(text, Path::new("/proj/.thumbgen.toml"))
}

fn error_of(text: &str) -> String {
    match parse_at(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn good_config_resolves_paths_and_defaults() {
    let c = parse_at(GOOD).unwrap();
    assert_eq!(c.source, PathBuf::from("/proj/images"));
    assert_eq!(c.output, PathBuf::from("/proj/public/thumbs"));
    assert_eq!(c.cache, PathBuf::from("/proj/.thumbgen"));
    assert_eq!(c.max_pixels, DEFAULT_MAX_PIXELS);
    assert_eq!(c.decode_timeout, crate::render::DEFAULT_DECODE_TIMEOUT);
    assert_eq!(c.jobs, 0);
    assert_eq!(c.variants.len(), 2);
    assert_eq!(c.variants[0].fit, Fit::Cover);
    assert_eq!(c.variants[1].fit, Fit::Contain);
    assert_eq!(c.variants[1].quality, DEFAULT_QUALITY);
    assert_eq!(c.variants[1].background, [255, 255, 255]);
    assert!(c.exclude.is_match("drafts/a/b.jpg"));
    assert!(c.include.is_none());
}

#[test]
fn unknown_key_names_key_and_line() {
    let e = error_of(&GOOD.replace("quality = 80", "qualty = 80"));
    assert!(e.contains("/proj/.thumbgen.toml:12"), "{e}");
    assert!(e.contains("qualty"), "{e}");
}

#[test]
fn impossible_values_are_rejected_with_line() {
    let e = error_of(&GOOD.replace("quality = 80", "quality = 101"));
    assert!(
        e.contains(":12:") && e.contains("variants[0].quality"),
        "{e}"
    );
    let e = error_of(&GOOD.replace("width = 256", "width = 0"));
    assert!(e.contains(":8:") && e.contains("variants[0].width"), "{e}");
    let e = error_of(&GOOD.replace("width = 1200", "width = 20000"));
    assert!(
        e.contains("variants[1].width") && e.contains("16383"),
        "{e}"
    );
    let e = error_of(&GOOD.replace("fit = \"cover\"", "fit = \"stretch\""));
    assert!(e.contains(":10:") && e.contains("stretch"), "{e}");
    let e = error_of(&GOOD.replace("format = \"webp\"", "format = \"gif\""));
    assert!(e.contains(":18:") && e.contains("gif"), "{e}");
}

#[test]
fn wrong_types_are_rejected_naming_the_key_and_the_fix() {
    let e = error_of(&GOOD.replace("width = 256", "width = \"256\""));
    assert_eq!(
        e,
        "/proj/.thumbgen.toml:8: `variants[0].width` must be a whole number, not the text \"256\": write width = 256 (without quotes)"
    );
    let e = error_of(&GOOD.replace("exclude = [\"drafts/**\"]", "exclude = \"drafts\""));
    assert_eq!(
        e,
        "/proj/.thumbgen.toml:4: `exclude` must be a list, not the text \"drafts\": write exclude = [\"drafts\"]"
    );
    let e = error_of(&GOOD.replace("format = \"webp\"", "format = \"jxl\""));
    assert_eq!(
        e,
        "/proj/.thumbgen.toml:18: `variants[1].format` must be one of jpeg | jpg | png | webp | avif (got \"jxl\")"
    );
    let e = error_of(&GOOD.replace("quality = 80", "qualty = 80"));
    assert!(e.contains("did you mean `quality`?"), "{e}");
}

#[test]
fn jpg_is_jpeg() {
    let c = parse_at(&GOOD.replace("format = \"webp\"", "format = \"jpg\"")).unwrap();
    assert_eq!(c.variants[1].format, Format::Jpeg);
}

#[test]
fn quality_on_png_is_rejected() {
    let e = error_of(&GOOD.replace("format = \"jpeg\"", "format = \"png\""));
    assert!(
        e.contains("variants[0].quality") && e.contains("lossless"),
        "{e}"
    );
}

#[test]
fn config_given_as_a_folder_means_its_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(FILE_NAME), GOOD).unwrap();
    let found = locate(Some(dir.path()), Path::new("/")).unwrap();
    assert_eq!(found, dir.path().join(FILE_NAME));
    let empty = tempfile::tempdir().unwrap();
    let e = locate(Some(empty.path()), Path::new("/")).unwrap_err();
    assert!(e.to_string().contains(FILE_NAME), "{e}");
}

#[test]
fn variant_names_must_be_plain_and_unique() {
    for bad in ["a/b", "..", ".", "", ".hidden", "a\\\\b"] {
        let e = error_of(&GOOD.replace("name = \"thumb\"", &format!("name = \"{bad}\"")));
        assert!(e.contains("variants[0].name"), "{bad}: {e}");
    }
    let e = error_of(&GOOD.replace("name = \"large\"", "name = \"thumb\""));
    assert!(e.contains("unique") && e.contains(":15:"), "{e}");
}

#[test]
fn output_and_source_must_not_nest() {
    let e = error_of(&GOOD.replace("public/thumbs", "images/thumbs"));
    assert!(e.contains("`output`") && e.contains(":3:"), "{e}");
    let e = error_of(&GOOD.replace("\"images\"", "\"public/thumbs/src\""));
    assert!(e.contains("`source`"), "{e}");
    let e = error_of(&GOOD.replace("public/thumbs", "images/../images/x"));
    assert!(e.contains("`output`"), "{e}");
}

#[test]
fn variants_written_as_tables_get_a_hint() {
    let text = "source = \"a\"\noutput = \"b\"\n\n[variants.large]\nwidth = 9\nheight = 9\n";
    let e = error_of(text);
    assert!(e.contains(":4:") && e.contains("[[variants]]"), "{e}");
    assert!(e.contains("name = \"large\""), "{e}");
}

#[test]
fn missing_variants_and_required_keys() {
    let no_variants = GOOD.split("[[variants]]").next().unwrap();
    assert!(error_of(no_variants).contains("variants"));
    let e = error_of(&GOOD.replace("source = \"images\"", ""));
    assert!(e.contains("source"), "{e}");
}

#[test]
fn invalid_glob_and_background() {
    let e = error_of(&GOOD.replace("drafts/**", "drafts/[a"));
    assert!(e.contains("exclude") && e.contains(":4:"), "{e}");
    let e = error_of(&format!("background = \"white\"\n{GOOD}"));
    assert!(e.contains("background") && e.contains(":1:"), "{e}");
    let c = parse_at(&format!("background = \"#102030\"\n{GOOD}")).unwrap();
    assert_eq!(c.variants[0].background, [0x10, 0x20, 0x30]);
    assert_eq!(parse_color("#fff"), Some([255, 255, 255]));
}

#[test]
fn relative_paths_are_relative_to_the_file() {
    let c = parse_at(&GOOD.replace("public/thumbs", "../site/thumbs")).unwrap();
    assert_eq!(c.output, PathBuf::from("/site/thumbs"));
    assert_eq!(c.relative(&c.output), PathBuf::from("../site/thumbs"));
    assert_eq!(c.resolve(&c.relative(&c.output)), c.output);
    assert_eq!(c.relative(&c.source), PathBuf::from("images"));
}

const SET: &str = r#"
source = "images"
output = "out"

[[variants]]
name = "photo"
widths = [1280, 320, 640]
formats = ["avif", "webp", "jpeg"]
sizes = "(min-width: 800px) 50vw, 100vw"
"#;

#[test]
fn a_set_expands_to_one_variant_per_width_and_format() {
    let c = parse_at(SET).unwrap();
    let names: Vec<&str> = c.variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "photo@320.avif",
            "photo@640.avif",
            "photo@1280.avif",
            "photo@320.webp",
            "photo@640.webp",
            "photo@1280.webp",
            "photo@320.jpg",
            "photo@640.jpg",
            "photo@1280.jpg",
        ]
    );
    let v = &c.variants[4];
    assert_eq!(
        (v.width, v.height, v.format),
        (640, UNBOUNDED, Format::Webp)
    );
    assert_eq!(v.smaller, Some((320, UNBOUNDED)));
    assert_eq!(c.variants[3].smaller, None);
    assert_eq!(
        v.output_rel(Path::new("shoes/red.png")),
        PathBuf::from("photo/shoes/red-640.webp")
    );
    assert_eq!(c.variants[0].quality, DEFAULT_AVIF_QUALITY);
    assert_eq!(c.variants[0].speed, DEFAULT_AVIF_SPEED);
    assert_eq!(
        (c.variants[4].quality, c.variants[4].speed),
        (DEFAULT_QUALITY, 0)
    );
    assert!(c
        .variants
        .iter()
        .all(|v| v.sizes.as_deref() == Some("(min-width: 800px) 50vw, 100vw")));
}

#[test]
fn changing_one_width_changes_only_its_recipes() {
    let before = parse_at(SET).unwrap();
    let after = parse_at(&SET.replace("1280", "1200")).unwrap();
    let recipes = |c: &Config| -> Vec<(String, [u8; 32])> {
        c.variants
            .iter()
            .map(|v| (v.name.clone(), v.settings_hash()))
            .collect()
    };
    let (b, a) = (recipes(&before), recipes(&after));
    let same: Vec<bool> = b.iter().zip(&a).map(|(x, y)| x == y).collect();
    assert_eq!(
        same,
        [true, true, false, true, true, false, true, true, false],
        "only the 1280 members change"
    );
}

#[test]
fn width_or_height_alone_is_a_box_open_on_the_other_side() {
    let c = parse_at(&GOOD.replace("width = 1200\n", "")).unwrap();
    assert_eq!(
        (c.variants[1].width, c.variants[1].height),
        (UNBOUNDED, 1200)
    );
    let c = parse_at(&GOOD.replace("height = 1200\n", "")).unwrap();
    assert_eq!(
        (c.variants[1].width, c.variants[1].height),
        (1200, UNBOUNDED)
    );
    let e = error_of(&GOOD.replace("width = 1200\nheight = 1200\n", ""));
    assert!(e.contains(":15: `variants[1].name` needs a size"), "{e}");
    let e = error_of(&GOOD.replace("height = 256\n", ""));
    assert!(
        e.contains("`variants[0].fit` = \"cover\" fills a box"),
        "{e}"
    );
}

#[test]
fn new_variant_keys_are_validated() {
    let cases = [
        (
            "width = 1200\n",
            "widths = []\n",
            "`variants[1].widths` needs at least one width",
        ),
        (
            "width = 1200\n",
            "widths = [300, 300]\n",
            "lists a width twice",
        ),
        (
            "width = 1200\n",
            "widths = [0]\n",
            "`variants[1].widths` must be between 1",
        ),
        (
            "format = \"webp\"",
            "formats = [\"webp\", \"webp\"]",
            "lists a format twice",
        ),
        (
            "format = \"webp\"",
            "format = \"webp\"\nformats = [\"jpeg\"]",
            "both given",
        ),
        (
            "format = \"webp\"",
            "format = \"webp\"\nspeed = 4",
            "applies to avif only",
        ),
        (
            "format = \"webp\"",
            "format = \"avif\"\nspeed = 11",
            "between 1 (smallest files) and 10",
        ),
        (
            "format = \"webp\"",
            "format = \"webp\"\nsharpen = -1.0",
            "Gaussian sigma",
        ),
        (
            "format = \"webp\"",
            "format = \"webp\"\nposition = \"top\"",
            "only applies to fit = \"cover\"",
        ),
        (
            "fit = \"cover\"",
            "fit = \"cover\"\nposition = \"middle\"",
            "must be one of center | top | bottom | left | right | entropy | attention",
        ),
        ("name = \"large\"", "name = \"a@b\"", "plain folder name"),
    ];
    for (from, to, want) in cases {
        let e = error_of(&GOOD.replace(from, to));
        assert!(e.contains(want), "{to}: {e}");
    }
    let c = parse_at(&GOOD.replace(
        "fit = \"cover\"",
        "fit = \"cover\"\nposition = \"attention\"\nsharpen = 0.5",
    ))
    .unwrap();
    assert_eq!(c.variants[0].position, Position::Attention);
    assert_eq!(c.variants[0].sharpen_milli, 500);
    let c = parse_at(&GOOD.replace("format = \"webp\"", "format = \"webp\"\nsharpen = 1")).unwrap();
    assert_eq!(
        c.variants[1].sharpen_milli, 1000,
        "a whole number is a sigma too"
    );
}

#[test]
fn top_level_web_keys() {
    let c = parse_at(&format!(
        "url_prefix = \"/thumbs/\"\nplaceholder = \"thumbhash\"\nhash_names = true\n{GOOD}"
    ))
    .unwrap();
    assert_eq!(c.url_prefix.as_deref(), Some("/thumbs/"));
    assert_eq!(
        c.placeholders,
        Placeholders {
            thumbhash: true,
            blurhash: false
        }
    );
    assert!(c.variants.iter().all(|v| v.hash_names));
    let c = parse_at(&format!(
        "placeholder = [\"thumbhash\", \"blurhash\"]\n{}",
        GOOD.replace("quality = 80", "quality = 80\nhash_names = true")
    ))
    .unwrap();
    assert!(c.placeholders.thumbhash && c.placeholders.blurhash);
    assert_eq!(
        c.variants.iter().map(|v| v.hash_names).collect::<Vec<_>>(),
        [true, false]
    );
    let e = error_of(&format!("placeholder = \"lqip\"\n{GOOD}"));
    assert!(
        e.contains(":1: `placeholder` must be \"thumbhash\", \"blurhash\""),
        "{e}"
    );
}

#[test]
fn a_set_name_cannot_clash_with_another_variant() {
    let e = error_of(&format!(
        "{SET}\n[[variants]]\nname = \"photo\"\nwidth = 10\n"
    ));
    assert!(e.contains("names must be unique"), "{e}");
    // A plain variant named like a member of the set.
    let e = error_of(&format!(
        "{SET}\n[[variants]]\nname = \"photo@320.avif\"\nwidth = 10\n"
    ));
    assert!(e.contains("plain folder name"), "{e}");
    let formats_only = SET.replace("widths = [1280, 320, 640]", "width = 640");
    let e = error_of(&format!(
        "{formats_only}\n[[variants]]\nname = \"photo.webp\"\nwidth = 10\n"
    ));
    assert!(e.contains("names must be unique"), "{e}");
}

#[test]
fn decode_timeout_is_whole_seconds_of_at_least_one() {
    let c = parse_at(&format!("decode_timeout = 5\n{GOOD}")).unwrap();
    assert_eq!(c.decode_timeout, std::time::Duration::from_secs(5));
    let e = error_of(&format!("decode_timeout = 0\n{GOOD}"));
    assert!(
        e.contains("decode_timeout") && e.contains("at least 1"),
        "{e}"
    );
    let e = error_of(&format!("decode_timeout = \"soon\"\n{GOOD}"));
    assert!(e.contains("decode_timeout"), "{e}");
}

#[test]
fn blur_is_a_sigma_of_up_to_fifty_pixels_in_its_recipe() {
    let plain = parse_at(GOOD).unwrap();
    let blurred =
        parse_at(&GOOD.replace("name = \"large\"", "name = \"large\"\nblur = 2.5")).unwrap();
    let (before, after) = (&plain.variants[1], &blurred.variants[1]);
    assert_eq!(after.blur_milli, 2500);
    assert_eq!(
        plain.variants[0].settings_hash(),
        blurred.variants[0].settings_hash()
    );
    assert_ne!(
        before.settings_hash(),
        after.settings_hash(),
        "blur is part of the recipe"
    );
    for bad in ["blur = -1", "blur = 51"] {
        let e = error_of(&GOOD.replace("name = \"large\"", &format!("name = \"large\"\n{bad}")));
        assert!(
            e.contains("blur") && e.contains("between 0 (off) and 50"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn bucket_urls_name_their_cloud_and_only_fitting_keys_are_taken() {
    let in_bucket = |source: &str, extra: &str| {
        parse_at(&GOOD.replace(
            "source = \"images\"",
            &format!("source = \"{source}\"\n{extra}"),
        ))
    };
    let location = |source: &str| match in_bucket(source, "").unwrap().store {
        Some(StoreSource {
            location: SourceLocation::Store(location),
            ..
        }) => location,
        other => panic!("{source}: {other:?}"),
    };
    for (source, cloud, bucket, prefix) in [
        ("s3://shop/catalogue/", Cloud::S3, "shop", "catalogue"),
        ("gs://shop", Cloud::Gcs, "shop", ""),
        ("az://photos/a/b", Cloud::Azure, "photos", "a/b"),
    ] {
        assert_eq!(
            location(source),
            RemoteLocation::Bucket {
                cloud,
                bucket: bucket.into(),
                prefix: prefix.into()
            },
            "{source}"
        );
    }
    // An Azure account's endpoint; a GCS bucket's comes with its
    // credentials, and only S3 has regions.
    let azure = in_bucket(
        "az://photos",
        "source_endpoint = \"http://127.0.0.1:10000/dev\"",
    );
    assert_eq!(
        azure.unwrap().store.unwrap().endpoint.as_deref(),
        Some("http://127.0.0.1:10000/dev")
    );
    for (source, extra, want) in [
        (
            "gs://shop",
            "source_endpoint = \"http://x\"",
            "applies only to s3:// and az:// urls",
        ),
        (
            "az://photos",
            "source_region = \"eu-west-1\"",
            "applies only to s3:// urls",
        ),
        ("az://", "", "names no container: write az://CONTAINER"),
        ("gs:///x", "", "names no bucket: write gs://BUCKET"),
    ] {
        let e = in_bucket(source, extra).unwrap_err().to_string();
        assert!(e.contains(want), "{source} {extra}: {e}");
    }
    let table = "\n[remote]\nurl = \"wasb://c/x\"\n";
    let e = error_of(&format!("{GOOD}{table}"));
    assert!(
        e.contains("must start with s3://, gs://, az:// or file://"),
        "{e}"
    );
}

#[test]
fn publish_defaults_and_bounds() {
    let table = "\n[publish]\nurl = \"s3://cdn/thumbs\"\n";
    let c = parse_at(&format!("{GOOD}{table}")).unwrap();
    let p = c.publish.unwrap();
    assert_eq!(p.max_deletes, DEFAULT_MAX_DELETES);
    assert_eq!(p.concurrency, DEFAULT_PUBLISH_CONCURRENCY);
    assert!(!p.publish_manifest);
    let c = parse_at(&format!("{GOOD}{table}concurrency = 4\nmax_deletes = 0\n")).unwrap();
    let p = c.publish.unwrap();
    assert_eq!((p.concurrency, p.max_deletes), (4, 0));
    for bad in ["concurrency = 0", "concurrency = 1000", "max_deletes = -1"] {
        let e = error_of(&format!("{GOOD}{table}{bad}\n"));
        let key = bad.split(' ').next().unwrap();
        assert!(e.contains(&format!("publish.{key}")), "{bad}: {e}");
    }
}

#[test]
fn the_known_keys_are_the_parsed_ones() {
    // Read from the serde structs: a key added there is suggested too.
    let top = keys::of::<RawConfig>();
    for key in ["source", "output", "decode_timeout", "variants", "remote"] {
        assert!(top.contains(&key), "{key} in {top:?}");
    }
    assert!(keys::of::<RawVariant>().contains(&"sizes"));
    assert_eq!(
        keys::of::<RawRemote>(),
        ["url", "endpoint", "region", "mode"]
    );
    let e = error_of(&format!("decode_timeot = 5\n{GOOD}"));
    assert!(e.contains("decode_timeout"), "{e}");
}

#[test]
fn focal_points_come_from_their_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(".thumbgen.toml");
    let with_focus = format!(
        "focus = \"cms/focus.toml\"\n{}",
        GOOD.replace("fit = \"cover\"", "fit = \"cover\"\nposition = \"focus\"")
    );
    let parse_here = |text: &str| parse(text, &file);

    // A sidecar that is not there is an error naming the key and the file.
    let e = parse_here(&with_focus).unwrap_err().to_string();
    assert!(e.contains(".thumbgen.toml:1: `focus` names"), "{e}");
    assert!(e.contains("cms/focus.toml, which cannot be read"), "{e}");

    std::fs::create_dir(dir.path().join("cms")).unwrap();
    let sidecar = dir.path().join("cms/focus.toml");
    std::fs::write(&sidecar, "\"shoes/red.jpg\" = [0.25, 0.75]\n").unwrap();
    let c = parse_here(&with_focus).unwrap();
    assert_eq!(c.focus_file.as_deref(), Some(sidecar.as_path()));
    assert_eq!(
        c.focus.at(Path::new("shoes/red.jpg")),
        crate::focus::FocalPoint::new(0.25, 0.75)
    );
    assert!(c.variants[0].uses_focus() && !c.variants[1].uses_focus());
    assert!(c.no_effect.is_empty(), "{:?}", c.no_effect);

    // A bad point names the sidecar's line.
    std::fs::write(&sidecar, "\"a.jpg\" = [0.5, 0.5]\n\"b.jpg\" = [2, 0.5]\n").unwrap();
    let e = parse_here(&with_focus).unwrap_err().to_string();
    assert!(
        e.contains("cms/focus.toml:2: \"b.jpg\" must be [x, y]"),
        "{e}"
    );

    // Points without a variant that uses them, and a focus variant
    // without points, are slips worth a warning.
    std::fs::write(&sidecar, "").unwrap();
    let unused = parse_here(&format!("focus = \"cms/focus.toml\"\n{GOOD}")).unwrap();
    assert!(
        unused.no_effect[0].contains("`focus` has no effect"),
        "{:?}",
        unused.no_effect
    );
    let pointless = parse_here(&with_focus.replace("focus = \"cms/focus.toml\"\n", "")).unwrap();
    assert!(
        pointless.no_effect[0].contains("`variants[0].position` has no effect"),
        "{:?}",
        pointless.no_effect
    );
}
