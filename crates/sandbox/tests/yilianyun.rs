//! Yilianyun over real loopback HTTP: reply shapes, every validation error, qr_key lifetime, refresh replay,
//! the daily quota, the code flow and the printer calls.

mod common;

use common::*;
use quickauth_sandbox::{LabelKind, BUILTIN_OWN_APP_ID, BUILTIN_OWN_APP_SECRET};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn v1_and_v2_reply_shapes() {
    let h = start().await;
    let label = h.mint_label(LabelKind::QrKey);
    let p = signed(
        OPEN,
        &[
            ("machine_code", &label.machine_code),
            ("qr_key", label.key()),
            ("scope", "all"),
        ],
    );
    let v1 = post(&h, "/oauth/scancodemodel", &p).await;
    assert_eq!(v1["error"], json!("0"), "{v1}");
    assert_eq!(v1["error_description"], "success");
    assert_eq!(v1["body"]["expires_in"], json!(2_592_000));
    assert_eq!(v1["body"]["scope"], "all");
    let at = v1["body"]["access_token"].as_str().unwrap();
    assert_eq!(at.len(), 32);
    assert!(v1.get("timestamp").is_none());

    let label = h.mint_label(LabelKind::QrKey);
    let p = signed(
        OPEN,
        &[
            ("machine_code", &label.machine_code),
            ("qr_key", label.key()),
            ("scope", "all"),
        ],
    );
    let v2 = post(&h, "/v2/oauth/scancodemodel", &p).await;
    assert_eq!(v2["error"], json!(0), "{v2}");
    assert!((v2["timestamp"].as_i64().unwrap() - now()).abs() < 5);
    let b = &v2["body"];
    assert_eq!(b["client_id"], OPEN.0);
    assert_eq!(b["machine_code"], label.machine_code.as_str());
    assert_eq!(b["expires_in"], json!(2_592_000));
    assert_eq!(b["refresh_expires_in"], json!(35 * 86_400));
    assert_ne!(b["refresh_token"], b["access_token"]);

    // v2 also takes GET query parameters; v1 does not.
    let label = h.mint_label(LabelKind::Msign);
    let p = signed(
        OPEN,
        &[
            ("machine_code", &label.machine_code),
            ("msign", label.key()),
            ("scope", "all"),
        ],
    );
    let url = format!("{}v2/oauth/scancodemodel?{}", h.base_url(), form(&p));
    let v: serde_json::Value = http().get(url).send().await.unwrap().json().await.unwrap();
    assert_eq!(code_v2(&v), 0, "{v}");
    let p = signed(
        OPEN,
        &[
            ("machine_code", &label.machine_code),
            ("msign", label.key()),
            ("scope", "all"),
        ],
    );
    let url = format!("{}oauth/scancodemodel?{}", h.base_url(), form(&p));
    let v: serde_json::Value = http().get(url).send().await.unwrap().json().await.unwrap();
    assert_eq!(code_v1(&v), 47, "{v}");
}

#[tokio::test]
async fn request_validation_errors() {
    let h = start().await;
    let mc = random_mc();
    let msign = quickauth_sandbox::msign_for(&mc);
    let base = signed(
        OPEN,
        &[("machine_code", &mc), ("msign", &msign), ("scope", "all")],
    );
    let path = "/oauth/scancodemodel";
    async fn expect(
        h: &quickauth_sandbox::SandboxHandle,
        path: &str,
        p: &[(&'static str, String)],
        code: i64,
        what: &str,
    ) -> serde_json::Value {
        let v = post(h, path, p).await;
        assert_eq!(code_v1(&v), code, "{what}: {v}");
        assert!(!v["error_description"].as_str().unwrap().is_empty());
        v
    }
    let fresh = |p: &Vec<(&'static str, String)>| {
        let mut p = p.clone();
        set(&mut p, "id", Some(&uuid()));
        p
    };

    let mut p = fresh(&base);
    set(&mut p, "client_id", Some("1099999999"));
    expect(&h, path, &p, 2, "unknown client_id").await;

    let mut p = fresh(&base);
    set(&mut p, "sign", Some(&"0".repeat(32)));
    expect(&h, path, &p, 11, "wrong sign").await;

    let mut p = fresh(&base);
    let upper = p
        .iter()
        .find(|(k, _)| *k == "sign")
        .unwrap()
        .1
        .to_uppercase();
    set(&mut p, "sign", Some(&upper));
    expect(&h, path, &p, 11, "uppercase sign").await;

    let mut p = fresh(&base);
    let ts = (now() * 1000).to_string();
    set(&mut p, "timestamp", Some(&ts));
    expect(&h, path, &p, 47, "13-digit timestamp").await;

    // A correctly signed but stale timestamp: the description must point at the clock.
    let mut p = fresh(&base);
    let ts = (now() - 301).to_string();
    let sign = md5_hex(&format!("{}{}{}", OPEN.0, ts, OPEN.1));
    set(&mut p, "timestamp", Some(&ts));
    set(&mut p, "sign", Some(&sign));
    let v = expect(&h, path, &p, 11, "timestamp too old").await;
    assert!(
        v["error_description"].as_str().unwrap().contains("clock"),
        "{v}"
    );
    let mut p = fresh(&base);
    let ts = (now() + 400).to_string();
    let sign = md5_hex(&format!("{}{}{}", OPEN.0, ts, OPEN.1));
    set(&mut p, "timestamp", Some(&ts));
    set(&mut p, "sign", Some(&sign));
    expect(&h, path, &p, 11, "timestamp in the future").await;

    let mut p = fresh(&base);
    set(&mut p, "id", Some("not-a-uuid"));
    expect(&h, path, &p, 33, "bad uuid").await;
    let mut p = fresh(&base);
    set(&mut p, "id", Some("6ba7b810-9dad-11d1-80b4-00c04fd430c8"));
    expect(&h, path, &p, 33, "uuid v1").await;

    let mut p = fresh(&base);
    set(&mut p, "scope", None);
    expect(&h, path, &p, 27, "scope missing").await;
    let mut p = fresh(&base);
    set(&mut p, "scope", Some("print"));
    expect(&h, path, &p, 15, "scope not all").await;

    let mut p = fresh(&base);
    set(&mut p, "sign", None);
    expect(&h, path, &p, 12, "sign missing").await;
    let mut p = fresh(&base);
    set(&mut p, "machine_code", None);
    expect(&h, path, &p, 29, "machine_code missing").await;
    let mut p = fresh(&base);
    set(&mut p, "msign", None);
    expect(&h, path, &p, 29, "no key").await;
    let mut p = fresh(&base);
    set(
        &mut p,
        "qr_key",
        Some(&quickauth_sandbox::mint_qr_key(&mc, now())),
    );
    expect(&h, path, &p, 47, "both keys").await;
    let mut p = fresh(&base);
    set(&mut p, "msign", Some("abcdefabcdef"));
    expect(&h, path, &p, 35, "wrong msign").await;
    let mut p = fresh(&base);
    set(&mut p, "msign", None);
    set(
        &mut p,
        "qr_key",
        Some(&quickauth_sandbox::mint_qr_key("4004000000", now())),
    );
    expect(&h, path, &p, 30, "qr_key of another printer").await;

    let mut p = fresh(&base);
    set(&mut p, "client_id", None);
    expect(&h, path, &p, 29, "client_id missing on scancodemodel").await;
    let p = signed(OPEN, &[("scope", "all")]);
    expect(&h, "/oauth/oauth", &p, 12, "grant_type missing").await;
    let p = signed(OPEN, &[("grant_type", "password"), ("scope", "all")]);
    expect(&h, "/oauth/oauth", &p, 47, "unsupported grant_type").await;
    let p = signed(OPEN, &[("grant_type", "refresh_token"), ("scope", "all")]);
    expect(&h, "/oauth/oauth", &p, 12, "refresh_token missing").await;
    let p = signed(OPEN, &[("machine_code", &mc)]);
    expect(
        &h,
        "/printer/getprintstatus",
        &p,
        12,
        "access_token missing",
    )
    .await;

    let own = signed(
        (BUILTIN_OWN_APP_ID, BUILTIN_OWN_APP_SECRET),
        &[("machine_code", &mc), ("msign", &msign), ("scope", "all")],
    );
    expect(&h, path, &own, 31, "own-type app").await;

    // Wrong content type: JSON body.
    let resp = http()
        .post(format!("{}oauth/scancodemodel", h.base_url()))
        .header("content-type", "application/json")
        .body(
            serde_json::to_string(&serde_json::Map::from_iter(
                fresh(&base)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), json!(v))),
            ))
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(code_v1(&v), 47, "{v}");
    assert!(v["error_description"]
        .as_str()
        .unwrap()
        .contains("x-www-form-urlencoded"));

    // The same id twice: the first succeeds, the second is 33.
    let p = fresh(&base);
    assert_eq!(code_v1(&post(&h, path, &p).await), 0);
    expect(&h, path, &p, 33, "reused id").await;

    // Printer bound to another app.
    let other = random_mc();
    control(
        &h,
        "bind",
        json!({"machine_code": other, "client_id": "1077777777"}),
    )
    .await;
    let p = signed(
        OPEN,
        &[
            ("machine_code", &other),
            ("msign", &quickauth_sandbox::msign_for(&other)),
            ("scope", "all"),
        ],
    );
    expect(&h, path, &p, 17, "bound elsewhere").await;
}

#[tokio::test]
async fn qr_key_expires_after_300_virtual_seconds() {
    let h = start().await;
    let label = h.mint_label(LabelKind::QrKey);
    // 295 + a few real seconds of a loaded machine stays inside 300; +6 then lands past it.
    h.advance(Duration::from_secs(295));
    let p = signed(
        OPEN,
        &[
            ("machine_code", &label.machine_code),
            ("qr_key", label.key()),
            ("scope", "all"),
        ],
    );
    assert_eq!(code_v1(&post(&h, "/oauth/scancodemodel", &p).await), 0);
    h.advance(Duration::from_secs(6));
    let p = signed(
        OPEN,
        &[
            ("machine_code", &label.machine_code),
            ("qr_key", label.key()),
            ("scope", "all"),
        ],
    );
    let v = post(&h, "/oauth/scancodemodel", &p).await;
    assert_eq!(code_v1(&v), 30, "{v}");
    assert!(v["error_description"].as_str().unwrap().contains("300"));
    // A label minted through the control API works too.
    let m = control(&h, "mint", json!({"kind": "qr_key", "format": "hash"})).await;
    let mc = m["machine_code"].as_str().unwrap();
    let key = m["qr_key"].as_str().unwrap();
    assert_eq!(m["payload"], format!("{mc}#{key}"));
    let p = signed(
        OPEN,
        &[("machine_code", mc), ("qr_key", key), ("scope", "all")],
    );
    assert_eq!(code_v1(&post(&h, "/oauth/scancodemodel", &p).await), 0);
}

#[tokio::test]
async fn refresh_replay_window_and_token_lifetimes() {
    let h = start().await;
    let mc = random_mc();
    let first = grant_msign(&h, &mc).await;
    let (at1, rt1) = (
        first["body"]["access_token"].as_str().unwrap(),
        first["body"]["refresh_token"].as_str().unwrap(),
    );

    let second = refresh(&h, rt1).await;
    assert_eq!(code_v1(&second), 0, "{second}");
    assert_eq!(second["body"]["machine_code"], mc.as_str());
    let (at2, rt2) = (
        second["body"]["access_token"].as_str().unwrap(),
        second["body"]["refresh_token"].as_str().unwrap(),
    );
    assert_ne!(at1, at2);
    assert_eq!(h.grants_today(&mc).unwrap(), 2);

    // The lost-reply recovery: the old refresh token returns exactly the previous result, free of quota.
    h.advance(Duration::from_secs(3600));
    let replay = refresh(&h, rt1).await;
    assert_eq!(replay["body"], second["body"]);
    assert_eq!(h.grants_today(&mc).unwrap(), 2);
    // Both access tokens work inside the 2 h window.
    assert_eq!(code_v1(&status(&h, at1, &mc).await), 0);
    assert_eq!(code_v1(&status(&h, at2, &mc).await), 0);

    h.advance(Duration::from_secs(3601));
    assert_eq!(
        code_v1(&refresh(&h, rt1).await),
        20,
        "old refresh token after 2 h"
    );
    assert_eq!(
        code_v1(&status(&h, at1, &mc).await),
        18,
        "old access token after 2 h"
    );
    assert_eq!(code_v1(&status(&h, at2, &mc).await), 0);

    assert_eq!(
        code_v1(&refresh(&h, &"ab".repeat(16)).await),
        20,
        "unknown refresh token"
    );
    assert_eq!(
        code_v1(&status(&h, &"cd".repeat(16), &mc).await),
        14,
        "unknown access token"
    );

    // The current pair expires: access after 30 days, refresh after 35.
    h.advance(Duration::from_secs(30 * 86_400));
    assert_eq!(
        code_v1(&status(&h, at2, &mc).await),
        18,
        "expired access token"
    );
    let third = refresh(&h, rt2).await;
    assert_eq!(code_v1(&third), 0, "refresh still valid at day 30: {third}");
    h.advance(Duration::from_secs(36 * 86_400));
    let rt3 = third["body"]["refresh_token"].as_str().unwrap();
    assert_eq!(
        code_v1(&refresh(&h, rt3).await),
        20,
        "refresh token after 35 days"
    );
}

#[tokio::test]
async fn daily_quota_and_china_midnight_reset() {
    let h = start().await;
    let mc = random_mc();
    // Keep well away from a China midnight so all 21 calls fall on one day.
    let now = h.now_unix();
    let into_day = (now + 8 * 3600).rem_euclid(86_400);
    if into_day > 80_000 {
        h.advance(Duration::from_secs((86_400 - into_day + 60) as u64));
    }
    let mut last = grant_msign(&h, &mc).await;
    for _ in 0..19 {
        let rt = last["body"]["refresh_token"].as_str().unwrap().to_string();
        last = refresh(&h, &rt).await;
        assert_eq!(code_v1(&last), 0, "{last}");
    }
    assert_eq!(h.grants_today(&mc).unwrap(), 20);
    let rt = last["body"]["refresh_token"].as_str().unwrap().to_string();
    let v = refresh(&h, &rt).await;
    assert_eq!(code_v1(&v), 41, "{v}");
    assert_eq!(code_v1(&grant_msign(&h, &mc).await), 41);

    // One second after 00:00 Asia/Shanghai the count starts again.
    let now = h.now_unix();
    let to_midnight = 86_400 - (now + 8 * 3600).rem_euclid(86_400);
    h.advance(Duration::from_secs(to_midnight as u64 - 2));
    assert_eq!(
        code_v1(&refresh(&h, &rt).await),
        41,
        "still the same China day"
    );
    h.advance(Duration::from_secs(3));
    let v = refresh(&h, &rt).await;
    assert_eq!(code_v1(&v), 0, "{v}");
    assert_eq!(h.grants_today(&mc).unwrap(), 1);
}

#[tokio::test]
async fn code_flow_page_redirect_and_exchange() {
    let h = start().await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client
        .get(format!(
            "{}oauth/authorize?response_type=code&client_id={}&redirect_uri={}&state=xyz123",
            h.base_url(),
            OPEN.0,
            enc("http://127.0.0.1:9/callback?x=1")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("授权")
            && html.contains("Approve")
            && html.contains("name=\"machine_code\" value=\"4004")
    );

    let mc = random_mc();
    let approve = |mc: String| {
        let client = client.clone();
        let url = format!("{}oauth/authorize/approve", h.base_url());
        async move {
            client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&[
                    ("client_id", OPEN.0.to_string()),
                    ("redirect_uri", "http://127.0.0.1:9/callback?x=1".into()),
                    ("state", "xyz123".into()),
                    ("machine_code", mc),
                    ("decision", "approve".into()),
                ]))
                .send()
                .await
                .unwrap()
        }
    };
    let resp = approve(mc.clone()).await;
    assert_eq!(resp.status(), 302);
    let loc = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(loc.path(), "/callback");
    let q: std::collections::HashMap<_, _> = loc.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "xyz123");
    assert_eq!(q["x"], "1");
    let code = q["code"].clone();

    let exchange = |code: String| {
        let h = &h;
        async move {
            let p = signed(
                OPEN,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("scope", "all"),
                ],
            );
            post(h, "/oauth/oauth", &p).await
        }
    };
    let v = exchange(code.clone()).await;
    assert_eq!(code_v1(&v), 0, "{v}");
    assert_eq!(v["body"]["machine_code"], mc.as_str());
    assert_eq!(code_v1(&exchange(code).await), 6, "code is single use");

    let resp = approve(random_mc()).await;
    let loc = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let code = loc
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    h.advance(Duration::from_secs(601));
    assert_eq!(
        code_v1(&exchange(code).await),
        6,
        "code expires after 600 s"
    );
    assert_eq!(code_v1(&exchange("nonsense".into()).await), 6);

    // Deny: back to the app with error=access_denied and the state.
    let resp = client
        .post(format!("{}oauth/authorize/approve", h.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("client_id", OPEN.0.to_string()),
            ("redirect_uri", "http://127.0.0.1:9/cb".into()),
            ("state", "s1".into()),
            ("machine_code", random_mc()),
            ("decision", "deny".into()),
        ]))
        .send()
        .await
        .unwrap();
    let loc = resp.headers()["location"].to_str().unwrap();
    assert!(
        loc.contains("error=access_denied") && loc.contains("state=s1") && !loc.contains("code="),
        "{loc}"
    );

    // Not a sandbox printer: an error page, no redirect.
    assert_eq!(approve("12345".into()).await.status(), 400);
}

#[tokio::test]
async fn printer_calls() {
    let h = start().await;
    let mc = random_mc();
    let g = grant_msign(&h, &mc).await;
    let at = g["body"]["access_token"].as_str().unwrap().to_string();
    let call = |path: &'static str, extra: Vec<(&'static str, String)>| {
        let h = &h;
        let at = at.clone();
        let mc = mc.clone();
        async move {
            let mut p = signed(OPEN, &[("access_token", &at), ("machine_code", &mc)]);
            p.extend(extra);
            post(h, path, &p).await
        }
    };
    let v = call("/printer/getprintstatus", vec![]).await;
    assert_eq!(v["body"]["state"], json!("1"), "v1 state is a string: {v}");
    let v = call("/v2/printer/getprintstatus", vec![]).await;
    assert_eq!(v["body"]["state"], json!(1), "v2 state is a number: {v}");
    assert_eq!(v["body"]["machine_code"], mc.as_str());

    let v = call("/printer/getversion", vec![]).await;
    assert_eq!(v["body"]["software"], "K4-WAD");
    assert!(v["body"]["hardware"].is_string());
    let v = call("/printer/printinfo", vec![]).await;
    assert_eq!(v["body"]["print_width"], "58mm");

    let ticket =
        format!("<FS2><center>QuickAuth</center></FS2>\n<FB>{mc}</FB>\n<center>OK</center>\n");
    let v = call(
        "/print/index",
        vec![("content", ticket.clone()), ("origin_id", "qa1".into())],
    )
    .await;
    assert_eq!(code_v1(&v), 0, "{v}");
    let id = v["body"]["id"]
        .as_str()
        .expect("v1 print id is a string")
        .to_string();
    assert_eq!(v["body"]["origin_id"], "qa1");
    // v2 is idempotent by default: the same origin_id returns the earlier id, as a number.
    let v = call(
        "/v2/print/index",
        vec![("content", ticket.clone()), ("origin_id", "qa1".into())],
    )
    .await;
    assert_eq!(v["body"]["id"].as_i64().unwrap().to_string(), id);
    let v = call(
        "/print/index",
        vec![
            ("content", ticket.clone()),
            ("origin_id", "bad-origin!".into()),
        ],
    )
    .await;
    assert_eq!(code_v1(&v), 47);
    let v = call("/print/index", vec![("origin_id", "qa2".into())]).await;
    assert_eq!(code_v1(&v), 12);

    let printed = control(&h, "printed", json!({"machine_code": mc})).await;
    let prints = printed["prints"].as_array().unwrap();
    assert_eq!(prints.len(), 1);
    assert_eq!(prints[0]["content"], ticket.as_str());
    assert_eq!(prints[0]["status"], "printed");

    assert_eq!(
        code_v1(&call("/printer/cancelall", vec![]).await),
        24,
        "nothing queued"
    );
    h.set_printer_state(&mc, 0).unwrap();
    assert_eq!(
        call("/printer/getprintstatus", vec![]).await["body"]["state"],
        json!("0")
    );
    call(
        "/print/index",
        vec![("content", "queued".into()), ("origin_id", "qa3".into())],
    )
    .await;
    assert_eq!(code_v1(&call("/printer/cancelall", vec![]).await), 0);
    assert_eq!(h.printed(&mc).unwrap().last().unwrap().status, "cancelled");

    // Another printer's machine code with this token is refused.
    let p = signed(
        OPEN,
        &[("access_token", &at), ("machine_code", "4004999999")],
    );
    assert_eq!(code_v1(&post(&h, "/printer/getprintstatus", &p).await), 8);

    assert_eq!(code_v1(&call("/printer/deleteprinter", vec![]).await), 0);
    assert_eq!(
        code_v1(&call("/printer/getprintstatus", vec![]).await),
        14,
        "unbound: token stops working"
    );
    assert_eq!(h.bound_app(&mc).unwrap(), None);
}
