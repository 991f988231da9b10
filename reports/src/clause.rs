//! The information clause of a processing activity (GDPR arts. 13-14;
//! LOPDGDD art. 11), in layers as the AEPD's guide to the duty to inform
//! sets them out: a basic layer of six points to print beside a form or
//! at the foot of an email, and the full text it points to. Everything
//! comes from the activity's register entry and the organisation; an
//! entry that lacks what the law requires is an error naming the field,
//! never a clause with a gap.

use askama::Template;
use chrono::{DateTime, Utc};
use custodia_engine::{Organisation, ProcessingActivity};

use crate::i18n::Lang;
use crate::notice::contact_line;
use crate::{CSS, Error, Result};

/// One section of the full text.
struct Section {
    heading: &'static str,
    paragraphs: Vec<String>,
}

/// The view both formats render.
struct ClauseView {
    code: &'static str,
    css: &'static str,
    title: String,
    basic_title: &'static str,
    full_title: &'static str,
    basic: Vec<(&'static str, String)>,
    full: Vec<Section>,
    generated: String,
}

#[derive(Template)]
#[template(path = "clause.html")]
struct ClauseHtml {
    p: ClauseView,
}

#[derive(Template)]
#[template(path = "clause.typ")]
struct ClauseTyp {
    p: ClauseView,
}

/// The layered clause of `activity` as one self-contained HTML document.
pub fn clause_html(
    org: &Organisation,
    activity: &ProcessingActivity,
    now: DateTime<Utc>,
    lang: Lang,
) -> Result<String> {
    Ok(ClauseHtml {
        p: view(org, activity, now, lang)?,
    }
    .render()?)
}

/// The layered clause of `activity` as PDF; the same entry and `now` give
/// the same bytes.
pub fn clause_pdf(
    org: &Organisation,
    activity: &ProcessingActivity,
    now: DateTime<Utc>,
    lang: Lang,
) -> Result<Vec<u8>> {
    let markup = ClauseTyp {
        p: view(org, activity, now, lang)?,
    }
    .render()?;
    crate::pdf::compile(markup, now.date_naive())
}

/// A field the clause cannot do without (art. 13.1-2), named.
fn required<'a>(
    activity: &ProcessingActivity,
    field: &str,
    value: Option<&'a str>,
) -> Result<&'a str> {
    value
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| Error::Incomplete {
            what: format!("activity `{}`", activity.id),
            field: field.to_owned(),
        })
}

fn view(
    org: &Organisation,
    a: &ProcessingActivity,
    now: DateTime<Utc>,
    lang: Lang,
) -> Result<ClauseView> {
    let pick = |es, en| lang.pick(es, en);
    let purposes = a.purposes.join("; ");
    let purposes = required(a, "purposes", Some(purposes.as_str()))?.to_owned();
    let basis = required(a, "legal_basis", a.legal_basis.as_deref())?;
    let retention = required(a, "retention", a.retention.as_deref())?;
    let contact = org.dpo.as_ref().unwrap_or(&org.controller);
    let recipients = if a.recipients.is_empty() {
        pick(
            "No se cederán datos a terceros, salvo obligación legal.",
            "No data is disclosed to third parties, except where the law requires it.",
        )
        .to_owned()
    } else {
        a.recipients.join("; ")
    };
    let transfers = match a.transfers.as_deref().map(str::trim) {
        None | Some("") | Some("none") => pick(
            "No se prevén transferencias internacionales de datos.",
            "No transfers of data outside the European Economic Area are planned.",
        )
        .to_owned(),
        Some(countries) => format!(
            "{} {countries} ({}: {}).",
            pick(
                "Se transfieren datos fuera del Espacio Económico Europeo a:",
                "Data is transferred outside the European Economic Area to:"
            ),
            pick("garantías", "safeguards"),
            a.transfer_safeguards
                .as_deref()
                .unwrap_or(pick("consulte al responsable", "ask the controller"))
        ),
    };
    let mut controller = vec![org.name.clone()];
    controller.extend(org.tax_id.iter().map(|t| format!("NIF/CIF {t}")));
    controller.extend(org.address.clone());
    let mut who = vec![
        controller.join(", "),
        format!(
            "{}: {}",
            pick("Contacto", "Contact"),
            contact_line(&org.controller)
        ),
    ];
    if let Some(dpo) = &org.dpo {
        who.push(format!(
            "{}: {}",
            pick("Delegado de protección de datos", "Data protection officer"),
            contact_line(dpo)
        ));
    }
    let mut what = vec![purposes.clone()];
    if !a.data_categories.is_empty() {
        what.push(format!(
            "{}: {}.",
            pick("Datos que se tratan", "Data processed"),
            a.data_categories.join(", ")
        ));
    }
    if a.special_categories {
        what.push(
            pick(
                "Se tratan categorías especiales de datos (art. 9 RGPD), con las garantías que exige.",
                "Special categories of data (GDPR art. 9) are processed, with the safeguards it requires.",
            )
            .to_owned(),
        );
    }
    what.push(format!(
        "{} {retention}.",
        pick("Los datos se conservarán:", "The data is kept:")
    ));
    let mut rights = vec![
        pick(
            "Puede acceder a sus datos, rectificarlos o suprimirlos, limitar u oponerse a su tratamiento y pedir su portabilidad (arts. 15 a 22 RGPD).",
            "You may access your data, have it rectified or erased, restrict or object to its processing, and ask for its portability (GDPR arts. 15 to 22).",
        )
        .to_owned(),
        format!(
            "{} {}.",
            pick("Para ejercerlos, escriba a", "To exercise them, write to"),
            contact_line(contact)
        ),
    ];
    if basis.to_lowercase().contains("consent") {
        rights.push(
            pick(
                "Puede retirar su consentimiento en cualquier momento, sin que ello afecte a la licitud del tratamiento anterior (art. 7.3 RGPD).",
                "You may withdraw your consent at any time, without affecting the lawfulness of the processing before (GDPR art. 7(3)).",
            )
            .to_owned(),
        );
    }
    rights.push(
        pick(
            "Si considera que no se han atendido sus derechos, puede reclamar ante la Agencia Española de Protección de Datos (www.aepd.es).",
            "If you believe your rights were not respected, you may complain to the Spanish Data Protection Agency (www.aepd.es).",
        )
        .to_owned(),
    );
    Ok(ClauseView {
        code: lang.catalogue().code,
        css: CSS,
        title: format!(
            "{}: {}",
            pick("Información sobre protección de datos", "Data protection information"),
            a.name
        ),
        basic_title: pick("Información básica", "Basic information"),
        full_title: pick("Información adicional", "Additional information"),
        basic: vec![
            (pick("Responsable", "Controller"), org.name.clone()),
            (pick("Finalidad", "Purpose"), purposes),
            (pick("Legitimación", "Legal basis"), basis.to_owned()),
            (pick("Destinatarios", "Recipients"), recipients.clone()),
            (
                pick("Derechos", "Rights"),
                pick(
                    "Acceder, rectificar y suprimir los datos, así como otros derechos, como se explica en la información adicional.",
                    "Access, rectify and erase the data, and other rights, as explained in the additional information.",
                )
                .to_owned(),
            ),
            (
                pick("Información adicional", "Additional information"),
                pick(
                    "Puede consultar la información adicional y detallada a continuación.",
                    "The additional and detailed information follows below.",
                )
                .to_owned(),
            ),
        ],
        full: vec![
            Section {
                heading: pick("¿Quién es el responsable del tratamiento?", "Who is the controller?"),
                paragraphs: who,
            },
            Section {
                heading: pick("¿Con qué finalidad tratamos sus datos?", "Why do we process your data?"),
                paragraphs: what,
            },
            Section {
                heading: pick("¿Por qué podemos tratarlos?", "On what legal basis?"),
                paragraphs: vec![basis.to_owned()],
            },
            Section {
                heading: pick("¿A quién se comunicarán?", "Who will receive it?"),
                paragraphs: vec![recipients, transfers],
            },
            Section {
                heading: pick("¿Cuáles son sus derechos?", "What are your rights?"),
                paragraphs: rights,
            },
        ],
        generated: lang.time(now),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org() -> Organisation {
        toml::from_str(
            r#"
slug = "bufete"
name = "Bufete Ruiz"
sectors = ["legal"]
tax_id = "B12345678"
controller = { name = "Elena Ruiz", email = "elena@bufete.example" }
dpo = { name = "Protecdata", email = "dpo@protecdata.example" }
"#,
        )
        .expect("organisation")
    }

    fn activity() -> ProcessingActivity {
        toml::from_str(
            r#"
id = "RA-01"
name = "Clientes"
purposes = ["legal advice and representation"]
legal_basis = "contract (GDPR art. 6(1)(b))"
recipients = ["courts"]
retention = "5 years after the case is closed"
"#,
        )
        .expect("activity")
    }

    #[test]
    fn the_clause_gives_the_six_basic_points_and_the_full_text() {
        let html = clause_html(&org(), &activity(), Utc::now(), Lang::En).expect("clause");
        for point in [
            "Controller",
            "Purpose",
            "Legal basis",
            "Recipients",
            "Rights",
            "Additional information",
        ] {
            assert!(
                html.contains(&format!("<th scope=\"row\">{point}</th>")),
                "{point}: {html}"
            );
        }
        assert!(html.contains("5 years after the case is closed"));
        assert!(
            html.contains("dpo@protecdata.example"),
            "rights go to the DPO"
        );
        assert!(html.contains("www.aepd.es"));
        assert!(
            !html.contains("withdraw your consent"),
            "not a consent basis"
        );
    }

    #[test]
    fn an_entry_without_its_legal_basis_is_refused_naming_the_field() {
        let mut a = activity();
        a.legal_basis = None;
        let err = clause_html(&org(), &a, Utc::now(), Lang::Es).expect_err("incomplete");
        assert_eq!(
            err.to_string(),
            "activity `RA-01` lacks `legal_basis`, which the clause must give: fill it in the register"
        );
    }
}
