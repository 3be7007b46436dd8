//! Backups: a consistent online snapshot (SQLite `VACUUM INTO`) or a portable export (JSON
//! lines of every table read in one snapshot transaction), each verified before it counts and
//! published atomically with a manifest; restore; retention.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufRead as _, BufReader, BufWriter, Read as _, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use sqlx::Connection as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePoolOptions};
use troupe_domain::Timestamp;
use troupe_ports::{Clock as _, SystemClock};

use super::pace::{PROGRESS_OPS, Pace, Pacer};
use super::tables::{self, Dump, TABLES, TableData};
use super::{MaintenanceError, io_error};
use crate::backend::{Backend, BackendKind, db};
use crate::{Store, migrations};

/// The two backup formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackupFormat {
    /// A compact SQLite database file made with `VACUUM INTO` (SQLite stores only).
    SqliteSnapshot,
    /// JSON lines of every table, restorable into either backend.
    Portable,
}

impl BackupFormat {
    fn extension(self) -> &'static str {
        match self {
            Self::SqliteSnapshot => "sqlite",
            Self::Portable => "jsonl",
        }
    }
}

const MANIFEST_FORMAT: &str = "troupe-backup-manifest";
const PORTABLE_FORMAT: &str = "troupe-portable";
const PORTABLE_VERSION: u32 = 1;

/// What a backup is, written next to it as `<file>.manifest.json`. A backup without its
/// manifest does not count (it was not verified).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupManifest {
    /// Always `troupe-backup-manifest`.
    pub format: String,
    /// The backup file's name (in the manifest's directory).
    pub file: String,
    pub backup_format: BackupFormat,
    /// The backend the backup was taken from.
    pub backend: BackendKind,
    /// When the backup was taken, ISO 8601 UTC.
    pub created_at: String,
    /// The same, in milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// The file size in bytes.
    pub size: u64,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    /// The schema version (newest applied migration) of the data.
    pub schema_version: i64,
    /// The version of Troupe that wrote it.
    pub app_version: String,
    /// Rows per table.
    pub rows: BTreeMap<String, u64>,
}

impl BackupManifest {
    /// Where the manifest of `file` lives.
    pub fn path_for(file: &Path) -> PathBuf {
        let mut name = file.file_name().unwrap_or_default().to_os_string();
        name.push(".manifest.json");
        file.with_file_name(name)
    }
}

/// A backup that passed every check of [`Store::verify_backup`], ready to restore.
#[derive(Debug)]
pub struct VerifiedBackup {
    file: PathBuf,
    /// Its manifest.
    pub manifest: BackupManifest,
    dump: Dump,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// The manifest of the backup that was restored.
    pub restored: BackupManifest,
    /// The safety backup of the previous content, taken first.
    pub safety_backup: PathBuf,
    /// Rows per table now in the store.
    pub rows: BTreeMap<String, u64>,
}

fn now() -> Timestamp {
    SystemClock.now()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// SHA-256 and size of a file, read at `pace`.
fn digest(path: &Path, pace: Pace) -> Result<(String, u64), MaintenanceError> {
    let mut pacer = Pacer::new(pace);
    let mut file = File::open(path).map_err(|e| io_error(path, &e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| io_error(path, &e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
        pacer.pause();
    }
    Ok((hex(&hasher.finalize()), size))
}

fn fsync(path: &Path) -> Result<(), MaintenanceError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error(path, &e))
}

/// Flushes a directory entry (a rename) to disk; not possible on every platform, so best effort.
fn fsync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Runs file work (hashing, JSON, fsync) in the background ([`in_background`]), off the
/// runtime threads that answer commands.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, MaintenanceError> + Send + 'static,
) -> Result<T, MaintenanceError> {
    in_background(async move { work() }).await
}

/// Runs a backup's work on a thread of its own at the lowest CPU priority (SCHED_IDLE on
/// Linux), polling `work` there: the SQLite connections it opens get their worker threads
/// from it and inherit the priority. So a snapshot, its integrity check and its hashing take
/// only the CPU that commands leave, and a command that wakes up preempts them at once
/// (docs/PERFORMANCE.md, "Command latency during a backup"; ADR 0032).
async fn in_background<T: Send + 'static>(
    work: impl Future<Output = Result<T, MaintenanceError>> + Send + 'static,
) -> Result<T, MaintenanceError> {
    let runtime = tokio::runtime::Handle::current();
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("troupe-backup".into())
        .spawn(move || {
            lowest_priority();
            let _ = done.send(runtime.block_on(work));
        })
        .map_err(|e| MaintenanceError::Invalid(format!("cannot start a backup worker: {e}")))?;
    result
        .await
        .map_err(|_| MaintenanceError::Invalid("a backup worker stopped".into()))?
}

/// Puts the calling thread (and the threads it starts) under SCHED_IDLE. Best effort:
/// elsewhere than Linux, or when refused, the work runs at normal priority.
fn lowest_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
            set_thread_priority_and_policy, thread_native_id,
        };
        if let Err(e) = set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        ) {
            tracing::debug!("a backup runs at normal priority: {e:?}");
        }
    }
}

/// Creates the hidden temporary file of a backup and locks it (an advisory lock held until the
/// backup is published or abandoned), so another run can tell it from a stale one.
fn create_locked(path: &Path) -> Result<File, MaintenanceError> {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| io_error(path, &e))?;
    file.try_lock().map_err(|e| MaintenanceError::Io {
        path: path.to_owned(),
        message: format!("cannot lock the temporary backup file: {e}"),
    })?;
    Ok(file)
}

/// Removes the hidden `.…partial` files a killed backup left in `dir`: those no running backup
/// holds locked. Returns the removed files.
pub fn remove_stale_partials(dir: &Path) -> Result<Vec<PathBuf>, MaintenanceError> {
    let mut removed = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(io_error(dir, &e)),
    };
    for entry in entries {
        let path = entry.map_err(|e| io_error(dir, &e))?.path();
        let stale_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(".troupe-") && n.ends_with(".partial"));
        if !stale_name {
            continue;
        }
        let Ok(file) = File::open(&path) else {
            continue;
        };
        // A running backup holds its lock; a killed one's lock went with its process.
        if file.try_lock().is_ok() {
            fs::remove_file(&path).map_err(|e| io_error(&path, &e))?;
            removed.push(path);
        }
    }
    Ok(removed)
}

/// An error while taking a backup, said as one (a verification of the new backup that fails
/// is not a refused restore).
fn backup_failed(e: MaintenanceError) -> MaintenanceError {
    match e {
        MaintenanceError::Refused { reason, .. } => {
            MaintenanceError::BackupFailed(format!("the new backup did not verify: {reason}"))
        }
        MaintenanceError::Store(e) => MaintenanceError::BackupFailed(format!(
            "{e} (`troupe check` names rows the store cannot read)"
        )),
        MaintenanceError::Invalid(m) => MaintenanceError::BackupFailed(m),
        other => other,
    }
}

/// A file name `troupe-<UTC time>-<backend>.<ext>` not used yet in `dir`.
fn fresh_name(dir: &Path, at: Timestamp, backend: BackendKind, format: BackupFormat) -> String {
    let stamp: String = at
        .to_string()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let millis = at.as_millis().rem_euclid(1000);
    let base = format!("troupe-{stamp}{millis:03}-{backend}");
    let ext = format.extension();
    let mut name = format!("{base}.{ext}");
    let mut n = 1;
    while dir.join(&name).exists() || dir.join(format!(".{name}.partial")).exists() {
        n += 1;
        name = format!("{base}-{n}.{ext}");
    }
    name
}

/// Writes the portable format: a header line, then per table a header line and one JSON array
/// per row, then an end line with the totals (so truncation is detected even without the
/// manifest).
fn write_portable(
    path: &Path,
    file: &File,
    dump: &Dump,
    schema_version: i64,
    backend: BackendKind,
) -> Result<(), MaintenanceError> {
    let mut out = BufWriter::new(file);
    let mut line = |v: &Value| -> Result<(), MaintenanceError> {
        serde_json::to_writer(&mut out, v)
            .map_err(|e| MaintenanceError::Invalid(format!("cannot encode a row: {e}")))?;
        out.write_all(b"\n").map_err(|e| io_error(path, &e))
    };
    line(&serde_json::json!({
        "format": PORTABLE_FORMAT,
        "version": PORTABLE_VERSION,
        "schema_version": schema_version,
        "backend": backend,
    }))?;
    let mut total = 0u64;
    for data in &dump.tables {
        let columns: Vec<&str> = data.table.columns.iter().map(|c| c.0).collect();
        line(&serde_json::json!({
            "table": data.table.name,
            "columns": columns,
            "rows": data.rows.len(),
        }))?;
        for row in &data.rows {
            line(&Value::Array(row.clone()))?;
        }
        total += data.rows.len() as u64;
    }
    line(&serde_json::json!({ "end": true, "tables": dump.tables.len(), "rows": total }))?;
    let file = out.into_inner().map_err(|e| io_error(path, e.error()))?;
    file.sync_all().map_err(|e| io_error(path, &e))
}

/// Reads and fully validates a portable file: header, every table with the expected columns
/// and row count, every value of the right type, the end line. Returns the schema version and
/// the content.
fn read_portable(path: &Path) -> Result<(i64, Dump), MaintenanceError> {
    let refused = |reason: String| MaintenanceError::Refused {
        path: path.to_owned(),
        reason,
    };
    let file = File::open(path).map_err(|e| io_error(path, &e))?;
    let mut lines = BufReader::new(file).lines().enumerate();
    let mut next = |what: &str| -> Result<(usize, Value), MaintenanceError> {
        match lines.next() {
            Some((n, Ok(text))) => serde_json::from_str(&text)
                .map(|v| (n + 1, v))
                .map_err(|e| refused(format!("line {}: not JSON ({e})", n + 1))),
            Some((n, Err(e))) => Err(refused(format!("line {}: {e}", n + 1))),
            None => Err(refused(format!("the file ends before {what}: truncated"))),
        }
    };
    let (_, header) = next("the header")?;
    if header.get("format").and_then(Value::as_str) != Some(PORTABLE_FORMAT) {
        return Err(refused("not a Troupe portable export".into()));
    }
    if header.get("version").and_then(Value::as_u64) != Some(u64::from(PORTABLE_VERSION)) {
        return Err(refused("unsupported portable format version".into()));
    }
    let schema_version = header
        .get("schema_version")
        .and_then(Value::as_i64)
        .ok_or_else(|| refused("the header has no schema version".into()))?;
    let mut tables = Vec::with_capacity(TABLES.len());
    for t in TABLES {
        let (n, head) = next(&format!("table {}", t.name))?;
        if head.get("table").and_then(Value::as_str) != Some(t.name) {
            return Err(refused(format!("line {n}: expected table {}", t.name)));
        }
        let columns: Vec<&str> = t.columns.iter().map(|c| c.0).collect();
        let found: Option<Vec<&str>> = head
            .get("columns")
            .and_then(Value::as_array)
            .map(|cs| cs.iter().filter_map(Value::as_str).collect());
        if found.as_deref() != Some(columns.as_slice()) {
            return Err(refused(format!(
                "line {n}: unexpected columns of {}",
                t.name
            )));
        }
        let count = head
            .get("rows")
            .and_then(Value::as_u64)
            .ok_or_else(|| refused(format!("line {n}: no row count")))?;
        let mut rows = Vec::new();
        for _ in 0..count {
            let (n, row) = next(&format!("the rows of {} end", t.name))?;
            let Value::Array(values) = row else {
                return Err(refused(format!(
                    "line {n}: a row of {} is not an array",
                    t.name
                )));
            };
            let fits = values.len() == t.columns.len()
                && values
                    .iter()
                    .zip(t.columns)
                    .all(|(v, &(_, col, nullable))| tables::fits(v, col, nullable));
            if !fits {
                return Err(refused(format!(
                    "line {n}: a row of {} does not fit its columns",
                    t.name
                )));
            }
            rows.push(values);
        }
        tables.push(TableData { table: t, rows });
    }
    let (n, end) = next("the end line")?;
    if end.get("end").and_then(Value::as_bool) != Some(true) {
        return Err(refused(format!("line {n}: expected the end line")));
    }
    if next("nothing").is_ok() {
        return Err(refused("data after the end line".into()));
    }
    Ok((schema_version, Dump { tables }))
}

/// Makes every statement of `conn` work at `pace` (SQLite's progress handler rests the
/// connection's worker thread between slices).
async fn pace_statements(conn: &mut SqliteConnection, pace: Pace) -> Result<(), sqlx::Error> {
    if pace != Pace::Full {
        let mut pacer = Pacer::new(pace);
        conn.lock_handle()
            .await?
            .set_progress_handler(PROGRESS_OPS, move || {
                pacer.pause();
                true
            });
    }
    Ok(())
}

/// A read-only pool on a SQLite file (a snapshot being verified or restored), its statements
/// run at `pace`.
async fn open_snapshot(path: &Path, pace: Pace) -> Result<sqlx::SqlitePool, MaintenanceError> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .create_if_missing(false);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .after_connect(move |conn, _| Box::pin(pace_statements(conn, pace)))
        .connect_with(options)
        .await
        .map_err(|e| MaintenanceError::Refused {
            path: path.to_owned(),
            reason: format!("not a readable SQLite database: {}", db(e)),
        })?;
    Ok(pool)
}

/// Rows per table, counted by query (memory does not grow with the store).
async fn count_rows(
    pool: &sqlx::SqlitePool,
) -> Result<BTreeMap<String, u64>, troupe_ports::StoreError> {
    let mut rows = BTreeMap::new();
    for t in TABLES {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {}",
            t.name
        )))
        .fetch_one(pool)
        .await
        .map_err(db)?;
        rows.insert(t.name.to_owned(), crate::backend::from_sql_count(n));
    }
    Ok(rows)
}

/// Verifies a SQLite snapshot (integrity check, a Troupe schema) and counts its rows.
async fn verify_snapshot(
    path: &Path,
    pace: Pace,
) -> Result<(i64, BTreeMap<String, u64>), MaintenanceError> {
    let refused = |reason: String| MaintenanceError::Refused {
        path: path.to_owned(),
        reason,
    };
    let pool = open_snapshot(path, pace).await?;
    let backend = Backend::Sqlite(pool.clone());
    let result = async {
        snapshot_integrity(&pool, path).await?;
        let version = migrations::applied_version(&backend).await?;
        if version == 0 {
            return Err(refused("not a Troupe database (no schema)".into()));
        }
        let rows = count_rows(&pool)
            .await
            .map_err(|e| refused(format!("not a Troupe database: {e}")))?;
        Ok((version, rows))
    }
    .await;
    backend.close().await;
    result
}

async fn snapshot_integrity(pool: &sqlx::SqlitePool, path: &Path) -> Result<(), MaintenanceError> {
    let refused = |reason: String| MaintenanceError::Refused {
        path: path.to_owned(),
        reason,
    };
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(pool)
        .await
        .map_err(|e| refused(format!("not a readable SQLite database: {}", db(e))))?;
    if integrity != ["ok"] {
        return Err(refused(format!(
            "the SQLite integrity check failed: {}",
            integrity.join("; ")
        )));
    }
    Ok(())
}

/// Verifies a SQLite snapshot (integrity check, a Troupe schema) and reads its content.
async fn read_snapshot(path: &Path) -> Result<(i64, Dump), MaintenanceError> {
    let refused = |reason: String| MaintenanceError::Refused {
        path: path.to_owned(),
        reason,
    };
    let pool = open_snapshot(path, Pace::Full).await?;
    let backend = Backend::Sqlite(pool.clone());
    let result = async {
        snapshot_integrity(&pool, path).await?;
        let version = migrations::applied_version(&backend).await?;
        if version == 0 {
            return Err(refused("not a Troupe database (no schema)".into()));
        }
        let dump = tables::dump(&backend)
            .await
            .map_err(|e| refused(format!("not a Troupe database: {e}")))?;
        Ok((version, dump))
    }
    .await;
    backend.close().await;
    result
}

fn read_manifest(file: &Path) -> Result<BackupManifest, MaintenanceError> {
    let path = BackupManifest::path_for(file);
    let refused = |reason: String| MaintenanceError::Refused {
        path: file.to_owned(),
        reason,
    };
    match fs::metadata(file) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => return Err(refused("not a file".into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(refused("the file does not exist".into()));
        }
        Err(e) => return Err(refused(format!("the file cannot be read: {e}"))),
    }
    let text = fs::read_to_string(&path).map_err(|e| {
        refused(format!(
            "no readable manifest at {} ({e}): not a verified Troupe backup",
            path.display()
        ))
    })?;
    let manifest: BackupManifest = serde_json::from_str(&text)
        .map_err(|e| refused(format!("the manifest is not valid: {e}")))?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(refused(
            "the manifest is not a Troupe backup manifest".into(),
        ));
    }
    Ok(manifest)
}

/// Checks a backup file against its manifest and reads it fully; never touches a store.
async fn verify(file: &Path, manifest: &BackupManifest) -> Result<(i64, Dump), MaintenanceError> {
    let refused = |reason: String| MaintenanceError::Refused {
        path: file.to_owned(),
        reason,
    };
    let owned = file.to_owned();
    let (sha, size) = blocking(move || digest(&owned, Pace::Full)).await?;
    if size != manifest.size {
        return Err(refused(format!(
            "the file has {size} bytes, its manifest says {}: truncated or replaced",
            manifest.size
        )));
    }
    if sha != manifest.sha256 {
        return Err(refused(
            "the SHA-256 checksum does not match the manifest: corrupted".into(),
        ));
    }
    let (version, dump) = match manifest.backup_format {
        BackupFormat::SqliteSnapshot => read_snapshot(file).await?,
        BackupFormat::Portable => {
            let owned = file.to_owned();
            blocking(move || read_portable(&owned)).await?
        }
    };
    if version != manifest.schema_version {
        return Err(refused(format!(
            "schema version {version} differs from the manifest's {}",
            manifest.schema_version
        )));
    }
    if dump.row_counts() != manifest.rows {
        return Err(refused("row counts differ from the manifest".into()));
    }
    Ok((version, dump))
}

impl Store {
    /// Takes a backup into `dir` in the backend's default format (a SQLite snapshot for
    /// SQLite, the portable export for PostgreSQL) as fast as the machine allows. See
    /// [`Self::backup_with`].
    pub async fn backup(&self, dir: &Path) -> Result<BackupManifest, MaintenanceError> {
        self.backup_with(dir, self.default_backup_format(), Pace::Full)
            .await
    }

    /// The same as [`Self::backup`] at [`Pace::Background`]: for a backup taken inside the
    /// running bot, which keeps out of the way of the commands it answers.
    pub async fn backup_in_background(
        &self,
        dir: &Path,
    ) -> Result<BackupManifest, MaintenanceError> {
        self.backup_with(dir, self.default_backup_format(), Pace::Background)
            .await
    }

    fn default_backup_format(&self) -> BackupFormat {
        match self.kind() {
            BackendKind::Sqlite => BackupFormat::SqliteSnapshot,
            BackendKind::Postgres => BackupFormat::Portable,
        }
    }

    /// Takes a consistent online backup into `dir` (created when missing): written to a hidden
    /// temporary file, flushed, verified (SQLite integrity check, or a full re-read of the
    /// portable export, and the row counts), then renamed into place and described by
    /// `<file>.manifest.json` (written the same way). Only a backup with a manifest counts.
    /// A SQLite snapshot, its verification and its hash run at `pace`.
    pub async fn backup_with(
        &self,
        dir: &Path,
        format: BackupFormat,
        pace: Pace,
    ) -> Result<BackupManifest, MaintenanceError> {
        if format == BackupFormat::SqliteSnapshot && self.kind() != BackendKind::Sqlite {
            return Err(MaintenanceError::Invalid(
                "a SQLite snapshot needs a SQLite store: use the portable format".into(),
            ));
        }
        fs::create_dir_all(dir).map_err(|e| io_error(dir, &e))?;
        remove_stale_partials(dir)?;
        let at = now();
        let name = fresh_name(dir, at, self.kind(), format);
        let partial = dir.join(format!(".{name}.partial"));
        let lock = create_locked(&partial)?;
        let result = async {
            let verified = self.write_verified(&partial, &lock, format, pace).await?;
            let owned = partial.clone();
            let digest = blocking(move || digest(&owned, pace)).await?;
            Ok::<_, MaintenanceError>((verified, digest))
        }
        .await;
        let ((schema_version, rows), (sha256, size)) = match result {
            Ok(ok) => ok,
            Err(e) => {
                let _ = fs::remove_file(&partial);
                return Err(backup_failed(e));
            }
        };
        let file = dir.join(&name);
        fs::rename(&partial, &file).map_err(|e| io_error(&file, &e))?;
        drop(lock);
        let manifest = BackupManifest {
            format: MANIFEST_FORMAT.into(),
            file: name,
            backup_format: format,
            backend: self.kind(),
            created_at: at.to_string(),
            created_at_ms: at.as_millis(),
            size,
            sha256,
            schema_version,
            app_version: env!("CARGO_PKG_VERSION").into(),
            rows,
        };
        let manifest_path = BackupManifest::path_for(&file);
        let manifest_partial = dir.join(format!(".{}.partial", manifest.file));
        let text = serde_json::to_string_pretty(&manifest)
            .map_err(|e| MaintenanceError::Invalid(format!("cannot encode the manifest: {e}")))?;
        let dir_owned = dir.to_owned();
        blocking(move || {
            let mut lock = create_locked(&manifest_partial)?;
            lock.write_all(text.as_bytes())
                .and_then(|()| lock.sync_all())
                .map_err(|e| io_error(&manifest_partial, &e))?;
            fs::rename(&manifest_partial, &manifest_path)
                .map_err(|e| io_error(&manifest_path, &e))?;
            fsync_dir(&dir_owned);
            Ok(())
        })
        .await?;
        Ok(manifest)
    }

    async fn write_verified(
        &self,
        partial: &Path,
        file: &File,
        format: BackupFormat,
        pace: Pace,
    ) -> Result<(i64, BTreeMap<String, u64>), MaintenanceError> {
        match (format, self.backend()) {
            (BackupFormat::SqliteSnapshot, Backend::Sqlite(pool)) => {
                let target = partial.to_str().ok_or_else(|| {
                    MaintenanceError::Invalid(format!("{} is not valid UTF-8", partial.display()))
                })?;
                // A connection of the background thread's own, so its SQLite worker thread
                // inherits the lowest priority; then the verification, also in the background.
                let (options, target) = ((*pool.connect_options()).clone(), target.to_owned());
                let partial = partial.to_owned();
                in_background(async move {
                    let mut snapshotter =
                        SqliteConnection::connect_with(&options).await.map_err(db)?;
                    pace_statements(&mut snapshotter, pace).await.map_err(db)?;
                    let made = sqlx::query("VACUUM INTO $1")
                        .bind(target)
                        .execute(&mut snapshotter)
                        .await;
                    let _ = snapshotter.close().await;
                    made.map_err(db)?;
                    fsync(&partial)?;
                    verify_snapshot(&partial, pace).await
                })
                .await
            }
            (BackupFormat::Portable, backend) => {
                let version = self.schema_version().await?;
                let dump = tables::dump(backend).await?;
                let (path, file, kind) = (partial.to_owned(), file.try_clone(), self.kind());
                blocking(move || {
                    let file = file.map_err(|e| io_error(&path, &e))?;
                    write_portable(&path, &file, &dump, version, kind)?;
                    let (read_version, read) = read_portable(&path)?;
                    if read_version != version || read != dump {
                        return Err(MaintenanceError::Invalid(
                            "the export read back differs from what was written".into(),
                        ));
                    }
                    Ok((version, dump.row_counts()))
                })
                .await
            }
            (BackupFormat::SqliteSnapshot, Backend::Postgres(_)) => Err(MaintenanceError::Invalid(
                "a SQLite snapshot needs a SQLite store".into(),
            )),
        }
    }

    /// Verifies the backup `file` completely without touching the store: the manifest next
    /// to the file, size and SHA-256, the format (SQLite integrity check, or a full parse of
    /// the export), the schema version (against this store's) and the row counts. A missing,
    /// truncated, corrupted or foreign file is `Refused`.
    pub async fn verify_backup(&self, file: &Path) -> Result<VerifiedBackup, MaintenanceError> {
        let manifest = read_manifest(file)?;
        let (version, dump) = verify(file, &manifest).await?;
        let current = self.schema_version().await?;
        if version != current {
            return Err(MaintenanceError::Refused {
                path: file.to_owned(),
                reason: format!(
                    "the backup has schema version {version}, this store {current}: migrate \
                     both to the same version first"
                ),
            });
        }
        Ok(VerifiedBackup {
            file: file.to_owned(),
            manifest,
            dump,
        })
    }

    /// Restores a verified backup: takes a safety backup of the current content into
    /// `safety_dir`, then replaces the whole content in one transaction (a failure rolls it
    /// back: `RestoreFailed`, the store unchanged).
    pub async fn restore_verified(
        &self,
        backup: VerifiedBackup,
        safety_dir: &Path,
    ) -> Result<RestoreReport, MaintenanceError> {
        let safety = self.backup(safety_dir).await?;
        tables::replace_all(self.backend(), &backup.dump)
            .await
            .map_err(|e| MaintenanceError::RestoreFailed {
                path: backup.file.clone(),
                reason: match e {
                    troupe_ports::StoreError::Unexpected(m) => m,
                    other => other.to_string(),
                },
            })?;
        self.read_model_reload().await;
        Ok(RestoreReport {
            rows: backup.dump.row_counts(),
            restored: backup.manifest,
            safety_backup: safety_dir.join(safety.file),
        })
    }

    /// Restores the backup `file` (either format, from either backend) into this store:
    /// [`Self::verify_backup`] then [`Self::restore_verified`]. A file that does not verify is
    /// `Refused` and the live store is untouched.
    pub async fn restore(
        &self,
        file: &Path,
        safety_dir: &Path,
    ) -> Result<RestoreReport, MaintenanceError> {
        let backup = self.verify_backup(file).await?;
        self.restore_verified(backup, safety_dir).await
    }

    /// Every table's rows, as the portable export carries them (tests compare stores with it).
    #[doc(hidden)]
    pub async fn export_rows(&self) -> Result<BTreeMap<String, Vec<Value>>, MaintenanceError> {
        let dump = tables::dump(self.backend()).await?;
        Ok(dump
            .tables
            .into_iter()
            .map(|t| {
                (
                    t.table.name.to_owned(),
                    t.rows.into_iter().map(Value::Array).collect(),
                )
            })
            .collect())
    }
}

/// Keeps the newest `keep` verified backups in `dir` (by their manifests' time) and deletes
/// the older ones with their manifests; returns the deleted backup files. Files without a
/// manifest are left alone. `keep` must be at least 1.
pub fn prune_backups(dir: &Path, keep: usize) -> Result<Vec<PathBuf>, MaintenanceError> {
    if keep == 0 {
        return Err(MaintenanceError::Invalid(
            "retention must keep at least one backup".into(),
        ));
    }
    let mut found: Vec<(i64, PathBuf, PathBuf)> = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io_error(dir, &e))? {
        let path = entry.map_err(|e| io_error(dir, &e))?.path();
        let is_manifest = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".manifest.json") && !n.starts_with('.'));
        if !is_manifest {
            continue;
        }
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        let Ok(manifest) = serde_json::from_str::<BackupManifest>(&text) else {
            continue;
        };
        if manifest.format != MANIFEST_FORMAT || manifest.file.contains(['/', '\\']) {
            continue;
        }
        found.push((manifest.created_at_ms, dir.join(&manifest.file), path));
    }
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
    let mut removed = Vec::new();
    for (_, file, manifest) in found.into_iter().skip(keep) {
        match fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&file, &e)),
        }
        fs::remove_file(&manifest).map_err(|e| io_error(&manifest, &e))?;
        removed.push(file);
    }
    Ok(removed)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The scheduling policy of a thread of this process (field 41 of its `stat`).
    fn policy(task: &Path) -> Option<u32> {
        let stat = fs::read_to_string(task.join("stat")).ok()?;
        let (_, after_name) = stat.rsplit_once(')')?;
        after_name.split_whitespace().nth(38)?.parse().ok()
    }

    /// The threads of this process named `name`.
    fn threads_named(name: &str) -> Vec<PathBuf> {
        fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
            .map(|t| t.path())
            .filter(|t| fs::read_to_string(t.join("comm")).is_ok_and(|c| c.trim_end() == name))
            .collect()
    }

    const SCHED_OTHER: u32 = 0;
    const SCHED_IDLE: u32 = 5;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_backups_thread_and_the_sqlite_workers_it_starts_run_at_idle_priority() {
        let (own, worker) = in_background(async {
            let own = policy(Path::new("/proc/thread-self"));
            let options = SqliteConnectOptions::new()
                .in_memory(true)
                .thread_name(|_| "troupe-bk-test".to_owned());
            let connection = SqliteConnection::connect_with(&options).await.map_err(db)?;
            let workers = threads_named("troupe-bk-test");
            let worker = workers.first().and_then(|t| policy(t));
            let _ = connection.close().await;
            Ok((own, worker))
        })
        .await
        .expect("the background work ran");
        assert_eq!(own, Some(SCHED_IDLE), "the backup's own thread");
        assert_eq!(worker, Some(SCHED_IDLE), "the SQLite worker it started");
        // The runtime's threads, which answer commands, keep the normal policy.
        assert_eq!(policy(Path::new("/proc/thread-self")), Some(SCHED_OTHER));
    }
}
