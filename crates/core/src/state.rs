//! `LifecycleState` over the real vault: tokens in the keyring, generation/expiry mirror, quota and journal in SQLite.

use std::sync::Arc;

use chrono::NaiveDate;
use quickauth_vault::{Keyring, Store, VaultError};
use zeroize::Zeroizing;

use crate::error::Result;
use crate::lifecycle::{DeviceRef, Journal, LifecycleState};
use crate::tokens::{tokens_account, StoredTokens};

pub(crate) struct VaultState {
    pub store: Arc<Store>,
    pub keyring: Secrets,
}

/// The keyring, called so that a slow Secret Service (bounded by the vault's timeout) does not stall the async
/// runtime: on a multi-thread runtime the call runs with `block_in_place`.
#[derive(Clone)]
pub(crate) struct Secrets(pub Arc<Keyring>);

impl Secrets {
    pub fn get(&self, account: &str) -> Result<Option<Zeroizing<String>>, VaultError> {
        offload(|| self.0.get(account))
    }
    pub fn set(&self, account: &str, value: &str) -> Result<(), VaultError> {
        offload(|| self.0.set(account, value))
    }
    pub fn delete(&self, account: &str) -> Result<(), VaultError> {
        offload(|| self.0.delete(account))
    }
    pub fn probe(&self) -> Result<(), VaultError> {
        offload(|| self.0.probe())
    }
}

fn offload<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

impl LifecycleState for VaultState {
    fn read_tokens(&self, dev: &DeviceRef) -> Result<Option<StoredTokens>> {
        let entry = match self
            .keyring
            .get(&tokens_account(&dev.provider, &dev.profile, &dev.id))?
        {
            Some(json) => Some(json),
            // Not moved to the per-profile account yet (see `move_legacy_token_entries`): the v1 entry is this
            // device's only if no other profile has the same printer.
            None if self.store.find_devices(&dev.id)?.len() == 1 => self.keyring.get(
                &crate::tokens::legacy_tokens_account(&dev.provider, &dev.id),
            )?,
            None => None,
        };
        entry.map(|json| StoredTokens::from_json(&json)).transpose()
    }

    fn write_tokens(&self, dev: &DeviceRef, tokens: &StoredTokens) -> Result<()> {
        self.keyring.set(
            &tokens_account(&dev.provider, &dev.profile, &dev.id),
            &tokens.to_json(),
        )?;
        Ok(())
    }

    fn mirror(&self, dev: &DeviceRef, tokens: &StoredTokens, refreshed: bool) -> Result<()> {
        let Some(mut row) = self
            .store
            .get_device(&dev.provider, &dev.profile, &dev.id)?
        else {
            tracing::warn!(device = %dev, "no device row to mirror tokens into (forgotten meanwhile?)");
            return Ok(());
        };
        if tokens.generation > row.token_generation {
            // A new pair: queue its webhook before the row says so, so a crash in between queues it on the next
            // run (queueing is idempotent per generation).
            let ownership = crate::delivery::ownership_of(&self.store, dev)?;
            crate::delivery::queue_new_pair(
                &self.store,
                dev,
                &row.profile,
                tokens.generation,
                ownership,
                false,
            )?;
        }
        row.token_generation = tokens.generation;
        row.expires_at = tokens.expires_at;
        row.refresh_expires_at = tokens.refresh_expires_at;
        row.needs_reauth = false;
        if refreshed {
            row.last_refreshed_at = Some(tokens.issued_at);
        }
        self.store.upsert_device(&row)?;
        Ok(())
    }

    fn db_generation(&self, dev: &DeviceRef) -> Result<Option<i64>> {
        Ok(self
            .store
            .get_device(&dev.provider, &dev.profile, &dev.id)?
            .map(|d| d.token_generation))
    }

    fn journal(&self, dev: &DeviceRef) -> Result<Option<Journal>> {
        Ok(self
            .store
            .pending_refreshes()?
            .into_iter()
            .find(|j| j.provider == dev.provider && j.profile == dev.profile && j.id == dev.id)
            .map(|j| Journal {
                old_generation: j.old_generation,
                started_at: j.started_at,
            }))
    }

    fn begin_journal(&self, dev: &DeviceRef, journal: &Journal) -> Result<()> {
        self.store.begin_refresh(
            &dev.provider,
            &dev.profile,
            &dev.id,
            journal.old_generation,
            journal.started_at,
        )?;
        Ok(())
    }

    fn finish_journal(&self, dev: &DeviceRef) -> Result<()> {
        self.store
            .finish_refresh(&dev.provider, &dev.profile, &dev.id)?;
        Ok(())
    }

    fn grants_on(&self, dev: &DeviceRef, day: NaiveDate) -> Result<u32> {
        Ok(self.store.grants_on(&dev.provider, &dev.id, day)?)
    }

    fn record_grant(&self, dev: &DeviceRef, day: NaiveDate) -> Result<u32> {
        Ok(self.store.record_grant(&dev.provider, &dev.id, day)?)
    }

    fn mark_needs_reauth(&self, dev: &DeviceRef) -> Result<()> {
        if let Some(mut row) = self
            .store
            .get_device(&dev.provider, &dev.profile, &dev.id)?
        {
            row.needs_reauth = true;
            self.store.upsert_device(&row)?;
        }
        Ok(())
    }
}
