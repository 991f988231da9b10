//! The unsubscribe endpoints: `GET /u/{token}` shows a confirmation page
//! (GET and HEAD never unsubscribe: mail scanners fetch links), `POST
//! /u/{token}` unsubscribes at once (RFC 8058 one-click, and the form).

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use custodia_engine::{OrgSlug, Store};

use crate::address::Address;
use crate::suppression;
use crate::token::TokenKey;

/// What the endpoints need.
#[derive(Debug, Clone)]
pub struct UnsubscribeState {
    pub store: Store,
    pub key: TokenKey,
    /// How the opt-out's audit event names the address.
    pub pseudonyms: custodia_engine::audit::Pseudonyms,
}

/// The routes, to merge into the server.
pub fn router(state: UnsubscribeState) -> Router {
    Router::new()
        .route("/u/{token}", get(confirm).post(unsubscribe))
        .with_state(state)
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html("<!doctype html><title>Not found</title><p>Not found.</p>"),
    )
        .into_response()
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"es\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
         <link rel=\"stylesheet\" href=\"/static/custodia.css\"><link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\">\
         <body><header class=\"top\"><span class=\"brand\">Custodia</span></header><main><section class=\"narrow\">{body}</section></main></body></html>"
    ))
}

async fn confirm(State(state): State<UnsubscribeState>, Path(token): Path<String>) -> Response {
    if state.key.verify(&token).is_err() {
        return not_found();
    }
    page(
        "Darse de baja / Unsubscribe",
        "<h1>Darse de baja</h1><p>¿Quiere dejar de recibir comunicaciones comerciales? \
         / Do you want to stop receiving commercial emails?</p>\
         <form method=\"post\"><button type=\"submit\">Darme de baja / Unsubscribe</button></form>",
    )
    .into_response()
}

async fn unsubscribe(State(state): State<UnsubscribeState>, Path(token): Path<String>) -> Response {
    // A forged or altered token changes nothing and reveals nothing.
    let Ok(claims) = state.key.verify(&token) else {
        return not_found();
    };
    let (Ok(org), Ok(address)) = (
        OrgSlug::new(claims.org.clone()),
        Address::parse(&claims.address),
    ) else {
        return not_found();
    };
    let source = format!("campaign {}", claims.campaign);
    // The opt-out and its audit event commit together, or the caller is
    // told to try again: never "done" without the record.
    if let Err(e) = suppression::opt_out(
        &state.store,
        &org,
        &address,
        "email link",
        &source,
        &state.pseudonyms,
    )
    .await
    {
        tracing::error!(error = %e, "opt-out failed");
        return (StatusCode::SERVICE_UNAVAILABLE, "try again later").into_response();
    }
    // Messages already handed to SMTP finish first: once this answer is
    // given, nothing more reaches the address.
    wait_for_in_flight(&state.store, &org, &address).await;
    page(
        "Baja confirmada / Unsubscribed",
        "<h1>Baja confirmada</h1><p>No volverá a recibir comunicaciones comerciales nuestras. \
         / You will not receive commercial emails from us again.</p>",
    )
    .into_response()
}

async fn wait_for_in_flight(store: &Store, org: &OrgSlug, address: &Address) {
    for _ in 0..300 {
        let busy: Result<Option<(String,)>, _> = sqlx::query_as(
            "SELECT campaign FROM outbox WHERE org = $1 AND address = $2 AND state = 'sending'",
        )
        .bind(org.as_str())
        .bind(address.as_str())
        .fetch_optional(store.pool())
        .await;
        if !matches!(busy, Ok(Some(_))) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
