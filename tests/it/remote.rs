//! The shared cache against a real S3 server on loopback (moto in server
//! mode, started here on a free port), and against a shared folder.
//!
//! Each test that needs S3 starts its own server, so that one can be
//! killed or run with authentication on without touching the others. When
//! `moto_server` is not installed the S3 tests say so and pass, except on
//! CI (`CI` set), where `.ci/run` installs it and its absence is a failure.

use std::io::{BufRead, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Env, Run, TWO_VARIANTS};

pub(crate) const BUCKET: &str = "thumbs";

/// A moto S3 server on loopback, killed on drop.
pub(crate) struct S3Server {
    child: Child,
    port: u16,
    /// Where moto records requests, when it does.
    _recording: Option<tempfile::TempDir>,
}

impl S3Server {
    /// Start one, or `None` (outside CI) if moto is not installed.
    pub(crate) fn start() -> Option<S3Server> {
        S3Server::start_with(&[])
    }

    /// Start one that records every request it is sent, for
    /// [`S3Server::requests`].
    pub(crate) fn start_recording() -> Option<S3Server> {
        let folder = tempfile::tempdir().unwrap();
        let file = folder.path().join("requests");
        let mut server = S3Server::start_with(&[
            ("MOTO_ENABLE_RECORDING", "True"),
            ("MOTO_RECORDER_FILEPATH", file.to_str().unwrap()),
        ])?;
        server._recording = Some(folder);
        Some(server)
    }

    #[allow(clippy::print_stderr)] // says why it did not run, in the test log
    fn start_with(env: &[(&str, &str)]) -> Option<S3Server> {
        let port = free_port();
        let spawned = std::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if std::env::var_os("CI").is_none() => {
                eprintln!("skipped: moto_server not found ({e}); pip install 'moto[server]'");
                return None;
            }
            Err(e) => panic!("moto_server is required on CI: {e}"),
        };
        let server = S3Server {
            child,
            port,
            _recording: None,
        };
        wait_until_listening(port, Duration::from_secs(30), "moto_server");
        // With authentication on, nothing is accepted, nor needs a bucket.
        if !env
            .iter()
            .any(|(name, _)| *name == "INITIAL_NO_AUTH_ACTION_COUNT")
        {
            let (status, body) = server.http("PUT", &format!("/{BUCKET}"), b"");
            assert_eq!(status, 200, "create bucket: {body}");
        }
        Some(server)
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One unsigned HTTP/1.0 request (moto does not check signatures
    /// unless told to): status and body.
    fn http(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        self.anonymous(method, path, &[], body)
    }

    /// One unsigned HTTP/1.0 request with `headers`: status and body.
    pub(crate) fn anonymous(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n",
            self.port,
            body.len()
        );
        for (name, value) in headers {
            head += &format!("{name}: {value}\r\n");
        }
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(b"\r\n").unwrap();
        stream.write_all(body).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    /// From now on, record the requests made (of a server started with
    /// [`S3Server::start_recording`]), forgetting those before.
    pub(crate) fn record_from_here(&self) {
        let (status, body) = self.http("POST", "/moto-api/recorder/reset-recording", b"");
        assert_eq!(status, 200, "{body}");
        let (status, body) = self.http("POST", "/moto-api/recorder/start-recording", b"");
        assert_eq!(status, 200, "{body}");
    }

    /// The requests recorded since [`S3Server::record_from_here`]: method
    /// and path with query, e.g. `("GET", "/thumbs?list-type=2&prefix=…")`.
    pub(crate) fn requests(&self) -> Vec<(String, String)> {
        let (status, body) = self.http("GET", "/moto-api/recorder/download-recording", b"");
        assert_eq!(status, 200, "{body}");
        body.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let request: serde_json::Value = serde_json::from_str(line).unwrap();
                let url = request["url"].as_str().unwrap();
                let path = url.splitn(4, '/').nth(3).unwrap_or("");
                (
                    request["method"].as_str().unwrap().to_string(),
                    format!("/{path}"),
                )
            })
            .collect()
    }

    /// The headers an object was stored with (`content-type`,
    /// `cache-control`), read signed.
    pub(crate) fn head(&self, key: &str) -> std::collections::BTreeMap<String, String> {
        use object_store::{Attribute, GetOptions, ObjectStore};
        let store = self.signed();
        let options = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        let got = runtime()
            .block_on(store.get_opts(&key.into(), options))
            .unwrap();
        let mut headers = std::collections::BTreeMap::new();
        for (name, attribute) in [
            ("content-type", Attribute::ContentType),
            ("cache-control", Attribute::CacheControl),
        ] {
            if let Some(value) = got.attributes.get(&attribute) {
                headers.insert(name.to_string(), value.as_ref().to_string());
            }
        }
        headers
    }

    /// Every object name in the bucket, sorted.
    pub(crate) fn keys(&self) -> Vec<String> {
        let (status, body) = self.http("GET", &format!("/{BUCKET}?list-type=2&max-keys=1000"), b"");
        assert_eq!(status, 200, "{body}");
        assert!(!body.contains("<IsTruncated>true"), "more than a page");
        let mut keys: Vec<String> = body
            .split("<Key>")
            .skip(1)
            .filter_map(|part| part.split("</Key>").next())
            .map(str::to_string)
            .collect();
        keys.sort();
        keys
    }

    /// Overwrite an object, signed as the machines that wrote it (moto
    /// refuses an anonymous overwrite of their objects).
    pub(crate) fn put(&self, key: &str, bytes: &[u8]) {
        use object_store::ObjectStore;
        let store = self.signed();
        runtime()
            .block_on(store.put(&key.into(), bytes.to_vec().into()))
            .unwrap();
    }

    /// Delete an object, signed.
    pub(crate) fn delete(&self, key: &str) {
        use object_store::ObjectStore;
        let store = self.signed();
        runtime().block_on(store.delete(&key.into())).unwrap();
    }

    /// An object's bytes, read signed.
    pub(crate) fn get(&self, key: &str) -> Vec<u8> {
        use object_store::ObjectStore;
        let store = self.signed();
        runtime()
            .block_on(async { store.get(&key.into()).await?.bytes().await })
            .unwrap()
            .to_vec()
    }

    fn signed(&self) -> object_store::aws::AmazonS3 {
        object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(BUCKET)
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_access_key_id(CREDENTIALS[0].1)
            .with_secret_access_key(CREDENTIALS[1].1)
            .with_token(CREDENTIALS[2].1)
            .build()
            .unwrap()
    }

    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Poll until a server accepts connections on loopback `port`, failing
/// the test after `patience`.
pub(crate) fn wait_until_listening(port: u16, patience: Duration, what: &str) {
    let deadline = Instant::now() + patience;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A project with a manifest, two variants and the given `[remote]` table.
fn project(remote: &str) -> Env {
    let env = Env::new("");
    env.write_config(&format!(
        "source = \"images\"\noutput = \"public/thumbs\"\nmanifest = \"public/thumbs/manifest.json\"\n{TWO_VARIANTS}\n{remote}"
    ));
    env
}

fn s3_table(server: &S3Server) -> String {
    format!(
        "[remote]\nurl = \"s3://{BUCKET}/team\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\n",
        server.endpoint()
    )
}

fn add_photos(env: &Env, count: u32) {
    for i in 0..count {
        let ext = if i % 4 == 0 { "png" } else { "jpg" };
        env.add_image(&format!("c{}/p{i}.{ext}", i % 3), 120 + i, 90 + i % 7, i);
    }
}

/// Credentials moto accepts; the instance-metadata fallback pointed at a
/// closed loopback port, so that no test ever asks the network for them.
pub(crate) const CREDENTIALS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_SESSION_TOKEN", "testing"),
];

pub(crate) fn thumbgen(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = crate::common::thumbgen_command();
    cmd.current_dir(env.root()).args(args);
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT",
        "AWS_ENDPOINT_URL",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "THUMBGEN_REMOTE_MODE",
    ] {
        cmd.env_remove(var);
    }
    // Nor those of the other clouds.
    for (var, _) in std::env::vars_os() {
        let name = var.to_string_lossy();
        if name.starts_with("GOOGLE_") || name.starts_with("AZURE_") {
            cmd.env_remove(&var);
        }
    }
    cmd.env(
        "AWS_METADATA_ENDPOINT",
        format!("http://127.0.0.1:{}", free_port()),
    );
    cmd.envs(vars.iter().copied());
    cmd
}

/// `thumbgen build ARGS` with `vars`, asserting the exit code.
fn build(env: &Env, args: &[&str], vars: &[(&str, &str)], code: i32) -> Run {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    let run = Run::from(thumbgen(env, &all, vars).output().unwrap());
    assert_eq!(run.code, code, "build {args:?}\n{}", run.stderr);
    run
}

/// `thumbgen build -j1 --json` running in the background, once its first
/// output is in place: the process and the rest of its events.
fn started_build(
    env: &Env,
    stderr: Stdio,
) -> (
    std::process::Child,
    std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) {
    let mut child = thumbgen(env, &["build", "-j1", "--json"], &CREDENTIALS)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains(r#""type":"built""#), "{first}");
    (child, lines)
}

fn warnings(run: &Run) -> Vec<&str> {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("warning: shared cache"))
        .collect()
}

/// What a clean local build of `env`'s sources and config (without any
/// remote) leaves, manifest included.
fn clean_build_of(env: &Env) -> std::collections::BTreeMap<String, Vec<u8>> {
    let clean = env.fresh_copy();
    let text = std::fs::read_to_string(env.root().join(".thumbgen.toml")).unwrap();
    let local = text.split("[remote]").next().unwrap().to_string();
    clean.write_config(&local);
    clean.build(&[], 0);
    clean.outputs()
}

#[test]
fn a_second_machine_downloads_everything_and_gets_identical_bytes() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let a = project(&s3_table(&server));
    add_photos(&a, 6);
    let first = build(&a, &[], &CREDENTIALS, 0);
    assert_eq!(first.summary()[0], 12, "{}", first.stderr);
    assert!(warnings(&first).is_empty(), "{}", first.stderr);
    let objects = server.keys();
    assert_eq!(
        objects.iter().filter(|k| k.starts_with("team/ac/")).count(),
        12
    );
    assert!(
        objects.iter().all(|k| k.starts_with("team/")),
        "{objects:?}"
    );

    // Machine B: a fresh copy of the sources, no local cache.
    let b = a.fresh_copy();
    let second = build(&b, &["--json"], &CREDENTIALS, 0);
    assert_eq!(second.summary()[0], 0, "renders nothing: {}", second.stderr);
    assert_eq!(second.downloaded(), 12, "{}", second.stderr);
    assert!(
        second.stdout.contains(r#""downloaded":12"#),
        "{}",
        second.stdout
    );
    assert_eq!(b.outputs(), a.outputs(), "byte-identical to machine A");
    assert_eq!(
        b.outputs(),
        clean_build_of(&a),
        "and to a clean local build"
    );

    // What was downloaded is recorded like what is rendered.
    let again = build(&b, &[], &CREDENTIALS, 0);
    assert_eq!(again.summary(), [0, 12, 0, 0], "{}", again.stderr);
    build(&b, &["--check"], &CREDENTIALS, 0);
    let explained = build(&b.fresh_copy(), &["--explain"], &CREDENTIALS, 0);
    assert!(
        explained
            .stderr
            .contains("got    public/thumbs/thumb/c0/p0.jpg  (downloaded from the shared cache)"),
        "{}",
        explained.stderr
    );
}

#[test]
fn read_only_never_writes_to_the_bucket() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let env = project(&format!("{}mode = \"read-only\"\n", s3_table(&server)));
    add_photos(&env, 4);
    let before = server.keys();
    let run = build(&env, &[], &CREDENTIALS, 0);
    assert_eq!(run.summary()[0], 8);
    assert_eq!(server.keys(), before, "read-only wrote");

    // The environment overrides the config, and the flag the environment.
    let other = env.fresh_copy();
    let mut vars = CREDENTIALS.to_vec();
    vars.push(("THUMBGEN_REMOTE_MODE", "read-write"));
    build(&other, &["--remote", "read-only"], &vars, 0);
    assert_eq!(server.keys(), before, "--remote read-only wrote");
    build(&other, &["--force"], &vars, 0);
    assert_eq!(
        server.keys().iter().filter(|k| k.contains("/ac/")).count(),
        8,
        "THUMBGEN_REMOTE_MODE=read-write over the config's read-only"
    );
}

#[test]
fn a_corrupted_blob_is_never_installed_and_a_writer_replaces_it() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let a = project(&s3_table(&server));
    add_photos(&a, 3);
    build(&a, &[], &CREDENTIALS, 0);
    let blobs: Vec<String> = server
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("team/cas/"))
        .collect();
    assert_eq!(blobs.len(), 6);
    server.put(&blobs[0], b"not the thumbnail that hashes to this name");

    // A read-only machine: the damage is seen, the output rendered here.
    let b = a.fresh_copy();
    let run = build(&b, &["--remote", "read-only"], &CREDENTIALS, 0);
    assert_eq!(
        (run.summary()[0], run.downloaded()),
        (1, 5),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("does not match its digest"),
        "{}",
        run.stderr
    );
    assert_eq!(b.outputs(), a.outputs(), "nothing bad installed");

    // A read-write machine replaces it; the next one downloads good bytes.
    let c = a.fresh_copy();
    let run = build(&c, &[], &CREDENTIALS, 0);
    assert_eq!(
        (run.summary()[0], run.downloaded()),
        (1, 5),
        "{}",
        run.stderr
    );
    assert_eq!(c.outputs(), a.outputs());
    let d = a.fresh_copy();
    let run = build(&d, &[], &CREDENTIALS, 0);
    assert_eq!(
        (run.summary()[0], run.downloaded()),
        (0, 6),
        "{}",
        run.stderr
    );
    assert!(warnings(&run).is_empty(), "{}", run.stderr);
    assert_eq!(d.outputs(), a.outputs());
}

#[test]
fn a_server_killed_mid_build_costs_one_warning_and_the_build_completes() {
    let Some(mut server) = S3Server::start() else {
        return;
    };
    let a = project(&s3_table(&server));
    for i in 0..40u32 {
        a.add_image(&format!("p{i}.jpg"), 900, 700, i);
    }
    build(&a, &[], &CREDENTIALS, 0);
    // B has the same photos and as many new ones, which it must render and
    // would upload.
    let b = a.fresh_copy();
    for i in 40..80u32 {
        b.add_image(&format!("p{i}.jpg"), 900, 700, i);
    }
    let (mut child, lines) = started_build(&b, Stdio::piped());
    server.kill();
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    let summary = rest.last().unwrap();
    assert!(summary.contains(r#""failed":0"#), "{summary}");
    let warned = stderr
        .lines()
        .filter(|l| l.starts_with("warning: shared cache"))
        .count();
    assert_eq!(warned, 1, "{stderr}");
    assert_eq!(b.outputs(), clean_build_of(&b), "complete and right");
}

#[test]
fn two_machines_uploading_the_same_keys_at_once_make_one_object_per_key() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let a = project(&s3_table(&server));
    add_photos(&a, 8);
    let b = a.fresh_copy();
    let children: Vec<_> = [&a, &b]
        .iter()
        .map(|env| {
            thumbgen(env, &["build"], &CREDENTIALS)
                .stderr(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(!stderr.contains("warning"), "{stderr}");
    }
    let keys = server.keys();
    let entries = keys.iter().filter(|k| k.starts_with("team/ac/")).count();
    let blobs = keys.iter().filter(|k| k.starts_with("team/cas/")).count();
    assert_eq!((entries, blobs), (16, 16), "{keys:?}");
    assert_eq!(a.outputs(), b.outputs());
}

#[test]
fn wrong_or_missing_credentials_warn_once_and_build_locally() {
    // Authentication on from the first request: unknown keys are refused.
    let Some(server) = S3Server::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]) else {
        return;
    };
    let env = project(&s3_table(&server));
    add_photos(&env, 3);
    let wrong = [
        ("AWS_ACCESS_KEY_ID", "AKIANOTAREALKEY00000"),
        ("AWS_SECRET_ACCESS_KEY", "wrong"),
    ];
    let run = build(&env, &[], &wrong, 0);
    assert_eq!(run.summary()[0], 6);
    let warned = warnings(&run);
    assert_eq!(warned.len(), 1, "{}", run.stderr);
    assert!(warned[0].contains("building locally"), "{}", warned[0]);
    assert_eq!(env.outputs(), clean_build_of(&env));

    let fresh = env.fresh_copy();
    let run = build(&fresh, &[], &[], 0);
    let warned = warnings(&run);
    assert_eq!(warned.len(), 1, "{}", run.stderr);
    assert!(
        warned[0].contains("no AWS credentials in the environment"),
        "{}",
        warned[0]
    );
    assert_eq!(fresh.outputs(), clean_build_of(&env));
}

#[test]
fn three_shards_then_an_assembling_build_that_renders_nothing() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let origin = project(&s3_table(&server));
    add_photos(&origin, 12);
    let mut rendered = 0;
    for k in 1..=3 {
        let shard = origin.fresh_copy();
        let run = build(&shard, &["--shard", &format!("{k}/3")], &CREDENTIALS, 0);
        let built = run.summary()[0];
        assert!(built < 24, "a shard builds only its part: {}", run.stderr);
        rendered += built;
        assert!(
            !shard.root().join("public/thumbs/manifest.json").exists(),
            "a shard writes no manifest"
        );
    }
    assert_eq!(rendered, 24, "the parts cover every output once");

    let assemble = origin.fresh_copy();
    let run = build(&assemble, &[], &CREDENTIALS, 0);
    assert_eq!(
        (run.summary()[0], run.downloaded()),
        (0, 24),
        "{}",
        run.stderr
    );
    assert_eq!(assemble.outputs(), clean_build_of(&origin));
}

#[test]
fn a_shard_leaves_other_parts_alone() {
    let env = Env::new(TWO_VARIANTS);
    add_photos(&env, 9);
    build(&env, &[], &[], 0);
    let before = env.outputs();
    // A part rebuilds nothing that is up to date and removes nothing of the
    // others, even with its local cache holding all of them.
    let run = build(&env, &["--shard", "1/2"], &[], 0);
    assert_eq!(run.summary()[2], 0, "{}", run.stderr);
    assert_eq!(env.outputs(), before);
    // Deleting a source of part 1 is done by part 1 only.
    let in_one = (0..9u32)
        .map(|i| format!("c{}/p{i}.{}", i % 3, if i % 4 == 0 { "png" } else { "jpg" }))
        .find(|rel| thumbgen::shard::Shard { index: 1, count: 2 }.contains(Path::new(rel)))
        .unwrap();
    std::fs::remove_file(env.src(&in_one)).unwrap();
    let two = build(&env, &["--shard", "2/2"], &[], 0);
    assert_eq!(
        two.summary()[2],
        0,
        "part 2 removes nothing: {}",
        two.stderr
    );
    let one = build(&env, &["--shard", "1/2"], &[], 0);
    assert_eq!(
        one.summary()[2],
        2,
        "part 1 removes its outputs: {}",
        one.stderr
    );
}

#[test]
fn a_shared_folder_works_as_a_remote() {
    let shared = tempfile::tempdir().unwrap();
    let table = format!("[remote]\nurl = \"file://{}\"\n", shared.path().display());
    let a = project(&table);
    add_photos(&a, 4);
    build(&a, &[], &[], 0);
    let b = a.fresh_copy();
    let run = build(&b, &[], &[], 0);
    assert_eq!(
        (run.summary()[0], run.downloaded()),
        (0, 8),
        "{}",
        run.stderr
    );
    assert_eq!(b.outputs(), a.outputs());
    // `--remote off` and a config error for a bad mode.
    let c = a.fresh_copy();
    let run = build(&c, &["--remote", "off"], &[], 0);
    assert_eq!((run.summary()[0], run.downloaded()), (8, 0));
    let run = build(
        &a.fresh_copy(),
        &[],
        &[("THUMBGEN_REMOTE_MODE", "sometimes")],
        2,
    );
    assert!(
        run.stderr.contains("THUMBGEN_REMOTE_MODE"),
        "{}",
        run.stderr
    );
}

#[test]
fn ctrl_c_abandons_uploads_without_leaving_an_entry_without_its_blob() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let env = project(&s3_table(&server));
    for i in 0..40u32 {
        env.add_image(&format!("p{i}.jpg"), 900, 700, i);
    }
    let (mut child, lines) = started_build(&env, Stdio::null());
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let _rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(child.wait().unwrap().code(), Some(130));

    // Whatever was uploaded is whole: every entry's blob is there.
    let keys = server.keys();
    let entries: Vec<&String> = keys.iter().filter(|k| k.starts_with("team/ac/")).collect();
    assert!(
        entries.len() < 80,
        "interrupted before the end: {}",
        entries.len()
    );
    for entry in entries {
        let body = String::from_utf8(server.get(entry)).unwrap();
        let blob = body
            .split(r#""blob":""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no blob in {body}"));
        assert!(
            keys.contains(&format!("team/cas/{blob}")),
            "{entry} names a blob that is not there"
        );
    }
    // And the next build finishes the job, right.
    build(&env, &[], &CREDENTIALS, 0);
    assert_eq!(env.outputs(), clean_build_of(&env));
}
