//! Every table as data: the column spec shared by the portable export, restore, and import,
//! and the generic reading and writing of rows on either backend.

use base64::Engine as _;
use serde_json::Value;
use sqlx::{AssertSqlSafe, Row as _};
use troupe_ports::StoreError;

use crate::backend::{Backend, db, on_pool};

/// The SQL type of a column, as the portable format carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Col {
    Int,
    Text,
    Bool,
    /// Bytes, carried as base64 text.
    Bytes,
}

/// One table: name, columns (name, type, nullable) in export order, and its key columns.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Col, bool)],
    pub order_by: &'static str,
    /// The `id` identity column whose sequence PostgreSQL must move past restored rows.
    pub identity: bool,
}

use Col::{Bool, Bytes, Int, Text};

/// Every table, parents before children (the insertion order of a restore).
pub(crate) const TABLES: &[Table] = &[
    Table {
        name: "personalities",
        columns: &[
            ("name_key", Text, false),
            ("name", Text, false),
            ("owner_id", Int, false),
            ("display_name", Text, false),
            ("display_key", Text, false),
            ("avatar_url", Text, true),
            ("error_message", Text, true),
            ("prompt", Text, false),
            ("model", Text, true),
            ("fetched_at", Int, true),
            ("created_at", Int, false),
            ("updated_at", Int, false),
        ],
        order_by: "name_key",
        identity: false,
    },
    Table {
        name: "aliases",
        columns: &[
            ("alias_key", Text, false),
            ("alias", Text, false),
            ("personality_key", Text, false),
            ("position", Int, false),
        ],
        order_by: "alias_key",
        identity: false,
    },
    Table {
        name: "channel_activations",
        columns: &[
            ("channel_id", Int, false),
            ("personality_key", Text, false),
            ("activated_by", Int, false),
            ("activated_at", Int, false),
        ],
        order_by: "channel_id",
        identity: false,
    },
    Table {
        name: "conversations",
        columns: &[
            ("user_id", Int, false),
            ("channel_id", Int, false),
            ("personality_key", Text, false),
            ("last_activity", Int, false),
            ("mode", Text, false),
            ("is_dm", Bool, false),
        ],
        order_by: "user_id, channel_id",
        identity: false,
    },
    Table {
        name: "history",
        columns: &[
            ("id", Int, false),
            ("channel_id", Int, false),
            ("personality_key", Text, false),
            ("speaker", Text, false),
            ("author", Text, false),
            ("content", Text, false),
            ("at", Int, false),
            ("user_id", Int, true),
        ],
        order_by: "id",
        identity: true,
    },
    Table {
        name: "autorespond",
        columns: &[("user_id", Int, false), ("enabled", Bool, false)],
        order_by: "user_id",
        identity: false,
    },
    Table {
        name: "message_map",
        columns: &[
            ("message_id", Int, false),
            ("channel_id", Int, false),
            ("personality_key", Text, false),
            ("user_id", Int, false),
            ("at", Int, false),
        ],
        order_by: "message_id",
        identity: false,
    },
    Table {
        name: "auth_tokens",
        columns: &[
            ("user_id", Int, false),
            ("token_ciphertext", Bytes, false),
            ("created_at", Int, false),
            ("expires_at", Int, false),
        ],
        order_by: "user_id",
        identity: false,
    },
    Table {
        name: "age_verifications",
        columns: &[("user_id", Int, false), ("verified_at", Int, false)],
        order_by: "user_id",
        identity: false,
    },
    Table {
        name: "pending_authorizations",
        columns: &[
            ("id", Int, false),
            ("state", Text, false),
            ("user_id", Int, false),
            ("created_at", Int, false),
        ],
        order_by: "id",
        identity: true,
    },
    Table {
        name: "notification_preferences",
        columns: &[
            ("user_id", Int, false),
            ("opted_in", Bool, false),
            ("level", Text, false),
            ("last_notified", Text, true),
        ],
        order_by: "user_id",
        identity: false,
    },
    Table {
        name: "processed_messages",
        columns: &[("message_id", Int, false), ("claimed_at", Int, false)],
        order_by: "message_id",
        identity: false,
    },
    Table {
        name: "flags",
        columns: &[
            ("name", Text, false),
            ("value", Bool, false),
            ("updated_by", Text, false),
            ("updated_at", Int, false),
        ],
        order_by: "name",
        identity: false,
    },
    Table {
        name: "flag_audit",
        columns: &[
            ("id", Int, false),
            ("name", Text, false),
            ("old_value", Bool, true),
            ("new_value", Bool, true),
            ("actor", Text, false),
            ("reason", Text, false),
            ("at", Int, false),
        ],
        order_by: "id",
        identity: true,
    },
];

/// The rows of one table, each a value per column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TableData {
    pub table: &'static Table,
    pub rows: Vec<Vec<Value>>,
}

/// The whole content of a store.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Dump {
    pub tables: Vec<TableData>,
}

impl Dump {
    pub(crate) fn row_counts(&self) -> std::collections::BTreeMap<String, u64> {
        self.tables
            .iter()
            .map(|t| (t.table.name.to_owned(), t.rows.len() as u64))
            .collect()
    }
}

/// Whether a JSON value fits a column (type and nullability).
pub(crate) fn fits(value: &Value, col: Col, nullable: bool) -> bool {
    match value {
        Value::Null => nullable,
        Value::Number(n) => col == Int && n.is_i64(),
        Value::String(s) => match col {
            Text => true,
            Bytes => base64::engine::general_purpose::STANDARD.decode(s).is_ok(),
            _ => false,
        },
        Value::Bool(_) => col == Bool,
        _ => false,
    }
}

macro_rules! read_cell {
    ($row:expr, $i:expr, $col:expr) => {
        match $col {
            Col::Int => $row
                .try_get::<Option<i64>, _>($i)
                .map(|v| v.map_or(Value::Null, Value::from)),
            Col::Text => $row
                .try_get::<Option<String>, _>($i)
                .map(|v| v.map_or(Value::Null, Value::from)),
            Col::Bool => $row
                .try_get::<Option<bool>, _>($i)
                .map(|v| v.map_or(Value::Null, Value::from)),
            Col::Bytes => $row.try_get::<Option<Vec<u8>>, _>($i).map(|v| {
                v.map_or(Value::Null, |b| {
                    Value::from(base64::engine::general_purpose::STANDARD.encode(b))
                })
            }),
        }
    };
}

macro_rules! bind_cell {
    ($query:expr, $value:expr, $col:expr) => {
        match $col {
            Col::Int => $query.bind($value.as_i64()),
            Col::Text => $query.bind($value.as_str().map(str::to_owned)),
            Col::Bool => $query.bind($value.as_bool()),
            Col::Bytes => $query.bind(
                $value
                    .as_str()
                    .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok()),
            ),
        }
    };
}

fn select_sql(t: &Table) -> String {
    let cols: Vec<&str> = t.columns.iter().map(|c| c.0).collect();
    format!(
        "SELECT {} FROM {} ORDER BY {}",
        cols.join(", "),
        t.name,
        t.order_by
    )
}

/// Reads every table inside one snapshot: a read transaction on SQLite (WAL gives it a
/// consistent snapshot), `REPEATABLE READ READ ONLY` on PostgreSQL.
pub(crate) async fn dump(backend: &Backend) -> Result<Dump, StoreError> {
    on_pool!(backend, |pool| {
        let mut tx = match backend {
            Backend::Postgres(_) => {
                pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await
            }
            Backend::Sqlite(_) => pool.begin().await,
        }
        .map_err(db)?;
        let mut tables = Vec::with_capacity(TABLES.len());
        for t in TABLES {
            let found = sqlx::query(AssertSqlSafe(select_sql(t)))
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
            let mut rows = Vec::with_capacity(found.len());
            for row in &found {
                let mut values = Vec::with_capacity(t.columns.len());
                for (i, &(_, col, _)) in t.columns.iter().enumerate() {
                    values.push(read_cell!(row, i, col).map_err(db)?);
                }
                rows.push(values);
            }
            tables.push(TableData { table: t, rows });
        }
        tx.commit().await.map_err(db)?;
        Ok(Dump { tables })
    })
}

/// Rows per multi-row INSERT (well under SQLite's 32,766 and PostgreSQL's 65,535 parameters).
const BATCH: usize = 400;

/// Replaces the whole content of the store with `dump` in one transaction: either everything
/// is replaced or nothing changes.
pub(crate) async fn replace_all(backend: &Backend, dump: &Dump) -> Result<(), StoreError> {
    on_pool!(backend, |pool| {
        let mut tx = crate::backend::WritePool::begin_registry(pool).await?;
        for t in TABLES.iter().rev() {
            sqlx::query(AssertSqlSafe(format!("DELETE FROM {}", t.name)))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        for data in &dump.tables {
            let t = data.table;
            let cols: Vec<&str> = t.columns.iter().map(|c| c.0).collect();
            for chunk in data.rows.chunks(BATCH) {
                let mut sql = format!("INSERT INTO {} ({}) VALUES ", t.name, cols.join(", "));
                let mut n = 0;
                for (r, _) in chunk.iter().enumerate() {
                    if r > 0 {
                        sql.push_str(", ");
                    }
                    sql.push('(');
                    for c in 0..cols.len() {
                        n += 1;
                        if c > 0 {
                            sql.push_str(", ");
                        }
                        sql.push('$');
                        sql.push_str(&n.to_string());
                    }
                    sql.push(')');
                }
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for row in chunk {
                    for (value, &(_, col, _)) in row.iter().zip(t.columns) {
                        query = bind_cell!(query, value, col);
                    }
                }
                query.execute(&mut *tx).await.map_err(db)?;
            }
            if t.identity && matches!(backend, Backend::Postgres(_)) {
                let sql = format!(
                    "SELECT setval(pg_get_serial_sequence('{0}', 'id'), \
                     COALESCE((SELECT MAX(id) FROM {0}), 0) + 1, false)",
                    t.name
                );
                sqlx::query(AssertSqlSafe(sql))
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
        }
        tx.commit().await.map_err(db)
    })
}
