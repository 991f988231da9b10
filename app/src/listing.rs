//! Listings for the web UI: the customers a worker may see, and what a
//! page may offer them. Every row shown is decided by the rules; a
//! listing is one audit event naming the ids shown, not one per row.

use custodia_engine::audit::{AuditEvent, EventKind, Receipt};
use custodia_engine::rules::{Action, Context, Effect, Facts, Request, ResourceKind, ResourceRef};
use custodia_engine::{CandidateQuery, CustomerId, Document, OrgSlug, Sector, Worker};
use serde::Serialize;

use crate::Custodia;
use crate::error::Result;
use crate::record::{FieldView, Reader, show};

/// Candidates read from the store per round trip after the first: small
/// enough that one read and its decisions fit well inside the budget.
const BATCH: u32 = 50;

/// The most candidates one page decides before it stops and offers to go
/// on: bounds a page's time for a worker who sees little of a large firm.
pub const MAX_SCAN: usize = 2_000;

/// The server time after which a page reads no more candidates (it
/// always reads and decides its first) and offers to go on: keeps a page
/// within its 20 ms goal for a worker who sees little of a large firm,
/// whatever the machine. Nothing is skipped; the next page starts where
/// this one stopped.
pub const SCAN_BUDGET: std::time::Duration = std::time::Duration::from_millis(6);

/// Which customers a listing starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListScope {
    /// Those assigned to the worker: the indexed pre-filter. It only
    /// narrows; the rules still decide each row.
    #[default]
    Mine,
    /// Every customer of the firm, each decided.
    All,
}

/// What a listing asks for.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub search: Option<String>,
    pub after: Option<CustomerId>,
    pub scope: ListScope,
    pub page_size: usize,
}

/// One customer in a listing, as the worker may see it.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerRow {
    pub id: CustomerId,
    pub name: FieldView,
    pub assigned_to_me: bool,
}

/// A page of a listing.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerList {
    pub rows: Vec<CustomerRow>,
    /// Where the next page starts, when there may be more.
    pub next: Option<CustomerId>,
    /// How many candidates the rules decided for this page.
    pub decided: usize,
    pub audit: Receipt,
}

/// A document of a record, as the worker may see it listed.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentRow {
    pub document: Document,
    /// Whether the rules allow its download (decided again, and audited,
    /// when it is downloaded).
    pub downloadable: bool,
}

impl Custodia {
    /// The customers `reader` may see, one page at a time, in id order.
    /// Each candidate is decided (`view` on the customer); the page is one
    /// audited event naming the ids shown.
    pub async fn list_customers(
        &self,
        org: &OrgSlug,
        reader: &Reader,
        query: &ListQuery,
    ) -> Result<CustomerList> {
        let scope = self.store().org(org).await?;
        let worker = scope.worker(&reader.worker).await?;
        let sectors = scope.organisation().sectors.clone();
        let rules = self.rules();
        let page_size = query.page_size.clamp(1, 200);
        let mut rows = Vec::with_capacity(page_size);
        let mut after = query.after.clone();
        let mut decided = 0;
        let mut next = None;
        // The first read fetches one page's worth, which is all a page
        // needs when the pre-filter already narrowed to what the worker
        // sees; later reads, for a worker who sees little, fetch more.
        let mut limit = u32::try_from(page_size).unwrap_or(BATCH);
        let started = std::time::Instant::now();
        let mut first_read = true;
        'scan: loop {
            // INVARIANT: a page stops between reads once over its budget,
            // and says where the next one starts: nothing is skipped.
            if !first_read && started.elapsed() > SCAN_BUDGET {
                next = after.clone();
                break;
            }
            let candidates = scope
                .customer_candidates(&CandidateQuery {
                    after: after.as_ref(),
                    search: query.search.as_deref(),
                    assigned_to: (query.scope == ListScope::Mine).then_some(&reader.worker),
                    limit,
                })
                .await?;
            let exhausted = candidates.len() < limit as usize;
            limit = BATCH;
            for customer in candidates {
                after = Some(customer.id.clone());
                decided += 1;
                let id = customer.id.clone();
                let name = customer.name.clone();
                let assigned_to_me = customer.is_assigned_to(&reader.worker);
                let facts = Facts {
                    worker: worker.clone(),
                    action: Action::View,
                    kind: ResourceKind::Customer,
                    customer: Some(customer),
                    name: None,
                    area: None,
                    document: None,
                    context: reader.context.clone(),
                };
                let decision = rules.decide(&sectors, facts);
                if decision.is_allowed() {
                    rows.push(CustomerRow {
                        name: show(&decision, "name", Some(name)),
                        id,
                        assigned_to_me,
                    });
                }
                if rows.len() == page_size || decided >= MAX_SCAN {
                    next = after.clone();
                    break 'scan;
                }
            }
            if exhausted {
                break;
            }
            first_read = false;
        }
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let audit = self
            .record_listing(org, reader, "customers", &ids, decided)
            .await?;
        Ok(CustomerList {
            rows,
            next,
            decided,
            audit,
        })
    }

    /// The documents of a record the worker may see listed, each decided
    /// (`view`), with whether each may be downloaded; one audited event.
    pub async fn list_documents(
        &self,
        org: &OrgSlug,
        reader: &Reader,
        customer: &CustomerId,
    ) -> Result<Vec<DocumentRow>> {
        let scope = self.store().org(org).await?;
        let documents = scope.documents_of(customer).await?;
        // The worker, the customer and their unlocks, read once for every
        // document and both actions.
        let record = Facts::from_store(
            &scope,
            &Request {
                worker: reader.worker.clone(),
                action: Action::View,
                resource: ResourceRef::Customer(customer.clone()),
                context: reader.context.clone(),
            },
        )
        .await?;
        let sectors = &scope.organisation().sectors;
        let allowed = |action, document: &Document| -> Result<bool> {
            let facts = record.for_document(org.as_str(), action, document.clone())?;
            Ok(self.rules().decide(sectors, facts).is_allowed())
        };
        let mut rows = Vec::new();
        for document in documents {
            if !allowed(Action::View, &document)? {
                continue;
            }
            rows.push(DocumentRow {
                downloadable: allowed(Action::Download, &document)?,
                document,
            });
        }
        let ids: Vec<&str> = rows.iter().map(|r| r.document.id.as_str()).collect();
        let what = format!("documents of {customer}");
        self.record_listing(org, reader, &what, &ids, ids.len())
            .await?;
        Ok(rows)
    }

    /// Whether the rules would let `worker` take `action` on the firm's own
    /// records of `kind`: for a page's menu and buttons. Reads nothing
    /// (office objects carry no customer) and audits nothing; the action
    /// is decided again, and audited, when it is taken.
    pub fn may_office(
        &self,
        sectors: &[Sector],
        worker: &Worker,
        context: &Context,
        action: Action,
        kind: ResourceKind,
    ) -> bool {
        let facts = Facts::office(worker.clone(), action, kind, context.clone());
        self.rules().decide(sectors, facts).is_allowed()
    }

    /// Whether the rules would allow `action` on `resource`, without
    /// acting and without an audit event: for showing a button or a
    /// section. The action itself is decided again, and audited, when the
    /// worker takes it. A resource that does not exist is not allowed.
    pub async fn may(
        &self,
        org: &OrgSlug,
        reader: &Reader,
        action: Action,
        resource: &ResourceRef,
    ) -> Result<bool> {
        let scope = self.store().org(org).await?;
        let request = Request {
            worker: reader.worker.clone(),
            action,
            resource: resource.clone(),
            context: reader.context.clone(),
        };
        let facts = match Facts::from_store(&scope, &request).await {
            Ok(facts) => facts,
            Err(custodia_engine::Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let sectors = &scope.organisation().sectors;
        Ok(self.rules().decide(sectors, facts).is_allowed())
    }

    async fn record_listing(
        &self,
        org: &OrgSlug,
        reader: &Reader,
        what: &str,
        ids: &[&str],
        decided: usize,
    ) -> Result<Receipt> {
        let mut event = AuditEvent::new(EventKind::List, chrono::Utc::now());
        event.request_time = Some(reader.context.time);
        event.worker = Some(reader.worker.to_string());
        event.action = Some(Action::View.as_str().to_owned());
        event.resource = Some(what.to_owned());
        event.decision = Some(Effect::Allow);
        event.channel = Some(reader.context.channel.clone());
        event.address = reader.context.address.clone();
        event.detail = Some(format!(
            "{} shown of {decided} decided: {}",
            ids.len(),
            ids.join(", ")
        ));
        Ok(self.audit().append(org, event).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use custodia_engine::rules::Context;
    use custodia_engine::{CustomerId, WorkerLogin};

    use super::*;

    /// The demo law firm with 40 more customers, every third assigned to
    /// the assistant `luis` as well as to `ana`.
    async fn firm(dir: &std::path::Path) -> (Custodia, OrgSlug) {
        let (app, mut file) = crate::demo::open_with_law_firm(dir).await;
        let template = file.customers[0].clone();
        let (ana, luis): (WorkerLogin, WorkerLogin) =
            ("ana".parse().expect("ana"), "luis".parse().expect("luis"));
        for i in 0..40 {
            let mut c = template.clone();
            c.id = CustomerId::new(format!("S-{i:03}")).expect("id");
            c.email = None;
            for area in &mut c.areas {
                area.password_hash = None;
            }
            c.assigned = if i % 3 == 0 {
                vec![ana.clone(), luis.clone()]
            } else {
                vec![ana.clone()]
            };
            file.customers.push(c);
        }
        app.import_org(&file, false, "test").await.expect("import");
        (app, file.organisation.slug)
    }

    /// Every id a scope lists, following `next` two rows at a time.
    async fn every_page(
        app: &Custodia,
        org: &OrgSlug,
        reader: &Reader,
        scope: ListScope,
    ) -> Vec<String> {
        let mut ids = Vec::new();
        let mut after = None;
        loop {
            let query = ListQuery {
                search: None,
                after: after.clone(),
                scope,
                page_size: 2,
            };
            let page = app.list_customers(org, reader, &query).await.expect("page");
            ids.extend(page.rows.iter().map(|r| r.id.to_string()));
            match page.next {
                Some(next) => after = Some(next),
                None => return ids,
            }
        }
    }

    #[tokio::test]
    async fn the_assistant_pages_through_exactly_the_customers_the_rules_let_him_see() {
        let dir = tempfile::tempdir().expect("dir");
        let (app, org) = firm(dir.path()).await;
        let luis = Reader {
            worker: "luis".parse().expect("luis"),
            context: Context::new(chrono::Utc::now(), "test"),
        };
        let mut visible = BTreeSet::new();
        for c in app
            .store()
            .org(&org)
            .await
            .expect("org")
            .customers()
            .await
            .expect("all")
        {
            let resource = ResourceRef::Customer(c.id.clone());
            if app
                .may(&org, &luis, Action::View, &resource)
                .await
                .expect("may")
            {
                visible.insert(c.id.to_string());
            }
        }
        assert!(
            visible.len() >= 14,
            "the assigned ones at least: {visible:?}"
        );
        for scope in [ListScope::Mine, ListScope::All] {
            let listed = every_page(&app, &org, &luis, scope).await;
            let unique: BTreeSet<String> = listed.iter().cloned().collect();
            assert_eq!(unique.len(), listed.len(), "{scope:?}: no customer twice");
            assert!(
                unique.is_subset(&visible),
                "{scope:?}: only what the rules allow"
            );
            if scope == ListScope::All {
                assert_eq!(unique, visible, "every visible customer, none skipped");
            }
            let sorted: Vec<String> = unique.iter().cloned().collect();
            assert_eq!(listed, sorted, "{scope:?}: in id order across pages");
        }
        let mine = every_page(&app, &org, &luis, ListScope::Mine).await;
        assert_eq!(
            mine.len(),
            15,
            "C-1001 and the 14 synthetic ones assigned to him: {mine:?}"
        );
        app.close().await.expect("close");
    }
}
