//! Discord's REST API as the adapter uses it: twilight's client (per-route buckets, 429s and
//! the exempt routes are twilight-http-ratelimiting's business), the global-limit gate in front
//! of the requests that count against it, and the retry policies:
//!
//! - [`Rest::global`]: an idempotent request subject to the global limit (reads, edits,
//!   deletes, command registration, message creates made safe by a nonce): the gate before each
//!   attempt, transient failures tried again with backoff.
//! - [`Rest::exempt`]: an idempotent request on a route Discord exempts (interaction callbacks
//!   and edits): no gate, same retries.
//! - [`Rest::best_effort`]: only if a global slot is free right now, never retried (the typing
//!   indicator).
//!
//! Posts that are not idempotent (webhook executions, webhook creation) use [`Rest::once`] and
//! check before trying again (see `webhooks`).
//!
//! A global slot must be used at once: twilight may hold a request in its per-route queue (one
//! request in flight per bucket, an exhausted bucket waits for its reset), and a slot taken
//! long before the request leaves would let a later second hold more than the limit. So every
//! request built inside a slot goes through [`fresh`], which tells twilight to cancel it if it
//! would leave more than [`FRESH`] after the slot was taken; the wrappers then take a new slot
//! and send it again (a cancelled request never left, so this is always safe).

mod creates;
mod errors;
mod gate;

use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use twilight_http::response::ResponseFuture;
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, MessageMarker};

use troupe_ports::SharedRateLimit;

use twilight_http::Client;

use creates::{Creates, Origin};
pub use errors::{RestError, code};
use gate::GlobalGate;

use crate::config::DiscordConfig;

/// The longest a request may leave after its global slot was taken (the gate's window is
/// longer than Discord's second by more than this).
pub(crate) const FRESH: Duration = Duration::from_millis(200);
/// How often a request whose slot went stale is sent again before giving up (`Busy`).
const STALE_TRIES: u32 = 20;

tokio::task_local! {
    /// When the current request's global slot was taken.
    static SLOT: Instant;
}

/// The `User-Agent` of the adapter's own requests (Discord asks for this form).
const USER_AGENT: &str = concat!(
    "DiscordBot (",
    env!("CARGO_PKG_REPOSITORY"),
    ", ",
    env!("CARGO_PKG_VERSION"),
    ")"
);

/// Whether a request whose global slot was taken at `slot` may still leave.
fn fresh_since(slot: Instant) -> bool {
    slot.elapsed() <= FRESH
}

/// Whether the current request may still leave: its global slot (if any) is fresh.
fn slot_is_fresh() -> bool {
    SLOT.try_with(|slot| fresh_since(*slot)).unwrap_or(true)
}

/// The id of the message a create or a webhook execution returned, read from the response
/// body without decoding the whole message (author, embeds, mentions…) that nobody reads.
pub(crate) async fn created_id<T>(
    response: twilight_http::Response<T>,
) -> Result<Id<MessageMarker>, RestError> {
    created_id_in(&response.bytes().await?)
}

/// The id of the message in a create's response body (the rest is not decoded).
pub(crate) fn created_id_in(body: &[u8]) -> Result<Id<MessageMarker>, RestError> {
    #[derive(serde::Deserialize)]
    struct Created {
        id: Id<MessageMarker>,
    }
    serde_json::from_slice::<Created>(body)
        .map(|c| c.id)
        .map_err(|e| RestError::Decode(format!("created message: {e}")))
}

/// A twilight request that twilight cancels if it would leave more than [`FRESH`] after the
/// global slot it was built in (no slot: unchanged).
pub(crate) fn fresh<R, T>(request: R) -> ResponseFuture<T>
where
    R: IntoFuture<IntoFuture = ResponseFuture<T>>,
{
    let mut future = request.into_future();
    if let Ok(slot) = SLOT.try_with(|slot| *slot) {
        future.set_pre_flight(move || fresh_since(slot));
    }
    future
}

/// Runs `call` in a fresh global slot (when there is a gate), again while twilight cancels it
/// because the slot went stale in its queue.
async fn in_slot<T, F, Fut>(gate: Option<&GlobalGate>, call: &mut F) -> Result<T, RestError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RestError>>,
{
    let Some(gate) = gate else {
        return call().await;
    };
    let mut stale = 0;
    loop {
        let slot = gate.acquire().await?;
        match SLOT.scope(slot, call()).await {
            Err(e) if e.is_cancelled() && stale < STALE_TRIES => stale += 1,
            Err(e) if e.is_cancelled() => return Err(RestError::Busy),
            other => return other,
        }
    }
}

/// Backoff between tries of a transient failure.
pub(crate) const BACKOFF: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(400),
    Duration::from_millis(1200),
];

/// The REST side of the adapter.
#[derive(Debug)]
pub(crate) struct Rest {
    http: Client,
    gate: Option<GlobalGate>,
    /// Message creates on the adapter's own connections (ADR 0053); `None` when the token
    /// cannot be a header (twilight's client then reports it).
    creates: Option<Creates>,
}

impl Rest {
    /// Must be called inside a tokio runtime (twilight's rate limiter spawns a task).
    pub(crate) fn new(config: &DiscordConfig) -> Self {
        let mut builder = Client::builder()
            .token(secrecy::ExposeSecret::expose_secret(&config.token).to_owned())
            .timeout(config.rest_timeout);
        if let Some(proxy) = &config.api_proxy {
            builder = builder.proxy(proxy.clone(), true);
        }
        // twilight's own global limit (a fixed second) stays as a backstop; the gate keeps
        // every sliding window under it, so it never binds.
        let gate = config.rest_limit.clone().map(GlobalGate::new);
        if gate.is_none() {
            builder = builder.ratelimiter(None);
        }
        let http = builder.build();
        let origin = match &config.api_proxy {
            Some(proxy) => Origin::Plain(proxy.clone()),
            None => Origin::discord(),
        };
        let creates = http.token().and_then(|token| {
            Creates::new(
                origin,
                token,
                config.rest_timeout,
                http.ratelimiter().cloned(),
            )
        });
        Self {
            http,
            gate,
            creates,
        }
    }

    pub(crate) fn http(&self) -> &Client {
        &self.http
    }

    /// Creates a message in `channel` with the JSON `body` (which must carry an enforced
    /// nonce); the response's body. One try: the caller's policy ([`Rest::global`]) retries.
    pub(crate) async fn create_message(
        &self,
        channel: Id<ChannelMarker>,
        body: &[u8],
    ) -> Result<Vec<u8>, RestError> {
        if let Some(creates) = &self.creates {
            return creates.create(channel.get(), body).await;
        }
        let response = fresh(self.http.create_message(channel).payload_json(body)).await?;
        Ok(response.bytes().await?)
    }

    /// Shares the global limit through `shared` (no-op without a limit or when shared).
    pub(crate) fn share_global_limit(&self, shared: Arc<dyn SharedRateLimit>) -> bool {
        self.gate.as_ref().is_some_and(|gate| gate.share(shared))
    }

    /// An idempotent request subject to the global limit.
    pub(crate) async fn global<T, F, Fut>(
        &self,
        what: &'static str,
        call: F,
    ) -> Result<T, RestError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, RestError>>,
    {
        retry(what, self.gate.as_ref(), call).await
    }

    /// An idempotent request on a route exempt from the global limit.
    pub(crate) async fn exempt<T, F, Fut>(
        &self,
        what: &'static str,
        call: F,
    ) -> Result<T, RestError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, RestError>>,
    {
        retry(what, None, call).await
    }

    /// One try of a request that must not be repeated blindly (`global`: it counts against
    /// the global limit). Only a request twilight cancelled before it left is sent again.
    pub(crate) async fn once<T, F, Fut>(&self, global: bool, mut call: F) -> Result<T, RestError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, RestError>>,
    {
        let gate = if global { self.gate.as_ref() } else { None };
        in_slot(gate, &mut call).await
    }

    /// Sends only if a global slot is free right now; `Ok(false)` when skipped. Never retried.
    pub(crate) async fn best_effort<Fut>(&self, call: Fut) -> Result<bool, RestError>
    where
        Fut: Future<Output = Result<(), RestError>>,
    {
        let Some(gate) = &self.gate else {
            return call.await.map(|()| true);
        };
        let Some(slot) = gate.try_now().await else {
            return Ok(false);
        };
        match SLOT.scope(slot, call).await {
            Err(e) if e.is_cancelled() => Ok(false),
            other => other.map(|()| true),
        }
    }
}

/// Runs `call` until it succeeds, fails for good, or transient failures used up the retries;
/// waits for the gate (when given) before each attempt.
async fn retry<T, F, Fut>(
    what: &'static str,
    gate: Option<&GlobalGate>,
    mut call: F,
) -> Result<T, RestError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RestError>>,
{
    let mut attempt = 0;
    loop {
        match in_slot(gate, &mut call).await {
            Ok(value) => return Ok(value),
            Err(e) if e.is_ambiguous() && attempt < BACKOFF.len() => {
                tracing::warn!(request = what, error = %e, attempt, "Discord request failed; retrying");
                tokio::time::sleep(BACKOFF[attempt]).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}
