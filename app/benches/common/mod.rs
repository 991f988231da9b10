//! What the core's benchmarks share: sizes from the environment,
//! percentiles of sorted timings, and the demo's law firm grown to size.

#![allow(dead_code, reason = "each bench uses part of it")]

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use custodia_app::{Config, Custodia};
use custodia_engine::exchange::OrgFile;
use custodia_engine::{Customer, CustomerId};

/// A size from the environment variable `name`, else `default`.
pub fn size(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `p` quantile (0..=1) of timings sorted ascending.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// The demo's law firm with `n` more customers cloned from its first one
/// (ids `S-000000`…, no area passwords), each shaped by `shape` with its
/// index.
pub fn demo_firm(n: usize, mut shape: impl FnMut(&mut Customer, usize)) -> OrgFile {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../plugins/demo/bufete-ruiz.toml"
    );
    let mut file = OrgFile::read(std::path::Path::new(path)).expect("demo organisation");
    let template = file.customers[0].clone();
    for i in 0..n {
        let mut c = template.clone();
        c.id = CustomerId::new(format!("S-{i:06}")).expect("id");
        c.email = Some(format!("s{i}@bench.example"));
        for area in &mut c.areas {
            area.password_hash = None;
        }
        shape(&mut c, i);
        file.customers.push(c);
    }
    file
}

/// Runs a bench's body on a multi-threaded runtime, as the server does.
pub fn run_on_tokio(body: impl Future<Output = ()>) {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(body);
}

/// The core over a fresh SQLite store in `dir`, with the repository's
/// rule packs.
pub async fn open_core(dir: &Path) -> Custodia {
    let mut config = Config::new(format!("sqlite://{}", dir.join("bench.db").display()));
    config.packs = Some(concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/packs").into());
    Custodia::open(&config).await.expect("open")
}

/// `runs` timings of `work`, after `warm_up` untimed calls.
pub async fn time<F, Fut>(warm_up: usize, runs: usize, mut work: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    for _ in 0..warm_up {
        work().await;
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        work().await;
        times.push(t.elapsed());
    }
    times
}
