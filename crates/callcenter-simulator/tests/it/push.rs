//! The simulator's pushes reach a receiver signed with the account's digest.

use std::time::Duration;

use axum::body::Bytes;
use callcenter_openapi::push::{self, Notify, Push};
use callcenter_openapi::{Credentials, NotifyEndpoint, Password};
use callcenter_simulator::{SimulatorOptions, TemplateReview};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::support::{client, command, example_credentials, fast_options, receiver, simulator};

/// The next push the receiver got, parsed; its digest must verify with the account's.
async fn next_push(bodies: &mut UnboundedReceiver<Bytes>) -> Push {
    let body = tokio::time::timeout(Duration::from_secs(10), bodies.recv())
        .await
        .unwrap()
        .unwrap();
    let pushed = push::parse(&body).unwrap();
    assert!(pushed.authentication.verify(&example_credentials()));
    pushed
}

#[tokio::test]
async fn signed_pushes_reach_a_receiver_and_their_digests_verify() {
    let (addr, mut bodies) = receiver().await;
    let sim = simulator(SimulatorOptions {
        push_url: Some(format!("http://{addr}/voicecast/push")),
        templates: TemplateReview::Hold,
        ..fast_options()
    })
    .await;
    let client = client(&sim);
    let sent = command(5);
    assert_eq!(
        client
            .voice_notify(NotifyEndpoint::Standard, std::slice::from_ref(&sent))
            .await,
        vec![Ok(())]
    );
    let pushed = next_push(&mut bodies).await;
    let other = Credentials {
        password: Password::new("another"),
        ..example_credentials()
    };
    assert!(!pushed.authentication.verify(&other));
    let Notify::Cdr(record) = pushed.notify else {
        panic!("expected a call record")
    };
    assert_eq!(
        (record.user_data.as_str(), record.callee.as_str()),
        (sent.user_data.as_str(), sent.callee.as_str())
    );
    assert_eq!(record.session, sim.calls()[0].session);
    assert_eq!(record.seq, sent.seq);

    let id = client.upload_template("t", "{1}您好").await.unwrap();
    sim.review_template(id.parse().unwrap(), false, "wording")
        .unwrap();
    let pushed = next_push(&mut bodies).await;
    let Notify::TemplateAudit(audit) = pushed.notify else {
        panic!("expected an audit result")
    };
    assert_eq!(
        (
            audit.id.as_str(),
            audit.status.as_str(),
            audit.remark.as_str()
        ),
        (id.as_str(), "0", "wording")
    );
    sim.stop().await;
}
