//! What every page shares: the layout's data ([`Page`]), rendering a
//! template into a response, and [`WebError`], which every handler returns
//! and which becomes an error page in the reader's language.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::i18n::Lang;

/// The signed-in worker as the layout shows them.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub org: String,
    /// Sections the rules open to them (decided, never checked in handlers).
    pub officer: bool,
    pub marketing: bool,
}

/// The layout's data, in every template as `page`.
#[derive(Debug, Clone)]
pub struct Page {
    pub lang: Lang,
    pub user: Option<User>,
    /// The anti-forgery token for this page's forms.
    pub csrf: String,
    /// The path, for the language switch to come back to.
    pub path: String,
}

/// Renders a template, or a 500 that names nothing internal.
pub fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error\n").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    page: &'a Page,
    title: &'static str,
    message: &'a str,
}

/// A failed web request: a status and a message for the person, or a
/// redirect to the login page.
#[derive(Debug)]
pub enum WebError {
    Login,
    Page {
        status: StatusCode,
        lang: Lang,
        message: String,
    },
}

impl WebError {
    /// An error page with this status and message.
    pub fn new(lang: Lang, status: StatusCode, message: impl std::fmt::Display) -> Self {
        WebError::Page {
            status,
            lang,
            message: message.to_string(),
        }
    }

    /// 403 for a form without a valid anti-forgery token.
    pub fn bad_form(lang: Lang) -> Self {
        Self::new(lang, StatusCode::FORBIDDEN, lang.t("bad_form"))
    }

    /// Maps a core error: denials are 403 with the rules' reasons, unknown
    /// things 404, bad input 400; anything else fails closed as 503 and
    /// keeps internals (paths, SQL) out of the page.
    pub fn app(lang: Lang) -> impl Fn(custodia_app::Error) -> WebError {
        move |e| {
            use custodia_app::Error as A;
            use custodia_engine::Error as E;
            let status = match &e {
                A::Denied { .. } => StatusCode::FORBIDDEN,
                A::Engine(E::NotFound { .. } | E::OrganisationNotFound(_)) => StatusCode::NOT_FOUND,
                A::Engine(E::InvalidValue { .. })
                | A::TooLong { .. }
                | A::Field { .. }
                | A::Mail(_) => StatusCode::BAD_REQUEST,
                _ => {
                    tracing::error!(error = %e, "web request failed");
                    return WebError::new(
                        lang,
                        StatusCode::SERVICE_UNAVAILABLE,
                        lang.t("unavailable"),
                    );
                }
            };
            WebError::new(lang, status, e)
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::Login => Redirect::to("/login").into_response(),
            WebError::Page {
                status,
                lang,
                message,
            } => {
                let title = match status {
                    StatusCode::FORBIDDEN => lang.t("forbidden"),
                    StatusCode::NOT_FOUND => lang.t("not_found"),
                    _ => lang.t("error"),
                };
                let page = Page {
                    lang,
                    user: None,
                    csrf: String::new(),
                    path: "/".into(),
                };
                let mut response = render(&ErrorPage {
                    page: &page,
                    title,
                    message: &message,
                });
                *response.status_mut() = status;
                response
            }
        }
    }
}

/// A file to download, never cached.
pub fn attachment(media_type: &str, filename: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, media_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}
