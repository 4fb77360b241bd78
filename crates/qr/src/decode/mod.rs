//! QR decoding for camera frames and image files, all our own: a preprocessing pipeline (pyramid, contrast
//! map, local binarisation, inverted/sharpened retries), a finder-pattern locator that samples each grid in
//! module space, and a symbol reader that checks format, version and Reed-Solomon before any text.
//!
//! ```no_run
//! use quickauth_qr::{Decoder, DecoderOptions, LumaFrame};
//! let luma = vec![255u8; 640 * 480];
//! let mut decoder = Decoder::new(DecoderOptions::default());
//! for code in decoder.decode(LumaFrame { width: 640, height: 480, data: &luma }) {
//!     println!("{} at {:?}", code.text, code.corners);
//! }
//! ```

mod clock;
mod convert;
mod filters;
mod finder;
pub(crate) mod grid;
mod pipeline;
pub(crate) mod symbol;

use std::path::{Path, PathBuf};

/// The name docs/architecture.md uses for [`decode_jpeg_to_luma`].
pub use convert::decode_jpeg_to_luma as decode_jpeg_luma;
pub use convert::{decode_jpeg_to_luma, image_to_luma, rgb_to_luma, rgba_to_luma, yuyv_to_luma};

/// One 8-bit luma frame (row-major, `width * height` bytes, no padding). Borrowed: the camera keeps its buffer.
#[derive(Debug, Clone, Copy)]
pub struct LumaFrame<'a> {
    pub width: u32,
    pub height: u32,
    pub data: &'a [u8],
}

/// A decoded code: its text (ECC-verified, valid UTF-8) and its outer corners in the original frame's
/// pixel coordinates — top-left, top-right, bottom-right, bottom-left in the code's own orientation.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub text: String,
    pub corners: [(f32, f32); 4],
}

/// How hard the decoder tries. The default suits a live camera: stop at the first verified code.
#[derive(Debug, Clone)]
pub struct DecoderOptions {
    /// Return as soon as one code is verified (camera loop). `false` runs every pass and returns all codes.
    pub stop_at_first: bool,
    /// Also look for light-on-dark (inverted) codes.
    pub try_inverted: bool,
    /// Run the expensive late passes (sharpening, smoothing, small windows, zoomed crops). `false` keeps only the
    /// cheap passes, for very slow machines.
    pub try_harder: bool,
    /// Live camera mode: a time budget per frame. `None` (the default) runs the full search on every call
    /// (still images, files, paste). See [`LiveBudget`] and [`Decoder::live`].
    pub live: Option<LiveBudget>,
    /// After the other steps of each region, scan the region at the image's own resolution, where that is
    /// well above the scale of its crops. The crops are sized for a label-like region, and a page of text
    /// (a document, a magazine, a receipt) is one region to them: a small code on it comes out too small
    /// to read. On in `still_image()` (up to 6 MP a region) and in `live()` (up to 0.4 MP, one step of the
    /// ring that consecutive frames share); off in the default full search, where every unreadable frame
    /// would pay ~2-3 ms more per megapixel of such regions.
    pub native_scan: bool,
}

impl Default for DecoderOptions {
    fn default() -> Self {
        DecoderOptions {
            stop_at_first: true,
            try_inverted: true,
            try_harder: true,
            live: None,
            native_scan: false,
        }
    }
}

impl DecoderOptions {
    /// Options for a still image (a file, a paste, a dropped image): every code in the image, full search,
    /// with `native_scan`. Used by [`decode_image_file`].
    pub fn still_image() -> Self {
        DecoderOptions {
            stop_at_first: false,
            native_scan: true,
            ..DecoderOptions::default()
        }
    }

    /// Options for a live camera loop: stop at the first verified code, keep each frame within
    /// [`LiveBudget::default`], and the native step (bounded) in the ring.
    pub fn live() -> Self {
        DecoderOptions {
            live: Some(LiveBudget::default()),
            native_scan: true,
            ..DecoderOptions::default()
        }
    }
}

/// Per-frame budget for live mode. Every frame runs the cheapest passes on the most label-like region;
/// the other passes (sharpened, smoothed, zoomed, whole-frame scans) form a ring that
/// consecutive frames work through, each continuing where the previous one stopped, as long as the
/// frame's time allows (passes are skipped before they start, using their measured cost, so a frame
/// overruns the budget by at most the pass that was already running when it ran out). Over a few
/// frames of the same scene the full search is covered; a readable frame usually reads in the first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveBudget {
    /// Decode time per frame, in milliseconds of the calling thread's CPU time (wall time where the OS keeps
    /// no precise per-thread clock).
    pub max_ms: f32,
}

impl Default for LiveBudget {
    /// 5.5 ms: with the cheap passes' overrun, an unreadable 720p frame stays within about 8 ms on one core
    /// of the build machine (see crates/qr/BENCH.md).
    fn default() -> Self {
        LiveBudget { max_ms: 5.5 }
    }
}

/// Reusable frame decoder. Keeps its scratch buffers between frames; deterministic for a given input.
pub struct Decoder {
    options: DecoderOptions,
    work: pipeline::Workspace,
}

impl Decoder {
    pub fn new(options: DecoderOptions) -> Self {
        Decoder {
            options,
            work: pipeline::Workspace::default(),
        }
    }

    /// A decoder for a live camera loop ([`DecoderOptions::live`]): feed it consecutive frames of the same
    /// camera; it spreads the expensive passes over them.
    pub fn live() -> Self {
        Decoder::new(DecoderOptions::live())
    }

    /// Finds and decodes QR codes in `frame`. Never panics; a frame whose `data` is shorter than
    /// `width * height` (or too small to hold a code) yields no results.
    pub fn decode(&mut self, frame: LumaFrame<'_>) -> Vec<Decoded> {
        self.work.decode(frame, &self.options)
    }

    /// Index of the pass that produced the last result (for the bench and tuning; `None` if nothing decoded).
    pub fn last_pass(&self) -> Option<usize> {
        self.work.last_pass
    }

    /// How many passes the last `decode` ran up to and including the one that read its first code (for the
    /// bench and tuning; `None` if nothing decoded). Passes skipped without work (a step that does not apply
    /// to the region) count too.
    pub fn last_units(&self) -> Option<usize> {
        self.work.last_units
    }
}

/// Why an image file could not be decoded (a file that decodes but holds no QR code is `Ok(vec![])`).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("cannot read image file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not a readable image{}: {reason}", path.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default())]
    BadImage {
        path: Option<PathBuf>,
        reason: String,
    },
}

impl DecodeError {
    /// Stable machine tag.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Io { .. } => "image_io",
            DecodeError::BadImage { .. } => "bad_image",
        }
    }

    pub fn message_zh(&self) -> String {
        match self {
            DecodeError::Io { path, .. } => {
                format!(
                    "无法读取图片文件 {}。请确认文件存在且有读取权限，然后重新选择。",
                    path.display()
                )
            }
            DecodeError::BadImage { .. } => {
                "无法识别这个图片格式。请选择 PNG、JPEG、GIF、BMP、WebP 或 TIFF 格式的标签照片，或改用摄像头扫描。"
                    .to_string()
            }
        }
    }

    pub fn message_en(&self) -> String {
        match self {
            DecodeError::Io { path, .. } => format!(
                "Cannot read the image file {}. Check that it exists and is readable, then choose it again.",
                path.display()
            ),
            DecodeError::BadImage { .. } => {
                "This image format could not be read. Choose a PNG, JPEG, GIF, BMP, WebP or TIFF photo of the label, or scan it with the camera."
                    .to_string()
            }
        }
    }
}

/// File name extensions (lower case) of the formats [`decode_image_file`] reads. It tells the formats apart by
/// content; these are for file pickers and directory listings.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"];

/// Loads a PNG, JPEG, GIF, BMP, WebP or TIFF file (by its content, not its name), converts it to luma
/// ([`image_to_luma`]) and decodes every code in it (`stop_at_first = false`).
pub fn decode_image_file(path: &Path) -> Result<Vec<Decoded>, DecodeError> {
    let bytes = std::fs::read(path).map_err(|source| DecodeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let (width, height, luma) = image_to_luma(&bytes).map_err(|e| match e {
        DecodeError::BadImage { reason, .. } => DecodeError::BadImage {
            path: Some(path.to_path_buf()),
            reason,
        },
        other => other,
    })?;
    let mut decoder = Decoder::new(DecoderOptions::still_image());
    Ok(decoder.decode(LumaFrame {
        width,
        height,
        data: &luma,
    }))
}
