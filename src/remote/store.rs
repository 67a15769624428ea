//! Opening the object store a `[remote]` table (or an `s3://` source)
//! names, and saying in a few words what went wrong with it. Credentials are never read from the
//! config: `object_store` takes them from the standard AWS environment
//! variables or the credential chain (web identity, container, instance
//! metadata), as every AWS tool does.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ClientConfigKey, ObjectStore, RetryConfig};

use crate::config::{RemoteLocation, RemoteSettings};

/// How long to wait on a store, and how often to ask again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Patience {
    /// For a connection.
    pub connect: Duration,
    /// For one whole request.
    pub request: Duration,
    /// Retries of a failed request (with exponential backoff and jitter).
    pub retries: usize,
    /// For all the tries of one request.
    pub retrying: Duration,
}

/// The shared cache's: a connection is refused or made within 2 s on any
/// working network, a request is a thumbnail's worth of bytes, and one
/// retry is enough, since the cache is an optimisation and a store that
/// fails twice is cheaper to do without than to wait on.
const CACHE_PATIENCE: Patience = Patience {
    connect: Duration::from_secs(2),
    request: Duration::from_secs(10),
    retries: 1,
    retrying: Duration::from_secs(5),
};

/// A store the build cannot do without (its sources, or the bucket a
/// publish was asked for), unlike the shared cache, which is an
/// optimisation: connections get a few seconds, a whole object a few
/// minutes, and a failed request is tried again four times.
pub(crate) const PATIENT: Patience = Patience {
    connect: Duration::from_secs(5),
    request: Duration::from_secs(300),
    retries: 4,
    retrying: Duration::from_secs(120),
};

/// The small runtime that drives one store's requests beside the rayon
/// pool, its threads named `thumbgen-{name}`; the error is in words.
pub(crate) fn runtime(name: &str) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(format!("thumbgen-{name}"))
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start its client: {e}"))
}

/// The object `name` (slash-separated) under `prefix`.
pub(crate) fn object_path(prefix: &ObjectPath, name: &str) -> ObjectPath {
    name.split('/')
        .fold(prefix.clone(), |path, part| path.child(part))
}

/// An opened store and where under it thumbgen's objects live.
pub(crate) struct Opened {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) prefix: ObjectPath,
    /// Whether credentials were found in the environment (else they come
    /// from the instance's role, if any).
    pub(crate) env_credentials: bool,
}

/// Open the shared cache of `settings`, creating its folder for a
/// `file://` url; the error is in words.
pub(super) fn open(settings: &RemoteSettings) -> Result<Opened, String> {
    if let RemoteLocation::Folder(folder) = &settings.location {
        std::fs::create_dir_all(folder).map_err(|e| {
            format!(
                "cannot create {}: {}",
                folder.display(),
                crate::error::describe_io(&e)
            )
        })?;
    }
    let endpoint = settings.endpoint.as_deref();
    open_at(
        &settings.location,
        endpoint,
        settings.region.as_deref(),
        CACHE_PATIENCE,
    )
}

/// Open the store at `location` (an S3 bucket through `endpoint` and
/// `region` if given, else as the environment says; or a folder that
/// exists); the error is in words.
pub(crate) fn open_at(
    location: &RemoteLocation,
    endpoint: Option<&str>,
    region: Option<&str>,
    patience: Patience,
) -> Result<Opened, String> {
    match location {
        RemoteLocation::S3 { bucket, prefix } => {
            // Set key by key: replacing the client options would drop what
            // the environment set (`AWS_ALLOW_HTTP`).
            let seconds = |d: Duration| format!("{}s", d.as_secs());
            let mut builder = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_config(
                    AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                    seconds(patience.connect),
                )
                .with_config(
                    AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
                    seconds(patience.request),
                )
                .with_retry(RetryConfig {
                    max_retries: patience.retries,
                    retry_timeout: patience.retrying,
                    ..RetryConfig::default()
                });
            if let Some(endpoint) = endpoint {
                builder = builder
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            if let Some(region) = region {
                builder = builder.with_region(region);
            }
            let store = builder.build().map_err(|e| describe(&e, true))?;
            Ok(Opened {
                store: Arc::new(store),
                prefix: ObjectPath::from(prefix.as_str()),
                env_credentials: env_credentials(),
            })
        }
        RemoteLocation::Folder(folder) => {
            let store = LocalFileSystem::new_with_prefix(folder).map_err(|e| describe(&e, true))?;
            Ok(Opened {
                store: Arc::new(store),
                prefix: ObjectPath::default(),
                env_credentials: true,
            })
        }
    }
}

/// Whether any of the ways the AWS tools find credentials in the
/// environment is set up.
fn env_credentials() -> bool {
    [
        "AWS_ACCESS_KEY_ID",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_SKIP_SIGNATURE",
    ]
    .iter()
    .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
}

/// A store error in a few words: the kind of refusal, or the innermost
/// cause (a refused connection, a timeout, the server's status and S3 error
/// code), without the request dump.
pub(crate) fn describe(error: &object_store::Error, env_credentials: bool) -> String {
    use object_store::Error as E;
    let mut cause: &dyn std::error::Error = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let detail = tidy(&cause.to_string());
    let text = match error {
        E::PermissionDenied { .. } => format!("access denied ({detail})"),
        E::Unauthenticated { .. } => format!("not authenticated ({detail})"),
        E::NotImplemented => "the store does not support put-if-absent".into(),
        _ => detail,
    };
    if !env_credentials {
        // Without credentials in the environment the client asks the
        // instance's role, which is what fails off a cloud machine.
        format!("{text}; no AWS credentials in the environment: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    } else if matches!(
        error,
        E::PermissionDenied { .. } | E::Unauthenticated { .. }
    ) {
        format!("{text}; check the AWS credentials")
    } else {
        text
    }
}

/// `Server returned non-2xx status code: 404 Not Found: <?xml …<Code>NoSuchBucket</Code><Message>…`
/// as `server answered 404 Not Found: NoSuchBucket (The specified bucket does not exist)`.
fn tidy(text: &str) -> String {
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let rest = &text[text.find(&open)? + open.len()..];
        Some(rest[..rest.find('<')?].to_string())
    };
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => text,
    };
    let head = text
        .split("<?xml")
        .next()
        .unwrap_or(text)
        .trim_end_matches([' ', ':']);
    let head = match head.split_once("status code: ") {
        Some((_, status)) => format!("server answered {status}"),
        None => head.to_string(),
    };
    match (tag("Code"), tag("Message")) {
        (Some(code), Some(message)) => format!("{head}: {code} ({message})"),
        (Some(code), None) => format!("{head}: {code}"),
        _ => head,
    }
}

#[cfg(test)]
mod tests {
    use super::tidy;

    #[test]
    fn server_errors_are_tidied_to_status_and_code() {
        let raw = "Server returned non-2xx status code: 404 Not Found: <?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><RequestId>x</RequestId></Error>";
        assert_eq!(
            tidy(raw),
            "server answered 404 Not Found: NoSuchBucket (The specified bucket does not exist)"
        );
        assert_eq!(
            tidy("Connection refused (os error 111)"),
            "Connection refused"
        );
        assert_eq!(
            tidy("Server returned non-2xx status code: 503 Service Unavailable: "),
            "server answered 503 Service Unavailable"
        );
    }
}
