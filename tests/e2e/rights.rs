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

/// Every byte of a SQLite store: the database and its write-ahead log.
fn sqlite_bytes(c: &Custodia) -> Vec<u8> {
    let mut dump = std::fs::read(c.path("custodia.db")).expect("database file");
    if let Ok(wal) = std::fs::read(c.path("custodia.db-wal")) {
        dump.extend(wal);
    }
    dump
}

/// Whether `needle` appears anywhere in a byte dump.
fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
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
    let pdf = crate::reports::pdf_text(&dir.join("letter.pdf"));
    assert!(pdf.contains("Who of our staff accessed your data") && pdf.contains("proofs.json"), "{pdf}");
    // Each access comes with its inclusion proof, checkable with the
    // public key alone; a proof whose event was changed fails.
    let proofs: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("proofs.json")).expect("proofs")).expect("json");
    assert_eq!(proofs.as_array().expect("list").len() as i64, logged, "one proof per access");
    let key = c.ok(&["audit", "public-key"]);
    let checked = c.ok(&["audit", "check-proof", dir.join("proofs.json").to_str().expect("path"), "--public-key", key.trim()]);
    assert_eq!(checked.lines().filter(|l| l.starts_with("ok ")).count() as i64, logged, "{checked}");
    let mut forged = proofs.clone();
    forged[0]["event_hash"] = Value::String("00".repeat(32));
    std::fs::write(c.path("forged.json"), forged.to_string()).expect("forged");
    let refused = c.run(&["audit", "check-proof", c.path("forged.json").to_str().expect("path"), "--public-key", key.trim()]);
    assert!(!refused.status.success(), "a changed event fails its proof");
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
    // The art. 34 notice of a breach still reaches the blocked record.
    let smtp = crate::mail::SmtpSink::start(c.dir.path());
    let notice = c.ok(&["mail", "breach-notice", "--org", "bufete-ruiz", "--breach", "BR-2026-01",
        "--from", "Protecdata <dpo@protecdata.example>", "--smtp", &smtp.url, "--json"]);
    let notice: Value = serde_json::from_str(&notice).expect("notice");
    assert_eq!(notice["sent"], 1, "{notice}");
    assert_eq!(smtp.messages()[0].0, "maria.lopez@correo.example");
    // A re-import of the organisation does not unblock it.
    let file = c.path("firm.toml");
    c.ok(&["export", "--org", "bufete-ruiz", "-o", file.to_str().expect("path")]);
    c.ok(&["import", file.to_str().expect("path"), "--replace"]);
    assert_eq!(decide(&c, "ana", "view", "customer:C-1001")["decision"], "deny");
}

fn a_purge_deletes_the_erased_record_and_destroys_its_key_while_the_opt_out_survives(backend) {
    let c = Custodia::demo(backend);
    let private = ["María López", "maria.lopez@correo.example", "+34 600 100 001"];
    if backend == custodia_engine::Backend::Sqlite {
        assert!(contains(&sqlite_bytes(&c), private[0]), "the name is in the store before the purge");
    }
    // What an old copy would hold: the sealed identity, kept aside.
    c.tamper("CREATE TABLE leftover AS SELECT sealed FROM vault_items WHERE org = 'bufete-ruiz' AND customer = 'C-1001' AND slot = 'identity'");
    let id = open(&c, "C-1001", "erasure", &[]);
    let early = c.fails(&["rights", "purge", "--org", "bufete-ruiz", "--request", &id]);
    assert!(early.contains("granted erasure"), "an open request purges nothing: {early}");
    c.ok(&["rights", "resolve", "--org", "bufete-ruiz", "--request", &id, "--as", "rocio"]);
    let blocked = c.fails(&["rights", "purge", "--org", "bufete-ruiz", "--request", &id]);
    assert!(blocked.contains("stays blocked until") && blocked.contains("LOPDGDD art. 32"), "{blocked}");
    assert_eq!(c.count("SELECT COUNT(*) FROM customers WHERE id = 'C-1001'"), 1, "a refused purge deletes nothing");
    let done = c.ok(&["rights", "purge", "--org", "bufete-ruiz", "--request", &id, "--as", "rocio",
        "--early", "case closed by settlement; no claim can arise"]);
    assert!(done.contains("data key destroyed"), "{done}");
    for table in ["customers WHERE id", "areas WHERE customer", "documents WHERE customer", "vault_items WHERE customer", "vault_customer_keys WHERE customer", "customer_assignments WHERE customer"] {
        assert_eq!(c.count(&format!("SELECT COUNT(*) FROM {table} = 'C-1001'")), 0, "{table}");
    }
    assert_eq!(c.count("SELECT COUNT(*) FROM erased_addresses WHERE org = 'bufete-ruiz'"), 1, "the address stays as a keyed hash");
    assert_eq!(c.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'rights' AND detail LIKE '%record purged%' AND worker = 'rocio'"), 1);
    let again = c.fails(&["rights", "purge", "--org", "bufete-ruiz", "--request", &id, "--early", "again"]);
    assert!(again.contains("was purged on"), "{again}");
    c.ok(&["audit", "verify"]);
    if backend == custodia_engine::Backend::Sqlite {
        let dump = sqlite_bytes(&c);
        for text in private {
            assert!(!contains(&dump, text), "`{text}` is still in the store's bytes");
        }
    }
    // The copy kept aside can no longer be decrypted: brought back under
    // the same customer id, no key Custodia holds opens it.
    c.tamper("INSERT INTO customers (org, id, name, privacy, existing_customer, attributes) VALUES ('bufete-ruiz', 'C-1001', 'restored', 'low', 0, '{}')");
    c.tamper("INSERT INTO vault_items (org, customer, slot, sealed) SELECT 'bufete-ruiz', 'C-1001', 'identity', sealed FROM leftover");
    let unreadable = c.fails(&["read", "--worker", "elena", "--resource", "customer:C-1001"]);
    assert!(unreadable.contains("customer `C-1001`") && unreadable.contains("cannot be decrypted"), "{unreadable}");
    // The person is never mailed again, even from a list naming them.
    std::fs::write(c.path("list.csv"), "email,name\nMaria.Lopez@correo.example,María\notra@correo.example,Otra\n").expect("list");
    let campaign = std::fs::read_to_string(crate::repo().join("plugins/demo/campaigns/novedades.toml"))
        .expect("campaign")
        .replace("id = \"novedades-2026-12\"", "id = \"lista\"")
        .replace("audience = \"customers\"", "audience = \"list.csv\"");
    std::fs::write(c.path("lista.toml"), campaign).expect("campaign");
    c.ok(&["mail", "create", "--org", "bufete-ruiz", c.path("lista.toml").to_str().expect("path")]);
    let plan = c.ok(&["--json", "mail", "plan", "--org", "bufete-ruiz", "lista", "--list"]);
    let plan: Value = serde_json::from_str(&plan).expect("plan");
    let recipients = plan["recipients"].as_array().expect("recipients");
    let maria = recipients
        .iter()
        .find(|r| r["address"].as_str().is_some_and(|a| a.eq_ignore_ascii_case("maria.lopez@correo.example")))
        .expect("the listed address is planned");
    assert_eq!(maria["excluded"], "opted_out", "{maria}");
    let other = recipients.iter().find(|r| r["address"] == "otra@correo.example").expect("other");
    assert_ne!(other["excluded"], "opted_out", "only the erased address: {other}");
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
