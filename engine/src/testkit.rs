//! Helpers for tests that need a real database, and the benchmarks'
//! synthetic data. Not part of the API: only built with the `testkit`
//! feature, which only tests and benchmarks turn on.

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use sqlx::Connection;

use crate::OrgSlug;
use crate::audit::{AuditConfig, AuditEvent, AuditLog, EventKind, Signer};
use crate::exchange::OrgFile;
use crate::rules::{Action, Context, Effect, Request, ResourceRef};
use crate::store::{Backend, Store};

/// The environment variable naming the PostgreSQL server tests use.
/// `./test.sh` starts a throwaway cluster and sets it.
pub const PG_URL_VAR: &str = "CUSTODIA_TEST_PG_URL";

/// Events per page read while verifying a chain: tests put breaks at
/// page boundaries.
pub const AUDIT_PAGE: usize = crate::audit::stream::PAGE;

/// The statements that bring an org's lookup entries up to a sequence on
/// SQLite, each on (`$1` org, `$2` sequence), as the writer runs them: for
/// benches that do the writer's work without it.
pub fn lookup_catch_up() -> &'static [String] {
    &crate::audit::lookup::CATCH_UP_TO
}

/// A fresh, empty database URL for `backend`: a temporary SQLite file (kept
/// alive by the returned guard) or a new PostgreSQL database.
///
/// # Panics
/// When PostgreSQL is asked for and [`PG_URL_VAR`] is not set: such tests
/// must fail, not pass silently, outside `./test.sh`.
pub async fn scratch_database(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let url = format!("sqlite://{}", dir.path().join("custodia.db").display());
            (url, Some(dir))
        }
        Backend::Postgres => (scratch_postgres().await, None),
    }
}

async fn scratch_postgres() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let base = std::env::var(PG_URL_VAR).unwrap_or_else(|_| {
        panic!("{PG_URL_VAR} is not set: run ./test.sh, which starts PostgreSQL")
    });
    let name = format!(
        "custodia_t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .expect("connect to the test PostgreSQL server");
    sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create a scratch database");
    let (prefix, _) = base
        .rsplit_once('/')
        .expect("PostgreSQL URL has a database path");
    format!("{prefix}/{name}")
}

/// A benchmark's size from the environment variable `name`, or `default`.
pub fn size_from_env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The repository's root, where `plugins/` lives.
pub fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The path of a demo file under `plugins/demo`.
pub fn demo_path(file: &str) -> std::path::PathBuf {
    repo_root().join("plugins/demo").join(file)
}

/// A demo organisation file under `plugins/demo`.
pub fn demo_org(file: &str) -> OrgFile {
    OrgFile::read(&demo_path(file)).expect("demo file parses")
}

/// Every customer record, area and document of `org`.
pub fn records_of(org: &OrgFile) -> Vec<ResourceRef> {
    let mut records = Vec::new();
    for c in &org.customers {
        records.push(ResourceRef::Customer(c.id.clone()));
        let areas = c
            .areas
            .iter()
            .map(|a| ResourceRef::Area(c.id.clone(), a.name.clone()));
        records.extend(areas);
    }
    records.extend(
        org.documents
            .iter()
            .map(|d| ResourceRef::Document(d.id.clone())),
    );
    records
}

/// Every request `org`'s workers can make: each action on each of
/// `resources`, from the office, at each of `times`.
pub fn every_request(
    org: &OrgFile,
    resources: &[ResourceRef],
    times: &[DateTime<Utc>],
) -> Vec<Request> {
    let mut requests = Vec::new();
    for &time in times {
        for worker in &org.workers {
            for action in Action::ALL {
                for resource in resources {
                    requests.push(Request {
                        worker: worker.login.clone(),
                        action,
                        resource: resource.clone(),
                        context: Context::new(time, "office"),
                    });
                }
            }
        }
    }
    requests
}

/// The start of the benchmarks' synthetic history.
pub fn history_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .expect("valid time")
}

/// Event `i` of a year-long, 50-worker, 100,000-customer history of `n`
/// events, for benchmarks.
pub fn history_event(i: u64, n: u64) -> AuditEvent {
    let span = 365 * 24 * 3600 * 1_000_000_i64;
    let at = history_start()
        + chrono::Duration::microseconds(
            span / i64::try_from(n).unwrap_or(1) * i64::try_from(i).unwrap_or(0),
        );
    let kind = if i % 50 == 7 {
        EventKind::Export
    } else {
        EventKind::Decision
    };
    let mut e = AuditEvent::new(kind, at);
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

/// Writes `events` to `org`'s chain keeping their own times (the writer
/// would stamp its clock), in batches, signing a checkpoint every
/// `checkpoint_every` events with `signer` when given: a synthetic history
/// for tests of time windows, retention and tampering. Returns the
/// checkpoints signed, for a witness.
pub async fn write_history(
    store: &Store,
    org: &OrgSlug,
    events: Vec<AuditEvent>,
    signer: Option<&Signer>,
    checkpoint_every: usize,
) -> crate::Result<Vec<crate::audit::Checkpoint>> {
    use crate::audit::chain::Stamp;
    use crate::audit::writer::{append_locked, write_checkpoint};
    let mut signed = Vec::new();
    for chunk in events.chunks(checkpoint_every.max(1)) {
        let mut chunk = chunk.to_vec();
        let mut tx = store.begin_write().await?;
        append_locked(
            &mut tx,
            store.backend(),
            org.as_str(),
            &mut chunk,
            Stamp::Keep,
        )
        .await?;
        if let Some(signer) = signer {
            let checkpoint = write_checkpoint(&mut tx, store.backend(), signer, org.as_str())
                .await?
                .map_err(crate::Error::Audit)?;
            signed.extend(checkpoint);
        }
        tx.commit().await?;
    }
    Ok(signed)
}

/// Appends the `n` events of [`history_event`] to `org`'s chain from
/// `clients` concurrent callers, each waiting for durability, through the
/// group-commit writer set up with `signer` and `config`; returns how long
/// it took.
pub async fn append_history(
    store: &Store,
    org: &OrgSlug,
    n: u64,
    clients: u64,
    signer: Option<Arc<Signer>>,
    config: AuditConfig,
) -> Duration {
    let log = AuditLog::spawn(store.clone(), signer, config);
    let t = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (log, org) = (log.clone(), org.clone());
            tokio::spawn(async move {
                let mut i = c;
                while i < n {
                    log.append(&org, history_event(i, n)).await.expect("append");
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

/// A witness's cosignature line added to `note`, as a witness outside the
/// firm would return it, written from the C2SP tlog-cosignature text:
/// `— name base64(key ID || u64 time || signature)`, the signature over
/// `cosignature/v1\ntime T\n` and the note body, the key ID
/// `SHA-256(name || 0x0A || 0x04 || key)[:4]`. Independent of
/// [`crate::audit::Cosigner`], which checks it.
pub fn cosign(note: &str, name: &str, key: &ed25519_dalek::SigningKey, at: u64) -> String {
    use base64::Engine as _;
    use ed25519_dalek::Signer as _;
    use sha2::Digest as _;
    let body = format!("{}\n", note.split_once("\n\n").expect("a signed note").0);
    let signature = key.sign(format!("cosignature/v1\ntime {at}\n{body}").as_bytes());
    let mut id = name.as_bytes().to_vec();
    id.extend([0x0A, 0x04]);
    id.extend(key.verifying_key().to_bytes());
    let mut blob = sha2::Sha256::digest(&id)[..4].to_vec();
    blob.extend(at.to_be_bytes());
    blob.extend(signature.to_bytes());
    let blob = base64::engine::general_purpose::STANDARD.encode(blob);
    format!("{note}\u{2014} {name} {blob}\n")
}
