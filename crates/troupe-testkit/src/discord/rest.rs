//! The fake REST API: the routes the bot uses, over the in-memory model, with recorded
//! requests and injected faults.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Shared;
use super::model::{
    ChannelKind, ChannelModel, FaultKind, MessageModel, RecordedRequest, State, UserModel,
    WebhookModel,
};
use super::payloads;

fn reply(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

fn error(status: u16, code: u64, message: &str) -> Response {
    reply(status, &payloads::api_error(code, message))
}

fn fault_response(kind: &FaultKind) -> Response {
    match kind {
        FaultKind::ServerError(status) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, "upstream error").into_response()
        }
        FaultKind::RateLimited { retry_after } => {
            let mut response = reply(
                429,
                &json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": false, "code": 0}),
            );
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            let headers = response.headers_mut();
            let mut set = |name: &'static str, value: String| {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    headers.insert(name, v);
                }
            };
            set("x-ratelimit-scope", "user".into());
            set("x-ratelimit-bucket", "fake-bucket".into());
            set("x-ratelimit-limit", "5".into());
            set("x-ratelimit-remaining", "0".into());
            set("x-ratelimit-reset", format!("{:.3}", now + retry_after));
            set("x-ratelimit-reset-after", format!("{retry_after:.3}"));
            set("retry-after", format!("{}", retry_after.ceil() as u64));
            response
        }
        FaultKind::Discord {
            status,
            code,
            message,
        } => error(*status, *code, message),
        // Handled in `handle`.
        FaultKind::Delay(_) | FaultKind::AcceptThenFail(_) | FaultKind::AcceptThenHang(_) => {
            error(500, 0, "fault not applicable here")
        }
    }
}

/// Handles every REST request.
pub(super) async fn handle(
    AxumState(shared): AxumState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path()
        .strip_prefix("/api/v10")
        .unwrap_or(uri.path())
        .to_owned();
    let query = uri.query().unwrap_or_default().to_owned();
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let fault = record(&shared, &method, &path, &query, &json_body);
    let after = match fault {
        None => None,
        Some(FaultKind::Delay(wait)) => {
            tokio::time::sleep(wait).await;
            None
        }
        Some(kind @ (FaultKind::AcceptThenFail(_) | FaultKind::AcceptThenHang(_))) => Some(kind),
        Some(kind) => return fault_response(&kind),
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let needs_auth = !matches!(segments.first(), Some(&("webhooks" | "interactions")));
    let authorised = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start_matches("Bot ") == super::TOKEN);
    if needs_auth && !authorised {
        return error(401, 0, "401: Unauthorized");
    }
    let response = route(&mut shared.lock(), &method, &segments, &query, &json_body);
    match after {
        Some(FaultKind::AcceptThenFail(status)) => fault_response(&FaultKind::ServerError(status)),
        Some(FaultKind::AcceptThenHang(wait)) => {
            tokio::time::sleep(wait).await;
            response
        }
        _ => response,
    }
}

/// Records the request and takes the first fault that applies to it, if any.
fn record(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &str,
    body: &Value,
) -> Option<FaultKind> {
    let mut state = shared.lock();
    state.requests.push(RecordedRequest {
        method: method.as_str().to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        body: body.clone(),
        at: Instant::now(),
    });
    let fault = state
        .faults
        .iter()
        .position(|f| {
            f.times > 0
                && f.method.as_deref().is_none_or(|m| m == method.as_str())
                && path.contains(&f.path_contains)
        })
        .map(|index| {
            let fault = &mut state.faults[index];
            fault.times -= 1;
            fault.kind.clone()
        });
    state.faults.retain(|f| f.times > 0);
    fault
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn id(segment: &str) -> u64 {
    segment.parse().unwrap_or(0)
}

fn route(
    state: &mut State,
    method: &Method,
    segments: &[&str],
    query: &str,
    body: &Value,
) -> Response {
    let Some(bot) = state.bot.clone() else {
        return error(500, 0, "fake not initialised");
    };
    match (method.as_str(), segments) {
        ("GET", ["gateway", "bot"]) => reply(
            200,
            &json!({
                "url": state.url,
                "shards": state.shards_recommended,
                "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 86_400_000, "max_concurrency": state.max_concurrency},
            }),
        ),
        ("GET", ["gateway"]) => reply(200, &json!({"url": state.url})),
        ("GET", ["users", "@me"]) => reply(200, &payloads::current_user(&bot)),
        ("POST", ["users", "@me", "channels"]) => {
            let user = body["recipient_id"].as_str().map_or(0, id);
            let Some(recipient) = state.users.get(&user).cloned() else {
                return error(400, 50_033, "Invalid Recipient(s)");
            };
            let channel = if let Some(c) = state.dm_channels.get(&user) {
                *c
            } else {
                let c = state.next_id();
                state.dm_channels.insert(user, c);
                state.channels.insert(
                    c,
                    ChannelModel {
                        id: c,
                        guild: None,
                        kind: ChannelKind::Dm,
                        name: String::new(),
                        nsfw: false,
                        parent: None,
                        overwrites: Vec::new(),
                    },
                );
                c
            };
            reply(200, &payloads::dm_channel(channel, &recipient))
        }
        ("PUT", ["applications", _, "commands"] | ["applications", _, "guilds", _, "commands"]) => {
            let mut commands = body.as_array().cloned().unwrap_or_default();
            for command in &mut commands {
                let new_id = state.next_id();
                command["id"] = json!(new_id.to_string());
                command["application_id"] = json!(state.application.to_string());
                command["version"] = json!("1");
            }
            reply(200, &Value::Array(commands))
        }
        ("GET", ["channels", c]) => match state.channels.get(&id(c)) {
            Some(channel) if channel.kind == ChannelKind::Dm => {
                let recipient = state
                    .dm_channels
                    .iter()
                    .find(|(_, ch)| **ch == channel.id)
                    .and_then(|(u, _)| state.users.get(u))
                    .cloned()
                    .unwrap_or_else(|| bot.clone());
                reply(200, &payloads::dm_channel(channel.id, &recipient))
            }
            Some(channel) => reply(200, &payloads::channel(channel)),
            None => error(404, 10_003, "Unknown Channel"),
        },
        ("POST", ["channels", c, "messages"]) => {
            let channel = id(c);
            let Some(model) = state.channels.get(&channel).cloned() else {
                return error(404, 10_003, "Unknown Channel");
            };
            if model.kind == ChannelKind::Dm {
                let closed = state
                    .dm_channels
                    .iter()
                    .find(|(_, ch)| **ch == channel)
                    .and_then(|(u, _)| state.users.get(u))
                    .is_some_and(|u| u.dms_closed);
                if closed {
                    return error(403, 50_007, "Cannot send messages to this user");
                }
            }
            let nonce = body["nonce"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| body["nonce"].as_u64().map(|n| n.to_string()));
            if body["enforce_nonce"] == Value::Bool(true)
                && let Some(nonce) = &nonce
                && let Some(first) = state
                    .nonces
                    .get(&(channel, nonce.clone()))
                    .and_then(|id| state.messages.get(id))
            {
                // Discord: a second create with the same nonce returns the first message.
                return reply(200, &payloads::message(first, &bot));
            }
            let message = MessageModel {
                id: state.next_id(),
                channel,
                guild: model.guild,
                author: bot.id,
                content: body["content"].as_str().unwrap_or_default().to_owned(),
                embeds: body.get("embeds").cloned().unwrap_or_else(|| json!([])),
                webhook: None,
                reply_to: body["message_reference"]["message_id"].as_str().map(id),
                username: None,
                thread: None,
                nonce,
            };
            let out = payloads::message(&message, &bot);
            if let Some(nonce) = &message.nonce {
                // No live message has this nonce here (else it was returned above).
                state.nonces.insert((channel, nonce.clone()), message.id);
            }
            state.messages.insert(message.id, message);
            reply(200, &out)
        }
        ("GET", ["channels", c, "messages"]) => {
            let channel = id(c);
            let before = query_param(query, "before").map(id);
            let after = query_param(query, "after").map(id);
            let limit = query_param(query, "limit")
                .map_or(50, |l| l.parse().unwrap_or(50))
                .min(100);
            let mut list: Vec<&MessageModel> = state
                .messages
                .values()
                .filter(|m| {
                    m.channel == channel
                        && before.is_none_or(|b| m.id < b)
                        && after.is_none_or(|a| m.id > a)
                })
                .collect();
            list.sort_by_key(|m| std::cmp::Reverse(m.id));
            let out: Vec<Value> = list
                .into_iter()
                .take(limit)
                .map(|m| {
                    let author = state
                        .users
                        .get(&m.author)
                        .cloned()
                        .unwrap_or_else(|| bot.clone());
                    payloads::message(m, &author)
                })
                .collect();
            reply(200, &Value::Array(out))
        }
        ("PATCH", ["channels", _, "messages", m]) => match state.messages.get_mut(&id(m)) {
            Some(message) => {
                if let Some(content) = body["content"].as_str() {
                    content.clone_into(&mut message.content);
                }
                let out = payloads::message(message, &bot);
                reply(200, &out)
            }
            None => error(404, 10_008, "Unknown Message"),
        },
        ("DELETE", ["channels", _, "messages", m]) => match state.messages.remove(&id(m)) {
            Some(_) => no_content(),
            None => error(404, 10_008, "Unknown Message"),
        },
        ("POST", ["channels", _, "typing"]) => no_content(),
        ("GET", ["channels", c, "webhooks"]) => {
            let channel = id(c);
            let list: Vec<Value> = state
                .webhooks
                .values()
                .filter(|w| w.channel == channel)
                .map(|w| payloads::webhook(w, state.application))
                .collect();
            reply(200, &Value::Array(list))
        }
        ("POST", ["channels", c, "webhooks"]) => {
            let channel = id(c);
            let Some(model) = state.channels.get(&channel).cloned() else {
                return error(404, 10_003, "Unknown Channel");
            };
            if model.kind.is_thread() || model.kind == ChannelKind::Dm {
                return error(400, 50_024, "Cannot execute action on this channel type");
            }
            if state
                .webhooks
                .values()
                .filter(|w| w.channel == channel)
                .count()
                >= 15
            {
                return error(400, 30_007, "Maximum number of webhooks reached (15)");
            }
            let webhook = WebhookModel {
                id: state.next_id(),
                token: format!("webhook-token-{}", state.next_id),
                channel,
                guild: model.guild,
                name: body["name"].as_str().unwrap_or("webhook").to_owned(),
            };
            let out = payloads::webhook(&webhook, state.application);
            state.webhooks.insert(webhook.id, webhook);
            reply(200, &out)
        }
        ("POST", ["webhooks", w, token]) => execute_webhook(state, id(w), token, query, body),
        ("PATCH", ["webhooks", _, _, "messages", _]) => {
            let message = MessageModel {
                id: state.next_id(),
                channel: 1,
                guild: None,
                author: bot.id,
                content: body["content"].as_str().unwrap_or_default().to_owned(),
                embeds: body.get("embeds").cloned().unwrap_or_else(|| json!([])),
                webhook: None,
                reply_to: None,
                username: None,
                thread: None,
                nonce: None,
            };
            reply(200, &payloads::message(&message, &bot))
        }
        ("DELETE", ["webhooks", _, _, "messages", _]) => no_content(),
        ("POST", ["interactions", i, _, "callback"]) => {
            state.interaction_callbacks.push((id(i), body.clone()));
            no_content()
        }
        ("GET", ["guilds", g]) => match state.guilds.get(&id(g)) {
            Some(guild) => {
                let channels: Vec<_> = Vec::new();
                reply(200, &payloads::guild(guild, &channels))
            }
            None => error(404, 10_004, "Unknown Guild"),
        },
        ("GET", ["guilds", g, "roles"]) => match state.guilds.get(&id(g)) {
            Some(guild) => reply(
                200,
                &Value::Array(
                    guild
                        .roles
                        .iter()
                        .map(|(r, p)| payloads::role(*r, *p))
                        .collect(),
                ),
            ),
            None => error(404, 10_004, "Unknown Guild"),
        },
        ("GET", ["guilds", g, "channels"]) => {
            let guild = id(g);
            let list: Vec<Value> = state
                .channels
                .values()
                .filter(|c| c.guild == Some(guild) && !c.kind.is_thread())
                .map(payloads::channel)
                .collect();
            reply(200, &Value::Array(list))
        }
        ("GET", ["guilds", g, "members", u]) => match state.members.get(&(id(g), id(u))) {
            Some(roles) => {
                let user = state.users.get(&id(u)).cloned();
                reply(200, &payloads::member(roles, None, None, user.as_ref()))
            }
            None => error(404, 10_007, "Unknown Member"),
        },
        _ => error(404, 0, "404: Not Found"),
    }
}

fn execute_webhook(
    state: &mut State,
    webhook: u64,
    token: &str,
    query: &str,
    body: &Value,
) -> Response {
    let Some(model) = state.webhooks.get(&webhook).cloned() else {
        return error(404, 10_015, "Unknown Webhook");
    };
    if model.token != token {
        return error(401, 50_027, "Invalid Webhook Token");
    }
    let username = body["username"].as_str().unwrap_or(&model.name).to_owned();
    let lower = username.to_lowercase();
    if lower.contains("discord") || lower.contains("clyde") || username.chars().count() > 80 {
        return error(400, 50_035, "Invalid Form Body (username)");
    }
    let thread = query_param(query, "thread_id").map(id);
    if let Some(thread) = thread {
        let ok = state
            .channels
            .get(&thread)
            .is_some_and(|t| t.kind.is_thread() && t.parent == Some(model.channel));
        if !ok {
            return error(400, 10_003, "Unknown Channel");
        }
    }
    let message = MessageModel {
        id: state.next_id(),
        channel: thread.unwrap_or(model.channel),
        guild: model.guild,
        author: webhook,
        content: body["content"].as_str().unwrap_or_default().to_owned(),
        embeds: body.get("embeds").cloned().unwrap_or_else(|| json!([])),
        webhook: Some(webhook),
        reply_to: None,
        username: Some(username.clone()),
        thread,
        nonce: None,
    };
    let author = UserModel {
        id: webhook,
        name: username,
        global_name: None,
        bot: true,
        dms_closed: false,
    };
    let out = payloads::message(&message, &author);
    state.messages.insert(message.id, message);
    if query_param(query, "wait") == Some("true") {
        reply(200, &out)
    } else {
        no_content()
    }
}
