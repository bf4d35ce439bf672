use std::io::Cursor;

use super::*;
use crate::config::NumberPolicy;
use crate::intake::rows::DoNotCall;

fn read_bytes(bytes: &[u8]) -> Result<Checked, ListError<std::convert::Infallible>> {
    let rules = Rules {
        numbers: NumberPolicy::Cn,
        template: None,
        max_text_chars: 500,
        do_not_call: DoNotCall::default(),
    };
    read(
        Cursor::new(bytes.to_vec()),
        ListFormat::Csv,
        None,
        &rules,
        |_| Ok(()),
    )
}

/// The line and message of the record error reading `text` must give.
fn record_error(text: &str) -> (u64, String) {
    match read_bytes(text.as_bytes()) {
        Err(ListError::Unreadable(DecodeError::Record { line, message })) => (line, message),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_quote_never_closed_refuses_the_file_instead_of_swallowing_rows() {
    let mut text = String::from("callee,note\n13800138000,ok\n13900000000,\"he said hi\n");
    for n in 0..100 {
        text.push_str(&format!("138{n:08},x\n"));
    }
    let (line, message) = record_error(&text);
    assert_eq!(line, 3);
    assert!(message.contains("probably never closed"), "{message}");
    let fine = "callee,note\n13800138000,\"two\r\nlines\"\n";
    assert_eq!(read_bytes(fine.as_bytes()).unwrap().tally.good, 1);
}

#[test]
fn a_quote_left_open_to_the_end_of_the_file_is_caught_too() {
    let text =
        "callee,note\n13800138000,ok\n13900000000,\"he said hi\n13800138001,x\n13800138002,y\n";
    let (line, message) = record_error(text);
    assert_eq!(line, 3);
    assert!(message.contains("runs to the end of the file"), "{message}");
    // A stray quote inside an unquoted field, on a one-line row, is just text.
    let stray = "callee,note\n13800138000,5\" screen\n13800138001,\"a\nb\"\n";
    assert_eq!(read_bytes(stray.as_bytes()).unwrap().tally.good, 2);
}
