//! Seeded, reproducible generator of camera-like 1280x720 frames of printer labels, for the decoder's tests and
//! bench. Modelled on the dev corpus: a small label somewhere in a big frame, rotated and tilted, then blur,
//! motion blur, dim/gamma, lighting gradient, glare, sensor noise, colour tint, inverted labels and JPEG
//! re-compression. No network, no files read.
//!
//! Same seed → identical frames (bytes), on the same platform: all randomness comes from ChaCha8 seeded per frame,
//! so frame `i` does not depend on how many frames were generated before it.
//!
//! Tags use the dev corpus's vocabulary, in its order: `blur<σ>`, `motion<len>`, `dim<f>`, `gradient`, `glare`,
//! `noise<σ>`, `inverted`, `colour`, `scale<px per module>`, `jpeg<q>`; plus `tilt` (strong perspective) and
//! `hard` (a deliberately nasty combination).

use std::io;
use std::path::Path;

use image::{DynamicImage, GrayImage, RgbImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::label::{render_text, LabelOptions};
use crate::payload::{format_payload, LabelKey, LabelPayload, PayloadFormat};

pub const FRAME_W: u32 = 1280;
pub const FRAME_H: u32 = 720;
/// Label pixels per module before warping; the warp resamples to the frame's `scale`.
const LABEL_MODULE_PX: u32 = 4;

/// One generated frame and its ground truth.
#[derive(Clone, Debug)]
pub struct CorpusFrame {
    /// File name, `NNNN.jpg` or `NNNN.png`, as in the dev corpus.
    pub name: String,
    /// The frame as a camera would deliver it (for JPEG frames: after the JPEG round trip).
    pub image: DynamicImage,
    /// The JPEG bytes for `.jpg` frames (what `write_dir` stores).
    pub jpeg: Option<Vec<u8>>,
    /// The exact text inside the QR code.
    pub payload: String,
    pub machine_code: String,
    pub tags: Vec<String>,
}

impl CorpusFrame {
    /// The file's bytes: the JPEG as generated, or a PNG.
    pub fn file_bytes(&self) -> Vec<u8> {
        if let Some(jpeg) = &self.jpeg {
            return jpeg.clone();
        }
        let mut out = io::Cursor::new(Vec::new());
        self.image
            .write_to(&mut out, image::ImageFormat::Png)
            .expect("PNG encoding into memory cannot fail");
        out.into_inner()
    }

    /// Grey version of the frame (what a decoder usually works on).
    pub fn luma(&self) -> GrayImage {
        self.image.to_luma8()
    }
}

/// Frames `0..count` for `seed`.
pub fn generate(seed: u64, count: usize) -> impl Iterator<Item = CorpusFrame> {
    (0..count).map(move |index| generate_frame(seed, index))
}

/// Writes `count` frames and a `truth.json` (same shape as the dev corpus's) into `dir`.
pub fn write_dir(dir: &Path, seed: u64, count: usize) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut truth = std::collections::BTreeMap::new();
    for frame in generate(seed, count) {
        std::fs::write(dir.join(&frame.name), frame.file_bytes())?;
        truth.insert(
            frame.name,
            TruthEntry {
                payload: frame.payload,
                machine_code: frame.machine_code,
                tags: frame.tags,
            },
        );
    }
    // One-space indent and field order as the dev corpus's truth.json.
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b" "),
    );
    serde::Serialize::serialize(&truth, &mut ser).map_err(io::Error::other)?;
    std::fs::write(dir.join("truth.json"), out)
}

#[derive(serde::Serialize)]
struct TruthEntry {
    payload: String,
    machine_code: String,
    tags: Vec<String>,
}

/// splitmix64: decorrelates per-frame seeds so neighbouring indices get unrelated streams.
fn frame_seed(seed: u64, index: usize) -> u64 {
    let mut z = seed
        ^ (index as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What happens to one frame, drawn before any pixel work.
struct Scene {
    scale: u32,
    angle: f32,
    tilt: f32,
    blur: Option<f32>,
    motion: Option<(u32, f32)>,
    dim: Option<(f32, f32)>,
    gradient: bool,
    glare: bool,
    noise: u32,
    inverted: bool,
    colour: Option<[f32; 3]>,
    jpeg: Option<u8>,
    hard: bool,
}

fn draw_scene(rng: &mut ChaCha8Rng) -> Scene {
    let hard = rng.gen_bool(0.15);
    let mut s = Scene {
        scale: rng.gen_range(2..=6),
        // Mostly hand-held tilts, sometimes the label upside down or sideways.
        angle: if rng.gen_bool(0.7) {
            rng.gen_range(-0.45..0.45)
        } else {
            rng.gen_range(0.0..std::f32::consts::TAU)
        },
        tilt: rng.gen_range(0.0..0.14),
        blur: rng.gen_bool(0.45).then(|| round1(rng.gen_range(0.5..2.6))),
        motion: rng.gen_bool(0.23).then(|| {
            (
                rng.gen_range(3..=12),
                rng.gen_range(0.0..std::f32::consts::PI),
            )
        }),
        dim: rng
            .gen_bool(0.42)
            .then(|| (round2(rng.gen_range(0.26..0.60)), rng.gen_range(0.9..1.4))),
        gradient: rng.gen_bool(0.42),
        glare: rng.gen_bool(0.15),
        noise: *[0, 2, 4, 4, 6, 10].get(rng.gen_range(0..6)).unwrap_or(&4),
        inverted: rng.gen_bool(0.07),
        colour: rng.gen_bool(0.23).then(|| {
            let mut g = [
                rng.gen_range(0.75..1.0),
                rng.gen_range(0.75..1.0),
                rng.gen_range(0.7..1.0),
            ];
            let max = g.iter().cloned().fold(0.0f32, f32::max);
            g.iter_mut().for_each(|c| *c /= max);
            g
        }),
        jpeg: rng
            .gen_bool(0.65)
            .then(|| [40u8, 60, 75, 90][rng.gen_range(0..4)]),
        hard,
    };
    if hard {
        // The share of cases a real installer's phone struggles with: tiny, soft, dark, noisy.
        match rng.gen_range(0..3) {
            0 => {
                s.scale = 2;
                s.blur = Some(round1(rng.gen_range(1.0..1.6)));
            }
            1 => {
                s.motion = Some((
                    rng.gen_range(8..=12),
                    rng.gen_range(0.0..std::f32::consts::PI),
                ));
                s.scale = s.scale.max(3);
            }
            _ => {
                s.dim = Some((round2(rng.gen_range(0.26..0.32)), rng.gen_range(1.1..1.3)));
                s.noise = 10;
                s.jpeg = Some(40);
            }
        }
        s.tilt = s.tilt.max(0.1);
    }
    s
}

fn round1(v: f32) -> f32 {
    (v * 10.0).round() / 10.0
}
fn round2(v: f32) -> f32 {
    (v * 100.0).round() / 100.0
}

fn draw_payload(rng: &mut ChaCha8Rng) -> (LabelPayload, String) {
    let machine_code = if rng.gen_bool(0.9) {
        format!("4004{:06}", rng.gen_range(0..1_000_000))
    } else {
        // Other digit strings are valid machine codes too.
        let len = rng.gen_range(8..=12);
        (0..len)
            .map(|i| {
                char::from(
                    b'0' + if i == 0 {
                        rng.gen_range(1..10)
                    } else {
                        rng.gen_range(0..10)
                    },
                )
            })
            .collect()
    };
    const HEX: &[u8] = b"0123456789abcdef";
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let key = if rng.gen_bool(0.5) {
        LabelKey::QrKey(
            (0..16)
                .map(|_| char::from(HEX[rng.gen_range(0..16)]))
                .collect(),
        )
    } else {
        LabelKey::Msign(
            (0..12)
                .map(|_| char::from(ALNUM[rng.gen_range(0..ALNUM.len())]))
                .collect(),
        )
    };
    let payload = LabelPayload::Yilianyun { machine_code, key };
    let formats = [
        PayloadFormat::OpenApiUrl,
        PayloadFormat::AuthorizeUrl,
        PayloadFormat::JsonSnake,
        PayloadFormat::JsonCamel,
        PayloadFormat::Pairs('&'),
        PayloadFormat::Bare('#'),
    ];
    let format = if rng.gen_bool(0.8) {
        formats[rng.gen_range(0..formats.len())]
    } else {
        let all = PayloadFormat::all();
        all[rng.gen_range(0..all.len())]
    };
    let mut text = format_payload(&payload, format).expect("generated keys fit every format");
    if matches!(format, PayloadFormat::JsonSnake | PayloadFormat::JsonCamel) && rng.gen_bool(0.5) {
        // Python-style spacing, as in the dev corpus (values never contain these sequences).
        text = text.replace("\":\"", "\": \"").replace("\",\"", "\", \"");
    }
    (payload, text)
}

/// Frame `index` of `seed`.
pub fn generate_frame(seed: u64, index: usize) -> CorpusFrame {
    let mut rng = ChaCha8Rng::seed_from_u64(frame_seed(seed, index));
    let (payload, text) = draw_payload(&mut rng);
    let machine_code = payload.machine_code().unwrap_or_default().to_owned();
    let scene = draw_scene(&mut rng);

    let lines = vec![format!("SN:{machine_code}"), "K4-WH 220V~50HZ".to_string()];
    let label = render_text(
        &text,
        &LabelOptions {
            module_px: LABEL_MODULE_PX,
            lines,
            ..LabelOptions::default()
        },
    )
    .expect("generated payloads fit in a QR code");

    let (paper, ink) = if scene.inverted {
        (rng.gen_range(0.04..0.12), rng.gen_range(0.82..0.95))
    } else {
        (rng.gen_range(0.8..0.97), rng.gen_range(0.03..0.18))
    };
    let background = rng.gen_range(0.25..0.75f32);
    let (w, h) = (FRAME_W as usize, FRAME_H as usize);
    let mut px = vec![background; w * h];
    let bbox = place_label(&mut rng, &mut px, &label, &scene, paper, ink);

    // Blur only where something varies: outside the label's box the frame is still flat.
    let pad = 4
        + scene.blur.map_or(0, |s| (3.0 * s).ceil() as usize)
        + scene.motion.map_or(0, |(l, _)| l as usize);
    let region = (
        bbox.0.saturating_sub(pad),
        bbox.1.saturating_sub(pad),
        (bbox.2 + pad).min(w),
        (bbox.3 + pad).min(h),
    );
    if let Some(sigma) = scene.blur {
        gaussian_blur(&mut px, w, region, sigma);
    }
    if let Some((len, theta)) = scene.motion {
        motion_blur(&mut px, w, region, len, theta);
    }
    if scene.gradient {
        let theta = rng.gen_range(0.0..std::f32::consts::TAU);
        let (lo, hi) = (rng.gen_range(0.5..0.8f32), rng.gen_range(1.0..1.15f32));
        let (c, s) = (theta.cos(), theta.sin());
        let span = (w as f32).abs() * c.abs() + (h as f32) * s.abs();
        let origin = if c < 0.0 { -(w as f32) * c } else { 0.0 }
            + if s < 0.0 { -(h as f32) * s } else { 0.0 };
        for y in 0..h {
            for x in 0..w {
                let t = ((x as f32 * c + y as f32 * s + origin) / span).clamp(0.0, 1.0);
                px[y * w + x] *= lo + (hi - lo) * t;
            }
        }
    }
    if scene.glare {
        // Near the label half the time, where it hurts.
        let (cx, cy) = if rng.gen_bool(0.5) {
            (
                rng.gen_range(bbox.0..bbox.2.max(bbox.0 + 1)) as f32,
                rng.gen_range(bbox.1..bbox.3.max(bbox.1 + 1)) as f32,
            )
        } else {
            (rng.gen_range(0.0..w as f32), rng.gen_range(0.0..h as f32))
        };
        let radius = rng.gen_range(40.0..140.0f32);
        let strength = rng.gen_range(0.4..0.9f32);
        let reach = (radius * 3.0) as i64;
        let inv = 1.0 / (2.0 * radius * radius);
        for y in (cy as i64 - reach).max(0)..(cy as i64 + reach).min(h as i64) {
            for x in (cx as i64 - reach).max(0)..(cx as i64 + reach).min(w as i64) {
                let d2 = (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2);
                px[y as usize * w + x as usize] += strength * (-d2 * inv).exp();
            }
        }
    }
    if let Some((factor, gamma)) = scene.dim {
        for v in &mut px {
            *v = v.clamp(0.0, 1.0).powf(gamma) * factor;
        }
    }

    let sigma = scene.noise as f32 / 255.0;
    let mut noise = NoiseRng(rng.gen());
    let image = match scene.colour {
        None => {
            let data = px
                .iter()
                .map(|v| to_u8(*v + sigma * noise.gauss()))
                .collect();
            DynamicImage::ImageLuma8(
                GrayImage::from_raw(FRAME_W, FRAME_H, data).expect("buffer matches frame size"),
            )
        }
        Some(gain) => {
            let mut data = Vec::with_capacity(w * h * 3);
            for v in &px {
                for g in gain {
                    data.push(to_u8(v * g + sigma * noise.gauss()));
                }
            }
            DynamicImage::ImageRgb8(
                RgbImage::from_raw(FRAME_W, FRAME_H, data).expect("buffer matches frame size"),
            )
        }
    };

    let (image, jpeg) = match scene.jpeg {
        Some(quality) => {
            let mut bytes = Vec::new();
            // write_with_encoder keeps the native colour type (grey stays one component, as in the dev corpus).
            image
                .write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
                    &mut bytes, quality,
                ))
                .expect("JPEG encoding into memory cannot fail");
            let decoded = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
                .expect("our own JPEG decodes");
            (decoded, Some(bytes))
        }
        None => (image, None),
    };

    CorpusFrame {
        name: format!("{index:04}.{}", if jpeg.is_some() { "jpg" } else { "png" }),
        image,
        jpeg,
        payload: text,
        machine_code,
        tags: tags(&scene),
    }
}

fn tags(s: &Scene) -> Vec<String> {
    let mut t = Vec::new();
    if let Some(b) = s.blur {
        t.push(format!("blur{b:.1}"));
    }
    if let Some((len, _)) = s.motion {
        t.push(format!("motion{len}"));
    }
    if let Some((d, _)) = s.dim {
        t.push(format!("dim{d:.2}"));
    }
    if s.gradient {
        t.push("gradient".into());
    }
    if s.glare {
        t.push("glare".into());
    }
    if s.noise > 0 {
        t.push(format!("noise{}", s.noise));
    }
    if s.inverted {
        t.push("inverted".into());
    }
    if s.colour.is_some() {
        t.push("colour".into());
    }
    if s.tilt >= 0.08 {
        t.push("tilt".into());
    }
    t.push(format!("scale{}", s.scale));
    if let Some(q) = s.jpeg {
        t.push(format!("jpeg{q}"));
    }
    if s.hard {
        t.push("hard".into());
    }
    t
}

fn to_u8(v: f32) -> u8 {
    (v * 255.0).round().clamp(0.0, 255.0) as u8
}

/// Per-pixel noise source: splitmix64 seeded from the frame's ChaCha stream. A million draws per frame need a
/// generator that stays fast in debug test builds too (this crate is optimised there, `rand_chacha` is not).
struct NoiseRng(u64);

impl NoiseRng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Approximately standard normal: Irwin–Hall sum of four 16-bit uniforms from one draw.
    fn gauss(&mut self) -> f32 {
        let r = self.next_u64();
        let sum: u32 = (0..4).map(|i| ((r >> (16 * i)) & 0xFFFF) as u32).sum();
        // Mean 2, variance 4/12 in units of 65536.
        (sum as f32 / 65536.0 - 2.0) * 1.732_050_8
    }
}

/// Warps the label into the frame (rotation + perspective) and returns the touched box (x0, y0, x1, y1).
fn place_label(
    rng: &mut ChaCha8Rng,
    px: &mut [f32],
    label: &GrayImage,
    scene: &Scene,
    paper: f32,
    ink: f32,
) -> (usize, usize, usize, usize) {
    let (lw, lh) = (label.width() as f32, label.height() as f32);
    let k = scene.scale as f32 / LABEL_MODULE_PX as f32;
    let (hw, hh) = (lw * k / 2.0, lh * k / 2.0);
    // Perspective: one pair of opposite edges shrinks, as when the phone is not parallel to the label.
    let horizontal = rng.gen_bool(0.5);
    let sign = if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
    let mut corners = [(-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh)];
    for (x, y) in corners.iter_mut() {
        let side = if horizontal { x.signum() } else { y.signum() } * sign;
        let f = 1.0 + scene.tilt * side;
        if horizontal {
            *y *= f;
        } else {
            *x *= f;
        }
        *x += rng.gen_range(-0.03..0.03) * hw;
        *y += rng.gen_range(-0.03..0.03) * hh;
    }
    let (c, s) = (scene.angle.cos(), scene.angle.sin());
    let rotated = corners.map(|(x, y)| (x * c - y * s, x * s + y * c));
    let min_x = rotated.iter().map(|p| p.0).fold(f32::MAX, f32::min);
    let max_x = rotated.iter().map(|p| p.0).fold(f32::MIN, f32::max);
    let min_y = rotated.iter().map(|p| p.1).fold(f32::MAX, f32::min);
    let max_y = rotated.iter().map(|p| p.1).fold(f32::MIN, f32::max);
    let margin = 8.0;
    let cx_range = (margin - min_x, FRAME_W as f32 - margin - max_x);
    let cy_range = (margin - min_y, FRAME_H as f32 - margin - max_y);
    let pick = |rng: &mut ChaCha8Rng, (lo, hi): (f32, f32)| {
        if hi > lo {
            rng.gen_range(lo..hi)
        } else {
            (lo + hi) / 2.0
        }
    };
    let (cx, cy) = (pick(rng, cx_range), pick(rng, cy_range));
    let dst = rotated.map(|(x, y)| (x + cx, y + cy));
    let src = [(0.0, 0.0), (lw, 0.0), (lw, lh), (0.0, lh)];
    let h = homography(&dst, &src);

    let w = FRAME_W as usize;
    let x0 = (cx + min_x).floor().max(0.0) as usize;
    let y0 = (cy + min_y).floor().max(0.0) as usize;
    let x1 = ((cx + max_x).ceil() as usize + 1).min(w);
    let y1 = ((cy + max_y).ceil() as usize + 1).min(FRAME_H as usize);
    let lab = label.as_raw();
    let (lwi, lhi) = (label.width() as usize, label.height() as usize);
    let tone = |v: u8| ink + (paper - ink) * (v as f32 / 255.0);
    for y in y0..y1 {
        for x in x0..x1 {
            let (fx, fy) = (x as f64 + 0.5, y as f64 + 0.5);
            let d = h[6] * fx + h[7] * fy + 1.0;
            let u = ((h[0] * fx + h[1] * fy + h[2]) / d) as f32 - 0.5;
            let v = ((h[3] * fx + h[4] * fy + h[5]) / d) as f32 - 0.5;
            if u < -0.5 || v < -0.5 || u > lw - 0.5 || v > lh - 0.5 {
                continue;
            }
            // Bilinear sample of the label.
            let (ux, vy) = (u.max(0.0), v.max(0.0));
            let (ix, iy) = ((ux as usize).min(lwi - 1), (vy as usize).min(lhi - 1));
            let (jx, jy) = ((ix + 1).min(lwi - 1), (iy + 1).min(lhi - 1));
            let (ax, ay) = (ux - ix as f32, vy - iy as f32);
            let at = |x: usize, y: usize| tone(lab[y * lwi + x]);
            let top = at(ix, iy) * (1.0 - ax) + at(jx, iy) * ax;
            let bottom = at(ix, jy) * (1.0 - ax) + at(jx, jy) * ax;
            px[y * w + x] = top * (1.0 - ay) + bottom * ay;
        }
    }
    (x0, y0, x1, y1)
}

/// The 3x3 projective map (h[8] = 1) taking each `from` point to the matching `to` point.
fn homography(from: &[(f32, f32); 4], to: &[(f32, f32); 4]) -> [f64; 8] {
    let mut a = [[0.0f64; 9]; 8];
    for i in 0..4 {
        let (x, y) = (from[i].0 as f64, from[i].1 as f64);
        let (u, v) = (to[i].0 as f64, to[i].1 as f64);
        a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
        a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
    }
    // Gaussian elimination with partial pivoting; the quads are never degenerate (non-zero label, small tilt).
    for col in 0..8 {
        let pivot = (col..8)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap_or(col);
        a.swap(col, pivot);
        for row in 0..8 {
            if row != col && a[col][col] != 0.0 {
                let f = a[row][col] / a[col][col];
                let pivot_row = a[col];
                for (cell, p) in a[row].iter_mut().zip(pivot_row).skip(col) {
                    *cell -= f * p;
                }
            }
        }
    }
    std::array::from_fn(|i| a[i][8] / a[i][i])
}

fn gaussian_blur(px: &mut [f32], w: usize, region: (usize, usize, usize, usize), sigma: f32) {
    let radius = (3.0 * sigma).ceil() as i64;
    let kernel: Vec<f32> = (-radius..=radius)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|k| k / total).collect();
    let (x0, y0, x1, y1) = region;
    let h = px.len() / w;
    let mut tmp = px.to_vec();
    // Horizontal then vertical; indices clamp at the frame edge.
    for y in y0..y1 {
        for x in x0..x1 {
            let mut acc = 0.0;
            for (k, wgt) in kernel.iter().enumerate() {
                let sx = (x as i64 + k as i64 - radius).clamp(0, w as i64 - 1) as usize;
                acc += wgt * px[y * w + sx];
            }
            tmp[y * w + x] = acc;
        }
    }
    for y in y0..y1 {
        for x in x0..x1 {
            let mut acc = 0.0;
            for (k, wgt) in kernel.iter().enumerate() {
                let sy = (y as i64 + k as i64 - radius).clamp(0, h as i64 - 1) as usize;
                acc += wgt * tmp[sy * w + x];
            }
            px[y * w + x] = acc;
        }
    }
}

fn motion_blur(
    px: &mut [f32],
    w: usize,
    region: (usize, usize, usize, usize),
    len: u32,
    theta: f32,
) {
    let h = px.len() / w;
    let src = px.to_vec();
    let (dx, dy) = (theta.cos(), theta.sin());
    let offsets: Vec<(i64, i64)> = (0..len)
        .map(|i| {
            let t = i as f32 - (len as f32 - 1.0) / 2.0;
            ((t * dx).round() as i64, (t * dy).round() as i64)
        })
        .collect();
    let norm = 1.0 / len as f32;
    let (x0, y0, x1, y1) = region;
    for y in y0..y1 {
        for x in x0..x1 {
            let mut acc = 0.0;
            for (ox, oy) in &offsets {
                let sx = (x as i64 + ox).clamp(0, w as i64 - 1) as usize;
                let sy = (y as i64 + oy).clamp(0, h as i64 - 1) as usize;
                acc += src[sy * w + sx];
            }
            px[y * w + x] = acc * norm;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homography_maps_corners() {
        let from = [(10.0, 20.0), (300.0, 40.0), (280.0, 260.0), (30.0, 240.0)];
        let to = [(0.0, 0.0), (100.0, 0.0), (100.0, 80.0), (0.0, 80.0)];
        let h = homography(&from, &to);
        for (f, t) in from.iter().zip(&to) {
            let (x, y) = (f.0 as f64, f.1 as f64);
            let d = h[6] * x + h[7] * y + 1.0;
            assert!(((h[0] * x + h[1] * y + h[2]) / d - t.0 as f64).abs() < 1e-6);
            assert!(((h[3] * x + h[4] * y + h[5]) / d - t.1 as f64).abs() < 1e-6);
        }
    }

    #[test]
    fn gauss_is_roughly_standard() {
        let mut rng = NoiseRng(1);
        let n = 20_000;
        let xs: Vec<f32> = (0..n).map(|_| rng.gauss()).collect();
        let mean = xs.iter().sum::<f32>() / n as f32;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n as f32;
        assert!(mean.abs() < 0.05, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
    }
}
