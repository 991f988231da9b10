//! `custodia demo`: four small firms, a few hundred generated customers,
//! and a short tour of what to try.
//!
//! The hand-written part lives in `plugins/demo/*.toml` (embedded here, so
//! the command works from any directory); the bulk customers are generated
//! from a fixed seed, so every demo store is the same.

use std::path::Path;

use anyhow::Context;
use custodia_engine::exchange::OrgFile;
use custodia_engine::{
    Area, Communications, Consent, Customer, CustomerId, Error, OptOut, OptOutOffer, PrivacyLevel,
    Store,
};

use custodia_engine::rules::pack::FieldType;
use custodia_engine::{AreaContent, FieldValue};

use crate::global::{Global, with_app};
use crate::output::{emit, say};

const FILES: &[(&str, &str)] = &[
    (
        "bufete-ruiz.toml",
        include_str!("../plugins/demo/bufete-ruiz.toml"),
    ),
    (
        "clinica-norte.toml",
        include_str!("../plugins/demo/clinica-norte.toml"),
    ),
    (
        "gestoria-iberia.toml",
        include_str!("../plugins/demo/gestoria-iberia.toml"),
    ),
    (
        "estudio-arco.toml",
        include_str!("../plugins/demo/estudio-arco.toml"),
    ),
    (
        "tienda-verde.toml",
        include_str!("../plugins/demo/tienda-verde.toml"),
    ),
];

/// How many customers to generate per organisation.
const GENERATED_PER_ORG: usize = 150;

/// A cleared store starts new chains: the old witness file no longer
/// describes them, so it is kept aside (renamed), never deleted.
fn retire_witness(g: &Global) -> anyhow::Result<()> {
    let witness = g.config().witness_path();
    if !witness.exists() {
        return Ok(());
    }
    let mut aside = witness.clone().into_os_string();
    aside.push(format!(
        ".replaced-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ")
    ));
    std::fs::rename(&witness, &aside)
        .with_context(|| format!("cannot move the old witness `{}` aside", witness.display()))?;
    if !g.json {
        say!(
            "the previous witness was moved to `{}`",
            Path::new(&aside).display()
        );
    }
    Ok(())
}

/// Parses the embedded files and adds the generated customers.
pub fn organisations() -> anyhow::Result<Vec<OrgFile>> {
    FILES
        .iter()
        .map(|(name, text)| {
            let mut file = OrgFile::parse(Path::new(name), text)?;
            add_generated_customers(&mut file, GENERATED_PER_ORG)?;
            Ok(file)
        })
        .collect()
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Replace whatever the store holds
    #[arg(long)]
    force: bool,
    /// Instead of the demo firms, add (or replace) the organisation
    /// `synthetic` with this many customers...
    #[arg(long)]
    customers: Option<usize>,
    /// ...this many audited decisions...
    #[arg(long, default_value_t = 0, requires = "customers")]
    events: usize,
    /// ...and this many opted-out addresses
    #[arg(long, default_value_t = 0, requires = "customers")]
    optouts: usize,
}

/// The synthetic organisation: the law office's workers and registers,
/// `customers` generated customers, no documents.
fn synthetic(customers: usize) -> anyhow::Result<OrgFile> {
    let (name, text) = FILES[0];
    let mut file = OrgFile::parse(Path::new(name), text)?;
    file.organisation.slug = custodia_engine::OrgSlug::new("synthetic")?;
    file.organisation.name = "Synthetic, S.L.".into();
    file.documents.clear();
    file.customers.truncate(1);
    add_generated_customers(&mut file, customers)?;
    file.customers.remove(0);
    Ok(file)
}

async fn run_synthetic(g: &Global, args: &DemoArgs, customers: usize) -> anyhow::Result<()> {
    let file = synthetic(customers)?;
    let started = std::time::Instant::now();
    let summary = with_app(g, async |app| {
        Ok(app.add_synthetic(&file, args.events, args.optouts).await?)
    })
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    emit(g.json, &summary, |s| {
        say!(
            "organisation `synthetic`: {} customers, {} events, {} opt-outs in {seconds:.1} s",
            s.import.customers,
            s.events,
            s.opt_outs
        );
    })
}

pub async fn run(g: &Global, args: DemoArgs) -> anyhow::Result<()> {
    if let Some(customers) = args.customers {
        return run_synthetic(g, &args, customers).await;
    }
    let force = args.force;
    let store = Store::init(&g.db).await?;
    if !store.organisations().await?.is_empty() {
        if !force {
            let e = Error::StoreNotEmpty(store.display_url().to_owned());
            anyhow::bail!("{e}: use --force");
        }
        store.clear().await?;
        retire_witness(g)?;
    }
    let summaries = with_app(g, async |app| {
        let mut summaries = Vec::new();
        for mut file in organisations()? {
            let rules = app.rules();
            let sectors = file.organisation.sectors.clone();
            fill_contents(&mut file, |area| rules.area_fields(&sectors, area));
            let summary = app
                .import_org(&file, false, "demo data")
                .await
                .with_context(|| {
                    format!(
                        "cannot import demo organisation `{}`",
                        file.organisation.slug
                    )
                })?;
            // Every demo firm consulted the Robinson list today, so its
            // campaigns can be planned (a plan refuses a missing or stale list).
            let today = chrono::Utc::now().date_naive();
            app.import_robinson_text(
                &file.organisation.slug,
                Path::new(ROBINSON.0),
                ROBINSON.1,
                today,
            )
            .await?;
            summaries.push(summary);
        }
        Ok(summaries)
    })
    .await?;
    emit(g.json, &summaries, |summaries| {
        say!("Demo store ready at {}\n", store.display_url());
        for s in summaries {
            say!(
                "  {:<16} {:>2} workers  {:>4} customers  {:>2} documents  {:>2} register entries",
                s.organisation,
                s.workers,
                s.customers,
                s.documents,
                s.register_entries
            );
        }
        say!("{TOUR}");
    })
}

/// Whether `slug` is one of the demo firms (their passwords are public).
pub fn is_demo_firm(slug: &str) -> bool {
    FILES
        .iter()
        .any(|(file, _)| file.strip_suffix(".toml") == Some(slug))
}

/// The demo's extract of the Robinson list.
const ROBINSON: (&str, &str) = (
    "plugins/demo/robinson.txt",
    include_str!("../plugins/demo/robinson.txt"),
);

const TOUR: &str = "
A short tour (every worker's password is demo-<login>):

  bufete-ruiz    ana is the lawyer in charge of C-1001 (María López, divorce,
                 privacy high); luis assists her; pablo is another lawyer;
                 C-1001's case-file area is closed by a password.
  clinica-norte  garcia (cardiology), ortiz (dermatology), ruiz (internal
                 medicine, may read cardiology), recepcion (front desk).
  gestoria-iberia, estudio-arco, tienda-verde: an accounting office, an
                 architecture studio and an online shop.

Try:
  custodia explain --worker luis --action view --resource customer:C-1001
  custodia decide  --worker pablo --action view --resource customer:C-1001/personal
  echo expediente-1001 | custodia unlock --worker ana --area customer:C-1001/case-file --password-stdin
  custodia audit query --org bufete-ruiz ; custodia audit verify
  custodia mail create --org bufete-ruiz plugins/demo/campaigns/novedades.toml
  custodia mail plan --org bufete-ruiz novedades-2026-12
  custodia export --org bufete-ruiz ; custodia serve
";

/// A small deterministic generator (SplitMix64), so demo data never changes.
struct Seq(u64);

impl Seq {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        // A usize always fits in u64 on the platforms Rust supports, and
        // a value below a slice's length always fits back in usize.
        let len = items.len() as u64;
        let i = (self.next() % len) as usize;
        &items[i]
    }
}

const GIVEN: &[&str] = &[
    "Lucía", "Hugo", "Martina", "Daniel", "Sofía", "Pablo", "Julia", "Álvaro", "Paula", "Adrián",
    "Carmen", "Javier", "Elena", "Diego", "Irene", "Mario", "Noelia", "Sergio", "Nerea", "Íñigo",
];
const FAMILY: &[&str] = &[
    "García",
    "Fernández",
    "González",
    "Rodríguez",
    "López",
    "Martínez",
    "Sánchez",
    "Pérez",
    "Gómez",
    "Martín",
    "Jiménez",
    "Ruiz",
    "Hernández",
    "Díaz",
    "Moreno",
    "Muñoz",
    "Álvarez",
    "Romero",
    "Núñez",
    "Iglesias",
];

fn add_generated_customers(file: &mut OrgFile, count: usize) -> anyhow::Result<()> {
    let Some(template) = file.customers.first() else {
        return Ok(());
    };
    let prefix = template
        .id
        .as_str()
        .split('-')
        .next()
        .unwrap_or("X")
        .to_owned();
    let domain = file.organisation.slug.as_str().to_owned();
    // Generated customers get the first customer's areas, without passwords.
    let areas: Vec<Area> = template
        .areas
        .iter()
        .map(|a| Area {
            password_hash: None,
            ..a.clone()
        })
        .collect();
    let assignable: Vec<_> = file
        .workers
        .iter()
        .filter(|w| w.level.get() >= 3 && w.level.get() <= 4)
        .map(|w| w.login.clone())
        .collect();
    let mut seq = Seq(domain
        .bytes()
        .fold(7, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))));
    // Identity fields come from a sequence of their own, so that adding
    // them left every other generated value (and the tests' counts) as it was.
    let mut identity = Seq(seq.0 ^ 0x1D);
    for n in 0..count {
        let given = seq.pick(GIVEN);
        let family = seq.pick(FAMILY);
        let ascii: String = format!("{given}.{family}")
            .to_lowercase()
            .chars()
            .map(|c| match c {
                'á' => 'a',
                'é' => 'e',
                'í' => 'i',
                'ó' => 'o',
                'ú' => 'u',
                'ñ' => 'n',
                c => c,
            })
            .collect();
        let month = 1 + seq.next() % 12;
        let day = 1 + seq.next() % 28;
        let date = chrono::NaiveDate::from_ymd_opt(
            2025,
            u32::try_from(month).unwrap_or(1),
            u32::try_from(day).unwrap_or(1),
        )
        .unwrap_or(chrono::NaiveDate::MIN);
        let roll = seq.next() % 10;
        let communications = Communications {
            consent: (roll < 5).then(|| Consent {
                source: "web form".into(),
                date,
            }),
            opt_out: (roll >= 8).then(|| OptOut {
                date,
                channel: "email link".into(),
            }),
            // Most existing customers were offered the opt-out on their
            // contract; some older files do not show it.
            opt_out_offered: (day % 5 != 0).then(|| OptOutOffer {
                date,
                channel: "contract clause".into(),
            }),
        };
        let assigned = if assignable.is_empty() {
            Vec::new()
        } else {
            vec![seq.pick(&assignable).clone()]
        };
        file.customers.push(Customer {
            id: CustomerId::new(format!("{prefix}-{}", 7000 + n))?,
            name: format!("{given} {family} {}", seq.pick(FAMILY)),
            tax_id: Some(dni(identity.next() % 100_000_000)),
            email: Some(format!("{ascii}{n}@{domain}.correo.example")),
            phone: Some(format!("+34 6{:08}", seq.next() % 100_000_000)),
            address: Some(street(&mut identity)),
            privacy: *seq.pick(&[PrivacyLevel::Low, PrivacyLevel::Medium, PrivacyLevel::High]),
            assigned,
            existing_customer: seq.next() % 4 != 0,
            communications,
            attributes: Default::default(),
            areas: areas.clone(),
            restriction: None,
        });
    }
    Ok(())
}

/// A Spanish DNI: eight digits and their check letter.
fn dni(number: u64) -> String {
    const LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    // The remainder of a division by 23 always indexes the table.
    let letter = LETTERS[(number % 23) as usize] as char;
    format!("{number:08}{letter}")
}

const STREETS: &[&str] = &[
    "Calle Mayor",
    "Avenida de la Constitución",
    "Calle del Olmo",
    "Paseo de la Castellana",
    "Calle San Bernardo",
    "Ronda de Toledo",
    "Calle Alcalá",
    "Plaza de España",
];
const TOWNS: &[&str] = &[
    "28013 Madrid",
    "08002 Barcelona",
    "41001 Sevilla",
    "46002 Valencia",
    "50001 Zaragoza",
    "48001 Bilbao",
];

fn street(seq: &mut Seq) -> String {
    let street = seq.pick(STREETS);
    let number = 1 + seq.next() % 180;
    format!("{street} {number}, {}", seq.pick(TOWNS))
}

/// A plausible value for a field, by its name and type.
fn sample(field: &str, kind: FieldType, seq: &mut Seq) -> FieldValue {
    let pick = |seq: &mut Seq, items: &[&str]| FieldValue::Text((*seq.pick(items)).to_owned());
    match kind {
        FieldType::Flag => FieldValue::Flag(seq.next() % 3 == 0),
        FieldType::Number => {
            let top = match field {
                "children" => 4,
                "order_count" => 60,
                "gross_salary_eur" => 60_000,
                "budget_eur" => 900_000,
                _ => 5_000,
            };
            // Below `top`, which is far below i64::MAX.
            FieldValue::Number((seq.next() % top) as i64)
        }
        FieldType::Date => {
            let year = if field == "date_of_birth" {
                1950 + seq.next() % 50
            } else {
                2020 + seq.next() % 7
            };
            let month = 1 + seq.next() % 12;
            let day = 1 + seq.next() % 28;
            FieldValue::Text(format!("{year}-{month:02}-{day:02}"))
        }
        FieldType::Text => match field {
            "contact_person" | "opposing_party" => FieldValue::Text(format!(
                "{} {} {}",
                seq.pick(GIVEN),
                seq.pick(FAMILY),
                seq.pick(FAMILY)
            )),
            "preferred_language" => pick(seq, &["es", "en", "ca", "eu", "gl"]),
            "marital_status" => pick(
                seq,
                &["single", "married", "divorced", "separated", "widowed"],
            ),
            "custody_arrangement" => pick(
                seq,
                &[
                    "shared custody",
                    "custody to the mother",
                    "custody to the father",
                    "none",
                ],
            ),
            "iban" => FieldValue::Text(format!(
                "ES{:02} 2100 {:04} {:02} {:010}",
                seq.next() % 100,
                seq.next() % 10_000,
                seq.next() % 100,
                seq.next() % 10_000_000_000
            )),
            "billing_address" | "site_address" | "delivery_address" => {
                FieldValue::Text(street(seq))
            }
            "social_security_number" => FieldValue::Text(format!(
                "28/{:08}/{:02}",
                seq.next() % 100_000_000,
                seq.next() % 100
            )),
            "case_type" => pick(
                seq,
                &[
                    "divorce",
                    "inheritance",
                    "labour dispute",
                    "eviction",
                    "contract claim",
                ],
            ),
            "court" => pick(
                seq,
                &[
                    "Juzgado de Primera Instancia nº 3 de Madrid",
                    "Juzgado de lo Social nº 12 de Madrid",
                    "Juzgado de Primera Instancia nº 7 de Barcelona",
                ],
            ),
            "case_number" => FieldValue::Text(format!("{}/2026", 100 + seq.next() % 900)),
            "diagnosis" => pick(
                seq,
                &[
                    "atrial fibrillation",
                    "hypertension",
                    "psoriasis",
                    "atopic dermatitis",
                    "type 2 diabetes",
                    "hypothyroidism",
                ],
            ),
            "medication" => pick(
                seq,
                &[
                    "apixaban 5 mg",
                    "enalapril 10 mg",
                    "metformin 850 mg",
                    "levothyroxine 50 µg",
                ],
            ),
            "allergies" => pick(seq, &["penicillin", "none known", "ibuprofen", "latex"]),
            "treatment" => pick(
                seq,
                &[
                    "topical corticosteroid",
                    "phototherapy",
                    "emollients twice a day",
                ],
            ),
            "tax_regime" => pick(
                seq,
                &["estimación directa", "módulos", "régimen general de IVA"],
            ),
            "cadastral_reference" => FieldValue::Text(format!(
                "{:014}AB{:04}",
                seq.next() % 100_000_000_000_000,
                seq.next() % 10_000
            )),
            "permit_status" => pick(seq, &["requested", "granted", "pending correction"]),
            "card_last_digits" => FieldValue::Text(format!("{:04}", seq.next() % 10_000)),
            "payment_method" => pick(seq, &["card", "bank transfer", "PayPal"]),
            _ => FieldValue::Text(format!("{field} {}", seq.next() % 1000)),
        },
    }
}

/// Fills every area of every demo customer that has no contents yet
/// with realistic values for the fields the packs declare, and a note.
fn fill_contents(
    file: &mut OrgFile,
    fields: impl Fn(&str) -> std::collections::BTreeMap<String, FieldType>,
) {
    let mut seq = Seq(0x5EED ^ file.customers.len() as u64);
    for customer in &mut file.customers {
        if customer.address.is_none() {
            customer.address = Some(street(&mut seq));
        }
        for area in &mut customer.areas {
            if area.content.is_some() {
                continue;
            }
            let fields = fields(area.name.as_str())
                .into_iter()
                .map(|(name, kind)| {
                    let value = sample(&name, kind, &mut seq);
                    (name, value)
                })
                .collect();
            let notes = format!(
                "Nota {} de {}: revisar en la próxima cita (ref. {:06}).",
                area.name,
                customer.id,
                seq.next() % 1_000_000
            );
            area.content = Some(AreaContent {
                fields,
                notes: Some(notes),
            });
        }
    }
}
