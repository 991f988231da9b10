//! The foundation: demo, import, export, bad input, secrets, serve.

use std::io::{Read, Write};
use std::net::TcpStream;

use custodia_engine::Backend;

use crate::{Custodia, on_both_backends, repo};

on_both_backends! {
    fn export_import_export_gives_identical_files(backend) {
        let first = Custodia::demo(backend);
        let exported = first.ok(&["export", "--org", "bufete-ruiz"]);
        assert!(exported.contains("name = \"María López García\""));
        let file = first.path("bufete.toml");
        std::fs::write(&file, &exported).expect("write export");

        let second = Custodia::new(backend);
        second.ok(&["import", file.to_str().expect("utf-8 path")]);
        assert_eq!(second.ok(&["export", "--org", "bufete-ruiz"]), exported);
    }

    fn malformed_imports_are_refused_whole_and_change_nothing(backend) {
        let c = Custodia::demo(backend);
        let before = c.ok(&["export", "--org", "bufete-ruiz"]);
        let original = before.replace("name = \"Bufete Ruiz Abogados, S.L.P.\"", "name = \"Changed\"");
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("broken.toml", original.replacen("[[customers]]", "[[customers]\n", 1).into_bytes(), "line "),
            ("dup.toml", original.replacen("id = \"C-1002\"", "id = \"C-1001\"", 1).into_bytes(), "duplicate customer id `C-1001`"),
            ("unknown.toml", original.replacen("[[workers]]\n", "[[workers]]\nsalary = 1\n", 1).into_bytes(), "unknown field `salary`"),
            ("latin1.toml", {
                let mut bytes = original.clone().into_bytes();
                let at = original.find("Ana Mart").expect("has ana") + "Ana Mart".len();
                bytes[at] = 0xED; // 'í' in Latin-1, invalid UTF-8 here
                bytes[at + 1] = b'n';
                bytes
            }, "not valid UTF-8"),
        ];
        for (name, bytes, expected) in cases {
            let path = c.path(name);
            std::fs::write(&path, bytes).expect("write case");
            let err = c.fails(&["import", "--replace", path.to_str().expect("utf-8 path")]);
            assert!(err.starts_with("error: "), "{name}: {err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{name}: one line expected: {err}");
            assert!(err.contains(name) && err.contains("line "), "{name}: no file and line: {err}");
            assert!(err.contains(expected), "{name}: expected `{expected}` in {err}");
            assert_eq!(c.ok(&["export", "--org", "bufete-ruiz"]), before, "{name} changed the store");
        }
    }

    fn csv_import_names_line_and_field_and_changes_nothing(backend) {
        let c = Custodia::demo(backend);
        let before = c.ok(&["export", "--org", "gestoria-iberia"]);
        let csv = c.path("workers.csv");
        std::fs::write(&csv, "login,name,level,departments\nmaria,María Pons,3,accounting\njuan,Juan Gil,7,payroll\n").expect("write");
        let err = c.fails(&["import", "--org", "gestoria-iberia", "--workers", csv.to_str().expect("path")]);
        assert!(err.contains("workers.csv: line 3: field `level`"), "{err}");
        assert_eq!(c.ok(&["export", "--org", "gestoria-iberia"]), before);

        std::fs::write(&csv, "login,name,level,departments\nmaria,María Pons,3,accounting;payroll\n").expect("write");
        c.ok(&["import", "--org", "gestoria-iberia", "--workers", csv.to_str().expect("path")]);
        let after = c.ok(&["export", "--org", "gestoria-iberia"]);
        assert!(after.contains("login = \"maria\""));
        assert!(after.contains("departments = [\"accounting\", \"payroll\"]"));
    }
}

on_both_backends! {
fn demo_refuses_to_overwrite_a_store_without_force(backend) {
    let c = Custodia::demo(backend);
    let err = c.fails(&["demo"]);
    assert!(
        err.contains("already holds data") && err.contains("--force"),
        "{err}"
    );
    let tour = c.ok(&["demo", "--force"]);
    assert!(tour.contains("bufete-ruiz") && tour.contains("clinica-norte"));
    let json = c.ok(&["demo", "--force", "--json"]);
    let summary: serde_json::Value = serde_json::from_str(&json).expect("json");
    let summary = summary.as_array().expect("array");
    assert_eq!(summary.len(), 5, "{summary:?}");
    // The tour's counts are what the store holds, organisation by organisation.
    for org in summary {
        let slug = org["organisation"].as_str().expect("organisation");
        let exported = c.ok(&["export", "--org", slug]);
        let stored = exported.lines().filter(|l| l.trim() == "[[customers]]").count();
        assert_eq!(org["customers"].as_u64(), Some(stored as u64), "{slug}");
        assert!(stored > 20, "{slug}: a few dozen customers at least");
    }
}
}

#[test]
fn no_plaintext_password_anywhere_in_the_database_file() {
    let c = Custodia::demo(Backend::Sqlite);
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(b) = std::fs::read(c.path(&format!("custodia.db{suffix}"))) {
            bytes.extend(b);
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("$argon2id$"), "the hashes should be there");
    let demo =
        std::fs::read_to_string(repo().join("plugins/demo/bufete-ruiz.toml")).expect("demo file");
    assert!(
        demo.contains("demo-<login>"),
        "the demo documents its passwords"
    );
    for login in [
        "ana",
        "pablo",
        "luis",
        "sofia",
        "carlos",
        "marta",
        "elena",
        "garcia",
        "recepcion",
    ] {
        let password = format!("demo-{login}");
        assert!(
            !text.contains(&password),
            "plaintext `{password}` found in the database file"
        );
    }
    assert!(
        !text.contains("expediente-1001"),
        "the area password is in the database file"
    );
}

on_both_backends! {
fn errors_are_one_clear_line_with_a_non_zero_exit(backend) {
    let c = Custodia::demo(backend);
    let err = c.fails(&["export", "--org", "no-such-firm"]);
    assert_eq!(
        err.trim_end(),
        "error: organisation `no-such-firm` not found"
    );
    let mysql = Custodia {
        db: "mysql://x".into(),
        dir: tempfile::tempdir().expect("dir"),
    };
    let err = mysql.fails(&["init"]);
    assert!(
        err.contains("unsupported database url `mysql://x`"),
        "{err}"
    );
    let missing = c.fails(&["import", "/nonexistent/org.toml"]);
    assert!(missing.contains("/nonexistent/org.toml"), "{missing}");
}
}

on_both_backends! {
fn serve_answers_health_checks(backend) {
    let c = Custodia::demo(backend);
    let (mut child, addr) = crate::crash::start_server(&c);
    let mut stream = TcpStream::connect(&addr).expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    child.kill().expect("stop server");
    let _ = child.wait();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("ok\n"), "{response}");
}
}
