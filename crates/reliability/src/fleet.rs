//! A fleet of authorized sandbox printers in one data dir: one in-memory sandbox per printer (so a fault rule hits
//! exactly one device), one profile per printer (so its base URL can be pointed at a fault endpoint), and the
//! probes the checks need — what the keyring and the DB hold, and whether the server accepts a token.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use quickauth_core::{Backoff, NewYilianyunProfile, Options, QuickAuth};
use quickauth_protocol::secret::{AccessToken, ClientSecret, Msign, RefreshToken};
use quickauth_protocol::{
    ApiVersion, DeviceKey, Endpoint, MachineCode, Region, YilianyunClient, YilianyunConfig,
    YilianyunError,
};
use quickauth_sandbox::{
    Sandbox, SandboxHandle, SandboxOptions, BUILTIN_OPEN_APP_ID, BUILTIN_OPEN_APP_SECRET,
};
use quickauth_vault::{DeviceRecord, JournalEntry, Keyring, Store};
use url::Url;

pub const PROVIDER: &str = "yilianyun";

/// One authorized sandbox printer.
pub struct Device {
    pub index: usize,
    pub machine_code: String,
    pub profile: String,
    pub sandbox: SandboxHandle,
}

impl Device {
    /// `yilianyun:<machine code>`, the id the service resolves without ambiguity.
    pub fn id(&self) -> String {
        format!("{PROVIDER}:{}", self.machine_code)
    }

    pub fn machine_code(&self) -> MachineCode {
        MachineCode::parse(&self.machine_code).expect("sandbox machine codes are valid")
    }

    /// The printer's permanent key (sandbox labels are deterministic).
    pub fn msign(&self) -> DeviceKey {
        DeviceKey::Msign(Msign::new(quickauth_sandbox::msign_for(&self.machine_code)))
    }

    /// A protocol client talking straight to this device's sandbox (bypasses the service: no retries, no refresh).
    pub fn direct_client(&self) -> YilianyunClient {
        let endpoint = Endpoint::new(Region::Cn, ApiVersion::V2, Some(self.sandbox.base_url()))
            .expect("loopback base");
        let cfg = YilianyunConfig {
            client_id: BUILTIN_OPEN_APP_ID.to_owned(),
            client_secret: ClientSecret::new(BUILTIN_OPEN_APP_SECRET),
            endpoint,
        };
        YilianyunClient::new(cfg, quickauth_protocol::http_client())
    }

    /// Does the server accept this access token for a printer call? `Err` says why not.
    pub async fn server_accepts(&self, access_token: &str) -> Result<(), String> {
        let at = AccessToken::new(access_token);
        match self
            .direct_client()
            .printer_status(&at, &self.machine_code())
            .await
        {
            Ok(_) => Ok(()),
            Err(YilianyunError::Api { code, .. }) => Err(format!(
                "server rejected the stored access token: code {}",
                code.code()
            )),
            Err(e) => Err(format!("printer call failed: {e}")),
        }
    }

    /// Replays an old refresh token straight at the server: within 2 h it returns the pair issued for it.
    pub async fn replay(&self, old_refresh_token: &str) -> Result<(String, String), String> {
        let rt = RefreshToken::new(old_refresh_token);
        match self.direct_client().refresh(&rt).await {
            Ok(g) => Ok((
                g.access_token.expose().to_owned(),
                g.refresh_token.expose().to_owned(),
            )),
            Err(e) => Err(format!(
                "replay failed: {}",
                crate::faults::tag_of(&quickauth_core::Error::from(e))
            )),
        }
    }

    /// Requests the sandbox saw on `path_prefix` since the last clear, and how many of them met an injected fault.
    pub fn requests_on(&self, path_prefix: &str) -> (usize, usize) {
        let reqs: Vec<_> = self
            .sandbox
            .requests(1000)
            .into_iter()
            .filter(|r| r.path.starts_with(path_prefix))
            .collect();
        let faulted = reqs.iter().filter(|r| r.fault.is_some()).count();
        (reqs.len(), faulted)
    }

    /// Replies with Yilianyun error 41 (daily quota exceeded) the sandbox sent since the last clear.
    pub fn quota_refusals(&self) -> usize {
        self.sandbox
            .requests(1000)
            .iter()
            .filter(|r| r.reply_code == Some(41))
            .count()
    }
}

/// The stored state of a device: keyring entry + DB row + pending journal. Debug never shows the tokens.
#[derive(Clone, PartialEq)]
pub struct Snapshot {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub generation: Option<i64>,
    pub row: Option<DeviceRecord>,
    pub journal: Option<JournalEntry>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("has_tokens", &self.access_token.is_some())
            .field("generation", &self.generation)
            .field(
                "row_generation",
                &self.row.as_ref().map(|r| r.token_generation),
            )
            .field("needs_reauth", &self.row.as_ref().map(|r| r.needs_reauth))
            .field("journal", &self.journal.as_ref().map(|j| j.old_generation))
            .finish()
    }
}

impl Snapshot {
    /// Same tokens, same generation in keyring and DB row, row otherwise unchanged.
    pub fn same_tokens_as(&self, other: &Snapshot) -> bool {
        self.access_token == other.access_token
            && self.refresh_token == other.refresh_token
            && self.generation == other.generation
    }

    /// The keyring generation and the DB row agree, and nothing is half-written.
    pub fn consistent(&self) -> Result<(), String> {
        match (&self.generation, &self.row) {
            (Some(g), Some(row)) if row.token_generation == *g => {}
            (None, None) => {}
            (g, row) => {
                return Err(format!(
                    "keyring generation {g:?} and DB row generation {:?} disagree",
                    row.as_ref().map(|r| r.token_generation)
                ))
            }
        }
        if self.access_token.is_some() && self.refresh_token.is_none() {
            return Err("the keyring entry has an access token without a refresh token".into());
        }
        Ok(())
    }
}

/// Fleet-wide settings.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// Bound of every keyring call of the service in this process.
    pub keyring_timeout: Duration,
    pub backoff: Backoff,
}

impl Default for FleetOptions {
    fn default() -> Self {
        Self {
            keyring_timeout: Duration::from_secs(5),
            backoff: Backoff::default(),
        }
    }
}

/// The service under test and its data dir (devices are created by the caller).
pub struct Fleet {
    pub data_dir: PathBuf,
    pub qa: Arc<QuickAuth>,
    pub options: FleetOptions,
    store: Store,
    keyring: Keyring,
}

impl Fleet {
    pub async fn open(data_dir: &Path, options: FleetOptions) -> Result<Self, String> {
        let mut opts = Options::new(data_dir);
        opts.keyring_timeout = options.keyring_timeout;
        opts.backoff = options.backoff;
        // The matrix proves every retry happens under each fault; the counter's 10 s budget is tested in core.
        opts.interactive_budget = Duration::from_secs(600);
        let qa = QuickAuth::open(opts)
            .await
            .map_err(|e| format!("open service: {}", crate::faults::tag_of(&e)))?;
        let store = Store::open(data_dir).map_err(|e| format!("open store: {e}"))?;
        // The harness reads the keyring with a generous bound: it checks state, it is not under test.
        let keyring = Keyring::open(data_dir, Duration::from_secs(20))
            .map_err(|e| format!("open keyring: {e}"))?;
        Ok(Self {
            data_dir: data_dir.to_path_buf(),
            qa: Arc::new(qa),
            options,
            store,
            keyring,
        })
    }

    /// Starts a sandbox for a new printer and adds its profile, without authorizing it.
    pub async fn new_device(&self, index: usize) -> Result<Device, String> {
        let sandbox = Sandbox::start(SandboxOptions::default())
            .await
            .map_err(|e| format!("sandbox: {e}"))?;
        let machine_code = quickauth_sandbox::keys::random_machine_code();
        let profile = format!("rel-{index}-{machine_code}");
        let base = Url::parse(&format!("http://{}", sandbox.addr())).expect("socket address");
        self.qa
            .add_yilianyun_profile(NewYilianyunProfile {
                name: profile.clone(),
                client_id: BUILTIN_OPEN_APP_ID.to_owned(),
                region: Region::Cn,
                api_version: ApiVersion::V2,
                base_url: Some(base),
                client_secret: ClientSecret::new(BUILTIN_OPEN_APP_SECRET),
            })
            .map_err(|e| format!("add profile: {}", crate::faults::tag_of(&e)))?;
        Ok(Device {
            index,
            machine_code,
            profile,
            sandbox,
        })
    }

    /// A new printer, authorized with its msign (one grant).
    pub async fn authorized_device(&self, index: usize) -> Result<Device, String> {
        let dev = self.new_device(index).await?;
        self.qa
            .authorize_yilianyun(&dev.profile, dev.machine_code(), dev.msign())
            .await
            .map_err(|e| {
                format!(
                    "authorize {}: {}",
                    dev.machine_code,
                    crate::faults::tag_of(&e)
                )
            })?;
        Ok(dev)
    }

    /// Points the device's profile at another server (a fault endpoint); `None` restores its sandbox.
    pub fn point_at(&self, dev: &Device, base: Option<&Url>) -> Result<(), String> {
        let mut p = self
            .store
            .get_profile(&dev.profile)
            .map_err(|e| format!("read profile: {e}"))?
            .ok_or("profile vanished")?;
        let sandbox =
            Url::parse(&format!("http://{}", dev.sandbox.addr())).expect("socket address");
        let target = base
            .unwrap_or(&sandbox)
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        p.base_url = Some(target);
        self.store
            .upsert_profile(&p)
            .map_err(|e| format!("write profile: {e}"))
    }

    /// What the keyring and the DB hold for the device right now.
    pub fn snapshot(&self, dev: &Device) -> Result<Snapshot, String> {
        let account =
            quickauth_vault::accounts::device_tokens(PROVIDER, &dev.profile, &dev.machine_code);
        let entry = self
            .keyring
            .get(&account)
            .map_err(|e| format!("read keyring: {e}"))?;
        let (mut access_token, mut refresh_token, mut generation) = (None, None, None);
        if let Some(json) = entry {
            let v: serde_json::Value = serde_json::from_str(&json)
                .map_err(|_| "the keyring token entry is not readable JSON".to_owned())?;
            access_token = v
                .get("access_token")
                .and_then(|s| s.as_str())
                .map(str::to_owned);
            refresh_token = v
                .get("refresh_token")
                .and_then(|s| s.as_str())
                .map(str::to_owned);
            generation = v.get("generation").and_then(|g| g.as_i64());
            if access_token.is_none() || generation.is_none() {
                return Err("the keyring token entry lacks access_token or generation".into());
            }
        }
        let row = self
            .store
            .get_device(PROVIDER, &dev.profile, &dev.machine_code)
            .map_err(|e| format!("read row: {e}"))?;
        let journal = self
            .store
            .pending_refreshes()
            .map_err(|e| format!("read journal: {e}"))?
            .into_iter()
            .find(|j| {
                j.provider == PROVIDER && j.profile == dev.profile && j.id == dev.machine_code
            });
        Ok(Snapshot {
            access_token,
            refresh_token,
            generation,
            row,
            journal,
        })
    }

    /// The stored access token is accepted by the server.
    pub async fn holds_valid_pair(&self, dev: &Device) -> Result<Snapshot, String> {
        let snap = self.snapshot(dev)?;
        snap.consistent()?;
        let at = snap
            .access_token
            .clone()
            .ok_or("no tokens in the keyring")?;
        dev.server_accepts(&at).await?;
        Ok(snap)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}
