//! What the shared cache stores, and under which names (pure).
//!
//! Two kinds of object, under the configured prefix:
//!
//! - `ac/<action key>`: a small JSON [`Entry`] saying which blob an action
//!   produced and what it is (size in pixels and bytes, how it was made);
//! - `cas/<blake3 of the blob>`: the output's bytes, content-addressed;
//! - `src/<source key>`: the content hash (hex) of a source in a bucket,
//!   named by its url, key and listing ([`source_name`]), so that a fresh
//!   runner learns what a source holds without downloading it.
//!
//! An action key names everything that decides an output's bytes: the
//! source's content, the variant's recipe (which holds the encoder's
//! identity), the pipeline and the JPEG decoder. Nothing of the other
//! variants: an output is made from the decode its own size calls for.
//! Two machines that agree on a key write the same bytes, so either may
//! serve the other.

use serde::{Deserialize, Serialize};

use crate::focus::FocalPoint;
use crate::model::{Coding, Hash, Shape};
use crate::variant::{Variant, JPEG_DECODER, PIPELINE_VERSION};

/// The key of the output of `variant` made from a source whose bytes hash
/// to `source` and whose focal point is `focus`.
pub(crate) fn action_key(source: &Hash, variant: &Variant, focus: Option<FocalPoint>) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(b"thumbgen-action-v2\0");
    h.update(source);
    h.update(&variant.recipe(focus));
    h.update(&PIPELINE_VERSION.to_le_bytes());
    h.update(JPEG_DECODER.as_bytes());
    *h.finalize().as_bytes()
}

/// The object name under which the content hash of a source in a bucket is
/// kept: `store` is the bucket's url, `rel` the key under its prefix, and
/// `validator` what its listing says of this write of it (the ETag, folded
/// into the stat). Only strong validators qualify: S3's ETag changes with
/// every write of a key.
pub(crate) fn source_name(store: &str, rel: &str, len: u64, validator: u64) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"thumbgen-source-v1\0");
    for part in [store.as_bytes(), b"\0", rel.as_bytes(), b"\0"] {
        h.update(part);
    }
    h.update(&len.to_le_bytes());
    h.update(&validator.to_le_bytes());
    format!("src/{}", hex(h.finalize().as_bytes()))
}

/// A source's content hash as stored under its [`source_name`].
pub(crate) fn source_hash_bytes(hash: &Hash) -> Vec<u8> {
    hex(hash).into_bytes()
}

/// Parse what [`source_hash_bytes`] stored.
pub(crate) fn parse_source_hash(bytes: &[u8]) -> Option<Hash> {
    unhex(std::str::from_utf8(bytes).ok()?.trim())
}

/// The object name of an action's entry, relative to the prefix.
pub(crate) fn entry_name(key: &Hash) -> String {
    format!("ac/{}", hex(key))
}

/// The object name of a blob, relative to the prefix.
pub(crate) fn blob_name(digest: &Hash) -> String {
    format!("cas/{}", hex(digest))
}

/// What an action produced: enough to install and record the output
/// without rendering it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// Layout version of this record.
    pub v: u32,
    /// blake3 of the output's bytes, in hex: the blob's name.
    pub blob: String,
    /// The blob's length.
    pub bytes: u64,
    /// Pixel size as encoded.
    pub width: u32,
    /// Pixel size as encoded.
    pub height: u32,
    /// The source's upright size, and whether it is a JPEG.
    pub source_width: u32,
    /// See `source_width`.
    pub source_height: u32,
    /// See `source_width`.
    pub source_jpeg: bool,
    /// See `source_width`: an animation. Absent (false) in entries written
    /// before animations were kept, which were of stills or first frames.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub source_animated: bool,
}

/// The only layout of [`Entry`] this build reads and writes.
pub(crate) const ENTRY_VERSION: u32 = 2;

impl Entry {
    /// The entry for an output whose bytes hash to `digest`.
    pub(crate) fn new(digest: &Hash, bytes: u64, made: Made) -> Entry {
        Entry {
            v: ENTRY_VERSION,
            blob: hex(digest),
            bytes,
            width: made.width,
            height: made.height,
            source_width: made.shape.width,
            source_height: made.shape.height,
            source_jpeg: made.shape.jpeg(),
            source_animated: made.shape.coding == Coding::Animation,
        }
    }

    /// Parse a stored entry; `None` if it is not one this build wrote.
    pub(crate) fn parse(bytes: &[u8]) -> Option<Entry> {
        let entry: Entry = serde_json::from_slice(bytes).ok()?;
        (entry.v == ENTRY_VERSION && entry.digest().is_some()).then_some(entry)
    }

    /// The stored form.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("plain data serializes")
    }

    /// The blob's digest.
    pub(crate) fn digest(&self) -> Option<Hash> {
        unhex(&self.blob)
    }

    /// How the output was made.
    pub(crate) fn made(&self) -> Made {
        Made {
            width: self.width,
            height: self.height,
            shape: Shape {
                width: self.source_width,
                height: self.source_height,
                coding: match (self.source_jpeg, self.source_animated) {
                    (true, _) => Coding::Jpeg,
                    (false, true) => Coding::Animation,
                    (false, false) => Coding::Whole,
                },
            },
        }
    }
}

/// What is recorded of an output besides its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Made {
    /// Pixel size as encoded.
    pub width: u32,
    /// Pixel size as encoded.
    pub height: u32,
    /// The source's upright size and kind.
    pub shape: Shape,
}

/// Lower-case hex of a digest.
pub(crate) fn hex(hash: &Hash) -> String {
    use std::fmt::Write;
    hash.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(text: &str) -> Option<Hash> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Format;
    use crate::variant::{Fit, Position};

    fn set() -> Vec<Variant> {
        vec![
            Variant::new("large", 1280, 1280, Format::Jpeg),
            Variant::new("medium", 640, 640, Format::Webp),
            Variant::new("thumb", 256, 256, Format::Jpeg),
        ]
    }

    #[test]
    fn the_key_follows_what_decides_the_bytes() {
        let source = [7u8; 32];
        let base = set();
        let key = action_key(&source, &base[2], None);
        assert_eq!(key, action_key(&source, &set()[2], None), "stable");
        assert_ne!(
            key,
            action_key(&[8u8; 32], &base[2], None),
            "source content"
        );
        assert_ne!(key, action_key(&source, &base[0], None), "another variant");

        let mut own = set();
        own[2].quality = 90;
        assert_ne!(key, action_key(&source, &own[2], None), "its own recipe");
        let mut own_fit = set();
        own_fit[2].fit = Fit::Cover;
        assert_ne!(key, action_key(&source, &own_fit[2], None), "its own fit");

        // The name decides only the path, which is not in the store.
        let mut renamed = set();
        renamed[2].name = "small".into();
        assert_eq!(key, action_key(&source, &renamed[2], None));

        // A focal point is part of the key of the outputs cropped around
        // it, and of no other.
        let point = FocalPoint::new(0.2, 0.7);
        assert_eq!(key, action_key(&source, &base[2], point), "not cropped");
        let mut focused = set();
        focused[2].fit = Fit::Cover;
        focused[2].position = Position::Focus;
        let at = |p| action_key(&source, &focused[2], p);
        assert_ne!(at(None), at(point), "a point moves the crop");
        assert_ne!(at(point), at(FocalPoint::new(0.2, 0.71)), "another point");
        assert_eq!(at(point), at(FocalPoint::new(0.2, 0.7)), "stable");
    }

    #[test]
    fn a_source_name_follows_the_bucket_the_key_and_the_write() {
        let name = source_name("s3://shop/cat", "a/b.jpg", 10, 7);
        assert!(name.starts_with("src/") && name.len() == 4 + 64);
        assert_eq!(name, source_name("s3://shop/cat", "a/b.jpg", 10, 7));
        for other in [
            source_name("s3://shop/other", "a/b.jpg", 10, 7),
            source_name("s3://shop/cat", "a/c.jpg", 10, 7),
            source_name("s3://shop/cat", "a/b.jpg", 11, 7),
            source_name("s3://shop/cat", "a/b.jpg", 10, 8),
        ] {
            assert_ne!(name, other);
        }
        let hash = [9u8; 32];
        assert_eq!(parse_source_hash(&source_hash_bytes(&hash)), Some(hash));
        assert_eq!(parse_source_hash(b"nonsense"), None);
    }

    #[test]
    fn entries_round_trip_and_refuse_garbage() {
        let made = Made {
            width: 256,
            height: 171,
            shape: Shape {
                width: 4000,
                height: 2667,
                coding: crate::model::Coding::Jpeg,
            },
        };
        let digest = *blake3::hash(b"thumb").as_bytes();
        let entry = Entry::new(&digest, 5, made);
        let parsed = Entry::parse(&entry.to_bytes()).unwrap();
        assert_eq!(parsed, entry);
        assert_eq!(parsed.digest(), Some(digest));
        assert_eq!(parsed.made(), made);
        assert_eq!(blob_name(&digest), format!("cas/{}", hex(&digest)));

        assert_eq!(Entry::parse(b"not json"), None);
        let mut other_version = entry.clone();
        other_version.v = ENTRY_VERSION + 1;
        assert_eq!(Entry::parse(&other_version.to_bytes()), None);
        let mut bad_digest = entry;
        bad_digest.blob = "zz".repeat(32);
        assert_eq!(Entry::parse(&bad_digest.to_bytes()), None);
    }
}
