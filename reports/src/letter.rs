//! The answer to an access (GDPR art. 15) or portability (art. 20)
//! request: the package's contents as the core gathers them, and the
//! letter that goes with it, as HTML and PDF, in Spanish or English.

use askama::Template;
use chrono::{DateTime, Utc};
use custodia_engine::audit::merkle::Proof;
use custodia_engine::{CustomerId, RightKind, RightsRequest};
use serde::Serialize;

use crate::Result;
use crate::i18n::Lang;

/// One value of the person's data, as the package lists it.
#[derive(Debug, Clone, Serialize)]
pub struct DataItem {
    /// `identity`, or the area's name.
    pub section: String,
    pub field: String,
    pub value: String,
}

/// A processing activity, as the person is told about it (art. 15.1 a-d).
#[derive(Debug, Clone, Serialize)]
pub struct Purpose {
    pub activity: String,
    pub purposes: Vec<String>,
    pub legal_basis: Option<String>,
    pub recipients: Vec<String>,
    pub retention: Option<String>,
}

/// One access to the person's data recorded in the audit log. Workers
/// are named by role and department, not by name: art. 15.1(c) asks for
/// the recipients or their categories, and staff act under the firm's
/// authority (art. 29); their names are the firm's to give on request.
#[derive(Debug, Clone, Serialize)]
pub struct Access {
    pub at: DateTime<Utc>,
    /// The event's sequence in the organisation's audit chain.
    pub seq: i64,
    pub action: String,
    pub role: String,
    pub department: String,
    pub allowed: bool,
    /// Whether the data left Custodia (export, download, print).
    pub exported: bool,
    /// That this event is in the log the package's tree head signs
    /// (RFC 9162 inclusion proof): the firm cannot later drop or change it
    /// without the proof failing.
    pub proof: Proof,
}

/// What an access or portability request is answered with.
#[derive(Debug, Clone, Serialize)]
pub struct RightsPackage {
    pub request: RightsRequest,
    pub organisation: String,
    pub customer: CustomerId,
    pub name: String,
    pub data: Vec<DataItem>,
    /// Empty for portability (art. 20 covers the data, not the processing).
    pub purposes: Vec<Purpose>,
    /// Empty for portability.
    pub accesses: Vec<Access>,
    /// The audit log's signed tree head (C2SP tlog-checkpoint note) that
    /// every access's proof is checked against; none for portability.
    pub tree_head: Option<String>,
    pub made_at: DateTime<Utc>,
}

/// One access as the letter's table shows it.
struct AccessRow {
    seq: i64,
    at: String,
    action: String,
    role: String,
    department: String,
    allowed: &'static str,
    left: &'static str,
}

/// Every text of the letter, in its language; both formats render it.
struct LetterView<'a> {
    p: &'a RightsPackage,
    code: &'static str,
    title: String,
    dated: String,
    greeting: String,
    intro: String,
    data_title: &'static str,
    columns: [&'static str; 3],
    purposes_title: &'static str,
    purposes: Vec<(String, String)>,
    access: bool,
    accesses_title: &'static str,
    accesses_intro: &'static str,
    access_columns: [&'static str; 7],
    accesses: Vec<AccessRow>,
    proofs_note: &'static str,
    closing: &'static str,
}

#[derive(Template)]
#[template(path = "rights_letter.html")]
struct LetterHtml<'a> {
    v: LetterView<'a>,
}

#[derive(Template)]
#[template(path = "rights_letter.typ")]
struct LetterTyp<'a> {
    v: LetterView<'a>,
}

/// The letter as one self-contained HTML page.
pub fn letter_html(package: &RightsPackage, lang: Lang) -> Result<String> {
    Ok(LetterHtml {
        v: view(package, lang),
    }
    .render()?)
}

/// The letter as PDF; the same package gives the same bytes.
pub fn letter_pdf(package: &RightsPackage, lang: Lang) -> Result<Vec<u8>> {
    let markup = LetterTyp {
        v: view(package, lang),
    }
    .render()?;
    crate::pdf::compile(markup, package.made_at.date_naive())
}

fn view(p: &RightsPackage, lang: Lang) -> LetterView<'_> {
    let pick = |es, en| lang.pick(es, en);
    let access = p.request.kind == RightKind::Access;
    let asked = if access {
        pick(
            "el acceso a sus datos personales",
            "access to your personal data",
        )
    } else {
        pick(
            "sus datos en un formato portable",
            "your data in a portable format",
        )
    };
    let files = if access {
        "data.json, data.csv, accesses.csv, proofs.json"
    } else {
        "data.json, data.csv"
    };
    let purposes = p
        .purposes
        .iter()
        .map(|a| {
            let mut rest = a.purposes.join(", ");
            if let Some(basis) = &a.legal_basis {
                rest.push_str(&format!(" — {basis}"));
            }
            if !a.recipients.is_empty() {
                rest.push_str(&format!(
                    " — {}: {}",
                    pick("destinatarios", "recipients"),
                    a.recipients.join(", ")
                ));
            }
            if let Some(kept) = &a.retention {
                rest.push_str(&format!(" — {}: {kept}", pick("conservación", "kept")));
            }
            (a.activity.clone(), rest)
        })
        .collect();
    LetterView {
        p,
        code: lang.catalogue().code,
        title: format!(
            "{} {} ({})",
            pick("Su solicitud n.º", "Your request #"),
            p.request.id,
            p.request.kind.article()
        ),
        dated: format!("{} · {}", p.organisation, p.made_at.format("%Y-%m-%d")),
        greeting: match lang {
            Lang::Es => format!("Estimado/a {}:", p.name),
            Lang::En => format!("Dear {},", p.name),
        },
        intro: match lang {
            Lang::Es => format!(
                "El {} nos solicitó {asked}. Esta carta y los archivos que la acompañan ({files}) le dan respuesta.",
                p.request.received
            ),
            Lang::En => format!(
                "You asked us on {} for {asked}. This letter and the files that come with it ({files}) answer it.",
                p.request.received
            ),
        },
        data_title: pick(
            "Los datos que tratamos sobre usted",
            "The data we hold about you",
        ),
        columns: [
            pick("Sección", "Section"),
            pick("Campo", "Field"),
            pick("Valor", "Value"),
        ],
        purposes_title: pick(
            "Para qué los tratamos, con qué base, quién los recibe y durante cuánto tiempo",
            "Why we process them, on what basis, who receives them, and for how long",
        ),
        purposes,
        access,
        accesses_title: pick(
            "Quién de nuestro personal accedió a sus datos",
            "Who of our staff accessed your data",
        ),
        accesses_intro: pick(
            "Cada acceso queda en nuestro registro de auditoría a prueba de manipulaciones. Indicamos el puesto y el departamento de quien accedió: actúa bajo nuestra autoridad (art. 29 RGPD), y el art. 15.1.c pide los destinatarios o sus categorías. El número de cada acceso es su posición en el registro.",
            "Every access is recorded in our tamper-evident audit log. Staff are named by role and department: they act under our authority (GDPR art. 29), and art. 15.1(c) asks for the recipients or their categories. The number of each access is its place in the log.",
        ),
        access_columns: [
            "#",
            pick("Cuándo", "When"),
            pick("Acción", "Action"),
            pick("Puesto", "Role"),
            pick("Departamento", "Department"),
            pick("Permitido", "Allowed"),
            pick("Salió de nuestros sistemas", "Left our systems"),
        ],
        accesses: p
            .accesses
            .iter()
            .map(|a| AccessRow {
                seq: a.seq,
                at: a.at.format("%Y-%m-%d %H:%M").to_string(),
                action: a.action.clone(),
                role: a.role.clone(),
                department: a.department.clone(),
                allowed: if a.allowed { "✓" } else { "✗" },
                left: if a.exported { "✓" } else { "" },
            })
            .collect(),
        proofs_note: pick(
            "Con esta carta va proofs.json: para cada acceso, una prueba (RFC 9162) de que figura en nuestro registro de auditoría tal como lo firmamos el día de esta respuesta. Cualquiera puede comprobarlas con nuestra clave pública, sin tener que fiarse de nosotros, y no podemos quitar ni cambiar después un acceso sin que la prueba falle.",
            "With this letter comes proofs.json: for each access, a proof (RFC 9162) that it is in our audit log as signed on the day of this answer. Anyone can check them with our public key, without trusting us, and we cannot later remove or change an access without the proof failing.",
        ),
        closing: pick(
            "También puede rectificar o suprimir sus datos, limitar u oponerse a su tratamiento, y reclamar ante la Agencia Española de Protección de Datos (www.aepd.es).",
            "You may also rectify or erase your data, restrict or object to its processing, and complain to the Spanish Data Protection Agency (www.aepd.es).",
        ),
    }
}
