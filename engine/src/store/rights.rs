//! The register of rights requests, and what a granted one does to the
//! record (blocking, restriction): each change commits with its event,
//! which names the customer by id and the request, never their data.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::OrgStore;
use crate::audit::{AuditEvent, Change, EventKind};
use crate::domain::{
    CustomerId, IdentityCheck, RequestStatus, Restriction, RightKind, RightsRequest, WorkerLogin,
    extended_deadline, first_deadline,
};
use crate::error::{Error, Result};

const COLUMNS: &str = "id, customer, kind, received, channel, identity_check, identity_checked_by, \
     identity_checked_at, due, extension_reason, status, answered_at, answer, purged_at";

/// A request as it is received.
#[derive(Debug, Clone)]
pub struct NewRightsRequest<'a> {
    pub customer: &'a CustomerId,
    pub kind: RightKind,
    pub received: NaiveDate,
    pub channel: &'a str,
    /// How the requester's identity was checked, when it was.
    pub identity_check: Option<&'a str>,
}

/// How a request is answered.
#[derive(Debug, Clone, Copy)]
pub enum Answer<'a> {
    /// Granted; a blocking or restriction to set on the record, if any.
    Grant {
        text: &'a str,
        restriction: Option<Restriction>,
    },
    Refuse {
        text: &'a str,
    },
}

fn micros(t: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    t.map(|m| DateTime::from_timestamp_micros(m).ok_or_else(|| Error::corrupt(format!("time {m}"))))
        .transpose()
}

fn date(text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| Error::corrupt(format!("rights request date `{text}`")))
}

fn request_from_row(row: &AnyRow) -> Result<RightsRequest> {
    let identity = match (
        row.try_get::<Option<String>, _>("identity_check")?,
        row.try_get::<Option<String>, _>("identity_checked_by")?,
        micros(row.try_get("identity_checked_at")?)?,
    ) {
        (Some(how), Some(by), Some(at)) => Some(IdentityCheck {
            how,
            by: WorkerLogin::new(by)?,
            at,
        }),
        _ => None,
    };
    let status = row.try_get::<String, _>("status")?;
    Ok(RightsRequest {
        id: row.try_get("id")?,
        customer: CustomerId::new(row.try_get::<String, _>("customer")?)?,
        kind: row.try_get::<String, _>("kind")?.parse()?,
        received: date(&row.try_get::<String, _>("received")?)?,
        channel: row.try_get("channel")?,
        identity,
        due: date(&row.try_get::<String, _>("due")?)?,
        extension_reason: row.try_get("extension_reason")?,
        status: RequestStatus::parse(&status)
            .ok_or_else(|| Error::corrupt(format!("rights request status `{status}`")))?,
        answered_at: micros(row.try_get("answered_at")?)?,
        answer: row.try_get("answer")?,
        purged_at: micros(row.try_get("purged_at")?)?,
    })
}

impl OrgStore {
    /// Every request, newest first.
    pub async fn rights_requests(&self) -> Result<Vec<RightsRequest>> {
        let sql = format!("SELECT {COLUMNS} FROM rights_requests WHERE org = $1 ORDER BY id DESC");
        let rows = sqlx::query(&sql)
            .bind(self.slug().as_str())
            .fetch_all(self.store.pool())
            .await?;
        rows.iter().map(request_from_row).collect()
    }

    /// One request.
    pub async fn rights_request(&self, id: i64) -> Result<RightsRequest> {
        let sql = format!("SELECT {COLUMNS} FROM rights_requests WHERE org = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(self.slug().as_str())
            .bind(id)
            .fetch_optional(self.store.pool())
            .await?;
        row.as_ref()
            .map(request_from_row)
            .transpose()?
            .ok_or_else(|| self.not_found("rights request", &id.to_string()))
    }

    fn rights_event(
        &self,
        request: &RightsRequest,
        worker: Option<&WorkerLogin>,
        what: &str,
    ) -> AuditEvent {
        let mut event = AuditEvent::new(EventKind::Rights, Utc::now());
        event.worker = worker.map(ToString::to_string);
        event.action = Some(request.kind.as_str().to_owned());
        event.resource = Some(format!("rights-request:{}", request.id));
        event.customer = Some(request.customer.to_string());
        event.detail = Some(format!(
            "{} request #{} ({}) {what}",
            request.kind,
            request.id,
            request.kind.article()
        ));
        event
    }

    /// Records a new request (the customer must exist), due one month
    /// after receipt; audited.
    pub async fn open_rights_request(
        &self,
        new: &NewRightsRequest<'_>,
        worker: Option<&WorkerLogin>,
    ) -> Result<RightsRequest> {
        self.customer(new.customer).await?;
        let mut change = Change::begin(&self.store, self.slug()).await?;
        let tx = change.tx();
        // The head lock `Change::begin` holds serialises openings per
        // organisation, so the next id cannot be taken twice.
        let (last,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(id) FROM rights_requests WHERE org = $1")
                .bind(self.slug().as_str())
                .fetch_one(&mut **tx)
                .await?;
        let now = Utc::now();
        let request = RightsRequest {
            id: last.unwrap_or(0) + 1,
            customer: new.customer.clone(),
            kind: new.kind,
            received: new.received,
            channel: new.channel.to_owned(),
            identity: match (new.identity_check, worker) {
                (Some(how), Some(by)) => Some(IdentityCheck {
                    how: how.to_owned(),
                    by: by.clone(),
                    at: now,
                }),
                _ => None,
            },
            due: first_deadline(new.received),
            extension_reason: None,
            status: RequestStatus::Open,
            answered_at: None,
            answer: None,
            purged_at: None,
        };
        let sql = format!(
            "INSERT INTO rights_requests (org, {COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        );
        sqlx::query(&sql)
            .bind(self.slug().as_str())
            .bind(request.id)
            .bind(request.customer.as_str())
            .bind(request.kind.as_str())
            .bind(request.received.to_string())
            .bind(&request.channel)
            .bind(request.identity.as_ref().map(|i| i.how.clone()))
            .bind(request.identity.as_ref().map(|i| i.by.to_string()))
            .bind(request.identity.as_ref().map(|i| i.at.timestamp_micros()))
            .bind(request.due.to_string())
            .bind(None::<String>)
            .bind(request.status.as_str())
            .bind(None::<i64>)
            .bind(None::<String>)
            .bind(None::<i64>)
            .execute(&mut **tx)
            .await?;
        let event = self.rights_event(
            &request,
            worker,
            &format!(
                "received {} by {}, due {}",
                request.received, request.channel, request.due
            ),
        );
        change.record(event);
        change.commit().await?;
        Ok(request)
    }

    /// Extends an open request by two months, with the reason the
    /// requester is told (art. 12.3); audited.
    pub async fn extend_rights_request(
        &self,
        id: i64,
        reason: &str,
        worker: Option<&WorkerLogin>,
    ) -> Result<RightsRequest> {
        let mut request = self.rights_request(id).await?;
        if !request.is_open() || request.extension_reason.is_some() {
            return Err(Error::InvalidValue {
                kind: "rights request",
                value: id.to_string(),
                reason: "only an open request may be extended, and only once",
            });
        }
        request.due = extended_deadline(request.received);
        request.extension_reason = Some(reason.to_owned());
        let mut change = Change::begin(&self.store, self.slug()).await?;
        sqlx::query(
            "UPDATE rights_requests SET due = $3, extension_reason = $4 WHERE org = $1 AND id = $2",
        )
        .bind(self.slug().as_str())
        .bind(id)
        .bind(request.due.to_string())
        .bind(reason)
        .execute(&mut **change.tx())
        .await?;
        let event = self.rights_event(&request, worker, &format!("extended to {}", request.due));
        change.record(event);
        change.commit().await?;
        Ok(request)
    }

    /// Answers an open request; a grant may block or restrict the record
    /// in the same transaction as the answer and its event.
    pub async fn answer_rights_request(
        &self,
        id: i64,
        answer: Answer<'_>,
        worker: Option<&WorkerLogin>,
    ) -> Result<RightsRequest> {
        let mut request = self.rights_request(id).await?;
        if !request.is_open() {
            return Err(Error::InvalidValue {
                kind: "rights request",
                value: id.to_string(),
                reason: "is already answered",
            });
        }
        let now = Utc::now();
        let (status, text, restriction) = match answer {
            Answer::Grant { text, restriction } => (RequestStatus::Granted, text, restriction),
            Answer::Refuse { text } => (RequestStatus::Refused, text, None),
        };
        request.status = status;
        request.answered_at = Some(now);
        request.answer = Some(text.to_owned());
        let mut change = Change::begin(&self.store, self.slug()).await?;
        let tx = change.tx();
        sqlx::query(
            "UPDATE rights_requests SET status = $3, answered_at = $4, answer = $5 WHERE org = $1 AND id = $2",
        )
        .bind(self.slug().as_str())
        .bind(id)
        .bind(status.as_str())
        .bind(now.timestamp_micros())
        .bind(text)
        .execute(&mut **tx)
        .await?;
        if let Some(restriction) = restriction {
            set_restriction(tx, self, &request.customer, Some(restriction), now).await?;
        }
        let mut what = status.as_str().to_owned();
        if let Some(r) = restriction {
            what.push_str(&format!("; record {}", r.as_str()));
        }
        change.record(self.rights_event(&request, worker, &what));
        change.commit().await?;
        Ok(request)
    }

    /// Lifts a restriction (art. 18.3: the requester is told first);
    /// audited. A blocking is never lifted: it ends with the purge.
    pub async fn lift_restriction(
        &self,
        request: &RightsRequest,
        worker: Option<&WorkerLogin>,
    ) -> Result<()> {
        let customer = self.customer(&request.customer).await?;
        if customer.restriction != Some(Restriction::Restricted) {
            return Err(Error::InvalidValue {
                kind: "customer",
                value: customer.id.to_string(),
                reason: "is not restricted (a blocked record is never unblocked)",
            });
        }
        let mut change = Change::begin(&self.store, self.slug()).await?;
        set_restriction(change.tx(), self, &request.customer, None, Utc::now()).await?;
        change.record(self.rights_event(request, worker, "restriction lifted"));
        change.commit().await?;
        Ok(())
    }
}

/// What a purge deleted, for the caller to finish outside the database.
#[derive(Debug, Clone, Default)]
pub struct Purged {
    /// The blob addresses of the record's documents: sealed under the
    /// destroyed key, unreadable now; the caller removes the blobs.
    pub blobs: Vec<String>,
    /// Whether the customer had a data key to destroy.
    pub key_destroyed: bool,
}

/// Deletes every row of one customer in `tables` (`customer` column).
async fn delete_rows_of(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org: &OrgStore,
    customer: &CustomerId,
    tables: &[&str],
) -> Result<()> {
    for table in tables {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE org = $1 AND customer = $2"
        ))
        .bind(org.slug().as_str())
        .bind(customer.as_str())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl OrgStore {
    /// Purges the record of a granted erasure (GDPR art. 17, once the
    /// LOPDGDD art. 32 blocking has run its course), in one transaction
    /// with its audit event: the customer's rows are deleted, their data
    /// key destroyed (so copies left behind, in dead rows or backups, can
    /// no longer be decrypted), and their address, normalised by the
    /// caller as `address_key`, kept only as a keyed hash so they are
    /// never mailed again (art. 21.3). The request, the audit events (by
    /// customer id) and the breach notices (address replaced) remain as
    /// evidence. The caller checks the retention.
    pub async fn purge_customer(
        &self,
        request: &RightsRequest,
        worker: Option<&WorkerLogin>,
        address_key: Option<&str>,
        reason: &str,
    ) -> Result<Purged> {
        let customer = &request.customer;
        let org = self.slug().as_str();
        let vault = self.store().vault()?;
        let now = Utc::now();
        let mut change = Change::begin(&self.store, self.slug()).await?;
        let tx = change.tx();
        let blobs: Vec<(Option<String>,)> =
            sqlx::query_as("SELECT blob FROM documents WHERE org = $1 AND customer = $2")
                .bind(org)
                .bind(customer.as_str())
                .fetch_all(&mut **tx)
                .await?;
        if let Some(key) = address_key {
            let hash = vault.keyed_hash(tx, self.slug(), key).await?;
            let erased = format!("{hash}@erased.invalid");
            sqlx::query(
                "INSERT INTO erased_addresses (org, hash, erased_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (org, hash) DO NOTHING",
            )
            .bind(org)
            .bind(&hash)
            .bind(now.timestamp_micros())
            .execute(&mut **tx)
            .await?;
            sqlx::query("DELETE FROM opt_outs WHERE org = $1 AND address = $2")
                .bind(org)
                .bind(key)
                .execute(&mut **tx)
                .await?;
            // Never sent now; and what was sent names them no more.
            let matches = "org = $1 AND (customer = $2 OR lower(address) = $3)";
            sqlx::query(&format!(
                "UPDATE outbox SET state = 'excluded', reason = 'erased (GDPR art. 17)' \
                 WHERE {matches} AND state = 'pending'"
            ))
            .bind(org)
            .bind(customer.as_str())
            .bind(key)
            .execute(&mut **tx)
            .await?;
            for table in ["outbox", "breach_notices"] {
                sqlx::query(&format!("UPDATE {table} SET address = $4 WHERE {matches}"))
                    .bind(org)
                    .bind(customer.as_str())
                    .bind(key)
                    .bind(&erased)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        sqlx::query("UPDATE outbox SET name = NULL WHERE org = $1 AND customer = $2")
            .bind(org)
            .bind(customer.as_str())
            .execute(&mut **tx)
            .await?;
        delete_rows_of(
            tx,
            self,
            customer,
            &[
                "area_unlocks",
                "unlock_failures",
                "documents",
                "areas",
                "customer_assignments",
            ],
        )
        .await?;
        let key_destroyed =
            crate::vault::Vault::destroy_customer_key(tx, self.slug(), customer).await?;
        let deleted = sqlx::query("DELETE FROM customers WHERE org = $1 AND id = $2")
            .bind(org)
            .bind(customer.as_str())
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(self.not_found("customer", customer.as_str()));
        }
        sqlx::query(
            "UPDATE rights_requests SET purged_at = $3, purge_reason = $4 WHERE org = $1 AND id = $2",
        )
        .bind(org)
        .bind(request.id)
        .bind(now.timestamp_micros())
        .bind(reason)
        .execute(&mut **tx)
        .await?;
        let what = format!(
            "record purged ({reason}); data key {}",
            if key_destroyed { "destroyed" } else { "absent" }
        );
        change.record(self.rights_event(request, worker, &what));
        change.commit().await?;
        Ok(Purged {
            blobs: blobs.into_iter().filter_map(|(b,)| b).collect(),
            key_destroyed,
        })
    }
}

async fn set_restriction(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org: &OrgStore,
    customer: &CustomerId,
    restriction: Option<Restriction>,
    at: DateTime<Utc>,
) -> Result<()> {
    let updated = sqlx::query(
        "UPDATE customers SET restriction = $3, restricted_at = $4 WHERE org = $1 AND id = $2",
    )
    .bind(org.slug().as_str())
    .bind(customer.as_str())
    .bind(restriction.map(|r| r.as_str().to_owned()))
    .bind(restriction.map(|_| at.timestamp_micros()))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(org.not_found("customer", customer.as_str()));
    }
    Ok(())
}
