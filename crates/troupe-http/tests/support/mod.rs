//! A Troupe core over in-memory fakes, with controllable gateway, database and hooks.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt as _;
use troupe_application::alerts::{AlertMonitor, AlertSettings};
use troupe_application::flags::{EnvFlags, Flags};
use troupe_application::model::colour;
use troupe_application::router::Router;
use troupe_application::{CommandName, CommandOutcome, CommandRequest, CommandSystem};
use troupe_application::{OutcomeClass, Reply, SystemKind};
use troupe_domain::Timestamp;
use troupe_http::{
    Activity, AdminConfig, AppState, BackupSummary, BackupTrigger, CommandReport, CommandRunner,
    DatabasePing, FleetConfirmation, FleetSource, HealthSources, Metrics,
};
use troupe_ports::{
    Clock, FlagStore, FleetStatus, GatewayMonitor, GatewaySnapshot, GatewayState, LiveProcess,
};
use troupe_testkit::{FakeClock, InMemoryStore};

pub const TOKEN: &str = "adm1n-t0ken-never-shown";
pub const NOW: i64 = 1_750_000_000_000;

pub struct Gateway(pub Mutex<GatewaySnapshot>);

impl GatewayMonitor for Gateway {
    fn snapshot(&self) -> GatewaySnapshot {
        *self.0.lock().unwrap()
    }
}

pub struct Db(pub AtomicBool);

#[async_trait]
impl DatabasePing for Db {
    async fn ping(&self) -> Result<Duration, String> {
        if self.0.load(Ordering::SeqCst) {
            Ok(Duration::from_micros(250))
        } else {
            Err("the database does not answer".into())
        }
    }
}

/// A fleet whose processes the test sets; `confirm` confirms when every process has
/// `flag_version` at least the flag store's version, as the real one does.
pub struct Fleet {
    pub processes: Mutex<Vec<LiveProcess>>,
    pub store: Arc<InMemoryStore>,
    pub waits: Mutex<Vec<Duration>>,
}

#[async_trait]
impl FleetSource for Fleet {
    async fn status(&self) -> Result<FleetStatus, String> {
        let version = self.store.version().await.map_err(|e| e.to_string())?;
        Ok(FleetStatus::assess(
            self.processes.lock().unwrap().clone(),
            version,
            Some(Duration::from_secs(5)),
        ))
    }

    async fn confirm(&self, timeout: Duration) -> Result<FleetConfirmation, String> {
        self.waits.lock().unwrap().push(timeout);
        let version = self.store.version().await.map_err(|e| e.to_string())?;
        let processes = self.processes.lock().unwrap().clone();
        let pending: Vec<String> = processes
            .iter()
            .filter(|p| p.record.flag_version < version)
            .map(|p| p.record.id.clone())
            .collect();
        Ok(FleetConfirmation {
            version,
            confirmed: pending.is_empty(),
            waited: if pending.is_empty() {
                Duration::ZERO
            } else {
                timeout
            },
            processes: processes.len(),
            pending,
        })
    }
}

pub struct Backups(pub AtomicUsize);

#[async_trait]
impl BackupTrigger for Backups {
    async fn backup_now(&self) -> Result<BackupSummary, String> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(BackupSummary {
            file: "/tmp/backups/troupe-1.sqlite".into(),
            size: 4096,
            sha256: "ab".repeat(32),
            created_at: "2025-06-15T15:06:40Z".into(),
            rows: BTreeMap::from([("personalities".into(), 3)]),
        })
    }
}

pub struct Runner;

#[async_trait]
impl CommandRunner for Runner {
    async fn run(&self, text: &str) -> Result<CommandReport, String> {
        if !text.starts_with("!tz ") {
            return Err("not a command".into());
        }
        Ok(CommandReport {
            command: Some("ping".into()),
            category: Some("utility".into()),
            system: Some("legacy".into()),
            route: Some("legacy".into()),
            fell_back: false,
            class: "success".into(),
            title: None,
            text: "Pong!".into(),
            elapsed_ms: 0.5,
        })
    }
}

/// A command system answering a fixed success, with a handler for every command.
pub struct Stub(pub SystemKind);

#[async_trait]
impl CommandSystem for Stub {
    fn kind(&self) -> SystemKind {
        self.0
    }
    fn handles(&self, _: CommandName) -> bool {
        true
    }
    async fn execute(&self, _: &CommandRequest) -> CommandOutcome {
        CommandOutcome::new(
            OutcomeClass::Success,
            Reply {
                text: self.0.as_str().into(),
                colour: colour::SUCCESS,
                ..Reply::default()
            },
        )
    }
}

pub struct World {
    pub clock: Arc<FakeClock>,
    pub store: Arc<InMemoryStore>,
    pub flags: Arc<Flags>,
    pub router: Arc<Router>,
    pub gateway: Arc<Gateway>,
    pub db: Arc<Db>,
    pub ai: Arc<Activity>,
    pub backups_activity: Arc<Activity>,
    pub alerts: Arc<AlertMonitor>,
    pub backups: Arc<Backups>,
    pub fleet: Arc<Fleet>,
    pub state: AppState,
}

pub fn connected(now: Timestamp) -> GatewaySnapshot {
    GatewaySnapshot {
        state: GatewayState::Connected,
        since: Some(now.minus(Duration::from_secs(600))),
        heartbeat_interval: Some(Duration::from_secs(40)),
        last_heartbeat_ack: Some(now.minus(Duration::from_secs(10))),
        awaiting_ack_since: Some(now.minus(Duration::from_secs(10))),
        last_event: Some(now.minus(Duration::from_secs(2))),
        latency: Some(Duration::from_millis(42)),
        guilds: 3,
        shards: 1,
        shards_connected: 1,
        ..GatewaySnapshot::default()
    }
}

pub async fn world(env: &[(&str, &str)], token: Option<&str>) -> World {
    let clock = Arc::new(FakeClock::at_millis(NOW));
    let store = Arc::new(InMemoryStore::default());
    let env = EnvFlags::from_vars(env.iter().copied()).unwrap();
    let flags = Arc::new(
        Flags::load(env, BTreeMap::new(), store.clone() as Arc<dyn FlagStore>)
            .await
            .unwrap(),
    );
    let router = Arc::new(Router::new(
        Arc::new(Stub(SystemKind::Legacy)),
        Arc::new(Stub(SystemKind::New)),
        Arc::clone(&flags),
        None,
    ));
    let gateway = Arc::new(Gateway(Mutex::new(connected(clock.now()))));
    let db = Arc::new(Db(AtomicBool::new(true)));
    let ai = Arc::new(Activity::default());
    let backups_activity = Arc::new(Activity::new(Some(Duration::from_secs(26 * 3600))));
    let alerts = Arc::new(AlertMonitor::new(AlertSettings::default()));
    let backups = Arc::new(Backups(AtomicUsize::new(0)));
    let fleet = Arc::new(Fleet {
        processes: Mutex::new(Vec::new()),
        store: Arc::clone(&store),
        waits: Mutex::new(Vec::new()),
    });
    let sources = Arc::new(HealthSources {
        version: "0.1.0".into(),
        started_at: clock.now().minus(Duration::from_secs(72 * 3600)),
        clock: clock.clone() as Arc<dyn Clock>,
        router: Arc::clone(&router),
        shadow: None,
        gateway: gateway.clone() as Arc<dyn GatewayMonitor>,
        database: db.clone() as Arc<dyn DatabasePing>,
        ai: Some(Arc::clone(&ai)),
        backups: Some(Arc::clone(&backups_activity)),
        alerts: Some(Arc::clone(&alerts)),
        fleet: Some(fleet.clone() as Arc<dyn FleetSource>),
    });
    let admin = AdminConfig {
        token: token.map(str::to_owned),
        backup: Some(backups.clone() as Arc<dyn BackupTrigger>),
        commands: Some(Arc::new(Runner) as Arc<dyn CommandRunner>),
    };
    let state = AppState::new(sources, admin, Metrics::install().unwrap());
    World {
        clock,
        store,
        flags,
        router,
        gateway,
        db,
        ai,
        backups_activity,
        alerts,
        backups,
        fleet,
        state,
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }
}

pub async fn call(
    world: &World,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        Some(v) => {
            request = request.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let response = troupe_http::router(world.state.clone())
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

pub async fn get(world: &World, uri: &str) -> Answer {
    call(world, Method::GET, uri, None, None).await
}
