//! The planner on a no-op build: 10,000 sources x 3 variants, all up to
//! date. It runs on every build, so it must stay a small part of the
//! ~80 ms a whole no-op takes (`bench/compare.py --scenarios noop`).

use std::path::{Path, PathBuf};

use criterion::{criterion_main, Criterion};
use thumbgen::focus::FocalPoints;
use thumbgen::model::{
    Fingerprint, Format, ObservedSource, OutputRecord, OutputState, OutputStates, Recipes, Shape,
    SourceRecord, Stat, State,
};
use thumbgen::plan::{self, Settings};
use thumbgen::variant::{Variant, PIPELINE_VERSION};

fn variants() -> Vec<Variant> {
    [
        ("thumb", 256, Format::Jpeg),
        ("card", 640, Format::Webp),
        ("large", 1280, Format::Jpeg),
    ]
    .into_iter()
    .map(|(name, size, format)| Variant::new(name, size, size, format))
    .collect()
}

/// Observed sources, the records of a previous build, and their outputs'
/// states, as a no-op build sees them.
fn up_to_date(n: usize, variants: &[Variant]) -> (Vec<ObservedSource>, State, OutputStates) {
    let output = Path::new("public/thumbs");
    let recipes = Recipes::default();
    let settings = Settings {
        recipes: &recipes,
        failure_context: [0; 32],
        variants,
        output,
        force: false,
        shard: None,
        elsewhere: &[],
        placeholders: Default::default(),
        focus: &FocalPoints::NONE,
        owned_files: None,
    };
    let mut observed = Vec::with_capacity(n);
    let mut state = State::default();
    let mut outputs = OutputStates::default();
    for i in 0..n {
        let rel = PathBuf::from(format!("d{:03}/photo-{i:05}.jpg", i % 100));
        let stat = Stat {
            len: 1_000_000 + i as u64,
            mtime_ns: 1_700_000_000_000_000_000,
            ctime_ns: 1_700_000_000_000_000_000,
            ino: i as u64,
        };
        // Varied sizes, as real photos have.
        let shape = Shape {
            width: 2000 + (i % 2000) as u32,
            height: 1500 + (i % 1000) as u32,
            coding: thumbgen::model::Coding::Jpeg,
        };
        let records: Vec<OutputRecord> = variants
            .iter()
            .map(|v| OutputRecord {
                variant: v.name.as_str().into(),
                path: plan::output_path(&settings, v, &rel).into(),
                settings: v.settings_hash(),
                pipeline: PIPELINE_VERSION,
                stat,
                hash: [7; 32],
                width: v.width,
                height: v.height,
                format: v.format,
            })
            .collect();
        for o in &records {
            outputs.insert(o.path.as_os_str().to_os_string(), OutputState::Intact);
        }
        state.insert(
            rel.clone(),
            SourceRecord {
                stat,
                hash: [1; 32],
                racy: false,
                failed: None,
                placeholder: None,
                shape: Some(shape),
                outputs: records,
            },
        );
        observed.push(ObservedSource {
            rel,
            fingerprint: Ok(Fingerprint {
                stat,
                hash: Some([1; 32]),
                racy: false,
                probed: None,
            }),
        });
    }
    (observed, state, outputs)
}

fn bench_plan(c: &mut Criterion) {
    let variants = variants();
    let (observed, state, outputs) = up_to_date(10_000, &variants);
    let recipes = Recipes::default();
    let settings = Settings {
        recipes: &recipes,
        failure_context: [0; 32],
        variants: &variants,
        output: Path::new("public/thumbs"),
        force: false,
        shard: None,
        elsewhere: &[],
        placeholders: Default::default(),
        focus: &FocalPoints::NONE,
        owned_files: None,
    };
    let p = plan::plan(&observed, &[], &state, &outputs, &settings);
    assert_eq!((p.up_to_date, p.jobs.len()), (30_000, 0), "a no-op plan");
    c.bench_function("plan no-op 10k sources x 3 variants", |b| {
        b.iter(|| plan::plan(&observed, &[], &state, &outputs, &settings))
    });
}

/// Runs the benchmarks with Criterion's options from the command line:
/// what `criterion_group!` expands to, written out because the macro's
/// `pub fn` cannot carry a doc comment.
fn benches() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_plan(&mut criterion);
}

criterion_main!(benches);
