//! Live preview: a frame source (a native camera, desktop only: see `desktop.rs`; or the explicit image-file player)
//! on its own OS thread, JPEG frames to the page over a `Channel`, and a decode worker that reads codes from
//! downscaled luma. The webview camera (`webcam.rs`) feeds the same decoder path without these threads.
//!
//! Threads: the source thread only grabs and forwards (it never decodes a QR); the decode worker takes at most one
//! frame at a time from a one-slot queue, so frames arriving while it is busy are dropped rather than queued.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::codecs::jpeg::JpegEncoder;
use image::{imageops, DynamicImage, GrayImage, ImageReader, RgbImage};

/// What a source thread hands on: a JPEG for the page and, when the decoder is free, work for it.
pub type Forward<'a> = &'a mut dyn FnMut(Vec<u8>, Option<LumaJob>) -> bool;

/// Preview geometry the page is designed for; sources are scaled to fit inside it.
pub const PREVIEW_WIDTH: u32 = 640;
pub const PREVIEW_HEIGHT: u32 = 480;
/// The decoder works on at most this width; larger frames are downscaled (QR modules stay several pixels wide).
pub const DECODE_MAX_WIDTH: u32 = 640;
const JPEG_QUALITY: u8 = 72;

/// Where frames come from, as the page's camera picker lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceId {
    /// A camera known to nokhwa, by its backend index string.
    Camera(String),
    /// The explicit image-file player (`--frames` / `QUICKAUTH_FRAMES`).
    Images,
}

impl SourceId {
    pub fn to_wire(&self) -> String {
        match self {
            SourceId::Camera(i) => format!("camera:{i}"),
            SourceId::Images => "images".to_owned(),
        }
    }

    pub fn from_wire(s: &str) -> Option<Self> {
        if s == "images" {
            Some(SourceId::Images)
        } else {
            s.strip_prefix("camera:")
                .map(|i| SourceId::Camera(i.to_owned()))
        }
    }
}

/// One entry of the camera picker.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceInfo {
    pub id: String,
    pub label: String,
    /// "camera" or "images", so the page can label the test source plainly.
    pub kind: &'static str,
}

/// The image-file player configuration, chosen explicitly on the command line or by env.
#[derive(Debug, Clone)]
pub struct ImageFramesConfig {
    pub path: PathBuf,
    pub fps: u32,
    /// How long each image stays on screen before the next one (a directory plays its files in name order, looping).
    pub hold: Duration,
}

/// A luma frame handed to the decode worker (already downscaled to `DECODE_MAX_WIDTH`).
pub struct LumaImage {
    pub seq: u64,
    /// Size of the preview frame the page shows, so corner points can be mapped back onto it.
    pub preview_width: u32,
    pub preview_height: u32,
    /// preview px per luma px (>= 1.0 when downscaled).
    pub scale: f32,
    pub luma: GrayImage,
}

/// What the decode worker hands back: raw decoded text plus corners in preview pixels.
pub struct FrameDecode {
    pub seq: u64,
    pub preview_width: u32,
    pub preview_height: u32,
    pub codes: Vec<(String, [(f32, f32); 4])>,
}

/// Frames produced by a source: JPEG bytes for the page and, when the decoder is free, luma for it.
pub trait FrameSink: Send + 'static {
    /// Returns false when the page is gone, which stops the source.
    fn preview(&mut self, jpeg: Vec<u8>) -> bool;
}

/// A running preview: dropping or `stop()` ends both threads.
pub struct PreviewSession {
    stop: Arc<AtomicBool>,
    source: Option<JoinHandle<()>>,
    worker: Option<JoinHandle<()>>,
    pub source_id: SourceId,
}

impl PreviewSession {
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // The source thread may be blocked in a camera read for one frame interval; joining is bounded by that.
        if let Some(h) = self.source.take() {
            let _ = h.join();
        }
        if let Some(h) = self.worker.take() {
            let _ = h.join();
        }
    }
}

impl Drop for PreviewSession {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Starts the source thread and the decode worker.
///
/// `decode` runs on the worker thread only. `on_decoded` receives each decode (also on the worker thread).
/// `on_error` is called once if the source fails to open or dies (e.g. camera unplugged).
pub fn start<S, D, R, E>(
    source_id: SourceId,
    images: Option<ImageFramesConfig>,
    mut sink: S,
    mut decode: D,
    mut on_decoded: R,
    on_error: E,
) -> PreviewSession
where
    S: FrameSink,
    D: FnMut(&GrayImage) -> Vec<(String, [(f32, f32); 4])> + Send + 'static,
    R: FnMut(FrameDecode) + Send + 'static,
    E: FnOnce(SourceError) + Send + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    // One slot: if the worker still holds the previous frame, the new one is dropped (never queued).
    let (tx, rx): (SyncSender<LumaJob>, Receiver<LumaJob>) = sync_channel(1);

    let worker_stop = stop.clone();
    let worker = std::thread::Builder::new()
        .name("qa-decode".into())
        .spawn(move || {
            while !worker_stop.load(Ordering::SeqCst) {
                let job = match rx.recv_timeout(Duration::from_millis(200)) {
                    Ok(job) => job,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                    Err(_) => break,
                };
                let Some(frame) = job.into_luma() else {
                    continue;
                };
                let codes = decode(&frame.luma)
                    .into_iter()
                    .map(|(text, corners)| {
                        (
                            text,
                            corners.map(|(x, y)| (x * frame.scale, y * frame.scale)),
                        )
                    })
                    .collect();
                on_decoded(FrameDecode {
                    seq: frame.seq,
                    preview_width: frame.preview_width,
                    preview_height: frame.preview_height,
                    codes,
                });
            }
        })
        .expect("spawn decode worker thread");

    let src_stop = stop.clone();
    let id = source_id.clone();
    let source = std::thread::Builder::new()
        .name("qa-camera".into())
        .spawn(move || {
            let mut forward = |jpeg: Vec<u8>, job: Option<LumaJob>| -> bool {
                if !sink.preview(jpeg) {
                    return false;
                }
                if let Some(job) = job {
                    match tx.try_send(job) {
                        Ok(()) | Err(TrySendError::Full(_)) => {}
                        Err(TrySendError::Disconnected(_)) => return false,
                    }
                }
                true
            };
            let result = match id {
                SourceId::Images => match images {
                    Some(cfg) => run_image_player(&cfg, &src_stop, &mut forward),
                    None => Err(SourceError::NoImageSource),
                },
                SourceId::Camera(index) => {
                    crate::platform::run_camera(&index, &src_stop, &mut forward)
                }
            };
            src_stop.store(true, Ordering::SeqCst);
            if let Err(e) = result {
                on_error(e);
            }
        })
        .expect("spawn camera thread");

    PreviewSession {
        stop,
        source: Some(source),
        worker: Some(worker),
        source_id,
    }
}

/// Why a preview source stopped.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("camera could not be opened: {0}")]
    CameraOpen(String),
    #[error("camera stopped delivering frames: {0}")]
    CameraLost(String),
    #[error("image frame source: {0}")]
    Images(String),
    #[error("no image frame source was configured")]
    NoImageSource,
}

/// Work for the decoder, converted lazily on the worker thread (JPEG decode is the expensive part).
pub enum LumaJob {
    Ready(LumaImage),
    Jpeg {
        seq: u64,
        jpeg: Vec<u8>,
    },
    Yuyv {
        seq: u64,
        width: u32,
        height: u32,
        data: Vec<u8>,
    },
}

impl LumaJob {
    fn into_luma(self) -> Option<LumaImage> {
        match self {
            LumaJob::Ready(l) => Some(l),
            LumaJob::Jpeg { seq, jpeg } => {
                let img =
                    image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).ok()?;
                Some(downscale_luma(seq, img.to_luma8()))
            }
            LumaJob::Yuyv {
                seq,
                width,
                height,
                data,
            } => {
                // YUYV: Y U Y V — every even byte is a luma sample.
                let luma: Vec<u8> = data.iter().step_by(2).copied().collect();
                let img = GrayImage::from_raw(width, height, luma)?;
                Some(downscale_luma(seq, img))
            }
        }
    }
}

pub fn downscale_luma(seq: u64, full: GrayImage) -> LumaImage {
    let (w, h) = full.dimensions();
    if w <= DECODE_MAX_WIDTH {
        return LumaImage {
            seq,
            preview_width: w,
            preview_height: h,
            scale: 1.0,
            luma: full,
        };
    }
    let nh = ((h as u64 * DECODE_MAX_WIDTH as u64) / w as u64).max(1) as u32;
    // Through DynamicImage so the resize is the image crate's own (optimised) code, not a copy instantiated here.
    let small = DynamicImage::ImageLuma8(full)
        .resize_exact(DECODE_MAX_WIDTH, nh, imageops::FilterType::Triangle)
        .into_luma8();
    LumaImage {
        seq,
        preview_width: w,
        preview_height: h,
        scale: w as f32 / DECODE_MAX_WIDTH as f32,
        luma: small,
    }
}

pub fn encode_jpeg(rgb: &RgbImage) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity((rgb.width() * rgb.height() / 6) as usize);
    JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .encode_image(rgb)
        .ok()?;
    Some(out)
}

/// Scales an image to fit the preview box (never upscales), keeping the aspect ratio.
fn fit_preview(img: DynamicImage) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    if w <= PREVIEW_WIDTH && h <= PREVIEW_HEIGHT {
        // Centre small images on a light canvas so the preview keeps one size.
        let mut canvas =
            RgbImage::from_pixel(PREVIEW_WIDTH, PREVIEW_HEIGHT, image::Rgb([236, 238, 240]));
        imageops::overlay(
            &mut canvas,
            &img.to_rgb8(),
            ((PREVIEW_WIDTH - w) / 2) as i64,
            ((PREVIEW_HEIGHT - h) / 2) as i64,
        );
        return canvas;
    }
    let fitted = img
        .resize(
            PREVIEW_WIDTH,
            PREVIEW_HEIGHT,
            imageops::FilterType::Triangle,
        )
        .to_rgb8();
    let mut canvas =
        RgbImage::from_pixel(PREVIEW_WIDTH, PREVIEW_HEIGHT, image::Rgb([236, 238, 240]));
    let (fw, fh) = fitted.dimensions();
    imageops::overlay(
        &mut canvas,
        &fitted,
        ((PREVIEW_WIDTH - fw) / 2) as i64,
        ((PREVIEW_HEIGHT - fh) / 2) as i64,
    );
    canvas
}

/// Lists the image files a `--frames` path names: the file itself, or a directory's image files (PNG, JPEG, GIF,
/// BMP, WebP, TIFF) in name order.
pub fn image_files(path: &Path) -> Result<Vec<PathBuf>, SourceError> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let rd = std::fs::read_dir(path)
        .map_err(|e| SourceError::Images(format!("{}: {e}", path.display())))?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().and_then(|x| x.to_str()).is_some_and(|x| {
                quickauth_qr::IMAGE_EXTENSIONS.contains(&x.to_ascii_lowercase().as_str())
            })
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Plays image files as a camera would: a steady `fps`, each image held for `hold`, looping.
/// The directory is re-read on every loop so a test (or a demo) can drop new labels in while it runs.
fn run_image_player(
    cfg: &ImageFramesConfig,
    stop: &AtomicBool,
    forward: Forward<'_>,
) -> Result<(), SourceError> {
    let interval = Duration::from_secs_f64(1.0 / cfg.fps.clamp(1, 60) as f64);
    let mut seq = 0u64;
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        let files = image_files(&cfg.path)?;
        if files.is_empty() {
            // Nothing to play yet: wait for files rather than failing (tests mint labels after launch).
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        for file in files {
            let img = match ImageReader::open(&file).and_then(|r| r.with_guessed_format()) {
                Ok(r) => match r.decode() {
                    Ok(img) => img,
                    Err(_) => continue, // a half-written file: skip it this round
                },
                Err(_) => continue,
            };
            let rgb = fit_preview(img);
            let Some(jpeg) = encode_jpeg(&rgb) else {
                continue;
            };
            let luma = DynamicImage::ImageRgb8(rgb).to_luma8();
            let until = Instant::now() + cfg.hold;
            while Instant::now() < until {
                if stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
                seq += 1;
                let job = LumaJob::Ready(downscale_luma(seq, luma.clone()));
                if !forward(jpeg.clone(), Some(job)) {
                    return Ok(());
                }
                next += interval;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now; // fell behind: do not try to catch up with a burst
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn source_ids_round_trip() {
        for id in [
            SourceId::Images,
            SourceId::Camera("0".into()),
            SourceId::Camera("/dev/video2".into()),
        ] {
            assert_eq!(SourceId::from_wire(&id.to_wire()), Some(id));
        }
        assert_eq!(SourceId::from_wire("nope"), None);
    }

    #[test]
    fn large_frames_are_downscaled_for_the_decoder_and_corners_scale_back() {
        let l = downscale_luma(1, GrayImage::new(1280, 960));
        assert_eq!(l.luma.dimensions(), (640, 480));
        assert_eq!((l.preview_width, l.preview_height), (1280, 960));
        assert!((l.scale - 2.0).abs() < 1e-6);
        let small = downscale_luma(2, GrayImage::new(640, 480));
        assert_eq!(small.scale, 1.0);
    }

    #[test]
    fn image_player_drops_frames_while_the_decoder_is_busy() {
        let dir = std::env::temp_dir().join(format!("qa-frames-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        RgbImage::from_pixel(320, 240, image::Rgb([200, 10, 10]))
            .save(dir.join("a.png"))
            .unwrap();
        struct Count(Arc<AtomicU64>);
        impl FrameSink for Count {
            fn preview(&mut self, jpeg: Vec<u8>) -> bool {
                assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "JPEG SOI marker");
                self.0.fetch_add(1, Ordering::SeqCst);
                true
            }
        }
        let previews = Arc::new(AtomicU64::new(0));
        let decodes = Arc::new(AtomicU64::new(0));
        let d2 = decodes.clone();
        let session = start(
            SourceId::Images,
            Some(ImageFramesConfig {
                path: dir.clone(),
                fps: 50,
                hold: Duration::from_secs(10),
            }),
            Count(previews.clone()),
            // A slow decoder: ~4 decodes in the time 50 frames arrive.
            move |_luma| {
                std::thread::sleep(Duration::from_millis(250));
                Vec::new()
            },
            move |_d| {
                d2.fetch_add(1, Ordering::SeqCst);
            },
            |_e| panic!("image source failed"),
        );
        std::thread::sleep(Duration::from_millis(1000));
        session.stop();
        let (p, d) = (
            previews.load(Ordering::SeqCst),
            decodes.load(Ordering::SeqCst),
        );
        // A source that waited for the decoder would deliver about one preview per decode; a busy machine may slow
        // the pace, so the check is relative.
        assert!(
            p >= 10 && p >= 3 * d,
            "preview kept its pace while the decoder was busy: {p} frames, {d} decodes"
        );
        assert!(
            d <= 6,
            "busy decoder dropped frames instead of queueing: {d} decodes"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
