//! Data-subject rights through the core: the register of requests with
//! its one-month clock, what granting each kind does, and the art. 15
//! access package (the person's data, what it is for, and who of the
//! firm accessed it, from the audit log).

use chrono::{NaiveDate, Utc};
use custodia_engine::audit::merkle::Tree;
use custodia_engine::audit::{AuditEvent, AuditQuery, EventKind};
use custodia_engine::rules::Effect;
use custodia_engine::{
    Answer, CustomerId, NewRightsRequest, OrgSlug, OrgStore, Restriction, RightKind, RightsRequest,
    WorkerLogin, retention_end,
};
use custodia_mailguard::Address;
use serde::Serialize;

use crate::Custodia;
use crate::error::{Error, Result};

pub use custodia_reports::{Access, DataItem, Purpose, RightsPackage};

/// What `rights purge` did.
#[derive(Debug, Clone, Serialize)]
pub struct PurgeReport {
    pub customer: CustomerId,
    pub reason: String,
    pub key_destroyed: bool,
    /// Whether SQLite's write-ahead log, which may hold older copies of
    /// the deleted pages, was emptied at once.
    pub log_emptied: bool,
    pub blobs_removed: usize,
    /// Blobs that could not be removed, with why: sealed under the
    /// destroyed key, they can no longer be read, but should be removed.
    pub blobs_left: Vec<String>,
}

/// When each activity's retention ends, counted from `from`; an activity
/// whose retention gives no period to count is an error naming it (a
/// person must then say it ended: `--early`).
fn retention_ends(
    activities: &[custodia_engine::ProcessingActivity],
    from: NaiveDate,
) -> Result<Vec<(String, NaiveDate)>> {
    activities
        .iter()
        .filter_map(|a| Some((a, a.retention.as_deref()?)))
        .map(|(a, text)| {
            let end = retention_end(from, text).ok_or_else(|| Error::Field {
                field: format!("activity `{}` retention", a.id),
                reason: format!(
                    "`{text}` gives no period to count; purge with --early REASON once it has ended"
                ),
            })?;
            Ok((a.id.to_string(), end))
        })
        .collect()
}

impl Custodia {
    /// Records a request received; due one month later. Audited.
    pub async fn open_rights_request(
        &self,
        org: &OrgSlug,
        new: &NewRightsRequest<'_>,
        by: Option<&WorkerLogin>,
    ) -> Result<RightsRequest> {
        let scope = self.store().org(org).await?;
        Ok(scope.open_rights_request(new, by).await?)
    }

    /// Every request of `org`, newest first.
    pub async fn rights_requests(&self, org: &OrgSlug) -> Result<Vec<RightsRequest>> {
        Ok(self.store().org(org).await?.rights_requests().await?)
    }

    /// One request.
    pub async fn rights_request(&self, org: &OrgSlug, id: i64) -> Result<RightsRequest> {
        Ok(self.store().org(org).await?.rights_request(id).await?)
    }

    /// Extends a request by two months, with the reason. Audited.
    pub async fn extend_rights_request(
        &self,
        org: &OrgSlug,
        id: i64,
        reason: &str,
        by: Option<&WorkerLogin>,
    ) -> Result<RightsRequest> {
        require_text("reason", reason)?;
        let scope = self.store().org(org).await?;
        Ok(scope.extend_rights_request(id, reason, by).await?)
    }

    /// Grants a request and does what the right asks: erasure blocks the
    /// record (LOPDGDD art. 32), restriction restricts it (art. 18), an
    /// objection to marketing puts the address on the opt-out list at
    /// once (art. 21.3). Access and portability are answered with their
    /// package; rectification with an edit through the core. Audited.
    pub async fn resolve_rights_request(
        &self,
        org: &OrgSlug,
        id: i64,
        answer: &str,
        by: Option<&WorkerLogin>,
    ) -> Result<RightsRequest> {
        let scope = self.store().org(org).await?;
        let request = scope.rights_request(id).await?;
        let restriction = match request.kind {
            RightKind::Erasure => Some(Restriction::Blocked),
            RightKind::Restriction => Some(Restriction::Restricted),
            _ => None,
        };
        if request.kind == RightKind::Objection {
            // The opt-out first: should the answer fail, the person is
            // still never mailed again.
            let customer = scope.customer(&request.customer).await?;
            if let Some(email) = &customer.email {
                let address = Address::parse(email)?;
                let source = format!("objection, rights request #{id}");
                self.opt_out(org, &address, "rights request", &source)
                    .await?;
            }
        }
        let answered = scope
            .answer_rights_request(
                id,
                Answer::Grant {
                    text: answer,
                    restriction,
                },
                by,
            )
            .await?;
        Ok(answered)
    }

    /// Refuses a request, with the reason the requester is given. Audited.
    pub async fn refuse_rights_request(
        &self,
        org: &OrgSlug,
        id: i64,
        reason: &str,
        by: Option<&WorkerLogin>,
    ) -> Result<RightsRequest> {
        require_text("reason", reason)?;
        let scope = self.store().org(org).await?;
        Ok(scope
            .answer_rights_request(id, Answer::Refuse { text: reason }, by)
            .await?)
    }

    /// Lifts the restriction a granted restriction request set. Audited.
    pub async fn lift_restriction(
        &self,
        org: &OrgSlug,
        id: i64,
        by: Option<&WorkerLogin>,
    ) -> Result<()> {
        let scope = self.store().org(org).await?;
        let request = scope.rights_request(id).await?;
        if request.kind != RightKind::Restriction {
            return Err(Error::Field {
                field: "request".into(),
                reason: format!("#{id} is a {} request, not a restriction", request.kind),
            });
        }
        Ok(scope.lift_restriction(&request, by).await?)
    }

    /// Purges the record of a granted erasure once the retention of the
    /// firm's processing activities, counted from the grant, has ended
    /// (LOPDGDD art. 32: blocked until then). `early` is the officer's
    /// reason to purge before (e.g. no claim can arise); it is recorded.
    /// The data and its key go in one audited transaction; the blobs of
    /// its documents, sealed under that key, are removed after.
    pub async fn purge_erased(
        &self,
        org: &OrgSlug,
        id: i64,
        early: Option<&str>,
        by: Option<&WorkerLogin>,
    ) -> Result<PurgeReport> {
        let scope = self.store().org(org).await?;
        let request = scope.rights_request(id).await?;
        let refuse = |reason: String| Error::Field {
            field: "request".into(),
            reason,
        };
        if !request.awaits_purge() {
            return Err(refuse(match request.purged_at {
                Some(at) => format!("#{id} was purged on {}", at.date_naive()),
                None => format!(
                    "#{id} is a {} request ({}); only a granted erasure is purged",
                    request.kind,
                    request.status.as_str()
                ),
            }));
        }
        let today = Utc::now().date_naive();
        let blocked_on = request.answered_at.map_or(today, |t| t.date_naive());
        let reason = match early {
            Some(text) => {
                require_text("early", text)?;
                format!("before the retention ended: {}", text.trim())
            }
            None => {
                let activities = scope.registers().await?.activities;
                let ends = retention_ends(&activities, blocked_on)?;
                if let Some((activity, end)) = ends.iter().max_by_key(|(_, end)| *end) {
                    if *end > today {
                        return Err(refuse(format!(
                            "the record stays blocked until {end}: the retention of activity `{activity}` runs until then (LOPDGDD art. 32)"
                        )));
                    }
                }
                format!("retention ended, blocked since {blocked_on}")
            }
        };
        let customer = scope.customer(&request.customer).await?;
        let address_key = customer
            .email
            .as_deref()
            .and_then(|email| Address::parse(email).ok())
            .map(|address| address.key());
        let purged = scope
            .purge_customer(&request, by, address_key.as_deref(), &reason)
            .await?;
        let log_emptied = self.store().truncate_log().await?;
        let blobs = self.config().blob_store()?;
        let mut blobs_left = Vec::new();
        for address in &purged.blobs {
            if let Err(e) = blobs.remove(address).await {
                blobs_left.push(format!("{address}: {e}"));
            }
        }
        Ok(PurgeReport {
            customer: request.customer,
            reason,
            key_destroyed: purged.key_destroyed,
            log_emptied,
            blobs_removed: purged.blobs.len() - blobs_left.len(),
            blobs_left,
        })
    }

    /// The package answering an access or portability request: every
    /// field and area of the person, decrypted for this purpose only; for
    /// access also the purposes and the accesses the audit log holds.
    /// Producing it is an audited export.
    pub async fn rights_package(
        &self,
        org: &OrgSlug,
        id: i64,
        by: Option<&WorkerLogin>,
    ) -> Result<RightsPackage> {
        let scope = self.store().org(org).await?;
        let request = scope.rights_request(id).await?;
        if !matches!(request.kind, RightKind::Access | RightKind::Portability) {
            return Err(Error::Field {
                field: "request".into(),
                reason: format!(
                    "#{id} is a {} request; packages answer access and portability",
                    request.kind
                ),
            });
        }
        let mut customer = scope.customer(&request.customer).await?;
        scope.unseal(&mut customer, &[]).await?;
        let data = data_items(&customer);
        let access = request.kind == RightKind::Access;
        let purposes = if access {
            scope
                .registers()
                .await?
                .activities
                .into_iter()
                .map(|a| Purpose {
                    activity: a.name,
                    purposes: a.purposes,
                    legal_basis: a.legal_basis,
                    recipients: a.recipients,
                    retention: a.retention,
                })
                .collect()
        } else {
            Vec::new()
        };
        let (accesses, tree_head) = if access {
            let (accesses, head) = self.accesses(&scope, &customer.id).await?;
            (accesses, Some(head))
        } else {
            (Vec::new(), None)
        };
        let mut event = AuditEvent::new(EventKind::Export, Utc::now());
        event.worker = by.map(ToString::to_string);
        event.action = Some("export".into());
        event.customer = Some(customer.id.to_string());
        event.resource = Some(format!("rights-request:{id}"));
        event.detail = Some(format!(
            "{} package for rights request #{id}: {} values, {} accesses",
            request.kind,
            data.len(),
            accesses.len()
        ));
        self.audit().append(org, event).await?;
        Ok(RightsPackage {
            organisation: scope.organisation().name.clone(),
            customer: customer.id.clone(),
            name: customer.name.clone(),
            request,
            data,
            purposes,
            accesses,
            tree_head,
            made_at: Utc::now(),
        })
    }

    /// The workers' accesses to `customer`'s data the log holds, each with
    /// its inclusion proof, and the signed tree head they are proved
    /// against (the log as it is now).
    async fn accesses(
        &self,
        scope: &OrgStore,
        customer: &CustomerId,
    ) -> Result<(Vec<Access>, String)> {
        let org = scope.slug();
        let workers = scope.workers().await?;
        let query = AuditQuery {
            customer: Some(customer.to_string()),
            ..AuditQuery::default()
        };
        let events = self.store().query_audit(org, &query).await?;
        let hashes = self.store().audit_event_hashes(org).await?;
        let tree = Tree::of_events(&hashes);
        let head = self.audit().signed_head(org, &tree)?;
        let mut accesses = Vec::new();
        for e in events {
            if !ACCESS_KINDS.contains(&e.event.kind) {
                continue;
            }
            let Some(login) = e.event.worker.as_deref() else {
                continue;
            };
            let proof = tree.prove(org.as_str(), e.seq, &hashes)?;
            let worker = workers.iter().find(|w| w.login.as_str() == login);
            let kind = e.event.kind;
            accesses.push(Access {
                at: e.event.at,
                seq: e.seq,
                action: e
                    .event
                    .action
                    .clone()
                    .unwrap_or_else(|| kind.as_str().into()),
                role: worker.map(|w| w.roles.join(", ")).unwrap_or_default(),
                department: worker.map(|w| w.departments.join(", ")).unwrap_or_default(),
                allowed: e.event.decision != Some(Effect::Deny),
                exported: matches!(
                    kind,
                    EventKind::Export | EventKind::Download | EventKind::Print
                ),
                proof,
            });
        }
        Ok((accesses, head))
    }
}

/// The events that are a worker reaching the person's data (not, say, the
/// rights request itself or a login).
const ACCESS_KINDS: [EventKind; 7] = [
    EventKind::Decision,
    EventKind::Unlock,
    EventKind::UnlockFailed,
    EventKind::Export,
    EventKind::Download,
    EventKind::Print,
    EventKind::Edit,
];

fn require_text(field: &str, text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::Field {
            field: field.into(),
            reason: "is required".into(),
        });
    }
    Ok(())
}

/// Every value Custodia holds about the person, section by section.
fn data_items(c: &custodia_engine::Customer) -> Vec<DataItem> {
    let item = |section: &str, field: &str, value: String| DataItem {
        section: section.into(),
        field: field.into(),
        value,
    };
    let mut items = vec![item("identity", "name", c.name.clone())];
    if let Some(email) = &c.email {
        items.push(item("identity", "email", email.clone()));
    }
    for (field, value) in c.identity().fields() {
        if let Some(value) = value {
            items.push(item("identity", field, value.to_owned()));
        }
    }
    for (key, value) in &c.attributes {
        items.push(item("attributes", key, value.clone()));
    }
    let comms = &c.communications;
    if let Some(consent) = &comms.consent {
        items.push(item(
            "communications",
            "consent",
            format!("{} ({})", consent.date, consent.source),
        ));
    }
    if let Some(opt_out) = &comms.opt_out {
        items.push(item(
            "communications",
            "opt_out",
            format!("{} ({})", opt_out.date, opt_out.channel),
        ));
    }
    for area in &c.areas {
        let Some(content) = &area.content else {
            continue;
        };
        for (field, value) in &content.fields {
            items.push(item(area.name.as_str(), field, value.to_string()));
        }
        if let Some(notes) = &content.notes {
            items.push(item(area.name.as_str(), "notes", notes.clone()));
        }
    }
    items
}
