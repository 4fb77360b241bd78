//! The apps the sandbox knows. All values are PUBLIC, sandbox-only constants: they open nothing but this
//! loopback server, and are published so the built-in "Sandbox" profile, tests and demos can use them.

/// Open-type (开放型) Yilianyun app: the built-in Sandbox profile. Fast authorize and code flow work.
pub const BUILTIN_OPEN_APP_ID: &str = "1099000001";
/// Secret of [`BUILTIN_OPEN_APP_ID`]. Public sandbox constant, not a real credential.
pub const BUILTIN_OPEN_APP_SECRET: &str = "5b0c9f1e2d7a48c6a3e1f0d9b8c7a6e5";
/// Own-type (自有型) Yilianyun app: fast authorize answers error 31 for it.
pub const BUILTIN_OWN_APP_ID: &str = "1099000002";
/// Secret of [`BUILTIN_OWN_APP_ID`]. Public sandbox constant.
pub const BUILTIN_OWN_APP_SECRET: &str = "c4e2a7b9d1f0364e8a5b2c7d9e0f1a3b";
/// Lingju hardware app: `/httpapi/authorize.do` needs [`BUILTIN_LINGJU_AUTHCODE`]; `/bltapi` needs a
/// registered userid.
pub const BUILTIN_LINGJU_APPKEY: &str = "6f1d2c3b4a5e4f7a8b9c0d1e2f3a4b5c";
/// The authcode issued to [`BUILTIN_LINGJU_APPKEY`]. Public sandbox constant.
pub const BUILTIN_LINGJU_AUTHCODE: &str = "8c7e6d5f4a3b2c1d";
/// Lingju software app: `/httpapi/authorize.do` without authcode.
pub const BUILTIN_LINGJU_SOFTWARE_APPKEY: &str = "3e8f0a9b7c6d5e4f3a2b1c0d9e8f7a6b";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AppType {
    Open,
    Own,
}

#[derive(Clone, Copy)]
pub(crate) struct YilianyunApp {
    pub client_id: &'static str,
    pub secret: &'static str,
    pub app_type: AppType,
}

const YILIANYUN_APPS: [YilianyunApp; 2] = [
    YilianyunApp {
        client_id: BUILTIN_OPEN_APP_ID,
        secret: BUILTIN_OPEN_APP_SECRET,
        app_type: AppType::Open,
    },
    YilianyunApp {
        client_id: BUILTIN_OWN_APP_ID,
        secret: BUILTIN_OWN_APP_SECRET,
        app_type: AppType::Own,
    },
];

pub(crate) fn yilianyun_app(client_id: &str) -> Option<YilianyunApp> {
    YILIANYUN_APPS
        .iter()
        .copied()
        .find(|a| a.client_id == client_id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LingjuApp {
    /// Hardware platform: authcode required on httpapi.
    Hardware,
    /// Software platform: no authcode.
    Software,
}

impl LingjuApp {
    /// Label stored in the state instead of the appkey itself.
    pub fn label(self) -> &'static str {
        match self {
            LingjuApp::Hardware => "hardware",
            LingjuApp::Software => "software",
        }
    }
}

pub(crate) fn lingju_app(appkey: &str) -> Option<LingjuApp> {
    let eq = |k: &str| crate::keys::constant_time_eq(appkey.as_bytes(), k.as_bytes());
    if eq(BUILTIN_LINGJU_APPKEY) {
        Some(LingjuApp::Hardware)
    } else if eq(BUILTIN_LINGJU_SOFTWARE_APPKEY) {
        Some(LingjuApp::Software)
    } else {
        None
    }
}
