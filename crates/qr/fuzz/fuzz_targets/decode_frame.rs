//! Fuzz target: the frame decoder must never panic, whatever the dimensions and pixels.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quickauth_qr::{Decoder, DecoderOptions, LumaFrame};

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    // First 4 bytes pick the dimensions (up to 255 x 255, so inputs can fill them); width * height may
    // also exceed the pixel bytes on purpose: the decoder must refuse short frames, not read past them.
    let (w, h) = (
        data[0] as u32 | ((data[2] as u32 & 1) << 8),
        data[1] as u32 | ((data[3] as u32 & 1) << 8),
    );
    let pixels = &data[4..];
    let mut decoder = Decoder::new(DecoderOptions {
        stop_at_first: data[2] & 2 == 0,
        ..DecoderOptions::default()
    });
    for d in decoder.decode(LumaFrame {
        width: w,
        height: h,
        data: pixels,
    }) {
        assert!(
            d.corners.iter().all(|c| c.0.is_finite() && c.1.is_finite()),
            "corners must be finite"
        );
    }
});
