//! `custodia add ...`: register entries from the command line reach the
//! dossier, refuse duplicates and are audited.

use crate::reports::dossier;
use crate::{Custodia, on_both_backends};

/// `add provider` for a cloud mail provider due for review on `next_review`.
fn cloud<'a>(org: &'a str, next_review: &'a str) -> Vec<&'a str> {
    vec![
        "add",
        "provider",
        "--org",
        org,
        "--id",
        "P-CLOUD",
        "--name",
        "Nube Segura, S.L.",
        "--service",
        "cloud e-mail",
        "--personal-data",
        "--availability",
        "99.9%",
        "--next-review",
        next_review,
    ]
}

on_both_backends! {
fn entries_added_from_the_command_line_reach_the_dossier(backend) {
    let c = Custodia::demo(backend);
    let added = c.ok(&cloud("bufete-ruiz", "2026-01-31"));
    assert!(
        added.contains("added provider `P-CLOUD` in `bufete-ruiz`"),
        "{added}"
    );
    c.ok(&[
        "add",
        "activity",
        "--org",
        "bufete-ruiz",
        "--id",
        "RA-09",
        "--name",
        "Newsletter",
        "--purpose",
        "marketing",
        "--legal-basis",
        "consent (art. 6(1)(a))",
    ]);
    c.ok(&[
        "add",
        "training",
        "--org",
        "bufete-ruiz",
        "--id",
        "T-09",
        "--title",
        "Phishing drill",
        "--date",
        "2026-11-02",
        "--hours",
        "2",
        "--attendee",
        "ana",
        "--attendee",
        "pablo",
    ]);
    c.ok(&[
        "add",
        "backup",
        "--org",
        "bufete-ruiz",
        "--id",
        "B-09",
        "--taken-at",
        "2026-11-20T02:00:00Z",
        "--location",
        "NAS + offsite",
        "--encrypted",
        "--restore-checked",
        "2026-11-21",
        "--restore-ok",
        "true",
    ]);
    let html = dossier(&c, "bufete-ruiz", "en");
    for expected in [
        "Nube Segura, S.L.",
        "99.9%",
        "Provider `P-CLOUD` (Nube Segura, S.L.): periodic review overdue",
        "Provider `P-CLOUD` (Nube Segura, S.L.): no signed confidentiality clause",
        "Activity `RA-09`: missing field erasure time limit",
        "Phishing drill",
    ] {
        assert!(html.contains(expected), "dossier lacks `{expected}`");
    }
    assert!(
        !html.contains("Activity `RA-09`: missing field legal basis"),
        "it was given"
    );

    let again = c.fails(&cloud("bufete-ruiz", "2027-01-31"));
    assert!(
        again.contains(
            "provider `P-CLOUD` already exists in organisation `bufete-ruiz` (replace it to change it): use --replace"
        ),
        "{again}"
    );
    let replaced = c.ok(&[cloud("bufete-ruiz", "2027-01-31"), vec!["--replace"]].concat());
    assert!(
        replaced.contains("replaced provider `P-CLOUD`"),
        "{replaced}"
    );
    let html = dossier(&c, "bufete-ruiz", "en");
    assert!(!html.contains("`P-CLOUD` (Nube Segura, S.L.): periodic review overdue"));

    let events = c.ok(&["--json", "audit", "query", "--org", "bufete-ruiz"]);
    let events: serde_json::Value = serde_json::from_str(&events).expect("JSON events");
    let changes: Vec<&str> = events
        .as_array()
        .expect("a list of events")
        .iter()
        .filter(|e| e["kind"] == "register")
        .filter_map(|e| e["detail"].as_str())
        .collect();
    assert_eq!(
        changes,
        [
            "added provider `P-CLOUD`",
            "added processing activity `RA-09`",
            "added training `T-09`",
            "added backup `B-09`",
            "replaced provider `P-CLOUD`",
        ]
    );
    c.ok(&["audit", "verify", "--org", "bufete-ruiz"]);
}
}

on_both_backends! {
fn bad_register_input_names_the_field_and_adds_nothing(backend) {
    let c = Custodia::demo(backend);
    let before = c.ok(&["export", "--org", "bufete-ruiz"]);
    let bad_date = c.fails(&cloud("bufete-ruiz", "31/01/2027"));
    assert!(bad_date.contains("--next-review"), "{bad_date}");
    let stranger = c.fails(&[
        "add",
        "training",
        "--org",
        "bufete-ruiz",
        "--id",
        "T-09",
        "--title",
        "Phishing",
        "--date",
        "2026-11-02",
        "--attendee",
        "ana",
        "--attendee",
        "nobody",
    ]);
    assert!(
        stranger.contains("worker `nobody` not found in organisation `bufete-ruiz`"),
        "{stranger}"
    );
    let no_org = c.fails(&cloud("ghost", "2027-01-31"));
    assert!(
        no_org.contains("organisation `ghost` not found"),
        "{no_org}"
    );
    assert_eq!(c.ok(&["export", "--org", "bufete-ruiz"]), before);
}
}
