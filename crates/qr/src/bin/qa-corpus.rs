//! `qa-corpus`: writes a seeded corpus of camera-like label frames (images + truth.json), or checks that every
//! payload in a truth.json parses to its machine code.
//!
//! Usage:
//!   qa-corpus generate --out DIR [--seed N] [--count N]
//!   qa-corpus categories --out DIR [--seed N] [--count N] [--only CATEGORY]   (one sub-directory per category)
//!   qa-corpus check-truth PATH/truth.json

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use quickauth_qr::{categories, corpus, parse_payload};

const USAGE: &str = "usage: qa-corpus generate --out DIR [--seed N] [--count N]\n       qa-corpus categories --out DIR [--seed N] [--count N] [--only CATEGORY]\n       qa-corpus check-truth TRUTH_JSON";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("generate") => generate(&args[1..], false),
        Some("categories") => generate(&args[1..], true),
        Some("check-truth") if args.len() == 2 => check_truth(&args[1]),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn generate(args: &[String], by_category: bool) -> ExitCode {
    let (mut out, mut seed, mut count) = (None, 1u64, 150usize);
    let mut only: Option<String> = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next();
        let parsed = match (flag.as_str(), value) {
            ("--out", Some(v)) => {
                out = Some(PathBuf::from(v));
                true
            }
            ("--seed", Some(v)) => v.parse().map(|v| seed = v).is_ok(),
            ("--count", Some(v)) => v.parse().map(|v| count = v).is_ok(),
            ("--only", Some(v)) if by_category => {
                only = Some(v.clone());
                true
            }
            _ => false,
        };
        if !parsed {
            eprintln!("bad argument {flag}\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    let Some(out) = out else {
        eprintln!("--out is required\n{USAGE}");
        return ExitCode::from(2);
    };
    let started = Instant::now();
    if by_category {
        let cats: Vec<&str> = match &only {
            Some(c) if !categories::CATEGORIES.contains(&c.as_str()) => {
                eprintln!(
                    "unknown category {c} (known: {})",
                    categories::CATEGORIES.join(", ")
                );
                return ExitCode::from(2);
            }
            Some(c) => vec![c.as_str()],
            None => categories::CATEGORIES.to_vec(),
        };
        for cat in &cats {
            if let Err(e) = categories::write_dir(&out.join(cat), cat, seed, count) {
                eprintln!("writing category {cat} to {} failed: {e}", out.display());
                return ExitCode::FAILURE;
            }
        }
        println!(
            "wrote {count} images (seed {seed}) per category for {} categories to {} in {:.1} s",
            cats.len(),
            out.display(),
            started.elapsed().as_secs_f64()
        );
        return ExitCode::SUCCESS;
    }
    if let Err(e) = corpus::write_dir(&out, seed, count) {
        eprintln!("writing the corpus to {} failed: {e}", out.display());
        return ExitCode::FAILURE;
    }
    println!(
        "wrote {count} frames (seed {seed}) to {} in {:.1} s",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}

fn check_truth(path: &str) -> ExitCode {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let truth: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(&text) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path} is not a truth.json object: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (mut ok, mut bad) = (0, 0);
    for (name, entry) in &truth {
        let payload = entry["payload"].as_str().unwrap_or_default();
        let want = entry["machine_code"].as_str().unwrap_or_default();
        match parse_payload(payload) {
            Ok(p) if p.machine_code() == Some(want) => ok += 1,
            // Report the reason only: payloads hold keys.
            Ok(p) => {
                bad += 1;
                println!(
                    "{name}: parsed machine code {:?}, truth {want}",
                    p.machine_code()
                );
            }
            Err(e) => {
                bad += 1;
                println!("{name}: refused ({}): {e}", e.reason.tag());
            }
        }
    }
    println!("{ok}/{} payloads parse to the truth machine code", ok + bad);
    if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
