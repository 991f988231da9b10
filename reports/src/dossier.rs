//! The data-protection dossier (Expediente de Protección de Datos): the
//! organisation, its records of processing, who may see what, the rule
//! packs in force, providers and SLAs, security measures with live
//! evidence, training, breaches, and pending actions with guidance.

use askama::Template;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use custodia_engine::audit::{Checkpoint, VerifyReport};
use custodia_engine::{
    Breach, ConfidentialityAgreement, EndOfContract, Organisation, ProcessingActivity, Provider,
    Registers, RiskAnalysis, RiskLevel, Sector, Worker, WorkerLogin,
};

use crate::certificate::TlsCertificate;
use crate::i18n::{Catalogue, Lang};
use crate::marketing::{MarketingInput, MarketingView};
use crate::{CSS, Result};

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
    pub marketing: MarketingInput,
    pub now: DateTime<Utc>,
}

/// Something the organisation still has to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub what: String,
    /// The article, in the language's citation style.
    pub law: &'static str,
    pub guidance: &'static str,
}

/// Labelled values, one table row each.
type Rows = Vec<(&'static str, String)>;

struct Evidence {
    measure: &'static str,
    state: String,
    ok: bool,
}

#[derive(Template)]
#[template(path = "dossier.html")]
struct DossierPage<'a> {
    t: &'static Catalogue,
    css: &'static str,
    input: &'a DossierInput,
    customers: String,
    trainings: Vec<String>,
    generated: String,
    head: String,
    checkpoint: String,
    activities: Vec<(String, String, Rows)>,
    providers: Vec<(String, String, Rows, bool)>,
    evidence: Vec<Evidence>,
    breaches: Vec<Rows>,
    pending: Vec<Pending>,
    exemption: String,
    sectors: String,
    /// The DPO's details, or why none is needed, or missing (alert).
    dpo: (String, bool),
    /// Per worker, in `input.workers` order: their explicit grants and
    /// what they may see, in words.
    sees: Vec<(String, String)>,
    risks: Vec<String>,
    /// Per active worker: name, agreement state, signed.
    confidentiality: Vec<(String, String, bool)>,
    log_reviews: Vec<String>,
    marketing: MarketingView,
}

fn or_missing(lang: Lang, value: Option<String>) -> String {
    value
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| lang.catalogue().missing.to_owned())
}

fn list(items: &[String]) -> Option<String> {
    (!items.is_empty()).then(|| items.join(", "))
}

fn date(lang: Lang, d: Option<NaiveDate>) -> String {
    d.map_or_else(|| lang.catalogue().missing.to_owned(), |d| lang.date(d))
}

/// The pending actions, each with the law that asks for it and guidance.
pub fn pending_actions(input: &DossierInput, lang: Lang) -> Vec<Pending> {
    let mut out = Vec::new();
    activities_pending(input, lang, &mut out);
    providers_pending(input, lang, &mut out);
    organisation_pending(input, lang, &mut out);
    staff_pending(input, lang, &mut out);
    breaches_pending(input, lang, &mut out);
    evidence_pending(input, lang, &mut out);
    out
}

/// Records of processing (art. 30), legal bases and transfers.
fn activities_pending(input: &DossierInput, lang: Lang, out: &mut Vec<Pending>) {
    let t = lang.catalogue();
    let r = &input.registers;
    if r.activities.is_empty() {
        out.push(Pending {
            what: t.no_activities.to_owned(),
            law: lang.pick("art. 30.1 RGPD", "GDPR art. 30(1)"),
            guidance: t.g_no_activities,
        });
    }
    for a in &r.activities {
        let fields: [(&str, bool); 7] = [
            (t.f_purposes, a.purposes.is_empty()),
            (t.f_subjects, a.data_subjects.is_empty()),
            (t.f_categories, a.data_categories.is_empty()),
            (t.f_recipients, a.recipients.is_empty()),
            (t.f_transfers, a.transfers.is_none()),
            (t.f_retention, a.retention.is_none()),
            (t.f_measures, a.security_measures.is_empty()),
        ];
        for (field, missing) in fields {
            if missing {
                out.push(Pending {
                    what: format!("{} `{}`: {} {field}", t.activity, a.id, t.missing_field),
                    law: lang.pick("art. 30.1 RGPD", "GDPR art. 30(1)"),
                    guidance: t.g_art30,
                });
            }
        }
        // The legal basis is not an art. 30(1) field: it is art. 6's.
        if a.legal_basis.is_none() {
            out.push(Pending {
                what: format!("{} `{}`: {}", t.activity, a.id, t.no_legal_basis),
                law: lang.pick("arts. 6.1 y 13.1.c) RGPD", "GDPR arts. 6(1) and 13(1)(c)"),
                guidance: t.g_legal_basis,
            });
        }
        if transfers_abroad(a) && a.transfer_safeguards.is_none() {
            out.push(Pending {
                what: format!("{} `{}`: {}", t.activity, a.id, t.no_safeguards),
                law: lang.pick("arts. 44-46 RGPD", "GDPR arts. 44-46"),
                guidance: t.g_safeguards,
            });
        }
    }
    let fresh_risk = latest_risk(r).is_some_and(|e| age_days(input, e.date) <= 365);
    if !fresh_risk {
        out.push(Pending {
            what: t.no_risk_analysis.to_owned(),
            law: lang.pick("arts. 24 y 32 RGPD", "GDPR arts. 24 and 32"),
            guidance: t.g_risk,
        });
    }
}

/// Whether an activity sends data to third countries: a `transfers`
/// value other than "none" (in either language).
fn transfers_abroad(a: &ProcessingActivity) -> bool {
    a.transfers.as_deref().is_some_and(|t| {
        let t = t.trim().to_lowercase();
        !t.is_empty() && !["none", "ninguna", "no"].contains(&t.as_str())
    })
}

/// The most recent risk analysis.
fn latest_risk(r: &Registers) -> Option<&RiskAnalysis> {
    r.risk_analyses.iter().max_by_key(|e| e.date)
}

/// Days from `day` to the dossier's date.
fn age_days(input: &DossierInput, day: NaiveDate) -> i64 {
    (input.now.date_naive() - day).num_days()
}

/// Processors (art. 28): the contract and what it must say.
fn providers_pending(input: &DossierInput, lang: Lang, out: &mut Vec<Pending>) {
    let t = lang.catalogue();
    let today = input.now.date_naive();
    for p in &input.registers.providers {
        let mut push = |what: &str, law: &'static str, guidance: &'static str| {
            out.push(Pending {
                what: format!("{} `{}` ({}): {what}", t.provider, p.id, p.name),
                law,
                guidance,
            });
        };
        if p.next_review.is_none_or(|d| d < today) {
            push(
                t.review_overdue,
                lang.pick("art. 28 RGPD; guía INCIBE", "GDPR art. 28; INCIBE guide"),
                t.g_review,
            );
        }
        let Some(processes) = p.processes_personal_data else {
            push(
                t.processing_unknown,
                lang.pick("art. 28 RGPD", "GDPR art. 28"),
                t.g_processing_unknown,
            );
            continue;
        };
        if !processes {
            continue;
        }
        if p.contract_signed.is_none() {
            push(
                t.no_contract,
                lang.pick("art. 28.3 RGPD", "GDPR art. 28(3)"),
                t.g_contract,
            );
        }
        if p.confidentiality_clause.is_none() {
            push(
                t.no_confidentiality,
                lang.pick("art. 28.3.b) RGPD", "GDPR art. 28(3)(b)"),
                t.g_confidentiality,
            );
        }
        if p.end_of_contract.is_none() {
            push(
                t.no_end_of_contract,
                lang.pick("art. 28.3.g) RGPD", "GDPR art. 28(3)(g)"),
                t.g_end_of_contract,
            );
        }
        if p.audit_rights != Some(true) {
            push(
                t.no_audit_rights,
                lang.pick("art. 28.3.h) RGPD", "GDPR art. 28(3)(h)"),
                t.g_audit_rights,
            );
        }
        for sub in p.sub_processors.iter().filter(|s| s.authorised.is_none()) {
            push(
                &format!("{}: {}", t.sub_not_authorised, sub.name),
                lang.pick("art. 28.2 y 28.4 RGPD", "GDPR art. 28(2) and (4)"),
                t.g_sub_processor,
            );
        }
    }
}

/// Whether the organisation must name a DPO and has not: health centres
/// keeping clinical histories must (LOPDGDD art. 34.1.l), except health
/// professionals practising alone.
fn dpo_missing(o: &Organisation) -> bool {
    o.dpo.is_none() && o.sectors.contains(&Sector::Health) && !o.sole_practitioner
}

/// The DPO, backups, measures and the access-log review.
fn organisation_pending(input: &DossierInput, lang: Lang, out: &mut Vec<Pending>) {
    let t = lang.catalogue();
    let today = input.now.date_naive();
    let r = &input.registers;
    if dpo_missing(&input.organisation) {
        out.push(Pending {
            what: t.no_dpo.to_owned(),
            law: lang.pick(
                "art. 37 RGPD; art. 34.1.l) LOPDGDD",
                "GDPR art. 37; LOPDGDD art. 34.1(l)",
            ),
            guidance: t.g_dpo,
        });
    }
    let backup_law = lang.pick("art. 32.1.c) RGPD", "GDPR art. 32(1)(c)");
    match r.backups.iter().max_by_key(|b| b.taken_at) {
        None => out.push(Pending {
            what: t.no_backup.to_owned(),
            law: backup_law,
            guidance: t.g_backup,
        }),
        Some(b) => {
            let restore_fresh = b
                .restore_checked
                .is_some_and(|d| today - d <= Duration::days(90))
                && b.restore_ok == Some(true);
            if input.now - b.taken_at > Duration::days(7) || !restore_fresh {
                out.push(Pending {
                    what: t.backup_stale.to_owned(),
                    law: lang.pick("art. 32.1.c) y d) RGPD", "GDPR art. 32(1)(c)-(d)"),
                    guidance: t.g_backup,
                });
            }
        }
    }
    for m in &r.measures {
        if let Some(due) = m.next_check.filter(|d| *d < today) {
            out.push(Pending {
                what: format!(
                    "{} ({}): {} {}",
                    m.name,
                    m.id,
                    t.measure_check_due,
                    lang.date(due)
                ),
                law: lang.pick("art. 32.1.d) RGPD", "GDPR art. 32(1)(d)"),
                guidance: t.g_measure_check,
            });
        }
    }
    let reviewed = r.log_reviews.iter().map(|l| l.date).max();
    if reviewed.is_none_or(|d| age_days(input, d) > 31) {
        out.push(Pending {
            what: t.no_log_review.to_owned(),
            law: lang.pick(
                "arts. 5.2 y 32.1.d) RGPD; guía INCIBE",
                "GDPR arts. 5(2) and 32(1)(d); INCIBE guide",
            ),
            guidance: t.g_log_review,
        });
    }
}

/// Training, confidentiality agreements and passwords of the staff.
fn staff_pending(input: &DossierInput, lang: Lang, out: &mut Vec<Pending>) {
    let t = lang.catalogue();
    let today = input.now.date_naive();
    if input
        .registers
        .trainings
        .iter()
        .all(|tr| today - tr.date > Duration::days(365))
    {
        out.push(Pending {
            what: t.training_due.to_owned(),
            law: lang.pick(
                "arts. 24 y 32.4 RGPD; art. 5 LOPDGDD",
                "GDPR arts. 24 and 32(4); LOPDGDD art. 5",
            ),
            guidance: t.g_training,
        });
    }
    for w in input.workers.iter().filter(|w| w.active) {
        if confidentiality_of(&input.registers, &w.login).is_none() {
            out.push(Pending {
                what: format!("{} `{}`: {}", t.worker, w.login, t.no_staff_confidentiality),
                law: lang.pick(
                    "art. 5 LOPDGDD; art. 32.4 RGPD",
                    "LOPDGDD art. 5; GDPR art. 32(4)",
                ),
                guidance: t.g_staff_confidentiality,
            });
        }
        if w.password_hash.is_none() {
            out.push(Pending {
                what: format!("{} `{}`: {}", t.worker, w.login, t.no_password),
                law: lang.pick("art. 32 RGPD", "GDPR art. 32"),
                guidance: t.g_password,
            });
        }
    }
}

/// The latest confidentiality agreement a worker signed.
fn confidentiality_of<'r>(
    r: &'r Registers,
    login: &WorkerLogin,
) -> Option<&'r ConfidentialityAgreement> {
    r.confidentiality
        .iter()
        .filter(|c| &c.worker == login)
        .max_by_key(|c| c.signed)
}

/// Breaches waiting for a notification, and late ones without reasons.
fn breaches_pending(input: &DossierInput, lang: Lang, out: &mut Vec<Pending>) {
    let t = lang.catalogue();
    for b in &input.registers.breaches {
        if b.awaits_notification() {
            out.push(Pending {
                what: format!(
                    "{} `{}`: {} {}",
                    t.breach,
                    b.id,
                    t.notify_by,
                    lang.time(b.notification_deadline())
                ),
                law: lang.pick("art. 33.1 RGPD", "GDPR art. 33(1)"),
                guidance: t.g_breach,
            });
        }
        if b.notified_late() && b.late_reason.is_none() {
            out.push(Pending {
                what: format!("{} `{}`: {}", t.breach, b.id, t.no_late_reason),
                law: lang.pick("art. 33.1 RGPD", "GDPR art. 33(1)"),
                guidance: t.g_late_reason,
            });
        }
    }
}

/// Certificates and the audit chain, read live.
fn evidence_pending(input: &DossierInput, lang: Lang, out: &mut Vec<Pending>) {
    let t = lang.catalogue();
    for cert in input.tls.iter().filter(|c| !c.is_healthy(input.now)) {
        out.push(Pending {
            what: format!(
                "{} `{}`: {}",
                t.e_tls,
                cert.subject,
                expiry(lang, cert, input.now)
            ),
            law: lang.pick("art. 32.1.a) RGPD", "GDPR art. 32(1)(a)"),
            guidance: t.g_tls,
        });
    }
    if !input.audit.ok() {
        out.push(Pending {
            what: t.chain_broken.to_owned(),
            law: lang.pick("arts. 5.2 y 32 RGPD", "GDPR arts. 5(2) and 32"),
            guidance: t.g_chain,
        });
    }
}

/// Why the art. 30(5) exemption does not apply, or `None` when it may.
/// Read strictly: any doubt keeps the record mandatory.
fn exemption_blockers(input: &DossierInput, lang: Lang) -> Vec<&'static str> {
    let t = lang.catalogue();
    let r = &input.registers;
    let o = &input.organisation;
    let checks = [
        (o.staff_count >= 250, t.r_staff),
        (r.activities.iter().any(|a| !a.occasional), t.r_regular),
        (
            r.activities.iter().any(|a| a.special_categories),
            t.r_special,
        ),
        (r.activities.iter().any(|a| a.criminal_data), t.r_criminal),
        (
            o.sectors
                .iter()
                .any(|s| matches!(s, Sector::Legal | Sector::Health)),
            t.r_sector,
        ),
        (
            latest_risk(r).is_none_or(|e| e.level != RiskLevel::Low),
            t.r_risk,
        ),
    ];
    checks
        .into_iter()
        .filter(|(applies, _)| *applies)
        .map(|(_, reason)| reason)
        .collect()
}

/// Renders the dossier as one self-contained HTML document.
pub fn dossier_html(input: &DossierInput, lang: Lang) -> Result<String> {
    Ok(page(input, lang).render()?)
}

/// The same dossier for typst: same view, escaped for typst strings.
#[derive(Template)]
#[template(path = "dossier.typ")]
struct DossierTyp<'a> {
    p: DossierPage<'a>,
}

/// Renders the dossier as PDF (typst, fonts embedded). The same input
/// gives the same bytes.
pub fn dossier_pdf(input: &DossierInput, lang: Lang) -> Result<Vec<u8>> {
    let markup = DossierTyp {
        p: page(input, lang),
    }
    .render()?;
    crate::pdf::compile(markup, input.now.date_naive())
}

/// The view both formats render.
fn page(input: &DossierInput, lang: Lang) -> DossierPage<'_> {
    let t = lang.catalogue();
    let r = &input.registers;
    let blockers = exemption_blockers(input, lang);
    let exemption = if blockers.is_empty() {
        t.exemption_may.to_owned()
    } else {
        format!("{} {}.", t.exemption_reasons, blockers.join("; "))
    };
    DossierPage {
        t,
        css: CSS,
        input,
        customers: lang.number(i64::try_from(input.customers).unwrap_or(i64::MAX)),
        trainings: r
            .trainings
            .iter()
            .map(|tr| {
                format!(
                    "{} · {} · {} {} · {}: {}",
                    lang.date(tr.date),
                    tr.title,
                    tr.hours,
                    t.hours,
                    t.attendees,
                    tr.attendees.len()
                )
            })
            .collect(),
        generated: lang.time(input.now),
        head: format!(
            "{} {} · {}",
            t.sequence, input.audit.last_seq, input.audit.head_hash
        ),
        checkpoint: input.checkpoint.as_ref().map_or_else(
            || t.missing.to_owned(),
            |c| {
                format!(
                    "{} {} · {} · {} {} · {} {}",
                    t.sequence,
                    c.seq,
                    lang.time(c.at),
                    t.key_word,
                    c.public_key,
                    t.signature_word,
                    c.signature
                )
            },
        ),
        activities: r
            .activities
            .iter()
            .map(|a| activity_rows(a, lang))
            .collect(),
        providers: r
            .providers
            .iter()
            .map(|p| provider_rows(p, lang, input.now.date_naive()))
            .collect(),
        evidence: evidence(input, lang),
        breaches: r.breaches.iter().map(|b| breach_rows(b, lang)).collect(),
        pending: pending_actions(input, lang),
        exemption,
        sectors: input
            .organisation
            .sectors
            .iter()
            .map(|s| lang.label(s.as_str()))
            .collect::<Vec<_>>()
            .join(", "),
        dpo: dpo(&input.organisation, lang),
        sees: input
            .workers
            .iter()
            .map(|w| {
                let grants = w
                    .grants
                    .iter()
                    .map(|g| {
                        format!(
                            "{} ({})",
                            lang.label(&g.scope),
                            lang.label(access(g.access))
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                (grants, sees(lang, input.visibility.get(w.login.as_str())))
            })
            .collect(),
        risks: r
            .risk_analyses
            .iter()
            .map(|e| {
                let mut line = format!(
                    "{} · {}: {}",
                    lang.date(e.date),
                    t.risk_level,
                    risk_level(t, e.level)
                );
                if let Some(m) = &e.method {
                    line.push_str(&format!(" · {}: {m}", t.method));
                }
                if let Some(f) = &e.findings {
                    line.push_str(&format!(" · {}: {f}", t.findings));
                }
                line
            })
            .collect(),
        confidentiality: input
            .workers
            .iter()
            .filter(|w| w.active)
            .map(|w| {
                let who = format!("{} ({})", w.name, w.login);
                match confidentiality_of(r, &w.login) {
                    Some(c) => (
                        who,
                        format!("{} {}", t.signed_on, lang.date(c.signed)),
                        true,
                    ),
                    None => (who, t.no_staff_confidentiality.to_owned(), false),
                }
            })
            .collect(),
        log_reviews: r
            .log_reviews
            .iter()
            .map(|l| {
                format!(
                    "{} · {}: {} · {}: {}",
                    lang.date(l.date),
                    t.reviewer,
                    l.reviewer,
                    t.findings,
                    l.findings
                )
            })
            .collect(),
        marketing: crate::marketing::view(&input.marketing, lang),
    }
}

fn access(a: custodia_engine::GrantAccess) -> &'static str {
    match a {
        custodia_engine::GrantAccess::Read => "read",
        custodia_engine::GrantAccess::Edit => "edit",
    }
}

fn risk_level(t: &Catalogue, level: RiskLevel) -> &'static str {
    match level {
        RiskLevel::Low => t.risk_low,
        RiskLevel::Medium => t.risk_medium,
        RiskLevel::High => t.risk_high,
    }
}

/// The DPO's details; else why none is needed; else missing (alert).
fn dpo(o: &Organisation, lang: Lang) -> (String, bool) {
    let t = lang.catalogue();
    match &o.dpo {
        Some(d) => {
            let mut text = d.name.clone();
            for detail in [&d.email, &d.phone].into_iter().flatten() {
                text.push_str(&format!(" · {detail}"));
            }
            (text, false)
        }
        None if o.sole_practitioner && o.sectors.contains(&Sector::Health) => {
            (t.dpo_exempt.to_owned(), false)
        }
        None => (t.missing.to_owned(), true),
    }
}

fn yes_no(t: &Catalogue, value: bool) -> String {
    if value { t.yes } else { t.no }.to_owned()
}

/// One activity of the record, field by field.
fn activity_rows(a: &ProcessingActivity, lang: Lang) -> (String, String, Rows) {
    let t = lang.catalogue();
    let rows = vec![
        (t.f_purposes, or_missing(lang, list(&a.purposes))),
        (t.f_legal_basis, or_missing(lang, a.legal_basis.clone())),
        (t.f_subjects, or_missing(lang, list(&a.data_subjects))),
        (t.f_categories, or_missing(lang, list(&a.data_categories))),
        (t.f_special, yes_no(t, a.special_categories)),
        (t.f_criminal, yes_no(t, a.criminal_data)),
        (t.f_occasional, yes_no(t, a.occasional)),
        (t.f_recipients, or_missing(lang, list(&a.recipients))),
        (t.f_transfers, or_missing(lang, a.transfers.clone())),
        (
            t.f_safeguards,
            if transfers_abroad(a) {
                or_missing(lang, a.transfer_safeguards.clone())
            } else {
                a.transfer_safeguards.clone().unwrap_or_else(|| "-".into())
            },
        ),
        (t.f_retention, or_missing(lang, a.retention.clone())),
        (t.f_measures, or_missing(lang, list(&a.security_measures))),
    ];
    (a.id.to_string(), a.name.clone(), rows)
}

/// One provider: the art. 28 contract and the service levels.
fn provider_rows(p: &Provider, lang: Lang, today: NaiveDate) -> (String, String, Rows, bool) {
    let t = lang.catalogue();
    let s = &p.sla;
    let subs = p
        .sub_processors
        .iter()
        .map(|sub| {
            let country = sub
                .country
                .as_deref()
                .map(|c| format!(", {c}"))
                .unwrap_or_default();
            let state = sub.authorised.map_or_else(
                || t.not_authorised.to_owned(),
                |d| format!("{} {}", t.authorised_on, lang.date(d)),
            );
            format!("{} ({}{country}): {state}", sub.name, sub.service)
        })
        .collect::<Vec<_>>();
    let rows = vec![
        (t.service, p.service.clone()),
        (
            t.processes_data,
            p.processes_personal_data
                .map_or_else(|| t.unknown.to_owned(), |v| yes_no(t, v)),
        ),
        (t.contract, date(lang, p.contract_signed)),
        (t.confidentiality, date(lang, p.confidentiality_clause)),
        (
            t.end_of_contract,
            p.end_of_contract.map_or_else(
                || t.missing.to_owned(),
                |e| {
                    match e {
                        EndOfContract::Return => t.eoc_return,
                        EndOfContract::Delete => t.eoc_delete,
                        EndOfContract::ReturnThenDelete => t.eoc_return_then_delete,
                    }
                    .to_owned()
                },
            ),
        ),
        (
            t.audit_rights,
            p.audit_rights
                .map_or_else(|| t.missing.to_owned(), |v| yes_no(t, v)),
        ),
        (
            t.sub_processors,
            list(&subs).unwrap_or_else(|| t.none.to_owned()),
        ),
        (t.availability, or_missing(lang, s.availability.clone())),
        (t.support_hours, or_missing(lang, s.support_hours.clone())),
        (
            t.incident_response,
            or_missing(lang, s.incident_response.clone()),
        ),
        (t.assigned_staff, or_missing(lang, s.assigned_staff.clone())),
        (t.access_modes, or_missing(lang, list(&s.access_modes))),
        (t.updates_by, or_missing(lang, s.updates_by.clone())),
        (t.backups_by, or_missing(lang, s.backups_by.clone())),
        (t.load_limits, or_missing(lang, s.load_limits.clone())),
        (
            t.interruptions,
            or_missing(lang, s.scheduled_interruptions.clone()),
        ),
        (t.next_review, date(lang, p.next_review)),
    ];
    let overdue = p.next_review.is_none_or(|d| d < today);
    (p.id.to_string(), p.name.clone(), rows, overdue)
}

/// One breach with its art. 33(3) fields and what was decided.
fn breach_rows(b: &Breach, lang: Lang) -> Rows {
    let t = lang.catalogue();
    let mut rows = vec![
        (t.breach, b.id.to_string()),
        (t.aware_at, lang.time(b.aware_at)),
        (t.deadline, lang.time(b.notification_deadline())),
        (t.nature, b.nature.clone()),
        (t.f_categories, or_missing(lang, list(&b.data_categories))),
        (
            t.subjects_records,
            format!(
                "{} / {}",
                b.approx_subjects.map_or("?".into(), |n| n.to_string()),
                b.approx_records.map_or("?".into(), |n| n.to_string())
            ),
        ),
        (t.consequences, or_missing(lang, b.consequences.clone())),
        (t.measures_taken, or_missing(lang, b.measures.clone())),
        (
            t.notified,
            b.notified_authority_at
                .map_or_else(|| t.no.to_owned(), |d| lang.time(d)),
        ),
    ];
    if let Some(reason) = &b.not_notified_reason {
        rows.push((t.not_notified, reason.clone()));
    }
    if b.notified_late() {
        rows.push((t.late_reason, or_missing(lang, b.late_reason.clone())));
    }
    rows.push((
        t.affected,
        lang.number(i64::try_from(b.affected_customers.len()).unwrap_or(0)),
    ));
    rows.push((t.subjects_notified, yes_no(t, b.subjects_notified)));
    rows
}

/// The measures' live evidence.
fn evidence(input: &DossierInput, lang: Lang) -> Vec<Evidence> {
    let t = lang.catalogue();
    let r = &input.registers;
    let hashed = input
        .workers
        .iter()
        .filter(|w| w.password_hash.is_some())
        .count();
    let last_backup = r.backups.iter().max_by_key(|b| b.taken_at);
    let mut evidence = vec![
        Evidence {
            measure: t.e_passwords,
            state: format!("{hashed}/{} argon2id", input.workers.len()),
            ok: hashed == input.workers.len(),
        },
        Evidence {
            measure: t.e_area_passwords,
            state: lang.number(i64::try_from(input.areas_with_password).unwrap_or(0)),
            ok: true,
        },
        Evidence {
            measure: t.e_chain,
            state: match &input.audit.broken {
                None => format!(
                    "{} ({} {}, {} {})",
                    t.verified,
                    lang.number(input.audit.events),
                    t.events,
                    input.audit.checkpoints_checked,
                    t.checkpoints
                ),
                Some(b) => format!(
                    "{} {}: {} ({})",
                    t.broken_at,
                    b.seq,
                    b.kind.as_str(),
                    b.detail
                ),
            },
            ok: input.audit.ok(),
        },
        Evidence {
            measure: t.e_backup,
            state: last_backup.map_or_else(
                || t.missing.to_owned(),
                |b| {
                    format!(
                        "{}; {} {}",
                        lang.time(b.taken_at),
                        t.restore_checked,
                        date(lang, b.restore_checked)
                    )
                },
            ),
            ok: last_backup.is_some_and(|b| b.restore_ok == Some(true)),
        },
        encryption(input, lang),
    ];
    evidence.extend(input.tls.iter().map(|cert| Evidence {
        measure: t.e_tls,
        state: format!(
            "{} ({}): {}",
            cert.subject,
            cert.path.display(),
            expiry(lang, cert, input.now)
        ),
        ok: cert.is_healthy(input.now),
    }));
    evidence
}

/// "expires on 01/03/2027 (98 days)" or "EXPIRED on 01/01/2021".
fn expiry(lang: Lang, cert: &TlsCertificate, now: DateTime<Utc>) -> String {
    let t = lang.catalogue();
    let day = lang.date(cert.not_after.date_naive());
    let left = cert.days_left(now);
    if cert.not_after <= now {
        return format!("{} {day}", t.expired);
    }
    format!(
        "{} {day} ({} {})",
        t.expires,
        lang.number(left),
        t.days_left
    )
}

/// Encryption: are backups encrypted, and is an encryption measure
/// (disk, database) on record? Custodia itself does not encrypt the store.
fn encryption(input: &DossierInput, lang: Lang) -> Evidence {
    let t = lang.catalogue();
    let backups = &input.registers.backups;
    let encrypted = backups.iter().filter(|b| b.encrypted).count();
    let measures: Vec<&str> = input
        .registers
        .measures
        .iter()
        .filter(|m| m.category.eq_ignore_ascii_case("encryption"))
        .map(|m| m.name.as_str())
        .collect();
    let latest_encrypted = backups
        .iter()
        .max_by_key(|b| b.taken_at)
        .is_some_and(|b| b.encrypted);
    let storage = if measures.is_empty() {
        t.not_provided.to_owned()
    } else {
        measures.join(", ")
    };
    Evidence {
        measure: t.e_encryption,
        state: format!(
            "{encrypted}/{} {}; {storage}",
            backups.len(),
            t.backups_encrypted
        ),
        ok: latest_encrypted && !measures.is_empty(),
    }
}

/// "sees: customer record, administrative; does not see: personal".
fn sees(lang: Lang, visibility: Option<&Visibility>) -> String {
    let t = lang.catalogue();
    let Some(v) = visibility else {
        return t.missing.to_owned();
    };
    let areas: Vec<(String, bool)> = v.areas.iter().map(|(a, ok)| (lang.label(a), *ok)).collect();
    let record = [(t.customer_record, v.record)];
    let all = record
        .iter()
        .copied()
        .chain(areas.iter().map(|(a, ok)| (a.as_str(), *ok)));
    let (yes, no): (Vec<_>, Vec<_>) = all.partition(|(_, ok)| *ok);
    let names = |items: Vec<(&str, bool)>| {
        items
            .into_iter()
            .map(|(n, _)| n)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = Vec::new();
    if !yes.is_empty() {
        out.push(format!("{}: {}", t.may_see, names(yes)));
    }
    if !no.is_empty() {
        out.push(format!("{}: {}", t.may_not_see, names(no)));
    }
    out.join("; ")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use custodia_engine::{
        Contact, EntryId, LogReview, OrgSlug, SecurityMeasure, SubProcessor, Training,
    };

    use super::*;
    use crate::i18n::{EN, ES};

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn id(s: &str) -> EntryId {
        EntryId::new(s.to_owned()).expect("id")
    }

    fn worker(login: &str) -> Worker {
        toml::from_str(&format!("login = \"{login}\"\nname = \"W {login}\"\nlevel = 2\npassword_hash = \"$argon2id$v=19$m=19456,t=2,p=1$vq0zhAvnxzcVm7aITpr+YA$Yd8WaLPmQp1h5y572VOTs4NR9zPmG3WFei9kEsajjRQ\""))
            .expect("worker")
    }

    fn activity(name: &str) -> ProcessingActivity {
        ProcessingActivity {
            id: id(name),
            name: name.into(),
            purposes: vec!["sales".into()],
            legal_basis: Some("contract (art. 6(1)(b))".into()),
            data_subjects: vec!["customers".into()],
            data_categories: vec!["contact".into()],
            special_categories: false,
            criminal_data: false,
            occasional: true,
            recipients: vec!["none".into()],
            transfers: Some("none".into()),
            transfer_safeguards: None,
            retention: Some("5 years".into()),
            security_measures: vec!["access control".into()],
        }
    }

    /// A shop of 5 with one complete, occasional activity, a fresh low
    /// risk analysis, training, backups, agreements and a log review:
    /// nothing is pending, so each test adds exactly one problem.
    fn complete() -> DossierInput {
        let now = Utc
            .with_ymd_and_hms(2026, 11, 23, 10, 0, 0)
            .single()
            .expect("time");
        let workers = vec![worker("ana"), worker("luis")];
        let registers = Registers {
            activities: vec![activity("RA-1")],
            trainings: vec![Training {
                id: id("T-1"),
                title: "Awareness".into(),
                date: day("2026-06-01"),
                hours: 2,
                attendees: workers.iter().map(|w| w.login.clone()).collect(),
            }],
            backups: vec![custodia_engine::Backup {
                id: id("B-1"),
                taken_at: now - Duration::days(1),
                location: "offsite".into(),
                encrypted: true,
                restore_checked: Some(day("2026-11-01")),
                restore_ok: Some(true),
            }],
            risk_analyses: vec![RiskAnalysis {
                id: id("RK-1"),
                date: day("2026-02-01"),
                level: RiskLevel::Low,
                method: None,
                findings: None,
            }],
            confidentiality: workers
                .iter()
                .map(|w| ConfidentialityAgreement {
                    id: id(&format!("CF-{}", w.login)),
                    worker: w.login.clone(),
                    signed: day("2025-01-01"),
                })
                .collect(),
            log_reviews: vec![LogReview {
                id: id("LR-1"),
                date: day("2026-11-02"),
                reviewer: workers[0].login.clone(),
                findings: "nothing unusual".into(),
            }],
            ..Registers::default()
        };
        DossierInput {
            organisation: Organisation {
                slug: OrgSlug::new("tienda").expect("slug"),
                name: "Tienda".into(),
                sectors: vec![Sector::Ecommerce],
                tax_id: None,
                address: None,
                controller: Contact {
                    name: "Rosa".into(),
                    email: Some("rosa@tienda.example".into()),
                    phone: None,
                },
                dpo: None,
                staff_count: 5,
                sole_practitioner: false,
            },
            workers,
            customers: 10,
            areas_with_password: 0,
            registers,
            packs: Vec::new(),
            visibility: Default::default(),
            audit: VerifyReport {
                org: "tienda".into(),
                events: 0,
                last_seq: 0,
                head_hash: String::new(),
                checkpoints_checked: 0,
                signatures_checked: true,
                broken: None,
            },
            checkpoint: None,
            tls: Vec::new(),
            marketing: MarketingInput::default(),
            now,
        }
    }

    /// The pending actions, as "what | law".
    fn pending(input: &DossierInput, lang: Lang) -> Vec<String> {
        pending_actions(input, lang)
            .into_iter()
            .map(|p| format!("{} | {}", p.what, p.law))
            .collect()
    }

    #[test]
    fn a_complete_small_shop_has_nothing_pending_and_may_be_exempt_from_the_record() {
        let input = complete();
        assert_eq!(pending(&input, Lang::Es), Vec::<String>::new());
        assert!(exemption_blockers(&input, Lang::Es).is_empty());
    }

    #[test]
    fn an_empty_record_of_processing_is_pending() {
        let mut input = complete();
        input.registers.activities.clear();
        assert_eq!(
            pending(&input, Lang::Es),
            ["No hay ninguna actividad de tratamiento en el registro | art. 30.1 RGPD"]
        );
    }

    #[test]
    fn a_missing_legal_basis_is_cited_to_art_6_not_as_an_art_30_field() {
        let mut input = complete();
        input.registers.activities[0].legal_basis = None;
        assert_eq!(
            pending(&input, Lang::Es),
            ["Actividad `RA-1`: falta la base jurídica del tratamiento | arts. 6.1 y 13.1.c) RGPD"]
        );
        assert_eq!(
            pending(&input, Lang::En),
            [
                "Activity `RA-1`: the legal basis of the processing is missing | GDPR arts. 6(1) and 13(1)(c)"
            ]
        );
    }

    #[test]
    fn a_transfer_abroad_without_safeguards_is_pending_until_they_are_recorded() {
        let mut input = complete();
        input.registers.activities[0].transfers = Some("United States (cloud CRM)".into());
        assert_eq!(
            pending(&input, Lang::En),
            [
                "Activity `RA-1`: international transfer without recorded safeguards | GDPR arts. 44-46"
            ]
        );
        input.registers.activities[0].transfer_safeguards =
            Some("EU-US Data Privacy Framework (adequacy decision)".into());
        assert!(pending(&input, Lang::En).is_empty());
    }

    #[test]
    fn the_art_30_5_exemption_needs_every_condition_and_never_covers_law_firms_or_clinics() {
        let t = Lang::En.catalogue();
        let cases: [(&str, fn(&mut DossierInput), &str); 6] = [
            ("staff", |i| i.organisation.staff_count = 250, t.r_staff),
            (
                "regular",
                |i| i.registers.activities[0].occasional = false,
                t.r_regular,
            ),
            (
                "special",
                |i| i.registers.activities[0].special_categories = true,
                t.r_special,
            ),
            (
                "criminal",
                |i| i.registers.activities[0].criminal_data = true,
                t.r_criminal,
            ),
            (
                "law firm",
                |i| i.organisation.sectors = vec![Sector::Legal],
                t.r_sector,
            ),
            (
                "risk",
                |i| i.registers.risk_analyses[0].level = RiskLevel::Medium,
                t.r_risk,
            ),
        ];
        for (name, change, reason) in cases {
            let mut input = complete();
            change(&mut input);
            assert_eq!(exemption_blockers(&input, Lang::En), [reason], "{name}");
        }
        let mut clinic = complete();
        clinic.organisation.sectors = vec![Sector::Health];
        assert!(exemption_blockers(&clinic, Lang::En).contains(&t.r_sector));
        assert!(ES.exemption_reasons.contains("art. 30.5 RGPD"));
        assert_eq!(ES.r_staff, "250 o más empleados");
        assert_eq!(EN.r_staff, "250 or more staff");
    }

    #[test]
    fn processors_are_asked_whether_they_process_data_and_need_the_whole_art_28_contract() {
        let mut input = complete();
        let mut provider: Provider = toml::from_str(
            "id = \"P-1\"\nname = \"Nube\"\nservice = \"cloud\"\nnext_review = \"2027-01-01\"",
        )
        .expect("provider");
        input.registers.providers = vec![provider.clone()];
        assert_eq!(
            pending(&input, Lang::Es),
            [
                "Proveedor `P-1` (Nube): no consta si trata datos personales por cuenta nuestra | art. 28 RGPD"
            ]
        );
        provider.processes_personal_data = Some(false);
        input.registers.providers = vec![provider.clone()];
        assert!(pending(&input, Lang::Es).is_empty());
        provider.processes_personal_data = Some(true);
        provider.sub_processors = vec![SubProcessor {
            name: "Backups Inc".into(),
            service: "storage".into(),
            country: Some("US".into()),
            authorised: None,
        }];
        input.registers.providers = vec![provider.clone()];
        let laws: Vec<String> = pending(&input, Lang::Es)
            .into_iter()
            .map(|p| p.split(" | ").nth(1).expect("law").to_owned())
            .collect();
        assert_eq!(
            laws,
            [
                "art. 28.3 RGPD",
                "art. 28.3.b) RGPD",
                "art. 28.3.g) RGPD",
                "art. 28.3.h) RGPD",
                "art. 28.2 y 28.4 RGPD"
            ]
        );
        provider.contract_signed = Some(day("2026-01-10"));
        provider.confidentiality_clause = Some(day("2026-01-10"));
        provider.end_of_contract = Some(EndOfContract::Delete);
        provider.audit_rights = Some(true);
        provider.sub_processors[0].authorised = Some(day("2026-01-10"));
        input.registers.providers = vec![provider.clone()];
        assert!(pending(&input, Lang::Es).is_empty());
        let (_, _, rows, _) = provider_rows(&provider, Lang::Es, day("2026-11-23"));
        assert!(
            rows.contains(&(ES.contract, "10/01/2026".to_owned())),
            "{rows:?}"
        );
    }

    #[test]
    fn a_risk_analysis_older_than_a_year_is_pending() {
        let mut input = complete();
        input.registers.risk_analyses[0].date = day("2025-11-22");
        assert_eq!(
            pending(&input, Lang::Es),
            ["No consta un análisis de riesgos del último año | arts. 24 y 32 RGPD"]
        );
    }

    #[test]
    fn a_security_measure_past_its_check_date_is_pending() {
        let mut input = complete();
        input.registers.measures = vec![SecurityMeasure {
            id: id("M-1"),
            name: "Firewall".into(),
            category: "network".into(),
            description: None,
            implemented: Some(day("2025-01-01")),
            next_check: Some(day("2026-11-01")),
        }];
        assert_eq!(
            pending(&input, Lang::En),
            [
                "Firewall (M-1): the measure's check has been due since 2026-11-01 | GDPR art. 32(1)(d)"
            ]
        );
        input.registers.measures[0].next_check = Some(day("2026-12-01"));
        assert!(pending(&input, Lang::En).is_empty());
    }

    #[test]
    fn each_active_worker_needs_a_signed_confidentiality_agreement() {
        let mut input = complete();
        input
            .registers
            .confidentiality
            .retain(|c| c.worker.as_str() != "luis");
        assert_eq!(
            pending(&input, Lang::Es),
            [
                "Trabajador `luis`: sin compromiso de confidencialidad firmado | art. 5 LOPDGDD; art. 32.4 RGPD"
            ]
        );
        input.workers[1].active = false;
        assert!(pending(&input, Lang::Es).is_empty());
    }

    #[test]
    fn the_access_log_review_is_due_after_a_month() {
        let mut input = complete();
        input.registers.log_reviews[0].date = day("2026-10-22");
        assert_eq!(pending(&input, Lang::En).len(), 1);
        assert!(pending(&input, Lang::En)[0].starts_with("No review of the access log"));
    }

    #[test]
    fn training_is_cited_to_arts_24_and_32_4_and_lopdgdd_art_5() {
        let mut input = complete();
        input.registers.trainings[0].date = day("2025-06-01");
        assert_eq!(
            pending(&input, Lang::Es),
            [
                "No hay formación del personal en el último año | arts. 24 y 32.4 RGPD; art. 5 LOPDGDD"
            ]
        );
        assert_eq!(
            pending(&input, Lang::En),
            ["No staff training in the last year | GDPR arts. 24 and 32(4); LOPDGDD art. 5"]
        );
    }

    #[test]
    fn a_clinic_needs_a_dpo_unless_a_professional_practises_alone() {
        let mut input = complete();
        input.organisation.sectors = vec![Sector::Health];
        assert_eq!(
            pending(&input, Lang::Es),
            [
                "No hay delegado de protección de datos designado | art. 37 RGPD; art. 34.1.l) LOPDGDD"
            ]
        );
        input.organisation.sole_practitioner = true;
        assert!(pending(&input, Lang::Es).is_empty());
        assert_eq!(
            dpo(&input.organisation, Lang::Es),
            (ES.dpo_exempt.to_owned(), false)
        );
    }

    fn breach(aware: &str) -> Breach {
        toml::from_str(&format!(
            "id = \"BR-1\"\naware_at = \"{aware}\"\nnature = \"Lost laptop\""
        ))
        .expect("breach")
    }

    #[test]
    fn a_breach_waits_72_hours_for_notification_or_a_documented_decision_not_to() {
        let mut input = complete();
        input.registers.breaches = vec![breach("2026-11-22T09:30:00Z")];
        assert_eq!(
            pending(&input, Lang::Es),
            [
                "Brecha `BR-1`: notificar a la autoridad antes de 25/11/2026 09:30 UTC | art. 33.1 RGPD"
            ]
        );
        input.registers.breaches[0].not_notified_reason =
            Some("encrypted laptop, key not compromised: unlikely to result in a risk".into());
        assert!(pending(&input, Lang::Es).is_empty());
        let rows = breach_rows(&input.registers.breaches[0], Lang::Es);
        assert!(rows.iter().any(
            |(label, value)| *label == ES.not_notified && value.starts_with("encrypted laptop")
        ));
    }

    #[test]
    fn a_notification_after_72_hours_needs_its_reasons() {
        let mut input = complete();
        let mut late = breach("2026-11-10T09:30:00Z");
        late.notified_authority_at = Some(
            Utc.with_ymd_and_hms(2026, 11, 14, 9, 30, 0)
                .single()
                .expect("time"),
        );
        input.registers.breaches = vec![late.clone()];
        assert_eq!(
            pending(&input, Lang::En),
            [
                "Breach `BR-1`: notified after 72 hours without the reasons for the delay | GDPR art. 33(1)"
            ]
        );
        late.late_reason = Some("the processor told us on day 4".into());
        input.registers.breaches = vec![late.clone()];
        assert!(pending(&input, Lang::En).is_empty());
        let rows = breach_rows(&late, Lang::En);
        assert!(rows.contains(&(EN.late_reason, "the processor told us on day 4".to_owned())));
        // In time: no reasons asked.
        late.notified_authority_at = Some(late.aware_at + Duration::hours(71));
        late.late_reason = None;
        input.registers.breaches = vec![late];
        assert!(pending(&input, Lang::En).is_empty());
    }

    #[test]
    fn spanish_citations_use_spanish_style_and_english_ones_english_style() {
        let mut input = complete();
        input.registers.backups.clear();
        assert_eq!(
            pending(&input, Lang::Es),
            ["No consta ninguna copia de seguridad | art. 32.1.c) RGPD"]
        );
        assert_eq!(
            pending(&input, Lang::En),
            ["No backup is recorded | GDPR art. 32(1)(c)"]
        );
        for lang in [Lang::Es, Lang::En] {
            let mut all = complete();
            all.registers = Registers::default();
            all.organisation.sectors = vec![Sector::Health];
            for p in pending_actions(&all, lang) {
                // "art. 32 RGPD" in Spanish, "GDPR art. 32" in English.
                let other = if lang == Lang::Es { "GDPR" } else { "RGPD" };
                assert!(!p.law.contains(other), "{}", p.law);
                assert!(!p.law.contains("RGPD/GDPR"), "{}", p.law);
            }
        }
    }

    #[test]
    fn area_and_sector_names_are_translated_in_spanish() {
        assert_eq!(Lang::Es.label("case-file"), "expediente");
        assert_eq!(Lang::Es.label("financial"), "económica");
        assert_eq!(
            Lang::Es.label("clinical:cardiology"),
            "clínica: cardiología"
        );
        assert_eq!(Lang::En.label("case-file"), "case file");
        assert_eq!(Lang::Es.label("legal"), "jurídico");
        assert_eq!(Lang::Es.label("unknown-area"), "unknown-area");
        let seen = Visibility {
            record: true,
            areas: vec![("case-file".into(), false), ("financial".into(), true)],
        };
        assert_eq!(
            sees(Lang::Es, Some(&seen)),
            "ve: ficha del cliente, económica; no ve: expediente"
        );
    }
}
