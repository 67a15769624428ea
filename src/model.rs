//! The vocabulary every other module speaks: what a file is (its [`Stat`]
//! and content [`Hash`](type@Hash)), what was recorded about a source and its outputs
//! ([`SourceRecord`], [`OutputRecord`], [`State`]), and what a run observes
//! on disk ([`Found`], [`ObservedSource`], [`OutputState`]).
//!
//! Plain data, and nothing of the crate is imported here: producers
//! (`scan`, `fingerprint`, `execute`) and consumers (`plan`, `db`, `report`)
//! meet on these types, so the module graph has no cycle. How records are
//! made from observations and renders is in `record.rs`; how they are
//! stored is in `db.rs`, whose schema version must change with any change
//! to the serialized types below.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A blake3 digest: of a file's bytes, or of a variant's settings.
pub type Hash = [u8; 32];

/// Hash of everything that decides an output's bytes apart from the source:
/// the variant's settings (not its name, which only decides the path) and
/// the pipeline version.
pub type Recipe = Hash;

/// The stat data that changes whenever a file's content could have changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Stat {
    /// Size in bytes.
    pub len: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Status-change time, nanoseconds since the epoch (0 where unknown).
    pub ctime_ns: i64,
    /// Inode number (0 where unknown).
    pub ino: u64,
}

impl Stat {
    /// The stat numbers of `meta`.
    pub fn of(meta: &Metadata) -> Stat {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Stat {
                len: meta.len(),
                mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
                ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
                ino: meta.ino(),
            }
        }
        #[cfg(not(unix))]
        {
            let ns = |t: std::io::Result<std::time::SystemTime>| {
                t.ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos() as i64)
            };
            Stat {
                len: meta.len(),
                mtime_ns: ns(meta.modified()),
                ctime_ns: 0,
                ino: 0,
            }
        }
    }
}

/// An output file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Baseline JPEG (mozjpeg, vendored); `jpg` is accepted in the config.
    #[serde(alias = "jpg")]
    Jpeg,
    /// Lossless PNG.
    Png,
    /// Lossy WebP (libwebp).
    Webp,
    /// Lossy AVIF (rav1e, or libaom with the `aom` feature). Last, so that records written
    /// before it existed keep their meaning.
    Avif,
}

impl Format {
    /// Every output format.
    pub const ALL: [Format; 4] = [Format::Jpeg, Format::Png, Format::Webp, Format::Avif];

    /// The file extension outputs of this format get.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Webp => "webp",
            Format::Avif => "avif",
        }
    }

    /// The name used in the config and in `--json`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Webp => "webp",
            Format::Avif => "avif",
        }
    }

    /// The MIME type, as a `<source type>` or a server gives it.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Webp => "image/webp",
            Format::Avif => "image/avif",
        }
    }
}

/// What of a source decides how its variants are made from it: its
/// upright size and how it is coded (a JPEG can be decoded scaled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct Shape {
    /// Upright width in pixels (after EXIF orientation).
    pub width: u32,
    /// Upright height in pixels.
    pub height: u32,
    /// How it is coded.
    pub coding: Coding,
}

impl Shape {
    /// A JPEG, decodable at a DCT scale.
    pub fn jpeg(&self) -> bool {
        self.coding == Coding::Jpeg
    }
}

/// How a source is coded, as far as making outputs goes. Recorded in the
/// place of what was a `jpeg` flag, with the same bytes for its two
/// values (a record's encoding writes `false` and `true`, and these
/// variants' indices, as the one byte 0 or 1), so records made before
/// the animations read as they were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum Coding {
    /// Decoded whole: PNG, WebP, GIF, AVIF …
    Whole,
    /// A JPEG, decodable at a DCT scale.
    Jpeg,
    /// An animated GIF or WebP: several frames.
    Animation,
}

/// Which placeholder strings are computed for every source (the
/// `placeholder` key of the config).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Placeholders {
    /// A ThumbHash (base64).
    pub thumbhash: bool,
    /// A BlurHash.
    pub blurhash: bool,
}

impl Placeholders {
    /// Whether any placeholder is wanted.
    pub fn any(self) -> bool {
        self.thumbhash || self.blurhash
    }
}

/// A source's placeholders (`placeholder` in the config), computed from the
/// decode its outputs were made from and kept in its record, so that a
/// no-op build and the manifest cost no decode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placeholder {
    /// ThumbHash, base64.
    pub thumbhash: Option<String>,
    /// BlurHash.
    pub blurhash: Option<String>,
    /// A tiny PNG of the decoded placeholder (the ThumbHash's when both are
    /// made), as a `data:` URL.
    pub data_url: String,
    /// The dominant colour.
    pub color: [u8; 3],
}

/// What we knew about one source after the last build that touched it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRecord {
    /// The stat the hash was taken with.
    pub stat: Stat,
    /// Content hash of the bytes last rendered (or checked).
    pub hash: Hash,
    /// Modified in the same clock tick as the record was taken: the stat
    /// cannot vouch for the content next time (see `fingerprint::is_racy`).
    pub racy: bool,
    /// The last attempt failed, under the settings this digest names (see
    /// `record::failure_context`): it has no outputs, is retried every
    /// build, and `--check` knows it fails while its content and those
    /// settings stay the same.
    pub failed: Option<Hash>,
    /// Upright size and kind of the source as last rendered, which decide
    /// which members of a set it gets (see `render::geometry::is_made`);
    /// `None` before the first successful decode.
    pub shape: Option<Shape>,
    /// Its placeholders, when the config asks for them.
    pub placeholder: Option<Box<Placeholder>>,
    /// Its outputs, sorted by path.
    pub outputs: Vec<OutputRecord>,
}

/// One output thumbgen wrote and owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputRecord {
    /// The variant's name, shared by every output of that variant read
    /// from the store (one allocation per name, not per output).
    #[serde(with = "shared_name")]
    pub variant: Arc<str>,
    /// Relative to the config file's folder; boxed, as it never grows.
    #[serde(with = "path_bytes::boxed")]
    pub path: Box<Path>,
    /// The variant's recipe when it was written.
    pub settings: Recipe,
    /// The pipeline version that wrote it.
    pub pipeline: u32,
    /// Its stat after writing, to notice hand edits cheaply.
    pub stat: Stat,
    /// Its content hash, to prove ownership before a removal.
    pub hash: Hash,
    /// Pixel width as written.
    pub width: u32,
    /// Pixel height as written.
    pub height: u32,
    /// Its format.
    pub format: Format,
}

/// Every record, keyed by source path relative to the source root.
pub type State = HashMap<PathBuf, SourceRecord, rustc_hash::FxBuildHasher>;

/// The path of every output `state` records (relative to the config
/// folder), to ask whether a file on disk is one of them.
pub fn output_paths(
    state: &State,
) -> std::collections::HashSet<&std::ffi::OsStr, rustc_hash::FxBuildHasher> {
    state
        .values()
        .flat_map(|r| r.outputs.iter().map(|o| o.path.as_os_str()))
        .collect()
}

/// One setting of a variant as it decides the output's bytes (`width` =
/// `640`), kept with the recipe it hashes to, so that a changed recipe can
/// say what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    /// The config key.
    pub key: String,
    /// Its value, as the config would write it.
    pub value: String,
}

/// Recorded recipes and the settings they were made of.
pub type Recipes = HashMap<Recipe, Vec<Setting>, rustc_hash::FxBuildHasher>;

/// Why a found source cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// A symlink whose target does not exist.
    DanglingSymlink,
    /// Not a regular file (any more).
    NotAFile,
    /// The file system refused: already in words (`permission denied`).
    Io(String),
}

/// What an HTTP server said of the version of a source it sent, to be sent
/// back with the next request (`If-None-Match`, `If-Modified-Since`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    /// The `ETag` header.
    pub etag: Option<String>,
    /// The `Last-Modified` header.
    pub last_modified: Option<String>,
    /// When the server last vouched for it, in seconds since the epoch
    /// (for `max_age`).
    pub checked_at: u64,
    /// The content they vouch for: they are sent only while the source's
    /// record holds this content (a build stopped before recording what
    /// it downloaded must not have a `304` confirm the old content).
    pub hash: Hash,
}

/// A source downloaded from a store: its content hash, and the local file
/// that holds its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// blake3 of its bytes.
    pub hash: Hash,
    /// The file in the cache of originals; `None` when the content hash
    /// came from the shared cache and nothing was downloaded.
    pub path: Option<PathBuf>,
}

/// What was downloaded of a run's sources, by relative path: each one's
/// original, or why it could not be had.
pub type FetchedSources = std::collections::HashMap<PathBuf, Result<Fetched, String>>;

/// One candidate source found on disk by the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Relative to the source root; the source's identity.
    pub rel: PathBuf,
    /// The file's stat (of the target, for a followed symlink), or why the
    /// file cannot be used (a dangling symlink, an unreadable entry).
    pub stat: Result<Stat, Unreadable>,
}

/// A source as fingerprinted in this run: what the planner sees.
#[derive(Debug, Clone)]
pub struct ObservedSource {
    /// Relative to the source root.
    pub rel: PathBuf,
    /// What the file is, or why it cannot be read.
    pub fingerprint: Result<Fingerprint, Unreadable>,
}

/// What a readable source is in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    /// Its stat now.
    pub stat: Stat,
    /// Content hash; `None` for a source with no record, which is built
    /// anyway (the build hashes the bytes it reads, so hashing first would
    /// read every new photo twice).
    pub hash: Option<Hash>,
    /// Modified in the same clock tick as this observation.
    pub racy: bool,
    /// The upright shape read from the file's header, for a source whose
    /// record cannot say it (new, or its content changed), when the plan is
    /// to be shown (`--dry-run`, `--explain`, `--check`): the plan then
    /// lists only the members of a set that the source gets.
    pub probed: Option<Shape>,
}

/// What became of a recorded output on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputState {
    /// Stat equal to the record.
    Intact,
    /// Stat changed but the content is what we wrote (e.g. copied back).
    Restat(Stat),
    /// Not there (or not reachable).
    Missing,
    /// Someone changed it: it is rebuilt if still wanted, but never deleted.
    Modified,
}

/// Recorded output path (relative to the config folder) -> its state.
///
/// Only some outputs are listed; the others are all in one state, which
/// is [`OutputState::Missing`] for a map built entry by entry (the
/// default) and [`OutputState::Intact`] for one made by observing every
/// recorded output, which lists only those that are not intact: on a
/// no-op build over hundreds of thousands of outputs, that map is empty.
/// Keyed by the raw path string: hashing a `Path` walks its components.
#[derive(Debug, Clone)]
pub struct OutputStates {
    listed: HashMap<OsString, OutputState, rustc_hash::FxBuildHasher>,
    unlisted: OutputState,
}

impl Default for OutputStates {
    fn default() -> Self {
        OutputStates {
            listed: HashMap::default(),
            unlisted: OutputState::Missing,
        }
    }
}

impl OutputStates {
    /// The states of every recorded output, given those that are not
    /// [`OutputState::Intact`].
    pub fn intact_except(
        listed: impl IntoIterator<Item = (OsString, OutputState)>,
    ) -> OutputStates {
        OutputStates {
            listed: listed.into_iter().collect(),
            unlisted: OutputState::Intact,
        }
    }

    /// Set the state of the output at `path`.
    pub fn insert(&mut self, path: OsString, state: OutputState) {
        self.listed.insert(path, state);
    }

    /// The state of the output at `path`.
    pub fn of(&self, path: &std::ffi::OsStr) -> OutputState {
        if self.listed.is_empty() {
            return self.unlisted;
        }
        self.listed.get(path).copied().unwrap_or(self.unlisted)
    }
}

/// Variant names read from the store, shared: hundreds of thousands of
/// records name the same few variants. Written as a plain string.
pub mod shared_name {
    use std::cell::RefCell;
    use std::sync::Arc;

    use serde::de::Visitor;
    use serde::{Deserializer, Serializer};

    /// Names kept per thread; more distinct names than this are allocated
    /// each time they are read.
    const KEPT: usize = 64;

    thread_local! {
        static SEEN: RefCell<Vec<Arc<str>>> = const { RefCell::new(Vec::new()) };
    }

    /// The shared copy of `name`.
    pub fn intern(name: &str) -> Arc<str> {
        SEEN.with(|seen| {
            let mut seen = seen.borrow_mut();
            if let Some(known) = seen.iter().find(|k| &***k == name) {
                return known.clone();
            }
            let new: Arc<str> = Arc::from(name);
            if seen.len() < KEPT {
                seen.push(new.clone());
            }
            new
        })
    }

    /// serde `serialize_with`: a plain string.
    pub fn serialize<S: Serializer>(name: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(name)
    }

    /// serde `deserialize_with`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
        d.deserialize_str(NameVisitor)
    }

    struct NameVisitor;

    impl<'de> Visitor<'de> for NameVisitor {
        type Value = Arc<str>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a variant name")
        }

        fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Arc<str>, E> {
            Ok(intern(name))
        }
    }
}

/// Paths as raw bytes, so that file names that are not UTF-8 survive
/// serialization.
pub mod path_bytes {
    use std::path::{Path, PathBuf};

    use serde::de::{SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    /// The bytes of `path` (lossy only where the platform has no raw bytes).
    #[cfg(unix)]
    pub fn to_bytes(path: &Path) -> Vec<u8> {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    }

    /// The path whose bytes are `bytes`.
    #[cfg(unix)]
    pub fn from_bytes(bytes: &[u8]) -> PathBuf {
        use std::os::unix::ffi::OsStrExt;
        PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
    }

    /// The bytes of `path` (lossy only where the platform has no raw bytes).
    #[cfg(not(unix))]
    pub fn to_bytes(path: &Path) -> Vec<u8> {
        path.to_string_lossy().as_bytes().to_vec()
    }

    /// The path whose bytes are `bytes`.
    #[cfg(not(unix))]
    pub fn from_bytes(bytes: &[u8]) -> PathBuf {
        PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
    }

    /// serde `serialize_with`.
    pub fn serialize<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&to_bytes(path))
    }

    /// serde `deserialize_with`. Reads the bytes in one piece (a
    /// `Vec<u8>` is read byte by byte, then copied again).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        d.deserialize_bytes(PathVisitor)
    }

    /// [`path_bytes`](self) for a `Box<Path>`.
    pub mod boxed {
        use std::path::Path;

        use serde::{Deserializer, Serializer};

        /// serde `serialize_with`.
        pub fn serialize<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
            super::serialize(path, s)
        }

        /// serde `deserialize_with`.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Box<Path>, D::Error> {
            super::deserialize(d).map(|p| p.into_boxed_path())
        }
    }

    struct PathVisitor;

    impl<'de> Visitor<'de> for PathVisitor {
        type Value = PathBuf;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("the bytes of a path")
        }

        fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<PathBuf, E> {
            Ok(from_bytes(bytes))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PathBuf, A::Error> {
            let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(b) = seq.next_element::<u8>()? {
                bytes.push(b);
            }
            Ok(from_bytes(&bytes))
        }
    }
}

/// How a build uses the shared cache (`[remote] mode`, `--remote`,
/// `THUMBGEN_REMOTE_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteMode {
    /// Look outputs up and upload what is rendered.
    ReadWrite,
    /// Look outputs up; never write (a pull-request job).
    ReadOnly,
    /// Do not use the shared cache.
    Off,
}

impl RemoteMode {
    /// Every mode, in the order the help lists them.
    pub const ALL: [RemoteMode; 3] = [RemoteMode::ReadWrite, RemoteMode::ReadOnly, RemoteMode::Off];

    /// The name used in the config, on the command line and in the
    /// environment.
    pub fn name(self) -> &'static str {
        match self {
            RemoteMode::ReadWrite => "read-write",
            RemoteMode::ReadOnly => "read-only",
            RemoteMode::Off => "off",
        }
    }

    /// The mode named `text`, if any.
    pub fn parse(text: &str) -> Option<RemoteMode> {
        RemoteMode::ALL.into_iter().find(|m| m.name() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shape_recorded_with_a_jpeg_flag_reads_as_its_coding() {
        #[derive(serde::Serialize)]
        struct Flagged {
            width: u32,
            height: u32,
            jpeg: bool,
        }
        for (jpeg, coding) in [(false, Coding::Whole), (true, Coding::Jpeg)] {
            let old = postcard::to_allocvec(&Flagged {
                width: 640,
                height: 480,
                jpeg,
            })
            .unwrap();
            let shape: Shape = postcard::from_bytes(&old).unwrap();
            assert_eq!(shape.coding, coding);
            assert_eq!(
                postcard::to_allocvec(&shape).unwrap(),
                old,
                "the same bytes"
            );
        }
        let animated = Shape {
            width: 1,
            height: 1,
            coding: Coding::Animation,
        };
        assert_eq!(postcard::to_allocvec(&animated).unwrap(), [1, 1, 2]);
    }
}
