//! `troupe check`: database integrity and the application invariants.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use troupe_domain::personality::{Alias, PersonalityName};
use troupe_ports::StoreError;

use crate::backend::{Backend, BackendKind, db, on_pool};
use crate::rows;
use crate::{Store, crypto};

/// One broken rule, readable as `rule: detail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which rule: `database integrity`, `alias without personality`,
    /// `alias equals a name`, `activation without personality`,
    /// `conversation without personality`, `history without personality`,
    /// `message map entry without personality`, `duplicate key`, `key not folded`,
    /// `unreadable personality`, `token does not decrypt`.
    pub rule: &'static str,
    /// What exactly (ids and names, never a token).
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule, self.detail)
    }
}

/// What `check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub backend: BackendKind,
    pub schema_version: i64,
    /// Rows per checked table.
    pub rows: BTreeMap<String, u64>,
    /// Every violation found; empty when the store is sound.
    pub violations: Vec<Violation>,
}

impl CheckReport {
    /// Whether no rule is broken.
    pub fn is_ok(&self) -> bool {
        self.violations.is_empty()
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total: u64 = self.rows.values().sum();
        if self.is_ok() {
            writeln!(
                f,
                "check passed: {} store, schema version {}, {total} rows, no violation",
                self.backend, self.schema_version
            )
        } else {
            writeln!(
                f,
                "check FAILED: {} violation(s) in the {} store:",
                self.violations.len(),
                self.backend
            )?;
            for v in &self.violations {
                writeln!(f, "  - {v}")?;
            }
            Ok(())
        }
    }
}

/// Rows of the orphan queries, rendered as text.
const ORPHANS: &[(&str, &str)] = &[
    (
        "alias without personality",
        "SELECT 'alias ' || a.alias || ' points at missing ' || a.personality_key FROM aliases a \
         WHERE NOT EXISTS (SELECT 1 FROM personalities p WHERE p.name_key = a.personality_key)",
    ),
    (
        "alias equals a name",
        "SELECT 'alias ' || a.alias || ' of ' || a.personality_key || ' equals the name of ' || p.name \
         FROM aliases a JOIN personalities p ON p.name_key = a.alias_key",
    ),
    (
        "activation without personality",
        "SELECT 'channel ' || CAST(a.channel_id AS TEXT) || ' activates missing ' || a.personality_key \
         FROM channel_activations a \
         WHERE NOT EXISTS (SELECT 1 FROM personalities p WHERE p.name_key = a.personality_key)",
    ),
    (
        "conversation without personality",
        "SELECT 'user ' || CAST(c.user_id AS TEXT) || ' in channel ' || CAST(c.channel_id AS TEXT) \
         || ' talks to missing ' || c.personality_key FROM conversations c \
         WHERE NOT EXISTS (SELECT 1 FROM personalities p WHERE p.name_key = c.personality_key)",
    ),
    (
        "history without personality",
        "SELECT DISTINCT 'channel ' || CAST(h.channel_id AS TEXT) || ' has history of missing ' \
         || h.personality_key FROM history h \
         WHERE NOT EXISTS (SELECT 1 FROM personalities p WHERE p.name_key = h.personality_key)",
    ),
    (
        "message map entry without personality",
        "SELECT 'message ' || CAST(m.message_id AS TEXT) || ' maps to missing ' || m.personality_key \
         FROM message_map m \
         WHERE NOT EXISTS (SELECT 1 FROM personalities p WHERE p.name_key = m.personality_key)",
    ),
];

/// A stored key that is not the plain lower-case of its text, with what holds its folded form.
struct KeyCandidate {
    stored: String,
    /// The domain's key of the text; `None` when the text no longer parses.
    folded: Option<String>,
    what: String,
    holders: Vec<String>,
}

/// Everything `check` reads, in one snapshot.
struct Snapshot {
    integrity: Vec<String>,
    orphans: Vec<(&'static str, Vec<String>)>,
    keys: Vec<KeyCandidate>,
    tokens: Vec<(i64, Vec<u8>)>,
    rows: BTreeMap<String, u64>,
}

/// SQLite's own page-level check (PostgreSQL checks its pages itself; references are covered
/// by the invariants on both backends).
async fn integrity(backend: &Backend) -> Result<Vec<String>, StoreError> {
    match backend {
        Backend::Sqlite(pool) => {
            let mut found: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_all(pool)
                .await
                .map_err(db)?;
            found.retain(|line| line != "ok");
            Ok(found)
        }
        Backend::Postgres(_) => Ok(Vec::new()),
    }
}

async fn snapshot(backend: &Backend) -> Result<Snapshot, StoreError> {
    // The page-level check and the invariant queries run on two connections at once.
    let (integrity, snap) = tokio::join!(integrity(backend), invariants(backend));
    let mut snap = snap?;
    snap.integrity = integrity?;
    Ok(snap)
}

async fn invariants(backend: &Backend) -> Result<Snapshot, StoreError> {
    on_pool!(backend, |pool| {
        let mut tx = match backend {
            Backend::Postgres(_) => {
                pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await
            }
            Backend::Sqlite(_) => pool.begin().await,
        }
        .map_err(db)?;
        let mut orphans = Vec::new();
        for &(rule, sql) in ORPHANS {
            let found: Vec<String> = sqlx::query_scalar(sql)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
            orphans.push((rule, found));
        }
        // Only rows whose key is not the plain lower-case of their text need the domain's
        // Unicode folding to be checked (non-ASCII names, and keys stored wrongly).
        let names: Vec<(String, String)> = sqlx::query_as(
            "SELECT name_key, name FROM personalities WHERE name_key <> lower(name) ORDER BY name_key",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let aliases: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT alias_key, alias, personality_key FROM aliases WHERE alias_key <> lower(alias) \
             ORDER BY alias_key",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut candidates: Vec<(String, Option<String>, String)> = Vec::new();
        for (key, name) in &names {
            let folded = PersonalityName::parse(name)
                .map(|n| n.key().to_owned())
                .ok();
            candidates.push((key.clone(), folded, format!("the name {name}")));
        }
        for (key, alias, owner) in &aliases {
            let folded = Alias::parse(alias).map(|a| a.key().to_owned()).ok();
            candidates.push((key.clone(), folded, format!("the alias {alias} of {owner}")));
        }
        let mut keys = Vec::new();
        for (stored, folded, what) in candidates {
            let holders: Vec<String> = match &folded {
                Some(folded) if *folded != stored => sqlx::query_scalar(
                    "SELECT 'the name ' || name FROM personalities WHERE name_key = $1 \
                     UNION ALL SELECT 'an alias of ' || personality_key FROM aliases WHERE alias_key = $1",
                )
                .bind(folded.as_str())
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?,
                _ => Vec::new(),
            };
            keys.push(KeyCandidate {
                stored,
                folded,
                what,
                holders,
            });
        }
        let tokens: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT user_id, token_ciphertext FROM auth_tokens ORDER BY user_id")
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
        let mut rows = BTreeMap::new();
        for t in super::tables::TABLES {
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {}",
                t.name
            )))
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            rows.insert(t.name.to_owned(), crate::backend::from_sql_count(n));
        }
        tx.commit().await.map_err(db)?;
        Ok(Snapshot {
            integrity: Vec::new(),
            orphans,
            keys,
            tokens,
            rows,
        })
    })
}

impl Store {
    /// Verifies the database (SQLite `integrity_check`) and the application invariants: every
    /// alias, activation, conversation, history entry and message map entry refers to an
    /// existing personality; no alias equals a name; every stored key is the folded form of its
    /// text (checked in Rust for every row whose key is not simply `lower(text)`) and no two
    /// names or aliases fold to the same key; every token decrypts with the configured keys.
    pub async fn check(&self) -> Result<CheckReport, StoreError> {
        let snap = snapshot(self.backend()).await?;
        let mut violations: Vec<Violation> = snap
            .integrity
            .into_iter()
            .map(|detail| Violation {
                rule: "database integrity",
                detail,
            })
            .collect();
        for (rule, found) in snap.orphans {
            violations.extend(found.into_iter().map(|detail| Violation { rule, detail }));
        }

        // Keys: names and aliases share one key space, and each key is the folded text.
        let mut folded_holders: HashMap<String, Vec<String>> = HashMap::new();
        for c in snap.keys {
            match &c.folded {
                None => violations.push(Violation {
                    rule: "unreadable personality",
                    detail: format!("{} (key {:?}) is not valid any more", c.what, c.stored),
                }),
                Some(folded) if *folded != c.stored => {
                    violations.push(Violation {
                        rule: "key not folded",
                        detail: format!("{} is stored under key {:?}", c.what, c.stored),
                    });
                    let entry = folded_holders.entry(folded.clone()).or_default();
                    if entry.is_empty() {
                        entry.extend(c.holders);
                    }
                    entry.push(c.what);
                }
                Some(_) => {}
            }
        }
        let mut duplicates: Vec<_> = folded_holders
            .into_iter()
            .filter(|(_, holders)| holders.len() > 1)
            .collect();
        duplicates.sort();
        violations.extend(duplicates.into_iter().map(|(key, holders)| Violation {
            rule: "duplicate key",
            detail: format!("{key:?} is used by {}", holders.join(" and ")),
        }));

        for (raw_user, sealed) in &snap.tokens {
            let outcome = rows::user_id(*raw_user)
                .and_then(|user| self.cipher().decrypt(user, sealed).map(|_| ()));
            if let Err(e) = outcome {
                let reason = match e {
                    StoreError::Unexpected(m) => m,
                    other => other.to_string(),
                };
                let key = crypto::TokenCipher::key_id_of(sealed).map_or_else(
                    || "unknown format".to_owned(),
                    |id| format!("key id {id:02x}"),
                );
                violations.push(Violation {
                    rule: "token does not decrypt",
                    detail: format!("user {raw_user} ({key}): {reason}"),
                });
            }
        }
        Ok(CheckReport {
            backend: self.kind(),
            schema_version: self.schema_version().await?,
            rows: snap.rows,
            violations,
        })
    }
}
