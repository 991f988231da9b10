//! End-to-end tests: they run the built `custodia` binary, as a user would.
//! One test binary; `./test.sh` provides the PostgreSQL server.

#![allow(clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

mod commands;
mod core;
mod crash;
mod decisions;
mod documents;
mod foundation;
mod legal;
mod mail;
mod plugins;
mod registers;
mod reports;
mod rights;
mod server;
mod vault;
mod web;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use custodia_engine::Backend;
use serde_json::Value;

/// The compliance officer of each demo organisation (any name for an
/// organisation that does not exist: the command then fails on it).
pub fn officer(org: &str) -> &'static str {
    match org {
        "bufete-ruiz" => "rocio",
        "clinica-norte" => "dolores",
        "estudio-arco" => "merce",
        "gestoria-iberia" => "ines",
        "tienda-verde" => "hugo",
        _ => "officer",
    }
}

/// A scratch store and a way to run `custodia` against it.
#[derive(Debug)]
pub struct Custodia {
    pub db: String,
    pub dir: tempfile::TempDir,
}

impl Custodia {
    /// A fresh, empty store on `backend` (not yet initialised).
    pub fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let db = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("custodia.db").display()),
            Backend::Postgres => {
                runtime()
                    .block_on(custodia_engine::testkit::scratch_database(backend))
                    .0
            }
        };
        Self { db, dir }
    }

    /// A fresh store holding the demo organisations.
    pub fn demo(backend: Backend) -> Self {
        let c = Self::new(backend);
        c.ok(&["demo"]);
        c
    }

    /// `custodia --db <db>` in the store's folder, to add arguments and
    /// environment to.
    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_custodia"));
        command
            .arg("--db")
            .arg(&self.db)
            .current_dir(self.dir.path())
            .env_remove("CUSTODIA_DB")
            .env("RUST_BACKTRACE", "0");
        command
    }

    /// `custodia decide --worker W --action A --resource R --json` and
    /// `extra` arguments; the decision as JSON.
    pub fn decide(&self, worker: &str, action: &str, resource: &str, extra: &[&str]) -> Value {
        self.ask("decide", worker, action, resource, extra)
    }

    /// The same request through `command` (`decide` or `explain`).
    pub fn ask(
        &self,
        command: &str,
        worker: &str,
        action: &str,
        resource: &str,
        extra: &[&str],
    ) -> Value {
        let mut args = vec![
            command,
            "--worker",
            worker,
            "--action",
            action,
            "--resource",
            resource,
            "--json",
        ];
        args.extend_from_slice(extra);
        serde_json::from_str(&self.ok(&args)).expect("decision JSON")
    }

    /// `command` with `args`; reports and register entries, which
    /// must name who acts, act as the organisation's compliance officer
    /// unless the test names someone with `--as`.
    pub fn command_with(&self, args: &[&str]) -> Command {
        let mut command = self.command();
        command.args(args);
        let verb = args.iter().find(|a| !a.starts_with("--"));
        let acts = matches!(verb, Some(&"report" | &"add")) && !args.contains(&"--as");
        let org = args
            .iter()
            .position(|a| *a == "--org")
            .and_then(|i| args.get(i + 1));
        if let (true, Some(org)) = (acts, org) {
            command.env("CUSTODIA_AS", officer(org));
        }
        command
    }

    /// Runs `custodia --db <db> args...`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command_with(args).output().expect("run custodia")
    }

    /// Runs and expects success; returns standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "custodia {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    /// Runs and expects failure; returns standard error.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "custodia {args:?} should have failed"
        );
        String::from_utf8(out.stderr).expect("UTF-8 errors")
    }

    /// Runs with `input` on standard input.
    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .command_with(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run custodia");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("wait")
    }

    /// Runs with input and expects success.
    pub fn ok_with_stdin(&self, args: &[&str], input: &str) -> String {
        let out = self.run_with_stdin(args, input);
        assert!(
            out.status.success(),
            "custodia {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    /// Runs with input and expects failure; returns standard error.
    pub fn fails_with_stdin(&self, args: &[&str], input: &str) -> String {
        let out = self.run_with_stdin(args, input);
        assert!(
            !out.status.success(),
            "custodia {args:?} should have failed"
        );
        String::from_utf8(out.stderr).expect("UTF-8 errors")
    }

    /// Runs SQL on the store directly, behind Custodia's back, as someone
    /// tampering with the database would.
    pub fn tamper(&self, sql: &str) {
        runtime().block_on(async {
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&self.db)
                .await
                .expect("open the database directly");
            sqlx::query(sql).execute(&pool).await.expect("tamper");
            pool.close().await;
        });
    }

    /// One number from the store, read directly (`SELECT COUNT(*) ...`).
    pub fn count(&self, sql: &str) -> i64 {
        runtime().block_on(async {
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&self.db)
                .await
                .expect("open the database directly");
            let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&pool).await.expect("count");
            pool.close().await;
            n
        })
    }

    /// A copy of this store (database and key files) as it is now, to
    /// compare what two identical stores produce.
    pub fn snapshot(&self) -> Custodia {
        let dir = tempfile::tempdir().expect("snapshot directory");
        for entry in std::fs::read_dir(self.dir.path())
            .expect("store dir")
            .flatten()
        {
            if entry.path().is_file() {
                std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
            }
        }
        let db = match self.db.rsplit_once('/') {
            Some((server, name)) if self.db.starts_with("postgres") => {
                let copy = format!("{name}_snapshot");
                let admin =
                    std::env::var(custodia_engine::testkit::PG_URL_VAR).expect("PostgreSQL URL");
                runtime().block_on(async {
                    sqlx::any::install_default_drivers();
                    let pool = sqlx::AnyPool::connect(&admin).await.expect("connect");
                    sqlx::query(&format!("CREATE DATABASE {copy} TEMPLATE {name}"))
                        .execute(&pool)
                        .await
                        .expect("copy the database");
                    pool.close().await;
                });
                format!("{server}/{copy}")
            }
            _ => format!("sqlite://{}", dir.path().join("custodia.db").display()),
        };
        Custodia { db, dir }
    }

    /// A path inside the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A port nothing listens on now, for a helper server to take.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port()
}

/// A process started for a test (a helper server, Custodia's own), killed
/// when dropped, also when an assertion fails.
#[derive(Debug)]
pub struct Helper(pub std::process::Child);

impl Helper {
    /// Starts `command` quietly and waits until it listens on `port`;
    /// `what` names it, and where it comes from, if it does not.
    pub fn start(command: &mut Command, port: u16, what: &str) -> Self {
        let child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        let helper = Helper(child);
        wait_listening(port, what, std::time::Duration::from_secs(10));
        helper
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something listens on `port`; `what` names it if it never
/// does within `within`.
pub fn wait_listening(port: u16, what: &str, within: std::time::Duration) {
    let deadline = std::time::Instant::now() + within;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A command's JSON output, parsed.
pub fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("JSON output")
}

/// The repository's root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a test body against each backend, as two named tests.
#[macro_export]
macro_rules! on_both_backends {
    ($(fn $name:ident($backend:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports, reason = "each test body uses a different subset")]
            use super::*;

            fn body($backend: custodia_engine::Backend) $body

            #[test]
            fn sqlite() {
                body(custodia_engine::Backend::Sqlite);
            }

            #[test]
            fn postgres() {
                body(custodia_engine::Backend::Postgres);
            }
        }
    )*};
}

/// A minimal HTTP/1.1 client for tests: one request per connection.
/// Returns the status and body, or `None` if the connection failed.
pub fn http(addr: &str, method: &str, path: &str, body: Option<&str>) -> Option<(u16, String)> {
    http_auth(addr, method, path, body, None)
}

/// The same, with a bearer token.
pub fn http_auth(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .ok()?;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n{}Content-Length: {}\r\n\r\n{body}",
        token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default(),
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let (_, body) = response.split_once("\r\n\r\n")?;
    Some((status, body.to_owned()))
}
