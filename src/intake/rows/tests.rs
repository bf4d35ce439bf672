use proptest::prelude::*;

use super::*;
use crate::columns::Columns;

fn columns(header: &[&str]) -> Columns {
    Columns::from_header(&csv::StringRecord::from(header.to_vec())).unwrap()
}

fn rules(template: &str) -> Rules {
    Rules {
        numbers: NumberPolicy::Cn,
        template: Some(Template::parse(template).unwrap()),
        max_text_chars: 20,
        do_not_call: DoNotCall::parse(
            "13900000000\n# ops list\n\n+86 137 0000 0000\n",
            NumberPolicy::Cn,
        )
        .unwrap(),
    }
}

fn verdict(rules: &Rules, fields: &[&str]) -> Verdict {
    let columns = columns(&[
        "手机号",
        "变量1",
        "v2",
        "caller",
        "cycle_play_times",
        "备注",
    ]);
    check_row(rules, &columns, &csv::StringRecord::from(fields.to_vec()))
}

fn reason(v: &Verdict) -> Option<(SkipReason, &str)> {
    match v {
        Verdict::Skip(s) => Some((s.reason, s.detail.as_str())),
        Verdict::Good(_) => None,
    }
}

#[test]
fn a_good_row_is_normalised_and_rendered() {
    let r = rules("{1}您好，{2}到了");
    assert_eq!(
        verdict(&r, &["138-0013-8000", "张三", "快递", "", " 3 ", "x"]),
        Verdict::Good(GoodRow {
            callee: "13800138000".into(),
            text: Some("张三您好，快递到了".into()),
            caller: None,
            cycle_play_times: Some(3),
        })
    );
}

#[test]
fn each_problem_has_its_reason() {
    let r = rules("{1}您好，{2}到了");
    for (fields, want, detail) in [
        (
            &["13800138000", "a"][..],
            SkipReason::FieldCount,
            "2 fields; the header has 6",
        ),
        (
            &["1380013800", "a", "b", "", "", ""],
            SkipReason::BadNumber,
            "has 10 digits",
        ),
        (
            &["1.38001E+10", "a", "b", "", "", ""],
            SkipReason::ScientificNotation,
            "format the column as text",
        ),
        (
            &["13900000000", "a", "b", "", "", ""],
            SkipReason::DoNotCall,
            "13900000000 is on the do-not-call list",
        ),
        (
            &["13700000000", "a", "b", "", "", ""],
            SkipReason::DoNotCall,
            "do-not-call",
        ),
        (
            &["13800138000", "a", " ", "", "", ""],
            SkipReason::MissingVariable,
            "variable {2} (column \"v2\") is empty",
        ),
        (
            &[
                "13800138000",
                "一二三四五六七八九十一二三四五六七八九十",
                "b",
                "",
                "",
                "",
            ],
            SkipReason::TextTooLong,
            "the text has 26 characters; the limit is 20",
        ),
        (
            &["13800138000", "a", "b", "abc", "", ""],
            SkipReason::BadField,
            "caller \"abc\"",
        ),
        (
            &["13800138000", "a", "b", "", "11", ""],
            SkipReason::BadField,
            "cycle_play_times \"11\"",
        ),
    ] {
        let v = verdict(&r, fields);
        let (got, text) = reason(&v).unwrap_or_else(|| panic!("{fields:?} passed"));
        assert_eq!(got, want, "{fields:?}");
        assert!(text.contains(detail), "{fields:?}: {text}");
    }
}

#[test]
fn without_a_template_rows_are_checked_but_not_rendered() {
    let mut r = rules("{1}");
    r.template = None;
    match verdict(&r, &["13800138000", "", "", "", "", ""]) {
        Verdict::Good(g) => assert_eq!(g.text, None),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_do_not_call_list_takes_csv_rows_and_refuses_a_bad_line() {
    let list = DoNotCall::parse(
        "phone,name\n139-0000-0000,张三\n\"13700000000\";李四 # moved\n",
        NumberPolicy::Cn,
    )
    .unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.contains("13900000000") && list.contains("13700000000"));
    let err =
        DoNotCall::parse("13900000000\nnot a number\n1.39E+10\n", NumberPolicy::Cn).unwrap_err();
    assert!(err.starts_with("line 2: "), "{err}");
}

#[test]
fn duplicates_name_the_first_line_and_move_out_of_good() {
    let mut d = Deduplicator::with_capacity(4);
    let long = "12345678901234567890";
    for (n, (number, line)) in [
        ("13800138000", 2),
        (long, 3),
        ("13800138000", 5),
        (long, 6),
        ("13800138000", 9),
    ]
    .into_iter()
    .enumerate()
    {
        d.add(number, n as u32, line);
    }
    let found = d.finish();
    let described: Vec<(u64, u64)> = found.iter().map(|d| (d.line, d.first_line)).collect();
    assert_eq!(described, vec![(5, 2), (6, 3), (9, 2)]);

    let mut tally = Tally::default();
    for line in 2..=40 {
        let v = if line % 2 == 0 {
            Verdict::Good(GoodRow {
                callee: format!("138{line:08}"),
                text: None,
                caller: None,
                cycle_play_times: None,
            })
        } else {
            skip(SkipReason::BadNumber, "x")
        };
        tally.count(line, &v);
    }
    // The good rows on lines 12 to 40 repeat the numbers of earlier ones.
    let dups: Vec<Duplicate> = (6..=20)
        .map(|i| Duplicate {
            ordinal: i,
            line: 2 * i,
            first_line: 2,
        })
        .collect();
    tally.duplicates(&dups);
    assert_eq!((tally.rows, tally.good), (39, 5));
    assert_eq!(tally.skipped[&SkipReason::Duplicate], 15);
    assert_eq!(tally.skipped[&SkipReason::BadNumber], 19);
    assert_eq!(tally.skipped_total(), 34);
    let listed: Vec<u64> = tally.skipped_rows.iter().map(|s| s.line).collect();
    assert_eq!(
        listed,
        vec![
            3, 5, 7, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26
        ]
    );
}

#[test]
fn samples_skip_repeats_and_rejection_needs_a_good_row() {
    let mut tally = Tally::default();
    assert_eq!(
        tally.rejection().unwrap(),
        "the file has a header but no rows"
    );
    let good = |callee: &str| {
        Verdict::Good(GoodRow {
            callee: callee.into(),
            text: None,
            caller: None,
            cycle_play_times: None,
        })
    };
    tally.count(2, &skip(SkipReason::BadNumber, "x"));
    assert!(
        tally
            .rejection()
            .unwrap()
            .starts_with("no usable row: all 1 rows")
    );
    for (line, callee) in [
        (3, "a"),
        (4, "a"),
        (5, "b"),
        (6, "c"),
        (7, "d"),
        (8, "e"),
        (9, "f"),
    ] {
        tally.count(line, &good(callee));
    }
    let lines: Vec<u64> = tally.samples.iter().map(|s| s.line).collect();
    assert_eq!(lines, vec![3, 5, 6, 7, 8]);
    assert_eq!(tally.rejection(), None);
}

proptest! {
    #[test]
    fn a_rendered_row_holds_its_values_in_template_order(
        values in prop::collection::vec("[^{}@\\s][^{}@]{0,8}", 10),
        order in Just((1u8..=10).collect::<Vec<_>>()).prop_shuffle(),
        glue in "[a-z，。 ]{0,3}",
    ) {
        let text: String = order.iter().map(|n| format!("{{{n}}}{glue}")).collect();
        let template = Template::parse(&text).unwrap();
        let rendered = template.render(|n| values.get(usize::from(n) - 1).map(String::as_str)).unwrap();
        let want: String = order.iter().map(|&n| format!("{}{glue}", values[usize::from(n) - 1])).collect();
        prop_assert_eq!(rendered, want);
    }

    #[test]
    fn a_template_names_exactly_the_variables_it_uses(used in prop::collection::btree_set(1u8..=10, 1..=10)) {
        let text: String = used.iter().map(|n| format!("第{n}项{{{n}}}；")).collect();
        let template = Template::parse(&text).unwrap();
        prop_assert_eq!(template.variables(), used.clone());
        prop_assert_eq!(template.to_string(), text);
        let missing = *used.iter().next_back().unwrap();
        prop_assert_eq!(template.render(|n| (n != missing).then_some("x")), Err(missing));
    }

    #[test]
    fn fixed_text_with_a_forbidden_character_is_refused(prefix in "[a-z]{0,5}", bad in "[{}@]", suffix in "[a-z]{0,5}") {
        let text = format!("{prefix}{bad}{suffix}");
        let err = Template::parse(&text).unwrap_err();
        prop_assert_eq!(err.at, prefix.chars().count() + 1);
    }
}
