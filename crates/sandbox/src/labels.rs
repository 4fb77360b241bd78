//! Sandbox printer labels: a machine code plus its qr_key or msign, rendered as the text a QR would carry.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::keys;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelKind {
    /// Temporary key (valid 300 s), as on the printer's self-test print.
    QrKey,
    /// Permanent device key, as on the sticker under the printer.
    Msign,
}

impl LabelKind {
    pub fn param_name(self) -> &'static str {
        match self {
            LabelKind::QrKey => "qr_key",
            LabelKind::Msign => "msign",
        }
    }
}

/// How the label text is written (the real format is undocumented, so the sandbox offers the plausible ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelFormat {
    /// `{"machine_code":"4004…","qr_key":"…"}`
    #[default]
    Json,
    /// `http://sandbox.quickauth.invalid/label?machine_code=…&qr_key=…`
    Url,
    /// `machine_code=…&qr_key=…`
    Kv,
    /// `4004…#KEY`
    Hash,
}

/// A minted label. `Debug` masks the key and the payload (which contains it).
#[derive(Clone, PartialEq, Eq)]
pub struct MintedLabel {
    pub machine_code: String,
    pub kind: LabelKind,
    key: String,
    /// Label text in the requested format.
    pub payload: String,
}

impl MintedLabel {
    pub(crate) fn new(
        machine_code: String,
        kind: LabelKind,
        now_unix: i64,
        format: LabelFormat,
    ) -> MintedLabel {
        let key = match kind {
            LabelKind::QrKey => keys::mint_qr_key(&machine_code, now_unix),
            LabelKind::Msign => keys::msign_for(&machine_code),
        };
        let payload = render_payload(&machine_code, kind, &key, format);
        MintedLabel {
            machine_code,
            kind,
            key,
            payload,
        }
    }

    /// The qr_key or msign itself. A sandbox key, but still treat it like a secret (don't log it).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The same label in another text format.
    pub fn payload_in(&self, format: LabelFormat) -> String {
        render_payload(&self.machine_code, self.kind, &self.key, format)
    }
}

impl fmt::Debug for MintedLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintedLabel")
            .field("machine_code", &self.machine_code)
            .field("kind", &self.kind)
            .field("key", &"***")
            .field("payload", &"***")
            .finish()
    }
}

/// Label text for a machine code and key.
pub fn render_payload(
    machine_code: &str,
    kind: LabelKind,
    key: &str,
    format: LabelFormat,
) -> String {
    let name = kind.param_name();
    match format {
        LabelFormat::Json => {
            serde_json::json!({ "machine_code": machine_code, name: key }).to_string()
        }
        LabelFormat::Url => {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("machine_code", machine_code)
                .append_pair(name, key)
                .finish();
            format!("http://sandbox.quickauth.invalid/label?{query}")
        }
        LabelFormat::Kv => format!("machine_code={machine_code}&{name}={key}"),
        LabelFormat::Hash => format!("{machine_code}#{key}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_masked_debug() {
        let l = MintedLabel::new("4004000001".into(), LabelKind::Msign, 0, LabelFormat::Json);
        let v: serde_json::Value = serde_json::from_str(&l.payload).unwrap();
        assert_eq!(v["machine_code"], "4004000001");
        assert_eq!(v["msign"], l.key());
        assert_eq!(
            l.payload_in(LabelFormat::Hash),
            format!("4004000001#{}", l.key())
        );
        assert_eq!(
            l.payload_in(LabelFormat::Kv),
            format!("machine_code=4004000001&msign={}", l.key())
        );
        assert!(l
            .payload_in(LabelFormat::Url)
            .ends_with(&format!("?machine_code=4004000001&msign={}", l.key())));
        assert!(!format!("{l:?}").contains(l.key()));
    }
}
