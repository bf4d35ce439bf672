use proptest::prelude::*;

use super::*;

fn cn(cell: &str) -> Result<String, NumberError> {
    normalise(cell, NumberPolicy::Cn)
}

#[test]
fn the_forms_people_type_become_the_same_digits() {
    for cell in [
        "13800138000",
        " 138 0013 8000 ",
        "138-0013-8000",
        "(138)00138000",
        "+86 138 0013 8000",
        "+8613800138000",
        "008613800138000",
        "8613800138000",
        "１３８００１３８０００",
        "＋８６　１３８－００１３－８０００",
        "'13800138000",
    ] {
        assert_eq!(cn(cell).as_deref(), Ok("13800138000"), "{cell:?}");
    }
}

#[test]
fn landlines_and_service_numbers() {
    for (cell, want) in [
        ("010-12345678", "01012345678"),
        ("(0755) 8765 4321", "075587654321"),
        ("0571-8888888", "05718888888"),
        ("+86 10 1234 5678", "01012345678"),
        ("+86 755 87654321", "075587654321"),
        ("0086 21 12345678", "02112345678"),
        ("400-810-8888", "4008108888"),
        ("800 820 8820", "8008208820"),
        ("+86 400 810 8888", "4008108888"),
    ] {
        assert_eq!(cn(cell).as_deref(), Ok(want), "{cell:?}");
    }
}

#[test]
fn bad_numbers_say_why() {
    for (cell, why) in [
        ("", "is empty"),
        ("   ", "is empty"),
        ("abc", "not digits"),
        ("1380013800", "has 10 digits; a mobile number has 11"),
        ("138001380001", "has 12 digits; a mobile number has 11"),
        ("12800138000", "second digit must be 3 to 9"),
        ("01012", "a landline with its area code has 10 to 12"),
        ("0012345678901", "does not start with 0"),
        ("4008108", "a 400/800 number has 10"),
        ("+1 415 555 0100", "country code other than +86"),
        ("5551234", "not a Chinese number"),
        (
            "1062345678",
            "looks like the landline 01062345678 without its leading 0",
        ),
        (
            "2166666666",
            "looks like the landline 02166666666 without its leading 0",
        ),
        (
            "75587654321",
            "looks like the landline 075587654321 without its leading 0",
        ),
        ("-", "holds no digits"),
        ("13800138000.0", "not digits"),
        ("021-6666666/7", "not digits"),
        ("0755-8888888.1", "not digits"),
    ] {
        let err = cn(cell).unwrap_err();
        assert!(err.to_string().contains(why), "{cell:?}: {err}");
    }
}

#[test]
fn excel_scientific_notation_is_named() {
    for cell in ["1.38001E+10", "1.38E10", "1E+10", "1.38001e+10"] {
        assert_eq!(
            cn(cell),
            Err(NumberError::ScientificNotation(cell.into())),
            "{cell:?}"
        );
        assert!(
            cn(cell)
                .unwrap_err()
                .to_string()
                .contains("format the column as text")
        );
    }
    assert!(matches!(cn("E10"), Err(NumberError::Invalid { .. })));
}

#[test]
fn any_accepts_5_to_20_digits_and_drops_only_the_chinese_country_code() {
    let any = |cell: &str| normalise(cell, NumberPolicy::Any);
    assert_eq!(any("12345").as_deref(), Ok("12345"));
    assert_eq!(any("+1 415 555 0100").as_deref(), Ok("14155550100"));
    assert_eq!(any("+86 138 0013 8000").as_deref(), Ok("13800138000"));
    assert_eq!(any("8613800138000").as_deref(), Ok("8613800138000"));
    assert!(any("1234").is_err());
    assert!(any("123456789012345678901").is_err());
    assert!(matches!(
        any("1.5E+12"),
        Err(NumberError::ScientificNotation(_))
    ));
}

fn mobile() -> impl Strategy<Value = String> {
    (3u8..=9, 0u64..1_000_000_000).prop_map(|(second, rest)| format!("1{second}{rest:09}"))
}

/// A way of writing `digits` that a spreadsheet or a person might use.
fn dressed(digits: String) -> impl Strategy<Value = (String, String)> {
    let plain = digits.clone();
    (
        prop::sample::select(vec!["", "+86", "+86 ", "0086", "86"]),
        prop::collection::vec(prop::sample::select(vec!["", " ", "-", "\u{3000}"]), 11),
        any::<bool>(),
    )
        .prop_map(move |(prefix, separators, wide)| {
            let mut cell = prefix.to_string();
            for (c, sep) in plain.chars().zip(&separators) {
                cell.push(if wide {
                    char::from_u32(c as u32 - '0' as u32 + 0xff10).unwrap()
                } else {
                    c
                });
                cell.push_str(sep);
            }
            (cell, plain.clone())
        })
}

proptest! {
    #[test]
    fn every_dressing_of_a_mobile_normalises_back(
        (cell, digits) in mobile().prop_flat_map(dressed)
    ) {
        prop_assert_eq!(cn(&cell), Ok(digits));
    }

    #[test]
    fn normalising_is_idempotent(cell in "[+0-9０-９ ()\\-]{0,24}") {
        for policy in [NumberPolicy::Cn, NumberPolicy::Any] {
            if let Ok(once) = normalise(&cell, policy) {
                prop_assert_eq!(normalise(&once, policy), Ok(once.clone()));
                prop_assert!(once.bytes().all(|b| b.is_ascii_digit()));
            }
        }
    }

    #[test]
    fn any_cell_gets_an_answer_without_panicking(cell in "\\PC{0,40}") {
        let _ = cn(&cell);
        let _ = normalise(&cell, NumberPolicy::Any);
    }
}
