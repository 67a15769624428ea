//! The `--json` events: one type, so every event of a kind has the same
//! fields whichever code path sends it, and `docs/events.schema.json`
//! describes them all (the integration tests validate every event they
//! see against it). Printed with sorted keys, as they always were.

use serde::Serialize;

use crate::reason::{Change, Reason};

/// Version of the `--json` event schema; bumped on incompatible change.
pub const JSON_VERSION: u32 = 1;

/// One line of `--json` output (`type` names the variant).
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Event<'a> {
    /// An output a `--dry-run` or `--check` would build.
    Build {
        source: String,
        /// The URL a listed source is fetched from (`source_list`).
        #[serde(skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        variant: &'a str,
        path: String,
        reason: &'static str,
        /// The content-named file the new one replaces.
        #[serde(skip_serializing_if = "Option::is_none")]
        replaces: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        changes: Option<Vec<ChangeEvent<'a>>>,
    },
    /// An output a `--dry-run` or `--check` would remove.
    Remove(Removal<'a>),
    /// A source a `--dry-run` or `--check` knows to fail.
    Fail(SourceFailure),
    /// An output that was already right (`--json=all`).
    UpToDate {
        source: String,
        /// The URL a listed source is fetched from (`source_list`).
        #[serde(skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        variant: &'a str,
        path: String,
        bytes: u64,
        width: u32,
        height: u32,
        format: &'static str,
    },
    /// An output now in place.
    Built {
        source: String,
        /// The URL a listed source is fetched from (`source_list`).
        #[serde(skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        variant: &'a str,
        path: String,
        reason: &'static str,
        verified: bool,
        moved: bool,
        downloaded: bool,
        bytes: u64,
        width: u32,
        height: u32,
        format: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        changes: Option<Vec<ChangeEvent<'a>>>,
    },
    /// An output the build removed.
    Removed(Removal<'a>),
    /// A source that could not be built.
    Failed(SourceFailure),
    /// Something to know that fails nothing.
    Warning { kind: &'static str, message: String },
    /// What ended the run (exit 2).
    Error { kind: &'static str, message: String },
    /// An object a publish `--dry-run` would upload.
    Upload {
        key: &'a str,
        reason: &'static str,
        bytes: u64,
    },
    /// An object a publish `--dry-run` would delete.
    Delete { key: &'a str },
    /// An object now in the bucket.
    Uploaded {
        key: &'a str,
        reason: &'static str,
        bytes: u64,
    },
    /// An object deleted from the bucket.
    Deleted { key: &'a str },
    /// An object that could not be uploaded or deleted.
    PublishFailed {
        key: &'a str,
        action: &'static str,
        message: String,
    },
    /// Always last, whatever ended the run.
    Summary(SummaryEvent),
}

/// An output removed or to be removed. A leftover has no source and no
/// variant: no record names them.
#[derive(Serialize)]
pub(super) struct Removal<'a> {
    pub(super) source: Option<String>,
    /// The URL a listed source is fetched from (`source_list`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) variant: Option<&'a str>,
    pub(super) path: String,
    pub(super) reason: &'static str,
}

/// A source that fails, and why.
#[derive(Serialize)]
pub(super) struct SourceFailure {
    pub(super) source: String,
    /// The URL a listed source is fetched from (`source_list`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) url: Option<String>,
    pub(super) kind: &'static str,
    pub(super) error: String,
}

/// The counts of a run.
#[derive(Serialize)]
pub(super) struct SummaryEvent {
    pub(super) mode: &'static str,
    pub(super) built: usize,
    pub(super) downloaded: usize,
    pub(super) verified: usize,
    pub(super) moved: usize,
    pub(super) up_to_date: usize,
    pub(super) removed: usize,
    pub(super) failed: usize,
    pub(super) sources_downloaded: usize,
    pub(super) interrupted: bool,
    pub(super) duration_ms: u64,
    pub(super) exit_code: u8,
    /// What a publish did (`thumbgen publish`, `build --publish`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) published: Option<PublishedCounts>,
}

/// The counts of a publish.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PublishedCounts {
    /// The bucket (`[publish] url`).
    pub url: String,
    /// Objects uploaded (or, under `--dry-run`, to upload).
    pub uploaded: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Objects already published as they are.
    pub unchanged: usize,
    /// Objects deleted (or, under `--dry-run`, to delete).
    pub deleted: usize,
    /// Deletes not done: more than `max_deletes`.
    pub held_back: usize,
    /// Uploads and deletes that failed.
    pub failed: usize,
    /// Whether it was a `--dry-run`.
    pub dry_run: bool,
}

/// One setting of a changed variant, old and new.
#[derive(Serialize)]
pub(super) struct ChangeEvent<'a> {
    key: &'a str,
    old: Option<&'a str>,
    new: Option<&'a str>,
}

/// The `changes` of a `variant_changed` reason.
pub(super) fn changes(reason: &Reason) -> Option<Vec<ChangeEvent<'_>>> {
    match reason {
        Reason::VariantChanged { changes, .. } => {
            Some(changes.iter().map(ChangeEvent::from).collect())
        }
        _ => None,
    }
}

impl<'a> From<&'a Change> for ChangeEvent<'a> {
    fn from(c: &'a Change) -> ChangeEvent<'a> {
        ChangeEvent {
            key: &c.key,
            old: c.old.as_deref(),
            new: c.new.as_deref(),
        }
    }
}

impl Event<'_> {
    /// The line printed: the event with its schema version, keys sorted.
    pub(super) fn line(&self) -> String {
        let mut value = serde_json::to_value(self).expect("plain data serializes");
        value["version"] = JSON_VERSION.into();
        value.to_string()
    }
}
