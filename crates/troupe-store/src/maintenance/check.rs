//! `troupe check`: database integrity and the application invariants.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use futures_util::TryStreamExt as _;
use sqlx::{AssertSqlSafe, Row as _};
use troupe_domain::notifications::{NotificationLevel, Version};
use troupe_domain::personality::{
    Alias, AvatarUrl, DisplayName, ErrorMessage, ModelId, PersonalityName, Prompt,
};
use troupe_domain::{ChannelId, UserId};
use troupe_ports::StoreError;

use super::tables::{Col, Table};
use crate::backend::{Backend, BackendKind, on_pool};
use crate::rows;
use crate::{Store, crypto};

/// One broken rule, readable as `rule: where: detail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which rule: `database integrity`, `unreadable row`, `alias without personality`,
    /// `alias equals a name`, `activation without personality`,
    /// `conversation without personality`, `history without personality`,
    /// `message map entry without personality`, `duplicate key`, `key not folded`,
    /// `unreadable personality`, `token does not decrypt`, `check incomplete`.
    pub rule: &'static str,
    /// The table of the broken row, when one row is at fault.
    pub table: Option<&'static str>,
    /// The key of that row (its key columns, rendered; invalid UTF-8 shown replaced).
    pub key: Option<String>,
    /// The column at fault.
    pub column: Option<&'static str>,
    /// What exactly (ids and names, never a token).
    pub detail: String,
}

impl Violation {
    fn new(rule: &'static str, detail: impl Into<String>) -> Self {
        Self {
            rule,
            table: None,
            key: None,
            column: None,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.rule)?;
        if let Some(table) = self.table {
            write!(f, "table {table}")?;
            if let Some(key) = &self.key {
                write!(f, ", key {key}")?;
            }
            if let Some(column) = self.column {
                write!(f, ", column {column}")?;
            }
            write!(f, ": ")?;
        }
        write!(f, "{}", self.detail)
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

/// A query of the check failed: database damage (a named violation), or a value the query
/// could not read (the row scan names the row).
fn incomplete(what: &str, e: sqlx::Error) -> Violation {
    match e {
        sqlx::Error::Database(d) => Violation::new(
            "database integrity",
            format!("{what}: the database answered {}", d.message()),
        ),
        other => Violation::new(
            "check incomplete",
            format!("{what} could not be read: {other}"),
        ),
    }
}

/// SQLite's own page-level check (PostgreSQL checks its pages itself; references are covered
/// by the invariants on both backends). Damage that stops the check itself is reported too.
async fn integrity(backend: &Backend) -> Vec<Violation> {
    let Backend::Sqlite(pool) = backend else {
        return Vec::new();
    };
    let rows = match sqlx::query("PRAGMA integrity_check").fetch_all(pool).await {
        Ok(rows) => rows,
        Err(e) => return vec![incomplete("the page-level check", e)],
    };
    rows.iter()
        .filter_map(|row| {
            // Read as bytes: a damaged page can put anything into the message.
            let line = row
                .try_get_unchecked::<Option<Vec<u8>>, _>(0)
                .ok()
                .flatten()
                .map(|b| String::from_utf8_lossy(&b).into_owned())?;
            (line != "ok").then(|| Violation::new("database integrity", line))
        })
        .collect()
}

/// The orphan queries, the key candidates and the tokens; each failing query is a violation.
async fn invariants(
    backend: &Backend,
    violations: &mut Vec<Violation>,
) -> (Vec<KeyCandidate>, Vec<(i64, Vec<u8>)>) {
    on_pool!(backend, |pool| {
        for &(rule, sql) in ORPHANS {
            match sqlx::query_scalar::<_, String>(sql).fetch_all(pool).await {
                Ok(found) => violations.extend(found.into_iter().map(|d| Violation::new(rule, d))),
                Err(e) => violations.push(incomplete(&format!("the {rule} check"), e)),
            }
        }
        // Only rows whose key is not the plain lower-case of their text need the domain's
        // Unicode folding to be checked (non-ASCII names, and keys stored wrongly).
        let names: Vec<(String, String)> = sqlx::query_as(
            "SELECT name_key, name FROM personalities WHERE name_key <> lower(name) ORDER BY name_key",
        )
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| {
            violations.push(incomplete("the name key check", e));
            Vec::new()
        });
        let aliases: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT alias_key, alias, personality_key FROM aliases WHERE alias_key <> lower(alias) \
             ORDER BY alias_key",
        )
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| {
            violations.push(incomplete("the alias key check", e));
            Vec::new()
        });
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
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| {
                    violations.push(incomplete("the duplicate key check", e));
                    Vec::new()
                }),
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
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| {
                    violations.push(incomplete("the token check", e));
                    Vec::new()
                });
        (keys, tokens)
    })
}

/// A value as the bot reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cell {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
    Bytes,
}

/// How the bot's domain reads a column, beyond its SQL type.
#[derive(Debug, Clone, Copy)]
enum Domain {
    User,
    Channel,
    Name,
    Display,
    Avatar,
    ErrorText,
    PromptText,
    Model,
    AliasText,
    Mode,
    Speaker,
    Level,
    Release,
}

/// Every column the bot reads through a domain type (table, column, type).
const DOMAIN: &[(&str, &str, Domain)] = &[
    ("personalities", "name", Domain::Name),
    ("personalities", "owner_id", Domain::User),
    ("personalities", "display_name", Domain::Display),
    ("personalities", "avatar_url", Domain::Avatar),
    ("personalities", "error_message", Domain::ErrorText),
    ("personalities", "prompt", Domain::PromptText),
    ("personalities", "model", Domain::Model),
    ("aliases", "alias", Domain::AliasText),
    ("channel_activations", "channel_id", Domain::Channel),
    ("channel_activations", "activated_by", Domain::User),
    ("conversations", "user_id", Domain::User),
    ("conversations", "channel_id", Domain::Channel),
    ("conversations", "mode", Domain::Mode),
    ("history", "channel_id", Domain::Channel),
    ("history", "speaker", Domain::Speaker),
    ("history", "user_id", Domain::User),
    ("autorespond", "user_id", Domain::User),
    ("message_map", "channel_id", Domain::Channel),
    ("message_map", "user_id", Domain::User),
    ("auth_tokens", "user_id", Domain::User),
    ("age_verifications", "user_id", Domain::User),
    ("pending_authorizations", "user_id", Domain::User),
    ("notification_preferences", "user_id", Domain::User),
    ("notification_preferences", "level", Domain::Level),
    ("notification_preferences", "last_notified", Domain::Release),
];

/// Why the bot's domain refuses a value (`None` when it reads it).
fn domain_problem(domain: Domain, cell: &Cell) -> Option<String> {
    fn err<E: fmt::Display>(r: Result<impl Sized, E>) -> Option<String> {
        r.err().map(|e| e.to_string())
    }
    match (domain, cell) {
        (_, Cell::Null | Cell::Bytes | Cell::Bool(_)) => None,
        (Domain::User, Cell::Int(n)) => {
            err(UserId::from_i64(*n)).map(|e| format!("not a user id: {e}"))
        }
        (Domain::Channel, Cell::Int(n)) => {
            err(ChannelId::from_i64(*n)).map(|e| format!("not a channel id: {e}"))
        }
        (_, Cell::Int(_)) => None,
        (domain, Cell::Text(t)) => match domain {
            Domain::Name => err(PersonalityName::parse(t)),
            Domain::Display => err(DisplayName::parse(t)),
            Domain::Avatar => err(AvatarUrl::parse(t)),
            Domain::ErrorText => err(ErrorMessage::parse(t)),
            Domain::PromptText => err(Prompt::parse(t)),
            Domain::Model => err(ModelId::parse(t)),
            Domain::AliasText => err(Alias::parse(t)),
            Domain::Mode => (!matches!(t.as_str(), "continuation" | "mention_only"))
                .then(|| format!("{t:?} is not a conversation mode")),
            Domain::Speaker => (!matches!(t.as_str(), "user" | "personality"))
                .then(|| format!("{t:?} is not a history speaker")),
            Domain::Level => NotificationLevel::parse(t)
                .is_none()
                .then(|| format!("{t:?} is not a notification level")),
            Domain::Release => Version::parse(t)
                .is_none()
                .then(|| format!("{t:?} is not a version")),
            Domain::User | Domain::Channel => None,
        },
    }
}

fn type_name(col: Col) -> &'static str {
    match col {
        Col::Int => "an integer",
        Col::Bool => "a boolean (integer)",
        Col::Text => "text",
        Col::Bytes => "bytes",
    }
}

/// Decodes one SQLite value from its storage class and raw bytes exactly as the bot's reads
/// do (sqlx refuses a storage class that does not match and text that is not UTF-8).
fn sqlite_cell(
    class: &str,
    raw: Option<Vec<u8>>,
    col: Col,
    nullable: bool,
) -> Result<Cell, String> {
    let raw = raw.unwrap_or_default();
    match (class, col) {
        ("null", _) if nullable => Ok(Cell::Null),
        ("null", _) => Err("NULL where the bot needs a value".to_owned()),
        ("integer", Col::Int | Col::Bool) => {
            let n = std::str::from_utf8(&raw)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| "an integer SQLite cannot render".to_owned())?;
            Ok(if col == Col::Bool {
                Cell::Bool(n != 0)
            } else {
                Cell::Int(n)
            })
        }
        ("text", Col::Text) => String::from_utf8(raw).map(Cell::Text).map_err(|e| {
            format!(
                "invalid UTF-8 text (at byte {}); the bot cannot read this row",
                e.utf8_error().valid_up_to()
            )
        }),
        ("blob", Col::Bytes) => Ok(Cell::Bytes),
        (other, col) => Err(format!(
            "stored as {other}, the bot reads {}",
            type_name(col)
        )),
    }
}

/// The key columns of a table (its `ORDER BY`).
fn key_columns(t: &Table) -> Vec<usize> {
    t.order_by
        .split(',')
        .filter_map(|k| t.columns.iter().position(|c| c.0 == k.trim()))
        .collect()
}

/// Checks one decoded row; `shown` renders each value for the key (lossy).
fn check_row(
    t: &'static Table,
    cells: &[Result<Cell, String>],
    shown: &[String],
    out: &mut Vec<Violation>,
) {
    let key = || {
        key_columns(t)
            .into_iter()
            .map(|i| format!("{}={}", t.columns[i].0, shown[i]))
            .collect::<Vec<_>>()
            .join(" ")
    };
    for (i, cell) in cells.iter().enumerate() {
        let column = t.columns[i].0;
        let problem = match cell {
            Err(problem) => Some(problem.clone()),
            Ok(cell) => DOMAIN
                .iter()
                .find(|(table, c, _)| *table == t.name && *c == column)
                .and_then(|&(_, _, domain)| domain_problem(domain, cell)),
        };
        if let Some(detail) = problem {
            out.push(Violation {
                rule: "unreadable row",
                table: Some(t.name),
                key: Some(key()),
                column: Some(column),
                detail,
            });
        }
    }
}

/// A scan stopped by the database (damage): the table and how far the scan got.
fn scan_stopped(t: &'static Table, rows: u64, e: &sqlx::Error) -> Violation {
    let message = match e {
        sqlx::Error::Database(d) => d.message().to_owned(),
        other => other.to_string(),
    };
    Violation {
        rule: "database integrity",
        table: Some(t.name),
        key: None,
        column: None,
        detail: format!("reading the table stopped after {rows} row(s): {message}"),
    }
}

/// Reads every row of `t` (streaming: memory does not grow with the table) and decodes each
/// value as the bot does; returns how many rows were read.
async fn scan(backend: &Backend, t: &'static Table, out: &mut Vec<Violation>) -> u64 {
    let mut rows = 0u64;
    match backend {
        Backend::Sqlite(pool) => {
            let cols: Vec<String> = t
                .columns
                .iter()
                .map(|(c, _, _)| format!("typeof({c}), CAST({c} AS BLOB)"))
                .collect();
            // No ORDER BY: a table scan needs no index, so a damaged index cannot stop it.
            let sql = format!("SELECT {} FROM {}", cols.join(", "), t.name);
            let mut stream = sqlx::query(AssertSqlSafe(sql)).fetch(pool);
            loop {
                match stream.try_next().await {
                    Ok(Some(row)) => {
                        rows += 1;
                        let mut cells = Vec::with_capacity(t.columns.len());
                        let mut shown = Vec::with_capacity(t.columns.len());
                        for (i, &(_, col, nullable)) in t.columns.iter().enumerate() {
                            let class: String = row.try_get(2 * i).unwrap_or_default();
                            let raw: Option<Vec<u8>> = row.try_get(2 * i + 1).unwrap_or_default();
                            shown.push(match &raw {
                                Some(b) if class == "text" => {
                                    format!("{:?}", String::from_utf8_lossy(b))
                                }
                                Some(b) => String::from_utf8_lossy(b).into_owned(),
                                None => "NULL".to_owned(),
                            });
                            cells.push(sqlite_cell(&class, raw, col, nullable));
                        }
                        check_row(t, &cells, &shown, out);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        out.push(scan_stopped(t, rows, &e));
                        break;
                    }
                }
            }
        }
        Backend::Postgres(pool) => {
            let cols: Vec<&str> = t.columns.iter().map(|c| c.0).collect();
            let sql = format!("SELECT {} FROM {}", cols.join(", "), t.name);
            let mut stream = sqlx::query(AssertSqlSafe(sql)).fetch(pool);
            loop {
                match stream.try_next().await {
                    Ok(Some(row)) => {
                        rows += 1;
                        let mut cells = Vec::with_capacity(t.columns.len());
                        for (i, &(_, col, nullable)) in t.columns.iter().enumerate() {
                            let cell = match col {
                                Col::Int => row
                                    .try_get::<Option<i64>, _>(i)
                                    .map(|v| v.map_or(Cell::Null, Cell::Int)),
                                Col::Bool => row
                                    .try_get::<Option<bool>, _>(i)
                                    .map(|v| v.map_or(Cell::Null, Cell::Bool)),
                                Col::Text => row
                                    .try_get::<Option<String>, _>(i)
                                    .map(|v| v.map_or(Cell::Null, Cell::Text)),
                                Col::Bytes => row
                                    .try_get::<Option<Vec<u8>>, _>(i)
                                    .map(|v| v.map_or(Cell::Null, |_| Cell::Bytes)),
                            }
                            .map_err(|e| e.to_string())
                            .and_then(|cell| {
                                if cell == Cell::Null && !nullable {
                                    Err("NULL where the bot needs a value".to_owned())
                                } else {
                                    Ok(cell)
                                }
                            });
                            cells.push(cell);
                        }
                        let shown: Vec<String> = cells
                            .iter()
                            .map(|c| match c {
                                Ok(Cell::Int(n)) => n.to_string(),
                                Ok(Cell::Text(t)) => format!("{t:?}"),
                                Ok(Cell::Bool(b)) => b.to_string(),
                                Ok(Cell::Null) => "NULL".to_owned(),
                                Ok(Cell::Bytes) | Err(_) => "?".to_owned(),
                            })
                            .collect();
                        check_row(t, &cells, &shown, out);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        out.push(scan_stopped(t, rows, &e));
                        break;
                    }
                }
            }
        }
    }
    rows
}

impl Store {
    /// Verifies the database (SQLite `integrity_check`; damage that stops a read is reported,
    /// never returned as an error), decodes every row of every table exactly as the bot reads
    /// it (storage class, UTF-8, NULLs, ids, names, enums: each failure a named `unreadable
    /// row` violation with table, key and column), and checks the application invariants:
    /// every alias, activation, conversation, history entry and message map entry refers to
    /// an existing personality; no alias equals a name; every stored key is the folded form of
    /// its text and no two names or aliases fold to the same key; every token decrypts with
    /// the configured keys. Never migrates; a store whose schema is not this build's is one
    /// `schema version` violation. Memory stays bounded: rows are streamed.
    pub async fn check(&self) -> Result<CheckReport, StoreError> {
        let backend = self.backend();
        let mut violations = integrity(backend).await;
        let schema_version = match self.schema_version().await {
            Ok(v) => v,
            Err(e) => {
                violations.push(Violation::new(
                    "database integrity",
                    format!("the schema version cannot be read: {e}"),
                ));
                0
            }
        };
        let latest = crate::migrations::LATEST;
        if schema_version != latest {
            violations.push(Violation::new(
                "schema version",
                format!(
                    "the store is at schema version {schema_version}, this build uses {latest}: \
                     run `troupe migrate` (with a newer build when the store is ahead)"
                ),
            ));
            return Ok(CheckReport {
                backend: self.kind(),
                schema_version,
                rows: BTreeMap::new(),
                violations,
            });
        }
        let mut rows = BTreeMap::new();
        for t in super::tables::TABLES {
            let n = scan(backend, t, &mut violations).await;
            rows.insert(t.name.to_owned(), n);
        }
        let (keys, tokens) = invariants(backend, &mut violations).await;

        // Keys: names and aliases share one key space, and each key is the folded text.
        let mut folded_holders: HashMap<String, Vec<String>> = HashMap::new();
        for c in keys {
            match &c.folded {
                None => violations.push(Violation::new(
                    "unreadable personality",
                    format!("{} (key {:?}) is not valid any more", c.what, c.stored),
                )),
                Some(folded) if *folded != c.stored => {
                    violations.push(Violation::new(
                        "key not folded",
                        format!("{} is stored under key {:?}", c.what, c.stored),
                    ));
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
        violations.extend(duplicates.into_iter().map(|(key, holders)| {
            Violation::new(
                "duplicate key",
                format!("{key:?} is used by {}", holders.join(" and ")),
            )
        }));

        for (raw_user, sealed) in &tokens {
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
                violations.push(Violation::new(
                    "token does not decrypt",
                    format!("user {raw_user} ({key}): {reason}"),
                ));
            }
        }
        Ok(CheckReport {
            backend: self.kind(),
            schema_version,
            rows,
            violations,
        })
    }
}
