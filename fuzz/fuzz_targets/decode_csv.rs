//! Fuzzes the CSV call-list decoding: `decode::scan` then `list::read` over arbitrary
//! bytes, with invariants that must hold for any input checked against an independent
//! re-computation from the rows the sink sees.
//!
//! Input layout: the first byte chooses the rules, the rest is the file.
//! - bit 0: number policy (0 = `cn`, 1 = `any`)
//! - bits 1-2: template (0 = none, 1 = `{1}您好，{2}`, 2 = `{1}`, 3 = `尊敬的客户您好`)
//! - bit 3: a small do-not-call list
//! - bits 4-7: `max_text_chars` (0 = 1, else n * 40)

#![no_main]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use voicecast::config::NumberPolicy;
use voicecast::domain::SkipReason;
use voicecast::intake::{decode, list};
use voicecast::layout::ListFormat;
use voicecast::intake::rows::{DoNotCall, LISTED_SKIPS, Rules, SAMPLES, Verdict};
use callcenter_openapi::template::Template;

const TEMPLATES: [Option<&str>; 4] = [
    None,
    Some("{1}您好，{2}"),
    Some("{1}"),
    Some("尊敬的客户您好"),
];

/// What the sink saw of one row.
struct Seen {
    ordinal: u64,
    line: u64,
    /// `Ok(callee)` for a good row, `Err((reason, detail))` for a skipped one.
    verdict: Result<String, (SkipReason, String)>,
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, file)) = data.split_first() else {
        return;
    };
    let numbers = if flags & 1 == 0 {
        NumberPolicy::Cn
    } else {
        NumberPolicy::Any
    };
    let template = TEMPLATES[usize::from((flags >> 1) & 3)]
        .map(|t| Template::parse(t).expect("the fuzz templates parse"));
    let do_not_call = if flags & 8 != 0 {
        DoNotCall::parse("13800138000\n+86 139 0000 0000\n# comment\n", numbers).expect("a clean list")
    } else {
        DoNotCall::default()
    };
    let max_text_chars = match flags >> 4 {
        0 => 1,
        n => usize::from(n) * 40,
    };
    let rules = Rules {
        numbers,
        template,
        max_text_chars,
        do_not_call,
    };

    let mut cursor = Cursor::new(file.to_vec());
    let facts = match decode::scan(&mut cursor) {
        Ok(facts) => facts,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(
        facts.bytes,
        file.len() as u64,
        "facts.bytes is the file's length"
    );
    assert_eq!(facts.hash.len(), 64);
    // The scan is deterministic.
    let again = decode::scan(&mut Cursor::new(file.to_vec())).expect("a second scan succeeds");
    assert_eq!(again, facts);

    let mut seen: Vec<Seen> = Vec::new();
    let result = list::read(
        Cursor::new(file.to_vec()),
        ListFormat::Csv,
        None,
        &rules,
        |row: list::Row<'_>| -> Result<(), std::convert::Infallible> {
            let verdict = match row.verdict {
                Verdict::Good(good) => {
                    assert_eq!(row.record.len(), row.columns.header.len());
                    assert_eq!(good.text.is_some(), rules.template.is_some());
                    if let Some(text) = &good.text {
                        assert!(text.chars().count() <= rules.max_text_chars);
                    }
                    assert!(!good.callee.is_empty());
                    assert!(!rules.do_not_call.contains(&good.callee));
                    Ok(good.callee.clone())
                }
                Verdict::Skip(skip) => {
                    assert_ne!(skip.reason, SkipReason::Duplicate, "duplicates come later");
                    Err((skip.reason, skip.detail.clone()))
                }
            };
            assert!(
                !row.record.iter().all(|f| f.trim().is_empty()),
                "blank rows are not handed on"
            );
            assert!(matches!(
                row.shape,
                list::Shape::Csv {
                    delimiter: b',' | b'\t' | b';',
                    ..
                }
            ));
            seen.push(Seen {
                ordinal: row.ordinal,
                line: row.line,
                verdict,
            });
            Ok(())
        },
    );
    let checked = match result {
        Ok(checked) => checked,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let tally = &checked.tally;
    assert_eq!(checked.hash, facts.hash);

    // Counts.
    assert_eq!(tally.rows, seen.len() as u64, "the sink sees every row");
    assert_eq!(
        tally.rows,
        tally.good + tally.skipped_total(),
        "rows = good + skipped"
    );
    assert!(tally.skipped_rows.len() <= LISTED_SKIPS);
    assert!(tally.samples.len() <= SAMPLES);
    let _ = tally.rejection();

    // Ordinals count from 0; lines are at least 2 and strictly increase.
    for (i, row) in seen.iter().enumerate() {
        assert_eq!(row.ordinal, i as u64, "ordinals count rows from 0");
        assert!(
            row.line >= 2,
            "row {i} is on line {} (the header is line 1)",
            row.line
        );
    }
    for pair in seen.windows(2) {
        assert!(
            pair[0].line < pair[1].line,
            "lines must strictly increase: row {} on line {}, row {} on line {}",
            pair[0].ordinal,
            pair[0].line,
            pair[1].ordinal,
            pair[1].line
        );
    }

    // Duplicates, recomputed: every good row whose callee an earlier good row has.
    let mut first: HashMap<&str, u64> = HashMap::new();
    let mut expected_duplicates = Vec::new();
    for row in &seen {
        if let Ok(callee) = &row.verdict {
            match first.get(callee.as_str()) {
                Some(&first_line) => expected_duplicates.push((row.ordinal, row.line, first_line)),
                None => {
                    first.insert(callee, row.line);
                }
            }
        }
    }
    let duplicates: Vec<(u64, u64, u64)> = checked
        .duplicates
        .iter()
        .map(|d| (d.ordinal, d.line, d.first_line))
        .collect();
    assert_eq!(duplicates, expected_duplicates, "the duplicates");
    for d in checked.duplicates.iter() {
        assert!(d.first_line < d.line, "duplicate {d:?}: first_line < line");
    }

    // Good and skipped counts per reason, recomputed.
    let good_seen = seen.iter().filter(|r| r.verdict.is_ok()).count() as u64;
    assert_eq!(tally.good, good_seen - duplicates.len() as u64, "good rows");
    let mut skipped: BTreeMap<SkipReason, u64> = BTreeMap::new();
    let mut all_skips: Vec<(u64, SkipReason, String)> = Vec::new();
    for row in &seen {
        if let Err((reason, detail)) = &row.verdict {
            *skipped.entry(*reason).or_default() += 1;
            all_skips.push((row.line, *reason, detail.clone()));
        }
    }
    for d in &checked.duplicates {
        *skipped.entry(SkipReason::Duplicate).or_default() += 1;
        let skip = d.skip();
        all_skips.push((d.line, skip.reason, skip.detail));
    }
    skipped.retain(|_, n| *n > 0);
    let mut tallied = tally.skipped.clone();
    tallied.retain(|_, n| *n > 0);
    assert_eq!(tallied, skipped, "skips per reason");

    // The listed skipped rows are the first ones by line.
    all_skips.sort_by_key(|s| s.0);
    all_skips.truncate(LISTED_SKIPS);
    let listed: Vec<(u64, SkipReason, String)> = tally
        .skipped_rows
        .iter()
        .map(|s| (s.line, s.reason, s.detail.clone()))
        .collect();
    assert_eq!(listed, all_skips, "the listed skipped rows");

    // The samples are the first good rows with distinct numbers.
    let mut expected_samples: Vec<(u64, &str)> = Vec::new();
    let mut sampled: HashSet<&str> = HashSet::new();
    for row in &seen {
        if let Ok(callee) = &row.verdict {
            if expected_samples.len() < SAMPLES && sampled.insert(callee) {
                expected_samples.push((row.line, callee));
            }
        }
    }
    let samples: Vec<(u64, &str)> = tally
        .samples
        .iter()
        .map(|s| (s.line, s.callee.as_str()))
        .collect();
    assert_eq!(samples, expected_samples, "the samples");
});
