//! Every JSON sample of the vendor's original document (tests/fixtures/) decodes into the
//! typed shapes with the right values.

use callcenter_openapi::answer::{decode, one_cdr_records, settle_commands, single_response};
use callcenter_openapi::causes::{CallCategory, categorize};
use callcenter_openapi::push::{self, Notify};
use callcenter_openapi::wire::{
    CdrListCommand, EditTemplateCommand, OneCdrCommand, ResultOnly, TemplateListCommand,
    UploadTemplateCommand, VoiceNotifyCommand,
};
use callcenter_openapi::{Authentication, Credentials, Password};
use serde_json::Value;

/// The document's example account, whose digest its samples carry.
fn example_credentials() -> Credentials {
    Credentials {
        customer: "C2".into(),
        password: Password::new("E416D0F85DC0CB67C85E070A32D9F0123AFF4762"),
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

fn authentication(name: &str) -> Authentication {
    serde_json::from_value(json(name)["authentication"].clone()).unwrap()
}

#[test]
fn the_generic_formats_decode() {
    let request = json("01-request-format.json");
    assert_eq!(authentication("01-request-format.json").seq, "5271");
    assert!(request["request"].is_object());
    let answer = decode(&fixture("02-response-format.json")).unwrap();
    assert_eq!(
        answer.result.unwrap().error,
        0,
        "an empty error means success"
    );
    let data = answer.data.unwrap();
    let response = data.response.unwrap();
    assert_eq!(response.result.unwrap().error, 0);
    assert_eq!(answer.logs, None);
}

#[test]
fn the_signed_samples_carry_the_test_vector_digest() {
    for name in [
        "05-edittemplate-request.json",
        "09-templatelist-request.json",
        "11-push-template-audit.json",
        "15-getonecdr-request.json",
        "17-getcdrlist-request.json",
    ] {
        let auth = authentication(name);
        assert_eq!(auth.digest, "ae62e11cab746436b64a26f4ed8e41a3", "{name}");
        assert!(auth.verify(&example_credentials()), "{name}");
    }
}

#[test]
fn voice_notify_samples_decode() {
    let command: VoiceNotifyCommand =
        serde_json::from_value(json("03-voicenotify-request.json")["request"].clone()).unwrap();
    assert_eq!(command.cycle_play_times, "");
    let answer = decode(&fixture("04-voicenotify-response.json")).unwrap();
    // `result` is "" in the command's response: the top-level success applies.
    let response = answer.data.as_ref().unwrap().response.as_ref().unwrap();
    assert_eq!(response.result, None);
    assert_eq!(settle_commands(&answer, &[""]), vec![Ok(())]);
}

#[test]
fn template_samples_decode() {
    let edit: EditTemplateCommand =
        serde_json::from_value(json("05-edittemplate-request.json")["request"].clone()).unwrap();
    assert_eq!(
        (edit.template_id.as_str(), edit.content.as_deref()),
        ("62", Some("编{1}辑{2}个{3}内{4}容"))
    );
    let edited =
        single_response(&decode(&fixture("06-edittemplate-response.json")).unwrap()).unwrap();
    assert_eq!(edited.voice_file_id.as_deref(), Some("62"));
    let upload: UploadTemplateCommand =
        serde_json::from_value(json("07-uploadtemplate-request.json")["request"].clone()).unwrap();
    assert_eq!(upload.name, "");
    let uploaded =
        single_response(&decode(&fixture("08-uploadtemplate-response.json")).unwrap()).unwrap();
    assert_eq!(uploaded.voice_file_id, None);
    let list: TemplateListCommand =
        serde_json::from_value(json("09-templatelist-request.json")["request"].clone()).unwrap();
    assert_eq!((list.page.as_str(), list.page_size.as_str()), ("1", "1"));
    let listed =
        single_response(&decode(&fixture("10-templatelist-response.json")).unwrap()).unwrap();
    let page = listed.data.unwrap();
    assert_eq!(page.total, Some(2));
    let row = &page.rows[0];
    assert_eq!(
        (
            row.key.as_str(),
            row.id.as_str(),
            row.verify_status.as_str()
        ),
        ("63", "63", "2")
    );
    assert_eq!(row.submit_time, "1633920708");
    assert_eq!(
        row.content,
        "{1}您好,请您于{2}时间,在{3}地点领取您的礼品,领奖码是{4}"
    );
    assert_eq!(row.customer, "企业");
}

#[test]
fn push_samples_decode() {
    let audit = push::parse(&fixture("11-push-template-audit.json")).unwrap();
    let Notify::TemplateAudit(notify) = audit.notify else {
        panic!("not an audit")
    };
    assert_eq!(
        (
            notify.id.as_str(),
            notify.status.as_str(),
            notify.content.as_str()
        ),
        ("1", "1", "测试TTS")
    );
    for answer in [
        "12-push-template-audit-answer.json",
        "14-push-cdr-answer.json",
    ] {
        let parsed: ResultOnly = serde_json::from_slice(&fixture(answer)).unwrap();
        assert_eq!(parsed.result.error, 0, "{answer}");
    }
    let cdr = push::parse(&fixture("13-push-cdr.json")).unwrap();
    let Notify::Cdr(record) = cdr.notify else {
        panic!("not a call record")
    };
    assert_eq!(record.kind, "TTSVoiceNotifyBilling");
}

#[test]
fn call_record_samples_decode() {
    let one: OneCdrCommand =
        serde_json::from_value(json("15-getonecdr-request.json")["request"].clone()).unwrap();
    assert_eq!(
        (one.user_data.as_str(), one.time_length_max.as_str()),
        ("userData", "999")
    );
    let answer = decode(&fixture("16-getonecdr-response.json")).unwrap();
    let response = single_response(&answer).unwrap();
    let records = one_cdr_records(&answer, &response);
    assert_eq!(answer.data.as_ref().unwrap().total, Some(1));
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(
        (r.key.as_str(), r.callee.as_str(), r.result.as_str()),
        ("573262", "13801138001", "2")
    );
    assert_eq!((r.talk_secs(), r.fee.as_str()), (Some(0), "0"));
    assert_eq!(r.session_id(), "1633764891-0044-567388");

    let list: CdrListCommand =
        serde_json::from_value(json("17-getcdrlist-request.json")["request"].clone()).unwrap();
    assert!(list.agent.is_empty());
    let answer = decode(&fixture("18-getcdrlist-response.json")).unwrap();
    assert_eq!(answer.logs, None);
    let response = single_response(&answer).unwrap();
    assert_eq!(
        (response.total, response.page, response.size),
        (Some(2), Some(1), Some(500))
    );
    let cdr = response.cdr.unwrap();
    let (answered, missed) = (&cdr[0], &cdr[1]);
    assert_eq!(
        (answered.key.as_str(), answered.fee.as_str()),
        ("573263", "0.06")
    );
    assert_eq!(
        (answered.talk_secs(), answered.release_cause),
        (Some(9), Some(0))
    );
    assert_eq!(answered.session_id(), "1633767017-0045-567389");
    assert_eq!(answered.start_time, "2021-10-09 16:10:17");
    assert_eq!(
        (
            missed.fee.as_str(),
            missed.user_data.as_str(),
            missed.task_id.as_str()
        ),
        ("0", "userData", "0")
    );
    assert_eq!(categorize(answered.facts()), CallCategory::Connected);
    assert_eq!(categorize(missed.facts()), CallCategory::NoAnswer);
}

#[test]
fn requests_are_encoded_as_the_samples_write_them() {
    let ours = serde_json::to_value(TemplateListCommand {
        seq: "123456".into(),
        user_data: "userData".into(),
        page: "1".into(),
        page_size: "1".into(),
    })
    .unwrap();
    assert_eq!(ours, json("09-templatelist-request.json")["request"]);
    let edit = EditTemplateCommand {
        seq: "123456".into(),
        user_data: "userData".into(),
        template_id: "62".into(),
        name: Some("编辑个名称".into()),
        content: Some("编{1}辑{2}个{3}内{4}容".into()),
    };
    assert_eq!(
        serde_json::to_value(edit).unwrap(),
        json("05-edittemplate-request.json")["request"]
    );
    let signed = Authentication::sign(&example_credentials(), 1471918933001, "5271");
    assert_eq!(
        serde_json::to_value(signed).unwrap(),
        json("09-templatelist-request.json")["authentication"]
    );
}
