//! `custodia serve`: the HTTP API.

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::extract::{ConnectInfo, Json, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use custodia_engine::rules::{Action, Context as RequestContext, Request, ResourceRef};
use custodia_engine::{AccessControl, Error, OrgSlug, WorkerLogin};
use serde::Deserialize;

use crate::app::{App, org_of};

/// The application's routes.
pub fn router(access: AccessControl) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/decisions", post(decisions))
        .with_state(access)
}

async fn healthz(State(access): State<AccessControl>) -> (StatusCode, &'static str) {
    match access.store().organisations().await {
        Ok(_) => (StatusCode::OK, "ok\n"),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n")
        }
    }
}

/// The body of `POST /v1/decisions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionRequest {
    worker: WorkerLogin,
    action: Action,
    resource: ResourceRef,
    #[serde(default)]
    org: Option<OrgSlug>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    purpose: Option<String>,
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": message.to_string() })),
    )
        .into_response()
}

async fn decisions(
    State(access): State<AccessControl>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<DecisionRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let org = match org_of(access.store(), body.org.clone(), &body.worker).await {
        Ok(org) => org,
        Err(e) => return error(StatusCode::NOT_FOUND, e),
    };
    let mut context = RequestContext::new(Utc::now(), body.channel.unwrap_or_else(|| "api".into()));
    context.purpose = body.purpose;
    context.address = Some(peer.ip().to_string());
    let request = Request {
        worker: body.worker,
        action: body.action,
        resource: body.resource,
        context,
    };
    match access.decide(&org, &request).await {
        Ok(audited) => Json(audited).into_response(),
        Err(e @ Error::OrganisationNotFound(_)) => error(StatusCode::NOT_FOUND, e),
        // The audit log could not take the decision: fail closed.
        Err(e) => {
            tracing::error!(error = %e, "decision failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "decision unavailable: it could not be recorded",
            )
        }
    }
}

/// Serves until Ctrl-C or SIGTERM, then flushes the audit log.
pub async fn run(
    app: App,
    listen: SocketAddr,
    token_key: custodia_mailguard::TokenKey,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    // Tests read this line to learn the port when they pass port 0.
    println!("listening on http://{local}");
    tracing::info!(%local, "serving");
    let unsubscribe = custodia_mailguard::router(custodia_mailguard::UnsubscribeState {
        store: app.access.store().clone(),
        key: token_key,
        audit: app.access.audit().clone(),
    });
    let service = router(app.access.clone())
        .merge(unsubscribe)
        .into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown())
        .await?;
    app.close().await
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
