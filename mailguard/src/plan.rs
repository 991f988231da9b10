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

use crate::address::{Address, robinson_key_of};
use crate::campaign::{Audience, Campaign};
use crate::error::Result;
use crate::suppression::{self, KeySet, SortedKeys};

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

/// A plan's totals: who is kept, how many are left out and why, and the
/// Robinson list it was checked against.
#[derive(Debug, Clone, Serialize)]
pub struct PlanSummary {
    pub campaign: String,
    pub kept: usize,
    pub excluded: BTreeMap<Exclusion, usize>,
    /// The Robinson list download the plan was checked against.
    pub robinson: RobinsonList,
}

/// The plan of a campaign: its totals and every recipient's verdict, in
/// the audience's order.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    #[serde(flatten)]
    pub summary: PlanSummary,
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
    by_email: HashMap<Address, &'r Customer, foldhash::fast::RandomState>,
    suppressed: SortedKeys,
    /// Purged customers' addresses, by keyed hash.
    erased: Option<suppression::Erased>,
    robinson: SortedKeys,
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
                let key = address.key();
                let set_key = suppression::set_key(&key);
                let customer = c.customer.or_else(|| self.by_email.get(&address).copied());
                let verdict = self.exclusion(customer, &address, &key, set_key);
                (address.into_string(), Some(set_key), customer, verdict)
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
        key: &str,
        set_key: u128,
    ) -> Option<(Exclusion, Option<Cow<'static, str>>)> {
        if self.suppressed.contains(&set_key)
            || customer.is_some_and(|c| c.communications.opt_out.is_some())
            || self.erased.as_ref().is_some_and(|e| e.contains(address))
        {
            return Some((Exclusion::OptedOut, None));
        }
        let consented = customer.is_some_and(|c| c.communications.consent.is_some());
        // LOPDGDD art. 23.4: only express consent to this sender exempts.
        if !consented && self.robinson.contains(&robinson_key_of(key)) {
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

    /// Checks `candidates` on all cores and hands each verdict to `each`,
    /// in order. They are taken [`CHUNK`] at a time: while the other
    /// threads check a chunk, this one hands on the verdicts of the one
    /// before, so a plan holds two chunks of verdicts, never the whole
    /// audience's.
    fn check_each<'c>(
        &self,
        candidates: impl Iterator<Item = Candidate<'c>>,
        mut each: impl FnMut(Checked),
    ) {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut candidates = candidates.peekable();
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut checked: Vec<Checked> = Vec::new();
        while candidates.peek().is_some() {
            chunk.clear();
            chunk.extend(candidates.by_ref().take(CHUNK));
            if chunk.len() < SMALL || threads == 1 {
                checked.drain(..).for_each(&mut each);
                chunk.iter().for_each(|c| each(self.check(c)));
                continue;
            }
            let part = chunk.len().div_ceil(threads);
            checked = std::thread::scope(|scope| {
                let parts: Vec<_> = chunk
                    .chunks(part)
                    .map(|part| {
                        scope.spawn(move || part.iter().map(|c| self.check(c)).collect::<Vec<_>>())
                    })
                    .collect();
                checked.drain(..).for_each(&mut each);
                let mut next = Vec::with_capacity(chunk.len());
                for part in parts {
                    next.extend(
                        part.join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                    );
                }
                next
            });
        }
        checked.into_iter().for_each(each);
    }
}

/// Candidates checked together: large enough that starting the threads
/// costs nothing beside it, small enough that its verdicts take a few MiB.
const CHUNK: usize = 32_768;

/// Below this, a chunk is checked on the calling thread alone.
const SMALL: usize = 2_048;

/// Plans a campaign against the store's current opt-outs, consents, the
/// Robinson list (refused when missing or older than
/// `robinson_max_age_days`) and the rules in force, and keeps every
/// recipient's verdict. [`plan_each`] hands them on instead.
pub async fn plan(
    org: &OrgStore,
    campaign: &Campaign,
    rules: &RuleSet,
    robinson_max_age_days: u32,
) -> Result<Plan> {
    let mut recipients = Vec::new();
    let summary = plan_each(org, campaign, rules, robinson_max_age_days, |p| {
        recipients.push(p);
    })
    .await?;
    Ok(Plan {
        summary,
        recipients,
    })
}

/// Plans a campaign as [`plan`] does, handing each recipient's verdict to
/// `each` in the audience's order as soon as it is known: the verdicts of
/// a million recipients are never all in memory at once.
pub async fn plan_each(
    org: &OrgStore,
    campaign: &Campaign,
    rules: &RuleSet,
    robinson_max_age_days: u32,
    mut each: impl FnMut(Planned) + Send,
) -> Result<PlanSummary> {
    let store = org.store();
    let robinson = suppression::robinson_in_force(store, org.slug(), robinson_max_age_days).await?;
    let customers = org.customers().await?;
    let by_email: HashMap<Address, &Customer, _> = customers
        .iter()
        .filter_map(|c| Some((Address::parse(c.email.as_deref()?).ok()?, c)))
        .collect();
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
    let mut summary = PlanSummary {
        campaign: campaign.id.clone(),
        kept: 0,
        excluded: BTreeMap::new(),
        robinson,
    };
    let size = match &campaign.audience {
        Audience::Customers => customers.len(),
        Audience::List(list) => list.len(),
    };
    let mut seen = KeySet::with_capacity(size);
    let verdict = |Checked { mut planned, key }: Checked| {
        if key.is_some_and(|key| !seen.insert(key)) {
            planned.excluded = Some(Exclusion::Duplicate);
            planned.detail = None;
        }
        match planned.excluded {
            Some(e) => *summary.excluded.entry(e).or_insert(0) += 1,
            None => summary.kept += 1,
        }
        each(planned);
    };
    match &campaign.audience {
        Audience::Customers => lists.check_each(
            customers.iter().filter_map(|c| {
                Some(Candidate {
                    raw: c.email.as_deref()?,
                    name: &c.name,
                    customer: Some(c),
                })
            }),
            verdict,
        ),
        Audience::List(list) => lists.check_each(
            list.iter().map(|r| Candidate {
                raw: &r.email,
                name: &r.name,
                customer: None,
            }),
            verdict,
        ),
    }
    Ok(summary)
}
