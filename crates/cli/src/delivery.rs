//! Hand-over commands (issue 9): `profile delivery`, `handover`, `deliver`, `deliveries`, and the reveal prompt.

use std::io::{BufRead, IsTerminal, Write};

use chrono::{DateTime, SecondsFormat, Utc};
use clap::{ArgGroup, Args, ValueEnum};
use quickauth_core::{
    DeliverRun, Delivery, DeliverySettings, Error, HandoverReport, Ownership, QuickAuth,
    SigningSecret, WebhookSecret,
};
use serde_json::{json, Value};

use crate::output::device_json;
use crate::{secrets, Failure};

#[derive(Clone, Copy, ValueEnum)]
pub enum OwnershipArg {
    Kept,
    Delivered,
    HandedOver,
}

impl From<OwnershipArg> for Ownership {
    fn from(o: OwnershipArg) -> Self {
        match o {
            OwnershipArg::Kept => Ownership::Kept,
            OwnershipArg::Delivered => Ownership::Delivered,
            OwnershipArg::HandedOver => Ownership::HandedOver,
        }
    }
}

/// `profile delivery NAME --webhook URL [--ownership …] [--generate-secret]` or `profile delivery NAME --off`.
/// Without --webhook/--off it shows the current settings.
#[derive(Args)]
#[command(group(ArgGroup::new("change").args(["webhook", "off"])))]
pub struct DeliveryArgs {
    pub name: String,
    /// Receiver URL (https; plain http only to 127.0.0.1 / ::1 / localhost). Signing secret: stdin line 1
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
    /// Ownership of devices newly authorized under this profile (default: kept)
    #[arg(long, value_enum, requires = "webhook")]
    pub ownership: Option<OwnershipArg>,
    /// Create a new whsec_ signing secret and print it once, instead of reading one from stdin
    #[arg(long, requires = "webhook")]
    pub generate_secret: bool,
    /// Remove the destination and its signing secret (queued events wait until one is set again)
    #[arg(long)]
    pub off: bool,
    #[arg(long)]
    pub json: bool,
}

fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn print_json(v: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
}

fn settings_json(s: &DeliverySettings) -> Value {
    json!({
        "profile": s.profile,
        "webhook": s.url,
        "ownership": s.default_ownership,
        "enabled": s.enabled,
        "disabled_at": s.disabled_at.as_ref().map(ts),
        "disabled_reason": s.disabled_reason,
        "has_secret": s.has_secret,
    })
}

fn print_settings(s: &DeliverySettings) {
    println!(
        "{}: {}  默认归属 default ownership: {}  {}",
        s.profile,
        s.url,
        s.default_ownership.as_str(),
        if s.enabled {
            "已启用 / enabled".to_owned()
        } else {
            format!(
                "已停用 / DISABLED: {}",
                s.disabled_reason.as_deref().unwrap_or("")
            )
        }
    );
}

pub fn profile_delivery(qa: &QuickAuth, a: &DeliveryArgs) -> Result<u8, Failure> {
    if a.off {
        let had = qa.remove_delivery(&a.name)?;
        if a.json {
            print_json(
                &json!({"ok": true, "action": "delivery_removed", "profile": a.name, "had_destination": had}),
            );
        } else if had {
            println!(
                "已移除交付地址：{0} / Delivery destination removed: {0}",
                a.name
            );
        } else {
            println!(
                "配置 {0} 本来就没有交付地址 / Profile {0} had no delivery destination",
                a.name
            );
        }
        return Ok(0);
    }
    let Some(url) = &a.webhook else {
        let settings = qa.delivery_settings(&a.name)?;
        match (&settings, a.json) {
            (Some(s), true) => print_json(&settings_json(s)),
            (None, true) => print_json(&Value::Null),
            (Some(s), false) => print_settings(s),
            (None, false) => println!(
                "配置 {0} 没有交付地址 / Profile {0} has no delivery destination",
                a.name
            ),
        }
        return Ok(0);
    };
    // Validate the URL before asking for a secret, so a typo costs nothing.
    quickauth_core::validate_webhook_url(url)?;
    let secret = if a.generate_secret {
        SigningSecret::Generate
    } else {
        let io = |e: std::io::Error| Error::Io {
            context: "read webhook secret from stdin",
            path: "<stdin>".into(),
            source: e,
        };
        let mut lines =
            secrets::read_secrets(&["签名密钥 whsec_… / Signing secret whsec_…: "]).map_err(io)?;
        let Some(line) = lines.remove(0) else {
            return Err(Failure::Core(Error::InvalidInput {
                field: "webhook secret",
                detail: "标准输入第 1 行应为 whsec_ 开头的签名密钥，或改用 --generate-secret / stdin line 1 must hold the whsec_ signing secret, or use --generate-secret".into(),
            }));
        };
        SigningSecret::Given(WebhookSecret::parse(&line)?)
    };
    let (settings, generated) =
        qa.set_delivery(&a.name, url, a.ownership.map(Ownership::from), secret)?;
    if a.json {
        let mut v = settings_json(&settings);
        if let Some(s) = &generated {
            v["secret"] = json!(s.expose());
        }
        print_json(&v);
    } else {
        print_settings(&settings);
        if let Some(s) = &generated {
            println!("签名密钥（只显示这一次，请交给接收方保存）/ Signing secret (shown only this once; give it to the receiver):");
            println!("{}", s.expose());
        }
    }
    Ok(0)
}

pub async fn handover(qa: &QuickAuth, id: &str, json: bool) -> Result<u8, Failure> {
    let r = qa.handover(id).await?;
    print_handover(&r, json);
    // Handed over either way; exit 1 only when the receiver refused it for good (4xx) so scripts notice.
    Ok(if r.status == "failed" { 1 } else { 0 })
}

fn print_handover(r: &HandoverReport, json: bool) {
    if json {
        let mut v = device_json(&r.device);
        v["event_id"] = json!(r.event_id);
        v["status"] = json!(r.status);
        v["last_error"] = json!(r.last_error);
        v["released"] = json!(r.released);
        print_json(&v);
        return;
    }
    let d = &r.device;
    match r.status.as_str() {
        "delivered" => println!(
            "已移交并送达 / Handed over and delivered: {} {} → {}（令牌已从本机钥匙串删除 / tokens deleted from this keyring）",
            d.provider,
            d.id,
            d.handed_over_to.as_deref().unwrap_or("?")
        ),
        "failed" => eprintln!(
            "已移交，但接收方拒收 / Handed over, but the receiver refused it: {} {}: {}\n用 `quickauth deliver --retry-failed` 重试 / retry with `quickauth deliver --retry-failed`",
            d.provider,
            d.id,
            r.last_error.as_deref().unwrap_or("")
        ),
        _ => println!(
            "已移交，等待送达 / Handed over, delivery pending: {} {} ({})；QuickAuth 不会再刷新它 / QuickAuth will not refresh it again",
            d.provider,
            d.id,
            r.last_error.as_deref().unwrap_or("queued")
        ),
    }
}

pub async fn deliver(
    qa: &QuickAuth,
    now: bool,
    retry_failed: bool,
    json: bool,
) -> Result<u8, Failure> {
    if retry_failed {
        let n = qa.retry_failed_deliveries(None)?;
        if !json {
            println!("{n} 个失败的事件已重新排队 / failed event(s) queued again");
        }
    }
    let run = qa.deliver(now || retry_failed).await?;
    print_run(&run, json);
    Ok(if run.failed > 0 || !run.disabled.is_empty() {
        1
    } else {
        0
    })
}

pub fn print_run(run: &DeliverRun, json: bool) {
    if json {
        print_json(&serde_json::to_value(run).expect("run serialises"));
        return;
    }
    if run.busy {
        println!("另一个 QuickAuth 正在发送，本次跳过 / Another QuickAuth is delivering; skipped ({} pending)", run.pending);
        return;
    }
    println!(
        "交付 / Deliveries: 尝试 attempted {}, 送达 delivered {}, 失败 failed {}, 待发 pending {}",
        run.attempted, run.delivered, run.failed, run.pending
    );
    for p in &run.disabled {
        eprintln!(
            "配置 {p} 的接收方回复 410，交付地址已停用；确认后用 `quickauth profile delivery {p} --webhook URL` 重新设置。\n\
             The receiver of profile {p} answered 410 Gone: its destination is disabled; set it again with `quickauth profile delivery {p} --webhook URL`."
        );
    }
}

fn delivery_json(d: &Delivery) -> Value {
    json!({
        "event_id": d.event_id,
        "device": d.device,
        "type": d.kind,
        "status": d.status,
        "attempts": d.attempts,
        "last_error": d.last_error,
        "next_attempt_at": d.next_attempt_at.as_ref().map(ts),
    })
}

pub fn deliveries(qa: &QuickAuth, limit: usize, json: bool) -> Result<u8, Failure> {
    let list = qa.deliveries(limit)?;
    if json {
        print_json(&Value::Array(list.iter().map(delivery_json).collect()));
        return Ok(0);
    }
    if list.is_empty() {
        println!("没有交付事件 / No delivery events.");
    }
    for d in &list {
        println!(
            "{}  {:<20} {:<18} {:<9} attempts {}{}{}",
            d.event_id,
            d.device,
            d.kind,
            d.status,
            d.attempts,
            d.next_attempt_at
                .as_ref()
                .map(|t| format!("  next {}", ts(t)))
                .unwrap_or_default(),
            d.last_error
                .as_deref()
                .map(|e| format!("  ({e})"))
                .unwrap_or_default()
        );
    }
    Ok(0)
}

/// Before `token --reveal` of a kept / delivered device: warn on stderr and require `--yes` or a typed "yes" on a
/// terminal. Returns false when the user did not confirm.
pub fn confirm_reveal(qa: &QuickAuth, id: &str, yes: bool) -> Result<bool, Failure> {
    let advice = qa.reveal_advice(id)?;
    if advice.ownership == Ownership::HandedOver {
        return Ok(true); // reveal itself refuses with a clear error
    }
    eprintln!(
        "警告：{}\nWarning: {}",
        advice.message_zh, advice.message_en
    );
    if advice.can_hand_over {
        eprintln!("移交 / Hand over: quickauth handover {id}");
    }
    if yes {
        return Ok(true);
    }
    let stdin = std::io::stdin();
    // A kept pair revealed from a script (cron, a support tool) keeps the documented `token --reveal` contract: the
    // warning above goes to stderr and the tokens are shown. A delivered pair is read by the business's system, so a
    // script must confirm with --yes.
    if !stdin.is_terminal() && advice.ownership == Ownership::Kept {
        return Ok(true);
    }
    if !stdin.is_terminal() {
        return Err(Failure::Usage(
            "显示令牌需要确认：加上 --yes，或在终端中运行并输入 yes / Revealing needs confirmation: add --yes, or run it in a terminal and type yes".into(),
        ));
    }
    eprint!("仍要显示令牌？输入 yes 继续 / Reveal anyway? Type yes to continue: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|e| Error::Io {
        context: "read confirmation",
        path: "<stdin>".into(),
        source: e,
    })?;
    Ok(matches!(line.trim(), "yes" | "y" | "是"))
}

/// `quickauth sandbox receiver`: runs the test receiver in the foreground until Ctrl-C.
pub async fn run_receiver(port: u16) -> u8 {
    let secret = match secrets::read_secrets(&["签名密钥 whsec_… / Signing secret whsec_…: "])
    {
        Ok(mut lines) => lines.remove(0),
        Err(_) => None,
    };
    let Some(secret) = secret else {
        eprintln!("标准输入第 1 行应为 whsec_ 签名密钥 / stdin line 1 must hold the whsec_ signing secret");
        return 2;
    };
    let rx = match quickauth_sandbox::ReceiverHandle::start(([127, 0, 0, 1], port).into(), &secret)
        .await
    {
        Ok(rx) => rx,
        Err(e) => {
            eprintln!("接收端无法启动 / receiver could not start: {e}");
            return 1;
        }
    };
    drop(secret);
    println!(
        "QuickAuth 测试接收端 / test receiver listening on {}",
        rx.url()
    );
    let _ = std::io::stdout().flush();
    let mut shown = 0;
    let mut bad_seen = 0;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
        }
        let received = rx.received();
        for e in received.iter().skip(shown) {
            println!(
                "{} {} {} {} generation {} {}",
                e.webhook_id, e.kind, e.provider, e.device, e.generation, e.ownership
            );
        }
        shown = received.len();
        let bad = rx.bad_signatures();
        if bad > bad_seen {
            eprintln!(
                "拒收签名无效的请求 / rejected {} request(s) with a bad signature (401)",
                bad - bad_seen
            );
            bad_seen = bad;
        }
        let _ = std::io::stdout().flush();
    }
    rx.shutdown().await;
    0
}
