//! The delivery test receiver must be able to fail: a request with a wrong signature, a stale timestamp or a body
//! that is not an event is refused and not counted as received.

use quickauth_sandbox::{ReceiverFault, ReceiverHandle};

const SECRET: &str = "whsec_cmVjZWl2ZXItdGVzdC1zaWduaW5nLXNlY3JldC0zMmI=";

async fn post(url: &str, id: &str, ts: i64, sig: &str, body: &str) -> u16 {
    reqwest::Client::new()
        .post(url)
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn verifies_signatures_and_records_only_valid_events() {
    let rx = ReceiverHandle::start(([127, 0, 0, 1], 0).into(), SECRET)
        .await
        .unwrap();
    let wh = standardwebhooks::Webhook::new(SECRET).unwrap();
    let now = chrono::Utc::now().timestamp();
    let body = r#"{"type":"device.refreshed","timestamp":"2026-11-29T00:00:00Z","data":{"provider":"yilianyun","profile":"shop","machine_code":"4004000001","access_token":"at","refresh_token":"rt","generation":2,"ownership":"delivered"}}"#;
    let good = wh.sign("msg_1", now, body.as_bytes()).unwrap();

    let other =
        standardwebhooks::Webhook::new("whsec_b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldC1vdGhlcg==")
            .unwrap();
    let forged = other.sign("msg_1", now, body.as_bytes()).unwrap();
    assert_eq!(post(&rx.url(), "msg_1", now, &forged, body).await, 401);
    // A valid signature over another id, or an old timestamp, does not pass either.
    assert_eq!(post(&rx.url(), "msg_2", now, &good, body).await, 401);
    let old = now - 3600;
    let stale = wh.sign("msg_1", old, body.as_bytes()).unwrap();
    assert_eq!(post(&rx.url(), "msg_1", old, &stale, body).await, 401);
    assert_eq!(rx.bad_signatures(), 3);
    assert!(rx.received().is_empty());

    let not_event = wh.sign("msg_3", now, b"[]").unwrap();
    assert_eq!(post(&rx.url(), "msg_3", now, &not_event, "[]").await, 400);

    assert_eq!(post(&rx.url(), "msg_1", now, &good, body).await, 204);
    rx.push_faults([ReceiverFault::Status(503)]);
    assert_eq!(post(&rx.url(), "msg_1", now, &good, body).await, 503);
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (
            got[0].webhook_id.as_str(),
            got[0].generation,
            got[0].device.as_str()
        ),
        ("msg_1", 2, "4004000001")
    );
    // Debug never shows the pair.
    assert!(!format!("{:?}", got[0]).contains("\"at\""));
    rx.shutdown().await;
}
