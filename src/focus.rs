//! Focal points (`focus = "focus.toml"`): where a `cover` crop with
//! `position = "focus"` centres in each source. The sidecar, which a CMS
//! can write, maps a source's path (relative to `source`) to `[x, y]` in
//! 0–1 of its upright picture:
//!
//! ```toml
//! "shoes/red-runner.jpg" = [0.42, 0.61]
//! ```
//!
//! A source's point is part of the recipe of its `focus` outputs
//! ([`crate::variant::Variant::recipe`]), so editing one point rebuilds
//! exactly that source's outputs that use it.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use rustc_hash::FxBuildHasher;

/// A point of a source's upright picture, in ten-thousandths of its width
/// and height: exact, so that a recipe hashes `0.5` and `0.50` alike on
/// every machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FocalPoint {
    x: u16,
    y: u16,
}

/// The units of a [`FocalPoint`] in one width or height.
const UNITS: f64 = 10_000.0;

impl FocalPoint {
    /// The point at `x`, `y` (fractions of the width and height), if both
    /// are in 0–1.
    pub fn new(x: f64, y: f64) -> Option<FocalPoint> {
        let unit = |v: f64| (0.0..=1.0).contains(&v).then(|| (v * UNITS).round() as u16);
        Some(FocalPoint {
            x: unit(x)?,
            y: unit(y)?,
        })
    }

    /// Across, as a fraction of the width.
    pub fn x(self) -> f64 {
        f64::from(self.x) / UNITS
    }

    /// Down, as a fraction of the height.
    pub fn y(self) -> f64 {
        f64::from(self.y) / UNITS
    }

    /// As the sidecar writes it: `0.42,0.61`.
    pub fn shown(self) -> String {
        format!("{},{}", self.x(), self.y())
    }

    /// What a recipe hashes.
    pub fn bytes(self) -> [u8; 4] {
        let [a, b] = self.x.to_le_bytes();
        let [c, d] = self.y.to_le_bytes();
        [a, b, c, d]
    }
}

/// Every source's focal point, by path relative to the source root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FocalPoints {
    points: HashMap<PathBuf, FocalPoint, FxBuildHasher>,
}

/// An entry of a sidecar that is not a focal point, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPoint {
    /// Where in the text, in bytes.
    pub offset: usize,
    /// What is wrong, and what to write instead.
    pub message: String,
}

impl FocalPoints {
    /// No source has a point.
    pub const NONE: FocalPoints = FocalPoints {
        points: HashMap::with_hasher(FxBuildHasher),
    };

    /// Sources and their points.
    pub fn from_points(points: impl IntoIterator<Item = (PathBuf, FocalPoint)>) -> FocalPoints {
        FocalPoints {
            points: points.into_iter().collect(),
        }
    }

    /// The point of the source at `rel`, if the sidecar gives one.
    pub fn at(&self, rel: &Path) -> Option<FocalPoint> {
        // Asked for every source of every build: without a sidecar, do
        // not hash the path at all.
        if self.points.is_empty() {
            return None;
        }
        self.points.get(rel).copied()
    }

    /// The sources that have a point, in no order.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.points.keys().map(PathBuf::as_path)
    }

    /// How many sources have a point.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether no source has a point.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Read a sidecar: a table of quoted source paths, each `[x, y]`.
    pub fn parse(text: &str) -> Result<FocalPoints, BadPoint> {
        let table: toml::Table = toml::from_str(text).map_err(|e| BadPoint {
            offset: e.span().map_or(0, |s| s.start),
            message: e.message().to_string(),
        })?;
        let mut points = HashMap::default();
        for (key, value) in &table {
            let bad = |message: String| BadPoint {
                offset: offset_of_key(text, key),
                message,
            };
            let rel = relative(key).ok_or_else(|| {
                bad(format!(
                    "\"{key}\" is not a path inside `source`; write it relative to `source`, with /"
                ))
            })?;
            let point = match value {
                toml::Value::Array(xy) if xy.len() == 2 => {
                    let (x, y) = (fraction(&xy[0]), fraction(&xy[1]));
                    x.zip(y).and_then(|(x, y)| FocalPoint::new(x, y))
                }
                toml::Value::Table(_) => {
                    return Err(bad(format!(
                        "\"{key}\" is a table; write each source's whole path as one quoted key: \"{key}/photo.jpg\" = [0.5, 0.4]"
                    )))
                }
                _ => None,
            };
            let point = point.ok_or_else(|| {
                bad(format!(
                    "\"{key}\" must be [x, y] with each in 0–1 (0,0 is the top left of the upright photo), e.g. [0.5, 0.4]"
                ))
            })?;
            points.insert(rel, point);
        }
        Ok(FocalPoints { points })
    }
}

/// A number of the sidecar, integer or float.
fn fraction(value: &toml::Value) -> Option<f64> {
    match value {
        toml::Value::Float(f) => Some(*f),
        toml::Value::Integer(i) => Some(*i as f64),
        _ => None,
    }
}

/// `key` as a source path: relative, inside the source root, `./` and
/// doubled slashes dropped.
fn relative(key: &str) -> Option<PathBuf> {
    let mut rel = PathBuf::new();
    for part in Path::new(key).components() {
        match part {
            Component::Normal(name) => rel.push(name),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!rel.as_os_str().is_empty()).then_some(rel)
}

/// Where `key` is written (its first mention, quoted or bare).
fn offset_of_key(text: &str, key: &str) -> usize {
    let quoted = [format!("\"{key}\""), format!("'{key}'"), key.to_string()];
    let at = quoted.iter().find_map(|k| text.find(k.as_str()));
    at.unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_read_by_path_and_kept_exactly() {
        let text = "\"shoes/red.jpg\" = [0.42, 0.61]\n'./bags//tote.png' = [0, 1]\n\"a.jpg\" = [0.5, 0.50]\n";
        let points = FocalPoints::parse(text).unwrap();
        assert_eq!(points.len(), 3);
        let red = points.at(Path::new("shoes/red.jpg")).unwrap();
        assert_eq!((red.x(), red.y()), (0.42, 0.61));
        assert_eq!(red.shown(), "0.42,0.61");
        assert_eq!(
            points.at(Path::new("bags/tote.png")),
            FocalPoint::new(0.0, 1.0)
        );
        assert_eq!(points.at(Path::new("a.jpg")), FocalPoint::new(0.5, 0.5));
        assert_eq!(points.at(Path::new("other.jpg")), None);
        assert_ne!(
            FocalPoint::new(0.5, 0.5).unwrap().bytes(),
            FocalPoint::new(0.5, 0.5001).unwrap().bytes()
        );
    }

    #[test]
    fn a_bad_point_names_its_line_and_what_to_write() {
        for (text, line, says) in [
            (
                "\"a.jpg\" = [0.5, 0.5]\n\"b.jpg\" = [1.5, 0.5]\n",
                2,
                "each in 0–1",
            ),
            ("\"a.jpg\" = [0.5]\n", 1, "[x, y]"),
            ("\"a.jpg\" = \"middle\"\n", 1, "[x, y]"),
            ("\n\"../up.jpg\" = [0.5, 0.5]\n", 2, "inside `source`"),
            ("[shoes]\n\"red.jpg\" = [0.5, 0.5]\n", 1, "one quoted key"),
        ] {
            let bad = FocalPoints::parse(text).unwrap_err();
            let at = text[..bad.offset].matches('\n').count() + 1;
            assert_eq!(at, line, "{text:?}: {bad:?}");
            assert!(bad.message.contains(says), "{text:?}: {bad:?}");
        }
        assert!(FocalPoints::parse("\"a.jpg\" = [0.5,\n").is_err());
    }
}
