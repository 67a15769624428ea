//! Which folders of the output tree thumbgen owns, and which files in them
//! are its own without a record.
//!
//! The cache is derived data and can be lost (a CI runner whose cache was
//! not restored), yet the output tree must still end up as a clean build
//! leaves it. So each variant's folder that thumbgen created, or found
//! holding no image it had not recorded, gets a marker file; in a folder
//! with the marker, every file named like an output (an extension thumbgen
//! writes, not hidden) is thumbgen's: a build removes the ones no source
//! makes and may write over them. A folder without the marker is never
//! swept, and a file in it that thumbgen did not record is never written
//! over.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::model::Format;

/// The marker's file name, in a variant's folder.
pub(crate) const MARKER: &str = ".thumbgen-owned";

/// The marker's text, for whoever opens the folder.
const MARKER_TEXT: &str = "\
This folder is made by thumbgen. Image files in it (.jpg, .png, .webp,
.avif) that no source makes are removed by the next `thumbgen build` and by
`thumbgen clean`. Keep files of your own somewhere else.
";

/// Whether `folder` carries the marker.
pub(crate) fn is_owned(folder: &Path) -> bool {
    folder.join(MARKER).is_file()
}

/// Whether `path` is named like an output: not hidden, with the extension
/// of a format thumbgen writes.
pub(crate) fn is_output_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    !name.starts_with('.')
        && path
            .extension()
            .is_some_and(|e| Format::ALL.iter().any(|f| e == f.extension()))
}

/// Create `folder` if needed and mark it as thumbgen's. Only for a folder
/// thumbgen creates, or one whose images it has all recorded.
pub(crate) fn mark(folder: &Path) -> io::Result<()> {
    std::fs::create_dir_all(folder)?;
    let marker = folder.join(MARKER);
    // Workers writing into a new folder at once: the first one writes it.
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&marker)
    {
        Ok(mut file) => file.write_all(MARKER_TEXT.as_bytes()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The files named like outputs under `folder` (hidden entries skipped,
/// symlinks not followed), as `prefix` joined with their path inside it.
fn output_files(folder: &Path, prefix: &Path, out: &mut Vec<PathBuf>) {
    let walk = walkdir::WalkDir::new(folder)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walk.flatten() {
        if entry.file_type().is_file() && is_output_name(entry.path()) {
            if let Ok(inner) = entry.path().strip_prefix(folder) {
                out.push(prefix.join(inner));
            }
        }
    }
}

/// How many files [`output_files`] would list, without making a path for
/// each: a no-op build counts, and lists only when the count disagrees
/// with its records.
fn count_output_files(folder: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return 0;
    };
    let mut count = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.as_encoded_bytes().starts_with(b".") {
            continue;
        }
        match entry.file_type() {
            Ok(t) if t.is_dir() => count += count_output_files(&entry.path()),
            Ok(t) if t.is_file() && is_output_name(Path::new(&name)) => count += 1,
            _ => {}
        }
    }
    count
}

/// What a build found in the output tree.
#[derive(Debug, Default)]
pub(crate) struct Survey {
    /// The owned folders: under the output root, and relative to the
    /// config folder (as output records name paths).
    pub folders: Vec<(PathBuf, PathBuf)>,
    /// How many files named like outputs they hold.
    pub count: usize,
    /// Configured folders that are not owned because they hold an image
    /// thumbgen has no record of (one such file is named).
    pub unowned: Vec<(PathBuf, PathBuf)>,
}

impl Survey {
    /// Whether `path` (relative to the config folder) is in an owned folder.
    pub(crate) fn holds(&self, path: &Path) -> bool {
        self.folders.iter().any(|(_, rel)| path.starts_with(rel))
    }

    /// Every file named like an output in the owned folders, relative to
    /// the config folder, sorted.
    pub(crate) fn files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for (folder, rel) in &self.folders {
            output_files(folder, rel, &mut files);
        }
        files
    }
}

/// Look at the folders of the output tree: the `configured` ones (variant
/// folder names) and any other with the marker (a variant since removed).
/// `output` is the output root and `output_rel` the same relative to the
/// config folder. With `claim`, a configured folder without the marker
/// whose images are all `recorded` is marked now. With `count`, the files
/// named like outputs in owned folders are counted (`Survey::count`).
pub(crate) fn survey(
    output: &Path,
    output_rel: &Path,
    configured: &[&str],
    recorded: &(dyn Fn(&Path) -> bool + Sync),
    claim: bool,
    count: bool,
) -> Survey {
    let mut names: Vec<String> = configured.iter().map(|s| s.to_string()).collect();
    if let Ok(entries) = std::fs::read_dir(output) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && is_owned(&entry.path()) {
                names.push(name);
            }
        }
    }
    names.sort();
    names.dedup();
    // Each folder: `Ok(count)` if owned, `Err(stranger)` if not and why.
    let looked: Vec<(PathBuf, PathBuf, Result<usize, Option<PathBuf>>)> = names
        .par_iter()
        .map(|name| {
            let folder = output.join(name);
            let rel = output_rel.join(name);
            let verdict = if !folder.is_dir() {
                Err(None)
            } else if is_owned(&folder) {
                Ok(if count {
                    count_output_files(&folder)
                } else {
                    0
                })
            } else {
                let mut files = Vec::new();
                output_files(&folder, &rel, &mut files);
                match files.iter().find(|f| !recorded(f)) {
                    Some(stranger) => Err(Some(stranger.clone())),
                    None if claim && mark(&folder).is_ok() => Ok(files.len()),
                    None => Err(None),
                }
            };
            (folder, rel, verdict)
        })
        .collect();
    let mut survey = Survey::default();
    for (folder, rel, verdict) in looked {
        match verdict {
            Ok(count) => {
                survey.count += count;
                survey.folders.push((folder, rel));
            }
            Err(Some(stranger)) => survey.unowned.push((rel, stranger)),
            Err(None) => {}
        }
    }
    survey
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_are_images_thumbgen_writes() {
        for yes in ["a.jpg", "x/b.webp", "c.3f9a1c2b.avif", "d-640.png"] {
            assert!(is_output_name(Path::new(yes)), "{yes}");
        }
        for no in ["notes.txt", ".hidden.jpg", "a.JPG", "a.jpeg", "a", MARKER] {
            assert!(!is_output_name(Path::new(no)), "{no}");
        }
    }

    #[test]
    fn a_folder_is_claimed_only_when_its_images_are_all_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        std::fs::create_dir_all(out.join("thumb/sub")).unwrap();
        std::fs::write(out.join("thumb/sub/a.jpg"), b"x").unwrap();
        std::fs::write(out.join("thumb/notes.txt"), b"mine").unwrap();
        std::fs::create_dir_all(out.join("large")).unwrap();
        std::fs::write(out.join("large/b.jpg"), b"y").unwrap();
        let rel = Path::new("out");
        let recorded = |p: &Path| p == Path::new("out/thumb/sub/a.jpg");
        // A look without claiming owns nothing yet.
        let s = survey(out, rel, &["thumb", "large"], &recorded, false, true);
        assert!(s.files().is_empty() && s.count == 0);
        assert_eq!(
            s.unowned,
            [(PathBuf::from("out/large"), PathBuf::from("out/large/b.jpg"))]
        );
        let s = survey(out, rel, &["thumb", "large"], &recorded, true, true);
        assert_eq!(s.files(), [PathBuf::from("out/thumb/sub/a.jpg")]);
        assert_eq!(s.count, 1);
        assert!(is_owned(&out.join("thumb")) && !is_owned(&out.join("large")));
        // Once marked, it stays owned, configured or not, and every image
        // in it counts, recorded or not.
        std::fs::write(out.join("thumb/z.png"), b"z").unwrap();
        let s = survey(out, rel, &[], &|_: &Path| false, false, true);
        assert_eq!(s.count, 2);
        assert!(s.holds(Path::new("out/thumb/x.jpg")) && !s.holds(Path::new("out/large/b.jpg")));
        assert_eq!(
            s.files(),
            [
                PathBuf::from("out/thumb/sub/a.jpg"),
                PathBuf::from("out/thumb/z.png")
            ]
        );
        assert!(s.unowned.is_empty());
    }
}
