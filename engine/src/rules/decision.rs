//! What the rules answer, and why.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The final answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    /// The effect's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one rule said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleEffect {
    Allow,
    Deny,
    Mask,
    /// The rule failed (error, limit exceeded): counted as a deny.
    Error,
}

/// One rule's contribution to a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub pack: String,
    pub rule: String,
    pub effect: RuleEffect,
    pub message: String,
    /// For masks: the fields to hide.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// The answer to a request: allow or deny, the rules that produced it,
/// and the fields to mask when allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Allow or deny (`"decision"` in JSON, as the API has always said).
    #[serde(rename = "decision")]
    pub effect: Effect,
    pub reasons: Vec<Reason>,
    pub mask: Vec<String>,
}

impl Decision {
    /// Combines rule outcomes: any deny or error denies; otherwise at least
    /// one allow is needed; masks apply only to an allow.
    // INVARIANT: deny overrides allow, and no allow means deny. This is the
    // only place outcomes are combined.
    pub fn combine(reasons: Vec<Reason>) -> Self {
        let denied = reasons
            .iter()
            .any(|r| matches!(r.effect, RuleEffect::Deny | RuleEffect::Error));
        let allowed = reasons.iter().any(|r| r.effect == RuleEffect::Allow);
        let effect = if allowed && !denied {
            Effect::Allow
        } else {
            Effect::Deny
        };
        let mut mask: Vec<String> = if effect == Effect::Allow {
            reasons
                .iter()
                .filter(|r| r.effect == RuleEffect::Mask)
                .flat_map(|r| r.fields.iter().cloned())
                .collect()
        } else {
            Vec::new()
        };
        mask.sort();
        mask.dedup();
        Decision {
            effect,
            reasons,
            mask,
        }
    }

    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.effect == Effect::Allow
    }

    /// The names of the rules that decided, `pack/rule`, allow and deny.
    pub fn rule_names(&self) -> Vec<String> {
        self.reasons
            .iter()
            .map(|r| format!("{}/{}", r.pack, r.rule))
            .collect()
    }
}

/// Why a rule did not contribute to a decision (for `explain`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub pack: String,
    pub rule: String,
    pub why: String,
}

/// A decision with every rule accounted for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    #[serde(flatten)]
    pub decision: Decision,
    pub skipped: Vec<Skipped>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(effect: RuleEffect, message: &str) -> Reason {
        Reason {
            pack: "p".into(),
            rule: "r".into(),
            effect,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    #[test]
    fn no_rule_means_deny() {
        assert_eq!(Decision::combine(vec![]).effect, Effect::Deny);
    }

    #[test]
    fn deny_overrides_allow_and_errors_deny() {
        let allow = reason(RuleEffect::Allow, "ok");
        assert!(Decision::combine(vec![allow.clone()]).is_allowed());
        assert!(
            !Decision::combine(vec![allow.clone(), reason(RuleEffect::Deny, "no")]).is_allowed()
        );
        assert!(!Decision::combine(vec![allow, reason(RuleEffect::Error, "boom")]).is_allowed());
    }

    #[test]
    fn masks_apply_only_to_allowed_decisions() {
        let mask = Reason {
            fields: vec!["tax_id".into(), "phone".into()],
            ..reason(RuleEffect::Mask, "personal data")
        };
        let d = Decision::combine(vec![reason(RuleEffect::Allow, "ok"), mask.clone()]);
        assert_eq!(d.mask, vec!["phone".to_string(), "tax_id".to_string()]);
        assert!(Decision::combine(vec![mask]).mask.is_empty());
    }
}
