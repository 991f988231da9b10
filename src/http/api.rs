//! The JSON API: `/healthz`, `POST /v1/login`, `POST /v1/logout`,
//! `POST /v1/decisions`, `GET /v1/customers/{id}` and
//! `GET /v1/customers/{id}/areas/{area}` (a record as the session's worker
//! may see it), `GET /v1/documents/{id}` (a held document's bytes, when
//! the rules allow its download). Handlers parse, call the core, answer; every
//! failure is an [`ApiError`].

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::Utc;
use custodia_app::Custodia;
use custodia_app::Reader;
use custodia_engine::rules::{Action, Context as RequestContext, Request as Ask, ResourceRef};
use custodia_engine::session::{LoginAttempt, LoginOutcome};
use custodia_engine::{AreaName, CustomerId, OrgSlug, WorkerLogin};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::guard::ClientAddr;

/// A JSON body whose rejections (too large, malformed, wrong fields)
/// become [`ApiError`]s in one place.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let Json(value) = Json::<T>::from_request(request, state).await?;
        Ok(Self(value))
    }
}

/// The API's routes.
pub fn routes(app: Custodia) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/login", post(login))
        .route("/v1/logout", post(logout))
        .route("/v1/decisions", post(decisions))
        .route("/v1/customers/{id}", get(customer))
        .route("/v1/customers/{id}/areas/{area}", get(customer_area))
        .route("/v1/documents/{id}", get(document))
        .with_state(app)
}

async fn healthz(State(app): State<Custodia>) -> Result<&'static str, ApiError> {
    app.store().organisations().await.map_err(|e| {
        tracing::error!(error = %e, "health check failed");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
    })?;
    Ok("ok\n")
}

/// The body of `POST /v1/login`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    #[serde(default)]
    org: Option<OrgSlug>,
    login: WorkerLogin,
    password: String,
}

fn address(client: Option<Extension<ClientAddr>>) -> Option<String> {
    client.map(|Extension(ClientAddr(ip))| ip.to_string())
}

/// Opens a session; every attempt of a known worker is audited.
async fn login(
    State(app): State<Custodia>,
    client: Option<Extension<ClientAddr>>,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let address = address(client);
    let attempt = LoginAttempt {
        org: body.org.as_ref(),
        login: &body.login,
        password: &body.password,
        address: address.as_deref(),
        channel: "api",
    };
    match app.login(&attempt).await? {
        LoginOutcome::LoggedIn {
            org,
            token,
            expires_at,
        } => Ok(Json(serde_json::json!({
            "token": token,
            "org": org,
            "expires_at": expires_at,
        }))
        .into_response()),
        LoginOutcome::Refused => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong login or password",
        )),
        LoginOutcome::RateLimited { retry_after } => {
            let seconds = (retry_after - Utc::now()).num_seconds().max(1);
            Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many failed logins: try again after {retry_after}"),
            )
            .retry_after(u64::try_from(seconds).unwrap_or(1)))
        }
        LoginOutcome::Busy => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many logins at once: try again in a moment",
        )
        .retry_after(1)),
    }
}

/// The bearer token of a request, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The logged-in worker, or 401.
async fn authenticated(
    app: &Custodia,
    headers: &HeaderMap,
) -> Result<(OrgSlug, WorkerLogin), ApiError> {
    let token = bearer(headers).ok_or_else(ApiError::unauthorized)?;
    app.session(token).await?.ok_or_else(ApiError::unauthorized)
}

async fn logout(State(app): State<Custodia>, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    let token = bearer(&headers).ok_or_else(ApiError::unauthorized)?;
    if app.logout(token, "api").await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::unauthorized())
    }
}

/// The body of `POST /v1/decisions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    /// Optional: it can only be the session's own worker.
    #[serde(default)]
    worker: Option<WorkerLogin>,
    action: Action,
    resource: ResourceRef,
    #[serde(default)]
    org: Option<OrgSlug>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    purpose: Option<String>,
}

/// Decides a request of the logged-in worker (deny by default: no
/// session, no answer; a worker asks only about their own access).
async fn decisions(
    State(app): State<Custodia>,
    client: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Result<Response, ApiError> {
    let (org, worker) = authenticated(&app, &headers).await?;
    let foreign_worker = body.worker.as_ref().is_some_and(|w| w != &worker);
    if foreign_worker || body.org.as_ref().is_some_and(|o| o != &org) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("this session belongs to `{worker}`"),
        ));
    }
    let mut context = RequestContext::new(Utc::now(), body.channel.unwrap_or_else(|| "api".into()));
    context.purpose = body.purpose;
    context.address = address(client);
    let request = Ask {
        worker,
        action: body.action,
        resource: body.resource,
        context,
    };
    Ok(Json(app.decide(&org, &request).await?).into_response())
}

/// The session's worker reading, from the client's address.
async fn reader(
    app: &Custodia,
    headers: &HeaderMap,
    client: Option<Extension<ClientAddr>>,
) -> Result<(OrgSlug, Reader), ApiError> {
    let (org, worker) = authenticated(app, headers).await?;
    let mut context = RequestContext::new(Utc::now(), "api");
    context.address = address(client);
    Ok((org, Reader { worker, context }))
}

fn parse<T: std::str::FromStr<Err = custodia_engine::Error>>(text: &str) -> Result<T, ApiError> {
    text.parse()
        .map_err(|e: custodia_engine::Error| ApiError::new(StatusCode::BAD_REQUEST, e))
}

/// A whole record as the worker may see it: masked fields and locked or
/// denied areas come with the rules' reasons; 403 when the record is denied.
async fn customer(
    State(app): State<Custodia>,
    client: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (org, reader) = reader(&app, &headers, client).await?;
    let id: CustomerId = parse(&id)?;
    Ok(Json(app.read_record(&org, &reader, &id).await?).into_response())
}

/// One area; 403 with the view (locked or denied, and why) unless it opens.
async fn customer_area(
    State(app): State<Custodia>,
    client: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    Path((id, area)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (org, reader) = reader(&app, &headers, client).await?;
    let (id, area): (CustomerId, AreaName) = (parse(&id)?, parse(&area)?);
    let view = app.read_area(&org, &reader, &id, &area).await?;
    let status = if view.is_open() {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    };
    Ok((status, Json(view)).into_response())
}

/// A held document's bytes, when the rules allow the session's worker to
/// download it; decided and audited, the path never shown.
async fn document(
    State(app): State<Custodia>,
    client: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (org, reader) = reader(&app, &headers, client).await?;
    let id: custodia_engine::DocumentId = parse(&id)?;
    let (document, bytes, _) = app.download(&org, &reader, &id, "api client").await?;
    let media_type = document
        .held
        .as_ref()
        .map_or("application/octet-stream", |h| h.media_type.as_str())
        .to_owned();
    let disposition = format!("attachment; filename=\"{}\"", document.id);
    Ok((
        [
            (header::CONTENT_TYPE, media_type),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes.to_vec(),
    )
        .into_response())
}
