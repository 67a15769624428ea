//! Sources behind URLs (`source_list`), served by a small HTTP origin that
//! each test starts on loopback, with the faults a real one has: 304s,
//! 429 with Retry-After, 500s, a truncated body, an oversized one, a
//! redirect loop, an HTML page sent with 200, and 404. Its request log
//! shows the conditional requests and the retries.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{image_bytes, parse_events, Env, Run};

const VARIANTS: &str = r#"
[[variants]]
name = "thumb"
width = 64
height = 64
fit = "cover"
format = "jpeg"

[[variants]]
name = "large"
width = 100
format = "webp"
"#;

/// How the origin answers one path.
#[derive(Clone)]
enum Route {
    /// An image with an ETag; `304` to a request that sends it back.
    Photo { bytes: Vec<u8>, etag: String },
    /// `429` (Retry-After: 1), then `500`, then the image.
    Flaky { bytes: Vec<u8>, served: usize },
    /// Says it sends more bytes than it does, then closes.
    Truncated,
    /// Sends a few bytes of its body, then nothing.
    Stall,
    /// A body larger than the test's `max_bytes`.
    Oversized,
    /// Redirects to itself.
    Loop,
    /// An error page sent with `200 OK`.
    Html,
    /// An image, sent only once `file` exists (or after `GATE_DEADLINE`).
    AfterFile { bytes: Vec<u8>, file: PathBuf },
}

/// How long a [`Route::AfterFile`] waits for its file at most.
const GATE_DEADLINE: Duration = Duration::from_secs(30);

/// One request as the origin saw it.
#[derive(Debug, Clone)]
struct Logged {
    path: String,
    if_none_match: Option<String>,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Route>,
    log: Vec<Logged>,
    /// For each [`Route::AfterFile`] answered: whether its file came
    /// (else the deadline passed).
    gates: Vec<bool>,
}

/// The origin: a thread answering on a loopback port until dropped.
struct Origin {
    port: u16,
    state: Arc<Mutex<State>>,
    /// Set: every request fails (500), to prove none is made.
    failing: Arc<AtomicBool>,
}

impl Origin {
    fn start() -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let failing = Arc::new(AtomicBool::new(false));
        let (shared, fails) = (state.clone(), failing.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (state, fails) = (shared.clone(), fails.clone());
                std::thread::spawn(move || serve(stream, &state, &fails));
            }
        });
        Origin {
            port,
            state,
            failing,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn route(&self, path: &str, route: Route) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), route);
    }

    fn photo(&self, path: &str, seed: u32) -> Vec<u8> {
        let bytes = image_bytes(path, 90 + seed % 30, 70 + seed % 11, seed);
        let etag = format!("\"{}\"", &blake3::hash(&bytes).to_hex()[..16]);
        self.route(
            path,
            Route::Photo {
                bytes: bytes.clone(),
                etag,
            },
        );
        bytes
    }

    /// The requests since the last call.
    fn take_log(&self) -> Vec<Logged> {
        std::mem::take(&mut self.state.lock().unwrap().log)
    }
}

fn serve(mut stream: TcpStream, state: &Mutex<State>, failing: &AtomicBool) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let path = request_line.split(' ').nth(1).unwrap_or("/").to_string();
    let mut if_none_match = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("if-none-match") {
                if_none_match = Some(value.trim().to_string());
            }
        }
    }
    let route = {
        let mut state = state.lock().unwrap();
        state.log.push(Logged {
            path: path.clone(),
            if_none_match: if_none_match.clone(),
        });
        let route = state
            .routes
            .get_mut(path.split('?').next().unwrap())
            .cloned();
        if let Some(Route::Flaky { served, .. }) =
            state.routes.get_mut(path.split('?').next().unwrap())
        {
            *served += 1;
        }
        route
    };
    let respond = |stream: &mut TcpStream, status: &str, headers: &str, body: &[u8]| {
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
    };
    if failing.load(Ordering::SeqCst) {
        return respond(&mut stream, "500 Internal Server Error", "", b"down");
    }
    match route {
        None => respond(&mut stream, "404 Not Found", "", b"no such photo"),
        Some(Route::Photo { etag, .. }) if if_none_match.as_deref() == Some(&etag) => respond(
            &mut stream,
            "304 Not Modified",
            &format!("ETag: {etag}\r\n"),
            b"",
        ),
        Some(Route::Photo { bytes, etag }) => respond(
            &mut stream,
            "200 OK",
            &format!("ETag: {etag}\r\nContent-Type: image/jpeg\r\n"),
            &bytes,
        ),
        Some(Route::Flaky { served: 0, .. }) => respond(
            &mut stream,
            "429 Too Many Requests",
            "Retry-After: 1\r\n",
            b"slow down",
        ),
        Some(Route::Flaky { served: 1, .. }) => {
            respond(&mut stream, "500 Internal Server Error", "", b"oops")
        }
        Some(Route::Flaky { bytes, .. }) => respond(&mut stream, "200 OK", "", &bytes),
        Some(Route::Truncated) => {
            let head = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n";
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&[0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return;
        }
        Some(Route::Stall) => {
            let head = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n";
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&[0xff, 0xd8, 0xff, 0xe0]);
            // Then nothing, until the client gives up.
        }
        Some(Route::Oversized) => respond(&mut stream, "200 OK", "", &vec![7u8; 300_000]),
        Some(Route::Loop) => respond(
            &mut stream,
            "302 Found",
            &format!("Location: {path}\r\n"),
            b"",
        ),
        Some(Route::Html) => respond(
            &mut stream,
            "200 OK",
            "Content-Type: image/jpeg\r\n",
            b"<!DOCTYPE html><html><body>Temporarily unavailable</body></html>",
        ),
        Some(Route::AfterFile { .. }) if if_none_match.as_deref() == Some("\"gated\"") => {
            respond(&mut stream, "304 Not Modified", "ETag: \"gated\"\r\n", b"")
        }
        Some(Route::AfterFile { bytes, file }) => {
            let deadline = Instant::now() + GATE_DEADLINE;
            while !file.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            state.lock().unwrap().gates.push(file.exists());
            respond(&mut stream, "200 OK", "ETag: \"gated\"\r\n", &bytes);
        }
    }
    let _ = reader.read_to_end(&mut Vec::new());
}

/// A project building the URLs of `feeds/list.txt`.
fn project(extra: &str) -> Env {
    let env = Env::new("");
    env.write_config(&format!(
        "source_list = \"feeds/list.txt\"\noutput = \"public/thumbs\"\n{extra}\n{VARIANTS}"
    ));
    std::fs::create_dir_all(env.root().join("feeds")).unwrap();
    env
}

fn write_list(env: &Env, text: &str) {
    std::fs::write(env.root().join("feeds/list.txt"), text).unwrap();
}

/// `thumbgen build --json ARGS`, asserting the exit code.
fn build(env: &Env, args: &[&str], code: i32) -> (Run, serde_json::Value) {
    let mut all = vec!["build", "--json"];
    all.extend_from_slice(args);
    let run = env.run(&all);
    assert_eq!(run.code, code, "build {args:?}\n{}", run.stderr);
    let summary = parse_events(&run.stdout).pop().unwrap();
    (run, summary)
}

fn count(summary: &serde_json::Value, key: &str) -> u64 {
    summary[key].as_u64().unwrap()
}

/// What a clean build of `photos` (output path → bytes) from a local
/// folder leaves.
fn clean_build_of(photos: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    let clean = Env::new(VARIANTS);
    for (rel, bytes) in photos {
        let path = clean.src(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    clean.build(&[], 0);
    clean.outputs()
}

#[test]
fn urls_are_revalidated_and_only_changes_are_downloaded() {
    let origin = Origin::start();
    let env = project("");
    let mut photos = BTreeMap::new();
    for name in ["a", "b", "c"] {
        let path = format!("/img/{name}.jpg");
        photos.insert(
            format!("127.0.0.1{path}"),
            origin.photo(&path, name.len() as u32 + name.as_bytes()[0] as u32),
        );
    }
    // Signed URLs: the query changes every run, and is not the source's identity.
    let list = |sig: &str| {
        ["a", "b", "c"]
            .iter()
            .map(|n| format!("{}?sig={sig}\n", origin.url(&format!("/img/{n}.jpg"))))
            .collect::<String>()
    };
    write_list(&env, &list("one"));
    let (run, first) = build(&env, &[], 0);
    assert_eq!(count(&first, "built"), 6);
    // Events name a source by its path and by its URL, without the
    // signature (a credential) in its query.
    let built = parse_events(&run.stdout);
    let urls: BTreeSet<(String, String)> = built
        .iter()
        .filter(|e| e["type"] == "built")
        .map(|e| (e["source"].to_string(), e["url"].to_string()))
        .collect();
    let expected: BTreeSet<(String, String)> = ["a", "b", "c"]
        .iter()
        .map(|n| {
            let url = origin.url(&format!("/img/{n}.jpg"));
            (format!("\"127.0.0.1/img/{n}.jpg\""), format!("\"{url}\""))
        })
        .collect();
    assert_eq!(urls, expected);
    assert_eq!(count(&first, "sources_downloaded"), 3);
    assert!(origin.take_log().iter().all(|r| r.if_none_match.is_none()));
    assert!(env.outputs() == clean_build_of(&photos), "first build");

    write_list(&env, &list("two"));
    let (run, noop) = build(&env, &["--explain"], 0);
    assert!(
        run.stderr
            .contains("fetch  127.0.0.1/img/a.jpg  (revalidated: 304 Not Modified)"),
        "{}",
        run.stderr
    );
    assert_eq!(count(&noop, "built"), 0);
    assert_eq!(count(&noop, "sources_downloaded"), 0);
    let log = origin.take_log();
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(
        log.iter().all(|r| r.if_none_match.is_some()),
        "conditional: {log:?}"
    );

    photos.insert("127.0.0.1/img/b.jpg".into(), origin.photo("/img/b.jpg", 77));
    let (_, changed) = build(&env, &[], 0);
    assert_eq!(count(&changed, "built"), 2);
    assert_eq!(count(&changed, "sources_downloaded"), 1);
    assert!(env.outputs() == clean_build_of(&photos), "a changed photo");

    write_list(
        &env,
        &list("three").replace(&format!("{}?sig=three\n", origin.url("/img/c.jpg")), ""),
    );
    photos.remove("127.0.0.1/img/c.jpg");
    let (_, removed) = build(&env, &[], 0);
    assert_eq!(count(&removed, "removed"), 2);
    assert!(
        env.outputs() == clean_build_of(&photos),
        "a URL left the list"
    );
}

#[test]
fn each_fault_fails_its_source_alone_and_retries_are_made() {
    let origin = Origin::start();
    let env = project("max_bytes = 200000\nstall_timeout = 2");
    let good = origin.photo("/good.jpg", 3);
    let flaky = image_bytes("f.jpg", 80, 60, 9);
    origin.route(
        "/flaky.jpg",
        Route::Flaky {
            bytes: flaky.clone(),
            served: 0,
        },
    );
    origin.route("/truncated.jpg", Route::Truncated);
    origin.route("/stall.jpg", Route::Stall);
    origin.route("/big.jpg", Route::Oversized);
    origin.route("/loop.jpg", Route::Loop);
    origin.route("/html.jpg", Route::Html);
    let names = [
        "good",
        "flaky",
        "truncated",
        "stall",
        "big",
        "loop",
        "html",
        "gone",
    ];
    let mut list = String::from("url,name\n");
    for name in names {
        list.push_str(&format!(
            "{},{name}.jpg\n",
            origin.url(&format!("/{name}.jpg"))
        ));
    }
    list.push_str("not-a-url,x.jpg\n");
    list.push_str(&format!("{},good.jpg\n", origin.url("/other.jpg")));
    write_list(&env, &list);

    let (run, summary) = build(&env, &[], 1);
    assert_eq!(count(&summary, "built"), 4, "{}", run.stderr);
    assert_eq!(count(&summary, "failed"), 6, "{}", run.stderr);
    for (name, says) in [
        ("truncated", "cut short"),
        ("stall", "stalled: nothing for 2 s"),
        ("big", "larger than max_bytes"),
        ("loop", "redirects"),
        ("html", "web page (HTML)"),
        ("gone", "404"),
    ] {
        let line = run
            .stderr
            .lines()
            .find(|l| l.starts_with("error:") && l.contains(&format!("{name}.jpg")))
            .unwrap_or_else(|| panic!("no error for {name}:\n{}", run.stderr));
        assert!(line.contains(says), "{name}: {line}");
    }
    let failed_urls: BTreeSet<_> = parse_events(&run.stdout)
        .into_iter()
        .filter(|e| e["type"] == "failed")
        .map(|e| e["url"].as_str().unwrap().to_string())
        .collect();
    assert!(
        failed_urls.contains(&origin.url("/gone.jpg")),
        "{failed_urls:?}"
    );
    assert!(
        run.stderr
            .contains("feeds/list.txt:10: \"not-a-url\" is not a URL"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("feeds/list.txt:11: the name good.jpg is taken by line 2"),
        "{}",
        run.stderr
    );
    let flaky_tries = origin
        .take_log()
        .iter()
        .filter(|r| r.path == "/flaky.jpg")
        .count();
    assert_eq!(flaky_tries, 3, "429, then 500, then the photo");
    let mut photos = BTreeMap::new();
    photos.insert("good.jpg".to_string(), good);
    photos.insert("flaky.jpg".to_string(), flaky);
    assert!(
        env.outputs() == clean_build_of(&photos),
        "only the good ones are built"
    );

    // A failure is never kept as an answer: the next build asks again for
    // each failed URL (and for the good ones, with their validators).
    let (run, again) = build(&env, &[], 1);
    assert_eq!(count(&again, "built"), 0, "{}", run.stderr);
    assert_eq!(count(&again, "failed"), 6, "{}", run.stderr);
    let asked: Vec<String> = origin.take_log().into_iter().map(|r| r.path).collect();
    for name in ["truncated", "big", "html", "gone"] {
        assert!(asked.contains(&format!("/{name}.jpg")), "{name}: {asked:?}");
    }
}

#[test]
fn offline_and_max_age_make_no_request() {
    let origin = Origin::start();
    let env = project("max_age = 3600");
    origin.photo("/p.jpg", 5);
    write_list(&env, &format!("{}\n", origin.url("/p.jpg")));
    build(&env, &[], 0);
    origin.take_log();
    let (_, fresh) = build(&env, &[], 0);
    assert_eq!(count(&fresh, "up_to_date"), 2);
    assert!(
        origin.take_log().is_empty(),
        "within max_age nothing is asked"
    );

    origin.failing.store(true, Ordering::SeqCst);
    let before = env.outputs();
    let config = std::fs::read_to_string(env.root().join(".thumbgen.toml")).unwrap();
    env.write_config(&config.replace("max_age = 3600", ""));
    let (_, offline) = build(&env, &["--offline"], 0);
    assert_eq!(count(&offline, "up_to_date"), 2);
    assert!(origin.take_log().is_empty(), "--offline asks nothing");
    assert_eq!(env.outputs(), before);

    // Online, the failing origin fails the source, and its thumbnails stay.
    let (run, online) = build(&env, &[], 1);
    assert_eq!(count(&online, "failed"), 1, "{}", run.stderr);
    assert!(run.stderr.contains("500"), "{}", run.stderr);
    assert_eq!(env.outputs(), before);
}

/// New URLs are downloaded while the build renders, ahead of the workers:
/// the origin holds the second photo back until the first one's
/// thumbnail is on disk, which happens only if rendering does not wait
/// for every download. What the build learnt of each answer is kept, so
/// the next build only revalidates.
#[test]
fn new_urls_download_while_the_build_renders() {
    let origin = Origin::start();
    let env = project("");
    let first = origin.photo("/a.jpg", 5);
    let second = image_bytes("b.jpg", 96, 80, 6);
    origin.route(
        "/b.jpg",
        Route::AfterFile {
            bytes: second.clone(),
            file: env.out("thumb/a.jpg"),
        },
    );
    write_list(
        &env,
        &format!(
            "url,name\n{},a.jpg\n{},b.jpg\n",
            origin.url("/a.jpg"),
            origin.url("/b.jpg")
        ),
    );
    let (run, summary) = build(&env, &["-j1"], 0);
    assert_eq!(count(&summary, "built"), 4, "{}", run.stderr);
    assert_eq!(count(&summary, "sources_downloaded"), 2);
    assert_eq!(
        origin.state.lock().unwrap().gates,
        [true],
        "b.jpg was only sent once a.jpg's thumbnail was written"
    );
    let mut photos = BTreeMap::new();
    photos.insert("a.jpg".to_string(), first);
    photos.insert("b.jpg".to_string(), second);
    assert!(env.outputs() == clean_build_of(&photos), "as a clean build");

    origin.take_log();
    let (_, noop) = build(&env, &[], 0);
    assert_eq!(count(&noop, "sources_downloaded"), 0);
    let log = origin.take_log();
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(
        log.iter().all(|r| r.if_none_match.is_some()),
        "both revalidated with what the first build kept: {log:?}"
    );
}
