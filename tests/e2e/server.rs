//! The hardened server: TLS, body limits, header deadlines, security
//! headers, trusted proxies, login limits over HTTP, and several servers
//! sharing one PostgreSQL.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use custodia_engine::Backend;
use serde_json::Value;

use crate::crash::{login, start_server_with};
use crate::{Custodia, http, http_auth, on_both_backends};

/// A running `custodia serve` with `extra` arguments; killed on drop.
struct Server {
    _process: crate::Helper,
    addr: String,
}

fn serve(c: &Custodia, extra: &[&str]) -> Server {
    let (child, addr) = start_server_with(c, extra);
    Server {
        _process: crate::Helper(child),
        addr,
    }
}

/// Sends raw bytes and reads the whole answer (headers included).
fn raw(addr: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream.write_all(request).expect("send");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn tls_listener_serves_https_with_the_given_certificate() {
    let c = Custodia::demo(Backend::Sqlite);
    let (cert, key) = (c.path("cert.pem"), c.path("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(made.success());
    let server = serve(
        &c,
        &[
            "--tls-cert",
            cert.to_str().expect("path"),
            "--tls-key",
            key.to_str().expect("path"),
        ],
    );
    let out = Command::new("curl")
        .args(["-sS", "-D", "-", "--cacert"])
        .arg(&cert)
        .arg(format!("https://{}/healthz", server.addr))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(text.contains("strict-transport-security"), "{text}");
    assert!(text.ends_with("ok\n"), "{text}");
    // Plain HTTP on the TLS port gets no answer.
    let plain = raw(
        &server.addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(!plain.contains("200"), "{plain}");
}

#[test]
fn a_bad_tls_key_is_refused_with_the_file_named() {
    let c = Custodia::demo(Backend::Sqlite);
    let (cert, key) = (c.path("cert.pem"), c.path("key.pem"));
    std::fs::write(&cert, "not a certificate").expect("write");
    std::fs::write(&key, "not a key").expect("write");
    let err = c.fails(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        cert.to_str().expect("path"),
        "--tls-key",
        key.to_str().expect("path"),
    ]);
    assert!(err.contains("cert.pem"), "{err}");
}

#[test]
fn an_oversized_json_body_gets_413() {
    let c = Custodia::demo(Backend::Sqlite);
    let server = serve(&c, &[]);
    let password = "x".repeat(1024 * 1024);
    let body = format!(r#"{{"login":"ana","password":"{password}"}}"#);
    let (status, text) = http(&server.addr, "POST", "/v1/login", Some(&body)).expect("answer");
    assert_eq!(status, 413, "{text}");
    assert_eq!(
        c.count("SELECT COUNT(*) FROM audit_events WHERE kind LIKE 'login%'"),
        0,
        "never reached the login"
    );
    // A malformed body names what is wrong, through the same error type.
    let (status, text) = http(
        &server.addr,
        "POST",
        "/v1/login",
        Some(r#"{"login":"ana"}"#),
    )
    .expect("answer");
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("password"), "{text}");
}

#[test]
fn a_client_that_sends_its_headers_too_slowly_is_cut_off() {
    let c = Custodia::demo(Backend::Sqlite);
    let server = serve(&c, &["--header-timeout", "1"]);
    let mut stream = TcpStream::connect(&server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let t = Instant::now();
    stream
        .write_all(b"POST /v1/login HTTP/1.1\r\nHost: x\r\n")
        .expect("send part");
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "closed too early: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(5),
        "slow client held the connection for {waited:?}"
    );
    // The server still answers others.
    assert_eq!(
        http(&server.addr, "GET", "/healthz", None)
            .expect("health")
            .0,
        200
    );
}

#[test]
fn answers_carry_security_headers() {
    let c = Custodia::demo(Backend::Sqlite);
    let server = serve(&c, &[]);
    let response = raw(
        &server.addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .to_lowercase();
    for header in [
        "content-security-policy: default-src 'none'",
        "frame-ancestors 'none'",
        "cache-control: no-store",
        "x-content-type-options: nosniff",
    ] {
        assert!(
            response.contains(header),
            "missing `{header}` in {response}"
        );
    }
}

on_both_backends! {
fn a_decision_is_about_the_session_s_own_worker(backend) {
    let c = Custodia::demo(backend);
    let server = serve(&c, &[]);
    let token = login(&server.addr, "ana", "demo-ana");
    let ask = |body: &str| {
        http_auth(
            &server.addr,
            "POST",
            "/v1/decisions",
            Some(body),
            Some(&token),
        )
        .expect("answer")
    };
    let (status, text) = ask(r#"{"action":"view","resource":"customer:C-1001"}"#);
    assert_eq!(status, 200, "no worker field needed: {text}");
    let (status, text) = ask(r#"{"worker":"luis","action":"view","resource":"customer:C-1001"}"#);
    assert_eq!(status, 403, "{text}");
    let long = "p".repeat(1000);
    let (status, text) = ask(&format!(
        r#"{{"action":"view","resource":"customer:C-1001","purpose":"{long}"}}"#
    ));
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("purpose"), "{text}");
    // Logged out, the token is worthless.
    assert_eq!(
        http_auth(&server.addr, "POST", "/v1/logout", None, Some(&token))
            .expect("logout")
            .0,
        204
    );
    assert_eq!(
        ask(r#"{"action":"view","resource":"customer:C-1001"}"#).0,
        401
    );
}
}

fn decide_from(addr: &str, token: &str, forwarded: &str) -> Value {
    let body = r#"{"action":"view","resource":"customer:C-1001"}"#;
    let request = format!(
        "POST /v1/decisions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}\r\nX-Forwarded-For: {forwarded}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let response = raw(addr, request.as_bytes());
    let (_, json) = response.split_once("\r\n\r\n").expect("body");
    serde_json::from_str(json).expect("json")
}

on_both_backends! {
fn forwarded_for_is_believed_only_from_a_trusted_proxy(backend) {
    let c = Custodia::demo(backend);
    let last_address = || {
        c.count("SELECT COUNT(*) FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events WHERE org = 'bufete-ruiz') AND org = 'bufete-ruiz' AND address = '198.51.100.4'")
    };
    {
        let server = serve(&c, &[]);
        let token = login(&server.addr, "ana", "demo-ana");
        decide_from(&server.addr, &token, "198.51.100.4");
        assert_eq!(last_address(), 0, "an untrusted peer's header is ignored");
    }
    let server = serve(&c, &["--trusted-proxy", "127.0.0.1"]);
    let token = login(&server.addr, "ana", "demo-ana");
    decide_from(&server.addr, &token, "203.0.113.66, 198.51.100.4");
    assert_eq!(last_address(), 1, "the hop the proxy saw is recorded");
}
}

on_both_backends! {
fn twenty_parallel_wrong_logins_over_http_are_all_counted(backend) {
    let c = Custodia::demo(backend);
    let server = serve(&c, &["--max-password-checks", "32"]);
    let addr = Arc::new(server.addr.clone());
    let threads: Vec<_> = (0..20)
        .map(|i| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let body = format!(r#"{{"login":"ana","password":"guess-{i}"}}"#);
                http(&addr, "POST", "/v1/login", Some(&body))
                    .expect("answer")
                    .0
            })
        })
        .collect();
    let mut statuses: Vec<u16> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        15,
        "{statuses:?}"
    );
    assert_eq!(
        c.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'login_failed'"),
        20
    );
}
}

#[test]
fn logins_beyond_the_password_check_cap_get_503_with_retry_after() {
    let c = Custodia::demo(Backend::Sqlite);
    let server = serve(&c, &["--max-password-checks", "0"]);
    let body = r#"{"login":"ana","password":"demo-ana"}"#;
    let request = format!(
        "POST /v1/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let response = raw(&server.addr, request.as_bytes()).to_lowercase();
    assert!(response.starts_with("http/1.1 503"), "{response}");
    assert!(response.contains("retry-after: 1"), "{response}");
}

#[test]
fn two_servers_on_one_postgresql_keep_one_linear_chain() {
    let c = Custodia::demo(Backend::Postgres);
    let servers = [serve(&c, &[]), serve(&c, &[])];
    let before = c.count("SELECT COUNT(*) FROM audit_events WHERE org = 'bufete-ruiz'");
    let tokens: Vec<String> = servers
        .iter()
        .map(|s| login(&s.addr, "ana", "demo-ana"))
        .collect();
    let logins = 2;
    const TOTAL: usize = 10_000;
    let answered = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..8)
        .map(|t| {
            let (addr, token) = (servers[t % 2].addr.clone(), tokens[t % 2].clone());
            let (answered, next) = (answered.clone(), next.clone());
            std::thread::spawn(move || {
                while next.fetch_add(1, Ordering::Relaxed) < TOTAL {
                    let body = r#"{"action":"view","resource":"customer:C-1001"}"#;
                    let (status, text) =
                        http_auth(&addr, "POST", "/v1/decisions", Some(body), Some(&token))
                            .expect("answer");
                    assert_eq!(status, 200, "{text}");
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("client");
    }
    let answered = answered.load(Ordering::Relaxed) as i64;
    assert_eq!(answered, TOTAL as i64);
    let events = c.count("SELECT COUNT(*) FROM audit_events WHERE org = 'bufete-ruiz'");
    assert_eq!(
        events - before,
        answered + logins,
        "one event per answer, no more, no less"
    );
    let (max, distinct) = (
        c.count("SELECT MAX(seq) FROM audit_events WHERE org = 'bufete-ruiz'"),
        c.count("SELECT COUNT(DISTINCT seq) FROM audit_events WHERE org = 'bufete-ruiz'"),
    );
    assert_eq!(
        (max, distinct),
        (events, events),
        "sequence numbers 1..n, none twice"
    );
    // An unsubscribe link signed by one server works on the other.
    let key =
        custodia_mailguard::TokenKey::load(&c.path("custodia-mail.key")).expect("shared token key");
    let token = key.sign(&custodia_mailguard::TokenClaims {
        org: "bufete-ruiz".into(),
        campaign: "two-servers".into(),
        address: "someone@correo.example".into(),
    });
    let (status, _) =
        http(&servers[1].addr, "POST", &format!("/u/{token}"), None).expect("unsubscribe");
    assert_eq!(status, 200);
    drop(servers);
    let verify = c.ok(&["audit", "verify", "--org", "bufete-ruiz"]);
    assert!(verify.starts_with("ok "), "{verify}");
}
