//! Content hashes: blake3 of bytes in memory and of files on disk. One
//! place, so that a source hashed while fingerprinting and the same bytes
//! hashed while rendering always agree.

use std::io;
use std::path::Path;

use crate::model::Hash;

/// blake3 of a file's bytes; large files are memory-mapped.
pub(crate) fn hash_file(path: &Path) -> io::Result<Hash> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_mmap(path)?;
    Ok(*hasher.finalize().as_bytes())
}

/// blake3 of `bytes`.
pub(crate) fn hash_bytes(bytes: &[u8]) -> Hash {
    *blake3::hash(bytes).as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_file_matches_hash_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello").unwrap();
        assert_eq!(hash_file(&path).unwrap(), hash_bytes(b"hello"));
        assert_ne!(hash_bytes(b"hello"), hash_bytes(b"hellp"));
    }
}
