//! Why the planner acts: why an output is (re)built ([`Reason`]) and why a
//! recorded output is deleted ([`RemovalReason`]). Computed by comparison in
//! `plan.rs`, rendered to words only in `report.rs` (as cargo computes its
//! `DirtyReason` in one place and renders it in another). Where the old and
//! new values are known, the reason carries them, so that `--explain` can say
//! `variant "card" changed: width 640 → 480` rather than only that something
//! changed.

use std::sync::Arc;

use crate::model::Setting;

/// Why an output is (re)built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No record of the source.
    NewSource,
    /// The source's content hash differs from the recorded one.
    SourceChanged,
    /// The source failed last time; failures are retried every build.
    PreviouslyFailed {
        /// Under the same settings as now (see `record::failure_context`):
        /// with the same content it fails again, as `--check` knows.
        same_settings: bool,
    },
    /// The source is recorded but this variant never was.
    NewVariant,
    /// The variant's settings, or where it writes, changed.
    VariantChanged {
        /// The variant's name.
        variant: String,
        /// What changed, old and new; empty when the old settings are not
        /// known (a cache written before they were recorded).
        changes: Arc<[Change]>,
    },
    /// The output was written by another version of the pipeline.
    PipelineChanged {
        /// The recorded pipeline version.
        old: u32,
        /// This build's pipeline version.
        new: u32,
    },
    /// The source is a recorded source renamed (same content): its
    /// output moves instead of being rendered again.
    Renamed {
        /// The source's old path, relative to the source root.
        from: std::path::PathBuf,
    },
    /// The recorded output is gone.
    OutputMissing,
    /// The output on disk is not what thumbgen wrote.
    OutputModified,
    /// `--force`.
    Forced,
}

/// One setting whose value differs between the recorded recipe and this
/// build's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The config key (`width`, `format`, …) or `path`.
    pub key: String,
    /// Its recorded value, if it had one.
    pub old: Option<String>,
    /// Its value now, if it has one.
    pub new: Option<String>,
}

impl Change {
    /// The settings that differ between `old` and `new`, in `new`'s order
    /// then keys only `old` had.
    pub fn between(old: &[Setting], new: &[Setting]) -> Vec<Change> {
        let value = |list: &[Setting], key: &str| {
            list.iter().find(|s| s.key == key).map(|s| s.value.clone())
        };
        let mut changes: Vec<Change> = new
            .iter()
            .filter_map(|s| {
                let old = value(old, &s.key);
                (old.as_deref() != Some(s.value.as_str())).then(|| Change {
                    key: s.key.clone(),
                    old,
                    new: Some(s.value.clone()),
                })
            })
            .collect();
        changes.extend(
            old.iter()
                .filter(|s| value(new, &s.key).is_none())
                .map(|s| Change {
                    key: s.key.clone(),
                    old: Some(s.value.clone()),
                    new: None,
                }),
        );
        changes
    }
}

impl Reason {
    /// Stable machine name, for `--json` (never changes meaning).
    pub fn code(&self) -> &'static str {
        match self {
            Reason::NewSource => "new_source",
            Reason::SourceChanged => "source_changed",
            Reason::PreviouslyFailed { .. } => "previously_failed",
            Reason::NewVariant => "new_variant",
            Reason::VariantChanged { .. } => "variant_changed",
            Reason::PipelineChanged { .. } => "pipeline_changed",
            Reason::Renamed { .. } => "renamed",
            Reason::OutputMissing => "output_missing",
            Reason::OutputModified => "output_modified",
            Reason::Forced => "forced",
        }
    }
}

/// Why a recorded output is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RemovalReason {
    /// Its source is gone.
    SourceRemoved,
    /// Its source is still there but `include`/`exclude` now leave it out.
    SourceExcluded,
    /// Its variant is no longer configured.
    VariantRemoved,
    /// The variant now writes elsewhere (format or output folder changed).
    Moved,
    /// Its source fails now: a failed source has no outputs.
    SourceFailed,
    /// A member of a set that the source is too narrow for: the next
    /// smaller width of the set already has the source's size.
    Redundant,
    /// No record lists it and no source makes it, but it is named like an
    /// output in a folder thumbgen owns: left by an earlier build whose
    /// records were since lost.
    Leftover,
}

impl RemovalReason {
    /// Stable machine name, for `--json`.
    pub fn code(self) -> &'static str {
        match self {
            RemovalReason::SourceRemoved => "source_removed",
            RemovalReason::SourceExcluded => "source_excluded",
            RemovalReason::VariantRemoved => "variant_removed",
            RemovalReason::Moved => "moved",
            RemovalReason::SourceFailed => "source_failed",
            RemovalReason::Redundant => "redundant",
            RemovalReason::Leftover => "leftover",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Vec<Setting> {
        pairs
            .iter()
            .map(|(k, v)| Setting {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect()
    }

    #[test]
    fn changes_name_old_and_new_values() {
        let old = settings(&[("width", "640"), ("format", "jpeg"), ("sharpen", "0.5")]);
        let new = settings(&[("width", "480"), ("format", "jpeg"), ("quality", "80")]);
        let changes = Change::between(&old, &new);
        assert_eq!(
            changes,
            [
                Change {
                    key: "width".into(),
                    old: Some("640".into()),
                    new: Some("480".into())
                },
                Change {
                    key: "quality".into(),
                    old: None,
                    new: Some("80".into())
                },
                Change {
                    key: "sharpen".into(),
                    old: Some("0.5".into()),
                    new: None
                },
            ]
        );
        assert!(Change::between(&new, &new).is_empty());
    }
}
