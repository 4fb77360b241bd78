//! Test helper for the WebDriver suite: mints sandbox printer labels as PNG files (offline, like the printer would).
//!
//! `mint_labels --out DIR [--count N] [--msign] [--manifest FILE]`
//! Writes DIR/label-<i>-<machine_code>.png. The manifest (JSON, test-only temp file) lists machine codes and keys so
//! the tests can check that no command ever hands a key back to the page; stdout only prints machine codes.

use std::path::PathBuf;

use quickauth_qr::label::{caption_for, png_bytes, render_payload};
use quickauth_qr::{LabelKey, LabelPayload, PayloadFormat};

fn main() {
    let mut out: Option<PathBuf> = None;
    let mut count = 1usize;
    let mut msign = false;
    let mut manifest: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = args.next().map(PathBuf::from),
            "--count" => count = args.next().and_then(|v| v.parse().ok()).unwrap_or(1),
            "--msign" => msign = true,
            "--manifest" => manifest = args.next().map(PathBuf::from),
            other => {
                eprintln!("mint_labels: unknown argument {other:?}");
                std::process::exit(2);
            }
        }
    }
    let Some(out) = out else {
        eprintln!("usage: mint_labels --out DIR [--count N] [--msign] [--manifest FILE]");
        std::process::exit(2);
    };
    std::fs::create_dir_all(&out).expect("create output dir");
    let now = chrono::Utc::now().timestamp();
    let mut seen = std::collections::HashSet::new();
    let mut entries = Vec::new();
    let mut i = 0;
    while entries.len() < count {
        let mc = quickauth_sandbox::keys::random_machine_code();
        if !seen.insert(mc.clone()) {
            continue;
        }
        i += 1;
        let key = if msign {
            LabelKey::Msign(quickauth_sandbox::msign_for(&mc))
        } else {
            LabelKey::QrKey(quickauth_sandbox::mint_qr_key(&mc, now))
        };
        let payload = LabelPayload::Yilianyun {
            machine_code: mc.clone(),
            key: key.clone(),
        };
        let img =
            render_payload(&payload, PayloadFormat::JsonSnake, 8).expect("label fits a QR code");
        let file = out.join(format!("label-{i}-{mc}.png"));
        // Write then rename, so a frame source reading the directory never sees half a file.
        let tmp = out.join(format!(".label-{i}.tmp"));
        std::fs::write(&tmp, png_bytes(&img)).expect("write label");
        std::fs::rename(&tmp, &file).expect("rename label");
        println!("{mc} {}", caption_for(&payload));
        entries.push(serde_json::json!({
            "machine_code": mc,
            "kind": if msign { "msign" } else { "qr_key" },
            "key": key.expose(),
            "file": file.display().to_string(),
        }));
    }
    if let Some(m) = manifest {
        std::fs::write(m, serde_json::to_string_pretty(&entries).expect("json"))
            .expect("write manifest");
    }
}
