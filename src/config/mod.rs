//! `.thumbgen.toml`: finding it (this directory or the nearest ancestor),
//! parsing it strictly, and validating it into a resolved [`Config`] before
//! any work is done. Every error names the file, the line and the key.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use toml::Spanned;

use crate::error::{Error, Result};
use crate::focus::FocalPoints;
pub use crate::model::Placeholders;
use crate::model::{Format, RemoteMode};
use crate::paths;

mod keys;
mod toml_errors;
use crate::variant::{
    Fit, Position, Variant, DEFAULT_AVIF_QUALITY, DEFAULT_AVIF_SPEED, DEFAULT_BACKGROUND,
    DEFAULT_QUALITY, UNBOUNDED,
};

/// The config file name looked for in a folder and its ancestors.
pub const FILE_NAME: &str = ".thumbgen.toml";
const DEFAULT_MAX_PIXELS: u64 = 100_000_000;
/// libwebp cannot encode larger images.
const WEBP_MAX_SIDE: u32 = 16_383;
const MAX_SIDE: u32 = 65_535;

/// A validated configuration with absolute, lexically normalised paths.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file itself.
    pub file: PathBuf,
    /// The folder holding the config file; relative paths start here.
    pub root: PathBuf,
    /// Root of the source images: a folder, or for sources in an object
    /// store the `source` url as written (named in messages, never opened
    /// as a folder).
    pub source: PathBuf,
    /// Where the sources are when they are not in a local folder.
    pub store: Option<StoreSource>,
    /// `file:line` of the `source` key, for messages about the folder.
    pub source_origin: String,
    /// Root of the generated tree.
    pub output: PathBuf,
    /// The cache (record store) folder.
    pub cache: PathBuf,
    /// Where the optional JSON manifest goes.
    pub manifest: Option<PathBuf>,
    /// Globs (relative to `source`) a source must match, if given.
    pub include: Option<GlobSet>,
    /// Globs (relative to `source`) that exclude sources.
    pub exclude: GlobSet,
    /// The patterns as written, `include`'s then `exclude`'s, in the
    /// order of their indices in the sets: a pattern that matches no image
    /// is named in a warning.
    pub patterns: Vec<(&'static str, String)>,
    /// 0 = all cores.
    pub jobs: usize,
    /// Largest accepted source, in pixels.
    pub max_pixels: u64,
    /// How long a helper-process decoder (AVIF, HEIF) may take per source.
    pub decode_timeout: std::time::Duration,
    /// Follow symlinks that lead outside `source`.
    pub follow_links: bool,
    /// The `[[variants]]`, in config order.
    pub variants: Vec<Variant>,
    /// The shared cache (`[remote]`), if one is configured.
    pub remote: Option<RemoteSettings>,
    /// Where `thumbgen publish` puts the output tree (`[publish]`).
    pub publish: Option<PublishSettings>,
    /// What the manifest's `url`s start with (`url_prefix`).
    pub url_prefix: Option<String>,
    /// Settings that are accepted but change nothing, each said as
    /// `FILE:LINE: \`key\` has no effect: why`, for a warning.
    pub no_effect: Vec<String>,
    /// Which placeholders every source gets in the manifest.
    pub placeholders: Placeholders,
    /// The sources' focal points (`focus`), for `position = "focus"`.
    pub focus: FocalPoints,
    /// The sidecar they are read from, if `focus` names one.
    pub focus_file: Option<PathBuf>,
}

/// A validated `[remote]` table. Credentials are never here: they come
/// from each cloud's standard environment variables or credential chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSettings {
    /// The `url` as written, for messages.
    pub url: String,
    /// Where the objects live.
    pub location: RemoteLocation,
    /// An S3-compatible endpoint (MinIO, R2, Ceph …) instead of AWS, or
    /// an Azure account's blob endpoint.
    pub endpoint: Option<String>,
    /// The S3 region.
    pub region: Option<String>,
    /// The configured mode (`--remote` and `THUMBGEN_REMOTE_MODE` override it).
    pub mode: RemoteMode,
}

/// A validated `[publish]` table: the bucket the output tree is served
/// from, and the headers its objects get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishSettings {
    /// The `url` as written, for messages.
    pub url: String,
    /// Where the objects go; their keys are the outputs' paths under
    /// `output`, after the prefix.
    pub location: RemoteLocation,
    /// An S3-compatible endpoint, or an Azure account's blob endpoint.
    pub endpoint: Option<String>,
    /// The S3 region.
    pub region: Option<String>,
    /// `Cache-Control` of outputs named by content (`hash_names`).
    pub cache_control: String,
    /// `Cache-Control` of every other object (and the manifest).
    pub cache_control_plain: String,
    /// More deletes than this, and none is done (`max_deletes`).
    pub max_deletes: usize,
    /// Whether the manifest is published too, after the outputs.
    pub publish_manifest: bool,
    /// Uploads (and deletes) in flight at once (`concurrency`).
    pub concurrency: usize,
}

/// `Cache-Control` of content-named outputs, unless `cache_control` says.
pub const DEFAULT_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of other objects, unless `cache_control_plain` says.
pub const DEFAULT_CACHE_CONTROL_PLAIN: &str = "public, max-age=3600";
/// The delete guard, unless `max_deletes` says.
pub const DEFAULT_MAX_DELETES: usize = 256;
/// Uploads in flight at once, unless `[publish] concurrency` says: as many
/// as `aws s3 sync` and `hugo deploy` make, a few more.
pub const DEFAULT_PUBLISH_CONCURRENCY: usize = 16;

/// Sources that are not files in a local folder: objects in a store
/// (`source = "s3://bucket/prefix"`, `gs://`, `az://`, or a `file://`
/// folder read through the same store API), or URLs listed in a file
/// (`source_list`).
/// Credentials follow the rules of `[remote]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSource {
    /// The `source` url (or the `source_list` path) as written, for messages.
    pub url: String,
    /// Where the sources are.
    pub location: SourceLocation,
    /// An S3-compatible endpoint or an Azure account's (`source_endpoint`,
    /// or the environment's `AWS_ENDPOINT_URL`).
    pub endpoint: Option<String>,
    /// The S3 region (`source_region`).
    pub region: Option<String>,
    /// The largest source downloaded (`max_bytes`); a larger one fails.
    pub max_bytes: u64,
    /// The bound of the local cache of downloaded originals
    /// (`originals_max_bytes`); 0 keeps none between builds.
    pub originals_max_bytes: u64,
    /// How long a download may receive nothing before it fails
    /// (`stall_timeout`).
    pub stall_timeout: std::time::Duration,
}

/// How long a download may receive nothing, unless `stall_timeout` says.
pub const DEFAULT_STALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The object store a bucket's url names by its scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    /// `s3://`: Amazon S3, or a store with its API (MinIO, R2, Ceph).
    S3,
    /// `gs://`: Google Cloud Storage.
    Gcs,
    /// `az://`: Azure Blob Storage; the url names a container of the
    /// account the environment names.
    Azure,
}

impl Cloud {
    const ALL: [Cloud; 3] = [Cloud::S3, Cloud::Gcs, Cloud::Azure];

    /// The scheme of its urls, with `://`.
    pub fn scheme(self) -> &'static str {
        match self {
            Cloud::S3 => "s3://",
            Cloud::Gcs => "gs://",
            Cloud::Azure => "az://",
        }
    }
}

/// Where sources that are not in a local folder are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceLocation {
    /// Objects in a store; their keys under the prefix are the sources'
    /// relative paths.
    Store(RemoteLocation),
    /// URLs listed in a file.
    List(UrlList),
}

/// `source_list`: a file of URLs, one a line, or CSV with `url,name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlList {
    /// The list file.
    pub file: PathBuf,
    /// How long an answer stays fresh without asking again (`max_age`);
    /// zero revalidates every source on every build.
    pub max_age: std::time::Duration,
    /// Whether a URL's query string is part of its identity
    /// (`keep_query`); by default it is not, since signed URLs change
    /// theirs on every run.
    pub keep_query: bool,
    /// Requests in flight to one host at once (`per_host`).
    pub per_host: usize,
}

/// Requests in flight to one host, unless `per_host` says otherwise.
pub const DEFAULT_PER_HOST: usize = 16;

/// The largest source downloaded, unless `max_bytes` says otherwise: far
/// above any photo, far below what would fill a runner's disk.
pub const DEFAULT_MAX_BYTES: u64 = 256 << 20;
/// The bound of the cache of downloaded originals, unless
/// `originals_max_bytes` says otherwise.
pub const DEFAULT_ORIGINALS_MAX_BYTES: u64 = 4 << 30;

/// The store behind a `[remote] url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteLocation {
    /// `s3://bucket/prefix`, `gs://bucket/prefix` or
    /// `az://container/prefix`.
    Bucket {
        /// Whose store it is.
        cloud: Cloud,
        /// The bucket (an Azure container).
        bucket: String,
        /// The key prefix (no leading or trailing `/`; may be empty).
        prefix: String,
    },
    /// `file:///shared/folder`: a folder, e.g. on a network mount.
    Folder(PathBuf),
}

impl Config {
    /// `path` (absolute) relative to the config folder; starts with `..`
    /// when it lies outside. Records store paths this way so that a project
    /// can move (a CI checkout in another folder) without losing its cache.
    pub fn relative(&self, path: &Path) -> PathBuf {
        paths::relative_to(path, &self.root)
    }

    /// The absolute form of a path relative to the config folder.
    pub fn resolve(&self, rel: &Path) -> PathBuf {
        paths::absolute(&self.root, rel)
    }

    /// How far up folders emptied by removing the manifest at `path` are
    /// pruned: inside `output` as for outputs; elsewhere not at all, as
    /// thumbgen cannot know that it made the folder (a user's `data/`).
    pub fn manifest_prune_boundary<'a>(&'a self, path: &'a Path) -> &'a Path {
        if path.starts_with(&self.output) {
            self.prune_boundary(path)
        } else {
            path.parent().unwrap_or(path)
        }
    }

    /// How far up folders emptied by removing the output at `path` are
    /// pruned: to the output root (which stays), or for an output left
    /// under an earlier `output` setting, to the config folder, as a clean
    /// build would not have made that old tree at all.
    pub fn prune_boundary<'a>(&'a self, path: &'a Path) -> &'a Path {
        if path.starts_with(&self.output) {
            &self.output
        } else if path.starts_with(&self.root) {
            &self.root
        } else {
            path.parent().unwrap_or(path)
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    source: Option<Spanned<String>>,
    source_list: Option<Spanned<String>>,
    output: Spanned<String>,
    #[serde(default)]
    include: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    cache: Option<Spanned<String>>,
    jobs: Option<Spanned<i64>>,
    max_pixels: Option<Spanned<i64>>,
    decode_timeout: Option<Spanned<i64>>,
    manifest: Option<Spanned<String>>,
    #[serde(default)]
    follow_links: bool,
    background: Option<Spanned<String>>,
    hash_names: Option<bool>,
    url_prefix: Option<Spanned<String>>,
    placeholder: Option<Spanned<OneOrMany>>,
    variants: Option<Spanned<Vec<Spanned<RawVariant>>>>,
    remote: Option<Spanned<RawRemote>>,
    publish: Option<Spanned<RawPublish>>,
    source_endpoint: Option<Spanned<String>>,
    source_region: Option<Spanned<String>>,
    max_bytes: Option<Spanned<i64>>,
    originals_max_bytes: Option<Spanned<i64>>,
    max_age: Option<Spanned<i64>>,
    stall_timeout: Option<Spanned<i64>>,
    keep_query: Option<bool>,
    per_host: Option<Spanned<i64>>,
    focus: Option<Spanned<String>>,
}

/// `placeholder = "thumbhash"` or `placeholder = ["thumbhash", "blurhash"]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRemote {
    url: Spanned<String>,
    endpoint: Option<Spanned<String>>,
    region: Option<Spanned<String>>,
    mode: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPublish {
    url: Spanned<String>,
    endpoint: Option<Spanned<String>>,
    region: Option<Spanned<String>>,
    cache_control: Option<String>,
    cache_control_plain: Option<String>,
    max_deletes: Option<Spanned<i64>>,
    publish_manifest: Option<bool>,
    concurrency: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariant {
    name: Spanned<String>,
    width: Option<Spanned<i64>>,
    height: Option<Spanned<i64>>,
    widths: Option<Spanned<Vec<Spanned<i64>>>>,
    fit: Option<Spanned<Fit>>,
    position: Option<Spanned<Position>>,
    format: Option<Spanned<Format>>,
    formats: Option<Spanned<Vec<Format>>>,
    quality: Option<Spanned<i64>>,
    speed: Option<Spanned<i64>>,
    sharpen: Option<Spanned<f64>>,
    blur: Option<Spanned<f64>>,
    background: Option<Spanned<String>>,
    hash_names: Option<bool>,
    sizes: Option<Spanned<String>>,
    animated: Option<Spanned<String>>,
}

/// The config file to use: `explicit` if given, else `.thumbgen.toml` in
/// `start` or its nearest ancestor.
pub fn locate(explicit: Option<&Path>, start: &Path) -> Result<PathBuf> {
    if let Some(path) = explicit {
        let mut path = paths::absolute(start, path);
        // `--config site/` means the config file of that folder.
        if path.is_dir() {
            path.push(FILE_NAME);
        }
        if !path.is_file() {
            return Err(Error::Config(format!(
                "config file {} not found",
                path.display()
            )));
        }
        return Ok(path);
    }
    for dir in start.ancestors() {
        let candidate = dir.join(FILE_NAME);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(Error::Config(format!(
        "no {FILE_NAME} in {} or any parent folder; run `thumbgen init` to write one, or pass --config PATH",
        start.display()
    )))
}

/// The line and name of the first `[variants.NAME]` table header, if any.
fn variant_table_header(text: &str) -> Option<(usize, &str)> {
    text.lines().enumerate().find_map(|(i, line)| {
        let rest = line.trim_start().strip_prefix("[variants.")?;
        let name = rest.split(']').next()?.trim().trim_matches('"');
        Some((i + 1, name))
    })
}

/// Read and validate the config file at `file` (absolute).
pub fn load(file: &Path) -> Result<Config> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        Error::Config(format!(
            "cannot read {}: {}",
            file.display(),
            crate::error::describe_io(&e)
        ))
    })?;
    parse(&text, file)
}

/// Validate `text` as the content of `file`.
pub fn parse(text: &str, file: &Path) -> Result<Config> {
    // `[variants.thumb]` is valid TOML that serde can only report as a
    // type mismatch deep inside; say what to write instead.
    if let Some((line, name)) = variant_table_header(text) {
        return Err(Error::Config(format!(
            "{}:{line}: `variants` is a list: write [[variants]] with name = \"{name}\" inside instead of [variants.{name}]",
            file.display()
        )));
    }
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let start = e.span().map_or(0, |s| s.start);
        let table = toml_errors::variant_index(text, start);
        let key = if e.message().starts_with("missing field") {
            table.map(|i| format!("variants[{i}]"))
        } else {
            toml_errors::key_at(text, start)
        };
        let known = if table.is_some() {
            keys::of::<RawVariant>()
        } else if toml_errors::in_table(text, start, "[remote]") {
            keys::of::<RawRemote>()
        } else if toml_errors::in_table(text, start, "[publish]") {
            keys::of::<RawPublish>()
        } else {
            keys::of::<RawConfig>()
        };
        Error::Config(format!(
            "{}:{}: {}",
            file.display(),
            line_of(text, start),
            toml_errors::humanize(e.message(), key.as_deref(), known)
        ))
    })?;
    let ctx = Ctx { text, file };
    let root = file.parent().unwrap_or(Path::new("/")).to_path_buf();

    let source_key = ctx.source_key(&raw)?;
    let store = ctx.store_source(&raw, source_key, &root)?;
    let source = match &store {
        Some(store) => PathBuf::from(&store.url),
        None => ctx.path(&root, source_key, "source")?,
    };
    let output = ctx.path(&root, &raw.output, "output")?;
    if output.starts_with(&source) {
        return Err(ctx.err(
            &raw.output,
            "output",
            "must not be inside `source` (thumbnails would become sources)",
        ));
    }
    if source.starts_with(&output) {
        return Err(ctx.err(source_key, "source", "must not be inside `output`"));
    }
    let cache = match &raw.cache {
        Some(c) => ctx.path(&root, c, "cache")?,
        None => root.join(".thumbgen"),
    };
    let manifest = match &raw.manifest {
        Some(m) => {
            let path = ctx.path(&root, m, "manifest")?;
            if path.starts_with(&source) {
                return Err(ctx.err(
                    m,
                    "manifest",
                    "must not be inside `source` (it would be written over a photo, or read as one); put it beside the thumbnails, e.g. inside `output`",
                ));
            }
            Some(path)
        }
        None => None,
    };
    let include = match &raw.include {
        Some(list) => Some(ctx.globs(list.get_ref(), "include")?),
        None => None,
    };
    let exclude = ctx.globs(&raw.exclude, "exclude")?;
    let patterns = raw
        .include
        .iter()
        .flat_map(|list| list.get_ref().iter().map(|p| ("include", p)))
        .chain(raw.exclude.iter().map(|p| ("exclude", p)))
        .map(|(key, p)| (key, p.get_ref().clone()))
        .collect();
    let jobs = match &raw.jobs {
        Some(j) => usize::try_from(*j.get_ref())
            .map_err(|_| ctx.err(j, "jobs", "must be 0 (all cores) or a positive number"))?,
        None => 0,
    };
    let max_pixels = match &raw.max_pixels {
        Some(m) if *m.get_ref() >= 1 => *m.get_ref() as u64,
        Some(m) => return Err(ctx.err(m, "max_pixels", "must be at least 1")),
        None => DEFAULT_MAX_PIXELS,
    };
    let decode_timeout = match &raw.decode_timeout {
        Some(t) if *t.get_ref() >= 1 => std::time::Duration::from_secs(*t.get_ref() as u64),
        Some(t) => {
            return Err(ctx.err(t, "decode_timeout", "must be at least 1 (seconds)"));
        }
        None => crate::render::DEFAULT_DECODE_TIMEOUT,
    };
    let background = match &raw.background {
        Some(b) => ctx.color(b, "background")?,
        None => DEFAULT_BACKGROUND,
    };

    let Some(raw_variants) = &raw.variants else {
        return Err(Error::Config(format!(
            "{}: no [[variants]]; add at least one (name, and width or height)",
            file.display()
        )));
    };
    if raw_variants.get_ref().is_empty() {
        return Err(ctx.err(raw_variants, "variants", "needs at least one variant"));
    }
    let (mut folders, mut ids) = (HashSet::new(), HashSet::new());
    let mut variants = Vec::new();
    let hash_names = raw.hash_names.unwrap_or(false);
    for (i, rv) in raw_variants.get_ref().iter().enumerate() {
        let expanded = ctx.variants(i, rv.get_ref(), background, hash_names)?;
        // Folders and the names outputs are recorded under must both be
        // unique ("a.webp" as a variant next to the webp member of set "a").
        let folder_taken = !folders.insert(rv.get_ref().name.get_ref().clone());
        let taken = folder_taken || expanded.iter().any(|v| !ids.insert(v.name.clone()));
        if taken {
            return Err(ctx.err(
                &rv.get_ref().name,
                &format!("variants[{i}].name"),
                "is used by two variants; names must be unique",
            ));
        }
        variants.extend(expanded);
    }
    let url_prefix = raw.url_prefix.as_ref().map(|p| p.get_ref().clone());
    let placeholders = match &raw.placeholder {
        Some(p) => ctx.placeholders(p)?,
        None => Placeholders::default(),
    };
    let remote = match &raw.remote {
        Some(r) => Some(ctx.remote(r.get_ref(), &root)?),
        None => None,
    };
    let publish = match &raw.publish {
        Some(p) => Some(ctx.publish(p.get_ref(), &root)?),
        None => None,
    };
    let focus_file = match &raw.focus {
        Some(f) => Some(ctx.path(&root, f, "focus")?),
        None => None,
    };
    let focus = match (&raw.focus, &focus_file) {
        (Some(key), Some(file)) => ctx.focal_points(key, file)?,
        _ => FocalPoints::default(),
    };

    Ok(Config {
        file: file.to_path_buf(),
        root,
        source_origin: format!(
            "{}:{}",
            file.display(),
            line_of(text, source_key.span().start)
        ),
        source,
        store,
        output,
        cache,
        manifest,
        include,
        exclude,
        patterns,
        jobs,
        max_pixels,
        decode_timeout,
        follow_links: raw.follow_links,
        variants,
        remote,
        publish,
        url_prefix,
        placeholders,
        focus,
        focus_file,
        no_effect: no_effect(&raw, &ctx),
    })
}

/// Whether a `source` names a store rather than a folder.
fn names_store(source: &str) -> bool {
    let source = source.trim();
    source.starts_with("file://") || Cloud::ALL.iter().any(|c| source.starts_with(c.scheme()))
}

/// Settings that are valid but do nothing here: a slip the user should
/// hear of, not an error (the config still does what the rest of it says,
/// and adding a manifest later gives them their effect). Settings that can
/// never have one (`position` without a crop, `quality` on PNG) are errors.
fn no_effect(raw: &RawConfig, ctx: &Ctx) -> Vec<String> {
    let mut out = Vec::new();
    let mut note = |span: std::ops::Range<usize>, key: &str, why: &str| {
        out.push(format!(
            "{}:{}: `{key}` has no effect: {why}",
            ctx.file.display(),
            line_of(ctx.text, span.start)
        ));
    };
    let in_store = raw.source_list.is_some()
        || raw
            .source
            .as_ref()
            .is_some_and(|s| names_store(s.get_ref()));
    if !in_store {
        for (value, key) in [
            (&raw.max_bytes, "max_bytes"),
            (&raw.originals_max_bytes, "originals_max_bytes"),
        ] {
            if let Some(v) = value {
                note(
                    v.span(),
                    key,
                    "it applies to sources in a bucket, and `source` is a local folder",
                );
            }
        }
        if let Some(r) = &raw.source_region {
            note(
                r.span(),
                "source_region",
                "it applies to sources in a bucket, and `source` is a local folder",
            );
        }
    }
    if raw.manifest.is_none() {
        if let Some(p) = &raw.url_prefix {
            note(
                p.span(),
                "url_prefix",
                "there is no `manifest` to write URLs into",
            );
        }
        if let Some(p) = &raw.placeholder {
            note(
                p.span(),
                "placeholder",
                "placeholders are written into the `manifest`, and there is none",
            );
        }
    }
    let variants = raw.variants.iter().flat_map(|v| v.get_ref().iter());
    let uses_focus = |v: &RawVariant| {
        v.position
            .as_ref()
            .is_some_and(|p| *p.get_ref() == Position::Focus)
    };
    if let Some(f) = &raw.focus {
        if !variants.clone().any(|v| uses_focus(v.get_ref())) {
            note(
                f.span(),
                "focus",
                "no variant has position = \"focus\", which crops around the points",
            );
        }
    }
    for (i, variant) in variants.enumerate() {
        let v = variant.get_ref();
        let key = |k: &str| format!("variants[{i}].{k}");
        if let Some(p) = v
            .position
            .as_ref()
            .filter(|_| uses_focus(v) && raw.focus.is_none())
        {
            note(p.span(), &key("position"), "there is no `focus` file of focal points, so every source is cropped as with \"attention\"; add focus = \"focus.toml\"");
        }
        if let Some(s) = &v.sizes {
            if raw.manifest.is_none() {
                note(s.span(), &key("sizes"), "`sizes` goes into the manifest's <picture> snippets, and there is no `manifest`");
            } else if v.widths.as_ref().is_none_or(|w| w.get_ref().len() < 2) {
                note(s.span(), &key("sizes"), "the variant has one width, and `sizes` only tells a browser which of several widths to load (give `widths`)");
            }
        }
    }
    out
}

struct Ctx<'a> {
    text: &'a str,
    file: &'a Path,
}

impl Ctx<'_> {
    fn err<T>(&self, at: &Spanned<T>, key: &str, message: &str) -> Error {
        Error::Config(format!(
            "{}:{}: `{key}` {message}",
            self.file.display(),
            line_of(self.text, at.span().start)
        ))
    }

    fn path(&self, root: &Path, value: &Spanned<String>, key: &str) -> Result<PathBuf> {
        if value.get_ref().trim().is_empty() {
            return Err(self.err(value, key, "must not be empty"));
        }
        Ok(paths::absolute(root, Path::new(value.get_ref())))
    }

    fn globs(&self, list: &[Spanned<String>], key: &str) -> Result<GlobSet> {
        let mut builder = GlobSetBuilder::new();
        for pattern in list {
            let glob = Glob::new(&lowercase_extension(pattern.get_ref())).map_err(|e| {
                self.err(pattern, key, &format!("has an invalid glob: {}", e.kind()))
            })?;
            builder.add(glob);
        }
        builder
            .build()
            .map_err(|e| Error::Config(format!("{}: `{key}`: {e}", self.file.display())))
    }

    /// Whether the variant keeps animations (`animated = "keep"`), which
    /// needs a WebP output to keep them in.
    fn variant_animated(
        &self,
        raw: &RawVariant,
        formats: &[Format],
        key: &impl Fn(&str) -> String,
    ) -> Result<bool> {
        let Some(animated) = &raw.animated else {
            return Ok(false);
        };
        match animated.get_ref().as_str() {
            "first" => Ok(false),
            "keep" if formats.contains(&Format::Webp) => Ok(true),
            "keep" => Err(self.err(
                animated,
                &key("animated"),
                "= \"keep\" needs a WebP output, the only format here that holds an animation: use format = \"webp\" (or add \"webp\" to formats)",
            )),
            other => Err(self.err(
                animated,
                &key("animated"),
                &format!("must be \"first\" (the first frame) or \"keep\" (every frame, in WebP), not \"{other}\""),
            )),
        }
    }

    /// The focal points of the sidecar `file`, which the `focus` key
    /// `value` names.
    fn focal_points(&self, value: &Spanned<String>, file: &Path) -> Result<FocalPoints> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            self.err(
                value,
                "focus",
                &format!(
                    "names {}, which cannot be read: {}; create it (a table of \"photo path\" = [x, y]), or remove `focus`",
                    file.display(),
                    crate::error::describe_io(&e)
                ),
            )
        })?;
        FocalPoints::parse(&text).map_err(|bad| {
            let line = line_of(&text, bad.offset);
            Error::Config(format!("{}:{line}: {}", file.display(), bad.message))
        })
    }

    fn color(&self, value: &Spanned<String>, key: &str) -> Result<[u8; 3]> {
        parse_color(value.get_ref())
            .ok_or_else(|| self.err(value, key, "must be a colour like \"#ffffff\" or \"#fff\""))
    }

    /// The store an `s3://`, `gs://`, `az://` or `file://` url names
    /// (`key` is the key it was given for, for errors).
    fn location(&self, value: &Spanned<String>, key: &str, root: &Path) -> Result<RemoteLocation> {
        let url = value.get_ref().trim();
        let bucket_url = Cloud::ALL
            .into_iter()
            .find_map(|cloud| Some((cloud, url.strip_prefix(cloud.scheme())?)));
        if let Some((cloud, rest)) = bucket_url {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                let scheme = cloud.scheme();
                let what = if cloud == Cloud::Azure {
                    "CONTAINER"
                } else {
                    "BUCKET"
                };
                return Err(self.err(
                    value,
                    key,
                    &format!(
                        "names no {}: write {scheme}{what} or {scheme}{what}/PREFIX",
                        what.to_lowercase()
                    ),
                ));
            }
            Ok(RemoteLocation::Bucket {
                cloud,
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            })
        } else if let Some(rest) = url.strip_prefix("file://") {
            if rest.is_empty() {
                return Err(self.err(value, key, "names no folder: write file:///absolute/path"));
            }
            // `file://cache` is taken relative to the config folder, as
            // every other path in this file is.
            Ok(RemoteLocation::Folder(paths::absolute(
                root,
                Path::new(rest),
            )))
        } else {
            Err(self.err(
                value,
                key,
                &format!("must start with s3://, gs://, az:// or file:// (got \"{url}\")"),
            ))
        }
    }

    /// The endpoint given as `key` for `location`: an S3-compatible
    /// server's, or an Azure account's. A `gs://` bucket's comes with its
    /// credentials (a service account's `gcs_base_url`).
    fn endpoint(
        &self,
        value: Option<&Spanned<String>>,
        key: &str,
        location: &RemoteLocation,
    ) -> Result<Option<String>> {
        let takes_one = matches!(
            location,
            RemoteLocation::Bucket {
                cloud: Cloud::S3 | Cloud::Azure,
                ..
            }
        );
        match value {
            Some(e) if !takes_one => {
                Err(self.err(e, key, "applies only to s3:// and az:// urls; remove it"))
            }
            Some(e)
                if !(e.get_ref().starts_with("http://") || e.get_ref().starts_with("https://")) =>
            {
                Err(self.err(
                    e,
                    key,
                    &format!(
                        "must be an http:// or https:// address (got \"{}\")",
                        e.get_ref()
                    ),
                ))
            }
            Some(e) => Ok(Some(e.get_ref().trim_end_matches('/').to_string())),
            None => Ok(None),
        }
    }

    /// The S3 region given as `key`, for `location`.
    fn region(
        &self,
        value: Option<&Spanned<String>>,
        key: &str,
        location: &RemoteLocation,
    ) -> Result<Option<String>> {
        match (value, location) {
            (
                Some(r),
                RemoteLocation::Bucket {
                    cloud: Cloud::S3, ..
                },
            ) => Ok(Some(r.get_ref().clone())),
            (Some(r), _) => Err(self.err(r, key, "applies only to s3:// urls; remove it")),
            (None, _) => Ok(None),
        }
    }

    /// `source` or `source_list`, whichever is given (one must be).
    fn source_key<'r>(&self, raw: &'r RawConfig) -> Result<&'r Spanned<String>> {
        match (&raw.source, &raw.source_list) {
            (Some(source), None) => Ok(source),
            (None, Some(list)) => Ok(list),
            (Some(_), Some(list)) => Err(self.err(
                list,
                "source_list",
                "is given beside `source`; keep one of the two",
            )),
            (None, None) => Err(Error::Config(format!(
                "{}: no `source`; add source = \"images\" (a folder, or s3://bucket/prefix, gs://…, az://…), or source_list = \"urls.txt\"",
                self.file.display()
            ))),
        }
    }

    /// Where the sources are when they are not in a local folder.
    fn store_source(
        &self,
        raw: &RawConfig,
        source_key: &Spanned<String>,
        root: &Path,
    ) -> Result<Option<StoreSource>> {
        let url = source_key.get_ref().trim();
        let listed = raw.source_list.is_some();
        if !listed && !names_store(url) {
            if let Some(e) = &raw.source_endpoint {
                return Err(self.err(
                    e,
                    "source_endpoint",
                    "applies only to a `source` in a bucket; remove it",
                ));
            }
            return Ok(None);
        }
        let location = if listed {
            SourceLocation::List(self.url_list(raw, source_key, root)?)
        } else {
            SourceLocation::Store(self.location(source_key, "source", root)?)
        };
        let (endpoint, region) = match &location {
            SourceLocation::Store(store) => (
                self.endpoint(raw.source_endpoint.as_ref(), "source_endpoint", store)?,
                self.region(raw.source_region.as_ref(), "source_region", store)?,
            ),
            SourceLocation::List(_) => {
                let bucket_only = [
                    (&raw.source_endpoint, "source_endpoint"),
                    (&raw.source_region, "source_region"),
                ];
                if let Some((Some(value), key)) = bucket_only.iter().find(|(v, _)| v.is_some()) {
                    return Err(self.err(
                        value,
                        key,
                        "applies only to a `source` in a bucket; remove it",
                    ));
                }
                (None, None)
            }
        };
        let bytes = |value: &Option<Spanned<i64>>, key: &str, default: u64, least: i64| match value
        {
            Some(v) if *v.get_ref() >= least => Ok(*v.get_ref() as u64),
            Some(v) => Err(self.err(v, key, &format!("must be at least {least} (bytes)"))),
            None => Ok(default),
        };
        Ok(Some(StoreSource {
            url: url.trim_end_matches('/').to_string(),
            endpoint,
            region,
            location,
            max_bytes: bytes(&raw.max_bytes, "max_bytes", DEFAULT_MAX_BYTES, 1)?,
            originals_max_bytes: bytes(
                &raw.originals_max_bytes,
                "originals_max_bytes",
                DEFAULT_ORIGINALS_MAX_BYTES,
                0,
            )?,
            stall_timeout: match &raw.stall_timeout {
                Some(t) if *t.get_ref() >= 1 => std::time::Duration::from_secs(*t.get_ref() as u64),
                Some(t) => {
                    return Err(self.err(t, "stall_timeout", "must be at least 1 (seconds)"))
                }
                None => DEFAULT_STALL_TIMEOUT,
            },
        }))
    }

    /// The settings of a `source_list`.
    fn url_list(&self, raw: &RawConfig, list: &Spanned<String>, root: &Path) -> Result<UrlList> {
        let max_age = match &raw.max_age {
            Some(a) if *a.get_ref() >= 0 => std::time::Duration::from_secs(*a.get_ref() as u64),
            Some(a) => {
                return Err(self.err(a, "max_age", "must be 0 (ask every build) or more seconds"))
            }
            None => std::time::Duration::ZERO,
        };
        let per_host = match &raw.per_host {
            Some(n) if *n.get_ref() >= 1 => *n.get_ref() as usize,
            Some(n) => return Err(self.err(n, "per_host", "must be at least 1")),
            None => DEFAULT_PER_HOST,
        };
        Ok(UrlList {
            file: self.path(root, list, "source_list")?,
            max_age,
            keep_query: raw.keep_query.unwrap_or(false),
            per_host,
        })
    }

    fn publish(&self, raw: &RawPublish, root: &Path) -> Result<PublishSettings> {
        let location = self.location(&raw.url, "publish.url", root)?;
        let endpoint = self.endpoint(raw.endpoint.as_ref(), "publish.endpoint", &location)?;
        let region = self.region(raw.region.as_ref(), "publish.region", &location)?;
        let max_deletes = match &raw.max_deletes {
            Some(n) if *n.get_ref() >= 0 => *n.get_ref() as usize,
            Some(n) => return Err(self.err(n, "publish.max_deletes", "must be 0 or more")),
            None => DEFAULT_MAX_DELETES,
        };
        let concurrency = match &raw.concurrency {
            Some(n) if (1..=256).contains(n.get_ref()) => *n.get_ref() as usize,
            Some(n) => return Err(self.err(n, "publish.concurrency", "must be 1 to 256")),
            None => DEFAULT_PUBLISH_CONCURRENCY,
        };
        Ok(PublishSettings {
            url: raw.url.get_ref().trim().to_string(),
            location,
            endpoint,
            region,
            cache_control: raw
                .cache_control
                .clone()
                .unwrap_or_else(|| DEFAULT_CACHE_CONTROL.into()),
            cache_control_plain: raw
                .cache_control_plain
                .clone()
                .unwrap_or_else(|| DEFAULT_CACHE_CONTROL_PLAIN.into()),
            max_deletes,
            publish_manifest: raw.publish_manifest.unwrap_or(false),
            concurrency,
        })
    }

    fn remote(&self, raw: &RawRemote, root: &Path) -> Result<RemoteSettings> {
        let url = raw.url.get_ref().trim();
        let location = self.location(&raw.url, "remote.url", root)?;
        let endpoint = self.endpoint(raw.endpoint.as_ref(), "remote.endpoint", &location)?;
        let region = self.region(raw.region.as_ref(), "remote.region", &location)?;
        let mode = match &raw.mode {
            Some(m) => RemoteMode::parse(m.get_ref()).ok_or_else(|| {
                self.err(
                    m,
                    "remote.mode",
                    &format!(
                        "must be one of read-write | read-only | off (got \"{}\")",
                        m.get_ref()
                    ),
                )
            })?,
            None => RemoteMode::ReadWrite,
        };
        Ok(RemoteSettings {
            url: url.to_string(),
            location,
            endpoint,
            region,
            mode,
        })
    }

    fn placeholders(&self, value: &Spanned<OneOrMany>) -> Result<Placeholders> {
        let names = match value.get_ref() {
            OneOrMany::One(name) => vec![name.clone()],
            OneOrMany::Many(names) => names.clone(),
        };
        let mut wanted = Placeholders::default();
        for name in &names {
            match name.as_str() {
                "thumbhash" => wanted.thumbhash = true,
                "blurhash" => wanted.blurhash = true,
                other => {
                    return Err(self.err(
                        value,
                        "placeholder",
                        &format!(
                        "must be \"thumbhash\", \"blurhash\" or a list of them (got \"{other}\")"
                    ),
                    ))
                }
            }
        }
        Ok(wanted)
    }

    /// One `[[variants]]` entry, expanded to one [`Variant`] per width and
    /// format (a single one without `widths` and `formats`).
    fn variants(
        &self,
        i: usize,
        raw: &RawVariant,
        background: [u8; 3],
        hash_names: bool,
    ) -> Result<Vec<Variant>> {
        let key = |k: &str| format!("variants[{i}].{k}");
        self.check_variant_name(raw, &key("name"))?;
        let name = raw.name.get_ref();
        let formats = self.variant_formats(raw, &key)?;
        let fit = raw.fit.as_ref().map_or(Fit::Contain, |f| *f.get_ref());
        let (widths, width, height) = self.variant_box(raw, &formats, &key)?;
        if fit == Fit::Cover && (height == UNBOUNDED || (widths.is_none() && width == UNBOUNDED)) {
            let at = raw.fit.as_ref().expect("cover is never the default");
            return Err(self.err(
                at,
                &key("fit"),
                "= \"cover\" fills a box, so it needs both a width and a height",
            ));
        }
        let position = match &raw.position {
            Some(p) if fit == Fit::Contain => {
                return Err(self.err(
                    p,
                    &key("position"),
                    "only applies to fit = \"cover\" (contain keeps the whole image); remove it, or add fit = \"cover\"",
                ))
            }
            Some(p) => *p.get_ref(),
            None => Position::Center,
        };
        let quality = self.variant_quality(raw, &formats, &key)?;
        let speed = self.variant_speed(raw, &formats, &key)?;
        let sharpen_milli = self.variant_sigma(raw.sharpen.as_ref(), &key("sharpen"), 10.0)?;
        let blur_milli = self.variant_sigma(raw.blur.as_ref(), &key("blur"), 50.0)?;
        let background = match &raw.background {
            Some(b) => self.color(b, &key("background"))?,
            None => background,
        };
        let sizes = raw.sizes.as_ref().map(|s| s.get_ref().clone());
        let keep_animation = self.variant_animated(raw, &formats, &key)?;
        let several_formats = raw.formats.is_some();
        let mut out = Vec::new();
        for &format in &formats {
            let quality = match format {
                // Unused by PNG; the value is part of its recipe as it always was.
                Format::Png => DEFAULT_QUALITY,
                Format::Avif => quality.unwrap_or(DEFAULT_AVIF_QUALITY),
                Format::Jpeg | Format::Webp => quality.unwrap_or(DEFAULT_QUALITY),
            };
            let member = |width: u32, suffix: Option<u32>, smaller: Option<(u32, u32)>| {
                let mut id = name.clone();
                if let Some(w) = suffix {
                    id.push_str(&format!("@{w}"));
                }
                if several_formats {
                    id.push('.');
                    id.push_str(format.extension());
                }
                Variant {
                    name: id,
                    folder: name.clone(),
                    suffix,
                    width,
                    height,
                    fit,
                    position,
                    format,
                    quality,
                    speed: if format == Format::Avif { speed } else { 0 },
                    sharpen_milli,
                    blur_milli,
                    background,
                    hash_names: raw.hash_names.unwrap_or(hash_names),
                    // Only WebP outputs hold an animation; a set's other
                    // formats hold the first frame.
                    animated: keep_animation && format == Format::Webp,
                    smaller,
                    sizes: sizes.clone(),
                }
            };
            match &widths {
                None => out.push(member(width, None, None)),
                Some(widths) => {
                    for (k, &w) in widths.iter().enumerate() {
                        let smaller = k.checked_sub(1).map(|p| (widths[p], height));
                        out.push(member(w, Some(w), smaller));
                    }
                }
            }
        }
        Ok(out)
    }

    /// A variant's name is a folder name of its own.
    fn check_variant_name(&self, raw: &RawVariant, key: &str) -> Result<()> {
        let name = raw.name.get_ref();
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && !name.contains(['/', '\\', '\0', '@'])
            && Path::new(name).components().count() == 1;
        if !plain {
            return Err(self.err(
                &raw.name,
                key,
                "must be a plain folder name (no slashes or @, not empty, not starting with '.')",
            ));
        }
        Ok(())
    }

    /// `format`, or the list `formats` (JPEG when neither is given).
    fn variant_formats(
        &self,
        raw: &RawVariant,
        key: &impl Fn(&str) -> String,
    ) -> Result<Vec<Format>> {
        Ok(match (&raw.format, &raw.formats) {
            (Some(f), Some(_)) => return Err(self.err(
                f,
                &key("format"),
                "and `formats` are both given: keep one (`formats` makes one output per format)",
            )),
            (Some(f), None) => vec![*f.get_ref()],
            (None, Some(list)) => {
                let formats = list.get_ref().clone();
                if formats.is_empty() {
                    return Err(self.err(list, &key("formats"), "needs at least one format"));
                }
                if (1..formats.len()).any(|k| formats[..k].contains(&formats[k])) {
                    return Err(self.err(list, &key("formats"), "lists a format twice"));
                }
                formats
            }
            (None, None) => vec![Format::Jpeg],
        })
    }

    /// The box: the set's `widths` (sorted) or one `width`, and `height`,
    /// a missing side [`UNBOUNDED`].
    fn variant_box(
        &self,
        raw: &RawVariant,
        formats: &[Format],
        key: &impl Fn(&str) -> String,
    ) -> Result<(Option<Vec<u32>>, u32, u32)> {
        let max_side = if formats.contains(&Format::Webp) {
            WEBP_MAX_SIDE
        } else {
            MAX_SIDE
        };
        let side = |v: &Spanned<i64>, k: &str| -> Result<u32> {
            match u32::try_from(*v.get_ref()) {
                Ok(n) if (1..=max_side).contains(&n) => Ok(n),
                _ => Err(self.err(
                    v,
                    &key(k),
                    &format!(
                        "must be between 1 and {max_side}{} (got {})",
                        if max_side == WEBP_MAX_SIDE {
                            " for webp"
                        } else {
                            ""
                        },
                        v.get_ref()
                    ),
                )),
            }
        };
        let widths: Option<Vec<u32>> =
            match (&raw.width, &raw.widths) {
                (Some(w), Some(_)) => return Err(self.err(
                    w,
                    &key("width"),
                    "and `widths` are both given: keep one (`widths` makes one output per width)",
                )),
                (_, Some(list)) => {
                    let mut widths = list
                        .get_ref()
                        .iter()
                        .map(|w| side(w, "widths"))
                        .collect::<Result<Vec<u32>>>()?;
                    if widths.is_empty() {
                        return Err(self.err(list, &key("widths"), "needs at least one width"));
                    }
                    widths.sort_unstable();
                    if widths.windows(2).any(|pair| pair[0] == pair[1]) {
                        return Err(self.err(list, &key("widths"), "lists a width twice"));
                    }
                    Some(widths)
                }
                _ => None,
            };
        let width = match &raw.width {
            Some(w) => side(w, "width")?,
            None => UNBOUNDED,
        };
        let height = match &raw.height {
            Some(h) => side(h, "height")?,
            None => UNBOUNDED,
        };
        if widths.is_none() && width == UNBOUNDED && height == UNBOUNDED {
            return Err(self.err(
                &raw.name,
                &key("name"),
                "needs a size: give `width`, `height` (or both), or `widths`",
            ));
        }
        Ok((widths, width, height))
    }

    /// `quality`, which a PNG-only variant has no use for.
    fn variant_quality(
        &self,
        raw: &RawVariant,
        formats: &[Format],
        key: &impl Fn(&str) -> String,
    ) -> Result<Option<u8>> {
        let lossy = formats.iter().any(|f| *f != Format::Png);
        Ok(match &raw.quality {
            // A lossless format has no quality: say so rather than ignore it.
            Some(q) if !lossy => return Err(self.err(
                q,
                &key("quality"),
                "has no effect on png (it is lossless); remove it, or choose jpeg, webp or avif",
            )),
            Some(q) => match u8::try_from(*q.get_ref()) {
                Ok(n) if (1..=100).contains(&n) => Some(n),
                _ => {
                    return Err(self.err(
                        q,
                        &key("quality"),
                        &format!("must be between 1 and 100 (got {})", q.get_ref()),
                    ))
                }
            },
            None => None,
        })
    }

    /// `speed`, for AVIF only.
    fn variant_speed(
        &self,
        raw: &RawVariant,
        formats: &[Format],
        key: &impl Fn(&str) -> String,
    ) -> Result<u8> {
        Ok(match &raw.speed {
            Some(s) if !formats.contains(&Format::Avif) => {
                return Err(self.err(
                    s,
                    &key("speed"),
                    "applies to avif only; remove it, or add avif to the formats",
                ))
            }
            Some(s) => match u8::try_from(*s.get_ref()) {
                Ok(n) if (1..=10).contains(&n) => n,
                _ => {
                    return Err(self.err(
                        s,
                        &key("speed"),
                        &format!(
                            "must be between 1 (smallest files) and 10 (fastest) (got {})",
                            s.get_ref()
                        ),
                    ))
                }
            },
            None => DEFAULT_AVIF_SPEED,
        })
    }

    /// `sharpen` or `blur` (named `key`): a Gaussian sigma of at most `max`
    /// pixels, in thousandths of a pixel.
    fn variant_sigma(&self, raw: Option<&Spanned<f64>>, key: &str, max: f64) -> Result<u16> {
        Ok(match raw {
            Some(s) if (0.0..=max).contains(s.get_ref()) => (s.get_ref() * 1000.0).round() as u16,
            Some(s) => {
                return Err(self.err(
                    s,
                    key,
                    &format!(
                        "is a Gaussian sigma in pixels, between 0 (off) and {max} (got {})",
                        s.get_ref()
                    ),
                ))
            }
            None => 0,
        })
    }
}

/// `**/*.JPG` -> `**/*.jpg`: extensions match in any case (the walk
/// lower-cases a path's extension before matching).
fn lowercase_extension(pattern: &str) -> String {
    let name_start = pattern.rfind('/').map_or(0, |i| i + 1);
    match pattern[name_start..].rfind('.') {
        Some(dot) => {
            let at = name_start + dot;
            format!("{}{}", &pattern[..at], pattern[at..].to_ascii_lowercase())
        }
        None => pattern.to_string(),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn parse_color(text: &str) -> Option<[u8; 3]> {
    let hex = text.strip_prefix('#')?;
    let digits: Vec<u8> = hex
        .chars()
        .map(|c| c.to_digit(16).map(|d| d as u8))
        .collect::<Option<_>>()?;
    match digits.as_slice() {
        [r, g, b] => Some([r * 17, g * 17, b * 17]),
        [r1, r2, g1, g2, b1, b2] => Some([r1 * 16 + r2, g1 * 16 + g2, b1 * 16 + b2]),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
