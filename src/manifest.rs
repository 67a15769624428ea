//! The optional JSON index of every source and its outputs, for web pages
//! and static-site generators that write `srcset` without opening images.
//! Derived from the records after a build; written atomically, and only
//! when its bytes change, so an unchanged tree keeps an identical file.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

use crate::config::Config;
use crate::error::Error;
use crate::fsutil;
use crate::hash::hash_bytes;
use crate::model::{Coding, Hash, OutputRecord, State};
use crate::paths;
use crate::variant::Variant;

/// Version of the manifest's format. 2: keyed by source, with URLs, MIME
/// types, `srcset`s, `<picture>` snippets and placeholders.
pub(crate) const VERSION: u32 = 2;

#[derive(Serialize)]
struct Manifest<'a> {
    version: u32,
    /// By source path relative to the source root, `/`-separated.
    sources: BTreeMap<String, SourceEntry<'a>>,
}

#[derive(Serialize)]
struct SourceEntry<'a> {
    /// Upright size of the source.
    width: u32,
    height: u32,
    /// blake3 of the source's bytes, hex.
    hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    placeholder: Option<PlaceholderEntry<'a>>,
    outputs: Vec<OutputEntry<'a>>,
    /// Per variant (its `name`), per format: a ready `srcset`.
    srcset: BTreeMap<&'a str, BTreeMap<&'static str, String>>,
    /// Per variant: a ready `<picture>`.
    picture: BTreeMap<&'a str, String>,
}

#[derive(Serialize)]
struct PlaceholderEntry<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    thumbhash: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    blurhash: Option<&'a str>,
    data_url: &'a str,
    color: String,
}

#[derive(Serialize)]
struct OutputEntry<'a> {
    variant: &'a str,
    url: String,
    /// Relative to `output`, `/`-separated.
    path: String,
    width: u32,
    height: u32,
    format: &'static str,
    #[serde(rename = "type")]
    mime: &'static str,
    bytes: u64,
    /// Every frame of an animated source (`animated = "keep"`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    animated: bool,
}

/// The manifest's bytes for `state` (sources that failed are left out:
/// they have no outputs).
pub(crate) fn render(state: &State, config: &Config) -> Vec<u8> {
    // Outputs in config order: a set's formats as it lists them, each
    // format's widths ascending.
    let order: HashMap<&str, usize> = config
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| (v.name.as_str(), i))
        .collect();
    let output_root = config.relative(&config.output);
    let sources = state
        .iter()
        .filter(|(_, r)| r.failed.is_none())
        .map(|(rel, record)| {
            let mut outputs: Vec<(usize, &OutputRecord)> = record
                .outputs
                .iter()
                .filter_map(|o| Some((*order.get(&*o.variant)?, o)))
                .collect();
            outputs.sort_by_key(|(i, _)| *i);
            let shape = record.shape.unwrap_or(crate::model::Shape {
                width: 0,
                height: 0,
                coding: Coding::Whole,
            });
            let entries: Vec<(&Variant, OutputEntry)> = outputs
                .iter()
                .map(|&(i, o)| {
                    let path = paths::relative_to(&o.path, &output_root);
                    let variant = &config.variants[i];
                    let entry = OutputEntry {
                        variant: &variant.folder,
                        url: url(config.url_prefix.as_deref(), &path),
                        path: paths::slash(&path),
                        width: o.width,
                        height: o.height,
                        format: o.format.name(),
                        mime: o.format.mime(),
                        bytes: o.stat.len,
                        animated: variant.animated && shape.coding == Coding::Animation,
                    };
                    (variant, entry)
                })
                .collect();
            let (srcset, picture) = html(&entries);
            let placeholder = record
                .placeholder
                .as_deref()
                .filter(|_| config.placeholders.any())
                .map(|p| PlaceholderEntry {
                    thumbhash: p.thumbhash.as_deref(),
                    blurhash: p.blurhash.as_deref(),
                    data_url: &p.data_url,
                    color: format!("#{:02x}{:02x}{:02x}", p.color[0], p.color[1], p.color[2]),
                });
            let entry = SourceEntry {
                width: shape.width,
                height: shape.height,
                hash: hex(&record.hash),
                placeholder,
                outputs: entries.into_iter().map(|(_, e)| e).collect(),
                srcset,
                picture,
            };
            (paths::slash(rel), entry)
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

type Srcsets<'a> = BTreeMap<&'a str, BTreeMap<&'static str, String>>;

/// Per variant: the `srcset` of each format, and a `<picture>` with a
/// `<source>` per format but the last, which is the `<img>`. The `<img>`
/// has the size of the largest output, so that the page reserves the right
/// box before the image loads.
fn html<'a>(entries: &[(&'a Variant, OutputEntry)]) -> (Srcsets<'a>, BTreeMap<&'a str, String>) {
    let mut srcsets: Srcsets<'a> = BTreeMap::new();
    let mut pictures = BTreeMap::new();
    let mut folders: Vec<&str> = Vec::new();
    for (v, _) in entries {
        if !folders.contains(&v.folder.as_str()) {
            folders.push(&v.folder);
        }
    }
    for folder in folders {
        let members: Vec<&(&Variant, OutputEntry)> =
            entries.iter().filter(|(v, _)| v.folder == folder).collect();
        let Some((first, _)) = members.first() else {
            continue;
        };
        let is_set = first.suffix.is_some();
        let mut formats: Vec<&'static str> = Vec::new();
        for (_, e) in &members {
            if !formats.contains(&e.format) {
                formats.push(e.format);
            }
        }
        let sizes = escape(first.sizes.as_deref().unwrap_or("100vw"));
        let mut sources = String::new();
        let mut img = String::new();
        for (k, format) in formats.iter().enumerate() {
            let mut of_format: Vec<&OutputEntry> = members
                .iter()
                .map(|(_, e)| e)
                .filter(|e| e.format == *format)
                .collect();
            of_format.sort_by_key(|e| e.width);
            let srcset = of_format
                .iter()
                .map(|e| format!("{} {}w", e.url, e.width))
                .collect::<Vec<_>>()
                .join(", ");
            let largest = of_format.last().expect("a format has an output");
            let mime = largest.mime;
            if k + 1 < formats.len() {
                if is_set {
                    sources.push_str(&format!(
                        "<source type=\"{mime}\" srcset=\"{}\" sizes=\"{sizes}\">",
                        escape(&srcset)
                    ));
                } else {
                    sources.push_str(&format!(
                        "<source type=\"{mime}\" srcset=\"{}\">",
                        escape(&largest.url)
                    ));
                }
            } else {
                let responsive = if is_set {
                    format!(" srcset=\"{}\" sizes=\"{sizes}\"", escape(&srcset))
                } else {
                    String::new()
                };
                img = format!(
                    "<img src=\"{}\"{responsive} width=\"{}\" height=\"{}\" alt=\"\" loading=\"lazy\" decoding=\"async\">",
                    escape(&largest.url),
                    largest.width,
                    largest.height
                );
            }
            srcsets.entry(folder).or_default().insert(format, srcset);
        }
        pictures.insert(folder, format!("<picture>{sources}{img}</picture>"));
    }
    // Keys borrow the variants' folder names, which outlive the entries.
    (srcsets, pictures)
}

/// `url_prefix` and `path` joined by exactly one slash (`/thumbs` and
/// `/thumbs/` alike), the path percent-encoded, segment by segment
/// (RFC 3986: everything but unreserved characters, `/` kept between
/// segments), so that `café #1?.jpg` is a working URL.
fn url(prefix: Option<&str>, path: &Path) -> String {
    let mut out = match prefix {
        Some(prefix) => format!("{}/", prefix.trim_end_matches('/')),
        None => String::new(),
    };
    for (i, part) in path.components().enumerate() {
        if i > 0 {
            out.push('/');
        }
        // The raw bytes: a name that is not UTF-8 still gets its own URL.
        for &b in part.as_os_str().as_encoded_bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// Text made safe for an HTML attribute in double quotes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Before any work, when the cache records no manifest at `path` (a new
/// `manifest` setting, a lost cache): a file there must be a manifest in
/// thumbgen's own format, or the run stops here. (A recorded manifest is
/// proved by its hash in [`write()`], from the bytes it reads anyway.)
pub(crate) fn check_ours(path: &Path) -> Result<(), Error> {
    match read_existing(path)? {
        Some(bytes) => ensure_ours(path, &bytes, None),
        None => Ok(()),
    }
}

/// The file at `path`, if there is one; a folder there reads as no bytes
/// (so it is never taken for thumbgen's).
fn read_existing(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => Ok(Some(Vec::new())),
        Err(e) => Err(Error::io(path, &e)),
    }
}

/// `bytes` (at `path`) are thumbgen's to write over: the manifest whose
/// hash the cache recorded (`recorded`), or one in thumbgen's own format.
/// Anything else is a user's file, which thumbgen never writes over.
fn ensure_ours(path: &Path, bytes: &[u8], recorded: Option<&Hash>) -> Result<(), Error> {
    if recorded == Some(&hash_bytes(bytes)) || is_a_manifest(bytes) {
        return Ok(());
    }
    Err(Error::Fatal(format!(
        "{}: `manifest` names a file that thumbgen did not write; it is left as it is. \
         Move it away, or set `manifest` to another path",
        path.display()
    )))
}

/// Whether `bytes` are a manifest of the kind [`render`] writes: an object
/// of just `version` and `sources`, every source with its `outputs`.
fn is_a_manifest(bytes: &[u8]) -> bool {
    let Ok(serde_json::Value::Object(top)) = serde_json::from_slice(bytes) else {
        return false;
    };
    let sources = match (top.len(), top.get("version"), top.get("sources")) {
        (2, Some(serde_json::Value::Number(_)), Some(serde_json::Value::Object(s))) => s,
        _ => return false,
    };
    sources
        .values()
        .all(|s| s.get("outputs").is_some_and(|o| o.is_array()))
}

/// Write the manifest if its content changed, and only over a file that
/// thumbgen wrote (`recorded`: the hash the cache holds for this path).
/// Returns the hash of the manifest's bytes, recorded so that a later
/// build can prove the file is its own before writing over or removing it
/// (when `manifest` moves or goes); and, for a warning, the staging folder
/// beside it if that could not be removed (the manifest is written).
pub(crate) fn write(
    state: &State,
    config: &Config,
    manifest_path: &Path,
    recorded: Option<&Hash>,
) -> Result<(Hash, Option<fsutil::PathError>), Error> {
    let bytes = render(state, config);
    let hash = hash_bytes(&bytes);
    if let Some(old) = read_existing(manifest_path)? {
        if old == bytes {
            return Ok((hash, None));
        }
        ensure_ours(manifest_path, &old, recorded)?;
    }
    let staging = manifest_path
        .parent()
        .unwrap_or(Path::new("/"))
        .join(fsutil::STAGING_DIR);
    fsutil::atomic_write(&staging, manifest_path, &bytes)
        .map_err(|e| Error::output("write", e.path, &e.error))?;
    Ok((hash, fsutil::finish_staging(&staging).err()))
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Format, OutputRecord, Placeholder, Shape, SourceRecord, Stat};

    const CONFIG: &str = r#"
source = "img"
output = "site/thumbs"
url_prefix = "/thumbs/"
placeholder = "thumbhash"
[[variants]]
name = "photo"
widths = [320, 640]
formats = ["avif", "jpeg"]
[[variants]]
name = "t"
width = 8
height = 8
"#;

    fn output(variant: &str, path: &str, width: u32, format: Format) -> OutputRecord {
        OutputRecord {
            variant: variant.into(),
            path: Path::new(path).into(),
            settings: [0; 32],
            pipeline: 1,
            stat: Stat {
                len: 42,
                ..Stat::default()
            },
            hash: [0; 32],
            width,
            height: width * 3 / 4,
            format,
        }
    }

    fn record(failed: bool, outputs: Vec<OutputRecord>) -> SourceRecord {
        SourceRecord {
            stat: Stat::default(),
            hash: [0xab; 32],
            racy: false,
            failed: failed.then_some([0; 32]),
            shape: Some(Shape {
                width: 1000,
                height: 750,
                coding: crate::model::Coding::Jpeg,
            }),
            placeholder: Some(Box::new(Placeholder {
                thumbhash: Some("3OcRJYB4d3h/iIeHeEh3eIhw+j2w".into()),
                blurhash: None,
                data_url: "data:image/png;base64,AAAA".into(),
                color: [0x12, 0xab, 0xef],
            })),
            outputs,
        }
    }

    #[test]
    fn urls_join_the_prefix_with_exactly_one_slash() {
        let path = Path::new("thumb/a b.jpg");
        for prefix in ["/thumbs", "/thumbs/", "/thumbs//"] {
            assert_eq!(
                url(Some(prefix), path),
                "/thumbs/thumb/a%20b.jpg",
                "{prefix}"
            );
        }
        assert_eq!(
            url(Some("https://cdn.example.com"), path),
            "https://cdn.example.com/thumb/a%20b.jpg"
        );
        assert_eq!(url(Some("/"), path), "/thumb/a%20b.jpg");
        assert_eq!(url(None, path), "thumb/a%20b.jpg");
    }

    #[test]
    fn manifest_v2_is_keyed_by_source_with_urls_srcsets_and_pictures() {
        let config = crate::config::parse(CONFIG, Path::new("/p/.thumbgen.toml")).unwrap();
        let mut state = State::default();
        // Outputs are recorded sorted by path; the manifest lists them in
        // config order.
        state.insert(
            "b/café #1?.jpg".into(),
            record(
                false,
                vec![
                    output(
                        "photo@320.avif",
                        "site/thumbs/photo/b/café #1?-320.avif",
                        320,
                        Format::Avif,
                    ),
                    output(
                        "photo@320.jpg",
                        "site/thumbs/photo/b/café #1?-320.jpg",
                        320,
                        Format::Jpeg,
                    ),
                    output(
                        "photo@640.avif",
                        "site/thumbs/photo/b/café #1?-640.avif",
                        640,
                        Format::Avif,
                    ),
                    output(
                        "photo@640.jpg",
                        "site/thumbs/photo/b/café #1?-640.jpg",
                        640,
                        Format::Jpeg,
                    ),
                    output("t", "site/thumbs/t/b/café #1?.jpg", 8, Format::Jpeg),
                ],
            ),
        );
        state.insert("broken.jpg".into(), record(true, Vec::new()));
        let bytes = render(&state, &config);
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["version"], 2);
        let sources = json["sources"].as_object().unwrap();
        assert_eq!(sources.len(), 1, "failed sources are left out");
        let s = &sources["b/café #1?.jpg"];
        assert_eq!(
            (s["width"].as_u64(), s["height"].as_u64()),
            (Some(1000), Some(750))
        );
        assert_eq!(s["hash"].as_str().unwrap().len(), 64);
        assert_eq!(s["placeholder"]["color"], "#12abef");
        assert_eq!(s["placeholder"]["data_url"], "data:image/png;base64,AAAA");
        assert!(s["placeholder"].get("blurhash").is_none());
        let outputs = s["outputs"].as_array().unwrap();
        let order: Vec<(&str, &str)> = outputs
            .iter()
            .map(|o| (o["format"].as_str().unwrap(), o["path"].as_str().unwrap()))
            .collect();
        assert_eq!(
            order,
            [
                ("avif", "photo/b/café #1?-320.avif"),
                ("avif", "photo/b/café #1?-640.avif"),
                ("jpeg", "photo/b/café #1?-320.jpg"),
                ("jpeg", "photo/b/café #1?-640.jpg"),
                ("jpeg", "t/b/café #1?.jpg"),
            ]
        );
        let first = &outputs[0];
        assert_eq!(first["variant"], "photo");
        assert_eq!(first["url"], "/thumbs/photo/b/caf%C3%A9%20%231%3F-320.avif");
        assert_eq!(first["type"], "image/avif");
        assert_eq!(first["bytes"], 42);
        assert_eq!(
            s["srcset"]["photo"]["avif"],
            "/thumbs/photo/b/caf%C3%A9%20%231%3F-320.avif 320w, /thumbs/photo/b/caf%C3%A9%20%231%3F-640.avif 640w"
        );
        assert_eq!(
            s["picture"]["photo"],
            concat!(
                "<picture><source type=\"image/avif\" srcset=\"/thumbs/photo/b/caf%C3%A9%20%231%3F-320.avif 320w, /thumbs/photo/b/caf%C3%A9%20%231%3F-640.avif 640w\" sizes=\"100vw\">",
                "<img src=\"/thumbs/photo/b/caf%C3%A9%20%231%3F-640.jpg\" srcset=\"/thumbs/photo/b/caf%C3%A9%20%231%3F-320.jpg 320w, /thumbs/photo/b/caf%C3%A9%20%231%3F-640.jpg 640w\" sizes=\"100vw\" width=\"640\" height=\"480\" alt=\"\" loading=\"lazy\" decoding=\"async\"></picture>"
            )
        );
        assert_eq!(
            s["picture"]["t"],
            "<picture><img src=\"/thumbs/t/b/caf%C3%A9%20%231%3F.jpg\" width=\"8\" height=\"6\" alt=\"\" loading=\"lazy\" decoding=\"async\"></picture>"
        );
        assert_eq!(render(&state, &config), bytes, "deterministic");
    }

    #[test]
    fn without_a_prefix_urls_are_the_paths_encoded_and_placeholders_stay_out() {
        let text = "source = \"img\"\noutput = \"out\"\n[[variants]]\nname = \"t\"\nwidth = 8\n";
        let config = crate::config::parse(text, Path::new("/p/.thumbgen.toml")).unwrap();
        let mut state = State::default();
        state.insert(
            "a b.png".into(),
            record(false, vec![output("t", "out/t/a b.jpg", 8, Format::Jpeg)]),
        );
        let json: serde_json::Value = serde_json::from_slice(&render(&state, &config)).unwrap();
        let s = &json["sources"]["a b.png"];
        assert_eq!(s["outputs"][0]["url"], "t/a%20b.jpg");
        assert_eq!(s["outputs"][0]["path"], "t/a b.jpg");
        assert!(s.get("placeholder").is_none(), "not configured");
    }
}
