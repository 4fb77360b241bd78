//! The webview camera: the page runs `getUserMedia`, shows the `<video>` itself and pushes frames to Rust as raw
//! 8-bit luma (a `tauri::ipc::Request` body of `width × height` bytes, sizes in the `x-frame-width` /
//! `x-frame-height` headers, optional `x-frame-seq`). Each frame goes through the same downscale, decoder and
//! `Detections` (scan admission, same-label de-duplication) as the native preview, and the result goes to the
//! page on the session's detection channel in the same `PreviewEvent` shape, so the countdown / auto-authorize /
//! batch flow in the page does not care which camera it is. At most one frame is decoded at a time: a frame pushed
//! while another is being decoded is skipped, not queued.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use image::GrayImage;
use serde::Serialize;
use tauri::ipc::Channel;

use crate::camera::{downscale_luma, FrameDecode};
use crate::error::AppError;
use crate::scans::{Detections, PreviewEvent, ScanBook};

/// Frames larger than this on either side are refused (a phone's 4K stream must be scaled in the page).
pub const MAX_FRAME_SIDE: u32 = 4096;
/// And at most this many pixels (about 4K UHD).
pub const MAX_FRAME_PIXELS: u64 = 3840 * 2160;
/// Smaller than this cannot hold a readable label.
pub const MIN_FRAME_SIDE: u32 = 32;

/// A validated frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameMeta {
    pub width: u32,
    pub height: u32,
    pub seq: Option<u64>,
}

/// Checks the headers against the body: a clear error, never a panic, for anything a page might send.
pub fn frame_meta(
    headers: &tauri::http::HeaderMap,
    body_len: usize,
) -> Result<FrameMeta, AppError> {
    let num = |name: &'static str| -> Result<Option<u64>, AppError> {
        match headers.get(name) {
            None => Ok(None),
            Some(v) => v
                .to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(Some)
                .ok_or(AppError::BadFrame(format!("header {name} is not a number"))),
        }
    };
    let width = num("x-frame-width")?
        .ok_or(AppError::BadFrame("header x-frame-width is missing".into()))?;
    let height = num("x-frame-height")?.ok_or(AppError::BadFrame(
        "header x-frame-height is missing".into(),
    ))?;
    let seq = num("x-frame-seq")?;
    let side = MIN_FRAME_SIDE as u64..=MAX_FRAME_SIDE as u64;
    if !side.contains(&width) || !side.contains(&height) || width * height > MAX_FRAME_PIXELS {
        return Err(AppError::BadFrame(format!(
            "{width}x{height} is outside {MIN_FRAME_SIDE}..={MAX_FRAME_SIDE} per side / {MAX_FRAME_PIXELS} pixels"
        )));
    }
    if width * height != body_len as u64 {
        return Err(AppError::BadFrame(format!(
            "{body_len} bytes for {width}x{height}: expected {} (one luma byte per pixel)",
            width * height
        )));
    }
    Ok(FrameMeta {
        width: width as u32,
        height: height as u32,
        seq,
    })
}

/// What `push_camera_frame` answers: whether this frame went through the decoder (false: skipped because another
/// frame was still being decoded), how many codes it held, and the time spent in Rust on it.
#[derive(Debug, Clone, Serialize)]
pub struct FrameResult {
    pub decoded: bool,
    pub codes: usize,
    pub ms: f64,
}

/// One webview-camera session (`webview_camera_start` until `preview_stop` or another session starts).
pub struct WebcamSession {
    busy: AtomicBool,
    decoder: Mutex<quickauth_qr::Decoder>,
    detections: Mutex<Detections>,
    channel: Channel<PreviewEvent>,
    next_seq: std::sync::atomic::AtomicU64,
}

impl WebcamSession {
    pub fn new(channel: Channel<PreviewEvent>) -> Self {
        Self {
            busy: AtomicBool::new(false),
            decoder: Mutex::new(quickauth_qr::Decoder::new(
                quickauth_qr::DecoderOptions::default(),
            )),
            detections: Mutex::new(Detections::default()),
            channel,
            next_seq: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// Claims the decoder for one frame; `None` when a frame is already in flight.
    pub fn try_claim(self: &Arc<Self>) -> Option<InFlight> {
        self.busy
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| InFlight(self.clone()))
    }
}

/// The one frame in flight; dropping it frees the decoder for the next frame.
pub struct InFlight(Arc<WebcamSession>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.busy.store(false, Ordering::Release);
    }
}

impl InFlight {
    /// Decodes the frame (blocking: call it off the async workers) and sends the detection event.
    pub fn process(self, meta: FrameMeta, luma: Vec<u8>, book: &ScanBook) -> FrameResult {
        let session = &self.0;
        let started = Instant::now();
        let seq = meta
            .seq
            .unwrap_or_else(|| session.next_seq.fetch_add(1, Ordering::Relaxed));
        let Some(full) = GrayImage::from_raw(meta.width, meta.height, luma) else {
            // frame_meta checked the size; this is unreachable short of a bug, and still not a panic.
            return FrameResult {
                decoded: false,
                codes: 0,
                ms: 0.0,
            };
        };
        let frame = downscale_luma(seq, full);
        let found = {
            let mut decoder = session.decoder.lock().expect("decoder lock");
            decoder.decode(quickauth_qr::LumaFrame {
                width: frame.luma.width(),
                height: frame.luma.height(),
                data: frame.luma.as_raw(),
            })
        };
        let codes: Vec<_> = found
            .into_iter()
            .map(|d| {
                (
                    d.text,
                    d.corners.map(|(x, y)| (x * frame.scale, y * frame.scale)),
                )
            })
            .collect();
        let n = codes.len();
        let event = session
            .detections
            .lock()
            .expect("detections lock")
            .on_decode(
                book,
                FrameDecode {
                    seq,
                    preview_width: frame.preview_width,
                    preview_height: frame.preview_height,
                    codes,
                },
            );
        let _ = session.channel.send(event);
        FrameResult {
            decoded: true,
            codes: n,
            ms: started.elapsed().as_secs_f64() * 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tauri::http::{HeaderMap, HeaderValue};

    fn headers(w: &str, h: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert("x-frame-width", HeaderValue::from_str(w).unwrap());
        m.insert("x-frame-height", HeaderValue::from_str(h).unwrap());
        m
    }

    #[test]
    fn frame_sizes_are_checked_against_the_body() {
        assert_eq!(
            frame_meta(&headers("1280", "720"), 1280 * 720).unwrap(),
            FrameMeta {
                width: 1280,
                height: 720,
                seq: None
            }
        );
        let mut with_seq = headers("640", "480");
        with_seq.insert("x-frame-seq", HeaderValue::from_static("42"));
        assert_eq!(frame_meta(&with_seq, 640 * 480).unwrap().seq, Some(42));

        let bad = |h: &HeaderMap, len: usize| match frame_meta(h, len) {
            Err(AppError::BadFrame(why)) => why,
            other => panic!("accepted: {other:?}"),
        };
        assert!(bad(&headers("1280", "720"), 1280 * 720 - 1).contains("expected 921600"));
        assert!(
            bad(&headers("1280", "720"), 1280 * 720 * 4).contains("one luma byte per pixel"),
            "RGBA is not luma"
        );
        assert!(bad(&headers("0", "720"), 0).contains("outside"));
        assert!(bad(&headers("8192", "8192"), 8192 * 8192).contains("outside"));
        assert!(
            bad(&headers("4096", "4096"), 4096 * 4096).contains("outside"),
            "over the pixel cap"
        );
        assert!(bad(&headers("-1", "720"), 0).contains("not a number"));
        assert!(bad(&headers("1e3", "720"), 0).contains("not a number"));
        // u64 overflow in w*h must not panic: both sides are capped before multiplying.
        assert!(
            bad(&headers("18446744073709551615", "18446744073709551615"), 0).contains("outside")
        );
        let mut missing = HeaderMap::new();
        missing.insert("x-frame-width", HeaderValue::from_static("640"));
        assert!(bad(&missing, 640 * 480).contains("x-frame-height is missing"));
    }

    #[test]
    fn one_frame_in_flight_at_most() {
        let session = Arc::new(WebcamSession::new(Channel::new(|_| Ok(()))));
        let first = session.try_claim().expect("free");
        assert!(
            session.try_claim().is_none(),
            "a second frame while one is decoding is skipped"
        );
        drop(first);
        assert!(
            session.try_claim().is_some(),
            "free again once the first is done"
        );
    }

    #[test]
    fn a_pushed_label_frame_is_decoded_and_admitted_as_a_scan() {
        let payload = r#"{"machine_code":"4004123456","qr_key":"0123456789abcdef"}"#;
        let luma = quickauth_qr::label::render_text(payload, &Default::default()).expect("label");
        let (w, h) = luma.dimensions();
        let events = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let session = Arc::new(WebcamSession::new(Channel::new(move |body| {
            if let tauri::ipc::InvokeResponseBody::Json(s) = body {
                sink.lock().unwrap().push(s);
            }
            Ok(())
        })));
        let book = ScanBook::default();
        let meta = frame_meta(&headers(&w.to_string(), &h.to_string()), (w * h) as usize).unwrap();
        let r = session
            .try_claim()
            .unwrap()
            .process(meta, luma.into_raw(), &book);
        assert!(
            session.try_claim().is_some(),
            "the claim ends with the frame"
        );
        assert!(r.decoded && r.codes == 1, "{r:?}");
        let events = events.lock().unwrap();
        assert_eq!(events.len(), 1);
        assert!(
            events[0].contains(r#""type":"frame""#) && events[0].contains(r#""status":"ok""#),
            "{}",
            events[0]
        );
        assert!(
            !events[0].contains("0123456789abcdef"),
            "the key never reaches the page"
        );
    }
}
