//! The web UI's server time, page by page, for a firm of 100,000
//! customers of whom the worker sees 1%: the core calls each page makes
//! (the session's worker and the two section checks, then the page's
//! own), measured through the core on a real SQLite store:
//! `cargo bench -p custodia-app --bench pages`.
//!
//! What it leaves out: the HTML rendering (askama, a few µs for these
//! pages) and the socket. What makes it fair to the goal (20 ms p95 per
//! page): every call decides and audits exactly as the page does,
//! durably, with the group-commit writer running.
//!
//! Sizes: `PAGES_CUSTOMERS` (default 100,000), `PAGES_RUNS` (200).

#![allow(clippy::expect_used, clippy::panic, reason = "benchmarks fail loudly")]

use std::time::{Duration, Instant};

use custodia_app::{Custodia, ListQuery, ListScope, Reader};
use custodia_engine::exchange::OrgFile;
use custodia_engine::rules::{Action, Context, ResourceKind, ResourceRef};
use custodia_engine::{CustomerId, OrgSlug, WorkerLogin};

mod common;

use common::{demo_firm, open_core, percentile, run_on_tokio, size, time};

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{what:<52} p50 {:>8.2} ms   p95 {:>8.2} ms   n {}",
        percentile(&times, 0.50).as_secs_f64() * 1e3,
        percentile(&times, 0.95).as_secs_f64() * 1e3,
        times.len()
    );
}

/// The demo's law firm with `n` more customers; one in a hundred is
/// assigned to the assistant `luis`, who sees only those.
fn firm(n: usize) -> OrgFile {
    let luis: WorkerLogin = "luis".parse().expect("login");
    let ana: WorkerLogin = "ana".parse().expect("login");
    demo_firm(n, |c, i| {
        c.name = format!("Cliente Sintético {i}");
        c.assigned = if i % 100 == 0 {
            vec![ana.clone(), luis.clone()]
        } else {
            vec![ana.clone()]
        };
    })
}

/// What every page does first (`web::Me`): the organisation and the
/// worker, then the two section checks, which read nothing more.
async fn frame(app: &Custodia, org: &OrgSlug, reader: &Reader) {
    let scope = app.store().org(org).await.expect("org");
    let worker = scope.worker(&reader.worker).await.expect("worker");
    let sectors = &scope.organisation().sectors;
    for kind in [ResourceKind::AuditLog, ResourceKind::Campaign] {
        app.may_office(sectors, &worker, &reader.context, Action::View, kind);
    }
}

fn main() {
    run_on_tokio(run());
}

async fn run() {
    let customers = size("PAGES_CUSTOMERS", 100_000);
    let runs = size("PAGES_RUNS", 200);
    let dir = tempfile::tempdir().expect("dir");
    let app = open_core(dir.path()).await;
    let file = firm(customers);
    let org: OrgSlug = file.organisation.slug.clone();
    let started = Instant::now();
    app.add_synthetic(&file, 100_000, 0).await.expect("import");
    println!(
        "store: {} customers (1% assigned to luis), 100,000 audit events ({:.1} s)",
        file.customers.len(),
        started.elapsed().as_secs_f64()
    );
    let reader = |login: &str| Reader {
        worker: login.parse().expect("login"),
        context: Context::new(chrono::Utc::now(), "web"),
    };
    let luis = reader("luis");
    let rocio = reader("rocio");
    let page = |scope, search: Option<&str>| ListQuery {
        search: search.map(str::to_owned),
        after: None,
        scope,
        page_size: 25,
    };

    let mine = page(ListScope::Mine, None);
    report(
        "/customers (assistant, 1% visible, assigned first)",
        time(10, runs, || async {
            frame(&app, &org, &luis).await;
            let list = app.list_customers(&org, &luis, &mine).await.expect("list");
            assert_eq!(list.rows.len(), 25);
        })
        .await,
    );
    let all = page(ListScope::All, None);
    report(
        "/customers?scope=all (assistant: within the scan budget)",
        time(10, runs / 4, || async {
            frame(&app, &org, &luis).await;
            app.list_customers(&org, &luis, &all).await.expect("list");
        })
        .await,
    );
    let one = app.list_customers(&org, &luis, &all).await.expect("list");
    println!(
        "  one such page: {} rows shown of {} candidates decided, then `continue`",
        one.rows.len(),
        one.decided
    );
    let search = page(ListScope::Mine, Some("sintético 99"));
    report(
        "/customers?q=... (assistant, search in own)",
        time(10, runs, || async {
            frame(&app, &org, &luis).await;
            app.list_customers(&org, &luis, &search)
                .await
                .expect("list");
        })
        .await,
    );
    let id: CustomerId = "S-000500".parse().expect("id");
    report(
        "/customers/{id} (assistant: record, areas, documents)",
        time(10, runs, || async {
            frame(&app, &org, &luis).await;
            app.read_record(&org, &luis, &id).await.expect("record");
            app.list_documents(&org, &luis, &id).await.expect("docs");
            let export = ResourceRef::Customer(id.clone());
            app.may(&org, &luis, Action::Export, &export)
                .await
                .expect("may");
        })
        .await,
    );
    report(
        "/officer (dashboard: chain checked since its witness, registers)",
        time(10, runs, || async {
            frame(&app, &org, &rocio).await;
            app.dashboard(&org, chrono::Utc::now(), custodia_reports::Lang::En)
                .await
                .expect("dashboard");
        })
        .await,
    );
    app.close().await.expect("close");
}
