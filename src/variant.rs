//! What one output looks like: a named variant's settings, the recipe hash
//! that decides when its outputs are stale, and where an output goes. Pure:
//! nothing here touches the disk. What size a variant comes out at is
//! `render::geometry`'s business.

use std::path::{Path, PathBuf};

use crate::focus::FocalPoint;
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
/// 4: each output made from the decode its own size calls for (a JPEG at
/// half or full size, then halved with 2×2 box means as far as its size
/// allows), no longer from one decode sized for the whole set and resized
/// from a larger sibling.
pub const PIPELINE_VERSION: u32 = 4;

/// The library that decodes JPEG sources: the crate and its version
/// (mozjpeg-sys also writes JPEG outputs; see [`encoder`]).
pub const JPEG_DECODER: &str = env!("THUMBGEN_CODEC_JPEG");

/// The libraries that decode the other source formats, with their versions
/// (AVIF's colour conversion is thumbgen's own; HEIF's is libheif's).
pub const OTHER_DECODERS: &str = env!("THUMBGEN_DECODERS");

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
        Format::Avif => &AVIF_ENCODER,
    }
}

/// AVIF's codec identity: the crates, then the settings thumbgen gives
/// the AV1 encoder, so that a change of them rebuilds AVIF outputs.
static AVIF_ENCODER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{}, {}",
        env!("THUMBGEN_CODEC_AVIF"),
        thumbgen_avif::settings()
    )
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
/// How a source is fitted to the variant's box.
pub enum Fit {
    /// Fit inside the box, aspect kept.
    Contain,
    /// Fill the box, cropping what sticks out (where: [`Position`]).
    Cover,
}

/// Which part of a source a `cover` crop keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Position {
    /// The middle.
    Center,
    /// The top edge (the bottom is cropped).
    Top,
    /// The bottom edge.
    Bottom,
    /// The left edge.
    Left,
    /// The right edge.
    Right,
    /// The window with the most detail (Shannon entropy of its luminance).
    Entropy,
    /// The window with the most of what draws the eye: edges, skin tones
    /// and saturated colour (libvips's `attention`).
    Attention,
    /// Centred on the source's focal point (`focus = "focus.toml"`), or
    /// where it has none, as `attention`.
    Focus,
}

impl Position {
    /// The name used in the config.
    pub fn name(self) -> &'static str {
        match self {
            Position::Center => "center",
            Position::Top => "top",
            Position::Bottom => "bottom",
            Position::Left => "left",
            Position::Right => "right",
            Position::Entropy => "entropy",
            Position::Attention => "attention",
            Position::Focus => "focus",
        }
    }

    /// Whether the crop depends on the pixels (else on the sizes alone,
    /// or on a focal point), given whether the source has a focal point.
    pub fn looks_at_content(self, has_point: bool) -> bool {
        match self {
            Position::Entropy | Position::Attention => true,
            Position::Focus => !has_point,
            _ => false,
        }
    }
}

/// A box side left open (`width` or `height` not given): the other side
/// alone decides the size, as Hugo's `"600x"` does.
pub const UNBOUNDED: u32 = u32::MAX;

/// One resolved, validated output of a `[[variants]]` entry. An entry with
/// `widths` and `formats` expands to one of these per width and format.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Variant {
    /// The identity recorded with its outputs: the entry's `name`, or for a
    /// member of a set `name@WIDTH.EXT` (`photo@640.avif`).
    pub name: String,
    /// The output folder: the entry's `name`.
    pub folder: String,
    /// For a member of a set: the width appended to file names
    /// (`red-640.avif`).
    pub suffix: Option<u32>,
    /// Box width in pixels ([`UNBOUNDED`] when only a height is given).
    pub width: u32,
    /// Box height in pixels ([`UNBOUNDED`] when only a width is given).
    pub height: u32,
    /// `contain` or `cover`.
    pub fit: Fit,
    /// Where a `cover` crop sits.
    pub position: Position,
    /// Output format.
    pub format: Format,
    /// 1..=100; ignored by PNG.
    pub quality: u8,
    /// AVIF encoder speed, 1 (slowest, smallest) ..= 10; 0 for other formats.
    pub speed: u8,
    /// Unsharp-mask sigma after the downscale, in thousandths (0: off).
    pub sharpen_milli: u16,
    /// Gaussian blur sigma after the downscale (and any sharpening), in
    /// thousandths (0: off).
    pub blur_milli: u16,
    /// RGB that transparent pixels are flattened onto when the format has no alpha.
    pub background: [u8; 3],
    /// Outputs named by their content (`red.3f9a1c2b.jpg`).
    pub hash_names: bool,
    /// An animated source's output holds every frame (`animated =
    /// "keep"`; WebP only), not the first.
    pub animated: bool,
    /// For a member of a set: the box of the next smaller width of the same
    /// set and format. Where that one already comes out as large as this one
    /// (the source is narrower than both), this one is not made, so that a
    /// set never holds two files of one size.
    pub smaller: Option<(u32, u32)>,
    /// The `sizes` attribute of the manifest's `<picture>` (not part of any
    /// output's bytes).
    pub sizes: Option<String>,
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

/// `quality` when a variant gives none: JPEG and WebP.
pub const DEFAULT_QUALITY: u8 = 80;
/// `quality` of AVIF when a variant gives none. Measured on the shop
/// corpus at 640 px (bench/avif_quality.py, SSIMULACRA2): AVIF at 80
/// scores what libwebp does at 80 (73.7 against 73.9).
pub const DEFAULT_AVIF_QUALITY: u8 = 80;
/// `speed` of AVIF when a variant gives none: the fastest. At equal score
/// it is 17% smaller than WebP for 3.4x WebP's build time (with rav1e's
/// assembly); speed 8 is 26% smaller but 18x slower (README, "AVIF").
pub const DEFAULT_AVIF_SPEED: u8 = 10;
/// What transparency is flattened onto when the config names no colour.
pub const DEFAULT_BACKGROUND: [u8; 3] = [255, 255, 255];

/// One setting of a recipe: how the config shows it, and the bytes the
/// recipe hashes.
struct RecipeField {
    key: &'static str,
    shown: String,
    hashed: Vec<u8>,
    /// Added after the first release: hashed after its name.
    later: bool,
}

impl RecipeField {
    fn first(key: &'static str, shown: String, hashed: Vec<u8>) -> RecipeField {
        RecipeField {
            key,
            shown,
            hashed,
            later: false,
        }
    }

    fn later(key: &'static str, shown: String, hashed: Vec<u8>) -> RecipeField {
        RecipeField {
            key,
            shown,
            hashed,
            later: true,
        }
    }
}

impl Variant {
    /// A variant with the config's defaults for everything but its name,
    /// box and format: `contain`, centred, the format's default quality
    /// (and speed), [`DEFAULT_BACKGROUND`]. Tests and benchmarks start from
    /// it and set what they vary (`Variant { fit: Fit::Cover, ..Variant::new(…) }`).
    pub fn new(name: &str, width: u32, height: u32, format: Format) -> Variant {
        let avif = format == Format::Avif;
        Variant {
            name: name.to_string(),
            folder: name.to_string(),
            suffix: None,
            width,
            height,
            fit: Fit::Contain,
            position: Position::Center,
            format,
            quality: if avif {
                DEFAULT_AVIF_QUALITY
            } else {
                DEFAULT_QUALITY
            },
            speed: if avif { DEFAULT_AVIF_SPEED } else { 0 },
            sharpen_milli: 0,
            blur_milli: 0,
            background: DEFAULT_BACKGROUND,
            hash_names: false,
            animated: false,
            smaller: None,
            sizes: None,
        }
    }

    /// The settings that decide its outputs' bytes, one entry each, in the
    /// order the recipe hashes them: the one list that both the recipe
    /// ([`Variant::settings_hash`]) and `--explain`'s old → new changes
    /// ([`Variant::settings`]) are read from, so they cannot disagree.
    fn recipe_fields(&self, focus: Option<FocalPoint>) -> Vec<RecipeField> {
        let [r, g, b] = self.background;
        let side = |n: u32| {
            if n == UNBOUNDED {
                "any".to_string()
            } else {
                n.to_string()
            }
        };
        let codec = encoder(self.format);
        let mut codec_bytes = codec.as_bytes().to_vec();
        codec_bytes.push(0);
        let mut fields = vec![
            RecipeField::first("width", side(self.width), self.width.to_le_bytes().to_vec()),
            RecipeField::first(
                "height",
                side(self.height),
                self.height.to_le_bytes().to_vec(),
            ),
            RecipeField::first("fit", self.fit.name().into(), vec![self.fit as u8]),
            RecipeField::first("format", self.format.name().into(), vec![self.format as u8]),
            RecipeField::first("quality", self.quality.to_string(), vec![self.quality]),
            RecipeField::first(
                "background",
                format!("#{r:02x}{g:02x}{b:02x}"),
                self.background.to_vec(),
            ),
            RecipeField::first("codec", codec.into(), codec_bytes),
        ];
        // Settings added since the first release are there only when they
        // differ from the behaviour before them, so that the recipes (and
        // the records) made before them stay equal.
        if self.fit == Fit::Cover && self.position != Position::Center {
            fields.push(RecipeField::later(
                "position",
                self.position.name().into(),
                vec![self.position as u8],
            ));
        }
        if self.format == Format::Avif {
            fields.push(RecipeField::later(
                "speed",
                self.speed.to_string(),
                vec![self.speed],
            ));
        }
        if self.sharpen_milli > 0 {
            fields.push(RecipeField::later(
                "sharpen",
                format!("{}", f64::from(self.sharpen_milli) / 1000.0),
                self.sharpen_milli.to_le_bytes().to_vec(),
            ));
        }
        if self.blur_milli > 0 {
            fields.push(RecipeField::later(
                "blur",
                format!("{}", f64::from(self.blur_milli) / 1000.0),
                self.blur_milli.to_le_bytes().to_vec(),
            ));
        }
        if self.animated {
            fields.push(RecipeField::later("animated", "keep".into(), vec![1]));
        }
        if let Some(point) = focus.filter(|_| self.uses_focus()) {
            fields.push(RecipeField::later(
                "focus",
                point.shown(),
                point.bytes().to_vec(),
            ));
        }
        fields
    }

    /// Whether its outputs are cropped around each source's focal point.
    pub fn uses_focus(&self) -> bool {
        self.fit == Fit::Cover && self.position == Position::Focus
    }

    /// The settings that decide its outputs' bytes, as the config writes
    /// them; recorded with the recipe so that `--explain` can say what
    /// changed.
    pub fn settings(&self) -> Vec<Setting> {
        self.settings_for(None)
    }

    /// [`Variant::settings`] of its output of a source whose focal point
    /// is `focus`.
    pub fn settings_for(&self, focus: Option<FocalPoint>) -> Vec<Setting> {
        self.recipe_fields(focus)
            .into_iter()
            .map(|f| Setting {
                key: f.key.to_string(),
                value: f.shown,
            })
            .collect()
    }

    /// The recipe: a hash of the same fields as [`Variant::settings`], the
    /// format's codec identity ([`encoder`]) included. The fields of the
    /// first release are hashed as they are; later ones after their name.
    /// This is the recipe of every output of the variant, except for
    /// `position = "focus"`, whose outputs each have their source's
    /// ([`Variant::recipe`]).
    pub fn settings_hash(&self) -> Recipe {
        self.recipe(None)
    }

    /// The recipe of its output of a source whose focal point is `focus`:
    /// [`Variant::settings_hash`], with the point for a variant that
    /// crops around it.
    pub fn recipe(&self, focus: Option<FocalPoint>) -> Recipe {
        let mut h = blake3::Hasher::new();
        h.update(b"thumbgen-variant-v2\0");
        for field in self.recipe_fields(focus) {
            if field.later {
                h.update(field.key.as_bytes());
                h.update(b"\0");
            }
            h.update(&field.hashed);
        }
        *h.finalize().as_bytes()
    }

    /// Where the output of `source_rel` (relative to the source root) goes,
    /// relative to the output root: `<folder>/<source_rel with new
    /// extension>`, `-<width>` before it for a member of a set. With
    /// `hash_names` the content's digest goes before the extension, which
    /// only the render knows: see [`with_content_hash`].
    pub fn output_rel(&self, source_rel: &Path) -> PathBuf {
        let mut out = PathBuf::new();
        self.push_output_rel(&mut out, source_rel);
        out
    }

    /// [`Variant::output_rel`] appended to `out`, allocation-free when `out`
    /// has room: the planner maps every source this way on every build.
    pub fn push_output_rel(&self, out: &mut PathBuf, source_rel: &Path) {
        out.push(&self.folder);
        if let Some(parent) = source_rel.parent() {
            out.push(parent);
        }
        out.push(source_rel.file_stem().unwrap_or_default());
        let file = out.as_mut_os_string();
        if let Some(width) = self.suffix {
            file.push(format!("-{width}"));
        }
        file.push(".");
        file.push(self.format.extension());
    }
}

/// How many hex digits of an output's blake3 a `hash_names` file name holds:
/// 32 bits, ample to tell the versions of one file apart.
pub const NAME_HASH_DIGITS: usize = 8;

/// `thumb/red.jpg` with the content digest `hash` -> `thumb/red.3f9a1c2b.jpg`.
pub fn with_content_hash(path: &Path, hash: &[u8; 32]) -> PathBuf {
    let digits: String = hash[..NAME_HASH_DIGITS / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let stem = path.file_stem().unwrap_or_default();
    let mut name = stem.to_os_string();
    name.push(".");
    name.push(digits);
    if let Some(ext) = path.extension() {
        name.push(".");
        name.push(ext);
    }
    path.with_file_name(name)
}

/// `planned` as a plan shows a content-named output before its bytes are
/// known: the digest as `?` marks (`a.????????.jpg`), which a shell glob
/// also matches the real name with.
pub fn with_unknown_hash(planned: &Path) -> PathBuf {
    let stem = planned.file_stem().unwrap_or_default();
    let mut name = stem.to_os_string();
    name.push(".");
    name.push("?".repeat(NAME_HASH_DIGITS));
    if let Some(ext) = planned.extension() {
        name.push(".");
        name.push(ext);
    }
    planned.with_file_name(name)
}

/// `thumb/red.3f9a1c2b.jpg` -> `thumb/red.jpg`; `None` for a name without
/// a content digest ([`with_content_hash`]).
pub fn without_content_hash(path: &Path) -> Option<PathBuf> {
    let stem = path.file_stem()?.to_str()?;
    let (plain, digits) = stem.rsplit_once('.')?;
    let is_digest = digits.len() == NAME_HASH_DIGITS
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !is_digest || plain.is_empty() {
        return None;
    }
    let mut name = std::ffi::OsString::from(plain);
    if let Some(ext) = path.extension() {
        name.push(".");
        name.push(ext);
    }
    Some(path.with_file_name(name))
}

/// Whether `recorded` is `planned` (the path without a digest) with a
/// content digest inserted by [`with_content_hash`].
pub fn is_hashed_form_of(recorded: &Path, planned: &Path) -> bool {
    if recorded.parent() != planned.parent() || recorded.extension() != planned.extension() {
        return false;
    }
    let (Some(stem), Some(planned_stem)) = (recorded.file_stem(), planned.file_stem()) else {
        return false;
    };
    let (stem, planned_stem) = (stem.as_encoded_bytes(), planned_stem.as_encoded_bytes());
    stem.len() == planned_stem.len() + 1 + NAME_HASH_DIGITS
        && stem.starts_with(planned_stem)
        && stem[planned_stem.len()] == b'.'
        && stem[planned_stem.len() + 1..]
            .iter()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
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
    fn a_content_digest_comes_off_a_name() {
        let named = with_content_hash(Path::new("thumb/a/red.jpg"), &[0xab; 32]);
        assert_eq!(named, Path::new("thumb/a/red.abababab.jpg"));
        assert_eq!(
            without_content_hash(&named).as_deref(),
            Some(Path::new("thumb/a/red.jpg"))
        );
        for plain in [
            "thumb/red.jpg",
            "thumb/red.ABABABAB.jpg",
            "thumb/.abababab.jpg",
            "x.1234.png",
        ] {
            assert_eq!(without_content_hash(Path::new(plain)), None, "{plain}");
        }
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
    /// So are the other decoders: each shapes every output of its sources.
    #[test]
    fn pipeline_version_covers_the_other_decoders() {
        assert_eq!(
            (PIPELINE_VERSION, OTHER_DECODERS),
            (
                4,
                "image 0.25.10, png 0.18.1, gif 0.14.2, image-webp 0.2.4, tiff 0.11.3, \
                 mp4parse 0.17.0, rav1d 1.1.0, jxl-oxide 0.12.6, libheif-sys 5.3.1+1.23.1"
            ),
            "a decoder changed: bump PIPELINE_VERSION"
        );
    }

    #[test]
    fn pipeline_version_covers_the_jpeg_decoder() {
        assert_eq!(
            (PIPELINE_VERSION, JPEG_DECODER),
            (4, "mozjpeg-sys 2.2.3"),
            "the JPEG decoder changed: bump PIPELINE_VERSION"
        );
    }
}

#[cfg(test)]
mod recipe_pins {
    use super::*;

    /// Variants of every kind of setting, default and not.
    fn kinds() -> Vec<Variant> {
        let mut cover = Variant::new("c", 256, 256, Format::Jpeg);
        cover.fit = Fit::Cover;
        cover.position = Position::Attention;
        let mut sharp = Variant::new("s", 640, UNBOUNDED, Format::Webp);
        sharp.sharpen_milli = 500;
        sharp.background = [1, 2, 3];
        let mut avif = Variant::new("a", 1280, UNBOUNDED, Format::Avif);
        avif.speed = 8;
        avif.quality = 60;
        vec![
            Variant::new("t", 256, 256, Format::Jpeg),
            Variant::new("p", 100, 40, Format::Png),
            cover,
            sharp,
            avif,
        ]
    }

    /// Today's recipes and settings, pinned: a change here rebuilds every
    /// output of every user, so it must be on purpose.
    #[test]
    fn recipes_and_settings_are_pinned() {
        let shown: Vec<String> = kinds()
            .iter()
            .map(|v| {
                let hash: String = v.settings_hash()[..8]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                let settings: Vec<String> = v
                    .settings()
                    .into_iter()
                    .filter(|s| s.key != "codec")
                    .map(|s| format!("{}={}", s.key, s.value))
                    .collect();
                format!("{hash} {}", settings.join(" "))
            })
            .collect();
        assert!(
            thumbgen_avif::writes_pinned_bytes(),
            "the aom build's pins are those of libaom {}: build it as .ci/libaom says",
            thumbgen_avif::PINNED_LIBAOM
        );
        assert_eq!(shown, PINNED);
    }

    /// (A codec's new version changes the hashes too: every output of that
    /// format is then rebuilt, rightly.)
    const PINNED: [&str; 5] = [
        "2dea957ebfbc2a6e width=256 height=256 fit=contain format=jpeg quality=80 background=#ffffff",
        "3e526602cbfcdd50 width=100 height=40 fit=contain format=png quality=80 background=#ffffff",
        "429025c14f973985 width=256 height=256 fit=cover format=jpeg quality=80 background=#ffffff position=attention",
        "aec036d9a289e270 width=640 height=any fit=contain format=webp quality=80 background=#010203 sharpen=0.5",
        if cfg!(feature = "aom") {
            // libaom's identity and settings (libaom 3.12.1, tuned for
            // image quality), not rav1e's.
            "5ee5fc31c3530766 width=1280 height=any fit=contain format=avif quality=60 background=#ffffff speed=8"
        } else {
            "185e630503b4b84c width=1280 height=any fit=contain format=avif quality=60 background=#ffffff speed=8"
        },
    ];
}
