//! TEMPORARY mirror of `quickauth_protocol::{Localized, Action}` until the protocol crate exports them;
//! then this file becomes `pub use quickauth_protocol::{Action, Localized};`.

pub trait Localized {
    fn kind(&self) -> &'static str;
    fn code(&self) -> Option<i64> {
        None
    }
    fn message_zh(&self) -> String;
    fn message_en(&self) -> String;
    fn action(&self) -> Action;
    fn retryable(&self) -> bool {
        false
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    None,
    Rescan,
    CheckClientId,
    CheckSecret,
    CheckClock,
    CheckLabel,
    Reauthorize,
    RefreshToken,
    WaitUntilTomorrow,
    RetryLater,
    UnbindFirst,
    UseOpenApp,
    CheckNetwork,
    UnlockKeyring,
    InstallSecretService,
    ReportBug,
    EditInput,
}
