//! The loopback HTTP servers of the fakes (AI provider, OAuth, PluralKit) start the same way.

use std::net::SocketAddr;

use tokio::task::JoinHandle;

/// Serves `app` on an ephemeral port of 127.0.0.1 until the returned task is aborted.
///
/// # Panics
/// When no loopback port can be bound (the test cannot run).
pub(crate) async fn serve(app: axum::Router) -> (SocketAddr, JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("a bound address");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, task)
}
