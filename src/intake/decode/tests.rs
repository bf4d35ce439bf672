use std::io::Cursor;

use super::*;

fn gbk(text: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(text).0.into_owned()
}

/// The facts, the opened list, and every record with its line.
type ReadAll = (FileFacts, CallList, Vec<(u64, Vec<String>)>);

fn read_all(bytes: Vec<u8>) -> Result<ReadAll, DecodeError> {
    let facts = scan(Cursor::new(bytes.clone()))?;
    let mut list = CallList::open(Cursor::new(bytes), facts.clone())?;
    let mut record = csv::StringRecord::new();
    let mut rows = Vec::new();
    while let Some(found) = list.next_record(&mut record)? {
        rows.push((found.line, record.iter().map(str::to_string).collect()));
    }
    Ok((facts, list, rows))
}

#[test]
fn encodings_are_told_apart() {
    let text = "手机号,姓名\r\n13800138000,张三\r\n";
    let utf16le: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let utf16be: Vec<u8> = [0xFE, 0xFF]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
        .collect();
    for (bytes, encoding) in [
        (text.as_bytes().to_vec(), TextEncoding::Utf8),
        (
            [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
            TextEncoding::Utf8Bom,
        ),
        (gbk(text), TextEncoding::Gb18030),
        (utf16le, TextEncoding::Utf16Le),
        (utf16be, TextEncoding::Utf16Be),
    ] {
        let (facts, list, rows) = read_all(bytes).unwrap();
        assert_eq!(facts.encoding, encoding);
        assert_eq!(list.columns.header, vec!["手机号", "姓名"], "{encoding:?}");
        assert_eq!(
            rows,
            vec![(2, vec!["13800138000".into(), "张三".into()])],
            "{encoding:?}"
        );
    }
}

#[test]
fn the_hash_is_of_the_bytes_and_a_split_character_is_still_utf8() {
    let mut text = "callee,1\n".to_string();
    while text.len() < 200_000 {
        text.push_str("13800138000,您好世界\n");
    }
    let facts = scan(Cursor::new(text.as_bytes())).unwrap();
    assert_eq!(facts.encoding, TextEncoding::Utf8);
    assert_eq!(facts.bytes, text.len() as u64);
    assert_eq!(facts.hash, hex::encode(Sha256::digest(text.as_bytes())));
}

#[test]
fn bytes_that_are_no_text_name_their_line() {
    let mut bytes = b"callee,1\n13800138000,ok\n".to_vec();
    bytes.extend_from_slice(b"13800138001,\x81\x20\n");
    match scan(Cursor::new(bytes)) {
        Err(DecodeError::Encoding { line }) => assert_eq!(line, 3),
        other => panic!("{other:?}"),
    }
}

#[test]
fn delimiters_are_sniffed_from_the_header() {
    assert_eq!(sniff_delimiter(b"callee,name,1\n"), b',');
    assert_eq!(sniff_delimiter(b"callee\tname\t1\n"), b'\t');
    assert_eq!(sniff_delimiter(b"callee;name;\"a,b\"\n"), b';');
    assert_eq!(sniff_delimiter(b"callee\n"), b',');
    let (_, list, rows) = read_all(b"phone;1\n138 0013 8000;\"a;b\"\n".to_vec()).unwrap();
    assert_eq!(list.delimiter, b';');
    assert_eq!(rows[0].1, vec!["138 0013 8000", "a;b"]);
}

#[test]
fn bad_headers_say_what_is_wrong() {
    let err = read_all(b"name,city\nx,y\n".to_vec()).unwrap_err();
    assert!(err.to_string().contains("has no callee column"), "{err}");
    let err = read_all(b"phone,1,{1}\n".to_vec()).unwrap_err();
    assert!(
        err.to_string()
            .contains("\"1\" (column 2) and \"{1}\" (column 3)"),
        "{err}"
    );
    assert!(matches!(read_all(Vec::new()), Err(DecodeError::Empty)));
    assert!(matches!(
        read_all(b"\n\n".to_vec()),
        Err(DecodeError::Empty)
    ));
}

#[test]
fn records_know_the_line_they_start_on() {
    let text = "callee,1,note\r\n13800138000,\"a, b\",x\r\n\r\n13800138001,\"two\r\nlines\",y\r\n13800138002,c\r\n13800138003,d,e,f";
    let (_, _, rows) = read_all(text.as_bytes().to_vec()).unwrap();
    let lines: Vec<u64> = rows.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![2, 4, 6, 7]);
    assert_eq!(rows[0].1[1], "a, b");
    assert_eq!(rows[1].1[1], "two\r\nlines");
    assert_eq!(rows[2].1.len(), 2);
    assert_eq!(rows[3].1.len(), 4);
}

#[test]
fn a_lone_carriage_return_ends_a_line_too() {
    let (_, _, rows) =
        read_all(b"callee\n13800138000\r13800138001\n13800138002\r\n13800138003".to_vec()).unwrap();
    let lines: Vec<u64> = rows.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![2, 3, 4, 5]);
    let (_, _, rows) =
        read_all(b"callee,1\r13800138000,a\r\r13800138001,\"x\ry\"\r13800138002,b\r".to_vec())
            .unwrap();
    let lines: Vec<u64> = rows.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![2, 4, 6]);
}

#[test]
fn a_cr_only_file_sniffs_its_delimiter_from_the_header_alone() {
    let (_, list, rows) =
        read_all(b"callee,1\r13800138000,a;b;c\r13800138001,x;y\r".to_vec()).unwrap();
    assert_eq!(list.delimiter, b',');
    assert_eq!(rows[0], (2, vec!["13800138000".into(), "a;b;c".into()]));
}
