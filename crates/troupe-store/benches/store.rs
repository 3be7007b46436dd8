//! Store benchmarks with 100,000 personalities and 200,000 aliases, SQLite and PostgreSQL side
//! by side (PostgreSQL when `TROUPE_TEST_POSTGRES_URL` or `DATABASE_URL` names a server; a
//! random database is created and dropped).
//!
//! The `<backend>/read model` groups measure the same reads answered by the store's read model
//! (ADR 0031): a hit of a recently used personality, a miss (no round trip), a hit whose row is
//! read (not cached), a channel activation. Target: p50 < 20 µs on PostgreSQL for hit and miss.
//!
//! `cargo bench -p troupe-store --bench store`

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sqlx::{AssertSqlSafe, Connection as _};
use troupe_domain::conversation::ChannelActivation;
use troupe_domain::personality::{Alias, Personality, PersonalityName, Profile};
use troupe_domain::{ChannelId, Timestamp, UserId};
use troupe_ports::{ConversationRepository, PersonalityRepository};
use troupe_store::{Store, StoreOptions, TokenKey, prune_backups};

const PERSONALITIES: u64 = 100_000;
const OWNERS: u64 = 1_000;
const BATCH: u64 = 500;

fn options() -> StoreOptions {
    StoreOptions {
        token_key: Some(TokenKey::from_bytes([9; 32])),
        ..StoreOptions::default()
    }
}

/// Seeds the schema directly with batched multi-row inserts in one transaction (the ports add
/// one personality per transaction, which is what the `add` benchmark measures).
async fn seed(store: &Store, url: &str) {
    macro_rules! seed_with {
        ($conn:expr) => {{
            let mut conn = $conn;
            let mut tx = conn.begin().await.unwrap();
            for start in (0..PERSONALITIES).step_by(BATCH as usize) {
                let mut p = String::from(
                    "INSERT INTO personalities (name_key, name, owner_id, display_name, display_key, \
                     avatar_url, error_message, prompt, model, fetched_at, created_at, updated_at) VALUES ",
                );
                let mut a = String::from(
                    "INSERT INTO aliases (alias_key, alias, personality_key, position) VALUES ",
                );
                for i in start..start + BATCH {
                    let sep = if i == start { "" } else { ", " };
                    p.push_str(&format!(
                        "{sep}('bench-{i:06}', 'bench-{i:06}', {owner}, 'Bench {i}', 'bench {i}', \
                         NULL, NULL, 'You are bench-{i:06}.', NULL, NULL, {i}, {i})",
                        owner = 1 + i % OWNERS
                    ));
                    a.push_str(&format!(
                        "{sep}('alias-a-{i:06}', 'alias-a-{i:06}', 'bench-{i:06}', 0), \
                         ('alias-b-{i:06}', 'alias-b-{i:06}', 'bench-{i:06}', 1)"
                    ));
                }
                sqlx::query(AssertSqlSafe(p)).execute(&mut *tx).await.unwrap();
                sqlx::query(AssertSqlSafe(a)).execute(&mut *tx).await.unwrap();
            }
            tx.commit().await.unwrap();
            conn.close().await.unwrap();
        }};
    }
    if url.starts_with("sqlite") {
        seed_with!(sqlx::SqliteConnection::connect(url).await.unwrap());
    } else {
        seed_with!(sqlx::PgConnection::connect(url).await.unwrap());
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query("ANALYZE").execute(&mut conn).await.unwrap();
    }
    assert_eq!(store.count().await.unwrap(), PERSONALITIES);
}

fn new_personality(n: u64) -> Personality {
    let name = PersonalityName::parse(&format!("added-{n}")).unwrap();
    let profile = Profile::local(&name, None);
    Personality::restore(
        name,
        UserId::new(1 + n % OWNERS).unwrap(),
        profile,
        vec![
            Alias::parse(&format!("added-a-{n}")).unwrap(),
            Alias::parse(&format!("added-b-{n}")).unwrap(),
        ],
        Timestamp::from_millis(1),
        Timestamp::from_millis(1),
    )
}

fn bench_backend(c: &mut Criterion, rt: &tokio::runtime::Runtime, label: &str, store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group(label);
    group
        .sample_size(50)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let i = AtomicU64::new(0);
    let next = || i.fetch_add(7_919, Ordering::Relaxed) % PERSONALITIES;
    group.bench_function("lookup by name", |b| {
        b.to_async(rt).iter(|| async {
            let q = format!("Bench-{:06}", next());
            assert!(store.lookup(&q).await.unwrap().is_some());
        });
    });
    group.bench_function("lookup by alias", |b| {
        b.to_async(rt).iter(|| async {
            let q = format!("ALIAS-B-{:06}", next());
            assert!(store.lookup(&q).await.unwrap().is_some());
        });
    });
    group.bench_function("list page (10 of 100)", |b| {
        b.to_async(rt).iter(|| async {
            let owner = UserId::new(1 + next() % OWNERS).unwrap();
            let page = store.list_by_owner(owner, 40, 10).await.unwrap();
            assert_eq!(page.items.len(), 10);
        });
    });
    let added = AtomicU64::new(0);
    group.bench_function("add (with 2 aliases)", |b| {
        b.to_async(rt).iter(|| async {
            let n = added.fetch_add(1, Ordering::Relaxed);
            store.insert(&new_personality(n)).await.unwrap();
        });
    });
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("backup", |b| {
        b.to_async(rt).iter(|| async {
            store.backup(dir.path()).await.unwrap();
            prune_backups(dir.path(), 1).unwrap();
        });
    });
    group.bench_function("check", |b| {
        b.to_async(rt).iter(|| async {
            assert!(store.check().await.unwrap().is_ok());
        });
    });
    group.finish();
    bench_read_model(c, rt, label, store);
}

/// The reads the read model answers, with the model started on the seeded store.
fn bench_read_model(c: &mut Criterion, rt: &tokio::runtime::Runtime, label: &str, store: &Store) {
    let feed = rt.block_on(store.start_read_model());
    assert!(store.read_model_serving(), "the read model loads");
    rt.block_on(async {
        store
            .activate(&ChannelActivation {
                channel: ChannelId::new(42).unwrap(),
                personality: PersonalityName::parse("bench-000042").unwrap(),
                activated_by: UserId::new(1).unwrap(),
                activated_at: Timestamp::from_millis(1),
            })
            .await
            .unwrap();
    });
    let mut group = c.benchmark_group(format!("{label}/read model"));
    group
        .sample_size(100)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let i = AtomicU64::new(0);
    // 500 names used again and again: they stay in the cache (1,024 entries).
    let hot = || i.fetch_add(7, Ordering::Relaxed) % 500;
    group.bench_function("lookup hit (recently used)", |b| {
        b.to_async(rt).iter(|| async {
            let q = format!("Bench-{:06}", hot());
            assert!(store.lookup(&q).await.unwrap().is_some());
        });
    });
    group.bench_function("lookup miss", |b| {
        b.to_async(rt).iter(|| async {
            let q = format!("nobody-{:06}", hot());
            assert!(store.lookup(&q).await.unwrap().is_none());
        });
    });
    let j = AtomicU64::new(0);
    let any = || j.fetch_add(7_919, Ordering::Relaxed) % PERSONALITIES;
    group.bench_function("lookup hit by alias (row read)", |b| {
        b.to_async(rt).iter(|| async {
            let q = format!("ALIAS-B-{:06}", any());
            assert!(store.lookup(&q).await.unwrap().is_some());
        });
    });
    group.bench_function("activation", |b| {
        b.to_async(rt).iter(|| async {
            let a = store.activation(ChannelId::new(42).unwrap()).await.unwrap();
            assert!(a.is_some());
        });
    });
    group.finish();
    assert!(store.read_model_serving(), "served from memory throughout");
    drop(feed);
}

fn postgres_admin_url() -> Option<String> {
    ["TROUPE_TEST_POSTGRES_URL", "DATABASE_URL"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = rt.block_on(async {
        let store = Store::open(&url, options()).await.unwrap();
        seed(&store, &url).await;
        store
    });
    bench_backend(c, &rt, "sqlite", &store);
    rt.block_on(store.close());

    let Some(admin) = postgres_admin_url() else {
        eprintln!("PostgreSQL benchmarks SKIPPED: set TROUPE_TEST_POSTGRES_URL");
        return;
    };
    let db = format!("troupe_bench_{}", std::process::id());
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let url = format!("{base}/{db}");
    let store = rt.block_on(async {
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {db}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let store = Store::open(&url, options()).await.unwrap();
        seed(&store, &url).await;
        store
    });
    bench_backend(c, &rt, "postgres", &store);
    rt.block_on(async {
        store.close().await;
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
    });
}

criterion_group!(store_benches, benches);
criterion_main!(store_benches);
