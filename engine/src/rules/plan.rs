//! Plans: what a request of one (action, resource kind) runs, for one
//! selection of packs, worked out once and kept: its rules in index
//! order, its plugins, and what its default deny says. Before, every
//! decision filtered the packs, collected the plugins and formatted the
//! list of rules considered again.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::request::{Action, ResourceKind};

/// (pack index, rule index)
pub(super) type RuleRef = (usize, usize);

/// What a request of one (action, kind) runs, for one selection of packs.
pub(super) struct Plan {
    /// The rules that run, in index order.
    pub rules: Vec<RuleRef>,
    /// The plugins that run: (pack index, plugin index).
    pub plugins: Vec<(usize, usize)>,
    /// What a default deny says: the rules and plugins considered.
    pub default_deny: String,
}

/// Plans kept by (selected packs, action, kind).
#[derive(Default)]
pub(super) struct Plans {
    kept: RwLock<HashMap<(u64, Action, ResourceKind), Arc<Plan>>>,
}

impl Plans {
    /// The plan kept under `key`, or the one `build` makes, kept for next time.
    pub fn get_or_build(
        &self,
        key: (u64, Action, ResourceKind),
        build: impl FnOnce() -> Plan,
    ) -> Arc<Plan> {
        // A poisoned lock only means a reader panicked; plans are immutable.
        if let Some(plan) = self
            .kept
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return plan.clone();
        }
        let plan = Arc::new(build());
        self.kept
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_insert(plan)
            .clone()
    }
}
