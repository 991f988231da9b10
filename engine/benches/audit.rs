//! Audit log benchmarks (a plain harness: these are throughput figures,
//! not micro-benchmarks). Run: `cargo bench -p custodia-engine --bench audit`.
//!
//! Environment: `CUSTODIA_TEST_PG_URL` adds the PostgreSQL runs;
//! `AUDIT_BENCH_APPEND` (default 200000), `AUDIT_BENCH_VERIFY` (1000000) and
//! `AUDIT_BENCH_BREACH` (10000000) size the runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use custodia_engine::audit::{
    AuditConfig, AuditEvent, AuditLog, BreachQuery, EventKind, GENESIS, Signer, chain_hash,
};
use custodia_engine::rules::Effect;
use custodia_engine::testkit::scratch_database;
use custodia_engine::{Backend, OrgSlug, Store};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .expect("valid time")
}

/// Event `i` of a year-long, 50-worker, 100,000-customer history of `n` events.
fn event(i: u64, n: u64) -> AuditEvent {
    let span = 365 * 24 * 3600 * 1_000_000_i64;
    let at = start()
        + chrono::Duration::microseconds(
            span / i64::try_from(n).unwrap_or(1) * i64::try_from(i).unwrap_or(0),
        );
    let mut e = AuditEvent::new(
        if i % 50 == 7 {
            EventKind::Export
        } else {
            EventKind::Decision
        },
        at,
    );
    let customer = (i.wrapping_mul(2_654_435_761)) % 100_000;
    e.worker = Some(format!("w{}", i % 50));
    e.action = Some(if i % 50 == 7 { "export" } else { "view" }.into());
    e.customer = Some(format!("C-{customer}"));
    e.resource = Some(format!("customer:C-{customer}/personal"));
    e.area = Some("personal".into());
    e.decision = Some(if i % 13 == 0 {
        Effect::Deny
    } else {
        Effect::Allow
    });
    e.rules = vec!["legal/lawyer-in-charge".into()];
    e.address = Some(format!("10.0.{}.{}", i % 7, i % 200));
    e.channel = Some("api".into());
    e
}

/// A fresh store holding the demo law firm, its URL, and what keeps it alive.
async fn store(backend: Backend) -> Option<(Store, String, Option<tempfile::TempDir>)> {
    if backend == Backend::Postgres && std::env::var(custodia_engine::testkit::PG_URL_VAR).is_err()
    {
        return None;
    }
    let (url, guard) = scratch_database(backend).await;
    let store = Store::init(&url).await.expect("store");
    let demo =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/demo/bufete-ruiz.toml");
    let file = custodia_engine::exchange::OrgFile::read(&demo).expect("demo");
    store.import(&file, false).await.expect("import");
    Some((store, url, guard))
}

fn org() -> OrgSlug {
    OrgSlug::new("bufete-ruiz").expect("slug")
}

/// Appends `n` events from `clients` concurrent callers, each waiting for
/// durability, through the group-commit writer.
async fn group_commit(
    store: &Store,
    n: u64,
    clients: u64,
    signer: Option<Arc<Signer>>,
) -> Duration {
    let log = AuditLog::spawn(store.clone(), signer, AuditConfig::default());
    let t = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let log = log.clone();
            tokio::spawn(async move {
                let mut i = c;
                while i < n {
                    log.append(&org(), event(i, n)).await.expect("append");
                    i += clients;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    log.shutdown().await.expect("shutdown");
    t.elapsed()
}

/// The naive writer: one transaction per event (read head, insert, update head).
async fn naive(url: &str, n: u64) -> Duration {
    // A chain of its own (org `naive`), so the two writers do not mix.
    let pool = sqlx::AnyPool::connect(url).await.expect("pool");
    let t = Instant::now();
    let mut head = GENESIS.to_owned();
    for i in 0..n {
        let e = event(i, n);
        let seq = i64::try_from(i).expect("fits") + 1;
        let hash = chain_hash("naive", seq, &e, &head);
        let mut tx = pool.begin().await.expect("begin");
        sqlx::query("INSERT INTO audit_events (org, seq, at, kind, worker, action, resource, customer, area, decision, rules, address, channel, prev_hash, hash) VALUES ('naive', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)")
            .bind(seq)
            .bind(e.at.timestamp_micros())
            .bind(e.kind.as_str())
            .bind(e.worker.clone())
            .bind(e.action.clone())
            .bind(e.resource.clone())
            .bind(e.customer.clone())
            .bind(e.area.clone())
            .bind(e.decision.map(|d| d.as_str()))
            .bind(e.rules.join(","))
            .bind(e.address.clone())
            .bind(e.channel.clone())
            .bind(head.clone())
            .bind(hash.clone())
            .execute(&mut *tx)
            .await
            .expect("insert");
        tx.commit().await.expect("commit");
        head = hash;
    }
    t.elapsed()
}

fn rate(n: u64, d: Duration) -> String {
    format!(
        "{:>10.0}/s  ({n} in {:.2} s)",
        n as f64 / d.as_secs_f64(),
        d.as_secs_f64()
    )
}

async fn writers(backend: Backend) {
    let name = format!("{backend:?}");
    let Some((store, url, _guard)) = store(backend).await else {
        println!(
            "{name}: skipped (set {} to run)",
            custodia_engine::testkit::PG_URL_VAR
        );
        return;
    };
    let appends = env("AUDIT_BENCH_APPEND", 200_000) as u64;
    let d = group_commit(&store, appends, 256, None).await;
    println!(
        "{name:<8} group commit, 256 callers, durable ack : {}",
        rate(appends, d)
    );
    let naive_n = if backend == Backend::Sqlite {
        2_000
    } else {
        5_000
    };
    let d = naive(&url, naive_n).await;
    println!(
        "{name:<8} naive, one transaction per event        : {}",
        rate(naive_n, d)
    );
}

async fn verify_and_breach() {
    let Some((store, _url, _guard)) = store(Backend::Sqlite).await else {
        return;
    };
    let n = env("AUDIT_BENCH_VERIFY", 1_000_000) as u64;
    let breach_n = env("AUDIT_BENCH_BREACH", 10_000_000) as u64;
    let total = n.max(breach_n);
    let dir = tempfile::tempdir().expect("dir");
    let signer = Arc::new(Signer::create(&dir.path().join("key")).expect("key"));
    // Fill to `n`, verify, then fill on to `breach_n` and scope a breach.
    let d = group_commit(&store, n, 256, Some(signer.clone())).await;
    println!(
        "SQLite   filled {n} events (signed checkpoints)   : {}",
        rate(n, d)
    );
    let t = Instant::now();
    let report = store
        .verify_audit(&org(), Some(&signer.verifying_key()), None, |_| {})
        .await
        .expect("verify");
    let d = t.elapsed();
    assert!(report.ok(), "{report:?}");
    println!(
        "SQLite   audit verify of {} events               : {:.2} s ({} checkpoints)",
        report.events,
        d.as_secs_f64(),
        report.checkpoints_checked
    );
    if breach_n > n {
        // Continue the same chain up to breach_n events.
        let log = AuditLog::spawn(store.clone(), None, AuditConfig::default());
        let t = Instant::now();
        let clients = 256;
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut i = n + c;
                    while i < total {
                        log.append(&org(), event(i, total)).await.expect("append");
                        i += clients;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
        log.shutdown().await.expect("shutdown");
        println!(
            "SQLite   filled on to {total} events               : {}",
            rate(total - n, t.elapsed())
        );
    }
    let from = start() + chrono::Duration::days(200);
    let q = BreachQuery {
        worker: Some("w7".into()),
        customer: None,
        address: None,
        from,
        to: from + chrono::Duration::days(7),
    };
    let mut times = Vec::new();
    let mut scope = None;
    for _ in 0..5 {
        let t = Instant::now();
        scope = Some(store.breach_scope(&org(), &q).await.expect("breach"));
        times.push(t.elapsed());
    }
    times.sort();
    let scope = scope.expect("ran");
    println!(
        "SQLite   breach scope, 1 worker x 7 days of {total} events: median {:.1} ms ({} customers, {} accesses)",
        times[2].as_secs_f64() * 1000.0,
        scope.customers.len(),
        scope.allowed_accesses
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // and would take minutes: only run on an explicit bench invocation.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            writers(backend).await;
        }
        verify_and_breach().await;
    });
}
