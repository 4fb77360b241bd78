//! The page's commands. Each is async (keyring and SQLite work runs on blocking threads, never the main thread),
//! returns `Result<T, ErrorReport>`, and returns no secret — except `reveal_tokens`, behind an explicit confirm.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use quickauth_core::{DeviceSummary, PrintReport, PrinterReport, Profile, ProfileUpdate, QuickAuth};
use quickauth_protocol::secret::{ClientSecret, LingjuAppKey, LingjuAuthCode, Msign, QrKey};
use quickauth_protocol::{ApiVersion, DeviceKey, Field, InputError, LingjuEndpoint, MachineCode, Region, UserId};
use serde::{Deserialize, Serialize};
use tauri::ipc::{Channel, InvokeBody, InvokeResponseBody, Request};
use tauri::{AppHandle, Emitter, Manager, State};
use zeroize::Zeroizing;

use crate::camera::{self, FrameSink, SourceId, SourceInfo};
use crate::error::{report, AppError, CmdResult, ErrorReport, IntoReport};
use crate::scans::{ScanTarget, ScanView};
use crate::state::AppState;

/// Runs a blocking core call (keyring / SQLite) on the blocking pool.
async fn blocking<T, F>(core: Arc<QuickAuth>, f: F) -> CmdResult<T>
where
    T: Send + 'static,
    F: FnOnce(&QuickAuth) -> quickauth_core::Result<T> + Send + 'static,
{
    tauri::async_runtime::spawn_blocking(move || f(&core))
        .await
        .map_err(|e| ErrorReport::from(AppError::Internal(e.to_string())))?
        .rep()
}

// ------------------------------------------------------------------ app

#[derive(Serialize)]
pub struct FramesInfo {
    path: String,
    fps: u32,
}

#[derive(Serialize)]
pub struct AppInfo {
    version: &'static str,
    os_locale: String,
    data_dir: String,
    frames: Option<FramesInfo>,
    sandbox_profile: &'static str,
}

/// The OS locale as the environment says (LC_ALL > LC_MESSAGES > LANG); the page picks zh unless it says en.
fn os_locale() -> String {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_default()
}

#[tauri::command]
pub async fn app_info(state: State<'_, AppState>) -> CmdResult<AppInfo> {
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        os_locale: os_locale(),
        data_dir: state.data_dir.display().to_string(),
        frames: state.launch.frames.as_ref().map(|f| FramesInfo { path: f.path.display().to_string(), fps: f.fps }),
        sandbox_profile: quickauth_core::BUILTIN_SANDBOX_PROFILE,
    })
}

/// The page reports its first paint; with `--metrics` the time is printed for scripts/app-metrics.sh.
#[tauri::command]
pub async fn first_paint(state: State<'_, AppState>, page_ms: f64) -> CmdResult<u64> {
    let since_main = state.started.elapsed().as_millis() as u64;
    if state.launch.metrics {
        let unix_ms = Utc::now().timestamp_millis();
        println!("QUICKAUTH_FIRST_PAINT unix_ms={unix_ms} since_main_ms={since_main} page_ms={page_ms:.0}");
    }
    tracing::info!(since_main_ms = since_main, "first paint");
    Ok(since_main)
}

// ------------------------------------------------------------------ preview

#[derive(Serialize)]
pub struct Sources {
    sources: Vec<SourceInfo>,
    camera_error: Option<String>,
}

#[tauri::command]
pub async fn preview_sources(state: State<'_, AppState>) -> CmdResult<Sources> {
    let mut sources = Vec::new();
    if let Some(f) = &state.launch.frames {
        sources.push(SourceInfo {
            id: SourceId::Images.to_wire(),
            label: f.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            kind: "images",
        });
    }
    // Device enumeration talks to V4L2: keep it off the async workers.
    let (cams, err) = tauri::async_runtime::spawn_blocking(camera::list_cameras)
        .await
        .map_err(|e| ErrorReport::from(AppError::Internal(e.to_string())))?;
    sources.extend(cams);
    Ok(Sources { sources, camera_error: err })
}

/// One decoded code's outline, in preview pixels.
#[derive(Serialize)]
pub struct CodeOutline {
    corners: [[f32; 2]; 4],
}

/// What the detection channel carries.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PreviewEvent {
    Frame { seq: u64, width: u32, height: u32, codes: Vec<CodeOutline>, scan: Option<ScanView> },
    Stopped { reason: Option<ErrorReport> },
}

struct ChannelSink(Channel<InvokeResponseBody>);

impl FrameSink for ChannelSink {
    fn preview(&mut self, jpeg: Vec<u8>) -> bool {
        self.0.send(InvokeResponseBody::Raw(jpeg)).is_ok()
    }
}

/// Same code text seen again within this window is the same scan (it stays in view for many frames).
const SAME_SCAN_WINDOW: Duration = Duration::from_millis(2500);

#[tauri::command]
pub async fn preview_start(
    app: AppHandle,
    state: State<'_, AppState>,
    source: String,
    frames: Channel<InvokeResponseBody>,
    detections: Channel<PreviewEvent>,
) -> CmdResult<String> {
    let id = SourceId::from_wire(&source).ok_or_else(|| report(&AppError::UnknownSource(source.clone())))?;
    if id == SourceId::Images && state.launch.frames.is_none() {
        return Err(report(&AppError::UnknownSource(source)));
    }
    let old = state.preview.lock().expect("preview lock").take();
    if let Some(old) = old {
        tauri::async_runtime::spawn_blocking(move || old.stop()).await.ok();
    }
    let mut decoder = quickauth_qr::Decoder::new(quickauth_qr::DecoderOptions::default());
    let handle = app.clone();
    let det = detections.clone();
    let mut last: Option<(String, Instant)> = None;
    let session = camera::start(
        id,
        state.launch.frames.clone(),
        ChannelSink(frames),
        move |luma| {
            decoder
                .decode(quickauth_qr::LumaFrame { width: luma.width(), height: luma.height(), data: luma.as_raw() })
                .into_iter()
                .map(|d| (d.text, d.corners))
                .collect()
        },
        move |fd| {
            let mut scan = None;
            if let Some((text, _)) = fd.codes.first() {
                let fresh = match &last {
                    Some((t, at)) => t != text || at.elapsed() > SAME_SCAN_WINDOW,
                    None => true,
                };
                if fresh {
                    scan = Some(handle.state::<AppState>().scans.admit(text));
                }
                last = Some((text.clone(), Instant::now()));
            }
            let codes = fd.codes.iter().map(|(_, c)| CodeOutline { corners: c.map(|(x, y)| [x, y]) }).collect();
            let _ = det.send(PreviewEvent::Frame {
                seq: fd.seq,
                width: fd.preview_width,
                height: fd.preview_height,
                codes,
                scan,
            });
        },
        move |err| {
            let e = match err {
                camera::SourceError::CameraOpen(d) => AppError::CameraOpen(d),
                camera::SourceError::CameraLost(d) => AppError::CameraLost(d),
                other => AppError::CameraOpen(other.to_string()),
            };
            tracing::warn!(kind = quickauth_core::Localized::kind(&e), "preview source stopped");
            let _ = detections.send(PreviewEvent::Stopped { reason: Some(report(&e)) });
        },
    );
    let wire = session.source_id.to_wire();
    *state.preview.lock().expect("preview lock") = Some(session);
    Ok(wire)
}

#[tauri::command]
pub async fn preview_stop(state: State<'_, AppState>) -> CmdResult<()> {
    let old = state.preview.lock().expect("preview lock").take();
    if let Some(old) = old {
        tauri::async_runtime::spawn_blocking(move || old.stop()).await.ok();
    }
    Ok(())
}

// ------------------------------------------------------------------ scan from images

fn first_scan(state: &AppState, decoded: Vec<quickauth_qr::Decoded>) -> CmdResult<ScanView> {
    // A label holds one code; if a picture holds several, prefer one that parses as a label.
    let mut unparsed = None;
    for d in decoded {
        match state.scans.admit(&d.text) {
            v @ ScanView::Ok { .. } => return Ok(v),
            v => unparsed = unparsed.or(Some(v)),
        }
    }
    unparsed.ok_or_else(|| report(&AppError::NoCodeInImage))
}

#[tauri::command]
pub async fn scan_image_file(state: State<'_, AppState>, path: String) -> CmdResult<ScanView> {
    let decoded = tauri::async_runtime::spawn_blocking(move || quickauth_qr::decode_image_file(std::path::Path::new(&path)))
        .await
        .map_err(|e| ErrorReport::from(AppError::Internal(e.to_string())))?
        .map_err(|e| ErrorReport::from(&quickauth_core::Error::from(e)))?;
    first_scan(&state, decoded)
}

const MAX_IMAGE_BYTES: usize = 40 * 1024 * 1024;

/// Raw image bytes in the request body (drag-and-drop, paste, the sandbox test label).
#[tauri::command]
pub async fn scan_image_bytes(state: State<'_, AppState>, request: Request<'_>) -> CmdResult<ScanView> {
    let InvokeBody::Raw(bytes) = request.body() else {
        return Err(report(&AppError::BadImage("expected raw image bytes".into())));
    };
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(report(&AppError::BadImage(format!("{} MB is too large", bytes.len() / 1_000_000))));
    }
    let bytes = bytes.clone();
    let decoded = tauri::async_runtime::spawn_blocking(move || -> Result<Vec<quickauth_qr::Decoded>, AppError> {
        let img = image::load_from_memory(&bytes).map_err(|e| AppError::BadImage(e.to_string()))?;
        let luma = img.into_luma8();
        let mut decoder = quickauth_qr::Decoder::new(quickauth_qr::DecoderOptions {
            stop_at_first: false,
            ..Default::default()
        });
        Ok(decoder.decode(quickauth_qr::LumaFrame { width: luma.width(), height: luma.height(), data: luma.as_raw() }))
    })
    .await
    .map_err(|e| ErrorReport::from(AppError::Internal(e.to_string())))?
    .map_err(ErrorReport::from)?;
    first_scan(&state, decoded)
}

// ------------------------------------------------------------------ manual entry

#[derive(Deserialize)]
pub struct ManualInput {
    provider: String,
    machine_code: Option<String>,
    key_kind: Option<String>,
    key: Option<String>,
    userid: Option<String>,
}

impl Drop for ManualInput {
    fn drop(&mut self) {
        if let Some(k) = self.key.as_mut() {
            zeroize::Zeroize::zeroize(k);
        }
    }
}

#[derive(Serialize, Default)]
pub struct ManualFields {
    machine_code: Option<ErrorReport>,
    key: Option<ErrorReport>,
    userid: Option<ErrorReport>,
}

#[derive(Serialize)]
pub struct ManualCheck {
    ok: bool,
    fields: ManualFields,
}

const MAX_KEY_LEN: usize = 128;

/// The label keys we have seen are short ASCII alphanumerics; anything else is a typo.
fn check_key(kind: Option<&str>, key: &str) -> Result<(), InputError> {
    let field = if kind == Some("msign") { Field::Msign } else { Field::QrKey };
    let key = key.trim();
    if key.is_empty() {
        return Err(InputError::Empty { field });
    }
    let len = key.chars().count();
    if len > MAX_KEY_LEN {
        return Err(InputError::TooLong { field, len, max: MAX_KEY_LEN });
    }
    if let Some((position, ch)) = key.chars().enumerate().find(|(_, c)| !c.is_ascii_alphanumeric()) {
        return Err(InputError::InvalidChar { field, ch, position: position + 1 });
    }
    Ok(())
}

enum ManualTarget {
    Yilianyun(MachineCode, DeviceKey),
    Lingju(UserId),
}

fn check(input: &ManualInput) -> (ManualFields, Option<ManualTarget>) {
    let mut fields = ManualFields::default();
    if input.provider == "lingju" {
        return match UserId::parse(input.userid.as_deref().unwrap_or("")) {
            Ok(u) => (fields, Some(ManualTarget::Lingju(u))),
            Err(e) => {
                fields.userid = Some(report(&e));
                (fields, None)
            }
        };
    }
    let mc = MachineCode::parse(input.machine_code.as_deref().unwrap_or(""));
    if let Err(e) = &mc {
        fields.machine_code = Some(report(e));
    }
    let key = input.key.as_deref().unwrap_or("");
    let kind = input.key_kind.as_deref();
    if let Err(e) = check_key(kind, key) {
        fields.key = Some(report(&e));
    }
    match (mc, fields.key.is_none()) {
        (Ok(mc), true) => {
            let key = key.trim();
            let key = if kind == Some("msign") { DeviceKey::Msign(Msign::new(key)) } else { DeviceKey::QrKey(QrKey::new(key)) };
            (fields, Some(ManualTarget::Yilianyun(mc, key)))
        }
        _ => (fields, None),
    }
}

/// Validates manual entry as the user types, with the same parsers the authorization uses.
#[tauri::command]
pub async fn check_manual(input: ManualInput) -> CmdResult<ManualCheck> {
    let (fields, target) = check(&input);
    Ok(ManualCheck { ok: target.is_some(), fields })
}

// ------------------------------------------------------------------ authorize

#[derive(Serialize)]
pub struct AuthorizeOutcome {
    device: DeviceSummary,
    printer: Option<PrinterReport>,
    printer_error: Option<ErrorReport>,
}

async fn outcome(core: &QuickAuth, device: DeviceSummary) -> AuthorizeOutcome {
    if device.provider != "yilianyun" {
        return AuthorizeOutcome { device, printer: None, printer_error: None };
    }
    // The status is a courtesy after a successful grant: its failure does not undo the authorization.
    match core.printer_status(&format!("yilianyun:{}", device.id)).await {
        Ok(p) => AuthorizeOutcome { device, printer: Some(p), printer_error: None },
        Err(e) => AuthorizeOutcome { device, printer: None, printer_error: Some(ErrorReport::from(&e)) },
    }
}

async fn authorize_target(app: &AppHandle, core: &QuickAuth, profile: &str, target: ScanTargetLike) -> CmdResult<AuthorizeOutcome> {
    let device = match target {
        ScanTargetLike::Yilianyun(mc, key) => core.authorize_yilianyun(profile, mc, key).await.rep()?,
        ScanTargetLike::Lingju(uid) => core.authorize_lingju(profile, uid).await.rep()?,
    };
    let _ = app.emit("devices-changed", DevicesChanged { refreshed: 0, reason: "authorized" });
    Ok(outcome(core, device).await)
}

enum ScanTargetLike {
    Yilianyun(MachineCode, DeviceKey),
    Lingju(UserId),
}

#[tauri::command]
pub async fn authorize_scan(
    app: AppHandle,
    state: State<'_, AppState>,
    scan_id: String,
    profile: Option<String>,
) -> CmdResult<AuthorizeOutcome> {
    let core = state.core().await?;
    let profile = profile.unwrap_or_else(|| quickauth_core::BUILTIN_SANDBOX_PROFILE.to_owned());
    let target = match state.scans.target(&scan_id)? {
        ScanTarget::Yilianyun(mc, key) => ScanTargetLike::Yilianyun(mc, key),
        ScanTarget::Lingju(u) => ScanTargetLike::Lingju(u),
    };
    let res = authorize_target(&app, &core, &profile, target).await;
    if res.is_ok() {
        state.scans.forget(&scan_id);
    }
    res
}

#[tauri::command]
pub async fn authorize_manual(
    app: AppHandle,
    state: State<'_, AppState>,
    input: ManualInput,
    profile: Option<String>,
) -> CmdResult<AuthorizeOutcome> {
    let core = state.core().await?;
    let profile = profile.unwrap_or_else(|| quickauth_core::BUILTIN_SANDBOX_PROFILE.to_owned());
    let (fields, target) = check(&input);
    let target = match target {
        Some(ManualTarget::Yilianyun(mc, k)) => ScanTargetLike::Yilianyun(mc, k),
        Some(ManualTarget::Lingju(u)) => ScanTargetLike::Lingju(u),
        None => {
            return Err(fields.machine_code.or(fields.key).or(fields.userid).unwrap_or_else(|| {
                report(&InputError::Empty { field: Field::MachineCode })
            }))
        }
    };
    authorize_target(&app, &core, &profile, target).await
}

// ------------------------------------------------------------------ devices

#[derive(Serialize)]
pub struct DeviceView {
    #[serde(flatten)]
    device: DeviceSummary,
    profile_builtin: bool,
}

#[derive(Serialize, Clone)]
pub struct DevicesChanged {
    pub refreshed: usize,
    pub reason: &'static str,
}

#[tauri::command]
pub async fn list_devices(state: State<'_, AppState>) -> CmdResult<Vec<DeviceView>> {
    let core = state.core().await?;
    let devices = blocking(core, |c| c.list_devices()).await?;
    Ok(devices
        .into_iter()
        .map(|d| DeviceView { profile_builtin: d.profile == quickauth_core::BUILTIN_SANDBOX_PROFILE, device: d })
        .collect())
}

/// Device ids from the page are `provider:id` safe: a bare id is resolved by the core when unambiguous.
#[tauri::command]
pub async fn printer_status(state: State<'_, AppState>, id: String) -> CmdResult<PrinterReport> {
    state.core().await?.printer_status(&id).await.rep()
}

#[tauri::command]
pub async fn print_test(state: State<'_, AppState>, id: String) -> CmdResult<PrintReport> {
    state.core().await?.print_test(&id).await.rep()
}

#[tauri::command]
pub async fn refresh_device(app: AppHandle, state: State<'_, AppState>, id: String) -> CmdResult<DeviceSummary> {
    let r = state.core().await?.refresh(&id).await.rep()?;
    let _ = app.emit("devices-changed", DevicesChanged { refreshed: 0, reason: "refreshed" });
    Ok(r.device)
}

#[derive(Serialize)]
pub struct RefreshDueReport {
    checked: usize,
    refreshed: usize,
    failed: usize,
    errors: Vec<(String, ErrorReport)>,
}

pub async fn run_refresh_due(core: &QuickAuth) -> CmdResult<RefreshDueReport> {
    let done = core.refresh_due().await.rep()?;
    let mut rep = RefreshDueReport { checked: done.len(), refreshed: 0, failed: 0, errors: Vec::new() };
    for (dev, res) in done {
        match res {
            Ok(_) => rep.refreshed += 1,
            Err(e) => {
                rep.failed += 1;
                rep.errors.push((dev.id, ErrorReport::from(&e)));
            }
        }
    }
    Ok(rep)
}

impl RefreshDueReport {
    pub fn checked(&self) -> usize {
        self.checked
    }
    pub fn refreshed(&self) -> usize {
        self.refreshed
    }
}

#[tauri::command]
pub async fn refresh_due(state: State<'_, AppState>) -> CmdResult<RefreshDueReport> {
    let core = state.core().await?;
    run_refresh_due(&core).await
}

#[tauri::command]
pub async fn forget_device(app: AppHandle, state: State<'_, AppState>, id: String, remote: bool) -> CmdResult<()> {
    state.core().await?.forget(&id, remote).await.rep()?;
    let _ = app.emit("devices-changed", DevicesChanged { refreshed: 0, reason: "forgotten" });
    Ok(())
}

/// The explicit reveal: the one command that returns a token, and only with `confirmed: true`.
#[derive(Serialize)]
pub struct RevealedView {
    id: String,
    access_token: String,
    refresh_token: Option<String>,
}

#[tauri::command]
pub async fn reveal_tokens(state: State<'_, AppState>, id: String, confirmed: bool) -> CmdResult<RevealedView> {
    if !confirmed {
        return Err(report(&AppError::NotConfirmed));
    }
    let core = state.core().await?;
    let t = blocking(core, move |c| c.reveal_tokens(&id)).await?;
    Ok(RevealedView {
        id: t.device.id.clone(),
        access_token: t.access_token.expose().to_owned(),
        refresh_token: t.refresh_token.as_ref().map(|r| r.expose().to_owned()),
    })
}

/// How long a copied token stays on the clipboard.
const CLIPBOARD_CLEAR_AFTER: Duration = Duration::from_secs(60);

/// Puts a token on the clipboard from Rust (the page never needs clipboard permissions) and clears it after
/// 60 s unless the user copied something else meanwhile.
#[tauri::command]
pub async fn copy_token(app: AppHandle, state: State<'_, AppState>, id: String, which: String, confirmed: bool) -> CmdResult<()> {
    use tauri_plugin_clipboard_manager::ClipboardExt;
    if !confirmed {
        return Err(report(&AppError::NotConfirmed));
    }
    let core = state.core().await?;
    let t = blocking(core, move |c| c.reveal_tokens(&id)).await?;
    let value = Zeroizing::new(match which.as_str() {
        "refresh" => t.refresh_token.as_ref().map(|r| r.expose().to_owned()).unwrap_or_default(),
        _ => t.access_token.expose().to_owned(),
    });
    app.clipboard()
        .write_text(value.as_str())
        .map_err(|e| report(&AppError::Clipboard(e.to_string())))?;
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(CLIPBOARD_CLEAR_AFTER).await;
        let still_ours = app.clipboard().read_text().map(|now| Zeroizing::new(now) == value).unwrap_or(false);
        if still_ours {
            let _ = app.clipboard().write_text("");
        }
    });
    Ok(())
}

// ------------------------------------------------------------------ profiles

#[derive(Serialize)]
pub struct ProfileView {
    #[serde(flatten)]
    profile: Profile,
    /// A user profile always has its secret in the keyring (the core stores it before the profile row).
    secret_set: bool,
    devices: usize,
}

#[tauri::command]
pub async fn list_profiles(state: State<'_, AppState>) -> CmdResult<Vec<ProfileView>> {
    let core = state.core().await?;
    let (profiles, devices) = blocking(core, |c| Ok((c.list_profiles()?, c.list_devices()?))).await?;
    Ok(profiles
        .into_iter()
        .map(|p| {
            let n = devices.iter().filter(|d| d.profile == p.name).count();
            ProfileView { secret_set: true, devices: n, profile: p }
        })
        .collect())
}

#[derive(Deserialize)]
pub struct ProfileInput {
    name: String,
    provider: String,
    client_id: Option<String>,
    region: Option<String>,
    api_version: Option<String>,
    endpoint: Option<String>,
    base_url: Option<String>,
    /// Client secret (Yilianyun) or appkey (Lingju). Write-only.
    secret: Option<String>,
    /// Lingju authcode. Write-only.
    authcode: Option<String>,
}

impl Drop for ProfileInput {
    fn drop(&mut self) {
        for s in [self.secret.as_mut(), self.authcode.as_mut()].into_iter().flatten() {
            zeroize::Zeroize::zeroize(s);
        }
    }
}

fn invalid(field: &'static str, zh: &str, en: &str) -> ErrorReport {
    ErrorReport::from(&quickauth_core::Error::InvalidInput { field, detail: format!("{zh} / {en}") })
}

fn parse_base_url(s: Option<&str>) -> CmdResult<Option<url::Url>> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => url::Url::parse(s)
            .map(Some)
            .map_err(|_| invalid("base_url", "不是完整的网址，例如 https://example.com", "not a full URL, e.g. https://example.com")),
    }
}

fn parse_region(s: Option<&str>) -> CmdResult<Region> {
    match s.unwrap_or("cn") {
        "cn" => Ok(Region::Cn),
        "overseas" => Ok(Region::Overseas),
        "cn-alt" => Ok(Region::CnAlt),
        _ => Err(invalid("region", "应为 cn、overseas 或 cn-alt", "must be cn, overseas or cn-alt")),
    }
}

fn parse_api_version(s: Option<&str>) -> CmdResult<ApiVersion> {
    match s.unwrap_or("v2") {
        "v1" => Ok(ApiVersion::V1),
        "v2" => Ok(ApiVersion::V2),
        _ => Err(invalid("api_version", "应为 v1 或 v2", "must be v1 or v2")),
    }
}

fn parse_endpoint(s: Option<&str>) -> CmdResult<LingjuEndpoint> {
    match s.unwrap_or("httpapi") {
        "httpapi" => Ok(LingjuEndpoint::HttpApi),
        "bltapi" => Ok(LingjuEndpoint::BltApi),
        _ => Err(invalid("endpoint", "应为 httpapi 或 bltapi", "must be httpapi or bltapi")),
    }
}

/// A write-only secret field: blank means "not given" (on edit: keep the stored one).
fn given(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Adds a profile (`is_new`) or changes one: its settings, and any secret typed in (blank keeps the stored one).
/// Returns the profile as listed (no secret).
#[tauri::command]
pub async fn save_profile(state: State<'_, AppState>, input: ProfileInput, is_new: bool) -> CmdResult<Profile> {
    let core = state.core().await?;
    let name = input.name.trim().to_owned();
    let base_url = parse_base_url(input.base_url.as_deref())?;
    match input.provider.as_str() {
        "yilianyun" => {
            let secret = given(&input.secret).map(ClientSecret::new);
            if !is_new {
                // Fields left out keep their stored values; an empty address removes a custom one.
                let update = ProfileUpdate {
                    client_id: given(&input.client_id).map(str::to_owned),
                    region: input.region.as_deref().map(|r| parse_region(Some(r))).transpose()?,
                    api_version: input.api_version.as_deref().map(|v| parse_api_version(Some(v))).transpose()?,
                    base_url: Some(base_url),
                    lingju_endpoint: None,
                };
                return blocking(core, move |c| {
                    c.update_profile(&name, update)?;
                    if let Some(secret) = secret {
                        c.set_client_secret(&name, secret)?;
                    }
                    c.profile(&name)
                })
                .await;
            }
            let p = quickauth_core::NewYilianyunProfile {
                name,
                client_id: input.client_id.as_deref().unwrap_or("").trim().to_owned(),
                region: parse_region(input.region.as_deref())?,
                api_version: parse_api_version(input.api_version.as_deref())?,
                base_url,
                client_secret: secret.unwrap_or_else(|| ClientSecret::new("")),
            };
            blocking(core, move |c| c.add_yilianyun_profile(p)).await
        }
        "lingju" => {
            let appkey = given(&input.secret).map(LingjuAppKey::new);
            let authcode = given(&input.authcode).map(LingjuAuthCode::new);
            if !is_new {
                let update = ProfileUpdate {
                    base_url: Some(base_url),
                    lingju_endpoint: input.endpoint.as_deref().map(|e| parse_endpoint(Some(e))).transpose()?,
                    ..Default::default()
                };
                return blocking(core, move |c| {
                    c.update_profile(&name, update)?;
                    c.set_lingju_secrets(&name, appkey, authcode)?;
                    c.profile(&name)
                })
                .await;
            }
            let p = quickauth_core::NewLingjuProfile {
                name,
                endpoint: parse_endpoint(input.endpoint.as_deref())?,
                base_url,
                appkey: appkey.unwrap_or_else(|| LingjuAppKey::new("")),
                authcode,
            };
            blocking(core, move |c| c.add_lingju_profile(p)).await
        }
        _ => Err(invalid("provider", "应为 yilianyun 或 lingju", "must be yilianyun or lingju")),
    }
}

#[tauri::command]
pub async fn remove_profile(state: State<'_, AppState>, name: String) -> CmdResult<()> {
    let core = state.core().await?;
    blocking(core, move |c| c.remove_profile(&name)).await
}

// ------------------------------------------------------------------ code flow

#[derive(Serialize)]
pub struct FlowStarted {
    flow_id: String,
    authorize_url: String,
}

#[tauri::command]
pub async fn begin_code_flow(app: AppHandle, state: State<'_, AppState>, profile: String) -> CmdResult<FlowStarted> {
    let core = state.core().await?;
    crate::codeflow::begin(app, &state, core, &profile).await
}

#[tauri::command]
pub async fn complete_code_flow(
    app: AppHandle,
    state: State<'_, AppState>,
    flow_id: String,
    callback_url: String,
) -> CmdResult<AuthorizeOutcome> {
    let core = state.core().await?;
    let flow = crate::codeflow::take(&state, &flow_id)?;
    let device = core.complete_code_flow(&flow, &callback_url).await.rep()?;
    let _ = app.emit("devices-changed", DevicesChanged { refreshed: 0, reason: "authorized" });
    Ok(outcome(&core, device).await)
}

#[tauri::command]
pub async fn open_code_flow_page(app: AppHandle, state: State<'_, AppState>, flow_id: String) -> CmdResult<()> {
    crate::codeflow::open_again(&app, &state, &flow_id)
}

#[tauri::command]
pub async fn cancel_code_flow(state: State<'_, AppState>, flow_id: String) -> CmdResult<()> {
    let _ = crate::codeflow::take(&state, &flow_id);
    Ok(())
}

impl FlowStarted {
    pub fn new(flow_id: String, authorize_url: String) -> Self {
        Self { flow_id, authorize_url }
    }
}

pub(crate) async fn flow_outcome(core: &QuickAuth, device: DeviceSummary) -> AuthorizeOutcome {
    outcome(core, device).await
}

// ------------------------------------------------------------------ history

#[derive(Serialize)]
pub struct HistoryView {
    at: DateTime<Utc>,
    operation: String,
    provider: String,
    device_id: Option<String>,
    profile: Option<String>,
    ok: bool,
    error_kind: Option<String>,
    error_code: Option<i64>,
}

fn history_views(core: &QuickAuth, limit: usize) -> quickauth_core::Result<Vec<HistoryView>> {
    Ok(core
        .history(limit)?
        .into_iter()
        .map(|h| HistoryView {
            at: h.at,
            ok: h.outcome == "ok",
            operation: h.action,
            provider: h.provider,
            device_id: h.device_id,
            profile: h.profile,
            error_kind: h.error_kind,
            error_code: h.error_code,
        })
        .collect())
}

#[tauri::command]
pub async fn history(state: State<'_, AppState>, limit: Option<usize>) -> CmdResult<Vec<HistoryView>> {
    let core = state.core().await?;
    let limit = limit.unwrap_or(500).min(10_000);
    blocking(core, move |c| history_views(c, limit)).await
}

/// One CSV field, quoted when needed (RFC 4180); a leading =,+,-,@ is defused so spreadsheets don't run it.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_owned() };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub fn history_csv(rows: &[HistoryView]) -> String {
    let mut out = String::from("time,operation,provider,device,profile,outcome,error_kind,error_code\r\n");
    for r in rows {
        let fields = [
            r.at.to_rfc3339(),
            r.operation.clone(),
            r.provider.clone(),
            r.device_id.clone().unwrap_or_default(),
            r.profile.clone().unwrap_or_default(),
            if r.ok { "ok".into() } else { "error".into() },
            r.error_kind.clone().unwrap_or_default(),
            r.error_code.map(|c| c.to_string()).unwrap_or_default(),
        ];
        out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

#[derive(Serialize)]
pub struct Exported {
    path: String,
    rows: usize,
}

#[tauri::command]
pub async fn export_history_csv(state: State<'_, AppState>, path: String) -> CmdResult<Exported> {
    let core = state.core().await?;
    let rows = blocking(core, |c| history_views(c, 1_000_000)).await?;
    let csv = history_csv(&rows);
    let n = rows.len();
    let p = path.clone();
    tauri::async_runtime::spawn_blocking(move || std::fs::write(&p, csv.as_bytes()))
        .await
        .map_err(|e| ErrorReport::from(AppError::Internal(e.to_string())))?
        .map_err(|e| report(&AppError::Io { context: "write CSV", detail: e.to_string() }))?;
    Ok(Exported { path, rows: n })
}

// ------------------------------------------------------------------ sandbox helpers

#[derive(Serialize)]
pub struct SandboxInfo {
    base_url: String,
}

/// Where the built-in sandbox listens (loopback), for demos and the WebDriver tests' fault controls.
#[tauri::command]
pub async fn sandbox_info(state: State<'_, AppState>) -> CmdResult<SandboxInfo> {
    let core = state.core().await?;
    let sb = core.sandbox().await.rep()?;
    Ok(SandboxInfo { base_url: sb.base_url().to_string() })
}

#[derive(Serialize)]
pub struct TestLabel {
    machine_code: String,
    kind: &'static str,
    png_base64: String,
}

/// "Make a test label": a freshly minted sandbox printer label, as a PNG, so anyone can try the whole flow.
#[tauri::command]
pub async fn sandbox_test_label(state: State<'_, AppState>, kind: Option<String>) -> CmdResult<TestLabel> {
    let core = state.core().await?;
    let sb = core.sandbox().await.rep()?;
    let (lk, kind) = match kind.as_deref() {
        Some("msign") => (quickauth_sandbox::LabelKind::Msign, "msign"),
        _ => (quickauth_sandbox::LabelKind::QrKey, "qr_key"),
    };
    let label = sb.mint_label(lk);
    let machine_code = label.machine_code.clone();
    let opts = quickauth_qr::label::LabelOptions { lines: vec![format!("SN:{machine_code}")], ..Default::default() };
    let img = quickauth_qr::label::render_text(&label.payload, &opts)
        .map_err(|e| report(&AppError::Internal(e.to_string())))?;
    let png = quickauth_qr::label::png_bytes(&img);
    Ok(TestLabel { machine_code, kind, png_base64: base64::engine::general_purpose::STANDARD.encode(png) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
    }

    #[test]
    fn manual_entry_is_checked_field_by_field() {
        let input = |mc: &str, kind: &str, key: &str| ManualInput {
            provider: "yilianyun".into(),
            machine_code: Some(mc.into()),
            key_kind: Some(kind.into()),
            key: Some(key.into()),
            userid: None,
        };
        let (f, t) = check(&input("4004123456", "qr_key", "abc123"));
        assert!(t.is_some() && f.machine_code.is_none() && f.key.is_none());
        let (f, t) = check(&input("40041x", "qr_key", "abc123"));
        assert!(t.is_none());
        assert!(f.machine_code.is_some() && f.key.is_none());
        let (f, t) = check(&input("4004123456", "msign", "ab c"));
        assert!(t.is_none());
        let k = f.key.expect("key error");
        assert!(!k.message_en.contains("ab c"), "message must not echo the key");
        let (f, _) = check(&input("", "qr_key", ""));
        assert!(f.machine_code.is_some() && f.key.is_some());
    }
}
