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
    #[cfg(unix)]
    tokio::spawn(reload_on_sighup(app.access.clone()));
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

/// `kill -HUP`: reload the rule packs. A pack that fails to compile or to
/// pass its tests leaves the packs in force untouched. Every attempt is
/// audited in every organisation's chain.
#[cfg(unix)]
async fn reload_on_sighup(access: AccessControl) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        let (detail, decision) = match access.rules().reload() {
            Ok(set) => {
                let packs: Vec<String> = set
                    .packs()
                    .iter()
                    .map(|p| format!("{} {}", p.name(), p.manifest.version))
                    .collect();
                (
                    format!("reloaded: {}", packs.join(", ")),
                    custodia_engine::rules::Effect::Allow,
                )
            }
            Err(e) => (
                format!("refused, previous packs kept: {e}"),
                custodia_engine::rules::Effect::Deny,
            ),
        };
        tracing::warn!(%detail, "rule packs reload");
        let Ok(orgs) = access.store().organisations().await else {
            continue;
        };
        for org in orgs {
            let mut event = custodia_engine::audit::AuditEvent::new(
                custodia_engine::audit::EventKind::RulesReload,
                Utc::now(),
            );
            event.decision = Some(decision);
            event.channel = Some("signal".into());
            event.detail = Some(detail.clone());
            if let Err(e) = access.audit().append(&org.slug, event).await {
                tracing::error!(error = %e, "reload not audited");
            }
        }
    }
}
