//! The native dialogs the Rust side opens itself, so that a script in the page can neither skip a confirmation nor
//! choose a file: the reveal/copy confirmation, the CSV save dialog and the image open dialog.
//!
//! `Dialogs` is a trait so tests answer it without a window. The app uses `NativeDialogs` (tauri-plugin-dialog),
//! unless the explicit test switch `QUICKAUTH_TEST_DIALOGS=<answers.json>` is set: then each dialog is answered from
//! that file (`{"confirm": true|false, "save": "/path"|null, "open": "/path"|null}`, re-read at every dialog so a
//! test can change its answers; a missing file or key means "cancel") and the question is appended to
//! `<answers.json>.asked` (one line: `confirm`, `save` or `open`). Every method blocks: call it off the main thread.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tauri::{AppHandle, Runtime};

/// A yes/no question, in Chinese first and English second.
#[derive(Debug, Clone)]
pub struct Confirm {
    pub title: String,
    pub message: String,
    pub ok_label: String,
}

pub trait Dialogs: Send + Sync + 'static {
    /// True only when the user chose the OK button.
    fn confirm(&self, ask: &Confirm) -> bool;
    /// The file the user chose to save the history CSV to; `None` when cancelled.
    fn save_csv(&self, suggested_name: &str) -> Option<PathBuf>;
    /// The label image the user chose; `None` when cancelled.
    fn pick_image(&self) -> Option<PathBuf>;
}

/// The env switch that answers dialogs from a file (tests only; logged loudly).
pub const TEST_DIALOGS_ENV: &str = "QUICKAUTH_TEST_DIALOGS";

/// The dialogs the app uses: native ones, or scripted answers when the test switch is set.
pub fn from_env<R: Runtime>(app: AppHandle<R>) -> Arc<dyn Dialogs> {
    match std::env::var_os(TEST_DIALOGS_ENV).filter(|v| !v.is_empty()) {
        Some(file) => {
            tracing::warn!(
                "{TEST_DIALOGS_ENV} is set: native dialogs are answered from a file (test switch)"
            );
            Arc::new(ScriptedDialogs {
                answers: PathBuf::from(file),
            })
        }
        None => Arc::new(NativeDialogs { app }),
    }
}

/// tauri-plugin-dialog (GTK / Cocoa / Win32 dialogs on desktops, system pickers on phones).
pub struct NativeDialogs<R: Runtime> {
    app: AppHandle<R>,
}

impl<R: Runtime> Dialogs for NativeDialogs<R> {
    fn confirm(&self, ask: &Confirm) -> bool {
        use tauri_plugin_dialog::{DialogExt, MessageDialogButtons, MessageDialogKind};
        self.app
            .dialog()
            .message(ask.message.clone())
            .title(ask.title.clone())
            .kind(MessageDialogKind::Warning)
            .buttons(MessageDialogButtons::OkCancelCustom(
                ask.ok_label.clone(),
                "取消 Cancel".into(),
            ))
            .blocking_show()
    }

    fn save_csv(&self, suggested_name: &str) -> Option<PathBuf> {
        use tauri_plugin_dialog::DialogExt;
        let chosen = self
            .app
            .dialog()
            .file()
            .set_title("导出历史记录 Export history")
            .add_filter("CSV", &["csv"])
            .set_file_name(suggested_name)
            .blocking_save_file()?;
        local_path(chosen)
    }

    fn pick_image(&self) -> Option<PathBuf> {
        use tauri_plugin_dialog::DialogExt;
        // File filter patterns match case-sensitively (GTK): each extension in both cases.
        let image_extensions: Vec<String> = quickauth_qr::IMAGE_EXTENSIONS
            .iter()
            .flat_map(|e| [e.to_string(), e.to_ascii_uppercase()])
            .collect();
        let chosen = self
            .app
            .dialog()
            .file()
            .set_title("选择标签图片 Choose a label image")
            .add_filter(
                "图片 Images (PNG, JPEG, GIF, BMP, WebP, TIFF)",
                &image_extensions
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            )
            .blocking_pick_file()?;
        local_path(chosen)
    }
}

/// Desktop pickers give paths; an Android `content://` URI has no path we could open (not supported yet).
fn local_path(chosen: tauri_plugin_dialog::FilePath) -> Option<PathBuf> {
    match chosen.into_path() {
        Ok(p) => Some(p),
        Err(_) => {
            tracing::warn!("the file picker returned a location that is not a local path");
            None
        }
    }
}

/// Answers from a JSON file (the `QUICKAUTH_TEST_DIALOGS` switch).
pub struct ScriptedDialogs {
    answers: PathBuf,
}

impl ScriptedDialogs {
    fn answer(&self, question: &str) -> Option<serde_json::Value> {
        let mut asked = self.answers.clone().into_os_string();
        asked.push(".asked");
        let line = format!("{question}\n");
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(Path::new(&asked))
            .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
        let text = std::fs::read_to_string(&self.answers).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v.get(question).cloned()
    }

    fn path(&self, question: &str) -> Option<PathBuf> {
        self.answer(question)?
            .as_str()
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    }
}

impl Dialogs for ScriptedDialogs {
    fn confirm(&self, _ask: &Confirm) -> bool {
        self.answer("confirm")
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    }

    fn save_csv(&self, _suggested_name: &str) -> Option<PathBuf> {
        self.path("save")
    }

    fn pick_image(&self) -> Option<PathBuf> {
        self.path("open")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_answers_default_to_cancel_and_are_logged() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("answers.json");
        let d = ScriptedDialogs {
            answers: file.clone(),
        };
        let ask = Confirm {
            title: "t".into(),
            message: "m".into(),
            ok_label: "ok".into(),
        };
        assert!(!d.confirm(&ask), "no answers file: cancel");
        assert_eq!(d.save_csv("x.csv"), None);
        std::fs::write(&file, r#"{"confirm": true, "save": "/tmp/h.csv"}"#).unwrap();
        assert!(d.confirm(&ask));
        assert_eq!(d.save_csv("x.csv"), Some(PathBuf::from("/tmp/h.csv")));
        assert_eq!(d.pick_image(), None, "no open answer: cancel");
        std::fs::write(&file, r#"{"confirm": "yes"}"#).unwrap();
        assert!(!d.confirm(&ask), "only a JSON true confirms");
        let asked = std::fs::read_to_string(dir.path().join("answers.json.asked")).unwrap();
        assert_eq!(asked, "confirm\nsave\nconfirm\nsave\nopen\nconfirm\n");
    }
}
