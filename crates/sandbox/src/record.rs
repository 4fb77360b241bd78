//! The in-memory log of recent requests (for protocol tests), with secret-bearing parameters masked.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

const KEEP: usize = 1000;

/// Parameters whose values are secrets (or open a secret) and are therefore recorded as `***`.
const MASKED: &[&str] = &[
    "access_token",
    "refresh_token",
    "qr_key",
    "msign",
    "code",
    "client_secret",
    "secret",
    "appkey",
    "authcode",
    "accessToken",
];

/// One request as the sandbox saw it. `reply_code` is the Yilianyun `error` / Lingju `status` when the
/// request was answered with JSON, `fault` the injected fault, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub at: String,
    pub method: String,
    pub path: String,
    pub content_type: Option<String>,
    pub params: BTreeMap<String, String>,
    pub reply_code: Option<i64>,
    pub fault: Option<String>,
}

pub(crate) fn mask(params: &HashMap<String, String>) -> BTreeMap<String, String> {
    params
        .iter()
        .map(|(k, v)| {
            let shown = if MASKED.contains(&k.as_str()) {
                "***".to_string()
            } else {
                v.clone()
            };
            (k.clone(), shown)
        })
        .collect()
}

#[derive(Default)]
pub(crate) struct RequestLog {
    entries: Mutex<VecDeque<RecordedRequest>>,
}

impl RequestLog {
    pub fn push(&self, entry: RecordedRequest) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() == KEEP {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// The last `limit` requests, oldest first.
    pub fn last(&self, limit: usize) -> Vec<RecordedRequest> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .iter()
            .skip(entries.len().saturating_sub(limit))
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}
