//! The planner: a pure function from what is on disk (observed sources and
//! the state of recorded outputs), what was recorded, and the configuration
//! to the least work that makes the output tree equal to a clean build.
//!
//! Every build carries a `Reason`, computed here and rendered elsewhere
//! (like cargo's `DirtyReason`). No I/O, no clock, no randomness: the same
//! inputs always give the same plan, in a deterministic order.
//!
//! # What happens to a source
//!
//! First the source as a whole, in this order; the first row that applies
//! decides:
//!
//! | the source | what the plan holds | reason / kind |
//! |---|---|---|
//! | recorded, unreadable for now (I/O error) | a failure; its outputs and record stay | `io` (failure) |
//! | unreadable, not recorded | a failure | `io` |
//! | collides with another source (same output paths) | a failure; its outputs go | `collision`; `source_failed` (removal) |
//! | new, with the content of a recorded source that vanished | its outputs move, per variant whose recipe matches | `renamed` |
//! | not recorded | every output built | `new_source` |
//! | content hash differs from the record | every output built | `source_changed` |
//! | failed last time | every output built | `previously_failed` |
//! | gone, or now excluded | its outputs removed, its record forgotten | `source_removed`, `source_excluded` |
//!
//! Then each output a variant wants of a source that is not rebuilt whole,
//! by `decide::decide` (tested there as a table), first row first:
//!
//! | the recorded output | | reason |
//! |---|---|---|
//! | none | built | `new_variant` |
//! | at another path, or made with another recipe | built | `variant_changed` (with the settings that changed) |
//! | made by another pipeline version | built | `pipeline_changed` |
//! | missing on disk | built | `output_missing` |
//! | edited on disk (stat and content differ) | built | `output_modified` |
//! | `--force` | built | `forced` |
//! | stat changed, content as written | kept; the record takes the new stat | |
//! | as recorded | kept | |
//!
//! And what no variant wants any more:
//!
//! | the recorded output | | reason |
//! |---|---|---|
//! | its variant is gone from the config | removed | `variant_removed` |
//! | the variant writes elsewhere now | removed | `moved` |
//! | a set member this source no longer gets (narrower than it) | removed | `redundant` |
//! | an image in a folder thumbgen owns that no record lists (a lost cache) | removed | `leftover` |
//!
//! Nothing is removed that is not provably thumbgen's: an output edited
//! by hand is left where it is (`output_disowned`), and with `--shard`
//! only the shard's sources are planned.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use std::sync::Arc;

use decide::{decide, Decision, Facts, Why};

use rayon::prelude::*;

use crate::focus::{FocalPoint, FocalPoints};
use crate::model::Placeholders;
use crate::model::{
    Fingerprint, Hash, ObservedSource, OutputRecord, OutputState, OutputStates, Placeholder,
    Recipes, Shape, SourceRecord, Stat, State, Unreadable,
};
use crate::problem::Failure;
use crate::reason::{Change, Reason, RemovalReason};
use crate::record;
use crate::render::geometry::is_made;
use crate::shard::Shard;
use crate::variant::{Variant, PIPELINE_VERSION};

#[derive(Debug, Clone, PartialEq, Eq)]
/// One output to (re)build.
pub struct Build {
    /// Index into the configured variants.
    pub variant: usize,
    /// Relative to the config folder.
    pub path: PathBuf,
    /// Why.
    pub reason: Reason,
    /// For a renamed source: the old source's output, to move here instead
    /// of rendering (rendered after all if it is no longer what was
    /// recorded).
    pub from: Option<OutputRecord>,
    /// For a content-named (`hash_names`) output: the one recorded for this
    /// variant, which the new one replaces. Its name is only known once the
    /// new bytes are: if they are the same, so is the name, and the file
    /// stays (verified); otherwise it is removed once the new one is in
    /// place, as part of this build.
    pub replaces: Option<OutputRecord>,
    /// For a content-named output with no record to replace: a file in a
    /// folder thumbgen owns with this output's name and another digest
    /// (left by a build whose records were since lost). It goes once the
    /// new one is in place, unless the new one has its name.
    pub stray: Option<PathBuf>,
}

/// One source to decode, and the variants to render from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Relative to the source root.
    pub source: PathBuf,
    /// What the source was when planned.
    pub fingerprint: Fingerprint,
    /// The outputs to render, in variant order.
    pub builds: Vec<Build>,
    /// Outputs that stay as they are; part of the source's next record.
    pub keep: Vec<OutputRecord>,
    /// Outputs recorded before that this job's outputs do not overwrite but
    /// that must go if the job fails (a failed source has no outputs).
    pub previous: Vec<OutputRecord>,
    /// The source's shape when it is known without decoding: a renamed
    /// source's, whose outputs may all move.
    pub shape: Option<Shape>,
    /// Placeholders recorded for this content that still hold; `None` when
    /// the config wants them and the job must decode to make them.
    pub placeholder: Option<Box<Placeholder>>,
    /// What the records say of the source, which `--check` acts on.
    pub standing: Standing,
    /// The source's focal point, which the outputs of variants with
    /// `position = "focus"` are cropped around and whose recipe holds it.
    pub focus: Option<FocalPoint>,
}

/// What the records say of a job's source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Recorded (or a recorded source renamed).
    Recorded,
    /// Not recorded at all: with no cache every source is, and `--check`
    /// then compares the files on disk with what a build would write.
    Unrecorded,
    /// It failed last time with this content and these settings: a build
    /// would fail again, and `--check` says so rather than call it stale.
    FailsAsBefore,
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// A recorded output to delete.
pub struct Removal {
    /// Its source, relative to the source root.
    pub source: PathBuf,
    /// What was recorded of it.
    pub output: OutputRecord,
    /// Why it goes.
    pub reason: RemovalReason,
}

/// A source known to fail before any decoding.
#[derive(Debug)]
pub struct SourceFailure {
    /// Relative to the source root.
    pub source: PathBuf,
    /// Why.
    pub failure: Failure,
}

#[derive(Debug, Default)]
/// The least work that makes the output tree what a clean build leaves.
pub struct Plan {
    /// Sources to decode, with the outputs to render from each.
    pub jobs: Vec<Job>,
    /// Sources that fail before decoding.
    pub failures: Vec<SourceFailure>,
    /// Done before any job, so that a path freed here can be written again.
    pub removals: Vec<Removal>,
    /// Recorded outputs that were modified by hand and are no longer
    /// wanted: thumbgen cannot prove they are its own, so it leaves them
    /// and forgets them.
    pub disowned: Vec<PathBuf>,
    /// Files in folders thumbgen owns that are named like outputs but that
    /// no record lists and no build writes (left by a build whose cache
    /// was since lost): a clean build would not have them. Removed, like
    /// `removals`, before any job.
    pub leftovers: Vec<PathBuf>,
    /// Records to write without any work (touched-but-identical sources,
    /// outputs whose stat changed, variants removed).
    pub updates: Vec<(PathBuf, SourceRecord)>,
    /// Records to drop (source gone or failing before decode).
    pub forget: Vec<PathBuf>,
    /// Outputs that are already right.
    pub up_to_date: usize,
    /// Sources known to fail, which no build can help (`--check` only; see
    /// `Executor::settle_by_content`), relative to the source root.
    pub failing: Vec<PathBuf>,
}

impl Plan {
    /// How many outputs the jobs render.
    pub fn build_count(&self) -> usize {
        self.jobs.iter().map(|j| j.builds.len()).sum()
    }

    /// Whether a build would change the output tree.
    pub fn has_work(&self) -> bool {
        !self.jobs.is_empty()
            || !self.failures.is_empty()
            || !self.removals.is_empty()
            || !self.leftovers.is_empty()
    }
}

/// Every output that is right as it is, by source (for listings): the
/// kept outputs of jobs, and all outputs of sources with nothing to do.
pub fn fresh_outputs<'a>(
    plan: &'a Plan,
    state: &'a State,
    observed: &'a [ObservedSource],
) -> Vec<(&'a Path, &'a [OutputRecord])> {
    let mut busy: HashSet<&Path> = plan.jobs.iter().map(|j| j.source.as_path()).collect();
    busy.extend(plan.failures.iter().map(|f| f.source.as_path()));
    let updated: HashMap<&Path, &SourceRecord> =
        plan.updates.iter().map(|(p, r)| (p.as_path(), r)).collect();
    let mut out: Vec<(&Path, &[OutputRecord])> = plan
        .jobs
        .iter()
        .map(|j| (j.source.as_path(), j.keep.as_slice()))
        .collect();
    for source in observed.iter().filter(|s| !busy.contains(s.rel.as_path())) {
        let record = updated
            .get(source.rel.as_path())
            .copied()
            .or_else(|| state.get(&source.rel));
        if let Some(record) = record {
            out.push((source.rel.as_path(), &record.outputs));
        }
    }
    out.sort_by(|a, b| a.0.cmp(b.0));
    out
}

/// What of the config the planner needs.
pub struct Settings<'a> {
    /// The configured variants.
    pub variants: &'a [Variant],
    /// The settings of recorded recipes, to say what changed in a variant.
    pub recipes: &'a Recipes,
    /// `record::failure_context` of this build's settings.
    pub failure_context: Hash,
    /// The output root relative to the config folder (e.g. `public/thumbs`).
    pub output: &'a Path,
    /// `--force`: rebuild outputs that are up to date.
    pub force: bool,
    /// `--shard`: plan only the sources of this part; records of other
    /// parts are left as they are.
    pub shard: Option<Shard>,
    /// Sources of other parts, relative to the source root: not planned,
    /// but a collision with one of them is still a collision.
    pub elsewhere: &'a [PathBuf],
    /// The placeholders every source's record must hold.
    pub placeholders: Placeholders,
    /// The sources' focal points: part of the recipe of their outputs of
    /// variants with `position = "focus"`.
    pub focus: &'a FocalPoints,
    /// Files named like outputs in the folders thumbgen owns
    /// (`owned::survey`), relative to the config folder; `None` when they
    /// are not to be swept (a shard knows only part of the tree).
    pub owned_files: Option<&'a [PathBuf]>,
}

/// Whether `placeholder` is what a clean build would record under `wanted`
/// (it is made from a decode that depends on the source alone).
fn placeholder_holds(placeholder: &Placeholder, wanted: Placeholders) -> bool {
    let made = Placeholders {
        thumbhash: placeholder.thumbhash.is_some(),
        blurhash: placeholder.blurhash.is_some(),
    };
    made == wanted
}

/// Where `source`'s output for `variant` goes, relative to the config folder.
pub fn output_path(settings: &Settings, variant: &Variant, source: &Path) -> PathBuf {
    let mut path = PathBuf::new();
    output_path_into(&mut path, settings, variant, source);
    path
}

/// [`output_path`] into a reused buffer.
fn output_path_into(path: &mut PathBuf, settings: &Settings, variant: &Variant, source: &Path) {
    path.as_mut_os_string().clear();
    path.push(settings.output);
    variant.push_output_rel(path, source);
}

/// Sources planned together on one thread; larger catalogues are planned
/// in parts of this many sources, in parallel, when no source may be a
/// renamed one.
const PART: usize = 4096;

/// Plan one build: compare what is on disk with what was recorded and
/// what is configured. Pure and deterministic.
pub fn plan(
    observed: &[ObservedSource],
    excluded: &[PathBuf],
    state: &State,
    outputs: &OutputStates,
    settings: &Settings,
) -> Plan {
    plan_in_parts(observed, excluded, state, outputs, settings, PART)
}

/// [`plan`], with sources planned in parts of `part` sources.
fn plan_in_parts(
    observed: &[ObservedSource],
    excluded: &[PathBuf],
    state: &State,
    outputs: &OutputStates,
    settings: &Settings,
    part: usize,
) -> Plan {
    let collisions = collisions(observed, settings.elsewhere);
    let recipes: Vec<Hash> = settings
        .variants
        .iter()
        .map(|v| v.settings_hash())
        .collect();
    let sources = Sources {
        observed,
        state,
        outputs,
        settings,
        collisions: &collisions,
        recipes: &recipes,
    };
    let in_part = |rel: &Path| settings.shard.is_none_or(|shard| shard.contains(rel));
    let state_of = |o: &OutputRecord| outputs.of(o.path.as_os_str());

    // Each part is planned on its own, and the parts joined in order: the
    // same plan as one pass, as long as no source may be a renamed one
    // (which claims a vanished record, the first claim winning). A part
    // that meets such a source gives up, and everything is planned in one
    // pass.
    let parts = if observed.len() > part {
        observed
            .par_chunks(part)
            .map(|chunk| sources.plan(chunk, None))
            .collect::<Option<Vec<_>>>()
    } else {
        None
    };
    let mut renames = Renames::default();
    let (mut plan, recorded_seen) = match parts {
        Some(parts) => {
            let mut plan = Plan::default();
            let mut recorded_seen = 0;
            for (part, seen) in parts {
                recorded_seen += seen;
                plan.jobs.extend(part.jobs);
                plan.failures.extend(part.failures);
                plan.removals.extend(part.removals);
                plan.disowned.extend(part.disowned);
                plan.updates.extend(part.updates);
                plan.forget.extend(part.forget);
                plan.up_to_date += part.up_to_date;
            }
            (plan, recorded_seen)
        }
        None => sources
            .plan(observed, Some(&mut renames))
            .expect("planning with renames never gives up"),
    };

    // Every record belongs to a distinct observed source: none is gone.
    let mut gone: Vec<(&PathBuf, &SourceRecord)> = if recorded_seen == state.len() {
        Vec::new()
    } else {
        let observed_paths: HashSet<&OsStr, rustc_hash::FxBuildHasher> =
            observed.iter().map(|s| s.rel.as_os_str()).collect();
        state
            .iter()
            .filter(|(rel, _)| !observed_paths.contains(rel.as_os_str()) && in_part(rel))
            .collect()
    };
    gone.sort_by(|a, b| a.0.cmp(b.0));
    for (rel, record) in gone {
        // `excluded` is sorted by bytes, as the walk sorts.
        let reason = match excluded.binary_search_by(|p| p.as_os_str().cmp(rel.as_os_str())) {
            Ok(_) => RemovalReason::SourceExcluded,
            Err(_) => RemovalReason::SourceRemoved,
        };
        // Outputs moving to a renamed source are not removed.
        for o in record
            .outputs
            .iter()
            .filter(|o| !renames.moved.contains(o.path.as_os_str()))
        {
            remove_if_owned(&mut plan, rel, o, reason, state_of(o));
        }
        plan.forget.push(rel.clone());
    }

    plan.removals
        .sort_by(|a, b| a.output.path.cmp(&b.output.path));
    plan.disowned.sort();
    if let Some(files) = settings.owned_files {
        plan.leftovers = leftovers(files, state, &mut plan, settings.variants);
    }
    plan
}

/// The `files` (named like outputs, in owned folders) that are neither
/// recorded nor about to be written. A content-named file with the name of
/// an output about to be built is that build's `stray` instead: the new
/// name is only known after the render, and may be the same.
fn leftovers(
    files: &[PathBuf],
    state: &State,
    plan: &mut Plan,
    variants: &[Variant],
) -> Vec<PathBuf> {
    let recorded = crate::model::output_paths(state);
    let unrecorded: Vec<&PathBuf> = files
        .iter()
        .filter(|f| !recorded.contains(f.as_os_str()))
        .collect();
    if unrecorded.is_empty() {
        return Vec::new();
    }
    let written: HashSet<&OsStr, rustc_hash::FxBuildHasher> = plan
        .jobs
        .iter()
        .flat_map(|j| j.builds.iter().map(|b| b.path.as_os_str()))
        .collect();
    let mut left: Vec<PathBuf> = unrecorded
        .into_iter()
        .filter(|f| !written.contains(f.as_os_str()))
        .cloned()
        .collect();
    if variants.iter().any(|v| v.hash_names) {
        // Content-named builds by the name they have before the digest.
        let mut named: HashMap<PathBuf, &mut Build> = plan
            .jobs
            .iter_mut()
            .flat_map(|j| j.builds.iter_mut())
            .filter(|b| variants[b.variant].hash_names && b.replaces.is_none())
            .map(|b| (b.path.clone(), b))
            .collect();
        left.retain(|file| {
            let Some(plain) = crate::variant::without_content_hash(file) else {
                return true;
            };
            match named.get_mut(&plain) {
                Some(build) if build.stray.is_none() => {
                    build.stray = Some(file.clone());
                    false
                }
                _ => true,
            }
        });
    }
    left.sort();
    left
}

/// What every source of a plan is planned against.
struct Sources<'a> {
    observed: &'a [ObservedSource],
    state: &'a State,
    outputs: &'a OutputStates,
    settings: &'a Settings<'a>,
    collisions: &'a HashMap<PathBuf, PathBuf>,
    /// Each variant's recipe.
    recipes: &'a [Hash],
}

/// What is known of one readable source before its outputs are decided.
struct SourceAt<'a> {
    record: Option<&'a SourceRecord>,
    fingerprint: Fingerprint,
    /// Why every output is rebuilt, if one is (new, changed, failed).
    whole: Option<Reason>,
    /// The vanished source this one is, renamed.
    renamed: Option<(&'a PathBuf, &'a SourceRecord)>,
    /// The shape this content has, where it is known without decoding: it
    /// decides which members of a set the source gets.
    known_shape: Option<Shape>,
    /// Its focal point.
    focus: Option<FocalPoint>,
}

impl<'a> SourceAt<'a> {
    fn recorded(&self) -> &'a [OutputRecord] {
        self.record.map_or(&[], |r| &r.outputs)
    }
}

/// Reused from source to source, so that an up-to-date source costs no
/// allocation: the output path each variant wants (rebuilt in place), and
/// the outputs that stay, borrowed from their records, with a new stat if
/// only their stat changed.
struct Scratch<'a> {
    wanted: Vec<PathBuf>,
    kept: Vec<(&'a OutputRecord, Option<Stat>)>,
}

impl<'a> Sources<'a> {
    /// The plan of the sources `part` of `observed`, and how many of them
    /// have a record. Without `renames`, `None` on meeting a source that may
    /// be a renamed one.
    fn plan(
        &self,
        part: &[ObservedSource],
        mut renames: Option<&mut Renames<'a>>,
    ) -> Option<(Plan, usize)> {
        let settings = self.settings;
        let mut plan = Plan::default();
        let in_part = |rel: &Path| settings.shard.is_none_or(|shard| shard.contains(rel));
        let mut variant_changes = VariantChanges::new(settings);
        let mut scratch = Scratch {
            wanted: vec![PathBuf::new(); settings.variants.len()],
            kept: Vec::new(),
        };
        let mut recorded_seen = 0;
        for source in part.iter().filter(|s| in_part(&s.rel)) {
            let record = self.state.get(&source.rel);
            recorded_seen += usize::from(record.is_some());
            let collision = self.collisions.get(&source.rel);
            let state_of = |o: &OutputRecord| self.state_of(o);
            let Some(fingerprint) = readable(&mut plan, source, record, collision, &state_of)
            else {
                continue;
            };
            // A new source with the content of one that vanished is that source
            // renamed: its outputs move rather than being rendered again.
            let renamed = match (record, fingerprint.hash) {
                (None, Some(hash)) => {
                    renames
                        .as_deref_mut()?
                        .claim(hash, self.observed, self.state)
                }
                _ => None,
            };
            let whole = source_reason(record, &fingerprint, settings);
            let known_shape = match whole {
                None => record.and_then(|r| r.shape),
                Some(_) => renamed
                    .and_then(|(_, old)| old.shape)
                    .or(fingerprint.probed),
            };
            let at = SourceAt {
                record,
                fingerprint,
                whole,
                renamed,
                known_shape,
                focus: settings.focus.at(&source.rel),
            };
            scratch.kept.clear();
            let builds = self.outputs(
                &source.rel,
                &at,
                &mut scratch,
                &mut variant_changes,
                renames.as_deref_mut(),
            );
            let dropped = self.drop_unwanted(&mut plan, &source.rel, &at, &scratch.wanted);
            self.finish(&mut plan, &source.rel, at, builds, &scratch.kept, dropped);
        }
        Some((plan, recorded_seen))
    }

    fn state_of(&self, o: &OutputRecord) -> OutputState {
        self.outputs.of(o.path.as_os_str())
    }

    /// The recipe of the source's output of variant `index`: the
    /// variant's, or with the source's focal point for a variant that
    /// crops around it.
    fn recipe(&self, at: &SourceAt, index: usize) -> Hash {
        let variant = &self.settings.variants[index];
        match at.focus {
            Some(point) if variant.uses_focus() => variant.recipe(Some(point)),
            _ => self.recipes[index],
        }
    }

    /// The builds of one source, variant by variant, with the path each
    /// variant wants in `scratch.wanted` and the outputs that stay in
    /// `scratch.kept`.
    fn outputs(
        &self,
        rel: &Path,
        at: &SourceAt<'a>,
        scratch: &mut Scratch<'a>,
        variant_changes: &mut VariantChanges,
        mut renames: Option<&mut Renames<'a>>,
    ) -> Vec<Build> {
        let mut builds = Vec::new();
        for (index, variant) in self.settings.variants.iter().enumerate() {
            let path = &mut scratch.wanted[index];
            if at.known_shape.is_some_and(|shape| !is_made(shape, variant)) {
                // Matches no recorded output: one made before goes.
                path.as_mut_os_string().clear();
                continue;
            }
            output_path_into(path, self.settings, variant, rel);
            let existing = at.recorded().iter().find(|o| *o.variant == *variant.name);
            let in_place = existing.is_some_and(|o| is_in_place(variant, o, path));
            let reason = match self.decision(at, index, existing, in_place) {
                Decision::Keep { restat } => {
                    scratch
                        .kept
                        .push((existing.expect("only a recorded output stays"), restat));
                    None
                }
                Decision::Rebuild(why) => {
                    // A changed recipe is shown at the recorded output's path
                    // when it stays there, at the new path when it moves.
                    let shown = existing.filter(|_| in_place).map_or(&**path, |o| &o.path);
                    Some(self.reason(why, at, index, existing, shown, variant_changes))
                }
            };
            let stays = reason.is_none();
            // A content-named output of ours that is rebuilt is replaced
            // by the build (see `Build::replaces`), not removed first.
            let replaces = existing.filter(|o| {
                variant.hash_names
                    && !stays
                    && in_place
                    && matches!(
                        self.state_of(o),
                        OutputState::Intact | OutputState::Restat(_)
                    )
            });
            if let Some(reason) = reason {
                let build = Build {
                    variant: index,
                    path: path.clone(),
                    reason,
                    from: None,
                    replaces: replaces.cloned(),
                    stray: None,
                };
                builds.push(self.moved_if_renamed(build, at, renames.as_deref_mut()));
            }
            if variant.hash_names {
                // What is wanted of a content-named output: the recorded
                // file if it stays, else nothing (the new one is named
                // after its new content; the recorded one goes, below).
                match existing.filter(|_| stays).or(replaces) {
                    Some(o) => path.clone_from(&o.path.to_path_buf()),
                    None => path.as_mut_os_string().clear(),
                }
            }
        }
        builds
    }

    /// The rule of [`decide`] for the output of variant `index`.
    fn decision(
        &self,
        at: &SourceAt,
        index: usize,
        existing: Option<&OutputRecord>,
        in_place: bool,
    ) -> Decision {
        decide(&Facts {
            source_rebuilt: at.whole.is_some(),
            recorded: existing.map(|o| self.state_of(o)),
            in_place,
            same_recipe: existing.is_some_and(|o| o.settings == self.recipe(at, index)),
            same_pipeline: existing.is_some_and(|o| o.pipeline == PIPELINE_VERSION),
            force: self.settings.force,
        })
    }

    /// The [`Reason`], with its details, of a rebuild for `why`; a changed
    /// recipe is shown at `shown`.
    fn reason(
        &self,
        why: Why,
        at: &SourceAt,
        index: usize,
        existing: Option<&OutputRecord>,
        shown: &Path,
        variant_changes: &mut VariantChanges,
    ) -> Reason {
        let o = match (why, existing) {
            (Why::Source, _) => return at.whole.clone().expect("the source is rebuilt"),
            (Why::NewVariant, _) => return Reason::NewVariant,
            (_, Some(o)) => o,
            (_, None) => unreachable!("decide needs a record"),
        };
        match why {
            Why::VariantChanged => variant_changes.reason(index, at.focus, o, shown),
            Why::PipelineChanged => Reason::PipelineChanged {
                old: o.pipeline,
                new: PIPELINE_VERSION,
            },
            Why::OutputMissing => Reason::OutputMissing,
            Why::OutputModified => Reason::OutputModified,
            Why::Forced => Reason::Forced,
            Why::Source | Why::NewVariant => unreachable!("matched above"),
        }
    }

    /// `build`, or a move of the renamed source's output instead where it
    /// was made with the same recipe: same content and recipe, so the same
    /// bytes as a clean build would make, as an output depends on nothing
    /// else.
    fn moved_if_renamed(
        &self,
        build: Build,
        at: &SourceAt,
        renames: Option<&mut Renames<'a>>,
    ) -> Build {
        let variant = &self.settings.variants[build.variant];
        let movable = at.renamed.and_then(|(from, old)| {
            let o = old.outputs.iter().find(|o| {
                *o.variant == *variant.name
                    && o.settings == self.recipe(at, build.variant)
                    && o.pipeline == PIPELINE_VERSION
            })?;
            let restat = match self.state_of(o) {
                OutputState::Intact => None,
                OutputState::Restat(stat) => Some(stat),
                OutputState::Missing | OutputState::Modified => return None,
            };
            Some((from, record::kept(o, restat)))
        });
        let Some((from, o)) = movable else {
            return build;
        };
        if let Some(renames) = renames {
            renames.moved.insert(o.path.as_os_str().to_os_string());
        }
        Build {
            reason: Reason::Renamed { from: from.clone() },
            from: Some(o),
            ..build
        }
    }

    /// Removes the recorded outputs of a source that no variant writes any
    /// more (`wanted`); whether there were any.
    fn drop_unwanted(
        &self,
        plan: &mut Plan,
        rel: &Path,
        at: &SourceAt,
        wanted: &[PathBuf],
    ) -> bool {
        let mut dropped = false;
        for o in at
            .recorded()
            .iter()
            .filter(|o| !wanted.iter().any(|w| w.as_os_str() == o.path.as_os_str()))
        {
            let made_here = |v: &Variant| at.known_shape.is_none_or(|shape| is_made(shape, v));
            let reason = match self
                .settings
                .variants
                .iter()
                .find(|v| *v.name == *o.variant)
            {
                Some(v) if made_here(v) => RemovalReason::Moved,
                Some(_) => RemovalReason::Redundant,
                None => RemovalReason::VariantRemoved,
            };
            remove_if_owned(plan, rel, o, reason, self.state_of(o));
            dropped = true;
        }
        dropped
    }

    /// The end of a source: a job when there is something to render, a
    /// record update when only what was recorded of it changed.
    fn finish(
        &self,
        plan: &mut Plan,
        rel: &Path,
        at: SourceAt,
        builds: Vec<Build>,
        kept: &[(&OutputRecord, Option<Stat>)],
        dropped: bool,
    ) {
        let settings = self.settings;
        plan.up_to_date += kept.len();
        let keep = || -> Vec<OutputRecord> {
            let mut keep: Vec<OutputRecord> = kept
                .iter()
                .map(|(o, stat)| record::kept(o, *stat))
                .collect();
            keep.sort_by(|a, b| a.path.cmp(&b.path));
            keep
        };
        let placeholder = settings
            .placeholders
            .any()
            .then(|| match at.whole {
                None => at.record,
                Some(_) => at.renamed.map(|(_, old)| old),
            })
            .flatten()
            .and_then(|r| r.placeholder.as_ref())
            .filter(|p| placeholder_holds(p, settings.placeholders))
            .cloned();
        // Nothing to render, but placeholders to make: a decode.
        let needs_decode = settings.placeholders.any() && placeholder.is_none();
        if !builds.is_empty() || needs_decode {
            let previous = at
                .recorded()
                .iter()
                .filter(|o| {
                    builds.iter().any(|b| {
                        *b.path == *o.path || b.replaces.as_ref().is_some_and(|r| r.path == o.path)
                    })
                })
                .cloned()
                .collect();
            plan.jobs.push(Job {
                source: rel.to_path_buf(),
                fingerprint: at.fingerprint,
                standing: standing(&at),
                builds,
                keep: keep(),
                previous,
                shape: at.renamed.and_then(|(_, old)| old.shape),
                placeholder,
                focus: at.focus,
            });
            return;
        }
        let record = at.record.expect("a source with no builds has a record");
        let restatted = kept.iter().any(|(_, stat)| stat.is_some());
        let unchanged = !restatted
            && !dropped
            && (settings.placeholders.any() || record.placeholder.is_none())
            && record.stat == at.fingerprint.stat
            && record.racy == at.fingerprint.racy;
        if !unchanged {
            let mut next = record::reobserved(record, &at.fingerprint, keep());
            if !settings.placeholders.any() {
                next.placeholder = None;
            }
            plan.updates.push((rel.to_path_buf(), next));
        }
    }
}

/// Whether the recorded output `o` is where `variant` writes now (`path`):
/// a content-named one is `path` with a digest in its name.
fn is_in_place(variant: &Variant, o: &OutputRecord, path: &Path) -> bool {
    if variant.hash_names {
        crate::variant::is_hashed_form_of(&o.path, path)
    } else {
        o.path.as_os_str() == path.as_os_str()
    }
}

/// What `--check` makes of a job's source (see [`Standing`]).
fn standing(at: &SourceAt) -> Standing {
    match (at.record, at.renamed, &at.whole) {
        (
            Some(_),
            _,
            Some(Reason::PreviouslyFailed {
                same_settings: true,
            }),
        ) => Standing::FailsAsBefore,
        (None, None, _) => Standing::Unrecorded,
        _ => Standing::Recorded,
    }
}

/// The source's fingerprint, if it can be planned: an unreadable source,
/// or one that collides with another, is a failure in `plan` instead.
fn readable(
    plan: &mut Plan,
    source: &ObservedSource,
    record: Option<&SourceRecord>,
    collision: Option<&PathBuf>,
    state_of: &impl Fn(&OutputRecord) -> OutputState,
) -> Option<Fingerprint> {
    let failure = match (&source.fingerprint, collision) {
        (Ok(fingerprint), None) => return Some(*fingerprint),
        // There but unreadable, maybe for a moment: what it had stays.
        (Err(Unreadable::Io(error)), _) if record.is_some() => {
            plan.failures.push(SourceFailure {
                source: source.rel.clone(),
                failure: Failure::Unread {
                    error: error.clone(),
                },
            });
            return None;
        }
        (Err(error), _) => Failure::Unreadable(error.clone()),
        (Ok(_), Some(other)) => Failure::Collision {
            other: other.clone(),
        },
    };
    fail(plan, source, record, failure, state_of);
    None
}

/// Why every output of the source is rebuilt, if one is: it is new, its
/// content changed, or it failed last time.
fn source_reason(
    record: Option<&SourceRecord>,
    fingerprint: &Fingerprint,
    settings: &Settings,
) -> Option<Reason> {
    match record {
        None => Some(Reason::NewSource),
        Some(r) if Some(r.hash) != fingerprint.hash => Some(Reason::SourceChanged),
        Some(r) if r.failed.is_some() => Some(Reason::PreviouslyFailed {
            same_settings: r.failed == Some(settings.failure_context),
        }),
        Some(_) => None,
    }
}

/// A source that fails before decoding: its outputs go, its record goes.
fn fail(
    plan: &mut Plan,
    source: &ObservedSource,
    record: Option<&SourceRecord>,
    failure: Failure,
    state_of: &impl Fn(&OutputRecord) -> OutputState,
) {
    if let Some(record) = record {
        for o in &record.outputs {
            remove_if_owned(
                plan,
                &source.rel,
                o,
                RemovalReason::SourceFailed,
                state_of(o),
            );
        }
        plan.forget.push(source.rel.clone());
    }
    plan.failures.push(SourceFailure {
        source: source.rel.clone(),
        failure,
    });
}

fn remove_if_owned(
    plan: &mut Plan,
    source: &Path,
    output: &OutputRecord,
    reason: RemovalReason,
    state: OutputState,
) {
    match state {
        OutputState::Intact | OutputState::Restat(_) => plan.removals.push(Removal {
            source: source.to_path_buf(),
            output: output.clone(),
            reason,
        }),
        OutputState::Modified => plan.disowned.push(output.path.to_path_buf()),
        OutputState::Missing => {}
    }
}

/// What changed in each variant against a recorded output's recipe,
/// computed once per variant, focal point and old recipe (a variant edit
/// touches every source, and the reason is the same for all of them).
struct VariantChanges<'a> {
    settings: &'a Settings<'a>,
    known: HashMap<ChangesOf, Arc<[Change]>, rustc_hash::FxBuildHasher>,
}

/// A variant's index, the source's focal point and the recorded recipe.
type ChangesOf = (usize, Option<FocalPoint>, Hash);

impl<'a> VariantChanges<'a> {
    fn new(settings: &'a Settings<'a>) -> Self {
        VariantChanges {
            settings,
            known: HashMap::default(),
        }
    }

    /// Why the output `old` of variant `index` is rebuilt when it should now
    /// be at `path`, for a source whose focal point is `focus`.
    fn reason(
        &mut self,
        index: usize,
        focus: Option<FocalPoint>,
        old: &OutputRecord,
        path: &Path,
    ) -> Reason {
        let settings = self.settings;
        let variant = &settings.variants[index];
        let focus = focus.filter(|_| variant.uses_focus());
        let key = (index, focus, old.settings);
        let changes =
            self.known
                .entry(key)
                .or_insert_with(|| match settings.recipes.get(&old.settings) {
                    Some(recorded) => {
                        Change::between(recorded, &variant.settings_for(focus)).into()
                    }
                    None => Arc::from([]),
                });
        let format_changed = changes.iter().any(|c| c.key == "format");
        let changes = if *old.path != *path && !format_changed {
            // Only where it writes changed (the output folder moved).
            let mut with_path = changes.to_vec();
            with_path.push(Change {
                key: "path".into(),
                old: Some(old.path.to_string_lossy().into_owned()),
                new: Some(path.to_string_lossy().into_owned()),
            });
            with_path.into()
        } else {
            changes.clone()
        };
        Reason::VariantChanged {
            variant: variant.name.clone(),
            changes,
        }
    }
}

/// Records of sources that vanished, by content, for new sources that are
/// those sources renamed. Built on first use: most builds rename nothing.
#[derive(Default)]
struct Renames<'a> {
    /// Vanished, successfully built sources by content hash (the first by
    /// path when several share one).
    vanished: Option<HashMap<Hash, (&'a PathBuf, &'a SourceRecord), rustc_hash::FxBuildHasher>>,
    /// Old output paths that move to a renamed source.
    moved: HashSet<OsString, rustc_hash::FxBuildHasher>,
}

impl<'a> Renames<'a> {
    /// The vanished source with content `hash`, if there is one not
    /// claimed yet by another new source.
    fn claim(
        &mut self,
        hash: Hash,
        observed: &[ObservedSource],
        state: &'a State,
    ) -> Option<(&'a PathBuf, &'a SourceRecord)> {
        let vanished = self.vanished.get_or_insert_with(|| {
            let present: HashSet<&OsStr, rustc_hash::FxBuildHasher> =
                observed.iter().map(|s| s.rel.as_os_str()).collect();
            let mut by_hash: HashMap<Hash, (&PathBuf, &SourceRecord), rustc_hash::FxBuildHasher> =
                HashMap::default();
            for (rel, record) in state {
                if present.contains(rel.as_os_str()) || record.failed.is_some() {
                    continue;
                }
                by_hash
                    .entry(record.hash)
                    .and_modify(|first| {
                        if rel < first.0 {
                            *first = (rel, record);
                        }
                    })
                    .or_insert((rel, record));
            }
            by_hash
        });
        vanished.remove(&hash)
    }
}

/// Sources whose outputs would land on the same paths (`a.png` and `a.jpg`),
/// each mapped to one of the others; `elsewhere` are sources of other
/// shards, which collide all the same.
fn collisions(observed: &[ObservedSource], elsewhere: &[PathBuf]) -> HashMap<PathBuf, PathBuf> {
    let all: Vec<&PathBuf> = observed.iter().map(|s| &s.rel).chain(elsewhere).collect();
    // Keyed by the raw bytes of the path without its extension: `Path`
    // keys compare component by component, which was most of the planner's
    // time over ten thousand sources.
    let mut first_by_stem: HashMap<&[u8], usize, rustc_hash::FxBuildHasher> =
        HashMap::with_capacity_and_hasher(all.len(), Default::default());
    let mut groups: BTreeMap<usize, Vec<&PathBuf>> = BTreeMap::new();
    for (index, rel) in all.iter().enumerate() {
        let first = *first_by_stem.entry(without_extension(rel)).or_insert(index);
        if first != index {
            groups
                .entry(first)
                .or_insert_with(|| vec![all[first]])
                .push(rel);
        }
    }
    let mut out = HashMap::new();
    for group in groups.values() {
        for (i, rel) in group.iter().enumerate() {
            let other = group[if i == 0 { 1 } else { 0 }];
            out.insert((*rel).clone(), other.clone());
        }
    }
    out
}

/// The bytes of `path` without the extension `Path::with_extension("")`
/// would remove.
fn without_extension(path: &Path) -> &[u8] {
    let bytes = path.as_os_str().as_encoded_bytes();
    match path.extension() {
        Some(ext) => &bytes[..bytes.len() - ext.len() - 1],
        None => bytes,
    }
}

mod decide;
#[cfg(test)]
mod tests;
