//! `thumbgen publish` against a real S3 server on loopback (moto): what
//! goes up, with which headers, in which order, and what is never deleted.

use crate::common::{Env, Run, TWO_VARIANTS};
use crate::remote::{thumbgen, S3Server, BUCKET, CREDENTIALS};

/// A project whose outputs (and manifest) are published under `cdn/`.
fn project(server: &S3Server, extra: &str) -> Env {
    let env = Env::new("");
    env.write_config(&format!(
        "source = \"images\"\noutput = \"public/thumbs\"\nmanifest = \"public/thumbs/manifest.json\"\n{TWO_VARIANTS}\n[publish]\nurl = \"s3://{BUCKET}/cdn\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\npublish_manifest = true\n{extra}",
        server.endpoint()
    ));
    env
}

fn run(env: &Env, args: &[&str], code: i32) -> Run {
    let run = Run::from(thumbgen(env, args, &CREDENTIALS).output().unwrap());
    assert_eq!(run.code, code, "{args:?}\n{}", run.stderr);
    run
}

/// The `uploaded N`, `unchanged N` and `deleted N` of the publish line.
fn published(run: &Run) -> [usize; 3] {
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("published to "))
        .unwrap_or_else(|| panic!("no publish line:\n{}", run.stderr));
    let count = |label: &str| -> usize {
        let rest = line.split(label).nth(1).unwrap();
        rest.split([' ', ',']).next().unwrap().parse().unwrap()
    };
    [count("uploaded "), count("unchanged "), count("deleted ")]
}

fn cdn_keys(server: &S3Server) -> Vec<String> {
    server
        .keys()
        .into_iter()
        .filter_map(|k| k.strip_prefix("cdn/").map(str::to_string))
        .filter(|k| !k.starts_with(".thumbgen"))
        .collect()
}

#[test]
fn only_what_changed_goes_up_then_the_manifest_then_the_deletes() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let env = project(&server, "");
    env.add_image("a.jpg", 100, 80, 1);
    env.add_image("s/b.png", 100, 80, 2);
    let first = run(&env, &["build", "--publish"], 0);
    assert_eq!(published(&first), [5, 0, 0], "{}", first.stderr);
    assert_eq!(
        cdn_keys(&server),
        [
            "large/a.webp",
            "large/s/b.webp",
            "manifest.json",
            "thumb/a.jpg",
            "thumb/s/b.jpg"
        ]
    );
    let head = server.head("cdn/thumb/a.jpg");
    assert_eq!(head["content-type"], "image/jpeg");
    assert_eq!(head["cache-control"], "public, max-age=3600");
    assert_eq!(
        server.head("cdn/large/a.webp")["content-type"],
        "image/webp"
    );
    assert_eq!(
        server.head("cdn/manifest.json")["content-type"],
        "application/json"
    );
    assert_eq!(
        server.get("cdn/thumb/a.jpg"),
        std::fs::read(env.out("thumb/a.jpg")).unwrap()
    );

    let again = run(&env, &["publish"], 0);
    assert_eq!(
        published(&again),
        [0, 5, 0],
        "nothing to do: {}",
        again.stderr
    );

    // Someone else's object under the prefix.
    server.put("cdn/thumb/keep-me.jpg", b"not thumbgen's");
    env.add_image("a.jpg", 100, 80, 7);
    let changed = run(&env, &["build", "--publish"], 0);
    // Its two outputs, then the manifest that names them.
    assert_eq!(published(&changed), [3, 2, 0], "{}", changed.stderr);

    std::fs::remove_file(env.src("s/b.png")).unwrap();
    let dry = run(&env, &["build"], 0);
    assert!(dry.stderr.contains("removed 2"), "{}", dry.stderr);
    let keys_before = server.keys();
    let listed = run(&env, &["publish", "--dry-run"], 0);
    assert!(
        listed
            .stderr
            .contains("delete large/s/b.webp  (no longer built)"),
        "{}",
        listed.stderr
    );
    assert!(
        listed.stderr.contains("upload manifest.json  (changed)"),
        "{}",
        listed.stderr
    );
    assert_eq!(server.keys(), keys_before, "a dry run changes nothing");
    let deleted = run(&env, &["publish"], 0);
    assert_eq!(published(&deleted), [1, 2, 2], "{}", deleted.stderr);
    assert_eq!(
        cdn_keys(&server),
        [
            "large/a.webp",
            "manifest.json",
            "thumb/a.jpg",
            "thumb/keep-me.jpg"
        ],
        "thumbgen's stale keys go; someone else's stays"
    );
}

#[test]
fn too_many_deletes_delete_nothing_unless_allowed() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let env = project(&server, "max_deletes = 2");
    for i in 0..3 {
        env.add_image(&format!("p{i}.jpg"), 90, 70, i);
    }
    run(&env, &["build", "--publish"], 0);
    for i in 0..2 {
        std::fs::remove_file(env.src(&format!("p{i}.jpg"))).unwrap();
    }
    let guarded = run(&env, &["build", "--publish"], 1);
    assert!(
        guarded
            .stderr
            .contains("more than max_deletes (2): none was deleted"),
        "{}",
        guarded.stderr
    );
    assert_eq!(cdn_keys(&server).len(), 7, "no delete happened");
    let allowed = run(&env, &["publish", "--allow-deletes"], 0);
    assert_eq!(published(&allowed), [0, 3, 4], "{}", allowed.stderr);
}

#[test]
fn headers_follow_their_rules_and_a_fresh_runner_uploads_nothing() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let env = project(&server, "");
    let named =
        "[[variants]]\nname = \"thumb\"\nwidth = 64\nformat = \"jpeg\"\nhash_names = true\n";
    let config = std::fs::read_to_string(env.root().join(".thumbgen.toml")).unwrap();
    env.write_config(&config.replacen(TWO_VARIANTS, named, 1));
    env.add_image("a.jpg", 100, 80, 1);
    run(&env, &["build", "--publish"], 0);
    let key = cdn_keys(&server)
        .into_iter()
        .find(|k| k.starts_with("thumb/a."))
        .unwrap();
    assert_eq!(
        server.head(&format!("cdn/{key}"))["cache-control"],
        "public, max-age=31536000, immutable",
        "a content-named output never changes"
    );

    // A fresh checkout of the same project: its build makes the same
    // bytes, and the record in the bucket says they are there.
    let fresh = env.fresh_copy();
    run(&fresh, &["build"], 0);
    let nothing = run(&fresh, &["publish"], 0);
    assert_eq!(published(&nothing), [0, 2, 0], "{}", nothing.stderr);

    // New header rules are published, though no byte changed.
    let config = std::fs::read_to_string(env.root().join(".thumbgen.toml")).unwrap();
    env.write_config(&format!(
        "{config}cache_control = \"public, max-age=600\"\n"
    ));
    let headers = run(&env, &["publish"], 0);
    assert_eq!(published(&headers), [1, 1, 0], "{}", headers.stderr);
    assert_eq!(
        server.head(&format!("cdn/{key}"))["cache-control"],
        "public, max-age=600"
    );
}

#[test]
fn verify_repairs_a_deleted_and_a_truncated_object() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let env = project(&server, "");
    env.add_image("a.jpg", 100, 80, 1);
    env.add_image("b.jpg", 100, 80, 2);
    run(&env, &["build", "--publish"], 0);
    server.delete("cdn/thumb/a.jpg");
    let whole = server.get("cdn/large/b.webp");
    server.put("cdn/large/b.webp", &whole[..whole.len() / 2]);
    let trusting = run(&env, &["publish"], 0);
    assert_eq!(
        published(&trusting),
        [0, 5, 0],
        "without --verify the record is trusted"
    );

    let verified = run(&env, &["publish", "--verify"], 0);
    assert_eq!(published(&verified), [2, 3, 0], "{}", verified.stderr);
    assert_eq!(
        server.get("cdn/thumb/a.jpg"),
        std::fs::read(env.out("thumb/a.jpg")).unwrap()
    );
    assert_eq!(
        server.get("cdn/large/b.webp"),
        std::fs::read(env.out("large/b.webp")).unwrap()
    );
}
