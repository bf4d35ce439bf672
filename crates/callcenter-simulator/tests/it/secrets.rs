//! The password reaches no log line and no request body, even at trace level.

use std::time::Duration;

use callcenter_openapi::{
    CdrLookup, CdrQuery, ClientSettings, Credentials, NotifyEndpoint, Password, VendorClient,
};
use callcenter_simulator::SimulatorOptions;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::support::{
    LogSink, command, fast_options, receiver, settings, simulator, tracing_baseline,
};

const PASSWORD: &str = "Pa55-word-that-must-never-leak";

#[tokio::test(flavor = "current_thread")]
async fn the_password_is_in_no_log_line_and_no_request_body() {
    tracing_baseline();
    let sink = LogSink::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::FULL)
        .with_writer(sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let credentials = Credentials {
        customer: "C9".into(),
        password: Password::new(PASSWORD),
    };
    let sim = simulator(SimulatorOptions {
        customer: "C9".into(),
        password: Password::new(PASSWORD),
        ..fast_options()
    })
    .await;
    let client = VendorClient::new(settings(&sim.base_url()), credentials.clone()).unwrap();
    assert_eq!(
        client
            .voice_notify(NotifyEndpoint::Standard, &[command(1)])
            .await,
        vec![Ok(())]
    );
    client.upload_template("t", "{1}您好").await.unwrap();
    client.templates().await.unwrap();
    client
        .one_cdr(&CdrLookup::UserData(command(1).user_data))
        .await
        .unwrap();
    client.cdr_page(&CdrQuery::default()).await.unwrap();
    let wrong = VendorClient::new(
        settings(&sim.base_url()),
        Credentials {
            password: Password::new("x"),
            ..credentials.clone()
        },
    )
    .unwrap();
    assert!(wrong.template_page(1, 1).await.is_err());
    sim.stop().await;

    // Every body the client sends, caught by a receiver standing in for the vendor.
    let (addr, mut bodies) = receiver().await;
    let capture = VendorClient::new(
        ClientSettings {
            ..settings(&format!("http://{addr}"))
        },
        credentials,
    )
    .unwrap();
    let _ = capture
        .voice_notify(NotifyEndpoint::HighPerformance, &[command(1), command(2)])
        .await;
    let _ = capture.template_page(1, 1).await;
    let _ = capture.edit_template("1", Some("n"), Some("c")).await;
    let _ = capture.cdr_page(&CdrQuery::default()).await;
    let mut caught = 0;
    while let Ok(Some(body)) = tokio::time::timeout(Duration::from_millis(200), bodies.recv()).await
    {
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("\"digest\""), "{text}");
        assert!(
            !text.contains(PASSWORD),
            "a request body holds the password: {text}"
        );
        caught += 1;
    }
    assert_eq!(caught, 4);

    let logged = sink.text();
    assert!(
        logged.contains("Request.") && logged.contains("Answer."),
        "trace logging was on: {logged}"
    );
    assert!(logged.contains("C9"), "the customer is logged");
    assert!(!logged.contains(PASSWORD), "a log line holds the password");
}
