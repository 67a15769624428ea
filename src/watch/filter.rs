//! Which file-system events can change what a build does. Pure: paths and
//! event kinds in, [`Change`]s out. Kept apart from timing so that "is this
//! ours, an editor's temp file, or a read?" is tested on its own.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::scan::is_image_name;

/// What an event means for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// A file or folder under the source root (a folder may hold sources).
    Source(PathBuf),
    /// The config file.
    Config,
    /// Events were lost (queue overflow): re-plan everything.
    Rescan,
}

/// The folders and file a watcher cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scope {
    /// The source folder, watched recursively.
    pub source: PathBuf,
    /// The output folder; events under it are our own writes and ignored.
    pub output: PathBuf,
    /// The cache folder; events under it are our own writes and ignored.
    pub cache: PathBuf,
    /// The config file; its folder is watched too.
    pub config_file: PathBuf,
    /// The focal points' sidecar (`focus`), part of the config; its
    /// folder is watched too.
    pub focus_file: Option<PathBuf>,
}

impl Scope {
    /// The folders and file `config` names.
    pub(crate) fn of(config: &Config) -> Scope {
        Scope {
            source: config.source.clone(),
            output: config.output.clone(),
            cache: config.cache.clone(),
            config_file: config.file.clone(),
            focus_file: config.focus_file.clone(),
        }
    }
}

/// The changes one event stands for: none for reads and for files that
/// cannot affect a build.
pub(super) fn changes(event: &notify::Event, scope: &Scope) -> Vec<Change> {
    if !changes_content(&event.kind) {
        return Vec::new();
    }
    let rescan = event.need_rescan().then_some(Change::Rescan);
    rescan
        .into_iter()
        .chain(event.paths.iter().filter_map(|p| classify(p, scope)))
        .collect()
}

/// Whether an event on `path` can change what a build does.
pub(crate) fn classify(path: &Path, scope: &Scope) -> Option<Change> {
    if path == scope.config_file || scope.focus_file.as_deref() == Some(path) {
        return Some(Change::Config);
    }
    // Our own writes must never trigger a build (no loops), even when the
    // output or cache folder sits inside the watched tree.
    if path.starts_with(&scope.output) || path.starts_with(&scope.cache) {
        return None;
    }
    let rel = path.strip_prefix(&scope.source).ok()?;
    if rel.as_os_str().is_empty() {
        // The source folder itself: its children's events say what changed.
        return None;
    }
    let hidden = rel
        .components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
    if hidden || is_editor_temp(path) {
        return None;
    }
    // No extension: possibly a folder being created, moved or removed.
    if is_image_name(path) || path.extension().is_none() {
        return Some(Change::Source(path.to_path_buf()));
    }
    None
}

/// Files editors and downloaders write before the real one: `x.jpg~`,
/// `x.jpg.tmp`, `x.swp`, vim's `4913` probe, partial downloads.
/// (Dot-files such as `.x.jpg.swp` and emacs' `.#x.jpg` are hidden anyway.)
fn is_editor_temp(path: &Path) -> bool {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    const SUFFIXES: &[&str] = &[
        "~",
        ".tmp",
        ".temp",
        ".swp",
        ".swx",
        ".part",
        ".crdownload",
        ".partial",
        ".bak",
    ];
    name == "4913"
        || SUFFIXES
            .iter()
            .any(|s| name.len() > s.len() && name.to_ascii_lowercase().ends_with(s))
}

/// Whether an event kind can change a file: reads (our own, when we decode
/// sources or load the config) must not trigger builds.
fn changes_content(kind: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind};
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn scope() -> Scope {
        Scope {
            source: "/p/images".into(),
            output: "/p/public/thumbs".into(),
            cache: "/p/.thumbgen".into(),
            config_file: "/p/.thumbgen.toml".into(),
            focus_file: Some("/p/focus.toml".into()),
        }
    }

    fn class(path: &str) -> Option<Change> {
        classify(Path::new(path), &scope())
    }

    #[test]
    fn images_and_folders_under_source_count() {
        assert_eq!(
            class("/p/images/a.jpg"),
            Some(Change::Source("/p/images/a.jpg".into()))
        );
        assert_eq!(
            class("/p/images/x/B.PNG"),
            Some(Change::Source("/p/images/x/B.PNG".into()))
        );
        assert_eq!(
            class("/p/images/new-folder"),
            Some(Change::Source("/p/images/new-folder".into()))
        );
        assert_eq!(class("/p/.thumbgen.toml"), Some(Change::Config));
        // The focal points are part of the config.
        assert_eq!(class("/p/focus.toml"), Some(Change::Config));
    }

    #[test]
    fn own_output_cache_and_other_files_are_ignored() {
        assert_eq!(class("/p/public/thumbs/thumb/a.jpg"), None);
        assert_eq!(class("/p/images"), None);
        assert_eq!(class("/p/.thumbgen/db/conf"), None);
        assert_eq!(class("/p/images/notes.txt"), None);
        assert_eq!(class("/p/README.md"), None);
        assert_eq!(class("/p/other.toml"), None);
    }

    #[test]
    fn editor_temp_files_are_ignored() {
        for temp in [
            "/p/images/a.jpg~",
            "/p/images/a.jpg.tmp",
            "/p/images/.a.jpg.swp",
            "/p/images/.#a.jpg",
            "/p/images/4913",
            "/p/images/a.jpg.part",
            "/p/images/a.jpg.crdownload",
            "/p/images/.git/index",
        ] {
            assert_eq!(class(temp), None, "{temp}");
        }
    }

    #[test]
    fn output_inside_source_tree_is_still_ignored() {
        let mut s = scope();
        s.output = "/p/images/.out".into();
        assert_eq!(classify(Path::new("/p/images/.out/t/a.jpg"), &s), None);
        s.output = "/p/images-out".into();
        assert_eq!(classify(Path::new("/p/images-out/t/a.jpg"), &s), None);
    }

    #[test]
    fn reads_are_not_changes() {
        use notify::event::{AccessKind, AccessMode, CreateKind, EventKind, ModifyKind};
        assert!(!changes_content(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!changes_content(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(changes_content(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(changes_content(&EventKind::Create(CreateKind::File)));
        assert!(changes_content(&EventKind::Modify(ModifyKind::Any)));
    }

    #[test]
    fn an_event_stands_for_its_relevant_paths_and_the_rescan_flag() {
        use notify::event::{CreateKind, EventKind, Flag};
        let event = notify::Event::new(EventKind::Create(CreateKind::File))
            .add_path("/p/images/a.jpg".into())
            .add_path("/p/public/thumbs/thumb/a.jpg".into())
            .set_flag(Flag::Rescan);
        assert_eq!(
            changes(&event, &scope()),
            [Change::Rescan, Change::Source("/p/images/a.jpg".into())]
        );
    }
}
