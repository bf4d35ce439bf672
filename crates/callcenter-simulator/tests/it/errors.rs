//! Every error code of the spec is produced by the simulator and classified by the client,
//! and every fault lands in its class.

use std::time::Duration;

use callcenter_openapi::answer::{decode, single_response};
use callcenter_openapi::auth::now_ms;
use callcenter_openapi::error::{E_G_DATASYN_FAIL, E_G_RES_NOT_EXIST, E_G_STAFF_NO_EXIST};
use callcenter_openapi::{
    Authentication, Credentials, NotifyEndpoint, Password, VendorClient, VendorError,
};
use callcenter_simulator::{Fault, Faults, SimulatorOptions, TemplateReview};
use serde_json::json;

use crate::support::{
    client, command, example_credentials, fast_options, post_bytes, settings, simulator,
};

fn assert_class(got: &Result<impl std::fmt::Debug, VendorError>, class: &str, code: Option<u64>) {
    let error = got.as_ref().expect_err("an error");
    let got_class = match error {
        VendorError::AccountHalt(_) => "halt",
        VendorError::Permanent(_) => "permanent",
        VendorError::NotPlaced(_) => "not placed",
        VendorError::MayHaveBeenPlaced(_) => "may have been placed",
    };
    assert_eq!((got_class, error.code()), (class, code), "{error}");
}

/// Posts a signed body to `api` by hand, for what the client never sends.
async fn post_raw(
    base_url: &str,
    api: &str,
    body: serde_json::Value,
) -> Result<callcenter_openapi::wire::CommandResponse, VendorError> {
    let text = post_bytes(
        &format!("{base_url}/openapi/V2.0.6/{api}"),
        body.to_string(),
    )
    .await;
    single_response(&decode(&text)?)
}

fn signed(request: serde_json::Value) -> serde_json::Value {
    json!({"authentication": Authentication::sign(&example_credentials(), now_ms(), "77"), "request": request})
}

#[tokio::test]
async fn vendor_error_codes_are_produced_and_classified() {
    let sim = simulator(SimulatorOptions {
        templates: TemplateReview::AutoApprove,
        ..fast_options()
    })
    .await;
    let base = sim.base_url();

    let wrong = Credentials {
        password: Password::new("not-the-password"),
        ..example_credentials()
    };
    let refused = VendorClient::new(settings(&base), wrong).unwrap();
    assert_class(&refused.template_page(1, 10).await, "halt", Some(1));

    let old_version = VendorClient::new(
        callcenter_openapi::ClientSettings {
            version: "V2.0.9".into(),
            ..settings(&base)
        },
        example_credentials(),
    )
    .unwrap();
    assert_class(&old_version.template_page(1, 10).await, "halt", Some(10));

    let bad_url =
        VendorClient::new(settings(&format!("{base}/proxy")), example_credentials()).unwrap();
    assert_class(&bad_url.template_page(1, 10).await, "halt", Some(11));
    let answer =
        decode(&post_bytes(&format!("{base}/openapi/V2.0.6/getWeather"), "{}").await).unwrap();
    assert_eq!(answer.result.unwrap().error, 11);

    let text = post_bytes(&format!("{base}/openapi/V2.0.6/voiceNotify"), "{not json").await;
    assert_class(
        &single_response(&decode(&text).unwrap()),
        "permanent",
        Some(8),
    );

    let client = client(&sim);
    let mut missing = command(1);
    missing.content.clear();
    let fates = client
        .voice_notify(NotifyEndpoint::Standard, &[missing])
        .await;
    assert_class(&fates[0], "permanent", Some(5));

    assert_class(
        &client.edit_template("999", Some("x"), None).await,
        "permanent",
        Some(E_G_RES_NOT_EXIST),
    );
    let with_agent = signed(
        json!({"seq": "1", "agent": ["8888"], "serviceType": "21", "startTime": "", "endTime": ""}),
    );
    assert_class(
        &post_raw(&base, "getCdrList", with_agent).await,
        "permanent",
        Some(E_G_STAFF_NO_EXIST),
    );
    let neither = signed(json!({"seq": "1", "session": "", "userData": ""}));
    assert_class(
        &post_raw(&base, "getOneCdr", neither).await,
        "permanent",
        Some(5),
    );

    // In a batch, a command that cannot be read at all is refused alone, its ids echoed.
    let unreadable = post_bytes(
        &format!("{base}/openapi/V2.0.6/v2/voiceNotify"),
        signed(json!([
            command(5),
            {"seq": "6", "userData": "vc-test-6-1", "callee": {"not": "text"}},
            "not a command",
        ]))
        .to_string(),
    )
    .await;
    let answer = decode(&unreadable).unwrap();
    let fates: Vec<(String, String, u64)> = answer
        .data
        .unwrap()
        .responses
        .unwrap()
        .into_iter()
        .map(|r| (r.seq, r.user_data, r.result.unwrap().error))
        .collect();
    assert_eq!(
        fates,
        vec![
            ("1005".into(), "vc-test-5-1".into(), 0),
            ("6".into(), "vc-test-6-1".into(), 5),
            (String::new(), String::new(), 5),
        ]
    );
    assert_eq!(sim.calls().len(), 1, "the readable command was placed");

    sim.set_faults(Faults::always(Fault::VendorError4));
    assert_class(
        &client
            .voice_notify(NotifyEndpoint::Standard, &[command(2)])
            .await[0],
        "not placed",
        Some(4),
    );
    sim.set_faults(Faults::always(Fault::SyncFail));
    let batch = client
        .voice_notify(NotifyEndpoint::HighPerformance, &[command(3), command(4)])
        .await;
    for fate in &batch {
        assert_class(fate, "not placed", Some(E_G_DATASYN_FAIL));
    }
    assert_eq!(sim.calls().len(), 1, "nothing more was placed");
    sim.stop().await;
}

#[tokio::test]
async fn transport_faults_are_classified_by_whether_a_call_may_have_left() {
    let sim = simulator(fast_options()).await;
    let quick = VendorClient::new(
        callcenter_openapi::ClientSettings {
            timeout: Duration::from_millis(500),
            ..settings(&sim.base_url())
        },
        example_credentials(),
    )
    .unwrap();
    let cases = [
        (Fault::ServerErrorBefore, 0),
        (Fault::ServerErrorAfter, 1),
        (Fault::Garbage, 1),
        (Fault::Hang, 1),
        (Fault::Reset, 1),
    ];
    for (n, (fault, placed)) in cases.into_iter().enumerate() {
        sim.set_faults(Faults::always(fault));
        let before = sim.calls().len();
        let fates = quick
            .voice_notify(NotifyEndpoint::Standard, &[command(n)])
            .await;
        assert_class(&fates[0], "may have been placed", None);
        assert_eq!(sim.calls().len() - before, placed, "{fault:?}");
    }
    sim.set_faults(Faults::default());
    assert_eq!(
        quick
            .voice_notify(NotifyEndpoint::Standard, &[command(9)])
            .await,
        vec![Ok(())]
    );
    sim.stop().await;

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let nobody =
        VendorClient::new(settings(&format!("http://{addr}")), example_credentials()).unwrap();
    assert_class(
        &nobody
            .voice_notify(NotifyEndpoint::Standard, &[command(1)])
            .await[0],
        "not placed",
        None,
    );
    let no_such_host = VendorClient::new(
        settings("http://no-such-host.invalid"),
        example_credentials(),
    )
    .unwrap();
    assert_class(&no_such_host.template_page(1, 1).await, "not placed", None);
}

#[tokio::test]
async fn ids_beyond_the_vendor_limits_are_never_sent() {
    let sim = simulator(fast_options()).await;
    let mut long = command(1);
    long.user_data = "x".repeat(41);
    let fates = client(&sim)
        .voice_notify(NotifyEndpoint::Standard, &[long])
        .await;
    assert_class(&fates[0], "permanent", None);
    assert!(sim.calls().is_empty());
    sim.stop().await;
}
