//! The data-protection dossier (Expediente de Protección de Datos): the
//! organisation, its records of processing, who may see what, the rule
//! packs in force, providers and SLAs, security measures with live
//! evidence, training, breaches, and pending actions with guidance.

use askama::Template;
use chrono::NaiveDate;
use custodia_engine::{
    Breach, EndOfContract, Organisation, ProcessingActivity, Provider, RiskLevel, Sector, Worker,
};

use crate::i18n::{Catalogue, Lang};
use crate::input::{DossierInput, Visibility};
use crate::marketing::MarketingView;
use crate::pending::{
    Pending, confidentiality_of, exemption_blockers, pending_actions, transfers_abroad,
};
use crate::{CSS, Result};

/// One worker of the staff table, in words.
struct StaffRow {
    departments: String,
    roles: String,
    grants: String,
    sees: String,
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
    /// Per worker, in `input.workers` order, in the document's language.
    staff: Vec<StaffRow>,
    risks: Vec<String>,
    /// Per active worker: name, agreement state, signed.
    confidentiality: Vec<(String, String, bool)>,
    log_reviews: Vec<String>,
    marketing: MarketingView,
    rights: RightsView,
}

/// The rights section: requests per kind, answered in time or late.
struct RightsView {
    title: &'static str,
    /// Column labels: kind, received, answered in time, late, open.
    labels: [&'static str; 5],
    rows: Vec<(&'static str, usize, usize, usize, usize)>,
}

fn rights_view(input: &DossierInput, lang: Lang) -> RightsView {
    let today = input.now.date_naive();
    let rows = custodia_engine::RightKind::ALL
        .into_iter()
        .map(|kind| {
            let of_kind: Vec<_> = input.rights.iter().filter(|r| r.kind == kind).collect();
            let in_time = of_kind
                .iter()
                .filter(|r| r.answered_at.is_some_and(|at| at.date_naive() <= r.due))
                .count();
            let late = of_kind
                .iter()
                .filter(|r| match r.answered_at {
                    Some(at) => at.date_naive() > r.due,
                    None => r.is_late(today),
                })
                .count();
            let open = of_kind.iter().filter(|r| r.is_open()).count();
            (kind.article(), of_kind.len(), in_time, late, open)
        })
        .collect();
    RightsView {
        title: lang.pick(
            "Derechos de los interesados (arts. 12 a 22 RGPD)",
            "Data-subject rights (GDPR arts. 12-22)",
        ),
        labels: [
            lang.pick("Derecho", "Right"),
            lang.pick("Recibidas", "Received"),
            lang.pick("Respondidas en plazo", "Answered in time"),
            lang.pick("Fuera de plazo", "Late"),
            lang.pick("Abiertas", "Open"),
        ],
        rows,
    }
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
        rights: rights_view(input, lang),
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
        staff: input
            .workers
            .iter()
            .map(|w| staff_row(w, input, lang))
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

/// A worker's departments, roles (and specialties), grants and what
/// they may see, with the names the language has for them.
fn staff_row(w: &Worker, input: &DossierInput, lang: Lang) -> StaffRow {
    let labels = |names: &[String]| {
        names
            .iter()
            .map(|n| lang.label(n))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut roles = labels(&w.roles);
    if !w.specialties.is_empty() {
        roles.push_str(&format!(" · {}", labels(&w.specialties)));
    }
    StaffRow {
        departments: labels(&w.departments),
        roles,
        grants: w
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
            .join(", "),
        sees: sees(lang, input.visibility.get(w.login.as_str())),
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
pub(crate) fn dpo(o: &Organisation, lang: Lang) -> (String, bool) {
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
pub(crate) fn provider_rows(
    p: &Provider,
    lang: Lang,
    today: NaiveDate,
) -> (String, String, Rows, bool) {
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
pub(crate) fn breach_rows(b: &Breach, lang: Lang) -> Rows {
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
            cert.expiry(lang, input.now)
        ),
        ok: cert.is_healthy(input.now),
    }));
    evidence
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
pub(crate) fn sees(lang: Lang, visibility: Option<&Visibility>) -> String {
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
