//! The one parser for the named settings a profile carries (region, API version, Lingju endpoint): the `FromStr`
//! impls of `Region`, `ApiVersion` and `LingjuEndpoint` all fail with this error, which the app, the core and the
//! CLI show as it is.

use crate::localized::{Action, Localized};

/// Which setting a value was meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Region,
    ApiVersion,
    LingjuEndpoint,
}

impl Setting {
    fn zh(self) -> (&'static str, &'static str) {
        match self {
            Setting::Region => ("区域", "cn、overseas 或 cn-alt"),
            Setting::ApiVersion => ("接口版本", "v1 或 v2"),
            Setting::LingjuEndpoint => ("灵聚接口", "httpapi 或 bltapi"),
        }
    }

    fn en(self) -> (&'static str, &'static str) {
        match self {
            Setting::Region => ("The region", "cn, overseas or cn-alt"),
            Setting::ApiVersion => ("The API version", "v1 or v2"),
            Setting::LingjuEndpoint => ("The Lingju endpoint", "httpapi or bltapi"),
        }
    }
}

/// A value that is not one of a setting's names. The value itself is not repeated (it may be anything a page sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{} must be {}", .setting.en().0, .setting.en().1)]
pub struct UnknownChoice {
    pub setting: Setting,
}

impl Localized for UnknownChoice {
    fn kind(&self) -> &'static str {
        "invalid_input"
    }

    fn message_zh(&self) -> String {
        let (name, allowed) = self.setting.zh();
        format!("{name}只能是 {allowed}。请从列表中选择后再试。")
    }

    fn message_en(&self) -> String {
        let (name, allowed) = self.setting.en();
        format!("{name} must be {allowed}. Pick one from the list and try again.")
    }

    fn action(&self) -> Action {
        Action::EditInput
    }
}
