//! `thumbgen publish` against a real S3 server on loopback (moto): what
//! goes up, with which headers, in which order, and what is never deleted.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{parse_events, Env, Run, TWO_VARIANTS};
use crate::remote::{thumbgen, S3Server, BUCKET, CREDENTIALS};

/// A project whose outputs (and manifest) are published under `cdn/`.
fn project(server: &S3Server, extra: &str) -> Env {
    let env = Env::new("");
    env.write_config(&config(&server.endpoint(), "cdn", extra));
    env
}

/// The config of [`project`], publishing under `prefix` through `endpoint`.
fn config(endpoint: &str, prefix: &str, extra: &str) -> String {
    format!(
        "source = \"images\"\noutput = \"public/thumbs\"\nmanifest = \"public/thumbs/manifest.json\"\n{TWO_VARIANTS}\n[publish]\nurl = \"s3://{BUCKET}/{prefix}\"\nendpoint = \"{endpoint}\"\nregion = \"us-east-1\"\npublish_manifest = true\n{extra}"
    )
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

/// Every object under `prefix/` (the records included), by key under it.
fn objects_under(server: &S3Server, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    server
        .keys()
        .into_iter()
        .filter_map(|k| {
            let rel = k.strip_prefix(&format!("{prefix}/"))?.to_string();
            Some((rel, server.get(&k)))
        })
        .collect()
}

/// The `published` counts of the summary, the last event.
fn published_json(run: &Run) -> serde_json::Value {
    let events = parse_events(&run.stdout);
    let summary = events.last().expect("a summary");
    assert_eq!(summary["type"], "summary", "{}", run.stdout);
    summary["published"].clone()
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
    let changed = run(&env, &["build", "--publish", "--json"], 0);
    // Its two outputs, then the manifest that names them.
    assert_eq!(published(&changed), [3, 2, 0], "{}", changed.stderr);
    let events = parse_events(&changed.stdout);
    let uploaded: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "uploaded")
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(uploaded.len(), 3, "{}", changed.stdout);
    assert_eq!(uploaded[2], "manifest.json", "the manifest goes up last");
    let summary = events.last().unwrap();
    assert_eq!(summary["type"], "summary", "the summary stays last");
    assert_eq!(summary["built"], 2);
    assert_eq!(summary["published"]["uploaded"], 3);
    assert_eq!(summary["published"]["unchanged"], 2);

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
    let env = project(&server, "max_deletes = 2\nconcurrency = 1");
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

#[test]
fn a_no_op_publish_reads_its_records_and_changes_nothing() {
    let Some(server) = S3Server::start_recording() else {
        return;
    };
    let env = project(&server, "");
    env.add_image("a.jpg", 100, 80, 1);
    env.add_image("b.jpg", 100, 80, 2);
    run(&env, &["build", "--publish"], 0);

    server.record_from_here();
    let again = run(&env, &["publish", "--json"], 0);
    let counts = published_json(&again);
    assert_eq!(counts["uploaded"], 0);
    assert_eq!(counts["unchanged"], 5);
    assert_eq!(counts["deleted"], 0);
    let summary = parse_events(&again.stdout).pop().unwrap();
    assert_eq!(summary["mode"], "publish");
    let requests = server.requests();
    let record = format!("/{BUCKET}/cdn/.thumbgen-published.json");
    let gets: Vec<&(String, String)> = requests.iter().filter(|(m, _)| m == "GET").collect();
    assert!(
        requests.iter().all(|(method, _)| method == "GET"),
        "no PUT, no DELETE: {requests:?}"
    );
    assert_eq!(gets.len(), 2, "{requests:?}");
    assert!(gets.iter().any(|(_, path)| *path == record), "{requests:?}");
    assert!(
        gets.iter().any(|(_, path)| path.contains("list-type=2")
            && path.contains("prefix=cdn/.thumbgen-published.shards/")),
        "the one listing is of the shards' records only: {requests:?}"
    );
}

#[test]
fn shards_publish_their_parts_and_the_assembling_build_deletes() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let env = project(&server, "");
    for i in 0..8 {
        env.add_image(&format!("p{i}.jpg"), 90, 70, i);
    }
    run(&env, &["build", "--publish"], 0);
    std::fs::remove_file(env.src("p7.jpg")).unwrap();
    env.add_image("p8.jpg", 90, 70, 8);
    env.add_image("p2.jpg", 90, 70, 22);

    // Each shard job starts from a fresh checkout, with its own cache.
    let mut uploaded = 0;
    for k in 1..=3 {
        let job = env.fresh_copy();
        let shard = format!("{k}/3");
        let ran = run(&job, &["build", "--shard", &shard, "--publish"], 0);
        let [up, _, deleted] = published(&ran);
        assert_eq!(deleted, 0, "a shard deletes nothing: {}", ran.stderr);
        uploaded += up;
    }
    assert_eq!(uploaded, 4, "p8 and the changed p2, two outputs each");
    let records: Vec<String> = server
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("cdn/.thumbgen-published.shards/"))
        .collect();
    assert!(!records.is_empty() && records.len() <= 3, "{records:?}");
    assert!(
        cdn_keys(&server).contains(&"thumb/p7.jpg".to_string()),
        "still there until the assembling build"
    );

    let assemble = env.fresh_copy();
    let ran = run(&assemble, &["build", "--publish"], 0);
    assert_eq!(
        published(&ran),
        [1, 16, 2],
        "only the manifest goes up; p7's two outputs go: {}",
        ran.stderr
    );
    assert!(!cdn_keys(&server).contains(&"thumb/p7.jpg".to_string()));
    assert!(
        server
            .keys()
            .iter()
            .all(|k| !k.starts_with("cdn/.thumbgen-published.shards/")),
        "the shards' records are taken in, then deleted"
    );
    let again = run(&assemble, &["publish"], 0);
    assert_eq!(published(&again), [0, 17, 0], "{}", again.stderr);
}

/// A TCP proxy to a server that forwards until `budget` bytes have gone
/// to it, then holds every later byte: the requests in flight stall,
/// as on a network that fails mid-publish.
struct StallingProxy {
    port: u16,
    budget: Arc<AtomicU64>,
    stalled: Arc<AtomicBool>,
}

impl StallingProxy {
    fn start(upstream: u16, budget: u64) -> StallingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let budget = Arc::new(AtomicU64::new(budget));
        let stalled = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (b, st) = (budget.clone(), stalled.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let server = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
                let (mut down_from, mut down_to) =
                    (server.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut down_from, &mut down_to);
                    let _ = down_to.shutdown(std::net::Shutdown::Write);
                });
                let (b, st, sent) = (b.clone(), st.clone(), sent.clone());
                std::thread::spawn(move || pump_up(client, server, &b, &st, &sent));
            }
        });
        StallingProxy {
            port,
            budget,
            stalled,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn stalled(&self) -> bool {
        self.stalled.load(Ordering::SeqCst)
    }

    /// Forward everything from now on.
    fn heal(&self) {
        self.budget.store(u64::MAX, Ordering::SeqCst);
    }
}

/// Client to server, holding back what is over the budget until healed.
fn pump_up(
    mut client: TcpStream,
    mut server: TcpStream,
    budget: &AtomicU64,
    stalled: &AtomicBool,
    sent: &AtomicU64,
) {
    let mut buffer = [0u8; 4096];
    loop {
        let n = match client.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let total = sent.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
        while total > budget.load(Ordering::SeqCst) {
            stalled.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(10));
        }
        if server.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    let _ = server.shutdown(std::net::Shutdown::Write);
}

#[test]
fn a_publish_cut_mid_way_is_finished_by_the_next_and_equals_a_clean_one() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let env = project(&server, "");
    for i in 0..12 {
        env.add_image(&format!("p{i}.jpg"), 400, 300, i);
    }
    run(&env, &["build"], 0);
    // The clean publish to compare with: the same tree, another prefix.
    let clean = env.root().join("clean.toml");
    std::fs::write(&clean, config(&server.endpoint(), "clean", "")).unwrap();
    run(&env, &["publish", "-c", clean.to_str().unwrap()], 0);
    let reference = objects_under(&server, "clean");
    let bytes: usize = reference.values().map(Vec::len).sum();

    // Through a network that stalls half-way, and a job killed there.
    let proxy = StallingProxy::start(
        server
            .endpoint()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap(),
        bytes as u64 / 2,
    );
    // One upload at a time, so that the objects before the stall are whole
    // and the stall is mid-way whatever the timing.
    env.write_config(&config(&proxy.endpoint(), "cdn", "concurrency = 1"));
    let mut job = thumbgen(&env, &["publish"], &CREDENTIALS)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !proxy.stalled() {
        assert!(
            Instant::now() < deadline,
            "the publish never reached the stall"
        );
        assert!(
            job.try_wait().unwrap().is_none(),
            "the publish ended before the stall"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    job.kill().unwrap();
    job.wait().unwrap();
    let cut = cdn_keys(&server);
    assert!(
        !cut.is_empty() && cut.len() < reference.len() - 1,
        "cut mid-way: {cut:?}"
    );

    proxy.heal();
    env.write_config(&config(&proxy.endpoint(), "cdn", ""));
    let finished = run(&env, &["publish"], 0);
    assert!(published(&finished)[0] > 0, "{}", finished.stderr);
    assert_eq!(
        objects_under(&server, "cdn"),
        reference,
        "the same objects, bytes and record as a clean publish"
    );
}
