//! Decoder tests on frames rendered here (qrcode crate) and degraded like a camera would: scale, rotation,
//! blur, noise, dim light, gradients, inversion. Asserts exact payloads and that the reported corners lie on
//! the code. Also: degenerate frames never panic (proptest), image-file errors are explained.

use proptest::prelude::*;
use qrcode::{Color, EcLevel, QrCode};
use quickauth_qr::{decode_image_file, Decoded, Decoder, DecoderOptions, LumaFrame};

/// A code rendered into a grey frame, with the true outer corners (TL, TR, BR, BL) in frame pixels.
struct Scene {
    w: usize,
    h: usize,
    px: Vec<u8>,
    corners: [(f32, f32); 4],
    module: f32,
}

/// Draws `text` as a QR code (quiet zone 4) on a white label over a grey background, `module` px per
/// module, centred at (cx, cy), rotated by `angle` degrees. Pixels are supersampled 3x3 (anti-aliased edges).
fn render(w: usize, h: usize, text: &str, module: f32, cx: f32, cy: f32, angle: f32) -> Scene {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).expect("encodable");
    let n = code.width();
    let colors = code.to_colors();
    let (sin, cos) = angle.to_radians().sin_cos();
    let half = n as f32 / 2.0;
    let mut px = vec![110u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0u32;
            for sy in 0..3 {
                for sx in 0..3 {
                    let fx = x as f32 + (sx as f32 + 0.5) / 3.0 - cx;
                    let fy = y as f32 + (sy as f32 + 0.5) / 3.0 - cy;
                    // Inverse rotation into module space.
                    let u = (cos * fx + sin * fy) / module + half;
                    let v = (-sin * fx + cos * fy) / module + half;
                    let lum = if u >= -6.0 && v >= -6.0 && u < n as f32 + 6.0 && v < n as f32 + 6.0
                    {
                        if u >= 0.0 && v >= 0.0 && (u as usize) < n && (v as usize) < n {
                            match colors[v as usize * n + u as usize] {
                                Color::Dark => 25,
                                Color::Light => 235,
                            }
                        } else {
                            235 // label paper = quiet zone
                        }
                    } else {
                        110
                    };
                    acc += lum;
                }
            }
            px[y * w + x] = (acc / 9) as u8;
        }
    }
    let corner = |u: f32, v: f32| {
        let (mx, my) = ((u - half) * module, (v - half) * module);
        (cx + cos * mx - sin * my, cy + sin * mx + cos * my)
    };
    let nf = n as f32;
    Scene {
        w,
        h,
        px,
        corners: [
            corner(0.0, 0.0),
            corner(nf, 0.0),
            corner(nf, nf),
            corner(0.0, nf),
        ],
        module,
    }
}

/// Deterministic pseudo-random numbers (tests must not flake).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
    /// Roughly normal, mean 0, sd ~1 (sum of uniforms).
    fn gauss(&mut self) -> f32 {
        (0..4)
            .map(|_| (self.next() % 10_000) as f32 / 10_000.0)
            .sum::<f32>()
            * 1.732
            - 3.464
    }
}

fn box_blur(s: &mut Scene, radius: usize) {
    let (w, h) = (s.w, s.h);
    let src = s.px.clone();
    for y in 0..h {
        for x in 0..w {
            let (mut acc, mut cnt) = (0u32, 0u32);
            for yy in y.saturating_sub(radius)..(y + radius + 1).min(h) {
                for xx in x.saturating_sub(radius)..(x + radius + 1).min(w) {
                    acc += src[yy * w + xx] as u32;
                    cnt += 1;
                }
            }
            s.px[y * w + x] = (acc / cnt) as u8;
        }
    }
}

fn noise(s: &mut Scene, sd: f32, seed: u64) {
    let mut rng = Lcg(seed);
    for p in s.px.iter_mut() {
        *p = (*p as f32 + rng.gauss() * sd).clamp(0.0, 255.0) as u8;
    }
}

fn dim(s: &mut Scene, factor: f32) {
    for p in s.px.iter_mut() {
        *p = (*p as f32 * factor) as u8;
    }
}

fn gradient(s: &mut Scene) {
    let w = s.w as f32;
    for (i, p) in s.px.iter_mut().enumerate() {
        let x = (i % s.w) as f32;
        *p = (*p as f32 * (0.45 + 0.55 * x / w)) as u8;
    }
}

fn invert(s: &mut Scene) {
    s.px.iter_mut().for_each(|p| *p = 255 - *p);
}

fn decode(s: &Scene) -> Vec<Decoded> {
    let mut d = Decoder::new(DecoderOptions::default());
    d.decode(LumaFrame {
        width: s.w as u32,
        height: s.h as u32,
        data: &s.px,
    })
}

/// Exact payload, and every reported corner within 1.5 modules of the true one (same order).
fn assert_reads(s: &Scene, text: &str, what: &str) {
    let found = decode(s);
    assert_eq!(found.len(), 1, "{what}: expected one code, got {found:?}");
    assert_eq!(found[0].text, text, "{what}: wrong payload");
    for (i, (got, want)) in found[0].corners.iter().zip(s.corners.iter()).enumerate() {
        let dist = (got.0 - want.0).hypot(got.1 - want.1);
        assert!(
            dist <= 1.5 * s.module + 1.0,
            "{what}: corner {i} at {got:?}, true corner {want:?} ({dist:.1} px off)"
        );
    }
}

const LABEL: &str = "https://www.10ss.net/authorize?mc=4004225199&msign=0hcmp0kh2kpk&t=label";
const SHORT: &str = "4004291417#bb8ayn1b7o25";

#[test]
fn clean_code_reads_with_corners() {
    assert_reads(
        &render(640, 480, SHORT, 5.0, 320.0, 240.0, 0.0),
        SHORT,
        "clean",
    );
}

#[test]
fn sizes_from_small_to_large() {
    assert_reads(
        &render(1280, 720, SHORT, 2.5, 500.0, 300.0, 0.0),
        SHORT,
        "2.5 px modules in 720p",
    );
    assert_reads(
        &render(640, 480, LABEL, 3.0, 300.0, 250.0, 0.0),
        LABEL,
        "3 px modules",
    );
    assert_reads(
        &render(800, 600, LABEL, 12.0, 400.0, 300.0, 0.0),
        LABEL,
        "12 px modules",
    );
}

#[test]
fn huge_frame_corners_in_original_coordinates() {
    // 12 Mpx is above the decoder's base-size limit: it works on a downscaled copy and must scale back.
    let s = render(4000, 3000, SHORT, 14.0, 2900.0, 900.0, 10.0);
    assert_reads(&s, SHORT, "4000x3000");
}

#[test]
fn rotated_codes() {
    for (i, angle) in [17.0f32, 90.0, 135.0, 250.0].into_iter().enumerate() {
        let s = render(640, 480, LABEL, 4.0, 330.0 - i as f32 * 10.0, 230.0, angle);
        assert_reads(&s, LABEL, &format!("rotated {angle} deg"));
    }
}

#[test]
fn blurred_and_noisy() {
    let mut s = render(640, 480, LABEL, 5.0, 320.0, 240.0, 8.0);
    box_blur(&mut s, 1);
    noise(&mut s, 8.0, 7);
    assert_reads(&s, LABEL, "blur r1 + noise 8");

    let mut s = render(640, 480, SHORT, 4.0, 300.0, 200.0, -12.0);
    noise(&mut s, 14.0, 11);
    assert_reads(&s, SHORT, "noise 14");
}

#[test]
fn dim_and_uneven_light() {
    let mut s = render(640, 480, LABEL, 4.0, 320.0, 240.0, 5.0);
    dim(&mut s, 0.3);
    noise(&mut s, 2.0, 3);
    assert_reads(&s, LABEL, "dim 0.3");

    let mut s = render(640, 480, SHORT, 4.0, 320.0, 240.0, 0.0);
    gradient(&mut s);
    assert_reads(&s, SHORT, "gradient");
}

#[test]
fn inverted_light_on_dark() {
    let mut s = render(640, 480, SHORT, 4.0, 320.0, 240.0, 20.0);
    invert(&mut s);
    assert_reads(&s, SHORT, "inverted");

    // The option is honoured: without inverted passes, a purely inverted frame yields nothing.
    let mut d = Decoder::new(DecoderOptions {
        try_inverted: false,
        ..DecoderOptions::default()
    });
    assert!(d
        .decode(LumaFrame {
            width: s.w as u32,
            height: s.h as u32,
            data: &s.px
        })
        .is_empty());
}

#[test]
fn two_codes_in_one_frame_when_asked_for_all() {
    let a = render(900, 400, SHORT, 4.0, 220.0, 200.0, 0.0);
    let b = render(900, 400, LABEL, 4.0, 650.0, 200.0, 0.0);
    // Combine: take the darker (label) of the two wherever one of them drew.
    let px: Vec<u8> =
        a.px.iter()
            .zip(&b.px)
            .map(|(&x, &y)| if x != 110 { x } else { y })
            .collect();
    let mut d = Decoder::new(DecoderOptions {
        stop_at_first: false,
        ..DecoderOptions::default()
    });
    let mut texts: Vec<String> = d
        .decode(LumaFrame {
            width: 900,
            height: 400,
            data: &px,
        })
        .into_iter()
        .map(|c| c.text)
        .collect();
    texts.sort();
    let mut want = vec![SHORT.to_string(), LABEL.to_string()];
    want.sort();
    assert_eq!(texts, want);
}

/// Still-image mode stops searching a region once it gave a code, but a frame holding several codes (a
/// sheet of labels, close together so the contrast map sees one region) still gives every one of them.
#[test]
fn four_close_codes_in_one_image_all_read() {
    let texts_in = [
        "4004291417#bb8ayn1b7o25",
        "4004291418#cc8ayn1b7o26",
        "4004291419#dd8ayn1b7o27",
        "4004291420#ee8ayn1b7o28",
    ];
    let centres = [
        (230.0, 170.0),
        (530.0, 170.0),
        (230.0, 450.0),
        (530.0, 450.0),
    ];
    let scenes: Vec<_> = texts_in
        .iter()
        .zip(centres)
        .map(|(t, (x, y))| render(760, 620, t, 4.0, x, y, 0.0))
        .collect();
    let px: Vec<u8> = (0..760 * 620)
        .map(|i| {
            scenes
                .iter()
                .map(|s| s.px[i])
                .find(|&p| p != 110)
                .unwrap_or(110)
        })
        .collect();
    let mut d = Decoder::new(DecoderOptions::still_image());
    let mut texts: Vec<String> = d
        .decode(LumaFrame {
            width: 760,
            height: 620,
            data: &px,
        })
        .into_iter()
        .map(|c| c.text)
        .collect();
    texts.sort();
    assert_eq!(texts, texts_in.map(String::from).to_vec());
}

/// A high-resolution scan: modules of 40 px, the code filling most of an 1800 px image. The contrast map
/// sees such a code only along its module edges, as fragments; their bounding box is searched too.
#[test]
fn big_modules_in_a_big_image_read_from_the_crop_path() {
    let s = render(1800, 1800, SHORT, 40.0, 900.0, 900.0, 10.0);
    let mut d = Decoder::new(DecoderOptions::default());
    let found = d.decode(LumaFrame {
        width: 1800,
        height: 1800,
        data: &s.px,
    });
    assert_eq!(found.first().map(|c| c.text.as_str()), Some(SHORT));
    // Read from a region crop, not by the whole-frame safety net (pass 900 and up).
    assert!(
        d.last_pass().is_some_and(|p| p < 900),
        "pass {:?}",
        d.last_pass()
    );
}

/// `text` as a QR code (EC level M) with a one-module quiet zone, drawn at 8 px a module and resized to
/// `side` px by nearest neighbour (each pixel takes the source pixel under its centre): modules of one or
/// two pixels, as a small screenshot or a pixel-snapped image has them.
fn pixel_snapped(text: &str, side: usize) -> Scene {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).expect("encodable");
    let n = code.width();
    let colors = code.to_colors();
    let big = (n + 2) * 8;
    let mut px = vec![255u8; side * side];
    for y in 0..side {
        for x in 0..side {
            let (bx, by) = (
                (x * 2 + 1) * big / (side * 2),
                (y * 2 + 1) * big / (side * 2),
            );
            let (mx, my) = ((bx / 8) as isize - 1, (by / 8) as isize - 1);
            if (0..n as isize).contains(&mx)
                && (0..n as isize).contains(&my)
                && colors[my as usize * n + mx as usize] == Color::Dark
            {
                px[y * side + x] = 0;
            }
        }
    }
    let m = side as f32 / (n + 2) as f32;
    let (a, b) = (m, side as f32 - m);
    Scene {
        w: side,
        h: side,
        px,
        corners: [(a, a), (b, a), (b, b), (a, b)],
        module: m,
    }
}

#[test]
fn pixel_snapped_modules_of_one_or_two_pixels() {
    // 1.25 px a module on average: every fourth module is two pixels wide, so the flat grid through
    // the finders drifts up to 0.4 module off the modules between them; the reader samples where the
    // module edges are instead (`edge_grids`). Versions 1 and 3.
    assert_reads(&pixel_snapped("HELLO123", 29), "HELLO123", "v1 in 29 px");
    let url = "https://qa.example/abcdefghij";
    assert_reads(&pixel_snapped(url, 39), url, "v3 in 39 px");
}

#[test]
fn a_whole_image_smaller_than_the_contrast_map_can_see() {
    // 23 px: one pixel a module and a one-module margin. Under 84 px a side there is no half-size level
    // (so no whole-frame scan) and the contrast map has 2x2 blocks: the whole image is the region.
    assert_reads(&pixel_snapped("HELLO123", 23), "HELLO123", "v1 in 23 px");
}

#[test]
fn decoder_is_reusable_and_deterministic() {
    let s = render(640, 480, LABEL, 4.0, 320.0, 240.0, 30.0);
    let blank = vec![128u8; 320 * 240];
    let mut d = Decoder::new(DecoderOptions::default());
    let first = d.decode(LumaFrame {
        width: 640,
        height: 480,
        data: &s.px,
    });
    assert!(d
        .decode(LumaFrame {
            width: 320,
            height: 240,
            data: &blank
        })
        .is_empty());
    let again = d.decode(LumaFrame {
        width: 640,
        height: 480,
        data: &s.px,
    });
    assert_eq!(first, again);
    assert_eq!(first.len(), 1);
}

#[test]
fn degenerate_frames_yield_nothing() {
    let mut d = Decoder::new(DecoderOptions::default());
    let px = vec![0u8; 4096];
    for (w, h, len) in [
        (0, 0, 0),
        (1, 1, 1),
        (1, 4096, 4096),
        (4096, 1, 4096),
        (64, 64, 100),
        (u32::MAX, u32::MAX, 4096),
        (20, 20, 400),
    ] {
        assert!(
            d.decode(LumaFrame {
                width: w,
                height: h,
                data: &px[..len]
            })
            .is_empty(),
            "{w}x{h}"
        );
    }
}

#[test]
fn image_file_round_trip_and_errors() {
    let s = render(400, 300, SHORT, 4.0, 200.0, 150.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("label.png");
    image::GrayImage::from_raw(400, 300, s.px.clone())
        .unwrap()
        .save(&path)
        .unwrap();
    let found = decode_image_file(&path).unwrap();
    assert_eq!(
        found.iter().map(|d| d.text.as_str()).collect::<Vec<_>>(),
        vec![SHORT]
    );
    // Screenshots and saved photos come as GIF, BMP, WebP and TIFF too: each reads, whatever its name says
    // (the content decides; a GIF named .png reads as well).
    let grey = image::DynamicImage::ImageLuma8(
        image::GrayImage::from_raw(400, 300, s.px.clone()).unwrap(),
    );
    let rgb = image::DynamicImage::ImageRgb8(grey.to_rgb8());
    for (name, img, format) in [
        ("label.gif", &rgb, image::ImageFormat::Gif),
        ("label.bmp", &rgb, image::ImageFormat::Bmp),
        ("label.webp", &rgb, image::ImageFormat::WebP),
        ("label.tiff", &grey, image::ImageFormat::Tiff),
        ("gif-named.png", &rgb, image::ImageFormat::Gif),
    ] {
        let path = dir.path().join(name);
        img.save_with_format(&path, format).unwrap();
        let found = decode_image_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            found.iter().map(|d| d.text.as_str()).collect::<Vec<_>>(),
            vec![SHORT],
            "{name}"
        );
    }

    let missing = decode_image_file(&dir.path().join("nope.png")).unwrap_err();
    assert_eq!(missing.kind(), "image_io");
    assert!(missing.message_zh().contains("nope.png") && missing.message_en().contains("nope.png"));

    let junk = dir.path().join("junk.png");
    std::fs::write(&junk, b"not an image").unwrap();
    let err = decode_image_file(&junk).unwrap_err();
    assert_eq!(err.kind(), "bad_image");
    assert!(!err.message_zh().is_empty() && err.message_en().contains("PNG"));
    assert!(err.message_zh().contains("WebP") && err.message_en().contains("WebP"));
}

#[test]
fn converters_feed_the_decoder() {
    let s = render(320, 240, SHORT, 4.0, 160.0, 120.0, 0.0);
    let rgb: Vec<u8> = s.px.iter().flat_map(|&p| [p, p, p]).collect();
    let luma = quickauth_qr::rgb_to_luma(&rgb);
    assert_eq!(luma.len(), s.px.len());
    let yuyv: Vec<u8> = s.px.iter().flat_map(|&p| [p, 128]).collect();
    assert_eq!(quickauth_qr::yuyv_to_luma(&yuyv), s.px);
    let mut jpeg = Vec::new();
    image::GrayImage::from_raw(320, 240, s.px.clone())
        .unwrap()
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    let (w, h, y) = quickauth_qr::decode_jpeg_to_luma(&jpeg).unwrap();
    let mut d = Decoder::new(DecoderOptions::default());
    let found = d.decode(LumaFrame {
        width: w,
        height: h,
        data: &y,
    });
    assert_eq!(found.first().map(|c| c.text.as_str()), Some(SHORT));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_frames_never_panic(w in 0u32..120, h in 0u32..120, seed in any::<u64>(), short in 0usize..50) {
        let n = (w * h) as usize;
        let mut rng = Lcg(seed);
        let mut px: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        // Blocky structure too, so finder-like runs and flood fills get exercised, not only speckle.
        for (i, p) in px.iter_mut().enumerate() {
            if (i / 3 + (i / (w.max(1) as usize)) / 3) % 7 < 3 { *p = 0; }
        }
        px.truncate(n.saturating_sub(short % 2 * short));
        let mut d = Decoder::new(DecoderOptions { stop_at_first: seed % 2 == 0, ..DecoderOptions::default() });
        for c in d.decode(LumaFrame { width: w, height: h, data: &px }) {
            prop_assert!(c.corners.iter().all(|p| p.0.is_finite() && p.1.is_finite()));
        }
    }
}
