use super::*;

fn text(value: Value) -> String {
    match value {
        Value::Text(text) => text,
        other => panic!("{other:?}"),
    }
}

#[test]
fn numbers_keep_their_digits_and_lose_only_float_noise() {
    for (n, expected) in [
        (13800138000.0, "13800138000"),
        (1062345678.0, "1062345678"),
        (-5.0, "-5"),
        (123.5, "123.5"),
        (0.1 + 0.2, "0.3"),
        (1.0 / 3.0, "0.333333333333333"),
        (0.000001, "0.000001"),
        (999_999_999_999_999.0, "999999999999999"),
    ] {
        assert_eq!(text(number(n)), expected, "{n}");
    }
    assert_eq!(
        number(12345678901234567.0),
        Value::TooManyDigits("12345678901234600".into())
    );
    assert_eq!(
        number(-12345678901234567.0),
        Value::TooManyDigits("-12345678901234600".into())
    );
    assert_eq!(
        number(110101199003078888.0),
        Value::TooManyDigits("110101199003079000".into())
    );
}

#[test]
fn dates_and_times_read_as_people_write_them() {
    let serial = |value, kind| ExcelDateTime::new(value, kind, false);
    let date_time = calamine::ExcelDateTimeType::DateTime;
    let duration = calamine::ExcelDateTimeType::TimeDelta;
    assert_eq!(serial_text(&serial(46357.0, date_time)), "2026-12-01");
    assert_eq!(
        serial_text(&serial(46358.586909722224, date_time)),
        "2026-12-02 14:05:09"
    );
    assert_eq!(serial_text(&serial(0.3958333333333333, date_time)), "09:30");
    assert_eq!(
        serial_text(&serial(0.7500578703703704, date_time)),
        "18:00:05"
    );
    assert_eq!(serial_text(&serial(1.0625, duration)), "25:30");
    assert_eq!(iso_date_time("2026-12-01"), "2026-12-01");
    assert_eq!(iso_date_time("2026-12-02T14:05:09"), "2026-12-02 14:05:09");
    assert_eq!(iso_date_time("2026-12-02T00:00:00"), "2026-12-02");
    assert_eq!(
        iso_date_time("2026-12-02T14:05:09.250"),
        "2026-12-02 14:05:09"
    );
    assert_eq!(iso_duration("PT09H30M00S"), "09:30");
    assert_eq!(iso_duration("PT18H00M05S"), "18:00:05");
    assert_eq!(iso_duration("P1DT01H30M00S"), "25:30");
    assert_eq!(iso_duration("soon"), "soon");
}

#[test]
fn columns_are_named_by_letters() {
    let names: Vec<String> = [0, 1, 25, 26, 27, 51, 52, 701, 702, 16_383]
        .into_iter()
        .map(column_letters)
        .collect();
    assert_eq!(
        names,
        ["A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA", "XFD"]
    );
}

#[test]
fn a_sheet_is_picked_by_name_or_number() {
    let sheets = vec!["说明".to_string(), "名单".to_string()];
    let pick_name = |name: &str| pick(&sheets, Some(&Sheet::Name(name.into())));
    assert_eq!(pick(&sheets, None).unwrap(), "说明");
    assert_eq!(pick(&sheets, Some(&Sheet::Number(2))).unwrap(), "名单");
    assert_eq!(pick_name("名单").unwrap(), "名单");
    assert_eq!(pick_name(" 名单 ").unwrap(), "名单");
    let missing = pick_name("Sheet1").unwrap_err().to_string();
    assert_eq!(
        missing,
        "the workbook has no sheet \"Sheet1\" (the `sheet` setting); its sheets are \"说明\", \"名单\""
    );
    let missing = pick(&sheets, Some(&Sheet::Number(3)))
        .unwrap_err()
        .to_string();
    assert!(
        missing.starts_with("the workbook has no sheet 3 "),
        "{missing}"
    );
}
