//! A server killed with SIGKILL under load never loses an acknowledged
//! audited export, and its chain still verifies.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::{Custodia, http, on_both_backends};

pub fn start_server(c: &Custodia) -> (Child, String) {
    start_server_with(c, &[])
}

/// `custodia serve` on a free port with `extra` arguments: the process
/// and the address it announced (http or https).
pub fn start_server_with(c: &Custodia, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_custodia"))
        .args(["--db", &c.db, "serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .current_dir(c.dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    let addr = line
        .trim()
        .rsplit_once("://")
        .expect("listening on URL")
        .1
        .to_owned();
    (child, addr)
}

/// Logs in through the API and returns the session token.
pub fn login(addr: &str, worker: &str, password: &str) -> String {
    let body = format!(r#"{{"login":"{worker}","password":"{password}"}}"#);
    let (status, text) = http(addr, "POST", "/v1/login", Some(&body)).expect("login");
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).expect("json");
    v["token"].as_str().expect("token").to_owned()
}

fn jitter(max_ms: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    nanos % max_ms
}

/// Acknowledged exports each round waits for before its kill.
const ACKS_PER_ROUND: usize = 15;

on_both_backends! {
fn sigkill_under_load_loses_no_acknowledged_export(backend) {
    let c = Custodia::demo(backend);
    let acked: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
    for round in 0..8 {
        let (mut server, addr) = start_server(&c);
        let token = login(&addr, "elena", "demo-elena");
        let stop = Arc::new(AtomicBool::new(false));
        let before = acked.lock().expect("lock").len();
        let clients: Vec<_> = (0..6)
            .map(|t| {
                let (addr, stop, acked, token) = (addr.clone(), stop.clone(), acked.clone(), token.clone());
                // Whether this client's last request was cut by the kill.
                std::thread::spawn(move || -> bool {
                    for i in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            return false;
                        }
                        let purpose = format!("r{round}-t{t}-{i}");
                        let body = format!(r#"{{"worker":"elena","action":"export","resource":"document:D-1001-1","purpose":"{purpose}"}}"#);
                        match crate::http_auth(&addr, "POST", "/v1/decisions", Some(&body), Some(&token)) {
                            Some((200, text)) => {
                                let v: Value = serde_json::from_str(&text).expect("json answer");
                                assert_eq!(v["decision"], "allow", "{text}");
                                let seq = v["audit"]["seq"].as_i64().expect("receipt");
                                acked.lock().expect("lock").push((seq, purpose));
                            }
                            // Killed mid-request: that answer never arrived.
                            _ => return true,
                        }
                    }
                    false
                })
            })
            .collect();
        // Kill once the round has its acknowledgements, a little later by
        // chance so the kill falls at varied points of a batch.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while acked.lock().expect("lock").len() < before + ACKS_PER_ROUND {
            assert!(std::time::Instant::now() < deadline, "round {round}: too slow");
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(jitter(30)));
        server.kill().expect("SIGKILL");
        let _ = server.wait();
        stop.store(true, Ordering::Relaxed);
        let cut = clients
            .into_iter()
            .map(|client| client.join().expect("client"))
            .filter(|cut| *cut)
            .count();
        assert!(cut > 0, "round {round}: the kill cut no request in flight");
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() >= 8 * ACKS_PER_ROUND);

    let events: Value = serde_json::from_str(&c.ok(&[
        "audit",
        "query",
        "--org",
        "bufete-ruiz",
        "--action",
        "export",
        "--json",
    ]))
    .expect("json");
    let logged: HashMap<i64, String> = events
        .as_array()
        .expect("array")
        .iter()
        .map(|e| {
            (
                e["seq"].as_i64().expect("seq"),
                e["detail"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    for (seq, purpose) in &acked {
        assert_eq!(
            logged.get(seq),
            Some(purpose),
            "acknowledged export {purpose} (seq {seq}) is not in the log"
        );
    }
    let verify = c.ok(&["audit", "verify", "--org", "bufete-ruiz"]);
    assert!(verify.starts_with("ok "), "{verify}");
}
}
