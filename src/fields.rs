//! How the store keeps a row's original fields (and a campaign's header): a JSON array of
//! strings, written by intake at the import and read back into a record when dispatch
//! dials the row and when the reports write it out.

use std::fmt;

use csv::StringRecord;
use serde::de::{DeserializeSeed, Deserializer, SeqAccess, Visitor};

/// `fields` as the store keeps them.
pub fn to_json<'a>(fields: impl Iterator<Item = &'a str>) -> String {
    serde_json::to_string(&fields.collect::<Vec<_>>()).expect("strings serialize")
}

/// Stored fields back as a record, each field copied once, straight into the record.
pub fn from_json(json: &str) -> serde_json::Result<StringRecord> {
    let mut record = StringRecord::new();
    read_json(json.as_bytes(), &mut record)?;
    Ok(record)
}

/// Stored fields into `record`, which is cleared first: a loop over many rows reuses one
/// record and allocates nothing once it has grown to the longest row.
pub fn read_json(json: &[u8], record: &mut StringRecord) -> serde_json::Result<()> {
    record.clear();
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    deserializer.deserialize_seq(Fields(record))?;
    deserializer.end()
}

/// Reads an array of strings onto the end of a record.
struct Fields<'r>(&'r mut StringRecord);

impl<'de> Visitor<'de> for Fields<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of strings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        while items.next_element_seed(Field(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// Reads one string onto the end of a record.
struct Field<'r>(&'r mut StringRecord);

impl<'de> DeserializeSeed<'de> for Field<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Field<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E>(self, field: &str) -> Result<(), E> {
        self.0.push_field(field);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_come_back_as_they_were_written() {
        let fields = [
            "客户1",
            "13800000001",
            "",
            "say \"hi\"\n",
            "a\\b",
            "\u{1F600}",
        ];
        let json = to_json(fields.iter().copied());
        let record = from_json(&json).unwrap();
        assert_eq!(record.iter().collect::<Vec<_>>(), fields);
    }

    #[test]
    fn anything_but_an_array_of_strings_is_refused() {
        for bad in ["", "{}", "[1]", "[\"a\"] x", "[\"a\"", "\"a\""] {
            assert!(from_json(bad).is_err(), "{bad:?}");
        }
        assert_eq!(from_json("[]").unwrap().len(), 0);
    }
}
