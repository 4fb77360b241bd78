//! Fuzz target: `parse_payload` must never panic, and whatever it accepts must satisfy the documented
//! invariants and survive a re-encode/re-parse round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quickauth_qr::payload::{format_payload, PayloadFormat};
use quickauth_qr::{parse_payload, LabelPayload};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match parse_payload(&text) {
        Ok(payload) => {
            match &payload {
                LabelPayload::Yilianyun { machine_code, key } => {
                    assert!((1..=32).contains(&machine_code.len()));
                    assert!(machine_code.bytes().all(|b| b.is_ascii_digit()));
                    assert!(!key.expose().is_empty() && key.expose().len() <= 128);
                }
                LabelPayload::Lingju { userid } => {
                    assert!(
                        !userid.is_empty() && userid.bytes().all(|b| b.is_ascii_alphanumeric())
                    );
                }
            }
            let again = format_payload(&payload, PayloadFormat::JsonSnake)
                .expect("JSON carries every payload");
            assert_eq!(parse_payload(&again).ok(), Some(payload));
        }
        Err(e) => assert_eq!(e.raw, text),
    }
});
