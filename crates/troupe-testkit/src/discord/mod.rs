//! A fake Discord for end-to-end tests and benchmarks: one loopback server speaking the gateway
//! WebSocket (HELLO, IDENTIFY → READY whose `resume_gateway_url` points back here, GUILD_CREATE,
//! heartbeat ACKs, RESUME → replay of missed dispatches → RESUMED, RECONNECT, INVALID_SESSION,
//! close codes) and the REST routes the bot uses (messages, webhooks, interactions, channels,
//! guilds, members, roles, DMs) over an in-memory model.
//!
//! It records every REST request, injects gateway events (messages, slash commands, malformed
//! payloads), forces disconnects, can stop acknowledging heartbeats, and answers with
//! Discord-shaped errors, 5xx and 429s carrying correct rate-limit headers. Point twilight at it
//! with `ConfigBuilder::proxy_url(fake.gateway_url())` and
//! `Client::builder().proxy(fake.api_proxy(), true)`.

mod gateway;
mod model;
mod payloads;
mod rest;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State as AxumState;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use serde_json::{Value, json};

pub use model::{
    ChannelKind, ChannelModel, Fault, FaultKind, GuildModel, MessageModel, Overwrite,
    RecordedRequest, UserModel, WebhookModel,
};
use model::{Outgoing, State};

/// The bot token the fake accepts (REST `Authorization: Bot …` and gateway IDENTIFY).
pub const TOKEN: &str = "fake-discord-token";

/// Discord permission bits the tests use.
pub mod perms {
    pub const ADMINISTRATOR: u64 = 1 << 3;
    pub const MANAGE_MESSAGES: u64 = 1 << 13;
    pub const VIEW_CHANNEL: u64 = 1 << 10;
    pub const SEND_MESSAGES: u64 = 1 << 11;
    /// What `@everyone` has by default in the fake.
    pub const MEMBER: u64 = VIEW_CHANNEL | SEND_MESSAGES;
}

pub(crate) struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The fake Discord server (stops when dropped).
pub struct FakeDiscord {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeDiscord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeDiscord")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn upgrade(ws: WebSocketUpgrade, AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    if shared.lock().gateway_down {
        return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    ws.on_upgrade(move |socket| gateway::connection(socket, shared))
}

/// The id of the fake's bot user.
pub const BOT_USER: u64 = 900_000_000_000_000_001;
/// The id of the fake's application.
pub const APPLICATION: u64 = 900_000_000_000_000_002;

impl FakeDiscord {
    /// Starts a fake on 127.0.0.1 (a free port), with the bot user and no guilds.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let mut state = State {
            url: format!("ws://{addr}"),
            application: APPLICATION,
            shards_recommended: 1,
            next_id: 500_000_000_000_000_000,
            ack_heartbeats: true,
            heartbeat_interval_ms: 41_250,
            ..State::default()
        };
        let bot = UserModel {
            id: BOT_USER,
            name: "Troupe".into(),
            global_name: None,
            bot: true,
            dms_closed: false,
        };
        state.users.insert(bot.id, bot.clone());
        state.bot = Some(bot);
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
        });
        let app = Router::new()
            .route("/", get(upgrade))
            .fallback(rest::handle)
            .with_state(Arc::clone(&shared));
        // No Nagle delay on the fake's side: a gateway frame written while the previous one
        // waits for its (delayed) acknowledgement would otherwise leave up to 40 ms late, and
        // the benchmarks would time the fake's TCP stack, not the bot.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            shared,
            addr,
            server,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://127.0.0.1:PORT` for `ConfigBuilder::proxy_url`.
    pub fn gateway_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// `127.0.0.1:PORT` for `Client::builder().proxy(…, true)`.
    pub fn api_proxy(&self) -> String {
        self.addr.to_string()
    }

    // ---- the model ----

    /// Adds a guild owned by `owner`, whose `@everyone` role (id = guild id) has
    /// [`perms::MEMBER`]. Add it before the bot connects to have it in READY/GUILD_CREATE.
    pub fn add_guild(&self, guild: u64, owner: u64) {
        self.add_user(owner, &format!("owner-{owner}"));
        self.lock().guilds.insert(
            guild,
            GuildModel {
                id: guild,
                name: format!("guild-{guild}"),
                owner,
                roles: vec![(guild, perms::MEMBER)],
            },
        );
    }

    /// Adds (or replaces) a role with these permission bits.
    pub fn add_role(&self, guild: u64, role: u64, permissions: u64) {
        if let Some(g) = self.lock().guilds.get_mut(&guild) {
            g.roles.retain(|(r, _)| *r != role);
            g.roles.push((role, permissions));
        }
    }

    /// Adds a channel, thread or forum post.
    pub fn add_channel(&self, channel: ChannelModel) {
        self.lock().channels.insert(channel.id, channel);
    }

    /// A guild text channel.
    pub fn add_text_channel(&self, guild: u64, channel: u64, name: &str, nsfw: bool) {
        self.add_channel(ChannelModel {
            id: channel,
            guild: Some(guild),
            kind: ChannelKind::Text,
            name: name.to_owned(),
            nsfw,
            parent: None,
            overwrites: Vec::new(),
        });
    }

    /// A public thread (or, when `parent` is a forum, a forum post) under `parent`.
    pub fn add_thread(&self, guild: u64, parent: u64, thread: u64, name: &str) {
        self.add_channel(ChannelModel {
            id: thread,
            guild: Some(guild),
            kind: ChannelKind::PublicThread,
            name: name.to_owned(),
            nsfw: false,
            parent: Some(parent),
            overwrites: Vec::new(),
        });
    }

    /// Adds a permission overwrite to a channel.
    pub fn add_overwrite(&self, channel: u64, overwrite: Overwrite) {
        if let Some(c) = self.lock().channels.get_mut(&channel) {
            c.overwrites.push(overwrite);
        }
    }

    /// Adds a user (idempotent).
    pub fn add_user(&self, user: u64, name: &str) {
        self.lock().users.entry(user).or_insert_with(|| UserModel {
            id: user,
            name: name.to_owned(),
            global_name: None,
            bot: false,
            dms_closed: false,
        });
    }

    /// Makes `user` a member of `guild` with these roles.
    pub fn add_member(&self, guild: u64, user: u64, roles: &[u64]) {
        self.add_user(user, &format!("user-{user}"));
        self.lock().members.insert((guild, user), roles.to_vec());
    }

    /// DMs to `user` fail with 50007 while closed.
    pub fn set_dms_closed(&self, user: u64, closed: bool) {
        if let Some(u) = self.lock().users.get_mut(&user) {
            u.dms_closed = closed;
        }
    }

    /// The shard count `GET /gateway/bot` recommends.
    pub fn set_recommended_shards(&self, shards: u32) {
        self.lock().shards_recommended = shards.max(1);
    }

    /// The `max_concurrency` `GET /gateway/bot` announces (identifies allowed per 5 s, one per
    /// bucket `shard % max_concurrency`); 0 (the default) asks for no pacing.
    pub fn set_max_concurrency(&self, max_concurrency: u32) {
        self.lock().max_concurrency = max_concurrency;
    }

    /// Deletes a webhook as a server admin would (the bot then gets Unknown Webhook).
    pub fn delete_webhook(&self, webhook: u64) {
        self.lock().webhooks.remove(&webhook);
    }

    // ---- gateway controls ----

    /// Heartbeat interval announced in HELLO (for connections made after the call).
    pub fn set_heartbeat_interval(&self, interval: Duration) {
        self.lock().heartbeat_interval_ms = interval.as_millis() as u64;
    }

    /// Stops (or resumes) acknowledging heartbeats.
    pub fn set_heartbeat_acks(&self, ack: bool) {
        self.lock().ack_heartbeats = ack;
    }

    /// Dispatches an event (`t` = `kind`) to the shard owning `guild` (shard 0 for DMs).
    pub fn inject(&self, guild: Option<u64>, kind: &str, d: Value) {
        gateway::dispatch(&mut self.lock(), guild, kind, d);
    }

    /// Sends a raw text frame on every connection (e.g. a malformed payload).
    pub fn inject_raw(&self, text: &str) {
        for c in &self.lock().connections {
            let _ = c.tx.send(Outgoing::Text(text.to_owned()));
        }
    }

    /// Closes every gateway connection with `code` (4000: resumable; 4004: fatal).
    pub fn close_connections(&self, code: u16) {
        for c in &self.lock().connections {
            let _ = c.tx.send(Outgoing::Close(code));
        }
    }

    /// An outage (`true`): every gateway connection drops and new ones are refused (HTTP 503
    /// on the upgrade) until it ends (`false`). Sessions survive, so they can be resumed.
    pub fn set_gateway_down(&self, down: bool) {
        let mut state = self.lock();
        state.gateway_down = down;
        if down {
            for c in &state.connections {
                let _ = c.tx.send(Outgoing::Drop);
            }
        }
    }

    /// The longest time between two heartbeats of one connection so far (`None` before a
    /// connection sent two).
    pub fn max_heartbeat_gap(&self) -> Option<Duration> {
        let state = self.lock();
        let mut last: std::collections::HashMap<u64, Instant> = std::collections::HashMap::new();
        let mut worst = None;
        for (connection, at) in &state.heartbeat_log {
            if let Some(previous) = last.insert(*connection, *at) {
                let gap = at.duration_since(previous);
                worst = Some(worst.map_or(gap, |w: Duration| w.max(gap)));
            }
        }
        worst
    }

    /// Drops every gateway connection without a close frame.
    pub fn drop_connections(&self) {
        for c in &self.lock().connections {
            let _ = c.tx.send(Outgoing::Drop);
        }
    }

    /// Sends RECONNECT (op 7) on every connection.
    pub fn request_reconnect(&self) {
        for c in &self.lock().connections {
            let _ = c.tx.send(Outgoing::Text(
                json!({"op": 7, "d": null, "s": null, "t": null}).to_string(),
            ));
        }
    }

    /// Sends INVALID_SESSION (op 9) on every connection.
    pub fn invalidate_sessions(&self, resumable: bool) {
        let mut state = self.lock();
        if !resumable {
            state.sessions.clear();
        }
        for c in &state.connections {
            let _ = c.tx.send(Outgoing::Text(
                json!({"op": 9, "d": resumable, "s": null, "t": null}).to_string(),
            ));
        }
    }

    /// A user message in `channel` (MESSAGE_CREATE with the member's roles in guilds).
    /// Returns the message id.
    pub fn send_message(&self, channel: u64, author: u64, content: &str) -> u64 {
        self.send_message_replying(channel, author, content, None)
    }

    /// Like [`Self::send_message`], replying to `reply_to`.
    pub fn send_message_replying(
        &self,
        channel: u64,
        author: u64,
        content: &str,
        reply_to: Option<u64>,
    ) -> u64 {
        self.add_user(author, &format!("user-{author}"));
        let mut state = self.lock();
        let guild = state.channels.get(&channel).and_then(|c| c.guild);
        if guild.is_none() && !state.channels.contains_key(&channel) {
            // An unknown channel without a guild is this user's DM channel.
            state.channels.insert(
                channel,
                ChannelModel {
                    id: channel,
                    guild: None,
                    kind: ChannelKind::Dm,
                    name: String::new(),
                    nsfw: false,
                    parent: None,
                    overwrites: Vec::new(),
                },
            );
            state.dm_channels.insert(author, channel);
        }
        let message = MessageModel {
            id: state.next_id(),
            channel,
            guild,
            author,
            content: content.to_owned(),
            embeds: json!([]),
            webhook: None,
            reply_to,
            username: None,
            thread: None,
            nonce: None,
        };
        let Some(d) = message_create(&state, &message) else {
            return 0;
        };
        let id = message.id;
        state.injected_at.insert(id, Instant::now());
        state.messages.insert(id, message);
        gateway::dispatch(&mut state, guild, "MESSAGE_CREATE", d);
        id
    }

    /// Dispatches a user message sent earlier (by [`Self::send_message`]) once more, with the
    /// same id, as Discord replays events after a resume: a bot that answered it must not
    /// answer again. `false` when there is no such message.
    pub fn replay_message(&self, id: u64) -> bool {
        let mut state = self.lock();
        let Some(message) = state.messages.get(&id).cloned() else {
            return false;
        };
        let Some(d) = message_create(&state, &message) else {
            return false;
        };
        gateway::dispatch(&mut state, message.guild, "MESSAGE_CREATE", d);
        true
    }

    /// A message a proxy system (PluralKit, Tupperbox) re-posted in guild `channel` through its
    /// own webhook `webhook` (not one of the bot's) under `username`: MESSAGE_CREATE with
    /// `webhook_id`, the webhook as the author (a bot user, no member). Returns the message id.
    pub fn send_proxied(&self, channel: u64, webhook: u64, username: &str, content: &str) -> u64 {
        let mut state = self.lock();
        let guild = state.channels.get(&channel).and_then(|c| c.guild);
        let message = MessageModel {
            id: state.next_id(),
            channel,
            guild,
            author: webhook,
            content: content.to_owned(),
            embeds: json!([]),
            webhook: Some(webhook),
            reply_to: None,
            username: Some(username.to_owned()),
            thread: None,
            nonce: None,
        };
        let author = UserModel {
            id: webhook,
            name: username.to_owned(),
            global_name: None,
            bot: true,
            dms_closed: false,
        };
        let d = payloads::message(&message, &author);
        let id = message.id;
        state.injected_at.insert(id, Instant::now());
        state.messages.insert(id, message);
        gateway::dispatch(&mut state, guild, "MESSAGE_CREATE", d);
        id
    }

    /// A slash command (INTERACTION_CREATE) by `user` in `channel` with `(option, value)`
    /// pairs (strings, integers or booleans). Returns the interaction id.
    pub fn send_slash(
        &self,
        channel: u64,
        user: u64,
        command: &str,
        options: &[(&str, Value)],
    ) -> u64 {
        self.add_user(user, &format!("user-{user}"));
        let mut state = self.lock();
        let guild = state.channels.get(&channel).and_then(|c| c.guild);
        let id = state.next_id();
        let Some(author) = state.users.get(&user).cloned() else {
            return 0;
        };
        let options: Vec<Value> = options
            .iter()
            .map(|(name, value)| {
                let kind = match value {
                    Value::Bool(_) => 5,
                    Value::Number(_) => 4,
                    _ => 3,
                };
                json!({"name": name, "type": kind, "value": value})
            })
            .collect();
        let channel_json = match state.channels.get(&channel) {
            Some(c) => payloads::channel(c),
            None => json!({"id": channel.to_string(), "type": 1}),
        };
        let mut d = json!({
            "id": id.to_string(),
            "application_id": state.application.to_string(),
            "type": 2,
            "token": format!("interaction-token-{id}"),
            "version": 1,
            "data": {"id": "1", "name": command, "type": 1, "options": options},
            "channel": channel_json,
            "channel_id": channel.to_string(),
            "locale": "en-US",
            "app_permissions": "8",
            "entitlements": [],
            "authorizing_integration_owners": {},
            "attachment_size_limit": 10_485_760,
        });
        if let Some(g) = guild {
            let roles = state.members.get(&(g, user)).cloned().unwrap_or_default();
            let permissions = permissions_in(&state, g, channel, user, &roles);
            d["guild_id"] = json!(g.to_string());
            d["context"] = json!(0);
            d["member"] = payloads::member(&roles, None, Some(permissions), Some(&author));
        } else {
            d["context"] = json!(1);
            d["user"] = payloads::user(&author);
        }
        state.injected_at.insert(id, Instant::now());
        gateway::dispatch(&mut state, guild, "INTERACTION_CREATE", d);
        id
    }

    // ---- observation ----

    /// Every REST request so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// REST requests with this method whose path contains `path_contains`.
    pub fn requests_to(&self, method: &str, path_contains: &str) -> Vec<RecordedRequest> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.method == method && r.path.contains(path_contains))
            .cloned()
            .collect()
    }

    /// Number of REST requests so far.
    pub fn request_count(&self) -> usize {
        self.lock().requests.len()
    }

    /// The bot's messages replying to message `to` (prefix command replies).
    pub fn replies_to(&self, to: u64) -> Vec<MessageModel> {
        self.lock()
            .messages
            .values()
            .filter(|m| m.reply_to == Some(to) && m.author == BOT_USER)
            .cloned()
            .collect()
    }

    /// Messages in a channel (or thread), oldest first.
    pub fn messages_in(&self, channel: u64) -> Vec<MessageModel> {
        self.lock()
            .messages
            .values()
            .filter(|m| m.channel == channel)
            .cloned()
            .collect()
    }

    /// A stored message.
    pub fn message(&self, id: u64) -> Option<MessageModel> {
        self.lock().messages.get(&id).cloned()
    }

    /// The DM channel the fake created for `user`, if any.
    pub fn dm_channel_of(&self, user: u64) -> Option<u64> {
        self.lock().dm_channels.get(&user).copied()
    }

    /// Interaction callbacks (initial responses) for `interaction`: the JSON bodies.
    pub fn interaction_responses(&self, interaction: u64) -> Vec<Value> {
        self.lock()
            .interaction_callbacks
            .iter()
            .filter(|(i, _)| *i == interaction)
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// Edits of the original response of the interaction with this token.
    pub fn interaction_edits(&self, interaction: u64) -> Vec<Value> {
        let token = format!("/interaction-token-{interaction}/messages/@original");
        self.lock()
            .requests
            .iter()
            .filter(|r| r.method == "PATCH" && r.path.ends_with(&token))
            .map(|r| r.body.clone())
            .collect()
    }

    /// Webhooks the bot created and that still exist.
    pub fn webhooks(&self) -> Vec<WebhookModel> {
        self.lock().webhooks.values().cloned().collect()
    }

    /// IDENTIFYs received, as `[shard, total]`.
    pub fn identifies(&self) -> Vec<[u32; 2]> {
        self.lock().identifies.clone()
    }

    /// IDENTIFYs received with when each arrived, in arrival order.
    pub fn identify_log(&self) -> Vec<([u32; 2], Instant)> {
        self.lock().identify_log.clone()
    }

    /// RESUMEs accepted.
    pub fn resumes(&self) -> usize {
        self.lock().resumes
    }

    /// Heartbeats received.
    pub fn heartbeats(&self) -> usize {
        self.lock().heartbeats
    }

    /// Close codes the bot sent when it closed a connection.
    pub fn client_close_codes(&self) -> Vec<u16> {
        self.lock().client_closes.clone()
    }

    /// Open gateway connections that identified or resumed.
    pub fn live_sessions(&self) -> usize {
        self.lock()
            .connections
            .iter()
            .filter(|c| c.session.is_some())
            .count()
    }

    /// Injects a REST fault.
    pub fn fail(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Polls `check` every 5 ms until it holds or `timeout` passes; returns whether it held.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&Self) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if check(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// For every injected message answered by a bot reply (or interaction answered by a
    /// callback), the time from injection to the reply's REST request.
    pub fn reply_latencies(&self) -> Vec<Duration> {
        let state = self.lock();
        let mut seen = std::collections::HashSet::new();
        state
            .requests
            .iter()
            .filter_map(|r| {
                let source = if r.method == "POST" && r.path.ends_with("/messages") {
                    r.body["message_reference"]["message_id"]
                        .as_str()?
                        .parse()
                        .ok()?
                } else if r.method == "POST" && r.path.starts_with("/interactions/") {
                    r.path.split('/').nth(2)?.parse().ok()?
                } else {
                    return None;
                };
                let sent = state.injected_at.get(&source)?;
                seen.insert(source).then(|| r.at.duration_since(*sent))
            })
            .collect()
    }

    /// The most REST requests received within any one-second window.
    pub fn max_requests_per_second(&self) -> usize {
        let times: Vec<Instant> = self.lock().requests.iter().map(|r| r.at).collect();
        max_in_a_second(&times)
    }

    /// The most requests subject to Discord's global limit (every route but webhook executions
    /// with their token and interaction callbacks) received within any one-second window.
    pub fn max_global_requests_per_second(&self) -> usize {
        let times: Vec<Instant> = self
            .lock()
            .requests
            .iter()
            .filter(|r| r.is_global_limited())
            .map(|r| r.at)
            .collect();
        max_in_a_second(&times)
    }
}

/// The most of `times` (in order) within any one-second window.
fn max_in_a_second(times: &[Instant]) -> usize {
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end].duration_since(times[start]) >= Duration::from_secs(1) {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

/// Discord's permission computation (base from roles, then overwrites), for the member
/// permissions Discord puts in interactions.
fn permissions_in(state: &State, guild: u64, channel: u64, user: u64, roles: &[u64]) -> u64 {
    let Some(g) = state.guilds.get(&guild) else {
        return 0;
    };
    if g.owner == user {
        return u64::MAX >> 14;
    }
    let role = |id: u64| {
        g.roles
            .iter()
            .find(|(r, _)| *r == id)
            .map_or(0, |(_, p)| *p)
    };
    let mut base = role(guild);
    for r in roles {
        base |= role(*r);
    }
    if base & perms::ADMINISTRATOR != 0 {
        return u64::MAX >> 14;
    }
    let mut target = state.channels.get(&channel);
    if let Some(c) = target
        && c.kind.is_thread()
    {
        target = c.parent.and_then(|p| state.channels.get(&p));
    }
    let Some(c) = target else {
        return base;
    };
    let mut p = base;
    if let Some(o) = c.overwrites.iter().find(|o| o.role && o.id == guild) {
        p = (p & !o.deny) | o.allow;
    }
    let (mut allow, mut deny) = (0, 0);
    for o in c
        .overwrites
        .iter()
        .filter(|o| o.role && roles.contains(&o.id))
    {
        allow |= o.allow;
        deny |= o.deny;
    }
    p = (p & !deny) | allow;
    if let Some(o) = c.overwrites.iter().find(|o| !o.role && o.id == user) {
        p = (p & !o.deny) | o.allow;
    }
    p
}

/// The MESSAGE_CREATE payload of a user's `message` (with the member's roles in guilds and the
/// message it replies to); `None` when its author is unknown.
fn message_create(state: &State, message: &MessageModel) -> Option<Value> {
    let user = state.users.get(&message.author).cloned()?;
    let mut d = payloads::message(message, &user);
    if let Some(g) = message.guild {
        let roles = state
            .members
            .get(&(g, message.author))
            .cloned()
            .unwrap_or_default();
        d["member"] = payloads::member(&roles, None, None, None);
    }
    if let Some(r) = message.reply_to.and_then(|r| state.messages.get(&r)) {
        let author = state
            .users
            .get(&r.author)
            .cloned()
            .unwrap_or_else(|| user.clone());
        d["referenced_message"] = payloads::message(r, &author);
    }
    Some(d)
}
