//! The example's outputs, byte for byte: the repository's `.thumbgen.toml`
//! builds a copy of `examples/images`, and every output's blake3 must be the
//! one in `tests/golden/example.digests`. Codecs are vendored and pinned, so
//! the same thumbgen writes the same bytes on every machine; a change of
//! bytes has to be deliberate.

use std::fmt::Write as _;
use std::path::Path;

use crate::common::{copy_dir, tree, Env, OWNED_MARKER};

/// A build with the `aom` feature writes other AVIF bytes (libaom's, not
/// rav1e's), pinned in a list of their own: those of the libaom that
/// `.ci/libaom` builds (`thumbgen_avif::PINNED_LIBAOM`).
const DIGESTS: &str = if cfg!(feature = "aom") {
    "tests/golden/example-aom.digests"
} else {
    "tests/golden/example.digests"
};
/// Set to 1 to rewrite the list from this build's outputs.
const BLESS: &str = "THUMBGEN_BLESS_GOLDEN";

/// With the `aom` feature, a build must link the pinned libaom for its
/// bytes to be pinned.
fn assert_pinned_libaom() {
    assert!(
        thumbgen_avif::writes_pinned_bytes(),
        "this build's AVIF encoder is `{}`, but the aom build's pinned bytes \
         are those of libaom {}: build it as .ci/libaom says, \
         eval \"$(.ci/libaom)\", then cargo test again",
        thumbgen_avif::settings(),
        thumbgen_avif::PINNED_LIBAOM
    );
}

#[test]
fn the_pinned_libaom_is_the_one_ci_builds() {
    let script =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/libaom")).unwrap();
    let version = format!("\nVERSION={}\n", thumbgen_avif::PINNED_LIBAOM);
    assert!(
        script.contains(&version),
        ".ci/libaom does not build {version}"
    );
}

#[test]
fn example_outputs_have_the_pinned_digests() {
    assert_pinned_libaom();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let env = Env::new("");
    std::fs::copy(
        repo.join(".thumbgen.toml"),
        env.root().join(".thumbgen.toml"),
    )
    .unwrap();
    copy_dir(
        &repo.join("examples/images"),
        &env.root().join("examples/images"),
    );
    env.build(&["--quiet"], 0);

    let mut got = String::new();
    for (rel, bytes) in tree(&env.root().join("examples/thumbs")) {
        if rel.ends_with('/') || rel == "manifest.json" || rel.ends_with(OWNED_MARKER) {
            continue;
        }
        writeln!(got, "{}  {rel}", blake3::hash(&bytes).to_hex()).unwrap();
    }
    assert!(got.lines().count() >= 18, "the example built:\n{got}");

    let path = repo.join(DIGESTS);
    if std::env::var_os(BLESS).is_some_and(|v| v == "1") {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if want != got {
        let diff: String = diff_lines(&want, &got);
        let features = if cfg!(feature = "aom") {
            " --features aom"
        } else {
            ""
        };
        panic!(
            "the example's output bytes differ from {DIGESTS}:\n{diff}\n\
             If the change is deliberate (a codec upgrade, a pipeline change: \
             bump PIPELINE_VERSION in src/variant.rs when the same settings now \
             give other bytes), update the list on purpose with\n    \
             {BLESS}=1 cargo test --release{features} --test it golden\n\
             and commit it with the change that explains it."
        );
    }
}

/// Lines only in `want` (`-`) and only in `got` (`+`).
fn diff_lines(want: &str, got: &str) -> String {
    let mut out = String::new();
    for line in want.lines().filter(|l| !got.lines().any(|g| g == *l)) {
        writeln!(out, "- {line}").unwrap();
    }
    for line in got.lines().filter(|l| !want.lines().any(|w| w == *l)) {
        writeln!(out, "+ {line}").unwrap();
    }
    out
}
