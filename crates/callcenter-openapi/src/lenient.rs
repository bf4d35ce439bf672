//! Lenient decoding of the vendor's loose JSON: every scalar may arrive as a number or a
//! string, error codes as decimal numbers, decimal strings or `0x` strings, a `result` as
//! an object or `""`, and almost anything as `null`.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// A scalar of any JSON type, as text: numbers keep their shortest decimal form (`0.06`),
/// `null` and absent become `""`.
pub fn string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    deserializer.deserialize_any(ScalarText)
}

/// Like [`string`], for fields that may be missing: absent and `null` become `None`.
pub fn optional_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(Some(deserializer.deserialize_any(ScalarText)?).filter(|s| !s.is_empty()))
}

/// A count or number given as a number or a decimal string; `""`/`null` become `None`.
pub fn optional_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let text = deserializer.deserialize_any(ScalarText)?;
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| de::Error::custom(format!("expected a whole number, found {text:?}")))
}

/// Parses an error code written as a decimal number, a decimal string or a `0x` string.
/// An empty code (`""`, as the document's format samples show it) means success.
pub fn parse_error_code(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() {
        return Some(0);
    }
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// An error code in any of the vendor's three forms.
pub fn error_code<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let text = deserializer.deserialize_any(ScalarText)?;
    parse_error_code(&text)
        .ok_or_else(|| de::Error::custom(format!("unreadable error code {text:?}")))
}

/// A `result` that is an object, or `""`/`null`/absent, which mean "no result given".
/// Decoded in one pass, nothing buffered: a `data` block carries every command's response.
pub fn optional_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    deserializer.deserialize_any(ObjectOrBlank(PhantomData))
}

struct ObjectOrBlank<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectOrBlank<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object, \"\" or null")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Option<T>, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, items: A) -> Result<Option<T>, A::Error> {
        T::deserialize(de::value::SeqAccessDeserializer::new(items)).map(Some)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Option<T>, E> {
        if text.trim().is_empty() {
            Ok(None)
        } else {
            Err(E::custom(format!("expected an object, found {text:?}")))
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<T>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

struct ScalarText;

impl<'de> Visitor<'de> for ScalarText {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, a number, a boolean or null")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Ok(String::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<String, E> {
        Ok(String::new())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct Sample {
        #[serde(default, deserialize_with = "string")]
        text: String,
        #[serde(default, deserialize_with = "optional_u64")]
        count: Option<u64>,
        #[serde(default, deserialize_with = "error_code")]
        error: u64,
    }

    fn sample(json: &str) -> Sample {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn scalars_decode_from_either_form() {
        assert_eq!(sample(r#"{"text": 0.06}"#).text, "0.06");
        assert_eq!(sample(r#"{"text": "0.06"}"#).text, "0.06");
        assert_eq!(sample(r#"{"text": 2}"#).text, "2");
        assert_eq!(sample(r#"{"text": null}"#).text, "");
        assert_eq!(sample(r#"{}"#).text, "");
        assert_eq!(sample(r#"{"count": 2}"#).count, Some(2));
        assert_eq!(sample(r#"{"count": "2"}"#).count, Some(2));
        assert_eq!(sample(r#"{"count": ""}"#).count, None);
        assert!(serde_json::from_str::<Sample>(r#"{"count": "two"}"#).is_err());
    }

    #[test]
    fn error_codes_decode_from_all_three_forms() {
        for json in [
            r#"{"error": 4043309064}"#,
            r#"{"error": "4043309064"}"#,
            r#"{"error": "0xF1000008"}"#,
            r#"{"error": "0xf1000008"}"#,
        ] {
            assert_eq!(sample(json).error, 0xF100_0008, "{json}");
        }
        assert_eq!(sample(r#"{"error": 0}"#).error, 0);
        assert_eq!(sample(r#"{"error": "0"}"#).error, 0);
        assert_eq!(sample(r#"{"error": ""}"#).error, 0);
        assert!(serde_json::from_str::<Sample>(r#"{"error": "oops"}"#).is_err());
    }
}
