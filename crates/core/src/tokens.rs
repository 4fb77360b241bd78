//! The token state of one device as it lives in the keyring: one JSON entry, so every write is atomic.
//!
//! Account `device:<provider>:<profile>:<id>:tokens`. The DB row only mirrors `generation` and the expiry times.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::Error;

/// Keyring account holding a device's tokens (the vault owns the naming).
pub fn tokens_account(provider: &str, profile: &str, id: &str) -> String {
    quickauth_vault::accounts::device_tokens(provider, profile, id)
}

/// The account of schema v1 (before devices were per profile); `QuickAuth::open` moves such entries.
pub(crate) fn legacy_tokens_account(provider: &str, id: &str) -> String {
    quickauth_vault::accounts::legacy_device_tokens(provider, id)
}

/// Keyring account of a profile secret (`client_secret`, `lingju_appkey`, `lingju_authcode`).
pub fn profile_account(profile: &str, what: &str) -> String {
    format!("profile:{profile}:{what}")
}

/// Everything the keyring holds for a device. Plain `String`s only inside this module's (de)serialisation;
/// Debug masks them and the whole struct is zeroized on drop.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct StoredTokens {
    pub access_token: String,
    /// None for Lingju (it has no refresh token: a new authorize is the refresh).
    pub refresh_token: Option<String>,
    /// +1 on every successful grant/refresh stored; the DB mirrors it.
    #[zeroize(skip)]
    pub generation: i64,
    #[zeroize(skip)]
    pub issued_at: DateTime<Utc>,
    #[zeroize(skip)]
    pub expires_at: DateTime<Utc>,
    #[zeroize(skip)]
    pub refresh_expires_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredTokens")
            .field("access_token", &"***")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "***"))
            .field("generation", &self.generation)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .finish()
    }
}

impl StoredTokens {
    pub fn to_json(&self) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(serde_json::to_string(self).expect("plain struct serialises"))
    }

    pub fn from_json(json: &str) -> Result<Self, Error> {
        // serde_json's error text can quote input: never pass it on, it may hold a token.
        serde_json::from_str(json).map_err(|_| Error::CorruptTokenEntry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_debug_masks() {
        let t = StoredTokens {
            access_token: "at-secret-1".into(),
            refresh_token: Some("rt-secret-1".into()),
            generation: 3,
            issued_at: Utc::now(),
            expires_at: Utc::now(),
            refresh_expires_at: None,
        };
        let back = StoredTokens::from_json(&t.to_json()).unwrap();
        assert_eq!(back.access_token, "at-secret-1");
        assert_eq!(back.generation, 3);
        let dbg = format!("{t:?}");
        assert!(!dbg.contains("secret"), "{dbg}");
        assert!(matches!(
            StoredTokens::from_json("{\"access_token\":\"leak\""),
            Err(Error::CorruptTokenEntry)
        ));
    }
}
