//! Lingju (灵聚) authorize endpoints: `/httpapi/authorize.do` (authcode for hardware apps) and
//! `/bltapi/authorize.do` (pre-registered userids).

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};

use crate::apps::{lingju_app, LingjuApp};
use crate::keys::{self, constant_time_eq};
use crate::store::{virtual_now, Store};

/// How long a Lingju access token lives, in days.
pub(crate) const TOKEN_DAYS: i64 = 90;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LingjuEndpoint {
    HttpApi,
    BltApi,
}

pub(crate) fn error(status: i64, description: &str) -> Value {
    json!({ "status": status, "description": description })
}

pub(crate) fn valid_userid(userid: &str) -> bool {
    !userid.is_empty() && userid.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Blocking: runs on a worker thread. Returns the JSON reply (status 0 or an error status).
pub(crate) fn handle(
    store: &Store,
    endpoint: LingjuEndpoint,
    params: &HashMap<String, String>,
) -> Result<Value, crate::SandboxError> {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let Some(appkey) = get("appkey") else {
        return Ok(error(
            8,
            "参数错误：缺少 appkey / parameter error: appkey is required",
        ));
    };
    let Some(app) = lingju_app(appkey) else {
        return Ok(error(
            6,
            "appkey 无效，请检查配置 / invalid appkey: check the profile",
        ));
    };
    let Some(userid) = get("userid") else {
        return Ok(error(
            8,
            "参数错误：缺少 userid / parameter error: userid is required",
        ));
    };
    if !valid_userid(userid) {
        return Ok(error(8, "参数错误：userid 只能包含 [A-Za-z0-9] / parameter error: userid may only contain [A-Za-z0-9]"));
    }
    if endpoint == LingjuEndpoint::HttpApi && app == LingjuApp::Hardware {
        let ok = get("authcode").is_some_and(|c| {
            constant_time_eq(
                c.as_bytes(),
                crate::apps::BUILTIN_LINGJU_AUTHCODE.as_bytes(),
            )
        });
        if !ok {
            return Ok(error(11, "authcode 无效或缺失（硬件应用必填）/ invalid or missing authcode (required for hardware apps)"));
        }
    }
    let seed = store.seed().to_vec();
    let reply = store.write(|tx| {
        if endpoint == LingjuEndpoint::BltApi {
            let registered: Option<i64> = tx
                .query_row("SELECT 1 FROM lingju_users WHERE userid = ?1", [userid], |r| r.get(0))
                .optional()?;
            if registered.is_none() {
                return Ok(error(16, "终端未激活：该 userid 尚未在灵聚登记 / terminal not activated: this userid is not registered with Lingju"));
            }
        }
        let now = virtual_now(tx)?;
        // A live token for the same app and user is handed out again, with fewer days left (as the real API does).
        let live: Option<(i64, i64, i64)> = tx
            .query_row(
                "SELECT id, issued_at, expires_at FROM lingju_grants WHERE app = ?1 AND userid = ?2 AND expires_at > ?3
                 ORDER BY id DESC LIMIT 1",
                params![app.label(), userid, now],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let (id, issued_at, expires_at) = match live {
            Some(g) => g,
            None => {
                tx.execute(
                    "INSERT INTO lingju_grants(app, userid, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                    params![app.label(), userid, now, now + TOKEN_DAYS * 86_400],
                )?;
                (tx.last_insert_rowid(), now, now + TOKEN_DAYS * 86_400)
            }
        };
        let days_left = (expires_at - now + 86_399) / 86_400;
        Ok(json!({
            "status": 0,
            "description": "success",
            "data": {
                "accessToken": keys::derive_token(&seed, "lingju", id),
                "expires": days_left,
                "update": issued_at * 1000,
            }
        }))
    })?;
    Ok(reply)
}
