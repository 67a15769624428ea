//! Opening the object store a `[remote]` table (or a bucket `source`, or
//! `[publish]`) names, and saying in a few words what went wrong with it.
//! Credentials are never read from the config: `object_store` takes them
//! from each cloud's standard environment variables or credential chain
//! (web identity, container, instance metadata), as that cloud's own tools
//! do.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ClientConfigKey, ObjectStore, RetryConfig};

use crate::config::{Cloud, RemoteLocation, RemoteSettings};

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
    /// The cloud whose credentials the environment does not hold (they
    /// may still come from the instance's role), for the hint of an error.
    pub(crate) missing_credentials: Option<Cloud>,
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

/// Open the store at `location` (a bucket through `endpoint` and `region`
/// if given, else as the environment says; or a folder that exists); the
/// error is in words.
pub(crate) fn open_at(
    location: &RemoteLocation,
    endpoint: Option<&str>,
    region: Option<&str>,
    patience: Patience,
) -> Result<Opened, String> {
    let (cloud, bucket, prefix) = match location {
        RemoteLocation::Bucket {
            cloud,
            bucket,
            prefix,
        } => (*cloud, bucket, prefix),
        RemoteLocation::Folder(folder) => {
            let store = LocalFileSystem::new_with_prefix(folder).map_err(|e| describe(&e, None))?;
            return Ok(Opened {
                store: Arc::new(store),
                prefix: ObjectPath::default(),
                missing_credentials: None,
            });
        }
    };
    // Set key by key: replacing the client options would drop what the
    // environment set (`AWS_ALLOW_HTTP`).
    let seconds = |d: Duration| format!("{}s", d.as_secs());
    let client = [
        (ClientConfigKey::ConnectTimeout, seconds(patience.connect)),
        (ClientConfigKey::Timeout, seconds(patience.request)),
    ];
    let retry = RetryConfig {
        max_retries: patience.retries,
        retry_timeout: patience.retrying,
        ..RetryConfig::default()
    };
    let built: object_store::Result<Arc<dyn ObjectStore>> = match cloud {
        Cloud::S3 => {
            let mut builder = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_retry(retry);
            for (key, value) in client {
                builder = builder.with_config(AmazonS3ConfigKey::Client(key), value);
            }
            if let Some(endpoint) = endpoint {
                builder = builder
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            if let Some(region) = region {
                builder = builder.with_region(region);
            }
            builder.build().map(|store| Arc::new(store) as _)
        }
        Cloud::Gcs => {
            let mut builder = GoogleCloudStorageBuilder::from_env()
                .with_bucket_name(bucket)
                .with_retry(retry);
            for (key, value) in client {
                builder = builder.with_config(GoogleConfigKey::Client(key), value);
            }
            builder.build().map(|store| Arc::new(store) as _)
        }
        Cloud::Azure => {
            let mut builder = MicrosoftAzureBuilder::from_env()
                .with_container_name(bucket)
                .with_retry(retry);
            for (key, value) in client {
                builder = builder.with_config(AzureConfigKey::Client(key), value);
            }
            if let Some(endpoint) = endpoint {
                builder = builder
                    .with_endpoint(endpoint.to_string())
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            builder.build().map(|store| Arc::new(store) as _)
        }
    };
    let missing_credentials = (!env_credentials(cloud)).then_some(cloud);
    Ok(Opened {
        store: built.map_err(|e| describe(&e, missing_credentials))?,
        prefix: ObjectPath::from(prefix.as_str()),
        missing_credentials,
    })
}

/// Whether any of the ways `cloud`'s tools find credentials outside the
/// instance they run on is set up.
fn env_credentials(cloud: Cloud) -> bool {
    let vars: &[&str] = match cloud {
        Cloud::S3 => &[
            "AWS_ACCESS_KEY_ID",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_SKIP_SIGNATURE",
        ],
        Cloud::Gcs => &[
            "GOOGLE_SERVICE_ACCOUNT",
            "GOOGLE_SERVICE_ACCOUNT_PATH",
            "GOOGLE_SERVICE_ACCOUNT_KEY",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "GOOGLE_SKIP_SIGNATURE",
        ],
        Cloud::Azure => &[
            "AZURE_STORAGE_ACCOUNT_KEY",
            "AZURE_STORAGE_ACCESS_KEY",
            "AZURE_STORAGE_MASTER_KEY",
            "AZURE_STORAGE_SAS_KEY",
            "AZURE_STORAGE_SAS_TOKEN",
            "AZURE_STORAGE_TOKEN",
            "AZURE_CLIENT_SECRET",
            "AZURE_FEDERATED_TOKEN_FILE",
            "AZURE_STORAGE_USE_EMULATOR",
            "AZURE_SKIP_SIGNATURE",
        ],
    };
    let set = |var: &&str| std::env::var_os(var).is_some_and(|v| !v.is_empty());
    // gcloud's application default credentials, which the client reads.
    let gcloud_default = || {
        std::env::var_os("HOME").is_some_and(|home| {
            Path::new(&home)
                .join(".config/gcloud/application_default_credentials.json")
                .is_file()
        })
    };
    vars.iter().any(set) || (cloud == Cloud::Gcs && gcloud_default())
}

/// A store error in a few words: the kind of refusal, or the innermost
/// cause (a refused connection, a timeout, the server's status and S3 error
/// code), without the request dump.
pub(crate) fn describe(error: &object_store::Error, missing_credentials: Option<Cloud>) -> String {
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
    // Without credentials in the environment the client asks the
    // instance's role, which is what fails off a cloud machine.
    match missing_credentials {
        Some(Cloud::S3) => format!(
            "{text}; no AWS credentials in the environment: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ),
        Some(Cloud::Gcs) => format!(
            "{text}; no Google Cloud credentials in the environment: set GOOGLE_APPLICATION_CREDENTIALS to a service account's key file"
        ),
        Some(Cloud::Azure) => format!(
            "{text}; no Azure credentials in the environment: set AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY (or AZURE_STORAGE_SAS_KEY)"
        ),
        None if matches!(
            error,
            E::PermissionDenied { .. } | E::Unauthenticated { .. }
        ) =>
        {
            format!("{text}; check the credentials")
        }
        None => text,
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
