//! Linux: always the freedesktop Secret Service over D-Bus (gnome-keyring, KeePassXC, KWallet's bridge), through
//! `dbus-secret-service-keyring-store`.
//!
//! Every call builds its own store, i.e. its own D-Bus connection and encrypted (DH) session, as keyring 3.x did:
//! the store keeps one connection behind a mutex, so a shared store would let one call stuck on an unanswered
//! unlock prompt block every later call, and a restarted gnome-keyring would leave it holding a dead session.
//! A fresh connection costs a few milliseconds, which is nothing next to the work a secret is fetched for.
//! Never keyutils (forgets on reboot), never a file, never keyring-core's mock store.

use std::collections::HashMap;
use std::sync::Arc;

use dbus_secret_service::{EncryptionType, SecretService};
use keyring_core::CredentialStore;

use super::super::backend::{BackendError, BackendErrorKind};

pub(super) fn store() -> Result<Arc<CredentialStore>, BackendError> {
    let store: Arc<CredentialStore> =
        dbus_secret_service_keyring_store::Store::new().map_err(super::classify)?;
    Ok(store)
}

/// Nothing to set up on Linux: the session bus is found from the environment on every call.
pub(crate) fn init_store() -> Result<(), BackendError> {
    Ok(())
}

/// A search that found nothing also finds nothing when the user has no keyring at all: tell those apart, so a
/// fresh headless account hears "create a login keyring" rather than "no secret stored".
pub(super) fn confirm_missing() -> Result<(), BackendError> {
    let ss = SecretService::connect(EncryptionType::Plain).map_err(|e| classify_ss(&e))?;
    ss.get_default_collection().map_err(|e| classify_ss(&e))?;
    Ok(())
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

/// The store boxes the typed `dbus_secret_service::Error`; look inside so "no Secret Service" and
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
    } else if name == "org.freedesktop.Secret.Error.NoSession"
        || (short == "NoReply" && message.to_ascii_lowercase().contains("disconnected"))
    {
        // The bus answers a call at once with NoReply "Message recipient disconnected from message bus without
        // replying" when the daemon exits under it; a restarted daemon does not know the old one's session. Both
        // mean: ask again, a fresh connection reaches the replacement. A NoReply without it is a real timeout.
        BackendErrorKind::Gone
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
        // libdbus's text for a method call whose reply timer ran out, and the bus's for a peer that exited.
        let no_reply = |m: &str| classify_dbus("org.freedesktop.DBus.Error.NoReply", m).kind;
        assert_eq!(
            no_reply("Did not receive a reply. Possible causes include: the remote application did not send a \
                      reply, the message bus security policy blocked the reply, the reply timeout expired, or the \
                      network connection was broken."),
            BackendErrorKind::Timeout
        );
        assert_eq!(
            no_reply("Message recipient disconnected from message bus without replying"),
            BackendErrorKind::Gone
        );
        assert_eq!(
            k("org.freedesktop.Secret.Error.NoSession"),
            BackendErrorKind::Gone
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
