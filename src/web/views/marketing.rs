//! Marketing's pages: campaigns (list, editor, plan with exclusions per
//! reason, a preview for a sample recipient), sending with live progress
//! and a stop button, and the opt-out list. Decided on the `campaign` and
//! `opt-out` kinds; each recipient is still decided by the mail guard.

use std::collections::HashMap;
use std::sync::Mutex;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use custodia_engine::OrgSlug;
use custodia_engine::rules::{Action, ResourceKind};
use custodia_mailguard::{Address, Audience, Campaign, PlanSummary, SendConfig, TemplateContext};
use serde::Deserialize;

use crate::web::page::{Page, WebError, render};
use crate::web::{Me, Web};

/// How the UI sends, and the runs under way.
#[derive(Debug)]
pub struct Sending {
    /// SMTP server, public URL, rates: as `serve` was told.
    pub config: SendConfig,
    runs: Mutex<HashMap<(OrgSlug, String), Run>>,
}

impl Sending {
    /// Sending with this configuration.
    pub fn new(config: SendConfig) -> Self {
        Self {
            config,
            runs: Mutex::new(HashMap::new()),
        }
    }

    fn set(&self, key: &(OrgSlug, String), run: Run) {
        if let Ok(mut runs) = self.runs.lock() {
            runs.insert(key.clone(), run);
        }
    }

    fn get(&self, key: &(OrgSlug, String)) -> Option<Run> {
        self.runs
            .lock()
            .ok()
            .and_then(|runs| runs.get(key).cloned())
    }
}

/// Where one send stands.
#[derive(Debug, Clone, Default)]
struct Run {
    done: usize,
    total: usize,
    finished: bool,
    error: Option<String>,
}

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/marketing", get(campaigns))
        .route("/marketing/new", get(editor).post(create))
        .route("/marketing/campaigns/{id}", get(campaign))
        .route("/marketing/campaigns/{id}/edit", get(edit).post(save_edit))
        .route("/marketing/campaigns/{id}/send", post(send))
        .route("/marketing/campaigns/{id}/progress", get(progress))
        .route("/marketing/campaigns/{id}/stop", post(stop))
        .route("/marketing/opt-outs", get(opt_outs).post(add_opt_out))
        .route("/marketing/opt-outs/import", post(import_opt_outs))
        .route("/marketing/robinson", post(import_robinson))
}

#[derive(Template)]
#[template(path = "campaigns.html")]
struct CampaignsPage {
    page: Page,
    campaigns: Vec<Campaign>,
}

async fn campaigns(State(web): State<Web>, me: Me) -> Result<Response, WebError> {
    me.require(&web, Action::View, ResourceKind::Campaign, None)
        .await?;
    let campaigns = Campaign::list(web.app.store(), &me.org)
        .await
        .map_err(|e| WebError::app(me.lang)(e.into()))?;
    Ok(render(&CampaignsPage {
        page: me.page,
        campaigns,
    }))
}

#[derive(Deserialize, Default)]
struct CampaignForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    legal_basis: String,
    #[serde(default)]
    similar_products: Option<String>,
}

#[derive(Template)]
#[template(path = "campaign_editor.html")]
struct EditorPage {
    page: Page,
    /// The campaign being changed; `None` for a new one.
    editing: Option<String>,
    form: CampaignForm,
    /// (field, message) beside each field.
    errors: Vec<(&'static str, String)>,
}

impl EditorPage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

async fn editor(State(web): State<Web>, me: Me) -> Result<Response, WebError> {
    me.require(&web, Action::Create, ResourceKind::Campaign, None)
        .await?;
    let form = CampaignForm {
        text: "Hola {{ name }}:\n\n\n\nPara no recibir más comunicaciones: {{ unsubscribe_url }}\n"
            .into(),
        ..CampaignForm::default()
    };
    Ok(render(&EditorPage {
        page: me.page,
        editing: None,
        form,
        errors: Vec::new(),
    }))
}

/// The editor, filled with a stored campaign.
async fn edit(
    State(web): State<Web>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    me.require(&web, Action::Edit, ResourceKind::Campaign, Some(&id))
        .await?;
    let c = Campaign::load(web.app.store(), &me.org, &id)
        .await
        .map_err(|e| WebError::app(me.lang)(e.into()))?;
    let form = CampaignForm {
        csrf: String::new(),
        id: c.id,
        name: c.name,
        from: c.from,
        subject: c.subject,
        text: c.text,
        legal_basis: c.legal_basis,
        similar_products: c.similar_products.then(|| "yes".to_owned()),
    };
    Ok(render(&EditorPage {
        page: me.page,
        editing: Some(id),
        form,
        errors: Vec::new(),
    }))
}

async fn save_edit(
    State(web): State<Web>,
    me: Me,
    Path(id): Path<String>,
    Form(mut form): Form<CampaignForm>,
) -> Result<Response, WebError> {
    me.check_form(&form.csrf)?;
    // The id is the one in the address, whatever the form says.
    form.id = id;
    save(&web, me, form, true).await
}

/// Checks each field, then stores the campaign (templates compiled, the
/// creation audited); errors are shown beside their fields.
async fn create(
    State(web): State<Web>,
    me: Me,
    Form(form): Form<CampaignForm>,
) -> Result<Response, WebError> {
    me.check_form(&form.csrf)?;
    save(&web, me, form, false).await
}

/// Validates the editor's fields and stores a new campaign or the change
/// to one; a refusal comes back beside the field it is about.
async fn save(web: &Web, me: Me, form: CampaignForm, editing: bool) -> Result<Response, WebError> {
    let mut errors = Vec::new();
    let id = form.id.trim().to_owned();
    if let Err(e) = id.parse::<custodia_engine::rules::OfficeName>() {
        errors.push(("id", e.to_string()));
    }
    for (field, value) in [
        ("name", &form.name),
        ("from", &form.from),
        ("subject", &form.subject),
        ("text", &form.text),
        ("legal_basis", &form.legal_basis),
    ] {
        if value.trim().is_empty() {
            errors.push((field, "required".to_owned()));
        }
    }
    if errors.is_empty() {
        let action = if editing {
            Action::Edit
        } else {
            Action::Create
        };
        me.require(web, action, ResourceKind::Campaign, Some(&id))
            .await?;
        let campaign = Campaign {
            id: id.clone(),
            name: form.name.trim().to_owned(),
            sender: me.reader.worker.clone(),
            from: form.from.trim().to_owned(),
            reply_to: None,
            subject: form.subject.clone(),
            text: form.text.replace("\r\n", "\n"),
            html: None,
            legal_basis: form.legal_basis.trim().to_owned(),
            similar_products: form.similar_products.is_some(),
            audience: Audience::Customers,
            schedule: None,
        };
        let stored = match campaign.check() {
            Err(e) => Err(("text", e.to_string())),
            Ok(()) if editing => web
                .app
                .update_campaign(&me.org, &campaign)
                .await
                .map_err(|e| ("id", e.to_string())),
            Ok(()) => web
                .app
                .create_campaign(&me.org, &campaign)
                .await
                .map_err(|e| ("id", e.to_string())),
        };
        match stored {
            Ok(()) => {
                return Ok(Redirect::to(&format!("/marketing/campaigns/{id}")).into_response());
            }
            Err(error) => errors.push(error),
        }
    }
    // Shown again with each error beside its field: a page like any other.
    Ok(render(&EditorPage {
        page: me.page,
        editing: editing.then_some(id),
        form,
        errors,
    }))
}

#[derive(Template)]
#[template(path = "campaign.html")]
struct CampaignPage {
    page: Page,
    campaign: Campaign,
    plan: Result<PlanSummary, String>,
    preview: Option<(String, String, String)>,
    can_send: bool,
}

async fn campaign(
    State(web): State<Web>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    me.require(&web, Action::View, ResourceKind::Campaign, Some(&id))
        .await?;
    let fail = WebError::app(me.lang);
    let campaign = Campaign::load(web.app.store(), &me.org, &id)
        .await
        .map_err(|e| fail(e.into()))?;
    // A plan that cannot be made (no Robinson list in force) is shown
    // with its reason, not as a failed page. Only its totals and the first
    // recipient kept (the preview's) are kept from it.
    let mut first_kept = None;
    let plan = web
        .app
        .plan_campaign_each(&me.org, &id, |r| {
            if first_kept.is_none() && r.excluded.is_none() {
                first_kept = Some(r);
            }
        })
        .await
        .map_err(|e| e.to_string());
    let preview = first_kept.and_then(|r| {
        let rendered = campaign
            .renderer()
            .ok()?
            .render(&TemplateContext {
                name: &r.name,
                email: &r.address,
                customer: r.customer.as_deref(),
                unsubscribe_url: "https://…/u/…",
                campaign: &campaign.id,
            })
            .ok()?;
        Some((r.address, rendered.subject, rendered.text))
    });
    let can_send = me.may(&web, Action::Send, ResourceKind::Campaign);
    Ok(render(&CampaignPage {
        page: me.page,
        campaign,
        plan,
        preview,
        can_send,
    }))
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Starts the send in the background and goes to its progress page.
async fn send(
    State(web): State<Web>,
    me: Me,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    me.check_form(&form.csrf)?;
    me.require(&web, Action::Send, ResourceKind::Campaign, Some(&id))
        .await?;
    let Some(sending) = web.sending.clone() else {
        return Err(WebError::new(
            me.lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "no SMTP server: start `custodia serve` with --smtp",
        ));
    };
    let campaign = Campaign::load(web.app.store(), &me.org, &id)
        .await
        .map_err(|e| WebError::app(me.lang)(e.into()))?;
    let key = (me.org.clone(), id.clone());
    if sending.get(&key).is_some_and(|r| !r.finished) {
        return Ok(Redirect::to(&format!("/marketing/campaigns/{id}/progress")).into_response());
    }
    sending.set(&key, Run::default());
    let app = web.app.clone();
    tokio::spawn(async move {
        let tracker = sending.clone();
        let tracked = key.clone();
        let progress = move |p: custodia_mailguard::Progress| {
            tracker.set(
                &tracked,
                Run {
                    done: p.done,
                    total: p.total,
                    finished: false,
                    error: None,
                },
            );
        };
        let outcome = app
            .send_campaign(&key.0, &campaign, &sending.config, &progress)
            .await;
        let mut run = sending.get(&key).unwrap_or_default();
        run.finished = true;
        if let Err(e) = outcome {
            tracing::warn!(error = %e, campaign = %key.1, "campaign send failed");
            run.error = Some(e.to_string());
        }
        sending.set(&key, run);
    });
    Ok(Redirect::to(&format!("/marketing/campaigns/{id}/progress")).into_response())
}

#[derive(Template)]
#[template(path = "progress.html")]
struct ProgressPage {
    page: Page,
    id: String,
    done: usize,
    total: usize,
    finished: bool,
    error: Option<String>,
    /// Recipients per outbox state, from the store.
    states: Vec<(String, usize)>,
}

/// Progress from the runs under way and the outbox; the page refreshes
/// itself until the run ends (no script).
async fn progress(
    State(web): State<Web>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    me.require(&web, Action::View, ResourceKind::Campaign, Some(&id))
        .await?;
    let run = web
        .sending
        .as_ref()
        .and_then(|s| s.get(&(me.org.clone(), id.clone())));
    let status = web
        .app
        .campaign_status(&me.org, &id)
        .await
        .map_err(WebError::app(me.lang))?;
    let run = run.unwrap_or(Run {
        finished: true,
        ..Run::default()
    });
    Ok(render(&ProgressPage {
        page: me.page,
        id,
        done: run.done,
        total: run.total,
        finished: run.finished,
        error: run.error,
        states: status.states.into_iter().collect(),
    }))
}

/// Stops the campaign: nothing more is claimed for sending (audited).
async fn stop(
    State(web): State<Web>,
    me: Me,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    me.check_form(&form.csrf)?;
    me.require(&web, Action::Edit, ResourceKind::Campaign, Some(&id))
        .await?;
    web.app
        .stop_campaign(&me.org, &id)
        .await
        .map_err(WebError::app(me.lang))?;
    Ok(Redirect::to(&format!("/marketing/campaigns/{id}/progress")).into_response())
}

#[derive(Deserialize, Default)]
struct OptOutParams {
    #[serde(default)]
    q: String,
}

#[derive(Template)]
#[template(path = "opt_outs.html")]
struct OptOutsPage {
    page: Page,
    q: String,
    entries: Vec<custodia_mailguard::suppression::OptOutEntry>,
    notice: Option<&'static str>,
    /// (field id, message): shown beside that field.
    error: Option<(&'static str, String)>,
}

impl OptOutsPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

async fn opt_outs(
    State(web): State<Web>,
    me: Me,
    Query(params): Query<OptOutParams>,
) -> Result<Response, WebError> {
    opt_outs_page(&web, me, params.q, None, None).await
}

async fn opt_outs_page(
    web: &Web,
    me: Me,
    q: String,
    notice: Option<&'static str>,
    error: Option<(&'static str, String)>,
) -> Result<Response, WebError> {
    me.require(web, Action::View, ResourceKind::OptOut, None)
        .await?;
    let needle = q.trim().to_lowercase();
    let entries = custodia_mailguard::suppression::opt_outs(web.app.store(), &me.org)
        .await
        .map_err(|e| WebError::app(me.lang)(e.into()))?
        .into_iter()
        .filter(|e| needle.is_empty() || e.address.contains(&needle))
        .take(500)
        .collect();
    Ok(render(&OptOutsPage {
        page: me.page,
        q,
        entries,
        notice,
        error,
    }))
}

#[derive(Deserialize)]
struct OptOutForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    channel: String,
}

/// Records an opt-out (audited); a bad address is shown beside the field.
async fn add_opt_out(
    State(web): State<Web>,
    me: Me,
    Form(form): Form<OptOutForm>,
) -> Result<Response, WebError> {
    me.check_form(&form.csrf)?;
    me.require(&web, Action::Create, ResourceKind::OptOut, None)
        .await?;
    let address = match Address::parse(form.address.trim()) {
        Ok(a) => a,
        Err(e) => {
            let error = Some(("address", e.to_string()));
            return opt_outs_page(&web, me, String::new(), None, error).await;
        }
    };
    let channel = match form.channel.trim() {
        "" => "web",
        c => c,
    };
    let source = format!("web ({})", me.reader.worker);
    web.app
        .opt_out(&me.org, &address, channel, &source)
        .await
        .map_err(WebError::app(me.lang))?;
    let added = me.lang.t("added");
    opt_outs_page(&web, me, String::new(), Some(added), None).await
}

#[derive(Deserialize)]
struct ImportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    downloaded: String,
}

/// Imports pasted opt-outs, one address per line: all or nothing
/// (audited); a bad line is named beside the field.
async fn import_opt_outs(
    State(web): State<Web>,
    me: Me,
    Form(form): Form<ImportForm>,
) -> Result<Response, WebError> {
    me.check_form(&form.csrf)?;
    me.require(&web, Action::Create, ResourceKind::OptOut, None)
        .await?;
    let source = std::path::Path::new("pasted list");
    match web
        .app
        .import_opt_outs_text(&me.org, source, &form.text)
        .await
    {
        Ok(_) => {
            let done = me.lang.t("added");
            opt_outs_page(&web, me, String::new(), Some(done), None).await
        }
        Err(custodia_app::Error::Engine(e)) => {
            let error = Some(("opt-out-list", e.to_string()));
            opt_outs_page(&web, me, String::new(), None, error).await
        }
        Err(e) => Err(WebError::app(me.lang)(e)),
    }
}

/// Replaces the Robinson list with a pasted download (audited).
async fn import_robinson(
    State(web): State<Web>,
    me: Me,
    Form(form): Form<ImportForm>,
) -> Result<Response, WebError> {
    me.check_form(&form.csrf)?;
    me.require(&web, Action::Create, ResourceKind::OptOut, Some("robinson"))
        .await?;
    let Ok(downloaded) = chrono::NaiveDate::parse_from_str(form.downloaded.trim(), "%Y-%m-%d")
    else {
        let message = format!("`{}` is not a date (YYYY-MM-DD)", form.downloaded);
        return opt_outs_page(&web, me, String::new(), None, Some(("downloaded", message))).await;
    };
    let source = std::path::Path::new("pasted Robinson list");
    match web
        .app
        .import_robinson_text(&me.org, source, &form.text, downloaded)
        .await
    {
        Ok(_) => {
            let done = me.lang.t("added");
            opt_outs_page(&web, me, String::new(), Some(done), None).await
        }
        Err(custodia_app::Error::Engine(e)) => {
            let error = Some(("robinson-list", e.to_string()));
            opt_outs_page(&web, me, String::new(), None, error).await
        }
        Err(custodia_app::Error::Mail(e)) => {
            let error = Some(("robinson-list", e.to_string()));
            opt_outs_page(&web, me, String::new(), None, error).await
        }
        Err(e) => Err(WebError::app(me.lang)(e)),
    }
}
