//! A test project in a temporary folder: a config writer, images made in
//! code, and the real `thumbgen` binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use image::{ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

pub(crate) const TWO_VARIANTS: &str = r#"
[[variants]]
name = "thumb"
width = 64
height = 64
format = "jpeg"

[[variants]]
name = "large"
width = 160
height = 160
format = "webp"
"#;

pub(crate) struct Env {
    pub(crate) dir: tempfile::TempDir,
}

impl Env {
    /// A project with `source = "images"`, `output = "public/thumbs"` and
    /// the given `[[variants]]` text.
    pub(crate) fn new(variants: &str) -> Env {
        let env = Env {
            dir: tempfile::tempdir().unwrap(),
        };
        env.set_variants(variants);
        std::fs::create_dir_all(env.root().join("images")).unwrap();
        env
    }

    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn set_variants(&self, variants: &str) {
        self.write_config(&format!(
            "source = \"images\"\noutput = \"public/thumbs\"\n{variants}"
        ));
    }

    pub(crate) fn write_config(&self, text: &str) {
        std::fs::write(self.root().join(".thumbgen.toml"), text).unwrap();
    }

    pub(crate) fn src(&self, rel: &str) -> PathBuf {
        self.root().join("images").join(rel)
    }

    pub(crate) fn out(&self, rel: &str) -> PathBuf {
        self.root().join("public/thumbs").join(rel)
    }

    /// Write a source image whose pixels depend on `seed`; the format
    /// follows the extension (jpg/jpeg, png; png gets an alpha channel).
    pub(crate) fn add_image(&self, rel: &str, width: u32, height: u32, seed: u32) {
        let path = self.src(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, image_bytes(rel, width, height, seed)).unwrap();
    }

    pub(crate) fn cmd(&self, args: &[&str]) -> Output {
        thumbgen_command()
            .current_dir(self.root())
            .env_remove("NO_COLOR")
            // Help is wrapped to the terminal's width, else to $COLUMNS:
            // one width for every machine keeps `--help` snapshots stable.
            .env("COLUMNS", "100")
            .args(args)
            .output()
            .unwrap()
    }

    /// `thumbgen ARGS`, whatever the exit code (a transcript records it).
    /// Under `--json`, every event printed is checked against the schema.
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        let mut run = Run::from(self.cmd(args));
        run.args = args.iter().map(|a| a.to_string()).collect();
        if args.iter().any(|a| a.starts_with("--json")) {
            parse_events(&run.stdout);
        }
        run
    }

    /// `thumbgen build ARGS`, asserting the exit code.
    pub(crate) fn build(&self, args: &[&str], code: i32) -> Run {
        let mut all = vec!["build"];
        all.extend_from_slice(args);
        let run = self.run(&all);
        assert_eq!(
            run.code, code,
            "exit code of build {args:?}\n{}",
            run.stderr
        );
        run
    }

    /// Every file under the output root with its bytes.
    pub(crate) fn outputs(&self) -> BTreeMap<String, Vec<u8>> {
        tree(&self.root().join("public/thumbs"))
    }

    /// The files under the output root, without folders and without the
    /// markers of the folders thumbgen owns.
    pub(crate) fn output_files(&self) -> Vec<String> {
        self.outputs()
            .into_keys()
            .filter(|k| !k.ends_with('/') && !k.ends_with(OWNED_MARKER))
            .collect()
    }

    /// A fresh project with the same config and sources, not built yet:
    /// what a clean build is compared against.
    pub(crate) fn fresh_copy(&self) -> Env {
        let copy = Env::new("");
        std::fs::copy(
            self.root().join(".thumbgen.toml"),
            copy.root().join(".thumbgen.toml"),
        )
        .unwrap();
        copy_dir(&self.root().join("images"), &copy.root().join("images"));
        let focus = self.root().join("focus.toml");
        if focus.exists() {
            std::fs::copy(focus, copy.root().join("focus.toml")).unwrap();
        }
        copy
    }
}

/// The `thumbgen` binary that cargo built for these tests, as a command
/// to configure.
pub(crate) fn thumbgen_command() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_thumbgen"))
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub(crate) struct Run {
    /// The arguments after `thumbgen` (empty when not known).
    pub(crate) args: Vec<String>,
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            args: Vec::new(),
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// What a user sees, for a snapshot: the command, the exit code, stdout
/// and stderr. Always both streams, so that a message moving from one to
/// the other shows in the diff.
impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "$ thumbgen")?;
        for arg in &self.args {
            write!(f, " {arg}")?;
        }
        write!(
            f,
            "\nexit code: {}\n----- stdout -----\n{}----- stderr -----\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    /// The `built N · up to date N · removed N · failed N` numbers.
    pub(crate) fn summary(&self) -> [usize; 4] {
        let line = self
            .stderr
            .lines()
            .rev()
            .find(|l| l.starts_with("built "))
            .unwrap_or_else(|| panic!("no summary in:\n{}", self.stderr));
        let count = |label: &str| -> usize {
            line.split([',', '·'])
                .map(str::trim)
                .find_map(|part| part.strip_prefix(label))
                .and_then(|rest| rest.split(' ').next()?.parse().ok())
                .unwrap_or_else(|| panic!("no `{label}` in {line}"))
        };
        [
            count("built "),
            count("up to date "),
            count("removed "),
            count("failed "),
        ]
    }

    /// The `verified N` count of the summary (0 when not shown).
    pub(crate) fn verified(&self) -> usize {
        self.optional_count("verified")
    }

    /// The `downloaded N` count of the summary (0 when not shown).
    pub(crate) fn downloaded(&self) -> usize {
        self.optional_count("downloaded")
    }

    /// A count the summary shows only when it is not 0 (`, verified N`).
    fn optional_count(&self, label: &str) -> usize {
        self.stderr
            .lines()
            .rev()
            .find(|l| l.starts_with("built "))
            .and_then(|l| l.split(&format!(", {label} ")).nth(1))
            .and_then(|rest| rest.split([',', ' ']).next()?.parse().ok())
            .unwrap_or(0)
    }
}

pub(crate) fn image_bytes(rel: &str, width: u32, height: u32, seed: u32) -> Vec<u8> {
    let ext = Path::new(rel)
        .extension()
        .unwrap()
        .to_string_lossy()
        .to_ascii_lowercase();
    let mut bytes = Vec::new();
    let mut cursor = std::io::Cursor::new(&mut bytes);
    let s = seed.wrapping_mul(2_654_435_761);
    if ext == "gif" {
        // Three frames that differ, looping forever: an animation.
        let mut encoder = image::codecs::gif::GifEncoder::new_with_speed(&mut cursor, 30);
        encoder
            .set_repeat(image::codecs::gif::Repeat::Infinite)
            .unwrap();
        for frame in 0..3u32 {
            let img = RgbaImage::from_fn(width, height, |x, y| {
                Rgba([
                    (x * 7 + s + frame * 60) as u8,
                    (y * 5) as u8,
                    (s >> 16) as u8,
                    255,
                ])
            });
            let delay = image::Delay::from_numer_denom_ms(50 + 10 * (seed % 5), 1);
            encoder
                .encode_frame(image::Frame::from_parts(img, 0, 0, delay))
                .unwrap();
        }
    } else if ext == "png" {
        let img = RgbaImage::from_fn(width, height, |x, y| {
            let a = if (x + y + seed).is_multiple_of(5) {
                0
            } else {
                255
            };
            Rgba([
                (x * 7 + s) as u8,
                (y * 5 + (s >> 8)) as u8,
                (s >> 16) as u8,
                a,
            ])
        });
        img.write_to(&mut cursor, ImageFormat::Png).unwrap();
    } else {
        let img = RgbImage::from_fn(width, height, |x, y| {
            Rgb([
                (x * 3 + s) as u8,
                (y * 2 + (s >> 8)) as u8,
                ((x ^ y) + (s >> 16)) as u8,
            ])
        });
        img.write_to(&mut cursor, ImageFormat::Jpeg).unwrap();
    }
    bytes
}

/// Every file under `dir` (relative path -> bytes); empty if it is missing.
/// The file that marks a folder of the output tree as thumbgen's.
pub(crate) const OWNED_MARKER: &str = ".thumbgen-owned";

pub(crate) fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let Ok(entry) = entry else { continue };
            let path = entry.path();
            if path.is_dir() {
                let rel = path
                    .strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                // Empty folders count: a clean build would not have them.
                out.insert(format!("{rel}/"), Vec::new());
                walk(&path, base, out);
            } else {
                let rel = path
                    .strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                // A file may be renamed away while a running watcher is
                // polled (temporary files); it is simply not there.
                match std::fs::read(&path) {
                    Ok(bytes) => {
                        out.insert(rel, bytes);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => panic!("{}: {e}", path.display()),
                }
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// The committed fixtures (`tests/fixtures`, made by `make_fixtures.py`).
pub(crate) const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// `--json` output, one event per line, each valid against
/// `docs/events.schema.json` (which the README points to): the events'
/// documented shape is the one they have.
pub(crate) fn parse_events(stdout: &str) -> Vec<serde_json::Value> {
    let (schemas, index) = event_schema();
    stdout
        .lines()
        .map(|line| {
            let event: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if let Err(e) = schemas.validate(&event, *index) {
                panic!("an event that docs/events.schema.json does not allow:\n{line}\n{e:#}");
            }
            event
        })
        .collect()
}

/// The event schema, compiled once for all the tests.
fn event_schema() -> &'static (boon::Schemas, boon::SchemaIndex) {
    static SCHEMA: std::sync::OnceLock<(boon::Schemas, boon::SchemaIndex)> =
        std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/events.schema.json");
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        compiler
            .add_resource("file:///events.schema.json", schema)
            .unwrap();
        let index = compiler
            .compile("file:///events.schema.json", &mut schemas)
            .unwrap_or_else(|e| panic!("docs/events.schema.json: {e}"));
        (schemas, index)
    })
}

pub(crate) fn decode(path: &Path) -> image::DynamicImage {
    image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Set a file's mtime `secs` seconds into the future (a touch that no
/// racy-timestamp rule can confuse with the build that recorded it).
pub(crate) fn touch(path: &Path, secs: i64) {
    let now = filetime::FileTime::now();
    let t = filetime::FileTime::from_unix_time(now.unix_seconds() + secs, 0);
    filetime::set_file_mtime(path, t).unwrap();
}

/// Several runs as one snapshot, each after a `#` line saying what was
/// done before it.
pub(crate) fn story(steps: &[(&str, &Run)]) -> String {
    steps
        .iter()
        .map(|(what, run)| format!("# {what}\n{run}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The settings every snapshot is taken with.
pub(crate) fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings
}

/// `text` as it is the same on every machine and every run: the temporary
/// folders in `roots` as `[ROOT]`, wall times as `[TIME]`, the lock
/// holder's pid as `[PID]`, and no progress lines. (By hand rather than
/// with insta's regex filters: those would build regex's Unicode tables
/// into the test build and so rebuild the crate's own dependencies.)
pub(crate) fn normalize(text: &str, roots: &[&Path]) -> String {
    let mut forms: Vec<String> = Vec::new();
    for root in roots {
        let canonical = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        for form in [canonical.as_path(), root] {
            forms.push(form.to_string_lossy().into_owned());
        }
    }
    // The longer first, so that a root inside another is not cut in two.
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    let mut text = text.to_string();
    for form in forms {
        text = text.replace(&form, "[ROOT]");
    }
    // The line a build prints every 5 s without a terminal, should a slow
    // machine take that long.
    let mut out: String = text
        .split_inclusive('\n')
        .filter(|line| !is_progress_line(line.trim_end_matches('\n')))
        .collect();
    // The summary's wall time, and its `--json` twin; who holds the lock.
    out = replace_numbers(&out, "", " s", "[TIME]", true);
    out = replace_numbers(
        &out,
        "\"duration_ms\":",
        "",
        "\"duration_ms\":[TIME]",
        false,
    );
    replace_numbers(&out, "pid ", "", "pid [PID]", false)
}

/// `N/M sources built` or `… hashed`.
fn is_progress_line(line: &str) -> bool {
    let Some((counts, rest)) = line.split_once(' ') else {
        return false;
    };
    let Some((done, total)) = counts.split_once('/') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(done) && digits(total) && matches!(rest, "sources built" | "sources hashed")
}

/// Replaces every `before` + number + `after` with `with`: the number is
/// digits (`seconds`: digits, a dot and two digits, not inside a word).
pub(crate) fn replace_numbers(
    text: &str,
    before: &str,
    after: &str,
    with: &str,
    seconds: bool,
) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some(end) = number_at(text, i, before, after, seconds) {
            out.push_str(with);
            i = end;
        } else {
            let c = text[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Where a match of [`replace_numbers`]'s pattern that starts at `i` ends.
fn number_at(text: &str, i: usize, before: &str, after: &str, seconds: bool) -> Option<usize> {
    let bytes = text.as_bytes();
    let word = |at: usize| {
        bytes
            .get(at)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
    };
    let digits_from = |mut k: usize| {
        while bytes.get(k).is_some_and(u8::is_ascii_digit) {
            k += 1;
        }
        k
    };
    // A match begins a word, as regex's `\b` before `pid` or a number.
    if !text[i..].starts_with(before) || (i > 0 && word(i - 1)) {
        return None;
    }
    let start = i + before.len();
    let mut j = digits_from(start);
    if j == start {
        return None;
    }
    if seconds {
        if bytes.get(j) != Some(&b'.') || digits_from(j + 1) != j + 3 {
            return None;
        }
        j += 3;
    }
    if !text[j..].starts_with(after) {
        return None;
    }
    j += after.len();
    // `12.34 s` must end a word too (not `12.34 sources`).
    (!seconds || !word(j)).then_some(j)
}

/// Assert that `text` (a [`Run`], whose `Display` is its transcript, or a
/// string of several) matches the snapshot `name` in `tests/it/snapshots/`,
/// with [`snapshot_settings`] for the env's root and any further folders.
macro_rules! assert_transcript {
    ($name:expr, $env:expr, $text:expr $(, $root:expr)* $(,)?) => {
        $crate::common::snapshot_settings().bind(|| {
            insta::assert_snapshot!(
                $name,
                $crate::common::normalize(&$text.to_string(), &[$env.root() $(, $root)*])
            )
        })
    };
}
pub(crate) use assert_transcript;
