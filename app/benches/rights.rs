//! The art. 15 access package of one customer with about 10,000 audit
//! events among a log of 1,000,000, measured through the core on a real
//! SQLite store: `cargo bench -p custodia-app --bench rights`.
//!
//! What a package does, all timed together: the customer's record
//! decrypted, the activities, the customer's events from the log, every
//! event hash of the log (for the Merkle tree), the tree built, one
//! inclusion proof per access, the tree head signed, and the package's own
//! audited export event. The parts are also timed alone.
//!
//! Sizes: `RIGHTS_EVENTS` (default 1,000,000), `RIGHTS_CUSTOMERS` (100:
//! the demo firm's and synthetic ones, so each gets about 1% of the
//! events), `RIGHTS_RUNS` (5).

#![allow(clippy::expect_used, clippy::panic, reason = "benchmarks fail loudly")]

use std::time::{Duration, Instant};

use custodia_engine::audit::AuditQuery;
use custodia_engine::audit::merkle::Tree;
use custodia_engine::{CustomerId, NewRightsRequest, OrgSlug, RightKind};

mod common;

use common::{demo_firm, open_core, percentile, run_on_tokio, size, time};

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{what:<48} p50 {:>9.1} ms   min {:>9.1} ms   n {}",
        percentile(&times, 0.50).as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times.len()
    );
}

fn main() {
    run_on_tokio(run());
}

async fn run() {
    let events = size("RIGHTS_EVENTS", 1_000_000);
    let customers = size("RIGHTS_CUSTOMERS", 100);
    let runs = size("RIGHTS_RUNS", 5);
    let dir = tempfile::tempdir().expect("dir");
    let app = open_core(dir.path()).await;
    let demo = demo_firm(0, |_, _| {}).customers.len();
    let file = demo_firm(customers.saturating_sub(demo), |_, _| {});
    let org: OrgSlug = file.organisation.slug.clone();
    let started = Instant::now();
    app.add_synthetic(&file, events, 0).await.expect("import");
    let customer: CustomerId = "C-1001".parse().expect("id");
    let theirs = app
        .store()
        .query_audit(
            &org,
            &AuditQuery {
                customer: Some(customer.to_string()),
                ..AuditQuery::default()
            },
        )
        .await
        .expect("events")
        .len();
    println!(
        "store: {} customers, {events} audit events, {theirs} of them about {customer} ({:.1} s)",
        file.customers.len(),
        started.elapsed().as_secs_f64()
    );
    let request = app
        .open_rights_request(
            &org,
            &NewRightsRequest {
                customer: &customer,
                kind: RightKind::Access,
                received: chrono::Utc::now().date_naive(),
                channel: "email",
                identity_check: None,
            },
            None,
        )
        .await
        .expect("request");

    let mut times = Vec::new();
    let mut accesses = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let package = app
            .rights_package(&org, request.id, None)
            .await
            .expect("package");
        times.push(t.elapsed());
        accesses = package.accesses.len();
    }
    report(
        &format!("access package ({accesses} accesses, proofs)"),
        times,
    );

    let query = AuditQuery {
        customer: Some(customer.to_string()),
        ..AuditQuery::default()
    };
    let times = time(0, runs, || async {
        app.store().query_audit(&org, &query).await.expect("events");
    })
    .await;
    report("  the customer's events from the log", times);
    let times = time(0, runs, || async {
        app.store().audit_event_hashes(&org).await.expect("hashes");
    })
    .await;
    let hashes = app.store().audit_event_hashes(&org).await.expect("hashes");
    report(&format!("  every event hash ({})", hashes.len()), times);
    let times = time(0, runs, || async {
        Tree::of_events(&hashes);
    })
    .await;
    report("  the Merkle tree built", times);
    let tree = Tree::of_events(&hashes);
    let n = i64::try_from(hashes.len()).expect("size");
    let times = time(0, runs, || async {
        for i in 0..accesses as i64 {
            let seq = i * 97 % n + 1;
            tree.prove(org.as_str(), seq, &hashes).expect("proof");
        }
    })
    .await;
    report(&format!("  {accesses} inclusion proofs"), times);
    app.close().await.expect("close");
}
