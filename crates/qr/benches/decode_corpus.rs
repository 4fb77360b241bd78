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
    if dirs.is_empty() {
        eprintln!("usage: decode_corpus <corpus-dir>...  (each with truth.json)");
        std::process::exit(2);
    }
    let mut decoder = Decoder::new(DecoderOptions::default());
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
