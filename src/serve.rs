//! `custodia serve`: the HTTP API.

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::extract::{ConnectInfo, Json, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use custodia_engine::audit::{AuditEvent, EventKind};
use custodia_engine::rules::Effect;
use custodia_engine::rules::{Action, Context as RequestContext, Request, ResourceRef};
use custodia_engine::session::LoginOutcome;
use custodia_engine::{AccessControl, Error, OrgSlug, WorkerLogin};
use serde::Deserialize;

use crate::app::{App, org_of};

/// The application's routes.
pub fn router(access: AccessControl) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/login", post(login))
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

/// The body of `POST /v1/login`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    #[serde(default)]
    org: Option<OrgSlug>,
    login: WorkerLogin,
    password: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

/// Opens a session; every attempt, good or bad, is audited.
async fn login(
    State(access): State<AccessControl>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<LoginRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let refused = || error(StatusCode::UNAUTHORIZED, "wrong login or password");
    let Ok(org) = org_of(access.store(), body.org.clone(), &body.login).await else {
        return refused();
    };
    let Ok(scope) = access.store().org(&org).await else {
        return refused();
    };
    let outcome = match scope.login(&body.login, &body.password, Utc::now()).await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "login failed");
            return error(StatusCode::SERVICE_UNAVAILABLE, "login unavailable");
        }
    };
    let ok = matches!(outcome, LoginOutcome::LoggedIn { .. });
    let mut event = AuditEvent::new(
        if ok {
            EventKind::Login
        } else {
            EventKind::LoginFailed
        },
        Utc::now(),
    );
    event.worker = Some(body.login.to_string());
    event.address = Some(peer.ip().to_string());
    event.channel = Some("api".into());
    event.decision = Some(if ok { Effect::Allow } else { Effect::Deny });
    if let LoginOutcome::RateLimited { .. } = outcome {
        event.detail = Some("rate limited".into());
    }
    // Fail closed: a login that cannot be audited does not happen.
    if let Err(e) = access.audit().append(&org, event).await {
        tracing::error!(error = %e, "login not audited");
        return error(StatusCode::SERVICE_UNAVAILABLE, "login unavailable");
    }
    match outcome {
        LoginOutcome::LoggedIn { token, expires_at } => {
            Json(serde_json::json!({ "token": token, "expires_at": expires_at })).into_response()
        }
        LoginOutcome::Refused => refused(),
        LoginOutcome::RateLimited { retry_after } => error(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many failed logins: retry after {retry_after}"),
        ),
    }
}

/// The worker behind the request's bearer token.
async fn authenticated(
    access: &AccessControl,
    headers: &HeaderMap,
) -> Option<(OrgSlug, WorkerLogin)> {
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    access
        .store()
        .session(token.trim(), Utc::now())
        .await
        .ok()
        .flatten()
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

/// Decides a request of the logged-in worker (deny by default: no session,
/// no answer; a worker asks only about their own access).
async fn decisions(
    State(access): State<AccessControl>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<DecisionRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Some((org, worker)) = authenticated(&access, &headers).await else {
        return error(
            StatusCode::UNAUTHORIZED,
            "log in first: POST /v1/login, then send Authorization: Bearer TOKEN",
        );
    };
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    if body.worker != worker || body.org.as_ref().is_some_and(|o| o != &org) {
        return error(
            StatusCode::FORBIDDEN,
            format!("this session belongs to `{worker}`"),
        );
    }
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
    // Install the SIGHUP handler before announcing readiness: a signal
    // that arrives earlier would otherwise end the process.
    #[cfg(unix)]
    let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("cannot install the SIGHUP handler")?;
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
    tokio::spawn(reload_on_sighup(app.access.clone(), hup));
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
async fn reload_on_sighup(access: AccessControl, mut hup: tokio::signal::unix::Signal) {
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
