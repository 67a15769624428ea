//! `thumbgen init`: a starter `.thumbgen.toml` that works as written and
//! says what each key does, so a new project starts from a valid config
//! rather than from the README.

use std::path::Path;

use crate::config::{self, FILE_NAME};
use crate::error::{Error, Result};

/// The starter config for photos in `source` and thumbnails in `output`
/// (both relative to the config's folder).
pub(crate) fn starter(source: &str, output: &str) -> String {
    format!(
        r#"# thumbgen: thumbnails of every photo under `source`, in `output`.
# Paths are relative to this file. `thumbgen build` brings them up to date;
# `thumbgen build --explain` says why each one is (re)built.

source = "{source}"
output = "{output}"
# exclude = ["drafts/**"]      # globs relative to `source` (a folder: "name/**"); include = [...] too
manifest = "{output}/manifest.json"   # JSON: each photo's outputs, URLs, srcsets, <picture> snippets
# url_prefix = "/thumbs/"      # what the manifest's URLs start with
# placeholder = "thumbhash"    # a tiny preview per photo in the manifest (or "blurhash", or both)
# hash_names = true            # content-hashed names (photo.3f9a1c2e.jpg), for long cache lifetimes
# max_pixels = 100_000_000     # larger photos fail with a clear error
# decode_timeout = 120         # seconds an AVIF or HEIF decode may take
# jobs = 0                     # worker threads; 0 = all cores

# One [[variants]] table per kind of image: outputs go to <output>/<name>/<path>.
[[variants]]
name = "thumb"
width = 256
height = 256
fit = "cover"                  # cover (fill the box, crop) | contain (fit inside)
position = "attention"         # where a cover crop goes: attention (the subject) | entropy | focus (points you give: `focus`) | center | top | bottom | left | right
format = "jpeg"                # jpeg | png | webp | avif
quality = 80

# A responsive set: one output per width and format, and a <picture>
# snippet per photo in the manifest.
[[variants]]
name = "photo"
widths = [320, 640, 1280]
formats = ["avif", "webp", "jpeg"]
# sizes = "(min-width: 800px) 50vw, 100vw"   # the <picture>'s sizes; default 100vw
# sharpen = 0.5                # unsharp mask after the downscale
# blur = 8                     # Gaussian blur after the downscale (backgrounds)
"#
    )
}

/// Write the starter config in `dir`; never over an existing one.
pub(crate) fn init(dir: &Path, source: &str, output: &str) -> Result<std::path::PathBuf> {
    let file = dir.join(FILE_NAME);
    if file.exists() {
        return Err(Error::Config(format!(
            "{} already exists; edit it, or remove it to start over",
            file.display()
        )));
    }
    let text = starter(source, output);
    // The template must always be a valid config: check it as `build` will.
    config::parse(&text, &file)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, &e))?;
    std::fs::write(&file, text).map_err(|e| Error::io(&file, &e))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_config_is_valid_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let file = init(dir.path(), "photos", "site/thumbs").unwrap();
        let config = config::load(&file).unwrap();
        assert_eq!(config.source, dir.path().join("photos"));
        // The thumb, and the set's 3 widths x 3 formats.
        assert_eq!(config.variants.len(), 10);
        assert!(config.no_effect.is_empty(), "{:?}", config.no_effect);
        let again = init(dir.path(), "photos", "site/thumbs").unwrap_err();
        assert!(again.to_string().contains("already exists"), "{again}");
    }
}
