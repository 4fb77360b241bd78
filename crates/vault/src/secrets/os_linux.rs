//! Linux: always the freedesktop Secret Service over D-Bus (gnome-keyring, KeePassXC, KWallet's bridge).
//!
//! Entries are built from `SsCredential` explicitly rather than `Entry::new`, so a feature mix-up can never
//! silently select keyring's in-memory mock or the kernel keyutils store (which forgets everything on reboot).

use std::collections::HashMap;

use dbus_secret_service::{EncryptionType, SecretService};
use keyring::secret_service::SsCredential;
use keyring::Entry;

use super::super::backend::{BackendError, BackendErrorKind};

pub(super) fn entry(service: &str, account: &str) -> Result<Entry, BackendError> {
    // `None` target = the "default" collection (the login keyring), as every desktop app uses.
    let credential =
        SsCredential::new_with_target(None, service, account).map_err(super::classify)?;
    Ok(Entry::new_with_credential(Box::new(credential)))
}

pub(super) fn probe(_service: &str) -> Result<(), BackendError> {
    // Plain session: the probe transfers no secret, so no key exchange is needed.
    let ss = SecretService::connect(EncryptionType::Plain).map_err(|e| classify_ss(&e))?;
    let collection = ss.get_default_collection().map_err(|e| classify_ss(&e))?;
    if collection.is_locked().map_err(|e| classify_ss(&e))? {
        return Err(BackendError::new(
            BackendErrorKind::Locked,
            "the default keyring collection is locked",
        ));
    }
    Ok(())
}

pub(super) fn list_accounts(service: &str) -> Result<Vec<String>, BackendError> {
    let ss = SecretService::connect(EncryptionType::Plain).map_err(|e| classify_ss(&e))?;
    let found = ss
        .search_items(HashMap::from([("service", service)]))
        .map_err(|e| classify_ss(&e))?;
    if !found.locked.is_empty() {
        return Err(BackendError::new(
            BackendErrorKind::Locked,
            format!("{} matching keyring item(s) are locked", found.locked.len()),
        ));
    }
    let mut accounts = Vec::with_capacity(found.unlocked.len());
    for item in &found.unlocked {
        let attributes = item.get_attributes().map_err(|e| classify_ss(&e))?;
        if let Some(account) = attributes.get("username") {
            accounts.push(account.clone());
        }
    }
    accounts.sort();
    accounts.dedup();
    Ok(accounts)
}

/// `keyring` boxes the typed `dbus_secret_service::Error`; look inside so "no Secret Service" and
/// "locked" become different user actions.
pub(super) fn classify_platform(
    inner: &(dyn std::error::Error + Send + Sync + 'static),
    fallback: BackendErrorKind,
) -> BackendError {
    match inner.downcast_ref::<dbus_secret_service::Error>() {
        Some(e) => classify_ss(e),
        None => BackendError::new(fallback, inner.to_string()),
    }
}

fn classify_ss(e: &dbus_secret_service::Error) -> BackendError {
    use dbus_secret_service::Error as E;
    match e {
        E::Unavailable => BackendError::new(BackendErrorKind::Unavailable, e.to_string()),
        E::Locked => BackendError::new(BackendErrorKind::Locked, e.to_string()),
        // No collection behind the "default" alias: nothing the user has unlocked to write into.
        E::NoResult => BackendError::new(
            BackendErrorKind::NoCollection,
            "no default keyring collection (login keyring)",
        ),
        E::Prompt => BackendError::new(BackendErrorKind::Denied, e.to_string()),
        E::Dbus(d) => classify_dbus(d.name().unwrap_or(""), d.message().unwrap_or("")),
        _ => BackendError::new(BackendErrorKind::Other, e.to_string()),
    }
}

/// D-Bus error names: which ones mean "there is no Secret Service here" versus "it is there but stuck".
fn classify_dbus(name: &str, message: &str) -> BackendError {
    let short = name.rsplit('.').next().unwrap_or(name);
    let kind = if name.starts_with("org.freedesktop.DBus.Error.Spawn") {
        BackendErrorKind::Unavailable
    } else if name == "org.freedesktop.Secret.Error.IsLocked" {
        BackendErrorKind::Locked
    } else {
        match short {
            "ServiceUnknown" | "NameHasNoOwner" | "FileNotFound" | "NoServer" | "Disconnected"
            | "BadAddress" | "NoNetwork" | "AuthFailed" | "NotSupported" | "UnknownMethod"
            | "UnknownObject" | "UnknownInterface" => BackendErrorKind::Unavailable,
            "NoReply" | "Timeout" | "TimedOut" => BackendErrorKind::Timeout,
            "AccessDenied" => BackendErrorKind::Denied,
            _ => BackendErrorKind::Other,
        }
    };
    let detail = if message.is_empty() {
        name.to_string()
    } else {
        format!("{name}: {message}")
    };
    BackendError::new(kind, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbus_names_map_to_actions() {
        let k = |n: &str| classify_dbus(n, "").kind;
        assert_eq!(
            k("org.freedesktop.DBus.Error.ServiceUnknown"),
            BackendErrorKind::Unavailable
        );
        assert_eq!(
            k("org.freedesktop.DBus.Error.FileNotFound"),
            BackendErrorKind::Unavailable
        );
        assert_eq!(
            k("org.freedesktop.DBus.Error.Spawn.ChildExited"),
            BackendErrorKind::Unavailable
        );
        assert_eq!(
            k("org.freedesktop.DBus.Error.NoReply"),
            BackendErrorKind::Timeout
        );
        assert_eq!(
            k("org.freedesktop.Secret.Error.IsLocked"),
            BackendErrorKind::Locked
        );
        assert_eq!(
            k("org.freedesktop.DBus.Error.AccessDenied"),
            BackendErrorKind::Denied
        );
        assert_eq!(k("org.example.Weird"), BackendErrorKind::Other);
    }
}
