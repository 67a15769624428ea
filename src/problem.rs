//! What can go wrong without stopping a run, as data: a source that cannot
//! be built ([`Failure`]) and something a person should know ([`Warning`]).
//! Modules that find a problem return one of these; only `report.rs` turns
//! them into words, and `--json` names each by a stable `kind`.

use std::path::PathBuf;

use crate::model::Unreadable;
use crate::reason::RemovalReason;
use crate::render::{Leniency, RenderError};

/// Why one source has no thumbnails after this build.
#[derive(Debug)]
pub enum Failure {
    /// The file could not be read.
    Unreadable(Unreadable),
    /// A recorded source that is there but could not be read now (its
    /// permissions, an I/O error): it may be temporary, so its record and
    /// thumbnails stay as they were; only a source that is gone loses them.
    Unread {
        /// The file system's answer, in words.
        error: String,
    },
    /// The bytes are not a picture thumbgen can make thumbnails of.
    Render(RenderError),
    /// Another source would write the same outputs (`a.png` and `a.jpg`).
    Collision {
        /// One of the other sources, relative to the source root.
        other: PathBuf,
    },
    /// The file system refuses an output's name.
    Unwritable {
        /// The output path, relative to the config folder.
        path: PathBuf,
        /// The file system's answer, in words.
        error: String,
    },
    /// A file thumbgen did not write is where an output goes: it is left
    /// as it is, and the source gets no outputs.
    Occupied {
        /// The output path, relative to the config folder.
        path: PathBuf,
    },
    /// A decoder panicked on this file; contained to it.
    Panic(String),
}

impl Failure {
    /// Stable machine name, for `--json`.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Unreadable(_) | Failure::Unread { .. } => "io",
            Failure::Render(e) => match e {
                RenderError::Unsupported(_) | RenderError::UnsupportedVariant { .. } => {
                    "unsupported"
                }
                RenderError::TooLarge { .. } | RenderError::TooManyFrames { .. } => "too_large",
                RenderError::TimedOut { .. } => "timeout",
                RenderError::Variant { .. }
                | RenderError::Resize(_)
                | RenderError::Encode { .. } => "encode",
                RenderError::Empty | RenderError::NotAnImage | RenderError::Decode { .. } => {
                    "decode"
                }
            },
            Failure::Collision { .. } => "collision",
            Failure::Unwritable { .. } => "unwritable",
            Failure::Occupied { .. } => "occupied",
            Failure::Panic(_) => "panic",
        }
    }
}

/// Why the cache could not be used as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheDamage {
    /// sled could not open or read it.
    Unreadable(String),
    /// Written by a version of thumbgen with another record layout.
    OtherVersion,
    /// The folder cannot be read or written, in the file system's words.
    Io(String),
}

/// Something a person should know that fails nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// The cache was damaged or old and was started over.
    CacheReset {
        /// The store's folder.
        path: PathBuf,
        /// What was wrong with it.
        damage: CacheDamage,
    },
    /// The cache folder cannot be used: records live in memory for this run.
    CacheInMemory {
        /// The cache folder.
        path: PathBuf,
        /// Why.
        damage: CacheDamage,
    },
    /// A read-only run (`--dry-run`, `--check`) could not read the cache:
    /// every source is treated as new.
    CacheUnread {
        /// The store's folder.
        path: PathBuf,
        /// Why.
        damage: CacheDamage,
    },
    /// Records that could not be decoded were dropped; their sources are
    /// rebuilt.
    RecordsDropped {
        /// How many.
        count: usize,
    },
    /// A line of `source_list` that names no source.
    BadListLine {
        /// `file:line`.
        at: String,
        /// What is wrong with it, in words.
        error: String,
    },
    /// A setting that is accepted but changes nothing.
    SettingHasNoEffect {
        /// Where, which, and why, in words.
        message: String,
    },
    /// An `include` or `exclude` pattern matched no image under `source`.
    PatternMatchesNothing {
        /// `include` or `exclude`.
        key: &'static str,
        /// The pattern as written.
        pattern: String,
    },
    /// Focal points (`focus`) for paths that are not sources: a typo
    /// leaves its photo cropped by `attention`.
    FocusUnmatched {
        /// The sidecar.
        file: PathBuf,
        /// How many points name no source.
        count: usize,
        /// The first few of their paths, sorted.
        paths: Vec<PathBuf>,
    },
    /// A symlink under the source folder leads outside it and was skipped.
    SymlinkOutside {
        /// The link, as walked.
        path: PathBuf,
    },
    /// An animated source (GIF, WebP) was built as its first frame, as its
    /// variants say (`animated = "first"`, the default); said once a run.
    AnimationFlattened {
        /// The first such source, as shown.
        path: PathBuf,
    },
    /// A source with a flaw that browsers read past was built anyway.
    SourceRepaired {
        /// The source, as shown (relative to the config folder).
        path: PathBuf,
        /// What was wrong with it.
        leniency: Leniency,
    },
    /// This build encodes or decodes AVIF without the AV1 codecs' assembly
    /// (given once per process, on first use).
    Av1WithoutAsm,
    /// Files of a format this build leaves out were skipped.
    FormatsSkipped {
        /// The format, in words (`HEIC/HEIF`).
        format: &'static str,
        /// The cargo feature that reads it.
        feature: &'static str,
        /// How many files.
        count: usize,
    },
    /// The walk could not read an entry that is not a source.
    WalkError {
        /// The entry, when known.
        path: Option<PathBuf>,
        /// Why, in words.
        error: String,
    },
    /// A recorded output was changed by hand and is no longer wanted: left
    /// in place, and no longer tracked.
    OutputDisowned {
        /// The output, relative to the config folder.
        path: PathBuf,
    },
    /// A variant's folder holds an image thumbgen has no record of, so it
    /// is not thumbgen's: nothing there is removed or written over unless
    /// recorded.
    FolderNotOwned {
        /// The folder, relative to the config folder.
        folder: PathBuf,
        /// One such image.
        stranger: PathBuf,
    },
    /// `clean` found an output changed by hand and left it.
    OutputLeft {
        /// The output's path.
        path: PathBuf,
    },
    /// `watch` cannot use native file-system events and polls instead.
    Polling {
        /// The folder watched, when adding it failed.
        path: Option<PathBuf>,
        /// Why, in words.
        error: String,
        /// How often it polls.
        every_ms: u64,
    },
    /// `watch` lost file-system events; it re-plans everything.
    EventsLost {
        /// Why, in words.
        error: String,
    },
    /// A recorded output could not be removed.
    RemoveFailed {
        /// The output's path.
        path: PathBuf,
        /// Why, in words.
        error: String,
        /// Why it was to be removed, when a build removed it.
        reason: Option<RemovalReason>,
        /// Its source, relative to the config folder, when known.
        source: Option<PathBuf>,
    },
    /// The shared cache could not be used (down, slow, refusing): nothing
    /// more is asked of it in this run, and everything renders locally.
    RemoteUnavailable {
        /// The `[remote] url`.
        url: String,
        /// What went wrong, in words.
        error: String,
    },
    /// An object in the shared cache is damaged: it was not used, the
    /// output was rendered locally, and a read-write run replaces it.
    RemoteDamaged {
        /// The `[remote] url`.
        url: String,
        /// The object's name under the prefix (`cas/…`, `ac/…`).
        object: String,
        /// What is wrong with it.
        problem: &'static str,
        /// Whether this run replaces it (read-write mode).
        replaced: bool,
    },
}

impl Warning {
    /// Stable machine name, for `--json`.
    pub fn kind(&self) -> &'static str {
        match self {
            Warning::CacheReset { .. } => "cache_reset",
            Warning::CacheInMemory { .. } => "cache_in_memory",
            Warning::CacheUnread { .. } => "cache_unread",
            Warning::RecordsDropped { .. } => "records_dropped",
            Warning::SymlinkOutside { .. } => "symlink_outside",
            Warning::PatternMatchesNothing { .. } => "pattern_matches_nothing",
            Warning::FocusUnmatched { .. } => "focus_unmatched",
            Warning::SettingHasNoEffect { .. } => "setting_has_no_effect",
            Warning::BadListLine { .. } => "bad_list_line",
            Warning::SourceRepaired { .. } => "source_repaired",
            Warning::AnimationFlattened { .. } => "animation_flattened",
            Warning::Av1WithoutAsm => "av1_without_asm",
            Warning::FormatsSkipped { .. } => "formats_skipped",
            Warning::WalkError { .. } => "walk_error",
            Warning::OutputDisowned { .. } => "output_disowned",
            Warning::OutputLeft { .. } => "output_left",
            Warning::RemoveFailed { .. } => "remove_failed",
            Warning::FolderNotOwned { .. } => "folder_not_owned",
            Warning::Polling { .. } => "polling",
            Warning::EventsLost { .. } => "events_lost",
            Warning::RemoteUnavailable { .. } => "remote_unavailable",
            Warning::RemoteDamaged { .. } => "remote_damaged",
        }
    }
}
