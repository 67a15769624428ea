//! The shared cache's logic over `object_store`'s in-memory store (the
//! protocol is tested against a real S3 server in `tests/it/remote.rs`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};

use super::*;
use crate::model::Shape;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn remote_over(store: Arc<dyn ObjectStore>, mode: RemoteMode) -> Remote {
    Remote::with_store(
        store,
        ObjectPath::from("team/thumbs"),
        "memory://test",
        mode,
        None,
        runtime(),
    )
}

fn made() -> Made {
    Made {
        width: 256,
        height: 171,
        shape: Shape {
            width: 4000,
            height: 2667,
            coding: crate::model::Coding::Jpeg,
        },
    }
}

fn entry_for(bytes: &[u8]) -> Entry {
    Entry::new(blake3::hash(bytes).as_bytes(), bytes.len() as u64, made())
}

/// Every object name under the store, sorted.
fn listing(store: &InMemory) -> Vec<String> {
    let rt = runtime();
    let mut names: Vec<String> = rt.block_on(async {
        use futures::TryStreamExt;
        store
            .list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap()
    });
    names.sort();
    names
}

fn put_raw(store: &InMemory, name: &str, bytes: &[u8]) {
    runtime()
        .block_on(store.put(
            &ObjectPath::from(format!("team/thumbs/{name}")),
            PutPayload::from(bytes.to_vec()),
        ))
        .unwrap();
}

fn lookup(remote: &Remote, keys: &[Hash]) -> Vec<Found> {
    let prefetch = remote.prefetch(vec![keys.iter().copied().map(Some).collect()]);
    prefetch.take(0, keys.len())
}

#[test]
fn an_upload_is_found_again_verified() {
    let store = Arc::new(InMemory::new());
    let remote = remote_over(store.clone(), RemoteMode::ReadWrite);
    let key = [1u8; 32];
    let bytes = b"thumbnail bytes".to_vec();
    remote.upload(key, entry_for(&bytes), bytes.clone(), Repair::default());
    remote.finish(false);
    assert_eq!(remote.uploaded(), 2, "a blob and an entry");
    let digest = blake3::hash(&bytes);
    assert_eq!(
        listing(&store),
        [
            format!("team/thumbs/ac/{}", key::hex(&key)),
            format!("team/thumbs/cas/{}", digest.to_hex()),
        ]
    );

    let again = remote_over(store.clone(), RemoteMode::ReadOnly);
    let found = lookup(&again, &[key, [2u8; 32]]);
    match &found[0] {
        Found::Hit { entry, bytes: got } => {
            assert_eq!(got, &bytes);
            assert_eq!(entry.made(), made());
        }
        other => panic!("expected a hit, got {other:?}"),
    }
    assert!(matches!(found[1], Found::Miss { repair } if repair == Repair::default()));
    assert_eq!(again.downloaded_bytes(), bytes.len());
    assert!(again.take_warnings().is_empty());
}

#[test]
fn a_second_upload_of_the_same_key_is_no_error_and_no_new_object() {
    let store = Arc::new(InMemory::new());
    let bytes = b"same".to_vec();
    for _ in 0..2 {
        let remote = remote_over(store.clone(), RemoteMode::ReadWrite);
        remote.upload([3; 32], entry_for(&bytes), bytes.clone(), Repair::default());
        remote.finish(false);
        assert!(remote.take_warnings().is_empty());
    }
    assert_eq!(listing(&store).len(), 2);
}

#[test]
fn a_store_that_answers_passes_the_probe() {
    let remote = remote_over(Arc::new(InMemory::new()), RemoteMode::ReadOnly);
    assert!(remote.probe());
    assert!(remote.take_warnings().is_empty());
}

#[test]
fn read_only_never_writes() {
    let store = Arc::new(InMemory::new());
    let remote = remote_over(store.clone(), RemoteMode::ReadOnly);
    assert!(!remote.writes());
    let bytes = b"x".to_vec();
    remote.upload([4; 32], entry_for(&bytes), bytes, Repair::default());
    remote.finish(false);
    assert!(listing(&store).is_empty());
    assert_eq!(remote.uploaded(), 0);
}

#[test]
fn a_damaged_blob_is_a_miss_with_a_warning_and_is_replaced_on_upload() {
    let store = Arc::new(InMemory::new());
    let good = b"good thumbnail".to_vec();
    let key = [5u8; 32];
    let entry = entry_for(&good);
    put_raw(&store, &key::entry_name(&key), &entry.to_bytes());
    let blob = key::blob_name(&entry.digest().unwrap());
    put_raw(&store, &blob, b"bad thumbnail!");

    let remote = remote_over(store.clone(), RemoteMode::ReadWrite);
    let found = lookup(&remote, &[key]);
    let Found::Miss { repair } = found[0] else {
        panic!("a damaged blob must never be a hit")
    };
    assert_eq!(
        repair,
        Repair {
            entry: false,
            blob: true
        }
    );
    let warnings = remote.take_warnings();
    assert!(
        matches!(&warnings[..], [Warning::RemoteDamaged { object, replaced: true, .. }] if *object == blob),
        "{warnings:?}"
    );

    remote.upload(key, entry.clone(), good.clone(), repair);
    remote.finish(false);
    let next = remote_over(store, RemoteMode::ReadOnly);
    assert!(matches!(&lookup(&next, &[key])[0], Found::Hit { bytes, .. } if *bytes == good));
}

#[test]
fn an_unreadable_entry_is_a_miss_and_is_replaced() {
    let store = Arc::new(InMemory::new());
    let key = [6u8; 32];
    put_raw(&store, &key::entry_name(&key), b"{ not an entry");
    let remote = remote_over(store.clone(), RemoteMode::ReadWrite);
    let Found::Miss { repair } = lookup(&remote, &[key])[0] else {
        panic!("garbage is no hit")
    };
    assert!(repair.entry && !repair.blob);
    let bytes = b"fresh".to_vec();
    remote.upload(key, entry_for(&bytes), bytes.clone(), repair);
    remote.finish(false);
    let next = remote_over(store, RemoteMode::ReadOnly);
    assert!(matches!(&lookup(&next, &[key])[0], Found::Hit { .. }));
}

#[test]
fn a_dead_store_costs_one_warning_and_is_not_asked_again() {
    // Nothing listens on port 1: every connection is refused at once.
    let store = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name("thumbs")
        .with_endpoint("http://127.0.0.1:1")
        .with_allow_http(true)
        .with_access_key_id("key")
        .with_secret_access_key("secret")
        .with_retry(object_store::RetryConfig {
            max_retries: 0,
            ..Default::default()
        })
        .build()
        .unwrap();
    let remote = remote_over(Arc::new(store), RemoteMode::ReadWrite);
    let started = Instant::now();
    assert!(!remote.probe(), "the first question finds it dead");
    let jobs: Vec<Vec<Option<Hash>>> = (0..50u8).map(|i| vec![Some([i; 32]); 3]).collect();
    let prefetch = remote.prefetch(jobs);
    for index in 0..50 {
        let found = prefetch.take(index, 3);
        assert!(found.iter().all(|f| matches!(f, Found::Miss { .. })));
    }
    let bytes = b"y".to_vec();
    remote.upload([9; 32], entry_for(&bytes), bytes, Repair::default());
    remote.finish(false);
    let warnings = remote.take_warnings();
    assert!(
        matches!(&warnings[..], [Warning::RemoteUnavailable { .. }]),
        "one warning: {warnings:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no waiting on a dead store"
    );
}

#[test]
fn mode_precedence_is_flag_then_environment_then_config() {
    use RemoteMode::*;
    assert_eq!(resolve_mode(Some(ReadWrite), None, None), Ok(ReadWrite));
    assert_eq!(
        resolve_mode(Some(ReadWrite), None, Some("read-only")),
        Ok(ReadOnly)
    );
    assert_eq!(
        resolve_mode(Some(ReadOnly), Some(ReadWrite), Some("off")),
        Ok(ReadWrite)
    );
    assert_eq!(resolve_mode(Some(ReadOnly), None, Some(" ")), Ok(ReadOnly));
    assert_eq!(resolve_mode(None, None, None), Ok(Off));
    let error = resolve_mode(Some(ReadWrite), None, Some("write")).unwrap_err();
    assert!(
        error.contains("THUMBGEN_REMOTE_MODE") && error.contains("write"),
        "{error}"
    );
}
