//! `--shard K/N`: one part of a catalogue, for CI matrices that split a
//! build across N jobs. A source belongs to part `hash(path) mod N`: a
//! stable hash of its path relative to the source folder, so a photo stays
//! in its part when others are added or removed, and each job's local cache
//! stays warm across runs.

use std::path::Path;

/// Part `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which part, from 1.
    pub index: u32,
    /// How many parts.
    pub count: u32,
}

impl Shard {
    /// Whether the source at `rel` (relative to the source folder) is in
    /// this part.
    pub fn contains(&self, rel: &Path) -> bool {
        part_of(rel, self.count) == self.index - 1
    }
}

/// The 0-based part of `count` that `rel` falls in.
fn part_of(rel: &Path, count: u32) -> u32 {
    let digest = blake3::hash(rel.as_os_str().as_encoded_bytes());
    let head = u64::from_le_bytes(digest.as_bytes()[..8].try_into().expect("8 bytes"));
    (head % u64::from(count)) as u32
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let usage = || format!("`{text}` is not K/N with 1 <= K <= N (e.g. 2/3)");
        let (k, n) = text.split_once('/').ok_or_else(usage)?;
        let index: u32 = k.trim().parse().map_err(|_| usage())?;
        let count: u32 = n.trim().parse().map_err(|_| usage())?;
        if index == 0 || count == 0 || index > count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn parses_k_of_n_and_refuses_the_rest() {
        assert_eq!("2/3".parse(), Ok(Shard { index: 2, count: 3 }));
        assert_eq!("1/1".parse(), Ok(Shard { index: 1, count: 1 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_source_is_in_exactly_one_part_and_stays_there() {
        let paths: Vec<PathBuf> = (0..3000)
            .map(|i| PathBuf::from(format!("c{}/p{i}.jpg", i % 7)))
            .collect();
        let parts =
            |n: u32| -> Vec<Shard> { (1..=n).map(|index| Shard { index, count: n }).collect() };
        let mut sizes = [0usize; 3];
        for path in &paths {
            let owners: Vec<Shard> = parts(3).into_iter().filter(|s| s.contains(path)).collect();
            assert_eq!(owners.len(), 1, "{}", path.display());
            sizes[owners[0].index as usize - 1] += 1;
        }
        // A stable hash spreads evenly: each part within 10% of a third.
        for size in sizes {
            assert!((900..=1100).contains(&size), "{sizes:?}");
        }
        // Membership depends on the path alone, not on what else is there.
        assert_eq!(
            part_of(Path::new("c1/p8.jpg"), 3),
            part_of(Path::new("c1/p8.jpg"), 3)
        );
        // Pinned, so that a change of the partition is deliberate (it would
        // move every photo to another CI job, whose cache is then cold).
        let pinned: Vec<u32> = ["a.jpg", "shoes/red.png", "x/y/z.webp"]
            .iter()
            .map(|p| part_of(Path::new(p), 4))
            .collect();
        assert_eq!(pinned, PINNED);
    }

    const PINNED: [u32; 3] = [2, 0, 2];
}
