//! `/health`, `/health/features`, `/health/commands`, `/health/live`, `/health/ready` as
//! operations.md §2 describes them. No secret is ever part of a health answer.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use troupe_application::CommandName;
use troupe_application::router::Route;
use troupe_domain::time::humanize;
use troupe_domain::{Duration, Timestamp};
use troupe_ports::{GatewayHealth, GatewayState};

use crate::AppState;
use crate::sources::{Activity, HealthSources};

/// The overall status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Healthy,
    Degraded,
    Unhealthy,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
        }
    }

    /// 200 for healthy and degraded, 503 for unhealthy.
    pub fn http(self) -> StatusCode {
        match self {
            Self::Unhealthy => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::OK,
        }
    }
}

fn secs(d: Duration) -> Value {
    json!((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

fn ms(d: Duration) -> Value {
    json!((d.as_secs_f64() * 1_000_000.0).round() / 1000.0)
}

fn age(now: Timestamp, at: Option<Timestamp>) -> Value {
    at.map_or(Value::Null, |t| secs(now.since(t)))
}

/// The `/health` document and its status.
pub async fn health_document(state: &AppState) -> (Status, Value) {
    let sources = &state.sources;
    let now = sources.clock.now();
    let uptime = now.since(sources.started_at);
    let mut status = Status::Healthy;
    let mut worst = |s: Status| status = status.max(s);

    // Discord gateway.
    let gw = sources.gateway.snapshot();
    let gateway_health = gw.health(now);
    let discord_status = match gateway_health {
        _ if gw.state == GatewayState::NotApplicable => "not_applicable",
        GatewayHealth::Ok => "ok",
        GatewayHealth::Degraded => "degraded",
        GatewayHealth::Failing => "failing",
    };
    match gateway_health {
        GatewayHealth::Ok => {}
        GatewayHealth::Degraded => worst(Status::Degraded),
        GatewayHealth::Failing => worst(Status::Unhealthy),
    }
    let discord = json!({
        "status": discord_status,
        "state": gw.state.as_str(),
        "state_age_seconds": age(now, gw.since),
        "failed_reconnects": gw.failed_reconnects,
        "reconnects": gw.reconnects,
        "heartbeat_ack_age_seconds": age(now, gw.last_heartbeat_ack),
        "heartbeat_interval_seconds": gw.heartbeat_interval.map_or(Value::Null, secs),
        "last_event_age_seconds": age(now, gw.last_event),
        "latency_ms": gw.latency.map_or(Value::Null, ms),
        "shards": gw.shards,
        "shards_connected": gw.shards_connected,
        "guilds": gw.guilds,
        "events": {
            "commands": {"queued": gw.load.commands_queued, "running": gw.load.commands_running, "shed": gw.load.commands_shed},
            "messages": {"queued": gw.load.messages_queued, "running": gw.load.messages_running, "shed": gw.load.messages_shed},
        },
        // Discord's daily session-start budget and the identify pacing (issue 16).
        "session_starts": gw.session_starts.map_or(Value::Null, |s| json!({
            "total": s.total,
            "remaining": s.remaining,
            "resets_in_seconds": s.resets_at.map_or(Value::Null, |at| secs(at.since(now))),
            "max_concurrency": s.max_concurrency,
            "queue": if s.fleet_wide { "fleet" } else { "process" },
        })),
    });

    // Database.
    let database = match state.ping.ping(sources.database.as_ref()).await {
        Ok(elapsed) => json!({"status": "ok", "ping_ms": ms(elapsed)}),
        Err(message) => {
            worst(Status::Unhealthy);
            json!({"status": "failing", "ping_ms": Value::Null, "error": message})
        }
    };

    // AI provider.
    let ai = match &sources.ai {
        None => json!({"status": "not_configured"}),
        Some(activity) => {
            let s = activity_status(activity, now, sources.started_at);
            if s == "failing" {
                worst(Status::Degraded);
            }
            json!({
                "status": s,
                "last_success_age_seconds": age(now, activity.last_success()),
                "last_failure_age_seconds": age(now, activity.last_failure()),
            })
        }
    };

    // Backups.
    let backups = match &sources.backups {
        None => json!({"status": "not_scheduled"}),
        Some(activity) => {
            let s = activity_status(activity, now, sources.started_at);
            if matches!(s, "failing" | "stale") {
                worst(Status::Degraded);
            }
            json!({
                "status": s,
                "last_success_age_seconds": age(now, activity.last_success()),
                "last_success": activity.last_success().map(|t| t.to_string()),
                "last_failure_age_seconds": age(now, activity.last_failure()),
            })
        }
    };

    // Alerts.
    let alerts: Vec<Value> = sources
        .alerts
        .as_ref()
        .map(|a| a.active())
        .unwrap_or_default()
        .iter()
        .map(|a| {
            json!({
                "rule": a.rule.name(),
                "severity": a.severity.as_str(),
                "message": a.message,
                "value": a.value,
                "threshold": a.threshold,
                "since": a.since.to_string(),
            })
        })
        .collect();
    if !alerts.is_empty() {
        worst(Status::Degraded);
    }

    let doc = json!({
        "status": status.as_str(),
        "uptime": humanize(uptime),
        "uptime_seconds": uptime.as_secs(),
        "version": sources.version,
        "checks": {
            "discord": discord,
            "database": database,
            "ai": ai,
            "backups": backups,
        },
        "alerts": alerts,
    });
    (status, doc)
}

/// `ok`, `unknown` (nothing yet), `failing` (the last attempt failed) or `stale` (the last
/// success is older than the activity's limit).
fn activity_status(activity: &Activity, now: Timestamp, started: Timestamp) -> &'static str {
    let success = activity.last_success();
    let failure = activity.last_failure();
    if let Some(f) = failure
        && success.is_none_or(|s| f > s)
    {
        return "failing";
    }
    if let Some(limit) = activity.stale_after() {
        let reference = success.unwrap_or(started);
        if now.since(reference) > limit {
            return "stale";
        }
    }
    if success.is_some() { "ok" } else { "unknown" }
}

pub(crate) async fn health(State(state): State<AppState>) -> Response {
    let (status, doc) = health_document(&state).await;
    (status.http(), Json(doc)).into_response()
}

/// `{"ddd.commands.enabled": false, …, "sources": {"ddd.commands.enabled": "default", …}}`.
pub fn features_document(sources: &HealthSources) -> Value {
    let snapshot = sources.router.flags().snapshot();
    let mut out = Map::new();
    let mut origin = Map::new();
    for (flag, value, source) in snapshot.entries() {
        out.insert(flag.key(), Value::Bool(value));
        origin.insert(flag.key(), Value::String(source.as_str().into()));
    }
    out.insert("sources".into(), Value::Object(origin));
    Value::Object(out)
}

pub(crate) async fn features(State(state): State<AppState>) -> Json<Value> {
    Json(features_document(&state.sources))
}

/// `{"legacy_active", "ddd_active", "commands_migrated", "commands": {name: {category, system}}}`.
/// `system` is the route a command takes now outside any guild targeting (`ddd`, `legacy` or
/// `shadow`); a category with a guild allow-list or percentage also shows `rollout`.
pub fn commands_document(sources: &HealthSources) -> Value {
    let router = &sources.router;
    let snapshot = router.flags().snapshot();
    let mut commands = Map::new();
    let (mut migrated, mut legacy_active, mut ddd_active) = (0u32, false, false);
    for command in CommandName::ALL {
        let route = router.route_for(command, None);
        match route {
            Route::New => {
                migrated += 1;
                ddd_active = true;
            }
            Route::Legacy => legacy_active = true,
            Route::Shadow => {
                legacy_active = true;
                ddd_active = true;
            }
        }
        let mut entry = json!({
            "category": command.category().as_str(),
            "system": route.as_str(),
        });
        if let Some(t) = snapshot.targeting(command.category()) {
            entry["rollout"] = json!({"guilds": t.guilds.len(), "percent": t.percentage});
        }
        commands.insert(command.as_str().into(), entry);
    }
    let mut doc = json!({
        "legacy_active": legacy_active,
        "ddd_active": ddd_active,
        "commands_migrated": migrated,
        "commands_total": CommandName::ALL.len(),
        "fallbacks": router.stats().fallbacks.load(std::sync::atomic::Ordering::Relaxed),
        "commands": commands,
    });
    if let Some(shadow) = &sources.shadow {
        let s = shadow.stats();
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        doc["shadow"] = json!({
            "matches": load(&s.matches),
            "mismatches": load(&s.mismatches),
            "errors": load(&s.errors),
            "timeouts": load(&s.timeouts),
            "skipped": load(&s.skipped),
        });
    }
    doc
}

pub(crate) async fn commands(State(state): State<AppState>) -> Json<Value> {
    Json(commands_document(&state.sources))
}

pub(crate) async fn live(State(state): State<AppState>) -> Json<Value> {
    let now = state.sources.clock.now();
    Json(json!({
        "status": "alive",
        "uptime_seconds": now.since(state.sources.started_at).as_secs(),
    }))
}

pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    let now = state.sources.clock.now();
    let gateway = state.sources.gateway.snapshot().is_healthy(now);
    let database = state
        .ping
        .ping(state.sources.database.as_ref())
        .await
        .is_ok();
    let ready = gateway && database;
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(json!({"ready": ready, "checks": {"gateway": gateway, "database": database}})),
    )
        .into_response()
}

pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics.render(&state.sources);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// The `/health/fleet` document: every live process sharing the store (id, host, version,
/// role, shards, gateway state, applied flag version, last seen), who has not applied the
/// newest flag change within 1 s, and overlaps or gaps in the shard division. `status` is
/// `healthy` or `degraded` (a lagging process or a shard problem).
pub fn fleet_document(status: &troupe_ports::FleetStatus) -> Value {
    let processes: Vec<Value> = status
        .processes
        .iter()
        .map(|p| {
            let r = &p.record;
            json!({
                "id": r.id,
                "host": r.host,
                "version": r.version,
                "role": r.role,
                "shards": r.shards.as_ref().map(|s| json!({
                    "total": s.total,
                    "start": s.range.start,
                    "end": s.range.end,
                })),
                "gateway": r.gateway,
                "flag_version": r.flag_version,
                "flags_current": r.flag_version >= status.flag_version,
                "lagging": status.lagging.contains(&r.id),
                "last_seen_ms_ago": ms(p.last_seen_ago),
                "started_at": r.started_at.to_string(),
            })
        })
        .collect();
    let problems: Vec<String> = status
        .shard_problems
        .iter()
        .map(ToString::to_string)
        .collect();
    json!({
        "status": if status.is_healthy() { Status::Healthy } else { Status::Degraded }.as_str(),
        "processes": processes,
        "count": status.processes.len(),
        "flag_version": status.flag_version,
        "flag_changed_ms_ago": status.flag_changed_ago.map(ms),
        "behind": status.behind,
        "lagging": status.lagging,
        "shard_problems": problems,
    })
}

pub(crate) async fn fleet(State(state): State<AppState>) -> Response {
    let Some(source) = &state.sources.fleet else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "this process keeps no fleet registry"})),
        )
            .into_response();
    };
    match source.status().await {
        Ok(status) => Json(fleet_document(&status)).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the fleet registry");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"error": "the fleet registry cannot be read"})),
            )
                .into_response()
        }
    }
}
