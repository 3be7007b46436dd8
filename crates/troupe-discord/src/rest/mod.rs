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

mod errors;
mod gate;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use troupe_ports::SharedRateLimit;

use twilight_http::Client;

pub use errors::{RestError, code};
use gate::GlobalGate;

use crate::config::DiscordConfig;

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
}

impl Rest {
    /// Must be called inside a tokio runtime (twilight's rate limiter spawns a task).
    pub(crate) fn new(config: &DiscordConfig) -> Self {
        let mut builder = Client::builder()
            .token(config.token.clone())
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
        Self {
            http: builder.build(),
            gate,
        }
    }

    pub(crate) fn http(&self) -> &Client {
        &self.http
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

    /// One try of a request subject to the global limit (`global`: it counts against it) that
    /// must not be repeated blindly.
    pub(crate) async fn once<T, Fut>(&self, global: bool, call: Fut) -> Result<T, RestError>
    where
        Fut: Future<Output = Result<T, RestError>>,
    {
        if global && let Some(gate) = &self.gate {
            gate.acquire().await?;
        }
        call.await
    }

    /// Sends only if a global slot is free right now; `Ok(false)` when skipped. Never retried.
    pub(crate) async fn best_effort<Fut>(&self, call: Fut) -> Result<bool, RestError>
    where
        Fut: Future<Output = Result<(), RestError>>,
    {
        if let Some(gate) = &self.gate
            && !gate.try_now().await
        {
            return Ok(false);
        }
        call.await.map(|()| true)
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
        if let Some(gate) = gate {
            gate.acquire().await?;
        }
        match call().await {
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
