//! How records are made: the one place that assembles a [`SourceRecord`] or
//! an [`OutputRecord`], from an observation (a touched-but-identical
//! source, an output whose stat changed), from a render, or from a failure.
//! Keeping this in one place keeps every field's meaning in one place: what
//! `racy` means after a source changed under a build, which outputs a
//! failed source keeps (none), and that outputs are sorted by path.

use std::path::Path;

use crate::focus::FocalPoint;
use crate::model::{Fingerprint, Hash, OutputRecord, Placeholder, Shape, SourceRecord, Stat};
use crate::variant::{Variant, PIPELINE_VERSION};

/// The record of a source with nothing to build whose stat moved on (a
/// touch, a fresh checkout) or whose outputs changed without work.
pub(crate) fn reobserved(
    previous: &SourceRecord,
    now: &Fingerprint,
    outputs: Vec<OutputRecord>,
) -> SourceRecord {
    SourceRecord {
        stat: now.stat,
        hash: previous.hash,
        racy: now.racy,
        failed: None,
        shape: previous.shape,
        placeholder: previous.placeholder.clone(),
        outputs: sorted(outputs),
    }
}

/// An output kept as it is, with its new stat if only its stat changed.
pub(crate) fn kept(output: &OutputRecord, restat: Option<Stat>) -> OutputRecord {
    OutputRecord {
        stat: restat.unwrap_or(output.stat),
        ..output.clone()
    }
}

/// The record of a source whose bytes were just read for a build: `read`
/// is the hash of those bytes. If the file changed since it was hashed for
/// the plan, its stat is stale too, so the next run must re-hash it. (A new
/// source was not hashed for the plan; its stat from the walk is older than
/// any change, so a change shows.)
pub(crate) fn read(planned: &Fingerprint, read: Hash) -> SourceRecord {
    let changed_since_planned = planned.hash.is_some_and(|h| h != read);
    SourceRecord {
        stat: if changed_since_planned {
            Stat::default()
        } else {
            planned.stat
        },
        hash: read,
        racy: planned.racy || changed_since_planned,
        failed: None,
        shape: None,
        placeholder: None,
        outputs: Vec::new(),
    }
}

/// What was written for one variant.
pub(crate) struct Written {
    /// Relative to the config folder.
    pub path: std::path::PathBuf,
    /// Stat of the file now in place.
    pub stat: Stat,
    /// Hash of its bytes.
    pub hash: Hash,
    /// Pixel size as encoded.
    pub width: u32,
    /// Pixel size as encoded.
    pub height: u32,
}

/// The record of an output just written for `variant`, of a source whose
/// focal point is `focus`.
pub(crate) fn written(variant: &Variant, focus: Option<FocalPoint>, w: Written) -> OutputRecord {
    OutputRecord {
        variant: crate::model::shared_name::intern(&variant.name),
        path: w.path.into_boxed_path(),
        settings: variant.recipe(focus),
        pipeline: PIPELINE_VERSION,
        stat: w.stat,
        hash: w.hash,
        width: w.width,
        height: w.height,
        format: variant.format,
    }
}

/// An output moved from a renamed source's old path to `path`.
pub(crate) fn moved(from: &OutputRecord, path: std::path::PathBuf, stat: Stat) -> OutputRecord {
    OutputRecord {
        path: path.into_boxed_path(),
        stat,
        ..from.clone()
    }
}

/// A source after a successful build: its shape, its placeholders (when
/// wanted), the outputs it kept and the ones just built.
pub(crate) fn built(
    read: SourceRecord,
    shape: Shape,
    placeholder: Option<Box<Placeholder>>,
    kept: &[OutputRecord],
    built: impl IntoIterator<Item = OutputRecord>,
) -> SourceRecord {
    let mut outputs = kept.to_vec();
    outputs.extend(built);
    SourceRecord {
        shape: Some(shape),
        placeholder,
        outputs: sorted(outputs),
        ..read
    }
}

/// A source that failed has no outputs, as after a clean build, and is
/// retried every build until it changes or builds. `context` is
/// [`failure_context`] of the settings it failed under.
pub(crate) fn failed(read: SourceRecord, context: Hash) -> SourceRecord {
    SourceRecord {
        failed: Some(context),
        placeholder: None,
        outputs: Vec::new(),
        ..read
    }
}

/// A digest of every setting that can turn a source's failure into
/// success: the pipeline, `max_pixels`, where outputs go (a name one file
/// system refuses another may take), and every variant's recipe. A source
/// that failed with the same content under the same context fails again.
pub(crate) fn failure_context(max_pixels: u64, output: &Path, variants: &[Variant]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(b"thumbgen-failure-context-v1\0");
    h.update(&PIPELINE_VERSION.to_le_bytes());
    h.update(&max_pixels.to_le_bytes());
    h.update(output.as_os_str().as_encoded_bytes());
    h.update(b"\0");
    for v in variants {
        h.update(v.name.as_bytes());
        h.update(b"\0");
        h.update(&v.settings_hash());
    }
    *h.finalize().as_bytes()
}

fn sorted(mut outputs: Vec<OutputRecord>) -> Vec<OutputRecord> {
    outputs.sort_by(|a, b| a.path.cmp(&b.path));
    outputs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint(hash: Option<Hash>) -> Fingerprint {
        Fingerprint {
            stat: Stat {
                len: 1,
                mtime_ns: 2,
                ctime_ns: 3,
                ino: 4,
            },
            hash,
            racy: false,
            probed: None,
        }
    }

    #[test]
    fn a_source_changed_since_planned_is_rehashed_next_time() {
        let same = read(&fingerprint(Some([1; 32])), [1; 32]);
        assert_eq!(same.stat.len, 1);
        assert!(!same.racy);
        let changed = read(&fingerprint(Some([1; 32])), [2; 32]);
        assert_eq!(changed.stat, Stat::default(), "stat cannot vouch");
        assert!(changed.racy);
        assert_eq!(changed.hash, [2; 32], "records what was rendered");
        let new = read(&fingerprint(None), [2; 32]);
        assert_eq!(new.stat.len, 1, "a new source keeps its walk stat");
    }

    #[test]
    fn failed_sources_keep_no_outputs() {
        let mut record = read(&fingerprint(None), [0; 32]);
        record.outputs.push(OutputRecord {
            variant: "t".into(),
            path: Path::new("out/t/a.jpg").into(),
            settings: [0; 32],
            pipeline: PIPELINE_VERSION,
            stat: Stat::default(),
            hash: [0; 32],
            width: 1,
            height: 1,
            format: crate::model::Format::Jpeg,
        });
        let failed = failed(record, [7; 32]);
        assert!(failed.failed == Some([7; 32]) && failed.outputs.is_empty());
    }
}
