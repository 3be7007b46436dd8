//! The HTTP surface of operations.md §2: each health endpoint's JSON and status, the admin API
//! (auth, flags reaching the router, rollback, backup, mismatches, commands), the metrics text,
//! secrets never in a response, and the shipped Prometheus rules matching the code.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::json;
use troupe_application::alerts::{self, AlertRule};
use troupe_application::dispatch::CommandRecord;
use troupe_application::flags::FlagName;
use troupe_application::router::Route;
use troupe_application::{Category, CommandName, OutcomeClass, SystemKind};
use troupe_ports::{Clock as _, FlagStore as _, GatewaySnapshot, GatewayState};

use support::{TOKEN, call, connected, get, world};

const ALL_ON: &[(&str, &str)] = &[
    ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
    ("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "true"),
    ("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true"),
    ("FEATURE_FLAG_DDD_COMMANDS_AUTHENTICATION", "true"),
    ("FEATURE_FLAG_DDD_COMMANDS_CONVERSATION", "true"),
    ("FEATURE_FLAG_DDD_COMMANDS_PERSONALITY", "true"),
];

// ---------------------------------------------------------------- /health

#[tokio::test]
async fn health_is_healthy_with_every_check_and_the_documented_shape() {
    let w = world(&[], None).await;
    w.ai.success(w.clock.now());
    w.backups_activity
        .success(w.clock.now().minus(Duration::from_secs(600)));
    let a = get(&w, "/health").await;
    assert_eq!(a.status, StatusCode::OK);
    let doc = a.json();
    assert_eq!(doc["status"], "healthy");
    assert_eq!(doc["uptime"], "72h");
    assert_eq!(doc["uptime_seconds"], 72 * 3600);
    assert_eq!(doc["version"], "0.1.0");
    let discord = &doc["checks"]["discord"];
    assert_eq!(discord["status"], "ok");
    assert_eq!(discord["state"], "connected");
    assert_eq!(discord["heartbeat_ack_age_seconds"], 10.0);
    assert_eq!(discord["last_event_age_seconds"], 2.0);
    assert_eq!(discord["latency_ms"], 42.0);
    assert_eq!(doc["checks"]["database"]["status"], "ok");
    assert_eq!(doc["checks"]["database"]["ping_ms"], 0.25);
    assert_eq!(doc["checks"]["ai"]["status"], "ok");
    assert_eq!(doc["checks"]["ai"]["last_success_age_seconds"], 0.0);
    assert_eq!(doc["checks"]["backups"]["status"], "ok");
    assert_eq!(doc["checks"]["backups"]["last_success_age_seconds"], 600.0);
    assert_eq!(doc["alerts"], json!([]));
}

#[tokio::test]
async fn a_gateway_whose_heartbeat_acks_stopped_is_unhealthy_even_while_connected() {
    let w = world(&[], None).await;
    let now = w.clock.now();
    *w.gateway.0.lock().unwrap() = GatewaySnapshot {
        last_heartbeat_ack: Some(now.minus(Duration::from_secs(300))),
        awaiting_ack_since: Some(now.minus(Duration::from_secs(300))),
        ..connected(now)
    };
    let a = get(&w, "/health").await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    let doc = a.json();
    assert_eq!(doc["status"], "unhealthy");
    assert_eq!(doc["checks"]["discord"]["state"], "connected");
    assert_eq!(doc["checks"]["discord"]["status"], "failing");
    assert_eq!(doc["checks"]["discord"]["heartbeat_ack_age_seconds"], 300.0);
    let ready = get(&w, "/health/ready").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.json()["checks"]["gateway"], false);
}

#[tokio::test]
async fn a_lost_connection_is_degraded_for_a_moment_then_unhealthy_and_says_reconnecting() {
    let w = world(&[], None).await;
    let now = w.clock.now();
    let lost = |ago: u64, failed: u32| GatewaySnapshot {
        state: GatewayState::Reconnecting,
        since: Some(now.minus(Duration::from_secs(ago))),
        failed_reconnects: failed,
        awaiting_ack_since: None,
        shards_connected: 0,
        ..connected(now)
    };
    *w.gateway.0.lock().unwrap() = lost(1, 0);
    let a = get(&w, "/health").await;
    assert_eq!(a.status, StatusCode::OK);
    let doc = a.json();
    assert_eq!(doc["status"], "degraded");
    assert_eq!(doc["checks"]["discord"]["state"], "reconnecting");
    assert_eq!(doc["checks"]["discord"]["status"], "degraded");
    for (ago, failed) in [(4, 0), (1, 1)] {
        *w.gateway.0.lock().unwrap() = lost(ago, failed);
        let a = get(&w, "/health").await;
        assert_eq!(
            a.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{ago} s, {failed} failed"
        );
        let doc = a.json();
        assert_eq!(doc["checks"]["discord"]["state"], "reconnecting");
        assert_eq!(doc["checks"]["discord"]["status"], "failing");
        assert_eq!(doc["checks"]["discord"]["failed_reconnects"], failed);
        assert_eq!(
            get(&w, "/health/ready").await.status,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
    let metrics = get(&w, "/metrics").await.text;
    assert!(metrics.contains("troupe_gateway_up 0"), "{metrics}");
    assert!(metrics.contains(r#"troupe_gateway_state{state="reconnecting"} 1"#));
    assert!(metrics.contains("troupe_gateway_shards_connected 0"));
}

#[tokio::test]
async fn right_after_connecting_the_gateway_is_healthy_before_its_first_ack() {
    let w = world(&[], None).await;
    let now = w.clock.now();
    *w.gateway.0.lock().unwrap() = GatewaySnapshot {
        since: Some(now.minus(Duration::from_millis(200))),
        last_heartbeat_ack: None,
        awaiting_ack_since: Some(now.minus(Duration::from_millis(200))),
        ..connected(now)
    };
    let a = get(&w, "/health").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["checks"]["discord"]["status"], "ok");
    assert_eq!(get(&w, "/health/ready").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_disconnected_gateway_is_unhealthy_and_no_gateway_at_all_is_fine() {
    let w = world(&[], None).await;
    *w.gateway.0.lock().unwrap() = GatewaySnapshot::default();
    assert_eq!(
        get(&w, "/health").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    *w.gateway.0.lock().unwrap() = GatewaySnapshot {
        state: GatewayState::NotApplicable,
        ..GatewaySnapshot::default()
    };
    let a = get(&w, "/health").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["checks"]["discord"]["status"], "not_applicable");
}

#[tokio::test]
async fn a_database_that_does_not_answer_makes_health_unhealthy_and_the_process_not_ready() {
    let w = world(&[], None).await;
    w.db.0.store(false, Ordering::SeqCst);
    let a = get(&w, "/health").await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(a.json()["checks"]["database"]["status"], "failing");
    let ready = get(&w, "/health/ready").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ready.json(),
        json!({"ready": false, "checks": {"gateway": true, "database": false}})
    );
    let live = get(&w, "/health/live").await;
    assert_eq!(live.status, StatusCode::OK, "live checks no dependency");
    assert_eq!(live.json()["status"], "alive");
}

#[tokio::test]
async fn an_active_alert_makes_health_degraded_with_200_and_lists_it() {
    let w = world(&[], None).await;
    let now = w.clock.now();
    for _ in 0..6 {
        w.alerts.record(
            &CommandRecord {
                command: CommandName::Info,
                category: Category::Personality,
                system: SystemKind::Legacy,
                class: OutcomeClass::InternalError,
                fell_back: false,
                elapsed: Duration::from_millis(3),
            },
            now,
        );
    }
    w.alerts.evaluate(now);
    let a = get(&w, "/health").await;
    assert_eq!(a.status, StatusCode::OK);
    let doc = a.json();
    assert_eq!(doc["status"], "degraded");
    assert_eq!(doc["alerts"][0]["rule"], "failed_commands");
    assert_eq!(doc["alerts"][0]["severity"], "warning");
    assert_eq!(doc["alerts"][0]["threshold"], 5.0);
    assert!(
        doc["alerts"][0]["message"]
            .as_str()
            .unwrap()
            .contains("6 failed commands")
    );
}

#[tokio::test]
async fn a_failing_ai_provider_or_stale_backups_degrade_health() {
    let w = world(&[], None).await;
    let now = w.clock.now();
    w.ai.success(now.minus(Duration::from_secs(60)));
    w.ai.failure(now);
    w.backups_activity.success(now);
    let doc = get(&w, "/health").await.json();
    assert_eq!(doc["status"], "degraded");
    assert_eq!(doc["checks"]["ai"]["status"], "failing");
    assert_eq!(doc["checks"]["ai"]["last_success_age_seconds"], 60.0);

    let w = world(&[], None).await;
    w.backups_activity
        .success(now.minus(Duration::from_secs(27 * 3600)));
    let doc = get(&w, "/health").await.json();
    assert_eq!(doc["status"], "degraded");
    assert_eq!(doc["checks"]["backups"]["status"], "stale");
    assert_eq!(
        doc["checks"]["backups"]["last_success_age_seconds"],
        27.0 * 3600.0
    );
}

#[tokio::test]
async fn features_show_every_flag_value_and_where_it_comes_from() {
    let w = world(&[("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true")], None).await;
    w.flags
        .change(
            "ddd.commands.utility",
            Some(true),
            "test",
            "stage 1",
            w.clock.now(),
        )
        .await
        .unwrap();
    let doc = get(&w, "/health/features").await.json();
    assert_eq!(doc["ddd.commands.enabled"], true);
    assert_eq!(doc["ddd.commands.utility"], true);
    assert_eq!(doc["ddd.commands.integration"], false);
    assert_eq!(doc["ddd.commands.fallbackOnError"], true);
    assert_eq!(doc["sources"]["ddd.commands.enabled"], "environment");
    assert_eq!(doc["sources"]["ddd.commands.utility"], "runtime");
    assert_eq!(doc["sources"]["ddd.commands.fallbackOnError"], "default");
    let flags = doc.as_object().unwrap().len() - 1;
    assert_eq!(flags, troupe_application::flags::FLAG_COUNT);
    assert_eq!(doc["ddd.commands.shadow.personality"], false);
    assert_eq!(doc["ddd.commands.ping"], false);
}

#[tokio::test]
async fn commands_count_the_migrated_commands_and_show_each_system() {
    let w = world(&[], None).await;
    let doc = get(&w, "/health/commands").await.json();
    assert_eq!(doc["legacy_active"], true);
    assert_eq!(doc["ddd_active"], false);
    assert_eq!(doc["commands_migrated"], 0);
    assert_eq!(doc["commands"].as_object().unwrap().len(), 18);
    assert_eq!(
        doc["commands"]["ping"],
        json!({"category": "utility", "system": "legacy"})
    );

    let w = world(ALL_ON, None).await;
    let doc = get(&w, "/health/commands").await.json();
    assert_eq!(doc["commands_migrated"], 18);
    assert_eq!(doc["legacy_active"], false);
    assert_eq!(doc["ddd_active"], true);
    assert_eq!(doc["commands"]["add"]["system"], "ddd");

    let w = world(
        &[
            ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
            ("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "true"),
            ("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true"),
            ("FEATURE_FLAG_DDD_COMMANDS_SHADOW_PERSONALITY", "true"),
            ("FEATURE_FLAG_DDD_COMMANDS_PING", "false"),
        ],
        None,
    )
    .await;
    let doc = get(&w, "/health/commands").await.json();
    assert_eq!(
        doc["commands_migrated"], 6,
        "7 utility commands, ping overridden"
    );
    assert_eq!(doc["commands"]["ping"]["system"], "legacy");
    assert_eq!(doc["commands"]["status"]["system"], "ddd");
    assert_eq!(doc["commands"]["info"]["system"], "shadow");
    assert_eq!(doc["commands"]["auth"]["system"], "legacy");
    assert_eq!(doc["legacy_active"], true);
    assert_eq!(doc["ddd_active"], true);
}

// ---------------------------------------------------------------- admin API

const ADMIN_ROUTES: &[(&str, &str)] = &[
    ("GET", "/admin/flags"),
    ("PUT", "/admin/flags/ddd.commands.enabled"),
    ("DELETE", "/admin/flags/ddd.commands.enabled"),
    ("POST", "/admin/rollback"),
    ("GET", "/admin/audit"),
    ("POST", "/admin/backup"),
    ("GET", "/admin/shadow/mismatches"),
    ("POST", "/admin/commands"),
];

fn method(m: &str) -> Method {
    m.parse().unwrap()
}

#[tokio::test]
async fn without_a_configured_token_every_admin_route_is_disabled_and_changes_nothing() {
    let w = world(&[("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true")], None).await;
    for (m, uri) in ADMIN_ROUTES {
        let body = json!({"value": false, "reason": "x", "text": "!tz ping"});
        let a = call(&w, method(m), uri, Some("anything"), Some(body)).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{m} {uri}");
        assert!(a.json()["error"].as_str().unwrap().contains("disabled"));
    }
    assert!(w.flags.snapshot().get(FlagName::Enabled));
    assert_eq!(w.backups.0.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_refused_with_401_and_never_echoed() {
    let w = world(
        &[("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true")],
        Some(TOKEN),
    )
    .await;
    let wrong = "not-the-token-but-close";
    for (m, uri) in ADMIN_ROUTES {
        for token in [None, Some(wrong), Some("adm1n-t0ken-never-show")] {
            let body = json!({"value": false, "reason": "x"});
            let a = call(&w, method(m), uri, token, Some(body)).await;
            assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{m} {uri} {token:?}");
            assert_eq!(
                a.headers.get("www-authenticate").unwrap(),
                "Bearer realm=\"troupe-admin\""
            );
            assert!(!a.text.contains(wrong) && !a.text.contains(TOKEN));
        }
    }
    assert!(w.flags.snapshot().get(FlagName::Enabled), "nothing changed");
    assert_eq!(w.backups.0.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_flag_set_through_the_admin_api_reaches_the_router_at_once_with_an_audit_entry() {
    let w = world(ALL_ON, Some(TOKEN)).await;
    assert_eq!(w.router.route_for(CommandName::Add, None), Route::New);
    let a = call(
        &w,
        Method::PUT,
        "/admin/flags/ddd.commands.personality",
        Some(TOKEN),
        Some(json!({"value": false, "reason": "stage 4 rollback", "actor": "oncall"})),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let doc = a.json();
    assert_eq!(doc["flag"], "ddd.commands.personality");
    assert_eq!(doc["before"], true);
    assert_eq!(doc["value"], false);
    assert_eq!(doc["source"], "runtime");
    assert_eq!(w.router.route_for(CommandName::Add, None), Route::Legacy);
    assert_eq!(w.router.route_for(CommandName::Ping, None), Route::New);

    let audit = call(&w, Method::GET, "/admin/audit?limit=5", Some(TOKEN), None).await;
    let entry = &audit.json()["entries"][0];
    assert_eq!(entry["flag"], "ddd.commands.personality");
    assert_eq!(entry["actor"], "oncall");
    assert_eq!(entry["reason"], "stage 4 rollback");
    assert_eq!(entry["new"], false);

    let listed = call(&w, Method::GET, "/admin/flags", Some(TOKEN), None)
        .await
        .json();
    let personality = listed["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "ddd.commands.personality")
        .unwrap()
        .clone();
    assert_eq!(
        personality,
        json!({"name": "ddd.commands.personality", "value": false, "source": "runtime",
               "env": "FEATURE_FLAG_DDD_COMMANDS_PERSONALITY"})
    );
    let commands = get(&w, "/health/commands").await.json();
    assert_eq!(commands["commands_migrated"], 13);
}

#[tokio::test]
async fn a_flag_change_needs_a_known_flag_a_value_and_a_reason() {
    let w = world(&[], Some(TOKEN)).await;
    let cases = [
        (
            "/admin/flags/ddd.commands.teleport",
            json!({"value": true, "reason": "r"}),
            StatusCode::NOT_FOUND,
        ),
        (
            "/admin/flags/ddd.commands.utility",
            json!({"value": true}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/admin/flags/ddd.commands.utility",
            json!({"value": true, "reason": "  "}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/admin/flags/ddd.commands.utility",
            json!({"value": "maybe", "reason": "r"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/admin/flags/ddd.commands.utility",
            json!({"reason": "r"}),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (uri, body, status) in cases {
        let a = call(&w, Method::PUT, uri, Some(TOKEN), Some(body.clone())).await;
        assert_eq!(a.status, status, "{uri} {body}: {}", a.text);
    }
    assert!(w.store.audit(10).await.unwrap().is_empty());
    // "on" as a string works too.
    let a = call(
        &w,
        Method::PUT,
        "/admin/flags/ddd.commands.utility",
        Some(TOKEN),
        Some(json!({"value": "on", "reason": "stage 1"})),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(w.store.audit(1).await.unwrap()[0].actor, "admin-api");
}

#[tokio::test]
async fn the_emergency_rollback_turns_the_kill_switch_off_in_one_call() {
    let w = world(ALL_ON, Some(TOKEN)).await;
    let a = call(&w, Method::POST, "/admin/rollback", Some(TOKEN), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["flag"], "ddd.commands.enabled");
    assert_eq!(a.json()["before"], true);
    assert_eq!(a.json()["value"], false);
    for command in CommandName::ALL {
        assert_eq!(w.router.route_for(command, None), Route::Legacy);
    }
    assert_eq!(
        w.store.audit(1).await.unwrap()[0].reason,
        "emergency rollback"
    );
}

#[tokio::test]
async fn an_empty_body_is_no_body_and_a_malformed_one_is_refused() {
    use tower::ServiceExt as _;
    let w = world(ALL_ON, Some(TOKEN)).await;
    let request = |body: &'static str| {
        axum::http::Request::builder()
            .method(Method::POST)
            .uri("/admin/rollback")
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body))
            .unwrap()
    };
    let router = troupe_http::router(w.state.clone());
    let bad = router.clone().oneshot(request("{not json")).await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(w.flags.snapshot().get(FlagName::Enabled), "nothing changed");
    let empty = router.oneshot(request("")).await.unwrap();
    assert_eq!(empty.status(), StatusCode::OK);
    assert!(!w.flags.snapshot().get(FlagName::Enabled));
}

#[tokio::test]
async fn unsetting_a_flag_returns_it_to_the_environment_value() {
    let w = world(ALL_ON, Some(TOKEN)).await;
    call(
        &w,
        Method::PUT,
        "/admin/flags/ddd.commands.utility",
        Some(TOKEN),
        Some(json!({"value": false, "reason": "test"})),
    )
    .await;
    assert!(
        !w.flags
            .snapshot()
            .get(FlagName::Category(Category::Utility))
    );
    let a = call(
        &w,
        Method::DELETE,
        "/admin/flags/ddd.commands.utility?reason=back%20to%20env",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["value"], true);
    assert_eq!(a.json()["source"], "environment");
    assert_eq!(w.store.audit(1).await.unwrap()[0].reason, "back to env");
}

#[tokio::test]
async fn backup_mismatches_and_commands_go_through_their_hooks() {
    let w = world(&[], Some(TOKEN)).await;
    let a = call(&w, Method::POST, "/admin/backup", Some(TOKEN), None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["backup"]["size"], 4096);
    assert_eq!(a.json()["backup"]["rows"]["personalities"], 3);
    assert_eq!(w.backups.0.load(Ordering::SeqCst), 1);

    let a = call(
        &w,
        Method::GET,
        "/admin/shadow/mismatches",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(a.json(), json!({"total": 0, "mismatches": []}));

    let a = call(
        &w,
        Method::POST,
        "/admin/commands",
        Some(TOKEN),
        Some(json!({"text": "!tz ping"})),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["result"]["text"], "Pong!");
    assert_eq!(a.json()["result"]["class"], "success");
    let a = call(
        &w,
        Method::POST,
        "/admin/commands",
        Some(TOKEN),
        Some(json!({"text": "hello"})),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn no_response_of_any_route_contains_the_admin_token() {
    let w = world(ALL_ON, Some(TOKEN)).await;
    let mut uris: Vec<(Method, &str)> = [
        "/health",
        "/health/features",
        "/health/commands",
        "/health/live",
        "/health/ready",
        "/metrics",
    ]
    .into_iter()
    .map(|u| (Method::GET, u))
    .collect();
    uris.extend(ADMIN_ROUTES.iter().map(|(m, u)| (method(m), *u)));
    for (m, uri) in uris {
        let body = json!({"value": true, "reason": "r", "text": "!tz ping"});
        let a = call(&w, m.clone(), uri, Some(TOKEN), Some(body)).await;
        assert!(a.status.is_success(), "{m} {uri}: {} {}", a.status, a.text);
        assert!(!a.text.contains(TOKEN), "{m} {uri} leaked the token");
        for (name, value) in &a.headers {
            assert!(
                !value.to_str().unwrap_or_default().contains(TOKEN),
                "{m} {uri}: header {name}"
            );
        }
    }
}

// ---------------------------------------------------------------- metrics

/// The per-command series are counted through kept handles after the first record: every
/// record still counts, each in its own outcome's series, and all in one duration histogram.
#[tokio::test]
async fn every_command_record_counts_in_its_series() {
    let w = world(ALL_ON, Some(TOKEN)).await;
    let observer = troupe_http::metrics::command_observer(
        None,
        w.clock.clone() as std::sync::Arc<dyn troupe_ports::Clock>,
    );
    let command = CommandName::Alias;
    let record = |class| CommandRecord {
        command,
        category: command.category(),
        system: SystemKind::New,
        class,
        fell_back: false,
        elapsed: Duration::from_millis(3),
    };
    for class in [
        OutcomeClass::Conflict,
        OutcomeClass::Conflict,
        OutcomeClass::NotFound,
        OutcomeClass::Conflict,
    ] {
        observer(&record(class));
    }
    let text = get(&w, "/metrics").await.text;
    let labels = format!(
        r#"command="{}",category="{}",system="{}""#,
        command.as_str(),
        command.category().as_str(),
        SystemKind::New.as_str()
    );
    for needle in [
        format!(r#"troupe_commands_total{{{labels},outcome="conflict"}} 3"#),
        format!(r#"troupe_commands_total{{{labels},outcome="not_found"}} 1"#),
        format!("troupe_command_duration_seconds_count{{{labels}}} 4"),
    ] {
        assert!(
            text.lines().any(|l| l == needle),
            "{needle} missing from:\n{text}"
        );
    }
}

#[tokio::test]
async fn metrics_expose_every_family_with_bounded_labels_only() {
    let w = world(ALL_ON, Some(TOKEN)).await;
    let observer = troupe_http::metrics::command_observer(
        Some(w.alerts.clone()),
        w.clock.clone() as std::sync::Arc<dyn troupe_ports::Clock>,
    );
    observer(&CommandRecord {
        command: CommandName::Add,
        category: Category::Personality,
        system: SystemKind::Legacy,
        class: OutcomeClass::Success,
        fell_back: true,
        elapsed: Duration::from_millis(12),
    });
    troupe_http::metrics::record_shadow(
        Category::Personality,
        troupe_application::shadow::ShadowResult::Mismatch,
    );
    troupe_http::metrics::record_ai(Duration::from_millis(800), true);
    let now = w.clock.now();
    w.backups_activity.success(now);
    w.alerts
        .record_memory(80 << 20, now.minus(Duration::from_secs(20 * 60)));
    w.alerts
        .record_memory(100 << 20, now.minus(Duration::from_secs(14 * 60)));
    w.alerts.evaluate(now);
    assert_eq!(w.alerts.memory_baseline(), Some(100 << 20));
    get(&w, "/health").await; // a database ping
    get(&w, "/metrics").await; // remembers the flags
    call(
        &w,
        Method::PUT,
        "/admin/flags/ddd.commands.personality",
        Some(TOKEN),
        Some(json!({"value": false, "reason": "metrics test"})),
    )
    .await;
    let a = get(&w, "/metrics").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = a.text;
    for family in troupe_http::metrics::FAMILIES {
        assert!(
            text.lines().any(|l| l.starts_with(family)),
            "{family} missing from:\n{text}"
        );
    }
    for needle in [
        r#"troupe_commands_total{command="add",category="personality",system="legacy",outcome="success"}"#,
        r#"troupe_commands_total{command="add",category="personality",system="ddd",outcome="internal_error"}"#,
        r#"troupe_command_fallbacks_total{command="add",category="personality"}"#,
        r#"troupe_command_duration_seconds_bucket{command="add",category="personality",system="legacy",le="0.025"}"#,
        r#"troupe_shadow_comparisons_total{category="personality",result="mismatch"}"#,
        r#"troupe_flag_changes_total{flag="ddd.commands.personality"}"#,
        r#"troupe_gateway_state{state="connected"} 1"#,
        r#"troupe_build_info{version="0.1.0"} 1"#,
        r#"troupe_ai_request_duration_seconds_bucket{outcome="success",le="1"}"#,
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    // Every label value is a bounded name: no snowflake id, no token.
    let allowed_keys = [
        "command", "category", "system", "outcome", "result", "flag", "state", "rule", "severity",
        "version", "le", "quantile", "lane",
    ];
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(labels) = line.split_once('{').map(|(_, r)| r) else {
            continue;
        };
        let labels = labels.split_once('}').unwrap().0;
        for pair in labels.split("\",") {
            let (key, value) = pair.split_once("=\"").unwrap();
            let value = value.trim_end_matches('"');
            assert!(
                allowed_keys.contains(&key),
                "unbounded label {key} in {line}"
            );
            assert!(
                !(value.len() >= 15 && value.chars().all(|c| c.is_ascii_digit())),
                "an id as a label value in {line}"
            );
        }
    }
    assert!(!text.contains(TOKEN));
}

// ---------------------------------------------------------------- Prometheus rules

#[test]
fn the_shipped_prometheus_rules_use_the_thresholds_of_the_code() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/alerts/troupe-alerts.yml"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let rules = doc["groups"][0]["rules"].as_sequence().unwrap();
    let expected: &[(&str, &str, f64)] = &[
        (
            "TroupeErrorRateWarning",
            "warning",
            alerts::ERROR_RATE_WARNING,
        ),
        (
            "TroupeErrorRateCritical",
            "critical",
            alerts::ERROR_RATE_CRITICAL,
        ),
        (
            "TroupeCategoryErrorRateWarning",
            "warning",
            alerts::ERROR_RATE_WARNING,
        ),
        (
            "TroupeCategoryErrorRateCritical",
            "critical",
            alerts::ERROR_RATE_CRITICAL,
        ),
        (
            "TroupeResponseTimeWarning",
            "warning",
            1.0 + alerts::RESPONSE_TIME_WARNING,
        ),
        (
            "TroupeResponseTimeCritical",
            "critical",
            1.0 + alerts::RESPONSE_TIME_CRITICAL,
        ),
        (
            "TroupeMemoryWarning",
            "warning",
            1.0 + alerts::MEMORY_WARNING,
        ),
        (
            "TroupeMemoryCritical",
            "critical",
            1.0 + alerts::MEMORY_CRITICAL,
        ),
        (
            "TroupeFailedCommandsWarning",
            "warning",
            alerts::FAILED_COMMANDS_WARNING as f64,
        ),
        (
            "TroupeFailedCommandsCritical",
            "critical",
            alerts::FAILED_COMMANDS_CRITICAL as f64,
        ),
    ];
    let min_commands = alerts::AlertSettings::default().min_commands;
    let window = alerts::humanize_window(alerts::AlertSettings::default().window);
    assert_eq!(
        rules.len(),
        expected.len() + 1,
        "one more rule: stale backups"
    );
    for (name, severity, threshold) in expected {
        let rule = rules
            .iter()
            .find(|r| r["alert"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("rule {name} missing"));
        assert_eq!(
            rule["labels"]["severity"].as_str(),
            Some(*severity),
            "{name}"
        );
        let expr = rule["expr"].as_str().unwrap();
        let crossed: Vec<f64> = expr
            .split("> ")
            .skip(1)
            .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
            .collect();
        assert_eq!(crossed.len(), 1, "{name}: one threshold in {expr}");
        assert!(
            (crossed[0] - threshold).abs() < 1e-12,
            "{name}: {} in the rules, {threshold} in the code",
            crossed[0]
        );
        if name.contains("ErrorRate") {
            assert!(
                expr.contains(&format!("[{window}]")),
                "{name}: window {window}"
            );
            assert!(
                expr.contains(&format!(">= {min_commands}")),
                "{name}: at least {min_commands} commands"
            );
        }
        if name.contains("FailedCommands") {
            assert!(expr.contains("[1h]"), "{name}");
        }
        assert!(rule["annotations"]["summary"].as_str().is_some(), "{name}");
        assert!(rule["annotations"]["runbook"].as_str().is_some(), "{name}");
    }
    // The code's rule names are what the alerts' `rule` label says.
    assert_eq!(
        AlertRule::ErrorRate(SystemKind::New).name(),
        "error_rate.ddd"
    );
}
