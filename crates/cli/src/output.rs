//! Everything the CLI prints: human text (zh first, en second) or `--json`. Tokens only via `revealed`.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use quickauth_core::{
    DeviceSummary, Error, ErrorReport, HistoryEntry, PrintReport, PrinterReport, Profile,
    ProfileSettings, RefreshOutcome, RefreshReport, RevealedTokens, TokenInfo,
};
use serde_json::{json, Value};

use crate::FormatArg;

fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn ts_opt(t: &Option<DateTime<Utc>>) -> Value {
    t.as_ref()
        .map(|t| Value::String(ts(t)))
        .unwrap_or(Value::Null)
}

/// The shape `authorize`, `refresh` and `list` print:
/// `{"id","provider","profile","expires_at","refresh_expires_at","ownership"}`, plus `"handed_over_at"`,
/// `"handed_over_to"` and `"tokens_deleted_at"` for a handed-over device.
pub fn device_json(d: &DeviceSummary) -> Value {
    let mut v = json!({
        "id": d.id,
        "provider": d.provider,
        "profile": d.profile,
        "expires_at": ts(&d.expires_at),
        "refresh_expires_at": ts_opt(&d.refresh_expires_at),
        "ownership": d.ownership,
    });
    if d.ownership == quickauth_core::Ownership::HandedOver {
        v["handed_over_at"] = ts_opt(&d.handed_over_at);
        v["handed_over_to"] = json!(d.handed_over_to);
        v["tokens_deleted_at"] = ts_opt(&d.pair_released_at);
    }
    v
}

/// How a device's ownership shows in the human list (nothing for the default, kept).
fn ownership_note(d: &DeviceSummary) -> String {
    match d.ownership {
        quickauth_core::Ownership::Kept => String::new(),
        quickauth_core::Ownership::Delivered => "  已交付 / delivered".into(),
        quickauth_core::Ownership::HandedOver => format!(
            "  已移交 / handed over → {} at {}{}",
            d.handed_over_to.as_deref().unwrap_or("?"),
            ts_opt(&d.handed_over_at).as_str().unwrap_or("?"),
            if d.pair_released_at.is_some() {
                "（令牌已删除 / tokens deleted）"
            } else {
                "（待确认 / awaiting acknowledgement）"
            }
        ),
    }
}

fn print_json(v: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
}

/// Prints an error (zh + en, or the ErrorReport JSON) on stderr and returns exit code 1.
pub fn fail(e: &dyn quickauth_protocol::Localized, json: bool) -> u8 {
    let report = ErrorReport::from(e);
    if json {
        eprintln!(
            "{}",
            serde_json::to_string(&report).expect("report serialises")
        );
    } else {
        eprintln!("错误：{}", report.message_zh);
        eprintln!("Error: {}", report.message_en);
    }
    1
}

pub struct Out {
    json: bool,
}

impl Out {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    pub fn done(&self, what: &str, subject: &str, zh: &str, en: &str) {
        if self.json {
            print_json(&json!({ "ok": true, "action": what, "id": subject }));
        } else {
            println!("{zh}：{subject} / {en}: {subject}");
        }
    }

    pub fn profiles(&self, profiles: &[Profile]) {
        if self.json {
            print_json(&serde_json::to_value(profiles).expect("profiles serialise"));
            return;
        }
        for p in profiles {
            match &p.settings {
                ProfileSettings::Yilianyun { client_id, region, api_version, base_url } => println!(
                    "{:<16} 易联云 yilianyun  client_id={client_id} region={region} api={api_version}{}{}",
                    p.name,
                    base_url.as_ref().map(|u| format!(" base_url={u}")).unwrap_or_default(),
                    if p.builtin { format!("  [{}]", p.label) } else { String::new() },
                ),
                ProfileSettings::Lingju { endpoint, base_url } => {
                    println!("{:<16} 灵聚 lingju  endpoint={endpoint} base_url={base_url}", p.name)
                }
            }
        }
    }

    pub fn authorized(&self, d: &DeviceSummary) {
        if self.json {
            print_json(&device_json(d));
        } else {
            println!(
                "已授权 / Authorized: {} {} (配置 profile {})，令牌有效期至 / token valid until {}",
                d.provider,
                d.id,
                d.profile,
                ts(&d.expires_at)
            );
        }
    }

    pub fn devices(&self, devices: &[DeviceSummary]) {
        if self.json {
            print_json(&Value::Array(devices.iter().map(device_json).collect()));
            return;
        }
        if devices.is_empty() {
            println!("还没有已授权的设备 / No authorized devices yet.");
            return;
        }
        for d in devices {
            println!(
                "{:<10} {:<20} {:<14} expires {}{}{}",
                d.provider,
                d.id,
                d.profile,
                ts(&d.expires_at),
                if d.needs_reauth {
                    "  需要重新授权 / needs re-authorization"
                } else {
                    ""
                },
                ownership_note(d)
            );
            if let Some(until) = d.replay_pending_until {
                println!(
                    "           刷新未完成：请在 {} 之前再次刷新（重放旧刷新令牌）/ refresh pending: refresh again before {} (replay of the old refresh token)",
                    ts(&until),
                    ts(&until)
                );
            }
        }
    }

    pub fn masked(&self, info: &TokenInfo) {
        let mask = "********";
        if self.json {
            let mut v = device_json(&info.device);
            v["generation"] = json!(info.generation);
            v["issued_at"] = json!(ts(&info.issued_at));
            v["access_token"] = json!(mask);
            v["refresh_token"] = if info.has_refresh_token {
                json!(mask)
            } else {
                Value::Null
            };
            print_json(&v);
        } else {
            println!(
                "{} {} (profile {})",
                info.device.provider, info.device.id, info.device.profile
            );
            println!("  access_token:  {mask}  (已隐藏，用 --reveal 显示 / hidden, use --reveal)");
            if info.has_refresh_token {
                println!("  refresh_token: {mask}");
            }
            println!(
                "  expires_at: {}  generation: {}",
                ts(&info.device.expires_at),
                info.generation
            );
        }
    }

    /// The one place a token is printed, on explicit `--reveal`.
    pub fn revealed(&self, t: &RevealedTokens) {
        if self.json {
            let mut v = device_json(&t.device);
            v["access_token"] = json!(t.access_token.expose());
            v["refresh_token"] = t
                .refresh_token
                .as_ref()
                .map(|r| json!(r.expose()))
                .unwrap_or(Value::Null);
            print_json(&v);
        } else {
            println!(
                "{} {} (profile {})",
                t.device.provider, t.device.id, t.device.profile
            );
            println!("  access_token:  {}", t.access_token.expose());
            if let Some(r) = &t.refresh_token {
                println!("  refresh_token: {}", r.expose());
            }
            println!("  expires_at: {}", ts(&t.device.expires_at));
        }
    }

    pub fn refreshed(&self, r: &RefreshReport) {
        if self.json {
            print_json(&device_json(&r.device));
            return;
        }
        let how = match r.outcome {
            RefreshOutcome::Refreshed { .. } => "已刷新 / Refreshed",
            RefreshOutcome::AlreadyRefreshed { .. } => {
                "已由另一进程刷新 / Refreshed by another process"
            }
            RefreshOutcome::Recovered { .. } => {
                "已完成上次中断的刷新 / Completed an interrupted refresh"
            }
        };
        println!(
            "{how}: {} {}，新令牌有效期至 / valid until {}",
            r.device.provider,
            r.device.id,
            ts(&r.device.expires_at)
        );
    }

    /// `refresh --all`: successes in the refresh shape, failures with their ErrorReport. Exit 1 if any failed.
    pub fn refresh_all(&self, results: &[(DeviceSummary, Result<RefreshReport, Error>)]) -> u8 {
        let mut code = 0;
        let mut arr = Vec::new();
        for (d, res) in results {
            match res {
                Ok(r) => {
                    if self.json {
                        arr.push(device_json(&r.device));
                    } else {
                        self.refreshed(r);
                    }
                }
                Err(e) => {
                    code = 1;
                    let report = ErrorReport::from(e);
                    if self.json {
                        let mut v = device_json(d);
                        v["error"] = serde_json::to_value(&report).expect("report serialises");
                        arr.push(v);
                    } else {
                        eprintln!(
                            "{} {}：{}\n{} {}: {}",
                            d.provider,
                            d.id,
                            report.message_zh,
                            d.provider,
                            d.id,
                            report.message_en
                        );
                    }
                }
            }
        }
        if self.json {
            print_json(&Value::Array(arr));
        } else if results.is_empty() {
            println!("没有需要刷新的设备 / No device is due for a refresh.");
        }
        code
    }

    pub fn status(&self, r: &PrinterReport) {
        if self.json {
            print_json(&serde_json::to_value(r).expect("report serialises"));
        } else {
            let zh = match r.state.as_str() {
                "online" => "在线",
                "offline" => "离线（状态可能延迟 30 秒到 5 分钟）",
                "out_of_paper" => "缺纸",
                _ => "未知",
            };
            println!(
                "{}: {zh} / {}  型号 model: {}  硬件 hardware: {}",
                r.id,
                r.state,
                r.software.as_deref().unwrap_or("?"),
                r.hardware.as_deref().unwrap_or("?")
            );
        }
    }

    pub fn printed(&self, r: &PrintReport) {
        if self.json {
            print_json(&serde_json::to_value(r).expect("report serialises"));
        } else {
            println!(
                "测试单已发送 / Test ticket sent: {} (job {}, origin_id {})",
                r.id, r.job_id, r.origin_id
            );
        }
    }

    pub fn history(&self, entries: &[HistoryEntry]) {
        if self.json {
            let arr: Vec<Value> = entries
                .iter()
                .map(|h| {
                    json!({
                        "id": h.id, "at": ts(&h.at), "action": h.action, "provider": h.provider,
                        "device_id": h.device_id, "profile": h.profile, "outcome": h.outcome,
                        "error_kind": h.error_kind, "error_code": h.error_code,
                    })
                })
                .collect();
            print_json(&Value::Array(arr));
            return;
        }
        for h in entries {
            let err = match (&h.error_kind, h.error_code) {
                (Some(k), Some(c)) => format!(" {k} ({c})"),
                (Some(k), None) => format!(" {k}"),
                _ => String::new(),
            };
            println!(
                "{} {:<14} {:<10} {:<20} {}{}",
                ts(&h.at),
                h.action,
                h.provider,
                h.device_id.as_deref().unwrap_or("-"),
                h.outcome,
                err
            );
        }
    }
}

/// Most images `decode` works on at once (each holds its luma copy and the decoder's buffers: tens of MB
/// for a 12 MP photo).
const MAX_DECODE_THREADS: usize = 4;

/// `decode FILE...`: one JSON object per file `{"file","payload","machine_code","qr_key"|"msign","texts","error"}`:
/// `payload` is the label's text (the first code that parses as a label, else the first code), `texts` every
/// code read in the image, in the order read.
///
/// Loading and decoding one image is single-threaded: a batch of files is spread over up to
/// `MAX_DECODE_THREADS` threads (one per core), and each result is printed, in the order the files were
/// given, as soon as it and every one before it are done. The results are the same as one at a time.
pub fn decode(files: &[PathBuf], json_out: bool) -> u8 {
    let mut code = 0;
    let mut emit = |file: &Path, v: Value| {
        if !v["error"].is_null() {
            code = 1;
        }
        if json_out {
            print_json(&v);
        } else if let Some(err) = v["error"].as_str() {
            println!("{}: {err}", file.display());
        } else {
            let key = ["qr_key", "msign", "userid"]
                .iter()
                .find(|k| v.get(**k).is_some())
                .copied()
                .unwrap_or("");
            println!(
                "{}: machine_code={} {key}={}",
                file.display(),
                v["machine_code"].as_str().unwrap_or("-"),
                v.get(key).and_then(Value::as_str).unwrap_or("-")
            );
        }
    };
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_DECODE_THREADS)
        .min(files.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Value)>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (tx, next) = (tx.clone(), &next);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(file) = files.get(i) else { break };
                if tx.send((i, decode_one_guarded(file))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        // Results arrive in any order; print them in the files' order.
        let mut done = std::collections::BTreeMap::new();
        let mut printed = 0;
        for (i, v) in rx {
            done.insert(i, v);
            while let Some(v) = done.remove(&printed) {
                emit(&files[printed], v);
                printed += 1;
            }
        }
    });
    code
}

/// `decode_one`, with a panic (a bug in an image decoder on a malformed file) reported as that file's
/// error instead of ending the whole batch.
fn decode_one_guarded(file: &Path) -> Value {
    std::panic::catch_unwind(|| decode_one(file)).unwrap_or_else(|_| {
        let mut v = no_result(file);
        v["error"] = json!("读取这个图片时出错（程序内部错误）。请换一张照片，或改用摄像头扫描。 / Reading this image failed (an internal error). Try another photo, or scan with the camera.");
        v
    })
}

/// `decode`'s object for `file` before anything is known: no payload, no texts, no error.
fn no_result(file: &Path) -> Value {
    json!({ "file": file.display().to_string(), "payload": null, "machine_code": null, "texts": [], "error": null })
}

fn decode_one(file: &Path) -> Value {
    let mut v = no_result(file);
    let decoded = match quickauth_qr::decode_image_file(file) {
        Ok(d) => d,
        Err(e) => {
            v["error"] = json!(format!("{} / {}", e.message_zh(), e.message_en()));
            return v;
        }
    };
    v["texts"] = json!(decoded.iter().map(|d| d.text.as_str()).collect::<Vec<_>>());
    let Some(first) = decoded.first() else {
        v["error"] = json!("图片里没有找到二维码 / no QR code found in the image");
        return v;
    };
    // Prefer the first code that is a label; else report the first one's text and why it is not.
    let parsed = decoded
        .iter()
        .find_map(|d| quickauth_qr::parse_payload(&d.text).ok().map(|p| (d, p)));
    match parsed {
        Some((d, payload)) => {
            v["payload"] = json!(d.text);
            match payload {
                quickauth_qr::LabelPayload::Yilianyun { machine_code, key } => {
                    v["machine_code"] = json!(machine_code);
                    match key {
                        quickauth_qr::LabelKey::QrKey(k) => v["qr_key"] = json!(k),
                        quickauth_qr::LabelKey::Msign(m) => v["msign"] = json!(m),
                    }
                }
                quickauth_qr::LabelPayload::Lingju { userid } => v["userid"] = json!(userid),
            }
        }
        None => {
            v["payload"] = json!(first.text);
            let e = quickauth_qr::parse_payload(&first.text).expect_err("no payload parsed");
            v["machine_code"] = json!(e.machine_code);
            v["error"] = json!(format!("{} / {}", e.message_zh(), e.message_en()));
        }
    }
    v
}

/// `sandbox mint`: a fresh sandbox printer label, offline. Prints the payload; `--png` writes a label image.
pub fn mint(msign: bool, format: FormatArg, png: Option<&Path>) -> u8 {
    use quickauth_sandbox::{keys, LabelFormat, LabelKind};
    let machine_code = keys::random_machine_code();
    let (kind, key) = if msign {
        (LabelKind::Msign, keys::msign_for(&machine_code))
    } else {
        (
            LabelKind::QrKey,
            keys::mint_qr_key(&machine_code, Utc::now().timestamp()),
        )
    };
    let format = match format {
        FormatArg::Json => LabelFormat::Json,
        FormatArg::Url => LabelFormat::Url,
        FormatArg::Kv => LabelFormat::Kv,
        FormatArg::Hash => LabelFormat::Hash,
    };
    let payload = quickauth_sandbox::render_payload(&machine_code, kind, &key, format);
    if let Some(path) = png {
        let opts = quickauth_qr::label::LabelOptions {
            lines: vec![format!("SN:{machine_code}")],
            ..Default::default()
        };
        let img = match quickauth_qr::label::render_text(&payload, &opts) {
            Ok(img) => img,
            Err(e) => {
                eprintln!("错误：{}\nError: {}", e.message_zh(), e.message_en());
                return 1;
            }
        };
        if let Err(e) = std::fs::write(path, quickauth_qr::label::png_bytes(&img)) {
            eprintln!(
                "错误：无法写入 {}：{e}\nError: cannot write {}: {e}",
                path.display(),
                path.display()
            );
            return 1;
        }
    }
    println!("{payload}");
    0
}
