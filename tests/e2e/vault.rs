//! The vault: contents sealed at rest, read only through the rules, edits
//! audited with keyed hashes, wrong keys and tampering refused, keys
//! rotated under load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use custodia_engine::Backend;
use serde_json::Value;

use crate::crash::{login, start_server_with};
use crate::{Custodia, http_auth, json, on_both_backends};

const ORGS: &[&str] = &[
    "bufete-ruiz",
    "clinica-norte",
    "gestoria-iberia",
    "estudio-arco",
    "tienda-verde",
];

/// Every sealed value of the demo worth searching for: tax ids, phones,
/// addresses, and area contents of eight characters or more (shorter ones,
/// like `es` or `2`, occur anywhere by chance).
/// Also returns the names kept in clear by design (customers' and
/// workers'; see ARCHITECTURE.md): a sealed contact person who shares one,
/// or part of one, proves nothing.
fn sealed_values(c: &Custodia) -> (Vec<String>, Vec<String>) {
    let mut values = Vec::new();
    let mut clear = Vec::new();
    for org in ORGS {
        let text = c.ok(&["export", "--org", org]);
        let file: toml::Value = toml::from_str(&text).expect("organisation file");
        for list in ["customers", "workers"] {
            for entry in file[list].as_array().into_iter().flatten() {
                if let Some(name) = entry.get("name").and_then(toml::Value::as_str) {
                    clear.push(name.to_owned());
                }
            }
        }
        let customers = file["customers"].as_array().expect("customers");
        for customer in customers {
            for key in ["tax_id", "phone", "address"] {
                if let Some(v) = customer.get(key).and_then(toml::Value::as_str) {
                    values.push(v.to_owned());
                }
            }
            for area in customer["areas"].as_array().into_iter().flatten() {
                let Some(content) = area.get("content") else {
                    continue;
                };
                if let Some(notes) = content.get("notes").and_then(toml::Value::as_str) {
                    values.push(notes.to_owned());
                }
                for value in content
                    .get("fields")
                    .and_then(toml::Value::as_table)
                    .into_iter()
                    .flat_map(|t| t.values())
                {
                    // Dates alone name nobody, and consent dates are kept in clear.
                    let date = |t: &str| t.parse::<chrono::NaiveDate>().is_ok();
                    if let Some(text) = value.as_str().filter(|t| t.len() >= 8 && !date(t)) {
                        values.push(text.to_owned());
                    }
                }
            }
        }
    }
    values.sort();
    values.dedup();
    (values, clear)
}

#[test]
fn a_byte_dump_of_the_store_shows_none_of_the_sealed_demo_data() {
    let c = Custodia::demo(Backend::Sqlite);
    let (values, clear) = sealed_values(&c);
    assert!(
        values.len() > 1000,
        "the demo seals plenty: {}",
        values.len()
    );
    assert!(
        values.iter().any(|v| v == "12345678Z"),
        "C-1001's tax id is exported"
    );
    let mut dump = Vec::new();
    for name in ["custodia.db", "custodia.db-wal"] {
        if let Ok(bytes) = std::fs::read(c.path(name)) {
            dump.extend(bytes);
        }
    }
    assert!(
        dump.len() > 100_000,
        "the store was read: {} bytes",
        dump.len()
    );
    // Every 8-byte window of the dump, so that each value is looked up
    // rather than scanned for; a candidate is then confirmed by a search.
    let mut windows: Vec<u64> = dump
        .windows(8)
        .map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes")))
        .collect();
    windows.sort_unstable();
    let may_hold = |v: &str| {
        v.as_bytes().windows(8).all(|w| {
            windows
                .binary_search(&u64::from_le_bytes(w.try_into().expect("8 bytes")))
                .is_ok()
        })
    };
    let in_clear = |v: &str| clear.iter().any(|name| name.contains(v));
    let found: Vec<&String> = values
        .iter()
        .filter(|v| may_hold(v) && !in_clear(v))
        .filter(|v| dump.windows(v.len()).any(|w| w == v.as_bytes()))
        .collect();
    assert!(found.is_empty(), "in clear in the database file: {found:?}");
}

on_both_backends! {
fn the_same_record_reads_differently_for_the_lawyer_the_assistant_another_lawyer_and_accounting(backend) {
    let c = Custodia::demo(backend);
    let before = c.count("SELECT COUNT(*) FROM audit_events WHERE org = 'bufete-ruiz' AND kind = 'decision' AND customer = 'C-1001'");
    let read = |worker: &str| -> Value {
        let out = c.run(&["--json", "read", "--worker", worker, "--resource", "customer:C-1001"]);
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    };
    let field = |record: &Value, name: &str| -> Value {
        record["fields"].as_array().expect("fields").iter().find(|f| f["name"] == name).cloned().expect("field")
    };
    let area = |record: &Value, name: &str| -> Value {
        record["areas"].as_array().expect("areas").iter().find(|a| a["name"] == name).cloned().expect("area")
    };

    let ana = read("ana");
    assert_eq!(field(&ana, "tax_id")["value"], "12345678Z", "{ana}");
    assert_eq!(area(&ana, "personal")["state"], "open");
    assert!(area(&ana, "personal")["notes"]["value"].as_str().is_some_and(|n| n.contains("C-1001")));
    assert_eq!(area(&ana, "case-file")["state"], "locked", "closed by its password");

    let luis = read("luis");
    assert_eq!(field(&luis, "tax_id")["state"], "masked");
    assert_eq!(field(&luis, "tax_id")["reason"], "assistants see no personal information");
    assert!(field(&luis, "tax_id").get("value").is_none(), "a masked value never leaves: {luis}");
    assert_eq!(field(&luis, "address")["state"], "masked");
    assert_eq!(area(&luis, "administrative")["state"], "open");
    assert_eq!(area(&luis, "personal")["state"], "denied");
    assert!(area(&luis, "personal").get("fields").is_none());
    assert!(area(&luis, "personal")["reason"].as_str().is_some_and(|r| r.contains("assistants see no personal information")));

    let pablo = c.fails(&["read", "--worker", "pablo", "--resource", "customer:C-1001"]);
    assert!(pablo.contains("pablo is not on the case of C-1001"), "{pablo}");
    assert!(!pablo.contains("12345678Z"));

    // One area alone: open for ana, denied (exit 1, still audited) for luis.
    let text = c.ok(&["read", "--worker", "ana", "--resource", "customer:C-1001/personal"]);
    assert!(text.contains("marital_status"), "{text}");
    let out = c.run(&["read", "--worker", "luis", "--resource", "customer:C-1001/personal"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("DENIED"));

    // The accounting department: the financial area, never the personal one.
    let text = c.ok(&["read", "--worker", "carlos", "--resource", "customer:C-1001/financial"]);
    assert!(text.contains("iban:"), "{text}");
    let out = c.run(&["read", "--worker", "carlos", "--resource", "customer:C-1001/personal"]);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("marital_status"));

    // ana: record + 4 areas; luis: record + 4 areas; pablo: record; ana,
    // luis and carlos (twice): one area each.
    let after = c.count("SELECT COUNT(*) FROM audit_events WHERE org = 'bufete-ruiz' AND kind = 'decision' AND customer = 'C-1001'");
    assert_eq!(after - before, 5 + 5 + 1 + 2 + 2, "every read is audited, allowed or denied");
    let denied = c.count("SELECT COUNT(*) FROM audit_events WHERE org = 'bufete-ruiz' AND kind = 'decision' AND customer = 'C-1001' AND decision = 'deny' AND worker IN ('pablo', 'luis')");
    assert!(denied >= 5, "denied reads are in the log: {denied}");
}
}

on_both_backends! {
fn an_edit_is_decided_and_audited_with_keyed_hashes_never_values(backend) {
    let c = Custodia::demo(backend);
    c.ok(&["edit", "--worker", "ana", "--resource", "customer:C-1001/personal",
        "--set", "marital_status=divorciada en 2026", "--set", "children=2", "--notes", "Nuevo domicilio en Getafe"]);
    let text = c.ok(&["read", "--worker", "ana", "--resource", "customer:C-1001/personal"]);
    assert!(text.contains("marital_status: divorciada en 2026"), "{text}");
    assert!(text.contains("notes: Nuevo domicilio en Getafe"), "{text}");
    let edits = c.count("SELECT COUNT(*) FROM audit_events WHERE org = 'bufete-ruiz' AND kind = 'edit' AND worker = 'ana' AND area = 'personal' AND detail LIKE '%old hmac-sha256 %new hmac-sha256 %'");
    assert_eq!(edits, 1);
    assert_eq!(c.count("SELECT COUNT(*) FROM audit_events WHERE detail LIKE '%divorciada%' OR detail LIKE '%Getafe%'"), 0, "values never reach the log");
    // An assistant may not edit the personal area: refused, nothing changed.
    let err = c.fails(&["edit", "--worker", "luis", "--resource", "customer:C-1001/personal", "--set", "children=5"]);
    assert!(err.contains("may not edit"), "{err}");
    // Undeclared fields and ill-typed values are refused with the field named.
    let err = c.fails(&["edit", "--worker", "ana", "--resource", "customer:C-1001/personal", "--set", "religion=x"]);
    assert!(err.contains("personal.religion"), "{err}");
    let err = c.fails(&["edit", "--worker", "ana", "--resource", "customer:C-1001/personal", "--set", "children=two"]);
    assert!(err.contains("personal.children") && err.contains("whole number"), "{err}");
    let text = c.ok(&["read", "--worker", "ana", "--resource", "customer:C-1001/personal"]);
    assert!(text.contains("children: 2"), "{text}");
}
}

#[test]
fn a_wrong_master_key_is_refused_and_changes_nothing() {
    let c = Custodia::demo(Backend::Sqlite);
    let events = || c.count("SELECT COUNT(*) FROM audit_events");
    let before = events();
    let wrong = "11".repeat(32);
    let out = c
        .command()
        .args(["read", "--worker", "ana", "--resource", "customer:C-1001"])
        .env("CUSTODIA_MASTER_KEY", &wrong)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not open organisation"), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("12345678Z"));
    assert_eq!(events(), before, "nothing was recorded");
    // A missing key file, once data is sealed, is an error naming it.
    std::fs::rename(c.path("custodia.db.master-key"), c.path("moved-key")).expect("move");
    let err = c.fails(&["read", "--worker", "ana", "--resource", "customer:C-1001"]);
    assert!(
        err.contains("master-key") && err.contains("restore it from your backup"),
        "{err}"
    );
    assert!(
        !c.path("custodia.db.master-key").exists(),
        "never silently replaced"
    );
}

on_both_backends! {
fn a_tampered_or_moved_ciphertext_is_an_error_naming_the_record(backend) {
    let c = Custodia::demo(backend);
    // Move C-1002's sealed identity into C-1001's row.
    c.tamper("UPDATE vault_items SET sealed = (SELECT sealed FROM vault_items WHERE org = 'bufete-ruiz' AND customer = 'C-1002' AND slot = 'identity') WHERE org = 'bufete-ruiz' AND customer = 'C-1001' AND slot = 'identity'");
    let err = c.fails(&["read", "--worker", "ana", "--resource", "customer:C-1001"]);
    assert!(err.contains("customer `C-1001`") && err.contains("identity") && err.contains("altered or moved"), "{err}");
    // Flip a character of the personal area's ciphertext.
    c.tamper("UPDATE vault_items SET sealed = CASE WHEN substr(sealed, 20, 1) = 'A' THEN substr(sealed, 1, 19) || 'B' || substr(sealed, 21) ELSE substr(sealed, 1, 19) || 'A' || substr(sealed, 21) END WHERE org = 'bufete-ruiz' AND customer = 'C-1001' AND slot = 'area/personal'");
    let reads = || -> usize {
        json(&c.ok(&["audit", "query", "--org", "bufete-ruiz", "--worker", "ana", "--json"]))
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["resource"] == "customer:C-1001/personal" && e["decision"] == "allow")
            .count()
    };
    let before = reads();
    let err = c.fails(&["read", "--worker", "ana", "--resource", "customer:C-1001/personal"]);
    assert!(err.contains("customer `C-1001`") && err.contains("area/personal"), "{err}");
    // The area is unsealed before its event goes to the writer; a failed
    // unseal is still audited.
    assert_eq!(reads(), before + 1, "the failed read was audited");
}
}

#[test]
fn keys_rotate_under_load_without_a_read_failing() {
    let c = Custodia::demo(Backend::Sqlite);
    let (child, addr) = start_server_with(&c, &[]);
    let server = crate::Helper(child);
    let token = login(&addr, "ana", "demo-ana");
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..4)
        .map(|i| {
            let (addr, token, stop, reads) =
                (addr.clone(), token.clone(), stop.clone(), reads.clone());
            std::thread::spawn(move || {
                let path = if i % 2 == 0 {
                    "/v1/customers/C-1001"
                } else {
                    "/v1/customers/C-1001/areas/personal"
                };
                while !stop.load(Ordering::Relaxed) {
                    let (status, body) =
                        http_auth(&addr, "GET", path, None, Some(&token)).expect("answer");
                    assert_eq!(status, 200, "a read failed during rotation: {body}");
                    assert!(
                        body.contains("\"state\":\"open\"") || body.contains("12345678Z"),
                        "{body}"
                    );
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let first_id = std::fs::read_to_string(c.path("custodia.db.master-key")).expect("key file");
    for round in 0..3 {
        c.ok(&["keys", "rotate", "--org", "bufete-ruiz"]);
        c.ok(&["keys", "rotate", "--master"]);
        assert!(reads.load(Ordering::Relaxed) > round, "readers are running");
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.join().expect("no read failed");
    }
    assert!(
        reads.load(Ordering::Relaxed) >= 20,
        "{} reads",
        reads.load(Ordering::Relaxed)
    );
    let key_file = std::fs::read_to_string(c.path("custodia.db.master-key")).expect("key file");
    assert_ne!(key_file, first_id, "a new master key");
    assert_eq!(
        key_file.lines().count(),
        2,
        "old master keys retired: {key_file}"
    );
    assert_eq!(
        c.count("SELECT COUNT(*) FROM vault_org_keys WHERE org = 'bufete-ruiz'"),
        1
    );
    assert_eq!(
        c.count("SELECT MAX(version) FROM vault_org_keys WHERE org = 'bufete-ruiz'"),
        4
    );
    assert_eq!(
        c.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'keys' AND org = 'bufete-ruiz'"),
        6
    );
    drop(server);
    // A fresh process reads with the rotated keys.
    let text = c.ok(&["read", "--worker", "ana", "--resource", "customer:C-1001"]);
    assert!(text.contains("12345678Z"), "{text}");
}

on_both_backends! {
fn area_contents_import_from_csv_sealed_with_errors_naming_the_line(backend) {
    let c = Custodia::demo(backend);
    let events = || c.count("SELECT COUNT(*) FROM audit_events WHERE org = 'bufete-ruiz' AND kind = 'import'");
    let before = events();
    std::fs::write(
        c.path("contents.csv"),
        "customer,area,field,value\nC-1001,case-file,court,Juzgado de Familia nº 24 de Madrid\nC-1001,case-file,notes,Vista aplazada al 3 de febrero\nC-1001,personal,children,3\n",
    )
    .expect("csv");
    let out = c.ok(&["import", "--org", "bufete-ruiz", "--contents", "contents.csv"]);
    assert!(out.contains("imported 2 area contents"), "{out}");
    assert_eq!(events(), before + 1);
    let text = c.ok(&["read", "--worker", "ana", "--resource", "customer:C-1001/personal"]);
    assert!(text.contains("children: 3"), "{text}");
    if backend == Backend::Sqlite {
        let mut dump = std::fs::read(c.path("custodia.db")).expect("db");
        dump.extend(std::fs::read(c.path("custodia.db-wal")).unwrap_or_default());
        assert!(!String::from_utf8_lossy(&dump).contains("Juzgado de Familia"), "sealed");
    }
    std::fs::write(
        c.path("bad.csv"),
        "customer,area,field,value\nC-1001,personal,children,3\nC-1001,personal,children,tres\n",
    )
    .expect("csv");
    let err = c.fails(&["import", "--org", "bufete-ruiz", "--contents", "bad.csv"]);
    assert!(err.contains("bad.csv") && err.contains("line 3") && err.contains("children"), "{err}");
    std::fs::write(c.path("bad2.csv"), "customer,area,field,value\nC-1001,personal,religion,x\n").expect("csv");
    let err = c.fails(&["import", "--org", "bufete-ruiz", "--contents", "bad2.csv"]);
    assert!(err.contains("line 2") && err.contains("religion"), "{err}");
    assert_eq!(events(), before + 1, "a bad file changes nothing");
}
}
