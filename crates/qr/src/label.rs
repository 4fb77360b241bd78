//! Printer label renderer: a white label with the payload's QR code and caption lines (e.g. `SN:<machine code>`)
//! drawn with a built-in 5x7 bitmap font, as a `GrayImage` or PNG. Used by tests, the app's demo, the CLI
//! (`quickauth sandbox mint --png`) and the corpus generator.

use image::{GrayImage, Luma};
use qrcode::{Color, EcLevel, QrCode};

use crate::payload::{format_payload, LabelPayload, PayloadFormat};

const PAPER: u8 = 255;
const INK: u8 = 0;

/// How a label is laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelOptions {
    /// Pixels per QR module.
    pub module_px: u32,
    /// Quiet zone around the code, in modules (the QR spec asks for 4).
    pub quiet_modules: u32,
    /// Caption lines under the code. The font covers digits, A–Z (lowercase is drawn as uppercase) and
    /// ` :-./~#=_`; anything else is drawn as `?`. Never put a key here.
    pub lines: Vec<String>,
    /// Error correction; printer labels use M in the wild (readable, not too dense).
    pub ec_level: EcLevel,
}

impl Default for LabelOptions {
    fn default() -> Self {
        LabelOptions {
            module_px: 8,
            quiet_modules: 4,
            lines: Vec::new(),
            ec_level: EcLevel::M,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LabelError {
    #[error("payload of {bytes} bytes does not fit in a QR code; shorten it")]
    TooLong { bytes: usize },
    #[error("this payload cannot be written in the chosen format; choose another format")]
    Unrepresentable,
}

impl LabelError {
    pub fn kind(&self) -> &'static str {
        "label_render"
    }
    pub fn message_zh(&self) -> String {
        match self {
            LabelError::TooLong { bytes } => {
                format!("内容有 {bytes} 字节，放不进一个二维码。请缩短内容。")
            }
            LabelError::Unrepresentable => {
                "这个标签内容无法用所选格式表示，请换一种格式。".to_string()
            }
        }
    }
    pub fn message_en(&self) -> String {
        self.to_string()
    }
}

/// The QR modules of `text`: (width in modules, row-major dark flags).
pub fn qr_modules(text: &str, ec_level: EcLevel) -> Result<(usize, Vec<bool>), LabelError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), ec_level)
        .map_err(|_| LabelError::TooLong { bytes: text.len() })?;
    let width = code.width();
    let dark = code
        .to_colors()
        .into_iter()
        .map(|c| c == Color::Dark)
        .collect();
    Ok((width, dark))
}

/// Renders `text` as a QR code on a white label with `opts.lines` underneath.
pub fn render_text(text: &str, opts: &LabelOptions) -> Result<GrayImage, LabelError> {
    let (modules, dark) = qr_modules(text, opts.ec_level)?;
    let m = opts.module_px.max(1);
    let code_px = (modules as u32 + 2 * opts.quiet_modules) * m;
    // Caption glyph scale follows the module size so the text stays legible next to the code.
    let glyph_scale = (m / 3).max(1);
    let line_h = (GLYPH_H + 3) * glyph_scale;
    let text_w = opts
        .lines
        .iter()
        .map(|l| text_width(l, glyph_scale))
        .max()
        .unwrap_or(0);
    let margin = opts.quiet_modules * m;
    let width = code_px.max(text_w + 2 * margin);
    let caption_h = if opts.lines.is_empty() {
        0
    } else {
        opts.lines.len() as u32 * line_h + margin
    };
    let height = code_px + caption_h;
    let mut img = GrayImage::from_pixel(width, height, Luma([PAPER]));

    let x0 = (width - code_px) / 2 + opts.quiet_modules * m;
    let y0 = opts.quiet_modules * m;
    for (i, is_dark) in dark.iter().enumerate() {
        if !is_dark {
            continue;
        }
        let (mx, my) = ((i % modules) as u32, (i / modules) as u32);
        for dy in 0..m {
            for dx in 0..m {
                img.put_pixel(x0 + mx * m + dx, y0 + my * m + dy, Luma([INK]));
            }
        }
    }
    for (n, line) in opts.lines.iter().enumerate() {
        draw_text(
            &mut img,
            line,
            margin,
            code_px + n as u32 * line_h,
            glyph_scale,
        );
    }
    Ok(img)
}

/// The caption a label for `payload` carries: the machine code (or Lingju user id), never the key.
pub fn caption_for(payload: &LabelPayload) -> String {
    match payload {
        LabelPayload::Yilianyun { machine_code, .. } => format!("SN:{machine_code}"),
        LabelPayload::Lingju { userid } => format!("ID:{userid}"),
    }
}

/// Renders a label for `payload` written in `format`, captioned with its machine code.
pub fn render_payload(
    payload: &LabelPayload,
    format: PayloadFormat,
    module_px: u32,
) -> Result<GrayImage, LabelError> {
    let text = format_payload(payload, format).ok_or(LabelError::Unrepresentable)?;
    let opts = LabelOptions {
        module_px,
        lines: vec![caption_for(payload)],
        ..LabelOptions::default()
    };
    render_text(&text, &opts)
}

/// PNG of a label for already-formatted payload text (e.g. a sandbox-minted `payload`), captioned
/// `SN:<machine_code>`: what `quickauth sandbox mint --png` writes.
pub fn label_png(payload_text: &str, machine_code: &str) -> Result<Vec<u8>, LabelError> {
    let opts = LabelOptions {
        lines: vec![format!("SN:{machine_code}")],
        ..LabelOptions::default()
    };
    Ok(png_bytes(&render_text(payload_text, &opts)?))
}

/// PNG bytes of a rendered label (or any grey image).
pub fn png_bytes(img: &GrayImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("PNG encoding into memory cannot fail");
    out.into_inner()
}

const GLYPH_W: u32 = 5;
const GLYPH_H: u32 = 7;

fn text_width(line: &str, scale: u32) -> u32 {
    line.chars().count() as u32 * (GLYPH_W + 1) * scale
}

/// Draws `line` with its top-left corner at (x, y), clipped to the image.
pub fn draw_text(img: &mut GrayImage, line: &str, x: u32, y: u32, scale: u32) {
    for (n, c) in line.chars().enumerate() {
        let rows = glyph(c);
        let gx = x + n as u32 * (GLYPH_W + 1) * scale;
        for (ry, row) in rows.iter().enumerate() {
            for (rx, bit) in row.bytes().enumerate() {
                if bit != b'#' {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let (px, py) = (gx + rx as u32 * scale + dx, y + ry as u32 * scale + dy);
                        if px < img.width() && py < img.height() {
                            img.put_pixel(px, py, Luma([INK]));
                        }
                    }
                }
            }
        }
    }
}

fn glyph(c: char) -> &'static [&'static str; 7] {
    let c = c.to_ascii_uppercase();
    FONT.iter()
        .find(|(g, _)| *g == c)
        .map_or(&UNKNOWN, |(_, rows)| rows)
}

const UNKNOWN: [&str; 7] = [
    ".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#..",
];

#[rustfmt::skip]
const FONT: &[(char, [&str; 7])] = &[
    (' ', [".....", ".....", ".....", ".....", ".....", ".....", "....."]),
    ('0', [".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."]),
    ('1', ["..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."]),
    ('2', [".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"]),
    ('3', ["#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."]),
    ('4', ["...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."]),
    ('5', ["#####", "#....", "####.", "....#", "....#", "#...#", ".###."]),
    ('6', ["..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."]),
    ('7', ["#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."]),
    ('8', [".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."]),
    ('9', [".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."]),
    ('A', [".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"]),
    ('B', ["####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."]),
    ('C', [".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."]),
    ('D', ["###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."]),
    ('E', ["#####", "#....", "#....", "####.", "#....", "#....", "#####"]),
    ('F', ["#####", "#....", "#....", "####.", "#....", "#....", "#...."]),
    ('G', [".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"]),
    ('H', ["#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"]),
    ('I', [".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."]),
    ('J', ["..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."]),
    ('K', ["#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"]),
    ('L', ["#....", "#....", "#....", "#....", "#....", "#....", "#####"]),
    ('M', ["#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"]),
    ('N', ["#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"]),
    ('O', [".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."]),
    ('P', ["####.", "#...#", "#...#", "####.", "#....", "#....", "#...."]),
    ('Q', [".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"]),
    ('R', ["####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"]),
    ('S', [".####", "#....", "#....", ".###.", "....#", "....#", "####."]),
    ('T', ["#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."]),
    ('U', ["#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."]),
    ('V', ["#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."]),
    ('W', ["#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."]),
    ('X', ["#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"]),
    ('Y', ["#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."]),
    ('Z', ["#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"]),
    (':', [".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."]),
    ('-', [".....", ".....", ".....", "#####", ".....", ".....", "....."]),
    ('.', [".....", ".....", ".....", ".....", ".....", ".##..", ".##.."]),
    ('/', [".....", "....#", "...#.", "..#..", ".#...", "#....", "....."]),
    ('~', [".....", ".....", ".#...", "#.#.#", "...#.", ".....", "....."]),
    ('#', [".#.#.", ".#.#.", "#####", ".#.#.", "#####", ".#.#.", ".#.#."]),
    ('=', [".....", ".....", "#####", ".....", "#####", ".....", "....."]),
    ('_', [".....", ".....", ".....", ".....", ".....", ".....", "#####"]),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::LabelKey;

    #[test]
    fn font_rows_are_well_formed_and_distinct() {
        for (c, rows) in FONT {
            assert!(
                rows.iter()
                    .all(|r| r.len() == GLYPH_W as usize
                        && r.bytes().all(|b| b == b'#' || b == b'.')),
                "{c}"
            );
        }
        for (i, (a, ra)) in FONT.iter().enumerate() {
            for (b, rb) in &FONT[i + 1..] {
                assert!(ra != rb, "{a} and {b} look the same");
            }
        }
    }

    #[test]
    fn label_has_code_and_caption_and_no_key_text() {
        let payload = LabelPayload::Yilianyun {
            machine_code: "4004291417".into(),
            key: LabelKey::Msign("bb8ayn1b7o25".into()),
        };
        let img = render_payload(&payload, PayloadFormat::Bare('#'), 6).unwrap();
        let (modules, _) = qr_modules("4004291417#bb8ayn1b7o25", EcLevel::M).unwrap();
        let code_px = (modules as u32 + 8) * 6;
        assert!(img.height() > code_px, "caption below the code");
        // Quiet zone stays white; the top-left finder pattern's corner is dark.
        assert_eq!(img.get_pixel(1, 1).0[0], PAPER);
        let x0 = (img.width() - code_px) / 2 + 24;
        assert_eq!(img.get_pixel(x0 + 1, 25).0[0], INK);
        // Caption rows contain ink.
        let caption_ink = (code_px..img.height())
            .any(|y| (0..img.width()).any(|x| img.get_pixel(x, y).0[0] == INK));
        assert!(caption_ink);
        assert_eq!(caption_for(&payload), "SN:4004291417");
    }

    #[test]
    fn rendered_label_decodes_back_to_the_payload() {
        let payload = LabelPayload::Yilianyun {
            machine_code: "4004704341".into(),
            key: LabelKey::QrKey("5b92558589eaff30".into()),
        };
        for format in [
            PayloadFormat::OpenApiUrl,
            PayloadFormat::JsonCamel,
            PayloadFormat::Pairs(';'),
        ] {
            let img = render_payload(&payload, format, 4).unwrap();
            let (w, h) = (img.width() as usize, img.height() as usize);
            let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
                img.get_pixel(x as u32, y as u32).0[0]
            });
            let grids = prepared.detect_grids();
            assert_eq!(grids.len(), 1, "{format:?}");
            let (_, text) = grids[0].decode().unwrap();
            assert_eq!(crate::payload::parse_payload(&text).unwrap(), payload);
        }
    }

    #[test]
    fn png_round_trips() {
        let img = render_text(
            "hello",
            &LabelOptions {
                lines: vec!["SN:1".into()],
                ..LabelOptions::default()
            },
        )
        .unwrap();
        let back = image::load_from_memory(&png_bytes(&img))
            .unwrap()
            .to_luma8();
        assert_eq!(back, img);
        let png = label_png("4004291417#bb8ayn1b7o25", "4004291417").unwrap();
        let opts = LabelOptions {
            lines: vec!["SN:4004291417".into()],
            ..LabelOptions::default()
        };
        let want = render_text("4004291417#bb8ayn1b7o25", &opts).unwrap();
        assert_eq!(image::load_from_memory(&png).unwrap().to_luma8(), want);
    }

    #[test]
    fn refuses_oversized_payload() {
        let text = "9".repeat(8000);
        assert_eq!(
            render_text(&text, &LabelOptions::default()),
            Err(LabelError::TooLong { bytes: 8000 })
        );
    }
}
