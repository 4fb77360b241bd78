//! Tolerant readers for provider JSON: the same field arrives as a string in v1 and a number in v2.

use serde_json::Value;

/// An integer from a JSON number (integral) or a string holding one.
pub(crate) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                    .map(|f| f as i64)
            })
        }
        _ => None,
    }
}

/// A non-negative integer from a number or a string.
pub(crate) fn uint(v: &Value) -> Option<u64> {
    int(v).and_then(|i| u64::try_from(i).ok())
}

/// Text from a string or a number (ids are kept as strings whatever the server sends).
pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `obj[key]` read with `read`, treating JSON null and an empty string as absent.
pub(crate) fn field<T>(obj: &Value, key: &str, read: impl Fn(&Value) -> Option<T>) -> Option<T> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(v) => read(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_or_number() {
        assert_eq!(int(&json!("0")), Some(0));
        assert_eq!(int(&json!(" 41 ")), Some(41));
        assert_eq!(int(&json!(18)), Some(18));
        assert_eq!(int(&json!(2592000.0)), Some(2592000));
        assert_eq!(int(&json!("2592000")), Some(2592000));
        assert_eq!(int(&json!("abc")), None);
        assert_eq!(int(&json!(1.5)), None);
        assert_eq!(int(&json!(true)), None);
        assert_eq!(uint(&json!("-1")), None);
        assert_eq!(
            text(&json!(1234567890123u64)).as_deref(),
            Some("1234567890123")
        );
        assert_eq!(text(&json!("abc")).as_deref(), Some("abc"));
        assert_eq!(text(&json!({})), None);
        let o = json!({"a": null, "b": "", "c": "7"});
        assert_eq!(field(&o, "a", int), None);
        assert_eq!(field(&o, "b", int), None);
        assert_eq!(field(&o, "c", int), Some(7));
        assert_eq!(field(&o, "zz", int), None);
    }
}
