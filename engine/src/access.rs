//! Access control end to end: resolve a request, decide it with the rules
//! in force, record the decision in the audit log, answer.

use std::sync::Arc;

use serde::Serialize;

use crate::audit::{AuditEvent, AuditLog, Durable, Receipt};
use crate::domain::{OrgSlug, Sector};
use crate::error::{Error, Result};
use crate::rules::{Decision, Explanation, Facts, Reason, Request, RuleEffect, Rules};
use crate::store::{OrgStore, Store};

/// A decision together with where it sits in the audit chain.
#[derive(Debug, Clone, Serialize)]
pub struct Audited<T> {
    #[serde(flatten)]
    pub answer: T,
    pub audit: Receipt,
}

/// The store, the rules in force and the audit log, used together.
#[derive(Debug, Clone)]
pub struct AccessControl {
    store: Store,
    rules: Arc<Rules>,
    audit: AuditLog,
}

impl AccessControl {
    /// Bundles the three parts.
    pub fn new(store: Store, rules: Arc<Rules>, audit: AuditLog) -> Self {
        Self {
            store,
            rules,
            audit,
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The audit log.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// The rules holder (for reloads).
    pub fn rules(&self) -> &Arc<Rules> {
        &self.rules
    }

    /// Decides a request and records it. The answer is returned only once
    /// its audit event is durable; if the audit log cannot take it, the
    /// caller gets an error and must not act (fail closed).
    pub async fn decide(&self, org: &OrgSlug, request: &Request) -> Result<Audited<Decision>> {
        let (explanation, facts) = self.evaluate(org, request, false).await?;
        let receipt = self
            .record(org, request, &explanation.decision, facts.as_ref())
            .await?;
        Ok(Audited {
            answer: explanation.decision,
            audit: receipt,
        })
    }

    /// Like [`AccessControl::decide`], and also gives back the facts the
    /// decision was made on (`None` when the resource does not exist), so
    /// that a caller acting on the answer does not read them again.
    pub async fn decide_with_facts(
        &self,
        org: &OrgSlug,
        request: &Request,
    ) -> Result<(Audited<Decision>, Option<Facts>)> {
        let (decision, facts, durable) = self.decide_enqueued(org, request).await?;
        let audited = Audited {
            answer: decision,
            audit: durable.wait().await?,
        };
        Ok((audited, facts))
    }

    /// Like [`AccessControl::decide_with_facts`], but hands back the audit
    /// event on its way to disk instead of waiting for it: the caller
    /// prepares its answer meanwhile and gives it only after
    /// [`Durable::wait`].
    pub async fn decide_enqueued(
        &self,
        org: &OrgSlug,
        request: &Request,
    ) -> Result<(Decision, Option<Facts>, Durable)> {
        let (decision, facts, unaudited) = self.decide_unaudited(org, request).await?;
        let durable = self.enqueue(unaudited).await?;
        Ok((decision, facts, durable))
    }

    /// Decides `request` and gives back its audit event still in hand, for
    /// a caller that prepares its answer (an area unsealed) before handing
    /// the event to the writer, while the writer is idle, and that answers
    /// only after [`AccessControl::enqueue`] and [`Durable::wait`].
    pub async fn decide_unaudited(
        &self,
        org: &OrgSlug,
        request: &Request,
    ) -> Result<(Decision, Option<Facts>, Unaudited)> {
        let (explanation, facts) = self.evaluate(org, request, false).await?;
        let unaudited = Unaudited::new(org, request, &explanation.decision, facts.as_ref());
        Ok((explanation.decision, facts, unaudited))
    }

    /// Hands a decision's event to the audit writer.
    pub async fn enqueue(&self, unaudited: Unaudited) -> Result<Durable> {
        self.audit.enqueue(&unaudited.org, unaudited.event).await
    }

    /// Decides `request` on facts already read for it (a record's areas,
    /// from the record's own read: [`Facts::for_area`]) in an organisation
    /// of `sectors`, and hands its audit event to the writer, as
    /// [`AccessControl::decide_enqueued`].
    pub async fn decide_on(
        &self,
        org: &OrgSlug,
        sectors: &[Sector],
        request: &Request,
        facts: &Facts,
    ) -> Result<(Decision, Durable)> {
        let decision = self.rules.current().decide(sectors, facts.clone());
        let durable = self
            .enqueue(Unaudited::new(org, request, &decision, Some(facts)))
            .await?;
        Ok((decision, durable))
    }

    /// Like [`AccessControl::decide`], accounting for every rule.
    pub async fn explain(&self, org: &OrgSlug, request: &Request) -> Result<Audited<Explanation>> {
        let (explanation, facts) = self.evaluate(org, request, true).await?;
        let receipt = self
            .record(org, request, &explanation.decision, facts.as_ref())
            .await?;
        Ok(Audited {
            answer: explanation,
            audit: receipt,
        })
    }

    /// Decides; with `explain`, also accounts for the rules that did not
    /// decide (kept off the plain decision path, which is hot).
    async fn evaluate(
        &self,
        org: &OrgSlug,
        request: &Request,
        explain: bool,
    ) -> Result<(Explanation, Option<Facts>)> {
        // One snapshot for every fact: a decision never mixes a worker
        // read before a commit with a record read after it.
        let scope: OrgStore = self.store.pinned()?.org(org).await?;
        let sectors = scope.organisation().sectors.clone();
        match Facts::from_store(&scope, request).await {
            Ok(facts) => {
                let set = self.rules.current();
                let explanation = if explain {
                    set.explain(&sectors, facts.clone())
                } else {
                    Explanation {
                        decision: set.decide(&sectors, facts.clone()),
                        skipped: Vec::new(),
                    }
                };
                Ok((explanation, Some(facts)))
            }
            // A request about something that does not exist is a denied
            // attempt, and is audited like any other.
            Err(e @ Error::NotFound { .. }) => {
                let reason = Reason {
                    pack: "engine".into(),
                    rule: "resource-exists".into(),
                    effect: RuleEffect::Deny,
                    message: e.to_string(),
                    fields: Vec::new(),
                };
                Ok((
                    Explanation {
                        decision: Decision::combine(vec![reason]),
                        skipped: Vec::new(),
                    },
                    None,
                ))
            }
            Err(e) => Err(e),
        }
    }

    async fn record(
        &self,
        org: &OrgSlug,
        request: &Request,
        decision: &Decision,
        facts: Option<&Facts>,
    ) -> Result<Receipt> {
        self.enqueue(Unaudited::new(org, request, decision, facts))
            .await?
            .wait()
            .await
    }
}

/// A decision's audit event, not yet handed to the writer. Nothing made
/// on the decision may reach the caller before it has been, through
/// [`AccessControl::enqueue`], and is durable.
#[derive(Debug)]
#[must_use = "every decision is audited: hand its event to `AccessControl::enqueue`"]
pub struct Unaudited {
    org: OrgSlug,
    event: AuditEvent,
}

impl Unaudited {
    fn new(org: &OrgSlug, request: &Request, decision: &Decision, facts: Option<&Facts>) -> Self {
        let customer = facts
            .and_then(|f| f.customer.as_ref())
            .map(|c| c.id.to_string());
        let area = facts
            .and_then(|f| f.area.as_ref())
            .map(|a| a.name.to_string());
        let document = facts
            .and_then(|f| f.document.as_ref())
            .map(|d| d.id.to_string());
        let event = AuditEvent::decision(
            request,
            decision,
            customer.as_deref(),
            area.as_deref(),
            document.as_deref(),
        );
        Self {
            org: org.clone(),
            event,
        }
    }
}
