//! Hand the printer over (issue 9): who owns each token pair, a signed webhook destination per profile, and an
//! outbox that delivers every new pair at least once.
//!
//! - Ownership per device: `kept` (QuickAuth holds and refreshes), `delivered` (QuickAuth holds, refreshes and
//!   pushes every new pair), `handed-over` (QuickAuth delivered the pair and no longer owns it: never refreshed,
//!   tokens deleted from the keyring once the receiver acknowledged them, the row kept).
//! - Destination: an HTTPS webhook (plain http only on loopback) signed per Standard Webhooks with the profile's
//!   `whsec_…` secret, which lives in the keyring.
//! - Outbox: SQLite rows without tokens; the body is built from the keyring at send time. Before sending, the
//!   attempt is counted and the retry time written, so a crash between send and acknowledgement sends the same
//!   event (same `webhook-id`) again. 2xx acknowledges; 410 disables the destination; another 4xx fails the event
//!   (retryable by hand); anything else is retried with exponential backoff and jitter for days.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use quickauth_protocol::{Action, Localized};
use quickauth_vault::{accounts, DestinationRecord, OutboxEvent, OwnershipRecord, Store};
use serde::Serialize;
use url::Url;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::lifecycle::{DeviceRef, LifecycleState};
use crate::lock::DeviceLock;
use crate::models::DeviceSummary;
use crate::service::QuickAuth;

/// Crash-test step (`QUICKAUTH_CRASH_AT`): abort after the receiver answered 2xx, before the outbox records it.
pub const CRASH_AFTER_SEND_BEFORE_ACK: &str = "webhook_after_send_before_ack";
/// Crash-test step: a hand-over's acknowledgement is recorded, its pair not yet deleted from the keyring.
pub const CRASH_AFTER_ACK_BEFORE_RELEASE: &str = "webhook_handover_acked_before_release";

/// Retries start after 30 s and double up to 6 h; an event is given up (failed, retryable by hand) after 7 days.
const RETRY_INITIAL: Duration = Duration::from_secs(30);
const RETRY_CAP: Duration = Duration::from_secs(6 * 3600);
const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::days(7);
/// Default bound of one webhook request (connect + send + reply).
const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a refusing receiver's reply is kept for `deliveries`.
const SNIPPET_CHARS: usize = 160;

// ------------------------------------------------------------------------------------------------ types

/// Who owns a device's token pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
pub enum Ownership {
    #[default]
    #[serde(rename = "kept")]
    Kept,
    #[serde(rename = "delivered")]
    Delivered,
    #[serde(rename = "handed-over")]
    HandedOver,
}

impl Ownership {
    pub fn as_str(self) -> &'static str {
        match self {
            Ownership::Kept => "kept",
            Ownership::Delivered => "delivered",
            Ownership::HandedOver => "handed-over",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "kept" => Some(Ownership::Kept),
            "delivered" => Some(Ownership::Delivered),
            "handed-over" | "handed_over" => Some(Ownership::HandedOver),
            _ => None,
        }
    }
}

/// The four webhook event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventType {
    #[serde(rename = "device.authorized")]
    Authorized,
    #[serde(rename = "device.refreshed")]
    Refreshed,
    #[serde(rename = "device.handed_over")]
    HandedOver,
    #[serde(rename = "device.forgotten")]
    Forgotten,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Authorized => "device.authorized",
            EventType::Refreshed => "device.refreshed",
            EventType::HandedOver => "device.handed_over",
            EventType::Forgotten => "device.forgotten",
        }
    }
}

/// A Standard Webhooks signing secret (`whsec_` + base64 of at least 24 random bytes). Debug masks it; zeroized
/// on drop; `expose()` is the one way out.
pub struct WebhookSecret(Zeroizing<String>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

impl WebhookSecret {
    /// Checks the shape; the error never quotes the value.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let Some(b64) = text.strip_prefix("whsec_") else {
            return Err(DeliveryError::InvalidSecret.into());
        };
        use base64::Engine;
        match base64::engine::general_purpose::STANDARD.decode(b64) {
            Ok(key) if key.len() >= 24 && key.len() <= 64 => {
                Ok(Self(Zeroizing::new(text.to_owned())))
            }
            _ => Err(DeliveryError::InvalidSecret.into()),
        }
    }

    /// A new random secret (32 bytes from the OS generator).
    pub fn generate() -> Self {
        use base64::Engine;
        use rand::RngCore;
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        let b64 = base64::engine::general_purpose::STANDARD.encode(key.as_ref());
        Self(Zeroizing::new(format!("whsec_{b64}")))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Where the signing secret of a destination comes from.
pub enum SigningSecret {
    /// The operator gives one (stdin in the CLI, a password field in the app).
    Given(WebhookSecret),
    /// QuickAuth makes one; it is returned once and never shown again.
    Generate,
    /// Keep the stored one (changing only the URL or the default ownership).
    Keep,
}

/// A profile's delivery settings as shown (no secret).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeliverySettings {
    pub profile: String,
    pub url: String,
    pub default_ownership: Ownership,
    pub enabled: bool,
    pub disabled_at: Option<DateTime<Utc>>,
    /// zh / en, e.g. after the receiver answered 410 Gone.
    pub disabled_reason: Option<String>,
    pub has_secret: bool,
    pub updated_at: DateTime<Utc>,
}

/// One outbox event as listed by `deliveries` (no token).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Delivery {
    pub event_id: String,
    /// Machine code / userid.
    pub device: String,
    pub provider: String,
    pub profile: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// "pending" | "delivered" | "failed"
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// When the next automatic attempt is due (None unless pending).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// What one run of the outbox did.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DeliverRun {
    /// Another process (the app or a cron run) was delivering; nothing was sent by this one.
    pub busy: bool,
    pub attempted: usize,
    pub delivered: usize,
    pub failed: usize,
    /// Still pending after this run (backoff, no destination, destination disabled).
    pub pending: usize,
    /// Profiles whose destination answered 410 Gone in this run (now disabled).
    pub disabled: Vec<String>,
}

/// The result of `handover`.
#[derive(Debug, Clone, Serialize)]
pub struct HandoverReport {
    pub device: DeviceSummary,
    pub event_id: String,
    /// "pending" | "delivered" | "failed"
    pub status: String,
    pub last_error: Option<String>,
    /// The tokens were deleted from the keyring (the receiver acknowledged them).
    pub released: bool,
}

/// What the page / CLI should say before revealing or copying a device's tokens.
#[derive(Debug, Clone, Serialize)]
pub struct RevealAdvice {
    pub ownership: Ownership,
    /// A hand-over is possible now (the profile has an enabled destination).
    pub can_hand_over: bool,
    pub message_zh: String,
    pub message_en: String,
}

// ------------------------------------------------------------------------------------------------ errors

/// Errors of the delivery side. Messages never contain a secret, a token or a webhook URL's path.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("profile {profile:?} has no delivery destination")]
    NoDestination { profile: String },
    #[error("the delivery destination of profile {profile:?} is disabled")]
    DestinationDisabled { profile: String },
    #[error("invalid webhook URL: {reason_en}")]
    InvalidUrl {
        reason_zh: &'static str,
        reason_en: &'static str,
    },
    #[error("invalid webhook signing secret")]
    InvalidSecret,
    #[error("device {id} was handed over")]
    HandedOver { id: String },
    #[error("the hand-over of device {id} is not acknowledged yet")]
    HandoverPending { id: String },
    #[error("a refresh of device {id} is unfinished")]
    RefreshUnfinished { id: String },
}

impl Localized for DeliveryError {
    fn kind(&self) -> &'static str {
        match self {
            DeliveryError::NoDestination { .. } => "no_delivery_destination",
            DeliveryError::DestinationDisabled { .. } => "delivery_destination_disabled",
            DeliveryError::InvalidUrl { .. } => "invalid_webhook_url",
            DeliveryError::InvalidSecret => "invalid_webhook_secret",
            DeliveryError::HandedOver { .. } => "handed_over",
            DeliveryError::HandoverPending { .. } => "handover_pending",
            DeliveryError::RefreshUnfinished { .. } => "refresh_unfinished",
        }
    }

    fn message_zh(&self) -> String {
        match self {
            DeliveryError::NoDestination { profile } => format!("配置“{profile}”还没有交付地址。请先用 `quickauth profile delivery {profile} --webhook URL` 设置接收令牌的系统地址。"),
            DeliveryError::DestinationDisabled { profile } => format!("配置“{profile}”的交付地址已停用（接收方回复 410，表示不再接收）。请和接收方确认地址后，用 `quickauth profile delivery {profile} --webhook URL` 重新设置。"),
            DeliveryError::InvalidUrl { reason_zh, .. } => format!("交付地址无效：{reason_zh}。请填写接收系统提供的完整 https 地址。"),
            DeliveryError::InvalidSecret => "签名密钥格式不对：应为 whsec_ 开头、后接 base64（至少 24 字节）。请从接收方复制完整密钥，或用 --generate-secret 生成一个。".into(),
            DeliveryError::HandedOver { id } => format!("设备 {id} 的令牌已移交给接收系统，QuickAuth 不再持有、也不再刷新它。如需重新由本机管理，请重新扫码授权这台设备。"),
            DeliveryError::HandoverPending { id } => format!("设备 {id} 的移交还没有被接收方确认，现在移除会丢失令牌。请先运行 `quickauth deliver --now`，确认送达后再移除。"),
            DeliveryError::RefreshUnfinished { id } => format!("设备 {id} 上次的刷新还没有完成，现在移交的可能是已失效的令牌。请先运行 `quickauth refresh {id}` 完成它，再移交。"),
        }
    }

    fn message_en(&self) -> String {
        match self {
            DeliveryError::NoDestination { profile } => format!("Profile \"{profile}\" has no delivery destination. Set the receiving system's address first with `quickauth profile delivery {profile} --webhook URL`."),
            DeliveryError::DestinationDisabled { profile } => format!("The delivery destination of profile \"{profile}\" is disabled (the receiver answered 410 Gone). Check the address with the receiver, then set it again with `quickauth profile delivery {profile} --webhook URL`."),
            DeliveryError::InvalidUrl { reason_en, .. } => format!("Invalid webhook URL: {reason_en}. Enter the full https address the receiving system gave you."),
            DeliveryError::InvalidSecret => "The signing secret has the wrong shape: it must be whsec_ followed by base64 (at least 24 bytes). Copy the whole secret from the receiver, or create one with --generate-secret.".into(),
            DeliveryError::HandedOver { id } => format!("The tokens of device {id} were handed over to the receiving system; QuickAuth no longer holds or refreshes them. To manage the device here again, scan and authorize it again."),
            DeliveryError::HandoverPending { id } => format!("The hand-over of device {id} has not been acknowledged by the receiver yet; removing it now would lose its tokens. Run `quickauth deliver --now` first and remove it once delivered."),
            DeliveryError::RefreshUnfinished { id } => format!("The last refresh of device {id} is unfinished, so the pair here may already be replaced at the server. Run `quickauth refresh {id}` to complete it, then hand it over."),
        }
    }

    fn action(&self) -> Action {
        match self {
            DeliveryError::NoDestination { .. }
            | DeliveryError::DestinationDisabled { .. }
            | DeliveryError::InvalidUrl { .. }
            | DeliveryError::InvalidSecret => Action::EditInput,
            DeliveryError::HandedOver { .. } => Action::Reauthorize,
            DeliveryError::HandoverPending { .. } => Action::RetryLater,
            DeliveryError::RefreshUnfinished { .. } => Action::RefreshToken,
        }
    }
}

// ------------------------------------------------------------------------------------------------ helpers

/// Checks a webhook URL: https anywhere, plain http only to a loopback address; no credentials in it.
pub fn validate_webhook_url(text: &str) -> Result<Url> {
    let bad = |zh, en| -> Error {
        DeliveryError::InvalidUrl {
            reason_zh: zh,
            reason_en: en,
        }
        .into()
    };
    let url = Url::parse(text.trim()).map_err(|_| bad("不是完整的网址", "not a full URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "网址里不能带用户名或密码",
            "it must not carry a user name or password",
        ));
    }
    if url.fragment().is_some() {
        return Err(bad("网址里不能带 # 片段", "it must not carry a #fragment"));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(bad(
                "明文 http 只允许本机地址（127.0.0.1、::1、localhost），其他地址必须用 https",
                "plain http is only allowed to a loopback address (127.0.0.1, ::1, localhost); use https",
            ))
        }
        _ => return Err(bad("只支持 https 地址", "only https addresses are supported")),
    }
    if url.host().is_none() {
        return Err(bad("网址缺少主机名", "it has no host"));
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// `scheme://host[:port]`: what the device row and logs keep of a destination (a path can hold a secret).
pub fn url_origin(url: &str) -> String {
    Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "?".into())
}

/// When the next attempt is due after `attempts` attempts: 30 s doubling to 6 h, uniform jitter in [0.8, 1.2].
pub fn retry_delay(attempts: i64) -> Duration {
    let shift = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let ceiling = RETRY_INITIAL.saturating_mul(1u32 << shift).min(RETRY_CAP);
    let jitter = 0.8 + rand::random::<f64>() * 0.4;
    ceiling.mul_f64(jitter)
}

fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn new_event_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

/// The client for webhooks: no redirects (a redirect would carry tokens somewhere the operator did not choose),
/// bounded time. `QUICKAUTH_WEBHOOK_TIMEOUT_MS` shortens it for tests.
fn webhook_http() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let timeout = std::env::var("QUICKAUTH_WEBHOOK_TIMEOUT_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
            .unwrap_or(DEFAULT_SEND_TIMEOUT);
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .no_proxy()
            .user_agent(concat!(
                "QuickAuth/",
                env!("CARGO_PKG_VERSION"),
                " webhooks"
            ))
            .build()
            .expect("static client configuration")
    })
}

/// Aborts at the named crash-test step (see [`crate::crash`]).
fn crash_point(step: &'static str) {
    crate::crash::crash_point_named(step);
}

// ------------------------------------------------------------------------------------------------ hooks

/// After a new pair reached the keyring and before its DB row is updated: queue the event the device's ownership
/// asks for. Called for refreshes (from the lifecycle's mirror) with `grant = false`, for new authorizations with
/// `grant = true`. Idempotent per (device, type, generation), so running it again after a crash adds nothing.
pub(crate) fn queue_new_pair(
    store: &Store,
    dev: &DeviceRef,
    profile: &str,
    generation: i64,
    ownership: Ownership,
    grant: bool,
) -> Result<()> {
    let kind = match (ownership, grant) {
        (Ownership::Kept, _) => return Ok(()),
        (Ownership::Delivered, true) => EventType::Authorized,
        (Ownership::Delivered, false) => EventType::Refreshed,
        (Ownership::HandedOver, true) => EventType::HandedOver,
        // Never refreshed; a pair that appears anyway (a recovery) is not announced a second time.
        (Ownership::HandedOver, false) => return Ok(()),
    };
    enqueue(store, dev, profile, kind, generation, ownership)
}

fn enqueue(
    store: &Store,
    dev: &DeviceRef,
    profile: &str,
    kind: EventType,
    generation: i64,
    ownership: Ownership,
) -> Result<()> {
    let now = Utc::now();
    let ev = OutboxEvent {
        event_id: new_event_id(),
        kind: kind.as_str().into(),
        provider: dev.provider.clone(),
        device_id: dev.id.clone(),
        profile: profile.to_owned(),
        generation,
        ownership: ownership.as_str().into(),
        created_at: now,
        status: "pending".into(),
        attempts: 0,
        next_attempt_at: now,
        last_attempt_at: None,
        last_error: None,
        delivered_at: None,
        delivered_to: None,
    };
    let (inserted, replaced) = store.enqueue_event(&ev)?;
    if inserted {
        tracing::info!(device = %dev, event = %ev.event_id, kind = kind.as_str(), generation, replaced, "webhook event queued");
    }
    Ok(())
}

/// The ownership a newly authorized device gets: its profile's default (kept when the profile has no destination).
pub(crate) fn default_ownership(store: &Store, profile: &str) -> Result<Ownership> {
    Ok(store
        .get_destination(profile)?
        .and_then(|d| Ownership::parse(&d.default_ownership))
        .unwrap_or_default())
}

pub(crate) fn ownership_of(store: &Store, dev: &DeviceRef) -> Result<Ownership> {
    Ok(store
        .device_ownership(&dev.provider, &dev.profile, &dev.id)?
        .and_then(|o| Ownership::parse(&o.ownership))
        .unwrap_or_default())
}

/// Refuses anything that would refresh (or use) a handed-over device's pair.
pub(crate) fn ensure_not_handed_over(store: &Store, dev: &DeviceRef) -> Result<()> {
    if ownership_of(store, dev)? == Ownership::HandedOver {
        return Err(DeliveryError::HandedOver { id: dev.id.clone() }.into());
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------ service

enum Attempt {
    Acked(u16),
    Gone,
    Rejected(String),
    Transient(String),
}

impl QuickAuth {
    fn settings_of(&self, d: DestinationRecord) -> Result<DeliverySettings> {
        let has_secret = self
            .keyring
            .get(&accounts::webhook_secret(&d.profile))?
            .is_some();
        Ok(DeliverySettings {
            enabled: d.disabled_at.is_none(),
            default_ownership: Ownership::parse(&d.default_ownership).unwrap_or_default(),
            profile: d.profile,
            url: d.url,
            disabled_at: d.disabled_at,
            disabled_reason: d.disabled_reason,
            has_secret,
            updated_at: d.updated_at,
        })
    }

    /// The profile's destination, if it has one.
    pub fn delivery_settings(&self, profile: &str) -> Result<Option<DeliverySettings>> {
        self.profile(profile)?;
        self.store
            .get_destination(profile)?
            .map(|d| self.settings_of(d))
            .transpose()
    }

    /// Sets a profile's destination (the built-in sandbox profile included). Returns the settings and, with
    /// `SigningSecret::Generate`, the new secret — the only time it is shown. Setting it again re-enables a
    /// destination a 410 disabled; pending events go to the new URL with their old ids.
    pub fn set_delivery(
        &self,
        profile: &str,
        url: &str,
        default_ownership: Option<Ownership>,
        secret: SigningSecret,
    ) -> Result<(DeliverySettings, Option<WebhookSecret>)> {
        let res = (|| {
            self.profile(profile)?;
            let url = validate_webhook_url(url)?;
            let previous = self.store.get_destination(profile)?;
            let account = accounts::webhook_secret(profile);
            let generated = match secret {
                SigningSecret::Given(s) => {
                    self.keyring.set(&account, s.expose())?;
                    None
                }
                SigningSecret::Generate => {
                    let s = WebhookSecret::generate();
                    self.keyring.set(&account, s.expose())?;
                    Some(s)
                }
                SigningSecret::Keep => {
                    if self.keyring.get(&account)?.is_none() {
                        return Err(DeliveryError::InvalidSecret.into());
                    }
                    None
                }
            };
            let ownership = default_ownership
                .or_else(|| {
                    previous
                        .as_ref()
                        .and_then(|p| Ownership::parse(&p.default_ownership))
                })
                .unwrap_or_default();
            self.store.upsert_destination(&DestinationRecord {
                profile: profile.to_owned(),
                url: url.to_string(),
                default_ownership: ownership.as_str().into(),
                disabled_at: None,
                disabled_reason: None,
                updated_at: Utc::now(),
            })?;
            // Whatever waited for a retry goes to the (new / re-enabled) destination on the next run.
            self.store.reschedule_pending(profile, Utc::now())?;
            tracing::info!(profile, to = %url_origin(url.as_str()), ownership = ownership.as_str(), "delivery destination set");
            let settings = self
                .delivery_settings(profile)?
                .ok_or_else(|| Error::Internal("destination vanished after writing it".into()))?;
            Ok((settings, generated))
        })();
        self.record("delivery_set", None, "", Some(profile), &res);
        res
    }

    /// Removes a profile's destination and its signing secret. Queued events stay pending until one is set again.
    pub fn remove_delivery(&self, profile: &str) -> Result<bool> {
        let res = (|| {
            self.profile(profile)?;
            let had = self.store.delete_destination(profile)?;
            self.keyring.delete(&accounts::webhook_secret(profile))?;
            Ok(had)
        })();
        self.record("delivery_off", None, "", Some(profile), &res);
        res
    }

    /// What to ask before revealing / copying a device's tokens (the app shows it in its native dialog).
    pub fn reveal_advice(&self, id: &str) -> Result<RevealAdvice> {
        let rec = self.resolve(id)?;
        let dev = DeviceRef::from(&rec);
        let ownership = ownership_of(&self.store, &dev)?;
        let can_hand_over = ownership != Ownership::HandedOver
            && self
                .store
                .get_destination(&rec.profile)?
                .is_some_and(|d| d.disabled_at.is_none());
        let (zh, en) = match ownership {
            Ownership::HandedOver => (
                format!("设备 {} 已移交，QuickAuth 不再持有它的令牌。", rec.id),
                format!("Device {} was handed over; QuickAuth no longer holds its tokens.", rec.id),
            ),
            _ => (
                format!(
                    "设备 {} 的令牌由 QuickAuth 持有并自动刷新：每次刷新后，复制出去的令牌会在 2 小时内失效，使用它的系统会停止打印。{}",
                    rec.id,
                    if can_hand_over { "如果要交给别的系统使用，请改用“移交”，移交后 QuickAuth 不再刷新它。" } else { "如果要交给别的系统使用，请先为该配置设置交付地址，再移交。" }
                ),
                format!(
                    "QuickAuth holds and refreshes the tokens of device {}: after each refresh a copied token stops working within 2 hours and the system using it stops printing. {}",
                    rec.id,
                    if can_hand_over { "To give them to another system, hand the device over instead; QuickAuth then never refreshes it." } else { "To give them to another system, set a delivery destination for the profile and hand the device over." }
                ),
            ),
        };
        Ok(RevealAdvice {
            ownership,
            can_hand_over,
            message_zh: zh,
            message_en: en,
        })
    }

    /// Hands a device over to its profile's destination: from now on QuickAuth never refreshes it; the pair is
    /// queued as `device.handed_over` and delivered now if the receiver answers; once acknowledged, the tokens are
    /// deleted from the keyring. The device row stays (machine code, profile, when, to where).
    pub async fn handover(&self, id: &str) -> Result<HandoverReport> {
        let rec = self.resolve(id);
        let dev = rec.as_ref().ok().map(DeviceRef::from);
        let res = async {
            let rec = rec?;
            let dev = DeviceRef::from(&rec);
            let dest = self.store.get_destination(&rec.profile)?.ok_or_else(|| {
                DeliveryError::NoDestination {
                    profile: rec.profile.clone(),
                }
            })?;
            if dest.disabled_at.is_some() {
                return Err(DeliveryError::DestinationDisabled {
                    profile: rec.profile.clone(),
                }
                .into());
            }
            let event_id = {
                // Under the device lock: no refresh of this device is in flight while ownership changes.
                let _lock =
                    DeviceLock::acquire(&self.opts.data_dir, &dev.provider, &dev.id).await?;
                let current = self
                    .store
                    .device_ownership(&dev.provider, &dev.profile, &dev.id)?
                    .unwrap_or_default();
                // A refresh left pending (lost reply, crash) may have replaced this pair at the server already.
                if self
                    .store
                    .pending_refreshes()?
                    .iter()
                    .any(|j| j.provider == dev.provider && j.id == dev.id)
                {
                    return Err(DeliveryError::RefreshUnfinished { id: dev.id.clone() }.into());
                }
                let existing = self.handover_event(&dev)?;
                match existing {
                    Some(ev) if current.ownership == Ownership::HandedOver.as_str() => ev.event_id,
                    _ => {
                        let tokens = self
                            .state()
                            .read_tokens(&dev)?
                            .ok_or_else(|| Error::TokensMissing { id: dev.id.clone() })?;
                        enqueue(
                            &self.store,
                            &dev,
                            &rec.profile,
                            EventType::HandedOver,
                            tokens.generation,
                            Ownership::HandedOver,
                        )?;
                        self.store.set_ownership(
                            &dev.provider,
                            &dev.profile,
                            &dev.id,
                            &OwnershipRecord {
                                ownership: Ownership::HandedOver.as_str().into(),
                                handed_over_at: Some(Utc::now()),
                                handed_over_to: Some(url_origin(&dest.url)),
                                pair_released_at: None,
                            },
                        )?;
                        self.handover_event(&dev)?
                            .map(|e| e.event_id)
                            .ok_or_else(|| Error::Internal("hand-over event not queued".into()))?
                    }
                }
            };
            tracing::info!(device = %dev, event = %event_id, "device handed over; delivering now");
            self.run_outbox(Some(&event_id), true).await?;
            let ev = self
                .store
                .get_event(&event_id)?
                .ok_or_else(|| Error::Internal("hand-over event vanished".into()))?;
            let device = self.device(&dev.to_string())?;
            Ok(HandoverReport {
                released: device.pair_released_at.is_some(),
                device,
                event_id,
                status: ev.status,
                last_error: ev.last_error,
            })
        }
        .await;
        self.record("handover", dev.as_ref(), "", None, &res);
        res
    }

    fn handover_event(&self, dev: &DeviceRef) -> Result<Option<OutboxEvent>> {
        Ok(self
            .store
            .device_events(&dev.provider, &dev.profile, &dev.id)?
            .into_iter()
            .filter(|e| e.kind == EventType::HandedOver.as_str())
            .max_by_key(|e| e.created_at))
    }

    /// Every queued / delivered / failed event, newest first.
    pub fn deliveries(&self, limit: usize) -> Result<Vec<Delivery>> {
        Ok(self
            .store
            .list_events(limit)?
            .into_iter()
            .map(|e| Delivery {
                next_attempt_at: (e.status == "pending").then_some(e.next_attempt_at),
                event_id: e.event_id,
                device: e.device_id,
                provider: e.provider,
                profile: e.profile,
                kind: e.kind,
                status: e.status,
                attempts: e.attempts,
                last_error: e.last_error,
                created_at: e.created_at,
                delivered_at: e.delivered_at,
            })
            .collect())
    }

    /// Puts failed events back in the queue (one, or all with `None`); the next run sends them.
    pub fn retry_failed_deliveries(&self, event_id: Option<&str>) -> Result<usize> {
        Ok(self.store.retry_failed_events(event_id, Utc::now())?)
    }

    /// Runs the outbox once: sends every due event (every pending one with `ignore_backoff`). The app's background
    /// loop calls this; the CLI's `deliver` and `refresh --all` too. One sender at a time across processes.
    pub async fn deliver(&self, ignore_backoff: bool) -> Result<DeliverRun> {
        self.run_outbox(None, ignore_backoff).await
    }

    async fn run_outbox(&self, only: Option<&str>, ignore_backoff: bool) -> Result<DeliverRun> {
        let mut run = DeliverRun::default();
        let Some(_lock) = DeviceLock::try_acquire(&self.opts.data_dir, "outbox", "all")? else {
            run.busy = true;
            run.pending = self.store.due_events(Utc::now(), true)?.len();
            return Ok(run);
        };
        let now = Utc::now();
        for ev in self.store.due_events(now, ignore_backoff)? {
            if only.is_some_and(|id| id != ev.event_id) {
                continue;
            }
            if let Some(sent) = self.send_event(&ev, &mut run).await? {
                run.attempted += 1;
                match sent.as_str() {
                    "delivered" => run.delivered += 1,
                    "failed" => run.failed += 1,
                    _ => {}
                }
            }
        }
        self.release_acknowledged_handovers().await?;
        run.pending = self.store.due_events(Utc::now(), true)?.len();
        Ok(run)
    }

    /// A crash between recording a hand-over's acknowledgement and deleting its pair leaves the pair in the
    /// keyring: every outbox run finishes that deletion.
    async fn release_acknowledged_handovers(&self) -> Result<()> {
        for (provider, profile, id, o) in self.store.list_ownerships()? {
            if o.ownership != Ownership::HandedOver.as_str() || o.pair_released_at.is_some() {
                continue;
            }
            let dev = DeviceRef::new(&provider, &profile, &id);
            if let Some(ev) = self
                .handover_event(&dev)?
                .filter(|e| e.status == "delivered")
            {
                self.release_pair(&dev, ev.generation).await?;
            }
        }
        Ok(())
    }

    /// One attempt at one event. Returns the event's status afterwards, or None when nothing was sent.
    async fn send_event(&self, ev: &OutboxEvent, run: &mut DeliverRun) -> Result<Option<String>> {
        let dev = DeviceRef::new(&ev.provider, &ev.profile, &ev.device_id);
        let Some(dest) = self.store.get_destination(&ev.profile)? else {
            self.store.note_event_error(
                &ev.event_id,
                "no destination: the profile has no webhook / 配置没有交付地址",
                false,
            )?;
            return Ok(None);
        };
        if dest.disabled_at.is_some() {
            self.store.note_event_error(
                &ev.event_id,
                "destination disabled (410 Gone); set it again to resume / 交付地址已停用（410），重新设置后继续",
                false,
            )?;
            return Ok(None);
        }
        let now = Utc::now();
        if now - ev.created_at > GIVE_UP_AFTER {
            self.store.note_event_error(
                &ev.event_id,
                "gave up after 7 days of retries; retry by hand / 重试 7 天未成功，可手动重试",
                true,
            )?;
            return Ok(Some("failed".into()));
        }
        let Some(secret) = self.keyring.get(&accounts::webhook_secret(&ev.profile))? else {
            self.store.note_event_error(
                &ev.event_id,
                "no signing secret in the keyring; set the destination again / 钥匙串中没有签名密钥",
                false,
            )?;
            return Ok(None);
        };
        let webhook = standardwebhooks::Webhook::new(&secret)
            .map_err(|_| Error::from(DeliveryError::InvalidSecret))?;
        // The payload, built from the keyring now. Tokens are needed for every event but `device.forgotten`.
        let tokens = if ev.kind == EventType::Forgotten.as_str() {
            None
        } else {
            match self.state().read_tokens(&dev) {
                Ok(Some(t)) => Some(t),
                Ok(None) => {
                    self.store.note_event_error(
                        &ev.event_id,
                        "the keyring no longer holds this device's tokens / 钥匙串中已没有该设备的令牌",
                        true,
                    )?;
                    return Ok(Some("failed".into()));
                }
                Err(e) => return Err(e),
            }
        };
        let id_key = if ev.provider == "lingju" {
            "userid"
        } else {
            "machine_code"
        };
        let mut data = serde_json::Map::new();
        data.insert("provider".into(), ev.provider.clone().into());
        data.insert("profile".into(), ev.profile.clone().into());
        data.insert(id_key.into(), ev.device_id.clone().into());
        let null = serde_json::Value::Null;
        match &tokens {
            Some(t) => {
                data.insert("access_token".into(), t.access_token.clone().into());
                data.insert(
                    "refresh_token".into(),
                    t.refresh_token
                        .clone()
                        .map(Into::into)
                        .unwrap_or(null.clone()),
                );
                data.insert("expires_at".into(), ts(&t.expires_at).into());
                data.insert(
                    "refresh_expires_at".into(),
                    t.refresh_expires_at
                        .as_ref()
                        .map(|x| ts(x).into())
                        .unwrap_or(null.clone()),
                );
                data.insert("generation".into(), t.generation.into());
            }
            None => {
                for k in [
                    "access_token",
                    "refresh_token",
                    "expires_at",
                    "refresh_expires_at",
                ] {
                    data.insert(k.into(), null.clone());
                }
                data.insert("generation".into(), ev.generation.into());
            }
        }
        let scope = if ev.provider == "yilianyun" && tokens.is_some() {
            "all".into()
        } else {
            null.clone()
        };
        data.insert("scope".into(), scope);
        data.insert("ownership".into(), ev.ownership.clone().into());
        let body = Zeroizing::new(
            serde_json::json!({
                "type": ev.kind,
                "timestamp": ts(&ev.created_at),
                "data": serde_json::Value::Object(data),
            })
            .to_string(),
        );
        let sent_at = Utc::now();
        let timestamp = sent_at.timestamp();
        let signature = webhook
            .sign(&ev.event_id, timestamp, body.as_bytes())
            .map_err(|_| Error::Internal("webhook body is not UTF-8".into()))?;

        // Count the attempt and set the retry time BEFORE sending: a crash from here on re-sends the same id.
        let retry_at = sent_at
            + chrono::Duration::from_std(retry_delay(ev.attempts + 1))
                .unwrap_or(chrono::Duration::hours(6));
        if !self
            .store
            .claim_event(&ev.event_id, ev.attempts, sent_at, retry_at)?
        {
            return Ok(None); // superseded or sent by someone else meanwhile
        }
        let to = url_origin(&dest.url);
        let attempt = match webhook_http()
            .post(&dest.url)
            .header("content-type", "application/json")
            .header(standardwebhooks::HEADER_WEBHOOK_ID, &ev.event_id)
            .header(
                standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
                timestamp.to_string(),
            )
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
            .body(body.as_bytes().to_vec())
            .send()
            .await
        {
            Ok(resp) => {
                let status = resp.status().as_u16();
                if resp.status().is_success() {
                    Attempt::Acked(status)
                } else if status == 410 {
                    Attempt::Gone
                } else {
                    let text = resp.text().await.unwrap_or_default();
                    let snippet = scrub(&text, tokens.as_ref());
                    if (400..500).contains(&status) {
                        Attempt::Rejected(format!("HTTP {status}: {snippet}"))
                    } else {
                        Attempt::Transient(format!("HTTP {status}: {snippet}"))
                    }
                }
            }
            Err(e) => Attempt::Transient(transport_reason(&e).into()),
        };
        drop(body);
        match attempt {
            Attempt::Acked(status) => {
                crash_point(CRASH_AFTER_SEND_BEFORE_ACK);
                self.store.mark_delivered(&ev.event_id, Utc::now(), &to)?;
                tracing::info!(event = %ev.event_id, device = %dev, kind = %ev.kind, status, to = %to, "webhook delivered");
                if ev.kind == EventType::HandedOver.as_str() {
                    crash_point(CRASH_AFTER_ACK_BEFORE_RELEASE);
                    self.release_pair(&dev, ev.generation).await?;
                }
                Ok(Some("delivered".into()))
            }
            Attempt::Gone => {
                let reason = format!(
                    "receiver answered 410 Gone at {}: destination disabled / 接收方回复 410，交付地址已停用",
                    ts(&sent_at)
                );
                self.store
                    .disable_destination(&ev.profile, &dest.url, sent_at, &reason)?;
                self.store.note_event_error(
                    &ev.event_id,
                    "HTTP 410 Gone: destination disabled / 交付地址已停用",
                    false,
                )?;
                tracing::warn!(profile = %ev.profile, to = %to, "receiver answered 410 Gone: destination disabled");
                if !run.disabled.contains(&ev.profile) {
                    run.disabled.push(ev.profile.clone());
                }
                Ok(Some("pending".into()))
            }
            Attempt::Rejected(reason) => {
                self.store.note_event_error(&ev.event_id, &reason, true)?;
                tracing::warn!(event = %ev.event_id, to = %to, "webhook refused by the receiver (4xx): failed, retry by hand");
                Ok(Some("failed".into()))
            }
            Attempt::Transient(reason) => {
                self.store.note_event_error(&ev.event_id, &reason, false)?;
                tracing::warn!(event = %ev.event_id, to = %to, reason = %reason, next = %ts(&retry_at), "webhook not acknowledged; will retry");
                Ok(Some("pending".into()))
            }
        }
    }

    /// The receiver acknowledged a hand-over: delete the pair from the keyring (unless a newer pair was stored
    /// meanwhile by a new authorization), keep the row.
    async fn release_pair(&self, dev: &DeviceRef, generation: i64) -> Result<()> {
        let _lock = DeviceLock::acquire(&self.opts.data_dir, &dev.provider, &dev.id).await?;
        let Some(mut o) = self
            .store
            .device_ownership(&dev.provider, &dev.profile, &dev.id)?
        else {
            return Ok(());
        };
        if o.ownership != Ownership::HandedOver.as_str() {
            return Ok(()); // authorized again since: the new pair is QuickAuth's
        }
        if let Some(t) = self.state().read_tokens(dev)? {
            if t.generation > generation {
                return Ok(());
            }
        }
        self.keyring.delete(&crate::tokens::tokens_account(
            &dev.provider,
            &dev.profile,
            &dev.id,
        ))?;
        o.pair_released_at = Some(Utc::now());
        self.store
            .set_ownership(&dev.provider, &dev.profile, &dev.id, &o)?;
        let ok: Result<()> = Ok(());
        self.record("handover_released", Some(dev), &dev.provider, None, &ok);
        tracing::info!(device = %dev, "hand-over acknowledged: tokens deleted from the keyring");
        Ok(())
    }

    /// Queues `device.forgotten` for a delivered device about to be forgotten (the receiver stops using it).
    pub(crate) fn queue_forgotten(
        &self,
        dev: &DeviceRef,
        profile: &str,
        generation: i64,
    ) -> Result<()> {
        match ownership_of(&self.store, dev)? {
            Ownership::Delivered => enqueue(
                &self.store,
                dev,
                profile,
                EventType::Forgotten,
                generation,
                Ownership::Delivered,
            ),
            Ownership::HandedOver => {
                let pending = self
                    .handover_event(dev)?
                    .is_some_and(|e| e.status != "delivered");
                if pending {
                    return Err(DeliveryError::HandoverPending { id: dev.id.clone() }.into());
                }
                Ok(())
            }
            Ownership::Kept => Ok(()),
        }
    }
}

/// A short, printable piece of a receiver's reply, with any token of this payload cut out (a receiver that echoes
/// the request must not put a token into the outbox).
fn scrub(text: &str, tokens: Option<&crate::tokens::StoredTokens>) -> String {
    let mut s: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if let Some(t) = tokens {
        for v in [Some(&t.access_token), t.refresh_token.as_ref()]
            .into_iter()
            .flatten()
        {
            if !v.is_empty() {
                s = s.replace(v.as_str(), "***");
            }
        }
    }
    let s = s.trim();
    let mut out: String = s.chars().take(SNIPPET_CHARS).collect();
    if s.chars().count() > SNIPPET_CHARS {
        out.push('…');
    }
    out
}

fn transport_reason(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout: the receiver did not answer in time / 接收方超时未回复"
    } else if e.is_connect() {
        "connection refused or unreachable / 无法连接接收方"
    } else if e.is_redirect() {
        "redirect not followed / 不跟随重定向"
    } else {
        "connection dropped before a reply / 连接在回复前中断"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_https_or_loopback_http_only() {
        assert!(validate_webhook_url("https://orders.example.com/hooks/qa").is_ok());
        assert!(validate_webhook_url("http://127.0.0.1:8080/h").is_ok());
        assert!(validate_webhook_url("http://[::1]:8080/h").is_ok());
        assert!(validate_webhook_url("http://localhost/h").is_ok());
        for bad in [
            "http://orders.example.com/h",
            "http://10.0.0.1/h",
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "not a url",
            "https://example.com/#frag",
        ] {
            let e = validate_webhook_url(bad).unwrap_err();
            assert_eq!(e.kind(), "invalid_webhook_url", "{bad}");
            assert!(!e.message_en().contains("pw@"), "{bad}");
        }
    }

    #[test]
    fn secrets_generate_parse_and_mask() {
        let s = WebhookSecret::generate();
        assert!(s.expose().starts_with("whsec_"));
        assert!(WebhookSecret::parse(s.expose()).is_ok());
        assert_eq!(format!("{s:?}"), "WebhookSecret(***)");
        assert!(WebhookSecret::parse("whsec_short").is_err());
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        let e = WebhookSecret::parse("whsec_!!notbase64!!").unwrap_err();
        assert!(!e.message_en().contains("notbase64"));
        assert!(WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
    }

    /// The Standard Webhooks spec's own test vector, through the crate we sign with.
    #[test]
    fn signature_matches_the_spec_vector() {
        let wh = standardwebhooks::Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = wh
            .sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#,
            )
            .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn retry_delay_grows_with_jitter_and_caps() {
        for _ in 0..50 {
            let d1 = retry_delay(1).as_secs_f64();
            assert!((24.0..=36.0).contains(&d1), "{d1}");
            let d3 = retry_delay(3).as_secs_f64();
            assert!((96.0..=144.0).contains(&d3), "{d3}");
            let d30 = retry_delay(30).as_secs_f64();
            assert!(
                (6.0 * 3600.0 * 0.8..=6.0 * 3600.0 * 1.2).contains(&d30),
                "{d30}"
            );
        }
    }

    #[test]
    fn scrub_cuts_tokens_and_length() {
        let t = crate::tokens::StoredTokens {
            access_token: "at-very-secret-1".into(),
            refresh_token: Some("rt-very-secret-1".into()),
            generation: 1,
            issued_at: Utc::now(),
            expires_at: Utc::now(),
            refresh_expires_at: None,
        };
        let s = scrub("echo at-very-secret-1 and rt-very-secret-1\n", Some(&t));
        assert_eq!(s, "echo *** and ***");
        assert!(scrub(&"x".repeat(1000), None).chars().count() <= SNIPPET_CHARS + 1);
    }
}
