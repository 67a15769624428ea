//! The planner's table: every way a source, a variant or an output can
//! change, planned from in-memory observations and records.

use super::*;
use crate::model::{Format, Shape, Unreadable};
use crate::problem::Failure;

fn variant(name: &str, width: u32, format: Format) -> Variant {
    Variant::new(name, width, width, format)
}

fn variants() -> Vec<Variant> {
    vec![
        variant("thumb", 256, Format::Jpeg),
        variant("large", 1200, Format::Webp),
    ]
}

fn stat(n: i64) -> Stat {
    Stat {
        len: 100,
        mtime_ns: n,
        ctime_ns: n,
        ino: 1,
    }
}

fn fp(content: u8, mtime: i64) -> Fingerprint {
    Fingerprint {
        stat: stat(mtime),
        hash: Some([content; 32]),
        racy: false,
        probed: None,
    }
}

/// No recorded recipes: what changed in a variant is not known.
static NO_RECIPES: Recipes = Recipes::with_hasher(rustc_hash::FxBuildHasher);
/// No source has a focal point.
static NO_POINTS: FocalPoints = FocalPoints::NONE;

/// The settings the tests plan with: outputs under `out`, no shard.
fn settings_for(variants: &[Variant]) -> Settings<'_> {
    Settings {
        variants,
        recipes: &NO_RECIPES,
        failure_context: [0; 32],
        output: Path::new("out"),
        force: false,
        shard: None,
        elsewhere: &[],
        placeholders: Default::default(),
        focus: &NO_POINTS,
        owned_files: None,
    }
}

fn seen(rel: &str, fingerprint: Fingerprint) -> ObservedSource {
    ObservedSource {
        rel: rel.into(),
        fingerprint: Ok(fingerprint),
    }
}

/// The record a successful build of `rel` with `variants` leaves.
fn built(rel: &str, fingerprint: Fingerprint, variants: &[Variant]) -> SourceRecord {
    let settings = settings_for(variants);
    let mut record = SourceRecord {
        stat: fingerprint.stat,
        hash: fingerprint.hash.unwrap(),
        racy: false,
        failed: None,
        placeholder: None,
        shape: None,
        outputs: variants
            .iter()
            .map(|v| OutputRecord {
                variant: v.name.as_str().into(),
                path: output_path(&settings, v, Path::new(rel)).into(),
                settings: v.settings_hash(),
                pipeline: PIPELINE_VERSION,
                stat: stat(7),
                hash: [9; 32],
                width: 1,
                height: 1,
                format: v.format,
            })
            .collect(),
    };
    record.outputs.sort_by(|a, b| a.path.cmp(&b.path));
    record
}

fn run(
    observed: &[ObservedSource],
    state: &State,
    outputs: &OutputStates,
    variants: &[Variant],
    force: bool,
) -> Plan {
    let settings = Settings {
        force,
        ..settings_for(variants)
    };
    plan(observed, &[], state, outputs, &settings)
}

/// State after building `sources` with `variants`, all outputs intact.
fn state_of(sources: &[(&str, Fingerprint)], variants: &[Variant]) -> (State, OutputStates) {
    let mut state = State::default();
    let mut outputs = OutputStates::default();
    for (rel, f) in sources {
        let record = built(rel, *f, variants);
        for o in &record.outputs {
            outputs.insert(o.path.as_os_str().to_os_string(), OutputState::Intact);
        }
        state.insert(PathBuf::from(rel), record);
    }
    (state, outputs)
}

fn reasons(plan: &Plan) -> Vec<(String, &'static str)> {
    plan.jobs
        .iter()
        .flat_map(|j| {
            j.builds
                .iter()
                .map(|b| (b.path.to_string_lossy().into_owned(), b.reason.code()))
        })
        .collect()
}

fn removed(plan: &Plan) -> Vec<(String, RemovalReason)> {
    plan.removals
        .iter()
        .map(|r| (r.output.path.to_string_lossy().into_owned(), r.reason))
        .collect()
}

#[test]
fn new_sources_build_every_variant() {
    let v = variants();
    let p = run(
        &[seen("b/x.png", fp(1, 1))],
        &State::default(),
        &OutputStates::default(),
        &v,
        false,
    );
    assert_eq!(
        reasons(&p),
        [
            ("out/thumb/b/x.jpg".into(), "new_source"),
            ("out/large/b/x.webp".into(), "new_source")
        ]
    );
    assert_eq!(p.up_to_date, 0);
    assert!(p.removals.is_empty() && p.updates.is_empty());
}

#[test]
fn unchanged_source_is_up_to_date() {
    let v = variants();
    let (state, outputs) = state_of(&[("a.jpg", fp(1, 1))], &v);
    let p = run(&[seen("a.jpg", fp(1, 1))], &state, &outputs, &v, false);
    assert!(!p.has_work());
    assert_eq!(p.up_to_date, 2);
    assert!(p.updates.is_empty());
}

#[test]
fn touched_but_identical_updates_the_record_only() {
    let v = variants();
    let (state, outputs) = state_of(&[("a.jpg", fp(1, 1))], &v);
    let p = run(&[seen("a.jpg", fp(1, 2))], &state, &outputs, &v, false);
    assert!(!p.has_work());
    assert_eq!(p.up_to_date, 2);
    assert_eq!(p.updates.len(), 1);
    assert_eq!(p.updates[0].1.stat, stat(2));
}

#[test]
fn content_change_rebuilds_every_variant() {
    let v = variants();
    let (state, outputs) = state_of(&[("a.jpg", fp(1, 1))], &v);
    let p = run(&[seen("a.jpg", fp(2, 2))], &state, &outputs, &v, false);
    assert!(reasons(&p).iter().all(|(_, r)| *r == "source_changed"));
    assert_eq!(p.build_count(), 2);
    assert!(p.removals.is_empty());
}

#[test]
fn one_variant_changed_rebuilds_only_that_variant() {
    let v = variants();
    let (state, outputs) = state_of(&[("a.jpg", fp(1, 1))], &v);
    let mut changed = v.clone();
    changed[1].quality = 90;
    let p = run(
        &[seen("a.jpg", fp(1, 1))],
        &state,
        &outputs,
        &changed,
        false,
    );
    assert_eq!(
        reasons(&p),
        [("out/large/a.webp".into(), "variant_changed")]
    );
    assert_eq!(p.jobs[0].keep.len(), 1);
    assert_eq!(p.up_to_date, 1);
}

#[test]
fn format_change_moves_the_output() {
    let v = variants();
    let (state, outputs) = state_of(&[("a.jpg", fp(1, 1))], &v);
    let mut changed = v.clone();
    changed[0].format = Format::Png;
    let p = run(
        &[seen("a.jpg", fp(1, 1))],
        &state,
        &outputs,
        &changed,
        false,
    );
    assert_eq!(reasons(&p), [("out/thumb/a.png".into(), "variant_changed")]);
    assert_eq!(
        removed(&p),
        [("out/thumb/a.jpg".into(), RemovalReason::Moved)]
    );
}

#[test]
fn pipeline_change_rebuilds() {
    let v = variants();
    let (mut state, outputs) = state_of(&[("a.jpg", fp(1, 1))], &v);
    for o in &mut state.get_mut(Path::new("a.jpg")).unwrap().outputs {
        o.pipeline = PIPELINE_VERSION - 1;
    }
    let p = run(&[seen("a.jpg", fp(1, 1))], &state, &outputs, &v, false);
    assert!(reasons(&p).iter().all(|(_, r)| *r == "pipeline_changed"));
}

#[test]
fn a_change_to_one_variant_rebuilds_that_variant_alone() {
    let v = variants();
    let (mut state, outputs) = state_of(&[("a.jpg", fp(1, 1))], &v);
    let record = state.get_mut(Path::new("a.jpg")).unwrap();
    record.shape = Some(Shape {
        width: 4000,
        height: 3000,
        coding: crate::model::Coding::Jpeg,
    });
    let p = run(&[seen("a.jpg", fp(1, 1))], &state, &outputs, &v, false);
    assert_eq!(reasons(&p), [], "as recorded");
    // Each output is made from the decode its own size calls for: growing
    // or shrinking one variant, or dropping one, leaves the other alone.
    let mut smaller = v.clone();
    smaller[0].width = 200;
    let p = run(
        &[seen("a.jpg", fp(1, 1))],
        &state,
        &outputs,
        &smaller,
        false,
    );
    assert_eq!(reasons(&p), [("out/thumb/a.jpg".into(), "variant_changed")]);
    let mut larger = v.clone();
    larger[1].width = 3000;
    larger[1].height = 3000;
    let p = run(&[seen("a.jpg", fp(1, 1))], &state, &outputs, &larger, false);
    assert_eq!(
        reasons(&p),
        [("out/large/a.webp".into(), "variant_changed")]
    );
    let p = run(&[seen("a.jpg", fp(1, 1))], &state, &outputs, &v[..1], false);
    assert_eq!(reasons(&p), []);
    assert_eq!(
        removed(&p),
        [("out/large/a.webp".into(), RemovalReason::VariantRemoved)]
    );
}

#[test]
fn variant_added_and_removed() {
    let v = variants();
    let (state, outputs) = state_of(&[("a.jpg", fp(1, 1))], &v);
    let fewer = vec![v[0].clone(), variant("mid", 640, Format::Jpeg)];
    let p = run(&[seen("a.jpg", fp(1, 1))], &state, &outputs, &fewer, false);
    assert_eq!(reasons(&p), [("out/mid/a.jpg".into(), "new_variant")]);
    assert_eq!(
        removed(&p),
        [("out/large/a.webp".into(), RemovalReason::VariantRemoved)]
    );
}

#[test]
fn only_removal_updates_the_record() {
    let v = variants();
    let (state, outputs) = state_of(&[("a.jpg", fp(1, 1))], &v);
    let p = run(&[seen("a.jpg", fp(1, 1))], &state, &outputs, &v[..1], false);
    assert!(p.jobs.is_empty());
    assert_eq!(p.removals.len(), 1);
    assert_eq!(p.updates.len(), 1);
    assert_eq!(p.updates[0].1.outputs.len(), 1);
}

#[test]
fn output_deleted_or_modified_is_rebuilt() {
    let v = variants();
    let (state, mut outputs) = state_of(&[("a.jpg", fp(1, 1))], &v);
    outputs.insert("out/thumb/a.jpg".into(), OutputState::Missing);
    outputs.insert("out/large/a.webp".into(), OutputState::Modified);
    let p = run(&[seen("a.jpg", fp(1, 1))], &state, &outputs, &v, false);
    assert_eq!(
        reasons(&p),
        [
            ("out/thumb/a.jpg".into(), "output_missing"),
            ("out/large/a.webp".into(), "output_modified")
        ]
    );
}

#[test]
fn output_restat_updates_record_without_building() {
    let v = variants();
    let (state, mut outputs) = state_of(&[("a.jpg", fp(1, 1))], &v);
    outputs.insert("out/thumb/a.jpg".into(), OutputState::Restat(stat(42)));
    let p = run(&[seen("a.jpg", fp(1, 1))], &state, &outputs, &v, false);
    assert!(!p.has_work());
    assert_eq!(p.updates.len(), 1);
    assert!(p.updates[0].1.outputs.iter().any(|o| o.stat == stat(42)));
}

#[test]
fn removed_source_removes_its_owned_outputs_only() {
    let v = variants();
    let (state, mut outputs) = state_of(&[("a.jpg", fp(1, 1)), ("gone.jpg", fp(2, 1))], &v);
    outputs.insert("out/large/gone.webp".into(), OutputState::Modified);
    let p = run(&[seen("a.jpg", fp(1, 1))], &state, &outputs, &v, false);
    assert_eq!(
        removed(&p),
        [("out/thumb/gone.jpg".into(), RemovalReason::SourceRemoved)]
    );
    assert_eq!(p.disowned, [PathBuf::from("out/large/gone.webp")]);
    assert_eq!(p.forget, [PathBuf::from("gone.jpg")]);
    assert_eq!(p.up_to_date, 2);
}

#[test]
fn a_source_left_out_by_the_globs_is_excluded_not_removed() {
    let v = variants();
    let (state, outputs) = state_of(&[("a.jpg", fp(1, 1)), ("b/x.jpg", fp(2, 1))], &v);
    let settings = settings_for(&v);
    let excluded = [PathBuf::from("b/x.jpg")];
    let p = plan(
        &[seen("a.jpg", fp(1, 1))],
        &excluded,
        &state,
        &outputs,
        &settings,
    );
    assert!(p
        .removals
        .iter()
        .all(|r| r.reason == RemovalReason::SourceExcluded));
    assert_eq!(p.removals.len(), 2);
}

#[test]
fn racy_flag_is_recorded_and_cleared() {
    let v = variants();
    let (state, outputs) = state_of(&[("a.jpg", fp(1, 1))], &v);
    let racy = Fingerprint {
        racy: true,
        ..fp(1, 1)
    };
    let p = run(&[seen("a.jpg", racy)], &state, &outputs, &v, false);
    assert!(!p.has_work());
    assert!(p.updates[0].1.racy);
    let (mut state, outputs) = state_of(&[("a.jpg", fp(1, 1))], &v);
    state.get_mut(Path::new("a.jpg")).unwrap().racy = true;
    let p = run(&[seen("a.jpg", fp(1, 1))], &state, &outputs, &v, false);
    assert!(!p.updates[0].1.racy);
}

#[test]
fn collision_fails_both_and_removes_their_outputs() {
    let v = variants();
    let (state, outputs) = state_of(&[("a.jpg", fp(1, 1))], &v);
    let p = run(
        &[
            seen("a.jpg", fp(1, 1)),
            seen("a.png", fp(2, 1)),
            seen("b.jpg", fp(3, 1)),
        ],
        &state,
        &outputs,
        &v,
        false,
    );
    let failed: Vec<_> = p.failures.iter().map(|f| f.source.clone()).collect();
    assert_eq!(failed, [PathBuf::from("a.jpg"), PathBuf::from("a.png")]);
    assert!(
        matches!(&p.failures[0].failure, Failure::Collision { other } if other.ends_with("a.png"))
    );
    assert_eq!(p.removals.len(), 2);
    assert!(p
        .removals
        .iter()
        .all(|r| r.reason == RemovalReason::SourceFailed));
    assert_eq!(p.forget, [PathBuf::from("a.jpg")]);
    assert_eq!(reasons(&p).len(), 2, "b.jpg still builds");
}

#[test]
fn collisions_are_found_whatever_sorts_between_them() {
    // "a.mid.jpg" sorts between "a.jpg" and "a.png"; "d/a.jpg" shares
    // the stem "a" only by file name, not by path.
    let sources = [
        "a.jpg",
        "a.mid.jpg",
        "a.png",
        "a.tif",
        "d/a.jpg",
        "e.x/f",
        "e.x/f.png",
    ];
    let observed: Vec<_> = sources.iter().map(|s| seen(s, fp(1, 1))).collect();
    let found = collisions(&observed, &[]);
    let mut colliding: Vec<_> = found.keys().map(|p| p.to_str().unwrap()).collect();
    colliding.sort();
    assert_eq!(colliding, ["a.jpg", "a.png", "a.tif", "e.x/f", "e.x/f.png"]);
    assert_eq!(found[Path::new("a.jpg")], Path::new("a.png"));
    assert_eq!(found[Path::new("a.tif")], Path::new("a.jpg"));
    assert_eq!(without_extension(Path::new("e.x/f")), b"e.x/f");
}

#[test]
fn unreadable_source_fails_and_keeps_its_outputs_until_it_is_gone() {
    let v = variants();
    let (state, outputs) = state_of(&[("a.jpg", fp(1, 1))], &v);
    let broken = ObservedSource {
        rel: "a.jpg".into(),
        fingerprint: Err(Unreadable::Io("permission denied".into())),
    };
    let p = run(&[broken], &state, &outputs, &v, false);
    assert_eq!(p.failures.len(), 1);
    assert!(matches!(p.failures[0].failure, Failure::Unread { .. }));
    assert!(p.removals.is_empty() && p.forget.is_empty(), "{p:?}");

    // No longer a file: it is gone, and so are its outputs.
    let gone = ObservedSource {
        rel: "a.jpg".into(),
        fingerprint: Err(Unreadable::NotAFile),
    };
    let p = run(&[gone], &state, &outputs, &v, false);
    assert_eq!(p.failures.len(), 1);
    assert_eq!(p.removals.len(), 2);
    assert_eq!(p.forget, [PathBuf::from("a.jpg")]);
}

#[test]
fn previously_failed_source_is_retried() {
    let v = variants();
    let mut state = State::default();
    state.insert(
        "a.jpg".into(),
        SourceRecord {
            stat: stat(1),
            hash: [1; 32],
            racy: false,
            failed: Some([0; 32]),
            placeholder: None,
            shape: None,
            outputs: vec![],
        },
    );
    let p = run(
        &[seen("a.jpg", fp(1, 1))],
        &state,
        &OutputStates::default(),
        &v,
        false,
    );
    assert!(reasons(&p).iter().all(|(_, r)| *r == "previously_failed"));
}

#[test]
fn force_rebuilds_everything_fresh() {
    let v = variants();
    let (state, outputs) = state_of(&[("a.jpg", fp(1, 1))], &v);
    let p = run(&[seen("a.jpg", fp(1, 1))], &state, &outputs, &v, true);
    assert!(reasons(&p).iter().all(|(_, r)| *r == "forced"));
    assert_eq!(p.build_count(), 2);
    assert_eq!(p.jobs[0].previous.len(), 2);
}

#[test]
fn plans_are_deterministic_and_sorted() {
    let v = variants();
    let (state, outputs) = state_of(
        &[
            ("z.jpg", fp(1, 1)),
            ("m.jpg", fp(2, 1)),
            ("c.jpg", fp(3, 1)),
        ],
        &v,
    );
    let a = run(&[], &state, &outputs, &v, false);
    let b = run(&[], &state, &outputs, &v, false);
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    let paths: Vec<_> = a.removals.iter().map(|r| r.output.path.clone()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    assert_eq!(a.forget.len(), 3);
}

#[test]
fn a_shard_plans_its_part_only_and_keeps_collisions_across_parts() {
    use crate::shard::Shard;
    let v = variants();
    let names: Vec<String> = (0..20).map(|i| format!("p{i}.jpg")).collect();
    let one = Shard { index: 1, count: 2 };
    let (mine, theirs): (Vec<&String>, Vec<&String>) =
        names.iter().partition(|n| one.contains(Path::new(n)));
    assert!(!mine.is_empty() && !theirs.is_empty());
    // Everything recorded, then every source deleted: only part 1's go.
    let recorded: Vec<(&str, Fingerprint)> = names.iter().map(|n| (n.as_str(), fp(1, 1))).collect();
    let (state, outputs) = state_of(&recorded, &v);
    let sharded = |elsewhere| Settings {
        shard: Some(one),
        elsewhere,
        ..settings_for(&v)
    };
    let p = plan(&[], &[], &state, &outputs, &sharded(&[]));
    assert_eq!(p.removals.len(), mine.len() * v.len());
    assert!(
        p.removals.iter().all(|r| one.contains(&r.source)),
        "nothing of part 2 is removed"
    );
    assert_eq!(p.forget.len(), mine.len());

    // New sources: only part 1's are built, and a part-1 source that
    // collides with a part-2 source still fails.
    let observed: Vec<ObservedSource> = mine.iter().map(|n| seen(n, fp(2, 2))).collect();
    let nothing = (State::default(), OutputStates::default());
    let p = plan(&observed, &[], &nothing.0, &nothing.1, &sharded(&[]));
    assert_eq!(p.jobs.len(), mine.len());
    let stem = mine[0].strip_suffix(".jpg").unwrap();
    let other = [PathBuf::from(format!("{stem}.png"))];
    let p = plan(&observed, &[], &nothing.0, &nothing.1, &sharded(&other));
    assert_eq!(p.jobs.len(), mine.len() - 1);
    assert!(matches!(&p.failures[..], [f] if f.source == Path::new(mine[0].as_str())));
}

#[test]
fn planning_in_parts_gives_the_plan_of_one_pass() {
    let v = variants();
    let names: Vec<String> = (0..30).map(|i| format!("d{}/p{i:02}.jpg", i % 4)).collect();
    let recorded: Vec<(&str, Fingerprint)> = names.iter().map(|n| (n.as_str(), fp(1, 1))).collect();
    let (mut state, mut outputs) = state_of(&recorded, &v);
    // One output of each of a few sources missing, one modified, one
    // restatted; a removed variant's output; a failed source.
    let out = |rel: &str, i: usize| {
        state[Path::new(rel)].outputs[i]
            .path
            .as_os_str()
            .to_os_string()
    };
    outputs.insert(out(&names[3], 0), OutputState::Missing);
    outputs.insert(out(&names[7], 1), OutputState::Modified);
    outputs.insert(out(&names[11], 0), OutputState::Restat(stat(8)));
    let mut extra = state[Path::new(&names[13])].outputs[0].clone();
    extra.variant = "gone".into();
    extra.path = Path::new("out/gone/p13.jpg").into();
    state
        .get_mut(Path::new(&names[13]))
        .unwrap()
        .outputs
        .push(extra);
    state.get_mut(Path::new(&names[17])).unwrap().failed = Some([0; 32]);
    // The vanished source, whose outputs a rename can move.
    state.get_mut(Path::new(&names[19])).unwrap().shape = Some(Shape {
        width: 10,
        height: 10,
        coding: crate::model::Coding::Whole,
    });
    let observed: Vec<ObservedSource> = names
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 19)
        .map(|(i, n)| match i {
            5 => seen(n, fp(2, 1)),
            9 => seen(n, fp(1, 2)),
            21 => ObservedSource {
                rel: n.into(),
                fingerprint: Err(Unreadable::NotAFile),
            },
            _ => seen(n, fp(1, 1)),
        })
        .chain([
            seen("d0/p05.png", fp(3, 1)),
            ObservedSource {
                rel: "new.jpg".into(),
                fingerprint: Ok(Fingerprint {
                    hash: None,
                    ..fp(4, 1)
                }),
            },
        ])
        .collect();
    let settings = settings_for(&v);
    let whole = plan_in_parts(&observed, &[], &state, &outputs, &settings, usize::MAX);
    assert!(whole.jobs.len() >= 4 && !whole.removals.is_empty() && !whole.updates.is_empty());
    for part in [1, 2, 3, 7] {
        let parts = plan_in_parts(&observed, &[], &state, &outputs, &settings, part);
        assert_eq!(
            format!("{parts:?}"),
            format!("{whole:?}"),
            "parts of {part}"
        );
    }
    // A new source with the content of the vanished one is that source
    // renamed, whichever way the sources are split.
    let mut renamed = observed.clone();
    renamed.push(seen("moved.jpg", fp(1, 1)));
    let whole = plan_in_parts(&renamed, &[], &state, &outputs, &settings, usize::MAX);
    assert!(whole
        .jobs
        .iter()
        .any(|j| matches!(j.builds[0].reason, Reason::Renamed { .. })));
    let parts = plan_in_parts(&renamed, &[], &state, &outputs, &settings, 2);
    assert_eq!(format!("{parts:?}"), format!("{whole:?}"));
}

#[test]
fn a_focal_point_is_part_of_its_sources_focus_outputs_alone() {
    let mut v = variants();
    v[1].fit = crate::variant::Fit::Cover;
    v[1].position = crate::variant::Position::Focus;
    let sources = [("a.jpg", fp(1, 1)), ("b.jpg", fp(2, 1))];
    let observed: Vec<_> = sources.iter().map(|(r, f)| seen(r, *f)).collect();
    let (mut state, outputs) = state_of(&sources, &v);
    let plan_with = |state: &State, points: &[(&str, f64, f64)]| {
        let points = FocalPoints::from_points(
            points
                .iter()
                .map(|&(rel, x, y)| (PathBuf::from(rel), FocalPoint::new(x, y).unwrap())),
        );
        let settings = Settings {
            focus: &points,
            ..settings_for(&v)
        };
        plan(&observed, &[], state, &outputs, &settings)
    };
    assert!(
        plan_with(&state, &[]).jobs.is_empty(),
        "no points: as built"
    );

    // A point for `a`: its cover output alone is rebuilt, with the point.
    let p = plan_with(&state, &[("a.jpg", 0.3, 0.5)]);
    assert_eq!(
        reasons(&p),
        [("out/large/a.webp".into(), "variant_changed")]
    );
    assert_eq!(p.jobs[0].focus, FocalPoint::new(0.3, 0.5));
    assert_eq!(p.up_to_date, 3);
    // Points change nothing of variants that do not crop around them.
    let plain = variants();
    let (plain_state, plain_outputs) = state_of(&sources, &plain);
    let points =
        FocalPoints::from_points([(PathBuf::from("a.jpg"), FocalPoint::new(0.3, 0.5).unwrap())]);
    let settings = Settings {
        focus: &points,
        ..settings_for(&plain)
    };
    assert!(
        plan(&observed, &[], &plain_state, &plain_outputs, &settings)
            .jobs
            .is_empty()
    );

    // Once built with it, the same point is up to date; a moved one
    // rebuilds again and says what moved; a removed one too.
    let recorded = state.get_mut(Path::new("a.jpg")).unwrap();
    let crop = recorded
        .outputs
        .iter_mut()
        .find(|o| &*o.variant == "large")
        .unwrap();
    crop.settings = v[1].recipe(FocalPoint::new(0.3, 0.5));
    assert!(plan_with(&state, &[("a.jpg", 0.3, 0.5)]).jobs.is_empty());
    let mut recipes = Recipes::default();
    recipes.insert(
        v[1].recipe(FocalPoint::new(0.3, 0.5)),
        v[1].settings_for(FocalPoint::new(0.3, 0.5)),
    );
    let points =
        FocalPoints::from_points([(PathBuf::from("a.jpg"), FocalPoint::new(0.6, 0.5).unwrap())]);
    let settings = Settings {
        focus: &points,
        recipes: &recipes,
        ..settings_for(&v)
    };
    let moved = plan(&observed, &[], &state, &outputs, &settings);
    assert_eq!(
        reasons(&moved),
        [("out/large/a.webp".into(), "variant_changed")]
    );
    let Reason::VariantChanged { changes, .. } = &moved.jobs[0].builds[0].reason else {
        panic!("{:?}", moved.jobs[0].builds[0].reason);
    };
    let focus = changes
        .iter()
        .find(|c| c.key == "focus")
        .expect("the point moved");
    assert_eq!(
        (focus.old.as_deref(), focus.new.as_deref()),
        (Some("0.3,0.5"), Some("0.6,0.5"))
    );
    let gone = plan_with(&state, &[]);
    assert_eq!(
        reasons(&gone),
        [("out/large/a.webp".into(), "variant_changed")]
    );
    assert_eq!(gone.jobs[0].focus, None);
}
