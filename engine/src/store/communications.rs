//! Customers' commercial-communication status (opt-out, consent), for the
//! mail guard. Every query is scoped to one organisation, inside the
//! caller's change when it writes, so the guard never touches the
//! customers table itself.

use super::OrgStore;
use crate::audit::Change;
use crate::error::Result;

/// A customer's opt-out, as the suppression list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerOptOut {
    pub id: String,
    pub email: Option<String>,
    pub date: String,
    pub channel: String,
}

impl OrgStore {
    /// Every customer with an email: (id, email).
    pub async fn customer_emails(&self) -> Result<Vec<(String, String)>> {
        Ok(
            sqlx::query_as("SELECT id, email FROM customers WHERE org = $1 AND email IS NOT NULL")
                .bind(self.slug().as_str())
                .fetch_all(self.store().pool())
                .await?,
        )
    }

    /// Every customer who opted out.
    pub async fn customer_opt_outs(&self) -> Result<Vec<CustomerOptOut>> {
        let rows: Vec<(String, Option<String>, String, String)> = sqlx::query_as(
            "SELECT id, email, opt_out_date, opt_out_channel FROM customers WHERE org = $1 AND opt_out_date IS NOT NULL",
        )
        .bind(self.slug().as_str())
        .fetch_all(self.store().pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, email, date, channel)| CustomerOptOut {
                id,
                email,
                date,
                channel,
            })
            .collect())
    }
}

// INVARIANT: every statement binds `change.org()`: the guard can reach
// only the organisation it began the change for.
impl Change {
    /// Customers whose email matches `email` ignoring case: (id, email).
    pub async fn customers_with_email(&mut self, email: &str) -> Result<Vec<(String, String)>> {
        let org = self.org().to_string();
        Ok(sqlx::query_as(
            "SELECT id, email FROM customers WHERE org = $1 AND lower(email) = lower($2)",
        )
        .bind(org)
        .bind(email)
        .fetch_all(&mut **self.tx())
        .await?)
    }

    /// Records a customer's opt-out (kept if one is already recorded).
    pub async fn opt_out_customer(&mut self, id: &str, date: &str, channel: &str) -> Result<()> {
        let org = self.org().to_string();
        sqlx::query("UPDATE customers SET opt_out_date = $3, opt_out_channel = $4 WHERE org = $1 AND id = $2 AND opt_out_date IS NULL")
            .bind(org)
            .bind(id)
            .bind(date)
            .bind(channel)
            .execute(&mut **self.tx())
            .await?;
        Ok(())
    }

    /// Lifts a customer's opt-out, recording the new consent that does so.
    pub async fn record_new_consent(&mut self, id: &str, source: &str, date: &str) -> Result<()> {
        let org = self.org().to_string();
        sqlx::query(
            "UPDATE customers SET opt_out_date = NULL, opt_out_channel = NULL, consent_source = $3, consent_date = $4 WHERE org = $1 AND id = $2",
        )
        .bind(org)
        .bind(id)
        .bind(source)
        .bind(date)
        .execute(&mut **self.tx())
        .await?;
        Ok(())
    }
}
