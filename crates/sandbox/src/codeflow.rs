//! The browser side of Yilianyun's open-app code flow: a small bilingual approval page and the redirect
//! back to the app with `code` and `state`.

use std::collections::HashMap;

use rusqlite::params;

use crate::apps::{yilianyun_app, AppType};
use crate::keys;
use crate::store::{virtual_now, Store};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, inner: &str) -> String {
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         input{{font-size:1.1rem;padding:.3rem;width:12rem}}button{{font-size:1rem;margin:.5rem .5rem 0 0}}\
         .en{{color:#666}}</style></head><body>{inner}</body></html>"
    )
}

/// An error page: what went wrong, in Chinese then English.
pub(crate) fn error_page(zh: &str, en: &str) -> String {
    page(
        "授权失败 / Authorization failed",
        &format!(
            "<h1>授权失败</h1><p>{}</p><p class=\"en\">{}</p>",
            esc(zh),
            esc(en)
        ),
    )
}

fn redirect_target(params: &HashMap<String, String>) -> Result<url::Url, String> {
    let raw = params.get("redirect_uri").map(String::as_str).unwrap_or("");
    match url::Url::parse(raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(u),
        _ => Err(error_page(
            "redirect_uri 缺失或不是有效的 http(s) 地址。",
            "redirect_uri is missing or not a valid http(s) URL.",
        )),
    }
}

fn check_app(params: &HashMap<String, String>) -> Result<&'static str, String> {
    let client_id = params.get("client_id").map(String::as_str).unwrap_or("");
    match yilianyun_app(client_id) {
        None => Err(error_page(
            "client_id 不存在，请检查应用 ID。",
            "client_id does not exist: check the app id.",
        )),
        Some(app) if app.app_type != AppType::Open => Err(error_page(
            "自有型应用不能使用开放应用授权，请使用开放型应用。",
            "Own-type apps cannot use the open-app authorization: use an open-type app.",
        )),
        Some(app) => Ok(app.client_id),
    }
}

/// GET /oauth/authorize: the approval page (Err = error page with status 400).
pub(crate) fn authorize_page(
    action: &str,
    params: &HashMap<String, String>,
) -> Result<String, String> {
    if params.get("response_type").map(String::as_str) != Some("code") {
        return Err(error_page(
            "response_type 必须为 code。",
            "response_type must be code.",
        ));
    }
    let client_id = check_app(params)?;
    let redirect = redirect_target(params)?;
    let state = params.get("state").cloned().unwrap_or_default();
    let machine_code = keys::random_machine_code();
    Ok(page(
        "易联云授权（沙盒）/ Yilianyun authorization (sandbox)",
        &format!(
            "<h1>授权打印机</h1><p class=\"en\">Authorize a printer</p>\
             <p>应用 <b>{client}</b> 请求使用这台打印机。<br><span class=\"en\">App <b>{client}</b> asks to use this printer.</span></p>\
             <form method=\"post\" action=\"{action}\">\
             <input type=\"hidden\" name=\"client_id\" value=\"{client}\">\
             <input type=\"hidden\" name=\"redirect_uri\" value=\"{redirect}\">\
             <input type=\"hidden\" name=\"state\" value=\"{state}\">\
             <label>终端号 / Machine code<br><input name=\"machine_code\" value=\"{mc}\" inputmode=\"numeric\"></label><br>\
             <button name=\"decision\" value=\"approve\" type=\"submit\">同意授权 / Approve</button>\
             <button name=\"decision\" value=\"deny\" type=\"submit\">拒绝 / Deny</button>\
             </form><p class=\"en\">Sandbox: any 10-digit machine code starting with 4004 is a sandbox printer.</p>",
            client = esc(client_id),
            redirect = esc(redirect.as_str()),
            state = esc(&state),
            action = esc(action),
            mc = machine_code,
        ),
    ))
}

/// POST approve: Ok(location for the 302), Err((http status, error page)).
pub(crate) fn approve(
    store: &Store,
    params: &HashMap<String, String>,
) -> Result<String, (u16, String)> {
    let bad = |p: String| (400u16, p);
    let client_id = check_app(params).map_err(bad)?;
    let mut target = redirect_target(params).map_err(bad)?;
    let state = params.get("state").cloned().unwrap_or_default();
    if params.get("decision").map(String::as_str) == Some("deny") {
        target
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("state", &state);
        return Ok(target.to_string());
    }
    let machine_code = params
        .get("machine_code")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if !keys::is_sandbox_printer(&machine_code) {
        return Err(bad(error_page(
            "终端号不是沙盒打印机（应为 4004 开头的 10 位数字）。",
            "The machine code is not a sandbox printer (10 digits starting with 4004).",
        )));
    }
    let seed = store.seed().to_vec();
    let outcome = store
        .write(|tx| {
            let bound: Option<String> = rusqlite::OptionalExtension::optional(tx.query_row(
                "SELECT client_id FROM bindings WHERE machine_code = ?1",
                [&machine_code],
                |r| r.get(0),
            ))?;
            if bound.is_some_and(|b| b != client_id) {
                return Ok(None);
            }
            let now = virtual_now(tx)?;
            tx.execute(
                "INSERT INTO codes(client_id, machine_code, issued_at) VALUES (?1, ?2, ?3)",
                params![client_id, machine_code, now],
            )?;
            let id = tx.last_insert_rowid();
            let code = keys::derive_token(&seed, "code", id);
            tx.execute(
                "UPDATE codes SET code_hash = ?1 WHERE id = ?2",
                params![keys::sha256_hex(&code), id],
            )?;
            Ok(Some(code))
        })
        .map_err(|e| {
            (
                500u16,
                error_page(
                    "沙盒内部错误，请重试。",
                    &format!("Internal sandbox error, try again ({}).", e.kind()),
                ),
            )
        })?;
    let Some(code) = outcome else {
        return Err((
            409,
            error_page(
                "该打印机已被其他应用绑定，请先在原应用中解绑。",
                "This printer is already bound by another app: unbind it there first.",
            ),
        ));
    };
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &state);
    Ok(target.to_string())
}
