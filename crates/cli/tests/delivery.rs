//! Hand-over and webhook delivery (issue 9) through the real `quickauth` binary: real loopback HTTP to a
//! signature-verifying receiver (`quickauth_sandbox::ReceiverHandle`), the sandbox as Yilianyun, the real keyring
//! (run under scripts/with-keyring.sh).

mod common;

use std::time::Duration;

use common::Env;
use quickauth_sandbox::{ReceiverFault, ReceiverHandle};
use serde_json::Value;

/// A fixed test signing secret (whsec_ + base64 of 32 bytes).
const SECRET: &str = "whsec_dGVzdC1zaWduaW5nLWtleS1mb3ItcXVpY2thdXRoLWRlbGl2ZXJ5";

async fn receiver(secret: &str) -> ReceiverHandle {
    ReceiverHandle::start(([127, 0, 0, 1], 0).into(), secret)
        .await
        .expect("receiver starts")
}

async fn set_destination(env: &Env, profile: &str, url: &str, ownership: &str) {
    env.run_with(
        &[
            "profile",
            "delivery",
            profile,
            "--webhook",
            url,
            "--ownership",
            ownership,
            "--json",
        ],
        Some(&format!("{SECRET}\n")),
        &[],
    )
    .await
    .ok();
}

async fn deliveries(env: &Env) -> Vec<Value> {
    let run = env.run(&["deliveries", "--json"]).await;
    run.ok();
    run.json().as_array().unwrap().clone()
}

fn only<'a>(list: &'a [Value], device: &str, kind: &str) -> &'a Value {
    let found: Vec<&Value> = list
        .iter()
        .filter(|e| e["device"] == device && e["type"] == kind)
        .collect();
    assert_eq!(found.len(), 1, "{kind} events of {device}: {list:?}");
    found[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_device_pairs_reach_the_receiver_and_hand_over_ends_ownership() {
    let env = Env::new().await;
    let rx = receiver(SECRET).await;
    env.add_profile("shop", "v2").await;

    // Bad input first: nothing is stored, and the messages quote neither the secret nor the URL's path.
    let run = env
        .run_with(
            &[
                "profile",
                "delivery",
                "shop",
                "--webhook",
                "http://orders.example.com/h",
                "--json",
            ],
            Some(&format!("{SECRET}\n")),
            &[],
        )
        .await;
    run.failed();
    assert_eq!(run.err_json()["type"], "invalid_webhook_url");
    let run = env
        .run_with(
            &[
                "profile",
                "delivery",
                "shop",
                "--webhook",
                &rx.url(),
                "--json",
            ],
            Some("whsec_not-base64-at-all!!\n"),
            &[],
        )
        .await;
    run.failed();
    assert_eq!(run.err_json()["type"], "invalid_webhook_secret");
    assert!(!run.stderr.contains("not-base64"), "{}", run.stderr);
    let run = env.run(&["profile", "delivery", "shop", "--json"]).await;
    run.ok();
    assert_eq!(
        run.json(),
        Value::Null,
        "a refused destination is not stored"
    );

    set_destination(&env, "shop", &rx.url(), "delivered").await;
    let run = env.run(&["profile", "delivery", "shop", "--json"]).await;
    run.ok();
    let v = run.json();
    assert_eq!(
        (
            v["ownership"].as_str(),
            v["enabled"].as_bool(),
            v["has_secret"].as_bool()
        ),
        (Some("delivered"), Some(true), Some(true))
    );
    assert!(v.get("secret").is_none());

    // Authorize: the device is `delivered`; its pair is queued (no token in the outbox) and sent by `deliver`.
    let (mc, _) = env.authorize_new("shop").await;
    let list = env.run(&["list", "--json"]).await;
    assert_eq!(list.json()[0]["ownership"], "delivered");
    let events = deliveries(&env).await;
    let ev = only(&events, &mc, "device.authorized");
    assert_eq!(ev["status"], "pending");
    assert_eq!(ev["attempts"], 0);
    let keys: Vec<&String> = ev.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "attempts",
            "device",
            "event_id",
            "last_error",
            "next_attempt_at",
            "status",
            "type"
        ]
    );
    let run = env.run(&["deliver", "--json"]).await;
    run.ok();
    assert_eq!(run.json()["delivered"], 1);
    let got = rx.latest();
    let pair = &got[&mc];
    assert_eq!(
        (pair.kind.as_str(), pair.generation, pair.ownership.as_str()),
        ("device.authorized", 1, "delivered")
    );
    assert_eq!(rx.bad_signatures(), 0);

    // Reveal warns and needs confirmation (non-interactive: --yes), and the revealed pair is the delivered one.
    let run = env.run(&["token", &mc, "--reveal", "--json"]).await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("handover"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let run = env
        .run(&["token", &mc, "--reveal", "--yes", "--json"])
        .await;
    run.ok();
    let v = run.json();
    let (at1, rt1) = (
        v["access_token"].as_str().unwrap().to_owned(),
        v["refresh_token"].as_str().map(str::to_owned),
    );
    assert_eq!(pair.access_token.as_deref(), Some(at1.as_str()));
    assert_eq!(pair.refresh_token, rt1);

    // Refresh: the new pair replaces nothing delivered, and `refresh --all` runs the outbox.
    env.run(&["refresh", &mc, "--json"]).await.ok();
    let run = env
        .run_with(
            &["refresh", "--all", "--json"],
            None,
            &[("QUICKAUTH_REFRESH_DAYS", "0")],
        )
        .await;
    run.ok();
    let got = rx.latest();
    assert_eq!(
        (got[&mc].kind.as_str(), got[&mc].generation),
        ("device.refreshed", 2)
    );
    let (at2, _) = env.reveal(&mc).await;
    assert_eq!(got[&mc].access_token.as_deref(), Some(at2.as_str()));
    assert_ne!(at1, at2);

    // Hand over: delivered now, tokens deleted from the keyring, never refreshed again, row kept.
    let refreshes_before = env.refresh_requests();
    let run = env.run(&["handover", &mc, "--json"]).await;
    run.ok();
    let v = run.json();
    assert_eq!(
        (
            v["status"].as_str(),
            v["released"].as_bool(),
            v["ownership"].as_str()
        ),
        (Some("delivered"), Some(true), Some("handed-over"))
    );
    let got = rx.latest();
    assert_eq!(
        (got[&mc].kind.as_str(), got[&mc].ownership.as_str()),
        ("device.handed_over", "handed-over")
    );
    assert_eq!(got[&mc].access_token.as_deref(), Some(at2.as_str()));
    let run = env.run(&["refresh", &mc, "--json"]).await;
    run.failed();
    assert_eq!(run.err_json()["type"], "handed_over");
    let run = env
        .run_with(
            &["refresh", "--all", "--json"],
            None,
            &[("QUICKAUTH_REFRESH_DAYS", "365")],
        )
        .await;
    run.ok();
    assert_eq!(run.json(), serde_json::json!([]));
    assert_eq!(
        env.refresh_requests(),
        refreshes_before,
        "a handed-over device is never refreshed"
    );
    let run = env
        .run(&["token", &mc, "--reveal", "--yes", "--json"])
        .await;
    run.failed();
    assert_eq!(run.err_json()["type"], "handed_over");
    let list = env.run(&["list", "--json"]).await.json();
    let row = &list[0];
    assert_eq!(row["id"], mc.as_str());
    assert_eq!(row["ownership"], "handed-over");
    assert_eq!(
        row["handed_over_to"],
        format!("http://{}", rx.addr()).as_str()
    );
    assert!(row["handed_over_at"].is_string());
    let history = env.run(&["history", "--json"]).await.json();
    assert!(history
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["action"] == "handover" && h["outcome"] == "ok"));
    assert!(history
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["action"] == "handover_released"));

    // Every event was delivered once (no fault here: no duplicate), with a verified signature.
    let events = deliveries(&env).await;
    assert!(
        events.iter().all(|e| e["status"] == "delivered"),
        "{events:?}"
    );
    assert_eq!(rx.received().len(), rx.distinct_ids().len());

    // --generate-secret prints a secret once; a receiver holding it verifies the next delivery.
    let run = env
        .run(&[
            "profile",
            "delivery",
            "sandbox",
            "--webhook",
            "http://127.0.0.1:9/x",
            "--generate-secret",
            "--json",
        ])
        .await;
    run.ok();
    let generated = run.json()["secret"].as_str().unwrap().to_owned();
    assert!(generated.starts_with("whsec_"));
    let rx2 = receiver(&generated).await;
    env.run_with(
        &[
            "profile",
            "delivery",
            "sandbox",
            "--webhook",
            &rx2.url(),
            "--ownership",
            "handed-over",
        ],
        Some(&format!("{generated}\n")),
        &[],
    )
    .await
    .ok();
    // The built-in profile talks to the CLI's own in-process sandbox; an offline-minted label works there.
    let payload = env.run(&["sandbox", "mint"]).await;
    payload.ok();
    let run = env
        .run(&["authorize", "--payload", payload.stdout.trim(), "--json"])
        .await;
    run.ok();
    let mc2 = run.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(run.json()["ownership"], "handed-over");
    env.run(&["deliver"]).await.ok();
    assert_eq!(rx2.latest()[&mc2].kind, "device.handed_over");
    // A Lingju device: its body names the userid and has no refresh token.
    let run = env
        .run(&["authorize", "--userid", "AA:BB:CC:00:11:22", "--json"])
        .await;
    run.ok();
    assert_eq!(run.json()["ownership"], "handed-over");
    env.run(&["deliver"]).await.ok();
    let lj = &rx2.latest()["AABBCC001122"];
    assert_eq!(
        (lj.provider.as_str(), lj.kind.as_str()),
        ("lingju", "device.handed_over")
    );
    assert!(lj.access_token.is_some() && lj.refresh_token.is_none());
    assert_eq!(rx2.bad_signatures(), 0);

    let mut secrets = vec![SECRET.to_owned(), generated, at1, at2];
    secrets.extend(rt1);
    env.assert_no_secrets(&secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_retry_under_the_same_id_and_nothing_is_lost() {
    let env = Env::new().await;
    let rx = receiver(SECRET).await;
    env.add_profile("shop", "v2").await;
    set_destination(&env, "shop", &rx.url(), "delivered").await;
    let (mc, _) = env.authorize_new("shop").await;
    let id = only(&deliveries(&env).await, &mc, "device.authorized")["event_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // 500: pending with the status, retried later; a run before the retry time sends nothing.
    rx.push_faults([ReceiverFault::Status(500)]);
    env.run(&["deliver"]).await.ok();
    let ev = only(&deliveries(&env).await, &mc, "device.authorized").clone();
    assert_eq!(
        (ev["status"].as_str(), ev["attempts"].as_i64()),
        (Some("pending"), Some(1))
    );
    assert!(
        ev["last_error"].as_str().unwrap().contains("HTTP 500"),
        "{ev}"
    );
    assert!(ev["next_attempt_at"].is_string());
    let requests = rx.requests();
    let run = env.run(&["deliver", "--json"]).await;
    assert_eq!(run.json()["attempted"], 0);
    assert_eq!(rx.requests(), requests, "backoff holds the retry");

    // Timeout (receiver never answers), slow-but-in-time, then the ack is lost after processing.
    rx.push_faults([ReceiverFault::Hang]);
    env.run_with(
        &["deliver", "--now"],
        None,
        &[("QUICKAUTH_WEBHOOK_TIMEOUT_MS", "700")],
    )
    .await
    .ok();
    let ev = only(&deliveries(&env).await, &mc, "device.authorized").clone();
    assert!(
        ev["last_error"].as_str().unwrap().contains("timeout"),
        "{ev}"
    );
    rx.push_faults([ReceiverFault::DropAfterProcessing]);
    env.run(&["deliver", "--now"]).await.ok();
    assert_eq!(rx.received().len(), 1);
    assert_eq!(
        only(&deliveries(&env).await, &mc, "device.authorized")["status"],
        "pending"
    );

    // kill -9 (abort) after the receiver acknowledged, before the outbox recorded it.
    let run = env
        .run_with(
            &["deliver", "--now"],
            None,
            &[("QUICKAUTH_CRASH_AT", "webhook_after_send_before_ack")],
        )
        .await;
    assert_ne!(run.code, Some(0));
    assert_eq!(rx.received().len(), 2);
    rx.push_faults([ReceiverFault::Slow(Duration::from_millis(300))]);
    env.run(&["deliver", "--now"]).await.ok();
    let ev = only(&deliveries(&env).await, &mc, "device.authorized").clone();
    assert_eq!(ev["status"], "delivered");
    assert_eq!(ev["attempts"], 5);
    let ids: Vec<String> = rx.received().iter().map(|e| e.webhook_id.clone()).collect();
    assert_eq!(
        ids,
        vec![id.clone(), id.clone(), id.clone()],
        "duplicates only under the same webhook-id"
    );

    // 4xx: failed with status and a short body, retried by hand.
    env.run(&["refresh", &mc]).await.ok();
    rx.push_faults([ReceiverFault::Status(422)]);
    let run = env.run(&["deliver", "--json"]).await;
    assert_eq!(run.code, Some(1));
    let ev = only(&deliveries(&env).await, &mc, "device.refreshed").clone();
    assert_eq!(ev["status"], "failed");
    assert!(
        ev["last_error"]
            .as_str()
            .unwrap()
            .starts_with("HTTP 422: test receiver"),
        "{ev}"
    );
    assert_eq!(ev["next_attempt_at"], Value::Null);
    env.run(&["deliver", "--retry-failed"]).await.ok();
    assert_eq!(
        only(&deliveries(&env).await, &mc, "device.refreshed")["status"],
        "delivered"
    );

    // A newer pair replaces an undelivered older one (the receiver only ever needs the newest).
    rx.push_faults([ReceiverFault::Status(503)]);
    env.run(&["refresh", &mc]).await.ok();
    env.run(&["deliver"]).await.ok();
    env.run(&["refresh", &mc]).await.ok();
    let pending: Vec<Value> = deliveries(&env)
        .await
        .into_iter()
        .filter(|e| e["status"] != "delivered")
        .collect();
    assert_eq!(pending.len(), 1, "{pending:?}");

    // Destination changed while pending: the new receiver gets the same event id.
    let rx_b = receiver(SECRET).await;
    set_destination(&env, "shop", &rx_b.url(), "delivered").await;
    env.run(&["deliver", "--now"]).await.ok();
    assert_eq!(rx_b.received().len(), 1);
    assert_eq!(
        rx_b.received()[0].webhook_id,
        pending[0]["event_id"].as_str().unwrap()
    );
    assert_eq!(rx_b.received()[0].generation, 4);

    // 410 disables the destination and says so; hand-over is refused until it is set again.
    env.run(&["refresh", &mc]).await.ok();
    rx_b.push_faults([ReceiverFault::Status(410)]);
    let run = env.run(&["deliver"]).await;
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("410"), "{}", run.stderr);
    let settings = env
        .run(&["profile", "delivery", "shop", "--json"])
        .await
        .json();
    assert_eq!(settings["enabled"], false);
    let run = env.run(&["handover", &mc, "--json"]).await;
    run.failed();
    assert_eq!(run.err_json()["type"], "delivery_destination_disabled");
    let requests = rx_b.requests();
    env.run(&["deliver", "--now"]).await.ok();
    assert_eq!(
        rx_b.requests(),
        requests,
        "nothing is sent to a disabled destination"
    );
    set_destination(&env, "shop", &rx_b.url(), "delivered").await;
    env.run(&["deliver"]).await.ok();
    assert_eq!(
        rx_b.latest()[&mc].generation,
        5,
        "setting the destination again makes pending events due"
    );

    // Refused (nothing listening): pending, not lost.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/h", closed.local_addr().unwrap());
    drop(closed);
    set_destination(&env, "shop", &dead, "delivered").await;
    env.run(&["refresh", &mc]).await.ok();
    env.run(&["deliver"]).await.ok();
    let last = deliveries(&env)
        .await
        .into_iter()
        .find(|e| e["status"] == "pending")
        .unwrap();
    assert!(
        last["last_error"].as_str().unwrap().contains("connection"),
        "{last}"
    );

    // Forget tells the receiver (device.forgotten, no tokens in it).
    set_destination(&env, "shop", &rx_b.url(), "delivered").await;
    env.run(&["forget", &mc]).await.ok();
    env.run(&["deliver", "--now"]).await.ok();
    let forgotten: Vec<_> = rx_b
        .received()
        .into_iter()
        .filter(|e| e.kind == "device.forgotten")
        .collect();
    assert_eq!(forgotten.len(), 1);
    assert_eq!(forgotten[0].access_token, None);
    assert!(deliveries(&env)
        .await
        .iter()
        .all(|e| e["status"] == "delivered"));
    env.assert_no_secrets(&[SECRET.to_owned()]);
}

/// A refresh killed after the new pair reached the keyring but before the DB row: the next run completes it, and
/// the new pair's event is queued exactly once (the hook runs before the row is written and is idempotent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_crash_still_delivers_the_new_pair_once() {
    let env = Env::new().await;
    let rx = receiver(SECRET).await;
    env.add_profile("shop", "v2").await;
    set_destination(&env, "shop", &rx.url(), "delivered").await;
    let (mc, _) = env.authorize_new("shop").await;
    env.run(&["deliver"]).await.ok();
    for step in ["after_keyring_before_db", "after_db_before_journal_clear"] {
        let run = env
            .run_with(&["refresh", &mc], None, &[("QUICKAUTH_CRASH_AT", step)])
            .await;
        assert_ne!(run.code, Some(0), "{step}: the crash hook fired");
        // Opening completes the interrupted refresh; `deliver` then sends its pair.
        env.run(&["deliver"]).await.ok();
        env.run(&["deliver"]).await.ok();
    }
    let (at, _) = env.reveal(&mc).await;
    let latest = rx.latest();
    assert_eq!(latest[&mc].generation, 3);
    assert_eq!(latest[&mc].access_token.as_deref(), Some(at.as_str()));
    let refreshed: Vec<Value> = deliveries(&env)
        .await
        .into_iter()
        .filter(|e| e["type"] == "device.refreshed")
        .collect();
    assert_eq!(refreshed.len(), 2, "one event per new pair: {refreshed:?}");
    assert!(refreshed.iter().all(|e| e["status"] == "delivered"));
    assert_eq!(rx.received().len(), rx.distinct_ids().len());

    // A crash after the hand-over was acknowledged, before its pair was deleted: the next run deletes it.
    let run = env
        .run_with(
            &["handover", &mc, "--json"],
            None,
            &[(
                "QUICKAUTH_CRASH_AT",
                "webhook_handover_acked_before_release",
            )],
        )
        .await;
    assert_ne!(run.code, Some(0));
    let row = env.run(&["list", "--json"]).await.json()[0].clone();
    assert_eq!(row["ownership"], "handed-over");
    assert_eq!(row["tokens_deleted_at"], Value::Null, "{row}");
    env.run(&["deliver"]).await.ok();
    let row = env.run(&["list", "--json"]).await.json()[0].clone();
    assert!(row["tokens_deleted_at"].is_string(), "{row}");
    assert_eq!(rx.latest()[&mc].kind, "device.handed_over");
    env.assert_no_secrets(&[SECRET.to_owned(), at]);
}
