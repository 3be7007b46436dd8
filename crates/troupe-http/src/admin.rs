//! The admin API under `/admin`, behind `Authorization: Bearer <token>`: flags (list, set,
//! unset, emergency rollback, audit), backup now, recent shadow mismatches, and running one
//! command as the operator (the smoke test). Without a configured token every admin route
//! answers 404 and does nothing. A token is never echoed.

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use troupe_application::flags::{FlagError, FlagName};

use crate::AppState;

fn error(code: StatusCode, message: impl Into<String>) -> Response {
    (code, Json(json!({"error": message.into()}))).into_response()
}

/// Compares the SHA-256 digests of both in constant time (`subtle`): neither a matching
/// prefix nor the expected token's length shows in the time taken.
fn token_matches(given: &[u8], expected: &[u8]) -> bool {
    use sha2::{Digest as _, Sha256};
    use subtle::ConstantTimeEq as _;
    Sha256::digest(given)
        .ct_eq(&Sha256::digest(expected))
        .into()
}

/// The bearer-token gate in front of every admin route.
pub(crate) async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = state.admin.token.as_deref() else {
        return error(
            StatusCode::NOT_FOUND,
            "the admin API is disabled: set TROUPE_ADMIN_TOKEN to enable it",
        );
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    match given {
        Some(token) if token_matches(token.as_bytes(), expected.as_bytes()) => {
            next.run(request).await
        }
        _ => {
            let mut response = error(
                StatusCode::UNAUTHORIZED,
                "a valid bearer token is required (Authorization: Bearer <TROUPE_ADMIN_TOKEN>)",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"troupe-admin\""),
            );
            response
        }
    }
}

/// `GET /admin/flags`.
pub(crate) async fn list_flags(State(state): State<AppState>) -> Json<Value> {
    let snapshot = state.sources.router.flags().snapshot();
    let flags: Vec<Value> = snapshot
        .entries()
        .map(|(flag, value, source)| {
            json!({
                "name": flag.key(),
                "value": value,
                "source": source.as_str(),
                "env": flag.env_var(),
            })
        })
        .collect();
    Json(json!({ "flags": flags }))
}

/// The body of a flag change.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct FlagChangeBody {
    /// `true`/`false` (or "on"/"off"/"1"/"0" as a string); absent when unsetting.
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    actor: Option<String>,
    /// Wait up to this many milliseconds until every live process applied the change.
    #[serde(default)]
    confirm_ms: Option<u64>,
}

/// `?confirm=<ms>` (or `?confirm=true`: [`DEFAULT_CONFIRM`]): wait until every live process
/// applied the change and say which did not.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ConfirmQuery {
    confirm: Option<String>,
}

/// How long a confirmation waits when no time is given.
pub const DEFAULT_CONFIRM: std::time::Duration = std::time::Duration::from_secs(5);

/// The longest confirmation wait accepted.
const MAX_CONFIRM_MS: u64 = 60_000;

fn confirm_wait(
    query: &ConfirmQuery,
    body: &FlagChangeBody,
) -> Result<Option<std::time::Duration>, Box<Response>> {
    let from_query = match query.confirm.as_deref().map(str::trim) {
        None | Some("false" | "0" | "off" | "no") => None,
        Some("" | "true" | "on" | "yes") => Some(DEFAULT_CONFIRM),
        Some(raw) => match raw.parse::<u64>() {
            Ok(ms) if ms <= MAX_CONFIRM_MS => Some(std::time::Duration::from_millis(ms)),
            _ => {
                return Err(Box::new(error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "confirm must be true or a wait in milliseconds up to {MAX_CONFIRM_MS}"
                    ),
                )));
            }
        },
    };
    let from_body = match body.confirm_ms {
        Some(ms) if ms > MAX_CONFIRM_MS => {
            return Err(Box::new(error(
                StatusCode::BAD_REQUEST,
                format!("confirm_ms must be at most {MAX_CONFIRM_MS}"),
            )));
        }
        Some(ms) => Some(std::time::Duration::from_millis(ms)),
        None => None,
    };
    Ok(from_body.or(from_query))
}

fn actor(given: Option<&str>) -> String {
    let cleaned: String = given
        .unwrap_or("admin-api")
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    if cleaned.trim().is_empty() {
        "admin-api".into()
    } else {
        cleaned.trim().to_owned()
    }
}

fn parse_value(value: Option<&Value>) -> Result<bool, &'static str> {
    match value {
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) => troupe_application::flags::parse_bool(s)
            .ok_or("value must be true/false, on/off or 1/0"),
        Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(true),
        Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(false),
        _ => Err("a JSON body with \"value\" (true/false) and \"reason\" is required"),
    }
}

async fn change(
    state: &AppState,
    name: &str,
    value: Option<bool>,
    body: &FlagChangeBody,
    confirm: Option<std::time::Duration>,
) -> Response {
    let Some(flag) = FlagName::parse(name) else {
        return error(
            StatusCode::NOT_FOUND,
            format!(
                "unknown flag {:?}; GET /admin/flags lists them",
                name.chars().take(80).collect::<String>()
            ),
        );
    };
    let flags = state.sources.router.flags();
    let started = std::time::Instant::now();
    let result = flags
        .change(
            &flag.key(),
            value,
            &actor(body.actor.as_deref()),
            body.reason.as_deref().unwrap_or(""),
            state.sources.clock.now(),
        )
        .await;
    match result {
        Ok(before) => {
            let snapshot = flags.snapshot();
            state.metrics.observe_flags(&snapshot);
            let mut answer = json!({
                "flag": flag.key(),
                "before": before,
                "value": snapshot.get(flag),
                "source": snapshot.source(flag).as_str(),
                "took_ms": (started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
            });
            let Some(wait) = confirm else {
                return Json(answer).into_response();
            };
            let (code, confirmation) = confirmation(state, wait).await;
            answer["confirmation"] = confirmation;
            answer["took_ms"] = json!((started.elapsed().as_secs_f64() * 1e6).round() / 1e3);
            (code, Json(answer)).into_response()
        }
        Err(FlagError::MissingReason) => error(
            StatusCode::BAD_REQUEST,
            "a reason is required for a flag change (\"reason\": \"…\")",
        ),
        Err(FlagError::UnknownFlag(_)) => error(StatusCode::NOT_FOUND, "unknown flag"),
        Err(FlagError::InvalidAudit(message)) => error(StatusCode::BAD_REQUEST, &message),
        Err(FlagError::Store(e)) => {
            tracing::error!(error = %e, "admin flag change failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the flag store is unavailable; nothing changed",
            )
        }
    }
}

/// Waits until every live process applied the change just made: 200 when confirmed, 202
/// (the change is stored and spreads, but not every process confirmed it) otherwise.
async fn confirmation(state: &AppState, wait: std::time::Duration) -> (StatusCode, Value) {
    let Some(fleet) = &state.sources.fleet else {
        return (
            StatusCode::ACCEPTED,
            json!({"confirmed": false, "error": "this process keeps no fleet registry"}),
        );
    };
    match fleet.confirm(wait).await {
        Ok(c) => (
            if c.confirmed {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            },
            json!({
                "confirmed": c.confirmed,
                "flag_version": c.version,
                "waited_ms": (c.waited.as_secs_f64() * 1e6).round() / 1e3,
                "processes": c.processes,
                "pending": c.pending,
            }),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "cannot confirm a flag change fleet-wide");
            (
                StatusCode::ACCEPTED,
                json!({"confirmed": false, "error": "the fleet registry cannot be read"}),
            )
        }
    }
}

/// The JSON body, or defaults when there is none (an empty body is fine whatever the
/// content type, so `curl -X POST` and `curl -X POST -H 'Content-Type: application/json'`
/// behave the same).
fn parse_body(bytes: &[u8]) -> Result<FlagChangeBody, Box<Response>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(FlagChangeBody::default());
    }
    serde_json::from_slice(bytes).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("the body is not the expected JSON: {e}"),
        ))
    })
}

/// `PUT /admin/flags/{name}` with `{"value": false, "reason": "…", "actor": "…"}`;
/// `?confirm=<ms>` (or `"confirm_ms"`) waits for every live process to apply it.
pub(crate) async fn set_flag(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<ConfirmQuery>,
    body: axum::body::Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    let confirm = match confirm_wait(&query, &body) {
        Ok(wait) => wait,
        Err(response) => return *response,
    };
    match parse_value(body.value.as_ref()) {
        Ok(value) => change(&state, &name, Some(value), &body, confirm).await,
        Err(message) => error(StatusCode::BAD_REQUEST, message),
    }
}

/// Reason and actor from the query string (for `DELETE` without a body).
#[derive(Debug, Deserialize)]
pub(crate) struct ReasonQuery {
    reason: Option<String>,
    actor: Option<String>,
    confirm: Option<String>,
}

/// `DELETE /admin/flags/{name}` with `{"reason": "…"}` or `?reason=…`.
pub(crate) async fn unset_flag(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<ReasonQuery>,
    body: axum::body::Bytes,
) -> Response {
    let mut body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    body.reason = body.reason.or(query.reason);
    body.actor = body.actor.or(query.actor);
    let confirm = match confirm_wait(
        &ConfirmQuery {
            confirm: query.confirm,
        },
        &body,
    ) {
        Ok(wait) => wait,
        Err(response) => return *response,
    };
    change(&state, &name, None, &body, confirm).await
}

/// `POST /admin/rollback`: the emergency rollback, `ddd.commands.enabled` off;
/// `?confirm=<ms>` waits for every live process to apply it (200 confirmed, 202 not).
pub(crate) async fn rollback(
    State(state): State<AppState>,
    Query(query): Query<ConfirmQuery>,
    body: axum::body::Bytes,
) -> Response {
    let mut body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    let confirm = match confirm_wait(&query, &body) {
        Ok(wait) => wait,
        Err(response) => return *response,
    };
    if body.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        body.reason = Some("emergency rollback".into());
    }
    change(
        &state,
        &FlagName::Enabled.key(),
        Some(false),
        &body,
        confirm,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct LimitQuery {
    limit: Option<u64>,
}

/// `GET /admin/audit?limit=20`: the newest flag changes.
pub(crate) async fn audit(
    State(state): State<AppState>,
    Query(query): Query<LimitQuery>,
) -> Response {
    let limit = query.limit.unwrap_or(20).clamp(1, 1000);
    match state.sources.router.flags().audit(limit).await {
        Ok(entries) => {
            let entries: Vec<Value> = entries
                .into_iter()
                .map(|e| {
                    json!({
                        "at": e.at.to_string(),
                        "flag": e.name,
                        "old": e.old,
                        "new": e.new,
                        "actor": e.actor,
                        "reason": e.reason,
                    })
                })
                .collect();
            Json(json!({ "entries": entries })).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot read the flag audit log");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the flag store is unavailable",
            )
        }
    }
}

/// `POST /admin/backup`: a verified backup now.
pub(crate) async fn backup(State(state): State<AppState>) -> Response {
    let Some(trigger) = &state.admin.backup else {
        return error(
            StatusCode::NOT_IMPLEMENTED,
            "backups are not available in this process",
        );
    };
    match trigger.backup_now().await {
        Ok(summary) => Json(json!({ "backup": summary })).into_response(),
        Err(message) => {
            tracing::error!(error = %message, "backup through the admin API failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("backup failed: {message}"),
            )
        }
    }
}

/// `GET /admin/shadow/mismatches?limit=20`: the newest stored shadow mismatches.
pub(crate) async fn mismatches(
    State(state): State<AppState>,
    Query(query): Query<LimitQuery>,
) -> Json<Value> {
    let limit = usize::try_from(query.limit.unwrap_or(20).clamp(1, 1000)).unwrap_or(20);
    let Some(shadow) = &state.sources.shadow else {
        return Json(json!({"total": 0, "mismatches": []}));
    };
    let all = shadow.mismatches();
    let outcome = |o: &troupe_application::CommandOutcome| {
        json!({
            "class": o.class.as_str(),
            "title": o.reply.as_ref().and_then(|r| r.title.clone()),
            "text": o.reply.as_ref().map(|r| r.text.clone()),
            "events": o.events.len(),
        })
    };
    let list: Vec<Value> = all
        .iter()
        .take(limit)
        .map(|m| {
            json!({
                "at": m.at.to_string(),
                "command": m.command.as_str(),
                "category": m.category.as_str(),
                "differences": m.differences,
                "authoritative": outcome(&m.authoritative),
                "candidate": outcome(&m.candidate),
            })
        })
        .collect();
    Json(json!({"total": all.len(), "mismatches": list}))
}

#[derive(Debug, Deserialize)]
pub(crate) struct CommandBody {
    text: String,
}

/// `POST /admin/commands` with `{"text": "!tz ping"}`: runs one command as the operator.
pub(crate) async fn run_command(
    State(state): State<AppState>,
    body: Option<Json<CommandBody>>,
) -> Response {
    let Some(runner) = &state.admin.commands else {
        return error(
            StatusCode::NOT_IMPLEMENTED,
            "running commands is not available in this process",
        );
    };
    let Some(Json(body)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "a JSON body {\"text\": \"!tz ping\"} is required",
        );
    };
    let text: String = body.text.chars().take(2000).collect();
    match runner.run(&text).await {
        Ok(report) => Json(json!({ "result": report })).into_response(),
        Err(message) => error(StatusCode::BAD_REQUEST, message),
    }
}

#[cfg(test)]
mod token_tests {
    use super::token_matches;

    #[test]
    fn only_the_exact_token_matches() {
        assert!(token_matches(b"ops-token-123", b"ops-token-123"));
        for other in [
            &b"ops-token-12"[..],
            b"ops-token-1234",
            b"",
            b"OPS-token-123",
        ] {
            assert!(!token_matches(other, b"ops-token-123"));
        }
    }
}
