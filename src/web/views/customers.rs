//! The worker's pages: `/customers` (only those the rules let them see),
//! a record with each area open, masked, locked or denied as decided, the
//! "why?" explanation, unlocking an area, documents and the export.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use custodia_app::{
    AreaState, CustomerList, DataExport, DocumentRow, ExportFormat, ListQuery, ListScope,
    RecordView, Shown, UnlockRequest,
};
use custodia_engine::rules::{Action, Explanation, Request, ResourceRef};
use custodia_engine::unlock::UnlockOutcome;
use custodia_engine::{AreaName, CustomerId, DocumentId};
use serde::Deserialize;

use crate::web::page::{Page, WebError, attachment, render};
use crate::web::{Me, Web};

/// Rows per page of the customer list.
const PAGE_SIZE: usize = 25;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/customers", get(list))
        .route("/customers/{id}", get(record))
        .route("/customers/{id}/why", get(why))
        .route("/customers/{id}/areas/{area}/unlock", post(unlock))
        .route("/customers/{id}/export", post(export))
        .route("/documents/{id}", get(download))
}

fn parse<T: std::str::FromStr<Err = custodia_engine::Error>>(
    me: &Me,
    text: &str,
) -> Result<T, WebError> {
    text.parse()
        .map_err(|e: custodia_engine::Error| WebError::new(me.lang, StatusCode::BAD_REQUEST, e))
}

#[derive(Deserialize, Default)]
struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    scope: Option<ListScope>,
    #[serde(default)]
    after: String,
}

#[derive(Template)]
#[template(path = "customers.html")]
struct ListPage {
    page: Page,
    q: String,
    scope: ListScope,
    list: CustomerList,
}

impl ListPage {
    fn next_link(&self) -> Option<String> {
        let next = self.list.next.as_ref()?;
        let scope = match self.scope {
            ListScope::Mine => "mine",
            ListScope::All => "all",
        };
        Some(format!(
            "/customers?q={}&scope={scope}&after={next}",
            percent_encode(&self.q)
        ))
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn list(
    State(web): State<Web>,
    me: Me,
    Query(params): Query<ListParams>,
) -> Result<Response, WebError> {
    let after = match params.after.trim() {
        "" => None,
        text => Some(parse::<CustomerId>(&me, text)?),
    };
    // Start from one's own customers when there are any: the indexed
    // pre-filter. Either way the rules decide every row.
    let scope = params.scope.unwrap_or(ListScope::Mine);
    let query = ListQuery {
        search: Some(params.q.clone()).filter(|q| !q.trim().is_empty()),
        after,
        scope,
        page_size: PAGE_SIZE,
    };
    let list = web
        .app
        .list_customers(&me.org, &me.reader, &query)
        .await
        .map_err(WebError::app(me.lang))?;
    Ok(render(&ListPage {
        page: me.page,
        q: params.q,
        scope,
        list,
    }))
}

#[derive(Deserialize, Default)]
struct RecordParams {
    #[serde(default)]
    unlocked: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    unlock_error: String,
}

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage {
    page: Page,
    record: RecordView,
    /// The documents the worker may see, by type (the seed guide's
    /// permissions by document type read best grouped so).
    documents: Vec<(String, Vec<DocumentRow>)>,
    may_export: bool,
    unlocked: String,
    until: String,
    unlock_error: String,
}

impl RecordPage {
    fn shown_class(shown: &Shown) -> &'static str {
        match shown {
            Shown::Shown { .. } => "",
            Shown::Masked { .. } => "masked",
            Shown::Empty => "muted",
        }
    }

    fn shown_text(&self, shown: &Shown) -> String {
        match shown {
            Shown::Shown { value } => value.clone(),
            Shown::Masked { reason } => format!("{} ({reason})", self.page.lang.t("masked")),
            Shown::Empty => self.page.lang.t("empty").to_owned(),
        }
    }
}

async fn record(
    State(web): State<Web>,
    me: Me,
    Path(id): Path<String>,
    Query(params): Query<RecordParams>,
) -> Result<Response, WebError> {
    let id: CustomerId = parse(&me, &id)?;
    let fail = WebError::app(me.lang);
    let record = web
        .app
        .read_record(&me.org, &me.reader, &id)
        .await
        .map_err(&fail)?;
    let documents = web
        .app
        .list_documents(&me.org, &me.reader, &id)
        .await
        .map_err(&fail)?;
    let may_export = web
        .app
        .may(
            &me.org,
            &me.reader,
            Action::Export,
            &ResourceRef::Customer(id),
        )
        .await
        .map_err(&fail)?;
    Ok(render(&RecordPage {
        page: me.page,
        record,
        documents: by_type(documents),
        may_export,
        unlocked: params.unlocked,
        until: params.until,
        unlock_error: params.unlock_error,
    }))
}

#[derive(Deserialize)]
struct WhyParams {
    #[serde(default)]
    area: String,
    #[serde(default)]
    action: String,
}

#[derive(Template)]
#[template(path = "why.html")]
struct WhyPage {
    page: Page,
    customer: CustomerId,
    resource: String,
    action: String,
    explanation: Explanation,
}

/// The decision for the record or one area, rule by rule (audited).
async fn why(
    State(web): State<Web>,
    me: Me,
    Path(id): Path<String>,
    Query(params): Query<WhyParams>,
) -> Result<Response, WebError> {
    let customer: CustomerId = parse(&me, &id)?;
    let resource = match params.area.trim() {
        "" => ResourceRef::Customer(customer.clone()),
        area => ResourceRef::Area(customer.clone(), parse::<AreaName>(&me, area)?),
    };
    let action = match params.action.trim() {
        "" => Action::View,
        text => parse::<Action>(&me, text)?,
    };
    let request = Request {
        worker: me.reader.worker.clone(),
        action,
        resource: resource.clone(),
        context: me.reader.context.clone(),
    };
    let explained = web
        .app
        .explain(&me.org, &request)
        .await
        .map_err(WebError::app(me.lang))?;
    Ok(render(&WhyPage {
        page: me.page,
        customer,
        resource: resource.to_string(),
        action: action.to_string(),
        explanation: explained.answer,
    }))
}

#[derive(Deserialize)]
struct UnlockForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

/// Checks an area's password (decided, rate limited and audited by the
/// core) and goes back to the record with the expiry or the error.
async fn unlock(
    State(web): State<Web>,
    me: Me,
    Path((id, area)): Path<(String, String)>,
    Form(form): Form<UnlockForm>,
) -> Result<Response, WebError> {
    me.check_form(&form.csrf)?;
    let customer: CustomerId = parse(&me, &id)?;
    let name: AreaName = parse(&me, &area)?;
    let resource = ResourceRef::Area(customer.clone(), name.clone());
    let request = UnlockRequest {
        worker: &me.reader.worker,
        area: &resource,
        channel: "web",
        address: me.reader.context.address.as_deref(),
    };
    let outcome = web
        .app
        .unlock(&me.org, &request, &form.password)
        .await
        .map_err(WebError::app(me.lang))?;
    let back = match outcome {
        UnlockOutcome::Unlocked { expires_at } => format!(
            "/customers/{customer}?unlocked={name}&until={}#area-{name}",
            expires_at.format("%H:%M")
        ),
        UnlockOutcome::WrongPassword { attempts_left } => format!(
            "/customers/{customer}?unlocked={name}&unlock_error={}%20{attempts_left}#area-{name}",
            percent_encode(me.lang.t("wrong_area_password"))
        ),
        UnlockOutcome::RateLimited { retry_after } => format!(
            "/customers/{customer}?unlocked={name}&unlock_error={}%20{}#area-{name}",
            percent_encode(me.lang.t("rate_limited")),
            retry_after.format("%H:%M")
        ),
    };
    Ok(Redirect::to(&back).into_response())
}

#[derive(Deserialize)]
struct ExportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    format: String,
}

/// The customer's data as the worker may see it, with its watermark;
/// decided and audited by the core, refused with the rules' reasons.
async fn export(
    State(web): State<Web>,
    me: Me,
    Path(id): Path<String>,
    Form(form): Form<ExportForm>,
) -> Result<Response, WebError> {
    me.check_form(&form.csrf)?;
    let customer: CustomerId = parse(&me, &id)?;
    let format: ExportFormat = parse(&me, &form.format)?;
    let customers = [customer.clone()];
    let export = DataExport {
        org: &me.org,
        reader: &me.reader,
        customers: &customers,
        format,
        purpose: &form.purpose,
    };
    let fail = WebError::app(me.lang);
    let table = web
        .app
        .export_data(&export, "web download")
        .await
        .map_err(&fail)?;
    let (bytes, media_type) = match format {
        ExportFormat::Csv => (table.to_csv().map_err(&fail)?, "text/csv; charset=utf-8"),
        ExportFormat::Xlsx => (
            table.to_xlsx().map_err(&fail)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    };
    let filename = format!("{customer}.{}", format.as_str());
    Ok(attachment(media_type, &filename, bytes))
}

/// A held document's bytes, when the rules allow the download (audited).
async fn download(
    State(web): State<Web>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id: DocumentId = parse(&me, &id)?;
    let (document, bytes, _) = web
        .app
        .download(&me.org, &me.reader, &id, "web browser")
        .await
        .map_err(WebError::app(me.lang))?;
    let media_type = document
        .held
        .as_ref()
        .map_or("application/octet-stream", |h| h.media_type.as_str());
    Ok(attachment(media_type, document.id.as_str(), bytes.to_vec()))
}

/// What a template shows for an area's state.
pub fn area_class(state: &AreaState) -> &'static str {
    match state {
        AreaState::Open { .. } => "ok",
        AreaState::Locked { .. } => "locked",
        AreaState::Denied { .. } => "denied",
    }
}

/// Documents grouped by type, types in order, each group in id order.
fn by_type(documents: Vec<DocumentRow>) -> Vec<(String, Vec<DocumentRow>)> {
    let mut groups: std::collections::BTreeMap<String, Vec<DocumentRow>> = Default::default();
    for d in documents {
        groups
            .entry(d.document.doc_type.to_string())
            .or_default()
            .push(d);
    }
    groups.into_iter().collect()
}
