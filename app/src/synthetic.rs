//! A synthetic organisation of any size, for benchmarks and for checking
//! Custodia from outside: deterministic, written in bulk, audited like
//! any other change.

use custodia_engine::audit::AuditEvent;
use custodia_engine::exchange::{ImportSummary, OrgFile};
use custodia_engine::rules::{
    Action, Context, Decision, Effect, Reason, Request, ResourceRef, RuleEffect,
};
use custodia_mailguard::{Address, suppression};

use crate::Custodia;
use crate::error::Result;

/// Events written per transaction.
const EVENT_BATCH: usize = 20_000;

/// What was added.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyntheticSummary {
    pub import: ImportSummary,
    pub events: usize,
    pub opt_outs: usize,
}

impl Custodia {
    /// Imports `file` (the synthetic organisation), then `events`
    /// decisions on its customers and `opt_outs` opted-out addresses.
    pub async fn add_synthetic(
        &self,
        file: &OrgFile,
        events: usize,
        opt_outs: usize,
    ) -> Result<SyntheticSummary> {
        let import = self.import_org(file, true, "synthetic data").await?;
        let org = &file.organisation.slug;
        let workers: Vec<_> = file.workers.iter().map(|w| w.login.clone()).collect();
        let customers: Vec<_> = file.customers.iter().map(|c| c.id.clone()).collect();
        let mut written = 0;
        while written < events && !workers.is_empty() && !customers.is_empty() {
            let n = EVENT_BATCH.min(events - written);
            let batch: Vec<AuditEvent> = (written..written + n)
                .map(|i| {
                    let worker = workers[i % workers.len()].clone();
                    let customer = &customers[(i.wrapping_mul(2_654_435_761)) % customers.len()];
                    synthetic_decision(worker, customer.clone(), i)
                })
                .collect();
            self.audit().append_many(org, batch).await?;
            written += n;
        }
        let addresses: Vec<Address> = (0..opt_outs)
            .map(|i| Address::parse(&format!("baja{i}@synthetic.example")))
            .collect::<std::result::Result<_, _>>()?;
        if !addresses.is_empty() {
            suppression::import_opt_outs(self.store(), org, &addresses, "import", "synthetic data")
                .await?;
        }
        Ok(SyntheticSummary {
            import,
            events: written,
            opt_outs: addresses.len(),
        })
    }
}

/// Decision `i`: a view of a customer, one in thirteen denied.
fn synthetic_decision(
    worker: custodia_engine::WorkerLogin,
    customer: custodia_engine::CustomerId,
    i: usize,
) -> AuditEvent {
    let request = Request {
        worker,
        action: Action::View,
        resource: ResourceRef::Customer(customer.clone()),
        context: Context::new(chrono::Utc::now(), "synthetic"),
    };
    let allowed = i % 13 != 0;
    let decision = Decision::combine(vec![Reason {
        pack: "legal".into(),
        rule: "lawyer-in-charge".into(),
        effect: if allowed {
            RuleEffect::Allow
        } else {
            RuleEffect::Deny
        },
        message: "synthetic".into(),
        fields: Vec::new(),
    }]);
    debug_assert_eq!(
        decision.effect,
        if allowed { Effect::Allow } else { Effect::Deny }
    );
    AuditEvent::decision(&request, &decision, Some(customer.as_str()), None, None)
}
