//! Sources in a bucket (`source = "s3://…"`), against a real S3 server on
//! loopback (moto), and in a `file://` store. Each build's tree must equal
//! a clean build of the same photos from a local folder, and the summary's
//! count of downloaded originals shows that only new or changed objects
//! are downloaded.

use std::collections::BTreeMap;

use crate::common::{image_bytes, parse_events, Env, Run};
use crate::remote::{thumbgen, S3Server, BUCKET, CREDENTIALS};

const VARIANTS: &str = r#"
[[variants]]
name = "thumb"
width = 64
height = 64
fit = "cover"
format = "jpeg"

[[variants]]
name = "large"
width = 160
format = "webp"
"#;

/// A store the tests write a catalogue's objects into.
pub(crate) trait Objects {
    /// Write (or overwrite) the object `key`.
    fn put(&self, key: &str, bytes: &[u8]);
    /// Delete the object `key`.
    fn delete(&self, key: &str);
}

impl Objects for S3Server {
    fn put(&self, key: &str, bytes: &[u8]) {
        S3Server::put(self, key, bytes);
    }

    fn delete(&self, key: &str) {
        S3Server::delete(self, key);
    }
}

/// A project whose sources are under `catalogue/` in a bucket of `server`,
/// and beside it a local folder with the same photos, which a clean build
/// is made from.
pub(crate) struct Catalogue<S: Objects = S3Server> {
    server: S,
    env: Env,
    mirror: Env,
    /// The environment of each build (credentials).
    vars: Vec<(String, String)>,
}

impl Catalogue<S3Server> {
    /// Sources in the moto bucket, `extra` added to the config.
    fn new(server: S3Server, extra: &str) -> Catalogue {
        let source = format!(
            "source = \"s3://{BUCKET}/catalogue/\"\nsource_endpoint = \"{}\"\nsource_region = \"us-east-1\"\n{extra}",
            server.endpoint()
        );
        Catalogue::at(server, &source, &CREDENTIALS)
    }
}

impl<S: Objects> Catalogue<S> {
    /// Sources where the config lines `source` say (`catalogue/` of a
    /// bucket of `server`; tables may follow them), built with `vars` in
    /// the environment.
    pub(crate) fn at(server: S, source: &str, vars: &[(&str, &str)]) -> Catalogue<S> {
        let env = Env::new("");
        env.write_config(&format!("output = \"public/thumbs\"\n{source}\n{VARIANTS}"));
        let mirror = Env::new(VARIANTS);
        Catalogue {
            server,
            env,
            mirror,
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn put(&self, rel: &str, seed: u32) {
        let bytes = image_bytes(rel, 120 + seed % 40, 90 + seed % 13, seed);
        self.put_bytes(rel, &bytes);
    }

    fn put_bytes(&self, rel: &str, bytes: &[u8]) {
        self.server.put(&format!("catalogue/{rel}"), bytes);
        let local = self.mirror.src(rel);
        std::fs::create_dir_all(local.parent().unwrap()).unwrap();
        std::fs::write(local, bytes).unwrap();
    }

    fn delete(&self, rel: &str) {
        self.server.delete(&format!("catalogue/{rel}"));
        std::fs::remove_file(self.mirror.src(rel)).unwrap();
    }

    fn rename(&self, from: &str, to: &str) {
        let bytes = std::fs::read(self.mirror.src(from)).unwrap();
        self.put_bytes(to, &bytes);
        self.delete(from);
    }

    /// `thumbgen build --json ARGS`, asserting the exit code; the run and
    /// its summary event.
    fn build(&self, args: &[&str], code: i32) -> (Run, serde_json::Value) {
        let mut all = vec!["build", "--json"];
        all.extend_from_slice(args);
        let vars: Vec<(&str, &str)> = self
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let run = Run::from(thumbgen(&self.env, &all, &vars).output().unwrap());
        assert_eq!(run.code, code, "build {args:?}\n{}", run.stderr);
        let summary = parse_events(&run.stdout).pop().unwrap();
        assert_eq!(summary["type"], "summary");
        (run, summary)
    }

    /// What a clean build of the same photos from a local folder leaves.
    fn clean_build(&self) -> BTreeMap<String, Vec<u8>> {
        let clean = self.mirror.fresh_copy();
        clean.build(&[], 0);
        clean.outputs()
    }

    fn assert_equals_clean_build(&self, step: &str) {
        assert!(
            self.env.outputs() == self.clean_build(),
            "{step}: the tree differs from a clean build"
        );
    }
}

fn count(summary: &serde_json::Value, key: &str) -> u64 {
    summary[key].as_u64().unwrap()
}

#[test]
fn a_bucket_builds_incrementally_and_equals_a_clean_build() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let cat = Catalogue::new(server, "");
    for i in 0..6 {
        cat.put(&format!("shoes/p{i}.jpg"), i);
    }
    cat.put("bags/tote.png", 40);
    // Not under the prefix, not an image, or hidden: none is a source.
    cat.server
        .put("elsewhere/x.jpg", &image_bytes("x.jpg", 50, 50, 1));
    cat.server.put("catalogue/notes.txt", b"not a photo");
    // Hidden, as a walk would skip them.
    let hidden = image_bytes("h.jpg", 50, 50, 2);
    cat.server.put("catalogue/.drafts/h.jpg", &hidden);
    cat.server.put("catalogue/shoes/.h.jpg", &hidden);

    let (_, first) = cat.build(&[], 0);
    assert_eq!(count(&first, "built"), 14);
    assert_eq!(count(&first, "sources_downloaded"), 7);
    cat.assert_equals_clean_build("first build");

    let (_, noop) = cat.build(&[], 0);
    assert_eq!(count(&noop, "built"), 0);
    assert_eq!(count(&noop, "up_to_date"), 14);
    assert_eq!(
        count(&noop, "sources_downloaded"),
        0,
        "a no-op downloads nothing"
    );

    cat.put("shoes/p1.jpg", 101);
    let (run, changed) = cat.build(&["--explain"], 0);
    assert_eq!(count(&changed, "built"), 2, "{}", run.stderr);
    let why = format!("fetch  s3://{BUCKET}/catalogue/shoes/p1.jpg  (its listing changed");
    assert!(run.stderr.contains(&why), "{}", run.stderr);
    assert_eq!(count(&changed, "sources_downloaded"), 1);
    cat.assert_equals_clean_build("a changed object");

    // The same bytes written again: a new listing, the same content.
    let same = std::fs::read(cat.mirror.src("shoes/p2.jpg")).unwrap();
    cat.put_bytes("shoes/p2.jpg", &same);
    let (_, rewritten) = cat.build(&[], 0);
    assert_eq!(
        count(&rewritten, "built"),
        0,
        "same content, nothing rebuilt"
    );

    cat.delete("shoes/p3.jpg");
    let (_, deleted) = cat.build(&[], 0);
    assert_eq!(count(&deleted, "removed"), 2);
    cat.assert_equals_clean_build("a deleted object");

    cat.rename("shoes/p4.jpg", "archive/p4.jpg");
    let (_, renamed) = cat.build(&[], 0);
    assert_eq!(
        count(&renamed, "moved"),
        2,
        "a renamed key moves its outputs"
    );
    assert_eq!(count(&renamed, "built"), 0);
    cat.assert_equals_clean_build("a renamed key");

    cat.put("bags/new.jpg", 77);
    let (_, added) = cat.build(&[], 0);
    assert_eq!(count(&added, "built"), 2);
    cat.assert_equals_clean_build("a new object");
}

#[test]
fn offline_uses_the_records_and_the_cache_of_originals() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let mut cat = Catalogue::new(server, "");
    for i in 0..3 {
        cat.put(&format!("p{i}.jpg"), i);
    }
    cat.build(&[], 0);
    let built = cat.env.outputs();
    // Every request would now fail.
    cat.server.kill();
    let (_, offline) = cat.build(&["--offline"], 0);
    assert_eq!(count(&offline, "up_to_date"), 6);
    // A recipe change renders again from the originals kept locally.
    let config = std::fs::read_to_string(cat.env.root().join(".thumbgen.toml")).unwrap();
    let changed = config.replace("width = 160", "width = 100");
    cat.env.write_config(&changed);
    cat.mirror
        .set_variants(&VARIANTS.replace("width = 160", "width = 100"));
    let (run, rebuilt) = cat.build(&["--offline"], 0);
    assert_eq!(count(&rebuilt, "built"), 3, "{}", run.stderr);
    assert_eq!(count(&rebuilt, "sources_downloaded"), 0);
    cat.assert_equals_clean_build("offline, after a recipe change");
    // Without --offline, the build says the store cannot be listed, and
    // leaves everything as it was.
    let after = cat.env.outputs();
    let (run, _) = cat.build(&[], 2);
    assert!(run.stderr.contains("--offline"), "{}", run.stderr);
    assert_eq!(cat.env.outputs(), after);
    assert_ne!(after, built);
}

#[test]
fn without_a_kept_original_offline_keeps_the_outputs_and_says_why() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let mut cat = Catalogue::new(server, "originals_max_bytes = 0");
    cat.put("p0.jpg", 0);
    cat.build(&[], 0);
    assert!(
        !cat.env.root().join(".thumbgen/originals").exists(),
        "none kept"
    );
    let before = cat.env.outputs();
    cat.server.kill();
    let config = std::fs::read_to_string(cat.env.root().join(".thumbgen.toml")).unwrap();
    cat.env
        .write_config(&config.replace("width = 160", "width = 100"));
    let (run, summary) = cat.build(&["--offline"], 1);
    assert_eq!(count(&summary, "failed"), 1);
    assert!(
        run.stderr.contains("--offline makes no request"),
        "{}",
        run.stderr
    );
    assert_eq!(cat.env.outputs(), before, "what it had stays");
}

/// A fresh workspace beside a warm shared cache: the cache says what each
/// listed object holds, and holds its outputs, so no original is
/// downloaded at all.
#[test]
fn a_fresh_runner_with_a_warm_shared_cache_downloads_no_original() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let remote = format!(
        "[remote]\nurl = \"s3://{BUCKET}/cache\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\n",
        server.endpoint()
    );
    let cat = Catalogue::new(server, &remote);
    for i in 0..4 {
        cat.put(&format!("p{i}.jpg"), i);
    }
    let (_, first) = cat.build(&[], 0);
    assert_eq!(count(&first, "sources_downloaded"), 4);

    let fresh = Env::new("");
    std::fs::copy(
        cat.env.root().join(".thumbgen.toml"),
        fresh.root().join(".thumbgen.toml"),
    )
    .unwrap();
    let run = Run::from(
        thumbgen(&fresh, &["build", "--json"], &CREDENTIALS)
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = parse_events(&run.stdout).pop().unwrap();
    assert_eq!(count(&summary, "downloaded"), 8, "{}", run.stderr);
    assert_eq!(count(&summary, "built"), 0);
    assert_eq!(
        count(&summary, "sources_downloaded"),
        0,
        "no original downloaded"
    );
    assert!(fresh.outputs() == cat.env.outputs(), "the same tree");

    // A changed object on the fresh runner: the cache does not know this
    // write, so it alone is downloaded.
    cat.put("p1.jpg", 50);
    let run = Run::from(
        thumbgen(&fresh, &["build", "--json"], &CREDENTIALS)
            .output()
            .unwrap(),
    );
    let summary = parse_events(&run.stdout).pop().unwrap();
    assert_eq!(count(&summary, "sources_downloaded"), 1, "{}", run.stderr);
    assert_eq!(count(&summary, "built"), 2);
}

/// No endpoint in the config: the standard environment names it.
#[test]
fn the_environment_can_name_the_endpoint() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let cat = Catalogue::new(server, "");
    cat.put("p0.jpg", 0);
    let config = std::fs::read_to_string(cat.env.root().join(".thumbgen.toml")).unwrap();
    let without: String = config
        .lines()
        .filter(|l| !l.starts_with("source_endpoint") && !l.starts_with("source_region"))
        .map(|l| format!("{l}\n"))
        .collect();
    cat.env.write_config(&without);
    let endpoint = cat.server.endpoint();
    let mut vars = CREDENTIALS.to_vec();
    vars.extend([
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_REGION", "us-east-1"),
    ]);
    let run = Run::from(thumbgen(&cat.env, &["build"], &vars).output().unwrap());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.summary(), [2, 0, 0, 0]);
}

/// A `file://` store: no server needed. Too large a source fails alone,
/// and `watch` refuses a bucket.
#[test]
fn a_file_store_honours_max_bytes_and_watch_refuses_it() {
    let env = Env::new("");
    let store = env.root().join("store");
    std::fs::create_dir_all(store.join("a")).unwrap();
    let small = image_bytes("s.jpg", 80, 60, 1);
    let big = image_bytes("b.png", 400, 300, 2);
    assert!(
        small.len() < 20_000 && big.len() > 20_000,
        "{} {}",
        small.len(),
        big.len()
    );
    std::fs::write(store.join("a/small.jpg"), &small).unwrap();
    std::fs::write(store.join("a/big.png"), &big).unwrap();
    env.write_config(&format!(
        "source = \"file://store\"\noutput = \"public/thumbs\"\nmax_bytes = 20000\n{VARIANTS}"
    ));
    let run = env.build(&[], 1);
    assert_eq!(run.summary(), [2, 0, 0, 1], "{}", run.stderr);
    assert!(
        run.stderr.contains("larger than max_bytes"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("file://store/a/big.png"),
        "{}",
        run.stderr
    );
    assert!(env.out("thumb/a/small.jpg").exists());

    let watch = env.run(&["watch"]);
    assert_eq!(watch.code, 2);
    assert!(
        watch.stderr.contains("`watch` follows a local folder"),
        "{}",
        watch.stderr
    );
}

/// Random puts, deletes and renames in the bucket: after each, an
/// incremental build leaves what a clean build does.
#[test]
fn random_bucket_edits_keep_incremental_equal_to_clean() {
    let Some(server) = S3Server::start() else {
        return;
    };
    random_edits_keep_incremental_equal_to_clean(&Catalogue::new(server, ""), 0x5eed_b0c4);
}

/// Random puts, changes, deletes and renames of `cat`'s objects, seeded
/// by `seed`: after each, an incremental build leaves what a clean build
/// does. A no-op after the first build downloads nothing.
pub(crate) fn random_edits_keep_incremental_equal_to_clean<S: Objects>(
    cat: &Catalogue<S>,
    seed: u64,
) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut present: Vec<String> = Vec::new();
    for i in 0..4 {
        let rel = format!("c{}/p{i}.jpg", i % 2);
        cat.put(&rel, i);
        present.push(rel);
    }
    let (_, first) = cat.build(&[], 0);
    assert_eq!(count(&first, "sources_downloaded"), 4);
    cat.assert_equals_clean_build("first build");
    let (_, noop) = cat.build(&[], 0);
    assert_eq!(
        (count(&noop, "built"), count(&noop, "sources_downloaded")),
        (0, 0),
        "a no-op renders and downloads nothing"
    );
    let mut log = Vec::new();
    for step in 0..8u32 {
        let action = if present.len() < 2 { 0 } else { rng.u8(..4) };
        match action {
            0 => {
                let rel = format!(
                    "c{}/n{step}.{}",
                    rng.u8(..3),
                    ["jpg", "png"][rng.usize(..2)]
                );
                cat.put(&rel, 200 + step);
                log.push(format!("put {rel}"));
                present.push(rel);
            }
            1 => {
                let rel = present[rng.usize(..present.len())].clone();
                cat.put(&rel, 300 + step);
                log.push(format!("change {rel}"));
            }
            2 => {
                let rel = present.swap_remove(rng.usize(..present.len()));
                cat.delete(&rel);
                log.push(format!("delete {rel}"));
            }
            _ => {
                let from = present.swap_remove(rng.usize(..present.len()));
                let ext = from.rsplit('.').next().unwrap().to_string();
                let to = format!("moved/r{step}.{ext}");
                cat.rename(&from, &to);
                log.push(format!("rename {from} -> {to}"));
                present.push(to);
            }
        }
        cat.build(&[], 0);
        cat.assert_equals_clean_build(&log.join("; "));
    }
}
