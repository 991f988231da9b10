//! The seed guides' scenarios, decided by `custodia decide` on the demo store.

use custodia_engine::Backend;
use serde_json::Value;

use crate::Custodia;

/// (worker, action, resource, expected decision, a rule that must have decided)
const SCENARIOS: &[(&str, &str, &str, &str, &str)] = &[
    // Divorce case: only the lawyer in charge sees the whole file.
    (
        "ana",
        "view",
        "customer:C-1001",
        "allow",
        "legal/lawyer-in-charge",
    ),
    (
        "ana",
        "view",
        "customer:C-1001/personal",
        "allow",
        "legal/lawyer-in-charge",
    ),
    (
        "ana",
        "view",
        "customer:C-1001/case-file",
        "deny",
        "base/password-closed-area",
    ),
    (
        "pablo",
        "view",
        "customer:C-1001",
        "deny",
        "legal/lawyer-not-on-case",
    ),
    (
        "pablo",
        "view",
        "customer:C-1001/personal",
        "deny",
        "legal/lawyer-not-on-case",
    ),
    // The assistant: administrative areas, no personal information.
    (
        "luis",
        "view",
        "customer:C-1001/administrative",
        "allow",
        "legal/assistant-administrative",
    ),
    (
        "luis",
        "view",
        "customer:C-1001/personal",
        "deny",
        "legal/assistant-no-personal-information",
    ),
    (
        "luis",
        "view",
        "document:D-1001-3",
        "deny",
        "legal/assistant-no-personal-information",
    ),
    // Support never sees accounting; accountants see invoices, not court filings.
    (
        "sofia",
        "view",
        "customer:C-1001/financial",
        "deny",
        "base/support-never-sees-accounting",
    ),
    (
        "sofia",
        "view",
        "document:D-1001-2",
        "deny",
        "base/support-never-sees-accounting",
    ),
    (
        "carlos",
        "view",
        "document:D-1001-2",
        "allow",
        "legal/accounting-invoices",
    ),
    (
        "carlos",
        "view",
        "document:D-1002-2",
        "deny",
        "legal/accounting-no-case-data",
    ),
    // Export control: accounting exports invoices; an assistant exports nothing.
    (
        "carlos",
        "export",
        "document:D-1001-2",
        "allow",
        "legal/accounting-invoices",
    ),
    (
        "luis",
        "export",
        "document:D-1001-1",
        "deny",
        "base/export-control",
    ),
    (
        "luis",
        "print",
        "document:D-1001-1",
        "deny",
        "base/export-control",
    ),
    // Marketing and the opt-out list.
    (
        "marta",
        "send",
        "customer:C-1001",
        "allow",
        "base/marketing-send",
    ),
    (
        "marta",
        "send",
        "customer:C-1002",
        "deny",
        "base/marketing-send",
    ),
    // The clinic: each specialist sees their own specialty; grants are read-only.
    (
        "garcia",
        "view",
        "customer:P-2001/clinical:cardiology",
        "allow",
        "health/own-specialty",
    ),
    (
        "garcia",
        "view",
        "customer:P-2001/clinical:dermatology",
        "deny",
        "health/other-specialty",
    ),
    (
        "ortiz",
        "view",
        "document:D-2001-2",
        "allow",
        "health/own-specialty",
    ),
    (
        "ruiz",
        "view",
        "customer:P-2001/clinical:cardiology",
        "allow",
        "health/granted-specialty-read",
    ),
    (
        "ruiz",
        "edit",
        "customer:P-2001/clinical:cardiology",
        "deny",
        "health/grant-is-read-only",
    ),
    (
        "recepcion",
        "view",
        "customer:P-2001/administrative",
        "allow",
        "health/reception-administrative",
    ),
    (
        "recepcion",
        "view",
        "customer:P-2001/clinical:cardiology",
        "deny",
        "health/reception-no-clinical-data",
    ),
    // Document types: contracts vs invoices vs court filings.
    (
        "marc",
        "view",
        "document:D-5001-3",
        "allow",
        "architecture/administration-contracts-and-invoices",
    ),
    (
        "pau",
        "view",
        "document:D-5001-3",
        "deny",
        "architecture/drafting-no-finances",
    ),
];

#[test]
fn seed_scenarios_are_decided_as_the_guides_describe() {
    let c = Custodia::demo(Backend::Sqlite);
    let mut failures = Vec::new();
    for &(worker, action, resource, expected, rule) in SCENARIOS {
        let decision = c.decide(worker, action, resource, &[]);
        let rules: Vec<String> = decision["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .map(|r| {
                format!(
                    "{}/{}",
                    r["pack"].as_str().unwrap_or(""),
                    r["rule"].as_str().unwrap_or("")
                )
            })
            .collect();
        if decision["decision"] != expected || !rules.iter().any(|r| r == rule) {
            failures.push(format!(
                "{worker} {action} {resource}: expected {expected} by {rule}, got {decision}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Every decision above is in the audit log, and the chain verifies.
    let events: Value =
        serde_json::from_str(&c.ok(&["audit", "query", "--org", "bufete-ruiz", "--json"]))
            .expect("json");
    let legal = SCENARIOS
        .iter()
        .filter(|s| s.2.starts_with("customer:C") || s.2.starts_with("document:D-100"))
        .count();
    let decisions = events
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "decision" || e["kind"] == "export")
        .count();
    assert_eq!(decisions, legal);
    assert!(
        events
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["kind"] == "import"),
        "the demo import is audited"
    );
    let verify = c.ok(&["audit", "verify"]);
    assert!(verify.lines().all(|l| l.starts_with("ok ")), "{verify}");
}

#[test]
fn the_assistant_sees_the_record_with_personal_fields_masked() {
    let c = Custodia::demo(Backend::Sqlite);
    let d = c.decide("luis", "view", "customer:C-1001", &[]);
    assert_eq!(d["decision"], "allow");
    assert_eq!(
        d["mask"],
        serde_json::json!(["attributes", "phone", "tax_id"])
    );
}

#[test]
fn a_closed_area_opens_only_with_its_password_and_wrong_passwords_are_limited() {
    let c = Custodia::demo(Backend::Sqlite);
    let view = [
        "decide",
        "--worker",
        "ana",
        "--action",
        "view",
        "--resource",
        "customer:C-1001/case-file",
        "--json",
    ];
    assert!(c.ok(&view).contains("\"decision\": \"deny\""));

    let unlock = [
        "unlock",
        "--worker",
        "ana",
        "--area",
        "customer:C-1001/case-file",
        "--password-stdin",
    ];
    let err = c.fails_with_stdin(&unlock, "not-the-password\n");
    assert!(err.contains("area not unlocked"), "{err}");
    assert!(c.ok(&view).contains("\"decision\": \"deny\""));

    // Another lawyer may not even try.
    let err = c.fails_with_stdin(
        &[
            "unlock",
            "--worker",
            "pablo",
            "--area",
            "customer:C-1001/case-file",
            "--password-stdin",
        ],
        "expediente-1001\n",
    );
    assert!(err.contains("may not unlock"), "{err}");

    c.ok_with_stdin(&unlock, "expediente-1001\n");
    assert!(c.ok(&view).contains("\"decision\": \"allow\""));

    // Five wrong passwords in a window lock the area for that worker.
    for _ in 0..4 {
        c.fails_with_stdin(&unlock, "guess\n");
    }
    let out = c.run_with_stdin(&unlock, "expediente-1001\n");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("too many wrong passwords"),
        "{out:?}"
    );

    let events = c.ok(&["audit", "query", "--org", "bufete-ruiz", "--csv"]);
    assert!(
        events
            .lines()
            .filter(|l| l.contains(",unlock_failed,"))
            .count()
            >= 5,
        "{events}"
    );
    assert!(events.lines().any(|l| l.contains(",unlock,")), "{events}");
}

#[test]
fn rules_check_and_test_report_like_a_test_runner() {
    let c = Custodia::new(Backend::Sqlite);
    let packs = crate::repo().join("plugins/packs");
    let out = c.ok(&["rules", "check", packs.to_str().expect("path")]);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok ")).count(),
        6,
        "{out}"
    );
    let out = c.ok(&["rules", "test", packs.to_str().expect("path")]);
    assert!(out.contains("0 failed"), "{out}");
    let passed: usize = out
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("count");
    assert!(passed >= 90, "{out}");
}

#[test]
fn sighup_reloads_the_rule_packs_and_the_reload_is_audited() {
    let c = Custodia::demo(Backend::Sqlite);
    let (mut server, addr) = crate::crash::start_server(&c);
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &server.id().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(hup.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let events = c.ok(&["audit", "query", "--org", "clinica-norte", "--csv"]);
        if events.lines().any(|l| l.contains(",rules_reload,")) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no reload event: {events}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        crate::http(&addr, "GET", "/healthz", None).map(|r| r.0),
        Some(200),
        "still serving"
    );
    server.kill().expect("stop");
    let _ = server.wait();
}

#[test]
fn the_api_answers_only_logged_in_workers_about_themselves_and_audits_logins() {
    use crate::{http, http_auth};
    let c = Custodia::demo(Backend::Sqlite);
    let (mut server, addr) = crate::crash::start_server(&c);
    let ask = r#"{"worker":"luis","action":"view","resource":"customer:C-1001/personal"}"#;
    assert_eq!(
        http(&addr, "POST", "/v1/decisions", Some(ask)).map(|r| r.0),
        Some(401),
        "no session, no answer"
    );

    let wrong = r#"{"login":"luis","password":"not-his"}"#;
    assert_eq!(
        http(&addr, "POST", "/v1/login", Some(wrong)).map(|r| r.0),
        Some(401)
    );
    let nobody = r#"{"login":"nobody","password":"whatever1"}"#;
    assert_eq!(
        http(&addr, "POST", "/v1/login", Some(nobody)).map(|r| r.0),
        Some(401),
        "unknown logins look the same"
    );

    let luis = crate::crash::login(&addr, "luis", "demo-luis");
    let (status, body) =
        http_auth(&addr, "POST", "/v1/decisions", Some(ask), Some(&luis)).expect("decide");
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["decision"], "deny");
    assert!(v["audit"]["seq"].as_i64().is_some());

    let as_ana = r#"{"worker":"ana","action":"view","resource":"customer:C-1001/personal"}"#;
    assert_eq!(
        http_auth(&addr, "POST", "/v1/decisions", Some(as_ana), Some(&luis)).map(|r| r.0),
        Some(403),
        "luis may not ask as ana"
    );
    assert_eq!(
        http_auth(&addr, "POST", "/v1/decisions", Some(ask), Some("0000")).map(|r| r.0),
        Some(401),
        "forged token"
    );

    // Five failures in a window lock the account for a while.
    for _ in 0..5 {
        http(
            &addr,
            "POST",
            "/v1/login",
            Some(r#"{"login":"pablo","password":"guess-guess"}"#),
        );
    }
    let good = r#"{"login":"pablo","password":"demo-pablo"}"#;
    assert_eq!(
        http(&addr, "POST", "/v1/login", Some(good)).map(|r| r.0),
        Some(429)
    );
    server.kill().expect("stop");
    let _ = server.wait();

    let events = c.ok(&["audit", "query", "--org", "bufete-ruiz", "--csv"]);
    assert!(
        events.lines().any(|l| l.contains(",login,luis,")),
        "{events}"
    );
    assert!(
        events
            .lines()
            .filter(|l| l.contains(",login_failed,"))
            .count()
            >= 6,
        "{events}"
    );
    assert!(
        !events.contains("demo-luis") && !events.contains("not-his"),
        "passwords never reach the log"
    );
}

#[test]
fn audit_verify_names_an_edit_made_in_the_database_and_exits_non_zero() {
    let c = Custodia::demo(Backend::Sqlite);
    for resource in [
        "customer:C-1001",
        "customer:C-1001/personal",
        "document:D-1001-1",
    ] {
        c.decide("ana", "view", resource, &[]);
    }
    assert!(
        c.ok(&["audit", "verify", "--org", "bufete-ruiz"])
            .starts_with("ok ")
    );
    c.tamper("UPDATE audit_events SET worker = 'pablo' WHERE org = 'bufete-ruiz' AND seq = 3");
    let out = c.run(&["audit", "verify", "--org", "bufete-ruiz"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("BROKEN  bufete-ruiz: at sequence 3: edited"),
        "{text}"
    );
}
