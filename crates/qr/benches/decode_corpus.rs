//! Corpus bench for the frame decoder: decodes every frame listed in `<corpus>/truth.json` and prints one JSON
//! line per frame (`file`, `texts`, `ms`, `pass`). Timing covers `Decoder::decode` only, not file loading.
//! Run through `scripts/bench-qr.sh`, which pins it to one core and compares with zxing-cpp and zbar.

use std::path::PathBuf;
use std::time::Instant;

use quickauth_qr::{Decoder, DecoderOptions, LumaFrame};

fn main() {
    // `cargo bench` appends `--bench`; every other argument is a corpus directory.
    let dirs: Vec<PathBuf> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    let mut decoder = Decoder::new(DecoderOptions::default());
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
            let img = match image::open(dir.join(name)) {
                Ok(img) => img.into_luma8(),
                Err(e) => {
                    eprintln!("{name}: {e}");
                    continue;
                }
            };
            let frame = LumaFrame {
                width: img.width(),
                height: img.height(),
                data: img.as_raw(),
            };
            let t0 = Instant::now();
            let found = decoder.decode(frame);
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            let texts: Vec<&str> = found.iter().map(|d| d.text.as_str()).collect();
            println!(
                "{}",
                serde_json::json!({ "file": name, "texts": texts, "ms": ms, "pass": decoder.last_pass() })
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
