//! The compliance officer's pages: the dashboard, audit search with CSV,
//! the breach wizard (a worker and a window give the customers touched,
//! then a breach record, then its PDF report), the dossier, the registers.
//! Each page is decided on its office resource kind by the packs' rules.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDateTime, Utc};
use custodia_app::{Dashboard, DocumentExport};
use custodia_engine::audit::{AuditQuery, BreachQuery, BreachScope, ChainedEvent};
use custodia_engine::exchange::{register_entry_from_toml, register_entry_to_toml};
use custodia_engine::rules::{Action, ResourceKind};
use custodia_engine::{
    CustomerId, EntryId, NewRightsRequest, RegisterEntry, RegisterKind, Registers, RightKind,
    RightsRequest,
};
use serde::Deserialize;

use crate::web::page::{Page, WebError, attachment, render};
use crate::web::{Me, Web};

/// Events shown per audit search (the CSV has them all).
const SEARCH_LIMIT: i64 = 200;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/officer", get(dashboard))
        .route("/officer/audit", get(audit))
        .route("/officer/breach", get(breach_wizard).post(record_breach))
        .route("/officer/breach/{id}", get(breach_recorded))
        .route("/officer/breach-report.pdf", get(breach_report))
        .route("/officer/dossier", get(dossier))
        .route("/officer/rights", get(rights).post(open_request))
        .route("/officer/rights/{id}", get(request))
        .route("/officer/rights/{id}/{verb}", post(answer_request))
        .route("/officer/registers", get(registers))
        .route("/officer/registers/{kind}", post(register_save))
        .route("/officer/registers/{kind}/new", get(register_new))
        .route("/officer/registers/{kind}/{id}", get(register_edit))
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    page: Page,
    dashboard: Dashboard,
}

async fn dashboard(State(web): State<Web>, me: Me) -> Result<Response, WebError> {
    me.require(&web, Action::View, ResourceKind::AuditLog, None)
        .await?;
    let dashboard = web
        .app
        .dashboard(&me.org, Utc::now(), me.lang.report())
        .await
        .map_err(WebError::app(me.lang))?;
    Ok(render(&DashboardPage {
        page: me.page,
        dashboard,
    }))
}

/// A `datetime-local` or RFC 3339 time; empty is none.
fn time(me: &Me, field: &str, text: &str) -> Result<Option<DateTime<Utc>>, WebError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(Some(t.and_utc()));
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()));
    }
    Err(WebError::new(
        me.lang,
        StatusCode::BAD_REQUEST,
        format!("{field}: `{text}` is not a date and time (YYYY-MM-DDTHH:MM, UTC)"),
    ))
}

fn blank(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

#[derive(Deserialize, Default)]
struct AuditParams {
    #[serde(default)]
    worker: String,
    #[serde(default)]
    customer: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    format: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    page: Page,
    params: AuditParams,
    events: Vec<ChainedEvent>,
    csv_link: String,
}

fn audit_csv(events: &[ChainedEvent]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "seq", "at", "kind", "worker", "action", "resource", "customer", "decision", "channel",
        "detail",
    ])?;
    for e in events {
        let ev = &e.event;
        w.write_record([
            e.seq.to_string(),
            ev.at.to_rfc3339(),
            ev.kind.as_str().to_owned(),
            ev.worker.clone().unwrap_or_default(),
            ev.action.clone().unwrap_or_default(),
            ev.resource.clone().unwrap_or_default(),
            ev.customer.clone().unwrap_or_default(),
            ev.decision.map(|d| d.to_string()).unwrap_or_default(),
            ev.channel.clone().unwrap_or_default(),
            ev.detail.clone().unwrap_or_default(),
        ])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// Audit search by worker, customer, action and time; `format=csv`
/// downloads every match (an export of the log, decided and audited).
async fn audit(
    State(web): State<Web>,
    me: Me,
    Query(params): Query<AuditParams>,
) -> Result<Response, WebError> {
    let csv = params.format == "csv";
    let action = if csv { Action::Export } else { Action::View };
    me.require(&web, action, ResourceKind::AuditLog, None)
        .await?;
    let query = AuditQuery {
        worker: blank(&params.worker),
        customer: blank(&params.customer),
        action: blank(&params.action),
        from: time(&me, "since", &params.since)?,
        to: time(&me, "until", &params.until)?,
        limit: (!csv).then_some(SEARCH_LIMIT),
        ..AuditQuery::default()
    };
    let fail = WebError::app(me.lang);
    let events = web
        .app
        .store()
        .query_audit(&me.org, &query)
        .await
        .map_err(|e| fail(e.into()))?;
    if csv {
        let bytes = audit_csv(&events)
            .map_err(|e| WebError::new(me.lang, StatusCode::INTERNAL_SERVER_ERROR, e))?;
        record_export(
            &web,
            &me,
            format!("audit search ({} events, csv)", events.len()),
        )
        .await?;
        return Ok(attachment("text/csv; charset=utf-8", "audit.csv", bytes));
    }
    let csv_link = format!(
        "/officer/audit?worker={}&customer={}&action={}&since={}&until={}&format=csv",
        enc(&params.worker),
        enc(&params.customer),
        enc(&params.action),
        enc(&params.since),
        enc(&params.until)
    );
    Ok(render(&AuditPage {
        page: me.page,
        params,
        events,
        csv_link,
    }))
}

fn enc(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Records a document leaving Custodia, before it is handed over.
async fn record_export(web: &Web, me: &Me, what: String) -> Result<(), WebError> {
    let export = DocumentExport {
        org: &me.org,
        worker: Some(&me.reader.worker),
        what,
        channel: "web",
    };
    web.app
        .record_document_export(&export)
        .await
        .map(|_| ())
        .map_err(WebError::app(me.lang))
}

#[derive(Deserialize, Default)]
struct BreachParams {
    #[serde(default)]
    worker: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
}

#[derive(Template)]
#[template(path = "breach.html")]
struct BreachPage {
    page: Page,
    params: BreachParams,
    scope: Option<BreachScope>,
    suggested_id: String,
}

fn breach_query(me: &Me, p: &BreachParams) -> Result<Option<BreachQuery>, WebError> {
    let (Some(worker), Some(from), Some(to)) = (
        blank(&p.worker),
        time(me, "since", &p.since)?,
        time(me, "until", &p.until)?,
    ) else {
        return Ok(None);
    };
    Ok(Some(BreachQuery {
        worker: Some(worker),
        customer: None,
        address: None,
        from,
        to,
    }))
}

/// Steps 1 and 2: who and when, then the customers touched.
async fn breach_wizard(
    State(web): State<Web>,
    me: Me,
    Query(params): Query<BreachParams>,
) -> Result<Response, WebError> {
    me.require(&web, Action::View, ResourceKind::Breach, None)
        .await?;
    let scope = match breach_query(&me, &params)? {
        Some(q) => Some(
            web.app
                .store()
                .breach_scope(&me.org, &q)
                .await
                .map_err(|e| WebError::app(me.lang)(e.into()))?,
        ),
        None => None,
    };
    Ok(render(&BreachPage {
        page: me.page,
        params,
        scope,
        suggested_id: format!("BR-{}", Utc::now().format("%Y%m%d-%H%M")),
    }))
}

#[derive(Deserialize)]
struct BreachForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    nature: String,
    #[serde(flatten)]
    scope: BreachParams,
}

/// Step 3: the breach record, with the customers touched; audited with
/// the register change. The 72-hour clock starts now.
async fn record_breach(
    State(web): State<Web>,
    me: Me,
    Form(form): Form<BreachForm>,
) -> Result<Response, WebError> {
    me.check_form(&form.csrf)?;
    me.require(&web, Action::Create, ResourceKind::Breach, None)
        .await?;
    let bad = |m: String| WebError::new(me.lang, StatusCode::BAD_REQUEST, m);
    let id: EntryId = form
        .id
        .trim()
        .parse()
        .map_err(|e: custodia_engine::Error| bad(format!("breach id: {e}")))?;
    if form.nature.trim().is_empty() {
        return Err(bad("description: say what happened".into()));
    }
    let query = breach_query(&me, &form.scope)?
        .ok_or_else(|| bad("worker, since and until are needed".into()))?;
    let fail = WebError::app(me.lang);
    let scope = web
        .app
        .store()
        .breach_scope(&me.org, &query)
        .await
        .map_err(|e| fail(e.into()))?;
    let breach = serde_json::json!({
        "id": id.to_string(),
        "aware_at": Utc::now().to_rfc3339(),
        "nature": form.nature.trim(),
        "approx_subjects": scope.customers.len(),
        "affected_customers": scope.customers.iter().map(|c| c.customer.clone()).collect::<Vec<_>>(),
    });
    let breach = serde_json::from_value(breach).map_err(|e| bad(format!("breach: {e}")))?;
    web.app
        .add_register_entry(&me.org, &RegisterEntry::Breach(breach), false)
        .await
        .map_err(&fail)?;
    let back = format!(
        "/officer/breach/{id}?worker={}&since={}&until={}",
        enc(&form.scope.worker),
        enc(&form.scope.since),
        enc(&form.scope.until)
    );
    Ok(Redirect::to(&back).into_response())
}

#[derive(Template)]
#[template(path = "breach_recorded.html")]
struct BreachRecordedPage {
    page: Page,
    id: String,
    report_link: String,
    touched: usize,
}

async fn breach_recorded(
    State(web): State<Web>,
    me: Me,
    Path(id): Path<String>,
    Query(params): Query<BreachParams>,
) -> Result<Response, WebError> {
    me.require(&web, Action::View, ResourceKind::Breach, None)
        .await?;
    let entry: EntryId = id
        .parse()
        .map_err(|e: custodia_engine::Error| WebError::new(me.lang, StatusCode::BAD_REQUEST, e))?;
    let breach = web
        .app
        .breach(&me.org, &entry)
        .await
        .map_err(WebError::app(me.lang))?;
    let report_link = format!(
        "/officer/breach-report.pdf?worker={}&since={}&until={}",
        enc(&params.worker),
        enc(&params.since),
        enc(&params.until)
    );
    Ok(render(&BreachRecordedPage {
        page: me.page,
        id: breach.id.to_string(),
        report_link,
        touched: breach.affected_customers.len(),
    }))
}

/// The breach scope report as a PDF (rendered off the async threads).
async fn breach_report(
    State(web): State<Web>,
    me: Me,
    Query(params): Query<BreachParams>,
) -> Result<Response, WebError> {
    me.require(&web, Action::Print, ResourceKind::Breach, None)
        .await?;
    let query = breach_query(&me, &params)?.ok_or_else(|| {
        WebError::new(
            me.lang,
            StatusCode::BAD_REQUEST,
            "worker, since and until are needed",
        )
    })?;
    let fail = WebError::app(me.lang);
    let store = web.app.store();
    let scope = store
        .breach_scope(&me.org, &query)
        .await
        .map_err(|e| fail(e.into()))?;
    let organisation = store
        .org(&me.org)
        .await
        .map_err(|e| fail(e.into()))?
        .organisation()
        .clone();
    let lang = me.lang.report();
    let pdf = tokio::task::spawn_blocking(move || {
        custodia_reports::breach_pdf(&organisation, &scope, Utc::now(), lang)
    })
    .await
    .map_err(|e| WebError::new(me.lang, StatusCode::INTERNAL_SERVER_ERROR, e))?
    .map_err(|e| fail(e.into()))?;
    record_export(&web, &me, "breach scope report (pdf)".into()).await?;
    Ok(attachment("application/pdf", "breach-report.pdf", pdf))
}

#[derive(Deserialize, Default)]
struct DossierParams {
    #[serde(default)]
    format: String,
    #[serde(default)]
    lang: String,
}

#[derive(Template)]
#[template(path = "dossier.html")]
struct DossierPage {
    page: Page,
}

/// The dossier: a page of links, then the HTML preview or the PDF, in
/// Spanish or English, gathered live (the chain verified now).
async fn dossier(
    State(web): State<Web>,
    me: Me,
    Query(params): Query<DossierParams>,
) -> Result<Response, WebError> {
    let pdf = match params.format.as_str() {
        "" => {
            me.require(&web, Action::View, ResourceKind::Dossier, None)
                .await?;
            return Ok(render(&DossierPage { page: me.page }));
        }
        "html" => false,
        "pdf" => true,
        other => {
            return Err(WebError::new(
                me.lang,
                StatusCode::BAD_REQUEST,
                format!("format: `{other}` is not html or pdf"),
            ));
        }
    };
    let action = if pdf { Action::Download } else { Action::View };
    me.require(&web, action, ResourceKind::Dossier, None)
        .await?;
    let lang = crate::web::Lang::parse(&params.lang)
        .unwrap_or(me.lang)
        .report();
    let fail = WebError::app(me.lang);
    let audit = web.app.verify_audit(&me.org).await.map_err(&fail)?;
    let now = Utc::now();
    let mut input = custodia_reports::DossierInput::gather(
        web.app.store(),
        &me.org,
        &web.app.rules(),
        audit,
        now,
    )
    .await
    .map_err(|e| fail(e.into()))?;
    input.marketing = web.app.marketing_history(&me.org).await.map_err(&fail)?;
    if !pdf {
        let html = custodia_reports::dossier_html(&input, lang).map_err(|e| fail(e.into()))?;
        return Ok(axum::response::Html(html).into_response());
    }
    let bytes = tokio::task::spawn_blocking(move || custodia_reports::dossier_pdf(&input, lang))
        .await
        .map_err(|e| WebError::new(me.lang, StatusCode::INTERNAL_SERVER_ERROR, e))?
        .map_err(|e| fail(e.into()))?;
    record_export(&web, &me, "dossier (pdf)".into()).await?;
    Ok(attachment("application/pdf", "dossier.pdf", bytes))
}

/// The registers the officer keeps from the UI, in the dossier's order.
const EDITABLE: [RegisterKind; 6] = [
    RegisterKind::Provider,
    RegisterKind::Activity,
    RegisterKind::Measure,
    RegisterKind::Training,
    RegisterKind::Backup,
    RegisterKind::Breach,
];

/// A register and its entries' ids, for the list.
struct RegisterList {
    kind: RegisterKind,
    ids: Vec<String>,
}

#[derive(Template)]
#[template(path = "registers.html")]
struct RegistersPage {
    page: Page,
    registers: Vec<RegisterList>,
    notice: Option<String>,
}

#[derive(Deserialize, Default)]
struct RegistersParams {
    #[serde(default)]
    saved: String,
}

async fn registers(
    State(web): State<Web>,
    me: Me,
    Query(params): Query<RegistersParams>,
) -> Result<Response, WebError> {
    me.require(&web, Action::View, ResourceKind::Register, None)
        .await?;
    let entries = stored_registers(&web, &me).await?.entries();
    let registers = EDITABLE
        .into_iter()
        .map(|kind| RegisterList {
            kind,
            ids: entries
                .iter()
                .filter(|e| e.kind() == kind)
                .map(|e| e.id().to_string())
                .collect(),
        })
        .collect();
    Ok(render(&RegistersPage {
        page: me.page,
        registers,
        notice: blank(&params.saved),
    }))
}

async fn stored_registers(web: &Web, me: &Me) -> Result<Registers, WebError> {
    let fail = |e: custodia_engine::Error| WebError::app(me.lang)(e.into());
    web.app
        .store()
        .org(&me.org)
        .await
        .map_err(fail)?
        .registers()
        .await
        .map_err(fail)
}

#[derive(Template)]
#[template(path = "register_editor.html")]
struct EditorPage {
    page: Page,
    kind: RegisterKind,
    /// The entry being edited, or none for a new one.
    id: Option<String>,
    text: String,
    /// Where the TOML is wrong: line and field, beside the text.
    error: Option<String>,
}

fn register_kind(me: &Me, text: &str) -> Result<RegisterKind, WebError> {
    RegisterKind::parse(text)
        .filter(|k| EDITABLE.contains(k))
        .ok_or_else(|| {
            WebError::new(
                me.lang,
                StatusCode::NOT_FOUND,
                format!("register `{text}` is not kept from the web UI"),
            )
        })
}

/// A new entry's starting text: the fields a firm fills first.
fn skeleton(kind: RegisterKind) -> &'static str {
    match kind {
        RegisterKind::Provider => concat!(
            "id = \"P-\"\nname = \"\"\nservice = \"\"\nprocesses_personal_data = true\n",
            "contract_signed = \"2026-01-01\"\nnext_review = \"2027-01-01\"\n"
        ),
        RegisterKind::Activity => concat!(
            "id = \"RA-\"\nname = \"\"\npurposes = [\"\"]\nlegal_basis = \"\"\n",
            "data_subjects = [\"customers\"]\ndata_categories = [\"contact details\"]\n"
        ),
        RegisterKind::Measure => "id = \"M-\"\nname = \"\"\ncategory = \"technical\"\n",
        RegisterKind::Training => {
            "id = \"T-\"\ntitle = \"\"\ndate = \"2026-01-01\"\nhours = 2\nattendees = []\n"
        }
        RegisterKind::Backup => {
            "id = \"B-\"\ntaken_at = \"2026-01-01T03:00:00Z\"\nlocation = \"\"\nencrypted = true\n"
        }
        _ => "id = \"\"\n",
    }
}

async fn register_new(
    State(web): State<Web>,
    me: Me,
    Path(kind): Path<String>,
) -> Result<Response, WebError> {
    let kind = register_kind(&me, &kind)?;
    me.require(
        &web,
        Action::Create,
        ResourceKind::Register,
        Some(kind.as_str()),
    )
    .await?;
    Ok(render(&EditorPage {
        page: me.page,
        kind,
        id: None,
        text: skeleton(kind).to_owned(),
        error: None,
    }))
}

async fn register_edit(
    State(web): State<Web>,
    me: Me,
    Path((kind, id)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let kind = register_kind(&me, &kind)?;
    me.require(
        &web,
        Action::View,
        ResourceKind::Register,
        Some(kind.as_str()),
    )
    .await?;
    let entry = stored_registers(&web, &me)
        .await?
        .entries()
        .into_iter()
        .find(|e| e.kind() == kind && e.id().as_str() == id)
        .ok_or_else(|| WebError::new(me.lang, StatusCode::NOT_FOUND, format!("`{id}`")))?;
    let text = register_entry_to_toml(&entry).map_err(|e| WebError::app(me.lang)(e.into()))?;
    Ok(render(&EditorPage {
        page: me.page,
        kind,
        id: Some(id),
        text,
        error: None,
    }))
}

#[derive(Deserialize)]
struct RegisterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
    /// The id being edited; empty for a new entry.
    #[serde(default)]
    editing: String,
}

/// Saves an entry (audited with its register change). A new entry may not
/// reuse an id; an edit replaces its own entry. Errors go beside the text.
async fn register_save(
    State(web): State<Web>,
    me: Me,
    Path(kind): Path<String>,
    Form(form): Form<RegisterForm>,
) -> Result<Response, WebError> {
    me.check_form(&form.csrf)?;
    let kind = register_kind(&me, &kind)?;
    let editing = blank(&form.editing);
    let action = if editing.is_some() {
        Action::Edit
    } else {
        Action::Create
    };
    me.require(&web, action, ResourceKind::Register, Some(kind.as_str()))
        .await?;
    let text = form.text.replace("\r\n", "\n");
    let parsed = register_entry_from_toml(kind, std::path::Path::new("form"), &text)
        .map_err(|e| e.to_string())
        .and_then(|entry| match &editing {
            Some(id) if entry.id().as_str() != id => {
                Err(format!("id: an edit keeps the id `{id}`"))
            }
            _ => Ok(entry),
        });
    let saved = match parsed {
        Ok(entry) => web
            .app
            .add_register_entry(&me.org, &entry, editing.is_some())
            .await
            .map(|_| entry.id().to_string())
            .map_err(|e| match e {
                custodia_app::Error::Engine(e) => Ok(e.to_string()),
                other => Err(other),
            }),
        Err(message) => Err(Ok(message)),
    };
    match saved {
        Ok(id) => Ok(Redirect::to(&format!(
            "/officer/registers?saved={}",
            enc(&format!("{} {id}", kind.noun()))
        ))
        .into_response()),
        Err(Err(e)) => Err(WebError::app(me.lang)(e)),
        Err(Ok(message)) => Ok(render(&EditorPage {
            page: me.page,
            kind,
            id: editing,
            text,
            error: Some(message),
        })),
    }
}

#[derive(Template)]
#[template(path = "rights.html")]
struct RightsPage {
    page: Page,
    requests: Vec<RightsRequest>,
    today: chrono::NaiveDate,
    kinds: [RightKind; 6],
    error: Option<String>,
}

/// The register of rights requests, and the form to record one.
async fn rights(State(web): State<Web>, me: Me) -> Result<Response, WebError> {
    rights_page(&web, me, None).await
}

async fn rights_page(web: &Web, me: Me, error: Option<String>) -> Result<Response, WebError> {
    me.require(web, Action::View, ResourceKind::Register, Some("rights"))
        .await?;
    let requests = web
        .app
        .rights_requests(&me.org)
        .await
        .map_err(WebError::app(me.lang))?;
    Ok(render(&RightsPage {
        page: me.page,
        requests,
        today: Utc::now().date_naive(),
        kinds: RightKind::ALL,
        error,
    }))
}

#[derive(Deserialize)]
struct OpenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    customer: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    received: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    identity_check: String,
}

/// Records a request received (audited); a bad field comes back beside
/// the form.
async fn open_request(
    State(web): State<Web>,
    me: Me,
    Form(form): Form<OpenForm>,
) -> Result<Response, WebError> {
    me.check_form(&form.csrf)?;
    me.require(&web, Action::Create, ResourceKind::Register, Some("rights"))
        .await?;
    let parsed = (|| -> Result<(CustomerId, RightKind, chrono::NaiveDate), String> {
        let customer = form
            .customer
            .trim()
            .parse()
            .map_err(|e: custodia_engine::Error| format!("customer: {e}"))?;
        let kind = form
            .kind
            .parse()
            .map_err(|e: custodia_engine::Error| format!("kind: {e}"))?;
        let received = match form.received.trim() {
            "" => Utc::now().date_naive(),
            text => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| format!("received: `{text}` is not a date (YYYY-MM-DD)"))?,
        };
        Ok((customer, kind, received))
    })();
    let (customer, kind, received) = match parsed {
        Ok(p) => p,
        Err(message) => return rights_page(&web, me, Some(message)).await,
    };
    let channel = blank(&form.channel).unwrap_or_else(|| "web".into());
    let identity = blank(&form.identity_check);
    let new = NewRightsRequest {
        customer: &customer,
        kind,
        received,
        channel: &channel,
        identity_check: identity.as_deref(),
    };
    match web
        .app
        .open_rights_request(&me.org, &new, Some(&me.reader.worker))
        .await
    {
        Ok(r) => Ok(Redirect::to(&format!("/officer/rights/{}", r.id)).into_response()),
        Err(custodia_app::Error::Engine(e @ custodia_engine::Error::NotFound { .. })) => {
            rights_page(&web, me, Some(format!("customer: {e}"))).await
        }
        Err(e) => Err(WebError::app(me.lang)(e)),
    }
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    page: Page,
    request: RightsRequest,
    late: bool,
    /// A granted erasure not yet purged: the purge form is offered.
    purgeable: bool,
    /// Why the last purge was refused (e.g. the retention runs on).
    purge_error: String,
}

impl RequestPage {
    fn of(page: Page, request: RightsRequest, purge_error: String) -> Self {
        let late = request.is_late(Utc::now().date_naive());
        RequestPage {
            page,
            purgeable: request.awaits_purge(),
            request,
            late,
            purge_error,
        }
    }
}

async fn request(
    State(web): State<Web>,
    me: Me,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    me.require(&web, Action::View, ResourceKind::Register, Some("rights"))
        .await?;
    let request = web
        .app
        .rights_request(&me.org, id)
        .await
        .map_err(WebError::app(me.lang))?;
    Ok(render(&RequestPage::of(me.page, request, String::new())))
}

#[derive(Deserialize)]
struct AnswerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
}

/// Grants, refuses or extends a request (audited; a grant does what the
/// right asks: blocking, restriction, opt-out).
async fn answer_request(
    State(web): State<Web>,
    me: Me,
    Path((id, verb)): Path<(i64, String)>,
    Form(form): Form<AnswerForm>,
) -> Result<Response, WebError> {
    me.check_form(&form.csrf)?;
    me.require(&web, Action::Edit, ResourceKind::Register, Some("rights"))
        .await?;
    let by = Some(&me.reader.worker);
    let text = form.text.trim();
    let done = match verb.as_str() {
        "resolve" => {
            let answer = if text.is_empty() { "granted" } else { text };
            web.app
                .resolve_rights_request(&me.org, id, answer, by)
                .await
        }
        "refuse" => web.app.refuse_rights_request(&me.org, id, text, by).await,
        "extend" => web.app.extend_rights_request(&me.org, id, text, by).await,
        "purge" => {
            let early = Some(text).filter(|t| !t.is_empty());
            if let Err(e) = web.app.purge_erased(&me.org, id, early, by).await {
                // A refusal (the retention runs on) is shown beside the form.
                let request = web
                    .app
                    .rights_request(&me.org, id)
                    .await
                    .map_err(WebError::app(me.lang))?;
                return Ok(render(&RequestPage::of(me.page, request, e.to_string())));
            }
            return Ok(Redirect::to(&format!("/officer/rights/{id}")).into_response());
        }
        other => {
            return Err(WebError::new(
                me.lang,
                StatusCode::NOT_FOUND,
                format!("`{other}`"),
            ));
        }
    };
    done.map_err(WebError::app(me.lang))?;
    Ok(Redirect::to(&format!("/officer/rights/{id}")).into_response())
}
