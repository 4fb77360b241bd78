//! Scanned labels waiting to be authorized, and how a live camera's decodes become scans. The page only ever sees a
//! `scan_id`, the machine code and the key's kind; the key itself (qr_key / msign) stays here until
//! `authorize_scan` hands it to the core.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use quickauth_protocol::secret::{Msign, QrKey};
use quickauth_protocol::{DeviceKey, MachineCode, UserId};
use quickauth_qr::{LabelKey, LabelPayload};
use serde::Serialize;

use crate::camera::FrameDecode;
use crate::error::{report, AppError, ErrorReport};

/// The printer's temporary key is valid this long after it is shown; the card counts down from the scan.
pub const QR_KEY_LIFETIME: Duration = Duration::from_secs(300);
/// Scans older than this are dropped (the page then asks for a new scan).
const SCAN_TTL: Duration = Duration::from_secs(15 * 60);
const MAX_SCANS: usize = 256;

/// What the page learns about a scanned label.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ScanView {
    Ok {
        scan_id: String,
        /// "yilianyun" | "lingju"
        provider: &'static str,
        machine_code: Option<String>,
        userid: Option<String>,
        /// "qr_key" | "msign" | null (Lingju)
        key_kind: Option<&'static str>,
        scanned_at: DateTime<Utc>,
        /// Only for qr_key: when the 300 s window (counted from the scan) closes.
        key_expires_at: Option<DateTime<Utc>>,
    },
    /// The code was read but is not a label we understand; `raw` is shown on purpose so the user can type it in.
    Unparsed {
        raw: String,
        machine_code: Option<String>,
        error: ErrorReport,
    },
}

struct PendingScan {
    payload: LabelPayload,
    at: Instant,
}

/// The pending scans, by id.
#[derive(Default)]
pub struct ScanBook {
    inner: Mutex<HashMap<String, PendingScan>>,
    counter: std::sync::atomic::AtomicU64,
}

/// A printer or device ready to authorize, from a scan or from manual entry (the one target type).
pub enum ScanTarget {
    Yilianyun(MachineCode, DeviceKey),
    Lingju(UserId),
}

impl ScanBook {
    /// Parses decoded QR text; a label is kept and described, anything else is described as unparsed.
    pub fn admit(&self, text: &str) -> ScanView {
        match quickauth_qr::parse_payload(text) {
            Ok(payload) => self.keep(payload),
            Err(e) => {
                let machine_code = e.machine_code.clone();
                let raw = e.raw.clone();
                let err = quickauth_core::Error::from(e);
                ScanView::Unparsed {
                    raw,
                    machine_code,
                    error: ErrorReport::from(&err),
                }
            }
        }
    }

    fn keep(&self, payload: LabelPayload) -> ScanView {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let scan_id = format!("s{}-{n}", std::process::id());
        let now = Utc::now();
        let view = match &payload {
            LabelPayload::Yilianyun { machine_code, key } => {
                let kind = match key {
                    LabelKey::QrKey(_) => "qr_key",
                    LabelKey::Msign(_) => "msign",
                };
                ScanView::Ok {
                    scan_id: scan_id.clone(),
                    provider: "yilianyun",
                    machine_code: Some(machine_code.clone()),
                    userid: None,
                    key_kind: Some(kind),
                    scanned_at: now,
                    key_expires_at: (kind == "qr_key")
                        .then(|| now + chrono::Duration::from_std(QR_KEY_LIFETIME).expect("small")),
                }
            }
            LabelPayload::Lingju { userid } => ScanView::Ok {
                scan_id: scan_id.clone(),
                provider: "lingju",
                machine_code: None,
                userid: Some(userid.clone()),
                key_kind: None,
                scanned_at: now,
                key_expires_at: None,
            },
        };
        let mut map = self.inner.lock().expect("scan book lock");
        map.retain(|_, s| s.at.elapsed() < SCAN_TTL);
        if map.len() >= MAX_SCANS {
            if let Some(oldest) = map.iter().min_by_key(|(_, s)| s.at).map(|(k, _)| k.clone()) {
                map.remove(&oldest);
            }
        }
        map.insert(
            scan_id,
            PendingScan {
                payload,
                at: Instant::now(),
            },
        );
        view
    }

    /// The scan's target. The scan stays in the book, so a failed authorization can be retried with the same
    /// `scan_id`; `forget` removes it once it has been authorized.
    pub fn target(&self, scan_id: &str) -> Result<ScanTarget, ErrorReport> {
        let map = self.inner.lock().expect("scan book lock");
        let scan = map
            .get(scan_id)
            .filter(|s| s.at.elapsed() < SCAN_TTL)
            .ok_or_else(|| report(&AppError::ScanNotFound(scan_id.chars().take(40).collect())))?;
        match &scan.payload {
            LabelPayload::Yilianyun { machine_code, key } => {
                let mc = MachineCode::parse(machine_code).map_err(|e| report(&e))?;
                let key = match key {
                    LabelKey::QrKey(k) => DeviceKey::QrKey(QrKey::new(k.as_str())),
                    LabelKey::Msign(m) => DeviceKey::Msign(Msign::new(m.as_str())),
                };
                Ok(ScanTarget::Yilianyun(mc, key))
            }
            LabelPayload::Lingju { userid } => Ok(ScanTarget::Lingju(
                UserId::parse(userid).map_err(|e| report(&e))?,
            )),
        }
    }

    pub fn forget(&self, scan_id: &str) {
        self.inner.lock().expect("scan book lock").remove(scan_id);
    }
}

/// One decoded code's outline, in preview pixels.
#[derive(Debug, Clone, Serialize)]
pub struct CodeOutline {
    corners: [[f32; 2]; 4],
}

/// What the detection channel carries, for every live source (native camera, image player, webview camera).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PreviewEvent {
    Frame {
        seq: u64,
        width: u32,
        height: u32,
        codes: Vec<CodeOutline>,
        scan: Option<ScanView>,
    },
    Stopped {
        reason: Option<ErrorReport>,
    },
}

/// Same code text seen again within this window is the same scan (it stays in view for many frames).
const SAME_SCAN_WINDOW: Duration = Duration::from_millis(2500);

/// Turns a live source's decodes into detection events: a label in view becomes one scan, not one per frame.
#[derive(Default)]
pub struct Detections {
    last: Option<(String, Instant)>,
}

impl Detections {
    pub fn on_decode(&mut self, book: &ScanBook, fd: FrameDecode) -> PreviewEvent {
        let mut scan = None;
        if let Some((text, _)) = fd.codes.first() {
            let fresh = match &self.last {
                Some((t, at)) => t != text || at.elapsed() > SAME_SCAN_WINDOW,
                None => true,
            };
            if fresh {
                scan = Some(book.admit(text));
            }
            self.last = Some((text.clone(), Instant::now()));
        }
        let codes = fd
            .codes
            .iter()
            .map(|(_, c)| CodeOutline {
                corners: c.map(|(x, y)| [x, y]),
            })
            .collect();
        PreviewEvent::Frame {
            seq: fd.seq,
            width: fd.preview_width,
            height: fd.preview_height,
            codes,
            scan,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_is_kept_and_described_without_its_key() {
        let book = ScanBook::default();
        let view = book.admit(r#"{"machine_code":"4004123456","qr_key":"0123456789abcdef"}"#);
        let json = serde_json::to_string(&view).unwrap();
        assert!(
            !json.contains("0123456789abcdef"),
            "key leaked to the page: {json}"
        );
        let ScanView::Ok {
            scan_id,
            key_kind,
            key_expires_at,
            machine_code,
            ..
        } = view
        else {
            panic!("not ok: {json}")
        };
        assert_eq!(key_kind, Some("qr_key"));
        assert_eq!(machine_code.as_deref(), Some("4004123456"));
        assert!(key_expires_at.is_some());
        match book.target(&scan_id).unwrap() {
            ScanTarget::Yilianyun(mc, DeviceKey::QrKey(k)) => {
                assert_eq!(mc.as_str(), "4004123456");
                assert_eq!(k.expose(), "0123456789abcdef");
            }
            _ => panic!("wrong target"),
        }
        book.forget(&scan_id);
        assert!(book.target(&scan_id).is_err());
    }

    #[test]
    fn a_label_in_view_for_many_frames_is_one_scan() {
        let book = ScanBook::default();
        let mut det = Detections::default();
        let text = r#"{"machine_code":"4004123456","qr_key":"0123456789abcdef"}"#.to_string();
        let frame = |seq| FrameDecode {
            seq,
            preview_width: 640,
            preview_height: 480,
            codes: vec![(
                text.clone(),
                [(1.0, 2.0), (3.0, 2.0), (3.0, 4.0), (1.0, 4.0)],
            )],
        };
        let scans: Vec<bool> = (1..=5)
            .map(|seq| match det.on_decode(&book, frame(seq)) {
                PreviewEvent::Frame { scan, codes, .. } => {
                    assert_eq!(codes.len(), 1);
                    scan.is_some()
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(scans, [true, false, false, false, false]);
    }

    #[test]
    fn unknown_text_is_reported_with_its_raw_text() {
        let book = ScanBook::default();
        match book.admit("hello world") {
            ScanView::Unparsed { raw, error, .. } => {
                assert_eq!(raw, "hello world");
                assert!(!error.message_zh.is_empty() && !error.message_en.is_empty());
            }
            other => panic!("parsed nonsense: {other:?}"),
        }
    }
}
