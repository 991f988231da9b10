//! The API's one error type: every handler returns it, and it becomes a
//! JSON body `{"error": "..."}` with the right status.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error answered to an API client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl std::fmt::Display) -> Self {
        Self {
            status,
            message: message.to_string(),
            retry_after: None,
        }
    }

    /// Asks the client to come back after `seconds`.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "log in first: POST /v1/login, then send Authorization: Bearer TOKEN",
        )
    }
}

impl From<JsonRejection> for ApiError {
    // Handled once for every JSON endpoint: an oversized body is 413, a
    // malformed one 400 or 422, each with what was wrong.
    fn from(e: JsonRejection) -> Self {
        Self::new(e.status(), e.body_text())
    }
}

impl From<custodia_app::Error> for ApiError {
    fn from(e: custodia_app::Error) -> Self {
        use custodia_app::Error as A;
        use custodia_engine::Error as E;
        let status = match &e {
            A::Engine(E::OrganisationNotFound(_) | E::NotFound { .. }) => StatusCode::NOT_FOUND,
            A::Engine(E::InvalidValue { .. }) | A::TooLong { .. } => StatusCode::BAD_REQUEST,
            A::Denied { .. } => StatusCode::FORBIDDEN,
            _ => {
                // Fail closed, and keep internals (paths, SQL) out of answers.
                tracing::error!(error = %e, "request failed");
                return Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable: the request could not be recorded",
                );
            }
        };
        Self::new(status, e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
