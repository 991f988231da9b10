//! The data-protection dossier (Expediente de Protección de Datos): the
//! organisation, its records of processing, who may see what, the rule
//! packs in force, providers and SLAs, security measures with live
//! evidence, training, breaches, and pending actions with guidance.

use askama::Template;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use custodia_engine::audit::{Checkpoint, VerifyReport};
use custodia_engine::{Organisation, Registers, Sector, Worker};

use crate::certificate::TlsCertificate;
use crate::i18n::{Catalogue, Lang};
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
    pub now: DateTime<Utc>,
}

/// Something the organisation still has to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub what: String,
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
    exemption: &'static str,
    /// Per worker, in `input.workers` order: what they may see, in words.
    sees: Vec<String>,
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
    let t = lang.catalogue();
    let mut out = Vec::new();
    let today = input.now.date_naive();
    for a in &input.registers.activities {
        let fields: [(&str, bool); 8] = [
            (t.f_purposes, a.purposes.is_empty()),
            (t.f_legal_basis, a.legal_basis.is_none()),
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
                    law: "RGPD/GDPR art. 30(1)",
                    guidance: t.g_art30,
                });
            }
        }
    }
    for p in &input.registers.providers {
        if p.next_review.is_none_or(|d| d < today) {
            out.push(Pending {
                what: format!(
                    "{} `{}` ({}): {}",
                    t.provider, p.id, p.name, t.review_overdue
                ),
                law: "RGPD/GDPR art. 28; INCIBE",
                guidance: t.g_review,
            });
        }
        if p.processes_personal_data && p.confidentiality_clause.is_none() {
            out.push(Pending {
                what: format!(
                    "{} `{}` ({}): {}",
                    t.provider, p.id, p.name, t.no_confidentiality
                ),
                law: "RGPD/GDPR art. 28(3)(b)",
                guidance: t.g_confidentiality,
            });
        }
    }
    let health = input.organisation.sectors.contains(&Sector::Health);
    if input.organisation.dpo.is_none() && health {
        out.push(Pending {
            what: t.no_dpo.to_owned(),
            law: "RGPD/GDPR art. 37; LOPDGDD art. 34",
            guidance: t.g_dpo,
        });
    }
    let last_backup = input.registers.backups.iter().max_by_key(|b| b.taken_at);
    match last_backup {
        None => out.push(Pending {
            what: t.no_backup.to_owned(),
            law: "RGPD/GDPR art. 32(1)(c)",
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
                    law: "RGPD/GDPR art. 32(1)(c)-(d)",
                    guidance: t.g_backup,
                });
            }
        }
    }
    if input
        .registers
        .trainings
        .iter()
        .all(|tr| today - tr.date > Duration::days(365))
    {
        out.push(Pending {
            what: t.training_due.to_owned(),
            law: "RGPD/GDPR art. 39(1)(b); INCIBE",
            guidance: t.g_training,
        });
    }
    for w in input
        .workers
        .iter()
        .filter(|w| w.active && w.password_hash.is_none())
    {
        out.push(Pending {
            what: format!("{} `{}`: {}", t.worker, w.login, t.no_password),
            law: "RGPD/GDPR art. 32",
            guidance: t.g_password,
        });
    }
    for b in &input.registers.breaches {
        if b.notified_authority_at.is_none() {
            out.push(Pending {
                what: format!(
                    "{} `{}`: {} {}",
                    t.breach,
                    b.id,
                    t.notify_by,
                    lang.time(b.notification_deadline())
                ),
                law: "RGPD/GDPR art. 33(1)",
                guidance: t.g_breach,
            });
        }
    }
    for cert in input.tls.iter().filter(|c| !c.is_healthy(input.now)) {
        out.push(Pending {
            what: format!(
                "{} `{}`: {}",
                t.e_tls,
                cert.subject,
                expiry(lang, cert, input.now)
            ),
            law: "RGPD/GDPR art. 32(1)(a)",
            guidance: t.g_tls,
        });
    }
    if !input.audit.ok() {
        out.push(Pending {
            what: t.chain_broken.to_owned(),
            law: "RGPD/GDPR art. 5(2), 32",
            guidance: t.g_chain,
        });
    }
    out
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
    let today = input.now.date_naive();
    let r = &input.registers;
    let activities = r
        .activities
        .iter()
        .map(|a| {
            let rows = vec![
                (t.f_purposes, or_missing(lang, list(&a.purposes))),
                (t.f_legal_basis, or_missing(lang, a.legal_basis.clone())),
                (t.f_subjects, or_missing(lang, list(&a.data_subjects))),
                (t.f_categories, or_missing(lang, list(&a.data_categories))),
                (
                    t.f_special,
                    if a.special_categories { t.yes } else { t.no }.to_owned(),
                ),
                (t.f_recipients, or_missing(lang, list(&a.recipients))),
                (t.f_transfers, or_missing(lang, a.transfers.clone())),
                (t.f_retention, or_missing(lang, a.retention.clone())),
                (t.f_measures, or_missing(lang, list(&a.security_measures))),
            ];
            (a.id.to_string(), a.name.clone(), rows)
        })
        .collect();
    let providers = r
        .providers
        .iter()
        .map(|p| {
            let s = &p.sla;
            let rows = vec![
                (t.service, p.service.clone()),
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
                (t.confidentiality, date(lang, p.confidentiality_clause)),
                (t.next_review, date(lang, p.next_review)),
            ];
            let overdue = p.next_review.is_none_or(|d| d < today);
            (p.id.to_string(), p.name.clone(), rows, overdue)
        })
        .collect();
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
    let breaches = r
        .breaches
        .iter()
        .map(|b| {
            vec![
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
            ]
        })
        .collect();
    let special = r.activities.iter().any(|a| a.special_categories);
    let exemption = if input.organisation.staff_count < 250 && !special {
        t.exemption_may
    } else {
        t.exemption_not
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
        activities,
        providers,
        evidence,
        breaches,
        pending: pending_actions(input, lang),
        exemption,
        sees: input
            .workers
            .iter()
            .map(|w| sees(t, input.visibility.get(w.login.as_str())))
            .collect(),
    }
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
fn sees(t: &Catalogue, visibility: Option<&Visibility>) -> String {
    let Some(v) = visibility else {
        return t.missing.to_owned();
    };
    let record = [(t.customer_record, v.record)];
    let all = record
        .iter()
        .copied()
        .chain(v.areas.iter().map(|(a, ok)| (a.as_str(), *ok)));
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
