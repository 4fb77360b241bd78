//! Seeded, reproducible edge-case QR images by category, for the decoder's tests and bench (the same idea as
//! [`crate::corpus`], which models printer-label camera frames; these model what a general QR reader meets):
//!
//! - `small`: small clean images (240-520 px) that the code mostly fills;
//! - `tiny`: 1-2 px modules, versions 1-40 (a 21x21 code in a ~41 px image, a big version in a small image);
//! - `version`: versions 15-40 with 3-5 px modules;
//! - `logo`: a picture over the middle of an H/Q-level code (error correction covers the hole);
//! - `colour`: coloured modules on coloured paper;
//! - `lowcontrast`: grey on grey (30-70 grey levels apart), with sensor noise;
//! - `mirrored`: mirror images (photographed through glass, printed on the back of a film);
//! - `text`: Kanji mode, Shift JIS and ECI text (UTF-8, GB 18030, ISO 8859-x) and plain UTF-8 Chinese;
//! - `highres`: 1.5-3 MP photos with large or small codes.
//!
//! Same (category, seed, index) -> identical image bytes. Every image holds exactly one code whose text is
//! the truth `payload`.

use std::io;
use std::path::Path;

use image::{DynamicImage, RgbImage};
use qrcode::bits::Bits;
use qrcode::{Color, EcLevel, QrCode, Version};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Every category, in bench order.
pub const CATEGORIES: &[&str] = &[
    "small",
    "tiny",
    "version",
    "logo",
    "colour",
    "lowcontrast",
    "mirrored",
    "text",
    "highres",
];

/// One generated image and its truth.
#[derive(Clone, Debug)]
pub struct CategoryImage {
    /// `NNNN.png` or `NNNN.jpg`.
    pub name: String,
    pub image: DynamicImage,
    /// The encoded bytes as written (PNG or JPEG).
    pub bytes: Vec<u8>,
    pub payload: String,
    pub tags: Vec<String>,
}

/// Images `0..count` of `category` for `seed`. Unknown categories yield nothing.
pub fn generate(category: &str, seed: u64, count: usize) -> Vec<CategoryImage> {
    let Some(ci) = CATEGORIES.iter().position(|&c| c == category) else {
        return Vec::new();
    };
    (0..count)
        .map(|i| {
            let mut rng = ChaCha8Rng::seed_from_u64(
                seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((ci as u64) << 40) ^ i as u64,
            );
            make(CATEGORIES[ci], i, &mut rng)
        })
        .collect()
}

/// Writes the images and a `truth.json` (`{name: {payload, tags}}`, as the label corpora) into `dir`.
pub fn write_dir(dir: &Path, category: &str, seed: u64, count: usize) -> io::Result<()> {
    if !CATEGORIES.contains(&category) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "unknown category {category} (known: {})",
                CATEGORIES.join(", ")
            ),
        ));
    }
    std::fs::create_dir_all(dir)?;
    let mut truth = serde_json::Map::new();
    for img in generate(category, seed, count) {
        std::fs::write(dir.join(&img.name), &img.bytes)?;
        truth.insert(
            img.name,
            serde_json::json!({ "payload": img.payload, "tags": img.tags }),
        );
    }
    std::fs::write(
        dir.join("truth.json"),
        serde_json::to_vec_pretty(&truth).map_err(io::Error::other)?,
    )
}

/// How one image is drawn.
struct Scene {
    w: u32,
    h: u32,
    /// Pixels per module.
    module: f32,
    /// Code centre in the image.
    cx: f32,
    cy: f32,
    angle: f32,
    mirrored: bool,
    /// Quiet zone, modules.
    quiet: f32,
    fg: [f32; 3],
    paper: [f32; 3],
    background: [f32; 3],
    /// A picture over the middle: side as a fraction of the code's side.
    logo: Option<f32>,
    blur: f32,
    noise: f32,
    jpeg: Option<u8>,
}

impl Scene {
    fn plain(w: u32, h: u32, module: f32) -> Scene {
        Scene {
            w,
            h,
            module,
            cx: w as f32 / 2.0,
            cy: h as f32 / 2.0,
            angle: 0.0,
            mirrored: false,
            quiet: 4.0,
            fg: [20.0; 3],
            paper: [240.0; 3],
            background: [240.0; 3],
            logo: None,
            blur: 0.0,
            noise: 0.0,
            jpeg: None,
        }
    }
}

/// Random text of `len` URL-safe characters (mixed case: byte mode).
fn random_text(rng: &mut ChaCha8Rng, len: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~";
    let mut s = String::from("https://qa.example/");
    while s.len() < len {
        s.push(CHARS[rng.gen_range(0..CHARS.len())] as char);
    }
    s
}

fn encode(text: &str, ec: EcLevel) -> QrCode {
    QrCode::with_error_correction_level(text.as_bytes(), ec).expect("payload fits version 40")
}

fn make(category: &str, index: usize, rng: &mut ChaCha8Rng) -> CategoryImage {
    let mut tags = vec![category.to_string()];
    let (code, payload, scene) = match category {
        "small" => {
            let len = rng.gen_range(20..120);
            let text = random_text(rng, len);
            let code = encode(&text, EcLevel::M);
            let side = rng.gen_range(240..=520u32);
            let n = code.width() as f32;
            let quiet = rng.gen_range(1..=4) as f32;
            let fill = rng.gen_range(0.55..0.9);
            let mut s = Scene::plain(side, side, side as f32 * fill / (n + 2.0 * quiet));
            s.quiet = quiet;
            if rng.gen_bool(0.3) {
                s.angle = rng.gen_range(-0.3..0.3);
            }
            if rng.gen_bool(0.4) {
                s.jpeg = Some(85);
            }
            (code, text, s)
        }
        "tiny" => {
            // From a 21x21 code at ~2 px to version 40 at ~1.2 px.
            let len = *[10usize, 30, 60, 120, 250, 500, 900, 1500]
                .get(rng.gen_range(0..8))
                .unwrap_or(&30);
            let text = random_text(rng, len);
            let code = encode(&text, EcLevel::L);
            let n = code.width() as f32;
            let module = rng.gen_range(1.2..2.2f32);
            let quiet = 2.0;
            let side = ((n + 2.0 * quiet) * module).ceil() as u32 + rng.gen_range(0..8);
            let mut s = Scene::plain(side, side, module);
            s.quiet = quiet;
            s.blur = rng.gen_range(0.0..0.5);
            s.noise = 2.0;
            tags.push(format!("module{module:.1}"));
            (code, text, s)
        }
        "version" => {
            let len = rng.gen_range(400..2200);
            let text = random_text(rng, len);
            let code = encode(&text, EcLevel::M);
            let n = code.width() as f32;
            let module = rng.gen_range(3.0..5.0f32);
            let side = ((n + 12.0) * module * 1.1) as u32;
            let mut s = Scene::plain(side, side, module);
            s.angle = rng.gen_range(-0.2..0.2);
            s.blur = 0.6;
            s.noise = 3.0;
            s.background = [120.0, 110.0, 100.0];
            (code, text, s)
        }
        "logo" => {
            let len = rng.gen_range(20..90);
            let text = random_text(rng, len);
            let ec = if rng.gen_bool(0.7) {
                EcLevel::H
            } else {
                EcLevel::Q
            };
            let code = encode(&text, ec);
            let n = code.width() as f32;
            let module = rng.gen_range(4.0..8.0f32);
            let side = ((n + 8.0) * module * 1.2) as u32;
            let mut s = Scene::plain(side, side, module);
            s.logo = Some(if ec == EcLevel::H {
                rng.gen_range(0.22..0.3)
            } else {
                rng.gen_range(0.15..0.2)
            });
            s.angle = rng.gen_range(-0.15..0.15);
            if rng.gen_bool(0.5) {
                s.fg = [20.0, 40.0, 140.0];
            }
            s.jpeg = rng.gen_bool(0.5).then_some(80);
            tags.push(format!("{ec:?}"));
            (code, text, s)
        }
        "colour" | "lowcontrast" => {
            let len = rng.gen_range(20..100);
            let text = random_text(rng, len);
            let code = encode(&text, EcLevel::M);
            let n = code.width() as f32;
            let module = rng.gen_range(3.0..7.0f32);
            let side = ((n + 8.0) * module * 1.3) as u32;
            let mut s = Scene::plain(side, side, module);
            s.angle = rng.gen_range(-0.3..0.3);
            if category == "colour" {
                const PAIRS: [([f32; 3], [f32; 3]); 6] = [
                    ([20.0, 40.0, 150.0], [250.0, 240.0, 190.0]),
                    ([150.0, 20.0, 30.0], [250.0, 215.0, 220.0]),
                    ([10.0, 110.0, 50.0], [235.0, 250.0, 235.0]),
                    ([110.0, 40.0, 140.0], [255.0, 230.0, 120.0]),
                    ([200.0, 80.0, 0.0], [255.0, 250.0, 240.0]),
                    ([0.0, 120.0, 160.0], [220.0, 240.0, 250.0]),
                ];
                let (fg, paper) = PAIRS[rng.gen_range(0..PAIRS.len())];
                s.fg = fg;
                s.paper = paper;
                s.background = [90.0, 140.0, 90.0];
                s.noise = 2.0;
            } else {
                let paper = rng.gen_range(150.0..210.0f32);
                let fg = paper - rng.gen_range(30.0..70.0f32);
                s.fg = [fg; 3];
                s.paper = [paper; 3];
                s.background = [paper - 10.0; 3];
                s.noise = rng.gen_range(2.0..5.0);
                s.blur = 0.5;
                tags.push(format!("contrast{:.0}", paper - fg));
            }
            s.jpeg = rng.gen_bool(0.5).then_some(85);
            (code, text, s)
        }
        "mirrored" => {
            let len = rng.gen_range(20..200);
            let text = random_text(rng, len);
            let code = encode(&text, EcLevel::M);
            let n = code.width() as f32;
            let module = rng.gen_range(3.0..6.0f32);
            let side = ((n + 8.0) * module * 1.4) as u32;
            let mut s = Scene::plain(side, side, module);
            s.mirrored = true;
            s.angle = rng.gen_range(-3.1..3.1);
            s.background = [100.0; 3];
            s.noise = 2.0;
            (code, text, s)
        }
        "text" => {
            let (code, text, kind) = text_code(index, rng);
            tags.push(kind.to_string());
            let n = code.width() as f32;
            let module = rng.gen_range(3.0..6.0f32);
            let side = ((n + 8.0) * module * 1.3) as u32;
            let mut s = Scene::plain(side, side, module);
            s.angle = rng.gen_range(-0.2..0.2);
            s.background = [200.0; 3];
            (code, text, s)
        }
        _ => {
            // highres
            let len = rng.gen_range(20..300);
            let text = random_text(rng, len);
            let code = encode(&text, EcLevel::M);
            let n = code.width() as f32;
            let (w, h) = *[(1600u32, 1200u32), (2048, 1536), (1920, 1080), (1200, 1600)]
                .get(rng.gen_range(0..4))
                .unwrap_or(&(1600, 1200));
            let big = rng.gen_bool(0.5);
            let module = if big {
                (w.min(h) as f32 * rng.gen_range(0.5..0.8)) / n
            } else {
                rng.gen_range(3.0..6.0)
            };
            let mut s = Scene::plain(w, h, module);
            let half = (n / 2.0 + 4.0) * module;
            s.cx = rng.gen_range(half..(w as f32 - half).max(half + 1.0));
            s.cy = rng.gen_range(half..(h as f32 - half).max(half + 1.0));
            s.angle = rng.gen_range(-0.3..0.3);
            s.background = [150.0, 140.0, 130.0];
            s.blur = rng.gen_range(0.5..1.5);
            s.noise = 3.0;
            s.jpeg = Some(85);
            tags.push(if big { "large-code" } else { "small-code" }.to_string());
            (code, text, s)
        }
    };
    tags.push(format!("v{}", version_of(&code)));
    let mut scene = scene;
    // The whole code and its quiet zone stay inside the image, whatever the rotation.
    let (sin, cos) = scene.angle.sin_cos();
    let ext =
        (code.width() as f32 / 2.0 + scene.quiet) * scene.module * (sin.abs() + cos.abs()) + 2.0;
    if category == "highres" {
        scene.cx = scene.cx.clamp(ext, (scene.w as f32 - ext).max(ext));
        scene.cy = scene.cy.clamp(ext, (scene.h as f32 - ext).max(ext));
    } else {
        let need = (2.0 * ext).ceil() as u32;
        scene.w = scene.w.max(need);
        scene.h = scene.h.max(need);
        scene.cx = scene.w as f32 / 2.0;
        scene.cy = scene.h as f32 / 2.0;
    }
    let image = render(&code, &scene, rng);
    let (name, bytes) = encode_file(index, &image, scene.jpeg);
    let image = if scene.jpeg.is_some() {
        image::load_from_memory(&bytes).expect("own JPEG decodes")
    } else {
        DynamicImage::ImageRgb8(image)
    };
    CategoryImage {
        name,
        image,
        bytes,
        payload,
        tags,
    }
}

fn version_of(code: &QrCode) -> usize {
    (code.width() - 17) / 4
}

/// Text-category codes: (code, text, kind tag).
fn text_code(index: usize, rng: &mut ChaCha8Rng) -> (QrCode, String, &'static str) {
    const CJK: [&str; 4] = [
        "打印机授权成功",
        "云打印机 终端号 4004225199",
        "易联云 小票机 扫码绑定",
        "门店 收银 厨房 前台",
    ];
    const JA: [&str; 3] = ["東京都千代田区", "印刷機の認証", "漢字モード試験"];
    const LATIN2: [&str; 2] = ["Zażółć gęślą jaźń", "Příliš žluťoučký kůň"];
    const LATIN1: [&str; 2] = ["Café crème à São Paulo", "Größe über Maß"];
    let kind = index % 6;
    let pick = |list: &[&'static str], rng: &mut ChaCha8Rng| list[rng.gen_range(0..list.len())];
    let build = |f: &dyn Fn(&mut Bits)| -> Option<QrCode> {
        for v in 1..=10 {
            let mut bits = Bits::new(Version::Normal(v));
            f(&mut bits);
            if bits.push_terminator(EcLevel::M).is_ok() {
                return QrCode::with_bits(bits, EcLevel::M).ok();
            }
        }
        None
    };
    let sjis = |t: &str| encoding_rs::SHIFT_JIS.encode(t).0.into_owned();
    let (text, code, tag) = match kind {
        0 => {
            let t = pick(&JA, rng);
            let raw = sjis(t);
            (t, build(&|b| b.push_kanji_data(&raw).unwrap()), "kanji")
        }
        1 => {
            let t = pick(&JA, rng);
            let raw = sjis(t);
            (t, build(&|b| b.push_byte_data(&raw).unwrap()), "sjis")
        }
        2 => {
            let t = pick(&CJK, rng);
            (
                t,
                build(&|b| {
                    b.push_eci_designator(26).unwrap();
                    b.push_byte_data(t.as_bytes()).unwrap();
                }),
                "eci-utf8",
            )
        }
        3 => {
            let t = pick(&CJK, rng);
            let raw = encoding_rs::GB18030.encode(t).0.into_owned();
            (
                t,
                build(&|b| {
                    b.push_eci_designator(32).unwrap();
                    b.push_byte_data(&raw).unwrap();
                }),
                "eci-gb18030",
            )
        }
        4 => {
            let (t, eci, enc) = if rng.gen_bool(0.5) {
                (pick(&LATIN2, rng), 4, encoding_rs::ISO_8859_2)
            } else {
                (pick(&LATIN1, rng), 3, encoding_rs::WINDOWS_1252)
            };
            let raw = enc.encode(t).0.into_owned();
            (
                t,
                build(&|b| {
                    b.push_eci_designator(eci).unwrap();
                    b.push_byte_data(&raw).unwrap();
                }),
                "eci-iso8859",
            )
        }
        _ => {
            let t = pick(&CJK, rng);
            (
                t,
                build(&|b| b.push_byte_data(t.as_bytes()).unwrap()),
                "utf8",
            )
        }
    };
    (code.expect("text payload fits"), text.to_string(), tag)
}

/// Draws the code: 3x3 supersampled, rotated about its centre, mirrored if asked, logo on top; then blur
/// and noise.
fn render(code: &QrCode, s: &Scene, rng: &mut ChaCha8Rng) -> RgbImage {
    let n = code.width();
    let colors = code.to_colors();
    let (w, h) = (s.w as usize, s.h as usize);
    let (sin, cos) = s.angle.sin_cos();
    let half = n as f32 / 2.0;
    let mut px = vec![[0f32; 3]; w * h];
    let logo = s.logo.map(|f| f * n as f32 / 2.0);
    for y in 0..h {
        for x in 0..w {
            let mut acc = [0f32; 3];
            for sy in 0..3 {
                for sx in 0..3 {
                    let fx = x as f32 + (sx as f32 + 0.5) / 3.0 - s.cx;
                    let fy = y as f32 + (sy as f32 + 0.5) / 3.0 - s.cy;
                    let mut u = (cos * fx + sin * fy) / s.module;
                    let v = (-sin * fx + cos * fy) / s.module;
                    if s.mirrored {
                        u = -u;
                    }
                    let (u, v) = (u + half, v + half);
                    let c = if u < -s.quiet
                        || v < -s.quiet
                        || u >= n as f32 + s.quiet
                        || v >= n as f32 + s.quiet
                    {
                        s.background
                    } else if let Some(l) =
                        logo.filter(|&l| (u - half).abs() < l + 0.5 && (v - half).abs() < l + 0.5)
                    {
                        logo_colour(u - half, v - half, l)
                    } else if u >= 0.0 && v >= 0.0 && (u as usize) < n && (v as usize) < n {
                        match colors[v as usize * n + u as usize] {
                            Color::Dark => s.fg,
                            Color::Light => s.paper,
                        }
                    } else {
                        s.paper
                    };
                    for k in 0..3 {
                        acc[k] += c[k];
                    }
                }
            }
            px[y * w + x] = acc.map(|a| a / 9.0);
        }
    }
    if s.blur > 0.05 {
        blur(&mut px, w, h, s.blur);
    }
    let mut img = RgbImage::new(s.w, s.h);
    for (i, p) in img.pixels_mut().enumerate() {
        let n = if s.noise > 0.0 {
            (rng.gen::<f32>() + rng.gen::<f32>() + rng.gen::<f32>() - 1.5) * 2.0 * s.noise
        } else {
            0.0
        };
        p.0 = px[i].map(|c| (c + n).round().clamp(0.0, 255.0) as u8);
    }
    img
}

/// A picture: a white rounded tile with a coloured disc and two bars (a typical shop logo).
fn logo_colour(du: f32, dv: f32, l: f32) -> [f32; 3] {
    let r = (du * du + dv * dv).sqrt();
    if du.abs() > l || dv.abs() > l {
        [255.0; 3]
    } else if r < l * 0.55 {
        [220.0, 60.0, 40.0]
    } else if dv.abs() < l * 0.12 || du.abs() < l * 0.08 {
        [30.0, 30.0, 30.0]
    } else {
        [250.0, 250.0, 245.0]
    }
}

/// Separable Gaussian blur, sigma in pixels.
fn blur(px: &mut [[f32; 3]], w: usize, h: usize, sigma: f32) {
    let r = (sigma * 3.0).ceil() as isize;
    let k: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f32 = k.iter().sum();
    let k: Vec<f32> = k.iter().map(|v| v / sum).collect();
    let mut tmp = vec![[0f32; 3]; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut a = [0f32; 3];
            for (j, &kv) in k.iter().enumerate() {
                let xx = (x as isize + j as isize - r).clamp(0, w as isize - 1) as usize;
                for c in 0..3 {
                    a[c] += px[y * w + xx][c] * kv;
                }
            }
            tmp[y * w + x] = a;
        }
    }
    for y in 0..h {
        for x in 0..w {
            let mut a = [0f32; 3];
            for (j, &kv) in k.iter().enumerate() {
                let yy = (y as isize + j as isize - r).clamp(0, h as isize - 1) as usize;
                for c in 0..3 {
                    a[c] += tmp[yy * w + x][c] * kv;
                }
            }
            px[y * w + x] = a;
        }
    }
}

fn encode_file(index: usize, img: &RgbImage, jpeg: Option<u8>) -> (String, Vec<u8>) {
    let mut out = io::Cursor::new(Vec::new());
    match jpeg {
        Some(q) => {
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, q)
                .encode_image(img)
                .expect("JPEG encoding into memory cannot fail");
            (format!("{index:04}.jpg"), out.into_inner())
        }
        None => {
            img.write_to(&mut out, image::ImageFormat::Png)
                .expect("PNG encoding into memory cannot fail");
            (format!("{index:04}.png"), out.into_inner())
        }
    }
}
