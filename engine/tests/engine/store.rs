//! The store: round trips, organisation scoping, all-or-nothing imports.

use std::collections::BTreeSet;
use std::path::Path;

use custodia_engine::exchange::{OrgFile, parse_customers_csv};
use custodia_engine::{
    CustomerId, EntryId, Error, OrgSlug, RegisterEntry, SecurityMeasure, Training, WorkerLogin,
};

use crate::{demo_file, on_both_backends};

fn slug(s: &str) -> OrgSlug {
    OrgSlug::new(s).expect("valid slug")
}

#[test]
fn a_bad_csv_field_is_named_with_file_line_and_field() {
    let workers: BTreeSet<WorkerLogin> = ["ana".parse().expect("login")].into();
    let text = "id,name,email,privacy,assigned\nC-9001,Ana Uno,a@x.example,low,ana\nC-9002,Bea Dos,b@x.example,extreme,ana\n";
    let err = parse_customers_csv(Path::new("new.csv"), text, &workers, &BTreeSet::new())
        .expect_err("bad privacy");
    assert!(
        err.to_string().contains("new.csv: line 3: field `privacy`"),
        "{err}"
    );
}

/// Events in the test organisation's chain.
async fn events(store: &custodia_engine::Store) -> usize {
    store
        .query_audit(
            &slug("bufete-ruiz"),
            &custodia_engine::audit::AuditQuery::default(),
        )
        .await
        .expect("query")
        .len()
}

on_both_backends! {
    async fn imported_organisation_reads_back_unchanged(store) {
        let file = demo_file("bufete-ruiz.toml");
        store.import(&file, false, "test").await.expect("import");
        let exported = store.export(&slug("bufete-ruiz")).await.expect("export");
        let mut expected = file.clone();
        expected.normalise();
        assert_eq!(exported, expected);
    }

    async fn worker_of_one_organisation_never_reads_another_s_rows(store) {
        store.import(&demo_file("bufete-ruiz.toml"), false, "test").await.expect("import legal");
        store.import(&demo_file("clinica-norte.toml"), false, "test").await.expect("import clinic");
        let law = store.org(&slug("bufete-ruiz")).await.expect("law firm");
        let clinic = store.org(&slug("clinica-norte")).await.expect("clinic");

        let patient = CustomerId::new("P-2001").expect("id");
        assert!(clinic.customer(&patient).await.is_ok());
        assert!(matches!(law.customer(&patient).await, Err(Error::NotFound { .. })));
        let garcia = WorkerLogin::new("garcia").expect("login");
        assert!(matches!(law.worker(&garcia).await, Err(Error::NotFound { .. })));
        let report = "D-2001-1".parse().expect("id");
        assert!(matches!(law.document(&report).await, Err(Error::NotFound { .. })));

        let law_ids: BTreeSet<_> = law.customers().await.expect("list").into_iter().map(|c| c.id).collect();
        let law_file = demo_file("bufete-ruiz.toml");
        let expected: BTreeSet<_> = law_file.customers.iter().map(|c| c.id.clone()).collect();
        assert_eq!(law_ids, expected, "exactly the law firm's customers");
        let docs = law.documents().await.expect("docs");
        assert_eq!(docs.len(), law_file.documents.len());
        assert!(docs.iter().all(|d| law_ids.contains(&d.customer)));
        let providers = law.registers().await.expect("registers").providers;
        assert_eq!(providers.len(), law_file.registers.providers.len());
        assert!(!providers.is_empty() && providers.iter().all(|p| p.id.as_str() != "P-HIS"));
    }

    async fn import_of_existing_organisation_needs_replace(store) {
        let file = demo_file("gestoria-iberia.toml");
        store.import(&file, false, "test").await.expect("first import");
        let err = store.import(&file, false, "test").await.expect_err("second import");
        assert!(matches!(err, Error::OrganisationExists(_)), "{err}");
        let mut changed = file.clone();
        changed.organisation.name = "Gestoría Iberia (renamed)".into();
        store.import(&changed, true, "test").await.expect("replace");
        let org = store.org(&slug("gestoria-iberia")).await.expect("org");
        assert_eq!(org.organisation().name, "Gestoría Iberia (renamed)");
    }

    async fn import_failing_half_way_writes_nothing(store) {
        // Bypass the file checks: a repeated customer id fails inside the
        // transaction, after the organisation and workers were written.
        let mut file = demo_file("tienda-verde.toml");
        let first = file.customers[0].clone();
        file.customers.push(first);
        file.documents.clear();
        assert!(store.import(&file, false, "test").await.is_err());
        assert!(store.organisations().await.expect("list").is_empty());
    }

    async fn csv_rows_the_parser_cannot_see_are_refused_by_the_store_whole(store) {
        store.import(&demo_file("bufete-ruiz.toml"), false, "test").await.expect("import");
        let org = store.org(&slug("bufete-ruiz")).await.expect("org");
        let before = org.customers().await.expect("customers").len();
        let events_before = events(&store).await;
        let workers: BTreeSet<_> = org.workers().await.expect("workers").into_iter().map(|w| w.login).collect();
        // The parser is told of no existing ids, so both rows parse; the
        // second collides with a stored customer after the first is written.
        let text = "id,name,assigned\nC-9001,Ana Uno,ana\nC-1001,Already There,ana\n";
        let rows = parse_customers_csv(Path::new("new.csv"), text, &workers, &BTreeSet::new()).expect("rows parse");
        assert_eq!(rows.len(), 2);
        org.import_customers(&rows, "test").await.expect_err("C-1001 exists");
        let after: Vec<_> = org.customers().await.expect("customers").into_iter().map(|c| c.id.to_string()).collect();
        assert_eq!(after.len(), before);
        assert!(!after.iter().any(|id| id == "C-9001"), "the first row was rolled back");
        assert_eq!(events(&store).await, events_before, "no import event");

        let good = "id,name,assigned\nC-9001,Ana Uno,ana\n";
        let rows = parse_customers_csv(Path::new("good.csv"), good, &workers, &BTreeSet::new()).expect("parse");
        org.import_customers(&rows, "test").await.expect("import");
        assert_eq!(org.customers().await.expect("customers").len(), before + 1);
    }

    async fn no_plaintext_password_is_ever_stored(store) {
        store.import(&demo_file("bufete-ruiz.toml"), false, "test").await.expect("import");
        let org = store.org(&slug("bufete-ruiz")).await.expect("org");
        for w in org.workers().await.expect("workers") {
            let hash = w.password_hash.expect("demo workers have passwords");
            assert!(hash.as_str().starts_with("$argon2id$"));
            assert!(hash.verify(&format!("demo-{}", w.login)));
        }
    }

    async fn added_register_entry_needs_replace_to_change_an_existing_one(store) {
        store.import(&demo_file("bufete-ruiz.toml"), false, "test").await.expect("import");
        let org = store.org(&slug("bufete-ruiz")).await.expect("org");
        let before = org.registers().await.expect("registers");
        let measure = SecurityMeasure {
            id: EntryId::new("M-NEW").expect("id"),
            name: "Disk encryption".into(),
            category: "encryption".into(),
            description: None,
            implemented: None,
            next_check: None,
        };
        let added = org.add_register_entry(&RegisterEntry::Measure(measure.clone()), false).await;
        assert!(!added.expect("add"), "nothing was replaced");
        let again = org.add_register_entry(&RegisterEntry::Measure(measure.clone()), false).await;
        let err = again.expect_err("same id twice");
        assert!(matches!(err, Error::EntryExists { .. }), "{err}");
        assert!(err.to_string().contains("security measure `M-NEW` already exists"), "{err}");

        let renamed = SecurityMeasure { name: "Full-disk encryption".into(), ..measure };
        let replaced = org.add_register_entry(&RegisterEntry::Measure(renamed.clone()), true).await;
        assert!(replaced.expect("replace"));
        let after = org.registers().await.expect("registers");
        assert_eq!(after.measures.len(), before.measures.len() + 1);
        assert!(after.measures.contains(&renamed));
        assert_eq!(after.providers, before.providers);
    }

    async fn training_with_an_unknown_attendee_adds_nothing(store) {
        store.import(&demo_file("bufete-ruiz.toml"), false, "test").await.expect("import");
        let org = store.org(&slug("bufete-ruiz")).await.expect("org");
        let before = org.registers().await.expect("registers");
        let training = Training {
            id: EntryId::new("T-NEW").expect("id"),
            title: "Phishing".into(),
            date: chrono::NaiveDate::from_ymd_opt(2026, 11, 2).expect("date"),
            hours: 2,
            attendees: vec![WorkerLogin::new("ana").expect("login"), WorkerLogin::new("nobody").expect("login")],
        };
        let err = org.add_register_entry(&RegisterEntry::Training(training), false).await.expect_err("unknown worker");
        assert!(err.to_string().contains("worker `nobody` not found"), "{err}");
        assert_eq!(org.registers().await.expect("registers"), before);
    }
}

#[test]
fn org_file_errors_name_the_line() {
    let text = std::fs::read_to_string(crate::demo_path("bufete-ruiz.toml")).expect("read");
    let cases = [
        // (edit, expected fragment)
        (
            text.replacen("login = \"pablo\"", "login = \"ana\"", 1),
            "line 25: duplicate worker login `ana`",
        ),
        (
            text.replacen("level = 4", "level = 4\nshoe_size = 42", 1),
            "line 19: unknown field `shoe_size`",
        ),
        (
            text.replacen("level = 2", "level = 9", 1),
            "must be between 1",
        ),
        (
            text.replacen(
                "assigned = [\"ana\", \"luis\"]",
                "assigned = [\"ana\", \"nobody\"]",
                1,
            ),
            "unknown worker `nobody`",
        ),
        (
            text.replacen("area = \"financial\"", "area = \"secret\"", 1),
            "does not have",
        ),
        (text.replacen("[[workers]]", "[[workers]\n", 1), "line 15"),
    ];
    for (edited, expected) in cases {
        let err = OrgFile::parse(Path::new("org.toml"), &edited).expect_err(expected);
        let message = err.to_string();
        assert!(message.starts_with("org.toml: line "), "{message}");
        assert!(
            message.contains(expected),
            "expected `{expected}` in `{message}`"
        );
    }
}

#[test]
fn plaintext_password_in_an_import_file_is_refused() {
    let text = std::fs::read_to_string(crate::demo_path("tienda-verde.toml")).expect("read");
    let start = text.find("password_hash = \"").expect("has a hash");
    let end = text[start..].find('\n').expect("line end") + start;
    let edited = format!(
        "{}password_hash = \"demo-raul\"{}",
        &text[..start],
        &text[end..]
    );
    let err = OrgFile::parse(Path::new("shop.toml"), &edited).expect_err("plaintext");
    assert!(
        err.to_string().contains("plaintext passwords are refused"),
        "{err}"
    );
    assert!(
        !err.to_string().contains("demo-raul"),
        "the error echoes the password: {err}"
    );
}
