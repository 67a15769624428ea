//! What a publish does (pure): the objects the output tree wants in the
//! bucket, against the record of what was published there, give the
//! uploads (new, changed content, changed headers) and the deletes (keys
//! thumbgen published and no longer wants). The bucket is never listed for
//! this: a key thumbgen did not publish is not in the record, so it is
//! never deleted.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::model::Hash;

/// One object the output tree wants published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wanted {
    /// Its key under the bucket's prefix: the output's path under `output`.
    pub key: String,
    /// The local file.
    pub file: PathBuf,
    /// blake3 of its bytes.
    pub hash: Hash,
    /// Its length.
    pub size: u64,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its `Cache-Control`.
    pub cache_control: String,
}

impl Wanted {
    /// What its headers are, as recorded: a change of the rules changes it.
    pub(crate) fn headers(&self) -> String {
        format!("{}; {}", self.content_type, self.cache_control)
    }
}

/// The record of what was published, kept in the bucket beside the
/// objects (and read back before each publish).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Published {
    /// The layout version of this record.
    pub v: u32,
    /// Every object thumbgen published, by key.
    pub objects: BTreeMap<String, PublishedObject>,
}

impl Published {
    /// Take in `newer`'s entries (a shard's record): they replace these.
    pub(crate) fn merge(&mut self, newer: &Published) {
        for (key, object) in &newer.objects {
            self.objects.insert(key.clone(), object.clone());
        }
    }

    /// The entries that `base` does not already hold as they are.
    pub(crate) fn minus(&self, base: &Published) -> Published {
        Published {
            v: self.v,
            objects: self
                .objects
                .iter()
                .filter(|(key, object)| base.objects.get(*key) != Some(object))
                .map(|(key, object)| (key.clone(), object.clone()))
                .collect(),
        }
    }
}

/// The layout of [`Published`] this build reads and writes.
pub(crate) const PUBLISHED_VERSION: u32 = 1;

/// One published object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PublishedObject {
    /// blake3 of its bytes, in hex.
    pub blake3: String,
    /// Its length.
    pub size: u64,
    /// Its headers, as [`Wanted::headers`] says them.
    pub headers: String,
}

impl PublishedObject {
    /// The record of publishing `wanted`.
    pub(crate) fn of(wanted: &Wanted) -> PublishedObject {
        PublishedObject {
            blake3: crate::remote::key::hex(&wanted.hash),
            size: wanted.size,
            headers: wanted.headers(),
        }
    }
}

/// Why an object is uploaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Why {
    /// Not published yet.
    New,
    /// Published with other bytes.
    Changed,
    /// Published with these bytes, and other headers.
    Headers,
}

impl Why {
    /// Its `--json` code (the report words it).
    pub(crate) fn code(self) -> &'static str {
        match self {
            Why::New => "new",
            Why::Changed => "changed",
            Why::Headers => "headers_changed",
        }
    }
}

/// What a publish does, in order: the outputs, then the manifest, then
/// the deletes.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct PublishPlan {
    /// Indices into the wanted outputs, with why.
    pub uploads: Vec<(usize, Why)>,
    /// The manifest, if it is published and is to be uploaded.
    pub manifest: Option<Why>,
    /// Wanted objects already published as they are.
    pub unchanged: usize,
    /// Keys published before and no longer wanted.
    pub deletes: Vec<String>,
}

/// Compare `outputs` (and the `manifest`, if published) with `published`.
pub(crate) fn plan(
    outputs: &[Wanted],
    manifest: Option<&Wanted>,
    published: &Published,
) -> PublishPlan {
    let why = |wanted: &Wanted| match published.objects.get(&wanted.key) {
        None => Some(Why::New),
        Some(o) if o.blake3 != crate::remote::key::hex(&wanted.hash) || o.size != wanted.size => {
            Some(Why::Changed)
        }
        Some(o) if o.headers != wanted.headers() => Some(Why::Headers),
        Some(_) => None,
    };
    let mut plan = PublishPlan::default();
    for (index, wanted) in outputs.iter().enumerate() {
        match why(wanted) {
            Some(reason) => plan.uploads.push((index, reason)),
            None => plan.unchanged += 1,
        }
    }
    plan.manifest = manifest.and_then(why);
    if manifest.is_some() && plan.manifest.is_none() {
        plan.unchanged += 1;
    }
    let keep: std::collections::HashSet<&str> = outputs
        .iter()
        .chain(manifest)
        .map(|w| w.key.as_str())
        .collect();
    plan.deletes = published
        .objects
        .keys()
        .filter(|key| !keep.contains(key.as_str()))
        .cloned()
        .collect();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(key: &str, byte: u8) -> Wanted {
        Wanted {
            key: key.into(),
            file: PathBuf::from(key),
            hash: [byte; 32],
            size: 10,
            content_type: "image/jpeg",
            cache_control: "public, max-age=3600".into(),
        }
    }

    #[test]
    fn only_what_differs_goes_up_and_only_what_was_published_goes() {
        let a = wanted("thumb/a.jpg", 1);
        let b = wanted("thumb/b.jpg", 2);
        let manifest = wanted("manifest.json", 9);
        let mut published = Published::default();
        let first = plan(&[a.clone(), b.clone()], Some(&manifest), &published);
        assert_eq!(first.uploads, [(0, Why::New), (1, Why::New)]);
        assert_eq!(first.manifest, Some(Why::New));

        for w in [&a, &b, &manifest] {
            published
                .objects
                .insert(w.key.clone(), PublishedObject::of(w));
        }
        let none = plan(&[a.clone(), b.clone()], Some(&manifest), &published);
        assert!(none.uploads.is_empty() && none.manifest.is_none() && none.deletes.is_empty());
        assert_eq!(none.unchanged, 3);

        let changed = wanted("thumb/b.jpg", 3);
        let mut longer = a.clone();
        longer.cache_control = "public, max-age=60".into();
        let next = plan(&[longer, changed], None, &published);
        assert_eq!(next.uploads, [(0, Why::Headers), (1, Why::Changed)]);
        // The manifest is no longer published: it was thumbgen's, so it goes.
        assert_eq!(next.deletes, ["manifest.json"]);

        let gone = plan(&[a], None, &published);
        assert_eq!(gone.deletes, ["manifest.json", "thumb/b.jpg"]);
    }

    #[test]
    fn a_shards_record_holds_only_its_news_and_overrides_when_taken_in() {
        let a = wanted("thumb/a.jpg", 1);
        let b = wanted("thumb/b.jpg", 2);
        let mut main = Published::default();
        main.objects.insert(a.key.clone(), PublishedObject::of(&a));
        main.objects.insert(b.key.clone(), PublishedObject::of(&b));

        // The shard re-published b with new bytes, and a new c.
        let newer_b = wanted("thumb/b.jpg", 3);
        let c = wanted("thumb/c.jpg", 4);
        let mut seen_by_shard = main.clone();
        for w in [&newer_b, &c] {
            seen_by_shard
                .objects
                .insert(w.key.clone(), PublishedObject::of(w));
        }
        let own = seen_by_shard.minus(&main);
        assert_eq!(
            own.objects.keys().collect::<Vec<_>>(),
            ["thumb/b.jpg", "thumb/c.jpg"]
        );

        main.merge(&own);
        assert_eq!(
            main, seen_by_shard,
            "taken in, the record says what the bucket holds"
        );
        let none = plan(&[a, newer_b, c], None, &main);
        assert!(none.uploads.is_empty() && none.deletes.is_empty());
    }
}
