//! Custodia's mail guard: marketing campaigns filtered against the opt-out
//! list, consents, the Robinson list and the rules engine, then sent over
//! SMTP, never to someone who opted out and never twice.
//!
//! ```no_run
//! # async fn demo(org: &custodia_engine::OrgStore, rules: &custodia_engine::rules::RuleSet) -> custodia_mailguard::Result<()> {
//! use custodia_mailguard::{Campaign, plan};
//!
//! let campaign = Campaign::read(std::path::Path::new("newsletter.toml"))?;
//! let plan = plan(org, &campaign, rules, 90).await?;
//! println!("{} kept, excluded: {:?}", plan.summary.kept, plan.summary.excluded);
//! # Ok(()) }
//! ```

mod address;
mod campaign;
mod error;
mod history;
mod key_set;
pub mod mailbox;
mod notice;
mod plan;
mod send;
pub mod suppression;
mod token;
mod unsubscribe;

pub use address::Address;
pub use campaign::{Audience, Campaign, ListedRecipient, Rendered, Renderer, TemplateContext};
pub use error::{Error, Result};
pub use history::history;
pub use mailbox::{MailboxImport, import_mailbox};
pub use notice::{NoticeRecipient, NoticeReport, NoticeSender, RenderNotice, send_breach_notice};
pub use plan::{Exclusion, Plan, PlanSummary, Planned, plan, plan_each};
pub use send::{
    DkimSigner, OutboxStatus, Progress, RateWindow, SendConfig, SendReport, send, status,
};
pub use token::{TokenClaims, TokenKey, default_key_path};
pub use unsubscribe::{UnsubscribeState, router};
