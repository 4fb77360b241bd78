//! The attempt history, and its CSV export to a file the user picks in a native save dialog opened from here.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use quickauth_core::QuickAuth;
use serde::Serialize;
use tauri::State;

use super::{blocking, off_thread};
use crate::dialogs::Dialogs;
use crate::error::{report, AppError, CmdResult};
use crate::state::AppState;

#[derive(Serialize)]
pub struct HistoryView {
    at: DateTime<Utc>,
    operation: String,
    provider: String,
    device_id: Option<String>,
    profile: Option<String>,
    ok: bool,
    error_kind: Option<String>,
    error_code: Option<i64>,
}

fn history_views(core: &QuickAuth, limit: usize) -> quickauth_core::Result<Vec<HistoryView>> {
    Ok(core
        .history(limit)?
        .into_iter()
        .map(|h| HistoryView {
            at: h.at,
            ok: h.outcome == "ok",
            operation: h.action,
            provider: h.provider,
            device_id: h.device_id,
            profile: h.profile,
            error_kind: h.error_kind,
            error_code: h.error_code,
        })
        .collect())
}

#[tauri::command]
pub async fn history(
    state: State<'_, AppState>,
    limit: Option<usize>,
) -> CmdResult<Vec<HistoryView>> {
    let core = state.core().await?;
    let limit = limit.unwrap_or(500).min(10_000);
    blocking(core, move |c| history_views(c, limit)).await
}

/// One CSV field, quoted when needed (RFC 4180); a leading =,+,-,@ is defused so spreadsheets don't run it.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub fn history_csv(rows: &[HistoryView]) -> String {
    let mut out =
        String::from("time,operation,provider,device,profile,outcome,error_kind,error_code\r\n");
    for r in rows {
        let fields = [
            r.at.to_rfc3339(),
            r.operation.clone(),
            r.provider.clone(),
            r.device_id.clone().unwrap_or_default(),
            r.profile.clone().unwrap_or_default(),
            if r.ok { "ok".into() } else { "error".into() },
            r.error_kind.clone().unwrap_or_default(),
            r.error_code.map(|c| c.to_string()).unwrap_or_default(),
        ];
        out.push_str(
            &fields
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    out
}

/// `path` is the file the user chose (for display), or `null` when they cancelled the save dialog.
#[derive(Debug, Serialize)]
pub struct Exported {
    pub path: Option<String>,
    pub rows: usize,
}

/// Asks the user where to save (native dialog), then writes the whole history there.
pub async fn export_csv(core: Arc<QuickAuth>, dialogs: Arc<dyn Dialogs>) -> CmdResult<Exported> {
    let name = format!("quickauth-history-{}.csv", Utc::now().format("%Y%m%d"));
    let Some(path): Option<PathBuf> = off_thread(move || dialogs.save_csv(&name)).await? else {
        return Ok(Exported {
            path: None,
            rows: 0,
        });
    };
    let rows = blocking(core, |c| history_views(c, 1_000_000)).await?;
    let csv = history_csv(&rows);
    let target = path.clone();
    off_thread(move || std::fs::write(&target, csv.as_bytes()))
        .await?
        .map_err(|e| {
            report(&AppError::Io {
                context: "write CSV",
                detail: e.to_string(),
            })
        })?;
    Ok(Exported {
        path: Some(path.display().to_string()),
        rows: rows.len(),
    })
}

#[tauri::command]
pub async fn export_history_csv(state: State<'_, AppState>) -> CmdResult<Exported> {
    let core = state.core().await?;
    export_csv(core, state.dialogs.clone()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
    }
}
