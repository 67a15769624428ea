//! The optional JSON index of every source and its outputs, for web pages
//! and static-site generators that write `srcset` without opening images.
//! Derived from the records after a build; written atomically, and only
//! when its bytes change, so an unchanged tree keeps an identical file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Config;
use crate::fsutil;
use crate::hash::hash_bytes;
use crate::model::{Hash, State};
use crate::paths;

/// Version of the manifest's format.
pub const VERSION: u32 = 1;

#[derive(Serialize)]
struct Manifest<'a> {
    version: u32,
    sources: Vec<SourceEntry<'a>>,
}

#[derive(Serialize)]
struct SourceEntry<'a> {
    /// Relative to the source root, `/`-separated.
    source: String,
    /// blake3 of the source's bytes, hex.
    hash: String,
    outputs: Vec<OutputEntry<'a>>,
}

#[derive(Serialize)]
struct OutputEntry<'a> {
    variant: &'a str,
    /// Relative to the manifest's folder, `/`-separated.
    path: String,
    width: u32,
    height: u32,
    format: &'static str,
    bytes: u64,
}

/// The manifest's bytes for `state` (sources that failed are left out:
/// they have no outputs).
pub fn render(state: &State, config: &Config, manifest_path: &Path) -> Vec<u8> {
    let base = manifest_path.parent().unwrap_or(Path::new("/"));
    let sorted: BTreeMap<&PathBuf, _> = state.iter().filter(|(_, r)| r.failed.is_none()).collect();
    let sources = sorted
        .into_iter()
        .map(|(rel, record)| SourceEntry {
            source: paths::slash(rel),
            hash: hex(&record.hash),
            outputs: record
                .outputs
                .iter()
                .map(|o| OutputEntry {
                    variant: &o.variant,
                    path: paths::slash(&paths::relative_to(&config.resolve(&o.path), base)),
                    width: o.width,
                    height: o.height,
                    format: o.format.name(),
                    bytes: o.stat.len,
                })
                .collect(),
        })
        .collect();
    let mut bytes = serde_json::to_vec_pretty(&Manifest {
        version: VERSION,
        sources,
    })
    .expect("manifest always serialises");
    bytes.push(b'\n');
    bytes
}

/// Write the manifest if its content changed.
/// Returns the hash of the manifest's bytes, recorded so that a later
/// build can prove the file is its own before removing it (when `manifest`
/// moves or goes).
pub fn write(
    state: &State,
    config: &Config,
    manifest_path: &Path,
) -> Result<Hash, fsutil::PathError> {
    let bytes = render(state, config, manifest_path);
    let hash = hash_bytes(&bytes);
    if std::fs::read(manifest_path).is_ok_and(|old| old == bytes) {
        return Ok(hash);
    }
    let staging = manifest_path
        .parent()
        .unwrap_or(Path::new("/"))
        .join(fsutil::STAGING_DIR);
    fsutil::atomic_write(&staging, manifest_path, &bytes)?;
    fsutil::finish_staging(&staging);
    Ok(hash)
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Format, OutputRecord, SourceRecord, Stat};

    #[test]
    fn manifest_is_sorted_relative_and_skips_failures() {
        let text = "source = \"img\"\noutput = \"site/thumbs\"\n[[variants]]\nname = \"t\"\nwidth = 8\nheight = 8\n";
        let config = crate::config::parse(text, Path::new("/p/.thumbgen.toml")).unwrap();
        let record = |failed: bool| SourceRecord {
            stat: Stat::default(),
            hash: [0xab; 32],
            racy: false,
            failed: failed.then_some([0; 32]),
            shape: None,
            outputs: vec![OutputRecord {
                variant: "t".into(),
                path: std::path::Path::new("site/thumbs/t/b/c.jpg").into(),
                settings: [0; 32],
                pipeline: 1,
                stat: Stat {
                    len: 42,
                    ..Stat::default()
                },
                hash: [0; 32],
                width: 8,
                height: 6,
                format: Format::Jpeg,
                eighths: 8,
                via: 0,
            }],
        };
        let mut state = State::default();
        state.insert("z.jpg".into(), record(false));
        state.insert("b/c.jpg".into(), record(false));
        state.insert("broken.jpg".into(), record(true));
        let bytes = render(&state, &config, Path::new("/p/site/manifest.json"));
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let sources = json["sources"].as_array().unwrap();
        assert_eq!(sources.len(), 2);
        assert_eq!(sources[0]["source"], "b/c.jpg");
        assert_eq!(sources[0]["outputs"][0]["path"], "thumbs/t/b/c.jpg");
        assert_eq!(sources[0]["outputs"][0]["bytes"], 42);
        assert_eq!(sources[0]["hash"].as_str().unwrap().len(), 64);
        assert_eq!(
            render(&state, &config, Path::new("/p/site/manifest.json")),
            bytes
        );
    }
}
