//! Logins: failures counted atomically per account and address, back-off
//! that ends, the same argon2 work for unknown logins, a cap on hashes.

use custodia_engine::audit::AuditQuery;
use custodia_engine::session::{HashGate, LoginAttempt, LoginOutcome, MAX_BACKOFF};
use custodia_engine::{OrgSlug, Store, WorkerLogin};

use crate::{demo_file, on_both_backends};

fn org() -> OrgSlug {
    OrgSlug::new("bufete-ruiz").expect("slug")
}

fn ana() -> WorkerLogin {
    WorkerLogin::new("ana").expect("login")
}

async fn attempt(
    store: &Store,
    gate: &HashGate,
    login: &WorkerLogin,
    password: &str,
) -> LoginOutcome {
    let org = org();
    let attempt = LoginAttempt {
        org: Some(&org),
        login,
        password,
        address: Some("192.0.2.7"),
        channel: "test",
    };
    store.login(gate, &attempt).await.expect("login")
}

async fn events_of(store: &Store, kind: &str) -> usize {
    let all = store
        .query_audit(&org(), &AuditQuery::default())
        .await
        .expect("query");
    all.iter().filter(|e| e.event.kind.as_str() == kind).count()
}

on_both_backends! {
    async fn twenty_parallel_wrong_logins_are_all_counted(store) {
        store.import(&demo_file("bufete-ruiz.toml"), false, "test").await.expect("import");
        let gate = HashGate::new(32);
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let (store, gate) = (store.clone(), gate.clone());
                tokio::spawn(async move { attempt(&store, &gate, &ana(), &format!("guess-{i}")).await })
            })
            .collect();
        let mut refused = 0;
        let mut limited = 0;
        let mut latest_retry = chrono::Utc::now();
        for task in tasks {
            match task.await.expect("task") {
                LoginOutcome::Refused => refused += 1,
                LoginOutcome::RateLimited { retry_after } => {
                    limited += 1;
                    assert!(retry_after <= chrono::Utc::now() + MAX_BACKOFF, "back-off is bounded");
                    latest_retry = latest_retry.max(retry_after);
                }
                other => panic!("a wrong password got {other:?}"),
            }
        }
        // Each attempt was counted before any hashing: only the five free
        // guesses reached argon2, the other fifteen met the back-off.
        assert_eq!((refused, limited), (5, 15));
        assert_eq!(gate.computations(), 5);
        assert_eq!(events_of(&store, "login_failed").await, 20, "every attempt is audited");
        // The right password gets in only once the back-off is over.
        match attempt(&store, &gate, &ana(), "demo-ana").await {
            LoginOutcome::RateLimited { .. } => {}
            LoginOutcome::LoggedIn { .. } => assert!(chrono::Utc::now() >= latest_retry, "logged in during the back-off"),
            other => panic!("the right password got {other:?}"),
        }
    }

    async fn an_unknown_login_costs_the_same_password_work_as_a_known_one(store) {
        store.import(&demo_file("bufete-ruiz.toml"), false, "test").await.expect("import");
        let gate = HashGate::new(4);
        let unknown = WorkerLogin::new("nobody").expect("login");
        // Warm the dummy hash, whose creation is a one-off.
        attempt(&store, &gate, &unknown, "x").await;
        let before = gate.computations();
        assert_eq!(attempt(&store, &gate, &ana(), "wrong-password").await, LoginOutcome::Refused);
        let known = gate.computations() - before;
        let before = gate.computations();
        assert_eq!(attempt(&store, &gate, &unknown, "wrong-password").await, LoginOutcome::Refused);
        let unknown_cost = gate.computations() - before;
        assert_eq!((known, unknown_cost), (1, 1));
    }

    async fn a_full_hash_gate_answers_busy_without_hashing_or_counting(store) {
        store.import(&demo_file("bufete-ruiz.toml"), false, "test").await.expect("import");
        let closed = HashGate::new(0);
        let outcome = attempt(&store, &closed, &ana(), "demo-ana").await;
        assert_eq!(outcome, LoginOutcome::Busy);
        assert_eq!(closed.computations(), 0);
        // The reservation was given back: the next attempt gets in.
        assert!(matches!(attempt(&store, &HashGate::new(1), &ana(), "demo-ana").await, LoginOutcome::LoggedIn { .. }));
    }

    async fn a_session_ends_at_logout_and_expired_ones_are_purged(store) {
        store.import(&demo_file("bufete-ruiz.toml"), false, "test").await.expect("import");
        let LoginOutcome::LoggedIn { token, .. } = attempt(&store, &HashGate::new(1), &ana(), "demo-ana").await else {
            panic!("ana logs in");
        };
        assert!(store.session(&token, chrono::Utc::now()).await.expect("session").is_some());
        assert!(store.logout(&token, "test").await.expect("logout"));
        assert!(store.session(&token, chrono::Utc::now()).await.expect("session").is_none());
        assert!(!store.logout(&token, "test").await.expect("second logout"), "already gone");
        assert_eq!(events_of(&store, "logout").await, 1);
        let LoginOutcome::LoggedIn { .. } = attempt(&store, &HashGate::new(1), &ana(), "demo-ana").await else {
            panic!("ana logs in again");
        };
        let later = chrono::Utc::now() + chrono::Duration::hours(9);
        assert_eq!(store.purge_sessions(later).await.expect("purge"), 1);
    }
}
