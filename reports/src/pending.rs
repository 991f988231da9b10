//! Pending actions: what the organisation still has to do, each with the
//! article that asks for it (in the language's citation style) and
//! guidance, and whether the art. 30(5) exemption may apply. Where the law
//! is ambiguous the reading that protects people wins (LEGAL.md).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use custodia_engine::{
    ConfidentialityAgreement, Organisation, ProcessingActivity, Registers, RightsRequest,
    RiskAnalysis, RiskLevel, Sector, Worker, WorkerLogin,
};

use crate::i18n::Lang;
use crate::input::DossierInput;

/// Something the organisation still has to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub what: String,
    /// The article, in the language's citation style.
    pub law: &'static str,
    pub guidance: &'static str,
}

/// What the registers' pending actions are worked out from: the part of
/// the dossier's input that is cheap to read (no customers, no chain
/// verify), so the officer's dashboard can show the same list live.
#[derive(Debug, Clone, Copy)]
pub struct Duties<'a> {
    pub organisation: &'a Organisation,
    pub workers: &'a [Worker],
    pub registers: &'a Registers,
    pub rights: &'a [RightsRequest],
    pub now: DateTime<Utc>,
}

impl<'a> Duties<'a> {
    /// The duties part of a gathered dossier input.
    pub fn of(input: &'a DossierInput) -> Self {
        Duties {
            organisation: &input.organisation,
            workers: &input.workers,
            registers: &input.registers,
            rights: &input.rights,
            now: input.now,
        }
    }
}

/// The pending actions, each with the law that asks for it and guidance.
pub fn pending_actions(input: &DossierInput, lang: Lang) -> Vec<Pending> {
    let mut out = duties_pending(&Duties::of(input), lang);
    evidence_pending(input, lang, &mut out);
    out
}

/// The pending actions that follow from the registers, the staff and the
/// rights requests: all of [`pending_actions`] but the live evidence
/// (certificates, the verified chain).
pub fn duties_pending(input: &Duties<'_>, lang: Lang) -> Vec<Pending> {
    let mut out = Vec::new();
    activities_pending(input, lang, &mut out);
    providers_pending(input, lang, &mut out);
    organisation_pending(input, lang, &mut out);
    staff_pending(input, lang, &mut out);
    breaches_pending(input, lang, &mut out);
    rights_pending(input, lang, &mut out);
    out
}

/// Rights requests late or due within a week (art. 12.3: one month).
fn rights_pending(input: &Duties<'_>, lang: Lang, out: &mut Vec<Pending>) {
    let today = input.now.date_naive();
    for r in input.rights.iter().filter(|r| r.is_due_within(today, 7)) {
        let state = if r.is_late(today) {
            lang.pick("vencida el", "late since")
        } else {
            lang.pick("vence el", "due on")
        };
        out.push(Pending {
            what: format!(
                "{} #{} ({}, {}): {state} {}",
                lang.pick("Solicitud de derechos", "Rights request"),
                r.id,
                r.kind,
                r.customer,
                r.due
            ),
            law: lang.pick("art. 12.3 RGPD", "GDPR art. 12(3)"),
            guidance: lang.pick(
                "Responda dentro del mes (ampliable dos meses más, informando al interesado del motivo en el primer mes): custodia rights resolve|refuse|extend.",
                "Answer within the month (extendable by two more, telling the requester why within the first): custodia rights resolve|refuse|extend.",
            ),
        });
    }
}

/// Records of processing (art. 30), legal bases and transfers.
fn activities_pending(input: &Duties<'_>, lang: Lang, out: &mut Vec<Pending>) {
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
pub(crate) fn transfers_abroad(a: &ProcessingActivity) -> bool {
    a.transfers.as_deref().is_some_and(|t| {
        let t = t.trim().to_lowercase();
        !t.is_empty() && !["none", "ninguna", "no"].contains(&t.as_str())
    })
}

/// The most recent risk analysis.
pub(crate) fn latest_risk(r: &Registers) -> Option<&RiskAnalysis> {
    r.risk_analyses.iter().max_by_key(|e| e.date)
}

/// Days from `day` to the dossier's date.
fn age_days(input: &Duties<'_>, day: NaiveDate) -> i64 {
    (input.now.date_naive() - day).num_days()
}

/// Processors (art. 28): the contract and what it must say.
fn providers_pending(input: &Duties<'_>, lang: Lang, out: &mut Vec<Pending>) {
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
fn organisation_pending(input: &Duties<'_>, lang: Lang, out: &mut Vec<Pending>) {
    let t = lang.catalogue();
    let today = input.now.date_naive();
    let r = &input.registers;
    if dpo_missing(input.organisation) {
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
fn staff_pending(input: &Duties<'_>, lang: Lang, out: &mut Vec<Pending>) {
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
        if confidentiality_of(input.registers, &w.login).is_none() {
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
pub(crate) fn confidentiality_of<'r>(
    r: &'r Registers,
    login: &WorkerLogin,
) -> Option<&'r ConfidentialityAgreement> {
    r.confidentiality
        .iter()
        .filter(|c| &c.worker == login)
        .max_by_key(|c| c.signed)
}

/// Breaches waiting for a notification, and late ones without reasons.
fn breaches_pending(input: &Duties<'_>, lang: Lang, out: &mut Vec<Pending>) {
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
                cert.expiry(lang, input.now)
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
pub(crate) fn exemption_blockers(input: &DossierInput, lang: Lang) -> Vec<&'static str> {
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

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use custodia_engine::audit::VerifyReport;
    use custodia_engine::{
        Breach, Contact, EndOfContract, EntryId, LogReview, OrgSlug, Provider, SecurityMeasure,
        SubProcessor, Training, Worker,
    };

    use super::*;
    use crate::dossier::{breach_rows, dpo, provider_rows, sees};
    use crate::i18n::{EN, ES};
    use crate::input::Visibility;

    /// One way to break the art. 30(5) exemption.
    type Change = fn(&mut DossierInput);

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
                began: 0,
                events: 0,
                tail_only: false,
                last_seq: 0,
                head_hash: String::new(),
                checkpoints_checked: 0,
                roots_checked: 0,
                cosignatures_checked: 0,
                signatures_checked: true,
                broken: None,
            },
            checkpoint: None,
            tls: Vec::new(),
            marketing: Default::default(),
            rights: Vec::new(),
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
    fn a_rights_request_past_its_month_is_pending_and_an_answered_one_is_not() {
        let mut input = complete();
        let received = input.now.date_naive() - Duration::days(40);
        let mut request = custodia_engine::RightsRequest {
            id: 7,
            customer: custodia_engine::CustomerId::new("C-1").expect("id"),
            kind: custodia_engine::RightKind::Erasure,
            received,
            channel: "email".into(),
            identity: None,
            due: custodia_engine::first_deadline(received),
            extension_reason: None,
            status: custodia_engine::RequestStatus::Open,
            answered_at: None,
            answer: None,
            purged_at: None,
        };
        input.rights.push(request.clone());
        let late = pending(&input, Lang::En);
        assert_eq!(late.len(), 1, "{late:?}");
        assert!(late[0].starts_with("Rights request #7 (erasure, C-1): late since"));
        assert!(late[0].ends_with("| GDPR art. 12(3)"));
        request.status = custodia_engine::RequestStatus::Granted;
        input.rights = vec![request];
        assert_eq!(pending(&input, Lang::En), Vec::<String>::new());
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
        let cases: [(&str, Change, &str); 6] = [
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
    fn area_sector_role_and_reason_names_are_translated_in_spanish() {
        assert_eq!(Lang::Es.label("case-file"), "expediente");
        assert_eq!(Lang::Es.label("financial"), "económica");
        assert_eq!(
            Lang::Es.label("clinical:cardiology"),
            "clínica: cardiología"
        );
        assert_eq!(Lang::En.label("case-file"), "case file");
        assert_eq!(Lang::Es.label("legal"), "jurídico");
        assert_eq!(Lang::Es.label("lawyer"), "abogado/a");
        assert_eq!(Lang::Es.label("read"), "lectura");
        assert_eq!(
            Lang::Es.label("no_consent"),
            "sin consentimiento ni excepción del art. 21.2"
        );
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
