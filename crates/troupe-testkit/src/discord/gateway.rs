//! The fake gateway: HELLO, IDENTIFY → READY (+ GUILD_CREATE), heartbeats and their ACKs,
//! RESUME → replay + RESUMED, and the controls (dispatch, close, drop, reconnect, invalid
//! session).

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Shared;
use super::model::{Connection, Outgoing, SessionModel, State};
use super::payloads;

/// Serves one gateway connection until either side closes it.
pub(super) async fn connection(mut socket: WebSocket, shared: Arc<Shared>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (id, interval) = {
        let mut state = shared.lock();
        state.next_connection += 1;
        let id = state.next_connection;
        state.connections.push(Connection {
            id,
            session: None,
            tx: tx.clone(),
        });
        (id, state.heartbeat_interval_ms)
    };
    let hello = json!({"op": 10, "d": {"heartbeat_interval": interval}, "s": null, "t": null});
    if socket
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_ok()
    {
        loop {
            tokio::select! {
                incoming = socket.recv() => match incoming {
                    Some(Ok(Message::Text(text))) => on_client(&shared, id, &tx, text.as_str()),
                    Some(Ok(Message::Close(frame))) => {
                        let code = frame.as_ref().map_or(1005, |f| f.code);
                        shared.lock().client_closes.push(code);
                        // Reading on lets the WebSocket echo the close (as Discord does), so the
                        // client sees it confirmed; the next read then ends the connection.
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break,
                },
                out = rx.recv() => match out {
                    Some(Outgoing::Text(text)) => {
                        if socket.send(Message::Text(text.into())).await.is_err() {
                            break;
                        }
                    }
                    Some(Outgoing::Close(code)) => {
                        let _ = socket
                            .send(Message::Close(Some(CloseFrame { code, reason: "".into() })))
                            .await;
                        break;
                    }
                    Some(Outgoing::Drop) | None => break,
                },
            }
        }
    }
    shared.lock().connections.retain(|c| c.id != id);
}

fn on_client(shared: &Shared, connection: u64, tx: &mpsc::UnboundedSender<Outgoing>, text: &str) {
    let Ok(payload) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let mut state = shared.lock();
    match payload["op"].as_u64() {
        Some(1) => {
            state.heartbeats += 1;
            state
                .heartbeat_log
                .push((connection, std::time::Instant::now()));
            if state.ack_heartbeats {
                let _ = tx.send(Outgoing::Text(
                    json!({"op": 11, "d": null, "s": null, "t": null}).to_string(),
                ));
            }
        }
        Some(2) => identify(&mut state, connection, tx, &payload["d"]),
        Some(6) => resume(&mut state, connection, tx, &payload["d"]),
        _ => {}
    }
}

fn identify(state: &mut State, connection: u64, tx: &mpsc::UnboundedSender<Outgoing>, d: &Value) {
    let token = d["token"].as_str().unwrap_or_default();
    if token.trim_start_matches("Bot ") != super::TOKEN {
        let _ = tx.send(Outgoing::Close(4004));
        return;
    }
    let shard = [
        d["shard"][0].as_u64().unwrap_or(0) as u32,
        d["shard"][1].as_u64().unwrap_or(1) as u32,
    ];
    state.identifies.push(shard);
    state.identify_log.push((shard, std::time::Instant::now()));
    // A new session replaces the shard's old one.
    state.sessions.retain(|_, s| s.shard != shard);
    let session = format!("session-{}-{}", shard[0], state.identifies.len());
    state.sessions.insert(
        session.clone(),
        SessionModel {
            shard,
            seq: 0,
            log: Vec::new(),
        },
    );
    if let Some(c) = state.connections.iter_mut().find(|c| c.id == connection) {
        c.session = Some(session.clone());
    }
    let guilds: Vec<u64> = state
        .guilds
        .keys()
        .copied()
        .filter(|g| State::shard_of(Some(*g), shard[1]) == shard[0])
        .collect();
    let Some(bot) = state.bot.clone() else {
        return;
    };
    let ready = payloads::ready(
        &bot,
        state.application,
        &session,
        &state.url,
        shard,
        &guilds,
    );
    send_in_session(state, &session, "READY", ready);
    for guild in guilds {
        let Some(model) = state.guilds.get(&guild).cloned() else {
            continue;
        };
        let channels: Vec<_> = state
            .channels
            .values()
            .filter(|c| c.guild == Some(guild))
            .cloned()
            .collect();
        let refs: Vec<_> = channels.iter().collect();
        let body = payloads::guild(&model, &refs);
        send_in_session(state, &session, "GUILD_CREATE", body);
    }
    let pending = std::mem::take(&mut state.pending);
    for (guild, kind, d) in pending {
        if State::shard_of(guild, shard[1]) == shard[0] {
            send_in_session(state, &session, &kind, d);
        } else {
            state.pending.push((guild, kind, d));
        }
    }
}

fn resume(state: &mut State, connection: u64, tx: &mpsc::UnboundedSender<Outgoing>, d: &Value) {
    let session = d["session_id"].as_str().unwrap_or_default().to_owned();
    let seq = d["seq"].as_u64().unwrap_or(0);
    let Some(model) = state.sessions.get(&session) else {
        let _ = tx.send(Outgoing::Text(
            json!({"op": 9, "d": false, "s": null, "t": null}).to_string(),
        ));
        return;
    };
    state.resumes += 1;
    for (s, frame) in &model.log {
        if *s > seq {
            let _ = tx.send(Outgoing::Text(frame.clone()));
        }
    }
    if let Some(c) = state.connections.iter_mut().find(|c| c.id == connection) {
        c.session = Some(session.clone());
    }
    send_in_session(state, &session, "RESUMED", json!({}));
}

/// Appends a dispatch to the session's log and sends it if a connection is attached.
pub(super) fn send_in_session(state: &mut State, session: &str, kind: &str, d: Value) {
    let Some(model) = state.sessions.get_mut(session) else {
        return;
    };
    model.seq += 1;
    // Discord's own key order (`t`, `s`, `op`, `d`): a client that looks for the header keys
    // (twilight does) finds them before the payload, as it does against Discord. `json!` would
    // sort them and put `d` first.
    let frame = format!(
        r#"{{"t":{},"s":{},"op":0,"d":{d}}}"#,
        Value::from(kind),
        model.seq
    );
    model.log.push((model.seq, frame.clone()));
    if let Some(c) = state
        .connections
        .iter()
        .find(|c| c.session.as_deref() == Some(session))
    {
        let _ = c.tx.send(Outgoing::Text(frame));
    }
}

/// Dispatches an event to the shard that owns `guild` (shard 0 for DMs).
pub(super) fn dispatch(state: &mut State, guild: Option<u64>, kind: &str, d: Value) {
    let session = state
        .sessions
        .iter()
        .find(|(_, s)| State::shard_of(guild, s.shard[1]) == s.shard[0])
        .map(|(id, _)| id.clone());
    match session {
        Some(session) => send_in_session(state, &session, kind, d),
        None => state.pending.push((guild, kind.to_owned(), d)),
    }
}
