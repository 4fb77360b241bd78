//! Corpus bench for the frame decoder: decodes every frame listed in `<corpus>/truth.json` and prints one JSON
//! line per frame (`file`, `texts`, `ms`, `wall_ms`, `load_ms`, `pass`, `units`). `ms` covers `Decoder::decode`
//! only, not file loading: it is this thread's CPU time (Unix; wall time elsewhere), so other processes on a
//! shared machine do not inflate it, and `wall_ms` is the wall time. `load_ms` is the CPU time of loading the
//! file (read and luma conversion, as `quickauth decode` does); `pass` and `units` are the pass that read the
//! first code and how many passes ran up to it (`Decoder::last_pass`, `last_units`).
//! Run through `scripts/bench-qr.sh`, which pins it to one core and compares with zxing-cpp and zbar.
//!
//! `--live`: live mode instead. Each corpus image becomes a sequence of `LIVE_FRAMES` consecutive camera
//! frames (the same scene with fresh sensor noise, sd 2 grey levels, per frame) fed to a fresh
//! `Decoder::live()`; one JSON line per image with every frame's ms, the texts of the first read and the
//! index of the frame that first read (`first_read`, null if none did).

use std::path::PathBuf;
use std::time::Instant;

use quickauth_qr::{Decoder, DecoderOptions, LumaFrame};

fn main() {
    // `cargo bench` appends `--bench`; every other argument is a corpus directory.
    let live = std::env::args().any(|a| a == "--live");
    // `--still`: the options `decode_image_file` (CLI `decode`, the app's file scan) uses.
    let still = std::env::args().any(|a| a == "--still");
    let dirs: Vec<PathBuf> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    let mut decoder = Decoder::new(if still {
        DecoderOptions::still_image()
    } else {
        DecoderOptions::default()
    });
    if dirs.is_empty() {
        // `cargo test --all-targets` runs this binary with no arguments: check that the bench's own path works
        // (a small seeded corpus, in memory) instead of failing on a missing corpus.
        smoke(&mut decoder);
        return;
    }
    for dir in dirs {
        let truth: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(
            &std::fs::read(dir.join("truth.json")).expect("read truth.json"),
        )
        .expect("truth.json is a JSON object");
        let mut names: Vec<&String> = truth.keys().collect();
        names.sort();
        for name in names {
            // The loader `decode_image_file` (CLI `decode`, the app's file scan) uses, timed apart
            // (`load_ms`: reading the file and converting it to luma, this thread's CPU time).
            let load0 = cpu_ms();
            let img = match std::fs::read(dir.join(name))
                .map_err(|e| e.to_string())
                .and_then(|bytes| quickauth_qr::image_to_luma(&bytes).map_err(|e| e.to_string()))
            {
                Ok((w, h, luma)) => image::GrayImage::from_raw(w, h, luma).expect("w * h bytes"),
                Err(e) => {
                    eprintln!("{name}: {e}");
                    continue;
                }
            };
            if live {
                live_sequence(name, img.width(), img.height(), img.as_raw());
                continue;
            }
            let frame = LumaFrame {
                width: img.width(),
                height: img.height(),
                data: img.as_raw(),
            };
            let load_ms = cpu_ms() - load0;
            let (c0, t0) = (cpu_ms(), Instant::now());
            let found = decoder.decode(frame);
            let ms = cpu_ms() - c0;
            let wall_ms = t0.elapsed().as_secs_f64() * 1000.0;
            let texts: Vec<&str> = found.iter().map(|d| d.text.as_str()).collect();
            println!(
                "{}",
                serde_json::json!({ "file": name, "texts": texts, "ms": ms, "wall_ms": wall_ms,
                    "load_ms": load_ms, "pass": decoder.last_pass(), "units": decoder.last_units() })
            );
        }
    }
}

/// Decodes 12 frames of the seeded project corpus; fails when fewer than half decode or any decodes wrong.
fn smoke(decoder: &mut Decoder) {
    let (mut ok, mut wrong, mut n) = (0, 0, 0);
    for frame in quickauth_qr::corpus::generate(1, 12) {
        let img = frame.luma();
        let found = decoder.decode(LumaFrame {
            width: img.width(),
            height: img.height(),
            data: img.as_raw(),
        });
        n += 1;
        match found.first() {
            Some(d) if d.text == frame.payload => ok += 1,
            Some(_) => wrong += 1,
            None => {}
        }
    }
    println!("decode_corpus smoke: {ok}/{n} decoded, {wrong} wrong (pass a corpus dir to bench)");
    assert!(ok * 2 >= n && wrong == 0, "decoder smoke check failed");
}

/// Consecutive frames per image in `--live` mode.
const LIVE_FRAMES: usize = 12;

/// Live mode on one image: `LIVE_FRAMES` noisy copies through one `Decoder::live()`.
fn live_sequence(name: &str, w: u32, h: u32, px: &[u8]) {
    let mut decoder = Decoder::live();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ px.len() as u64;
    let mut frame = px.to_vec();
    let mut frames_ms = Vec::with_capacity(LIVE_FRAMES);
    let mut first_read = None;
    let mut texts: Vec<String> = Vec::new();
    for i in 0..LIVE_FRAMES {
        for (o, &p) in frame.iter_mut().zip(px) {
            // Sum of two uniforms in -2..=2: sd ~1.4-2 grey levels, like a webcam's sensor noise.
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let n = ((seed >> 33) % 5) as i32 + ((seed >> 45) % 5) as i32 - 4;
            *o = (p as i32 + n).clamp(0, 255) as u8;
        }
        let c0 = cpu_ms();
        let found = decoder.decode(LumaFrame {
            width: w,
            height: h,
            data: &frame,
        });
        frames_ms.push(cpu_ms() - c0);
        if first_read.is_none() && !found.is_empty() {
            first_read = Some(i);
            texts = found.into_iter().map(|d| d.text).collect();
        }
    }
    println!(
        "{}",
        serde_json::json!({ "file": name, "texts": texts, "ms": frames_ms[0], "frames_ms": frames_ms,
            "first_read": first_read, "width": w, "height": h })
    );
}

/// This thread's CPU time in ms (Unix), else wall time.
fn cpu_ms() -> f64 {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: valid out-pointer; the clock id exists on every Unix.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
            return ts.tv_sec as f64 * 1000.0 + ts.tv_nsec as f64 / 1e6;
        }
    }
    use std::sync::OnceLock;
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_secs_f64() * 1000.0
}
