//! The `FlagStore` contract.

use troupe_ports::{FlagAuditEntry, FlagChange, StoredFlag};

use super::fixtures::at;
use crate::Stores;

fn change(name: &str, value: Option<bool>, actor: &str, reason: &str, offset: i64) -> FlagChange {
    FlagChange {
        name: name.to_owned(),
        value,
        actor: actor.to_owned(),
        reason: reason.to_owned(),
        at: at(offset),
    }
}

fn audited(c: &FlagChange, old: Option<bool>) -> FlagAuditEntry {
    FlagAuditEntry {
        name: c.name.clone(),
        old,
        new: c.value,
        actor: c.actor.clone(),
        reason: c.reason.clone(),
        at: c.at,
    }
}

fn stored(c: &FlagChange) -> StoredFlag {
    StoredFlag {
        name: c.name.clone(),
        value: c.value.expect("a stored flag has a value"),
        updated_by: c.actor.clone(),
        updated_at: c.at,
    }
}

/// Checks every clause of `FlagStore` on a fresh store.
pub async fn flag_store(s: &Stores) {
    let f = &s.flags;
    let values = async || {
        let mut v = f.values().await.expect("values succeeds");
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    };
    assert_eq!(values().await, vec![], "a fresh store has no runtime value");
    assert_eq!(
        f.audit(10).await,
        Ok(vec![]),
        "a fresh store has an empty audit log"
    );
    let mut version = f.version().await.expect("version succeeds");
    assert_eq!(
        f.version().await,
        Ok(version),
        "reading does not change the version"
    );

    let changes = [
        (
            change("shadow_mode", Some(true), "alice", "rollout step 1", 1),
            None,
        ),
        (
            change(
                "shadow_mode",
                Some(false),
                "bob#0001",
                "rollback: errors ↑ 5% «ouch»\n'quoted'",
                2,
            ),
            Some(true),
        ),
        // Same millisecond as the previous change: the audit order is the order of `apply`.
        (change("new_commands", Some(true), "carol", "", 2), None),
        (
            change("shadow_mode", None, "dave", "back to the environment", 3),
            Some(false),
        ),
        (
            change("shadow_mode", None, "erin", "already unset", 4),
            None,
        ),
    ];
    let mut expected_audit = Vec::new();
    for (i, (c, old)) in changes.iter().enumerate() {
        assert_eq!(
            f.apply(c).await,
            Ok(*old),
            "apply #{i} returns the old value"
        );
        let now = f.version().await.expect("version succeeds");
        assert_ne!(now, version, "apply #{i} changes the version");
        version = now;
        expected_audit.insert(0, audited(c, *old));
        if i == 1 {
            assert_eq!(
                values().await,
                vec![stored(c)],
                "a set value is stored with who and when"
            );
        }
    }
    assert_eq!(
        values().await,
        vec![stored(&changes[2].0)],
        "a removed value is no longer stored"
    );
    assert_eq!(
        f.audit(100).await,
        Ok(expected_audit.clone()),
        "the audit log, newest first"
    );
    assert_eq!(
        f.audit(2).await,
        Ok(expected_audit[..2].to_vec()),
        "the newest `limit` entries"
    );
    assert_eq!(f.audit(0).await, Ok(vec![]), "a limit of 0");
    assert_eq!(
        f.audit(u64::MAX).await,
        Ok(expected_audit),
        "a limit of u64::MAX"
    );
}
