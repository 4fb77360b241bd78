//! Property tests of the label payload parser: every format the generator writes reads back to the same payload,
//! wrapping noise is tolerated, and no input (text or bytes) makes it panic or leak a key into Display/Debug.

use proptest::prelude::*;
use quickauth_qr::payload::{
    format_payload, key_kind_from_shape, KeyKind, PayloadFormat, PayloadProblem,
};
use quickauth_qr::{parse_payload, LabelKey, LabelPayload};

fn machine_code() -> impl Strategy<Value = String> {
    prop_oneof!["4004[0-9]{6}", "[0-9]{1,32}",]
}

/// Keys as labels carry them: shaped keys (usable in every format, bare included) and arbitrary labelled ones.
fn key() -> impl Strategy<Value = LabelKey> {
    prop_oneof![
        "[0-9a-f]{16}".prop_map(LabelKey::QrKey),
        "[0-9A-F]{16}".prop_map(LabelKey::QrKey),
        "[a-z0-9]{11,12}".prop_map(LabelKey::Msign),
        "[A-Za-z0-9._~-]{1,128}".prop_map(LabelKey::QrKey),
        "[A-Za-z0-9._~-]{1,128}".prop_map(LabelKey::Msign),
    ]
}

fn payload() -> impl Strategy<Value = LabelPayload> {
    prop_oneof![
        4 => (machine_code(), key()).prop_map(|(machine_code, key)| LabelPayload::Yilianyun { machine_code, key }),
        1 => "[A-Za-z0-9]{1,64}".prop_map(|userid| LabelPayload::Lingju { userid }),
    ]
}

fn format() -> impl Strategy<Value = PayloadFormat> {
    let all = PayloadFormat::all();
    (0..all.len()).prop_map(move |i| all[i])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn every_generated_format_round_trips(p in payload(), f in format()) {
        if let Some(text) = format_payload(&p, f) {
            prop_assert_eq!(parse_payload(&text), Ok(p.clone()), "{:?}", f);
        } else {
            // Only the bare form may decline, and only when the key's shape would not identify its kind.
            match (&p, f) {
                (LabelPayload::Lingju { .. }, PayloadFormat::Bare(_)) => {}
                (LabelPayload::Yilianyun { key, .. }, PayloadFormat::Bare(_)) => {
                    prop_assert_ne!(key_kind_from_shape(key.expose()), Some(key.kind()));
                }
                _ => prop_assert!(false, "{:?} declined {:?}", f, p),
            }
        }
    }

    #[test]
    fn wrapping_noise_is_tolerated(
        p in payload(),
        f in format(),
        lead in "[ \t\r\n\u{feff}\u{200b}]{0,4}",
        trail in "[ \t\r\n\u{00a0}\u{3000}]{0,4}",
    ) {
        if let Some(text) = format_payload(&p, f) {
            prop_assert_eq!(parse_payload(&format!("{lead}{text}{trail}")), Ok(p));
        }
    }

    #[test]
    fn unrelated_fields_and_order_do_not_matter(
        mc in machine_code(),
        k in "[a-z0-9]{11,12}",
        extra in proptest::collection::vec(("[a-z]{3,8}", "[A-Za-z0-9]{0,10}"), 0..4),
        reverse in any::<bool>(),
        sep in prop::sample::select(vec!["&", ";", ",", "\n", "|"]),
    ) {
        let mut pairs: Vec<String> = vec![format!("machine_code={mc}"), format!("msign={k}")];
        for (name, value) in &extra {
            // Skip names that are aliases of label fields; those change the meaning on purpose.
            if ["mac", "macaddr", "uid", "sign", "key", "userid", "msign", "terminal", "clientid"].contains(&name.as_str()) {
                continue;
            }
            pairs.push(format!("{name}={value}"));
        }
        if reverse { pairs.reverse(); }
        let want = LabelPayload::Yilianyun { machine_code: mc, key: LabelKey::Msign(k) };
        prop_assert_eq!(parse_payload(&pairs.join(sep)), Ok(want.clone()));
        prop_assert_eq!(parse_payload(&format!("https://h.example/p?{}", pairs.join("&"))), Ok(want));
    }

    #[test]
    fn percent_encoding_of_whole_text_is_tolerated(mc in machine_code(), k in "[0-9a-f]{16}") {
        let text = format!("machine_code%3D{mc}%26qr_key%3D{k}");
        prop_assert_eq!(parse_payload(&text), Ok(LabelPayload::Yilianyun { machine_code: mc, key: LabelKey::QrKey(k) }));
    }

    #[test]
    fn never_panics_on_arbitrary_text(s in any::<String>()) {
        let _ = parse_payload(&s);
    }

    #[test]
    fn never_panics_on_arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_payload(&String::from_utf8_lossy(&b));
    }

    #[test]
    fn never_panics_on_near_misses(s in r#"[0-9]{0,34}[#|,;:/ _=&?%{}\[\]"'.\-]{0,3}[a-zA-Z0-9=&%{}":,;#\n ]{0,60}"#) {
        match parse_payload(&s) {
            Ok(LabelPayload::Yilianyun { machine_code, key }) => {
                // Whatever is accepted satisfies the documented invariants.
                prop_assert!((1..=32).contains(&machine_code.len()) && machine_code.bytes().all(|b| b.is_ascii_digit()));
                prop_assert!(!key.expose().is_empty() && key.expose().len() <= 128);
            }
            Ok(LabelPayload::Lingju { userid }) => {
                prop_assert!(!userid.is_empty() && userid.bytes().all(|b| b.is_ascii_alphanumeric()));
            }
            Err(e) => prop_assert_eq!(e.raw, s),
        }
    }

    #[test]
    fn refusals_never_show_the_key(mc in "4004[0-9]{6}", k in "[a-z]{20,40}") {
        // Each text carries the key but is refused for a different reason.
        for text in [
            format!("mc={mc}&qr_key={k}&msign=other"),
            format!("{mc}#{k}"),
            format!("mc=x{mc}&msign={k}"),
            format!("mc={mc}&mc=1&qr_key={k}"),
            format!("{{\"machine_code\":\"{mc}\",\"qr_key\":\"{k}\""),
        ] {
            let e = parse_payload(&text).expect_err("refused");
            prop_assert!(!e.to_string().contains(&k));
            let dbg = format!("{:?}", e);
            prop_assert!(!dbg.contains(&k));
            prop_assert!(!e.message_zh().contains(&k) && !e.message_en().contains(&k));
            prop_assert_eq!(&e.raw, &text);
        }
    }

    #[test]
    fn accepted_payloads_debug_without_key(mc in "4004[0-9]{6}", k in "[a-z]{12,40}", qr in any::<bool>()) {
        // Letters only and 12+ long: cannot occur in the digits or the type names of the Debug output by chance.
        let key = if qr { LabelKey::QrKey(k.clone()) } else { LabelKey::Msign(k.clone()) };
        let p = LabelPayload::Yilianyun { machine_code: mc, key };
        let dbg = format!("{:?}", p);
        prop_assert!(!dbg.contains(&k));
    }
}

#[test]
fn bare_shape_rule_is_documented_behaviour() {
    assert_eq!(
        key_kind_from_shape("0123456789abcdef"),
        Some(KeyKind::QrKey)
    );
    assert_eq!(key_kind_from_shape("bb8ayn1b7o25"), Some(KeyKind::Msign));
    assert_eq!(key_kind_from_shape("bb8ayn1b7o2"), Some(KeyKind::Msign));
    assert_eq!(key_kind_from_shape("bb8ayn1b7o2xx"), None);
    assert_eq!(key_kind_from_shape("BB8AYN1B7O25"), None);
    assert_eq!(
        parse_payload("4004291417#BB8AYN1B7O25").unwrap_err().reason,
        PayloadProblem::UnknownKeyKind
    );
}
