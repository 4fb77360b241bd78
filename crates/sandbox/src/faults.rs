//! Injected transport faults (lost reply, slow, HTML 500, non-JSON, truncated, reset), switchable at runtime.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultMode {
    /// The request is fully processed and committed, then the connection closes without a response.
    DropReply,
    /// Wait `delay_ms` before processing and answering.
    Slow,
    /// A gateway-style `500` HTML page; the request is not processed.
    #[serde(rename = "html_500")]
    Html500,
    /// `200 text/plain` garbage; the request is not processed.
    NonJson,
    /// The request is processed and committed, then the reply is cut: Content-Length larger than
    /// the bytes sent, then the connection closes.
    Truncated,
    /// The connection is closed (with RST where the OS allows) before the request is processed.
    Reset,
}

impl FaultMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultMode::DropReply => "drop_reply",
            FaultMode::Slow => "slow",
            FaultMode::Html500 => "html_500",
            FaultMode::NonJson => "non_json",
            FaultMode::Truncated => "truncated",
            FaultMode::Reset => "reset",
        }
    }
}

/// One fault rule. `path` limits it to request paths starting with that prefix (the control API is never
/// affected); `count` makes it apply to that many requests and then clear itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    pub mode: FaultMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

impl FaultRule {
    pub fn new(mode: FaultMode) -> FaultRule {
        FaultRule {
            mode,
            path: None,
            count: None,
            delay_ms: None,
        }
    }
    pub fn on_path(mut self, prefix: impl Into<String>) -> FaultRule {
        self.path = Some(prefix.into());
        self
    }
    pub fn times(mut self, count: u32) -> FaultRule {
        self.count = Some(count);
        self
    }
    pub fn delay_ms(mut self, ms: u64) -> FaultRule {
        self.delay_ms = Some(ms);
        self
    }
}

/// Active rules; the newest matching rule wins.
#[derive(Default)]
pub(crate) struct FaultTable {
    rules: Mutex<Vec<FaultRule>>,
}

impl FaultTable {
    pub fn set(&self, rule: FaultRule) {
        let mut rules = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        if rule.count == Some(0) {
            return;
        }
        rules.push(rule);
    }

    pub fn clear(&self) {
        self.rules.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub fn list(&self) -> Vec<FaultRule> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The fault for this request, if any, consuming one use of a counted rule.
    pub fn take(&self, path: &str) -> Option<FaultRule> {
        let mut rules = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        let idx = rules.iter().rposition(|r| {
            r.path
                .as_deref()
                .is_none_or(|prefix| path.starts_with(prefix))
        })?;
        let hit = rules[idx].clone();
        if let Some(n) = rules[idx].count.as_mut() {
            *n -= 1;
            if *n == 0 {
                rules.remove(idx);
            }
        }
        Some(hit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_use_the_documented_names() {
        for mode in [
            FaultMode::DropReply,
            FaultMode::Slow,
            FaultMode::Html500,
            FaultMode::NonJson,
            FaultMode::Truncated,
            FaultMode::Reset,
        ] {
            assert_eq!(serde_json::to_value(mode).unwrap(), mode.as_str());
        }
    }

    #[test]
    fn counted_rule_clears_itself_and_prefix_scopes() {
        let t = FaultTable::default();
        t.set(
            FaultRule::new(FaultMode::DropReply)
                .on_path("/oauth/")
                .times(2),
        );
        assert!(t.take("/printer/getprintstatus").is_none());
        assert_eq!(t.take("/oauth/oauth").unwrap().mode, FaultMode::DropReply);
        assert_eq!(t.take("/oauth/oauth").unwrap().mode, FaultMode::DropReply);
        assert!(t.take("/oauth/oauth").is_none());
    }
}
