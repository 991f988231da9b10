//! `/login` and `/logout`. The login limits of the core apply (back-off
//! per account and address, a cap on concurrent password checks), each
//! with a clear message; every attempt of a known worker is audited.

use askama::Template;
use axum::Router;
use axum::extract::{Extension, Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use custodia_engine::session::{LoginAttempt, LoginOutcome};
use custodia_engine::{OrgSlug, WorkerLogin};
use serde::Deserialize;

use crate::http::guard::ClientAddr;
use crate::web::i18n::Lang;
use crate::web::page::{Page, WebError, render};
use crate::web::{Web, csrf};

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/login", get(form).post(login))
        .route("/logout", post(logout))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    page: Page,
    login: String,
    error: Option<String>,
    notice: Option<&'static str>,
}

/// The login form with a fresh anti-forgery seed in its own cookie.
fn login_page(
    web: &Web,
    lang: Lang,
    status: StatusCode,
    login: String,
    error: Option<String>,
    notice: Option<&'static str>,
) -> Response {
    let seed = csrf::seed();
    let page = Page {
        lang,
        user: None,
        csrf: csrf::token(&seed),
        path: "/login".into(),
    };
    let mut response = render(&LoginPage {
        page,
        login,
        error,
        notice,
    });
    *response.status_mut() = status;
    response
        .headers_mut()
        .append(header::SET_COOKIE, web.jar.login_seed(&seed));
    response
}

async fn form(State(web): State<Web>, headers: HeaderMap) -> Response {
    login_page(
        &web,
        Lang::of(&headers),
        StatusCode::OK,
        String::new(),
        None,
        None,
    )
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    org: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
}

async fn login(
    State(web): State<Web>,
    headers: HeaderMap,
    client: Option<Extension<ClientAddr>>,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let lang = Lang::of(&headers);
    let seed = web.jar.login_seed_of(&headers).unwrap_or_default();
    if seed.is_empty() || !csrf::valid(&seed, &form.csrf) {
        return Err(WebError::bad_form(lang));
    }
    // A form shown again with its message is a page like any other (200):
    // browsers log 4xx answers to a navigation as console errors.
    let refused = |message: String| {
        login_page(
            &web,
            lang,
            StatusCode::OK,
            form.login.clone(),
            Some(message),
            None,
        )
    };
    let Ok(login) = form.login.trim().parse::<WorkerLogin>() else {
        return Ok(refused(lang.t("wrong_login").into()));
    };
    let org = match form.org.trim() {
        "" => None,
        text => match text.parse::<OrgSlug>() {
            Ok(org) => Some(org),
            Err(_) => return Ok(refused(lang.t("wrong_login").into())),
        },
    };
    let address = client.map(|Extension(ClientAddr(ip))| ip.to_string());
    let attempt = LoginAttempt {
        org: org.as_ref(),
        login: &login,
        password: &form.password,
        address: address.as_deref(),
        channel: "web",
    };
    let outcome = web.app.login(&attempt).await.map_err(WebError::app(lang))?;
    Ok(match outcome {
        LoginOutcome::LoggedIn {
            token, expires_at, ..
        } => {
            let mut response = Redirect::to("/customers").into_response();
            let seconds = (expires_at - Utc::now()).num_seconds();
            response
                .headers_mut()
                .append(header::SET_COOKIE, web.jar.session(&token, seconds));
            response
        }
        LoginOutcome::Refused => refused(lang.t("wrong_login").into()),
        LoginOutcome::RateLimited { retry_after } => refused(format!(
            "{} {}",
            lang.t("rate_limited"),
            retry_after.format("%H:%M:%S UTC")
        )),
        LoginOutcome::Busy => refused(lang.t("busy").into()),
    })
}

#[derive(Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// Ends the session (audited) and clears its cookie.
async fn logout(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Result<Response, WebError> {
    let lang = Lang::of(&headers);
    let token = web.jar.session_of(&headers).ok_or(WebError::Login)?;
    if !csrf::valid(&token, &form.csrf) {
        return Err(WebError::bad_form(lang));
    }
    web.app
        .logout(&token, "web")
        .await
        .map_err(WebError::app(lang))?;
    let mut response = login_page(
        &web,
        lang,
        StatusCode::OK,
        String::new(),
        None,
        Some(lang.t("logged_out")),
    );
    response
        .headers_mut()
        .append(header::SET_COOKIE, web.jar.end_session());
    Ok(response)
}
