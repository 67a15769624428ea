//! The keys a config table accepts, read from the serde struct that
//! parses it, so the "did you mean" suggestions can never disagree with
//! what is accepted.
//!
//! serde's derive hands a struct's field names to the deserializer it is
//! given (`deserialize_struct`); this deserializer keeps them and
//! deserializes nothing.

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// The field names of `T` (a struct that derives `Deserialize`), as the
/// config file spells them.
pub(super) fn of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields = None;
    let _ = T::deserialize(FieldNames(&mut fields));
    fields.unwrap_or(&[])
}

/// A deserializer that only records the fields it is asked for.
struct FieldNames<'a>(&'a mut Option<&'static [&'static str]>);

/// Why the deserializer stops: it has the names, and there is no value.
#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field names only")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<M: std::fmt::Display>(_: M) -> Stop {
        Stop
    }
}

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = Stop;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Stop> {
        *self.0 = Some(fields);
        Err(Stop)
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        #[serde(rename = "max_size")]
        size: Option<u32>,
    }

    #[test]
    fn the_names_are_the_ones_the_file_uses() {
        assert_eq!(of::<Sample>(), ["name", "max_size"]);
        assert_eq!(of::<u32>(), [] as [&str; 0], "not a struct");
    }
}
