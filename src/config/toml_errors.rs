//! serde's and the TOML parser's messages, in a config author's words:
//! which key, what it must be, and what to write. serde speaks of `i64`,
//! "sequences" and enum "variants" (which collides with thumbgen's own word
//! for an output size); a person editing `.thumbgen.toml` should read
//! `` `variants[0].width` must be a whole number, not the text "256": write
//! width = 256 ``.

/// The dotted key at byte `offset` of `text` (`variants[1].width`), if the
/// offset is on a `key = value` line or on a key.
pub(super) fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let name: String = line
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    if name.is_empty() || line.trim_start().starts_with('[') {
        return None;
    }
    Some(match variant_index(text, line_start) {
        Some(i) => format!("variants[{i}].{name}"),
        None if in_table(text, line_start, "[remote]") => format!("remote.{name}"),
        None if in_table(text, line_start, "[publish]") => format!("publish.{name}"),
        None => name,
    })
}

/// The table headers (`[remote]`, `[[variants]]`, trimmed) on the lines
/// that start before byte `offset` of `text`, in order.
fn headers_before(text: &str, offset: usize) -> impl Iterator<Item = &str> {
    let mut at = 0;
    text.split_inclusive('\n')
        .take_while(move |line| {
            let starts = at;
            at += line.len();
            starts <= offset
        })
        .map(str::trim)
        .filter(|line| line.starts_with('['))
}

/// Whether the byte `offset` of `text` falls in the table `header`
/// (`"[remote]"`).
pub(super) fn in_table(text: &str, offset: usize, header: &str) -> bool {
    headers_before(text, offset).last() == Some(header)
}

/// Which `[[variants]]` table the byte `offset` falls in, if any.
/// Counted over the whole file, so a `[remote]` table between two
/// `[[variants]]` does not restart the count.
pub(super) fn variant_index(text: &str, offset: usize) -> Option<usize> {
    let (count, last) = headers_before(text, offset).fold((0, None), |(count, _), header| {
        (count + usize::from(header == "[[variants]]"), Some(header))
    });
    (last == Some("[[variants]]")).then(|| count - 1)
}

/// The message for a parse error whose serde text is `message`, about
/// `key` (when known).
pub(super) fn humanize(message: &str, key: Option<&str>, known: &[&str]) -> String {
    let message = message.trim_end();
    let shown = key.map_or_else(|| "this value".to_string(), |k| format!("`{k}`"));
    let short = key.map(|k| k.rsplit('.').next().unwrap_or(k));
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((got, expected)) = rest.split_once(", expected ") {
            return wrong_type(&shown, short, got, expected);
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        // serde's "variant" is an enum value here: `format = "avif"`.
        let (got, allowed) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let allowed = allowed
            .trim_start_matches("one of ")
            .replace('`', "")
            .replace(", ", " | ");
        return format!(
            "{shown} must be one of {allowed} (got \"{}\")",
            got.trim_matches('`')
        );
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let name = rest.split(',').next().unwrap_or(rest).trim_matches('`');
        let hint = closest(name, known)
            .map(|k| format!("; did you mean `{k}`?"))
            .unwrap_or_default();
        return format!(
            "unknown key `{name}`{hint} (known keys: {})",
            known.join(", ")
        );
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let name = rest.trim_matches('`');
        return match key {
            Some(table) => format!("`{table}` needs `{name}`"),
            None => format!("`{name}` is required"),
        };
    }
    message.to_string()
}

/// `` `width` must be a whole number, not the text "256": write width = 256 ``.
fn wrong_type(shown: &str, short: Option<&str>, got: &str, expected: &str) -> String {
    let wanted = match expected {
        "i64" | "u64" | "i32" | "u32" | "u8" | "usize" => "a whole number",
        "f64" | "f32" => "a number",
        "a boolean" => "true or false",
        "a string" | "a borrowed string" => "text in quotes",
        "a sequence" => "a list",
        other => other,
    };
    let text = got
        .strip_prefix("string \"")
        .and_then(|s| s.strip_suffix('"'));
    let described = match text {
        Some(text) => format!("the text \"{text}\""),
        None => got.replace('`', ""),
    };
    let fix = match (short, text, wanted) {
        (Some(k), Some(t), "a whole number" | "a number") if t.trim().parse::<f64>().is_ok() => {
            format!(": write {k} = {} (without quotes)", t.trim())
        }
        (Some(k), Some(t), "true or false") if matches!(t, "true" | "false") => {
            format!(": write {k} = {t} (without quotes)")
        }
        (Some(k), Some(t), "a list") => format!(": write {k} = [\"{t}\"]"),
        (Some(k), None, "text in quotes") => {
            format!(
                ": write {k} = \"{}\"",
                got.rsplit(' ').next().unwrap_or("").trim_matches('`')
            )
        }
        _ => String::new(),
    };
    format!("{shown} must be {wanted}, not {described}{fix}")
}

/// The known key nearest to `name` by edit distance, if it is close.
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (distance(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &["name", "width", "height", "quality"];

    #[test]
    fn serde_jargon_becomes_words_with_a_fix() {
        assert_eq!(
            humanize(
                "invalid type: string \"256\", expected i64",
                Some("variants[0].width"),
                KNOWN
            ),
            "`variants[0].width` must be a whole number, not the text \"256\": write width = 256 (without quotes)"
        );
        assert_eq!(
            humanize(
                "invalid type: string \"drafts/**\", expected a sequence",
                Some("exclude"),
                KNOWN
            ),
            "`exclude` must be a list, not the text \"drafts/**\": write exclude = [\"drafts/**\"]"
        );
        assert_eq!(
            humanize(
                "unknown variant `avif`, expected one of `jpeg`, `png`, `webp`",
                Some("variants[1].format"),
                KNOWN
            ),
            "`variants[1].format` must be one of jpeg | png | webp (got \"avif\")"
        );
        let unknown = humanize(
            "unknown field `qualty`, expected one of `name`",
            Some("variants[0].qualty"),
            KNOWN,
        );
        assert!(
            unknown.starts_with("unknown key `qualty`; did you mean `quality`?"),
            "{unknown}"
        );
        assert_eq!(
            humanize("missing field `width`", Some("variants[0]"), KNOWN),
            "`variants[0]` needs `width`"
        );
        assert_eq!(
            humanize(
                "invalid type: integer `1`, expected a string",
                Some("source"),
                KNOWN
            ),
            "`source` must be text in quotes, not integer 1: write source = \"1\""
        );
    }

    #[test]
    fn keys_are_found_with_their_variant_table() {
        let text = "source = \"a\"\n[[variants]]\nname = \"t\"\n[[variants]]\nwidth = \"x\"\n";
        let at = text.find("\"x\"").unwrap();
        assert_eq!(key_at(text, at).as_deref(), Some("variants[1].width"));
        assert_eq!(key_at(text, 1).as_deref(), Some("source"));
        assert_eq!(variant_index(text, text.find("name").unwrap()), Some(0));
        assert_eq!(variant_index(text, 0), None);

        // A `[remote]` table between variants: keys in it are the table's,
        // and the count of variants goes on after it.
        let text = "[[variants]]\nname = \"a\"\n[remote]\nurl = 1\n[[variants]]\nwidth = \"x\"\n";
        assert_eq!(
            key_at(text, text.find("1").unwrap()).as_deref(),
            Some("remote.url")
        );
        assert_eq!(
            key_at(text, text.find("\"x\"").unwrap()).as_deref(),
            Some("variants[1].width")
        );
    }
}
