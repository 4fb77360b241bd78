//! Newtypes for every secret QuickAuth handles, so a secret cannot be printed, logged or serialized by accident.
//!
//! Debug and Display print `***`; there is no `Serialize`; the value is zeroized on drop. `expose()` is the one
//! way out, so `grep expose` lists every place a secret leaves its type.

use serde::{Deserialize, Deserializer};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

macro_rules! secret_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret itself. Every call site is a place where the secret leaves the type: keep them few.
            pub fn expose(&self) -> &str {
                &self.0
            }

            /// True when the value is empty or only whitespace (an empty secret is always an input mistake).
            pub fn is_blank(&self) -> bool {
                self.0.trim().is_empty()
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "(***)"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("***")
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self)
            }
        }
    };
}

secret_newtype!(
    /// The Yilianyun app secret. It never travels: only `sign` derived from it does.
    ClientSecret
);
secret_newtype!(
    /// A Yilianyun access token (30 days).
    AccessToken
);
secret_newtype!(
    /// A Yilianyun refresh token (35 days).
    RefreshToken
);
secret_newtype!(
    /// The temporary key from a printer's QR code (valid 300 s).
    QrKey
);
secret_newtype!(
    /// The permanent device key printed on a Yilianyun printer's label.
    Msign
);
secret_newtype!(
    /// The Lingju developer appkey.
    LingjuAppKey
);
secret_newtype!(
    /// A Lingju hardware authorization code.
    LingjuAuthCode
);
secret_newtype!(
    /// A Lingju access token.
    LingjuAccessToken
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_mask_the_value() {
        let s = ClientSecret::new("s3cr3t-value");
        assert_eq!(format!("{s:?}"), "ClientSecret(***)");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(s.expose(), "s3cr3t-value");
        let t = AccessToken::from("tok-123");
        assert!(!format!("{t:?} {t} {t:#?}").contains("tok-123"));
    }

    #[test]
    fn deserializes_from_a_json_string() {
        let t: RefreshToken = serde_json::from_str("\"rt-9\"").unwrap();
        assert_eq!(t.expose(), "rt-9");
        assert!(serde_json::from_str::<RefreshToken>("5").is_err());
    }

    #[test]
    fn zeroize_clears_the_value() {
        let mut k = QrKey::new("abcdef");
        k.zeroize();
        assert_eq!(k.expose(), "");
        assert!(k.is_blank());
    }
}
