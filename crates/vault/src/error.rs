//! The vault's one error type: what went wrong with the OS keyring or the SQLite store, in Chinese and English.
//!
//! No variant carries a secret: keyring errors carry D-Bus/OS error names and the account *name* at most,
//! store errors carry SQLite's own message (column names, never bound values) and the file path.

use std::path::PathBuf;
use std::time::Duration;

use quickauth_protocol::{Action, Localized};

/// Everything the vault can fail with. `kind()` is the stable tag the UI switches on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// No Secret Service (Linux) / keychain service answered at all.
    #[error("no OS keyring (Secret Service) is available: {detail}")]
    KeyringUnavailable { detail: String },
    /// The keyring call did not finish within the timeout (locked keyring waiting for an unlock prompt that
    /// never comes, or a D-Bus peer that never answers). `stuck` is how many abandoned calls are still hanging.
    #[error("the OS keyring did not answer within {} s ({stuck} call(s) still stuck)", seconds(*timeout))]
    KeyringTimeout { timeout: Duration, stuck: usize },
    /// The keyring (collection) is locked and could not be unlocked without the user.
    #[error("the OS keyring is locked: {detail}")]
    KeyringLocked { detail: String },
    /// The keyring service runs but has no default collection (no "login" keyring was ever created).
    #[error("the OS keyring has no default collection: {detail}")]
    KeyringNoCollection { detail: String },
    /// The user dismissed the unlock prompt or the OS refused access.
    #[error("access to the OS keyring was denied: {detail}")]
    KeyringDenied { detail: String },
    /// Any other keyring failure (bad stored value, platform error we do not classify).
    #[error("OS keyring error: {detail}")]
    KeyringOther { detail: String },
    /// The caller passed an account name the vault refuses (empty, too long, control characters).
    #[error("invalid keyring account name: {reason}")]
    InvalidAccount { reason: &'static str },
    /// The data directory cannot be created or read.
    #[error("data directory {} cannot be used: {source}", path.display())]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The SQLite file cannot be opened, read or written (permissions, disk full, read-only media).
    #[error("database {} cannot be read or written: {detail}", path.display())]
    StoreIo { path: PathBuf, detail: String },
    /// The SQLite file is damaged or holds values this version cannot read.
    #[error("database {} is damaged: {detail}", path.display())]
    StoreCorrupt { path: PathBuf, detail: String },
    /// Another QuickAuth process held the database longer than the busy timeout.
    #[error("database {} is busy (another QuickAuth window or command is using it)", path.display())]
    StoreBusy { path: PathBuf },
    /// The database was written by a newer QuickAuth with a schema this one does not know.
    #[error("database {} has schema version {found}, this QuickAuth supports up to {supported}", path.display())]
    StoreTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    /// A device row names a profile that does not exist.
    #[error("profile {name:?} does not exist")]
    UnknownProfile { name: String },
    /// A profile still has devices, so it cannot be deleted.
    #[error("profile {name:?} still has {devices} device(s)")]
    ProfileInUse { name: String, devices: usize },
    /// A record the caller passed breaks a rule of the store (e.g. provider not "yilianyun"/"lingju").
    #[error("invalid record: {detail}")]
    InvalidRecord { detail: String },
    /// `<data_dir>/keyring-namespace` (which names the data dir's keyring namespace) cannot be read or written
    /// (`damaged: false`) or does not hold a valid id (`damaged: true`). Never replaced silently: a new id would
    /// orphan every secret of the data dir.
    #[error("keyring namespace file {} {}: {detail}", path.display(), if *damaged { "is damaged" } else { "cannot be read or written" })]
    NamespaceFile {
        path: PathBuf,
        detail: String,
        damaged: bool,
    },
    /// An unexpected SQLite failure (a bug in QuickAuth, not the user's doing).
    #[error("database error: {detail}")]
    StoreOther { detail: String },
}

/// "5" for whole seconds, "1.5" otherwise.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.1}")
    }
}

pub type Result<T, E = VaultError> = std::result::Result<T, E>;

impl Localized for VaultError {
    fn kind(&self) -> &'static str {
        match self {
            VaultError::KeyringUnavailable { .. } => "keyring_unavailable",
            VaultError::KeyringTimeout { .. } => "keyring_timeout",
            VaultError::KeyringLocked { .. } | VaultError::KeyringNoCollection { .. } => {
                "keyring_locked"
            }
            VaultError::KeyringDenied { .. } => "keyring_denied",
            VaultError::KeyringOther { .. } => "keyring_other",
            VaultError::InvalidAccount { .. } => "keyring_invalid_account",
            VaultError::DataDir { .. } => "store_io",
            VaultError::StoreIo { .. } => "store_io",
            VaultError::StoreCorrupt { .. } => "store_corrupt",
            VaultError::StoreBusy { .. } => "store_busy",
            VaultError::StoreTooNew { .. } => "store_too_new",
            VaultError::UnknownProfile { .. } => "unknown_profile",
            VaultError::ProfileInUse { .. } => "profile_in_use",
            VaultError::InvalidRecord { .. } => "invalid_record",
            VaultError::StoreOther { .. } => "store_other",
            VaultError::NamespaceFile { damaged: true, .. } => "store_corrupt",
            VaultError::NamespaceFile { damaged: false, .. } => "store_io",
        }
    }

    fn message_zh(&self) -> String {
        match self {
            VaultError::KeyringUnavailable { detail } => format!(
                "找不到系统密钥环（Secret Service）。QuickAuth 只把密钥保存在系统密钥环里，不会写入普通文件。\
                 请安装并启动 gnome-keyring 或 KeePassXC（启用 Secret Service），然后重新登录桌面再试。（{detail}）"
            ),
            VaultError::KeyringTimeout { timeout, stuck } => {
                let mut m = format!(
                    "系统密钥环在 {} 秒内没有响应。通常是密钥环被锁住、正在等待解锁窗口。\
                     请在桌面上解锁密钥环（登录密钥环）后重试。",
                    seconds(*timeout)
                );
                if *stuck > 0 {
                    m.push_str(&format!("仍有 {stuck} 个密钥环请求未返回；如一直如此，请重新登录桌面（或重启密钥环服务），再重启 QuickAuth。"));
                }
                m
            }
            VaultError::KeyringLocked { .. } => {
                "系统密钥环已锁定，QuickAuth 无法读写密钥。请在桌面上解锁密钥环（通常是“登录”密钥环）后重试。".into()
            }
            VaultError::KeyringNoCollection { .. } => {
                "系统密钥环里还没有默认密钥环（“登录”密钥环）。请打开“密码和密钥”（Seahorse）新建一个名为“登录”的密钥环并设为默认，\
                 或用密码重新登录桌面一次，然后重试。"
                    .into()
            }
            VaultError::KeyringDenied { .. } => {
                "访问系统密钥环被拒绝或解锁窗口被取消。请重试，并在弹出的窗口中允许 QuickAuth 访问密钥环。".into()
            }
            VaultError::KeyringOther { detail } => {
                format!("系统密钥环出错：{detail}。请稍后重试；如反复出现，请导出日志并反馈问题。")
            }
            VaultError::InvalidAccount { reason } => {
                format!("内部错误：密钥环条目名称无效（{reason}）。这是 QuickAuth 的缺陷，请反馈问题。")
            }
            VaultError::DataDir { path, source } => format!(
                "无法使用数据目录 {}（{source}）。请检查该目录是否存在、磁盘是否已满、当前用户是否有读写权限。",
                path.display()
            ),
            VaultError::StoreIo { path, detail } => format!(
                "无法读写数据库 {}（{detail}）。请检查磁盘空间和文件权限后重试。",
                path.display()
            ),
            VaultError::StoreCorrupt { path, detail } => format!(
                "数据库 {} 已损坏（{detail}）。请关闭 QuickAuth，把该文件改名备份后重新打开（设备需要重新授权），并反馈问题。",
                path.display()
            ),
            VaultError::StoreBusy { .. } => {
                "数据库正被另一个 QuickAuth 窗口或命令占用。请等它完成后重试。".into()
            }
            VaultError::StoreTooNew { found, supported, .. } => format!(
                "数据库是由更新版本的 QuickAuth 创建的（版本 {found}，本程序最高支持 {supported}）。请升级 QuickAuth。"
            ),
            VaultError::UnknownProfile { name } => {
                format!("配置“{name}”不存在。请先添加该配置，或选择一个已有的配置。")
            }
            VaultError::ProfileInUse { name, devices } => format!(
                "配置“{name}”下还有 {devices} 台设备，不能删除。请先解绑或移除这些设备。"
            ),
            VaultError::InvalidRecord { detail } => {
                format!("内部错误：要保存的数据不合法（{detail}）。这是 QuickAuth 的缺陷，请反馈问题。")
            }
            VaultError::StoreOther { detail } => {
                format!("数据库出错（{detail}）。请重试；如反复出现，请反馈问题。")
            }
            VaultError::NamespaceFile { path, detail, damaged: true } => format!(
                "文件 {} 已损坏（{detail}）。它记录本数据目录的密钥在系统密钥环中的位置，QuickAuth 不会自动替换它。\
                 请从备份恢复这个文件后重试；如果没有备份，可以删除它，但之后需要重新输入各配置的密钥并重新授权设备。",
                path.display()
            ),
            VaultError::NamespaceFile { path, detail, damaged: false } => format!(
                "无法读写文件 {}（{detail}）。请检查磁盘空间和数据目录的读写权限后重试。",
                path.display()
            ),
        }
    }

    fn message_en(&self) -> String {
        match self {
            VaultError::KeyringUnavailable { detail } => format!(
                "No OS keyring (Secret Service) was found. QuickAuth keeps secrets only in the OS keyring, never in \
                 plain files. Install and start gnome-keyring or KeePassXC (with Secret Service enabled), log in to \
                 the desktop again and retry. ({detail})"
            ),
            VaultError::KeyringTimeout { timeout, stuck } => {
                let mut m = format!(
                    "The OS keyring did not answer within {} s. Usually the keyring is locked and waiting for an \
                     unlock prompt. Unlock your keyring (the \"login\" keyring) on the desktop and retry.",
                    seconds(*timeout)
                );
                if *stuck > 0 {
                    m.push_str(&format!(
                        " {stuck} earlier keyring request(s) are still hanging; if this persists, log in to the \
                         desktop again (or restart the keyring service), then restart QuickAuth."
                    ));
                }
                m
            }
            VaultError::KeyringLocked { .. } => "The OS keyring is locked, so QuickAuth cannot read or write \
                secrets. Unlock your keyring (usually the \"login\" keyring) on the desktop and retry."
                .into(),
            VaultError::KeyringNoCollection { .. } => "The OS keyring has no default keyring yet (no \"login\" \
                keyring). Open \"Passwords and Keys\" (Seahorse), create a keyring named \"login\" and make it the default, \
                or log in to the desktop once with a password, then retry."
                .into(),
            VaultError::KeyringDenied { .. } => "Access to the OS keyring was denied or the unlock prompt was \
                dismissed. Retry and allow QuickAuth to use the keyring in the prompt."
                .into(),
            VaultError::KeyringOther { detail } => format!(
                "The OS keyring failed: {detail}. Retry later; if it keeps happening, export the logs and report it."
            ),
            VaultError::InvalidAccount { reason } => format!(
                "Internal error: invalid keyring entry name ({reason}). This is a QuickAuth bug; please report it."
            ),
            VaultError::DataDir { path, source } => format!(
                "The data directory {} cannot be used ({source}). Check that it exists, the disk is not full and \
                 you may read and write it.",
                path.display()
            ),
            VaultError::StoreIo { path, detail } => format!(
                "Cannot read or write the database {} ({detail}). Check free disk space and file permissions, \
                 then retry.",
                path.display()
            ),
            VaultError::StoreCorrupt { path, detail } => format!(
                "The database {} is damaged ({detail}). Close QuickAuth, rename the file as a backup and start \
                 again (devices will need to be authorized again), and please report it.",
                path.display()
            ),
            VaultError::StoreBusy { .. } => "The database is in use by another QuickAuth window or command. Wait \
                for it to finish and retry."
                .into(),
            VaultError::StoreTooNew { found, supported, .. } => format!(
                "The database was created by a newer QuickAuth (schema {found}, this one supports up to \
                 {supported}). Update QuickAuth."
            ),
            VaultError::UnknownProfile { name } => {
                format!("Profile \"{name}\" does not exist. Add it first or choose an existing profile.")
            }
            VaultError::ProfileInUse { name, devices } => format!(
                "Profile \"{name}\" still has {devices} device(s) and cannot be deleted. Unbind or remove them first."
            ),
            VaultError::InvalidRecord { detail } => format!(
                "Internal error: the data to save is invalid ({detail}). This is a QuickAuth bug; please report it."
            ),
            VaultError::StoreOther { detail } => {
                format!("Database error ({detail}). Retry; if it keeps happening, please report it.")
            }
            VaultError::NamespaceFile { path, detail, damaged: true } => format!(
                "The file {} is damaged ({detail}). It records where this data directory's secrets are in the OS \
                 keyring, so QuickAuth never replaces it by itself. Restore it from a backup and retry; without a \
                 backup you may delete it, but then every profile's secret must be entered again and the devices \
                 authorized again.",
                path.display()
            ),
            VaultError::NamespaceFile { path, detail, damaged: false } => format!(
                "Cannot read or write the file {} ({detail}). Check free disk space and that you may read and \
                 write the data directory, then retry.",
                path.display()
            ),
        }
    }

    fn action(&self) -> Action {
        match self {
            VaultError::KeyringUnavailable { .. } => Action::InstallSecretService,
            VaultError::KeyringTimeout { .. }
            | VaultError::KeyringLocked { .. }
            | VaultError::KeyringNoCollection { .. }
            | VaultError::KeyringDenied { .. } => Action::UnlockKeyring,
            VaultError::KeyringOther { .. } => Action::RetryLater,
            VaultError::InvalidAccount { .. } | VaultError::InvalidRecord { .. } => {
                Action::ReportBug
            }
            VaultError::DataDir { .. } | VaultError::StoreIo { .. } => Action::RetryLater,
            VaultError::StoreCorrupt { .. } | VaultError::StoreOther { .. } => Action::ReportBug,
            VaultError::StoreBusy { .. } => Action::RetryLater,
            VaultError::NamespaceFile { damaged: true, .. } => Action::ReportBug,
            VaultError::NamespaceFile { damaged: false, .. } => Action::RetryLater,
            VaultError::StoreTooNew { .. } => Action::None,
            VaultError::UnknownProfile { .. } => Action::EditInput,
            VaultError::ProfileInUse { .. } => Action::UnbindFirst,
        }
    }

    fn retryable(&self) -> bool {
        matches!(
            self,
            VaultError::KeyringTimeout { .. }
                | VaultError::StoreBusy { .. }
                | VaultError::KeyringOther { .. }
        )
    }
}
