//! Reading JSON as AWS hands it over: CloudFormation sends every property
//! as a string, a hand-written template or an RDS secret may give a number
//! instead. Read here once for the custom resource's properties
//! ([`crate::props`]) and anything else of that shape (an RDS secret's
//! `port` is one: [`number_or_string`] reads it as `secrets.rs` does).

use std::fmt::Display;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::Value;

/// A value of `T` given as a JSON number or as a string holding one
/// (trimmed); `None` when absent or null. For `#[serde(deserialize_with)]`
/// on an `Option<T>` field with `#[serde(default)]`.
pub fn number_or_string<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + FromStr,
    T::Err: Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given<T> {
        Number(T),
        Text(String),
    }
    match Option::<Given<T>>::deserialize(d)? {
        None => Ok(None),
        Some(Given::Number(n)) => Ok(Some(n)),
        Some(Given::Text(s)) => s.trim().parse().map(Some).map_err(de::Error::custom),
    }
}

/// A JSON value for a message, cut to a readable length.
pub fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

/// The names a derived `Deserialize` struct accepts, after its renames.
///
/// serde does not expose them, but a derived struct hands them to
/// `Deserializer::deserialize_struct`; this deserializer only catches
/// them. Written here (not a crate) because it is these few lines.
pub fn field_names<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);

    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("only the names were wanted"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    let mut names: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut names));
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize)]
    struct Port {
        #[serde(default, deserialize_with = "number_or_string")]
        port: Option<u16>,
    }

    fn port(v: Value) -> Result<Option<u16>, String> {
        serde_json::from_value::<Port>(v)
            .map(|p| p.port)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_number_or_its_string() {
        assert_eq!(port(json!({"port": 3306})), Ok(Some(3306)));
        assert_eq!(port(json!({"port": " 5432 "})), Ok(Some(5432)));
        assert_eq!(port(json!({"port": null})), Ok(None));
        assert_eq!(port(json!({})), Ok(None));
        assert!(port(json!({"port": "x"})).is_err());
        assert!(port(json!({"port": 70000})).is_err());
    }

    #[test]
    fn the_names_of_a_struct_after_renames() {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        #[allow(dead_code)]
        struct S {
            secret_arn: String,
            #[serde(rename = "X")]
            y: u8,
        }
        assert_eq!(field_names::<S>(), ["SecretArn", "X"]);
    }
}
