//! The web UI at `/`: server-rendered pages (askama) for workers, the
//! compliance officer and marketing, over the same core as the CLI and the
//! API. Who sees which section and which button is decided by the packs'
//! rules for the signed-in worker ([`Custodia::may`]); every action is
//! decided again, and audited, by the core when it is taken.
//!
//! No JavaScript: every flow is a link or a form, the send progress page
//! refreshes itself with `<meta http-equiv="refresh">`, and the CSP
//! forbids every script.

mod cookie;
mod csrf;
mod i18n;
mod page;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::Utc;
use custodia_app::{Custodia, Reader};
use custodia_engine::rules::{Action, Context, ResourceKind};
use custodia_engine::{OrgSlug, Sector, Worker};
use serde::Deserialize;

use crate::http::guard::ClientAddr;
pub use cookie::Jar;
pub use i18n::Lang;
use page::{Page, User, WebError};
pub use views::marketing::Sending;

/// What the pages need besides the core.
#[derive(Debug, Clone)]
pub struct Web {
    pub app: Custodia,
    pub jar: cookie::Jar,
    /// How campaigns are sent from the UI; `None` when `serve` was given no
    /// SMTP server (the send button then explains).
    pub sending: Option<Arc<Sending>>,
}

/// The signed-in worker of a request, with their session and language.
#[derive(Debug, Clone)]
pub struct Me {
    pub org: OrgSlug,
    pub worker: Worker,
    pub token: String,
    pub lang: Lang,
    pub reader: Reader,
    /// The sectors whose rule packs apply to the worker's firm.
    pub sectors: Vec<Sector>,
    pub page: Page,
}

impl Me {
    /// Whether the rules would let this worker take `action` on the firm's
    /// own records of `kind` (for menus and buttons; nothing is read).
    fn may(&self, web: &Web, action: Action, kind: ResourceKind) -> bool {
        web.app.may_office(
            &self.sectors,
            &self.worker,
            &self.reader.context,
            action,
            kind,
        )
    }

    /// Decides (and audits) an action on an office object; a denial is a
    /// 403 page with the rules' reasons.
    async fn require(
        &self,
        web: &Web,
        action: Action,
        kind: ResourceKind,
        name: Option<&str>,
    ) -> Result<(), WebError> {
        let name = name
            .map(str::parse)
            .transpose()
            .map_err(|e: custodia_engine::Error| {
                WebError::new(self.lang, StatusCode::BAD_REQUEST, e)
            })?;
        web.app
            .require_office(&self.org, &self.reader, action, kind, name)
            .await
            .map(|_| ())
            .map_err(WebError::app(self.lang))
    }

    /// Whether `sent` is this session's anti-forgery token.
    fn check_form(&self, sent: &str) -> Result<(), WebError> {
        if csrf::valid(&self.token, sent) {
            Ok(())
        } else {
            Err(WebError::bad_form(self.lang))
        }
    }
}

/// Every page's handler takes the signed-in worker: a request without a
/// live session goes to the login page before the handler runs.
impl FromRequestParts<Web> for Me {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, WebError> {
        let client = parts.extensions.get::<ClientAddr>().copied();
        me(web, &parts.headers, client, parts.uri.path()).await
    }
}

/// The signed-in worker, or a redirect to the login page.
async fn me(
    web: &Web,
    headers: &HeaderMap,
    client: Option<ClientAddr>,
    path: &str,
) -> Result<Me, WebError> {
    let lang = Lang::of(headers);
    let token = web.jar.session_of(headers).ok_or(WebError::Login)?;
    let (org, login) = web
        .app
        .session(&token)
        .await
        .map_err(WebError::app(lang))?
        .ok_or(WebError::Login)?;
    let store_error = |e: custodia_engine::Error| WebError::app(lang)(e.into());
    let scope = web.app.store().org(&org).await.map_err(store_error)?;
    let worker = scope.worker(&login).await.map_err(store_error)?;
    let sectors = scope.organisation().sectors.clone();
    let mut context = Context::new(Utc::now(), "web");
    context.address = client.map(|ClientAddr(ip)| ip.to_string());
    let reader = Reader {
        worker: login,
        context,
    };
    let mut me = Me {
        page: Page {
            lang,
            user: None,
            csrf: csrf::token(&token),
            path: path.to_owned(),
        },
        org,
        worker,
        token,
        lang,
        reader,
        sectors,
    };
    let officer = me.may(web, Action::View, ResourceKind::AuditLog);
    let marketing = me.may(web, Action::View, ResourceKind::Campaign);
    me.page.user = Some(User {
        name: me.worker.name.clone(),
        org: me.org.to_string(),
        officer,
        marketing,
    });
    Ok(me)
}

/// The web UI's routes.
pub fn routes(web: Web) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/static/custodia.css", get(stylesheet))
        .route("/static/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
        .route("/lang/{code}", get(switch_language))
        .merge(views::login::routes())
        .merge(views::customers::routes())
        .merge(views::officer::routes())
        .merge(views::marketing::routes())
        .with_state(web)
}

async fn home() -> Redirect {
    Redirect::to("/customers")
}

async fn stylesheet() -> Response {
    static_file(
        "text/css; charset=utf-8",
        include_str!("static/custodia.css"),
    )
}

async fn favicon() -> Response {
    static_file("image/svg+xml", include_str!("static/favicon.svg"))
}

fn static_file(media_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, media_type)], body).into_response()
}

#[derive(Deserialize)]
struct Back {
    #[serde(default)]
    back: String,
}

/// Sets the language cookie and goes back, only to a path of this site.
async fn switch_language(Path(code): Path<String>, Query(back): Query<Back>) -> Response {
    let Some(lang) = Lang::parse(&code) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let back = if back.back.starts_with('/') && !back.back.starts_with("//") {
        back.back
    } else {
        "/".to_owned()
    };
    let mut response = Redirect::to(&back).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie::lang(lang.code()));
    response
}
