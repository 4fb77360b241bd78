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
//! - `highres`: 1.5-3 MP photos with large or small codes;
//! - `design`: "design" codes as marketing prints them: modules drawn as round dots or rounded squares (60-90 %
//!   of the module), finder rings and eyes as rounded squares or circles, solid / linear / radial gradient or
//!   two-tone colours, white, light-coloured, gradient or soft-picture backgrounds, EC M/Q/H, some with a logo,
//!   3-8 px modules, some with sensor noise, blur or JPEG. The module grid is the standard one `qrcode`
//!   encodes; only the drawing changes. Tags name every drawing choice (`dot-circle`, `dot0.72`,
//!   `ring-rounded`, `eye-circle`, `fill-linear`, `two-tone`, `bg-picture`, `logo`, ...);
//! - `noqr`: 0.5-1.0 MP images with no code at all, to measure what an unreadable image costs: white noise,
//!   blurred-noise texture, checkerboards (2-32 px pitch), text-like pages (rows of small dark rectangles),
//!   pages of scattered finder-like concentric squares, and fake codes (versions 1-12: real finder, timing
//!   and alignment patterns around random data modules, random version information from version 7; the
//!   format information is either an invalid word, at Hamming distance >= 4 from every valid one, or a valid
//!   one over the random data). Image `i` is kind `i % 6`.
//!   The truth payload is `null`: a decoder must return nothing, and any text it returns is wrong;
//! - `steep`: a code seen at a steep angle: its plane tilted in front of a pinhole camera so that the far
//!   side comes out 55-80 % of the near side (keystone along x, along y, or both: then the far corner against
//!   the near one), rotated 0-360 degrees, versions 1-10 (EC L/M/Q), 3-6 px modules on the near side, on
//!   light paper with a mild light gradient, blur 0.3-0.8 px and sensor noise, 0.3-0.8 MP. The plane is
//!   tilted 29-52 degrees (a closer camera for the smaller tilts), so modules along the tilt are 0.62-0.87 of
//!   their width across it. Tags: `tilt-x`, `tilt-y`, `tilt-xy`, `tilt40` (degrees), `far0.67`, `rot123`;
//! - `curved`: a code on a bottle or cup: wrapped around a vertical or horizontal cylinder of radius 0.7-1.3x
//!   the code's width (seen square on: image offset `d` from the axis shows arc `R * asin(d / R)`), versions
//!   1-8 (EC L/M/Q), 3-6 px modules, shading across the curve, blur 0.3-0.8 px, a backdrop beside the
//!   cylinder. Tags: `axis-vertical`, `axis-horizontal`, `radius0.85`;
//! - `damaged`: EC H or Q codes, versions 2-10, 3-6 px modules, under 2-5 stains: opaque blobs, soft
//!   see-through smudges and scratches (bent strokes), dark or light, over the data area only (the finder
//!   patterns with their separators and format information, and the version information, stay intact),
//!   covering 5-15 % of the code's area. Damage stays within the error correction by construction: a
//!   module counts as broken where a stain moves any part of it 30 % of the contrast towards the other
//!   colour, and no Reed-Solomon block may lose more than 70 % of the codewords it corrects (stains are
//!   redrawn until that holds, which keeps most covers at 5-9 %). Tags name each stain (`blob-dark`,
//!   `smudge-light`, `scratch-dark`, ...), `cover0.064` and `ecuse0.62` (the worst block's share of its
//!   correction capacity);
//! - `noquiet`: codes cropped tight: 0-1 modules of margin a side, some cut at the code's edge on one or two
//!   sides (`cut-left`, ...), versions 1-10 (EC L/M/Q/H), 2-8 px modules, clean or mildly noisy; the image
//!   is just the code and that margin;
//! - `snapped`: pixel-snapped codes, as a small screenshot or an image resized without smoothing has them:
//!   1.0-2.0 px a module on average, every pixel the colour of the module under its centre (so modules are
//!   whole pixels, one or two wide), versions 1-6 (EC L/M/Q/H), 1-4 modules of margin, black or dark grey
//!   on white or light grey; half are the code and its margin alone, half sit at a random place on a
//!   plain canvas 20-200 px bigger. Tags: `module1.37`, `q2`, `canvas`, the version and EC level;
//! - `bigmodule`: 8-32 px modules filling a big image (0.1-4 MP), versions 1-10: clean renders, or scans
//!   (a few degrees of rotation, grey paper and ink, blur, noise, JPEG);
//! - `densetilt`: dense codes (versions 15-40, 2.5-4 px modules) seen at a slant, far side 60-80 % of the
//!   near one, any rotation;
//! - `phone`: 12 MP phone photos (4000x3000 either way up) of a paper label on a desk, its code's modules
//!   1.8-3.2 px at the photo's own resolution (so under 2 px on a half-size copy), versions 2-20 (EC
//!   L/M/Q), rotated up to ~35 degrees, defocus 0.4-1.2 px, sensor noise, JPEG. Tags: `module2.4`, the size,
//!   EC level and version;
//! - `shadow`: a label photographed with a shadow across its code (a hand's, the phone's): a straight edge
//!   at any angle through the middle half of the code, the shadowed side at 20-55 % of the light, the edge
//!   1-4 px soft or up to a tenth of the code; versions 1-10 (EC L/M/Q), 3-7 px modules, rotated, on a
//!   desk, 0.5-2 MP, blur, noise, JPEG. Tags: `dark0.31`, `soft2.5`, the module, version and size;
//! - `page`: a small code on a page of text (a document, a flyer, a receipt scanned or photographed
//!   flat): 1.2-4.3 MP of text-like lines (glyphs 6-14 px high, dark grey on off-white) with the code, its
//!   modules 2.2-4.5 px, somewhere on it; versions 1-6 (EC M), blur, noise, JPEG. Tags: `module2.7`,
//!   `glyph11`, the version and size;
//! - `receipt`: a printed receipt (380-520 x 1000-1500 px of text lines, the code's modules 2.5-4.5 px
//!   in a blank band) photographed upright within 20 degrees on a dark table, the photo 4:3 and a little
//!   taller than the receipt; versions 1-6 (EC M), blur, noise, JPEG. The receipt is a long region of
//!   text, a fraction of the frame;
//! - `model1`: QR Code Model 1, the symbology's first edition (versions 1-14, no alignment patterns or
//!   version information, codewords in 2x4 and 4x2 blocks; drawn by our own encoder, `model1_code`), every
//!   level and mask, one byte segment filling 60-100 % of the symbol, 3-6 px modules, turned up to ~10
//!   degrees, blur, noise, some JPEG. Tags: the version, EC level and mask. zxing-cpp 3.1.1 reads every
//!   one of versions 1-6 and none from version 7 on (in our draws, also clean upright ones).
//! - `clutter`: a small code on a card in a cluttered photo, 0.3-1.0 MP: a smooth textured background
//!   (value noise at 4-64 px round a random colour) under 5-40 pieces of clutter (filled rectangles,
//!   ellipses and triangles of random colours, 1-D barcodes, blocks of text-like lines), then the card on
//!   top, whole and inside the frame: versions 1-10 (EC L/M/Q/H), 2.2-6 px modules, 1-4 modules of quiet
//!   zone, ink 0-70 on paper 170-255, one side 78-100 % of the other and each corner moved by up to 4 % of
//!   the side, turned by any angle; uneven light, blur up to 1.3 px, noise, 60 % JPEG. The contrast map
//!   finds the text and barcodes as well and can rank them above the code. Tags: the version, EC level,
//!   `module3.1`, `q2` (quiet zone), `far0.86`, `rot123`, `shapes17`, the size.
//!
//! The warped categories (`steep`, `curved`, `damaged`) draw the upright code at 8 px a module and sample it
//! bilinearly by inverse mapping (2x2 per output pixel).
//!
//! Same (category, seed, index) -> identical image bytes. Every image outside `noqr` holds exactly one code
//! whose text is the truth `payload`.

use std::io;
use std::path::Path;

use image::{DynamicImage, RgbImage};
use qrcode::bits::Bits;
use qrcode::{Color, EcLevel, QrCode, Version};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::decode::grid::Homography;

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
    "design",
    "noqr",
    "steep",
    "curved",
    "damaged",
    "noquiet",
    "snapped",
    "bigmodule",
    "densetilt",
    "phone",
    "shadow",
    "page",
    "receipt",
    "model1",
    "clutter",
    "lens",
];

/// One generated image and its truth.
#[derive(Clone, Debug)]
pub struct CategoryImage {
    /// `NNNN.png` or `NNNN.jpg`.
    pub name: String,
    pub image: DynamicImage,
    /// The encoded bytes as written (PNG or JPEG).
    pub bytes: Vec<u8>,
    /// The code's text; `None` for an image without a code (`noqr`), written as `null` in truth.json.
    pub payload: Option<String>,
    pub tags: Vec<String>,
}

/// Images `0..count` of `category` for `seed`. Unknown categories yield nothing.
pub fn generate(category: &str, seed: u64, count: usize) -> Vec<CategoryImage> {
    (0..count)
        .map_while(|i| generate_one(category, seed, i))
        .collect()
}

/// Image `index` of `category` for `seed` (each image has a stream of its own: the same as `generate`
/// makes at that index); `None` for an unknown category.
pub fn generate_one(category: &str, seed: u64, index: usize) -> Option<CategoryImage> {
    let ci = CATEGORIES.iter().position(|&c| c == category)?;
    let mut rng = ChaCha8Rng::seed_from_u64(
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((ci as u64) << 40) ^ index as u64,
    );
    let i = index;
    Some(match CATEGORIES[ci] {
        "design" => make_design(i, &mut rng),
        "noqr" => make_noqr(i, &mut rng),
        "steep" => make_steep(i, &mut rng),
        "curved" => make_curved(i, &mut rng),
        "damaged" => make_damaged(i, &mut rng),
        "noquiet" => make_noquiet(i, &mut rng),
        "snapped" => make_snapped(i, &mut rng),
        "bigmodule" => make_bigmodule(i, &mut rng),
        "densetilt" => make_densetilt(i, &mut rng),
        "phone" => make_phone(i, &mut rng),
        "shadow" => make_shadow(i, &mut rng),
        "page" => make_page(i, &mut rng),
        "receipt" => make_receipt(i, &mut rng),
        "model1" => make_model1(i, &mut rng),
        "clutter" => make_clutter(i, &mut rng),
        "lens" => make_lens(i, &mut rng),
        cat => make(cat, i, &mut rng),
    })
}

/// Writes the images and a `truth.json` (`{name: {payload, tags}}`, as the label corpora; `payload` is `null`
/// for `noqr`) into `dir`.
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
    finish_image(index, image, scene.jpeg, Some(payload), tags)
}

/// Encodes the image (PNG, or JPEG at `jpeg` quality) and keeps what a reader of the file would see.
fn finish_image(
    index: usize,
    image: RgbImage,
    jpeg: Option<u8>,
    payload: Option<String>,
    tags: Vec<String>,
) -> CategoryImage {
    let (name, bytes) = encode_file(index, &image, jpeg);
    let image = if jpeg.is_some() {
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
    render_grid(code.width(), &code.to_colors(), s, rng)
}

/// [`render`] for any `n` x `n` module grid (row-major), also one that is not a valid code.
fn render_grid(n: usize, colors: &[Color], s: &Scene, rng: &mut ChaCha8Rng) -> RgbImage {
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
    develop(px, s.w, s.h, s.blur, s.noise, rng)
}

/// Blur (sigma in pixels, skipped below 0.05) and sensor noise (sd ~`noise` grey levels), then 8 bits.
fn develop(
    mut px: Vec<[f32; 3]>,
    w: u32,
    h: u32,
    sigma: f32,
    noise: f32,
    rng: &mut ChaCha8Rng,
) -> RgbImage {
    if sigma > 0.05 {
        blur(&mut px, w as usize, h as usize, sigma);
    }
    let mut img = RgbImage::new(w, h);
    for (i, p) in img.pixels_mut().enumerate() {
        let n = if noise > 0.0 {
            (rng.gen::<f32>() + rng.gen::<f32>() + rng.gen::<f32>() - 1.5) * 2.0 * noise
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

/// A module, finder ring or eye outline in a `design` code.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    Square,
    /// A square with its corners rounded off: corner radius as a fraction of the half side.
    Rounded(f32),
    Circle,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Square => "square",
            Shape::Rounded(_) => "rounded",
            Shape::Circle => "circle",
        }
    }

    /// Whether `(x, y)`, relative to the shape's centre, lies inside the shape of half side `h`.
    fn contains(self, x: f32, y: f32, h: f32) -> bool {
        let (x, y) = (x.abs(), y.abs());
        match self {
            Shape::Square => x <= h && y <= h,
            Shape::Circle => x * x + y * y <= h * h,
            Shape::Rounded(f) => {
                let r = f * h;
                let (qx, qy) = (x - (h - r), y - (h - r));
                x <= h && y <= h && (qx <= 0.0 || qy <= 0.0 || qx * qx + qy * qy <= r * r)
            }
        }
    }
}

/// Module colour over the code, `(u, v)` in 0..1 across it.
enum Fill {
    Solid([f32; 3]),
    /// From the first colour to the second along the direction (unit vector).
    Linear([f32; 3], [f32; 3], [f32; 2]),
    /// From the first colour at the centre to the second at the corners.
    Radial([f32; 3], [f32; 3]),
}

impl Fill {
    fn at(&self, u: f32, v: f32) -> [f32; 3] {
        let (a, b, t) = match *self {
            Fill::Solid(c) => return c,
            Fill::Linear(a, b, [dx, dy]) => {
                // Project onto the direction, normalised so the code's extreme corners get 0 and 1.
                let lo = dx.min(0.0) + dy.min(0.0);
                let hi = dx.max(0.0) + dy.max(0.0);
                (a, b, (u * dx + v * dy - lo) / (hi - lo))
            }
            Fill::Radial(a, b) => (a, b, ((u - 0.5).hypot(v - 0.5) / 0.7072).min(1.0)),
        };
        lerp(a, b, t)
    }
}

/// What the code is printed on, `(x, y)` in 0..1 across the image.
enum Backdrop {
    Plain([f32; 3]),
    Linear([f32; 3], [f32; 3]),
    /// A soft picture: pastel blobs (centre, radius, colour, strength) over a light base.
    Picture([f32; 3], Vec<([f32; 2], f32, [f32; 3], f32)>),
}

impl Backdrop {
    fn at(&self, x: f32, y: f32) -> [f32; 3] {
        match self {
            Backdrop::Plain(c) => *c,
            Backdrop::Linear(a, b) => lerp(*a, *b, (x + y) / 2.0),
            Backdrop::Picture(base, blobs) => {
                let mut c = *base;
                for &([bx, by], r, colour, strength) in blobs {
                    let d2 = (x - bx) * (x - bx) + (y - by) * (y - by);
                    let a = strength * (-d2 / (2.0 * r * r)).exp();
                    c = lerp(c, colour, a);
                }
                c
            }
        }
    }
}

fn lerp(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [0, 1, 2].map(|k| a[k] + (b[k] - a[k]) * t)
}

/// How a `design` code is drawn.
struct Design {
    /// Dot diameter (side, for rounded squares) as a fraction of the module.
    dot: f32,
    dots: Shape,
    ring: Shape,
    eye: Shape,
    fill: Fill,
    /// Two-tone: finder patterns in their own colour.
    finder: Option<[f32; 3]>,
    backdrop: Backdrop,
}

/// Dark print colours (luma 30-75) for `design` modules.
const INKS: [[f32; 3]; 8] = [
    [20.0, 20.0, 25.0],
    [20.0, 40.0, 140.0],
    [90.0, 20.0, 120.0],
    [150.0, 20.0, 40.0],
    [10.0, 90.0, 60.0],
    [0.0, 80.0, 120.0],
    [120.0, 50.0, 0.0],
    [60.0, 60.0, 70.0],
];

/// Light papers (luma >= 225) and pastel picture colours (luma >= 195).
const PAPERS: [[f32; 3]; 5] = [
    [250.0, 245.0, 230.0],
    [235.0, 245.0, 255.0],
    [255.0, 238.0, 242.0],
    [238.0, 250.0, 238.0],
    [245.0, 245.0, 245.0],
];
const PASTELS: [[f32; 3]; 6] = [
    [255.0, 215.0, 195.0],
    [195.0, 225.0, 255.0],
    [215.0, 250.0, 205.0],
    [255.0, 240.0, 180.0],
    [230.0, 210.0, 255.0],
    [205.0, 245.0, 245.0],
];

fn make_design(index: usize, rng: &mut ChaCha8Rng) -> CategoryImage {
    let mut tags = vec!["design".to_string()];
    let len = rng.gen_range(20..120);
    let text = random_text(rng, len);
    let ec = [EcLevel::M, EcLevel::Q, EcLevel::H][rng.gen_range(0..3)];
    let code = encode(&text, ec);
    let n = code.width() as f32;
    let module = rng.gen_range(3.0..8.0f32);
    let quiet = rng.gen_range(2..=4) as f32;
    let side = ((n + 2.0 * quiet) * module * rng.gen_range(1.0..1.3)).ceil() as u32;
    let mut s = Scene::plain(side, side, module);
    s.quiet = quiet;

    let dot = rng.gen_range(0.6..0.9f32);
    let dots = if rng.gen_bool(0.5) {
        Shape::Circle
    } else {
        Shape::Rounded(rng.gen_range(0.4..1.0))
    };
    let pick_outline = |rng: &mut ChaCha8Rng, square: f64| {
        let r = rng.gen::<f64>();
        if r < square {
            Shape::Square
        } else if r < (1.0 + square) / 2.0 {
            Shape::Rounded(rng.gen_range(0.3..0.8))
        } else {
            Shape::Circle
        }
    };
    let ring = pick_outline(rng, 0.15);
    let eye = pick_outline(rng, 0.15);
    let ink = INKS[rng.gen_range(0..INKS.len())];
    let ink2 = INKS[rng.gen_range(0..INKS.len())];
    let (fill, fill_tag) = match rng.gen_range(0..20) {
        0..=7 => (Fill::Solid(ink), "fill-solid"),
        8..=14 => {
            const D: f32 = std::f32::consts::FRAC_1_SQRT_2;
            let dir = [[1.0, 0.0], [0.0, 1.0], [D, D], [D, -D]][rng.gen_range(0..4)];
            (Fill::Linear(ink, ink2, dir), "fill-linear")
        }
        _ => (Fill::Radial(ink, ink2), "fill-radial"),
    };
    let finder = rng
        .gen_bool(0.3)
        .then(|| INKS[rng.gen_range(0..INKS.len())]);
    let (backdrop, bg_tag) = match rng.gen_range(0..20) {
        0..=6 => (Backdrop::Plain([255.0; 3]), "bg-white"),
        7..=11 => (
            Backdrop::Plain(PAPERS[rng.gen_range(0..PAPERS.len())]),
            "bg-colour",
        ),
        12..=15 => (
            Backdrop::Linear(
                PAPERS[rng.gen_range(0..PAPERS.len())],
                PASTELS[rng.gen_range(0..PASTELS.len())],
            ),
            "bg-gradient",
        ),
        _ => {
            let blobs = (0..rng.gen_range(3..7))
                .map(|_| {
                    (
                        [rng.gen::<f32>(), rng.gen::<f32>()],
                        rng.gen_range(0.1..0.35),
                        PASTELS[rng.gen_range(0..PASTELS.len())],
                        rng.gen_range(0.5..0.95),
                    )
                })
                .collect();
            (
                Backdrop::Picture(PAPERS[rng.gen_range(0..PAPERS.len())], blobs),
                "bg-picture",
            )
        }
    };
    if ec != EcLevel::M && rng.gen_bool(0.4) {
        s.logo = Some(if ec == EcLevel::H {
            rng.gen_range(0.2..0.28)
        } else {
            rng.gen_range(0.14..0.2)
        });
    }
    if rng.gen_bool(0.4) {
        s.noise = rng.gen_range(1.5..4.0);
    }
    if rng.gen_bool(0.3) {
        s.blur = rng.gen_range(0.3..0.7);
    }
    s.jpeg = rng.gen_bool(0.4).then(|| rng.gen_range(75..=90));

    tags.push(format!("dot-{}", dots.name()));
    tags.push(format!("dot{dot:.2}"));
    tags.push(format!("ring-{}", ring.name()));
    tags.push(format!("eye-{}", eye.name()));
    tags.push(fill_tag.to_string());
    if finder.is_some() {
        tags.push("two-tone".to_string());
    }
    tags.push(bg_tag.to_string());
    if s.logo.is_some() {
        tags.push("logo".to_string());
    }
    tags.push(format!("{ec:?}"));
    tags.push(format!("module{module:.1}"));
    if s.noise > 0.0 {
        tags.push("noise".to_string());
    }
    if s.blur > 0.0 {
        tags.push("blur".to_string());
    }
    if s.jpeg.is_some() {
        tags.push("jpeg".to_string());
    }
    tags.push(format!("v{}", version_of(&code)));
    let d = Design {
        dot,
        dots,
        ring,
        eye,
        fill,
        finder,
        backdrop,
    };
    let image = render_design(&code, &s, &d, rng);
    finish_image(index, image, s.jpeg, Some(text), tags)
}

/// Draws a `design` code, 4x4 supersampled: dots for dark modules, the three finder patterns as
/// ring + eye outlines, the logo on top, the backdrop under everything.
fn render_design(code: &QrCode, s: &Scene, d: &Design, rng: &mut ChaCha8Rng) -> RgbImage {
    let n = code.width();
    let colors = code.to_colors();
    let (w, h) = (s.w as usize, s.h as usize);
    let nf = n as f32;
    let half = nf / 2.0;
    let logo = s.logo.map(|f| f * half);
    let finders = [(0.0, 0.0), (nf - 7.0, 0.0), (0.0, nf - 7.0)];
    const SS: usize = 4;
    let mut px = vec![[0f32; 3]; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut acc = [0f32; 3];
            for sy in 0..SS {
                for sx in 0..SS {
                    let ix = x as f32 + (sx as f32 + 0.5) / SS as f32;
                    let iy = y as f32 + (sy as f32 + 0.5) / SS as f32;
                    let paper = d.backdrop.at(ix / s.w as f32, iy / s.h as f32);
                    let u = (ix - s.cx) / s.module + half;
                    let v = (iy - s.cy) / s.module + half;
                    let c = if let Some(l) =
                        logo.filter(|&l| (u - half).abs() < l + 0.5 && (v - half).abs() < l + 0.5)
                    {
                        logo_colour(u - half, v - half, l)
                    } else if u < 0.0 || v < 0.0 || u >= nf || v >= nf {
                        paper
                    } else if let Some(&(fx, fy)) = finders
                        .iter()
                        .find(|&&(fx, fy)| u >= fx && u < fx + 7.0 && v >= fy && v < fy + 7.0)
                    {
                        let (lx, ly) = (u - fx - 3.5, v - fy - 3.5);
                        let dark = (d.ring.contains(lx, ly, 3.5) && !d.ring.contains(lx, ly, 2.5))
                            || d.eye.contains(lx, ly, 1.5);
                        if dark {
                            d.finder.unwrap_or_else(|| d.fill.at(u / nf, v / nf))
                        } else {
                            paper
                        }
                    } else {
                        let (iu, iv) = (u.floor(), v.floor());
                        let dark = colors[iv as usize * n + iu as usize] == Color::Dark
                            && d.dots.contains(u - iu - 0.5, v - iv - 0.5, d.dot / 2.0);
                        if dark {
                            d.fill.at(u / nf, v / nf)
                        } else {
                            paper
                        }
                    };
                    for k in 0..3 {
                        acc[k] += c[k];
                    }
                }
            }
            px[y * w + x] = acc.map(|a| a / (SS * SS) as f32);
        }
    }
    develop(px, s.w, s.h, s.blur, s.noise, rng)
}

/// `noqr` image sizes, 0.5-1.0 MP.
const NOQR_SIZES: [(u32, u32); 7] = [
    (1024, 576),
    (800, 800),
    (1024, 768),
    (1280, 720),
    (960, 960),
    (900, 600),
    (1000, 1000),
];

fn make_noqr(index: usize, rng: &mut ChaCha8Rng) -> CategoryImage {
    let (w, h) = NOQR_SIZES[rng.gen_range(0..NOQR_SIZES.len())];
    let (wu, hu) = (w as usize, h as usize);
    let mut tags = vec!["noqr".to_string()];
    let jpeg = rng.gen_bool(0.4).then(|| rng.gen_range(80..=90));
    let image = match index % 6 {
        0 => {
            tags.push("white-noise".to_string());
            let colour = rng.gen_bool(0.5);
            let mut img = RgbImage::new(w, h);
            for p in img.pixels_mut() {
                p.0 = if colour {
                    rng.gen()
                } else {
                    [rng.gen::<u8>(); 3]
                };
            }
            img
        }
        1 => {
            let sigma = rng.gen_range(1.0..4.0f32);
            tags.push("blurred-noise".to_string());
            tags.push(format!("sigma{sigma:.1}"));
            let mut px: Vec<[f32; 3]> = (0..wu * hu)
                .map(|_| [rng.gen_range(0.0..255.0); 3])
                .collect();
            blur(&mut px, wu, hu, sigma);
            // Stretch the (now faint) texture back to a full-contrast one.
            let mean = px.iter().map(|p| p[0]).sum::<f32>() / px.len() as f32;
            let sd =
                (px.iter().map(|p| (p[0] - mean).powi(2)).sum::<f32>() / px.len() as f32).sqrt();
            let gain = rng.gen_range(40.0..70.0) / sd.max(1e-3);
            let px = px
                .into_iter()
                .map(|p| [128.0 + (p[0] - mean) * gain; 3])
                .collect();
            develop(px, w, h, 0.0, 2.0, rng)
        }
        2 => {
            let pitch = [2.0f32, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0][rng.gen_range(0..9)];
            let angle = if rng.gen_bool(0.5) {
                0.0
            } else {
                rng.gen_range(-0.4..0.4f32)
            };
            tags.push("checkerboard".to_string());
            tags.push(format!("pitch{pitch}"));
            let (dark, light) = (rng.gen_range(10.0..60.0f32), rng.gen_range(190.0..245.0f32));
            let (sin, cos) = angle.sin_cos();
            let mut px = vec![[0f32; 3]; wu * hu];
            for y in 0..hu {
                for x in 0..wu {
                    let mut acc = 0.0;
                    for (ox, oy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                        let (fx, fy) = (x as f32 + ox, y as f32 + oy);
                        let u = ((cos * fx + sin * fy) / pitch).floor() as i64;
                        let v = ((-sin * fx + cos * fy) / pitch).floor() as i64;
                        acc += if (u + v).rem_euclid(2) == 0 {
                            dark
                        } else {
                            light
                        };
                    }
                    px[y * wu + x] = [acc / 4.0; 3];
                }
            }
            let sigma = rng.gen_range(0.0..0.8);
            develop(px, w, h, sigma, 2.0, rng)
        }
        3 => {
            tags.push("text-page".to_string());
            let paper = rng.gen_range(235.0..252.0f32);
            let ink = rng.gen_range(10.0..60.0f32);
            let mut g = vec![paper; wu * hu];
            let mut rect = |x0: f32, y0: f32, x1: f32, y1: f32| {
                let (x0, x1) = (x0.max(0.0) as usize, (x1.min(w as f32)) as usize);
                let (y0, y1) = (y0.max(0.0) as usize, (y1.min(h as f32)) as usize);
                for yy in y0..y1 {
                    for xx in x0..x1 {
                        g[yy * wu + xx] = ink;
                    }
                }
            };
            let line = rng.gen_range(14.0..28.0f32);
            let margin = rng.gen_range(30.0..80.0f32);
            let xh = line * rng.gen_range(0.38..0.48);
            let mut base = margin + line;
            while base < h as f32 - margin {
                // Short last lines of paragraphs, then a blank line.
                let end = if rng.gen_bool(0.12) {
                    rng.gen_range(margin + 40.0..w as f32 - margin)
                } else {
                    w as f32 - margin
                };
                let mut x = margin;
                while x < end {
                    for _ in 0..rng.gen_range(1..9) {
                        let lw = xh * rng.gen_range(0.5..1.0);
                        let (top, bottom) = match rng.gen_range(0..10) {
                            0..=2 => (base - xh * 1.6, base),
                            3 => (base - xh, base + xh * 0.5),
                            _ => (base - xh, base),
                        };
                        rect(x, top, x + lw, bottom);
                        x += lw + (xh * 0.18).max(1.0);
                    }
                    x += xh * rng.gen_range(0.7..1.2);
                }
                base += line;
                if end < w as f32 - margin {
                    base += line;
                }
            }
            let px = g.into_iter().map(|v| [v; 3]).collect();
            let sigma = rng.gen_range(0.3..0.8);
            develop(px, w, h, sigma, 2.0, rng)
        }
        4 => {
            tags.push("finder-page".to_string());
            let count = rng.gen_range(15..50);
            tags.push(format!("finders{count}"));
            let paper = rng.gen_range(220.0..250.0f32);
            let ink = rng.gen_range(10.0..50.0f32);
            let mut g = vec![paper; wu * hu];
            for _ in 0..count {
                let m = rng.gen_range(2.0..8.0f32);
                let (x0, y0) = (
                    rng.gen_range(0.0..(w as f32 - 7.0 * m)),
                    rng.gen_range(0.0..(h as f32 - 7.0 * m)),
                );
                // 7x7 dark, 5x5 light, 3x3 dark: the 1:1:3:1:1 finder pattern.
                for (inset, c) in [(0.0, ink), (1.0, paper), (2.0, ink)] {
                    let (a, b) = (inset * m, (7.0 - inset) * m);
                    for yy in (y0 + a) as usize..(y0 + b) as usize {
                        for xx in (x0 + a) as usize..(x0 + b) as usize {
                            g[yy * wu + xx] = c;
                        }
                    }
                }
            }
            let px = g.into_iter().map(|v| [v; 3]).collect();
            let sigma = rng.gen_range(0.3..0.8);
            develop(px, w, h, sigma, 2.0, rng)
        }
        _ => {
            let (n, colors, version, valid_format) = fake_code(index, rng);
            tags.push("fake-code".to_string());
            tags.push(
                if valid_format {
                    "format-valid"
                } else {
                    "format-invalid"
                }
                .to_string(),
            );
            tags.push(format!("v{version}"));
            let nf = n as f32;
            let module = rng
                .gen_range(3.0..8.0f32)
                .min(w.min(h) as f32 / (nf + 12.0));
            let mut s = Scene::plain(w, h, module);
            s.angle = if rng.gen_bool(0.5) {
                0.0
            } else {
                rng.gen_range(-0.3..0.3)
            };
            let ext =
                (nf / 2.0 + s.quiet) * module * (s.angle.sin().abs() + s.angle.cos().abs()) + 2.0;
            s.cx = rng.gen_range(ext..(w as f32 - ext).max(ext + 1.0));
            s.cy = rng.gen_range(ext..(h as f32 - ext).max(ext + 1.0));
            s.background = [150.0, 140.0, 130.0];
            s.blur = 0.5;
            s.noise = 2.0;
            tags.push(format!("module{module:.1}"));
            render_grid(n, &colors, &s, rng)
        }
    };
    tags.push(format!("{w}x{h}"));
    if jpeg.is_some() {
        tags.push("jpeg".to_string());
    }
    finish_image(index, image, jpeg, None, tags)
}

/// A grid that looks like a code and is none: a real code's finder, separator, timing and alignment
/// patterns (and dark module) around random data modules (version information, from version 7, is random
/// too: `is_functional` does not cover it). Every other fake code (by `index / 6`) gets
/// format information that no decoder accepts (both copies at Hamming distance >= 4 from all 32 valid
/// words, beyond the 3 errors BCH(15,5) corrects); the others keep the real format over the random data
/// (a decoder then gets as far as Reed-Solomon, which fails). Returns (size, modules, version, format valid).
fn fake_code(index: usize, rng: &mut ChaCha8Rng) -> (usize, Vec<Color>, usize, bool) {
    let len = rng.gen_range(10..200);
    let text = random_text(rng, len);
    let code = encode(
        &text,
        [EcLevel::L, EcLevel::M, EcLevel::Q][rng.gen_range(0..3)],
    );
    let n = code.width();
    let mut colors = code.to_colors();
    for y in 0..n {
        for x in 0..n {
            if !code.is_functional(x, y) {
                colors[y * n + x] = if rng.gen_bool(0.5) {
                    Color::Dark
                } else {
                    Color::Light
                };
            }
        }
    }
    let valid_format = (index / 6) % 2 == 1;
    if !valid_format {
        // (x, y) of the format bits, most significant first, as qrcode places them (negative: from the end).
        const MAIN: [(i32, i32); 15] = [
            (0, 8),
            (1, 8),
            (2, 8),
            (3, 8),
            (4, 8),
            (5, 8),
            (7, 8),
            (8, 8),
            (8, 7),
            (8, 5),
            (8, 4),
            (8, 3),
            (8, 2),
            (8, 1),
            (8, 0),
        ];
        const SIDE: [(i32, i32); 15] = [
            (8, -1),
            (8, -2),
            (8, -3),
            (8, -4),
            (8, -5),
            (8, -6),
            (8, -7),
            (-8, 8),
            (-7, 8),
            (-6, 8),
            (-5, 8),
            (-4, 8),
            (-3, 8),
            (-2, 8),
            (-1, 8),
        ];
        let valid: Vec<u32> = (0..32).map(format_word).collect();
        for coords in [MAIN, SIDE] {
            let word = loop {
                let w = rng.gen_range(0..1u32 << 15);
                if valid.iter().all(|&v| (v ^ w).count_ones() >= 4) {
                    break w;
                }
            };
            for (i, &(x, y)) in coords.iter().enumerate() {
                let x = if x < 0 { x + n as i32 } else { x } as usize;
                let y = if y < 0 { y + n as i32 } else { y } as usize;
                colors[y * n + x] = if (word >> (14 - i)) & 1 == 1 {
                    Color::Dark
                } else {
                    Color::Light
                };
            }
        }
    }
    (n, colors, version_of(&code), valid_format)
}

/// The masked 15-bit format word for 5 data bits (EC level and mask): BCH(15,5), generator 0x537, XOR 0x5412.
fn format_word(data: u32) -> u32 {
    let mut rem = data << 10;
    for i in (0..5).rev() {
        if rem & (1 << (i + 10)) != 0 {
            rem ^= 0x537 << i;
        }
    }
    ((data << 10) | rem) ^ 0x5412
}

/// The length of the longest prefix of `s` (ASCII) that `fits` (binary search; 0 when nothing does).
fn longest_prefix(s: &str, fits: impl Fn(&str) -> bool) -> usize {
    let (mut lo, mut hi) = (0usize, s.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if fits(&s[..mid]) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// A code of exactly version `v` at level `ec` whose text fills 60-100 % of it: URL-like when 30+ characters
/// fit, else random URL-safe characters.
fn code_of_version(rng: &mut ChaCha8Rng, v: i16, ec: EcLevel) -> (QrCode, String) {
    let url = random_text(rng, 400);
    let fits = |t: &str| QrCode::with_version(t.as_bytes(), Version::Normal(v), ec).is_ok();
    let cap = |s: &str| longest_prefix(s, fits);
    let base = if cap(&url) >= 30 {
        &url[..]
    } else {
        &url[19..]
    };
    let c = cap(base).max(1);
    let len = rng.gen_range((c * 3 / 5).max(1)..=c);
    let text = base[..len].to_string();
    let code = QrCode::with_version(text.as_bytes(), Version::Normal(v), ec).expect("text fits");
    (code, text)
}

/// A stain's colour and opacity at module coordinates `(u, v)`.
type StainAt<'a> = &'a dyn Fn(f32, f32) -> ([f32; 3], f32);

/// Flat pixels per module of an upright code drawn for warping.
const FLAT_PX: usize = 8;

/// An upright code with `quiet` modules of paper around it, [`FLAT_PX`] pixels a module, that warped
/// categories sample bilinearly (inverse mapping: output pixel -> module coordinates -> flat pixel).
struct Flat {
    n: usize,
    quiet: usize,
    side: usize,
    paper: [f32; 3],
    px: Vec<[f32; 3]>,
}

impl Flat {
    /// `stain`, when given, is composited over the modules: `(u, v)` in modules -> (colour, opacity).
    fn new(
        n: usize,
        colors: &[Color],
        quiet: usize,
        fg: [f32; 3],
        paper: [f32; 3],
        stain: Option<StainAt>,
    ) -> Flat {
        let side = (n + 2 * quiet) * FLAT_PX;
        let mut px = vec![paper; side * side];
        for y in 0..side {
            for x in 0..side {
                let (mx, my) = (x / FLAT_PX, y / FLAT_PX);
                if mx < quiet || my < quiet || mx >= n + quiet || my >= n + quiet {
                    continue;
                }
                let mut c = match colors[(my - quiet) * n + mx - quiet] {
                    Color::Dark => fg,
                    Color::Light => paper,
                };
                if let Some(stain) = stain {
                    let u = (x as f32 + 0.5) / FLAT_PX as f32 - quiet as f32;
                    let v = (y as f32 + 0.5) / FLAT_PX as f32 - quiet as f32;
                    let (colour, a) = stain(u, v);
                    if a > 0.0 {
                        c = lerp(c, colour, a);
                    }
                }
                px[y * side + x] = c;
            }
        }
        Flat {
            n,
            quiet,
            side,
            paper,
            px,
        }
    }

    /// Bilinear sample at module coordinates `(u, v)` (0 = the code's top-left corner); `None` outside the
    /// code and its quiet zone.
    fn sample(&self, u: f32, v: f32) -> Option<[f32; 3]> {
        let q = self.quiet as f32;
        let ext = self.n as f32 + q;
        if !(u >= -q && v >= -q && u <= ext && v <= ext) {
            return None;
        }
        let fx = (u + q) * FLAT_PX as f32 - 0.5;
        let fy = (v + q) * FLAT_PX as f32 - 0.5;
        let (x0, y0) = (fx.floor(), fy.floor());
        let (tx, ty) = (fx - x0, fy - y0);
        let last = self.side as isize - 1;
        let at = |x: f32, y: f32| {
            let x = (x as isize).clamp(0, last) as usize;
            let y = (y as isize).clamp(0, last) as usize;
            self.px[y * self.side + x]
        };
        let top = lerp(at(x0, y0), at(x0 + 1.0, y0), tx);
        let bottom = lerp(at(x0, y0 + 1.0), at(x0 + 1.0, y0 + 1.0), tx);
        Some(lerp(top, bottom, ty))
    }
}

/// Renders `w` x `h` pixels, 2x2 supersampled, by inverse mapping: `map(x, y)` gives the module
/// coordinates and a shading factor of the surface seen at image point `(x, y)` (outside the code's quiet
/// zone: the flat's paper, shaded), or `None` where the surface is not seen (`outside(x, y)` there).
fn warp(
    flat: &Flat,
    w: u32,
    h: u32,
    map: &dyn Fn(f32, f32) -> Option<(f32, f32, f32)>,
    outside: &dyn Fn(f32, f32) -> [f32; 3],
) -> Vec<[f32; 3]> {
    let (wu, hu) = (w as usize, h as usize);
    let mut px = vec![[0f32; 3]; wu * hu];
    for y in 0..hu {
        for x in 0..wu {
            let mut acc = [0f32; 3];
            for (ox, oy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                let (fx, fy) = (x as f32 + ox, y as f32 + oy);
                let c = match map(fx, fy) {
                    Some((u, v, shade)) => {
                        flat.sample(u, v).unwrap_or(flat.paper).map(|c| c * shade)
                    }
                    None => outside(fx, fy),
                };
                for k in 0..3 {
                    acc[k] += c[k] / 4.0;
                }
            }
            px[y * wu + x] = acc;
        }
    }
    px
}

/// The smallest axis-aligned box holding `points`: (min x, min y, max x, max y).
fn bounding_box(points: &[(f64, f64)]) -> (f64, f64, f64, f64) {
    points
        .iter()
        .fold((f64::MAX, f64::MAX, f64::MIN, f64::MIN), |b, p| {
            (b.0.min(p.0), b.1.min(p.1), b.2.max(p.0), b.3.max(p.1))
        })
}

/// Light papers and dark inks (grey with a slight tint) for the warped categories.
fn paper_and_ink(rng: &mut ChaCha8Rng) -> ([f32; 3], [f32; 3]) {
    let p = rng.gen_range(205.0..245.0f32);
    let tint = [
        rng.gen_range(-8.0..8.0f32),
        rng.gen_range(-8.0..8.0f32),
        rng.gen_range(-8.0..8.0f32),
    ];
    let ink = rng.gen_range(15.0..60.0f32);
    (
        [0, 1, 2].map(|k| (p + tint[k]).min(255.0)),
        [0, 1, 2].map(|k| (ink + tint[k] / 2.0).max(0.0)),
    )
}

/// `steep` image sizes, 0.3-0.8 MP, before any enlargement the code needs.
fn steep_size(rng: &mut ChaCha8Rng) -> (f32, f32) {
    let mp = rng.gen_range(0.3e6..0.8e6f32);
    let (ax, ay) = [(4.0, 3.0), (3.0, 4.0), (1.0, 1.0), (16.0, 9.0)][rng.gen_range(0..4)];
    let w = (mp * ax / ay).sqrt();
    (w, mp / w)
}

fn make_steep(index: usize, rng: &mut ChaCha8Rng) -> CategoryImage {
    tilted(index, rng, "steep", 1..=10, 3.0..6.0, 0.55..0.8)
}

/// Dense codes (versions 15-40) seen at a slant, the far side 60-80 % of the near one, 2.5-4 px modules
/// across the longest side: a phone held at an angle over a code that fills the view. zxing-cpp read
/// more of these than we did (ad-hoc probes, stop 16).
fn make_densetilt(index: usize, rng: &mut ChaCha8Rng) -> CategoryImage {
    tilted(index, rng, "densetilt", 15..=40, 2.5..4.0, 0.6..0.8)
}

/// A code of a version in `versions`, `module` px a module across its longest side, on a plane tilted so
/// that its far side is `far` times the near one, at any rotation (see `make_steep`).
fn tilted(
    index: usize,
    rng: &mut ChaCha8Rng,
    category: &str,
    versions: std::ops::RangeInclusive<i16>,
    module: std::ops::Range<f64>,
    far: std::ops::Range<f64>,
) -> CategoryImage {
    let mut tags = vec![category.to_string()];
    let v = rng.gen_range(versions);
    let ec = [EcLevel::L, EcLevel::M, EcLevel::Q][rng.gen_range(0..3)];
    let (code, text) = code_of_version(rng, v, ec);
    let n = code.width();
    let nf = n as f64;
    let quiet = 4usize;
    let module = rng.gen_range(module);
    // The code's plane, half side 1, tilted by `tilt` about the in-plane axis across direction `phi`, seen
    // by a pinhole camera at distance `dist`: the far side (far corner, for a diagonal tilt) comes out
    // `far` times the near one.
    let far = rng.gen_range(far);
    let kind = rng.gen_range(0..3);
    let quarter = std::f64::consts::FRAC_PI_2;
    let phi = match kind {
        0 => quarter * (2 * rng.gen_range(0..2)) as f64,
        1 => quarter * (2 * rng.gen_range(0..2) + 1) as f64,
        _ => quarter * (rng.gen_range(0..4) as f64 + 0.5) + rng.gen_range(-0.35..0.35),
    };
    tags.push(["tilt-x", "tilt-y", "tilt-xy"][kind].to_string());
    tags.push(format!("far{far:.2}"));
    // 29-52 degrees: the view foreshortens modules across the near side by cos(tilt), 0.62-0.87.
    let tilt = rng.gen_range(0.5..0.9f64);
    tags.push(format!("tilt{:.0}", tilt.to_degrees()));
    let (ps, pc) = phi.sin_cos();
    let s_max = ps.abs() + pc.abs();
    let dist = s_max * tilt.sin() * (1.0 + far) / (1.0 - far);
    let project = |x: f64, y: f64| {
        let s = x * pc + y * ps;
        let (x, y) = (
            x + pc * s * (tilt.cos() - 1.0),
            y + ps * s * (tilt.cos() - 1.0),
        );
        let k = dist / (dist + s * tilt.sin());
        [x * k, y * k]
    };
    let corners = [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)].map(|(x, y)| project(x, y));
    let longest = (0..4)
        .map(|i| {
            let (a, b) = (corners[i], corners[(i + 1) % 4]);
            (a[0] - b[0]).hypot(a[1] - b[1])
        })
        .fold(0.0, f64::max);
    let scale = module * nf / longest;
    let angle = rng.gen_range(0.0..std::f64::consts::TAU);
    let (sa, ca) = angle.sin_cos();
    let placed = corners.map(|[x, y]| ((ca * x - sa * y) * scale, (sa * x + ca * y) * scale));
    // A tilted square's image is never a parallelogram (its far side is at most 0.8 of the near one), so this
    // is the general perspective map, not the affine special case, and the quad cannot be degenerate.
    let mut hm =
        Homography::square_to_quad(placed).expect("a steep view is a proper quadrilateral");
    // Where the quiet zone's corners land: the image holds them with a margin.
    let qn = quiet as f64 / nf;
    let outer = [
        (-qn, -qn),
        (1.0 + qn, -qn),
        (1.0 + qn, 1.0 + qn),
        (-qn, 1.0 + qn),
    ]
    .map(|(x, y)| hm.map(x, y));
    let (min_x, min_y, max_x, max_y) = bounding_box(&outer);
    let (sw, sh) = steep_size(rng);
    let pad = 6.0;
    let w = (sw as f64).max(max_x - min_x + 2.0 * pad).ceil();
    let h = (sh as f64).max(max_y - min_y + 2.0 * pad).ceil();
    let ox = rng.gen_range(pad..=(w - (max_x - min_x) - pad).max(pad)) - min_x;
    let oy = rng.gen_range(pad..=(h - (max_y - min_y) - pad).max(pad)) - min_y;
    hm.translate(ox, oy);
    let inv = hm.inverse().expect("a steep view's map is invertible");
    // The weight's sign on the code's side of the horizon: the code's centre lands at (ox, oy).
    let front = inv.map_weighted(ox, oy).2.signum();
    let (paper, ink) = paper_and_ink(rng);
    let gain = rng.gen_range(-0.12..0.12f32);
    let dir = rng.gen_range(0.0..std::f32::consts::TAU);
    let (ds, dc) = dir.sin_cos();
    let (wf, hf) = (w as f32, h as f32);
    let light =
        move |x: f32, y: f32| 1.0 + gain * ((x - wf / 2.0) * dc + (y - hf / 2.0) * ds) / wf.max(hf);
    let flat = Flat::new(n, &code.to_colors(), quiet, ink, paper, None);
    let map = |x: f32, y: f32| {
        let (s, t, wgt) = inv.map_weighted(x as f64, y as f64);
        (wgt.signum() == front).then(|| ((s * nf) as f32, (t * nf) as f32, light(x, y)))
    };
    let outside = |x: f32, y: f32| paper.map(|c| c * light(x, y));
    let px = warp(&flat, w as u32, h as u32, &map, &outside);
    let blur = rng.gen_range(0.3..0.8f32);
    let noise = rng.gen_range(1.5..4.0f32);
    tags.push(format!("{ec:?}"));
    tags.push(format!("module{module:.1}"));
    tags.push(format!("rot{:.0}", angle.to_degrees()));
    tags.push(format!("v{v}"));
    let image = develop(px, w as u32, h as u32, blur, noise, rng);
    finish_image(index, image, None, Some(text), tags)
}

fn make_curved(index: usize, rng: &mut ChaCha8Rng) -> CategoryImage {
    let mut tags = vec!["curved".to_string()];
    let v = rng.gen_range(1..=8i16);
    let ec = [EcLevel::L, EcLevel::M, EcLevel::Q][rng.gen_range(0..3)];
    let (code, text) = code_of_version(rng, v, ec);
    let n = code.width();
    let nf = n as f32;
    let quiet = 4usize;
    let module = rng.gen_range(3.0..6.0f32);
    let radius_ratio = rng.gen_range(0.7..1.3f32);
    let r = radius_ratio * nf * module;
    // The code's centre sits a little off the side facing the camera.
    let offset = rng.gen_range(-0.15..0.15f32);
    let vertical = rng.gen_bool(0.5);
    tags.push(
        if vertical {
            "axis-vertical"
        } else {
            "axis-horizontal"
        }
        .to_string(),
    );
    tags.push(format!("radius{radius_ratio:.2}"));
    // "a" runs across the curve, "b" along the axis.
    let margin_a = rng.gen_range(12.0..80.0f32);
    let extent_b = (nf + 2.0 * quiet as f32) * module + rng.gen_range(30.0..200.0f32);
    let extent_a = 2.0 * r + 2.0 * margin_a;
    let (w, h) = if vertical {
        (extent_a.ceil() as u32, extent_b.ceil() as u32)
    } else {
        (extent_b.ceil() as u32, extent_a.ceil() as u32)
    };
    let (ca, cb) = (
        extent_a / 2.0,
        extent_b / 2.0 + rng.gen_range(-10.0..10.0f32),
    );
    let (paper, ink) = paper_and_ink(rng);
    let shading = rng.gen_range(0.15..0.35f32);
    let light_at = rng.gen_range(-0.6..0.6f32);
    let backdrop = [rng.gen_range(70.0..150.0f32); 3].map(|c| c + rng.gen_range(-15.0..15.0f32));
    let flat = Flat::new(n, &code.to_colors(), quiet, ink, paper, None);
    let map = |x: f32, y: f32| {
        let (a, b) = if vertical { (x, y) } else { (y, x) };
        let d = (a - ca) / r;
        if d.abs() >= 1.0 {
            return None;
        }
        let psi = d.asin();
        let u = (r * (psi - offset)) / module + nf / 2.0;
        let v = (b - cb) / module + nf / 2.0;
        let shade = 1.0 - shading * (1.0 - (psi - light_at).cos());
        Some(if vertical {
            (u, v, shade)
        } else {
            (v, u, shade)
        })
    };
    let outside = |_: f32, _: f32| backdrop;
    let px = warp(&flat, w, h, &map, &outside);
    let blur = rng.gen_range(0.3..0.8f32);
    let noise = rng.gen_range(1.5..3.5f32);
    tags.push(format!("{ec:?}"));
    tags.push(format!("module{module:.1}"));
    tags.push(format!("v{v}"));
    let image = develop(px, w, h, blur, noise, rng);
    finish_image(index, image, None, Some(text), tags)
}

/// A label seen through a lens with barrel or pincushion distortion (a phone's wide lens close up): the
/// image point at distance r from the frame's centre (r = 1 at a corner) shows what an ideal lens would show
/// at r (1 + k r^2). The code, versions 5-20 (most with several alignment patterns), is turned by any angle
/// and placed off the centre, its side 45-75 % of the frame's shorter one, so the distortion bends it
/// unevenly. Vignetting, blur, noise; some frames JPEG.
fn make_lens(index: usize, rng: &mut ChaCha8Rng) -> CategoryImage {
    let mut tags = vec!["lens".to_string()];
    let v = rng.gen_range(5..=20i16);
    let ec = [EcLevel::L, EcLevel::M, EcLevel::Q][rng.gen_range(0..3)];
    let (code, text) = code_of_version(rng, v, ec);
    let n = code.width();
    let nf = n as f32;
    let quiet = 4usize;
    let (w, h) = [(800u32, 600u32), (960, 720), (1024, 768), (1152, 864)][rng.gen_range(0..4)];
    let (wf, hf) = (w as f32, h as f32);
    let share = rng.gen_range(0.45..0.75f32);
    let module = share * hf / nf;
    let magnitude = rng.gen_range(0.12..0.35f32);
    let k = if rng.gen_bool(0.5) {
        -magnitude
    } else {
        magnitude
    };
    let angle = rng.gen_range(0.0..std::f32::consts::TAU);
    let (sin, cos) = angle.sin_cos();
    // The label's centre, up to a fifth of the frame off its centre (where the code still fits).
    let half = (nf / 2.0 + quiet as f32) * module * std::f32::consts::SQRT_2;
    let (cx, cy) = (
        wf / 2.0 + rng.gen_range(-0.2..0.2f32) * wf,
        hf / 2.0 + rng.gen_range(-0.2..0.2f32) * hf,
    );
    let (cx, cy) = (
        cx.clamp(half.min(wf / 2.0), (wf - half).max(wf / 2.0)),
        cy.clamp(half.min(hf / 2.0), (hf - half).max(hf / 2.0)),
    );
    let (paper, ink) = paper_and_ink(rng);
    let backdrop = [rng.gen_range(60.0..160.0f32); 3].map(|c| c + rng.gen_range(-20.0..20.0f32));
    let vignette = rng.gen_range(0.05..0.3f32);
    let margin = rng.gen_range(1.0..6.0f32);
    let reach = nf / 2.0 + quiet as f32 + margin;
    let radius = (wf * wf + hf * hf).sqrt() / 2.0;
    let flat = Flat::new(n, &code.to_colors(), quiet, ink, paper, None);
    let map = |x: f32, y: f32| {
        let (dx, dy) = ((x - wf / 2.0) / radius, (y - hf / 2.0) / radius);
        let r2 = dx * dx + dy * dy;
        let f = 1.0 + k * r2;
        let (ix, iy) = (
            wf / 2.0 + dx * f * radius - cx,
            hf / 2.0 + dy * f * radius - cy,
        );
        let (u, v) = (
            (ix * cos + iy * sin) / module + nf / 2.0,
            (-ix * sin + iy * cos) / module + nf / 2.0,
        );
        ((u - nf / 2.0).abs() <= reach && (v - nf / 2.0).abs() <= reach).then_some((
            u,
            v,
            1.0 - vignette * r2,
        ))
    };
    let outside = |_: f32, _: f32| backdrop;
    let px = warp(&flat, w, h, &map, &outside);
    let blur = rng.gen_range(0.3..0.9f32);
    let noise = rng.gen_range(1.0..4.0f32);
    tags.push(if k < 0.0 { "pincushion" } else { "barrel" }.to_string());
    tags.push(format!("k{k:.2}"));
    tags.push(format!("{ec:?}"));
    tags.push(format!("module{module:.1}"));
    tags.push(format!("v{v}"));
    let image = develop(px, w, h, blur, noise, rng);
    let jpeg = rng.gen_bool(0.4).then(|| rng.gen_range(75..92u8));
    if jpeg.is_some() {
        tags.push("jpeg".to_string());
    }
    finish_image(index, image, jpeg, Some(text), tags)
}

/// A stain on a `damaged` code, in module coordinates.
struct Stain {
    /// Discs (centre u, centre v, radius) for a blob or smudge; a scratch's polyline points otherwise.
    discs: Vec<(f32, f32, f32)>,
    /// Scratch half width, modules (0 for blobs and smudges).
    half_width: f32,
    /// Width of the soft edge, modules.
    soft: f32,
    opacity: f32,
    colour: [f32; 3],
}

impl Stain {
    fn alpha(&self, u: f32, v: f32) -> f32 {
        let d = if self.half_width > 0.0 {
            self.discs
                .windows(2)
                .map(|p| {
                    let ((ax, ay, _), (bx, by, _)) = (p[0], p[1]);
                    let (dx, dy) = (bx - ax, by - ay);
                    let t = (((u - ax) * dx + (v - ay) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
                    (u - ax - t * dx).hypot(v - ay - t * dy)
                })
                .fold(f32::MAX, f32::min)
                - self.half_width
        } else {
            self.discs
                .iter()
                .map(|&(cu, cv, r)| (u - cu).hypot(v - cv) - r)
                .fold(f32::MAX, f32::min)
        };
        self.opacity * (0.5 - d / self.soft).clamp(0.0, 1.0)
    }
}

/// Whether module-space point `(u, v)` may be stained: inside the code, off the three finder patterns with
/// their separators and format information (the 9x9 / 8x9 corners) and off the version information.
fn stainable(u: f32, v: f32, n: f32, version: i16) -> bool {
    let inside = u >= 0.0 && v >= 0.0 && u < n && v < n;
    let corner = (v < 9.0 && (u < 9.0 || u >= n - 8.0)) || (u < 9.0 && v >= n - 8.0);
    let version_info = version >= 7
        && ((u >= n - 11.0 && u < n - 8.0 && v < 6.0) || (u < 6.0 && v >= n - 11.0 && v < n - 8.0));
    inside && !corner && !version_info
}

/// For each module (row-major), its codeword in placement order (`None`: function pattern or remainder
/// bit); each codeword's Reed-Solomon block; the EC codewords per block. Found by drawing marker data with
/// `qrcode`'s own placement (bit `b` of each codeword's index, one canvas per bit) and block split.
fn codeword_layout(version: i16, ec: EcLevel) -> (Vec<Option<usize>>, Vec<usize>, usize) {
    use qrcode::canvas::{Canvas, Module};
    let v = Version::Normal(version);
    let data_len = Bits::new(v).max_len(ec).expect("valid version") / 8;
    let marks: Vec<u8> = (0..data_len).map(|i| i as u8).collect();
    let (data, ecc) = qrcode::ec::construct_codewords(&marks, v, ec).expect("valid version");
    let total = data.len() + ecc.len();
    // Interleaved data position -> block: the first round holds each block's first codeword.
    let blocks = data.iter().position(|&d| d == 1).unwrap_or(1);
    let starts = &data[..blocks];
    let mut block_of: Vec<usize> = data
        .iter()
        .map(|&d| starts.iter().rposition(|&s| s <= d).unwrap_or(0))
        .collect();
    block_of.extend((0..ecc.len()).map(|p| p % blocks));
    let n = v.width() as usize;
    let mut index = vec![Some(0usize); n * n];
    let bits = usize::BITS - total.leading_zeros();
    for b in 0..=bits {
        // b == bits: every codeword all ones, to tell data modules from the rest.
        let word = |i: usize| {
            if b == bits || (i >> b) & 1 == 1 {
                0xFF
            } else {
                0
            }
        };
        let mut canvas = Canvas::new(v, ec);
        canvas.draw_all_functional_patterns();
        let d: Vec<u8> = (0..data.len()).map(word).collect();
        let e: Vec<u8> = (data.len()..total).map(word).collect();
        canvas.draw_data(&d, &e);
        for y in 0..n {
            for x in 0..n {
                let m = canvas.get(x as i16, y as i16);
                let slot = &mut index[y * n + x];
                if b == bits {
                    if m != Module::Unmasked(Color::Dark) {
                        *slot = None;
                    }
                } else if let (Some(i), true) = (slot.as_mut(), m.is_dark()) {
                    *i |= 1 << b;
                }
            }
        }
    }
    assert_eq!(
        index.iter().flatten().count(),
        8 * total,
        "every codeword bit placed once"
    );
    (index, block_of, ecc.len() / blocks)
}

fn make_damaged(index: usize, rng: &mut ChaCha8Rng) -> CategoryImage {
    // A small version at level Q can have no stain layout within its budget (seed 11, image 44: v2 Q);
    // such a draw is dropped and the next one made from the same stream. Every draw that found a layout
    // is the image it always was.
    loop {
        if let Some(img) = try_damaged(index, rng) {
            return img;
        }
    }
}

/// One draw of a `damaged` image: `None` when no stain layout within the error-correction budget turned
/// up in `MAX_STAIN_TRIES` tries.
fn try_damaged(index: usize, rng: &mut ChaCha8Rng) -> Option<CategoryImage> {
    let mut tags = vec!["damaged".to_string()];
    let v = rng.gen_range(2..=10i16);
    let ec = if rng.gen_bool(0.6) {
        EcLevel::H
    } else {
        EcLevel::Q
    };
    let (code, text) = code_of_version(rng, v, ec);
    let n = code.width();
    let nf = n as f32;
    let colors = code.to_colors();
    let (layout, block_of, ec_per_block) = codeword_layout(v, ec);
    let blocks = block_of.iter().max().map_or(1, |b| b + 1);
    let (paper, ink) = paper_and_ink(rng);
    let luma = |c: [f32; 3]| 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
    let (pl, il) = (luma(paper), luma(ink));
    // Errors a block may take: 70 % of what Reed-Solomon corrects, for blur and noise on top.
    let budget = (ec_per_block / 2) * 7 / 10;
    let mut stains: Vec<Stain> = Vec::new();
    let mut kinds: Vec<&str> = Vec::new();
    let mut tries = 0;
    let (cover, worst) = loop {
        tries += 1;
        // Each failure shrinks what is aimed for, never below 5 %.
        let shrink = 0.97f32.powi(tries);
        let target = (rng.gen_range(0.05..0.15f32) * shrink).max(0.055) * nf * nf;
        let count = rng.gen_range(2..=5usize);
        let shares: Vec<f32> = (0..count).map(|_| rng.gen_range(0.5..1.5f32)).collect();
        let share_sum: f32 = shares.iter().sum();
        stains.clear();
        kinds.clear();
        for share in shares {
            let area = target * share / share_sum;
            // Centres on the data area, away from the finder corners.
            let (cu, cv) = loop {
                let (u, w) = (rng.gen_range(1.0..nf - 1.0), rng.gen_range(1.0..nf - 1.0));
                if stainable(u, w, nf, v) {
                    break (u, w);
                }
            };
            let dark = rng.gen_bool(0.5);
            let colour = if dark {
                [[60.0, 42.0, 30.0], [25.0, 25.0, 30.0], [90.0, 70.0, 50.0]][rng.gen_range(0..3)]
            } else {
                [rng.gen_range(235.0..252.0f32); 3]
            };
            let kind = rng.gen_range(0..3);
            let stain = match kind {
                0 | 1 => {
                    // Blob (sharp-edged, opaque) or smudge (soft, partly see-through): a few overlapping discs.
                    let r0 = (area / std::f32::consts::PI).sqrt();
                    let discs = (0..rng.gen_range(3..7))
                        .map(|_| {
                            let (a, d) = (
                                rng.gen_range(0.0..std::f32::consts::TAU),
                                rng.gen_range(0.0..0.6 * r0),
                            );
                            (
                                cu + d * a.cos(),
                                cv + d * a.sin(),
                                r0 * rng.gen_range(0.5..0.8),
                            )
                        })
                        .collect();
                    Stain {
                        discs,
                        half_width: 0.0,
                        soft: if kind == 0 { 0.3 } else { 1.2 },
                        opacity: if kind == 0 {
                            1.0
                        } else {
                            rng.gen_range(0.6..0.85)
                        },
                        colour,
                    }
                }
                _ => {
                    // Scratch: a thin stroke with a bend in the middle.
                    let half_width = rng.gen_range(0.3..0.7f32);
                    let len = (area / (2.0 * half_width)).min(nf * 0.9);
                    let a = rng.gen_range(0.0..std::f32::consts::TAU);
                    let bend = a + rng.gen_range(-0.4..0.4f32);
                    let mid = (cu, cv, 0.0);
                    let start = (cu - a.cos() * len / 2.0, cv - a.sin() * len / 2.0, 0.0);
                    let end = (
                        cu + bend.cos() * len / 2.0,
                        cv + bend.sin() * len / 2.0,
                        0.0,
                    );
                    Stain {
                        discs: vec![start, mid, end],
                        half_width,
                        soft: 0.25,
                        opacity: 1.0,
                        colour,
                    }
                }
            };
            kinds.push(match (kind, dark) {
                (0, true) => "blob-dark",
                (0, false) => "blob-light",
                (1, true) => "smudge-dark",
                (1, false) => "smudge-light",
                (_, true) => "scratch-dark",
                (_, false) => "scratch-light",
            });
            stains.push(stain);
        }
        // Coverage (4x4 points a module) and damaged modules: a point whose stained luma crosses 30 % of
        // the contrast towards the other colour breaks its module.
        let mut covered = 0usize;
        let mut errors = vec![0usize; blocks];
        let mut bad = vec![false; block_of.len()];
        for y in 0..n {
            for x in 0..n {
                let dark_module = colors[y * n + x] == Color::Dark;
                let module_luma = if dark_module { il } else { pl };
                let mut broken = false;
                for sy in 0..4 {
                    for sx in 0..4 {
                        let u = x as f32 + (sx as f32 + 0.5) / 4.0;
                        let vv = y as f32 + (sy as f32 + 0.5) / 4.0;
                        if !stainable(u, vv, nf, v) {
                            continue;
                        }
                        let (colour, a) = top_stain(&stains, u, vv);
                        if a > 0.5 {
                            covered += 1;
                        }
                        let l = module_luma + (luma(colour) - module_luma) * a;
                        let t = 0.3 * (pl - il);
                        broken |= if dark_module { l > il + t } else { l < pl - t };
                    }
                }
                if let (true, Some(c)) = (broken, layout[y * n + x]) {
                    if !bad[c] {
                        bad[c] = true;
                        errors[block_of[c]] += 1;
                    }
                }
            }
        }
        let cover = covered as f32 / (16.0 * nf * nf);
        let worst = errors.iter().copied().max().unwrap_or(0);
        if (0.05..=0.15).contains(&cover) && worst <= budget {
            break (cover, worst);
        }
        if tries >= MAX_STAIN_TRIES {
            return None;
        }
    };
    let stain_fn = |u: f32, w: f32| {
        if stainable(u, w, nf, v) {
            top_stain(&stains, u, w)
        } else {
            (paper, 0.0)
        }
    };
    let quiet = 4usize;
    let flat = Flat::new(n, &colors, quiet, ink, paper, Some(&stain_fn));
    let module = rng.gen_range(3.0..6.0f32);
    let angle = rng.gen_range(-0.25..0.25f32);
    let (sin, cos) = angle.sin_cos();
    let ext = (nf / 2.0 + quiet as f32) * module * (sin.abs() + cos.abs());
    let side = (2.0 * ext + rng.gen_range(10.0..80.0f32)).ceil() as u32;
    let c = side as f32 / 2.0;
    let backdrop = [rng.gen_range(140.0..190.0f32); 3];
    let map = |x: f32, y: f32| {
        let (fx, fy) = (x - c, y - c);
        Some((
            (cos * fx + sin * fy) / module + nf / 2.0,
            (-sin * fx + cos * fy) / module + nf / 2.0,
            1.0,
        ))
    };
    // Beyond the quiet zone: the table the print lies on.
    let q = quiet as f32;
    let map_or_table = |x: f32, y: f32| {
        map(x, y).filter(|&(u, v, _)| u >= -q && v >= -q && u <= nf + q && v <= nf + q)
    };
    let outside = |_: f32, _: f32| backdrop;
    let px = warp(&flat, side, side, &map_or_table, &outside);
    let blur = rng.gen_range(0.3..0.6f32);
    let noise = rng.gen_range(1.5..3.0f32);
    tags.extend(kinds.iter().map(|k| k.to_string()));
    tags.push(format!("stains{}", stains.len()));
    tags.push(format!("cover{cover:.3}"));
    tags.push(format!(
        "ecuse{:.2}",
        worst as f32 / (ec_per_block / 2) as f32
    ));
    tags.push(format!("{ec:?}"));
    tags.push(format!("module{module:.1}"));
    tags.push(format!("v{v}"));
    let image = develop(px, side, side, blur, noise, rng);
    Some(finish_image(index, image, None, Some(text), tags))
}

/// Stain layouts one `damaged` draw tries before it is dropped.
const MAX_STAIN_TRIES: i32 = 2000;

/// The topmost (last) stain with any opacity at `(u, v)`: its colour and opacity.
fn top_stain(stains: &[Stain], u: f32, v: f32) -> ([f32; 3], f32) {
    stains
        .iter()
        .rev()
        .map(|s| (s.colour, s.alpha(u, v)))
        .find(|&(_, a)| a > 0.0)
        .unwrap_or(([0.0; 3], 0.0))
}

fn make_noquiet(index: usize, rng: &mut ChaCha8Rng) -> CategoryImage {
    let mut tags = vec!["noquiet".to_string()];
    let v = rng.gen_range(1..=10i16);
    let ec = [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H][rng.gen_range(0..4)];
    let (code, text) = code_of_version(rng, v, ec);
    let n = code.width() as f32;
    let module = rng.gen_range(2.0..8.0f32);
    // Margins (left, top, right, bottom), modules: 0-1, and sometimes one or two sides cut at the code's edge.
    let mut margin = [0; 4].map(|_: i32| rng.gen_range(0.0..1.0f32));
    let cut = match rng.gen_range(0..10) {
        0..=5 => 0,
        6..=7 => 1,
        _ => 2,
    };
    const SIDES: [&str; 4] = ["left", "top", "right", "bottom"];
    let first = rng.gen_range(0..4);
    for k in 0..cut {
        // Two cut sides: adjacent (a corner) or opposite.
        let side = (first + k * rng.gen_range(1..=2)) % 4;
        margin[side] = 0.0;
    }
    for (side, m) in margin.iter().enumerate() {
        if *m == 0.0 {
            tags.push(format!("cut-{}", SIDES[side]));
        }
    }
    let px_margin = margin.map(|m| (m * module).round());
    let w = (n * module + px_margin[0] + px_margin[2]).round() as u32;
    let h = (n * module + px_margin[1] + px_margin[3]).round() as u32;
    let mut s = Scene::plain(w, h, module);
    s.cx = px_margin[0] + n * module / 2.0;
    s.cy = px_margin[1] + n * module / 2.0;
    let (paper, ink) = paper_and_ink(rng);
    s.paper = paper;
    s.background = paper;
    s.fg = ink;
    if rng.gen_bool(0.5) {
        tags.push("clean".to_string());
    } else {
        s.noise = rng.gen_range(1.5..4.0);
        s.blur = rng.gen_range(0.0..0.6);
        tags.push("noise".to_string());
    }
    tags.push(format!(
        "margin{:.2}",
        margin.iter().copied().fold(f32::MAX, f32::min)
    ));
    tags.push(format!("{ec:?}"));
    tags.push(format!("module{module:.1}"));
    tags.push(format!("v{v}"));
    let image = render(&code, &s, rng);
    finish_image(index, image, None, Some(text), tags)
}

fn make_snapped(index: usize, rng: &mut ChaCha8Rng) -> CategoryImage {
    let mut tags = vec!["snapped".to_string()];
    let v = rng.gen_range(1..=6i16);
    let ec = [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H][rng.gen_range(0..4)];
    let (code, text) = code_of_version(rng, v, ec);
    let n = code.width();
    let colors = code.to_colors();
    let module = rng.gen_range(1.0..2.0f32);
    let quiet = rng.gen_range(1..=4usize);
    // How far the grid is shifted against the pixels, in modules (the margin stays above half a module).
    let phase = rng.gen_range(0.0..0.5f32);
    let side = ((n + 2 * quiet) as f32 * module).round() as u32;
    let (w, h, ox, oy) = if rng.gen_bool(0.5) {
        (side, side, 0, 0)
    } else {
        tags.push("canvas".to_string());
        let (w, h) = (
            side + rng.gen_range(20..=200),
            side + rng.gen_range(20..=200),
        );
        (
            w,
            h,
            rng.gen_range(0..=w - side),
            rng.gen_range(0..=h - side),
        )
    };
    let paper = [rng.gen_range(225..=255u8); 3];
    let ink = [rng.gen_range(0..=60u8); 3];
    let mut image = RgbImage::from_pixel(w, h, image::Rgb(paper));
    for y in oy..oy + side {
        for x in ox..ox + side {
            let module_at = |p: u32, o: u32| ((p - o) as f32 + 0.5) / module - phase - quiet as f32;
            let (mx, my) = (module_at(x, ox).floor(), module_at(y, oy).floor());
            if (0.0..n as f32).contains(&mx)
                && (0.0..n as f32).contains(&my)
                && colors[my as usize * n + mx as usize] == Color::Dark
            {
                image.put_pixel(x, y, image::Rgb(ink));
            }
        }
    }
    tags.push(format!("module{module:.2}"));
    tags.push(format!("q{quiet}"));
    tags.push(format!("{ec:?}"));
    tags.push(format!("v{v}"));
    finish_image(index, image, None, Some(text), tags)
}

/// A code with big modules filling a big image: a high-resolution scan of a printed code, a screenshot of one
/// shown large, a photo taken up close. Modules of 8-32 px (the contrast map, which sees 16 px blocks, finds
/// no texture inside one), v1-10, 2-4 modules of quiet zone and up to a fifth of the side more canvas,
/// 0.1-4 MP. Half are scans: turned by up to 4 degrees, blurred by 0.5-2 px, sensor noise, some JPEG.
fn make_bigmodule(index: usize, rng: &mut ChaCha8Rng) -> CategoryImage {
    let mut tags = vec!["bigmodule".to_string()];
    let v = rng.gen_range(1..=10i16);
    let ec = [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H][rng.gen_range(0..4)];
    let (code, text) = code_of_version(rng, v, ec);
    let n = code.width();
    let colors = code.to_colors();
    let quiet = rng.gen_range(2..=4usize);
    let max_module = (1800.0 / (n + 2 * quiet) as f32).min(32.0);
    let module = rng.gen_range(8.0..max_module.max(8.5));
    let side = (n + 2 * quiet) as f32 * module;
    let (w, h) = (
        (side * rng.gen_range(1.0..1.2f32)).round() as u32,
        (side * rng.gen_range(1.0..1.2f32)).round() as u32,
    );
    let scan = rng.gen_bool(0.5);
    let angle = if scan {
        rng.gen_range(-4.0..4.0f32).to_radians()
    } else {
        0.0
    };
    let (paper, ink) = if scan {
        (
            [rng.gen_range(215..=250u8) as f32; 3],
            [rng.gen_range(10..=70u8) as f32; 3],
        )
    } else {
        ([255.0; 3], [0.0; 3])
    };
    // The code's centre, anywhere the whole code (with its quiet zone) stays on the canvas.
    let slack = |full: u32| (full as f32 - side).max(0.0);
    let (cx, cy) = (
        side / 2.0 + rng.gen_range(0.0..=slack(w)),
        side / 2.0 + rng.gen_range(0.0..=slack(h)),
    );
    let (sin, cos) = angle.sin_cos();
    let half = n as f32 / 2.0;
    let mut px = vec![[0f32; 3]; (w * h) as usize];
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            let u = (cos * fx + sin * fy) / module + half;
            let v = (-sin * fx + cos * fy) / module + half;
            let dark = u >= 0.0
                && v >= 0.0
                && (u as usize) < n
                && (v as usize) < n
                && colors[v as usize * n + u as usize] == Color::Dark;
            px[(y * w + x) as usize] = if dark { ink } else { paper };
        }
    }
    let (sigma, noise, jpeg) = if scan {
        (
            rng.gen_range(0.5..2.0f32),
            rng.gen_range(1.0..4.0f32),
            rng.gen_bool(0.5).then_some(85),
        )
    } else {
        (0.0, 0.0, None)
    };
    let image = develop(px, w, h, sigma, noise, rng);
    tags.push(if scan { "scan" } else { "clean" }.to_string());
    tags.push(format!("module{module:.1}"));
    tags.push(format!("{w}x{h}"));
    tags.push(format!("{ec:?}"));
    tags.push(format!("v{v}"));
    finish_image(index, image, jpeg, Some(text), tags)
}

/// A phone photo (12 MP, either orientation) of a label on a desk. The code's modules are 1.8-3.2 px at the
/// photo's own resolution: under 2 px on any half-size plane, so a decoder that reads only a downscaled copy
/// of a frame this big misses them. Versions 2-20, rotated up to ~35 degrees, defocused, sensor noise, JPEG.
fn make_phone(index: usize, rng: &mut ChaCha8Rng) -> CategoryImage {
    let mut tags = vec!["phone".to_string()];
    let v = [2i16, 4, 6, 10, 15, 20][rng.gen_range(0..6)];
    let ec = [EcLevel::L, EcLevel::M, EcLevel::Q][rng.gen_range(0..3)];
    let (code, text) = code_of_version(rng, v, ec);
    let n = code.width();
    let colors = code.to_colors();
    let module = rng.gen_range(1.8..3.2f32);
    let (w, h) = if rng.gen_bool(0.5) {
        (4000u32, 3000u32)
    } else {
        (3000, 4000)
    };
    let angle = rng.gen_range(-0.6..0.6f32);
    let (paper, ink) = paper_and_ink(rng);
    // The desk: two tones in broad waves.
    let desk = (
        [0, 1, 2].map(|_| rng.gen_range(60.0..150.0f32)),
        [0, 1, 2].map(|_| rng.gen_range(60.0..150.0f32)),
        rng.gen_range(300.0..900.0f32),
        rng.gen_range(0.0..6.3f32),
    );
    let desk_at = |x: f32, y: f32| {
        let t = 0.5 + 0.5 * ((x / desk.2 + desk.3).sin() * (y / (desk.2 * 1.3)).cos());
        lerp(desk.0, desk.1, t)
    };
    // The label: 1.6 x 2 code sides of paper, the code in its upper part.
    let side = n as f32 * module;
    let (lw, lh) = (side * 1.6, side * 2.0);
    let reach = lw.hypot(lh) / 2.0 + 4.0;
    let (cx, cy) = (
        rng.gen_range(reach..w as f32 - reach),
        rng.gen_range(reach..h as f32 - reach),
    );
    let code_dy = -lh * 0.15;
    let (sin, cos) = angle.sin_cos();
    let half = n as f32 / 2.0;
    // The label's patch, drawn with 3 x 3 samples a pixel, then defocused and noisy.
    let (px0, py0) = ((cx - reach) as u32, (cy - reach) as u32);
    let (pw, ph) = (
        ((cx + reach) as u32).min(w) - px0,
        ((cy + reach) as u32).min(h) - py0,
    );
    let mut patch = vec![[0f32; 3]; (pw * ph) as usize];
    for y in 0..ph {
        for x in 0..pw {
            let mut acc = [0f32; 3];
            for sy in 0..3 {
                for sx in 0..3 {
                    let gx = (px0 + x) as f32 + (sx as f32 + 0.5) / 3.0;
                    let gy = (py0 + y) as f32 + (sy as f32 + 0.5) / 3.0;
                    let (fx, fy) = (gx - cx, gy - cy);
                    let (lx, ly) = (cos * fx + sin * fy, -sin * fx + cos * fy);
                    let c = if lx.abs() <= lw / 2.0 && ly.abs() <= lh / 2.0 {
                        let (u, v) = (lx / module + half, (ly - code_dy) / module + half);
                        let dark = u >= 0.0
                            && v >= 0.0
                            && (u as usize) < n
                            && (v as usize) < n
                            && colors[v as usize * n + u as usize] == Color::Dark;
                        if dark {
                            ink
                        } else {
                            paper
                        }
                    } else {
                        desk_at(gx, gy)
                    };
                    for k in 0..3 {
                        acc[k] += c[k] / 9.0;
                    }
                }
            }
            patch[(y * pw + x) as usize] = acc;
        }
    }
    let sigma = rng.gen_range(0.4..1.2f32);
    let noise = rng.gen_range(1.0..3.0f32);
    let patch = develop(patch, pw, ph, sigma, noise, rng);
    let mut image = RgbImage::new(w, h);
    for (x, y, p) in image.enumerate_pixels_mut() {
        p.0 = if x >= px0 && y >= py0 && x < px0 + pw && y < py0 + ph {
            patch.get_pixel(x - px0, y - py0).0
        } else {
            let n = (rng.gen::<f32>() - 0.5) * 2.0 * noise;
            desk_at(x as f32 + 0.5, y as f32 + 0.5).map(|c| (c + n).round().clamp(0.0, 255.0) as u8)
        };
    }
    tags.push(format!("module{module:.1}"));
    tags.push(format!("{w}x{h}"));
    tags.push(format!("{ec:?}"));
    tags.push(format!("v{v}"));
    finish_image(index, image, Some(88), Some(text), tags)
}

/// A label with a shadow edge across its code (see the module doc).
fn make_shadow(index: usize, rng: &mut ChaCha8Rng) -> CategoryImage {
    let mut tags = vec!["shadow".to_string()];
    let v = rng.gen_range(1..=10i16);
    let ec = [EcLevel::L, EcLevel::M, EcLevel::Q][rng.gen_range(0..3)];
    let (code, text) = code_of_version(rng, v, ec);
    let n = code.width();
    let colors = code.to_colors();
    let module = rng.gen_range(3.0..7.0f32);
    let (w, h) = [
        (800u32, 600u32),
        (1280, 720),
        (1280, 960),
        (1600, 1200),
        (1920, 1080),
    ][rng.gen_range(0..5)];
    let (paper, ink) = paper_and_ink(rng);
    let desk = (
        [0, 1, 2].map(|_| rng.gen_range(60.0..150.0f32)),
        [0, 1, 2].map(|_| rng.gen_range(60.0..150.0f32)),
        rng.gen_range(150.0..500.0f32),
    );
    let angle = rng.gen_range(-0.7..0.7f32);
    // The code with four modules of paper round it; the paper a little bigger than that.
    let side = (n + 8) as f32 * module;
    let reach = side * 0.75;
    let (cx, cy) = (
        rng.gen_range(reach..(w as f32 - reach).max(reach + 1.0)),
        rng.gen_range(reach..(h as f32 - reach).max(reach + 1.0)),
    );
    // The shadow's edge: a line through the middle half of the code, at any angle.
    let theta = rng.gen_range(0.0..std::f32::consts::PI);
    let (ex, ey) = (
        cx + (rng.gen_range(0.25..0.75f32) - 0.5) * n as f32 * module,
        cy + (rng.gen_range(0.25..0.75f32) - 0.5) * n as f32 * module,
    );
    let soft = match rng.gen_range(0..4) {
        0 => 1.0,
        1 => rng.gen_range(2.0..4.0f32),
        2 => side * 0.04,
        _ => side * 0.1,
    };
    let dark = rng.gen_range(0.2..0.55f32);
    let (sin, cos) = angle.sin_cos();
    let half = n as f32 / 2.0;
    let mut px = vec![[0f32; 3]; (w * h) as usize];
    for y in 0..h {
        for x in 0..w {
            let (gx, gy) = (x as f32 + 0.5, y as f32 + 0.5);
            let (fx, fy) = (gx - cx, gy - cy);
            let (lx, ly) = (cos * fx + sin * fy, -sin * fx + cos * fy);
            let c = if lx.abs() <= side * 0.6 && ly.abs() <= side * 0.6 {
                // 2 x 2 samples a pixel over the label.
                let mut acc = [0f32; 3];
                for (sx, sy) in [(-0.25, -0.25), (0.25, -0.25), (-0.25, 0.25), (0.25, 0.25)] {
                    let (qx, qy) = (fx + sx, fy + sy);
                    let (u, v) = (
                        (cos * qx + sin * qy) / module + half,
                        (-sin * qx + cos * qy) / module + half,
                    );
                    let dark_module = u >= 0.0
                        && v >= 0.0
                        && (u as usize) < n
                        && (v as usize) < n
                        && colors[v as usize * n + u as usize] == Color::Dark;
                    let c = if dark_module { ink } else { paper };
                    for k in 0..3 {
                        acc[k] += c[k] / 4.0;
                    }
                }
                acc
            } else {
                let t = 0.5 + 0.5 * ((gx / desk.2).sin() * (gy / (desk.2 * 1.3)).cos());
                lerp(desk.0, desk.1, t)
            };
            let d = (gx - ex) * theta.cos() + (gy - ey) * theta.sin();
            let lit = 1.0 / (1.0 + (-(d / soft).clamp(-60.0, 60.0)).exp());
            let k = dark + (1.0 - dark) * lit;
            px[(y * w + x) as usize] = c.map(|c| c * k);
        }
    }
    let image = develop(
        px,
        w,
        h,
        rng.gen_range(0.4..1.0),
        rng.gen_range(1.5..5.0),
        rng,
    );
    tags.push(format!("dark{dark:.2}"));
    tags.push(format!("soft{soft:.1}"));
    tags.push(format!("module{module:.1}"));
    tags.push(format!("v{v}"));
    tags.push(format!("{w}x{h}"));
    finish_image(index, image, Some(85), Some(text), tags)
}

/// Lines of word-like runs of glyph boxes (dark grey, `glyph` px high) over rows `rows` of a `w`-wide grey
/// page.
fn text_lines(grey: &mut [f32], w: u32, rows: (u32, u32), glyph: u32, rng: &mut ChaCha8Rng) {
    let h = rows.1;
    let mut y = rows.0 + 10;
    while y + glyph < h {
        let mut x = 10;
        while x + 20 < w {
            for _ in 0..rng.gen_range(2..=9) {
                let gw = rng.gen_range(glyph * 2 / 5..=glyph * 4 / 5).max(2);
                if rng.gen_bool(0.9) {
                    let (top, bottom) = (
                        y + rng.gen_range(0..=glyph / 4),
                        y + glyph - rng.gen_range(0..=glyph / 4),
                    );
                    let ink = rng.gen_range(20.0..60.0f32);
                    for yy in top..bottom.min(h) {
                        for xx in x..(x + gw - 1).min(w) {
                            grey[(yy * w + xx) as usize] = ink;
                        }
                    }
                }
                x += gw;
            }
            x += glyph * 3 / 5;
        }
        y += glyph * 8 / 5;
    }
}

/// Draws an upright `code` with a four-module quiet zone whose outer corner is at
/// `origin`, `module` px a module, over the pixels `area` (columns, rows) of a `w`-wide grey page: 2 x 2
/// samples a pixel, `(ink, paper)` its two greys.
fn draw_flat_code(
    grey: &mut [f32],
    w: u32,
    area: (std::ops::Range<u32>, std::ops::Range<u32>),
    (ox, oy): (f32, f32),
    module: f32,
    code: &QrCode,
    (ink, paper): (f32, f32),
) {
    let (n, colors) = (code.width(), code.to_colors());
    for yy in area.1 {
        for xx in area.0.clone() {
            let mut acc = 0.0;
            for (sx, sy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                let u = (xx as f32 + sx - ox) / module - 4.0;
                let v = (yy as f32 + sy - oy) / module - 4.0;
                let dark = u >= 0.0
                    && v >= 0.0
                    && (u as usize) < n
                    && (v as usize) < n
                    && colors[v as usize * n + u as usize] == Color::Dark;
                acc += if dark { ink } else { paper } / 4.0;
            }
            grey[(yy * w + xx) as usize] = acc;
        }
    }
}

/// A printed receipt photographed on a table (see the module doc).
fn make_receipt(index: usize, rng: &mut ChaCha8Rng) -> CategoryImage {
    let mut tags = vec!["receipt".to_string()];
    let v = rng.gen_range(1..=6i16);
    let (code, text) = code_of_version(rng, v, EcLevel::M);
    let n = code.width();
    let module = rng.gen_range(2.5..4.5f32);
    let (rw, rh) = (rng.gen_range(380..=520u32), rng.gen_range(1000..=1500u32));
    let paper = rng.gen_range(225.0..245.0f32);
    let mut receipt = vec![paper; (rw * rh) as usize];
    // Text above and below the code, a blank band round it.
    let side = ((n + 8) as f32 * module).ceil() as u32;
    let qy =
        rng.gen_range(rh * 35 / 100..(rh * 85 / 100).saturating_sub(side).max(rh * 35 / 100 + 1));
    let glyph = rng.gen_range(8..=14u32);
    text_lines(&mut receipt, rw, (0, qy.saturating_sub(10)), glyph, rng);
    text_lines(&mut receipt, rw, ((qy + side + 10).min(rh), rh), glyph, rng);
    let (ox, oy) = (((rw - side.min(rw)) / 2) as f32, qy as f32);
    let ink = rng.gen_range(15.0..40.0f32);
    let area = (
        ox as u32..(ox as u32 + side).min(rw),
        qy..(qy + side).min(rh),
    );
    draw_flat_code(
        &mut receipt,
        rw,
        area,
        (ox, oy),
        module,
        &code,
        (ink, paper),
    );
    // The photo: landscape, the receipt upright within +-20 degrees on a dark table.
    let h = (rh as f32 * 1.15) as u32;
    let w = h * 4 / 3;
    let table = rng.gen_range(40.0..90.0f32);
    let angle = rng.gen_range(-0.35..0.35f32);
    let (sin, cos) = angle.sin_cos();
    let (cx, cy) = (
        w as f32 / 2.0 + rng.gen_range(-0.2..0.2) * w as f32,
        h as f32 / 2.0,
    );
    let at = |x: f32, y: f32| {
        let (xi, yi) = (x.floor(), y.floor());
        let (ax, ay) = (x - xi, y - yi);
        let p = |dx: f32, dy: f32| {
            let (px, py) = (xi + dx, yi + dy);
            if px < 0.0 || py < 0.0 || px >= rw as f32 || py >= rh as f32 {
                table
            } else {
                receipt[(py as u32 * rw + px as u32) as usize]
            }
        };
        (p(0.0, 0.0) * (1.0 - ax) + p(1.0, 0.0) * ax) * (1.0 - ay)
            + (p(0.0, 1.0) * (1.0 - ax) + p(1.0, 1.0) * ax) * ay
    };
    let mut px = vec![[0f32; 3]; (w * h) as usize];
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            let (rx, ry) = (
                cos * fx + sin * fy + rw as f32 / 2.0 - 0.5,
                -sin * fx + cos * fy + rh as f32 / 2.0 - 0.5,
            );
            let g = at(rx, ry) * (0.85 + 0.15 * (fx / w as f32 * 3.0).cos());
            px[(y * w + x) as usize] = [g; 3];
        }
    }
    let image = develop(px, w, h, rng.gen_range(0.5..1.1), 3.0, rng);
    tags.push(format!("module{module:.1}"));
    tags.push(format!("glyph{glyph}"));
    tags.push(format!("v{v}"));
    tags.push(format!("{w}x{h}"));
    finish_image(index, image, Some(85), Some(text), tags)
}

/// A small code on a page of text (see the module doc).
fn make_page(index: usize, rng: &mut ChaCha8Rng) -> CategoryImage {
    let mut tags = vec!["page".to_string()];
    let v = rng.gen_range(1..=6i16);
    let (code, text) = code_of_version(rng, v, EcLevel::M);
    let n = code.width();
    let module = rng.gen_range(2.2..4.5f32);
    let (w, h) = [(1280u32, 960u32), (1600, 1200), (2000, 1500), (2400, 1800)][rng.gen_range(0..4)];
    let paper = rng.gen_range(225.0..245.0f32);
    let mut grey = vec![paper; (w * h) as usize];
    let glyph = rng.gen_range(6..=14u32);
    text_lines(&mut grey, w, (0, h), glyph, rng);
    // The code with a four-module quiet zone over the text, 2 x 2 samples a pixel.
    let side = (n + 8) as f32 * module;
    let (ox, oy) = (
        rng.gen_range(0.0..(w as f32 - side).max(1.0)),
        rng.gen_range(0.0..(h as f32 - side).max(1.0)),
    );
    let ink = rng.gen_range(15.0..40.0f32);
    let area = (
        ox as u32..((ox + side) as u32 + 1).min(w),
        oy as u32..((oy + side) as u32 + 1).min(h),
    );
    draw_flat_code(&mut grey, w, area, (ox, oy), module, &code, (ink, paper));
    let px = grey.into_iter().map(|g| [g; 3]).collect();
    let image = develop(px, w, h, rng.gen_range(0.4..0.9), 3.0, rng);
    tags.push(format!("module{module:.1}"));
    tags.push(format!("glyph{glyph}"));
    tags.push(format!("v{v}"));
    tags.push(format!("{w}x{h}"));
    finish_image(index, image, Some(88), Some(text), tags)
}

/// A QR Code Model 1 symbol (the symbology's first edition) of `version` (1..=14) at level `ec` with mask
/// `mask`, holding `text` in one byte-mode segment; `None` when it does not fit. Modules row-major.
///
/// Our own encoder (the `qrcode` crate writes Model 2 only), built on the decoder's placement and block
/// tables, so our reader agreeing with it proves little by itself. zxing-cpp 3.1.1, which reads Model 1
/// independently, reads every symbol it draws of versions 1-6, at every level (multi-block ones included)
/// and mask; from version 7 on it reads none, clean or not (see `BENCH.md`, and the `model1` category's
/// zxing-cpp column in `scripts/bench-qr.sh`). Before this encoder placed the blocks one after another,
/// zxing-cpp read none of the multi-block symbols. The extension patterns along the right and bottom
/// edges carry no data; they are drawn as a dark edge row or column.
pub(crate) fn model1_code(
    text: &[u8],
    version: usize,
    ec: EcLevel,
    mask: u8,
) -> Option<Vec<Color>> {
    use crate::decode::symbol::{
        format_bch, format_modules, masked, model1_placement, rs_encode, FORMAT_MASK_MODEL1,
        MODEL1_BLOCKS,
    };
    let (level, ec_bits) = match ec {
        EcLevel::L => (0, 0b01),
        EcLevel::M => (1, 0b00),
        EcLevel::Q => (2, 0b11),
        EcLevel::H => (3, 0b10),
    };
    let (n_ec, blocks, data_len) = MODEL1_BLOCKS.get(version.wrapping_sub(1))?[level];
    let (n_ec, blocks, data_len) = (n_ec as usize, blocks as usize, data_len as usize);
    // The data bits: four zero bits (the corner's), byte mode, the count, the text, a terminator, then
    // padding to whole codewords and pad codewords.
    let count_bits = if version <= 9 { 8 } else { 16 };
    if text.len() >= 1 << count_bits {
        return None;
    }
    let mut bits: Vec<bool> = Vec::new();
    let push = |v: u32, n: usize, bits: &mut Vec<bool>| {
        for i in (0..n).rev() {
            bits.push((v >> i) & 1 == 1);
        }
    };
    push(0, 4, &mut bits);
    push(0b0100, 4, &mut bits);
    push(text.len() as u32, count_bits, &mut bits);
    for &b in text {
        push(b as u32, 8, &mut bits);
    }
    let capacity = blocks * data_len * 8;
    if bits.len() > capacity {
        return None;
    }
    let term = (capacity - bits.len()).min(4);
    push(0, term, &mut bits);
    while !bits.len().is_multiple_of(8) {
        bits.push(false);
    }
    let mut data: Vec<u8> = bits
        .chunks(8)
        .map(|c| c.iter().fold(0u8, |a, &b| (a << 1) | b as u8))
        .collect();
    for pad in [0xecu8, 0x11].iter().cycle() {
        if data.len() == blocks * data_len {
            break;
        }
        data.push(*pad);
    }
    // Blocks, not interleaved: every block's data codewords in turn, then every block's EC codewords.
    let coded: Vec<Vec<u8>> = data.chunks(data_len).map(|d| rs_encode(d, n_ec)).collect();
    let mut codewords = Vec::with_capacity(blocks * (data_len + n_ec));
    for block in &coded {
        codewords.extend_from_slice(&block[..data_len]);
    }
    for block in &coded {
        codewords.extend_from_slice(&block[data_len..]);
    }
    let n = 17 + 4 * version;
    let mut dark = vec![false; n * n];
    // Finders (their separators stay light).
    for (r0, c0) in [(0, 0), (0, n - 7), (n - 7, 0)] {
        for r in 0..7 {
            for c in 0..7 {
                let ring = r.min(c).min(6 - r).min(6 - c);
                dark[(r0 + r) * n + c0 + c] = ring != 1;
            }
        }
    }
    for i in 8..n - 8 {
        dark[6 * n + i] = i % 2 == 0;
        dark[i * n + 6] = i % 2 == 0;
    }
    dark[(n - 8) * n + 8] = true;
    // Data modules; codewords past the blocks (remainder codewords) are zero.
    let placement = model1_placement(version);
    let mut used = vec![false; n * n];
    for (k, cw) in placement.iter().enumerate() {
        let byte = codewords.get(k).copied().unwrap_or(0);
        for (b, &i) in cw.iter().enumerate() {
            let i = i as usize;
            used[i] = true;
            dark[i] = ((byte >> (7 - b)) & 1 == 1) ^ masked(mask, i / n, i % n);
        }
    }
    // Extension patterns: the modules along the right and bottom edges that no codeword took.
    for i in 9..n {
        for (r, c) in [(i, n - 1), (n - 1, i)] {
            if !used[r * n + c] && c != 6 && r != 6 {
                dark[r * n + c] = true;
            }
        }
    }
    // Format information, both copies.
    let format = format_bch((ec_bits << 3) | mask as u32) ^ FORMAT_MASK_MODEL1;
    for i in 0..15 {
        for (r, c) in format_modules(n, i) {
            dark[r * n + c] = (format >> i) & 1 == 1;
        }
    }
    Some(
        dark.into_iter()
            .map(|d| if d { Color::Dark } else { Color::Light })
            .collect(),
    )
}

/// QR Code Model 1 symbols, versions 1-14, every level and mask, on a label: 3-6 px modules, turned by up to
/// ~10 degrees, a little blur and noise, some JPEG.
fn make_model1(index: usize, rng: &mut ChaCha8Rng) -> CategoryImage {
    let version = rng.gen_range(1..=14usize);
    let ec = [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H][rng.gen_range(0..4)];
    let mask = rng.gen_range(0..8u8);
    let url = random_text(rng, 700);
    let lo = longest_prefix(&url, |t| {
        model1_code(t.as_bytes(), version, ec, mask).is_some()
    });
    let len = rng.gen_range((lo * 3 / 5).max(1)..=lo);
    let text = url[..len].to_string();
    let colors = model1_code(text.as_bytes(), version, ec, mask).expect("text fits");
    let n = 17 + 4 * version;
    let module = rng.gen_range(3.0..6.0f32);
    let mut s = Scene::plain(0, 0, module);
    s.angle = rng.gen_range(-0.18..0.18);
    s.blur = rng.gen_range(0.0..0.8);
    s.noise = rng.gen_range(0.0..4.0);
    s.background = [rng.gen_range(90.0..200.0); 3];
    s.jpeg = rng.gen_bool(0.4).then_some(85);
    let (sin, cos) = s.angle.sin_cos();
    let ext = (n as f32 / 2.0 + s.quiet) * module * (sin.abs() + cos.abs()) + 2.0;
    let side = (2.0 * ext * rng.gen_range(1.05..1.3)).ceil() as u32;
    (s.w, s.h) = (side, side);
    (s.cx, s.cy) = (side as f32 / 2.0, side as f32 / 2.0);
    let image = render_grid(n, &colors, &s, rng);
    let tags = vec![
        "model1".to_string(),
        format!("v{version}"),
        format!("{ec:?}"),
        format!("mask{mask}"),
    ];
    finish_image(index, image, s.jpeg, Some(text), tags)
}

/// `clutter` image sizes, 0.3-1.0 MP.
const CLUTTER_SIZES: [(u32, u32); 7] = [
    (640, 480),
    (800, 600),
    (960, 720),
    (1024, 768),
    (1152, 864),
    (720, 960),
    (768, 1024),
];

/// A small code on a card in a cluttered photo (see the module doc): the contrast map finds the text and
/// barcodes round it as well, and can rank them above the code.
fn make_clutter(index: usize, rng: &mut ChaCha8Rng) -> CategoryImage {
    let mut tags = vec!["clutter".to_string()];
    let (w, h) = CLUTTER_SIZES[rng.gen_range(0..CLUTTER_SIZES.len())];
    let (wu, hu) = (w as usize, h as usize);
    let mut scene = value_texture(wu, hu, rng);
    let shapes = rng.gen_range(5..=40);
    for _ in 0..shapes {
        draw_clutter(&mut scene, wu, hu, rng);
    }
    let v = rng.gen_range(1..=10i16);
    let ec = [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H][rng.gen_range(0..4)];
    let (code, text) = code_of_version(rng, v, ec);
    let n = code.width();
    let quiet = rng.gen_range(1..=4usize);
    let span = (n + 2 * quiet) as f64;
    let module = rng.gen_range(2.2..6.0f64).min(0.6 * w.min(h) as f64 / span);
    let side = module * span;
    // The card (the code and its quiet zone): one side `far` times the other (a mild slant), each corner
    // moved by up to 4 % of the side, turned by any angle.
    let far = rng.gen_range(0.78..1.0f64);
    let local = [(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)].map(|(x, y)| {
        let k = if y > 0.0 { far } else { 1.0 };
        (
            (x * k + rng.gen_range(-0.04..0.04)) * side,
            (y + rng.gen_range(-0.04..0.04)) * side,
        )
    });
    let angle = rng.gen_range(0.0..std::f64::consts::TAU);
    let (sa, ca) = angle.sin_cos();
    let turned = local.map(|(x, y)| (ca * x - sa * y, sa * x + ca * y));
    let (min_x, min_y, max_x, max_y) = bounding_box(&turned);
    // The whole card inside the frame, 4 px clear of its edges.
    let pad = 4.0;
    let ox = rng.gen_range(pad - min_x..=(w as f64 - pad - max_x).max(pad - min_x));
    let oy = rng.gen_range(pad - min_y..=(h as f64 - pad - max_y).max(pad - min_y));
    let quad = turned.map(|(x, y)| (x + ox, y + oy));
    let inv = Homography::square_to_quad(quad)
        .and_then(|hm| hm.inverse())
        .expect("a card is a proper quadrilateral");
    let ink = rng.gen_range(0.0..70.0f32);
    let paper = rng.gen_range(170.0..255.0f32);
    let flat = Flat::new(n, &code.to_colors(), quiet, [ink; 3], [paper; 3], None);
    let (q, spanf) = (quiet as f32, span as f32);
    let map = |x: f32, y: f32| {
        let (s, t) = inv.map(x as f64, y as f64);
        ((0.0..=1.0).contains(&s) && (0.0..=1.0).contains(&t)).then_some((
            s as f32 * spanf - q,
            t as f32 * spanf - q,
            1.0,
        ))
    };
    let outside = |x: f32, y: f32| scene[(y as usize).min(hu - 1) * wu + (x as usize).min(wu - 1)];
    let mut px = warp(&flat, w, h, &map, &outside);
    // Uneven light across the photo.
    let (from, to) = (rng.gen_range(0.75..1.1f32), rng.gen_range(0.75..1.1f32));
    let dir = rng.gen_range(0.0..std::f32::consts::TAU);
    let (ds, dc) = dir.sin_cos();
    let reach = (w as f32).hypot(h as f32);
    for (i, p) in px.iter_mut().enumerate() {
        let (x, y) = ((i % wu) as f32, (i / wu) as f32);
        let t = ((x - w as f32 / 2.0) * dc + (y - h as f32 / 2.0) * ds) / reach + 0.5;
        let gain = from + (to - from) * t;
        *p = p.map(|c| c * gain);
    }
    let blur = rng.gen_range(0.0..1.3f32);
    let noise = rng.gen_range(1.0..6.0f32);
    let jpeg = rng.gen_bool(0.6).then(|| rng.gen_range(70..=92));
    let image = develop(px, w, h, blur, noise, rng);
    tags.extend([
        format!("v{v}"),
        format!("{ec:?}"),
        format!("module{module:.1}"),
        format!("q{quiet}"),
        format!("far{far:.2}"),
        format!("rot{:.0}", angle.to_degrees()),
        format!("shapes{shapes}"),
        format!("{w}x{h}"),
    ]);
    finish_image(index, image, jpeg, Some(text), tags)
}

/// A photo's smooth background texture: value noise at 4, 16 and 64 px, round a random colour.
fn value_texture(w: usize, h: usize, rng: &mut ChaCha8Rng) -> Vec<[f32; 3]> {
    let mut acc = vec![0f32; w * h];
    for cell in [4usize, 16, 64] {
        let weight = rng.gen_range(0.2..1.0f32);
        let gw = w / cell + 2;
        let grid: Vec<f32> = (0..gw * (h / cell + 2)).map(|_| rng.gen()).collect();
        for y in 0..h {
            let (gy, ty) = (y / cell, (y % cell) as f32 / cell as f32);
            for x in 0..w {
                let (gx, tx) = (x / cell, (x % cell) as f32 / cell as f32);
                let at = |i: usize, j: usize| grid[(gy + j) * gw + gx + i];
                let top = at(0, 0) + (at(1, 0) - at(0, 0)) * tx;
                let bottom = at(0, 1) + (at(1, 1) - at(0, 1)) * tx;
                acc[y * w + x] += weight * (top + (bottom - top) * ty);
            }
        }
    }
    let (lo, hi) = acc
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &a| (lo.min(a), hi.max(a)));
    let base: [f32; 3] = [0, 1, 2].map(|_| rng.gen_range(40.0..200.0f32));
    let amp = rng.gen_range(30.0..110.0f32);
    acc.iter()
        .map(|&a| {
            base.map(|b| (b + ((a - lo) / (hi - lo).max(1e-6) - 0.5) * amp).clamp(0.0, 255.0))
        })
        .collect()
}

/// One piece of clutter at a random place: a filled rectangle, ellipse or triangle of a random colour, a
/// 1-D barcode (dark bars 1-5 px a unit) or a block of text-like lines (glyphs 5-14 px high).
fn draw_clutter(px: &mut [[f32; 3]], w: usize, h: usize, rng: &mut ChaCha8Rng) {
    let colour: [f32; 3] = [0, 1, 2].map(|_| rng.gen_range(0.0..255.0f32));
    let (x0, y0) = (
        rng.gen_range(-50..w as i64) as f64,
        rng.gen_range(-50..h as i64) as f64,
    );
    let (sw, sh) = (
        rng.gen_range(8..=(w as i64 / 3).max(9)) as f64,
        rng.gen_range(8..=(h as i64 / 3).max(9)) as f64,
    );
    let mut fill =
        |bx: (f64, f64, f64, f64), colour: [f32; 3], inside: &dyn Fn(f64, f64) -> bool| {
            let xs = bx.0.max(0.0) as usize..(bx.2.max(0.0) as usize).min(w);
            for y in bx.1.max(0.0) as usize..(bx.3.max(0.0) as usize).min(h) {
                for x in xs.clone() {
                    if inside(x as f64 + 0.5, y as f64 + 0.5) {
                        px[y * w + x] = colour;
                    }
                }
            }
        };
    match rng.gen_range(0..5) {
        0 => fill((x0, y0, x0 + sw, y0 + sh), colour, &|_, _| true),
        1 => {
            let (cx, cy, rx, ry) = (x0 + sw / 2.0, y0 + sh / 2.0, sw / 2.0, sh / 2.0);
            fill((x0, y0, x0 + sw, y0 + sh), colour, &|x, y| {
                ((x - cx) / rx).powi(2) + ((y - cy) / ry).powi(2) <= 1.0
            });
        }
        2 => {
            let p = [0; 3].map(|_| (x0 + rng.gen_range(-sw..sw), y0 + rng.gen_range(-sw..sw)));
            let edge = |a: (f64, f64), b: (f64, f64), x: f64, y: f64| {
                (b.0 - a.0) * (y - a.1) - (b.1 - a.1) * (x - a.0)
            };
            fill(bounding_box(&p), colour, &|x, y| {
                let e = [
                    edge(p[0], p[1], x, y),
                    edge(p[1], p[2], x, y),
                    edge(p[2], p[0], x, y),
                ];
                e.iter().all(|&v| v >= 0.0) || e.iter().all(|&v| v <= 0.0)
            });
        }
        3 => {
            let unit = rng.gen_range(1..=5) as f64;
            let bar_h = rng.gen_range(20.0..120.0);
            let mut x = x0;
            for i in 0..rng.gen_range(10..50) {
                let bw = unit * rng.gen_range(1..=4) as f64;
                if i % 2 == 0 {
                    fill((x, y0, x + bw, y0 + bar_h), [20.0; 3], &|_, _| true);
                }
                x += bw;
            }
        }
        _ => {
            let glyph = rng.gen_range(5..=14) as f64;
            let ink = [rng.gen_range(0.0..70.0f32); 3];
            for line in 0..rng.gen_range(1..=8) {
                let y = y0 + line as f64 * glyph * 1.8;
                let mut x = x0;
                for _ in 0..rng.gen_range(5..40) {
                    let gw = rng.gen_range(glyph / 2.0..=glyph);
                    if rng.gen_bool(0.8) {
                        fill((x, y, x + gw - 2.0, y + glyph), ink, &|_, _| true);
                    }
                    x += gw + rng.gen_range(1.0..4.0);
                }
            }
        }
    }
}
