use super::*;
use calamine::CellErrorType;

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

/// A sheet whose list starts at B2: each later row with a value is a record of the
/// header's width, lined by the sheet's row numbers; a value beside the header or an
/// error cell is a problem naming its cell.
#[test]
fn a_sheet_becomes_records_lined_by_its_row_numbers() {
    let mut range = Range::new((1, 1), (6, 4));
    let cells = [
        ((1, 1), Data::String("手机号".into())),
        ((1, 2), Data::Float(1.0)),
        ((1, 3), Data::String("备注".into())),
        ((2, 1), Data::Float(13800138000.0)),
        ((2, 2), Data::String("张三".into())),
        ((4, 1), Data::String("13900139000".into())),
        ((4, 4), Data::String("stray".into())),
        ((5, 1), Data::Error(CellErrorType::NA)),
        ((5, 3), Data::Bool(true)),
        ((6, 2), Data::String("  ".into())),
    ];
    for (at, value) in cells {
        range.set_value(at, value);
    }
    let mut rows = SheetRows::open(RangeCells::new(range), ListFormat::Xls, "S".into(), 6).unwrap();
    assert_eq!(rows.columns().header, ["手机号", "1", "备注"]);
    let mut record = csv::StringRecord::new();
    let mut read = Vec::new();
    while let Some(found) = rows.next_record(&mut record).unwrap() {
        let fields: Vec<String> = record.iter().map(str::to_string).collect();
        let problem = found.problem.map(|p| p.skip(rows.columns()));
        read.push((found.line, fields, problem.map(|s| (s.reason, s.detail))));
    }
    let text = |fields: [&str; 3]| fields.map(str::to_string).to_vec();
    assert_eq!(read[0], (3, text(["13800138000", "张三", ""]), None));
    assert_eq!(read[1].0, 5);
    assert_eq!(read[1].1, text(["13900139000", "", ""]));
    let (reason, detail) = read[1].2.clone().unwrap();
    assert_eq!(reason, SkipReason::FieldCount);
    assert!(detail.starts_with("cell E5 has a value, but its column has no header"));
    assert_eq!(read[2].1, text(["#N/A", "", "TRUE"]));
    assert_eq!(
        read[2].2,
        Some((
            SkipReason::BadField,
            "cell B6 is an error (#N/A): correct its formula or clear it".to_string()
        ))
    );
    assert_eq!(read[3], (7, text(["", "  ", ""]), None));
    assert_eq!(read.len(), 4);
}

/// The content hash is of the cells alone: the same list further down a sheet, or in
/// another format, hashes alike; a changed cell does not.
#[test]
fn the_content_hash_is_of_the_cells() {
    let hash = |top: u32, callee: &str| {
        let mut range = Range::new((top, 0), (top + 1, 1));
        range.set_value((top, 0), Data::String("callee".into()));
        range.set_value((top + 1, 0), Data::String(callee.into()));
        let format = if top == 0 {
            ListFormat::Xls
        } else {
            ListFormat::Ods
        };
        let mut rows = SheetRows::open(RangeCells::new(range), format, "S".into(), 2).unwrap();
        let mut record = csv::StringRecord::new();
        while rows.next_record(&mut record).unwrap().is_some() {}
        rows.finish().unwrap()
    };
    assert_eq!(hash(0, "13800138000"), hash(5, "13800138000"));
    assert_ne!(hash(0, "13800138000"), hash(0, "13800138001"));
}

#[test]
fn an_error_in_the_header_or_an_empty_sheet_is_refused_naming_it() {
    let mut range = Range::new((0, 0), (0, 1));
    range.set_value((0, 0), Data::String("callee".into()));
    range.set_value((0, 1), Data::Error(CellErrorType::Ref));
    let refused =
        |range| match SheetRows::open(RangeCells::new(range), ListFormat::Xls, "名单".into(), 1) {
            Ok(_) => panic!("the sheet is read"),
            Err(error) => error.to_string(),
        };
    let error = refused(range);
    assert_eq!(
        error,
        "the header row has an error in cell B1 (#REF!): type the column's name there"
    );
    assert_eq!(
        refused(Range::empty()),
        "the sheet \"名单\" is empty: it needs a header row naming its columns"
    );
}

#[test]
fn a_file_that_is_no_workbook_says_so() {
    let text = std::io::Cursor::new(b"callee\n13800138000\n".to_vec());
    let error = read(text, ListFormat::Xlsx, None, |_| ())
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("cannot read the file as an .xlsx workbook (is it one?): "),
        "{error}"
    );
}

/// An `.xls` file, which a damaged one could crash calamine's reader, is refused unread,
/// saying what to save instead.
#[test]
fn an_xls_file_is_refused_unread_saying_to_save_it_as_xlsx() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/excel/list.xls");
    let file = std::fs::File::open(path).unwrap();
    let error = read(file, ListFormat::Xls, None, |_| ())
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("an .xls workbook (Excel 97-2003) is not read")
            && error.contains("save the list as an .xlsx workbook"),
        "{error}"
    );
}

/// A panic in the reader (a damaged file it does not expect) rejects the file, saying
/// so, rather than failing the import again at every rescan.
#[test]
fn a_panic_in_the_reader_is_an_unreadable_workbook() {
    let error = guarded::<()>(ListFormat::Xlsx, || panic!("index out of bounds"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "cannot read the file as an .xlsx workbook (is it one?): its reader failed (index out of bounds)"
    );
}
