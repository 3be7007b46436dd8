//! Backups, restore, retention and the integrity check.

mod common;

use std::path::Path;

use common::fill::{self, fill};
use troupe_ports::{ConversationRepository, FlagChange, FlagStore, PersonalityRepository};
use troupe_store::{BackupFormat, BackupManifest, MaintenanceError, Pace, Store, prune_backups};

async fn assert_writable_after_restore(store: &Store) {
    // Identity columns continue after the restored ids.
    store
        .append_history(
            fill::channel(5),
            &fill::name("zoë"),
            &troupe_domain::conversation::HistoryEntry::new(
                troupe_domain::conversation::Speaker::Personality,
                fill::user(4),
                "Zoë",
                "after restore",
                fill::at(100),
            ),
            20,
        )
        .await
        .expect("history can be appended after a restore");
    store
        .apply(&FlagChange {
            name: "x".into(),
            value: Some(true),
            actor: "ops".into(),
            reason: "after restore".into(),
            at: fill::at(101),
        })
        .await
        .expect("flags can change after a restore");
}

async fn round_trip(source: &Store, target: &Store, format: BackupFormat, dir: &Path) {
    round_trip_at(source, target, format, Pace::Full, dir).await;
}

async fn round_trip_at(
    source: &Store,
    target: &Store,
    format: BackupFormat,
    pace: Pace,
    dir: &Path,
) {
    let manifest = source
        .backup_with(&dir.join("backups"), format, pace)
        .await
        .unwrap();
    let file = dir.join("backups").join(&manifest.file);
    let report = target.restore(&file, &dir.join("safety")).await.unwrap();
    assert!(
        report.safety_backup.exists(),
        "a safety backup was taken first"
    );
    assert_eq!(
        target.export_rows().await.unwrap(),
        source.export_rows().await.unwrap(),
        "every table round-trips"
    );
    assert!(target.check().await.unwrap().is_ok());
}

#[tokio::test]
async fn a_sqlite_snapshot_and_a_portable_export_restore_every_table_into_a_fresh_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let source = common::sqlite_store(dir.path(), "source.db").await;
    fill(&source).await;
    let counts = source.export_rows().await.unwrap();
    assert!(
        counts.values().all(|rows| !rows.is_empty()),
        "every table has rows: {counts:?}"
    );
    // A paced snapshot (the bot's scheduled backups) holds the same content as a full-speed one.
    for (i, (format, pace)) in [
        (BackupFormat::SqliteSnapshot, Pace::Full),
        (BackupFormat::SqliteSnapshot, Pace::Background),
        (BackupFormat::Portable, Pace::Full),
    ]
    .into_iter()
    .enumerate()
    {
        let target = common::sqlite_store(dir.path(), &format!("target{i}.db")).await;
        round_trip_at(&source, &target, format, pace, dir.path()).await;
        assert_writable_after_restore(&target).await;
    }
}

#[tokio::test]
async fn a_sqlite_backup_restores_into_postgresql_and_back() {
    common::with_postgres("backup round trip", |url| async move {
        let dir = tempfile::tempdir().unwrap();
        let source = common::sqlite_store(dir.path(), "source.db").await;
        fill(&source).await;
        let pg = Store::open(&url, common::options()).await.unwrap();
        // From a SQLite snapshot and from a portable export.
        round_trip(&source, &pg, BackupFormat::SqliteSnapshot, dir.path()).await;
        round_trip(&source, &pg, BackupFormat::Portable, dir.path()).await;
        let back = common::sqlite_store(dir.path(), "back.db").await;
        let manifest = pg.backup(&dir.path().join("pg")).await.unwrap();
        assert_eq!(manifest.backup_format, BackupFormat::Portable);
        back.restore(
            &dir.path().join("pg").join(&manifest.file),
            &dir.path().join("safety"),
        )
        .await
        .unwrap();
        assert_eq!(
            back.export_rows().await.unwrap(),
            source.export_rows().await.unwrap()
        );
        assert_writable_after_restore(&pg).await;
        pg.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_backup_is_published_with_a_manifest_describing_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(dir.path(), "s.db").await;
    fill(&store).await;
    let m = store.backup(&dir.path().join("b")).await.unwrap();
    let file = dir.path().join("b").join(&m.file);
    assert_eq!(std::fs::metadata(&file).unwrap().len(), m.size);
    assert_eq!(m.sha256.len(), 64);
    assert_eq!(m.schema_version, Store::latest_schema_version());
    assert_eq!(m.rows["personalities"], 2);
    assert_eq!(m.app_version, env!("CARGO_PKG_VERSION"));
    let text = std::fs::read_to_string(BackupManifest::path_for(&file)).unwrap();
    assert_eq!(serde_json::from_str::<BackupManifest>(&text).unwrap(), m);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("b"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file is left behind");
}

fn flip_byte(path: &Path, at: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    let i = (at as usize).min(bytes.len() - 1);
    bytes[i] ^= 0x55;
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn truncated_corrupted_or_foreign_files_are_refused_and_the_live_store_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let source = common::sqlite_store(dir.path(), "source.db").await;
    fill(&source).await;
    let live = common::sqlite_store(dir.path(), "live.db").await;
    live.insert(&fill::personality("Keeper", 1, "Keeper", &["kept"]))
        .await
        .unwrap();
    let before = live.export_rows().await.unwrap();
    let safety = dir.path().join("safety");

    let mut cases: Vec<(std::path::PathBuf, &str)> = Vec::new();
    for format in [BackupFormat::SqliteSnapshot, BackupFormat::Portable] {
        let out = dir.path().join(format!("{format:?}"));
        for what in ["truncated", "corrupted", "manifest lies", "no manifest"] {
            let m = source
                .backup_with(&out.join(what), format, Pace::Full)
                .await
                .unwrap();
            let file = out.join(what).join(&m.file);
            match what {
                "truncated" => {
                    let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
                    f.set_len(m.size / 2).unwrap();
                }
                "corrupted" => flip_byte(&file, m.size / 3),
                "manifest lies" => {
                    // A consistent manifest for a broken file: the format check must catch it
                    // (the SQLite header, or the portable export's end line, is gone).
                    if format == BackupFormat::SqliteSnapshot {
                        flip_byte(&file, 3);
                    } else {
                        let text = std::fs::read_to_string(&file).unwrap();
                        let cut = text.trim_end().rfind('\n').unwrap();
                        std::fs::write(&file, &text[..=cut]).unwrap();
                    }
                    let (sha, size) = {
                        use sha2::Digest as _;
                        let bytes = std::fs::read(&file).unwrap();
                        (
                            format!("{:x}", sha2::Sha256::digest(&bytes)),
                            bytes.len() as u64,
                        )
                    };
                    let fixed = BackupManifest {
                        sha256: sha,
                        size,
                        ..m.clone()
                    };
                    std::fs::write(
                        BackupManifest::path_for(&file),
                        serde_json::to_string(&fixed).unwrap(),
                    )
                    .unwrap();
                }
                _ => std::fs::remove_file(BackupManifest::path_for(&file)).unwrap(),
            }
            cases.push((file, what));
        }
    }
    let foreign = dir.path().join("foreign.jsonl");
    std::fs::write(&foreign, "{\"hello\": \"world\"}\n").unwrap();
    std::fs::write(
        BackupManifest::path_for(&foreign),
        "{\"format\": \"something else\"}",
    )
    .unwrap();
    cases.push((foreign, "foreign"));
    cases.push((dir.path().join("missing.sqlite"), "missing"));

    for (file, what) in cases {
        match live.restore(&file, &safety).await {
            Err(MaintenanceError::Refused { reason, .. }) => {
                assert!(!reason.is_empty(), "{what}");
            }
            other => panic!("{what} {}: expected Refused, got {other:?}", file.display()),
        }
        assert_eq!(
            live.export_rows().await.unwrap(),
            before,
            "{what}: live store untouched"
        );
    }
    assert!(
        !safety.exists(),
        "no safety backup is taken for a refused file"
    );
}

#[tokio::test]
async fn retention_keeps_the_newest_backups_and_leaves_other_files_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(dir.path(), "s.db").await;
    let out = dir.path().join("b");
    let mut made = Vec::new();
    for _ in 0..4 {
        made.push(store.backup(&out).await.unwrap().file);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    std::fs::write(out.join("notes.txt"), "keep me").unwrap();
    let removed = prune_backups(&out, 2).unwrap();
    assert_eq!(removed.len(), 2);
    for old in &made[..2] {
        assert!(!out.join(old).exists() && !BackupManifest::path_for(&out.join(old)).exists());
    }
    for new in &made[2..] {
        assert!(out.join(new).exists());
    }
    assert!(out.join("notes.txt").exists());
    assert!(prune_backups(&out, 0).is_err(), "keeping none is refused");
}

#[tokio::test]
async fn a_postgresql_store_passes_its_check_and_backs_up_portably() {
    common::with_postgres("check", |url| async move {
        let store = Store::open(&url, common::options()).await.unwrap();
        fill(&store).await;
        let report = store.check().await.unwrap();
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.rows["aliases"], 3);
        store.close().await;
    })
    .await;
}

async fn raw(url: &str, sql: &str) {
    use sqlx::{ConnectOptions as _, Connection as _};
    use std::str::FromStr as _;
    let mut conn = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .unwrap()
        .foreign_keys(false)
        .connect()
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

#[tokio::test]
async fn check_passes_on_a_sound_store_and_names_every_injected_violation() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::sqlite_url(dir.path(), "c.db");
    let store = Store::open(&url, common::options()).await.unwrap();
    fill(&store).await;
    let report = store.check().await.unwrap();
    assert!(report.is_ok(), "{report}");
    assert!(report.to_string().starts_with("check passed"));

    let injections = [
        (
            "alias without personality",
            "INSERT INTO aliases VALUES ('stray', 'stray', 'ghost', 0)",
        ),
        (
            "alias equals a name",
            "INSERT INTO aliases VALUES ('zoë', 'Zoë', 'einstein', 9)",
        ),
        (
            "activation without personality",
            "INSERT INTO channel_activations VALUES (77, 'ghost', 1, 1)",
        ),
        (
            "conversation without personality",
            "INSERT INTO conversations VALUES (1, 78, 'ghost', 1, 'continuation', 0)",
        ),
        (
            "history without personality",
            "INSERT INTO history (channel_id, personality_key, speaker, author, content, at) \
             VALUES (79, 'ghost', 'user', 'a', 'b', 1)",
        ),
        (
            "message map entry without personality",
            "INSERT INTO message_map VALUES (80, 1, 'ghost', 1, 1)",
        ),
        (
            "duplicate key",
            "INSERT INTO personalities SELECT 'ALBERT', 'Albert', owner_id, display_name, \
             display_key, avatar_url, error_message, prompt, model, fetched_at, created_at, \
             updated_at FROM personalities WHERE name_key = 'einstein'",
        ),
        (
            "token does not decrypt",
            "UPDATE auth_tokens SET token_ciphertext = X'0102030405'",
        ),
    ];
    for (rule, sql) in injections {
        raw(&url, sql).await;
        let report = store.check().await.unwrap();
        assert!(
            report.violations.iter().any(|v| v.rule == rule),
            "check must report {rule:?} after {sql:?}; got:\n{report}"
        );
    }
    let report = store.check().await.unwrap();
    let text = report.to_string();
    assert!(text.starts_with("check FAILED"), "{text}");
    assert!(
        !text.contains("tok-abc"),
        "a token never appears in the report"
    );
    assert!(
        text.contains("key not folded"),
        "the ALBERT key is not folded: {text}"
    );
}
