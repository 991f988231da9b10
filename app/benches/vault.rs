//! The vault's costs, measured through the core on a real SQLite store:
//! `cargo bench -p custodia-app --bench vault`.
//!
//! - an area read (`read_area`: the decision with its audit event, the
//!   data key unwrapped, the area opened), one at a time and 32 at once,
//!   and the same read up to its audit event's enqueue (the issue's
//!   measure: decision + decrypt + enqueue, before the commit's fsync),
//!   one at a time and back to back (the next read starting while the
//!   last one's commit runs, as on a busy server);
//! - the parts of it alone: opening one sealed area, and one decision;
//! - document sealing throughput on one core, next to the raw cipher
//!   (XChaCha20-Poly1305 in place, no copies) on the same buffers;
//! - backup and backup check of a synthetic firm.
//!
//! Sizes: `VAULT_CUSTOMERS` (default 20,000), `VAULT_READS` (2,000).

#![allow(clippy::expect_used, clippy::panic, reason = "benchmarks fail loudly")]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use custodia_app::{Custodia, PendingArea, Reader};
use custodia_engine::exchange::OrgFile;
use custodia_engine::rules::{Action, Context, Request, ResourceRef};
use custodia_engine::vault::{Key, Slot};
use custodia_engine::{AreaContent, AreaName, CustomerId, FieldValue, OrgSlug};

mod common;

use common::{demo_firm, open_core, percentile, run_on_tokio, size};

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{what:<44} p50 {:>9.1} µs   p99 {:>9.1} µs   n {}",
        percentile(&times, 0.50).as_secs_f64() * 1e6,
        percentile(&times, 0.99).as_secs_f64() * 1e6,
        times.len()
    );
}

/// The demo's law firm with `n` more customers, each with a tax id, a
/// phone, an address and every area filled.
fn firm(n: usize) -> OrgFile {
    let mut file = demo_firm(n, fill);
    let demo = file.customers.len() - n;
    for customer in &mut file.customers[..demo] {
        fill(customer, 0);
    }
    file
}

fn fill(c: &mut custodia_engine::Customer, i: usize) {
    c.tax_id = Some(format!("{:08}Z", i));
    c.phone = Some(format!("+34 6{:08}", i));
    c.address = Some(format!("Calle Mayor {i}, 28013 Madrid"));
    for area in &mut c.areas {
        let mut fields = BTreeMap::new();
        if area.name.as_str() == "personal" {
            fields.insert("marital_status".into(), FieldValue::Text("divorced".into()));
            fields.insert("children".into(), FieldValue::Number(2));
            fields.insert(
                "date_of_birth".into(),
                FieldValue::Text("1980-04-02".into()),
            );
        }
        area.content = Some(AreaContent {
            fields,
            notes: Some(format!("Nota {i}: revisar en la próxima cita.")),
        });
    }
}

fn main() {
    run_on_tokio(run());
}

/// One worker's read of one area, the measure.
struct AreaRead<'a> {
    app: &'a Custodia,
    org: &'a OrgSlug,
    reader: &'a Reader,
    customer: &'a CustomerId,
    area: &'a AreaName,
}

impl AreaRead<'_> {
    /// The read up to its audit event's enqueue, and how long that took.
    async fn to_enqueue(&self) -> (Duration, PendingArea) {
        let t = Instant::now();
        let pending = self
            .app
            .read_area_enqueued(self.org, self.reader, self.customer, self.area)
            .await
            .expect("read");
        (t.elapsed(), pending)
    }
}

async fn run() {
    let customers = size("VAULT_CUSTOMERS", 20_000);
    let reads = size("VAULT_READS", 2_000);
    let dir = tempfile::tempdir().expect("dir");
    let app = open_core(dir.path()).await;
    let file = firm(customers);
    let org: OrgSlug = file.organisation.slug.clone();
    let started = Instant::now();
    app.add_synthetic(&file, 200_000, 0).await.expect("import");
    println!(
        "store: {} customers with sealed identities and areas, 200,000 audit events ({:.1} s)",
        file.customers.len(),
        started.elapsed().as_secs_f64()
    );

    let reader = Reader {
        worker: "ana".parse().expect("login"),
        context: Context::new(chrono::Utc::now(), "bench"),
    };
    let customer: CustomerId = "C-1001".parse().expect("id");
    let area: AreaName = "personal".parse().expect("area");

    // Warm-up, then one read at a time: each waits for its own commit.
    for _ in 0..50 {
        app.read_area(&org, &reader, &customer, &area)
            .await
            .expect("read");
    }
    let mut times = Vec::with_capacity(reads);
    for _ in 0..reads {
        let t = Instant::now();
        let view = app
            .read_area(&org, &reader, &customer, &area)
            .await
            .expect("read");
        times.push(t.elapsed());
        assert!(view.is_open());
    }
    report("area read, one at a time (durable audit)", times);

    // The measure: decision + decrypt + audit enqueue, on the same
    // path (`read_area` is this, then the wait for the event's commit).
    let read = AreaRead {
        app: &app,
        org: &org,
        reader: &reader,
        customer: &customer,
        area: &area,
    };
    let mut times = Vec::with_capacity(reads);
    for _ in 0..reads {
        let (took, pending) = read.to_enqueue().await;
        times.push(took);
        assert!(pending.wait().await.expect("durable").is_open());
    }
    report("area read to its audit enqueue", times);

    // The same, on a busy server: each read's wait for its commit goes to a
    // task of its own, so the next read starts at once instead of after an
    // idle CPU wakes up again; the writer commits meanwhile on the other
    // core.
    let mut times = Vec::with_capacity(reads);
    let mut waits = tokio::task::JoinSet::new();
    for _ in 0..reads {
        let (took, pending) = read.to_enqueue().await;
        times.push(took);
        waits.spawn(async move { assert!(pending.wait().await.expect("durable").is_open()) });
        // At most 8 reads in flight, as from a few busy clients.
        while waits.len() >= 8 {
            if let Some(done) = waits.join_next().await {
                done.expect("wait");
            }
        }
    }
    waits.join_all().await;
    report("area read to its audit enqueue, back to back", times);

    // 32 readers at once: the audit writer commits them in batches.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (app, org, reader, customer, area) = (
            app.clone(),
            org.clone(),
            reader.clone(),
            customer.clone(),
            area.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            for _ in 0..reads / 32 {
                let t = Instant::now();
                app.read_area(&org, &reader, &customer, &area)
                    .await
                    .expect("read");
                times.push(t.elapsed());
            }
            times
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("task"));
    }
    let total = all.len();
    report("area read, 32 at once (durable audit)", all);
    println!(
        "{:<44} {:>9.0} reads/s",
        "  throughput at 32",
        total as f64 / started.elapsed().as_secs_f64()
    );

    // The parts: opening the sealed area alone, and the decision alone.
    let scope = app.store().org(&org).await.expect("org");
    let record = scope.customer(&customer).await.expect("customer");
    let mut times = Vec::with_capacity(reads);
    for _ in 0..reads {
        let mut r = record.clone();
        let t = Instant::now();
        scope
            .unseal(&mut r, &[Slot::Area(area.clone())])
            .await
            .expect("unseal");
        times.push(t.elapsed());
    }
    report("unseal one area (key rows + decrypt)", times);
    let request = Request {
        worker: reader.worker.clone(),
        action: Action::View,
        resource: ResourceRef::Area(customer.clone(), area.clone()),
        context: reader.context.clone(),
    };
    let timings = app
        .time_decisions(&org, &request, reads)
        .await
        .expect("timings");
    println!(
        "{:<44} p50 {:>9.1} µs   p99 {:>9.1} µs   (facts in hand, no audit)",
        "decision alone (rules)", timings.p50_us, timings.p99_us
    );

    // Sealing documents on one core, next to the raw cipher.
    for mib in [1usize, 16] {
        let data = vec![0x5Au8; mib << 20];
        let key = Key::random();
        let rounds = (64 / mib).max(2);
        let t = Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(key.seal(&data, b"custodia/vault/item\0org\0C-1\0document/D"));
        }
        let ours = (rounds * mib) as f64 / t.elapsed().as_secs_f64();
        let cipher = XChaCha20Poly1305::new(key.bytes().into());
        let mut buffer = data.clone();
        let nonce = XNonce::from_slice(&[7u8; 24]);
        let t = Instant::now();
        for _ in 0..rounds {
            let tag = cipher
                .encrypt_in_place_detached(nonce, b"aad", &mut buffer)
                .expect("encrypt");
            std::hint::black_box(tag);
        }
        let raw = (rounds * mib) as f64 / t.elapsed().as_secs_f64();
        println!(
            "{:<44} {ours:>7.0} MiB/s   raw cipher {raw:>7.0} MiB/s   ({:.0}%)",
            format!("seal a {mib} MiB document (one core)"),
            100.0 * ours / raw
        );
    }

    // Backup and check of the whole store.
    let backup = dir.path().join("bench.cbk");
    let summary = app.backup(&backup).await.expect("backup");
    println!(
        "{:<44} {:>7.1} s   ({} rows, {:.1} MiB)",
        "backup",
        summary.seconds,
        summary.rows,
        summary.bytes as f64 / (1 << 20) as f64
    );
    let check = app.check_backup(&backup).await.expect("check");
    assert!(check.ok, "{:?}", check.reason);
    println!(
        "{:<44} {:>7.1} s   ({} audit events verified, {} records opened)",
        "backup check (restore, verify, open, count)",
        check.seconds,
        check.audit_events_verified,
        check.records_opened
    );
    app.close().await.expect("close");
}
