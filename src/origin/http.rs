//! Sources behind URLs, listed in a file (`source_list`): the list's
//! grammar, and the HTTP client that asks for each source with the
//! validators its last answer gave (ETag, Last-Modified), so that an
//! unchanged source costs one `304 Not Modified` and no body.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use reqwest::header::{
    HeaderMap, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, RETRY_AFTER,
};
use reqwest::StatusCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::model::{Hash, Validators};

/// One source of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    /// Its path in the output tree: the `name` column, or the URL's host
    /// and path.
    pub rel: PathBuf,
    /// What is requested.
    pub url: String,
    /// What identifies it between builds: the URL without its query
    /// string (unless `keep_query`), which signed URLs change every run.
    pub id: String,
    /// Its line in the list, for messages.
    pub line: usize,
}

/// A line of the list that is not a source, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadLine {
    /// Its number, from 1.
    pub line: usize,
    /// What is wrong, in words.
    pub error: String,
}

/// Read a list: one URL a line, or CSV with a `url` column and an
/// optional `name` column (a header line names them; without one, the
/// first column is the URL and the second the name). Blank lines and lines
/// starting with `#` are skipped.
pub(crate) fn parse_list(text: &str, keep_query: bool) -> (Vec<Listed>, Vec<BadLine>) {
    let mut listed = Vec::new();
    let mut bad = Vec::new();
    let mut columns = (0usize, Some(1usize));
    let mut first_of: HashMap<PathBuf, usize> = HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let cells: Vec<&str> = content.split(',').map(str::trim).collect();
        if listed.is_empty()
            && bad.is_empty()
            && cells.iter().any(|c| c.eq_ignore_ascii_case("url"))
        {
            let at = |name: &str| cells.iter().position(|c| c.eq_ignore_ascii_case(name));
            columns = (at("url").expect("looked for"), at("name"));
            continue;
        }
        let url = cells.get(columns.0).copied().unwrap_or("");
        let name = columns
            .1
            .and_then(|i| cells.get(i))
            .copied()
            .filter(|n| !n.is_empty());
        match source_of(url, name, keep_query) {
            Ok((rel, id)) => {
                if let Some(first) = first_of.get(&rel) {
                    bad.push(BadLine {
                        line,
                        error: format!(
                            "the name {} is taken by line {first}; give this URL another name",
                            rel.display()
                        ),
                    });
                    continue;
                }
                first_of.insert(rel.clone(), line);
                listed.push(Listed {
                    rel,
                    url: url.to_string(),
                    id,
                    line,
                });
            }
            Err(error) => bad.push(BadLine { line, error }),
        }
    }
    (listed, bad)
}

/// The output path and identity of `url`, named `name` if given.
fn source_of(url: &str, name: Option<&str>, keep_query: bool) -> Result<(PathBuf, String), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("\"{url}\" is not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("\"{url}\" is not an http:// or https:// URL"));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| format!("\"{url}\" names no host"))?;
    let mut id = parsed.clone();
    id.set_fragment(None);
    if !keep_query {
        id.set_query(None);
    }
    let rel = match name {
        Some(name) => name.to_string(),
        None => {
            let path = parsed.path().trim_start_matches('/');
            let decoded = percent_decoded(path);
            format!("{host}/{decoded}")
        }
    };
    let rel = safe_relative(&rel).ok_or_else(|| {
        format!("the name \"{rel}\" is not a relative path inside the output tree")
    })?;
    Ok((rel, id.to_string()))
}

/// `%20` and the like, as a path names them; bytes that do not decode to
/// UTF-8 stay encoded.
fn percent_decoded(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| path.to_string())
}

/// `name` as a relative path of plain parts (no `..`, no root, no empty
/// part, none hidden), or `None`.
fn safe_relative(name: &str) -> Option<PathBuf> {
    let parts: Vec<&str> = name.split('/').collect();
    let plain = |p: &&str| !p.is_empty() && !p.starts_with('.') && !p.contains('\\');
    parts.iter().all(plain).then(|| parts.iter().collect())
}

/// What a server answered to a conditional request.
pub(crate) enum Answer {
    /// `304 Not Modified`: the recorded content is current.
    NotModified,
    /// A body, with what it is and what to send next time.
    Body {
        /// Its length, if the server said (`Content-Length`).
        len: Option<u64>,
        /// The validators of this answer.
        validators: Validators,
        /// The bytes, as they arrive.
        stream: std::pin::Pin<Box<dyn Stream<Item = Result<bytes::Bytes, String>> + Send>>,
        /// Holds the host's slot until the body is read.
        permit: OwnedSemaphorePermit,
    },
}

/// Requests to the hosts of a list: bounded per host, retried on what may
/// pass (network errors, 429, 5xx) with exponential backoff and jitter,
/// honouring `Retry-After`.
pub(crate) struct Client {
    http: reqwest::Client,
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Tries of one request after the first.
const RETRIES: u32 = 4;
/// The first wait before a retry; each next one doubles.
const BACKOFF: Duration = Duration::from_millis(200);
/// The longest wait a `Retry-After` gets.
const LONGEST_WAIT: Duration = Duration::from_secs(60);
/// Redirects followed for one request.
const REDIRECTS: usize = 5;

impl Client {
    /// A client with `per_host` requests in flight to one host.
    pub(crate) fn new(per_host: usize, connect: Duration) -> Result<Client, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(connect)
            .redirect(reqwest::redirect::Policy::limited(REDIRECTS))
            .user_agent(concat!("thumbgen/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot start an HTTP client: {e}"))?;
        Ok(Client {
            http,
            per_host,
            hosts: Mutex::new(HashMap::new()),
        })
    }

    fn slots(&self, url: &str) -> Arc<Semaphore> {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        self.hosts
            .lock()
            .unwrap()
            .entry(host)
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
            .clone()
    }

    /// Ask for `url`, sending `known`'s validators if given.
    pub(crate) async fn get(
        &self,
        url: &str,
        known: Option<&Validators>,
    ) -> Result<Answer, String> {
        let slots = self.slots(url);
        let mut attempt = 0;
        loop {
            let permit = slots
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| "the client is closing")?;
            let mut request = self.http.get(url);
            if let Some(known) = known {
                if let Some(tag) = &known.etag {
                    request = request.header(IF_NONE_MATCH, tag);
                }
                if let Some(date) = &known.last_modified {
                    request = request.header(IF_MODIFIED_SINCE, date);
                }
            }
            let wait = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    if status == StatusCode::NOT_MODIFIED && known.is_some() {
                        return Ok(Answer::NotModified);
                    }
                    if status.is_success() {
                        return Ok(body(response, permit));
                    }
                    let passing =
                        status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    if !passing || attempt == RETRIES {
                        return Err(refusal(status));
                    }
                    retry_after(response.headers()).unwrap_or_else(|| backoff(attempt, url))
                }
                Err(e) if e.is_redirect() => {
                    return Err(format!(
                        "more than {REDIRECTS} redirects (a redirect loop?)"
                    ))
                }
                Err(e)
                    if attempt < RETRIES
                        && (e.is_connect() || e.is_timeout() || e.is_request()) =>
                {
                    backoff(attempt, url)
                }
                Err(e) => return Err(describe(&e)),
            };
            drop(permit);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

/// The answer of a successful response.
fn body(response: reqwest::Response, permit: OwnedSemaphorePermit) -> Answer {
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let validators = Validators {
        etag: header(ETAG),
        last_modified: header(LAST_MODIFIED),
        checked_at: 0,
        hash: Hash::default(),
    };
    Answer::Body {
        len: response.content_length(),
        validators,
        stream: Box::pin(
            response
                .bytes_stream()
                .map(|chunk| chunk.map_err(|e| describe(&e))),
        ),
        permit,
    }
}

/// A status that fails the source, in words.
fn refusal(status: StatusCode) -> String {
    let what = match status.as_u16() {
        404 | 410 => ": it is gone",
        401 | 403 => ": access denied",
        429 => ": too many requests, after retries",
        500..=599 => ": a server error, after retries",
        _ => "",
    };
    format!("the server answered {status}{what}")
}

/// How long a `Retry-After` of seconds asks to wait (at most a minute).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds).min(LONGEST_WAIT))
}

/// The wait before retry `attempt` + 1: doubling, with up to half again
/// of jitter, so that many clients do not retry in step.
fn backoff(attempt: u32, url: &str) -> Duration {
    let base = BACKOFF * 2u32.pow(attempt);
    let seed = blake3::hash(format!("{url}{attempt}{:?}", std::time::SystemTime::now()).as_bytes());
    let jitter = u64::from(seed.as_bytes()[0]) * base.as_millis() as u64 / 512;
    base + Duration::from_millis(jitter)
}

/// A client error in a few words: the innermost cause.
fn describe(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    if error.is_timeout() {
        return "the server did not answer in time".into();
    }
    if error.is_connect() {
        return format!("cannot connect: {cause}");
    }
    cause.to_string()
}

/// The start of an HTML page (an error page sent with 200), which is never
/// an image: checked on the first bytes of a body.
pub(crate) fn looks_like_html(start: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&start[..start.len().min(256)]).to_ascii_lowercase();
    let text = text.trim_start_matches('\u{feff}').trim_start();
    text.starts_with("<!doctype html")
        || text.starts_with("<html")
        || text.starts_with("<head")
        || text.starts_with("<body")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn lines_csv_and_names() {
        let text = "# products\nhttps://cdn.shop.test/img/red%20shoe.jpg?sig=abc\n\nnot a url\nftp://x.test/a.jpg\nhttps://cdn.shop.test/img/red%20shoe.jpg?sig=def\n";
        let (listed, bad) = parse_list(text, false);
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].rel, Path::new("cdn.shop.test/img/red shoe.jpg"));
        assert_eq!(listed[0].id, "https://cdn.shop.test/img/red%20shoe.jpg");
        assert_eq!(
            listed[0].url,
            "https://cdn.shop.test/img/red%20shoe.jpg?sig=abc"
        );
        let lines: Vec<usize> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, [4, 5, 6], "{bad:?}");
        assert!(bad[2].error.contains("taken by line 2"), "{}", bad[2].error);

        let (kept, _) = parse_list("https://a.test/x.jpg?v=2\n", true);
        assert_eq!(kept[0].id, "https://a.test/x.jpg?v=2");

        let csv = "name,url\nshoes/red.jpg,https://a.test/1\n,https://a.test/2.png\n../up.jpg,https://a.test/3\n";
        let (listed, bad) = parse_list(csv, false);
        let rels: Vec<_> = listed.iter().map(|l| l.rel.to_str().unwrap()).collect();
        assert_eq!(rels, ["shoes/red.jpg", "a.test/2.png"]);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 4);
    }

    #[test]
    fn html_is_recognised() {
        assert!(looks_like_html(b"  <!DOCTYPE html><html>"));
        assert!(looks_like_html(b"<html><body>error</body></html>"));
        assert!(!looks_like_html(b"\xff\xd8\xff\xe0 JFIF"));
        assert!(!looks_like_html(b"\x89PNG\r\n"));
    }

    #[test]
    fn retry_after_is_capped_and_backoff_grows() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(RETRY_AFTER, "3600".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(LONGEST_WAIT));
        let first = backoff(0, "u");
        assert!(first >= BACKOFF && first <= BACKOFF * 3 / 2, "{first:?}");
        assert!(backoff(3, "u") >= BACKOFF * 8);
    }
}
