//! What one output looks like: a named variant's settings, the recipe hash
//! that decides when its outputs are stale, and where an output goes. Pure:
//! nothing here touches the disk. What size a variant comes out at is
//! `render::geometry`'s business.

use std::path::{Path, PathBuf};

use crate::model::{Format, Recipe, Setting};

/// Bumped whenever the render pipeline changes what bytes it produces for the
/// same settings (decoder, resampler, encoder settings). Recorded with every
/// output; an output of another version is rebuilt.
///
/// It also stands for the JPEG *decoder* ([`JPEG_DECODER`]), which shapes
/// the pixels of every output made from a JPEG source, whatever its format.
/// Folding it in here rather than into each output's recorded decode
/// information keeps the record layout (and so every cache) as it is: the
/// decoder only changes with the mozjpeg-sys version, which changes the
/// JPEG encoder's identity too, so the only extra work a bump costs is
/// re-rendering PNG and WebP outputs of non-JPEG sources once. A test pins
/// the pair, so that a new decoder cannot ship without a new version.
///
/// 3: JPEG decoded and encoded by the vendored mozjpeg instead of the
/// system libjpeg-turbo.
pub const PIPELINE_VERSION: u32 = 3;

/// The library that decodes JPEG sources: the crate and its version
/// (mozjpeg-sys also writes JPEG outputs; see [`encoder`]).
pub const JPEG_DECODER: &str = env!("THUMBGEN_CODEC_JPEG");

/// Whether mozjpeg was built with its SIMD kernels (on x86 they need nasm
/// at build time; without it the build warns and is slower). Not part of
/// any identity: SIMD and non-SIMD builds write the same bytes (measured on
/// the example images, and pinned by the golden test in CI, which builds
/// with SIMD, against digests that were made by both).
pub const JPEG_SIMD: bool = matches!(env!("THUMBGEN_JPEG_SIMD").as_bytes(), b"1");

/// The codec identity of `format`: the crates, at the versions this binary
/// was built with, that encode its bytes (build.rs reads them from mozjpeg's
/// headers and from Cargo.lock). Part of the recipe of every variant of that
/// format, so that a codec upgrade rebuilds exactly the outputs it changes.
pub fn encoder(format: Format) -> &'static str {
    match format {
        Format::Jpeg => env!("THUMBGEN_CODEC_JPEG"),
        Format::Png => env!("THUMBGEN_CODEC_PNG"),
        Format::Webp => env!("THUMBGEN_CODEC_WEBP"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
/// How a source is fitted to the variant's box.
pub enum Fit {
    /// Fit inside the box, aspect kept.
    Contain,
    /// Fill the box, cropping the centre.
    Cover,
}

/// One resolved, validated `[[variants]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Variant {
    /// The output folder's name.
    pub name: String,
    /// Box width in pixels.
    pub width: u32,
    /// Box height in pixels.
    pub height: u32,
    /// `contain` or `cover`.
    pub fit: Fit,
    /// Output format.
    pub format: Format,
    /// 1..=100; ignored by PNG.
    pub quality: u8,
    /// RGB that transparent pixels are flattened onto when the format has no alpha.
    pub background: [u8; 3],
}

impl Fit {
    /// The name used in the config.
    pub fn name(self) -> &'static str {
        match self {
            Fit::Contain => "contain",
            Fit::Cover => "cover",
        }
    }
}

/// `quality` when a variant gives none.
pub const DEFAULT_QUALITY: u8 = 80;
/// What transparency is flattened onto when the config names no colour.
pub const DEFAULT_BACKGROUND: [u8; 3] = [255, 255, 255];

impl Variant {
    /// A variant with the config's defaults for everything but its name,
    /// box and format: `contain`, [`DEFAULT_QUALITY`],
    /// [`DEFAULT_BACKGROUND`]. Tests and benchmarks start from it and set
    /// what they vary (`Variant { fit: Fit::Cover, ..Variant::new(…) }`).
    pub fn new(name: &str, width: u32, height: u32, format: Format) -> Variant {
        Variant {
            name: name.to_string(),
            width,
            height,
            fit: Fit::Contain,
            format,
            quality: DEFAULT_QUALITY,
            background: DEFAULT_BACKGROUND,
        }
    }

    /// The settings that decide its outputs' bytes, as the config writes
    /// them; recorded with the recipe so that `--explain` can say what
    /// changed. Keep in step with [`Variant::settings_hash`].
    pub fn settings(&self) -> Vec<Setting> {
        let [r, g, b] = self.background;
        [
            ("width", self.width.to_string()),
            ("height", self.height.to_string()),
            ("fit", self.fit.name().to_string()),
            ("format", self.format.name().to_string()),
            ("quality", self.quality.to_string()),
            ("background", format!("#{r:02x}{g:02x}{b:02x}")),
            ("codec", encoder(self.format).to_string()),
        ]
        .into_iter()
        .map(|(key, value)| Setting {
            key: key.to_string(),
            value,
        })
        .collect()
    }

    /// The recipe: a hash of [`Variant::settings`], the format's codec
    /// identity ([`encoder`]) included.
    pub fn settings_hash(&self) -> Recipe {
        let mut h = blake3::Hasher::new();
        h.update(b"thumbgen-variant-v2\0");
        h.update(&self.width.to_le_bytes());
        h.update(&self.height.to_le_bytes());
        h.update(&[self.fit as u8, self.format as u8, self.quality]);
        h.update(&self.background);
        h.update(encoder(self.format).as_bytes());
        h.update(b"\0");
        *h.finalize().as_bytes()
    }

    /// Where the output of `source_rel` (relative to the source root) goes,
    /// relative to the output root: `<name>/<source_rel with new extension>`.
    pub fn output_rel(&self, source_rel: &Path) -> PathBuf {
        let mut out = PathBuf::new();
        self.push_output_rel(&mut out, source_rel);
        out
    }

    /// [`Variant::output_rel`] appended to `out`, allocation-free when `out`
    /// has room: the planner maps every source this way on every build.
    pub fn push_output_rel(&self, out: &mut PathBuf, source_rel: &Path) {
        out.push(&self.name);
        if let Some(parent) = source_rel.parent() {
            out.push(parent);
        }
        out.push(source_rel.file_stem().unwrap_or_default());
        let file = out.as_mut_os_string();
        file.push(".");
        file.push(self.format.extension());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(name: &str, format: Format) -> Variant {
        Variant::new(name, 256, 256, format)
    }

    #[test]
    fn output_path_replaces_extension_under_variant_name() {
        let v = variant("thumb", Format::Jpeg);
        assert_eq!(
            v.output_rel(Path::new("shoes/red.png")),
            PathBuf::from("thumb/shoes/red.jpg")
        );
        assert_eq!(
            v.output_rel(Path::new("a.JPEG")),
            PathBuf::from("thumb/a.jpg")
        );
        let w = variant("large", Format::Webp);
        assert_eq!(
            w.output_rel(Path::new("x/y/photo.tar.jpg")),
            PathBuf::from("large/x/y/photo.tar.webp")
        );
    }

    #[test]
    fn settings_hash_ignores_name_but_not_settings() {
        let a = variant("a", Format::Jpeg);
        let b = variant("b", Format::Jpeg);
        assert_eq!(a.settings_hash(), b.settings_hash());
        let mut c = a.clone();
        c.quality = 81;
        assert_ne!(a.settings_hash(), c.settings_hash());
        let mut d = a.clone();
        d.fit = Fit::Cover;
        assert_ne!(a.settings_hash(), d.settings_hash());
        assert_ne!(a.settings_hash(), variant("a", Format::Png).settings_hash());
    }

    #[test]
    fn codec_identities_name_crates_and_versions() {
        assert!(encoder(Format::Jpeg).starts_with("mozjpeg-sys 2."));
        assert!(encoder(Format::Png).contains("png 0."));
        assert!(encoder(Format::Webp).contains("libwebp-sys 0."));
        let codec = |v: &Variant| {
            v.settings()
                .into_iter()
                .find(|s| s.key == "codec")
                .map(|s| s.value)
        };
        for f in [Format::Jpeg, Format::Png, Format::Webp] {
            assert_eq!(codec(&variant("a", f)).as_deref(), Some(encoder(f)));
        }
    }

    /// The JPEG decoder's identity is folded into [`PIPELINE_VERSION`]: a
    /// new mozjpeg-sys changes the pixels of every output of a JPEG source.
    /// When this fails after an upgrade, bump `PIPELINE_VERSION` and update
    /// the pair here (and `tests/golden/example.digests`).
    #[test]
    fn pipeline_version_covers_the_jpeg_decoder() {
        assert_eq!(
            (PIPELINE_VERSION, JPEG_DECODER),
            (3, "mozjpeg-sys 2.2.3"),
            "the JPEG decoder changed: bump PIPELINE_VERSION"
        );
    }
}
