//! Fuzz target: the frame decoder never panics, whatever the dimensions and pixels, and never returns a
//! payload other than the one drawn (synthetic mode: a real label rendered, then corrupted by the input).
#![no_main]

use libfuzzer_sys::fuzz_target;
use quickauth_qr::label::{render_text, LabelOptions};
use quickauth_qr::{Decoder, DecoderOptions, LumaFrame};

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let (mode, a, b, rest) = (data[0], data[1], data[2], &data[3..]);
    let options = DecoderOptions { stop_at_first: mode & 2 == 0, ..DecoderOptions::default() };
    let mut decoder = Decoder::new(options);
    if mode & 1 == 0 {
        // Raw mode: the input is the frame; dimensions from the header, sometimes deliberately larger than
        // the bytes (the decoder must refuse short frames, not read past them).
        let w = 21 + a as u32 % 200;
        let h = (rest.len() as u32 / w) + (b & 1) as u32;
        for d in decoder.decode(LumaFrame { width: w, height: h, data: rest }) {
            assert!(d.corners.iter().all(|c| c.0.is_finite() && c.1.is_finite()));
        }
        return;
    }
    // Synthetic mode: render a label for a short text, then let the input overwrite pixels.
    let text_len = (a as usize % 24).min(rest.len());
    let text: String = String::from_utf8_lossy(&rest[..text_len]).chars().filter(|c| !c.is_control()).collect();
    if text.is_empty() {
        return;
    }
    let opts = LabelOptions { module_px: 1 + (b as u32 % 5), ..LabelOptions::default() };
    let Ok(img) = render_text(&text, &opts) else { return };
    let (w, h) = (img.width(), img.height());
    let mut px = img.into_raw();
    let noise = &rest[text_len..];
    if !noise.is_empty() && !px.is_empty() {
        // Each pair of input bytes writes one pixel at a position spread over the image.
        for pair in noise.chunks_exact(2) {
            let at = (pair[0] as usize * 7919 + pair[1] as usize * 104_729) % px.len();
            px[at] = pair[1];
        }
    }
    if b & 0x80 != 0 {
        px.iter_mut().for_each(|p| *p = 255 - *p);
    }
    for d in decoder.decode(LumaFrame { width: w, height: h, data: &px }) {
        assert_eq!(d.text, text, "decoded a payload that was never drawn");
        assert!(d.corners.iter().all(|c| c.0.is_finite() && c.1.is_finite()));
    }
});
