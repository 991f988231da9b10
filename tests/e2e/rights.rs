//! Data-subject rights on both backends: the register and its clock, and
//! what granting each kind of request does to the record.

use serde_json::Value;

use crate::{Custodia, on_both_backends};

/// Opens a request and returns its id.
fn open(c: &Custodia, customer: &str, kind: &str, extra: &[&str]) -> String {
    let out = c.ok(&[
        &[
            "--json",
            "rights",
            "open",
            "--org",
            "bufete-ruiz",
            "--customer",
            customer,
            "--kind",
            kind,
        ][..],
        extra,
    ]
    .concat());
    let v: Value = serde_json::from_str(&out).expect("json");
    v["id"].as_i64().expect("id").to_string()
}

fn decide(c: &Custodia, worker: &str, action: &str, resource: &str) -> Value {
    c.decide(worker, action, resource, &[])
}

on_both_backends! {
fn an_access_request_is_answered_with_the_data_and_only_the_accesses_the_log_holds(backend) {
    let c = Custodia::demo(backend);
    c.ok(&["read", "--worker", "luis", "--resource", "customer:C-1001"]);
    c.ok(&["read", "--worker", "ana", "--resource", "customer:C-1001/personal"]);
    let id = open(&c, "C-1001", "access", &["--as", "rocio", "--identity-check", "DNI shown at the office"]);
    let shown = c.ok(&["rights", "show", "--org", "bufete-ruiz", "--request", &id]);
    assert!(shown.contains("DNI shown at the office (by rocio"), "{shown}");
    let logged = c.count("SELECT COUNT(*) FROM audit_events WHERE org = 'bufete-ruiz' AND customer = 'C-1001' AND worker IS NOT NULL AND kind IN ('decision', 'unlock', 'unlock_failed', 'export', 'download', 'print', 'edit')");
    assert!(logged >= 2, "the two reads above at least: {logged}");
    let dir = c.path("package");
    c.ok(&["rights", "package", "--org", "bufete-ruiz", "--request", &id, "--as", "rocio",
        "-o", dir.to_str().expect("path"), "--lang", "en"]);
    let data = std::fs::read_to_string(dir.join("data.csv")).expect("data.csv");
    assert!(data.contains("identity,phone,+34 600 100 001"), "decrypted for the package: {data}");
    assert!(data.contains("personal,marital_status,"), "{data}");
    let accesses = std::fs::read_to_string(dir.join("accesses.csv")).expect("accesses.csv");
    // The header, then one line per access the log held, and nothing else.
    assert_eq!(accesses.lines().count() as i64, logged + 1, "{accesses}");
    assert!(accesses.contains(",assistant,administration,"), "roles, not names: {accesses}");
    assert!(!accesses.contains("Luis"), "no worker's name: {accesses}");
    let letter = std::fs::read_to_string(dir.join("letter.html")).expect("letter");
    assert!(letter.contains("Who of our staff accessed your data"));
    assert_eq!(
        c.count("SELECT COUNT(*) FROM audit_events WHERE org = 'bufete-ruiz' AND kind = 'export' AND resource = 'rights-request:1'"),
        1,
        "producing the package is audited"
    );
}

fn a_granted_erasure_blocks_the_record_for_all_but_legal_claims(backend) {
    let c = Custodia::demo(backend);
    let id = open(&c, "C-1001", "erasure", &[]);
    let before = decide(&c, "ana", "view", "customer:C-1001");
    assert_eq!(before["decision"], "allow");
    c.ok(&["rights", "resolve", "--org", "bufete-ruiz", "--request", &id, "--as", "rocio"]);
    let after = decide(&c, "ana", "view", "customer:C-1001/administrative");
    assert_eq!(after["decision"], "deny");
    assert!(after.to_string().contains("blocked (LOPDGDD art. 32)"), "{after}");
    let claims = decide(&c, "elena", "view", "customer:C-1001");
    assert_eq!(claims["decision"], "allow", "the legal-claims role still reaches it: {claims}");
    let edit = decide(&c, "elena", "edit", "customer:C-1001");
    assert_eq!(edit["decision"], "deny", "nobody changes a blocked record");
    c.ok(&["audit", "verify"]);
    // Campaigns skip the blocked customer.
    c.ok(&["mail", "create", "--org", "bufete-ruiz", &crate::repo().join("plugins/demo/campaigns/novedades.toml").to_string_lossy()]);
    let plan = c.ok(&["--json", "mail", "plan", "--org", "bufete-ruiz", "novedades-2026-12", "--list"]);
    let plan: Value = serde_json::from_str(&plan).expect("plan");
    let c1001 = plan["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .find(|r| r["customer"] == "C-1001")
        .expect("C-1001 planned");
    assert_eq!(c1001["excluded"], "denied_by_rules", "{c1001}");
    // A re-import of the organisation does not unblock it.
    let file = c.path("firm.toml");
    c.ok(&["export", "--org", "bufete-ruiz", "-o", file.to_str().expect("path")]);
    c.ok(&["import", file.to_str().expect("path"), "--replace"]);
    assert_eq!(decide(&c, "ana", "view", "customer:C-1001")["decision"], "deny");
}

fn a_restriction_keeps_the_record_only_stored_until_it_is_lifted(backend) {
    let c = Custodia::demo(backend);
    let id = open(&c, "C-1002", "restriction", &[]);
    c.ok(&["rights", "resolve", "--org", "bufete-ruiz", "--request", &id]);
    assert_eq!(decide(&c, "pablo", "view", "customer:C-1002")["decision"], "deny");
    let denied = decide(&c, "pablo", "view", "customer:C-1002");
    assert_eq!(denied["decision"], "deny");
    assert!(denied.to_string().contains("restricted (GDPR art. 18)"), "{denied}");
    c.ok(&["rights", "lift", "--org", "bufete-ruiz", "--request", &id, "--as", "rocio"]);
    assert_eq!(decide(&c, "pablo", "view", "customer:C-1002")["decision"], "allow");
    let lifted = c.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'rights' AND detail LIKE '%restriction lifted%' AND worker = 'rocio'");
    assert_eq!(lifted, 1, "the lifting is audited");
}

fn an_objection_opts_the_address_out_at_once(backend) {
    let c = Custodia::demo(backend);
    let id = open(&c, "C-1001", "objection", &[]);
    c.ok(&["rights", "resolve", "--org", "bufete-ruiz", "--request", &id]);
    let send = decide(&c, "marta", "send", "customer:C-1001");
    assert_eq!(send["decision"], "deny", "{send}");
    let opted = c.count("SELECT COUNT(*) FROM customers WHERE org = 'bufete-ruiz' AND id = 'C-1001' AND opt_out_date IS NOT NULL");
    assert_eq!(opted, 1);
}

fn rectification_portability_and_refusals_are_recorded_with_their_clock(backend) {
    let c = Custodia::demo(backend);
    let rect = open(&c, "C-1001", "rectification", &["--received", "2026-01-31"]);
    let shown = c.ok(&["rights", "show", "--org", "bufete-ruiz", "--request", &rect]);
    assert!(shown.contains("due        2026-02-28"), "one month, at most the month's end: {shown}");
    c.ok(&["edit", "--worker", "ana", "--resource", "customer:C-1001/personal", "--set", "children=3"]);
    c.ok(&["rights", "extend", "--org", "bufete-ruiz", "--request", &rect, "--reason", "complex case"]);
    let shown = c.ok(&["rights", "show", "--org", "bufete-ruiz", "--request", &rect]);
    assert!(shown.contains("due        2026-04-30"), "{shown}");
    let twice = c.fails(&["rights", "extend", "--org", "bufete-ruiz", "--request", &rect, "--reason", "again"]);
    assert!(twice.contains("only once"), "{twice}");
    let overdue = c.ok(&["rights", "list", "--org", "bufete-ruiz", "--overdue"]);
    assert!(overdue.contains(&format!("#{rect}")) && overdue.contains("LATE"), "{overdue}");
    c.ok(&["rights", "resolve", "--org", "bufete-ruiz", "--request", &rect, "--answer", "children updated"]);

    let port = open(&c, "C-1002", "portability", &[]);
    let dir = c.path("portable");
    c.ok(&["rights", "package", "--org", "bufete-ruiz", "--request", &port, "-o", dir.to_str().expect("path")]);
    let json: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("data.json")).expect("json")).expect("json");
    assert!(!json["data"].as_array().expect("data").is_empty());
    assert!(json["accesses"].as_array().expect("accesses").is_empty(), "portability carries the data only");

    let refused = open(&c, "C-1002", "erasure", &[]);
    c.ok(&["rights", "refuse", "--org", "bufete-ruiz", "--request", &refused, "--reason", "legal obligation to keep invoices"]);
    let blocked = c.count("SELECT COUNT(*) FROM customers WHERE org = 'bufete-ruiz' AND restriction IS NOT NULL");
    assert_eq!(blocked, 0, "a refused erasure blocks nothing");
    let again = c.fails(&["rights", "resolve", "--org", "bufete-ruiz", "--request", &refused]);
    assert!(again.contains("already answered"), "{again}");
    // Three opened, one extended, one granted, one refused.
    let events = c.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'rights'");
    assert_eq!(events, 6, "every change audited once");
    let unknown = c.fails(&["rights", "open", "--org", "bufete-ruiz", "--customer", "C-9999", "--kind", "access"]);
    assert!(unknown.contains("C-9999"), "{unknown}");
}
}
