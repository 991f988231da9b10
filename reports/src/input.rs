//! The dossier's input, gathered live: the organisation's rows, the rule
//! packs in force and what each worker may see by them, and the audit
//! chain verified at the moment of gathering.

use chrono::{DateTime, Utc};
use custodia_engine::audit::{Checkpoint, VerifyReport};
use custodia_engine::rules::{Action, Context, Facts, ResourceKind, RuleSet};
use custodia_engine::{
    Area, AreaName, Customer, OrgSlug, Organisation, Registers, Sector, Store, Worker,
};

use crate::Result;
use crate::certificate::TlsCertificate;

/// A rule pack in force, described in words.
#[derive(Debug, Clone)]
pub struct PackInfo {
    pub name: String,
    pub version: String,
    pub description: String,
    pub rules: Vec<(String, String)>,
}

/// What one worker may view, by the rules in force: the customer record
/// and each area, decided on a customer assigned to them where there is
/// one (areas closed by a password count as not seen until unlocked).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visibility {
    pub record: bool,
    pub areas: Vec<(String, bool)>,
}

/// Everything the dossier is built from; gathered live by the caller.
#[derive(Debug, Clone)]
pub struct DossierInput {
    pub organisation: Organisation,
    pub workers: Vec<Worker>,
    pub customers: usize,
    pub areas_with_password: usize,
    pub registers: Registers,
    pub packs: Vec<PackInfo>,
    /// Per worker login: what they may view.
    pub visibility: std::collections::BTreeMap<String, Visibility>,
    /// The audit chain, verified while building the dossier.
    pub audit: VerifyReport,
    /// The latest signed checkpoint of the chain, if any.
    pub checkpoint: Option<Checkpoint>,
    /// The TLS certificates configured for the organisation, read now.
    pub tls: Vec<TlsCertificate>,
    /// Campaigns, exclusions, Robinson lists and opt-outs, from the mail
    /// guard (filled in by the caller).
    pub marketing: custodia_engine::MarketingHistory,
    /// The register of data-subject requests.
    pub rights: Vec<custodia_engine::RightsRequest>,
    pub now: DateTime<Utc>,
}

impl DossierInput {
    /// Reads everything the dossier shows for `org` from `store`, describes
    /// the packs of `rules` that apply to it and decides what each worker
    /// may view (not audited: no one is accessing anything). `audit` is the
    /// verify of the whole chain the caller just ran (against its witness,
    /// where the caller has one). TLS certificates and
    /// the marketing section (the mail guard's) are left to the caller.
    pub async fn gather(
        store: &Store,
        org: &OrgSlug,
        rules: &RuleSet,
        audit: VerifyReport,
        now: DateTime<Utc>,
    ) -> Result<DossierInput> {
        let scope = store.org(org).await?;
        let organisation = scope.organisation().clone();
        let customers = scope.customers().await?;
        let workers = scope.workers().await?;
        let checkpoint = store
            .audit_checkpoints(org)
            .await?
            .into_values()
            .next_back();
        // The areas to ask about are the same for every worker: list them once.
        let mut area_names: Vec<&AreaName> = customers
            .iter()
            .flat_map(|c| c.areas.iter().map(|a| &a.name))
            .collect();
        area_names.sort();
        area_names.dedup();
        let visibility = workers
            .iter()
            .map(|w| {
                let seen = visibility(
                    rules,
                    &organisation.sectors,
                    w,
                    &customers,
                    &area_names,
                    now,
                );
                (w.login.to_string(), seen)
            })
            .collect();
        Ok(DossierInput {
            packs: packs_in_force(rules, &organisation.sectors),
            visibility,
            workers,
            customers: customers.len(),
            areas_with_password: customers
                .iter()
                .flat_map(|c| &c.areas)
                .filter(|a| a.is_locked())
                .count(),
            registers: scope.registers().await?,
            rights: scope.rights_requests().await?,
            audit,
            checkpoint,
            tls: Vec::new(),
            marketing: Default::default(),
            now,
            organisation,
        })
    }
}

/// The packs that apply to `sectors`, their rules and plugins in words.
fn packs_in_force(rules: &RuleSet, sectors: &[Sector]) -> Vec<PackInfo> {
    rules
        .packs()
        .iter()
        .filter(|p| p.applies_to(sectors))
        .map(|p| PackInfo {
            name: p.name().to_owned(),
            version: p.manifest.version.clone(),
            description: p.manifest.description.clone(),
            rules: p
                .rules
                .iter()
                .map(|r| (r.name.clone(), r.description.clone()))
                .chain(
                    p.plugins
                        .iter()
                        .map(|plugin| (plugin.decl.rule_id(), plugin.decl.description.clone())),
                )
                .collect(),
        })
        .collect()
}

/// What `worker` may view, decided by `rules` on a customer assigned to
/// them where there is one, else the first customer with the area.
fn visibility(
    rules: &RuleSet,
    sectors: &[Sector],
    worker: &Worker,
    customers: &[Customer],
    area_names: &[&AreaName],
    now: DateTime<Utc>,
) -> Visibility {
    let theirs = |c: &&Customer| c.assigned.contains(&worker.login);
    let view = |customer: &Customer, area: Option<&Area>| {
        let facts = Facts {
            worker: worker.clone(),
            action: Action::View,
            kind: if area.is_some() {
                ResourceKind::Area
            } else {
                ResourceKind::Customer
            },
            customer: Some(customer.clone()),
            name: None,
            area: area.cloned(),
            document: None,
            context: Context::new(now, "office"),
        };
        rules.decide(sectors, facts).is_allowed()
    };
    let record = customers
        .iter()
        .find(theirs)
        .or(customers.first())
        .is_some_and(|c| view(c, None));
    let areas = area_names
        .iter()
        .copied()
        .filter_map(|name| {
            let has = |c: &&Customer| c.areas.iter().any(|a| &a.name == name);
            let customer = customers
                .iter()
                .find(|c| theirs(c) && has(c))
                .or_else(|| customers.iter().find(has))?;
            let area = customer.areas.iter().find(|a| &a.name == name)?;
            Some((name.to_string(), view(customer, Some(area))))
        })
        .collect();
    Visibility { record, areas }
}
