//! Label payload parser: turns the text inside a printer's QR label into a Yilianyun machine code plus key
//! (`qr_key` or `msign`) or a Lingju `userid`.
//!
//! The label format is undocumented (docs/protocol.md), so this accepts every plausible shape and refuses,
//! carrying the raw text for the screen, whatever it cannot read unambiguously. It never guesses.
//!
//! # Accepted forms
//! * **URL** with query parameters, any scheme/host/path (`https://open-api.10ss.net/qr?machine_code=…&qr_key=…`,
//!   `https://www.10ss.net/authorize?mc=…&msign=…&t=label`); parameters after `?` inside the fragment
//!   (`…/#/bind?mc=…`) count too; a scheme-less `host/path?query` works as well.
//! * **JSON** object with snake_case or camelCase keys (nested objects are searched; integer numbers are
//!   accepted for the machine code).
//! * **`key=value` pairs** (also `key:value`, `key：value`) joined by `&`, `;`, `,`, `|`, tab, newlines or the
//!   full-width `，`/`；`. Lines without a delimiter (e.g. a model name printed on the label) are ignored.
//! * **Bare form** `MACHINE_CODE<sep>KEY`: the machine code is the leading run of ASCII digits, then exactly one
//!   separator from [`BARE_SEPARATORS`] (optionally padded with spaces), then one key token. Because the code is
//!   all digits the split is never ambiguous, so every separator a person might use is allowed.
//!
//! # Field names
//! Compared case-insensitively after dropping `_`, `-`, `.` and spaces (so `machine_code`, `machineCode`,
//! `MACHINE-CODE` are one name):
//! * machine code: `machine_code`, `machine_no`, `mc`, `terminal`, `terminal_code`, `terminal_no`, `sn`
//!   (labels print `SN:<machine code>`), `机器码`, `终端号`. Must be 1..=32 ASCII digits; non-`4004` codes are fine.
//! * `qr_key`: `qr_key`. `msign`: `msign`, `m_sign`.
//! * `key`, `密钥`: a key of unknown kind, classified by [`key_kind_from_shape`].
//! * `sign`: taken as `msign` only when no other key field is present and the text has no `client_id`/`timestamp`
//!   (those mark an API request signature, not a device key).
//! * Lingju: `userid`, `user_id`, `uid`; `mac`/`mac_address` counts as the user id only when there is no machine code.
//!   A MAC (`AA:BB:CC:DD:EE:FF`, `AA-BB-…`, `AABB.CCDD.EEFF`) loses its separators (case is kept); the result
//!   must be `[A-Za-z0-9]`, 1..=64 chars, as Lingju requires.
//! * Everything else (`t=label`, `client_id`, …) is ignored.
//!
//! # Refusals (each a [`PayloadProblem`])
//! Both `qr_key` and `msign` with values; one field given twice with different values; a Lingju user id next to
//! Yilianyun fields; an unlabelled key whose shape fits neither rule; text over [`MAX_PAYLOAD_BYTES`].
//! An empty value (`qr_key=`) counts as absent, which is how "both present" can still be clear.
//!
//! Whitespace, BOMs, zero-width characters and percent-encoding (of values, or of the whole text) are tolerated.

use std::fmt;

use serde_json::Value;

/// Longer text is refused before any parsing (a QR code holds at most ~4.3 kB anyway).
pub const MAX_PAYLOAD_BYTES: usize = 4096;
pub const MAX_MACHINE_CODE_LEN: usize = 32;
pub const MAX_KEY_LEN: usize = 128;
pub const MAX_USERID_LEN: usize = 64;
/// Separators allowed between machine code and key in the bare form (space and tab included).
pub const BARE_SEPARATORS: &[char] = &[
    '#', '|', ',', ';', ':', '/', '-', '_', ' ', '\t', '\n', '，', '：', '；',
];
/// Separators between `key=value` pairs.
pub const PAIR_SEPARATORS: &[char] = &['&', ';', ',', '|', '\n', '\r', '\t', '，', '；'];

/// Which kind of Yilianyun device key a label carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// Temporary key, valid 300 s after the printer shows/prints it.
    QrKey,
    /// Permanent device key printed on the label.
    Msign,
}

impl KeyKind {
    /// The protocol's parameter name.
    pub fn field_name(self) -> &'static str {
        match self {
            KeyKind::QrKey => "qr_key",
            KeyKind::Msign => "msign",
        }
    }
}

/// A device key read from a label. Debug prints only the kind, never the value.
#[derive(Clone, PartialEq, Eq)]
pub enum LabelKey {
    QrKey(String),
    Msign(String),
}

impl LabelKey {
    pub fn kind(&self) -> KeyKind {
        match self {
            LabelKey::QrKey(_) => KeyKind::QrKey,
            LabelKey::Msign(_) => KeyKind::Msign,
        }
    }

    /// The secret value; every call site is a place where the key leaves this type.
    pub fn expose(&self) -> &str {
        match self {
            LabelKey::QrKey(k) | LabelKey::Msign(k) => k,
        }
    }
}

impl fmt::Debug for LabelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelKey::QrKey(_) => f.write_str("QrKey(***)"),
            LabelKey::Msign(_) => f.write_str("Msign(***)"),
        }
    }
}

/// What a label says, ready to hand to the protocol layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelPayload {
    Yilianyun { machine_code: String, key: LabelKey },
    Lingju { userid: String },
}

impl LabelPayload {
    pub fn machine_code(&self) -> Option<&str> {
        match self {
            LabelPayload::Yilianyun { machine_code, .. } => Some(machine_code),
            LabelPayload::Lingju { .. } => None,
        }
    }
}

/// Why a payload was refused. Messages never contain the text's values (they may be keys).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadProblem {
    Empty,
    TooLong {
        bytes: usize,
    },
    MalformedJson,
    JsonNotObject,
    /// Nothing in the text looks like a label field or a bare `code#key`.
    Unrecognised,
    /// A key or other label fields, but no machine code.
    NoMachineCode,
    InvalidMachineCode,
    MissingKey,
    InvalidKey {
        kind: Option<KeyKind>,
    },
    /// An unlabelled key whose shape fits neither the `qr_key` nor the `msign` rule.
    UnknownKeyKind,
    BothKeys,
    ConflictingValues {
        field: &'static str,
    },
    MixedProviders,
    InvalidUserId,
}

impl PayloadProblem {
    /// Stable machine tag for logs and the page.
    pub fn tag(&self) -> &'static str {
        match self {
            PayloadProblem::Empty => "empty",
            PayloadProblem::TooLong { .. } => "too_long",
            PayloadProblem::MalformedJson => "malformed_json",
            PayloadProblem::JsonNotObject => "json_not_object",
            PayloadProblem::Unrecognised => "unrecognised",
            PayloadProblem::NoMachineCode => "no_machine_code",
            PayloadProblem::InvalidMachineCode => "invalid_machine_code",
            PayloadProblem::MissingKey => "missing_key",
            PayloadProblem::InvalidKey { .. } => "invalid_key",
            PayloadProblem::UnknownKeyKind => "unknown_key_kind",
            PayloadProblem::BothKeys => "both_keys",
            PayloadProblem::ConflictingValues { .. } => "conflicting_values",
            PayloadProblem::MixedProviders => "mixed_providers",
            PayloadProblem::InvalidUserId => "invalid_userid",
        }
    }

    pub fn message_zh(&self) -> String {
        const MANUAL: &str = "请重新扫描，或手动输入终端号和密钥。";
        match self {
            PayloadProblem::Empty => format!("二维码内容为空。{MANUAL}"),
            PayloadProblem::TooLong { bytes } => {
                format!("二维码内容过长（{bytes} 字节），不是打印机标签。请扫描打印机底部标签或自检页上的二维码。")
            }
            PayloadProblem::MalformedJson => format!("二维码内容像 JSON，但格式有误，无法读取。{MANUAL}"),
            PayloadProblem::JsonNotObject => format!("二维码内容是 JSON，但不是对象，找不到终端号。{MANUAL}"),
            PayloadProblem::Unrecognised => format!(
                "无法识别这个二维码：它不是已知的打印机标签格式。请确认扫描的是打印机底部标签或自检页上的二维码，{MANUAL}"
            ),
            PayloadProblem::NoMachineCode => format!("二维码里有标签字段，但没有终端号（machine_code）。{MANUAL}"),
            PayloadProblem::InvalidMachineCode => {
                format!("二维码里的终端号不是 1–32 位数字。{MANUAL}")
            }
            PayloadProblem::MissingKey => {
                "二维码里只有终端号，没有密钥（qr_key 或 msign）。请手动输入标签上的密钥，或打印自检页后扫描其二维码。"
                    .to_string()
            }
            PayloadProblem::InvalidKey { kind } => format!(
                "二维码里的{}含有不允许的字符或长度不对。{MANUAL}",
                kind.map(|k| k.field_name()).unwrap_or("密钥")
            ),
            PayloadProblem::UnknownKeyKind => {
                "无法判断二维码里的密钥是临时密钥（qr_key）还是永久密钥（msign），为避免猜错已停止。请手动输入并选择密钥类型。"
                    .to_string()
            }
            PayloadProblem::BothKeys => {
                "二维码里同时有 qr_key 和 msign，无法确定用哪一个。请手动输入并选择密钥类型。".to_string()
            }
            PayloadProblem::ConflictingValues { field } => {
                format!("二维码里的 {field} 出现了多次且取值不同，无法确定。{MANUAL}")
            }
            PayloadProblem::MixedProviders => {
                "二维码里同时有灵聚设备号（userid）和易联云终端号，无法确定设备类型。请手动输入。".to_string()
            }
            PayloadProblem::InvalidUserId => {
                "二维码里的灵聚设备号（userid）只能包含字母和数字（MAC 地址的分隔符会自动去掉），且不超过 64 位。请手动输入。"
                    .to_string()
            }
        }
    }

    pub fn message_en(&self) -> String {
        const MANUAL: &str = "Scan again, or enter the machine code and key by hand.";
        match self {
            PayloadProblem::Empty => format!("The QR code is empty. {MANUAL}"),
            PayloadProblem::TooLong { bytes } => format!(
                "The QR code text is too long ({bytes} bytes) to be a printer label. Scan the QR code on the label under \
                 the printer or on its self-test print."
            ),
            PayloadProblem::MalformedJson => format!("The QR code looks like JSON but is malformed. {MANUAL}"),
            PayloadProblem::JsonNotObject => format!("The QR code is JSON but not an object; no machine code found. {MANUAL}"),
            PayloadProblem::Unrecognised => format!(
                "This QR code is not a printer label format we know. Check that you scanned the label under the printer \
                 or its self-test print. {MANUAL}"
            ),
            PayloadProblem::NoMachineCode => {
                format!("The QR code has label fields but no machine code (machine_code). {MANUAL}")
            }
            PayloadProblem::InvalidMachineCode => format!("The machine code in the QR code is not 1–32 digits. {MANUAL}"),
            PayloadProblem::MissingKey => "The QR code has a machine code but no key (qr_key or msign). Type the key \
                 from the label, or print the self-test page and scan its QR code."
                .to_string(),
            PayloadProblem::InvalidKey { kind } => format!(
                "The {} in the QR code has characters that are not allowed or a wrong length. {MANUAL}",
                kind.map(|k| k.field_name()).unwrap_or("key")
            ),
            PayloadProblem::UnknownKeyKind => "Cannot tell whether the key in the QR code is a temporary qr_key or a \
                 permanent msign, so it was not guessed. Enter it by hand and choose the key type."
                .to_string(),
            PayloadProblem::BothKeys => "The QR code has both a qr_key and an msign; cannot tell which to use. Enter it \
                 by hand and choose the key type."
                .to_string(),
            PayloadProblem::ConflictingValues { field } => {
                format!("The QR code gives {field} more than once with different values. {MANUAL}")
            }
            PayloadProblem::MixedProviders => "The QR code has both a Lingju user id and a Yilianyun machine code; \
                 cannot tell the device type. Enter it by hand."
                .to_string(),
            PayloadProblem::InvalidUserId => "The Lingju user id in the QR code may contain only letters and digits \
                 (MAC separators are removed) and at most 64 characters. Enter it by hand."
                .to_string(),
        }
    }
}

/// A payload that was refused. `raw` is the scanned text, kept so the UI can show it on purpose; it may contain a
/// key, so neither Display nor Debug prints it.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", reason.message_en())]
pub struct PayloadError {
    /// The text exactly as scanned.
    pub raw: String,
    pub reason: PayloadProblem,
    /// A valid machine code found before the refusal, to prefill manual entry.
    pub machine_code: Option<String>,
}

impl PayloadError {
    /// Stable machine tag (the `Localized::kind` of the contract).
    pub fn kind(&self) -> &'static str {
        "label_payload"
    }
    pub fn message_zh(&self) -> String {
        self.reason.message_zh()
    }
    pub fn message_en(&self) -> String {
        self.reason.message_en()
    }
}

impl fmt::Debug for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayloadError")
            .field("reason", &self.reason)
            .field("raw", &format_args!("<{} bytes>", self.raw.len()))
            .field("machine_code", &self.machine_code)
            .finish()
    }
}

/// Internal refusal before the raw text is attached.
struct Refusal {
    reason: PayloadProblem,
    machine_code: Option<String>,
}

impl From<PayloadProblem> for Refusal {
    fn from(reason: PayloadProblem) -> Self {
        Refusal {
            reason,
            machine_code: None,
        }
    }
}

/// Classifies a key that carries no field name. The rule comes from the shapes in public examples:
/// exactly 16 hex digits → `qr_key`; 11–12 of `[a-z0-9]` → `msign`; anything else → `None` (refuse, don't guess).
/// The two shapes cannot overlap (different lengths).
pub fn key_kind_from_shape(key: &str) -> Option<KeyKind> {
    let len = key.len();
    if len == 16 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
        Some(KeyKind::QrKey)
    } else if (11..=12).contains(&len)
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        Some(KeyKind::Msign)
    } else {
        None
    }
}

/// Parses the decoded text of a label QR code. See the module docs for the accepted forms and rules.
pub fn parse_payload(text: &str) -> Result<LabelPayload, PayloadError> {
    let attach = |r: Refusal| PayloadError {
        raw: text.to_owned(),
        reason: r.reason,
        machine_code: r.machine_code,
    };
    if text.len() > MAX_PAYLOAD_BYTES {
        return Err(attach(PayloadProblem::TooLong { bytes: text.len() }.into()));
    }
    let cleaned = clean(text);
    if cleaned.is_empty() {
        return Err(attach(PayloadProblem::Empty.into()));
    }
    match parse_clean(cleaned) {
        Err(r) if r.reason == PayloadProblem::Unrecognised => {
            // Some generators percent-encode the whole text; decode once and try again.
            match percent_decode(cleaned) {
                Some(decoded) if decoded != cleaned => {
                    let decoded = clean(&decoded).to_owned();
                    if decoded.is_empty() {
                        return Err(attach(r));
                    }
                    parse_clean(&decoded).map_err(attach)
                }
                _ => Err(attach(r)),
            }
        }
        other => other.map_err(attach),
    }
}

fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{feff}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}'
        )
}

fn clean(text: &str) -> &str {
    text.trim_matches(is_invisible)
}

fn parse_clean(s: &str) -> Result<LabelPayload, Refusal> {
    let fields = if s.starts_with('{') {
        json_fields(s)?
    } else if s.starts_with('[') && serde_json::from_str::<Value>(s).is_ok() {
        return Err(PayloadProblem::JsonNotObject.into());
    } else if let Some(fields) = url_fields(s) {
        fields
    } else if let Some(bare) = bare_form(s) {
        return bare;
    } else {
        pair_fields(s)
    };
    interpret(fields)
}

/// Field roles after name normalisation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    MachineCode,
    QrKey,
    Msign,
    AnyKey,
    Sign,
    UserId,
    Mac,
    /// `client_id` / `timestamp`: the text is an API request, so `sign` is not a device key.
    ApiMarker,
}

fn role_of(name: &str) -> Option<Role> {
    let norm: String = name
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    Some(match norm.as_str() {
        "machinecode" | "machineno" | "mc" | "terminal" | "terminalcode" | "terminalno" | "sn"
        | "机器码" | "终端号" => Role::MachineCode,
        "qrkey" => Role::QrKey,
        "msign" => Role::Msign,
        "key" | "密钥" => Role::AnyKey,
        "sign" => Role::Sign,
        "userid" | "uid" => Role::UserId,
        "mac" | "macaddress" | "macaddr" => Role::Mac,
        "clientid" | "timestamp" => Role::ApiMarker,
        _ => return None,
    })
}

type Fields = Vec<(Role, String)>;

fn json_fields(s: &str) -> Result<Fields, Refusal> {
    let value: Value =
        serde_json::from_str(s).map_err(|_| Refusal::from(PayloadProblem::MalformedJson))?;
    let Value::Object(_) = value else {
        return Err(PayloadProblem::JsonNotObject.into());
    };
    let mut fields = Vec::new();
    collect_json(&value, 0, &mut fields);
    Ok(fields)
}

fn collect_json(value: &Value, depth: usize, out: &mut Fields) {
    // Nested objects (`{"data":{"machineCode":…}}`) are searched, but not without bound.
    if depth > 4 {
        return;
    }
    if let Value::Object(map) = value {
        for (name, v) in map {
            match v {
                Value::Object(_) => collect_json(v, depth + 1, out),
                Value::String(text) => {
                    if let Some(role) = role_of(name) {
                        out.push((role, text.trim().to_owned()));
                    }
                }
                Value::Number(n) => {
                    if let (Some(role), Some(int)) = (role_of(name), n.as_u64()) {
                        out.push((role, int.to_string()));
                    }
                }
                _ => {}
            }
        }
    }
}

/// Query parameters of a URL (with or without scheme), or `None` when the text is not URL-shaped.
fn url_fields(s: &str) -> Option<Fields> {
    let query_parts: Vec<String> = if s.contains("://") {
        match url::Url::parse(s) {
            Ok(url) => {
                let mut parts = Vec::new();
                if let Some(q) = url.query() {
                    parts.push(q.to_owned());
                }
                if let Some(frag) = url.fragment() {
                    parts.extend(fragment_query(frag));
                }
                parts
            }
            // Unparseable URL: still read what follows the first `?`.
            Err(_) => s
                .split_once('?')
                .map(|(_, q)| vec![q.to_owned()])
                .unwrap_or_default(),
        }
    } else {
        // `www.10ss.net/authorize?mc=…`: a `?` whose left side is a bare path, not `key=value` text.
        let (left, q) = s.split_once('?')?;
        if left.is_empty()
            || left.contains(['=', ' ', '\n', '&', ';', ','])
            || !left.contains(['.', '/'])
        {
            return None;
        }
        vec![q.to_owned()]
    };
    let mut fields = Vec::new();
    for part in query_parts {
        for (name, value) in url::form_urlencoded::parse(part.as_bytes()) {
            if let Some(role) = role_of(name.trim()) {
                fields.push((role, value.trim().to_owned()));
            }
        }
    }
    Some(fields)
}

fn fragment_query(frag: &str) -> Option<String> {
    match frag.split_once('?') {
        Some((_, q)) => Some(q.to_owned()),
        None if frag.contains('=') => Some(frag.to_owned()),
        None => None,
    }
}

fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// `CODE<sep>KEY`; `None` when the text does not have that shape at all.
fn bare_form(s: &str) -> Option<Result<LabelPayload, Refusal>> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let code = &s[..digits];
    let rest = &s[digits..];
    if rest.is_empty() {
        // Only a machine code: a specific refusal that still lets the UI prefill it.
        return Some(Err(match validate_machine_code(code) {
            Ok(code) => Refusal {
                reason: PayloadProblem::MissingKey,
                machine_code: Some(code),
            },
            Err(r) => r,
        }));
    }
    let after_pad = rest.trim_start_matches([' ', '\t']);
    let (sep, after_sep) = match after_pad.chars().next() {
        Some(c) if BARE_SEPARATORS.contains(&c) && c != ' ' && c != '\t' => {
            (c, &after_pad[c.len_utf8()..])
        }
        // Only whitespace between code and key: the whitespace itself is the separator.
        Some(_) if after_pad.len() < rest.len() => (' ', after_pad),
        _ => return None,
    };
    let key = after_sep.trim_start_matches([' ', '\t']);
    if key.is_empty() || !key.bytes().all(is_key_char) {
        return None;
    }
    let _ = sep;
    Some(build_yilianyun(code, None, None, Some(key), None, false))
}

fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return None;
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn strip_quotes(v: &str) -> &str {
    let v = v.trim();
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].trim();
        }
    }
    v
}

fn pair_fields(s: &str) -> Fields {
    let mut fields = Vec::new();
    for piece in s.split(PAIR_SEPARATORS) {
        let piece = piece.trim_matches(is_invisible);
        let Some(at) = piece.find(['=', ':', '：']) else {
            continue; // free text on the label (model name, voltage): not a field
        };
        let delim_len = piece[at..].chars().next().map_or(1, char::len_utf8);
        let name = piece[..at].trim();
        let value = strip_quotes(&piece[at + delim_len..]);
        let name = percent_decode(name).unwrap_or_else(|| name.to_owned());
        let value = percent_decode(value).unwrap_or_else(|| value.to_owned());
        if let Some(role) = role_of(name.trim()) {
            fields.push((role, value.trim().to_owned()));
        }
    }
    fields
}

const ROLE_NAMES: [(Role, &str); 7] = [
    (Role::MachineCode, "machine_code"),
    (Role::QrKey, "qr_key"),
    (Role::Msign, "msign"),
    (Role::AnyKey, "key"),
    (Role::Sign, "sign"),
    (Role::UserId, "userid"),
    (Role::Mac, "mac"),
];

/// The one non-empty value of a role; the same value repeated is fine, different values are refused.
fn single(fields: &Fields, role: Role) -> Result<Option<String>, Refusal> {
    let mut found: Option<&str> = None;
    for (r, v) in fields {
        if *r != role || v.is_empty() {
            continue;
        }
        match found {
            Some(prev) if prev != v => {
                let field = ROLE_NAMES
                    .iter()
                    .find(|(r, _)| *r == role)
                    .map_or("field", |(_, n)| n);
                return Err(PayloadProblem::ConflictingValues { field }.into());
            }
            _ => found = Some(v),
        }
    }
    Ok(found.map(str::to_owned))
}

fn interpret(fields: Fields) -> Result<LabelPayload, Refusal> {
    if fields.is_empty() {
        return Err(PayloadProblem::Unrecognised.into());
    }
    let code = single(&fields, Role::MachineCode)?;
    let qr_key = single(&fields, Role::QrKey)?;
    let msign = single(&fields, Role::Msign)?;
    let any_key = single(&fields, Role::AnyKey)?;
    let sign = single(&fields, Role::Sign)?;
    let userid = single(&fields, Role::UserId)?;
    let mac = single(&fields, Role::Mac)?;
    let api_marker = fields.iter().any(|(r, _)| *r == Role::ApiMarker);

    if let Some(userid) = userid {
        if code.is_some() || qr_key.is_some() || msign.is_some() {
            return Err(PayloadProblem::MixedProviders.into());
        }
        return Ok(LabelPayload::Lingju {
            userid: normalise_userid(&userid)?,
        });
    }
    let Some(code) = code else {
        if let (Some(mac), None, None) = (&mac, &qr_key, &msign) {
            return Ok(LabelPayload::Lingju {
                userid: normalise_userid(mac)?,
            });
        }
        let any_field = qr_key.is_some() || msign.is_some() || any_key.is_some() || sign.is_some();
        return Err(if any_field {
            PayloadProblem::NoMachineCode
        } else {
            PayloadProblem::Unrecognised
        }
        .into());
    };
    build_yilianyun(
        &code,
        qr_key.as_deref(),
        msign.as_deref(),
        any_key.as_deref(),
        sign.as_deref(),
        api_marker,
    )
}

fn validate_machine_code(code: &str) -> Result<String, Refusal> {
    if (1..=MAX_MACHINE_CODE_LEN).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit())
    {
        Ok(code.to_owned())
    } else {
        Err(PayloadProblem::InvalidMachineCode.into())
    }
}

fn build_yilianyun(
    code: &str,
    qr_key: Option<&str>,
    msign: Option<&str>,
    any_key: Option<&str>,
    sign: Option<&str>,
    api_marker: bool,
) -> Result<LabelPayload, Refusal> {
    let machine_code = validate_machine_code(code)?;
    let refuse = |reason| Refusal {
        reason,
        machine_code: Some(machine_code.clone()),
    };
    let (kind, value) = match (qr_key, msign) {
        (Some(_), Some(_)) => return Err(refuse(PayloadProblem::BothKeys)),
        (Some(k), None) | (None, Some(k)) => {
            let kind = if qr_key.is_some() {
                KeyKind::QrKey
            } else {
                KeyKind::Msign
            };
            if any_key.is_some_and(|a| a != k) {
                return Err(refuse(PayloadProblem::ConflictingValues { field: "key" }));
            }
            (kind, k)
        }
        (None, None) => match (any_key, sign) {
            (Some(k), _) => match key_kind_from_shape(k) {
                Some(kind) => (kind, k),
                None if k.bytes().all(is_key_char) => {
                    return Err(refuse(PayloadProblem::UnknownKeyKind))
                }
                None => return Err(refuse(PayloadProblem::InvalidKey { kind: None })),
            },
            (None, Some(s)) if !api_marker => (KeyKind::Msign, s),
            _ => return Err(refuse(PayloadProblem::MissingKey)),
        },
    };
    if value.len() > MAX_KEY_LEN || !value.bytes().all(is_key_char) {
        return Err(refuse(PayloadProblem::InvalidKey { kind: Some(kind) }));
    }
    let key = match kind {
        KeyKind::QrKey => LabelKey::QrKey(value.to_owned()),
        KeyKind::Msign => LabelKey::Msign(value.to_owned()),
    };
    Ok(LabelPayload::Yilianyun { machine_code, key })
}

fn is_mac(v: &str) -> bool {
    let hex_groups = |sep: char, groups: usize, width: usize| {
        let parts: Vec<&str> = v.split(sep).collect();
        parts.len() == groups
            && parts
                .iter()
                .all(|p| p.len() == width && p.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    hex_groups(':', 6, 2) || hex_groups('-', 6, 2) || hex_groups('.', 3, 4)
}

/// Lingju wants `[A-Za-z0-9]`; a MAC loses its separators, case is kept (the device registered it that way).
fn normalise_userid(v: &str) -> Result<String, Refusal> {
    let v = v.trim();
    let id: String = if is_mac(v) {
        v.chars().filter(char::is_ascii_hexdigit).collect()
    } else {
        v.to_owned()
    };
    if (1..=MAX_USERID_LEN).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(id)
    } else {
        Err(PayloadProblem::InvalidUserId.into())
    }
}

/// Text layouts the generator (labels, corpus, tests) can write; [`parse_payload`] reads all of them back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadFormat {
    /// `https://open-api.10ss.net/qr?machine_code=…&qr_key=…` (Lingju: `https://dev.lingju.ai/device?userid=…`).
    OpenApiUrl,
    /// `https://www.10ss.net/authorize?mc=…&msign=…&t=label`.
    AuthorizeUrl,
    /// `{"machine_code": "…", "qr_key": "…"}`.
    JsonSnake,
    /// `{"machineCode": "…", "qrKey": "…"}`.
    JsonCamel,
    /// `machine_code=…<sep>qr_key=…` with a separator from [`PAIR_SEPARATORS`] (not `\r`).
    Pairs(char),
    /// `4004…<sep>key`, only for keys whose shape [`key_kind_from_shape`] classifies as their own kind.
    Bare(char),
}

impl PayloadFormat {
    /// Every format with every separator, for generators that want variety.
    pub fn all() -> Vec<PayloadFormat> {
        let mut all = vec![
            PayloadFormat::OpenApiUrl,
            PayloadFormat::AuthorizeUrl,
            PayloadFormat::JsonSnake,
            PayloadFormat::JsonCamel,
        ];
        all.extend(
            PAIR_SEPARATORS
                .iter()
                .filter(|c| **c != '\r')
                .map(|c| PayloadFormat::Pairs(*c)),
        );
        all.extend(BARE_SEPARATORS.iter().map(|c| PayloadFormat::Bare(*c)));
        all
    }
}

/// Writes a payload as label text, or `None` when the format cannot carry it unambiguously
/// (bare form for Lingju or for a key whose shape does not identify its kind; an unknown separator).
pub fn format_payload(payload: &LabelPayload, format: PayloadFormat) -> Option<String> {
    let query = |pairs: &[(&str, &str)]| {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            ser.append_pair(k, v);
        }
        ser.finish()
    };
    let json = |pairs: &[(&str, &str)]| {
        let map: serde_json::Map<String, Value> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect();
        Value::Object(map).to_string()
    };
    match payload {
        LabelPayload::Lingju { userid } => match format {
            PayloadFormat::OpenApiUrl | PayloadFormat::AuthorizeUrl => Some(format!(
                "https://dev.lingju.ai/device?{}",
                query(&[("userid", userid)])
            )),
            PayloadFormat::JsonSnake => Some(json(&[("user_id", userid)])),
            PayloadFormat::JsonCamel => Some(json(&[("userId", userid)])),
            PayloadFormat::Pairs(sep) if PAIR_SEPARATORS.contains(&sep) && sep != '\r' => {
                Some(format!("userid={userid}{sep}t=label"))
            }
            _ => None,
        },
        LabelPayload::Yilianyun { machine_code, key } => {
            let (snake, camel, short) = match key.kind() {
                KeyKind::QrKey => ("qr_key", "qrKey", "qr_key"),
                KeyKind::Msign => ("msign", "msign", "msign"),
            };
            let k = key.expose();
            match format {
                PayloadFormat::OpenApiUrl => Some(format!(
                    "https://open-api.10ss.net/qr?{}",
                    query(&[("machine_code", machine_code), (snake, k)])
                )),
                PayloadFormat::AuthorizeUrl => Some(format!(
                    "https://www.10ss.net/authorize?{}",
                    query(&[("mc", machine_code), (short, k), ("t", "label")])
                )),
                PayloadFormat::JsonSnake => {
                    Some(json(&[("machine_code", machine_code), (snake, k)]))
                }
                PayloadFormat::JsonCamel => {
                    Some(json(&[("machineCode", machine_code), (camel, k)]))
                }
                PayloadFormat::Pairs(sep) if PAIR_SEPARATORS.contains(&sep) && sep != '\r' => {
                    Some(format!("machine_code={machine_code}{sep}{snake}={k}"))
                }
                PayloadFormat::Bare(sep) if BARE_SEPARATORS.contains(&sep) => {
                    (key_kind_from_shape(k) == Some(key.kind()))
                        .then(|| format!("{machine_code}{sep}{k}"))
                }
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> LabelPayload {
        parse_payload(text).unwrap_or_else(|e| panic!("{text:?} refused: {e:?}"))
    }
    fn refused(text: &str) -> PayloadError {
        match parse_payload(text) {
            Ok(p) => panic!("{text:?} accepted as {p:?}"),
            Err(e) => e,
        }
    }
    fn yly(mc: &str, key: LabelKey) -> LabelPayload {
        LabelPayload::Yilianyun {
            machine_code: mc.into(),
            key,
        }
    }
    fn qr(k: &str) -> LabelKey {
        LabelKey::QrKey(k.into())
    }
    fn ms(k: &str) -> LabelKey {
        LabelKey::Msign(k.into())
    }

    #[test]
    fn corpus_shapes() {
        assert_eq!(
            ok("4004291417#bb8ayn1b7o25"),
            yly("4004291417", ms("bb8ayn1b7o25"))
        );
        assert_eq!(
            ok(r#"{"machine_code": "4004704341", "qr_key": "5b92558589eaff30"}"#),
            yly("4004704341", qr("5b92558589eaff30"))
        );
        assert_eq!(
            ok(r#"{"machineCode": "4004972980", "qrKey": "c6b36d6f3c9f0ac9"}"#),
            yly("4004972980", qr("c6b36d6f3c9f0ac9"))
        );
        assert_eq!(
            ok("https://www.10ss.net/authorize?mc=4004225199&msign=0hcmp0kh2kpk&t=label"),
            yly("4004225199", ms("0hcmp0kh2kpk"))
        );
        assert_eq!(
            ok("machine_code=4004141719&msign=pzer9eebasw5"),
            yly("4004141719", ms("pzer9eebasw5"))
        );
        assert_eq!(
            ok("https://open-api.10ss.net/qr?machine_code=4004062809&qr_key=c842e90114183d26"),
            yly("4004062809", qr("c842e90114183d26"))
        );
    }

    #[test]
    fn tolerant_of_wrapping() {
        let want = yly("4004291417", ms("bb8ayn1b7o25"));
        assert_eq!(ok("\u{feff}  4004291417#bb8ayn1b7o25 \r\n"), want);
        assert_eq!(ok("4004291417 # bb8ayn1b7o25"), want);
        assert_eq!(ok("4004291417   bb8ayn1b7o25"), want);
        assert_eq!(ok("4004291417：bb8ayn1b7o25"), want);
        assert_eq!(ok("machine_code%3D4004291417%26msign%3Dbb8ayn1b7o25"), want);
        assert_eq!(
            ok("MACHINE_CODE = 4004291417 ; M_SIGN = \"bb8ayn1b7o25\""),
            want
        );
        assert_eq!(
            ok("K4-WH 220V~50Hz\nSN:4004291417\nmsign:bb8ayn1b7o25"),
            want
        );
        assert_eq!(ok("终端号：4004291417，密钥：bb8ayn1b7o25"), want);
        assert_eq!(
            ok("www.10ss.net/authorize?mc=4004291417&msign=bb8ayn1b7o25"),
            want
        );
        assert_eq!(
            ok("https://x.example/app/#/bind?mc=4004291417&msign=bb8ayn1b7o25"),
            want
        );
        assert_eq!(
            ok(r#"{"data":{"machineCode":4004291417,"mSign":"bb8ayn1b7o25"}}"#),
            want
        );
        assert_eq!(
            ok("https://x.example/?mc=4004291417&msign=bb8ayn1b7o25&mc=4004291417"),
            want
        );
        // An empty qr_key next to an msign is clear, not ambiguous.
        assert_eq!(ok("mc=4004291417&qr_key=&msign=bb8ayn1b7o25"), want);
    }

    #[test]
    fn sign_alias_only_when_unambiguous() {
        assert_eq!(ok("mc=123&sign=abcdefgh"), yly("123", ms("abcdefgh")));
        // A request signature next to client_id/timestamp is not a device key.
        assert_eq!(
            refused("mc=123&sign=abcdefgh&client_id=1&timestamp=2").reason,
            PayloadProblem::MissingKey
        );
        // With an explicit key, `sign` is ignored.
        assert_eq!(ok("mc=123&qr_key=aaaa&sign=bbbb"), yly("123", qr("aaaa")));
    }

    #[test]
    fn generic_key_by_shape() {
        assert_eq!(
            ok("mc=1&key=0123456789abcdef"),
            yly("1", qr("0123456789abcdef"))
        );
        assert_eq!(
            ok("4004000000|0123456789ABCDEF"),
            yly("4004000000", qr("0123456789ABCDEF"))
        );
        assert_eq!(ok("mc=1&key=abcdefghijk"), yly("1", ms("abcdefghijk")));
        let e = refused("4004291417#ABCDEFGHIJKL");
        assert_eq!(e.reason, PayloadProblem::UnknownKeyKind);
        assert_eq!(e.machine_code.as_deref(), Some("4004291417"));
        assert_eq!(
            refused("4004291417#abc").reason,
            PayloadProblem::UnknownKeyKind
        );
        assert_eq!(
            refused("mc=1&qr_key=aaaa&key=bbbb").reason,
            PayloadProblem::ConflictingValues { field: "key" }
        );
    }

    #[test]
    fn refusals_are_specific() {
        assert_eq!(refused("").reason, PayloadProblem::Empty);
        assert_eq!(refused(" \u{feff}\n").reason, PayloadProblem::Empty);
        assert_eq!(
            refused(&"9".repeat(5000)).reason,
            PayloadProblem::TooLong { bytes: 5000 }
        );
        assert_eq!(
            refused("{\"machine_code\":").reason,
            PayloadProblem::MalformedJson
        );
        assert_eq!(refused("[1,2]").reason, PayloadProblem::JsonNotObject);
        assert_eq!(refused("hello world").reason, PayloadProblem::Unrecognised);
        assert_eq!(
            refused("https://www.10ss.net/").reason,
            PayloadProblem::Unrecognised
        );
        assert_eq!(
            refused("qr_key=0123456789abcdef").reason,
            PayloadProblem::NoMachineCode
        );
        assert_eq!(
            refused("mc=40O4&msign=abcdefghijk").reason,
            PayloadProblem::InvalidMachineCode
        );
        assert_eq!(
            refused(&format!("mc={}&msign=abcdefghijk", "1".repeat(33))).reason,
            PayloadProblem::InvalidMachineCode
        );
        let e = refused("4004291417");
        assert_eq!(
            (e.reason, e.machine_code.as_deref()),
            (PayloadProblem::MissingKey, Some("4004291417"))
        );
        assert_eq!(
            refused("mc=1&qr_key=a&msign=b").reason,
            PayloadProblem::BothKeys
        );
        assert_eq!(
            refused("mc=1&mc=2&msign=b").reason,
            PayloadProblem::ConflictingValues {
                field: "machine_code"
            }
        );
        assert_eq!(
            refused("mc=1&msign=has space").reason,
            PayloadProblem::InvalidKey {
                kind: Some(KeyKind::Msign)
            }
        );
        assert_eq!(
            refused("mc=1&userid=abc").reason,
            PayloadProblem::MixedProviders
        );
        assert_eq!(
            refused("userid=ab:cd").reason,
            PayloadProblem::InvalidUserId
        );
        assert_eq!(
            refused("4004291417#bb8ayn1b7o25#x").reason,
            PayloadProblem::Unrecognised
        );
    }

    #[test]
    fn lingju() {
        let want = LabelPayload::Lingju {
            userid: "AABBccDDEEFF".into(),
        };
        assert_eq!(ok("userid=AA:BB:cc:DD:EE:FF"), want);
        assert_eq!(ok(r#"{"userId":"AA-BB-cc-DD-EE-FF"}"#), want);
        assert_eq!(ok("mac: AABB.ccDD.EEFF"), want);
        assert_eq!(ok("https://dev.lingju.ai/device?uid=AABBccDDEEFF"), want);
        // A printer's own MAC next to its machine code belongs to the printer.
        assert_eq!(
            ok("mc=4004291417&msign=bb8ayn1b7o25&mac=AA:BB:CC:DD:EE:FF"),
            yly("4004291417", ms("bb8ayn1b7o25"))
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_and_display() {
        let key = "bb8ayn1b7o25";
        let p = ok(&format!("4004291417#{key}"));
        assert!(!format!("{p:?}").contains(key));
        for text in [
            format!("mc=1&qr_key=a&msign={key}"),
            format!("4004291417#{key}#"),
            format!("mc=x&msign={key}"),
        ] {
            let e = refused(&text);
            assert!(!format!("{e}").contains(key), "{e}");
            assert!(!format!("{e:?}").contains(key), "{e:?}");
            assert!(!e.message_zh().contains(key));
            assert_eq!(e.raw, text);
        }
    }

    #[test]
    fn every_format_round_trips_a_fixed_payload() {
        let payloads = [
            yly("4004291417", ms("bb8ayn1b7o25")),
            yly("4004704341", qr("5b92558589eaff30")),
            LabelPayload::Lingju {
                userid: "AABBCCDDEEFF".into(),
            },
        ];
        for p in &payloads {
            for f in PayloadFormat::all() {
                if let Some(text) = format_payload(p, f) {
                    assert_eq!(&ok(&text), p, "{f:?}: {text}");
                }
            }
        }
    }
}
