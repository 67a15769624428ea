//! Orchestration, and nothing else. One build is four named steps with a
//! type at each seam:
//!
//! 1. `observe`: walk the sources, open the cache, fingerprint what
//!    changed, check the recorded outputs → `Observation`;
//! 2. [`crate::plan::plan`] (pure) → [`Plan`]; `--dry-run` and `--check`
//!    stop here and report;
//! 3. `apply`: removals, then the jobs on the pool, each outcome handed
//!    to the `Commit` as soon as it is known (so a killed build keeps
//!    what it finished);
//! 4. `Commit::finish`: flush the records, write the manifest → counts.
//!
//! `clean` undoes what builds recorded.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::config::{self, Config, RemoteSettings};
use crate::db::{self, Db, RunLock};
use crate::error::{describe_io, Ending, Error, Exit, Result};
use crate::execute::{Executor, Outcome, Provenance};
use crate::fingerprint::{
    self, fs_now, needs_reading, observe_found, observe_outputs, Reads, SourceFiles,
};
use crate::fsutil;
use crate::manifest;
use crate::model::{
    self, Fetched, FetchedSources, Found, Hash, ObservedSource, OutputState, OutputStates, Recipes,
    RemoteMode, SourceRecord, Stat, State,
};
use crate::origin::Store;
use crate::owned;
use crate::plan::{self, Job, Plan, Settings};
use crate::problem::Warning;
use crate::publish::PublishOptions;
use crate::reason::RemovalReason;
use crate::record;
use crate::remote::{self, Remote};
use crate::report::{Mode, Names, Reporter, Summary};
use crate::scan::{self, Scan};
use crate::shard::Shard;

/// How `thumbgen build` was asked to run.
#[derive(Debug, Clone, Default)]
pub(crate) struct BuildOptions {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `-j`.
    pub jobs: Option<usize>,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--check`.
    pub check: bool,
    /// `--allow-failed`: known failures do not fail `--check`.
    pub allow_failed: bool,
    /// `--force`.
    pub force: bool,
    /// `--remote`: overrides `THUMBGEN_REMOTE_MODE` and `[remote] mode`.
    pub remote: Option<RemoteMode>,
    /// `--shard K/N`.
    pub shard: Option<Shard>,
    /// `--offline`: no network request.
    pub offline: bool,
    /// `--publish`: publish after building, so.
    pub publish: Option<PublishOptions>,
    /// The process ends when the build returns (`thumbgen build`): what
    /// it read is left for the OS to reclaim rather than freed piece by
    /// piece, and the store, once flushed, is not closed.
    pub process_ends: bool,
}

impl BuildOptions {
    /// What kind of run this is.
    pub(crate) fn mode(&self) -> Mode {
        if self.check {
            Mode::Check
        } else if self.dry_run {
            Mode::DryRun
        } else {
            Mode::Build
        }
    }
}

/// Find and load the config for a run started in the current folder.
pub(crate) fn load_config(explicit: Option<&Path>) -> Result<Config> {
    let cwd = std::env::current_dir().map_err(|e| {
        Error::Fatal(format!(
            "cannot read the current folder: {}",
            describe_io(&e)
        ))
    })?;
    let file = config::locate(explicit, &cwd)?;
    config::load(&file)
}

/// The worker pool every step runs on.
pub(crate) fn pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("thumbgen-{i}"))
        .build()
        .map_err(|e| Error::Fatal(format!("cannot start worker threads: {e}")))
}

/// `thumbgen build`. `stop` is set by Ctrl-C.
pub(crate) fn build(
    options: &BuildOptions,
    stop: &AtomicBool,
    reporter: &Reporter,
) -> Result<Exit> {
    let config = load_config(options.config.as_deref())?;
    warn_no_effect(&config, reporter);
    let threads = options.jobs.filter(|&j| j > 0).unwrap_or(config.jobs);
    let built = pool(threads)?.install(|| build_once(&config, options, None, stop, reporter))?;
    match options.publish {
        Some(publish) if options.mode() == Mode::Build && built != Exit::Interrupted => {
            let published = publish_recorded(&config, publish, reporter)?;
            Ok(if built == Exit::Ok { published } else { built })
        }
        _ => Ok(built),
    }
}

/// `thumbgen publish`, and the end of `build --publish`: the outputs the
/// cache records (and the manifest) to the bucket of `[publish]`.
pub(crate) fn publish_recorded(
    config: &Config,
    options: PublishOptions,
    reporter: &Reporter,
) -> Result<Exit> {
    let Some(settings) = &config.publish else {
        return Err(Error::Config(format!(
            "{}: no [publish] table to publish to; add one (see the README's \"Publish\")",
            config.file.display()
        )));
    };
    let mut warnings = Vec::new();
    let db = Db::open(&config.cache, &mut warnings)?;
    let state = db.load(&mut warnings);
    for w in &warnings {
        reporter.warn(w);
    }
    let manifest = db
        .manifest()
        .map(|(path, hash)| (config.resolve(&path), hash));
    drop(db);
    let manifest = manifest
        .as_ref()
        .map(|(path, hash)| (path.as_path(), *hash));
    crate::publish::publish(config, settings, &state, manifest, options, reporter)
}

/// Warn of the settings in `config` that change nothing (once per load).
pub(crate) fn warn_no_effect(config: &Config, reporter: &Reporter) {
    for message in &config.no_effect {
        reporter.warn(&Warning::SettingHasNoEffect {
            message: message.clone(),
        });
    }
}

/// What is on disk and what was recorded, at the start of one build.
struct Observation {
    /// The record store (a private copy for read-only runs).
    db: Db,
    /// Every record.
    state: State,
    /// The settings of recorded recipes.
    recipes: Recipes,
    /// The state of every recorded output on disk.
    outputs: OutputStates,
    /// Every source found (in the shard, if one is given), fingerprinted.
    observed: Vec<ObservedSource>,
    /// Sources of other shards (for collisions only).
    elsewhere: Vec<PathBuf>,
    /// Image files that `include`/`exclude` leave out.
    excluded: Vec<PathBuf>,
    /// The shared cache, if it was opened for new sources.
    remote: Option<Remote>,
    /// The source store, when `source` is a bucket.
    store: Option<Store>,
}

/// Open the shared cache (`mode` is not off); a store that cannot be set
/// up is a warning.
fn open_remote(settings: &RemoteSettings, mode: RemoteMode, reporter: &Reporter) -> Option<Remote> {
    match Remote::open(settings, mode) {
        Ok(remote) => Some(remote),
        Err(warning) => {
            reporter.warn(&warning);
            None
        }
    }
}

/// Step 1: walk the sources and, meanwhile, open the cache and check the
/// outputs it lists; then fingerprint the sources whose stat changed.
/// With `remote` (its settings and this run's mode), new sources are
/// hashed too, since the shared cache finds outputs by their source's
/// content — unless it does not answer a first question, asked only when
/// there are new sources. `shard`: fingerprint only that part.
fn observe(
    config: &Config,
    mode: Mode,
    held: Option<&RunLock>,
    remote: Option<(&RemoteSettings, RemoteMode)>,
    options: &BuildOptions,
    reporter: &Reporter,
) -> Result<Observation> {
    // Neither a dry run nor a check writes anything, not even the cache.
    let read_only = mode != Mode::Build;
    let store = open_store(config, read_only, options.offline)?;
    // Walking the sources (stat only) is independent of reading the records
    // and checking the outputs they list: overlap the two.
    let (found, recorded) = rayon::join(
        || find_sources(config, store.as_ref(), options.offline),
        || open_records(config, held, read_only),
    );
    let Records {
        db,
        now,
        state,
        recipes,
        outputs,
        mut warnings,
    } = recorded?;
    let mut fetched = HashMap::new();
    // A new source's original is needed before the plan only to find
    // whether it is a vanished one renamed, and (with a shared cache) to
    // look its outputs up; for a shown plan, to read its header. Without
    // those it is downloaded while the build runs, ahead of the workers.
    let may_defer = mode == Mode::Build
        && !reporter.explains()
        && !options.offline
        && remote.is_none()
        && options.shard.is_none();
    let mut deferred = false;
    let found = match (found, &store) {
        (Some(found), _) => found?,
        (None, Some(list)) if list.is_list() => {
            deferred = may_defer && nothing_vanished(&state, |rel| list.lists(rel));
            let (found, surveyed) =
                survey_list(config, list, deferred, &db, &state, reporter, &mut warnings)?;
            fetched = surveyed;
            found
        }
        (None, _) => recorded_sources(config, &state),
    };
    warnings.extend(found.warnings);
    warnings.extend(unmatched_focus(config, &found.found, &found.excluded));
    for w in &warnings {
        reporter.warn(w);
    }
    let (mine, elsewhere) = match options.shard {
        Some(shard) => found
            .found
            .into_iter()
            .partition(|f| shard.contains(&f.rel)),
        None => (found.found, Vec::new()),
    };
    // A bucket's new or changed sources, which are downloaded unless the
    // shared cache knows their content.
    let mut changed = match &store {
        Some(store) if !store.is_list() => changed_in_store(&mine, &state),
        _ => Vec::new(),
    };
    if may_defer && store.as_ref().is_some_and(|s| !s.is_list()) {
        let present: HashSet<&Path> = mine.iter().map(|f| f.rel.as_path()).collect();
        deferred = nothing_vanished(&state, |rel| present.contains(rel));
        if deferred {
            changed.retain(|(rel, _)| state.contains_key(rel));
        }
    }
    let remote = match remote {
        Some((settings, mode))
            if !changed.is_empty() || mine.iter().any(|f| !state.contains_key(&f.rel)) =>
        {
            open_remote(settings, mode, reporter)
        }
        _ => None,
    };
    let hash_new = remote.as_ref().is_some_and(Remote::probe);
    for warning in remote.iter().flat_map(Remote::take_warnings) {
        reporter.warn(&warning);
    }
    // A plan that is shown names exactly the outputs a build makes: which
    // members of a set a new photo gets is read from its header.
    let reads = Reads {
        // A store's new sources are downloaded, and so hashed, anyway
        // (unless their downloads wait for the build).
        hash_new: hash_new || (store.is_some() && !deferred),
        probe: mode != Mode::Build || reporter.explains(),
    };
    if let Some(bucket) = store.as_ref().filter(|s| !s.is_list()) {
        let remote = remote.as_ref().filter(|_| hash_new);
        fetched = fetch_changed(bucket, changed, remote, reporter);
        explain_fetches(config, &fetched, &state, reporter);
    }
    let files = match &store {
        Some(_) => SourceFiles::Fetched(&fetched),
        None => SourceFiles::Folder(&config.source),
    };
    let observed = observe_found(mine, &state, files, now, reads, reporter);
    Ok(Observation {
        db,
        state,
        recipes,
        outputs,
        observed,
        elsewhere: elsewhere.into_iter().map(|f| f.rel).collect(),
        excluded: found.excluded,
        remote,
        store,
    })
}

/// What the cache holds, read at the start of a run.
struct Records {
    db: Db,
    /// The file-system clock, for the racy rule (`None` for a run that
    /// writes nothing).
    now: Option<i64>,
    state: State,
    recipes: Recipes,
    outputs: OutputStates,
    warnings: Vec<Warning>,
}

/// Open the record store (a private copy for a run that writes nothing),
/// read every record, and check the outputs they list.
fn open_records(config: &Config, held: Option<&RunLock>, read_only: bool) -> Result<Records> {
    let mut warnings = Vec::new();
    let db = match held {
        _ if read_only => Db::snapshot(&config.cache, &mut warnings)?,
        Some(lock) if lock.cache() == config.cache => Db::open_locked(lock, &mut warnings)?,
        _ => Db::open(&config.cache, &mut warnings)?,
    };
    // Under the lock, and before any source's content is read: the racy
    // rule compares modification times with this.
    let now = if read_only {
        None
    } else {
        fs_now(&config.cache).ok()
    };
    let state = db.load(&mut warnings);
    let recipes = db.recipes();
    let outputs = observe_outputs(&state, &config.root);
    Ok(Records {
        db,
        now,
        state,
        recipes,
        outputs,
        warnings,
    })
}

/// Focal points for paths that are neither sources nor sources left out
/// by `include`/`exclude`, when some variant uses them. `found` and
/// `excluded` are sorted as a scan sorts them (by their bytes).
fn unmatched_focus(config: &Config, found: &[Found], excluded: &[PathBuf]) -> Option<Warning> {
    const NAMED: usize = 3;
    let file = config.focus_file.as_ref()?;
    if !config.variants.iter().any(|v| v.uses_focus()) {
        return None;
    }
    let mut unmatched: Vec<&Path> = config
        .focus
        .paths()
        .filter(|p| {
            let p = p.as_os_str();
            found
                .binary_search_by(|f| f.rel.as_os_str().cmp(p))
                .is_err()
                && excluded.binary_search_by(|e| e.as_os_str().cmp(p)).is_err()
        })
        .collect();
    if unmatched.is_empty() {
        return None;
    }
    unmatched.sort();
    Some(Warning::FocusUnmatched {
        file: file.clone(),
        count: unmatched.len(),
        paths: unmatched
            .iter()
            .take(NAMED)
            .map(|p| p.to_path_buf())
            .collect(),
    })
}

/// Whether every recorded source (that built: only those can be renamed)
/// is still there, so that no new source can be one of them renamed.
fn nothing_vanished(state: &State, present: impl Fn(&Path) -> bool) -> bool {
    state
        .iter()
        .all(|(rel, record)| record.failed.is_some() || present(rel))
}

/// Ask for each URL of a list (see [`Store::survey`]), keeping the
/// validators of the answers; the sources found, and what was downloaded.
/// `defer_new`: URLs without a record are not asked for now, but while
/// the build runs.
fn survey_list(
    config: &Config,
    list: &Store,
    defer_new: bool,
    db: &Db,
    state: &State,
    reporter: &Reporter,
    warnings: &mut Vec<Warning>,
) -> Result<(Scan, FetchedSources)> {
    let survey = list.survey(state, &db.validators(), defer_new, &reporter.downloads());
    db.set_validators(&survey.validators)?;
    for (rel, why) in &survey.asked {
        reporter.fetched(rel, why);
    }
    let (file, bad) = list.bad_lines();
    warnings.extend(bad.iter().map(|b| Warning::BadListLine {
        at: format!("{}:{}", config.relative(file).display(), b.line),
        error: b.error.clone(),
    }));
    Ok((scan::listed(config, survey.objects), survey.fetched))
}

/// Under `--explain`, why each object of a bucket was fetched.
fn explain_fetches(config: &Config, fetched: &FetchedSources, state: &State, reporter: &Reporter) {
    let mut in_order: Vec<_> = fetched.iter().collect();
    in_order.sort_by(|a, b| a.0.cmp(b.0));
    for (rel, result) in in_order {
        let why = match (state.contains_key(rel), result) {
            (_, Ok(Fetched { path: None, .. })) => "its content is known to the shared cache",
            (false, _) => "new object",
            (true, _) => "its listing changed (size, ETag or time)",
        };
        reporter.fetched(&config.source.join(rel), why);
    }
}

/// The source store of a config whose `source` is a bucket; a read-only
/// run keeps its downloads apart from the cache.
fn open_store(config: &Config, read_only: bool, offline: bool) -> Result<Option<Store>> {
    let Some(settings) = &config.store else {
        return Ok(None);
    };
    let cache = (!read_only).then_some(config.cache.as_path());
    Store::open(settings, cache, offline)
        .map(Some)
        .map_err(|e| {
            Error::Config(format!(
                "{}: `source` {}: {e}",
                config.source_origin, settings.url
            ))
        })
}

/// The candidate sources: the walk of the source folder, or the listing of
/// the source store; `None` when the records must be read first: offline
/// (only they can say), and for a list of URLs (each is asked for with
/// what its record says).
fn find_sources(config: &Config, store: Option<&Store>, offline: bool) -> Option<Result<Scan>> {
    let Some(store) = store else {
        let walked = scan::scan(config, rayon::current_num_threads()).map_err(|e| {
            Error::Config(format!(
                "{}: `source` folder {}: {}; create it, or fix `source`",
                config.source_origin,
                config.relative(&config.source).display(),
                describe_io(&e)
            ))
        });
        return Some(walked);
    };
    if offline || store.is_list() {
        return None;
    }
    let listed = store.list().map_err(|e| {
        Error::Config(format!(
            "{}: cannot list `source` {}: {e}; check the bucket and its credentials, or build from what is recorded with --offline",
            config.source_origin,
            config.source.display(),
        ))
    });
    Some(listed.map(|objects| scan::listed(config, objects)))
}

/// Offline, the sources are the recorded ones, as they were recorded.
fn recorded_sources(config: &Config, state: &State) -> Scan {
    scan::listed(
        config,
        state.iter().map(|(rel, r)| (rel.clone(), r.stat)).collect(),
    )
}

/// Download the sources of `found` that are new or whose listing changed.
fn changed_in_store(found: &[Found], state: &State) -> Vec<(PathBuf, Stat)> {
    found
        .iter()
        .filter_map(|f| {
            let stat = f.stat.as_ref().ok()?;
            needs_reading(stat, state.get(&f.rel), true).then(|| (f.rel.clone(), *stat))
        })
        .collect()
}

/// The content of each of the `changed` sources of `store`: from the
/// shared cache where it knows them (nothing downloaded), else downloaded;
/// what was downloaded is then told to the shared cache.
fn fetch_changed(
    store: &Store,
    changed: Vec<(PathBuf, Stat)>,
    remote: Option<&Remote>,
    reporter: &Reporter,
) -> FetchedSources {
    let names: HashMap<PathBuf, String> = changed
        .iter()
        .filter_map(|(rel, stat)| Some((rel.clone(), store.content_name(rel, stat)?)))
        .collect();
    let mut fetched = HashMap::new();
    let mut unknown = Vec::new();
    let asked: Vec<(&PathBuf, &String)> = names.iter().filter(|_| remote.is_some()).collect();
    let answers = match remote {
        Some(remote) => {
            remote.source_hashes(&asked.iter().map(|(_, n)| (*n).clone()).collect::<Vec<_>>())
        }
        None => Vec::new(),
    };
    let known: HashMap<&PathBuf, Hash> = asked
        .iter()
        .zip(answers)
        .filter_map(|((rel, _), hash)| Some((*rel, hash?)))
        .collect();
    for (rel, _) in changed {
        match known.get(&rel) {
            Some(hash) => {
                fetched.insert(
                    rel,
                    Ok(Fetched {
                        hash: *hash,
                        path: None,
                    }),
                );
            }
            None => unknown.push(rel),
        }
    }
    let downloaded = store.fetch(unknown, &reporter.downloads());
    if let Some(remote) = remote {
        for (rel, result) in &downloaded {
            if let (Ok(original), Some(name)) = (result, names.get(rel)) {
                remote.record_source(name, &original.hash);
            }
        }
    }
    fetched.extend(downloaded);
    fetched
}

/// Which shared cache this run uses, and how: none for a dry run or a
/// check (they download nothing), and `--remote` only with a `[remote]`
/// table to apply it to.
fn remote_for<'c>(
    config: &'c Config,
    options: &BuildOptions,
    mode: Mode,
) -> Result<Option<(&'c RemoteSettings, RemoteMode)>> {
    let remote_mode = match (&config.remote, mode) {
        (Some(settings), Mode::Build) => remote_mode(settings.mode, options.remote)?,
        (None, _) if !matches!(options.remote, None | Some(RemoteMode::Off)) => {
            return Err(Error::Config(format!(
                "{}: --remote needs a [remote] table in the config (see the README); add one, or drop --remote",
                config.file.display()
            )))
        }
        _ => RemoteMode::Off,
    };
    Ok(config
        .remote
        .as_ref()
        .filter(|_| remote_mode != RemoteMode::Off && !options.offline)
        .map(|settings| (settings, remote_mode)))
}

/// The end of a dry run or a check: the summary of what a build would do,
/// and for a check the verdict and its exit code.
fn report_without_building(
    plan: &Plan,
    names: &Names,
    mode: Mode,
    allow_failed: bool,
    reporter: &Reporter,
) -> Exit {
    // Sources that fail before decoding (a collision, an unreadable file)
    // fail a build too; they are known failures, not work.
    let failing: Vec<PathBuf> = plan
        .failures
        .iter()
        .map(|f| f.source.clone())
        .chain(plan.failing.iter().cloned())
        .collect();
    let summary = Summary {
        built: plan.build_count(),
        up_to_date: plan.up_to_date,
        removed: plan.removals.len() + plan.leftovers.len(),
        failed: failing.len(),
        ..Summary::default()
    };
    let check = mode == Mode::Check;
    let stale =
        check && (!plan.jobs.is_empty() || !plan.removals.is_empty() || !plan.leftovers.is_empty());
    let exit = Exit::decide(&Ending {
        not_up_to_date: stale,
        failed: if check && !allow_failed {
            failing.len()
        } else {
            0
        },
        ..Ending::default()
    });
    reporter.summary(&summary, mode, exit);
    if check {
        let failing: Vec<PathBuf> = failing.iter().map(|s| names.source(s)).collect();
        reporter.check_verdict(stale, &failing, allow_failed);
    }
    exit
}

/// A manifest path that is not the one this cache last wrote must not hold
/// a file thumbgen did not write.
fn check_manifest_path(config: &Config, options: &BuildOptions, db: &Db) -> Result<()> {
    let Some(path) = config.manifest.as_deref() else {
        return Ok(());
    };
    // A shard writes no manifest.
    if options.shard.is_some() {
        return Ok(());
    }
    let recorded = db.manifest().map(|(old, _)| config.resolve(&old));
    if recorded.as_deref() != Some(path) {
        manifest::check_ours(path)?;
    }
    Ok(())
}

/// The plan, with `settings`' files in owned folders that no record names
/// when the tree is swept; folders thumbgen does not own are warned about.
fn plan_with_leftovers(
    config: &Config,
    seen: &Observation,
    settings: Settings,
    mode: Mode,
    sweep: bool,
    reporter: &Reporter,
) -> Plan {
    let survey = survey_outputs(config, settings.output, &seen.state, mode, sweep);
    for (folder, stranger) in &survey.unowned {
        reporter.warn(&Warning::FolderNotOwned {
            folder: folder.clone(),
            stranger: stranger.clone(),
        });
    }
    let owned_files = sweep.then(|| unrecorded_in(&survey, &seen.state, &seen.outputs));
    let settings = Settings {
        owned_files: owned_files.as_deref(),
        ..settings
    };
    plan::plan(
        &seen.observed,
        &seen.excluded,
        &seen.state,
        &seen.outputs,
        &settings,
    )
}

/// What the plan is, as the reporter shows it: every build and removal,
/// the up-to-date outputs when asked, and outputs no longer recorded.
fn report_plan(plan: &Plan, names: &Names, seen: &Observation, mode: Mode, reporter: &Reporter) {
    reporter.plan(plan, names, mode);
    if reporter.lists_up_to_date() {
        for (source, outputs) in plan::fresh_outputs(plan, &seen.state, &seen.observed) {
            reporter.up_to_date(&names.source(source), outputs);
        }
    }
    for path in &plan.disowned {
        reporter.warn(&Warning::OutputDisowned { path: path.clone() });
    }
}

/// One build with a loaded config, on the current rayon pool. `held` is
/// the run lock when the caller holds it already (`watch` does, for its
/// whole life); otherwise a writing build takes it for itself.
pub(crate) fn build_once(
    config: &Config,
    options: &BuildOptions,
    held: Option<&RunLock>,
    stop: &AtomicBool,
    reporter: &Reporter,
) -> Result<Exit> {
    let mode = options.mode();
    reporter.begin_run(&config.root);
    let remote_settings = remote_for(config, options, mode)?;
    let mut seen = observe(config, mode, held, remote_settings, options, reporter)?;
    check_manifest_path(config, options, &seen.db)?;
    let output_rel = config.relative(&config.output);
    let failure_context = record::failure_context(config.max_pixels, &output_rel, &config.variants);
    // Leftovers are looked for until a build has swept the tree against
    // these records (a new or lost cache), and with `--force`. After that
    // the records say what the tree holds, and a no-op build need not walk
    // it. (A shard knows only part of the tree: it sweeps nothing.)
    let sweep = options.shard.is_none() && (!seen.db.swept() || options.force);
    let settings = Settings {
        failure_context,
        variants: &config.variants,
        recipes: &seen.recipes,
        output: &output_rel,
        force: options.force,
        shard: options.shard,
        elsewhere: &seen.elsewhere,
        placeholders: config.placeholders,
        focus: &config.focus,
        owned_files: None,
    };
    let mut plan = plan_with_leftovers(config, &seen, settings, mode, sweep, reporter);
    let source_prefix = source_prefix(config);
    let names = names_of(config, &source_prefix);
    let store = seen.store.take();
    if let Some(store) = &store {
        let urls = store.urls().into_iter();
        reporter.name_urls(urls.map(|(rel, url)| (names.source(&rel), url)).collect());
    }
    let mut executor = Executor::new(config, stop, failure_context);
    executor.use_store(store.as_ref());
    if mode == Mode::Check {
        executor.settle_by_content(&mut plan);
    }
    report_plan(&plan, &names, &seen, mode, reporter);
    if mode != Mode::Build {
        let exit = report_without_building(&plan, &names, mode, options.allow_failed, reporter);
        forget_unbuilt(seen, plan, options.process_ends);
        return Ok(exit);
    }

    let Observation {
        db,
        state,
        observed,
        outputs,
        ..
    } = seen;
    for variant in &config.variants {
        db.put_recipe(&variant.settings_hash(), &variant.settings())?;
    }
    // The recipes that hold a source's focal point, of the outputs about
    // to be made with them: `--explain` names a moved point by them.
    for job in plan.jobs.iter().filter(|job| job.focus.is_some()) {
        for variant in job.builds.iter().map(|b| &config.variants[b.variant]) {
            if variant.uses_focus() {
                db.put_recipe(&variant.recipe(job.focus), &variant.settings_for(job.focus))?;
            }
        }
    }
    let manifest_state = manifest_state(config, options, state);
    // Opened only when there is work: a no-op build never touches it.
    let remote = seen.remote.take().or_else(|| {
        let (settings, mode) = remote_settings.filter(|_| !plan.jobs.is_empty())?;
        open_remote(settings, mode, reporter)
    });
    // `--force` renders everything here (and uploads it): it is how a
    // machine whose outputs predate the remote fills it.
    executor.use_remote(remote.as_ref(), !options.force);
    let counts = Summary {
        up_to_date: plan.up_to_date,
        ..Summary::default()
    };
    let commit = Commit::new(
        db,
        reporter,
        &names,
        manifest_state,
        counts,
        remote.as_ref(),
        options,
    );
    apply(&plan, &executor, &commit, reporter)?;
    if let Some(store) = &store {
        finish_store(store, &commit, reporter)?;
    }
    let exit = commit.conclude(config, sweep, stop, mode)?;
    discard((observed, outputs, plan), options.process_ends);
    Ok(exit)
}

/// What messages put before a source's path: the source folder relative
/// to the config folder; a bucket's url; nothing for a list's names.
fn source_prefix(config: &Config) -> PathBuf {
    match config.store.as_ref().map(|s| &s.location) {
        Some(config::SourceLocation::List(_)) => PathBuf::new(),
        Some(config::SourceLocation::Store(_)) => config.source.clone(),
        None => config.relative(&config.source),
    }
}

/// Count the originals downloaded, keep the validators of URLs first
/// downloaded by the build, and bring the cache of originals within its
/// bound.
fn finish_store(store: &Store, commit: &Commit, reporter: &Reporter) -> Result<()> {
    commit.counts.lock().unwrap().sources_downloaded = store.downloads();
    commit.db.add_validators(&store.late_validators())?;
    if let Err(e) = store.trim() {
        reporter.warn(&clean_failed(e));
    }
    Ok(())
}

/// How messages name this config's sources and variants.
fn names_of<'a>(config: &'a Config, source_prefix: &'a Path) -> Names<'a> {
    Names {
        source_prefix,
        variants: config.variants.iter().map(|v| v.name.as_str()).collect(),
        hash_names: config.variants.iter().map(|v| v.hash_names).collect(),
    }
}

/// Ends a dry run or a check: the store (a private copy, removed when
/// dropped) goes now, the records later.
fn forget_unbuilt(seen: Observation, plan: Plan, process_ends: bool) {
    drop(seen.db);
    discard(
        (seen.state, seen.observed, seen.outputs, plan),
        process_ends,
    );
}

/// The records the manifest is written from, when one is written. A shard
/// writes no manifest: it knows only its part.
fn manifest_state(config: &Config, options: &BuildOptions, state: State) -> Option<State> {
    match config.manifest {
        Some(_) if options.shard.is_none() => Some(state),
        _ => {
            discard(state, options.process_ends);
            None
        }
    }
}

/// The files named like outputs in the owned folders when some are not
/// recorded outputs (empty otherwise). Every recorded output there that is
/// on disk is one of them, so equal counts mean there is nothing else, and
/// a no-op build need not list the tree.
fn unrecorded_in(survey: &owned::Survey, state: &State, outputs: &OutputStates) -> Vec<PathBuf> {
    let recorded_there = state
        .values()
        .flat_map(|r| &r.outputs)
        .filter(|o| survey.holds(&o.path) && outputs.of(o.path.as_os_str()) != OutputState::Missing)
        .count();
    if recorded_there == survey.count {
        Vec::new()
    } else {
        survey.files()
    }
}

/// The owned folders of the output tree and the output-named files in
/// them (`owned::survey`). A writing build claims a variant's folder whose
/// images it has all recorded; a dry run or a check only looks.
fn survey_outputs(
    config: &Config,
    output_rel: &Path,
    state: &State,
    mode: Mode,
    count: bool,
) -> owned::Survey {
    let folders: Vec<&str> = config.variants.iter().map(|v| v.folder.as_str()).collect();
    // Built only if a folder without the marker has images to vouch for
    // (asked from several threads: one per folder).
    let recorded = std::sync::OnceLock::new();
    let is_recorded = |path: &Path| {
        recorded
            .get_or_init(|| model::output_paths(state))
            .contains(path.as_os_str())
    };
    owned::survey(
        &config.output,
        output_rel,
        &folders,
        &is_recorded,
        mode == Mode::Build,
        count,
    )
}

/// The mode of the shared cache for this build: `--remote`, else
/// `THUMBGEN_REMOTE_MODE`, else the config's.
fn remote_mode(configured: RemoteMode, flag: Option<RemoteMode>) -> Result<RemoteMode> {
    let env = std::env::var("THUMBGEN_REMOTE_MODE").ok();
    remote::resolve_mode(Some(configured), flag, env.as_deref()).map_err(Error::Config)
}

/// Free `value` on another thread, or with `process_ends` not at all.
/// Freeing hundreds of thousands of small records takes longer than a
/// no-op build's real work on big trees; a process that ends meanwhile
/// does not wait for it.
fn discard<T: Send + 'static>(value: T, process_ends: bool) {
    if process_ends {
        std::mem::forget(value);
    } else {
        std::thread::spawn(move || drop(value));
    }
}

/// Step 3: carry out `plan` — removals, records that change without work,
/// failures known before decoding, then every job on the pool — handing
/// each result to `commit`.
fn apply(plan: &Plan, executor: &Executor, commit: &Commit, reporter: &Reporter) -> Result<()> {
    let staging = executor.config.output.join(fsutil::STAGING_DIR);
    if let Err(e) = fsutil::sweep_staging(&staging) {
        reporter.warn(&clean_failed(e));
    }
    for (path, result) in plan
        .leftovers
        .iter()
        .zip(executor.remove_leftovers(&plan.leftovers))
    {
        match result {
            Ok(true) => {
                commit.counts.lock().unwrap().removed += 1;
                reporter.removed_leftover(path);
            }
            Ok(false) => {}
            Err(e) => reporter.warn(&leftover_left(e)),
        }
    }
    for (removal, result) in plan.removals.iter().zip(executor.remove(&plan.removals)) {
        let source = commit.names.source(&removal.source);
        match result {
            Ok(true) => {
                commit.counts.lock().unwrap().removed += 1;
                reporter.removed(&source, removal);
            }
            Ok(false) => {}
            Err(e) => reporter.warn(&Warning::RemoveFailed {
                path: e.path,
                error: describe_io(&e.error),
                reason: Some(removal.reason),
                source: Some(source),
            }),
        }
    }
    for rel in &plan.forget {
        commit.record(rel, None)?;
    }
    for (rel, record) in &plan.updates {
        commit.record(rel, Some(record))?;
    }
    for failure in &plan.failures {
        commit.counts.lock().unwrap().failed += 1;
        reporter.failed(&commit.names.source(&failure.source), &failure.failure);
    }

    reporter.start(plan.jobs.len());
    executor.run(&plan.jobs, &|job, outcome| {
        commit.outcome(job, outcome);
        reporter.advance();
    });
    reporter.finish();
    if let Err(e) = fsutil::finish_staging(&staging) {
        reporter.warn(&clean_failed(e));
    }
    Ok(())
}

/// Step 4's state: where outcomes go as they arrive — the record store, the
/// counts, the reporter, and (when a manifest is configured) the records
/// the manifest is made from, kept in step so the store need not be read
/// again.
struct Commit<'a> {
    db: Db,
    reporter: &'a Reporter,
    names: &'a Names<'a>,
    manifest: Option<Mutex<State>>,
    counts: Mutex<Summary>,
    /// The first error that must end the run (a full disk, a failing store).
    first_error: Mutex<Option<Error>>,
    /// The shared cache, whose warnings are reported as outcomes arrive.
    remote: Option<&'a Remote>,
    /// A `--shard` build: the manifest is left as it is.
    sharded: bool,
    /// See [`BuildOptions::process_ends`].
    process_ends: bool,
    /// Ctrl-C left a job undone. (A Ctrl-C after the last job has started
    /// interrupts nothing: that run finishes its work and says so.)
    cut_short: AtomicBool,
    /// Whether this run said that animations are flattened (once is
    /// enough).
    told_flattened: AtomicBool,
}

impl<'a> Commit<'a> {
    fn new(
        db: Db,
        reporter: &'a Reporter,
        names: &'a Names<'a>,
        manifest: Option<State>,
        counts: Summary,
        remote: Option<&'a Remote>,
        options: &BuildOptions,
    ) -> Commit<'a> {
        Commit {
            db,
            reporter,
            names,
            manifest: manifest.map(Mutex::new),
            counts: Mutex::new(counts),
            first_error: Mutex::new(None),
            remote,
            sharded: options.shard.is_some(),
            process_ends: options.process_ends,
            cut_short: AtomicBool::new(false),
            told_flattened: AtomicBool::new(false),
        }
    }

    /// The end of a build that ran its plan: the sweep recorded, the shared
    /// cache's uploads awaited, the manifest written, the summary shown.
    fn conclude(self, config: &Config, swept: bool, stop: &AtomicBool, mode: Mode) -> Result<Exit> {
        if swept {
            self.db.set_swept()?;
        }
        if let Some(remote) = self.remote {
            remote.finish(stop.load(Ordering::Relaxed));
            self.report_remote();
        }
        let interrupted = self.cut_short.load(Ordering::Relaxed);
        let reporter = self.reporter;
        let summary = self.finish(config)?;
        let exit = Exit::decide(&Ending {
            interrupted,
            failed: summary.failed,
            not_up_to_date: false,
        });
        reporter.summary(&summary, mode, exit);
        Ok(exit)
    }

    /// Record (or with `None`, forget) what is now true of source `rel`.
    fn record(&self, rel: &Path, record: Option<&SourceRecord>) -> Result<()> {
        match record {
            Some(record) => self.db.put(rel, record)?,
            None => self.db.forget(rel)?,
        }
        if let Some(state) = &self.manifest {
            let mut state = state.lock().unwrap();
            match record {
                Some(record) => state.insert(rel.to_path_buf(), record.clone()),
                None => state.remove(rel),
            };
        }
        Ok(())
    }

    /// Warnings of the shared cache raised so far.
    fn report_remote(&self) {
        for warning in self.remote.map(Remote::take_warnings).unwrap_or_default() {
            self.reporter.warn(&warning);
        }
    }

    /// One job's outcome, from a worker thread.
    fn outcome(&self, job: &Job, outcome: Outcome) {
        self.report_remote();
        if crate::codecs::take_av1_notice() {
            self.reporter.warn(&Warning::Av1WithoutAsm);
        }
        let source = self.names.source(&job.source);
        let committed = match outcome {
            Outcome::Built {
                record,
                built,
                leniency,
                flattened,
            } => {
                if flattened && !self.told_flattened.swap(true, Ordering::Relaxed) {
                    self.reporter.warn(&Warning::AnimationFlattened {
                        path: source.clone(),
                    });
                }
                if let Some(leniency) = leniency {
                    self.reporter.warn(&Warning::SourceRepaired {
                        path: source.clone(),
                        leniency,
                    });
                }
                {
                    let mut counts = self.counts.lock().unwrap();
                    for b in &built {
                        *match b.how {
                            Provenance::Built => &mut counts.built,
                            Provenance::Downloaded => &mut counts.downloaded,
                            Provenance::Moved => &mut counts.moved,
                            Provenance::Verified { .. } => &mut counts.verified,
                        } += 1;
                    }
                }
                self.reporter.built(&source, &built);
                self.record(&job.source, Some(&record))
            }
            Outcome::Failed { record, failure } => {
                self.counts.lock().unwrap().failed += 1;
                self.reporter.failed(&source, &failure);
                self.record(&job.source, record.as_ref())
            }
            Outcome::Unread { failure } => {
                self.counts.lock().unwrap().failed += 1;
                self.reporter.failed(&source, &failure);
                Ok(())
            }
            Outcome::Fatal { error } => Err(error),
            Outcome::Skipped => {
                self.cut_short.store(true, Ordering::Relaxed);
                Ok(())
            }
        };
        if let Err(e) = committed {
            self.first_error.lock().unwrap().get_or_insert(e);
        }
    }

    /// Make the records durable and write the manifest; the run's counts.
    fn finish(self, config: &Config) -> Result<Summary> {
        self.db.flush()?;
        if let Some(e) = self.first_error.into_inner().unwrap() {
            return Err(e);
        }
        if self.sharded {
            return Ok(self.counts.into_inner().unwrap());
        }
        // A manifest written under an earlier `manifest` setting goes, as
        // a clean build would not have it.
        let previous = self.db.manifest();
        let wanted = config.manifest.as_deref().map(|p| config.relative(p));
        if let Some((old, hash)) = &previous {
            if wanted.as_ref() != Some(old) {
                let path = config.resolve(old);
                let boundary = config.manifest_prune_boundary(&path);
                if let Err(e) = fsutil::remove_if_ours(&path, &Stat::default(), hash, boundary) {
                    self.reporter.warn(&clean_failed(e));
                }
            }
        }
        let written = match (&config.manifest, self.manifest) {
            (Some(path), Some(state)) => {
                let state = state.into_inner().unwrap();
                let recorded = previous
                    .as_ref()
                    .filter(|(old, _)| config.resolve(old) == *path)
                    .map(|(_, hash)| hash);
                let (hash, staging_left) = manifest::write(&state, config, path, recorded)?;
                if let Some(e) = staging_left {
                    self.reporter.warn(&clean_failed(e));
                }
                discard(state, self.process_ends);
                Some(hash)
            }
            _ => None,
        };
        let now = wanted.as_deref().zip(written.as_ref());
        if now.map(|(p, h)| (p.to_path_buf(), *h)) != previous {
            self.db.set_manifest(now)?;
            self.db.flush()?;
        }
        let Commit {
            db,
            counts,
            process_ends,
            ..
        } = self;
        if process_ends {
            db.close_at_exit()?;
        } else {
            drop(db);
        }
        Ok(counts.into_inner().unwrap())
    }
}

/// The output root goes too if thumbgen's files were all it held; one
/// that cannot be removed for another reason is a warning.
fn remove_output_root(config: &Config, reporter: &Reporter) {
    if let Err(e) = fsutil::remove_dir_if_empty(&config.output) {
        reporter.warn(&clean_failed(e));
    }
}

/// The warning for something of thumbgen's that could not be removed,
/// outside a build's removals (which say why they were removing).
fn clean_failed(e: fsutil::PathError) -> Warning {
    Warning::RemoveFailed {
        path: e.path,
        error: describe_io(&e.error),
        reason: None,
        source: None,
    }
}

/// `clean`'s removal of a recorded file: removed if it still holds what
/// thumbgen wrote (then `true`), else left with a warning that says why.
fn remove_recorded(
    path: &Path,
    stat: &Stat,
    hash: &Hash,
    boundary: &Path,
    reporter: &Reporter,
) -> bool {
    match fsutil::remove_if_ours(path, stat, hash, boundary) {
        Ok(removed) => {
            if !removed && path.exists() {
                reporter.warn(&Warning::OutputLeft {
                    path: path.to_path_buf(),
                });
            }
            removed
        }
        Err(e) => {
            reporter.warn(&clean_failed(e));
            false
        }
    }
}

/// The warning for a leftover that could not be removed.
fn leftover_left(e: fsutil::PathError) -> Warning {
    Warning::RemoveFailed {
        path: e.path,
        error: describe_io(&e.error),
        reason: Some(RemovalReason::Leftover),
        source: None,
    }
}

/// Remove (with `dry_run`, list) the files named like outputs in the
/// folders thumbgen owns, but not the `recorded` outputs (removed, or left
/// as edited by hand, by their records), then those folders if nothing of
/// the user's is left in them. How many files.
fn clean_owned(
    config: &Config,
    survey: &owned::Survey,
    recorded: &HashSet<&OsStr, rustc_hash::FxBuildHasher>,
    dry_run: bool,
    reporter: &Reporter,
) -> usize {
    let mut removed = 0;
    for rel in survey.files() {
        if recorded.contains(rel.as_os_str()) {
            continue;
        }
        let path = config.resolve(&rel);
        if dry_run {
            reporter.would_remove(&path);
            removed += 1;
            continue;
        }
        match fsutil::remove_and_prune(&path, &config.output) {
            Ok(true) => removed += 1,
            Ok(false) => {}
            Err(e) => reporter.warn(&leftover_left(e)),
        }
    }
    if !dry_run {
        // The folders are no longer claimed: a later build claims them
        // again if nothing in them is the user's.
        for (folder, _) in &survey.folders {
            // A marker left behind claims the folder again next build;
            // say so rather than pass over it.
            if let Err(e) = fsutil::remove_entry(&folder.join(owned::MARKER)) {
                reporter.warn(&clean_failed(e));
            }
            fsutil::prune_empty_dirs(folder, &config.output);
        }
    }
    removed
}

/// `thumbgen clean`: remove every output thumbgen recorded (if it is still
/// what thumbgen wrote), every other file named like an output in the
/// folders it owns (`owned`), the folders that emptied, and the cache.
/// With `dry_run`, list what would go and change nothing (not even the
/// cache, which is read from a private copy).
pub(crate) fn clean(explicit: Option<&Path>, dry_run: bool, reporter: &Reporter) -> Result<Exit> {
    let config = load_config(explicit)?;
    reporter.begin_run(&config.root);
    // What is left in the folders thumbgen owns once the recorded outputs
    // are gone: with a lost cache, that is every output. (Only looked at:
    // `clean` claims no folder.)
    let output_rel = config.relative(&config.output);
    let owned_folders =
        || survey_outputs(&config, &output_rel, &State::default(), Mode::DryRun, true);
    if !config.cache.exists() {
        let survey = owned_folders();
        if survey.folders.is_empty() {
            reporter.info("nothing to clean (no cache)");
            return Ok(Exit::Ok);
        }
        let removed = clean_owned(&config, &survey, &HashSet::default(), dry_run, reporter);
        if dry_run {
            reporter.would_clean(removed, false);
        } else {
            remove_output_root(&config, reporter);
            reporter.cleaned(removed, false);
        }
        return Ok(Exit::Ok);
    }
    let mut warnings = Vec::new();
    if dry_run {
        let db = Db::snapshot(&config.cache, &mut warnings)?;
        let state = db.load(&mut warnings);
        for w in &warnings {
            reporter.warn(w);
        }
        let mut outputs: Vec<_> = state.values().flat_map(|r| &r.outputs).collect();
        outputs.sort_by(|a, b| a.path.cmp(&b.path));
        let mut count = 0;
        for output in outputs {
            let path = config.resolve(&output.path);
            if fsutil::is_ours(&path, &output.stat, &output.hash) {
                reporter.would_remove(&path);
                count += 1;
            } else if path.exists() {
                reporter.warn(&Warning::OutputLeft { path });
            }
        }
        let recorded = model::output_paths(&state);
        count += clean_owned(&config, &owned_folders(), &recorded, true, reporter);
        // As `clean` does: only the manifest thumbgen recorded writing.
        if let Some((old, hash)) = db.manifest() {
            let path = config.resolve(&old);
            if fsutil::is_ours(&path, &Stat::default(), &hash) {
                reporter.would_remove(&path);
            } else if path.exists() {
                reporter.warn(&Warning::OutputLeft { path });
            }
        }
        reporter.would_remove(&config.cache);
        reporter.would_clean(count, true);
        return Ok(Exit::Ok);
    }
    let db = Db::open(&config.cache, &mut warnings)?;
    let state = db.load(&mut warnings);
    for w in &warnings {
        reporter.warn(w);
    }
    let mut removed = 0;
    let mut outputs: Vec<_> = state.values().flat_map(|r| &r.outputs).collect();
    outputs.sort_by(|a, b| a.path.cmp(&b.path));
    for output in outputs {
        let path = config.resolve(&output.path);
        let boundary = config.prune_boundary(&path);
        if remove_recorded(&path, &output.stat, &output.hash, boundary, reporter) {
            removed += 1;
        }
    }
    let recorded = model::output_paths(&state);
    removed += clean_owned(&config, &owned_folders(), &recorded, false, reporter);
    if let Err(e) = fsutil::sweep_staging(&config.output.join(fsutil::STAGING_DIR)) {
        reporter.warn(&clean_failed(e));
    }
    // The manifest goes only if it is the one thumbgen recorded writing,
    // as `--dry-run` says: a file at the configured path that thumbgen did
    // not write is a user's.
    if let Some((old, hash)) = db.manifest() {
        let path = config.resolve(&old);
        let boundary = config.manifest_prune_boundary(&path);
        remove_recorded(&path, &Stat::default(), &hash, boundary, reporter);
    }
    remove_output_root(&config, reporter);
    drop(db);
    // Only what thumbgen keeps there: a cache folder pointed at a user's
    // folder keeps everything else.
    let ours = [
        db::STORE_DIR,
        db::LOCK_FILE,
        fingerprint::CLOCK_FILE,
        crate::origin::ORIGINALS_DIR,
    ];
    if let Err(e) = fsutil::remove_entries(&config.cache, &ours) {
        reporter.warn(&clean_failed(e));
    }
    reporter.cleaned(removed, true);
    Ok(Exit::Ok)
}
