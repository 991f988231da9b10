//! The audit log: group commit, and tampering done directly in the
//! database, found by `verify` on both backends.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use std::collections::BTreeMap;

use custodia_engine::audit::{
    AuditConfig, AuditEvent, AuditLog, AuditQuery, BreachQuery, BreakKind, ChainedEvent, Change,
    Checkpoint, Cosigner, EventKind, Frontier, LOOKUP_EVERY, Signer, Witness, Witnessed,
    chain_hash, merkle,
};
use custodia_engine::rules::Effect;
use custodia_engine::testkit::{AUDIT_PAGE, cosign, write_history};
use custodia_engine::{OrgSlug, Store};
use sqlx::AnyPool;

use crate::on_both_backends;

const EVENTS: i64 = 40;

fn org() -> OrgSlug {
    OrgSlug::new("bufete-ruiz").expect("slug")
}

fn event(i: i64) -> AuditEvent {
    let at = Utc
        .with_ymd_and_hms(2026, 11, 1, 9, 0, 0)
        .single()
        .expect("time")
        + Duration::minutes(i);
    let mut e = AuditEvent::new(
        if i % 10 == 3 {
            EventKind::Export
        } else {
            EventKind::Decision
        },
        at,
    );
    e.worker = Some(if i % 2 == 0 { "ana" } else { "luis" }.into());
    e.action = Some(if i % 10 == 3 { "export" } else { "view" }.into());
    e.customer = Some(format!("C-{}", 1000 + i % 7));
    e.resource = Some(format!("customer:C-{}", 1000 + i % 7));
    e.area = (i % 3 == 0).then(|| "personal".to_owned());
    e.decision = Some(if i % 5 == 4 {
        Effect::Deny
    } else {
        Effect::Allow
    });
    e.rules = vec!["legal/lawyer-in-charge".into()];
    e.address = Some("10.0.0.7".into());
    e
}

/// A store with a signed chain of `EVENTS` events, and its signer.
async fn chain(store: &Store) -> (Arc<Signer>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let signer = Arc::new(Signer::create(&dir.path().join("key")).expect("key"));
    // A history with its own times (the writer would stamp its clock):
    // event i at seq i and minute i, a checkpoint every 10 events.
    let events = (1..=EVENTS).map(event).collect();
    write_history(store, &org(), events, Some(&signer), 10)
        .await
        .expect("history");
    (signer, dir)
}

async fn raw(store: &Store) -> AnyPool {
    // The same database, opened behind Custodia's back, as an attacker would.
    let url = crate::url_of(store);
    AnyPool::connect(&url).await.expect("raw connection")
}

async fn verify(store: &Store, signer: &Signer) -> Option<(BreakKind, i64)> {
    let report = store
        .verify_audit(&org(), Some(&signer.verifying_key()), None, |_| {})
        .await
        .expect("verify runs");
    report.broken.map(|b| (b.kind, b.seq))
}

async fn read(store: &Store, seq: i64) -> ChainedEvent {
    let all = store
        .query_audit(&org(), &AuditQuery::default())
        .await
        .expect("query");
    all.into_iter()
        .find(|e| e.seq == seq)
        .expect("event exists")
}

/// Writes `e`'s content and hashes into row `seq`.
async fn overwrite(pool: &AnyPool, seq: i64, e: &ChainedEvent) {
    sqlx::query("UPDATE audit_events SET at = $1, kind = $2, worker = $3, action = $4, resource = $5, customer = $6, area = $7, detail = $8, prev_hash = $9, hash = $10, decision = $12 WHERE org = 'bufete-ruiz' AND seq = $11")
        .bind(e.event.at.timestamp_micros())
        .bind(e.event.kind.as_str())
        .bind(e.event.worker.clone())
        .bind(e.event.action.clone())
        .bind(e.event.resource.clone())
        .bind(e.event.customer.clone())
        .bind(e.event.area.clone())
        .bind(e.event.detail.clone())
        .bind(e.prev_hash.clone())
        .bind(e.hash.clone())
        .bind(seq)
        .bind(e.event.decision.map(|d| d.as_str()))
        .execute(pool)
        .await
        .expect("overwrite");
}

async fn exec(pool: &AnyPool, sql: &str) {
    sqlx::query(sql).execute(pool).await.expect(sql);
}

/// Shifts events from `from` on by `by` (PK-safe in two steps).
async fn renumber(pool: &AnyPool, from: i64, by: i64) {
    exec(pool, &format!("UPDATE audit_events SET seq = -(seq + {by}) WHERE org = 'bufete-ruiz' AND seq >= {from}")).await;
    exec(
        pool,
        "UPDATE audit_events SET seq = -seq WHERE org = 'bufete-ruiz' AND seq < 0",
    )
    .await;
}

on_both_backends! {
    async fn untouched_chain_verifies(store) {
        let (signer, _dir) = chain(&store).await;
        assert_eq!(verify(&store, &signer).await, None);
        let report = store.verify_audit(&org(), Some(&signer.verifying_key()), None, |_| {}).await.expect("verify");
        assert_eq!(report.events, EVENTS);
        assert!(report.checkpoints_checked >= 4, "checkpoints every 10 events: {}", report.checkpoints_checked);
    }

    async fn edited_event_is_found(store) {
        let (signer, _dir) = chain(&store).await;
        exec(&raw(&store).await, "UPDATE audit_events SET worker = 'pablo' WHERE org = 'bufete-ruiz' AND seq = 17").await;
        assert_eq!(verify(&store, &signer).await, Some((BreakKind::Edited, 17)));
    }

    async fn every_stored_column_edited_alone_is_found(store) {
        // Event 14 is a deny (14 % 5 == 4) outside the personal area. The
        // first four are what an attacker would change: the decision, the
        // time, the rules, the detail.
        let edits = [
            "decision = 'allow'",
            "at = at - 3600000000",
            "rules = 'legal/partner-oversight'",
            "rules = NULL",
            "detail = 'routine check'",
            "request_time = 0",
            "kind = 'export'",
            "worker = 'pablo'",
            "action = 'export'",
            "resource = 'customer:C-1001'",
            "customer = 'C-1001'",
            "area = 'personal'",
            "document = 'D-1001-1'",
            "address = '192.0.2.1'",
            "channel = 'api'",
        ];
        for edit in edits {
            let (signer, _dir) = chain(&store).await;
            assert_eq!(read(&store, 14).await.event.decision, Some(Effect::Deny));
            exec(&raw(&store).await, &format!("UPDATE audit_events SET {edit} WHERE org = 'bufete-ruiz' AND seq = 14")).await;
            assert_eq!(verify(&store, &signer).await, Some((BreakKind::Edited, 14)), "{edit}");
            exec(&raw(&store).await, "DELETE FROM audit_events").await;
            exec(&raw(&store).await, "DELETE FROM audit_heads").await;
            exec(&raw(&store).await, "DELETE FROM audit_checkpoints").await;
        }
    }

    async fn deleted_event_is_found(store) {
        let (signer, _dir) = chain(&store).await;
        exec(&raw(&store).await, "DELETE FROM audit_events WHERE org = 'bufete-ruiz' AND seq = 12").await;
        assert_eq!(verify(&store, &signer).await, Some((BreakKind::Deleted, 12)));
    }

    async fn deleted_and_renumbered_event_is_found(store) {
        let (signer, _dir) = chain(&store).await;
        let pool = raw(&store).await;
        exec(&pool, "DELETE FROM audit_events WHERE org = 'bufete-ruiz' AND seq = 12").await;
        renumber(&pool, 13, -1).await;
        assert_eq!(verify(&store, &signer).await, Some((BreakKind::Deleted, 12)));
    }

    async fn inserted_event_is_found(store) {
        let (signer, _dir) = chain(&store).await;
        let pool = raw(&store).await;
        // A forged event at 21 with a correct hash, the rest renumbered.
        let before = read(&store, 20).await;
        let mut forged = read(&store, 21).await;
        forged.event.worker = Some("intruder".into());
        forged.event.detail = Some("forged".into());
        forged.prev_hash = before.hash.clone();
        forged.hash = chain_hash("bufete-ruiz", 21, &forged.event, &before.hash);
        renumber(&pool, 21, 1).await;
        sqlx::query("INSERT INTO audit_events (org, seq, at, kind, worker, action, resource, customer, area, document, decision, rules, address, channel, detail, prev_hash, hash)
                     SELECT org, 21, at, kind, worker, action, resource, customer, area, document, decision, rules, address, channel, detail, prev_hash, hash FROM audit_events WHERE org = 'bufete-ruiz' AND seq = 22")
            .execute(&pool).await.expect("insert copy");
        overwrite(&pool, 21, &forged).await;
        assert_eq!(verify(&store, &signer).await, Some((BreakKind::Inserted, 21)));
    }

    async fn reordered_events_are_found(store) {
        let (signer, _dir) = chain(&store).await;
        let pool = raw(&store).await;
        let (a, b) = (read(&store, 25).await, read(&store, 26).await);
        overwrite(&pool, 25, &b).await;
        overwrite(&pool, 26, &a).await;
        assert_eq!(verify(&store, &signer).await, Some((BreakKind::Reordered, 25)));
    }

    async fn truncated_tail_is_found(store) {
        let (signer, _dir) = chain(&store).await;
        exec(&raw(&store).await, "DELETE FROM audit_events WHERE org = 'bufete-ruiz' AND seq > 33").await;
        assert_eq!(verify(&store, &signer).await, Some((BreakKind::Truncated, 34)));
    }

    async fn chain_rewritten_and_re_signed_with_another_key_is_found(store) {
        let (signer, dir) = chain(&store).await;
        let pool = raw(&store).await;
        // The attacker edits event 5, recomputes every hash after it, fixes
        // the head and re-signs every checkpoint with a key of their own.
        let attacker = Signer::create(&dir.path().join("attacker")).expect("key");
        let mut prev = read(&store, 4).await.hash;
        for seq in 5..=EVENTS {
            let mut e = read(&store, seq).await;
            if seq == 5 {
                e.event.worker = Some("nobody".into());
            }
            e.prev_hash = prev.clone();
            e.hash = chain_hash("bufete-ruiz", seq, &e.event, &prev);
            overwrite(&pool, seq, &e).await;
            prev = e.hash;
        }
        sqlx::query("UPDATE audit_heads SET hash = $1 WHERE org = 'bufete-ruiz'").bind(prev.clone()).execute(&pool).await.expect("head");
        let hashes = store.audit_event_hashes(&org()).await.expect("hashes");
        for (seq, cp) in store.audit_checkpoints(&org()).await.expect("checkpoints") {
            let head = read(&store, seq).await.hash;
            let mut tree = Frontier::default();
            for hash in &hashes[..usize::try_from(seq).expect("seq")] {
                tree.push_event(hash);
            }
            let forged = attacker.sign("bufete-ruiz", &head, &tree, cp.at);
            sqlx::query("UPDATE audit_checkpoints SET head_hash = $1, public_key = $2, signature = $3, root = $4, note = $5, edge = $6 WHERE org = 'bufete-ruiz' AND seq = $7")
                .bind(forged.head_hash).bind(forged.public_key).bind(forged.signature)
                .bind(forged.root).bind(forged.note).bind(tree.encode()).bind(seq)
                .execute(&pool).await.expect("re-sign");
        }
        let found = verify(&store, &signer).await.expect("break found");
        assert_eq!(found.0, BreakKind::BadSignature);
        // Verifying with the attacker's key would pass: the trusted key is what matters.
        let with_attacker = store.verify_audit(&org(), Some(&attacker.verifying_key()), None, |_| {}).await.expect("verify");
        assert!(with_attacker.ok());
    }

    async fn breach_scope_names_the_customers_touched(store) {
        let (_signer, _dir) = chain(&store).await;
        let from = Utc.with_ymd_and_hms(2026, 11, 1, 9, 10, 0).single().expect("time");
        let q = BreachQuery { worker: Some("luis".into()), customer: None, address: None, from, to: from + Duration::minutes(20) };
        let scope = store.breach_scope(&org(), &q).await.expect("scope");
        // luis made the odd events; minutes 10..30 hold 11, 13, ... 29.
        let expected: std::collections::BTreeSet<String> = (10..30)
            .filter(|i| i % 2 == 1 && i % 5 != 4)
            .map(|i| format!("C-{}", 1000 + i % 7))
            .collect();
        let got: std::collections::BTreeSet<String> = scope.customers.iter().map(|c| c.customer.clone()).collect();
        assert_eq!(got, expected);
        assert_eq!(scope.denied_attempts, (10..30).filter(|i| i % 2 == 1 && i % 5 == 4).count() as i64);
        let exported: Vec<_> = scope.customers.iter().filter(|c| c.exfiltrated).map(|c| c.customer.clone()).collect();
        assert_eq!(exported, vec!["C-1002".to_string(), "C-1006".to_string()]);
    }

    async fn pruning_keeps_the_chain_verifiable_from_a_signed_checkpoint(store) {
        // Event i is dated 755 - i days ago: events 1..24 are past two years.
        let dir = tempfile::tempdir().expect("dir");
        let signer = Signer::create(&dir.path().join("key")).expect("key");
        let now = Utc::now();
        let events = (1..=EVENTS)
            .map(|i| {
                let mut e = event(i);
                e.at = now - Duration::days(755 - i);
                e
            })
            .collect();
        let signed = write_history(&store, &org(), events, Some(&signer), 10).await.expect("history");
        let witnessed: BTreeMap<i64, Checkpoint> = signed.into_iter().map(|c| (c.seq, c)).collect();
        assert!(store.prune_audit(&org(), 365, now, "test").await.is_err(), "less than two years is refused");
        let before = store.audit_event_hashes(&org()).await.expect("hashes");
        let report = store.prune_audit(&org(), 730, now, "retention period over").await.expect("prune");
        assert_eq!(report.anchor_seq, 20, "the newest checkpoint (every 10) before event 25");
        assert_eq!(report.removed, 20);
        let verified = store
            .verify_audit_witnessed(&org(), Some(&signer.verifying_key()), None, &witnessed, |_| {})
            .await
            .expect("verify");
        assert!(verified.ok(), "{verified:?}");
        assert_eq!(verified.events, EVENTS - 20 + 1, "the rest and the prune event");
        assert_eq!(read(&store, EVENTS + 1).await.event.kind, EventKind::Prune);
        assert_eq!(verified.roots_checked, 2, "the tree goes on from the anchor's edge: 30 and 40");
        // The tree outlives the events it no longer holds: the next
        // checkpoint's root is the root over every event ever written.
        let more = (42..=46).map(|i| { let mut e = event(i); e.at = now; e }).collect();
        let signed = write_history(&store, &org(), more, Some(&signer), 10).await.expect("more");
        let kept = store.query_audit(&org(), &AuditQuery::default()).await.expect("query");
        let mut all = before;
        all.extend(kept.iter().filter(|e| e.seq > EVENTS).map(|e| hash_of(&e.hash)));
        assert_eq!(signed.last().map(|c| (c.seq, c.root.clone())), Some((46, hex::encode(merkle::Tree::of_events(&all).root()))));
        // Tampering after pruning is still found.
        exec(&raw(&store).await, "UPDATE audit_events SET worker = 'x' WHERE org = 'bufete-ruiz' AND seq = 21").await;
        assert_eq!(verify(&store, &signer).await, Some((BreakKind::Edited, 21)));
    }

    async fn a_request_time_in_the_past_cannot_backdate_its_event(store) {
        let log = AuditLog::spawn(store.clone(), None, AuditConfig::default());
        let long_ago = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single().expect("time");
        let mut forged = event(1);
        forged.at = long_ago;
        forged.request_time = Some(long_ago);
        let before = Utc::now();
        log.append(&org(), forged).await.expect("append");
        log.shutdown().await.expect("shutdown");
        let stored = read(&store, 1).await;
        assert!(stored.event.at >= before - Duration::seconds(1), "stamped {}", stored.event.at);
        assert_eq!(stored.event.request_time, Some(long_ago), "the claimed time is kept apart");
        let report = store.verify_audit(&org(), None, None, |_| {}).await.expect("verify");
        assert!(report.ok(), "{report:?}");
    }

    async fn breaks_are_found_where_they_are_across_pages_read_in_parallel(store) {
        // Three pages and a bit: the readers split pages between them.
        let page = i64::try_from(AUDIT_PAGE).expect("fits");
        let n = 3 * page + 5;
        write_history(&store, &org(), (1..=n).map(event).collect(), None, 20_000)
            .await
            .expect("history");
        let report = store.verify_audit(&org(), None, None, |_| {}).await.expect("verify");
        assert_eq!((report.events, report.last_seq, report.broken), (n, n, None));
        let pool = raw(&store).await;
        // The last event of a page and the first of the next, each alone.
        for seq in [page, page + 1, 2 * page] {
            let original = read(&store, seq).await;
            let mut edited = original.clone();
            edited.event.worker = Some("mallory".into());
            overwrite(&pool, seq, &edited).await;
            let report = store.verify_audit(&org(), None, None, |_| {}).await.expect("verify");
            let broken = report.broken.map(|b| (b.kind, b.seq));
            assert_eq!(broken, Some((BreakKind::Edited, seq)), "edited {seq}");
            overwrite(&pool, seq, &original).await;
        }
        // A whole page gone: the walk meets an empty page and goes on.
        exec(&pool, &format!("DELETE FROM audit_events WHERE org = 'bufete-ruiz' AND seq > {page} AND seq <= {}", 2 * page)).await;
        let report = store.verify_audit(&org(), None, None, |_| {}).await.expect("verify");
        let broken = report.broken.expect("a deleted page breaks the chain");
        assert_eq!((broken.kind, broken.seq), (BreakKind::Deleted, page + 1));
        assert_eq!(broken.detail, format!("events {} to {} are missing", page + 1, 2 * page));
    }

    async fn concurrent_appends_form_one_gapless_chain(store) {
        let log = AuditLog::spawn(store.clone(), None, AuditConfig::default());
        let mut handles = Vec::new();
        for t in 0..8 {
            let log = log.clone();
            handles.push(tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..50 {
                    seqs.push(log.append(&org(), event(t * 100 + i)).await.expect("append").seq);
                }
                seqs
            }));
        }
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await.expect("task"));
        }
        log.shutdown().await.expect("shutdown");
        all.sort_unstable();
        assert_eq!(all, (1..=400).collect::<Vec<i64>>());
        let report = store.verify_audit(&org(), None, None, |_| {}).await.expect("verify");
        assert!(report.ok(), "{report:?}");
    }
}

async fn scalar(pool: &AnyPool, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(pool).await.expect(sql);
    n
}

on_both_backends! {
    async fn lookups_by_customer_and_worker_find_every_event_indexed_or_not_yet(store) {
        // Past one span through the writer's batches, then two changes
        // per customer through the pool: on SQLite the entries cover the
        // span, and every customer and worker has events after the mark,
        // which a lookup reads too; PostgreSQL keeps them in indexes of
        // the table.
        let log = AuditLog::spawn(store.clone(), None, AuditConfig::default());
        let (callers, each) = (256_i64, LOOKUP_EVERY / 256 + 2);
        let appends: Vec<_> = (0..callers)
            .map(|c| {
                let log = log.clone();
                tokio::spawn(async move {
                    for i in 0..each {
                        log.append(&org(), event(c * each + i)).await.expect("append");
                    }
                })
            })
            .collect();
        for task in appends {
            task.await.expect("caller");
        }
        log.shutdown().await.expect("shutdown");
        for i in 0..14 {
            let mut change = Change::begin(&store, &org()).await.expect("begin");
            change.record(event(i));
            change.commit().await.expect("change");
        }
        let total = callers * each + 14;
        let pool = raw(&store).await;
        // On PostgreSQL nothing is kept apart: every event counts as after
        // the mark.
        let mut indexed = 0;
        if store.backend() == custodia_engine::Backend::Sqlite {
            indexed = scalar(&pool, "SELECT seq FROM audit_lookups_indexed WHERE org = 'bufete-ruiz'").await;
            assert!(indexed >= LOOKUP_EVERY && indexed < total, "the entries stop inside the chain: {indexed} of {total}");
        }
        // Events from the middle of the chain on: a window narrows the
        // entries read and the events after the mark alike.
        let middle = scalar(&pool, &format!("SELECT at FROM audit_events WHERE seq = {}", total / 2)).await;
        let since = chrono::DateTime::from_timestamp_micros(middle).expect("time");
        let customers = (0..7).map(|k| format!("C-{}", 1000 + k));
        let lookups = [("customer", "audit_customers", customers.collect::<Vec<_>>()), ("worker", "audit_workers", vec!["ana".into(), "luis".into()])];
        let now = Utc::now();
        for (column, table, values) in lookups {
            assert_eq!(
                scalar(&pool, &format!("SELECT COUNT(*) FROM {table}")).await,
                scalar(&pool, &format!("SELECT COUNT(*) FROM audit_events WHERE {column} IS NOT NULL AND seq <= {indexed}")).await,
                "every event up to the mark has its {column} entry, none after it"
            );
            for value in values {
                let count = |clause: &str| format!("SELECT COUNT(*) FROM audit_events WHERE {column} = '{value}'{clause}");
                let stored = scalar(&pool, &count("")).await;
                let after = scalar(&pool, &count(&format!(" AND seq > {indexed}"))).await;
                // On SQLite some come before the mark too, so both the
                // entries and the events after the mark are read.
                let before_too = indexed == 0 || after < stored;
                assert!(after > 0 && before_too, "{value}: {after} of {stored} after the mark");
                let mut q = AuditQuery::default();
                let mut b = BreachQuery { worker: None, customer: None, address: None, from: now - Duration::hours(1), to: now + Duration::hours(1) };
                if column == "customer" {
                    (q.customer, b.customer) = (Some(value.clone()), Some(value.clone()));
                } else {
                    (q.worker, b.worker) = (Some(value.clone()), Some(value.clone()));
                }
                let found = store.query_audit(&org(), &q).await.expect("query");
                assert_eq!(found.len() as i64, stored, "{value}: every event, with an entry or not");
                assert!(found.iter().all(|e| [&e.event.customer, &e.event.worker].contains(&&Some(value.clone()))));
                assert!(found.windows(2).all(|w| w[0].seq < w[1].seq), "oldest first, each once");
                let scope = store.breach_scope(&org(), &b).await.expect("scope");
                assert_eq!(scope.allowed_accesses + scope.denied_attempts, stored, "{value}: breach scoping counts them all");
                q.from = Some(since);
                let recent = store.query_audit(&org(), &q).await.expect("window");
                let in_window = scalar(&pool, &count(&format!(" AND at >= {middle}"))).await;
                assert!(in_window > 0 && in_window < stored, "{value}: the window cuts the chain");
                assert_eq!(recent.len() as i64, in_window, "{value}: every event in the window");
            }
        }
    }
}

/// SQLite keeps lookup entries apart from the events (PostgreSQL has
/// none to prune).
#[tokio::test]
async fn pruning_takes_the_lookup_entries_of_what_it_removes() {
    let (store, _guard) = crate::fresh_store(custodia_engine::Backend::Sqlite).await;
    // A span and a bit, events 1..40,000 past two years: a checkpoint
    // every 20,000 events, and the entries brought up when the append of
    // the last chunk crosses 65,536.
    let dir = tempfile::tempdir().expect("dir");
    let signer = Signer::create(&dir.path().join("key")).expect("key");
    let now = Utc::now();
    let n = LOOKUP_EVERY + 10;
    let events = (1..=n)
        .map(|i| {
            let mut e = event(i);
            e.at = now - Duration::days(if i <= 40_000 { 800 } else { 10 });
            e
        })
        .collect();
    write_history(&store, &org(), events, Some(&signer), 20_000)
        .await
        .expect("history");
    let pool = raw(&store).await;
    let mark = "SELECT seq FROM audit_lookups_indexed WHERE org = 'bufete-ruiz'";
    assert_eq!(
        scalar(&pool, mark).await,
        n,
        "the last chunk crossed the span"
    );
    let tables = ["audit_customers", "audit_workers"];
    for table in tables {
        let entries = format!("SELECT COUNT(*) FROM {table}");
        assert_eq!(scalar(&pool, &entries).await, n, "{table}");
    }
    let report = store
        .prune_audit(&org(), 730, now, "retention period over")
        .await
        .expect("prune");
    assert_eq!(report.anchor_seq, 40_000);
    for table in tables {
        let pruned = format!("SELECT COUNT(*) FROM {table} WHERE seq <= 40000");
        assert_eq!(
            scalar(&pool, &pruned).await,
            0,
            "no {table} entry outlives its event"
        );
        let entries = format!("SELECT COUNT(*) FROM {table}");
        assert_eq!(scalar(&pool, &entries).await, n - 40_000, "{table}");
    }
    let q = AuditQuery {
        customer: Some("C-1003".into()),
        worker: Some("ana".into()),
        ..AuditQuery::default()
    };
    let found = store.query_audit(&org(), &q).await.expect("query");
    let kept = scalar(
        &pool,
        "SELECT COUNT(*) FROM audit_events WHERE customer = 'C-1003' AND worker = 'ana'",
    )
    .await;
    assert!(kept > 0);
    assert_eq!(found.len() as i64, kept);
}

/// A 32-byte hash from its hex.
fn hash_of(hex_hash: &str) -> merkle::Hash {
    merkle::decode_hash(hex_hash).expect("a hash")
}

/// The tree edge of `n` made-up leaves: not any chain's.
fn foreign_tree(n: i64) -> Frontier {
    let mut tree = Frontier::default();
    for i in 0..n {
        tree.push_event(&[i.to_le_bytes()[0]; 32]);
    }
    tree
}

/// Replaces the signed root (and its note) of the checkpoint at `seq` with
/// a made-up tree's, signed by `signer`; returns the checkpoint as it was.
async fn sign_a_foreign_root(store: &Store, signer: &Signer, seq: i64) -> Checkpoint {
    let cp = checkpoint_at(store, seq).await;
    let forged = signer.sign("bufete-ruiz", &cp.head_hash, &foreign_tree(seq), cp.at);
    set_root(store, seq, &forged).await;
    cp
}

/// Writes `cp`'s signature, root and note into the checkpoint row at `seq`.
async fn set_root(store: &Store, seq: i64, cp: &Checkpoint) {
    sqlx::query("UPDATE audit_checkpoints SET signature = $1, root = $2, note = $3 WHERE org = 'bufete-ruiz' AND seq = $4")
        .bind(&cp.signature).bind(&cp.root).bind(&cp.note).bind(seq)
        .execute(&raw(store).await).await.expect("re-sign");
}

on_both_backends! {
    async fn every_checkpoint_signs_the_merkle_root_of_the_events_it_covers(store) {
        let (signer, witness, _dir) = witnessed_chain(&store).await;
        // Then through the writer, signing every 7 events.
        let config = AuditConfig { checkpoint_every: 7, witness: Some(Arc::new(witness.clone())), ..AuditConfig::default() };
        let log = AuditLog::spawn(store.clone(), Some(signer.clone()), config);
        for i in 41..=60 {
            log.append(&org(), event(i)).await.expect("append");
        }
        log.shutdown().await.expect("shutdown");
        let hashes = store.audit_event_hashes(&org()).await.expect("hashes");
        let checkpoints = store.audit_checkpoints(&org()).await.expect("checkpoints");
        assert!(checkpoints.len() >= 6, "{:?}", checkpoints.keys());
        for (&seq, cp) in &checkpoints {
            let size = usize::try_from(seq).expect("seq");
            assert_eq!(cp.root, hex::encode(merkle::Tree::of_events(&hashes[..size]).root()), "root at {seq}");
            let head = merkle::TreeHead::open(&cp.note, merkle::KEY_NAME, &signer.verifying_key()).expect("a signed note");
            assert_eq!((head.origin.as_str(), head.size), ("custodia/audit/bufete-ruiz", size as u64));
        }
        // The witness keeps the notes: the log today is proven to extend
        // the oldest one, checked with the public key alone.
        let read = Witnessed::read(&[witness.file().to_owned()], &signer.verifying_key()).expect("witness");
        let oldest = read.checkpoints["bufete-ruiz"].values().next().expect("a witnessed checkpoint");
        assert_eq!(oldest.seq, 10);
        let proof = merkle::prove_consistency("bufete-ruiz", &hashes, &oldest.note, &signer).expect("proof");
        proof.check(&signer.verifying_key()).expect("the proof checks");
        let report = store.verify_audit(&org(), Some(&signer.verifying_key()), None, |_| {}).await.expect("verify");
        assert!(report.ok(), "{report:?}");
        assert_eq!(report.roots_checked, checkpoints.len());
    }

    async fn a_stored_tree_edge_that_is_not_the_signed_trees_stops_the_writer(store) {
        let (signer, witness, _dir) = witnessed_chain(&store).await;
        // The right length for 40 leaves, but not this chain's leaves.
        exec(&raw(&store).await, &format!("UPDATE audit_checkpoints SET edge = '{}' WHERE org = 'bufete-ruiz' AND seq = 40", foreign_tree(40).encode())).await;
        let config = AuditConfig { witness: Some(Arc::new(witness.clone())), ..AuditConfig::default() };
        let log = AuditLog::spawn(store.clone(), Some(signer), config);
        log.append(&org(), event(41)).await.expect("an append before the checkpoint");
        let err = log.checkpoint().await.expect_err("no root is signed from a forged edge");
        assert!(err.to_string().contains("edge stored at 40 does not match its signed root"), "{err}");
        assert!(log.append(&org(), event(42)).await.is_err(), "fail closed");
        assert_eq!(store.audit_checkpoints(&org()).await.expect("checkpoints").keys().next_back(), Some(&40));
    }

    async fn a_signed_root_that_is_not_the_root_of_its_events_is_caught(store) {
        // Only the key's holder could sign one: the check is what is tested.
        let (signer, _dir) = chain(&store).await;
        sign_a_foreign_root(&store, &signer, 20).await;
        assert_eq!(verify(&store, &signer).await, Some((BreakKind::TreeRoot, 20)));
    }

    async fn signed_roots_are_checked_in_every_page_whether_its_reader_built_its_tree_or_not(store) {
        // Three pages and a bit, signed every 5,000 events.
        let dir = tempfile::tempdir().expect("dir");
        let signer = Signer::create(&dir.path().join("key")).expect("key");
        let page = i64::try_from(AUDIT_PAGE).expect("fits");
        let n = 3 * page + 5;
        write_history(&store, &org(), (1..=n).map(event).collect(), Some(&signer), 5_000).await.expect("history");
        let checkpoints = store.audit_checkpoints(&org()).await.expect("checkpoints");
        assert_eq!(checkpoints.keys().next_back(), Some(&n));
        let key = signer.verifying_key();
        let report = store.verify_audit(&org(), Some(&key), None, |_| {}).await.expect("verify");
        assert!(report.ok(), "{report:?}");
        assert_eq!(report.roots_checked, checkpoints.len());
        // From a checkpoint inside the first page: a leaf at a time up to
        // the page's end, then each page's tree as its reader built it.
        let anchor = checkpoints[&5_000].clone();
        let report = store.verify_audit(&org(), Some(&key), Some(&anchor), |_| {}).await.expect("verify");
        assert!(report.ok(), "{report:?}");
        assert_eq!(report.roots_checked, checkpoints.len() - 1);
        // A wrong root in the first page (from 5,000: grown a leaf at a
        // time), in a page its reader built, and at the head.
        for seq in [10_000, 35_000, n] {
            let original = sign_a_foreign_root(&store, &signer, seq).await;
            assert_eq!(verify(&store, &signer).await, Some((BreakKind::TreeRoot, seq)), "root at {seq}");
            let from_anchor = store.verify_audit(&org(), Some(&key), Some(&anchor), |_| {}).await.expect("verify");
            assert_eq!(from_anchor.broken.map(|b| (b.kind, b.seq)), Some((BreakKind::TreeRoot, seq)), "from 5,000: root at {seq}");
            set_root(&store, seq, &original).await;
        }
    }
}

on_both_backends! {
    async fn a_checkpoint_cosigned_by_a_witness_anchors_verify_without_the_witness_file(store) {
        let (signer, witness, _dir) = witnessed_chain(&store).await;
        let witness_key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let cosigner = Cosigner::new("witness.example/w1", witness_key.verifying_key()).expect("cosigner");
        let key = signer.verifying_key();
        let cp30 = checkpoint_at(&store, 30).await;
        let cosigned = cosign(&cp30.note, "witness.example/w1", &witness_key, 1_800_000_000);
        // Another witness's line, or one over another note, is refused.
        let impostor = cosign(&cp30.note, "witness.example/w1", &ed25519_dalek::SigningKey::from_bytes(&[8; 32]), 1_800_000_000);
        let err = store.add_cosignature(&impostor, &cosigner, &key).await.expect_err("not the witness");
        assert!(err.to_string().contains("no valid cosignature by `witness.example/w1`"), "{err}");
        let foreign = signer.sign("bufete-ruiz", &cp30.head_hash, &foreign_tree(30), cp30.at);
        let err = store.add_cosignature(&cosign(&foreign.note, "witness.example/w1", &witness_key, 1), &cosigner, &key).await.expect_err("not this log's");
        assert!(err.to_string().contains("not a checkpoint this log holds"), "{err}");
        assert_eq!(store.add_cosignature(&cosigned, &cosigner, &key).await.expect("stored"), (org(), 30));
        // The attacker rewrites the chain from 24 and deletes the witness file.
        rewrite_from(&store, 24, |e| e.decision = Some(Effect::Allow)).await;
        std::fs::remove_file(witness.file()).expect("the witness file goes");
        let found = store.cosigned_checkpoints(&org(), std::slice::from_ref(&cosigner), &key).await.expect("cosigned");
        assert_eq!((found.checked, found.invalid.len()), (1, 0));
        assert_eq!(found.checkpoints.keys().copied().collect::<Vec<_>>(), vec![30]);
        let report = store.verify_audit_witnessed(&org(), Some(&key), None, &found.checkpoints, |_| {}).await.expect("verify");
        assert_eq!(report.broken.map(|b| (b.kind, b.seq)), Some((BreakKind::Rewritten, 1)), "nothing before 30 is anchored");
        // A cosignature line edited in the database does not verify.
        exec(&raw(&store).await, "UPDATE audit_cosignatures SET line = replace(line, 'witness.example/w1 ', 'witness.example/w1 A')").await;
        let found = store.cosigned_checkpoints(&org(), &[cosigner], &key).await.expect("cosigned");
        assert!(found.checkpoints.is_empty());
        let bad: Vec<_> = found.invalid.iter().map(|b| (b.kind, b.seq, b.detail.as_str())).collect();
        assert_eq!(bad, vec![(BreakKind::BadCosignature, 30, "the cosignature by `witness.example/w1` on the checkpoint at 30 does not verify")]);
    }
}

/// A signed chain of `EVENTS` events whose checkpoints (every 10) are
/// also in a witness file; the signer, the witness and its folder.
async fn witnessed_chain(store: &Store) -> (Arc<Signer>, Witness, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let signer = Arc::new(Signer::create(&dir.path().join("key")).expect("key"));
    let witness = Witness::new(dir.path().join("witness.jsonl"), None);
    let events = (1..=EVENTS).map(event).collect();
    let signed = write_history(store, &org(), events, Some(&signer), 10)
        .await
        .expect("history");
    witness.record(&signed).expect("witness");
    (signer, witness, dir)
}

/// Verifies against the witness file: the first break, if any.
async fn verify_witnessed(
    store: &Store,
    signer: &Signer,
    witness: &Witness,
) -> Option<(BreakKind, i64)> {
    let read = Witnessed::read(&[witness.file().to_owned()], &signer.verifying_key())
        .expect("read witness");
    let none = BTreeMap::new();
    let report = store
        .verify_audit_witnessed(
            &org(),
            Some(&signer.verifying_key()),
            None,
            read.checkpoints.get("bufete-ruiz").unwrap_or(&none),
            |_| {},
        )
        .await
        .expect("verify runs");
    report.broken.map(|b| (b.kind, b.seq))
}

/// Rewrites events from `from` on as an attacker with the database but
/// not the key would: `edit` applied to event `from`, every later hash
/// recomputed, the head moved, the checkpoints from there deleted.
async fn rewrite_from(store: &Store, from: i64, edit: impl Fn(&mut AuditEvent)) {
    let pool = raw(store).await;
    let mut prev = read(store, from - 1).await.hash;
    for seq in from..=EVENTS {
        let mut e = read(store, seq).await;
        if seq == from {
            edit(&mut e.event);
        }
        e.prev_hash = prev.clone();
        e.hash = chain_hash("bufete-ruiz", seq, &e.event, &prev);
        overwrite(&pool, seq, &e).await;
        prev = e.hash;
    }
    exec(
        &pool,
        &format!("UPDATE audit_heads SET hash = '{prev}' WHERE org = 'bufete-ruiz'"),
    )
    .await;
    exec(
        &pool,
        &format!("DELETE FROM audit_checkpoints WHERE org = 'bufete-ruiz' AND seq >= {from}"),
    )
    .await;
}

on_both_backends! {
    async fn an_untouched_chain_passes_against_its_witness(store) {
        let (signer, witness, _dir) = witnessed_chain(&store).await;
        assert_eq!(verify_witnessed(&store, &signer, &witness).await, None);
    }

    async fn a_truncated_tail_with_head_and_checkpoints_rewritten_to_match_is_caught(store) {
        let (signer, witness, _dir) = witnessed_chain(&store).await;
        let pool = raw(&store).await;
        let last = read(&store, 33).await.hash;
        exec(&pool, "DELETE FROM audit_events WHERE org = 'bufete-ruiz' AND seq > 33").await;
        exec(&pool, "DELETE FROM audit_checkpoints WHERE org = 'bufete-ruiz' AND seq > 33").await;
        exec(&pool, &format!("UPDATE audit_heads SET seq = 33, hash = '{last}' WHERE org = 'bufete-ruiz'")).await;
        assert_eq!(verify(&store, &signer).await, None, "the database alone is fooled");
        assert_eq!(verify_witnessed(&store, &signer, &witness).await, Some((BreakKind::Truncated, 34)));
    }

    async fn a_chain_rewritten_from_a_point_with_every_hash_recomputed_is_caught(store) {
        let (signer, witness, _dir) = witnessed_chain(&store).await;
        assert_eq!(read(&store, 24).await.event.decision, Some(Effect::Deny));
        rewrite_from(&store, 24, |e| e.decision = Some(Effect::Allow)).await;
        assert_eq!(verify(&store, &signer).await, None, "the database alone is fooled");
        // Witnessed at 10, 20, 30, 40: the rewrite lies after 20.
        assert_eq!(verify_witnessed(&store, &signer, &witness).await, Some((BreakKind::Rewritten, 21)));
    }

    async fn an_event_replaced_with_all_later_hashes_fixed_up_is_caught(store) {
        let (signer, witness, _dir) = witnessed_chain(&store).await;
        rewrite_from(&store, 14, |e| e.detail = Some("routine check".into())).await;
        assert_eq!(verify(&store, &signer).await, None, "the database alone is fooled");
        assert_eq!(verify_witnessed(&store, &signer, &witness).await, Some((BreakKind::Rewritten, 11)));
    }

    async fn a_deleted_start_without_a_prune_event_is_caught(store) {
        let (signer, witness, _dir) = witnessed_chain(&store).await;
        exec(&raw(&store).await, "DELETE FROM audit_events WHERE org = 'bufete-ruiz' AND seq <= 20").await;
        assert_eq!(verify_witnessed(&store, &signer, &witness).await, Some((BreakKind::Deleted, 1)));
    }

    async fn a_witnessed_checkpoint_deleted_from_the_database_is_caught(store) {
        let (signer, witness, _dir) = witnessed_chain(&store).await;
        exec(&raw(&store).await, "DELETE FROM audit_checkpoints WHERE org = 'bufete-ruiz' AND seq = 30").await;
        assert_eq!(verify_witnessed(&store, &signer, &witness).await, Some((BreakKind::CheckpointDeleted, 30)));
    }

    async fn a_forged_head_row_is_caught(store) {
        let (signer, witness, _dir) = witnessed_chain(&store).await;
        exec(&raw(&store).await, &format!("UPDATE audit_heads SET hash = '{}' WHERE org = 'bufete-ruiz'", "ab".repeat(32))).await;
        assert_eq!(verify_witnessed(&store, &signer, &witness).await, Some((BreakKind::HeadForged, EVENTS)));
    }

    async fn a_prune_of_events_younger_than_the_retention_period_is_caught(store) {
        let (signer, witness, _dir) = witnessed_chain(&store).await;
        // Events are from 2026-11; a clock set three years ahead lets the
        // prune through, but its event is stamped with the real clock.
        let fake_now = Utc::now() + Duration::days(3 * 365);
        let report = store.prune_audit(&org(), 730, fake_now, "clock set ahead").await.expect("prune");
        assert_eq!(report.anchor_seq, EVENTS);
        assert_eq!(verify_witnessed(&store, &signer, &witness).await, Some((BreakKind::PrunedEarly, EVENTS)));
    }

    async fn a_writer_whose_witness_vanished_refuses_to_start(store) {
        let (signer, witness, _dir) = witnessed_chain(&store).await;
        std::fs::remove_file(witness.file()).expect("the witness goes");
        let config = AuditConfig { witness: Some(Arc::new(witness.clone())), ..AuditConfig::default() };
        let log = AuditLog::spawn(store.clone(), Some(signer), config);
        let err = log.guard().await.expect_err("refused");
        assert!(err.to_string().contains("is missing though the log has 4 signed checkpoints"), "{err}");
        assert!(log.append(&org(), event(41)).await.is_err(), "fail closed");
        assert!(!witness.file().exists(), "no file was made to look like a witness");
    }

    async fn the_writer_refuses_to_sign_a_forged_head_and_audited_actions_then_fail_closed(store) {
        let (signer, witness, _dir) = witnessed_chain(&store).await;
        let config = AuditConfig { witness: Some(Arc::new(witness.clone())), ..AuditConfig::default() };
        let log = AuditLog::spawn(store.clone(), Some(signer.clone()), config.clone());
        log.guard().await.expect("an untouched chain extends its witness");
        log.append(&org(), event(41)).await.expect("appends go on");
        log.shutdown().await.expect("shutdown signs and witnesses");
        // The attacker truncates and forges the head to match.
        let pool = raw(&store).await;
        let last = read(&store, 30).await.hash;
        exec(&pool, "DELETE FROM audit_events WHERE org = 'bufete-ruiz' AND seq > 30").await;
        exec(&pool, "DELETE FROM audit_checkpoints WHERE org = 'bufete-ruiz' AND seq > 30").await;
        exec(&pool, &format!("UPDATE audit_heads SET seq = 30, hash = '{last}' WHERE org = 'bufete-ruiz'")).await;
        let log = AuditLog::spawn(store.clone(), Some(signer.clone()), config);
        let err = log.guard().await.expect_err("a forged head is refused");
        assert!(err.to_string().contains("before the witnessed checkpoint at 41"), "{err}");
        let refused = log.append(&org(), event(42)).await.expect_err("fail closed");
        assert!(refused.to_string().contains("refused"), "{refused}");
        assert!(log.checkpoint().await.is_err(), "nothing is signed");
        let head = scalar(&pool, "SELECT seq FROM audit_heads WHERE org = 'bufete-ruiz'").await;
        assert_eq!(head, 30, "nothing was written");
        let read = Witnessed::read(&[witness.file().to_owned()], &signer.verifying_key()).expect("witness");
        assert_eq!(read.alarms.len(), 1, "the alarm is in the witness");
    }
}

on_both_backends! {
    async fn an_event_of_every_field_and_awkward_text_is_stored_as_it_was_given(store) {
        let mut e = event(1);
        e.document = Some("D-7".into());
        e.address = Some("10.0.0.1".into());
        e.channel = Some("api".into());
        e.detail = Some("it's \"quoted\",\ttabbed\nand split; ñandú ✓ \\N".into());
        e.request_time = Some(e.at - Duration::seconds(3));
        let log = AuditLog::spawn(store.clone(), None, AuditConfig::default());
        let receipt = log.append(&org(), e.clone()).await.expect("append");
        log.shutdown().await.expect("shutdown");
        let stored = read(&store, receipt.seq).await;
        assert_eq!(stored.event.detail, e.detail);
        assert_eq!(stored.event.document, e.document);
        assert_eq!(stored.event.rules, e.rules);
        assert_eq!(
            stored.event.request_time.map(|t| t.timestamp_micros()),
            e.request_time.map(|t| t.timestamp_micros())
        );
        assert_eq!(stored.hash, receipt.hash, "the stored row hashes to its receipt");
        let report = store.verify_audit(&org(), None, None, |_| {}).await.expect("verify");
        assert!(report.ok(), "{report:?}");
    }
}

/// The writer's own PostgreSQL connection, cut by the server (a restart,
/// an administrator): the batch in flight fails and says so, and the next
/// one reconnects and chains on from the last committed event.
#[tokio::test]
async fn a_writer_whose_postgres_connection_is_cut_fails_that_batch_then_reconnects() {
    let (store, _guard) = crate::fresh_store(custodia_engine::Backend::Postgres).await;
    let log = AuditLog::spawn(store.clone(), None, AuditConfig::default());
    assert_eq!(log.append(&org(), event(1)).await.expect("first").seq, 1);
    let pool = raw(&store).await;
    let cut = scalar(
        &pool,
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .await;
    assert!(cut >= 1, "the writer's connection was among those cut");
    let err = log
        .append(&org(), event(2))
        .await
        .expect_err("the batch in flight fails");
    assert!(err.to_string().contains("audit"), "{err}");
    let receipt = log
        .append(&org(), event(3))
        .await
        .expect("the next batch reconnects");
    assert_eq!(
        receipt.seq, 2,
        "the failed event took no place in the chain"
    );
    log.shutdown().await.expect("shutdown");
    let report = store
        .verify_audit(&org(), None, None, |_| {})
        .await
        .expect("verify");
    assert!(report.ok(), "{report:?}");
}

/// Changes commit under the head lock in their own transactions while
/// the writer chains batches ahead on the heads it expects. A change may
/// find a batch in its way, or a batch the head moved: either way every
/// event lands once, in one chain, and no change is refused for it.
#[tokio::test]
async fn changes_and_batches_chained_ahead_all_land_once_in_one_chain() {
    let (store, _guard) = crate::fresh_store(custodia_engine::Backend::Postgres).await;
    let log = AuditLog::spawn(store.clone(), None, AuditConfig::default());
    // Enough callers for the writer's batches to split and overlap.
    let (callers, each, changes) = (512_i64, 8_i64, 24_i64);
    let appends: Vec<_> = (0..callers)
        .map(|c| {
            let log = log.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..each {
                    let receipt = log.append(&org(), event(c * each + i)).await;
                    seqs.push(receipt.expect("append").seq);
                }
                seqs
            })
        })
        .collect();
    let changed = tokio::spawn({
        let store = store.clone();
        async move {
            let mut seqs = Vec::new();
            for i in 0..changes {
                let mut change = Change::begin(&store, &org()).await.expect("begin");
                change.record(event(100_000 + i));
                let receipts = change.commit().await.expect("a change is never refused");
                seqs.extend(receipts.iter().map(|r| r.seq));
                tokio::task::yield_now().await;
            }
            seqs
        }
    });
    let mut seqs = changed.await.expect("changes");
    for task in appends {
        seqs.extend(task.await.expect("caller"));
    }
    log.shutdown().await.expect("shutdown");
    seqs.sort_unstable();
    let total = callers * each + changes;
    assert_eq!(
        seqs,
        (1..=total).collect::<Vec<_>>(),
        "every event once, no gap"
    );
    let report = store
        .verify_audit(&org(), None, None, |_| {})
        .await
        .expect("verify");
    assert!(report.ok() && report.events == total, "{report:?}");
}

/// A writer with a witness, signing a checkpoint every `every` events
/// (on PostgreSQL, while batches are chained ahead).
async fn witnessed_writer(
    store: &Store,
    every: i64,
) -> (AuditLog, Arc<Signer>, Witness, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let signer = Arc::new(Signer::create(&dir.path().join("key")).expect("key"));
    let witness = Witness::new(dir.path().join("witness.jsonl"), None);
    let config = AuditConfig {
        witness: Some(Arc::new(witness.clone())),
        checkpoint_every: every,
        ..AuditConfig::default()
    };
    let log = AuditLog::spawn(store.clone(), Some(signer.clone()), config);
    (log, signer, witness, dir)
}

// Each checkpoint after the first grows its tree from the links its
// witness check has just read; every root still verifies.
on_both_backends! {
    async fn checkpoints_grown_from_the_links_the_witness_check_read_verify(store) {
        let (log, signer, witness, _dir) = witnessed_writer(&store, 100).await;
        for i in 0..1_050 {
            log.append(&org(), event(i)).await.expect("append");
        }
        log.shutdown().await.expect("shutdown");
        let stored = store.audit_checkpoints(&org()).await.expect("checkpoints");
        assert!(stored.len() >= 10, "a checkpoint every 100 events: {:?}", stored.keys());
        assert_eq!(verify_witnessed(&store, &signer, &witness).await, None);
    }
}

/// Checkpoints signed by batches chained ahead are witnessed like any
/// other, each before its callers are answered.
#[tokio::test]
async fn checkpoints_signed_by_batches_chained_ahead_are_all_witnessed() {
    let (store, _guard) = crate::fresh_store(custodia_engine::Backend::Postgres).await;
    let (log, signer, witness, _dir) = witnessed_writer(&store, 100).await;
    let (callers, each) = (512_i64, 4_i64);
    let appends: Vec<_> = (0..callers)
        .map(|c| {
            let log = log.clone();
            tokio::spawn(async move {
                for i in 0..each {
                    log.append(&org(), event(c * each + i))
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    for task in appends {
        task.await.expect("caller");
    }
    let stored = store.audit_checkpoints(&org()).await.expect("checkpoints");
    let read =
        Witnessed::read(&[witness.file().to_owned()], &signer.verifying_key()).expect("witness");
    let witnessed: Vec<i64> = read.checkpoints["bufete-ruiz"].keys().copied().collect();
    assert_eq!(
        witnessed,
        stored.keys().copied().collect::<Vec<_>>(),
        "every stored checkpoint is witnessed"
    );
    assert!(
        witnessed.len() >= 5,
        "checkpoints fell due as events came: {witnessed:?}"
    );
    log.shutdown().await.expect("shutdown");
    assert_eq!(verify_witnessed(&store, &signer, &witness).await, None);
}

/// An event edited in place while the writer runs: the next checkpoint,
/// signed by a batch chained ahead, finds it, and the log fails closed.
#[tokio::test]
async fn a_batch_chained_ahead_refuses_to_sign_over_an_event_edited_under_it() {
    let (store, _guard) = crate::fresh_store(custodia_engine::Backend::Postgres).await;
    let (log, signer, witness, _dir) = witnessed_writer(&store, 50).await;
    for i in 1..=60 {
        log.append(&org(), event(i)).await.expect("append");
    }
    edit_in_place(&store, 55).await;
    let mut refused = None;
    for i in 61..=200 {
        if let Err(e) = log.append(&org(), event(i)).await {
            refused = Some((i, e));
            break;
        }
    }
    let (at, err) = refused.expect("the edit is caught by the next checkpoint");
    assert!(
        at <= 100,
        "caught at the checkpoint due at 100, not later: {at}"
    );
    assert!(err.to_string().contains("event 55"), "{err}");
    assert!(log.append(&org(), event(300)).await.is_err(), "fail closed");
    let read =
        Witnessed::read(&[witness.file().to_owned()], &signer.verifying_key()).expect("witness");
    assert_eq!(read.alarms.len(), 1, "the alarm is in the witness");
}

/// The stored checkpoint at `seq` (for the everyday check, standing for
/// the newest one a witness holds).
async fn checkpoint_at(store: &Store, seq: i64) -> Checkpoint {
    store.audit_checkpoints(&org()).await.expect("checkpoints")[&seq].clone()
}

/// Edits event `seq`'s worker in place, its hashes left as they were.
async fn edit_in_place(store: &Store, seq: i64) {
    let mut e = read(store, seq).await;
    e.event.worker = Some("elena".into());
    overwrite(&raw(store).await, seq, &e).await;
}

on_both_backends! {
    async fn the_everyday_check_reads_only_the_events_since_the_witnessed_checkpoint(store) {
        let (signer, _witness, _dir) = witnessed_chain(&store).await;
        let cp30 = checkpoint_at(&store, 30).await;
        let report = store.check_audit_since(&org(), &signer.verifying_key(), &cp30).await.expect("check");
        assert!(report.ok() && report.tail_only, "{report:?}");
        assert_eq!((report.began, report.events, report.last_seq), (30, EVENTS - 30, EVENTS));
        // The witnessed checkpoint and the one at 40; the Merkle root at 40
        // is recomputed from the tree edge stored at 30.
        assert_eq!((report.checkpoints_checked, report.roots_checked), (2, 1));
    }

    async fn the_everyday_check_names_an_event_edited_since_the_witnessed_checkpoint(store) {
        let (signer, _witness, _dir) = witnessed_chain(&store).await;
        edit_in_place(&store, 35).await;
        let report = store.check_audit_since(&org(), &signer.verifying_key(), &checkpoint_at(&store, 30).await).await.expect("check");
        assert_eq!(report.broken.map(|b| (b.kind, b.seq)), Some((BreakKind::Edited, 35)));
        assert!(!report.tail_only, "a doubt is settled by the full verify");
    }

    async fn the_everyday_check_catches_a_tail_cut_with_head_and_checkpoints_rewritten_to_match(store) {
        let (signer, _witness, _dir) = witnessed_chain(&store).await;
        let cp40 = checkpoint_at(&store, 40).await;
        let pool = raw(&store).await;
        let last = read(&store, 33).await.hash;
        exec(&pool, "DELETE FROM audit_events WHERE org = 'bufete-ruiz' AND seq > 33").await;
        exec(&pool, "DELETE FROM audit_checkpoints WHERE org = 'bufete-ruiz' AND seq > 33").await;
        exec(&pool, &format!("UPDATE audit_heads SET seq = 33, hash = '{last}' WHERE org = 'bufete-ruiz'")).await;
        let report = store.check_audit_since(&org(), &signer.verifying_key(), &cp40).await.expect("check");
        assert_eq!(report.broken.map(|b| (b.kind, b.seq)), Some((BreakKind::Truncated, 34)));
    }

    async fn the_everyday_check_catches_a_chain_rewritten_before_the_witnessed_checkpoint(store) {
        let (signer, _witness, _dir) = witnessed_chain(&store).await;
        let cp30 = checkpoint_at(&store, 30).await;
        rewrite_from(&store, 24, |e| e.decision = Some(Effect::Allow)).await;
        let report = store.check_audit_since(&org(), &signer.verifying_key(), &cp30).await.expect("check");
        // Only the checkpoint at 30 is known to it: the chain is named
        // rewritten from the start up to there.
        assert_eq!(report.broken.map(|b| (b.kind, b.seq)), Some((BreakKind::Rewritten, 1)));
    }

    async fn an_event_edited_before_the_witnessed_checkpoint_is_left_to_the_full_verify(store) {
        let (signer, _witness, _dir) = witnessed_chain(&store).await;
        edit_in_place(&store, 12).await;
        let key = signer.verifying_key();
        // The limit of the everyday check, and why the dossier verifies in full.
        let everyday = store.check_audit_since(&org(), &key, &checkpoint_at(&store, 30).await).await.expect("check");
        assert!(everyday.ok() && everyday.tail_only, "{everyday:?}");
        let full = store.verify_audit(&org(), Some(&key), None, |_| {}).await.expect("verify");
        assert_eq!(full.broken.map(|b| (b.kind, b.seq)), Some((BreakKind::Edited, 12)));
    }
}
