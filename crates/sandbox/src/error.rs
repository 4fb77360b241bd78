//! The sandbox's one error type, with messages for an installer in Chinese and English.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot create the sandbox state directory {path}: {source}")]
    StateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("sandbox state database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("sandbox state is corrupt: {0}")]
    CorruptState(&'static str),
    #[error("sandbox worker failed: {0}")]
    Worker(String),
}

impl SandboxError {
    /// Stable machine tag, matching the `Localized::kind` convention of the other crates.
    pub fn kind(&self) -> &'static str {
        match self {
            SandboxError::Bind { .. } => "sandbox_bind",
            SandboxError::StateDir { .. } => "sandbox_state_dir",
            SandboxError::Database(_) | SandboxError::CorruptState(_) => "sandbox_state",
            SandboxError::Worker(_) => "sandbox_internal",
        }
    }

    pub fn message_zh(&self) -> String {
        match self {
            SandboxError::Bind { addr, .. } => {
                format!("沙盒服务无法监听 {addr}：端口可能已被占用。请换一个端口或关闭占用它的程序。")
            }
            SandboxError::StateDir { path, .. } => {
                format!("无法创建沙盒数据目录 {}。请检查该目录的权限或磁盘空间。", path.display())
            }
            SandboxError::Database(_) | SandboxError::CorruptState(_) => {
                "沙盒状态数据库出错。可以删除数据目录下的 sandbox 文件夹来重置沙盒（只影响沙盒打印机）。".into()
            }
            SandboxError::Worker(_) => "沙盒内部错误，请重试；若反复出现请报告问题。".into(),
        }
    }

    pub fn message_en(&self) -> String {
        match self {
            SandboxError::Bind { addr, .. } => {
                format!("The sandbox cannot listen on {addr}: the port may be in use. Pick another port or stop the program using it.")
            }
            SandboxError::StateDir { path, .. } => format!(
                "Cannot create the sandbox state directory {}. Check its permissions and free disk space.",
                path.display()
            ),
            SandboxError::Database(_) | SandboxError::CorruptState(_) => "The sandbox state database failed. Delete the `sandbox` folder in the data directory to reset the sandbox (it only affects sandbox printers).".into(),
            SandboxError::Worker(_) => "Internal sandbox error; try again and report a bug if it keeps happening.".into(),
        }
    }
}
