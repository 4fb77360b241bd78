//! The app's own failures (camera, frames, scan bookkeeping, declined confirmations, files) and the one error type
//! every command returns: the core's serde-tagged `ErrorReport`.

pub use quickauth_core::ErrorReport;
use quickauth_core::{Action, Localized};

/// What can go wrong in the shell itself (the core's errors arrive as `quickauth_core::Error`).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("scan {0} is unknown or expired")]
    ScanNotFound(String),
    #[error("no QR code found in the image")]
    NoCodeInImage,
    #[error("the image could not be read: {0}")]
    BadImage(String),
    #[error("the camera could not be opened: {0}")]
    CameraOpen(String),
    #[error("the camera stopped: {0}")]
    CameraLost(String),
    #[error("unknown preview source {0:?}")]
    UnknownSource(String),
    #[error("the user declined")]
    Cancelled,
    #[error("the camera frame was refused: {0}")]
    BadFrame(String),
    #[error("the clipboard is not available: {0}")]
    Clipboard(String),
    #[error("{context}: {detail}")]
    Io {
        context: &'static str,
        detail: String,
    },
    #[error("the code flow {0} is unknown or finished")]
    FlowNotFound(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl Localized for AppError {
    fn kind(&self) -> &'static str {
        match self {
            AppError::ScanNotFound(_) => "scan_expired",
            AppError::NoCodeInImage => "no_code_in_image",
            AppError::BadImage(_) => "bad_image",
            AppError::CameraOpen(_) => "camera_unavailable",
            AppError::CameraLost(_) => "camera_lost",
            AppError::UnknownSource(_) => "unknown_source",
            AppError::Cancelled => "cancelled",
            AppError::BadFrame(_) => "bad_frame",
            AppError::Clipboard(_) => "clipboard",
            AppError::Io { .. } => "io",
            AppError::FlowNotFound(_) => "code_flow_expired",
            AppError::Internal(_) => "internal",
        }
    }

    fn message_zh(&self) -> String {
        match self {
            AppError::ScanNotFound(_) => {
                "这次扫描的结果已过期（超过 15 分钟或程序已重启）。请重新扫描标签。".into()
            }
            AppError::NoCodeInImage => {
                "图片里没有找到二维码。请换一张更清晰、正对标签的图片，或手动输入机器码和密钥。"
                    .into()
            }
            AppError::BadImage(d) => {
                format!("无法读取这张图片（{d}）。请使用 PNG、JPEG、GIF、BMP、WebP 或 TIFF 图片。")
            }
            AppError::CameraOpen(d) => {
                format!("摄像头无法打开（{d}）。请检查摄像头是否连接、是否被其他程序占用，或改用图片/手动输入。")
            }
            AppError::CameraLost(d) => {
                format!("摄像头中断了（{d}）。请重新插好摄像头后点“开始扫描”。")
            }
            AppError::UnknownSource(_) => {
                "所选的画面来源已不存在。请在列表中重新选择摄像头。".into()
            }
            AppError::Cancelled => {
                "已取消，什么都没有改变。需要时请再试一次，并在弹出的对话框中确认。".into()
            }
            AppError::BadFrame(d) => {
                format!("摄像头画面的格式不对（{d}）。请重新打开摄像头；如果一直出现，请反馈问题。")
            }
            AppError::Clipboard(d) => format!("无法使用剪贴板（{d}）。请改为手动选中文本复制。"),
            AppError::Io { context, detail } => {
                format!("文件操作失败：{context}（{detail}）。请检查路径和权限后重试。")
            }
            AppError::FlowNotFound(_) => {
                "这次浏览器授权已结束或已过期。请重新点击“开放应用授权”。".into()
            }
            AppError::Internal(d) => {
                format!("程序内部错误（{d}）。请重试；如果一直出现，请反馈问题。")
            }
        }
    }

    fn message_en(&self) -> String {
        match self {
            AppError::ScanNotFound(_) => {
                "This scan has expired (older than 15 minutes, or the app restarted). Scan the label again.".into()
            }
            AppError::NoCodeInImage => "No QR code found in the image. Use a sharper, straight-on picture of the label, or enter the machine code and key by hand.".into(),
            AppError::BadImage(d) => format!("The image could not be read ({d}). Use a PNG, JPEG, GIF, BMP, WebP or TIFF image."),
            AppError::CameraOpen(d) => format!("The camera could not be opened ({d}). Check that it is connected and not used by another program, or use an image / manual entry."),
            AppError::CameraLost(d) => format!("The camera stopped ({d}). Reconnect it and press Start."),
            AppError::UnknownSource(_) => "The selected source is gone. Pick a camera from the list again.".into(),
            AppError::Cancelled => "Cancelled; nothing was changed. Try again and confirm in the dialog if you meant to.".into(),
            AppError::BadFrame(d) => format!("The camera frame has the wrong format ({d}). Reopen the camera; if it keeps happening, report a bug."),
            AppError::Clipboard(d) => format!("The clipboard is not available ({d}). Select the text and copy it by hand."),
            AppError::Io { context, detail } => format!("File operation failed: {context} ({detail}). Check the path and permissions, then retry."),
            AppError::FlowNotFound(_) => "This browser authorization has finished or expired. Start it again with \"Authorize in browser\".".into(),
            AppError::Internal(d) => format!("Internal error ({d}). Try again; if it keeps happening, report a bug."),
        }
    }

    fn action(&self) -> Action {
        match self {
            AppError::ScanNotFound(_) | AppError::NoCodeInImage | AppError::BadImage(_) => {
                Action::Rescan
            }
            AppError::CameraOpen(_) | AppError::CameraLost(_) | AppError::UnknownSource(_) => {
                Action::Rescan
            }
            AppError::Cancelled | AppError::Clipboard(_) | AppError::FlowNotFound(_) => {
                Action::None
            }
            AppError::BadFrame(_) => Action::ReportBug,
            AppError::Io { .. } => Action::RetryLater,
            AppError::Internal(_) => Action::ReportBug,
        }
    }
}

/// Anything localized becomes the report the page receives.
pub fn report(e: &dyn Localized) -> ErrorReport {
    ErrorReport::from(e)
}

impl From<AppError> for ErrorReport {
    fn from(e: AppError) -> Self {
        report(&e)
    }
}

/// Shorthand for command results.
pub type CmdResult<T> = Result<T, ErrorReport>;

/// Converts the core's error (and anything else localized) at the command boundary.
pub trait IntoReport<T> {
    fn rep(self) -> CmdResult<T>;
}

impl<T> IntoReport<T> for Result<T, quickauth_core::Error> {
    fn rep(self) -> CmdResult<T> {
        self.map_err(|e| ErrorReport::from(&e))
    }
}

impl<T> IntoReport<T> for Result<T, quickauth_protocol::InputError> {
    fn rep(self) -> CmdResult<T> {
        self.map_err(|e| report(&e))
    }
}
