//! Words for the typed reasons, failures and warnings: the one place where
//! they become text (as cargo renders its `DirtyReason` apart from the code
//! that computes it). Each function is pure, so the wording is tested here.

use std::path::Path;

use crate::error::Error;
use crate::model::Unreadable;
use crate::problem::{CacheDamage, Failure, Warning};
use crate::reason::{Change, Reason, RemovalReason};
use crate::render::Leniency;

use super::{megabytes, Mode, PublishedCounts, Summary};

/// Why an output is (re)built, as `--explain` prints it.
pub(crate) fn reason(reason: &Reason, source_prefix: &Path) -> String {
    match reason {
        Reason::Renamed { from } => format!(
            "renamed from {}; output moved",
            source_prefix.join(from).display()
        ),
        Reason::NewSource => "new source".into(),
        Reason::SourceChanged => "source content changed".into(),
        Reason::PreviouslyFailed { .. } => "failed last time, retrying".into(),
        Reason::NewVariant => "new variant".into(),
        Reason::VariantChanged { variant, changes } if changes.is_empty() => {
            format!("variant \"{variant}\" settings changed")
        }
        Reason::VariantChanged { variant, changes } => {
            let list: Vec<String> = changes.iter().map(change).collect();
            format!("variant \"{variant}\" changed: {}", list.join(", "))
        }
        Reason::PipelineChanged { old, new } => {
            format!("thumbgen version changed (pipeline {old} → {new})")
        }
        Reason::OutputMissing => "output missing".into(),
        Reason::OutputModified => "output modified".into(),
        Reason::Forced => "forced".into(),
    }
}

/// `width 640 → 480`.
fn change(change: &Change) -> String {
    let value = |v: &Option<String>| v.clone().unwrap_or_else(|| "(unset)".into());
    format!(
        "{} {} → {}",
        change.key,
        value(&change.old),
        value(&change.new)
    )
}

/// How paths are shown: relative to the folder holding the config file
/// (the rule for every message and `--json`), once that folder is known.
#[derive(Debug, Default, Clone)]
pub(crate) struct Shown {
    /// The config folder.
    pub(crate) root: Option<std::path::PathBuf>,
}

impl Shown {
    /// `path` as messages show it.
    pub(crate) fn path(&self, path: &Path) -> String {
        match &self.root {
            Some(root) if path.is_absolute() => {
                let rel = crate::paths::relative_to(path, root);
                if rel.as_os_str().is_empty() {
                    ".".into()
                } else {
                    rel.display().to_string()
                }
            }
            _ => path.display().to_string(),
        }
    }
}

/// An error that ends the run. Paths it names are shown by the rule; the
/// config file in config errors is named as it was found.
pub(crate) fn error(error: &Error, shown: &Shown) -> String {
    match error {
        Error::Io { path, message } => format!("{}: {message}", shown.path(path)),
        Error::Output {
            verb,
            path,
            message,
        } => format!("cannot {verb} {}: {message}", shown.path(path)),
        Error::LockHeld { cache, holder } => crate::error::lock_held(holder, &shown.path(cache)),
        Error::Config(_) | Error::Cache(_) | Error::Fatal(_) | Error::Publish(_) => {
            error.to_string()
        }
    }
}

/// Why a recorded output is deleted.
pub(crate) fn removal(reason: RemovalReason) -> &'static str {
    match reason {
        RemovalReason::SourceRemoved => "source removed",
        RemovalReason::SourceExcluded => "source excluded by include/exclude",
        RemovalReason::VariantRemoved => "variant removed",
        RemovalReason::Moved => "variant now writes elsewhere",
        RemovalReason::SourceFailed => "source failed",
        RemovalReason::Redundant => "source narrower than this width (a smaller one has its size)",
        RemovalReason::Leftover => {
            "no source makes it: left in a folder thumbgen owns by an earlier build"
        }
    }
}

/// Why `source` (as displayed) has no thumbnails.
pub(crate) fn failure(source: &Path, failure: &Failure) -> String {
    match failure {
        Failure::Unreadable(Unreadable::DanglingSymlink) => {
            "dangling symlink (its target does not exist)".into()
        }
        Failure::Unreadable(Unreadable::NotAFile) => "no longer a regular file".into(),
        Failure::Unreadable(Unreadable::Io(error)) => error.clone(),
        Failure::Unread { error } => format!(
            "cannot read it ({error}); its thumbnails from the last build are kept: make it readable (check its permissions) and build again, or remove it to remove them"
        ),
        Failure::Render(error) => error.to_string(),
        Failure::Collision { other } => {
            // Colliding sources share a folder: name the other one the way
            // this one is named.
            let other = match (source.parent(), other.file_name()) {
                (Some(folder), Some(name)) => folder.join(name),
                _ => other.clone(),
            };
            format!(
                "{} and {} would write the same thumbnails; rename one of them",
                source.display(),
                other.display()
            )
        }
        Failure::Unwritable { path, error } => {
            format!(
                "cannot write {}: {error} (rename the source)",
                path.display()
            )
        }
        Failure::Occupied { path } => format!(
            "{} is in the way: thumbgen did not write it (no record of it, and its folder is not \
             thumbgen's), so it is left as it is; move it away, or delete it if it is an old \
             thumbnail",
            path.display()
        ),
        Failure::Panic(message) => format!("the decoder crashed on this file ({message})"),
    }
}

/// A warning, in words (without the `warning: ` prefix).
pub(crate) fn warning(warning: &Warning, shown: &Shown) -> String {
    match warning {
        Warning::CacheReset { path, damage } => format!(
            "the cache at {} is {}; starting over (outputs will be checked and rebuilt as needed)",
            shown.path(path),
            cache_damage(damage)
        ),
        Warning::CacheInMemory { path, damage } => format!(
            "cannot use the cache folder {} ({}); records are kept in memory only and the next build starts over",
            shown.path(path),
            cache_damage(damage)
        ),
        Warning::CacheUnread { path, damage } => format!(
            "cannot read the cache {} ({}); treating every source as new",
            shown.path(path),
            cache_damage(damage)
        ),
        Warning::RecordsDropped { count } => format!(
            "{count} unreadable record(s) in the cache were ignored; their sources are rebuilt"
        ),
        Warning::SettingHasNoEffect { message } => message.clone(),
        Warning::BadListLine { at, error } => format!("{at}: {error}; the line is skipped"),
        Warning::PatternMatchesNothing { key, pattern } => {
            // A pattern matches whole paths: a bare folder name matches
            // only a file of that name, the usual slip.
            let bare = pattern.trim_end_matches('/');
            let hint = if !bare.is_empty() && !bare.contains(['*', '?', '[', '{']) {
                format!("; patterns match whole paths under `source`: for the folder, write \"{bare}/**\"")
            } else {
                String::new()
            };
            format!("`{key}` pattern \"{pattern}\" matches no image{hint}")
        }
        Warning::FocusUnmatched { file, count, paths } => {
            let mut named: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            if *count > paths.len() {
                named.push("…".into());
            }
            format!(
                "{}: {count} focal point(s) name no source ({}); their paths are relative to `source`",
                shown.path(file),
                named.join(", ")
            )
        }
        Warning::AnimationFlattened { path } => format!(
            "{} is animated, and its outputs hold its first frame; to keep every frame, set animated = \"keep\" on a WebP variant (said once a run)",
            shown.path(path)
        ),
        Warning::SymlinkOutside { path } => format!(
            "{}: symlink leads outside the source folder; skipped (set follow_links = true to use it)",
            shown.path(path)
        ),
        Warning::SourceRepaired {
            path,
            leniency: Leniency::JpegWithoutEoi,
        } => format!(
            "{}: the JPEG has no end marker (EOI), but its image data is complete; built (re-save it to fix the file)",
            shown.path(path)
        ),
        Warning::SourceRepaired {
            path,
            leniency: Leniency::CutShort { format, what },
        } => format!(
            "{}: the {format} file is cut short ({what}), but its image data is complete; built (re-save it to fix the file)",
            shown.path(path)
        ),
        Warning::Av1WithoutAsm => format!(
            "this thumbgen was built without the AV1 codecs' assembly: AVIF is {} (the bytes are the same); for the fast build, {}",
            crate::codecs::AV1_SLOWDOWN,
            crate::codecs::AV1_ASM_HINT
        ),
        Warning::FormatsSkipped {
            format,
            feature,
            count,
        } => {
            let files = if *count == 1 { "file" } else { "files" };
            format!(
                "skipped {count} {format} {files}: this thumbgen was built without {format} support (build it with `--features {feature}`; see the README)"
            )
        }
        Warning::WalkError {
            path: Some(path),
            error,
        } => format!("{}: {error}; skipped", shown.path(path)),
        Warning::WalkError { path: None, error } => format!("{error}; skipped"),
        Warning::OutputDisowned { path } => format!(
            "{} was changed by hand and is no longer needed; left in place and no longer tracked",
            shown.path(path)
        ),
        Warning::FolderNotOwned { folder, stranger } => format!(
            "{} holds {}, which thumbgen did not write, so thumbgen does not treat the folder as \
             its own: it removes no leftovers there and writes over no file it did not record \
             (move files of your own out of it; if they are old thumbnails, delete them)",
            shown.path(folder),
            shown.path(stranger)
        ),
        Warning::OutputLeft { path } => {
            format!("{} was changed by hand; left in place", shown.path(path))
        }
        Warning::Polling {
            path: None,
            error,
            ..
        } => format!("native file events unavailable ({error}); polling instead"),
        Warning::Polling {
            path: Some(path),
            error,
            every_ms,
        } => format!(
            "cannot watch {} with native events ({error}); polling every {every_ms} ms instead. \
             If the inotify watch limit is the cause, raise it: \
             sudo sysctl fs.inotify.max_user_watches=524288",
            shown.path(path)
        ),
        Warning::EventsLost { error } => format!("file watching: {error}; rescanning"),
        Warning::RemoveFailed {
            path,
            error,
            reason,
            source,
        } => {
            let why = match (reason, source) {
                (Some(reason), Some(source)) => {
                    format!(" ({} of {})", removal(*reason), shown.path(source))
                }
                _ => String::new(),
            };
            format!("cannot remove {}: {error}{why}", shown.path(path))
        }
        Warning::RemoteUnavailable { url, error } => format!(
            "shared cache {url}: {error}; building locally without it for the rest of this run"
        ),
        Warning::RemoteDamaged {
            url,
            object,
            problem,
            replaced,
        } => {
            let then = if *replaced {
                "rendered locally and replaced"
            } else {
                "rendered locally (a read-write run replaces it)"
            };
            format!("shared cache {url}: object {object} {problem}; not used, {then}")
        }
    }
}

fn cache_damage(damage: &CacheDamage) -> String {
    match damage {
        CacheDamage::Unreadable(error) => format!("unreadable ({error})"),
        CacheDamage::OtherVersion => "from another version of thumbgen".into(),
        CacheDamage::Io(error) => error.clone(),
    }
}

/// The summary line. A dry run or a check says what a build *would* do.
pub(crate) fn summary(s: &Summary, mode: Mode, secs: f64) -> String {
    let plural = |n: usize, one: &'static str, many: &'static str| if n == 1 { one } else { many };
    let (built, removed, failed) = match mode {
        Mode::Build | Mode::Publish => ("built", "removed", "failed"),
        Mode::DryRun | Mode::Check => ("would build", "would remove", "would fail"),
    };
    let mut extra = String::new();
    if s.downloaded > 0 {
        extra.push_str(&format!(", downloaded {}", s.downloaded));
    }
    if s.verified > 0 {
        extra.push_str(&format!(", verified {}", s.verified));
    }
    if s.moved > 0 {
        extra.push_str(&format!(", moved {}", s.moved));
    }
    if s.sources_downloaded > 0 {
        extra.push_str(&format!(
            ", {} {} downloaded",
            s.sources_downloaded,
            plural(s.sources_downloaded, "original", "originals")
        ));
    }
    format!(
        "{built} {}{extra}, up to date {}, {removed} {} {} · {failed} {} {} · {secs:.2} s",
        s.built,
        s.up_to_date,
        s.removed,
        plural(s.removed, "output", "outputs"),
        s.failed,
        plural(s.failed, "source", "sources"),
    )
}

/// Why an object is uploaded, in words, from its `--json` code.
pub(crate) fn upload_reason(code: &str) -> &'static str {
    match code {
        "new" => "new",
        "changed" => "changed",
        _ => "its headers changed",
    }
}

/// The last line of a publish.
pub(crate) fn published(p: &PublishedCounts, secs: f64) -> String {
    let mut line = if p.dry_run {
        format!(
            "would upload {} ({}), unchanged {}, would delete {} (nothing was changed)",
            p.uploaded,
            megabytes(p.bytes),
            p.unchanged,
            p.deleted
        )
    } else {
        format!(
            "published to {}: uploaded {} ({}), unchanged {}, deleted {}",
            p.url,
            p.uploaded,
            megabytes(p.bytes),
            p.unchanged,
            p.deleted
        )
    };
    if p.held_back > 0 {
        line.push_str(&format!(", held back {}", p.held_back));
    }
    if p.failed > 0 {
        line.push_str(&format!(", failed {}", p.failed));
    }
    format!("{line} · {secs:.2} s")
}

/// `--check`'s word on sources that fail whatever a build does.
pub(crate) fn failing(sources: &[std::path::PathBuf], allowed: bool) -> String {
    let names: Vec<String> = sources
        .iter()
        .take(5)
        .map(|p| p.display().to_string())
        .collect();
    let more = match sources.len().saturating_sub(names.len()) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    let count = match sources.len() {
        1 => "1 source fails".to_string(),
        n => format!("{n} sources fail"),
    };
    let advice = if allowed {
        "allowed by --allow-failed"
    } else {
        "a build cannot change that: fix or remove them, or pass --allow-failed"
    };
    format!(
        "{count} to build with the same content and settings: {}{more} ({advice})",
        names.join(", ")
    )
}

/// `changed: a.jpg, b/c.png and 3 more`.
pub(crate) fn changed(paths: &[std::path::PathBuf]) -> String {
    let names: Vec<String> = paths
        .iter()
        .take(3)
        .map(|p| p.display().to_string())
        .collect();
    let more = paths.len().saturating_sub(names.len());
    let mut text = format!("changed: {}", names.join(", "));
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Holder;

    #[test]
    fn changed_lists_a_few() {
        let paths: Vec<std::path::PathBuf> =
            (0..5).map(|i| format!("images/{i}.jpg").into()).collect();
        assert_eq!(
            changed(&paths),
            "changed: images/0.jpg, images/1.jpg, images/2.jpg and 2 more"
        );
    }

    #[test]
    fn variant_changes_name_old_and_new_values() {
        let changed = Reason::VariantChanged {
            variant: "card".into(),
            changes: vec![
                Change {
                    key: "width".into(),
                    old: Some("640".into()),
                    new: Some("480".into()),
                },
                Change {
                    key: "sharpen".into(),
                    old: None,
                    new: Some("0.5".into()),
                },
            ]
            .into(),
        };
        let reason = |r: &Reason| reason(r, Path::new("images"));
        assert_eq!(
            reason(&changed),
            "variant \"card\" changed: width 640 → 480, sharpen (unset) → 0.5"
        );
        let unknown = Reason::VariantChanged {
            variant: "card".into(),
            changes: Vec::new().into(),
        };
        assert_eq!(reason(&unknown), "variant \"card\" settings changed");
        assert_eq!(reason(&Reason::SourceChanged), "source content changed");
    }

    #[test]
    fn skipped_formats_count_files() {
        let one = Warning::FormatsSkipped {
            format: "HEIC/HEIF",
            feature: "heic",
            count: 1,
        };
        let shown = Shown::default();
        assert!(warning(&one, &shown).starts_with("skipped 1 HEIC/HEIF file:"));
        let many = Warning::FormatsSkipped {
            format: "HEIC/HEIF",
            feature: "heic",
            count: 3,
        };
        let text = warning(&many, &shown);
        assert!(text.starts_with("skipped 3 HEIC/HEIF files:"), "{text}");
        assert!(text.contains("--features heic"), "{text}");
    }

    #[test]
    fn paths_are_shown_relative_to_the_config_folder() {
        let shown = Shown {
            root: Some("/site".into()),
        };
        let outside = Warning::SymlinkOutside {
            path: "/site/images/x.jpg".into(),
        };
        assert!(warning(&outside, &shown).starts_with("images/x.jpg: symlink"));
        assert_eq!(shown.path(Path::new("/elsewhere/c")), "../elsewhere/c");
        assert_eq!(shown.path(Path::new("public/a.jpg")), "public/a.jpg");
        let mut holder = Holder {
            pid: Some(42),
            watch: false,
        };
        let locked = |holder| Error::LockHeld {
            cache: "/site/.thumbgen".into(),
            holder,
        };
        assert!(error(&locked(holder), &shown)
            .starts_with("another thumbgen run (pid 42) is using the cache .thumbgen;"));
        holder.watch = true;
        assert!(error(&locked(holder), &shown)
            .starts_with("a `thumbgen watch` (pid 42) is using the cache .thumbgen, and keeps"));
    }
}
