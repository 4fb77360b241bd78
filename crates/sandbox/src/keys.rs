//! Key material of the sandbox: request signs, printer label keys (qr_key / msign) and token derivation.
//!
//! Everything here is re-derived on purpose instead of shared with quickauth-protocol, so a client bug
//! cannot hide behind a common helper.

use hmac::{Hmac, Mac};
use md5::{Digest as _, Md5};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The key that signs sandbox printer labels. It is a PUBLIC, sandbox-only constant: anyone can mint a
/// label for a sandbox printer offline, which is exactly what tests and demos need. It protects nothing.
pub const SANDBOX_LABEL_KEY: &[u8] = b"quickauth-sandbox public label key v1 (not a secret)";

/// How long a printed qr_key stays valid on the (virtual) sandbox clock.
pub const QR_KEY_TTL_SECS: i64 = 300;

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// Yilianyun's request sign: lowercase hex md5 of `client_id + timestamp + client_secret`.
pub fn yilianyun_sign(client_id: &str, timestamp: &str, secret: &str) -> String {
    let mut md5 = Md5::new();
    md5.update(client_id.as_bytes());
    md5.update(timestamp.as_bytes());
    md5.update(secret.as_bytes());
    hex::encode(md5.finalize())
}

/// Whether `machine_code` names a sandbox printer: exactly 10 digits starting with `4004`.
pub fn is_sandbox_printer(machine_code: &str) -> bool {
    machine_code.len() == 10
        && machine_code.starts_with("4004")
        && machine_code.bytes().all(|b| b.is_ascii_digit())
}

/// A fresh random sandbox printer number (`4004` + 6 digits).
pub fn random_machine_code() -> String {
    use rand::Rng;
    format!("4004{:06}", rand::thread_rng().gen_range(0..1_000_000u32))
}

fn qr_key_mac(machine_code: &str, issued_at: u32) -> [u8; 32] {
    hmac(
        SANDBOX_LABEL_KEY,
        format!("qr_key|{machine_code}|{issued_at}").as_bytes(),
    )
}

/// Mints the temporary key a sandbox printer would show on its QR, issued at `now_unix`.
///
/// Stateless: 16 lowercase hex = the issue time (u32, big endian) followed by 4 bytes of
/// HMAC-SHA256(label key, `machine_code|issue time`). The server verifies it with [`verify_qr_key`].
pub fn mint_qr_key(machine_code: &str, now_unix: i64) -> String {
    let issued_at = now_unix.clamp(0, u32::MAX as i64) as u32;
    let mac = qr_key_mac(machine_code, issued_at);
    let mut raw = [0u8; 8];
    raw[..4].copy_from_slice(&issued_at.to_be_bytes());
    raw[4..].copy_from_slice(&mac[..4]);
    hex::encode(raw)
}

/// Why a qr_key was refused; the server maps every case to error 30.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrKeyProblem {
    Malformed,
    WrongPrinter,
    Expired { age_secs: i64 },
    NotYetValid,
}

/// Checks a qr_key against the machine code and the (virtual) clock.
pub fn verify_qr_key(machine_code: &str, qr_key: &str, now_unix: i64) -> Result<(), QrKeyProblem> {
    if qr_key.len() != 16
        || !qr_key
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(QrKeyProblem::Malformed);
    }
    let raw = hex::decode(qr_key).map_err(|_| QrKeyProblem::Malformed)?;
    let issued_at = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let mac = qr_key_mac(machine_code, issued_at);
    if !constant_time_eq(&mac[..4], &raw[4..]) {
        return Err(QrKeyProblem::WrongPrinter);
    }
    let age = now_unix - issued_at as i64;
    // A few seconds of tolerance for labels minted by another process reading the clock a moment later.
    if age < -5 {
        return Err(QrKeyProblem::NotYetValid);
    }
    if age > QR_KEY_TTL_SECS {
        return Err(QrKeyProblem::Expired { age_secs: age });
    }
    Ok(())
}

/// The permanent device key printed on a sandbox printer's label: 12 lowercase alphanumerics.
pub fn msign_for(machine_code: &str) -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mac = hmac(
        SANDBOX_LABEL_KEY,
        format!("msign|{machine_code}").as_bytes(),
    );
    mac[..12]
        .iter()
        .map(|b| ALPHABET[(*b as usize) % 36] as char)
        .collect()
}

/// A token (or code) as the server hands it out: 32 lowercase hex derived from the state seed,
/// so the state file only ever needs its sha256.
pub fn derive_token(seed: &[u8], kind: &str, id: i64) -> String {
    hex::encode(&hmac(seed, format!("{kind}|{id}").as_bytes())[..16])
}

/// sha256 hex, the only form in which tokens, codes and keys touch the state file.
pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// A UUID4 as Yilianyun wants it: 36 chars, 8-4-4-4-12 hex, version nibble 4, RFC 4122 variant.
pub fn is_uuid4(id: &str) -> bool {
    let b = id.as_bytes();
    if b.len() != 36 {
        return false;
    }
    for (i, c) in b.iter().enumerate() {
        let ok = match i {
            8 | 13 | 18 | 23 => *c == b'-',
            14 => *c == b'4',
            19 => matches!(c, b'8' | b'9' | b'a' | b'b' | b'A' | b'B'),
            _ => c.is_ascii_hexdigit(),
        };
        if !ok {
            return false;
        }
    }
    true
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_matches_a_hand_computed_md5() {
        // md5("1234567890" + "1700000000" + "secret") computed independently with coreutils md5sum.
        assert_eq!(
            yilianyun_sign("1234567890", "1700000000", "secret"),
            "5ad784b34c9371d1563c8068649f1f74"
        );
    }

    #[test]
    fn qr_key_round_trip_and_expiry() {
        let key = mint_qr_key("4004123456", 1_700_000_000);
        assert_eq!(key.len(), 16);
        assert!(key
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(
            verify_qr_key("4004123456", &key, 1_700_000_000 + 300),
            Ok(())
        );
        assert_eq!(
            verify_qr_key("4004123456", &key, 1_700_000_000 + 301),
            Err(QrKeyProblem::Expired { age_secs: 301 })
        );
        assert_eq!(
            verify_qr_key("4004123457", &key, 1_700_000_000),
            Err(QrKeyProblem::WrongPrinter)
        );
        assert_eq!(
            verify_qr_key("4004123456", &key.to_uppercase(), 1_700_000_000),
            Err(QrKeyProblem::Malformed)
        );
    }

    #[test]
    fn msign_is_deterministic_lowercase_alnum() {
        let a = msign_for("4004123456");
        assert_eq!(a, msign_for("4004123456"));
        assert_ne!(a, msign_for("4004123457"));
        assert_eq!(a.len(), 12);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
    }

    #[test]
    fn uuid4_shape() {
        assert!(is_uuid4("0f8fad5b-d9cb-469f-a165-70867728950e"));
        assert!(
            !is_uuid4("0f8fad5b-d9cb-169f-a165-70867728950e"),
            "version 1"
        );
        assert!(!is_uuid4("0f8fad5bd9cb469fa16570867728950e"), "no dashes");
        assert!(
            !is_uuid4("0f8fad5b-d9cb-469f-c165-70867728950e"),
            "bad variant"
        );
    }
}
