//! `troupe gateway` (gateway/worker mode, ADR 0045): `troupe run`'s gateway side only. It holds
//! this process's shards (resumed across restarts as in `run`) and publishes every message and
//! interaction to NATS JetStream for `troupe worker` processes; it handles none itself. Logic
//! deploys replace workers: the gateway keeps its Discord sessions.

use std::process::ExitCode;
use std::sync::Arc;

use troupe_ports::EventRelay;

use crate::config::Config;
use crate::run::RunOptions;

/// Runs the gateway until SIGTERM or SIGINT.
pub async fn run(config: Config, options: RunOptions) -> anyhow::Result<ExitCode> {
    let broker = config.broker.connect("gateway").await?;
    tracing::info!(stream = %config.broker.stream, "publishing gateway events to NATS JetStream");
    let options = RunOptions {
        relay: Some(Arc::new(broker.relay()) as Arc<dyn EventRelay>),
        ..options
    };
    crate::run::run(config, options).await
}
