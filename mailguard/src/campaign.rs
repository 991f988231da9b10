//! Campaigns: what to send, to whom, on what legal basis, with templates
//! written by users and rendered at send time.

use std::path::Path;

use chrono::{DateTime, Utc};
use custodia_engine::audit::{AuditEvent, Change, EventKind};
use custodia_engine::{OrgSlug, Store, WorkerLogin};
use minijinja::Environment;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A recipient given by a CSV audience.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedRecipient {
    pub email: String,
    #[serde(default)]
    pub name: String,
}

/// Who a campaign goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Audience {
    /// Every customer of the organisation with an email address.
    Customers,
    /// A list imported from CSV (`email,name`) when the campaign is created.
    List(Vec<ListedRecipient>),
}

/// A campaign as written by marketing staff (TOML) and stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    pub id: String,
    pub name: String,
    /// The worker who sends: the rules decide `send` for each customer.
    pub sender: WorkerLogin,
    /// `Name <address>`.
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub subject: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// e.g. "consent (GDPR 6(1)(a)); LSSI-CE art. 21.2 for customers".
    pub legal_basis: String,
    /// The campaign is about products or services of this firm similar to
    /// those its customers contracted: only then may existing customers
    /// without consent receive it (LSSI-CE art. 21.2). Declared, never assumed.
    #[serde(default)]
    pub similar_products: bool,
    pub audience: Audience,
    /// Not sent before this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<DateTime<Utc>>,
}

/// The file form: a CSV audience is a path, read at creation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignFile {
    id: String,
    name: String,
    sender: WorkerLogin,
    from: String,
    #[serde(default)]
    reply_to: Option<String>,
    subject: String,
    text: String,
    #[serde(default)]
    html: Option<String>,
    legal_basis: String,
    #[serde(default)]
    similar_products: bool,
    /// `"customers"` or a CSV path relative to the campaign file.
    audience: String,
    /// RFC 3339, e.g. `"2026-12-01T09:00:00+01:00"`.
    #[serde(default)]
    schedule: Option<String>,
}

/// What templates see.
#[derive(Debug, Serialize)]
pub struct TemplateContext<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub customer: Option<&'a str>,
    pub unsubscribe_url: &'a str,
    pub campaign: &'a str,
}

/// A campaign's compiled templates.
pub struct Renderer {
    env: Environment<'static>,
    has_html: bool,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("has_html", &self.has_html)
            .finish_non_exhaustive()
    }
}

impl Renderer {
    /// Renders the message for one recipient.
    pub fn render(&self, context: &TemplateContext<'_>) -> Result<Rendered> {
        let render = |name: &'static str| -> Result<String> {
            self.env
                .get_template(name)
                .and_then(|t| t.render(context))
                .map_err(|e| Error::Template {
                    template: name,
                    message: e.to_string(),
                })
        };
        Ok(Rendered {
            subject: render("subject")?.replace(['\r', '\n'], " "),
            text: render("text")?,
            html: self.has_html.then(|| render("html")).transpose()?,
        })
    }
}

/// Rendered subject, text and HTML.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

impl Campaign {
    /// Reads a campaign file; the CSV audience is read now, all or nothing.
    pub fn read(path: &Path) -> Result<Self> {
        let text = custodia_engine::exchange::read_text(path)?;
        let file: CampaignFile = toml::from_str(&text).map_err(|e| Error::Input {
            path: path.to_owned(),
            line: e
                .span()
                .map_or(1, |s| text[..s.start].lines().count().max(1)),
            message: e.message().to_owned(),
        })?;
        custodia_engine::EntryId::new(file.id.clone())?;
        let schedule = file
            .schedule
            .as_deref()
            .map(|at| {
                DateTime::parse_from_rfc3339(at)
                    .map(|at| at.with_timezone(&Utc))
                    .map_err(|e| Error::Input {
                        path: path.to_owned(),
                        line: line_of(&text, "schedule"),
                        message: format!("schedule `{at}`: {e} (expected RFC 3339, e.g. 2026-12-01T09:00:00+01:00)"),
                    })
            })
            .transpose()?;
        let audience = if file.audience == "customers" {
            Audience::Customers
        } else {
            let csv_path = path.parent().unwrap_or(Path::new(".")).join(&file.audience);
            Audience::List(read_audience_csv(&csv_path)?)
        };
        let campaign = Campaign {
            id: file.id,
            name: file.name,
            sender: file.sender,
            from: file.from,
            reply_to: file.reply_to,
            subject: file.subject,
            text: file.text,
            html: file.html,
            legal_basis: file.legal_basis,
            similar_products: file.similar_products,
            audience,
            schedule,
        };
        campaign.check()?;
        Ok(campaign)
    }

    /// What `create` refuses: templates that do not compile, and a text or
    /// HTML body without the unsubscribe link.
    // INVARIANT: every stored campaign shows its unsubscribe link in every
    // body it sends (checked by rendering, so `{{unsubscribe_url}}` hidden
    // behind a condition that is false for a sample recipient is refused).
    pub fn check(&self) -> Result<()> {
        // Nothing HTML escaping would change, so one probe serves both bodies.
        const PROBE: &str = "custodia-unsubscribe-probe-7f3a";
        let rendered = self.renderer()?.render(&TemplateContext {
            name: "Nombre Apellido",
            email: "someone@example.com",
            customer: None,
            unsubscribe_url: PROBE,
            campaign: &self.name,
        })?;
        let parts = [
            ("text", Some(&rendered.text)),
            ("HTML", rendered.html.as_ref()),
        ];
        for (part, body) in parts {
            if body.is_some_and(|b| !b.contains(PROBE)) {
                return Err(Error::NoUnsubscribeLink {
                    campaign: self.id.clone(),
                    part,
                });
            }
        }
        Ok(())
    }

    /// The templates, compiled once: a syntax error is reported here, at
    /// creation, and a send renders every message from one compilation.
    pub fn renderer(&self) -> Result<Renderer> {
        let mut env = Environment::new();
        // Text parts are not HTML: escape only the HTML part.
        env.set_auto_escape_callback(|name| {
            if name == "html" {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        let parts = [
            ("subject", Some(&self.subject)),
            ("text", Some(&self.text)),
            ("html", self.html.as_ref()),
        ];
        for (name, source) in parts {
            if let Some(source) = source {
                env.add_template_owned(name, source.clone())
                    .map_err(|e| Error::Template {
                        template: name,
                        message: e.to_string(),
                    })?;
            }
        }
        Ok(Renderer {
            env,
            has_html: self.html.is_some(),
        })
    }

    /// The sender's mailbox, parsed.
    pub fn from_mailbox(&self) -> Result<lettre::message::Mailbox> {
        self.from
            .parse()
            .map_err(|e| Error::Smtp(format!("sender `{}`: {e}", self.from)))
    }

    /// The sender's domain: Message-IDs, the unsubscribe mailto and DKIM use it.
    pub fn sender_domain(&self) -> Result<String> {
        Ok(self.from_mailbox()?.email.domain().to_owned())
    }

    /// Stores a new campaign, audited in the same transaction.
    pub async fn create(&self, store: &Store, org: &OrgSlug) -> Result<()> {
        self.check()?;
        if Self::load(store, org, &self.id).await.is_ok() {
            return Err(Error::CampaignExists(self.id.clone()));
        }
        let body = serde_json::to_string(self).map_err(|e| Error::Smtp(e.to_string()))?;
        let mut change = Change::begin(store, org).await?;
        sqlx::query("INSERT INTO campaigns (org, id, body, created_at) VALUES ($1, $2, $3, $4)")
            .bind(org.as_str())
            .bind(&self.id)
            .bind(body)
            .bind(chrono::Utc::now().timestamp())
            .execute(&mut **change.tx())
            .await?;
        change.record(self.event("created"));
        change.commit().await?;
        Ok(())
    }

    /// Replaces a stored campaign's text and settings, audited, only while
    /// nothing of it has been planned for sending: once messages exist,
    /// they are what was sent, and a change needs a new campaign.
    pub async fn update(&self, store: &Store, org: &OrgSlug) -> Result<()> {
        self.check()?;
        Self::load(store, org, &self.id).await?;
        let body = serde_json::to_string(self).map_err(|e| Error::Smtp(e.to_string()))?;
        let mut change = Change::begin(store, org).await?;
        let updated = sqlx::query(
            "UPDATE campaigns SET body = $3 WHERE org = $1 AND id = $2 \
             AND NOT EXISTS (SELECT 1 FROM outbox WHERE org = $1 AND campaign = $2)",
        )
        .bind(org.as_str())
        .bind(&self.id)
        .bind(body)
        .execute(&mut **change.tx())
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(Error::CampaignStarted(self.id.clone()));
        }
        change.record(self.event("edited"));
        change.commit().await?;
        Ok(())
    }

    /// Stops the campaign: no message is claimed after this commits
    /// (those already handed to SMTP finish). Audited.
    pub async fn stop(store: &Store, org: &OrgSlug, id: &str) -> Result<()> {
        let campaign = Self::load(store, org, id).await?;
        let mut change = Change::begin(store, org).await?;
        sqlx::query("UPDATE campaigns SET stopped_at = $3 WHERE org = $1 AND id = $2 AND stopped_at IS NULL")
            .bind(org.as_str())
            .bind(id)
            .bind(chrono::Utc::now().timestamp())
            .execute(&mut **change.tx())
            .await?;
        change.record(campaign.event("stopped"));
        change.commit().await?;
        Ok(())
    }

    /// When the campaign was stopped, if it was.
    pub async fn stopped_at(store: &Store, org: &OrgSlug, id: &str) -> Result<Option<i64>> {
        let row: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT stopped_at FROM campaigns WHERE org = $1 AND id = $2")
                .bind(org.as_str())
                .bind(id)
                .fetch_optional(store.pool())
                .await?;
        Ok(row.and_then(|(at,)| at))
    }

    fn event(&self, what: &str) -> AuditEvent {
        let mut event = AuditEvent::new(EventKind::Campaign, chrono::Utc::now());
        event.worker = Some(self.sender.to_string());
        event.resource = Some(format!("campaign:{}", self.id));
        event.detail = Some(format!("campaign `{}` {what}", self.id));
        event
    }

    /// Every stored campaign of `org`, newest first.
    pub async fn list(store: &Store, org: &OrgSlug) -> Result<Vec<Self>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, body FROM campaigns WHERE org = $1 ORDER BY created_at DESC, id",
        )
        .bind(org.as_str())
        .fetch_all(store.pool())
        .await?;
        rows.into_iter()
            .map(|(id, body)| {
                serde_json::from_str(&body).map_err(|e| {
                    Error::Engine(custodia_engine::Error::Corrupt(format!(
                        "campaign `{id}`: {e}"
                    )))
                })
            })
            .collect()
    }

    /// Loads a stored campaign.
    pub async fn load(store: &Store, org: &OrgSlug, id: &str) -> Result<Self> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT body FROM campaigns WHERE org = $1 AND id = $2")
                .bind(org.as_str())
                .bind(id)
                .fetch_optional(store.pool())
                .await?;
        let (body,) = row.ok_or_else(|| Error::CampaignNotFound(id.to_owned()))?;
        serde_json::from_str(&body).map_err(|e| {
            Error::Engine(custodia_engine::Error::Corrupt(format!(
                "campaign `{id}`: {e}"
            )))
        })
    }
}

/// The line where `key = ...` is set, for error messages.
fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| l.trim_start().starts_with(key))
        .map_or(1, |i| i + 1)
}

/// Reads `email,name` rows; a malformed file is refused whole.
fn read_audience_csv(path: &Path) -> Result<Vec<ListedRecipient>> {
    let text = custodia_engine::exchange::read_text(path)?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.deserialize::<ListedRecipient>() {
        let row = record.map_err(|e| Error::Input {
            path: path.to_owned(),
            line: e
                .position()
                .map_or(1, |p| usize::try_from(p.line()).unwrap_or(usize::MAX)),
            message: format!("malformed row: {e}"),
        })?;
        rows.push(row);
    }
    Ok(rows)
}
