//! End-to-end tests of the `quickauth` binary against a sandbox over real loopback HTTP and the real keyring.
//! Run with `scripts/with-keyring.sh cargo test -p quickauth-cli`.

mod common;

use std::time::Duration;

use common::{finish, Env};
use quickauth_protocol::secret::{ClientSecret, RefreshToken};
use quickauth_protocol::{ApiVersion, Endpoint, Region, YilianyunClient, YilianyunConfig};
use quickauth_sandbox::{
    FaultMode, FaultRule, LabelKind, BUILTIN_LINGJU_APPKEY, BUILTIN_LINGJU_AUTHCODE,
    BUILTIN_OPEN_APP_ID, BUILTIN_OPEN_APP_SECRET,
};
use serde_json::Value;

/// What the server answers for `refresh_token` right now (within 2 h of its use: the result it issued then).
async fn server_result_for(env: &Env, refresh_token: &str) -> (String, String) {
    let endpoint = Endpoint::new(Region::Cn, ApiVersion::V1, Some(env.sandbox.base_url())).unwrap();
    let client = YilianyunClient::new(
        YilianyunConfig {
            client_id: BUILTIN_OPEN_APP_ID.into(),
            client_secret: ClientSecret::new(BUILTIN_OPEN_APP_SECRET),
            endpoint,
        },
        quickauth_protocol::http_client(),
    );
    let grant = client
        .refresh(&RefreshToken::new(refresh_token))
        .await
        .expect("replay of the old refresh token");
    (
        grant.access_token.expose().to_owned(),
        grant.refresh_token.expose().to_owned(),
    )
}

/// What the test "browser" received; panics after 60 s instead of hanging.
async fn wait_for_file(path: &std::path::Path) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the browser command was never called"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn generation(v: &Value) -> i64 {
    v["generation"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_every_command_and_no_secret_leaks() {
    let env = Env::new().await;
    let mut secrets: Vec<String> = vec![
        BUILTIN_OPEN_APP_SECRET.into(),
        BUILTIN_LINGJU_APPKEY.into(),
        BUILTIN_LINGJU_AUTHCODE.into(),
    ];
    env.add_profile("shop", "v1").await;

    // Profiles: listed without secrets; the built-in one cannot be removed; duplicates refused.
    let profiles = env.run(&["profile", "list", "--json"]).await;
    let names: Vec<String> = profiles
        .ok()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, vec!["sandbox", "shop"]);
    let r = env.run(&["profile", "remove", "sandbox", "--json"]).await;
    assert_eq!(r.failed().err_json()["type"], "builtin_profile_immutable");
    let base = env.base_url();
    let dup = env
        .run_with(
            &[
                "profile",
                "add",
                "shop",
                "--provider",
                "yilianyun",
                "--client-id",
                BUILTIN_OPEN_APP_ID,
                "--base-url",
                &base,
            ],
            Some("x-secret-value\n"),
            &[],
        )
        .await;
    dup.failed();
    assert!(
        dup.stderr.contains("已存在") && dup.stderr.contains("already exists"),
        "{}",
        dup.stderr
    );

    // 1. payload with a qr_key
    let (mc_payload, key) = env.authorize_new("shop").await;
    secrets.push(key);
    // 2. machine code + qr_key
    let label = env.sandbox.mint_label(LabelKind::QrKey);
    secrets.push(label.key().to_owned());
    let r = env
        .run(&[
            "authorize",
            "--profile",
            "shop",
            "--machine-code",
            &label.machine_code,
            "--qr-key",
            label.key(),
            "--json",
        ])
        .await;
    let v = r.ok().json();
    assert_eq!(v["id"], label.machine_code.as_str());
    assert_eq!(v["provider"], "yilianyun");
    assert_eq!(v["profile"], "shop");
    assert!(chrono::DateTime::parse_from_rfc3339(v["expires_at"].as_str().unwrap()).is_ok());
    assert!(
        chrono::DateTime::parse_from_rfc3339(v["refresh_expires_at"].as_str().unwrap()).is_ok()
    );
    assert_eq!(
        v["ownership"], "kept",
        "a profile without a destination keeps its devices"
    );
    assert_eq!(
        v.as_object().unwrap().len(),
        6,
        "exactly the documented keys: {v}"
    );
    let mc_keys = label.machine_code.clone();
    // 3. machine code + msign (from stdin: a permanent key never goes on the command line)
    let label = env.sandbox.mint_label(LabelKind::Msign);
    secrets.push(label.key().to_owned());
    env.run_with(
        &[
            "authorize",
            "--profile",
            "shop",
            "--machine-code",
            &label.machine_code,
            "--msign",
            "-",
            "--json",
        ],
        Some(&format!("{}\n", label.key())),
        &[],
    )
    .await
    .ok();
    let mc_msign = label.machine_code.clone();
    // 4. image of a rendered label, also decoded by `decode`
    let label = env.sandbox.mint_label(LabelKind::QrKey);
    secrets.push(label.key().to_owned());
    let payload = quickauth_qr::parse_payload(&label.payload).unwrap();
    let img =
        quickauth_qr::label::render_payload(&payload, quickauth_qr::PayloadFormat::JsonSnake, 8)
            .unwrap();
    let png = env
        .data_dir()
        .parent()
        .unwrap()
        .join(format!("label-{}.png", label.machine_code));
    std::fs::write(&png, quickauth_qr::label::png_bytes(&img)).unwrap();
    let png_s = png.to_str().unwrap();
    let d = env.run(&["decode", png_s, "--json"]).await;
    let dv = d.ok().json();
    assert_eq!(dv["machine_code"], label.machine_code.as_str());
    assert_eq!(dv["qr_key"], label.key());
    assert!(dv["error"].is_null() && dv.get("msign").is_none());
    assert_eq!(
        dv["texts"],
        serde_json::json!([dv["payload"].as_str().unwrap()])
    );
    let blank = env
        .data_dir()
        .parent()
        .unwrap()
        .join(format!("blank-{}.png", label.machine_code));
    std::fs::write(&blank, quickauth_qr::label::png_bytes(&image_blank())).unwrap();
    let d = env
        .run(&["decode", blank.to_str().unwrap(), "--json"])
        .await;
    let dv: Value = serde_json::from_str(d.stdout.trim()).unwrap();
    assert_eq!(d.code, Some(1));
    assert!(dv["payload"].is_null() && dv["error"].is_string());
    assert_eq!(dv["texts"], serde_json::json!([]));
    // Several files in one call are decoded on several threads and printed in the order given: the slow
    // blank image (a full search) before the quick label behind it.
    let blank_s = blank.to_str().unwrap();
    let d = env
        .run(&["decode", blank_s, png_s, blank_s, png_s, "--json"])
        .await;
    assert_eq!(
        d.code,
        Some(1),
        "a file without a code makes the batch exit 1"
    );
    let lines: Vec<Value> = d
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{}", d.stdout);
    for (i, v) in lines.iter().enumerate() {
        let want = if i % 2 == 0 { blank_s } else { png_s };
        assert_eq!(v["file"], want, "line {i}");
        assert_eq!(v["machine_code"].is_null(), i % 2 == 0, "line {i}");
    }
    assert_eq!(lines[1]["qr_key"], label.key());
    env.run(&["authorize", "--profile", "shop", "--image", png_s, "--json"])
        .await
        .ok();
    let mc_image = label.machine_code.clone();
    std::fs::remove_file(&png).ok();
    std::fs::remove_file(&blank).ok();

    // Lingju, both endpoints.
    env.run_with(
        &[
            "profile",
            "add",
            "lj",
            "--provider",
            "lingju",
            "--endpoint",
            "httpapi",
            "--base-url",
            &base,
        ],
        Some(&format!(
            "{BUILTIN_LINGJU_APPKEY}\n{BUILTIN_LINGJU_AUTHCODE}\n"
        )),
        &[],
    )
    .await
    .ok();
    let r = env
        .run(&[
            "authorize",
            "--profile",
            "lj",
            "--userid",
            "AA:BB:CC:00:11:22",
            "--json",
        ])
        .await;
    let v = r.ok().json();
    assert_eq!(
        (v["id"].as_str(), v["provider"].as_str()),
        (Some("AABBCC001122"), Some("lingju"))
    );
    env.sandbox.register_lingju_user("BLT0001").unwrap();
    env.run_with(
        &[
            "profile",
            "add",
            "ljb",
            "--provider",
            "lingju",
            "--endpoint",
            "bltapi",
            "--base-url",
            &base,
        ],
        Some(&format!("{BUILTIN_LINGJU_APPKEY}\n")),
        &[],
    )
    .await
    .ok();
    env.run(&[
        "authorize",
        "--profile",
        "ljb",
        "--userid",
        "BLT0001",
        "--json",
    ])
    .await
    .ok();
    let unknown = env
        .run(&[
            "authorize",
            "--profile",
            "ljb",
            "--userid",
            "NOTREGISTERED1",
            "--json",
        ])
        .await;
    assert_eq!(unknown.failed().err_json()["type"], "api");

    // list: every device, the documented shape, no secret.
    let list = env.run(&["list", "--json"]).await;
    let arr = list.ok().json();
    let ids: Vec<&str> = arr
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    for id in [
        &mc_payload,
        &mc_keys,
        &mc_msign,
        &mc_image,
        &"AABBCC001122".to_string(),
        &"BLT0001".to_string(),
    ] {
        assert!(ids.contains(&id.as_str()), "{id} missing from {ids:?}");
    }

    // token: masked vs --reveal.
    let masked = env.run(&["token", &mc_payload, "--json"]).await;
    let mv = masked.ok().json();
    assert_eq!(mv["access_token"], "********");
    let (at1, rt1) = env.reveal(&mc_payload).await;
    let rt1 = rt1.unwrap();
    assert!(!masked.stdout.contains(&at1) && !masked.stdout.contains(&rt1));
    let human = env.run(&["token", &mc_payload]).await;
    assert!(!human.ok().stdout.contains(&at1));

    // refresh: a new pair, generation + 1, and it is the pair the server issued (a replay returns it).
    let r = env.run(&["refresh", &mc_payload, "--json"]).await;
    assert_eq!(r.ok().json().as_object().unwrap().len(), 6);
    let (at2, rt2) = env.reveal(&mc_payload).await;
    assert_ne!(at2, at1);
    assert_eq!(
        server_result_for(&env, &rt1).await,
        (at2.clone(), rt2.clone().unwrap())
    );
    assert_eq!(
        generation(&env.run(&["token", &mc_payload, "--json"]).await.json()),
        2
    );
    // Lingju refresh = authorize again.
    env.run(&["refresh", "lingju:AABBCC001122", "--json"])
        .await
        .ok();

    // status + print-test over the stored token.
    let s = env.run(&["status", &mc_payload, "--json"]).await;
    let sv = s.ok().json();
    assert_eq!(sv["state"], "online");
    assert!(sv["software"].is_string());
    let p = env.run(&["print-test", &mc_payload, "--json"]).await;
    let pv = p.ok().json();
    let origin = pv["origin_id"].as_str().unwrap().to_owned();
    let p2 = env.run(&["print-test", &mc_payload, "--json"]).await;
    assert_ne!(
        p2.ok().json()["origin_id"].as_str().unwrap(),
        origin,
        "origin_id unique per ticket"
    );
    let printed = env.sandbox.printed(&mc_payload).unwrap();
    assert!(printed.iter().any(|t| t.origin_id == origin
        && t.content.contains(&mc_payload)
        && t.content.contains("QuickAuth")));

    // Errors: exit 1 with zh+en (or the ErrorReport JSON), usage errors exit 2.
    let nf = env.run(&["status", "4004999999"]).await;
    nf.failed();
    assert!(nf.stderr.contains("错误") && nf.stderr.contains("Error:"));
    let nfj = env.run(&["token", "4004999999", "--json"]).await;
    let ej = nfj.failed().err_json();
    for k in [
        "type",
        "code",
        "message_zh",
        "message_en",
        "action",
        "retryable",
    ] {
        assert!(ej.get(k).is_some(), "{k} missing in {ej}");
    }
    assert_eq!(ej["type"], "device_not_found");
    assert_eq!(env.run(&["authorize"]).await.code, Some(2));
    assert_eq!(env.run(&["refresh"]).await.code, Some(2));
    assert_eq!(
        env.run(&["authorize", "--machine-code", "4004000000"])
            .await
            .code,
        Some(2)
    );
    assert_eq!(env.run(&["no-such-command"]).await.code, Some(2));
    let bad_mc = env
        .run(&[
            "authorize",
            "--profile",
            "shop",
            "--machine-code",
            "40x4",
            "--qr-key",
            "abcdefghijk",
            "--json",
        ])
        .await;
    assert_eq!(bad_mc.failed().err_json()["type"], "invalid_input");
    let in_use = env.run(&["profile", "remove", "shop"]).await;
    in_use.failed();

    // forget --remote: deleteprinter first, then local state; the printer is no longer bound to the app.
    let before = env
        .sandbox
        .requests(1000)
        .iter()
        .filter(|r| r.path.ends_with("/printer/deleteprinter"))
        .count();
    env.run(&["forget", &mc_msign, "--remote"]).await.ok();
    let after = env
        .sandbox
        .requests(1000)
        .iter()
        .filter(|r| r.path.ends_with("/printer/deleteprinter"))
        .count();
    assert_eq!(after, before + 1);
    env.run(&["forget", &mc_image]).await.ok();
    let ids: Vec<String> = env
        .run(&["list", "--json"])
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!ids.contains(&mc_msign) && !ids.contains(&mc_image));
    assert_eq!(env.run(&["token", &mc_msign, "--json"]).await.code, Some(1));

    // history: every attempt, ok and error, with error kinds and no secret.
    let h = env.run(&["history", "--json"]).await;
    let hv = h.ok().json();
    let entries = hv.as_array().unwrap();
    assert!(entries
        .iter()
        .any(|e| e["action"] == "authorize" && e["outcome"] == "ok"));
    assert!(entries
        .iter()
        .any(|e| e["action"] == "refresh" && e["outcome"] == "ok"));
    assert!(entries.iter().any(|e| e["action"] == "status"
        && e["outcome"] == "error"
        && e["error_kind"] == "device_not_found"));
    assert!(entries
        .iter()
        .any(|e| e["action"] == "forget_remote" && e["outcome"] == "ok"));

    // Collect every token still or once stored, then scan everything.
    secrets.extend([at1, rt1, at2, rt2.unwrap()]);
    for id in [
        &mc_payload,
        &mc_keys,
        &"AABBCC001122".to_string(),
        &"BLT0001".to_string(),
    ] {
        let (a, r) = env.reveal(id).await;
        secrets.push(a);
        secrets.extend(r);
    }
    env.assert_no_secrets(&secrets);
}

fn image_blank() -> image::GrayImage {
    image::GrayImage::from_pixel(120, 120, image::Luma([255u8]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_is_refused_locally_at_20_and_server_41_fills_the_day() {
    let env = Env::new().await;
    env.add_profile("q", "v1").await;
    let (mc, _) = env.authorize_new("q").await; // grant 1
    for _ in 0..19 {
        env.run(&["refresh", &mc, "--json"]).await.ok(); // grants 2..=20
    }
    let sent = env.refresh_requests();
    assert_eq!(sent, 19);
    let r = env.run(&["refresh", &mc, "--json"]).await;
    let e = r.failed().err_json();
    assert_eq!(e["type"], "quota_exhausted");
    assert_eq!(e["action"], "wait_until_tomorrow");
    let reset = quickauth_core::quota_reset_at(chrono::Utc::now()).to_rfc3339();
    assert!(e["message_en"].as_str().unwrap().contains(&reset), "{e}");
    assert!(e["message_zh"].as_str().unwrap().contains("UTC+8"), "{e}");
    assert_eq!(
        env.refresh_requests(),
        sent,
        "refused before calling the server"
    );
    let human = env.run(&["refresh", &mc]).await;
    assert!(human.failed().stderr.contains("今天") && human.stderr.contains("Try again after"));

    // Another data dir does not know the local count: the server answers 41, which fills its local day.
    let env2 = common::Env::new_sharing(&env).await;
    env2.add_profile("q", "v1").await;
    let label = env.sandbox.mint_label_for(LabelKind::QrKey, &mc);
    let r = env2
        .run(&[
            "authorize",
            "--profile",
            "q",
            "--machine-code",
            &mc,
            "--qr-key",
            label.key(),
            "--json",
        ])
        .await;
    let e = r.failed().err_json();
    assert_eq!(e["code"], 41);
    let grants_before = env
        .sandbox
        .requests(1000)
        .iter()
        .filter(|r| r.path.ends_with("/oauth/scancodemodel"))
        .count();
    let r = env2
        .run(&[
            "authorize",
            "--profile",
            "q",
            "--machine-code",
            &mc,
            "--qr-key",
            label.key(),
            "--json",
        ])
        .await;
    assert_eq!(r.failed().err_json()["type"], "quota_exhausted");
    let grants_after = env
        .sandbox
        .requests(1000)
        .iter()
        .filter(|r| r.path.ends_with("/oauth/scancodemodel"))
        .count();
    assert_eq!(
        grants_after, grants_before,
        "second attempt refused locally"
    );
    let (at, rt) = env.reveal(&mc).await;
    env.assert_no_secrets(&[
        BUILTIN_OPEN_APP_SECRET.into(),
        label.key().to_owned(),
        at,
        rt.unwrap(),
    ]);
    env2.assert_no_secrets(&[BUILTIN_OPEN_APP_SECRET.into(), label.key().to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_refresh_reply_ends_with_the_tokens_issued_for_it() {
    let env = Env::new().await;
    env.add_profile("t", "v1").await;
    let (mc, key) = env.authorize_new("t").await;
    let (at0, rt0) = env.reveal(&mc).await;
    let rt0 = rt0.unwrap();
    // Every attempt of this refresh loses its reply (the server did refresh each time).
    env.sandbox.set_fault(
        FaultRule::new(FaultMode::DropReply)
            .on_path("/oauth/oauth")
            .times(3),
    );
    let r = env.run(&["refresh", &mc, "--json"]).await;
    let e = r.failed().err_json();
    assert_eq!(e["retryable"], true, "{e}");
    assert_eq!(env.refresh_requests(), 3, "bounded: 3 attempts");
    let reqs = env.sandbox.requests(1000);
    assert!(reqs
        .iter()
        .filter(|r| r.path.ends_with("/oauth/oauth"))
        .all(|r| r.fault.as_deref() == Some("drop_reply")));
    // The next refresh completes the lost one (it must not refresh again): it stores exactly what the server
    // issued for the old token.
    let r = env.run(&["refresh", &mc, "--json"]).await;
    r.ok();
    assert_eq!(
        env.refresh_requests(),
        4,
        "one replay of the old refresh token, no new refresh"
    );
    let (at1, rt1) = env.reveal(&mc).await;
    assert_ne!(at1, at0);
    assert_eq!(
        server_result_for(&env, &rt0).await,
        (at1.clone(), rt1.clone().unwrap())
    );
    assert_eq!(
        generation(&env.run(&["token", &mc, "--json"]).await.json()),
        2
    );
    // And the stored token works.
    env.run(&["status", &mc, "--json"]).await.ok();
    env.assert_no_secrets(&[
        BUILTIN_OPEN_APP_SECRET.into(),
        key,
        at0,
        rt0,
        at1,
        rt1.unwrap(),
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_at_each_step_is_completed_by_the_next_run() {
    let env = Env::new().await;
    env.add_profile("t", "v1").await;
    let (mc, key) = env.authorize_new("t").await;
    let mut secrets = vec![BUILTIN_OPEN_APP_SECRET.to_string(), key];
    let mut expected_generation = 1;
    for (step, requests_for_step) in [
        ("before_send", 1),
        ("after_send_before_keyring", 2),
        ("after_keyring_before_db", 1),
        ("after_db_before_journal_clear", 1),
    ] {
        let (at_old, rt_old) = env.reveal(&mc).await;
        let rt_old = rt_old.unwrap();
        let before = env.refresh_requests();
        let crashed = env
            .run_with(
                &["refresh", &mc, "--json"],
                None,
                &[("QUICKAUTH_CRASH_AT", step)],
            )
            .await;
        assert_eq!(
            crashed.code, None,
            "{step}: killed by abort, stderr: {}",
            crashed.stderr
        );
        // The next run (any command) completes the interrupted refresh.
        env.run(&["list", "--json"]).await.ok();
        expected_generation += 1;
        let info = env.run(&["token", &mc, "--json"]).await.json();
        assert_eq!(generation(&info), expected_generation, "{step}");
        let (at_new, rt_new) = env.reveal(&mc).await;
        let rt_new = rt_new.unwrap();
        assert_ne!(at_new, at_old, "{step}");
        assert_eq!(env.refresh_requests() - before, requests_for_step, "{step}");
        assert_eq!(
            server_result_for(&env, &rt_old).await,
            (at_new.clone(), rt_new.clone()),
            "{step}: stored = what the server issued"
        );
        let h = env.run(&["history", "--json"]).await.json();
        let recoveries = h
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "recover_refresh" && e["outcome"] == "ok")
            .count();
        assert_eq!(
            recoveries,
            expected_generation as usize - 1,
            "{step}: one recovery per crash"
        );
        secrets.extend([at_old, rt_old, at_new, rt_new]);
    }
    env.run(&["status", &mc, "--json"]).await.ok();
    env.assert_no_secrets(&secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clis_refreshing_at_once_send_one_refresh() {
    let env = Env::new().await;
    env.add_profile("t", "v1").await;
    let (mc, _) = env.authorize_new("t").await;
    env.sandbox.set_fault(
        FaultRule::new(FaultMode::Slow)
            .on_path("/oauth/oauth")
            .delay_ms(3000)
            .times(1),
    );
    let a = env.spawn(&["refresh", &mc, "--json"], &[]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let b = env.spawn(&["refresh", &mc, "--json"], &[]);
    let (ra, rb) = tokio::join!(finish(a, None), finish(b, None));
    env.capture(&ra, false);
    env.capture(&rb, false);
    ra.ok();
    rb.ok();
    assert_eq!(
        env.refresh_requests(),
        1,
        "exactly one refresh reached the server"
    );
    assert_eq!(ra.json(), rb.json(), "both report the same result");
    assert_eq!(
        generation(&env.run(&["token", &mc, "--json"]).await.json()),
        2
    );
    let (at, rt) = env.reveal(&mc).await;
    env.assert_no_secrets(&[BUILTIN_OPEN_APP_SECRET.into(), at, rt.unwrap()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_flow_via_loopback_redirect_and_via_pasted_url() {
    let env = Env::new().await;
    env.add_profile("open", "v2").await;
    let url_file = env
        .data_dir()
        .parent()
        .unwrap()
        .join(format!("browser-url-{}", std::process::id()));
    let script = env
        .data_dir()
        .parent()
        .unwrap()
        .join(format!("browser-{}.sh", std::process::id()));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s' \"$1\" > '{}.tmp' && mv '{}.tmp' '{}'\n",
            url_file.display(),
            url_file.display(),
            url_file.display()
        ),
    )
    .unwrap();
    let browser = format!("sh {}", script.display());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    for (n, pasted) in [(0, false), (1, true)] {
        let _ = std::fs::remove_file(&url_file);
        let mc = format!("40047700{n:02}");
        let mut child = env.spawn(
            &["authorize", "--profile", "open", "--code-flow", "--json"],
            &[("QUICKAUTH_BROWSER", &browser)],
        );
        let mut stdin = child.stdin.take().unwrap();
        let url = url::Url::parse(&wait_for_file(&url_file).await).unwrap();
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert!(q["state"].len() >= 16, "random state");
        // The approval page posts back to the same path; approve as the merchant would.
        let page = http
            .get(url.clone())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("Approve"));
        let form = [
            ("client_id", q["client_id"].as_str()),
            ("redirect_uri", q["redirect_uri"].as_str()),
            ("state", q["state"].as_str()),
            ("machine_code", mc.as_str()),
            ("decision", "approve"),
        ];
        let action = page
            .split("action=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("form action");
        let approve = http
            .post(url.join(action).unwrap())
            .form(&form)
            .send()
            .await
            .unwrap();
        assert!(approve.status().is_redirection(), "{}", approve.status());
        let location = approve.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with("http://127.0.0.1:")
                && location.contains("code=")
                && location.contains("state=")
        );
        use tokio::io::AsyncWriteExt;
        if pasted {
            stdin
                .write_all(format!("{location}\n").as_bytes())
                .await
                .unwrap();
        } else {
            let body = http
                .get(&location)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(body.contains("Authorization received"));
        }
        drop(stdin);
        let run = finish(child, None).await;
        env.capture(&run, false);
        let v = run.ok().json();
        assert_eq!(v["id"], mc.as_str());
        assert_eq!(v["profile"], "open");
        assert!(run.stderr.contains(url.as_str()), "URL printed on stderr");
    }

    // A callback with a forged state is refused.
    let _ = std::fs::remove_file(&url_file);
    let mut child = env.spawn(
        &["authorize", "--profile", "open", "--code-flow", "--json"],
        &[("QUICKAUTH_BROWSER", &browser)],
    );
    let mut stdin = child.stdin.take().unwrap();
    wait_for_file(&url_file).await;
    use tokio::io::AsyncWriteExt;
    stdin
        .write_all(b"http://127.0.0.1:1/callback?code=abc&state=forged\n")
        .await
        .unwrap();
    drop(stdin);
    let run = finish(child, None).await;
    assert_eq!(run.failed().err_json()["type"], "state_mismatch");
    let _ = std::fs::remove_file(&script);
    let _ = std::fs::remove_file(&url_file);
    let mut secrets = vec![BUILTIN_OPEN_APP_SECRET.to_string()];
    for n in 0..2 {
        let (at, rt) = env.reveal(&format!("40047700{n:02}")).await;
        secrets.extend([at, rt.unwrap()]);
    }
    env.assert_no_secrets(&secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_18_refreshes_once_then_asks_for_reauthorization() {
    let env = Env::new().await;
    env.add_profile("t", "v1").await;
    let (mc, _) = env.authorize_new("t").await;
    // 31 days later the access token has expired (18) but the refresh token (35 days) still works.
    env.sandbox.advance(Duration::from_secs(31 * 24 * 3600));
    let r = env.run(&["status", &mc, "--json"]).await;
    r.ok();
    assert_eq!(env.refresh_requests(), 1);
    assert_eq!(
        generation(&env.run(&["token", &mc, "--json"]).await.json()),
        2
    );
    // 36 more days: both expired. One refresh is tried (20), then the user is asked to authorize again.
    env.sandbox.advance(Duration::from_secs(36 * 24 * 3600));
    let r = env.run(&["status", &mc, "--json"]).await;
    let e = r.failed().err_json();
    assert_eq!(e["type"], "needs_reauthorization");
    assert_eq!(e["action"], "reauthorize");
    assert_eq!(env.refresh_requests(), 2);
    // Marked: no further server calls until re-authorized.
    let r = env.run(&["print-test", &mc, "--json"]).await;
    assert_eq!(r.failed().err_json()["type"], "needs_reauthorization");
    assert_eq!(env.refresh_requests(), 2);
    let (at, rt) = env.reveal(&mc).await;
    env.assert_no_secrets(&[BUILTIN_OPEN_APP_SECRET.into(), at, rt.unwrap()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_all_follows_the_days_left_policy() {
    let env = Env::new().await;
    env.add_profile("t", "v1").await;
    let (a, _) = env.authorize_new("t").await;
    let (b, _) = env.authorize_new("t").await;
    // Fresh 30-day tokens: nothing is due with the default of 5 days.
    let r = env.run(&["refresh", "--all", "--json"]).await;
    assert_eq!(r.ok().json(), serde_json::json!([]));
    assert_eq!(env.refresh_requests(), 0);
    // With "refresh when fewer than 31 days are left" both are due.
    let r = env
        .run_with(
            &["refresh", "--all", "--json"],
            None,
            &[("QUICKAUTH_REFRESH_DAYS", "31")],
        )
        .await;
    let v = r.ok().json();
    let mut ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut want = vec![a.as_str(), b.as_str()];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(env.refresh_requests(), 2);
    // A failing device makes the run exit 1 and is reported with its error; the other one still refreshes.
    env.sandbox.set_fault(
        FaultRule::new(FaultMode::Html500)
            .on_path("/oauth/oauth")
            .times(3),
    );
    let r = env
        .run_with(
            &["refresh", "--all", "--json"],
            None,
            &[("QUICKAUTH_REFRESH_DAYS", "31")],
        )
        .await;
    assert_eq!(r.code, Some(1));
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    assert_eq!(
        arr.iter().filter(|d| d.get("error").is_some()).count(),
        1,
        "{v}"
    );
    let mut secrets = vec![BUILTIN_OPEN_APP_SECRET.to_string()];
    for id in [&a, &b] {
        let (at, rt) = env.reveal(id).await;
        secrets.extend([at, rt.unwrap()]);
    }
    env.assert_no_secrets(&secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_in_the_foreground_and_offline_minted_labels() {
    use tokio::io::AsyncBufReadExt;
    let env = Env::new().await;
    let mut server = env.spawn(&["sandbox", "--port", "0"], &[]);
    let mut lines = tokio::io::BufReader::new(server.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let base = first
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .expect("URL on the first line")
        .to_owned();
    let run = env
        .run_with(
            &[
                "profile",
                "add",
                "fg",
                "--provider",
                "yilianyun",
                "--client-id",
                BUILTIN_OPEN_APP_ID,
                "--api",
                "v1",
                "--base-url",
                &base,
            ],
            Some(&format!("{BUILTIN_OPEN_APP_SECRET}\n")),
            &[],
        )
        .await;
    run.ok();

    // kv payload with a qr_key → authorize by payload.
    let minted = env.run(&["sandbox", "mint", "--format", "kv"]).await;
    let payload = minted.ok().stdout.trim().to_owned();
    assert!(
        payload.starts_with("machine_code=4004") && payload.contains("&qr_key="),
        "{payload}"
    );
    let v = env
        .run(&[
            "authorize",
            "--profile",
            "fg",
            "--payload",
            &payload,
            "--json",
        ])
        .await;
    v.ok();
    // msign label as a PNG (hash format) → authorize by image.
    let png = env
        .data_dir()
        .parent()
        .unwrap()
        .join(format!("mint-{}.png", std::process::id()));
    let minted = env
        .run(&[
            "sandbox",
            "mint",
            "--msign",
            "--format",
            "hash",
            "--png",
            png.to_str().unwrap(),
        ])
        .await;
    let text = minted.ok().stdout.trim().to_owned();
    let (mc, msign) = text.split_once('#').expect("4004…#KEY");
    let r = env
        .run(&[
            "authorize",
            "--profile",
            "fg",
            "--image",
            png.to_str().unwrap(),
            "--json",
        ])
        .await;
    assert_eq!(r.ok().json()["id"], mc);
    env.run(&["status", mc, "--json"]).await.ok();
    std::fs::remove_file(&png).ok();
    server.start_kill().unwrap();
    let _ = server.wait().await;
    let (at, rt) = env.reveal(mc).await;
    env.assert_no_secrets(&[
        BUILTIN_OPEN_APP_SECRET.into(),
        msign.to_owned(),
        at,
        rt.unwrap(),
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_keyring_nothing_is_sent_and_the_error_is_clear() {
    let env = Env::new().await;
    let label = env.sandbox.mint_label(LabelKind::QrKey);
    let started = std::time::Instant::now();
    let r = env
        .run_with(
            &["authorize", "--payload", &label.payload, "--json"],
            None,
            &[(
                "DBUS_SESSION_BUS_ADDRESS",
                "unix:path=/nonexistent/quickauth-test-bus",
            )],
        )
        .await;
    let e = r.failed().err_json();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "clear error within seconds"
    );
    assert_eq!(e["type"], "keyring_unavailable", "{e}");
    assert!(e["message_zh"].as_str().unwrap().contains("密钥环"));
    // The built-in sandbox was never even started: no grant was spent on tokens that could not be stored.
    assert!(!env.data_dir().join("sandbox").exists());
    env.assert_no_secrets(&[label.key().to_owned()]);
}

/// The hygiene scan itself must be able to fail: a planted value in the data dir is found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "a secret is in")]
async fn the_secret_scan_finds_a_planted_value() {
    let env = Env::new().await;
    std::fs::write(
        env.data_dir().join("planted.txt"),
        b"xx planted-secret-value-123 xx",
    )
    .unwrap();
    env.assert_no_secrets(&["planted-secret-value-123".into()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_add_takes_secrets_only_from_stdin() {
    let env = Env::new().await;
    // No secret on stdin: refused, nothing stored.
    let r = env
        .run_with(
            &[
                "profile",
                "add",
                "p1",
                "--provider",
                "yilianyun",
                "--client-id",
                "1234",
                "--json",
            ],
            Some(""),
            &[],
        )
        .await;
    assert_eq!(r.failed().err_json()["type"], "invalid_input");
    let names = env.run(&["profile", "list", "--json"]).await.json();
    assert_eq!(
        names.as_array().unwrap().len(),
        1,
        "only the built-in profile: {names}"
    );
    // Usage errors (exit 2): missing --client-id, Yilianyun options on a Lingju profile, unknown region.
    let r = env
        .run_with(
            &["profile", "add", "p2", "--provider", "yilianyun"],
            Some("s3cret-x\n"),
            &[],
        )
        .await;
    assert_eq!(r.code, Some(2));
    let r = env
        .run_with(
            &[
                "profile",
                "add",
                "p3",
                "--provider",
                "lingju",
                "--region",
                "cn",
            ],
            Some("k\n"),
            &[],
        )
        .await;
    assert_eq!(r.code, Some(2));
    let r = env
        .run_with(
            &[
                "profile",
                "add",
                "p4",
                "--provider",
                "yilianyun",
                "--client-id",
                "1",
                "--region",
                "mars",
            ],
            Some("k\n"),
            &[],
        )
        .await;
    assert_eq!(r.code, Some(2));
    // Lingju: appkey on line 1, the authcode line is optional.
    let r = env
        .run_with(
            &["profile", "add", "soft", "--provider", "lingju", "--json"],
            Some("appkey-line-one-xyz\n"),
            &[],
        )
        .await;
    let v = r.ok().json();
    assert_eq!(v[0]["endpoint"], "httpapi");
    assert_eq!(v[0]["base_url"], "https://dev.lingju.ai/");
    env.assert_no_secrets(&["s3cret-x".into(), "appkey-line-one-xyz".into()]);
}

/// How many fast-authorize requests the test's sandbox has received.
fn scancode_requests(env: &Env) -> usize {
    env.sandbox
        .requests(1000)
        .iter()
        .filter(|r| r.path.ends_with("/oauth/scancodemodel"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_msign_never_comes_from_the_command_line() {
    let env = Env::new().await;
    env.add_profile("shop", "v2").await;
    let files = tempfile::tempdir().unwrap();
    let mut secrets = vec![BUILTIN_OPEN_APP_SECRET.to_owned()];

    // A literal --msign: exit 2 before anything is opened or sent, the stdin form shown, the value never repeated.
    let label = env.sandbox.mint_label(LabelKind::Msign);
    secrets.push(label.key().to_owned());
    let mc = label.machine_code.as_str();
    for json in [false, true] {
        let mut args = vec![
            "authorize",
            "--profile",
            "shop",
            "--machine-code",
            mc,
            "--msign",
            label.key(),
        ];
        if json {
            args.push("--json");
        }
        let r = env.run(&args).await;
        assert_eq!(r.code, Some(2), "{}", r.stderr);
        assert!(
            r.stderr.contains("--msign -") && r.stderr.contains("@"),
            "{}",
            r.stderr
        );
        assert!(
            r.stderr.contains("命令行") && r.stderr.contains("command line"),
            "{}",
            r.stderr
        );
        assert!(
            r.stderr.contains(&format!("--machine-code {mc} --msign -")),
            "{}",
            r.stderr
        );
    }
    // Only one value can come from stdin: clap refuses two sources at once, and names flags, not values.
    for args in [
        vec![
            "authorize",
            "--profile",
            "shop",
            "--machine-code",
            mc,
            "--qr-key",
            "-",
            "--msign",
            label.key(),
        ],
        vec![
            "authorize",
            "--profile",
            "shop",
            "--payload",
            "-",
            "--machine-code",
            mc,
            "--msign",
            label.key(),
        ],
    ] {
        let r = env.run_with(&args, None, &[]).await;
        assert_eq!(r.code, Some(2), "{}", r.stderr);
        assert!(r.stderr.contains("cannot be used with"), "{}", r.stderr);
    }
    assert_eq!(
        scancode_requests(&env),
        0,
        "a refused literal sends nothing"
    );

    // stdin: one line, surrounding whitespace (CRLF from a Windows editor) dropped.
    let r = env
        .run_with(
            &[
                "authorize",
                "--profile",
                "shop",
                "--machine-code",
                mc,
                "--msign",
                "-",
                "--json",
            ],
            Some(&format!(
                "  {}\r\nthis second line is ignored\n",
                label.key()
            )),
            &[],
        )
        .await;
    assert_eq!(r.ok().json()["id"], mc);
    let sent = env.sandbox.requests(1000);
    let scan = sent
        .iter()
        .rfind(|r| r.path.ends_with("/oauth/scancodemodel"))
        .unwrap();
    // The sandbox records secrets masked; that it granted proves the key arrived intact (CRLF and spaces gone).
    assert!(scan.params.contains_key("msign") && !scan.params.contains_key("qr_key"));

    // @file: its first line.
    let label = env.sandbox.mint_label(LabelKind::Msign);
    secrets.push(label.key().to_owned());
    let key_file = files.path().join("msign.txt");
    std::fs::write(&key_file, format!("{}\n", label.key())).unwrap();
    let at_file = format!("@{}", key_file.display());
    let r = env
        .run(&[
            "authorize",
            "--profile",
            "shop",
            "--machine-code",
            &label.machine_code,
            "--msign",
            &at_file,
            "--json",
        ])
        .await;
    assert_eq!(r.ok().json()["id"], label.machine_code.as_str());
    std::fs::remove_file(&key_file).unwrap();

    // A file that cannot be read: the error names the path (exit 1, invalid_input), never what is in it.
    let missing = files.path().join("no-such-msign.txt");
    let r = env
        .run(&[
            "authorize",
            "--profile",
            "shop",
            "--machine-code",
            mc,
            "--msign",
            &format!("@{}", missing.display()),
            "--json",
        ])
        .await;
    let rep = r.failed().err_json();
    assert_eq!(rep["type"], "invalid_input");
    let text = format!("{} {}", rep["message_zh"], rep["message_en"]);
    assert!(
        text.contains(&missing.display().to_string()) && text.contains("--msign"),
        "{text}"
    );
    let binary = files.path().join("binary.bin");
    std::fs::write(&binary, b"\xff\xfeSECRETBYTES\xff").unwrap();
    let r = env
        .run(&[
            "authorize",
            "--profile",
            "shop",
            "--machine-code",
            mc,
            "--msign",
            &format!("@{}", binary.display()),
        ])
        .await;
    r.failed();
    assert!(
        r.stderr.contains(&binary.display().to_string()) && !r.stderr.contains("SECRETBYTES"),
        "{}",
        r.stderr
    );
    // Nothing on stdin at all: the key is empty, said plainly.
    let r = env
        .run_with(
            &[
                "authorize",
                "--profile",
                "shop",
                "--machine-code",
                mc,
                "--msign",
                "-",
                "--json",
            ],
            Some(""),
            &[],
        )
        .await;
    let rep = r.failed().err_json();
    assert_eq!(rep["type"], "invalid_input");
    assert!(
        rep["message_en"].as_str().unwrap().contains("msign"),
        "{rep}"
    );

    // A label payload carrying an msign: refused as a literal (exit 2), accepted from stdin and from a file,
    // even when it spans lines.
    let label = env.sandbox.mint_label(LabelKind::Msign);
    secrets.push(label.key().to_owned());
    let kv = format!("machine_code={}&msign={}", label.machine_code, label.key());
    let r = env
        .run(&["authorize", "--profile", "shop", "--payload", &kv, "--json"])
        .await;
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("--payload -"), "{}", r.stderr);
    let r = env
        .run_with(
            &["authorize", "--profile", "shop", "--payload", "-", "--json"],
            Some(&format!("{kv}\n")),
            &[],
        )
        .await;
    assert_eq!(r.ok().json()["id"], label.machine_code.as_str());
    let label = env.sandbox.mint_label(LabelKind::Msign);
    secrets.push(label.key().to_owned());
    let payload_file = files.path().join("label.txt");
    std::fs::write(
        &payload_file,
        format!(
            "K4 cloud printer\nmachine_code={}\nmsign={}\n",
            label.machine_code,
            label.key()
        ),
    )
    .unwrap();
    let r = env
        .run(&[
            "authorize",
            "--profile",
            "shop",
            "--payload",
            &format!("@{}", payload_file.display()),
            "--json",
        ])
        .await;
    assert_eq!(r.ok().json()["id"], label.machine_code.as_str());
    std::fs::remove_file(&payload_file).unwrap();

    // Every refusal above printed none of the keys; no file under HOME or the data dir holds one.
    env.assert_no_secrets(&secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_keys_from_argv_stdin_or_file_and_one_key_validator() {
    let env = Env::new().await;
    env.add_profile("shop", "v1").await;
    let files = tempfile::tempdir().unwrap();
    let mut secrets = vec![BUILTIN_OPEN_APP_SECRET.to_owned()];

    // A qr_key dies in 300 s: a literal stays allowed, and so does a literal payload carrying one.
    let label = env.sandbox.mint_label(LabelKind::QrKey);
    secrets.push(label.key().to_owned());
    let r = env
        .run(&[
            "authorize",
            "--profile",
            "shop",
            "--machine-code",
            &label.machine_code,
            "--qr-key",
            label.key(),
            "--json",
        ])
        .await;
    assert_eq!(r.ok().json()["id"], label.machine_code.as_str());
    // stdin and @file work for it too.
    let label = env.sandbox.mint_label(LabelKind::QrKey);
    secrets.push(label.key().to_owned());
    let r = env
        .run_with(
            &[
                "authorize",
                "--profile",
                "shop",
                "--machine-code",
                &label.machine_code,
                "--qr-key",
                "-",
                "--json",
            ],
            Some(&format!("{}\n", label.key())),
            &[],
        )
        .await;
    assert_eq!(r.ok().json()["id"], label.machine_code.as_str());
    let label = env.sandbox.mint_label(LabelKind::QrKey);
    secrets.push(label.key().to_owned());
    let key_file = files.path().join("qr_key.txt");
    std::fs::write(&key_file, label.key()).unwrap();
    let r = env
        .run(&[
            "authorize",
            "--profile",
            "shop",
            "--machine-code",
            &label.machine_code,
            "--qr-key",
            &format!("@{}", key_file.display()),
            "--json",
        ])
        .await;
    assert_eq!(r.ok().json()["id"], label.machine_code.as_str());
    std::fs::remove_file(&key_file).unwrap();
    let label = env.sandbox.mint_label(LabelKind::QrKey);
    secrets.push(label.key().to_owned());
    let r = env
        .run_with(
            &["authorize", "--profile", "shop", "--payload", "-", "--json"],
            Some(&label.payload),
            &[],
        )
        .await;
    assert_eq!(r.ok().json()["id"], label.machine_code.as_str());

    // The one validator: a key with a space, a Chinese character or a symbol is refused before anything is sent
    // (the CLI used to send whatever it was given), and the message never repeats a character of it.
    let before = scancode_requests(&env);
    for (bad, via_stdin) in [
        ("Zq9w Xy7v", false),
        ("Zq9w秘Xy7v", false),
        ("Zq9w#Xy7v", false),
        ("Zq9w@Xy7v", true),
    ] {
        let args = [
            "authorize",
            "--profile",
            "shop",
            "--machine-code",
            "4004000001",
            "--qr-key",
        ];
        let r = if via_stdin {
            let mut a = args.to_vec();
            a.extend(["-", "--json"]);
            env.run_with(&a, Some(&format!("{bad}\n")), &[]).await
        } else {
            let mut a = args.to_vec();
            a.extend([bad, "--json"]);
            env.run(&a).await
        };
        let rep = r.failed().err_json();
        assert_eq!(rep["type"], "invalid_input", "{bad}: {rep}");
        assert_eq!(rep["action"], "edit_input");
        let text = format!("{} {}", rep["message_zh"], rep["message_en"]);
        assert!(
            text.contains("qr_key") && text.contains("第 5 个字符"),
            "{text}"
        );
        for c in ['#', '@', '秘'] {
            assert!(!text.contains(c), "{c} echoed: {text}");
        }
        assert!(!text.contains("Zq9w") && !text.contains("Xy7v"), "{text}");
    }
    // Too long, and an msign from stdin with a bad character: the same validator.
    let long = "k".repeat(129);
    let rep = env
        .run(&[
            "authorize",
            "--profile",
            "shop",
            "--machine-code",
            "4004000001",
            "--qr-key",
            &long,
            "--json",
        ])
        .await
        .failed()
        .err_json();
    assert!(
        rep["message_en"].as_str().unwrap().contains("at most 128"),
        "{rep}"
    );
    let rep = env
        .run_with(
            &[
                "authorize",
                "--profile",
                "shop",
                "--machine-code",
                "4004000001",
                "--msign",
                "-",
                "--json",
            ],
            Some("abc def\n"),
            &[],
        )
        .await
        .failed()
        .err_json();
    assert_eq!(rep["type"], "invalid_input");
    assert!(
        rep["message_en"].as_str().unwrap().contains("msign"),
        "{rep}"
    );
    assert_eq!(
        scancode_requests(&env),
        before,
        "refused keys are never sent"
    );
    env.assert_no_secrets(&secrets);
}
