//! Sources in Azure Blob Storage (`az://`) and Google Cloud Storage
//! (`gs://`), through the clients thumbgen uses for them, against servers
//! on loopback. After random puts, changes, deletes and renames, each
//! incremental build leaves what a clean build of the same photos from a
//! local folder does, and a no-op downloads nothing.
//!
//! - Azure: Azurite, Microsoft's emulator (`npm ci --prefix
//!   tests/azurite`; `.ci/run` installs it), with its well-known
//!   development account, named as a real one is: account name and key in
//!   the environment, its blob endpoint in `source_endpoint`.
//! - GCS: the client reads objects and listings through GCS's XML API,
//!   which is S3's, so moto serves it. A service account with
//!   `gcs_base_url` and `disable_oauth` points the client there, as it
//!   would at an emulator; its requests are then unsigned, so the objects
//!   are written public-read.
//!
//! Outside CI a missing server skips its test with a note, as for moto.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use object_store::ObjectStore;

use crate::common::{image_bytes, parse_events, Env, Run, TWO_VARIANTS};
use crate::remote::{free_port, runtime, thumbgen, wait_until_listening, S3Server, BUCKET};
use crate::sources::{random_edits_keep_incremental_equal_to_clean, Catalogue, Objects};

/// Azurite's development account and its published key.
const ACCOUNT: &str = "devstoreaccount1";
const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const CONTAINER: &str = "photos";
const AZURITE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/azurite/node_modules/.bin/azurite-blob"
);

/// Azurite's blob service on loopback, with the container `photos`;
/// killed on drop.
struct Azurite {
    child: Child,
    port: u16,
    _data: tempfile::TempDir,
}

impl Azurite {
    /// Start one, or `None` (outside CI) if it is not installed.
    #[allow(clippy::print_stderr)] // says why it did not run, in the test log
    fn start() -> Option<Azurite> {
        if !Path::new(AZURITE).exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "Azurite is required on CI: npm ci --prefix tests/azurite"
            );
            eprintln!("skipped: Azurite not installed; npm ci --prefix tests/azurite");
            return None;
        }
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = std::process::Command::new(AZURITE)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .arg("--location")
            .arg(data.path())
            .args(["--silent", "--skipApiVersionCheck", "--loose"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let azurite = Azurite {
            child,
            port,
            _data: data,
        };
        wait_until_listening(port, Duration::from_secs(60), "Azurite");
        azurite.create_container();
        Some(azurite)
    }

    /// The account's blob endpoint (path-style, as emulators serve it).
    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.port)
    }

    /// `PUT /{account}/{container}?restype=container`, signed with the
    /// account key (Shared Key): object_store writes blobs, not containers.
    fn create_container(&self) {
        const VERSION: &str = "2021-08-06";
        let date = httpdate::fmt_http_date(SystemTime::now());
        // The verb, eleven empty standard headers, the x-ms- headers, and
        // the resource: the account, then the url's path and query.
        let to_sign = format!(
            "PUT\n{}x-ms-date:{date}\nx-ms-version:{VERSION}\n/{ACCOUNT}/{ACCOUNT}/{CONTAINER}\nrestype:container",
            "\n".repeat(11)
        );
        let base64 = base64::engine::general_purpose::STANDARD;
        let key = ring::hmac::Key::new(
            ring::hmac::HMAC_SHA256,
            &base64.decode(ACCOUNT_KEY).unwrap(),
        );
        let signature = base64.encode(ring::hmac::sign(&key, to_sign.as_bytes()));
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "PUT /{ACCOUNT}/{CONTAINER}?restype=container HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
             Content-Length: 0\r\nx-ms-date: {date}\r\nx-ms-version: {VERSION}\r\n\
             Authorization: SharedKey {ACCOUNT}:{signature}\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(
            response.starts_with("HTTP/1.1 201"),
            "create container: {response}"
        );
    }

    /// A client of the container, as the tests write to it.
    fn store(&self) -> object_store::azure::MicrosoftAzure {
        object_store::azure::MicrosoftAzureBuilder::new()
            .with_account(ACCOUNT)
            .with_access_key(ACCOUNT_KEY)
            .with_container_name(CONTAINER)
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .build()
            .unwrap()
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Objects for Azurite {
    fn put(&self, key: &str, bytes: &[u8]) {
        runtime()
            .block_on(self.store().put(&key.into(), bytes.to_vec().into()))
            .unwrap();
    }

    fn delete(&self, key: &str) {
        runtime()
            .block_on(self.store().delete(&key.into()))
            .unwrap();
    }
}

#[test]
fn random_edits_in_an_azure_container_keep_incremental_equal_to_clean() {
    let Some(azurite) = Azurite::start() else {
        return;
    };
    let source = format!(
        "source = \"az://{CONTAINER}/catalogue\"\nsource_endpoint = \"{}\"",
        azurite.endpoint()
    );
    let vars = [
        ("AZURE_STORAGE_ACCOUNT_NAME", ACCOUNT),
        ("AZURE_STORAGE_ACCOUNT_KEY", ACCOUNT_KEY),
    ];
    let cat = Catalogue::at(azurite, &source, &vars);
    random_edits_keep_incremental_equal_to_clean(&cat, 0xa2_0e);
}

/// moto serving GCS's XML API to an unsigned client.
struct GcsOverMoto(S3Server);

impl Objects for GcsOverMoto {
    fn put(&self, key: &str, bytes: &[u8]) {
        let (status, body) = self.0.anonymous(
            "PUT",
            &format!("/{BUCKET}/{key}"),
            &[
                ("x-amz-acl", "public-read"),
                ("Content-Type", "application/octet-stream"),
            ],
            bytes,
        );
        assert_eq!(status, 200, "put {key}: {body}");
    }

    fn delete(&self, key: &str) {
        let (status, body) = self
            .0
            .anonymous("DELETE", &format!("/{BUCKET}/{key}"), &[], b"");
        assert_eq!(status, 204, "delete {key}: {body}");
    }
}

#[test]
fn random_edits_in_a_gcs_bucket_keep_incremental_equal_to_clean() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let account = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        account.path(),
        format!(
            r#"{{"gcs_base_url": "{}", "disable_oauth": true, "client_email": "", "private_key": "", "private_key_id": ""}}"#,
            server.endpoint()
        ),
    )
    .unwrap();
    let source = format!("source = \"gs://{BUCKET}/catalogue\"");
    let vars = [("GOOGLE_SERVICE_ACCOUNT", account.path().to_str().unwrap())];
    let cat = Catalogue::at(GcsOverMoto(server), &source, &vars);
    random_edits_keep_incremental_equal_to_clean(&cat, 0x6c5);
}

/// One Azure account for everything: sources in a container, the shared
/// cache and the published tree in others' prefixes. A second machine
/// with an empty workspace renders nothing and downloads no original, and
/// the published objects carry their headers.
#[test]
fn an_azure_account_serves_sources_the_shared_cache_and_publishing() {
    let Some(azurite) = Azurite::start() else {
        return;
    };
    let endpoint = azurite.endpoint();
    let config = format!(
        "source = \"az://{CONTAINER}/catalogue\"\nsource_endpoint = \"{endpoint}\"\n\
         output = \"public/thumbs\"\nmanifest = \"public/thumbs/manifest.json\"\n{TWO_VARIANTS}\n\
         [remote]\nurl = \"az://{CONTAINER}/cache\"\nendpoint = \"{endpoint}\"\n\
         [publish]\nurl = \"az://{CONTAINER}/cdn\"\nendpoint = \"{endpoint}\"\npublish_manifest = true\n"
    );
    let vars = [
        ("AZURE_STORAGE_ACCOUNT_NAME", ACCOUNT),
        ("AZURE_STORAGE_ACCOUNT_KEY", ACCOUNT_KEY),
    ];
    for i in 0..3 {
        let rel = format!("c{i}/p{i}.jpg");
        azurite.put(
            &format!("catalogue/{rel}"),
            &image_bytes(&rel, 120, 90 + i, i),
        );
    }
    let build = |env: &Env| {
        let run = Run::from(
            thumbgen(env, &["build", "--publish", "--json"], &vars)
                .output()
                .unwrap(),
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        parse_events(&run.stdout).pop().unwrap()
    };
    let first_machine = Env::new("");
    first_machine.write_config(&config);
    let first = build(&first_machine);
    assert_eq!(
        (
            first["built"].as_u64(),
            first["sources_downloaded"].as_u64()
        ),
        (Some(6), Some(3))
    );
    assert_eq!(first["published"]["uploaded"], 7, "6 outputs, the manifest");

    let second_machine = Env::new("");
    second_machine.write_config(&config);
    let second = build(&second_machine);
    assert_eq!(
        (
            second["built"].as_u64(),
            second["downloaded"].as_u64(),
            second["sources_downloaded"].as_u64()
        ),
        (Some(0), Some(6), Some(0)),
        "{second}"
    );
    assert!(second_machine.outputs() == first_machine.outputs());
    assert_eq!(second["published"]["uploaded"], 0, "{second}");

    let store = azurite.store();
    let published = runtime()
        .block_on(async {
            let key = "cdn/large/c1/p1.webp".into();
            store.get(&key).await
        })
        .unwrap();
    let header = |attribute| published.attributes.get(&attribute).map(|v| v.to_string());
    assert_eq!(
        header(object_store::Attribute::ContentType).as_deref(),
        Some("image/webp")
    );
    assert!(header(object_store::Attribute::CacheControl).is_some());
}
