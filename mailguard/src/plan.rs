//! Planning: every recipient kept or excluded, with one reason.
//!
//! Reasons are checked in this order, and the first that applies is the
//! one reported: invalid address, duplicate, opted out, Robinson list, no
//! consent and outside the existing-customer exception (LSSI-CE art.
//! 21.2: an existing customer, offered an opt-out at collection, and a
//! campaign about similar products), denied by the rules engine for the
//! sending worker. A plan is made only against a Robinson list on record
//! and no older than the allowed age; the plan names it.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use custodia_engine::rules::{Action, Context, Facts, ResourceKind, RuleSet};
use custodia_engine::{Customer, OrgStore, RobinsonList};
use serde::Serialize;

use crate::address::Address;
use crate::campaign::{Audience, Campaign};
use crate::error::Result;
use crate::suppression::{self, KeySet};

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
    pub detail: Option<Cow<'static, str>>,
}

/// The plan of a campaign.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub campaign: String,
    pub kept: usize,
    pub excluded: BTreeMap<Exclusion, usize>,
    /// The Robinson list download the plan was checked against.
    pub robinson: RobinsonList,
    pub recipients: Vec<Planned>,
}

struct Candidate<'a> {
    raw: &'a str,
    name: &'a str,
    /// Known for the customer audience; looked up by address for lists.
    customer: Option<&'a Customer>,
}

/// A candidate checked against everything but duplicates: the verdict,
/// and the set key (none for an invalid address).
struct Checked {
    planned: Planned,
    key: Option<u128>,
}

/// What `plan` checks every recipient against, loaded once.
struct Lists<'r> {
    by_email: HashMap<Address, &'r Customer>,
    suppressed: KeySet,
    /// Purged customers' addresses, by keyed hash.
    erased: Option<suppression::Erased>,
    robinson: KeySet,
    sender: custodia_engine::Worker,
    sectors: Vec<custodia_engine::Sector>,
    context: Context,
    rules: &'r RuleSet,
}

/// Why someone without consent is outside the art. 21.2 exception.
fn no_consent(customer: Option<&Customer>, similar_products: bool) -> &'static str {
    match customer {
        Some(c) if c.existing_customer && c.communications.opt_out_offered.is_none() => {
            "no consent; an existing customer, but no opt-out was offered when the data was collected (LSSI-CE art. 21.2)"
        }
        Some(c) if c.existing_customer && !similar_products => {
            "no consent; an existing customer, but the campaign does not declare similar products or services (LSSI-CE art. 21.2)"
        }
        _ => "no consent and not an existing customer (LSSI-CE art. 21.1)",
    }
}

impl<'r> Lists<'r> {
    /// Checks one candidate: every reason but `Duplicate`, which depends on
    /// the order of the audience and is decided afterwards.
    fn check(&self, c: &Candidate<'_>) -> Checked {
        let (address, key, customer, verdict) = match Address::parse(c.raw) {
            Err(e) => (
                c.raw.to_owned(),
                None,
                c.customer,
                Some((Exclusion::InvalidAddress, Some(Cow::Owned(e.to_string())))),
            ),
            Ok(address) => {
                let key = suppression::set_key(&address.key());
                let customer = c.customer.or_else(|| self.by_email.get(&address).copied());
                let verdict = self.exclusion(customer, &address, key);
                (address.to_string(), Some(key), customer, verdict)
            }
        };
        let (excluded, detail) = verdict.unzip();
        Checked {
            planned: Planned {
                address,
                name: c.name.to_owned(),
                customer: customer.map(|c| c.id.to_string()),
                excluded,
                detail: detail.flatten(),
            },
            key,
        }
    }

    /// The first reason, in the documented order, to leave out a recipient
    /// whose address is valid.
    fn exclusion(
        &self,
        customer: Option<&Customer>,
        address: &Address,
        key: u128,
    ) -> Option<(Exclusion, Option<Cow<'static, str>>)> {
        if self.suppressed.contains(&key)
            || customer.is_some_and(|c| c.communications.opt_out.is_some())
            || self.erased.as_ref().is_some_and(|e| e.contains(address))
        {
            return Some((Exclusion::OptedOut, None));
        }
        let consented = customer.is_some_and(|c| c.communications.consent.is_some());
        // LOPDGDD art. 23.4: only express consent to this sender exempts.
        if !consented && self.robinson.contains(&address.robinson_key()) {
            return Some((Exclusion::Robinson, None));
        }
        let similar = self.context.similar_products;
        if !consented && !customer.is_some_and(|c| c.existing_customer_exception(similar)) {
            let why = no_consent(customer, similar);
            return Some((Exclusion::NoConsent, Some(Cow::Borrowed(why))));
        }
        let customer = customer?;
        let facts = Facts {
            worker: self.sender.clone(),
            action: Action::Send,
            kind: ResourceKind::Customer,
            customer: Some(customer.clone()),
            name: None,
            area: None,
            document: None,
            context: self.context.clone(),
        };
        let decision = self.rules.decide(&self.sectors, facts);
        if decision.is_allowed() {
            return None;
        }
        let why = decision
            .reasons
            .iter()
            .map(|r| format!("{}/{}: {}", r.pack, r.rule, r.message))
            .collect::<Vec<_>>()
            .join("; ");
        Some((Exclusion::DeniedByRules, Some(Cow::Owned(why))))
    }

    /// Checks every candidate, in order, on all cores: a million
    /// recipients is CPU work (normalising, hashing, looking up).
    fn check_all(&self, candidates: &[Candidate<'_>]) -> Vec<Checked> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = candidates.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let workers: Vec<_> = candidates
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || part.iter().map(|c| self.check(c)).collect::<Vec<_>>())
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| {
                    w.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    }
}

/// Plans a campaign against the store's current opt-outs, consents, the
/// Robinson list (refused when missing or older than
/// `robinson_max_age_days`) and the rules in force.
pub async fn plan(
    org: &OrgStore,
    campaign: &Campaign,
    rules: &RuleSet,
    robinson_max_age_days: u32,
) -> Result<Plan> {
    let store = org.store();
    let robinson = suppression::robinson_in_force(store, org.slug(), robinson_max_age_days).await?;
    let customers = org.customers().await?;
    let by_email: HashMap<Address, &Customer> = customers
        .iter()
        .filter_map(|c| Some((Address::parse(c.email.as_deref()?).ok()?, c)))
        .collect();
    let candidates: Vec<Candidate<'_>> = match &campaign.audience {
        Audience::Customers => customers
            .iter()
            .filter_map(|c| {
                Some(Candidate {
                    raw: c.email.as_deref()?,
                    name: &c.name,
                    customer: Some(c),
                })
            })
            .collect(),
        Audience::List(list) => list
            .iter()
            .map(|r| Candidate {
                raw: &r.email,
                name: &r.name,
                customer: None,
            })
            .collect(),
    };
    // The two big sets load side by side, each on a thread of its own.
    let (suppressed, robinson_set) = tokio::try_join!(
        suppression::suppressed_set(store, org.slug()),
        suppression::robinson_hashes(store, org.slug()),
    )?;
    let lists = Lists {
        by_email,
        suppressed,
        erased: suppression::Erased::load(store, org.slug()).await?,
        robinson: robinson_set,
        sender: org.worker(&campaign.sender).await?,
        sectors: org.organisation().sectors.clone(),
        context: Context {
            similar_products: campaign.similar_products,
            ..Context::new(Utc::now(), "campaign")
        },
        rules,
    };
    let checked = lists.check_all(&candidates);

    let mut seen = KeySet::with_capacity_and_hasher(candidates.len(), Default::default());
    let mut recipients = Vec::with_capacity(candidates.len());
    let mut excluded = BTreeMap::new();
    for Checked { mut planned, key } in checked {
        if key.is_some_and(|key| !seen.insert(key)) {
            planned.excluded = Some(Exclusion::Duplicate);
            planned.detail = None;
        }
        if let Some(e) = planned.excluded {
            *excluded.entry(e).or_insert(0) += 1;
        }
        recipients.push(planned);
    }
    Ok(Plan {
        campaign: campaign.id.clone(),
        kept: recipients.iter().filter(|r| r.excluded.is_none()).count(),
        excluded,
        robinson,
        recipients,
    })
}
