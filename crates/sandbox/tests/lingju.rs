//! Lingju authorize endpoints over real loopback HTTP.

mod common;

use common::*;
use quickauth_sandbox::{
    BUILTIN_LINGJU_APPKEY, BUILTIN_LINGJU_AUTHCODE, BUILTIN_LINGJU_SOFTWARE_APPKEY,
};
use serde_json::{json, Value};

async fn get(h: &quickauth_sandbox::SandboxHandle, path: &str, query: &[(&str, String)]) -> Value {
    let resp = http()
        .get(format!("{}{}?{}", h.base_url(), path, form(query)))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["content-type"],
        "application/json;charset=UTF-8"
    );
    resp.json().await.unwrap()
}

#[tokio::test]
async fn httpapi_hardware_software_and_errors() {
    let h = start().await;
    let hw = |userid: &str, authcode: Option<&str>| {
        let mut q = vec![
            ("appkey", BUILTIN_LINGJU_APPKEY.to_string()),
            ("userid", userid.to_string()),
        ];
        if let Some(c) = authcode {
            q.push(("authcode", c.to_string()));
        }
        q
    };
    let v = get(
        &h,
        "httpapi/authorize.do",
        &hw("A1B2C3D4E5F6", Some(BUILTIN_LINGJU_AUTHCODE)),
    )
    .await;
    assert_eq!(v["status"], json!(0), "{v}");
    assert_eq!(v["description"], "success");
    let token = v["data"]["accessToken"].as_str().unwrap().to_string();
    assert_eq!(v["data"]["expires"], json!(90));
    assert!(
        (v["data"]["update"].as_i64().unwrap() / 1000 - now()).abs() < 5,
        "update is milliseconds"
    );

    // Asking again later returns the same token with fewer days left.
    h.advance(std::time::Duration::from_secs(3 * 86_400));
    let again = get(
        &h,
        "httpapi/authorize.do",
        &hw("A1B2C3D4E5F6", Some(BUILTIN_LINGJU_AUTHCODE)),
    )
    .await;
    assert_eq!(again["data"]["accessToken"], token.as_str());
    assert_eq!(again["data"]["expires"], json!(87));

    assert_eq!(
        get(&h, "httpapi/authorize.do", &hw("A1B2C3D4E5F6", None)).await["status"],
        json!(11)
    );
    assert_eq!(
        get(
            &h,
            "httpapi/authorize.do",
            &hw("A1B2C3D4E5F6", Some("wrong"))
        )
        .await["status"],
        json!(11)
    );
    assert_eq!(
        get(
            &h,
            "httpapi/authorize.do",
            &hw("AA:BB:CC", Some(BUILTIN_LINGJU_AUTHCODE))
        )
        .await["status"],
        json!(8)
    );
    let bad_key = vec![("appkey", "nope".to_string()), ("userid", "A1".to_string())];
    assert_eq!(
        get(&h, "httpapi/authorize.do", &bad_key).await["status"],
        json!(6)
    );

    let sw = vec![
        ("appkey", BUILTIN_LINGJU_SOFTWARE_APPKEY.to_string()),
        ("userid", "phone42".to_string()),
    ];
    assert_eq!(
        get(&h, "httpapi/authorize.do", &sw).await["status"],
        json!(0)
    );

    // POST form works too.
    let resp = http()
        .post(format!("{}httpapi/authorize.do", h.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&hw("POSTUSER1", Some(BUILTIN_LINGJU_AUTHCODE))))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["content-type"],
        "application/json;charset=UTF-8"
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["status"], json!(0), "{v}");
}

#[tokio::test]
async fn bltapi_needs_a_registered_userid() {
    let h = start().await;
    let q = vec![
        ("appkey", BUILTIN_LINGJU_APPKEY.to_string()),
        ("userid", "B0C1D2E3F4A5".to_string()),
    ];
    assert_eq!(
        get(&h, "bltapi/authorize.do", &q).await["status"],
        json!(16)
    );
    control(&h, "lingju/register", json!({"userid": "B0C1D2E3F4A5"})).await;
    let v = get(&h, "bltapi/authorize.do", &q).await;
    assert_eq!(v["status"], json!(0), "{v}");
    assert_eq!(v["data"]["accessToken"].as_str().unwrap().len(), 32);
}
