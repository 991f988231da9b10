//! `custodia rules bench`, in the manner of `opa bench`: how long the packs
//! in force take to decide one request, for the people who write packs.

use std::time::{Duration, Instant};

use custodia_engine::OrgSlug;
use custodia_engine::rules::{Decision, Facts, Request};
use serde::Serialize;

use crate::Custodia;
use crate::error::{Error, Result};

/// The timings of many decisions of one request.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionTimings {
    /// What the packs decided (the same every time).
    pub decision: Decision,
    pub runs: usize,
    pub warmup: usize,
    pub p50_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
    pub decisions_per_second: f64,
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

impl Custodia {
    /// Times `runs` decisions of `request` against the packs in force, after
    /// a warm-up. The facts are read from the store once; each run is the
    /// engine's decision path alone (plugins, rules, combination, with the
    /// copy of the facts every decision takes), without the store or the
    /// audit log. Nothing is recorded: no one's data is accessed.
    pub async fn time_decisions(
        &self,
        org: &OrgSlug,
        request: &Request,
        runs: usize,
    ) -> Result<DecisionTimings> {
        let scope = self.store().org(org).await?;
        let sectors = scope.organisation().sectors.clone();
        // Facts in hand, shared with each decision as the engine shares
        // them with its rules: the timing is the decision's alone.
        let facts = std::sync::Arc::new(Facts::from_store(&scope, request).await?);
        let set = self.rules();
        let runs = runs.max(1);
        let warmup = (runs / 10).clamp(1, 1_000);
        tokio::task::spawn_blocking(move || {
            for _ in 0..warmup {
                set.decide(&sectors, facts.clone());
            }
            let mut times = Vec::with_capacity(runs);
            let mut decision = None;
            let started = Instant::now();
            for _ in 0..runs {
                let t = Instant::now();
                decision = Some(set.decide(&sectors, facts.clone()));
                times.push(t.elapsed());
            }
            let total = started.elapsed();
            times.sort_unstable();
            let at = |q: f64| {
                let i = ((times.len() as f64 - 1.0) * q).round();
                times[i as usize]
            };
            DecisionTimings {
                decision: decision.unwrap_or_else(|| set.decide(&sectors, facts.clone())),
                runs,
                warmup,
                p50_us: micros(at(0.5)),
                p99_us: micros(at(0.99)),
                mean_us: micros(total) / runs as f64,
                decisions_per_second: runs as f64 / total.as_secs_f64(),
            }
        })
        .await
        .map_err(|e| Error::Engine(custodia_engine::Error::Pack(format!("bench: {e}"))))
    }
}
