use std::collections::BTreeMap;

use jiff::civil::date;

use super::*;

/// Every day the data files list, read here with no help from the code under test: the
/// date, whether it is off, and the name, from the files of 2019 to 2027.
fn listed_in_the_files() -> BTreeMap<Date, (bool, String)> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/holiday-cn");
    let mut listed = BTreeMap::new();
    for year in 2019..=2027 {
        let text = std::fs::read_to_string(folder.join(format!("{year}.json"))).unwrap();
        let file: serde_json::Value = serde_json::from_str(&text).unwrap();
        for day in file["days"].as_array().unwrap() {
            let date: Date = day["date"].as_str().unwrap().parse().unwrap();
            let off = day["isOffDay"].as_bool().unwrap();
            listed.insert(date, (off, day["name"].as_str().unwrap().to_string()));
        }
    }
    listed
}

#[test]
fn every_day_of_2019_to_2026_is_what_the_data_says() {
    let calendar = Calendar::built_in();
    let listed = listed_in_the_files();
    let mut day = date(2019, 1, 1);
    let (mut holidays, mut make_up) = (0, 0);
    while day <= date(2026, 12, 31) {
        let expected = match listed.get(&day) {
            Some((true, name)) => {
                holidays += 1;
                Day::Holiday(name.clone())
            }
            Some((false, name)) => {
                make_up += 1;
                Day::MakeUpWorkday(name.clone())
            }
            None if day.weekday().to_monday_one_offset() >= 6 => Day::Weekend,
            None => Day::Workday,
        };
        assert_eq!(calendar.day(day), expected, "{day}");
        day = day.tomorrow().unwrap();
    }
    // The files list about 28 days off and 6 make-up days a year.
    assert!(holidays > 8 * 20 && make_up > 8 * 3, "{holidays} {make_up}");
}

#[test]
fn national_day_2026_and_its_make_up_saturday() {
    let calendar = Calendar::built_in();
    assert_eq!(calendar.day(date(2026, 9, 30)), Day::Workday);
    for day in 1..=7 {
        assert_eq!(
            calendar.day(date(2026, 10, day)),
            Day::Holiday("国庆节".into()),
            "10-{day}"
        );
    }
    assert_eq!(calendar.day(date(2026, 10, 8)), Day::Workday);
    assert_eq!(calendar.day(date(2026, 10, 9)), Day::Workday);
    assert_eq!(
        calendar.day(date(2026, 10, 10)),
        Day::MakeUpWorkday("国庆节".into())
    );
    assert_eq!(calendar.day(date(2026, 10, 11)), Day::Weekend);
}

#[test]
fn a_notice_reaches_into_the_december_before() {
    let calendar = Calendar::built_in();
    // 元旦 2019: Saturday 2018-12-29 was a workday, and the 30th and 31st days off, by
    // the 2019 notice; 2018's own notice is not built in.
    assert_eq!(
        calendar.day(date(2018, 12, 29)),
        Day::MakeUpWorkday("元旦".into())
    );
    assert_eq!(
        calendar.day(date(2018, 12, 31)),
        Day::Holiday("元旦".into())
    );
    assert_eq!(calendar.day(date(2018, 12, 28)), Day::Unknown);
    // 元旦 2023 began on Saturday 2022-12-31, by the 2023 notice.
    assert_eq!(
        calendar.day(date(2022, 12, 31)),
        Day::Holiday("元旦".into())
    );
}

#[test]
fn a_year_without_a_notice_is_unknown_and_december_says_so() {
    let calendar = Calendar::built_in();
    // 2027's file lists no day: its schedule was not published when the data was copied.
    assert!(!calendar.knows(2027));
    assert!(calendar.knows(2026));
    assert_eq!(calendar.day(date(2027, 3, 1)), Day::Unknown);
    assert_eq!(calendar.day(date(2027, 3, 1)).is_workday(), None);
    assert_eq!(calendar.day(date(2030, 1, 1)), Day::Unknown);
    assert_eq!(calendar.missing_year(date(2026, 11, 30)), None);
    assert_eq!(calendar.missing_year(date(2026, 12, 1)), Some(2027));
    assert_eq!(calendar.missing_year(date(2025, 12, 1)), None);
    // A year under way that the calendar does not know is warned about all year.
    assert_eq!(calendar.missing_year(date(2027, 5, 1)), Some(2027));
    assert_eq!(calendar.warning(date(2026, 11, 30)), None);
    let warning = calendar.warning(date(2026, 12, 1)).unwrap();
    assert!(
        warning.contains("2027") && warning.contains("unknown_year = \"wait\""),
        "{warning}"
    );
    assert_eq!(calendar.known_years(), (2019..=2026).collect::<Vec<_>>());
}

#[test]
fn a_file_in_the_folder_replaces_its_year_and_a_bad_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("2027.json"),
        r#"{"year": 2027, "papers": [], "days": [
            {"name": "元旦", "date": "2027-01-01", "isOffDay": true},
            {"name": "春节", "date": "2027-02-20", "isOffDay": false}]}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a calendar").unwrap();
    let calendar = Calendar::with_dir(dir.path()).unwrap();
    assert!(calendar.knows(2027));
    assert_eq!(calendar.day(date(2027, 1, 1)), Day::Holiday("元旦".into()));
    assert_eq!(
        calendar.day(date(2027, 2, 20)),
        Day::MakeUpWorkday("春节".into())
    );
    assert_eq!(calendar.day(date(2027, 3, 1)), Day::Workday);
    assert_eq!(calendar.day(date(2027, 3, 6)), Day::Weekend);
    // A year's file replaces the built-in one whole: 2026 with only National Day.
    std::fs::write(
        dir.path().join("2026.json"),
        r#"{"year": 2026, "days": [{"name": "国庆节", "date": "2026-10-01", "isOffDay": true}]}"#,
    )
    .unwrap();
    let calendar = Calendar::with_dir(dir.path()).unwrap();
    assert_eq!(calendar.day(date(2026, 1, 1)), Day::Workday);

    for (text, says) in [
        (r#"{"year": 2025, "days": []}"#, "not 2028"),
        (
            r#"{"year": 2028, "days": [{"name": "x", "date": "2028-02-30", "isOffDay": true}]}"#,
            "not a date",
        ),
        ("{", "EOF"),
    ] {
        std::fs::write(dir.path().join("2028.json"), text).unwrap();
        let error = Calendar::with_dir(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("2028.json") && error.contains(says),
            "{error}"
        );
    }
}
