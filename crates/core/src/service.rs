//! `QuickAuth`: the service shared by the app and the CLI — profiles, authorize, code flow, refresh lifecycle,
//! printer calls and history over one data dir.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use quickauth_protocol::secret::{
    AccessToken, ClientSecret, LingjuAppKey, LingjuAuthCode, RefreshToken,
};
use quickauth_protocol::{
    ApiVersion, DeviceKey, Endpoint, LingjuClient, LingjuConfig, Localized, MachineCode, Region,
    TokenGrant, UserId, YilianyunClient, YilianyunConfig,
};
use quickauth_sandbox::{Sandbox, SandboxHandle, SandboxOptions};
use quickauth_vault::{DeviceRecord, HistoryEntry, Keyring, ProfileRecord, Store};
use url::Url;

use crate::backoff::Backoff;
use crate::error::{Error, Result};
use crate::lifecycle::{
    check_quota, is_reauth_code, mark_day_full, DeviceRef, Lifecycle, LifecycleState, NewTokens,
};
use crate::lock::DeviceLock;
use crate::models::*;
use crate::profiles::*;
use crate::quota::china_day;
use crate::state::{Secrets, VaultState};
use crate::tokens::{profile_account, tokens_account, StoredTokens};

/// Refresh tokens live 35 days when the server does not say (v1 replies omit it).
const DEFAULT_REFRESH_LIFETIME_SECS: i64 = 35 * 24 * 3600;

/// How long a refresh completed by recovery answers the next `refresh` of that device instead of a new one.
const RECOVERED_COUNTS_AS_REFRESH_FOR: Duration = Duration::from_secs(600);

/// The default of `Options::interactive_budget`.
pub const INTERACTIVE_BUDGET: Duration = Duration::from_secs(10);

/// How to open the service.
#[derive(Debug, Clone)]
pub struct Options {
    pub data_dir: PathBuf,
    /// Upper bound for every keyring call (a Secret Service that never answers must not hang us).
    pub keyring_timeout: Duration,
    /// Refresh when the access token has fewer days left than this.
    pub refresh_days_before: i64,
    /// Retries of transient failures.
    pub backoff: Backoff,
    /// Complete interrupted refreshes while opening (on by default).
    pub recover_on_open: bool,
    /// How long a refreshed pair the keyring refuses is held and written again (the app uses the whole 2 h
    /// replay window; a CLI run from cron a shorter time).
    pub keyring_write_patience: Duration,
    /// Total time an installer waits at the counter for authorize, code-flow completion, printer status and the
    /// test print, retries included (the background refresh stays patient).
    pub interactive_budget: Duration,
}

impl Options {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            keyring_timeout: Duration::from_secs(5),
            refresh_days_before: 5,
            backoff: Backoff::default(),
            recover_on_open: true,
            keyring_write_patience: Duration::from_secs(120),
            interactive_budget: INTERACTIVE_BUDGET,
        }
    }
}

/// Device rows reference their profile, so the built-in one has a (non-secret) row too.
fn ensure_builtin_row(store: &Store) -> Result<()> {
    if store.get_profile(BUILTIN_SANDBOX_PROFILE)?.is_none() {
        let now = Utc::now();
        store.upsert_profile(&ProfileRecord {
            name: BUILTIN_SANDBOX_PROFILE.into(),
            provider: "yilianyun".into(),
            client_id: Some(quickauth_sandbox::BUILTIN_OPEN_APP_ID.into()),
            region: Some("cn".into()),
            api_version: Some("v2".into()),
            base_url: None,
            lingju_endpoint: None,
            builtin: true,
            created_at: now,
            updated_at: now,
        })?;
    }
    Ok(())
}

/// The service. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct QuickAuth {
    pub(crate) opts: Options,
    pub(crate) store: Arc<Store>,
    pub(crate) keyring: Secrets,
    http: reqwest::Client,
    sandbox: tokio::sync::OnceCell<SandboxHandle>,
    /// Refreshes completed by `recover_pending` in this process: the next `refresh` of such a device returns that
    /// result instead of refreshing again (after a lost reply, the next refresh ends with the lost tokens).
    /// Bounded in time so a long-running app does not answer a refresh asked for hours later with an old result.
    recovered: std::sync::Mutex<
        std::collections::HashMap<
            DeviceRef,
            (std::time::Instant, crate::lifecycle::RefreshOutcome),
        >,
    >,
}

impl QuickAuth {
    /// Opens (creating) the data dir, the SQLite store and the keyring namespace, then completes any refresh a
    /// previous run left pending (failures there are logged, not fatal: the next refresh retries them).
    pub async fn open(opts: Options) -> Result<Self> {
        std::fs::create_dir_all(&opts.data_dir).map_err(|source| Error::Io {
            context: "create data dir",
            path: opts.data_dir.clone(),
            source,
        })?;
        let store = Store::open(&opts.data_dir)?;
        let keyring = Keyring::open(&opts.data_dir, opts.keyring_timeout)?;
        ensure_builtin_row(&store)?;
        move_legacy_token_entries(&store, &keyring);
        let qa = Self {
            store: Arc::new(store),
            keyring: Secrets(Arc::new(keyring)),
            http: quickauth_protocol::http_client(),
            sandbox: tokio::sync::OnceCell::new(),
            recovered: Default::default(),
            opts,
        };
        if qa.opts.recover_on_open {
            match qa.recover_pending().await {
                Ok(done) => {
                    for (dev, res) in done {
                        if let Err(e) = res {
                            tracing::warn!(device = %dev, kind = e.kind(), "pending refresh not completed yet");
                        }
                    }
                }
                Err(e) => tracing::warn!(kind = e.kind(), "could not look for pending refreshes"),
            }
        }
        Ok(qa)
    }

    pub fn data_dir(&self) -> &Path {
        &self.opts.data_dir
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    pub(crate) fn state(&self) -> VaultState {
        VaultState {
            store: self.store.clone(),
            keyring: self.keyring.clone(),
        }
    }

    fn lifecycle<'a>(&'a self, state: &'a VaultState) -> Lifecycle<'a, VaultState> {
        Lifecycle {
            state,
            data_dir: &self.opts.data_dir,
            backoff: self.opts.backoff,
            write_patience: self.opts.keyring_write_patience,
        }
    }

    /// The in-process sandbox behind the built-in profile, started on first use on 127.0.0.1:<random>.
    pub async fn sandbox(&self) -> Result<&SandboxHandle> {
        self.sandbox
            .get_or_try_init(|| async {
                let state_dir = self.opts.data_dir.join("sandbox");
                let opts = SandboxOptions {
                    bind: ([127, 0, 0, 1], 0).into(),
                    state_dir: Some(state_dir),
                };
                let handle = Sandbox::start(opts).await.map_err(|e| Error::Sandbox {
                    detail: e.to_string(),
                })?;
                tracing::info!(addr = %handle.addr(), "built-in sandbox started");
                Ok(handle)
            })
            .await
    }

    // ---------------------------------------------------------------- history

    pub(crate) fn record<T>(
        &self,
        action: &str,
        dev: Option<&DeviceRef>,
        provider: &str,
        profile: Option<&str>,
        res: &Result<T>,
    ) {
        // Only kind + code: messages can quote user input (a pasted payload may hold a qr_key).
        let (outcome, kind, code) = match res {
            Ok(_) => ("ok", None, None),
            Err(e) => ("error", Some(e.kind().to_owned()), e.code()),
        };
        let entry = HistoryEntry {
            id: 0,
            at: Utc::now(),
            action: action.to_owned(),
            provider: dev
                .map(|d| d.provider.clone())
                .unwrap_or_else(|| provider.to_owned()),
            device_id: dev.map(|d| d.id.clone()),
            profile: profile.map(str::to_owned),
            outcome: outcome.to_owned(),
            error_kind: kind,
            error_code: code,
            message: None,
        };
        if let Err(e) = self.store.append_history(&entry) {
            tracing::warn!(kind = Error::from(e).kind(), "could not write history");
        }
    }

    /// The last `limit` attempts, newest first.
    pub fn history(&self, limit: usize) -> Result<Vec<HistoryEntry>> {
        Ok(self.store.list_history(limit)?)
    }

    // ---------------------------------------------------------------- profiles

    fn builtin_profile() -> Profile {
        Profile {
            name: BUILTIN_SANDBOX_PROFILE.to_owned(),
            label: BUILTIN_SANDBOX_LABEL.to_owned(),
            builtin: true,
            settings: ProfileSettings::Yilianyun {
                client_id: quickauth_sandbox::BUILTIN_OPEN_APP_ID.to_owned(),
                region: "sandbox".to_owned(),
                api_version: "v2".to_owned(),
                base_url: None,
            },
            created_at: None,
        }
    }

    fn profile_from_record(r: ProfileRecord) -> Result<Profile> {
        let settings = match r.provider.as_str() {
            "lingju" => ProfileSettings::Lingju {
                endpoint: r
                    .lingju_endpoint
                    .clone()
                    .unwrap_or_else(|| "httpapi".into()),
                base_url: Url::parse(r.base_url.as_deref().unwrap_or(LINGJU_DEFAULT_BASE))
                    .map_err(|e| {
                        Error::Internal(format!("stored Lingju base URL unreadable: {e}"))
                    })?,
            },
            _ => ProfileSettings::Yilianyun {
                client_id: r.client_id.clone().unwrap_or_default(),
                region: r.region.clone().unwrap_or_else(|| "cn".into()),
                api_version: r.api_version.clone().unwrap_or_else(|| "v2".into()),
                base_url: r.base_url.as_deref().and_then(|u| Url::parse(u).ok()),
            },
        };
        Ok(Profile {
            label: r.name.clone(),
            name: r.name,
            builtin: false,
            settings,
            created_at: Some(r.created_at),
        })
    }

    /// Every profile, the built-in sandbox first.
    pub fn list_profiles(&self) -> Result<Vec<Profile>> {
        let mut out = vec![Self::builtin_profile()];
        for r in self.store.list_profiles()? {
            if r.builtin || r.name == BUILTIN_SANDBOX_PROFILE {
                continue;
            }
            out.push(Self::profile_from_record(r)?);
        }
        Ok(out)
    }

    pub fn profile(&self, name: &str) -> Result<Profile> {
        if name == BUILTIN_SANDBOX_PROFILE {
            return Ok(Self::builtin_profile());
        }
        let r = self
            .store
            .get_profile(name)?
            .ok_or_else(|| Error::ProfileNotFound {
                name: name.to_owned(),
            })?;
        Self::profile_from_record(r)
    }

    fn ensure_new_profile(&self, name: &str) -> Result<()> {
        validate_profile_name(name)?;
        if self.store.get_profile(name)?.is_some() {
            return Err(Error::ProfileExists {
                name: name.to_owned(),
            });
        }
        Ok(())
    }

    /// Adds a Yilianyun profile. The secret goes to the keyring first, so a listed profile always has one.
    pub fn add_yilianyun_profile(&self, p: NewYilianyunProfile) -> Result<Profile> {
        let res = self.add_yilianyun_profile_inner(p);
        self.record(
            "profile_add",
            None,
            "yilianyun",
            res.as_ref().ok().map(|p| p.name.as_str()),
            &res,
        );
        res
    }

    fn add_yilianyun_profile_inner(&self, p: NewYilianyunProfile) -> Result<Profile> {
        self.ensure_new_profile(&p.name)?;
        if p.client_id.trim().is_empty() || !p.client_id.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(Error::InvalidInput {
                field: "client_id",
                detail: "应为字母数字 / letters and digits only".into(),
            });
        }
        if p.client_secret.is_blank() {
            return Err(empty_secret("client_secret"));
        }
        // Validates the region/version/base-URL combination now rather than at first use.
        Endpoint::new(p.region, p.api_version, p.base_url.clone())?;
        self.keyring.set(
            &profile_account(&p.name, "client_secret"),
            p.client_secret.expose(),
        )?;
        let now = Utc::now();
        self.store.upsert_profile(&ProfileRecord {
            name: p.name.clone(),
            provider: "yilianyun".into(),
            client_id: Some(p.client_id.clone()),
            region: Some(region_str(p.region).into()),
            api_version: Some(api_str(p.api_version).into()),
            base_url: p.base_url.as_ref().map(|u| u.to_string()),
            lingju_endpoint: None,
            builtin: false,
            created_at: now,
            updated_at: now,
        })?;
        tracing::info!(profile = %p.name, client_id = %p.client_id, "Yilianyun profile added");
        self.profile(&p.name)
    }

    /// Adds a Lingju profile; appkey (and authcode for hardware devices) go to the keyring.
    pub fn add_lingju_profile(&self, p: NewLingjuProfile) -> Result<Profile> {
        let res = self.add_lingju_profile_inner(p);
        self.record(
            "profile_add",
            None,
            "lingju",
            res.as_ref().ok().map(|p| p.name.as_str()),
            &res,
        );
        res
    }

    fn add_lingju_profile_inner(&self, p: NewLingjuProfile) -> Result<Profile> {
        self.ensure_new_profile(&p.name)?;
        if p.appkey.is_blank() {
            return Err(empty_secret("appkey"));
        }
        let base = p
            .base_url
            .clone()
            .unwrap_or_else(|| Url::parse(LINGJU_DEFAULT_BASE).expect("valid"));
        self.keyring.set(
            &profile_account(&p.name, "lingju_appkey"),
            p.appkey.expose(),
        )?;
        match p.authcode.as_ref().filter(|a| !a.is_blank()) {
            Some(code) => self
                .keyring
                .set(&profile_account(&p.name, "lingju_authcode"), code.expose())?,
            None => self
                .keyring
                .delete(&profile_account(&p.name, "lingju_authcode"))?,
        }
        let now = Utc::now();
        self.store.upsert_profile(&ProfileRecord {
            name: p.name.clone(),
            provider: "lingju".into(),
            client_id: None,
            region: None,
            api_version: None,
            base_url: Some(base.to_string()),
            lingju_endpoint: Some(endpoint_str(p.endpoint).into()),
            builtin: false,
            created_at: now,
            updated_at: now,
        })?;
        tracing::info!(profile = %p.name, "Lingju profile added");
        self.profile(&p.name)
    }

    /// The stored record of a profile of the given provider.
    fn stored_profile_of(&self, name: &str, provider: Provider) -> Result<ProfileRecord> {
        let r = self
            .store
            .get_profile(name)?
            .ok_or_else(|| Error::ProfileNotFound {
                name: name.to_owned(),
            })?;
        if r.provider != provider.as_str() {
            return Err(Error::WrongProvider {
                profile: name.to_owned(),
                expected: provider.as_str(),
            });
        }
        Ok(r)
    }

    /// A profile the user may change (not the built-in one) of the given provider.
    fn user_profile_of(&self, name: &str, provider: Provider) -> Result<Profile> {
        let p = self.profile(name)?;
        if p.builtin {
            return Err(Error::BuiltinProfileImmutable {
                name: name.to_owned(),
            });
        }
        if p.provider() != provider {
            return Err(Error::WrongProvider {
                profile: name.to_owned(),
                expected: provider.as_str(),
            });
        }
        Ok(p)
    }

    /// Replaces a Yilianyun profile's client secret (write-only: nothing ever reads it back out).
    pub fn set_client_secret(&self, name: &str, secret: ClientSecret) -> Result<()> {
        self.user_profile_of(name, Provider::Yilianyun)?;
        if secret.is_blank() {
            return Err(empty_secret("client_secret"));
        }
        self.keyring
            .set(&profile_account(name, "client_secret"), secret.expose())?;
        Ok(())
    }

    /// Changes a user profile's settings (validated like a new one). Secrets are changed with `set_client_secret` /
    /// `set_lingju_secrets`.
    pub fn update_profile(&self, name: &str, update: ProfileUpdate) -> Result<Profile> {
        let res = self.update_profile_inner(name, update);
        self.record("profile_update", None, "", Some(name), &res);
        res
    }

    fn update_profile_inner(&self, name: &str, u: ProfileUpdate) -> Result<Profile> {
        if name == BUILTIN_SANDBOX_PROFILE {
            return Err(Error::BuiltinProfileImmutable {
                name: name.to_owned(),
            });
        }
        let mut r = self
            .store
            .get_profile(name)?
            .ok_or_else(|| Error::ProfileNotFound {
                name: name.to_owned(),
            })?;
        if r.provider == "yilianyun" {
            if u.lingju_endpoint.is_some() {
                return Err(Error::WrongProvider {
                    profile: name.to_owned(),
                    expected: "lingju",
                });
            }
            if let Some(id) = u.client_id {
                if id.trim().is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(Error::InvalidInput {
                        field: "client_id",
                        detail: "应为字母数字 / letters and digits only".into(),
                    });
                }
                r.client_id = Some(id);
            }
            let region = u
                .region
                .or_else(|| r.region.as_deref().and_then(parse_region))
                .unwrap_or(Region::Cn);
            let api = u
                .api_version
                .or_else(|| r.api_version.as_deref().and_then(parse_api))
                .unwrap_or(ApiVersion::V2);
            let base = match u.base_url {
                Some(b) => b,
                None => r.base_url.as_deref().and_then(|b| Url::parse(b).ok()),
            };
            Endpoint::new(region, api, base.clone())?;
            r.region = Some(region_str(region).into());
            r.api_version = Some(api_str(api).into());
            r.base_url = base.map(|b| b.to_string());
        } else {
            if u.client_id.is_some() || u.region.is_some() || u.api_version.is_some() {
                return Err(Error::WrongProvider {
                    profile: name.to_owned(),
                    expected: "yilianyun",
                });
            }
            if let Some(e) = u.lingju_endpoint {
                r.lingju_endpoint = Some(endpoint_str(e).into());
            }
            if let Some(b) = u.base_url {
                r.base_url = Some(
                    b.unwrap_or_else(|| Url::parse(LINGJU_DEFAULT_BASE).expect("valid"))
                        .to_string(),
                );
            }
        }
        r.updated_at = Utc::now();
        self.store.upsert_profile(&r)?;
        self.profile(name)
    }

    /// Replaces a Lingju profile's appkey and/or authcode (write-only); `None` keeps the stored one.
    pub fn set_lingju_secrets(
        &self,
        name: &str,
        appkey: Option<LingjuAppKey>,
        authcode: Option<LingjuAuthCode>,
    ) -> Result<()> {
        self.user_profile_of(name, Provider::Lingju)?;
        if let Some(appkey) = appkey {
            if appkey.is_blank() {
                return Err(empty_secret("appkey"));
            }
            self.keyring
                .set(&profile_account(name, "lingju_appkey"), appkey.expose())?;
        }
        if let Some(code) = authcode.filter(|a| !a.is_blank()) {
            self.keyring
                .set(&profile_account(name, "lingju_authcode"), code.expose())?;
        }
        Ok(())
    }

    /// Removes a user profile and its keyring secrets. Refused while devices still use it.
    pub fn remove_profile(&self, name: &str) -> Result<()> {
        let res = self.remove_profile_inner(name);
        self.record("profile_remove", None, "", Some(name), &res);
        res
    }

    fn remove_profile_inner(&self, name: &str) -> Result<()> {
        if name == BUILTIN_SANDBOX_PROFILE {
            return Err(Error::BuiltinProfileImmutable {
                name: name.to_owned(),
            });
        }
        self.profile(name)?;
        let devices = self
            .store
            .list_devices()?
            .into_iter()
            .filter(|d| d.profile == name)
            .count();
        if devices > 0 {
            return Err(Error::ProfileInUse {
                name: name.to_owned(),
                devices,
            });
        }
        // Row first: a crash after it leaves only an unreachable keyring entry, never a profile without its secret.
        self.store.delete_profile(name)?;
        for what in [
            "client_secret",
            "lingju_appkey",
            "lingju_authcode",
            "webhook_secret",
        ] {
            self.keyring.delete(&profile_account(name, what))?;
        }
        Ok(())
    }

    async fn yilianyun_client(&self, profile: &str) -> Result<YilianyunClient> {
        let (client_id, client_secret, endpoint) = if profile == BUILTIN_SANDBOX_PROFILE {
            let sandbox = self.sandbox().await?;
            let endpoint = Endpoint::new(Region::Cn, ApiVersion::V2, Some(sandbox.base_url()))?;
            (
                quickauth_sandbox::BUILTIN_OPEN_APP_ID.to_owned(),
                ClientSecret::new(quickauth_sandbox::BUILTIN_OPEN_APP_SECRET),
                endpoint,
            )
        } else {
            let r = self.stored_profile_of(profile, Provider::Yilianyun)?;
            let bad =
                |what: &str| Error::Internal(format!("stored profile field {what} unreadable"));
            let region =
                parse_region(r.region.as_deref().unwrap_or("cn")).ok_or_else(|| bad("region"))?;
            let api = parse_api(r.api_version.as_deref().unwrap_or("v2"))
                .ok_or_else(|| bad("api_version"))?;
            let base = r
                .base_url
                .as_deref()
                .map(Url::parse)
                .transpose()
                .map_err(|_| bad("base_url"))?;
            let secret = self
                .keyring
                .get(&profile_account(profile, "client_secret"))?
                .ok_or_else(|| Error::MissingProfileSecret {
                    profile: profile.to_owned(),
                    what: "client secret",
                })?;
            (
                r.client_id.unwrap_or_default(),
                ClientSecret::new(secret.as_str()),
                Endpoint::new(region, api, base)?,
            )
        };
        Ok(YilianyunClient::new(
            YilianyunConfig {
                client_id,
                client_secret,
                endpoint,
            },
            self.http.clone(),
        ))
    }

    async fn lingju_client(&self, profile: &str) -> Result<LingjuClient> {
        let cfg = if profile == BUILTIN_SANDBOX_PROFILE {
            let sandbox = self.sandbox().await?;
            LingjuConfig {
                base_url: sandbox.base_url(),
                endpoint: quickauth_protocol::LingjuEndpoint::HttpApi,
                appkey: LingjuAppKey::new(quickauth_sandbox::BUILTIN_LINGJU_APPKEY),
                authcode: Some(LingjuAuthCode::new(
                    quickauth_sandbox::BUILTIN_LINGJU_AUTHCODE,
                )),
            }
        } else {
            let r = self.stored_profile_of(profile, Provider::Lingju)?;
            let bad =
                |what: &str| Error::Internal(format!("stored profile field {what} unreadable"));
            let endpoint = parse_endpoint(r.lingju_endpoint.as_deref().unwrap_or("httpapi"))
                .ok_or_else(|| bad("endpoint"))?;
            let base_url = Url::parse(r.base_url.as_deref().unwrap_or(LINGJU_DEFAULT_BASE))
                .map_err(|_| bad("base_url"))?;
            let appkey = self
                .keyring
                .get(&profile_account(profile, "lingju_appkey"))?
                .ok_or_else(|| Error::MissingProfileSecret {
                    profile: profile.to_owned(),
                    what: "Lingju appkey",
                })?;
            let authcode = self
                .keyring
                .get(&profile_account(profile, "lingju_authcode"))?;
            LingjuConfig {
                base_url,
                endpoint,
                appkey: LingjuAppKey::new(appkey.as_str()),
                authcode: authcode.map(|c| LingjuAuthCode::new(c.as_str())),
            }
        };
        Ok(LingjuClient::new(cfg, self.http.clone()))
    }

    // ---------------------------------------------------------------- devices

    fn summary(r: &DeviceRecord) -> DeviceSummary {
        DeviceSummary {
            key: DeviceRef::from(r).to_string(),
            id: r.id.clone(),
            provider: r.provider.clone(),
            profile: r.profile.clone(),
            expires_at: r.expires_at,
            refresh_expires_at: r.refresh_expires_at,
            authorized_at: r.authorized_at,
            last_refreshed_at: r.last_refreshed_at,
            token_generation: r.token_generation,
            needs_reauth: r.needs_reauth,
            model: r.model.clone(),
            ownership: Default::default(),
            handed_over_at: None,
            handed_over_to: None,
            pair_released_at: None,
            replay_pending_until: None,
        }
    }

    /// A summary with the device's ownership (issue 9) and pending replay filled in.
    fn summary_with_ownership(&self, r: &DeviceRecord) -> Result<DeviceSummary> {
        Ok(self.summaries(std::slice::from_ref(r))?.remove(0))
    }

    /// Summaries with `replay_pending_until` filled from the refresh journal and the ownership (issue 9).
    fn summaries(&self, records: &[DeviceRecord]) -> Result<Vec<DeviceSummary>> {
        let pending = self.store.pending_refreshes()?;
        let owners: std::collections::HashMap<
            (String, String, String),
            quickauth_vault::OwnershipRecord,
        > = self
            .store
            .list_ownerships()?
            .into_iter()
            .map(|(p, profile, id, o)| ((p, profile, id), o))
            .collect();
        Ok(records
            .iter()
            .map(|r| {
                let mut s = Self::summary(r);
                s.replay_pending_until = pending
                    .iter()
                    .find(|j| j.provider == r.provider && j.profile == r.profile && j.id == r.id)
                    .map(|j| j.started_at + crate::lifecycle::REPLAY_WINDOW);
                if let Some(o) = owners.get(&(r.provider.clone(), r.profile.clone(), r.id.clone()))
                {
                    s.ownership =
                        crate::delivery::Ownership::parse(&o.ownership).unwrap_or_default();
                    s.handed_over_at = o.handed_over_at;
                    s.handed_over_to = o.handed_over_to.clone();
                    s.pair_released_at = o.pair_released_at;
                }
                s
            })
            .collect())
    }

    /// Finds a device by machine code / userid. Prefixes narrow the search when one printer is authorized under
    /// several profiles or a machine code equals a Lingju userid: `provider:ID`, `profile:ID`, and the exact
    /// `provider:profile:ID` (a `DeviceSummary::key`).
    pub(crate) fn resolve(&self, id: &str) -> Result<DeviceRecord> {
        let id = id.trim();
        let mut parts: Vec<&str> = id.split(':').collect();
        let bare = parts.pop().unwrap_or_default();
        let (provider, profile) = match parts.as_slice() {
            [] => (None, None),
            [one] => match Provider::parse(one) {
                Some(p) => (Some(p), None),
                None => (None, Some(*one)),
            },
            [p, prof] => match Provider::parse(p) {
                Some(p) => (Some(p), Some(*prof)),
                None => (None, None),
            },
            _ => (None, None),
        };
        if parts.len() > 2 || (parts.len() == 2 && provider.is_none()) {
            return Err(Error::DeviceNotFound {
                id: id.chars().take(64).collect(),
            });
        }
        let matching = |candidate: &str| -> Result<Vec<DeviceRecord>> {
            Ok(self
                .store
                .find_devices(candidate)?
                .into_iter()
                .filter(|d| provider.is_none_or(|p| d.provider == p.as_str()))
                .filter(|d| profile.is_none_or(|p| d.profile == p))
                .collect())
        };
        let mut found = matching(bare)?;
        if found.is_empty() {
            // A MAC typed with separators is the same Lingju userid.
            if let Ok(uid) = UserId::parse(bare) {
                if uid.as_str() != bare {
                    found = matching(uid.as_str())?;
                }
            }
        }
        match found.len() {
            0 => Err(Error::DeviceNotFound {
                id: id.chars().take(64).collect(),
            }),
            1 => Ok(found.remove(0)),
            _ => Err(Error::AmbiguousId {
                id: bare.to_owned(),
                providers: found
                    .iter()
                    .map(|d| format!("{}:{}:{}", d.provider, d.profile, d.id))
                    .collect(),
            }),
        }
    }

    pub fn list_devices(&self) -> Result<Vec<DeviceSummary>> {
        self.summaries(&self.store.list_devices()?)
    }

    pub fn device(&self, id: &str) -> Result<DeviceSummary> {
        self.summary_with_ownership(&self.resolve(id)?)
    }

    fn read_tokens(&self, dev: &DeviceRef) -> Result<StoredTokens> {
        self.state()
            .read_tokens(dev)?
            .ok_or_else(|| Error::TokensMissing { id: dev.id.clone() })
    }

    /// Token metadata without the tokens (for masked display).
    pub fn token_info(&self, id: &str) -> Result<TokenInfo> {
        let rec = self.resolve(id)?;
        let t = self.read_tokens(&DeviceRef::from(&rec))?;
        Ok(TokenInfo {
            device: Self::summary(&rec),
            generation: t.generation,
            issued_at: t.issued_at,
            access_token_len: t.access_token.chars().count(),
            has_refresh_token: t.refresh_token.is_some(),
        })
    }

    /// The ONLY way a token leaves the service. Recorded in history (without the values).
    pub fn reveal_tokens(&self, id: &str) -> Result<RevealedTokens> {
        let res = self.resolve(id).and_then(|rec| {
            crate::delivery::ensure_not_handed_over(&self.store, &DeviceRef::from(&rec))?;
            let t = self.read_tokens(&DeviceRef::from(&rec))?;
            Ok(RevealedTokens {
                device: Self::summary(&rec),
                access_token: AccessToken::new(t.access_token.as_str()),
                refresh_token: t.refresh_token.as_deref().map(RefreshToken::new),
            })
        });
        let dev = res
            .as_ref()
            .ok()
            .map(|r| DeviceRef::new(&r.device.provider, &r.device.profile, &r.device.id));
        self.record(
            "reveal_tokens",
            dev.as_ref(),
            "",
            res.as_ref().ok().map(|r| r.device.profile.as_str()),
            &res,
        );
        res
    }

    /// Runs an interactive operation within `interactive_budget`. Every step it can be cut at is crash-safe (the
    /// refresh journal, keyring-first writes), so giving up at the deadline loses nothing.
    async fn within_budget<T>(&self, op: impl Future<Output = Result<T>>) -> Result<T> {
        let budget = self.opts.interactive_budget;
        tokio::time::timeout(budget, op)
            .await
            .unwrap_or(Err(Error::NoAnswerInTime {
                secs: budget.as_secs().max(1),
            }))
    }

    // ---------------------------------------------------------------- authorize

    async fn retrying<T, F, Fut>(&self, what: &'static str, mut call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut retry = 0;
        loop {
            match call().await {
                Err(e) if e.retryable() && retry + 1 < self.opts.backoff.attempts => {
                    retry += 1;
                    let wait = self.opts.backoff.delay(retry);
                    tracing::warn!(
                        what,
                        kind = e.kind(),
                        retry,
                        ?wait,
                        "transient failure; retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }

    /// A grant counts against the printer's daily quota: refused locally at the limit, counted when the server
    /// granted (a retried request is one grant), and a 41 fills the day.
    async fn counted_grant<F, Fut>(&self, dev: &DeviceRef, call: F) -> Result<TokenGrant>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<TokenGrant>>,
    {
        let state = self.state();
        check_quota(&state, dev, Utc::now())?;
        let res = self
            .retrying("grant", || {
                let state = &state;
                let fut = call();
                async move {
                    let day = china_day(Utc::now());
                    let res = fut.await;
                    if let Err(e) = &res {
                        if e.code() == Some(41) {
                            mark_day_full(state, dev, day)?;
                        }
                    }
                    res
                }
            })
            .await;
        if res.is_ok() {
            state.record_grant(dev, china_day(Utc::now()))?;
        }
        res
    }

    /// Stores a new grant (authorize / code flow) under the device lock: keyring first, then the DB row.
    async fn store_grant(
        &self,
        dev: &DeviceRef,
        profile: &str,
        fresh: NewTokens,
    ) -> Result<DeviceSummary> {
        let _lock = DeviceLock::acquire(&self.opts.data_dir, &dev.provider, &dev.id).await?;
        let state = self.state();
        let previous = match state.read_tokens(dev) {
            Ok(t) => t.map(|t| t.generation),
            Err(Error::CorruptTokenEntry) => None,
            Err(e) => return Err(e),
        };
        let row = self
            .store
            .get_device(&dev.provider, &dev.profile, &dev.id)?;
        let generation = previous
            .max(row.as_ref().map(|r| r.token_generation))
            .unwrap_or(0)
            + 1;
        let now = Utc::now();
        let tokens = fresh.into_stored(generation, now)?;
        state.write_tokens(dev, &tokens)?;
        // A new authorization: the device gets its profile's default ownership, and its webhook is queued before
        // the row is written (idempotent per generation, so a crash in between cannot lose it).
        let ownership = crate::delivery::default_ownership(&self.store, profile)?;
        crate::delivery::queue_new_pair(&self.store, dev, profile, generation, ownership, true)?;
        let record = DeviceRecord {
            provider: dev.provider.clone(),
            id: dev.id.clone(),
            profile: profile.to_owned(),
            authorized_at: now,
            expires_at: tokens.expires_at,
            refresh_expires_at: tokens.refresh_expires_at,
            last_refreshed_at: None,
            token_generation: generation,
            model: row.as_ref().and_then(|r| r.model.clone()),
            last_status: row.as_ref().and_then(|r| r.last_status.clone()),
            needs_reauth: false,
        };
        self.store.upsert_device(&record)?;
        let handed_over = ownership == crate::delivery::Ownership::HandedOver;
        let dest = self.store.get_destination(profile)?;
        self.store.set_ownership(
            &dev.provider,
            &dev.profile,
            &dev.id,
            &quickauth_vault::OwnershipRecord {
                ownership: ownership.as_str().into(),
                handed_over_at: handed_over.then_some(now),
                handed_over_to: dest
                    .filter(|_| handed_over)
                    .map(|d| crate::delivery::url_origin(&d.url)),
                pair_released_at: None,
            },
        )?;
        // A new grant supersedes any refresh that was still pending for this device.
        state.finish_journal(dev)?;
        tracing::info!(device = %dev, generation, expires_at = %tokens.expires_at, ownership = ownership.as_str(), "authorization stored");
        self.summary_with_ownership(&record)
    }

    fn grant_tokens(grant: TokenGrant) -> Result<NewTokens> {
        let secs = |s: u64, what: &'static str| {
            i64::try_from(s).map_err(|_| Error::ServerValueOutOfRange { what })
        };
        Ok(NewTokens {
            access_token: grant.access_token.expose().to_owned(),
            refresh_token: Some(grant.refresh_token.expose().to_owned()),
            expires_in_secs: secs(grant.expires_in, "expires_in")?,
            refresh_expires_in_secs: Some(match grant.refresh_expires_in {
                Some(s) => secs(s, "refresh_expires_in")?,
                None => DEFAULT_REFRESH_LIFETIME_SECS,
            }),
        })
    }

    /// Fast authorize (scan code model) with the label's qr_key or msign.
    pub async fn authorize_yilianyun(
        &self,
        profile: &str,
        machine_code: MachineCode,
        key: DeviceKey,
    ) -> Result<DeviceSummary> {
        let dev = DeviceRef::new("yilianyun", profile, machine_code.as_str());
        let res = self
            .within_budget(async {
                // A grant the keyring then cannot store is lost (and counted against the quota): check first.
                self.keyring.probe()?;
                let client = self.yilianyun_client(profile).await?;
                let (client, mc, key) = (&client, &machine_code, &key);
                let grant = self
                    .counted_grant(&dev, || async move {
                        client.fast_authorize(mc, key).await.map_err(Error::from)
                    })
                    .await?;
                self.store_grant(&dev, profile, Self::grant_tokens(grant)?)
                    .await
            })
            .await;
        self.record("authorize", Some(&dev), "yilianyun", Some(profile), &res);
        res
    }

    /// Parses a scanned label payload and authorizes what it names (Yilianyun or Lingju).
    pub async fn authorize_payload(&self, profile: &str, payload: &str) -> Result<DeviceSummary> {
        match quickauth_qr::parse_payload(payload) {
            Ok(quickauth_qr::LabelPayload::Yilianyun { machine_code, key }) => {
                let mc = MachineCode::parse(&machine_code)?;
                // The protocol crate's one key validator, as for manual entry and the command line.
                let key = match &key {
                    quickauth_qr::LabelKey::QrKey(_) => DeviceKey::parse_qr_key(key.expose())?,
                    quickauth_qr::LabelKey::Msign(_) => DeviceKey::parse_msign(key.expose())?,
                };
                self.authorize_yilianyun(profile, mc, key).await
            }
            Ok(quickauth_qr::LabelPayload::Lingju { userid }) => {
                self.authorize_lingju(profile, UserId::parse(&userid)?)
                    .await
            }
            Err(e) => {
                let res = Err(Error::from(e));
                self.record("authorize", None, "", Some(profile), &res);
                res
            }
        }
    }

    /// Lingju authorize (httpapi with the profile's authcode, or bltapi).
    pub async fn authorize_lingju(&self, profile: &str, userid: UserId) -> Result<DeviceSummary> {
        let dev = DeviceRef::new("lingju", profile, userid.as_str());
        let res = self
            .within_budget(async {
                self.keyring.probe()?;
                let client = self.lingju_client(profile).await?;
                let (client, uid) = (&client, &userid);
                let grant = self
                    .retrying("lingju authorize", || async move {
                        client.authorize(uid).await.map_err(Error::from)
                    })
                    .await?;
                self.store_grant(&dev, profile, Self::lingju_tokens(&grant)?)
                    .await
            })
            .await;
        self.record("authorize", Some(&dev), "lingju", Some(profile), &res);
        res
    }

    fn lingju_tokens(grant: &quickauth_protocol::LingjuGrant) -> Result<NewTokens> {
        Ok(NewTokens {
            access_token: grant.access_token.expose().to_owned(),
            refresh_token: None,
            expires_in_secs: grant
                .expires_days
                .max(0)
                .checked_mul(24 * 3600)
                .ok_or(Error::ServerValueOutOfRange { what: "expires" })?,
            refresh_expires_in_secs: None,
        })
    }

    /// Starts the browser authorization (open-app mode): open `CodeFlow::url`, then pass the callback URL to
    /// `complete_code_flow`.
    pub async fn begin_code_flow(&self, profile: &str, redirect_uri: Url) -> Result<CodeFlow> {
        let client = self.yilianyun_client(profile).await?;
        let (url, state) = client.authorize_url(&redirect_uri);
        Ok(CodeFlow {
            profile: profile.to_owned(),
            url,
            redirect_uri,
            state: state.as_str().to_owned(),
        })
    }

    /// Checks the callback's `state` (CSRF), exchanges the code and stores the printer's tokens.
    pub async fn complete_code_flow(
        &self,
        flow: &CodeFlow,
        callback_url: &str,
    ) -> Result<DeviceSummary> {
        let mut dev_for_history = None;
        let res = self
            .within_budget(async {
                let url = Url::parse(callback_url.trim()).map_err(|_| Error::InvalidInput {
                    field: "callback URL",
                    detail: "不是完整的网址 / not a full URL".into(),
                })?;
                let query = |k: &str| {
                    url.query_pairs()
                        .find(|(name, _)| name == k)
                        .map(|(_, v)| v.into_owned())
                };
                if query("state").as_deref() != Some(flow.state.as_str()) {
                    return Err(Error::CodeFlowStateMismatch);
                }
                if let Some(err) = query("error") {
                    return Err(Error::CodeFlowDenied {
                        reason: err
                            .chars()
                            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .take(64)
                            .collect(),
                    });
                }
                let code = query("code")
                    .filter(|c| !c.is_empty())
                    .ok_or(Error::CodeFlowNoCode)?;
                self.keyring.probe()?;
                let client = self.yilianyun_client(&flow.profile).await?;
                let (client, code) = (&client, code.as_str());
                // The printer is only known from the reply, so the quota is counted after it.
                let grant = self
                    .retrying("exchange code", || async move {
                        client.exchange_code(code).await.map_err(Error::from)
                    })
                    .await?;
                let mc = grant
                    .machine_code
                    .clone()
                    .ok_or_else(|| Error::InvalidInput {
                        field: "machine_code",
                        detail: "服务器回复里没有终端号 / the reply names no printer".into(),
                    })?;
                let mc = MachineCode::parse(&mc)?;
                let dev = DeviceRef::new("yilianyun", &flow.profile, mc.as_str());
                self.state().record_grant(&dev, china_day(Utc::now()))?;
                dev_for_history = Some(dev.clone());
                self.store_grant(&dev, &flow.profile, Self::grant_tokens(grant)?)
                    .await
            })
            .await;
        self.record(
            "code_flow",
            dev_for_history.as_ref(),
            "yilianyun",
            Some(&flow.profile),
            &res,
        );
        res
    }

    // ---------------------------------------------------------------- refresh

    async fn refresh_yilianyun(
        &self,
        dev: &DeviceRef,
        client: &YilianyunClient,
    ) -> Result<crate::lifecycle::RefreshOutcome> {
        let state = self.state();
        self.lifecycle(&state)
            .refresh(dev, |rt| async move {
                let rt = RefreshToken::new(rt);
                client
                    .refresh(&rt)
                    .await
                    .map_err(Error::from)
                    .and_then(Self::grant_tokens)
            })
            .await
    }

    /// Lingju has no refresh token: authorizing again with the profile's appkey is its refresh. Single flight like
    /// Yilianyun's: under the device lock, and a pair that changed while we waited for the lock is the answer (so
    /// when the app and cron overlap, an older token can never be stored last).
    async fn refresh_lingju(&self, rec: &DeviceRecord) -> Result<crate::lifecycle::RefreshOutcome> {
        use crate::lifecycle::RefreshOutcome;
        let dev = DeviceRef::from(rec);
        let state = self.state();
        let observed = state.read_tokens(&dev)?.map(|t| t.generation);
        let _lock = DeviceLock::acquire(&self.opts.data_dir, &dev.provider, &dev.id).await?;
        let current = state.read_tokens(&dev)?.map(|t| t.generation);
        if let (Some(before), Some(now)) = (observed, current) {
            if before != now {
                tracing::info!(device = %dev, generation = now, "re-authorized by another process while waiting");
                return Ok(RefreshOutcome::AlreadyRefreshed { generation: now });
            }
        }
        let client = self.lingju_client(&rec.profile).await?;
        let uid = UserId::parse(&rec.id)?;
        let (c, u) = (&client, &uid);
        let grant = self
            .retrying("lingju authorize", || async move {
                c.authorize(u).await.map_err(Error::from)
            })
            .await?;
        let generation = current.unwrap_or(rec.token_generation) + 1;
        let tokens = Self::lingju_tokens(&grant)?.into_stored(generation, Utc::now())?;
        state.write_tokens(&dev, &tokens)?;
        state.mirror(&dev, &tokens, true)?;
        Ok(RefreshOutcome::Refreshed { generation })
    }

    /// Refreshes one device now (whatever its expiry). Single flight across processes; see `lifecycle`.
    pub async fn refresh(&self, id: &str) -> Result<RefreshReport> {
        let rec = match self.resolve(id) {
            Ok(r) => r,
            Err(e) => {
                let res = Err(e);
                self.record("refresh", None, "", None, &res);
                return res;
            }
        };
        let dev = DeviceRef::from(&rec);
        let res = async {
            crate::delivery::ensure_not_handed_over(&self.store, &dev)?;
            let recovered = self
                .recovered
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&dev)
                .filter(|(at, _)| at.elapsed() < RECOVERED_COUNTS_AS_REFRESH_FOR)
                .map(|(_, outcome)| outcome);
            let outcome = if let Some(outcome) = recovered {
                tracing::info!(device = %dev, "refresh already completed by recovery of a pending one");
                outcome
            } else if rec.provider == "lingju" {
                self.refresh_lingju(&rec).await?
            } else {
                let client = self.yilianyun_client(&rec.profile).await?;
                self.refresh_yilianyun(&dev, &client).await.map_err(|e| self.reauth_error(&dev, e))?
            };
            let device = self.device(&dev.to_string())?;
            Ok(RefreshReport { device, outcome })
        }
        .await;
        self.record(
            "refresh",
            Some(&dev),
            &rec.provider,
            Some(&rec.profile),
            &res,
        );
        res
    }

    /// Every device whose access token has fewer than `refresh_days_before` days left, refreshed one by one.
    pub async fn refresh_due(&self) -> Result<Vec<(DeviceSummary, Result<RefreshReport>)>> {
        let now = Utc::now();
        let mut out = Vec::new();
        for d in self.list_devices()? {
            // A handed-over pair belongs to the receiver: never refreshed here.
            if d.ownership == crate::delivery::Ownership::HandedOver
                || !d.due_within(self.opts.refresh_days_before, now)
            {
                continue;
            }
            if d.needs_reauth {
                let id = d.id.clone();
                out.push((d, Err(Error::NeedsReauthorization { id })));
                continue;
            }
            let res = self.refresh(&d.key).await;
            out.push((d, res));
        }
        Ok(out)
    }

    /// Completes refreshes a crashed or cut-off run left pending (journal rows). Called by `open`.
    pub async fn recover_pending(
        &self,
    ) -> Result<Vec<(DeviceRef, Result<Option<crate::lifecycle::RefreshOutcome>>)>> {
        let mut out = Vec::new();
        for j in self.store.pending_refreshes()? {
            let dev = DeviceRef::new(&j.provider, &j.profile, &j.id);
            let res = async {
                let rec = self.store.get_device(&j.provider, &j.profile, &j.id)?;
                let Some(rec) = rec else {
                    // Forgotten meanwhile: nothing left to complete.
                    self.store.finish_refresh(&j.provider, &j.profile, &j.id)?;
                    return Ok(None);
                };
                let client = self.yilianyun_client(&rec.profile).await?;
                let client = &client;
                let state = self.state();
                // One attempt only: this runs while opening, and a later refresh retries with backoff anyway.
                let lifecycle = Lifecycle {
                    backoff: Backoff::once(),
                    ..self.lifecycle(&state)
                };
                lifecycle
                    .recover(&dev, |rt| async move {
                        let rt = RefreshToken::new(rt);
                        client
                            .refresh(&rt)
                            .await
                            .map_err(Error::from)
                            .and_then(Self::grant_tokens)
                    })
                    .await
            }
            .await;
            match &res {
                Ok(Some(outcome)) => {
                    self.recovered
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(dev.clone(), (std::time::Instant::now(), *outcome));
                    self.record("recover_refresh", Some(&dev), &j.provider, None, &res);
                }
                // A recovery attempt that reached no result is an attempt too.
                Err(_) => self.record("recover_refresh", Some(&dev), &j.provider, None, &res),
                Ok(None) => {}
            }
            out.push((dev, res));
        }
        Ok(out)
    }

    /// Server said the refresh token is dead (14/20): the device must be authorized again.
    fn reauth_error(&self, dev: &DeviceRef, e: Error) -> Error {
        if is_reauth_code(e.code()) {
            Error::NeedsReauthorization { id: dev.id.clone() }
        } else {
            e
        }
    }

    // ---------------------------------------------------------------- printer calls

    /// Runs a printer call with the stored access token; on error 18 refreshes once and retries once, then asks
    /// for re-authorization.
    async fn with_access_token<T, F, Fut>(
        &self,
        rec: &DeviceRecord,
        client: &YilianyunClient,
        call: F,
    ) -> Result<T>
    where
        F: Fn(AccessToken) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let dev = DeviceRef::from(rec);
        crate::delivery::ensure_not_handed_over(&self.store, &dev)?;
        if rec.needs_reauth {
            return Err(Error::NeedsReauthorization { id: rec.id.clone() });
        }
        let token = || -> Result<AccessToken> {
            Ok(AccessToken::new(
                self.read_tokens(&dev)?.access_token.as_str(),
            ))
        };
        let at = token()?;
        match self.retrying("printer call", || call(at.clone())).await {
            Err(e) if e.code() == Some(18) => {
                tracing::info!(device = %dev, "access token rejected (18): refreshing once");
                self.refresh_yilianyun(&dev, client)
                    .await
                    .map_err(|e| self.reauth_error(&dev, e))?;
                let at = token()?;
                match self.retrying("printer call", || call(at.clone())).await {
                    Err(e) if e.code() == Some(18) => {
                        self.state().mark_needs_reauth(&dev)?;
                        Err(Error::NeedsReauthorization { id: dev.id.clone() })
                    }
                    other => other,
                }
            }
            other => other,
        }
    }

    fn yilianyun_only(rec: &DeviceRecord) -> Result<MachineCode> {
        if rec.provider != "yilianyun" {
            return Err(Error::WrongProvider {
                profile: rec.profile.clone(),
                expected: "yilianyun",
            });
        }
        Ok(MachineCode::parse(&rec.id)?)
    }

    /// Live state + model of a printer (getprintstatus + getversion).
    pub async fn printer_status(&self, id: &str) -> Result<PrinterReport> {
        let rec = self.resolve(id);
        let dev = rec.as_ref().ok().map(DeviceRef::from);
        let res = self
            .within_budget(async {
                let rec = rec?;
                let mc = Self::yilianyun_only(&rec)?;
                let client = self.yilianyun_client(&rec.profile).await?;
                let (c, m) = (&client, &mc);
                let state = self
                    .with_access_token(&rec, &client, |at| async move {
                        c.printer_status(&at, m).await.map_err(Error::from)
                    })
                    .await?;
                let version = self
                    .with_access_token(&rec, &client, |at| async move {
                        c.printer_version(&at, m).await.map_err(Error::from)
                    })
                    .await?;
                let report = PrinterReport {
                    id: rec.id.clone(),
                    state: crate::printer::state_name(&state).to_owned(),
                    hardware: Some(version.hardware.clone()),
                    software: Some(version.software.clone()),
                };
                if let Some(mut row) =
                    self.store
                        .get_device(&rec.provider, &rec.profile, &rec.id)?
                {
                    row.model = report.software.clone();
                    row.last_status = Some(report.state.clone());
                    self.store.upsert_device(&row)?;
                }
                Ok(report)
            })
            .await;
        self.record("status", dev.as_ref(), "yilianyun", None, &res);
        res
    }

    /// Prints the minimal test ticket (protocol.md) with a fresh origin_id; retries reuse it (idempotent).
    pub async fn print_test(&self, id: &str) -> Result<PrintReport> {
        let rec = self.resolve(id);
        let dev = rec.as_ref().ok().map(DeviceRef::from);
        let res = self
            .within_budget(async {
                let rec = rec?;
                let mc = Self::yilianyun_only(&rec)?;
                let client = self.yilianyun_client(&rec.profile).await?;
                let origin_id = uuid::Uuid::new_v4().simple().to_string();
                let content = crate::printer::test_ticket(mc.as_str(), Utc::now());
                let (c, m, o, t) = (&client, &mc, origin_id.as_str(), content.as_str());
                let job = self
                    .with_access_token(&rec, &client, |at| async move {
                        c.print_text(&at, m, t, o).await.map_err(Error::from)
                    })
                    .await?;
                Ok(PrintReport {
                    id: rec.id.clone(),
                    job_id: crate::printer::job_id(&job),
                    origin_id,
                })
            })
            .await;
        self.record("print_test", dev.as_ref(), "yilianyun", None, &res);
        res
    }

    /// Forgets a device: with `remote`, first deleteprinter (the app loses access); then the keyring entry, then
    /// the DB row — a crash in between leaves a row without tokens, which `forget` cleans up again.
    pub async fn forget(&self, id: &str, remote: bool) -> Result<()> {
        let rec = self.resolve(id);
        let dev = rec.as_ref().ok().map(DeviceRef::from);
        let res = async {
            let rec = rec?;
            let dev = DeviceRef::from(&rec);
            if remote && rec.provider == "yilianyun" {
                let mc = MachineCode::parse(&rec.id)?;
                let client = self.yilianyun_client(&rec.profile).await?;
                let (c, m) = (&client, &mc);
                self.with_access_token(&rec, &client, |at| async move {
                    c.delete_printer(&at, m).await.map_err(Error::from)
                })
                .await?;
            }
            let _lock = DeviceLock::acquire(&self.opts.data_dir, &dev.provider, &dev.id).await?;
            // A delivered device's receiver is told (device.forgotten); an unacknowledged hand-over is refused.
            self.queue_forgotten(&dev, &rec.profile, rec.token_generation)?;
            self.keyring
                .delete(&tokens_account(&dev.provider, &dev.profile, &dev.id))?;
            self.store
                .delete_device(&dev.provider, &dev.profile, &dev.id)?;
            self.store
                .finish_refresh(&dev.provider, &dev.profile, &dev.id)?;
            tracing::info!(device = %dev, remote, "device forgotten");
            Ok(())
        }
        .await;
        self.record(
            if remote { "forget_remote" } else { "forget" },
            dev.as_ref(),
            "",
            None,
            &res,
        );
        res
    }
}

/// Store setting recording that every device's keyring entry uses the per-profile account name.
const TOKEN_ACCOUNTS_SETTING: &str = "token_accounts";

/// Moves token entries from the v1 account (`device:<provider>:<id>:tokens`) to the per-profile one. Copy, read
/// back, then delete the old entry: a crash at any point leaves at least one complete copy, and the next open
/// finishes the move (reads fall back to the old account meanwhile). A keyring that does not answer postpones
/// the move to the next open instead of failing it.
fn move_legacy_token_entries(store: &Store, keyring: &Keyring) {
    match store.get_setting(TOKEN_ACCOUNTS_SETTING) {
        Ok(Some(v)) if v == "per_profile" => return,
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(kind = Error::from(e).kind(), "cannot read store settings");
            return;
        }
    }
    let devices = match store.list_devices() {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(
                kind = Error::from(e).kind(),
                "cannot list devices to move token entries"
            );
            return;
        }
    };
    let move_one = |d: &DeviceRecord| -> std::result::Result<(), quickauth_vault::VaultError> {
        let new = tokens_account(&d.provider, &d.profile, &d.id);
        let old = crate::tokens::legacy_tokens_account(&d.provider, &d.id);
        if let Some(value) = keyring.get(&old)? {
            if keyring.get(&new)?.is_none() {
                keyring.set(&new, &value)?;
            }
            if keyring.get(&new)?.is_some() {
                keyring.delete(&old)?;
            }
        }
        Ok(())
    };
    for d in &devices {
        if let Err(e) = move_one(d) {
            tracing::warn!(
                kind = Error::from(e).kind(),
                "token entries not moved yet; trying again next start"
            );
            return;
        }
    }
    if let Err(e) = store.set_setting(TOKEN_ACCOUNTS_SETTING, "per_profile") {
        tracing::warn!(
            kind = Error::from(e).kind(),
            "cannot record moved token entries"
        );
    } else if !devices.is_empty() {
        tracing::info!(
            devices = devices.len(),
            "token entries use per-profile accounts"
        );
    }
}

/// A secret field left blank where one is required.
fn empty_secret(field: &'static str) -> Error {
    Error::InvalidInput {
        field,
        detail: "为空 / empty".into(),
    }
}
