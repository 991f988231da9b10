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
        for file in organisations()? {
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
            tax_id: None,
            email: Some(format!("{ascii}{n}@{domain}.correo.example")),
            phone: Some(format!("+34 6{:08}", seq.next() % 100_000_000)),
            privacy: *seq.pick(&[PrivacyLevel::Low, PrivacyLevel::Medium, PrivacyLevel::High]),
            assigned,
            existing_customer: seq.next() % 4 != 0,
            communications,
            attributes: Default::default(),
            areas: areas.clone(),
        });
    }
    Ok(())
}
