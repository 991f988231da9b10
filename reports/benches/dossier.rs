//! The dossier of a large organisation (a plain harness: these are
//! wall-clock figures of whole documents). Run:
//! `cargo bench -p custodia-reports --bench dossier`.
//!
//! The law-firm demo scaled to `DOSSIER_BENCH_WORKERS` (default 200)
//! workers and `DOSSIER_BENCH_CUSTOMERS` (100,000) customers, with
//! `DOSSIER_BENCH_EVENTS` (1,000,000) audit events appended through the
//! real group-commit writer with signed checkpoints, in a SQLite store.
//! Measured: gathering the input (store reads, what each worker may see by
//! the packs in force, the audit chain verified), then rendering HTML and
//! PDF from it.

#![allow(clippy::expect_used, clippy::panic, reason = "benchmarks fail loudly")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use custodia_engine::audit::{AuditConfig, Signer};
use custodia_engine::exchange::OrgFile;
use custodia_engine::rules::RuleSet;
use custodia_engine::testkit::{append_history, repo_root, size_from_env};
use custodia_engine::{CustomerId, Store, WorkerLogin};
use custodia_reports::{DossierInput, Lang, dossier_html, dossier_pdf};

/// The demo law firm with its workers and customers copied round-robin up
/// to the asked sizes; every customer keeps its template's areas and is
/// assigned to one of the copied workers.
fn scaled_firm(workers: usize, customers: usize) -> OrgFile {
    let mut file =
        OrgFile::read(&repo_root().join("plugins/demo/bufete-ruiz.toml")).expect("demo firm");
    let worker_templates = file.workers.clone();
    let customer_templates = file.customers.clone();
    let extra_workers = workers.saturating_sub(worker_templates.len());
    for (i, template) in (0..extra_workers).zip(worker_templates.iter().cycle()) {
        let mut w = template.clone();
        w.login = WorkerLogin::new(format!("w{i:04}")).expect("login");
        w.name = format!("{} {i}", template.name);
        file.workers.push(w);
    }
    let logins: Vec<WorkerLogin> = file.workers.iter().map(|w| w.login.clone()).collect();
    let extra_customers = customers.saturating_sub(customer_templates.len());
    for (i, template) in (0..extra_customers).zip(customer_templates.iter().cycle()) {
        let mut c = template.clone();
        c.id = CustomerId::new(format!("X-{i:06}")).expect("id");
        c.name = format!("Cliente {i}");
        c.email = Some(format!("cliente{i}@example.net"));
        c.assigned = vec![logins[i % logins.len()].clone()];
        file.customers.push(c);
    }
    file
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time_runs<T>(n: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut runs = Vec::with_capacity(n);
    let mut last = None;
    for _ in 0..n {
        let t = Instant::now();
        last = Some(f());
        runs.push(t.elapsed());
    }
    (median(runs), last.expect("at least one run"))
}

async fn run() {
    let (workers, customers, events) = (
        size_from_env("DOSSIER_BENCH_WORKERS", 200),
        size_from_env("DOSSIER_BENCH_CUSTOMERS", 100_000),
        size_from_env("DOSSIER_BENCH_EVENTS", 1_000_000),
    );
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("custodia.db").display());
    let store = Store::init(&url)
        .await
        .expect("store")
        .with_vault(std::sync::Arc::new(custodia_engine::Vault::ephemeral()));

    let t = Instant::now();
    let file = scaled_firm(workers, customers);
    let org = file.organisation.slug.clone();
    store.import(&file, false, "test").await.expect("import");
    println!(
        "setup: imported {} workers, {} customers in {:.2} s",
        file.workers.len(),
        file.customers.len(),
        t.elapsed().as_secs_f64()
    );
    let signer = Arc::new(Signer::create(&dir.path().join("key")).expect("key"));
    let d = append_history(
        &store,
        &org,
        events as u64,
        256,
        Some(signer.clone()),
        AuditConfig::default(),
    )
    .await;
    println!(
        "setup: appended {events} audit events in {:.1} s",
        d.as_secs_f64()
    );

    let rules = RuleSet::load_dir(&repo_root().join("plugins/packs")).expect("packs");
    let now = Utc
        .with_ymd_and_hms(2026, 11, 23, 9, 0, 0)
        .single()
        .expect("time");
    let key = signer.verifying_key();
    let t = Instant::now();
    let full = store
        .verify_audit(&org, Some(&key), None, |_| {})
        .await
        .expect("verify");
    let input = DossierInput::gather(&store, &org, &rules, full, now)
        .await
        .expect("gather");
    let gathered = t.elapsed();
    assert!(input.audit.ok(), "the chain verifies");
    // The appended history and the import's own event.
    assert_eq!(input.audit.events, events as i64 + 1);
    println!(
        "gather (reads, visibility of {} workers, verify {} events): {:.2} s",
        input.workers.len(),
        input.audit.events,
        gathered.as_secs_f64()
    );
    // The two parts that grow with the firm, each timed again alone.
    let scope = store.org(&org).await.expect("org");
    let t = Instant::now();
    let read = scope.customers().await.expect("customers").len();
    println!(
        "  of which, again alone: {read} customers with their areas and assignments {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let verified = store
        .verify_audit(&org, Some(&signer.verifying_key()), None, |_| {})
        .await
        .expect("verify");
    println!(
        "  of which, again alone: {} events verified {:.2} s",
        verified.events,
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let _ = dossier_pdf(&input, Lang::Es).expect("warm-up pdf");
    println!(
        "first PDF (fonts loaded, typst caches cold): {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    for lang in [Lang::Es, Lang::En] {
        let (html_time, html) = time_runs(20, || dossier_html(&input, lang).expect("html"));
        let (pdf_time, pdf) = time_runs(5, || dossier_pdf(&input, lang).expect("pdf"));
        println!(
            "{lang:?}: HTML {:.1} ms median of 20 ({} KiB); PDF {:.0} ms median of 5 ({} KiB)",
            html_time.as_secs_f64() * 1e3,
            html.len() / 1024,
            pdf_time.as_secs_f64() * 1e3,
            pdf.len() / 1024,
        );
    }
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run());
}
