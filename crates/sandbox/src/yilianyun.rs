//! Yilianyun open API (v1 and v2 reply shapes): request validation, fast authorize, code exchange,
//! refresh with the 2-hour replay window, the daily grant quota and the printer calls.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::{json, Value};

use crate::apps::{yilianyun_app, AppType, YilianyunApp};
use crate::keys::{self, constant_time_eq, QrKeyProblem};
use crate::store::{china_day_start, real_now, virtual_now, Store};

pub(crate) const ACCESS_TTL: i64 = 30 * 86_400;
pub(crate) const REFRESH_TTL: i64 = 35 * 86_400;
pub(crate) const CODE_TTL: i64 = 600;
/// How long an old refresh token replays its result, and an old access token keeps working.
pub(crate) const REPLAY_WINDOW: i64 = 2 * 3600;
pub(crate) const TIMESTAMP_WINDOW: i64 = 300;
pub(crate) const DAILY_GRANT_LIMIT: i64 = 20;
const PRINT_IDEMPOTENCE_WINDOW: i64 = 2 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApiVersion {
    V1,
    V2,
}

/// A parsed API request: the path without the `/v2` prefix and the form (or v2 query) parameters.
pub(crate) struct YlyRequest {
    pub version: ApiVersion,
    pub path: String,
    pub params: HashMap<String, String>,
}

impl YlyRequest {
    /// A parameter, treating an empty value as missing (as the real API does).
    fn get(&self, key: &str) -> Option<&str> {
        self.params
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Error 12 naming every one of `keys` that is missing (or empty).
    fn require(&self, keys: &[&str]) -> Result<(), YlyReply> {
        let missing: Vec<&str> = keys
            .iter()
            .copied()
            .filter(|k| self.get(k).is_none())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let names = missing.join(", ");
        Err(YlyReply::err(
            12,
            format!("缺少必要参数：{names} / missing required parameter: {names}"),
        ))
    }
}

#[derive(Debug)]
pub(crate) struct YlyReply {
    pub code: i64,
    pub description: String,
    pub body: Option<Value>,
}

impl YlyReply {
    pub fn ok(body: Option<Value>) -> YlyReply {
        YlyReply {
            code: 0,
            description: "success".into(),
            body,
        }
    }
    pub fn err(code: i64, description: impl Into<String>) -> YlyReply {
        YlyReply {
            code,
            description: description.into(),
            body: None,
        }
    }

    /// The wire JSON: v1 has `error` as a string, v2 as a number plus a top-level `timestamp`.
    pub fn render(&self, version: ApiVersion) -> Value {
        let mut v = match version {
            ApiVersion::V1 => {
                json!({ "error": self.code.to_string(), "error_description": self.description })
            }
            ApiVersion::V2 => json!({
                "error": self.code,
                "error_description": self.description,
                "timestamp": real_now(),
            }),
        };
        if let Some(body) = &self.body {
            v["body"] = body.clone();
        }
        v
    }
}

type Outcome = Result<YlyReply, YlyReply>;

/// Entry point (blocking: runs on a worker thread). Every request is one IMMEDIATE transaction.
pub(crate) fn handle(store: &Store, req: &YlyRequest) -> Result<YlyReply, crate::SandboxError> {
    let seed = store.seed().to_vec();
    store.write(|tx| {
        let out = match req.path.as_str() {
            "/oauth/scancodemodel" => scancodemodel(tx, &seed, req),
            "/oauth/oauth" => oauth(tx, &seed, req),
            "/printer/getprintstatus"
            | "/print/index"
            | "/printer/getversion"
            | "/printer/printinfo"
            | "/printer/deleteprinter"
            | "/printer/cancelall" => printer_call(tx, req),
            other => Err(YlyReply::err(
                47,
                format!("接口不存在：{other} / unknown API path: {other}"),
            )),
        };
        Ok(out.unwrap_or_else(|e| e))
    })
}

/// The checks every API call shares: required parameters, client_id, sign, timestamp window, UUID id.
fn check_common(
    tx: &Transaction<'_>,
    req: &YlyRequest,
    empty_code: i64,
) -> Result<YilianyunApp, YlyReply> {
    let Some(client_id) = req.get("client_id") else {
        return Err(YlyReply::err(
            empty_code,
            "client_id 不能为空 / client_id must not be empty",
        ));
    };
    req.require(&["sign", "id", "timestamp"])?;
    let (sign, id, timestamp) = (
        req.get("sign").unwrap(),
        req.get("id").unwrap(),
        req.get("timestamp").unwrap(),
    );
    let Some(app) = yilianyun_app(client_id) else {
        return Err(YlyReply::err(
            2,
            "client_id 不存在，请检查应用 ID / client_id does not exist: check the app id",
        ));
    };
    if timestamp.len() != 10 || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(YlyReply::err(
            47,
            "timestamp 必须是 10 位 Unix 秒 / timestamp must be 10-digit Unix seconds",
        ));
    }
    let expected = keys::yilianyun_sign(client_id, timestamp, app.secret);
    if !constant_time_eq(sign.as_bytes(), expected.as_bytes()) {
        return Err(YlyReply::err(
            11,
            "sign 验证失败：应为 md5(client_id+timestamp+client_secret) 的 32 位小写十六进制，请检查密钥 / \
             sign check failed: expected lowercase hex md5(client_id+timestamp+client_secret); check the secret",
        ));
    }
    let skew = timestamp.parse::<i64>().unwrap_or(0) - real_now();
    if skew.abs() > TIMESTAMP_WINDOW {
        return Err(YlyReply::err(
            11,
            format!(
                "sign 验证失败：timestamp 与服务器时间相差 {skew} 秒（允许 ±{TIMESTAMP_WINDOW} 秒），请校准设备时钟 / \
                 sign check failed: timestamp is {skew} s off server time (±{TIMESTAMP_WINDOW} s allowed); check the device clock"
            ),
        ));
    }
    if !keys::is_uuid4(id) {
        return Err(YlyReply::err(
            33,
            "id 不是有效的 UUID4（36 位带连字符）/ id is not a valid 36-char UUID4",
        ));
    }
    let now = virtual_now(tx).map_err(internal)?;
    let fresh = tx
        .execute(
            "INSERT OR IGNORE INTO used_ids(id, used_at) VALUES (?1, ?2)",
            params![id.to_ascii_lowercase(), now],
        )
        .map_err(internal)?;
    if fresh == 0 {
        return Err(YlyReply::err(
            33,
            "id 已被使用：每个请求都需要新的 UUID4 / id already used: every request needs a new UUID4",
        ));
    }
    Ok(app)
}

fn check_scope(req: &YlyRequest) -> Result<(), YlyReply> {
    match req.get("scope") {
        None => Err(YlyReply::err(
            27,
            "请设置 scope，权限默认为 all / scope is missing: send scope=all",
        )),
        Some("all") => Ok(()),
        Some(_) => Err(YlyReply::err(
            15,
            "scope 超出首次授权范围，请使用 all / scope exceeds the grant: use scope=all",
        )),
    }
}

fn internal(e: rusqlite::Error) -> YlyReply {
    tracing::error!(error = %e, "sandbox state error");
    YlyReply::err(45, "系统错误，请稍后重试 / system error, retry later")
}

fn scancodemodel(tx: &Transaction<'_>, seed: &[u8], req: &YlyRequest) -> Outcome {
    let app = check_common(tx, req, 29)?;
    check_scope(req)?;
    if app.app_type != AppType::Open {
        return Err(YlyReply::err(
            31,
            "接口不支持自有应用服务模式，请使用开放型应用 / this API is not available to own-type apps: use an open-type app",
        ));
    }
    let Some(machine_code) = req.get("machine_code") else {
        return Err(YlyReply::err(
            29,
            "client_id,machine_code,qr_key不能为空 / machine_code must not be empty",
        ));
    };
    let now = virtual_now(tx).map_err(internal)?;
    match (req.get("qr_key"), req.get("msign")) {
        (Some(_), Some(_)) => {
            return Err(YlyReply::err(
                47,
                "qr_key 与 msign 只能二选一，请勿同时传入 / send either qr_key or msign, not both",
            ))
        }
        (None, None) => {
            return Err(YlyReply::err(
                29,
                "client_id,machine_code,qr_key不能为空 / qr_key (or msign) must not be empty",
            ))
        }
        (Some(qr_key), None) => {
            if !keys::is_sandbox_printer(machine_code) {
                return Err(YlyReply::err(30, "machine_code,qr_key错误：不是沙盒打印机 / machine_code or qr_key wrong: not a sandbox printer (4004 + 6 digits)"));
            }
            if let Err(problem) = keys::verify_qr_key(machine_code, qr_key, now) {
                let why = match problem {
                    QrKeyProblem::Expired { age_secs } => format!(
                        "qr_key 已过期（{age_secs} 秒前生成，有效期 300 秒），请重新打印或扫描 / qr_key expired ({age_secs} s old, valid 300 s): print or scan the label again"
                    ),
                    QrKeyProblem::WrongPrinter => "machine_code,qr_key错误：qr_key 不属于该打印机 / machine_code or qr_key wrong: the key belongs to another printer".into(),
                    QrKeyProblem::Malformed => "machine_code,qr_key错误：qr_key 格式不对 / machine_code or qr_key wrong: malformed qr_key".into(),
                    QrKeyProblem::NotYetValid => "machine_code,qr_key错误：qr_key 的时间在未来 / machine_code or qr_key wrong: key issued in the future".into(),
                };
                return Err(YlyReply::err(30, why));
            }
        }
        (None, Some(msign)) => {
            let expected = keys::msign_for(machine_code);
            if !keys::is_sandbox_printer(machine_code)
                || !constant_time_eq(msign.as_bytes(), expected.as_bytes())
            {
                return Err(YlyReply::err(35, "machine_code 或 msign 错误，请核对标签 / machine_code or msign wrong: check the label"));
            }
        }
    }
    check_binding(tx, machine_code, app.client_id)?;
    check_quota(tx, machine_code, now)?;
    let grant = issue_grant(tx, seed, app.client_id, machine_code, "scan", now, None)?;
    Ok(YlyReply::ok(Some(grant_body(
        req.version,
        seed,
        &grant,
        false,
    ))))
}

fn oauth(tx: &Transaction<'_>, seed: &[u8], req: &YlyRequest) -> Outcome {
    let app = check_common(tx, req, 12)?;
    check_scope(req)?;
    let now = virtual_now(tx).map_err(internal)?;
    match req.get("grant_type") {
        None => Err(YlyReply::err(12, "缺少必要参数：grant_type / missing required parameter: grant_type")),
        Some("authorization_code") => {
            let Some(code) = req.get("code") else {
                return Err(YlyReply::err(12, "缺少必要参数：code / missing required parameter: code"));
            };
            let row: Option<(i64, String, i64, bool)> = tx
                .query_row(
                    "SELECT id, machine_code, issued_at, used FROM codes WHERE code_hash = ?1 AND client_id = ?2",
                    params![keys::sha256_hex(code), app.client_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()
                .map_err(internal)?;
            let Some((code_id, machine_code, issued_at, used)) = row else {
                return Err(YlyReply::err(6, "code 错误，请重新发起授权 / code is wrong: start the authorization again"));
            };
            if used {
                return Err(YlyReply::err(6, "code 已使用过，请重新发起授权 / code already used: start the authorization again"));
            }
            if now - issued_at > CODE_TTL {
                return Err(YlyReply::err(6, "code 已过期（600 秒），请重新发起授权 / code expired (600 s): start the authorization again"));
            }
            tx.execute("UPDATE codes SET used = 1 WHERE id = ?1", [code_id]).map_err(internal)?;
            check_binding(tx, &machine_code, app.client_id)?;
            check_quota(tx, &machine_code, now)?;
            let grant = issue_grant(tx, seed, app.client_id, &machine_code, "code", now, None)?;
            Ok(YlyReply::ok(Some(grant_body(req.version, seed, &grant, true))))
        }
        Some("refresh_token") => {
            let Some(refresh_token) = req.get("refresh_token") else {
                return Err(YlyReply::err(12, "缺少必要参数：refresh_token / missing required parameter: refresh_token"));
            };
            let Some(old) = grant_by(tx, "refresh_hash", refresh_token, app.client_id)? else {
                return Err(YlyReply::err(20, "refresh_token 无效，请重新授权（重新扫码）/ refresh_token is invalid: authorize again (scan again)"));
            };
            if old.revoked {
                return Err(YlyReply::err(20, "refresh_token 已失效（打印机已解绑），请重新授权 / refresh_token revoked (printer unbound): authorize again"));
            }
            if let Some(superseded_at) = old.superseded_at {
                // The documented recovery for a lost refresh reply: the old token returns the previous result.
                if let Some(successor) = old.successor {
                    if now - superseded_at <= REPLAY_WINDOW {
                        let next = grant_by_id(tx, successor)?;
                        if !next.revoked {
                            return Ok(YlyReply::ok(Some(grant_body(req.version, seed, &next, true))));
                        }
                    }
                }
                return Err(YlyReply::err(20, "refresh_token 已被使用超过 2 小时或已被新授权取代，请重新授权 / refresh_token was used more than 2 h ago or replaced by a new authorization: authorize again"));
            }
            if now > old.refresh_expires_at {
                return Err(YlyReply::err(20, "refresh_token 已过期（35 天），请重新授权（重新扫码）/ refresh_token expired (35 days): authorize again (scan again)"));
            }
            check_binding(tx, &old.machine_code, app.client_id)?;
            check_quota(tx, &old.machine_code, now)?;
            let grant = issue_grant(tx, seed, app.client_id, &old.machine_code, "refresh", now, Some(old.id))?;
            Ok(YlyReply::ok(Some(grant_body(req.version, seed, &grant, true))))
        }
        Some(other) => Err(YlyReply::err(
            47,
            format!("不支持的 grant_type：{other}，应为 authorization_code 或 refresh_token / unsupported grant_type {other}: use authorization_code or refresh_token"),
        )),
    }
}

pub(crate) struct Grant {
    pub id: i64,
    pub client_id: String,
    pub machine_code: String,
    pub access_expires_at: i64,
    pub refresh_expires_at: i64,
    pub superseded_at: Option<i64>,
    pub successor: Option<i64>,
    pub revoked: bool,
}

const GRANT_COLUMNS: &str =
    "id, client_id, machine_code, access_expires_at, refresh_expires_at, superseded_at, successor, revoked";

fn grant_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Grant> {
    Ok(Grant {
        id: r.get(0)?,
        client_id: r.get(1)?,
        machine_code: r.get(2)?,
        access_expires_at: r.get(3)?,
        refresh_expires_at: r.get(4)?,
        superseded_at: r.get(5)?,
        successor: r.get(6)?,
        revoked: r.get(7)?,
    })
}

fn grant_by(
    tx: &Transaction<'_>,
    column: &str,
    token: &str,
    client_id: &str,
) -> Result<Option<Grant>, YlyReply> {
    // `column` is one of two fixed names, never user input.
    let sql = format!("SELECT {GRANT_COLUMNS} FROM grants WHERE {column} = ?1 AND client_id = ?2");
    tx.query_row(
        &sql,
        params![keys::sha256_hex(token), client_id],
        grant_from_row,
    )
    .optional()
    .map_err(internal)
}

fn grant_by_id(tx: &Transaction<'_>, id: i64) -> Result<Grant, YlyReply> {
    let sql = format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = ?1");
    tx.query_row(&sql, [id], grant_from_row).map_err(internal)
}

fn check_binding(
    tx: &Transaction<'_>,
    machine_code: &str,
    client_id: &str,
) -> Result<(), YlyReply> {
    let bound: Option<String> = tx
        .query_row(
            "SELECT client_id FROM bindings WHERE machine_code = ?1",
            [machine_code],
            |r| r.get(0),
        )
        .optional()
        .map_err(internal)?;
    match bound {
        Some(other) if other != client_id => Err(YlyReply::err(
            17,
            "该打印机已被其他应用绑定，请先在原应用中解绑 / this printer is already bound by another app: unbind it there first",
        )),
        _ => Ok(()),
    }
}

/// Grants and refreshes counted for `machine_code` on the China calendar day containing `now`.
pub(crate) fn grants_today(
    tx: &rusqlite::Connection,
    machine_code: &str,
    now: i64,
) -> rusqlite::Result<i64> {
    let start = china_day_start(now);
    tx.query_row(
        "SELECT COUNT(*) FROM grant_events WHERE machine_code = ?1 AND at >= ?2 AND at < ?3",
        params![machine_code, start, start + 86_400],
        |r| r.get(0),
    )
}

fn check_quota(tx: &Transaction<'_>, machine_code: &str, now: i64) -> Result<(), YlyReply> {
    if grants_today(tx, machine_code, now).map_err(internal)? >= DAILY_GRANT_LIMIT {
        return Err(YlyReply::err(
            41,
            "该打印机今日授权/刷新次数已达 20 次上限，请明天（北京时间 0 点后）再试，不要重试 / \
             daily limit of 20 grants/refreshes for this printer reached: wait until tomorrow (00:00 China time), do not retry",
        ));
    }
    Ok(())
}

fn issue_grant(
    tx: &Transaction<'_>,
    seed: &[u8],
    client_id: &str,
    machine_code: &str,
    origin: &str,
    now: i64,
    refreshed_from: Option<i64>,
) -> Result<Grant, YlyReply> {
    let run = || -> rusqlite::Result<Grant> {
        tx.execute(
            "INSERT INTO grants(client_id, machine_code, origin, issued_at, access_expires_at, refresh_expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![client_id, machine_code, origin, now, now + ACCESS_TTL, now + REFRESH_TTL],
        )?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "UPDATE grants SET access_hash = ?1, refresh_hash = ?2 WHERE id = ?3",
            params![
                keys::sha256_hex(&keys::derive_token(seed, "access", id)),
                keys::sha256_hex(&keys::derive_token(seed, "refresh", id)),
                id
            ],
        )?;
        // Older pairs for this printer stop: access tokens after the 2 h grace, refresh tokens at once
        // (except the replay of the one just refreshed).
        tx.execute(
            "UPDATE grants SET superseded_at = ?1 WHERE client_id = ?2 AND machine_code = ?3 AND id <> ?4 AND superseded_at IS NULL",
            params![now, client_id, machine_code, id],
        )?;
        if let Some(old) = refreshed_from {
            tx.execute(
                "UPDATE grants SET successor = ?1 WHERE id = ?2",
                params![id, old],
            )?;
        }
        tx.execute(
            "INSERT INTO grant_events(machine_code, at) VALUES (?1, ?2)",
            params![machine_code, now],
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO bindings(machine_code, client_id, bound_at) VALUES (?1, ?2, ?3)",
            params![machine_code, client_id, now],
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO printers(machine_code, state) VALUES (?1, 1)",
            [machine_code],
        )?;
        tracing::info!(
            machine_code,
            origin,
            grant = id,
            "sandbox issued a token pair"
        );
        Ok(Grant {
            id,
            client_id: client_id.to_string(),
            machine_code: machine_code.to_string(),
            access_expires_at: now + ACCESS_TTL,
            refresh_expires_at: now + REFRESH_TTL,
            superseded_at: None,
            successor: None,
            revoked: false,
        })
    };
    run().map_err(internal)
}

/// The token reply body. Tokens are re-derived, so a replay returns exactly the same values.
fn grant_body(version: ApiVersion, seed: &[u8], grant: &Grant, with_machine_code: bool) -> Value {
    let access = keys::derive_token(seed, "access", grant.id);
    let refresh = keys::derive_token(seed, "refresh", grant.id);
    match version {
        ApiVersion::V1 => {
            let mut body = json!({
                "access_token": access,
                "refresh_token": refresh,
                "expires_in": ACCESS_TTL,
                "scope": "all",
            });
            if with_machine_code {
                body["machine_code"] = json!(grant.machine_code);
            }
            body
        }
        ApiVersion::V2 => json!({
            "access_token": access,
            "refresh_token": refresh,
            "machine_code": grant.machine_code,
            "expires_in": ACCESS_TTL,
            "refresh_expires_in": REFRESH_TTL,
            "scope": "all",
            "client_id": grant.client_id,
        }),
    }
}

fn printer_call(tx: &Transaction<'_>, req: &YlyRequest) -> Outcome {
    let app = check_common(tx, req, 12)?;
    req.require(&["access_token", "machine_code"])?;
    let (access_token, machine_code) = (
        req.get("access_token").unwrap(),
        req.get("machine_code").unwrap(),
    );
    let now = virtual_now(tx).map_err(internal)?;
    let Some(grant) = grant_by(tx, "access_hash", access_token, app.client_id)? else {
        return Err(YlyReply::err(
            14,
            "access_token 错误，请重新授权 / access_token is wrong: authorize again",
        ));
    };
    if grant.revoked {
        return Err(YlyReply::err(14, "access_token 错误：打印机已解绑，请重新授权 / access_token is wrong: the printer was unbound, authorize again"));
    }
    if grant
        .superseded_at
        .is_some_and(|at| now - at > REPLAY_WINDOW)
        || now > grant.access_expires_at
    {
        return Err(YlyReply::err(18, "access_token 已过期或已被新令牌取代，请刷新令牌，失败则重新授权 / access_token expired or replaced: refresh it, else authorize again"));
    }
    if grant.machine_code != machine_code {
        return Err(YlyReply::err(8, "打印机信息错误：该 access_token 不属于此 machine_code / printer info wrong: this access_token belongs to another machine_code"));
    }
    let v2 = req.version == ApiVersion::V2;
    match req.path.as_str() {
        "/printer/getprintstatus" => {
            let state = printer_state(tx, machine_code).map_err(internal)?;
            Ok(YlyReply::ok(Some(if v2 {
                json!({ "machine_code": machine_code, "state": state })
            } else {
                json!({ "state": state.to_string() })
            })))
        }
        "/printer/getversion" => Ok(YlyReply::ok(Some(
            json!({ "hardware": "a7", "software": "K4-WAD" }),
        ))),
        "/printer/printinfo" => Ok(YlyReply::ok(Some(
            json!({ "version": "K4-WAD", "print_width": "58mm" }),
        ))),
        "/print/index" => print_index(tx, req, app.client_id, machine_code, now),
        "/printer/deleteprinter" => {
            tx.execute(
                "UPDATE grants SET revoked = 1 WHERE client_id = ?1 AND machine_code = ?2",
                params![app.client_id, machine_code],
            )
            .map_err(internal)?;
            tx.execute(
                "DELETE FROM bindings WHERE machine_code = ?1 AND client_id = ?2",
                params![machine_code, app.client_id],
            )
            .map_err(internal)?;
            tracing::info!(machine_code, "sandbox printer unbound");
            Ok(YlyReply::ok(None))
        }
        "/printer/cancelall" => {
            let n = tx
                .execute(
                    "UPDATE prints SET status = 'cancelled' WHERE client_id = ?1 AND machine_code = ?2 AND status = 'queued'",
                    params![app.client_id, machine_code],
                )
                .map_err(internal)?;
            if n == 0 {
                return Err(YlyReply::err(
                    24,
                    "没有可取消的未打印订单 / there are no unprinted orders to cancel",
                ));
            }
            Ok(YlyReply::ok(None))
        }
        _ => unreachable!("routed by handle()"),
    }
}

pub(crate) fn printer_state(
    tx: &rusqlite::Connection,
    machine_code: &str,
) -> rusqlite::Result<i64> {
    Ok(tx
        .query_row(
            "SELECT state FROM printers WHERE machine_code = ?1",
            [machine_code],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(1))
}

fn print_index(
    tx: &Transaction<'_>,
    req: &YlyRequest,
    client_id: &str,
    machine_code: &str,
    now: i64,
) -> Outcome {
    let v2 = req.version == ApiVersion::V2;
    let (Some(content), Some(origin_id)) = (req.get("content"), req.get("origin_id")) else {
        return Err(YlyReply::err(
            12,
            "content 和 origin_id 不能为空 / content and origin_id are required",
        ));
    };
    let max = if v2 { 64 } else { 32 };
    if origin_id.len() > max || !origin_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(YlyReply::err(
            47,
            format!("origin_id 只能是字母和数字，最长 {max} 位 / origin_id must be letters and digits, at most {max} chars"),
        ));
    }
    let idempotent = match req.get("idempotence") {
        Some("1") => true,
        Some("0") => false,
        None => v2,
        Some(_) => {
            return Err(YlyReply::err(
                47,
                "idempotence 只能是 0 或 1 / idempotence must be 0 or 1",
            ))
        }
    };
    let render = |id: i64| {
        YlyReply::ok(Some(if v2 {
            json!({ "id": id, "origin_id": origin_id })
        } else {
            json!({ "id": id.to_string(), "origin_id": origin_id })
        }))
    };
    if idempotent {
        let earlier: Option<i64> = tx
            .query_row(
                "SELECT id FROM prints WHERE client_id = ?1 AND origin_id = ?2 AND created_at >= ?3 ORDER BY id DESC LIMIT 1",
                params![client_id, origin_id, now - PRINT_IDEMPOTENCE_WINDOW],
                |r| r.get(0),
            )
            .optional()
            .map_err(internal)?;
        if let Some(id) = earlier {
            return Ok(render(print_job_id(id)));
        }
    }
    // Online printers print at once; offline / out-of-paper ones queue (so cancelall has something to do).
    let status = if printer_state(tx, machine_code).map_err(internal)? == 1 {
        "printed"
    } else {
        "queued"
    };
    tx.execute(
        "INSERT INTO prints(client_id, machine_code, origin_id, content, created_at, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![client_id, machine_code, origin_id, content, now, status],
    )
    .map_err(internal)?;
    Ok(render(print_job_id(tx.last_insert_rowid())))
}

/// Public print job ids look like the real (large) numeric ids.
pub(crate) fn print_job_id(row_id: i64) -> i64 {
    1_000_000_000 + row_id
}
