//! `custodia serve`: the HTTP server.

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use custodia_engine::Store;

/// The application's routes.
pub fn router(store: Store) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .with_state(store)
}

async fn healthz(
    axum::extract::State(store): axum::extract::State<Store>,
) -> (axum::http::StatusCode, &'static str) {
    match store.organisations().await {
        Ok(_) => (axum::http::StatusCode::OK, "ok\n"),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "store unavailable\n",
            )
        }
    }
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn run(store: Store, listen: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    // Tests read this line to learn the port when they pass port 0.
    println!("listening on http://{local}");
    tracing::info!(%local, "serving");
    axum::serve(listener, router(store.clone()))
        .with_graceful_shutdown(shutdown())
        .await?;
    store.close().await;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
