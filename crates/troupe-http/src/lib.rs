//! Troupe's HTTP adapter (axum): the health endpoints of operations.md §2 (`/health`,
//! `/health/features`, `/health/commands`, `/health/live`, `/health/ready`, `/health/fleet`), Prometheus
//! metrics at `/metrics` (the `metrics` facade and its Prometheus recorder, bounded labels), and
//! the admin API under `/admin` behind a bearer token (flags with a reason, the emergency
//! rollback, backup now, shadow mismatches, one command as the operator).
//!
//! The only crate that sees axum. It reads the application core (flags, router, shadow runner,
//! alert monitor) and the gateway port, and reaches the database and backups only through the
//! small traits of [`sources`] that the app implements: it knows nothing of sqlx, twilight or
//! the store. No response ever carries a secret.

pub mod admin;
pub mod health;
pub mod metrics;
pub mod sources;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post, put};

pub use crate::metrics::Metrics;
pub use crate::sources::{
    Activity, AdminConfig, BackupSummary, BackupTrigger, CommandReport, CommandRunner,
    DatabasePing, FleetConfirmation, FleetSource, HealthSources,
};

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub(crate) sources: Arc<HealthSources>,
    pub(crate) admin: Arc<AdminConfig>,
    pub(crate) metrics: Metrics,
    pub(crate) ping: Arc<sources::PingCache>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("sources", &self.sources)
            .field("admin", &self.admin)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Database pings are cached for 1 s, so `/health` under load costs one query a second.
    pub fn new(sources: Arc<HealthSources>, admin: AdminConfig, metrics: Metrics) -> Self {
        Self {
            sources,
            admin: Arc::new(admin),
            metrics,
            ping: Arc::new(sources::PingCache::new(Duration::from_secs(1))),
        }
    }

    pub fn sources(&self) -> &Arc<HealthSources> {
        &self.sources
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// Every route: health, metrics and the admin API.
pub fn router(state: AppState) -> Router {
    let admin = Router::new()
        .route("/flags", get(admin::list_flags))
        .route(
            "/flags/{name}",
            put(admin::set_flag)
                .post(admin::set_flag)
                .delete(admin::unset_flag),
        )
        .route("/rollback", post(admin::rollback))
        .route("/audit", get(admin::audit))
        .route("/backup", post(admin::backup))
        .route("/shadow/mismatches", get(admin::mismatches))
        .route("/commands", post(admin::run_command))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admin::require_token,
        ));
    Router::new()
        .route("/health", get(health::health))
        .route("/health/features", get(health::features))
        .route("/health/commands", get(health::commands))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/health/fleet", get(health::fleet))
        .route("/metrics", get(health::metrics))
        .nest("/admin", admin)
        .with_state(state)
}

/// Binds `addr` (loopback by default in the configuration); an error names the address.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot listen on {addr} (TROUPE_HTTP_ADDR): {e}"),
        )
    })
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
