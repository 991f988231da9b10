//! Planning: every recipient kept or excluded, with one reason.
//!
//! Reasons are checked in this order, and the first that applies is the
//! one reported: invalid address, duplicate, opted out, Robinson list, no
//! consent and not an existing customer (LSSI-CE art. 21.2), denied by the
//! rules engine for the sending worker.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::Utc;
use custodia_engine::rules::{Action, Context, Facts, ResourceKind, RuleSet};
use custodia_engine::{Customer, OrgStore};
use serde::Serialize;

use crate::address::Address;
use crate::campaign::{Audience, Campaign};
use crate::error::Result;
use crate::suppression;

/// Why a recipient is left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exclusion {
    InvalidAddress,
    Duplicate,
    OptedOut,
    Robinson,
    NoConsent,
    DeniedByRules,
}

impl Exclusion {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Exclusion::InvalidAddress => "invalid_address",
            Exclusion::Duplicate => "duplicate",
            Exclusion::OptedOut => "opted_out",
            Exclusion::Robinson => "robinson",
            Exclusion::NoConsent => "no_consent",
            Exclusion::DeniedByRules => "denied_by_rules",
        }
    }
}

/// One recipient and the verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    /// Normalised when valid, as given otherwise.
    pub address: String,
    pub name: String,
    pub customer: Option<String>,
    pub excluded: Option<Exclusion>,
    pub detail: Option<String>,
}

/// The plan of a campaign.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub campaign: String,
    pub kept: usize,
    pub excluded: BTreeMap<Exclusion, usize>,
    pub recipients: Vec<Planned>,
}

struct Candidate {
    raw: String,
    name: String,
    customer: Option<Customer>,
}

/// Plans a campaign against the store's current opt-outs, consents, the
/// Robinson list and the rules in force.
pub async fn plan(org: &OrgStore, campaign: &Campaign, rules: &RuleSet) -> Result<Plan> {
    let store = org.store();
    let customers = org.customers().await?;
    let by_email: HashMap<Address, &Customer> = customers
        .iter()
        .filter_map(|c| Some((Address::parse(c.email.as_deref()?).ok()?, c)))
        .collect();
    let candidates: Vec<Candidate> = match &campaign.audience {
        Audience::Customers => customers
            .iter()
            .filter_map(|c| {
                Some(Candidate {
                    raw: c.email.clone()?,
                    name: c.name.clone(),
                    customer: Some(c.clone()),
                })
            })
            .collect(),
        Audience::List(list) => list
            .iter()
            .map(|r| {
                let customer = Address::parse(&r.email)
                    .ok()
                    .and_then(|a| by_email.get(&a).map(|c| (*c).clone()));
                Candidate {
                    raw: r.email.clone(),
                    name: r.name.clone(),
                    customer,
                }
            })
            .collect(),
    };
    let suppressed = suppression::suppressed_set(store, org.slug()).await?;
    let robinson = suppression::robinson_hashes(store).await?;
    let sender = org.worker(&campaign.sender).await?;
    let sectors = org.organisation().sectors.clone();
    let context = Context::new(Utc::now(), "campaign");

    let mut seen = HashSet::new();
    let mut recipients = Vec::with_capacity(candidates.len());
    for c in candidates {
        let verdict = |excluded: Exclusion, detail: Option<String>, address: String| Planned {
            address,
            name: c.name.clone(),
            customer: c.customer.as_ref().map(|c| c.id.to_string()),
            excluded: Some(excluded),
            detail,
        };
        let address = match Address::parse(&c.raw) {
            Ok(a) => a,
            Err(e) => {
                recipients.push(verdict(
                    Exclusion::InvalidAddress,
                    Some(e.to_string()),
                    c.raw.clone(),
                ));
                continue;
            }
        };
        let key = address.to_string();
        if !seen.insert(key.clone()) {
            recipients.push(verdict(Exclusion::Duplicate, None, key));
            continue;
        }
        if suppressed.contains(&address.key())
            || c.customer
                .as_ref()
                .is_some_and(|c| c.communications.opt_out.is_some())
        {
            recipients.push(verdict(Exclusion::OptedOut, None, key));
            continue;
        }
        let consented = c
            .customer
            .as_ref()
            .is_some_and(|c| c.communications.consent.is_some());
        // LOPDGDD art. 23.4: only express consent to this sender exempts.
        if !consented && robinson.contains(&address.robinson_hash()) {
            recipients.push(verdict(Exclusion::Robinson, None, key));
            continue;
        }
        let existing = c.customer.as_ref().is_some_and(|c| c.existing_customer);
        if !consented && !existing {
            recipients.push(verdict(
                Exclusion::NoConsent,
                Some("no consent and not an existing customer (LSSI-CE art. 21)".into()),
                key,
            ));
            continue;
        }
        if let Some(customer) = &c.customer {
            let facts = Facts {
                worker: sender.clone(),
                action: Action::Send,
                kind: ResourceKind::Customer,
                customer: customer.clone(),
                area: None,
                document: None,
                context: context.clone(),
            };
            let decision = rules.decide(&sectors, facts);
            if !decision.is_allowed() {
                let why = decision
                    .reasons
                    .iter()
                    .map(|r| format!("{}/{}: {}", r.pack, r.rule, r.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                recipients.push(verdict(Exclusion::DeniedByRules, Some(why), key));
                continue;
            }
        }
        recipients.push(Planned {
            address: key,
            name: c.name.clone(),
            customer: c.customer.as_ref().map(|c| c.id.to_string()),
            excluded: None,
            detail: None,
        });
    }
    let mut excluded = BTreeMap::new();
    for r in &recipients {
        if let Some(e) = r.excluded {
            *excluded.entry(e).or_insert(0) += 1;
        }
    }
    Ok(Plan {
        campaign: campaign.id.clone(),
        kept: recipients.iter().filter(|r| r.excluded.is_none()).count(),
        excluded,
        recipients,
    })
}
