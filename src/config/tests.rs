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
    let e = error_of(&GOOD.replace("format = \"webp\"", "format = \"avif\""));
    assert_eq!(
        e,
        "/proj/.thumbgen.toml:18: `variants[1].format` must be one of jpeg | jpg | png | webp (got \"avif\")"
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
