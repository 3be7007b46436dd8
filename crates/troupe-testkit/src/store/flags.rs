//! `FlagStore` over the in-memory state.

use async_trait::async_trait;
use troupe_ports::{FlagAuditEntry, FlagChange, FlagStore, StoreError, StoredFlag};

use super::InMemoryStore;

#[async_trait]
impl FlagStore for InMemoryStore {
    async fn values(&self) -> Result<Vec<StoredFlag>, StoreError> {
        self.read(|s| s.flags.values().cloned().collect())
    }

    async fn apply(&self, change: &FlagChange) -> Result<Option<bool>, StoreError> {
        self.write(|s| {
            let old = match change.value {
                Some(value) => s.flags.insert(
                    change.name.clone(),
                    StoredFlag {
                        name: change.name.clone(),
                        value,
                        updated_by: change.actor.clone(),
                        updated_at: change.at,
                    },
                ),
                None => s.flags.remove(&change.name),
            }
            .map(|flag| flag.value);
            s.audit.push(FlagAuditEntry {
                name: change.name.clone(),
                old,
                new: change.value,
                actor: change.actor.clone(),
                reason: change.reason.clone(),
                at: change.at,
            });
            s.flag_version += 1;
            Ok(old)
        })
    }

    async fn audit(&self, limit: u64) -> Result<Vec<FlagAuditEntry>, StoreError> {
        self.read(|s| {
            s.audit
                .iter()
                .rev()
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .cloned()
                .collect()
        })
    }

    async fn version(&self) -> Result<u64, StoreError> {
        self.read(|s| s.flag_version)
    }
}
