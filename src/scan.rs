//! Which files are sources: every regular file under `source` with an image
//! extension, narrowed by include/exclude, skipping hidden entries and the
//! output and cache folders. `.gitignore` is deliberately not honoured (image
//! folders are often git-ignored). Walks in parallel; returns entries sorted
//! by relative path, each with its stat data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};
use rayon::prelude::*;

use crate::config::Config;
use crate::fsutil::Folder;
use crate::model::{Found, Stat, Unreadable};
use crate::problem::Warning;

/// Extensions (compared case-insensitively) of the formats thumbgen reads.
const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "jpe", "jfif", "png", "apng", "gif", "webp", "tif", "tiff", "bmp", "dib", "ico",
    "avif", "jxl",
];

/// HEIC/HEIF, what iPhones save: read when built with the `heic` feature.
const HEIF_EXTENSIONS: &[&str] = &["heic", "heif", "hif"];

/// Photo formats people expect thumbnails of but that this build does not
/// read, by extension: skipped like any other file, with one warning per
/// kind so that a folder of phone photos does not silently give nothing.
/// The second field names the cargo feature that would read them.
fn unread_kind(path: &Path) -> Option<(&'static str, &'static str)> {
    let ext = path.extension()?.to_str()?;
    let heif = HEIF_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(ext));
    (heif && !cfg!(feature = "heic")).then_some(("HEIC/HEIF", "heic"))
}

#[derive(Debug, Default)]
/// What the walk found.
pub(crate) struct Scan {
    /// Candidate sources, sorted by relative path.
    pub found: Vec<Found>,
    /// Image files left out by `include`/`exclude`, sorted: a recorded
    /// source among them was excluded, not removed.
    pub excluded: Vec<PathBuf>,
    /// Things skipped that a person may want to know about (symlinks
    /// leading out of the source tree).
    pub warnings: Vec<Warning>,
}

/// Whether `path` has the extension of a format thumbgen reads.
pub(crate) fn is_image_name(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        let is = |list: &[&str]| list.iter().any(|x| x.eq_ignore_ascii_case(e));
        is(IMAGE_EXTENSIONS) || (cfg!(feature = "heic") && is(HEIF_EXTENSIONS))
    })
}

/// What the walker threads collect.
#[derive(Default)]
struct Walk {
    scan: Scan,
    /// Regular files, relative to the root, whose stat is still to be taken
    /// (folder by folder, after the walk).
    files: Vec<PathBuf>,
    /// Files of formats thumbgen does not read, counted by kind.
    unread: BTreeMap<(&'static str, &'static str), usize>,
}

/// Walk the source tree of `config` with `threads` walker threads.
pub(crate) fn scan(config: &Config, threads: usize) -> std::io::Result<Scan> {
    let root = &config.source;
    let meta = std::fs::metadata(root)?;
    if !meta.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a folder",
        ));
    }
    // Symlinks are judged against the real location of the source root.
    let real_root = root.canonicalize()?;
    let skip_dirs = [config.output.clone(), config.cache.clone()];

    let out = Mutex::new(Walk::default());
    let patterns = PatternUse::new(config.patterns.len());
    let walker = WalkBuilder::new(root)
        .standard_filters(false)
        .hidden(true)
        .follow_links(config.follow_links)
        .threads(threads)
        .filter_entry(move |entry| !skip_dirs.iter().any(|d| entry.path() == d))
        .build_parallel();

    walker.run(|| {
        let out = &out;
        let real_root = &real_root;
        let patterns = &patterns;
        Box::new(move |entry| {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    record_walk_error(out, root, err);
                    return WalkState::Continue;
                }
            };
            let Some(file_type) = entry.file_type() else {
                return WalkState::Continue;
            };
            if file_type.is_dir() {
                return WalkState::Continue;
            }
            let Some(rel) = relative(entry.path(), root) else {
                return WalkState::Continue;
            };
            if !is_image_name(rel) {
                if let Some(kind) = unread_kind(rel).filter(|_| selected(config, rel, patterns)) {
                    *out.lock().unwrap().unread.entry(kind).or_default() += 1;
                }
                return WalkState::Continue;
            }
            if !selected(config, rel, patterns) {
                out.lock().unwrap().scan.excluded.push(rel.to_path_buf());
                return WalkState::Continue;
            }
            // With `follow_links` the walker reports a link by its target's
            // type; the path itself is still a link, which `stat_files`
            // (an lstat) would call no file.
            let found = if entry.path_is_symlink() {
                match follow_symlink(entry.path(), real_root, config.follow_links) {
                    Link::Source(stat) => Found {
                        rel: rel.to_path_buf(),
                        stat,
                    },
                    Link::Outside => {
                        out.lock()
                            .unwrap()
                            .scan
                            .warnings
                            .push(Warning::SymlinkOutside {
                                path: entry.path().to_path_buf(),
                            });
                        return WalkState::Continue;
                    }
                    Link::NotAFile => return WalkState::Continue,
                }
            } else if file_type.is_file() {
                // Stat'ed below, folder by folder.
                out.lock().unwrap().files.push(rel.to_path_buf());
                return WalkState::Continue;
            } else {
                return WalkState::Continue;
            };
            out.lock().unwrap().scan.found.push(found);
            WalkState::Continue
        })
    });

    let Walk {
        mut scan,
        mut files,
        unread,
    } = out.into_inner().unwrap();
    files.sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    scan.found.par_extend(stat_files(root, &files));
    // Byte order: as deterministic as component order, and much cheaper.
    scan.found
        .sort_by(|a, b| a.rel.as_os_str().cmp(b.rel.as_os_str()));
    scan.excluded
        .sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    scan.warnings.sort_by_key(|w| match w {
        Warning::SymlinkOutside { path }
        | Warning::WalkError {
            path: Some(path), ..
        } => Some(path.clone()),
        _ => None,
    });
    finish_warnings(config, &mut scan, &patterns, unread);
    Ok(scan)
}

/// The sources among the objects of a store's listing (relative keys with
/// their stat), by the rules a walk applies to a folder's files: image
/// names only, narrowed by include/exclude; sorted as a walk's.
pub(crate) fn listed(config: &Config, objects: Vec<(PathBuf, Stat)>) -> Scan {
    let patterns = PatternUse::new(config.patterns.len());
    let mut scan = Scan::default();
    let mut unread: BTreeMap<(&'static str, &'static str), usize> = BTreeMap::new();
    for (rel, stat) in objects {
        if !is_image_name(&rel) {
            if let Some(kind) = unread_kind(&rel).filter(|_| selected(config, &rel, &patterns)) {
                *unread.entry(kind).or_default() += 1;
            }
        } else if selected(config, &rel, &patterns) {
            scan.found.push(Found {
                rel,
                stat: Ok(stat),
            });
        } else {
            scan.excluded.push(rel);
        }
    }
    scan.found
        .sort_by(|a, b| a.rel.as_os_str().cmp(b.rel.as_os_str()));
    scan.excluded
        .sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    finish_warnings(config, &mut scan, &patterns, unread);
    scan
}

/// The warnings a scan ends with: patterns that matched nothing, and the
/// counts of files in formats this build does not read.
fn finish_warnings(
    config: &Config,
    scan: &mut Scan,
    patterns: &PatternUse,
    unread: BTreeMap<(&'static str, &'static str), usize>,
) {
    scan.warnings.extend(
        patterns
            .unmatched()
            .map(|i| config.patterns[i].clone())
            .map(|(key, pattern)| Warning::PatternMatchesNothing { key, pattern }),
    );
    scan.warnings
        .extend(
            unread
                .into_iter()
                .map(|((format, feature), count)| Warning::FormatsSkipped {
                    format,
                    feature,
                    count,
                }),
        );
}

/// `path` relative to `root`, which it was made from by joining names:
/// the bytes after `root/`, without parsing components (that was a
/// measurable part of walking a large tree).
fn relative<'a>(path: &'a Path, root: &Path) -> Option<&'a Path> {
    let bytes = path.as_os_str().as_encoded_bytes();
    let prefix = root.as_os_str().as_encoded_bytes();
    match bytes.strip_prefix(prefix) {
        Some([sep, rest @ ..]) if std::path::is_separator(char::from(*sep)) && !rest.is_empty() => {
            // SAFETY: `rest` follows an ASCII separator in bytes that came
            // from an `OsStr`, which is a valid boundary to split at.
            Some(Path::new(unsafe {
                std::ffi::OsStr::from_encoded_bytes_unchecked(rest)
            }))
        }
        _ => path.strip_prefix(root).ok(),
    }
}

/// Stat `files` (relative to `root`, sorted so that siblings are mostly
/// adjacent) relative to their open folder, in parallel.
fn stat_files<'a>(
    root: &'a Path,
    files: &'a [PathBuf],
) -> impl ParallelIterator<Item = Found> + 'a {
    files
        .par_chunk_by(|a, b| crate::paths::split_last(a).0 == crate::paths::split_last(b).0)
        .flat_map_iter(move |siblings| {
            let parent = siblings[0].parent().unwrap_or(Path::new(""));
            let folder = Folder::open(root.join(parent));
            siblings.iter().map(move |rel| {
                let name = rel.file_name().unwrap_or_default();
                let stat = match folder.lstat(name) {
                    Ok((stat, true)) => Ok(stat),
                    Ok((_, false)) => Err(Unreadable::NotAFile),
                    Err(e) => Err(Unreadable::Io(crate::error::describe_io(&e))),
                };
                Found {
                    rel: rel.clone(),
                    stat,
                }
            })
        })
}

/// Which `include` and `exclude` patterns (by their index in
/// `Config::patterns`) have matched an image so far. Once all have, the
/// walk goes back to asking only whether a path matches.
struct PatternUse {
    matched: Vec<AtomicBool>,
    left: AtomicUsize,
}

impl PatternUse {
    fn new(count: usize) -> PatternUse {
        PatternUse {
            matched: (0..count).map(|_| AtomicBool::new(false)).collect(),
            left: AtomicUsize::new(count),
        }
    }

    fn note(&self, config: &Config, candidate: &globset::Candidate) {
        if self.left.load(Ordering::Relaxed) == 0 {
            return;
        }
        let included = config.include.as_ref().map_or(0, |set| set.len());
        let hits = config
            .include
            .iter()
            .flat_map(|set| set.matches_candidate(candidate));
        let excluded = config.exclude.matches_candidate(candidate);
        for i in hits.chain(excluded.into_iter().map(|i| included + i)) {
            if !self.matched[i].swap(true, Ordering::Relaxed) {
                self.left.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    fn unmatched(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.matched.len()).filter(|&i| !self.matched[i].load(Ordering::Relaxed))
    }
}

/// Whether `rel` passes `include` and `exclude`. Extensions match in any
/// case, as the image-extension filter does: the patterns' extensions are
/// lower-cased when the config is read, and so is the path's here, so that
/// `**/*.jpg` selects `Photo.JPG`.
fn selected(config: &Config, rel: &Path, patterns: &PatternUse) -> bool {
    // Preparing a path for matching copies it, even for an empty set.
    if config.exclude.is_empty() && config.include.is_none() {
        return true;
    }
    let lowered;
    let rel = match rel.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.bytes().any(|b| b.is_ascii_uppercase()) => {
            lowered = rel.with_extension(ext.to_ascii_lowercase());
            lowered.as_path()
        }
        _ => rel,
    };
    let candidate = globset::Candidate::new(rel);
    patterns.note(config, &candidate);
    if config.exclude.is_match_candidate(&candidate) {
        return false;
    }
    match &config.include {
        Some(include) => include.is_match_candidate(&candidate),
        None => true,
    }
}

enum Link {
    Source(Result<Stat, Unreadable>),
    Outside,
    NotAFile,
}

fn follow_symlink(path: &Path, real_root: &Path, follow_any: bool) -> Link {
    let target = match path.canonicalize() {
        Ok(target) => target,
        Err(_) => return Link::Source(Err(Unreadable::DanglingSymlink)),
    };
    if !follow_any && !target.starts_with(real_root) {
        return Link::Outside;
    }
    match std::fs::metadata(&target) {
        Ok(meta) if meta.is_file() => Link::Source(Ok(Stat::of(&meta))),
        Ok(_) => Link::NotAFile,
        Err(e) => Link::Source(Err(Unreadable::Io(crate::error::describe_io(&e)))),
    }
}

/// Walk errors concern one entry (an unreadable folder, a loop); the file
/// they name, if it looks like a source, is reported as failed.
fn record_walk_error(out: &Mutex<Walk>, root: &Path, err: ignore::Error) {
    let (path, message) = error_path(&err);
    let out = &mut out.lock().unwrap().scan;
    match path {
        Some(path) if is_image_name(&path) => {
            if let Ok(rel) = path.strip_prefix(root) {
                out.found.push(Found {
                    rel: rel.to_path_buf(),
                    stat: Err(Unreadable::Io(message)),
                });
                return;
            }
            out.warnings.push(Warning::WalkError {
                path: Some(path),
                error: message,
            });
        }
        path => out.warnings.push(Warning::WalkError {
            path,
            error: message,
        }),
    }
}

fn error_path(err: &ignore::Error) -> (Option<PathBuf>, String) {
    match err {
        ignore::Error::WithPath { path, err } => (Some(path.clone()), error_path(err).1),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Loop { child, .. } => (Some(child.clone()), "symlink loop".into()),
        ignore::Error::Io(e) => (None, crate::error::describe_io(e)),
        other => (None, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path, extra: &str) -> Config {
        let text = format!(
            "source = \"src\"\noutput = \"out\"\n{extra}\n[[variants]]\nname = \"t\"\nwidth = 8\nheight = 8\n"
        );
        crate::config::parse(&text, &dir.join(".thumbgen.toml")).unwrap()
    }

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }

    fn rels(scan: &Scan) -> Vec<String> {
        scan.found
            .iter()
            .map(|f| f.rel.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn finds_images_by_extension_sorted_skipping_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        for name in [
            "b.JPG",
            "a/c.png",
            "a/notes.txt",
            ".hidden.jpg",
            ".git/x.jpg",
            "d.webp",
            "e.TIFF",
        ] {
            touch(&src.join(name));
        }
        std::fs::write(src.join(".gitignore"), "*.jpg\n").unwrap();
        let scan = scan(&config(dir.path(), ""), 2).unwrap();
        assert_eq!(rels(&scan), ["a/c.png", "b.JPG", "d.webp", "e.TIFF"]);
        assert!(scan.found.iter().all(|f| f.stat.is_ok()));
    }

    #[test]
    fn photo_formats_not_read_are_skipped_with_one_warning_per_kind() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        for name in [
            "a.heic", "b/c.HEIC", "d.heif", "e.jxl", "f.jpg", "g.psd", "x/h.heic", "i.avif",
        ] {
            touch(&src.join(name));
        }
        let found = scan(&config(dir.path(), "exclude = [\"x/**\"]"), 2).unwrap();
        if cfg!(feature = "heic") {
            assert_eq!(
                rels(&found),
                ["a.heic", "b/c.HEIC", "d.heif", "e.jxl", "f.jpg", "i.avif"]
            );
            assert_eq!(found.warnings, []);
        } else {
            assert_eq!(rels(&found), ["e.jxl", "f.jpg", "i.avif"]);
            let heif = Warning::FormatsSkipped {
                format: "HEIC/HEIF",
                feature: "heic",
                count: 3,
            };
            assert_eq!(found.warnings, [heif]);
        }
    }

    #[test]
    fn include_and_exclude_narrow_the_set() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        for name in ["drafts/a.jpg", "shoes/b.jpg", "shoes/c.png"] {
            touch(&src.join(name));
        }
        let c = config(dir.path(), "exclude = [\"drafts/**\"]");
        assert_eq!(rels(&scan(&c, 1).unwrap()), ["shoes/b.jpg", "shoes/c.png"]);
        let c = config(dir.path(), "include = [\"**/*.png\"]");
        let found = scan(&c, 1).unwrap();
        assert_eq!(rels(&found), ["shoes/c.png"]);
        assert_eq!(
            found.excluded,
            [Path::new("drafts/a.jpg"), Path::new("shoes/b.jpg")]
        );
    }

    #[test]
    fn globs_match_extensions_in_any_case() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        for name in ["Photo.JPG", "b.jpg", "c.Jpeg", "Drafts/d.PNG"] {
            touch(&src.join(name));
        }
        let c = config(dir.path(), "include = [\"**/*.jpg\"]");
        assert_eq!(rels(&scan(&c, 1).unwrap()), ["Photo.JPG", "b.jpg"]);
        let c = config(dir.path(), "include = [\"**/*.JPEG\", \"**/*.png\"]");
        assert_eq!(rels(&scan(&c, 1).unwrap()), ["Drafts/d.PNG", "c.Jpeg"]);
        // Only extensions ignore case: folders are matched as written.
        let c = config(dir.path(), "exclude = [\"drafts/**\"]");
        assert_eq!(scan(&c, 1).unwrap().found.len(), 4);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_inside_followed_outside_skipped_dangling_failed() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        touch(&src.join("real.jpg"));
        touch(&dir.path().join("elsewhere.jpg"));
        symlink(src.join("real.jpg"), src.join("inside.jpg")).unwrap();
        symlink(dir.path().join("elsewhere.jpg"), src.join("outside.jpg")).unwrap();
        symlink(src.join("missing.jpg"), src.join("dangling.jpg")).unwrap();
        let scan = scan(&config(dir.path(), ""), 1).unwrap();
        assert_eq!(rels(&scan), ["dangling.jpg", "inside.jpg", "real.jpg"]);
        assert!(scan.found[0].stat.is_err());
        assert!(scan.found[1].stat.is_ok());
        assert_eq!(scan.warnings.len(), 1);
        assert!(
            matches!(&scan.warnings[0], Warning::SymlinkOutside { path } if path.ends_with("outside.jpg"))
        );
    }

    #[cfg(unix)]
    #[test]
    fn with_follow_links_every_link_to_a_file_is_a_source() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        touch(&src.join("real.jpg"));
        touch(&dir.path().join("elsewhere.jpg"));
        symlink(src.join("real.jpg"), src.join("inside.jpg")).unwrap();
        symlink(dir.path().join("elsewhere.jpg"), src.join("outside.jpg")).unwrap();
        let scan = scan(&config(dir.path(), "follow_links = true"), 1).unwrap();
        assert_eq!(rels(&scan), ["inside.jpg", "outside.jpg", "real.jpg"]);
        assert!(
            scan.found.iter().all(|f| f.stat.is_ok()),
            "{:?}",
            scan.found
        );
        assert!(scan.warnings.is_empty());
    }

    #[test]
    fn cache_inside_source_is_not_scanned() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        touch(&src.join("a.jpg"));
        touch(&src.join("cache/b.jpg"));
        let c = config(dir.path(), "cache = \"src/cache\"");
        assert_eq!(rels(&scan(&c, 1).unwrap()), ["a.jpg"]);
    }
}
