//! Mapping between domain types and rows. Written once for both backends.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::AnyConnection;

use crate::columns::Columns;
use crate::domain::*;
use crate::error::{Error, Result};
use crate::vault::{Slot, Vault};

pub(crate) fn to_json(value: &impl Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::corrupt(format!("cannot encode: {e}")))
}

pub(crate) fn from_json<T: DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::corrupt(format!("cannot decode `{text}`: {e}")))
}

fn parse<T: std::str::FromStr>(what: &str, text: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| Error::corrupt(format!("{what} `{text}`: {e}")))
}

fn opt_date(text: Option<String>) -> Result<Option<chrono::NaiveDate>> {
    text.map(|t| parse("date", &t)).transpose()
}

pub(crate) async fn insert_organisation(
    conn: &mut AnyConnection,
    org: &Organisation,
) -> Result<()> {
    sqlx::query("INSERT INTO organisations (slug, name, body) VALUES ($1, $2, $3)")
        .bind(org.slug.as_str())
        .bind(&org.name)
        .bind(to_json(org)?)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes an organisation and everything it owns.
pub(crate) async fn delete_organisation(conn: &mut AnyConnection, org: &OrgSlug) -> Result<()> {
    for table in super::migrations::TABLES_CHILD_FIRST {
        let key = if *table == "organisations" {
            "slug"
        } else {
            "org"
        };
        sqlx::query(&format!("DELETE FROM {table} WHERE {key} = $1"))
            .bind(org.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub(crate) async fn insert_worker(
    conn: &mut AnyConnection,
    org: &OrgSlug,
    w: &Worker,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO workers (org, login, name, level, departments, roles, specialties, grants, email, password_hash, active)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(org.as_str())
    .bind(w.login.as_str())
    .bind(&w.name)
    .bind(i64::from(w.level.get()))
    .bind(to_json(&w.departments)?)
    .bind(to_json(&w.roles)?)
    .bind(to_json(&w.specialties)?)
    .bind(to_json(&w.grants)?)
    .bind(w.email.clone())
    .bind(w.password_hash.as_ref().map(|h| h.as_str().to_owned()))
    .bind(i64::from(w.active))
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) const WORKER_COLUMNS: &str =
    "login, name, level, departments, roles, specialties, grants, email, password_hash, active";

pub(crate) fn worker_from_row(row: &dyn Columns) -> Result<Worker> {
    let level = row.int("level")?;
    let level = u8::try_from(level)
        .map_err(|_| Error::corrupt(format!("worker level {level}")))
        .and_then(Level::try_from)?;
    Ok(Worker {
        login: WorkerLogin::new(row.text("login")?)?,
        name: row.text("name")?,
        level,
        departments: from_json(&row.text("departments")?)?,
        roles: from_json(&row.text("roles")?)?,
        specialties: from_json(&row.text("specialties")?)?,
        grants: from_json(&row.text("grants")?)?,
        email: row.opt_text("email")?,
        password_hash: row
            .opt_text("password_hash")?
            .map(PasswordHash::try_from)
            .transpose()?,
        active: row.int("active")? != 0,
    })
}

/// Inserts a customer with areas and assignments; the identity fields and
/// area contents go sealed into the vault, never into these rows.
pub(crate) async fn insert_customer(
    conn: &mut AnyConnection,
    org: &OrgSlug,
    c: &Customer,
    vault: Option<&Vault>,
) -> Result<()> {
    let consent = c.communications.consent.as_ref();
    let opt_out = c.communications.opt_out.as_ref();
    let offered = c.communications.opt_out_offered.as_ref();
    sqlx::query(
        "INSERT INTO customers (org, id, name, email, privacy, existing_customer,
             consent_source, consent_date, opt_out_date, opt_out_channel, attributes,
             opt_out_offered_date, opt_out_offered_channel)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(org.as_str())
    .bind(c.id.as_str())
    .bind(&c.name)
    .bind(c.email.clone())
    .bind(c.privacy.as_str())
    .bind(i64::from(c.existing_customer))
    .bind(consent.map(|x| x.source.clone()))
    .bind(consent.map(|x| x.date.to_string()))
    .bind(opt_out.map(|x| x.date.to_string()))
    .bind(opt_out.map(|x| x.channel.clone()))
    .bind(to_json(&c.attributes)?)
    .bind(offered.map(|x| x.date.to_string()))
    .bind(offered.map(|x| x.channel.clone()))
    .execute(&mut *conn)
    .await?;
    for worker in &c.assigned {
        sqlx::query("INSERT INTO customer_assignments (org, customer, worker) VALUES ($1, $2, $3)")
            .bind(org.as_str())
            .bind(c.id.as_str())
            .bind(worker.as_str())
            .execute(&mut *conn)
            .await?;
    }
    for (position, area) in c.areas.iter().enumerate() {
        sqlx::query(
            "INSERT INTO areas (org, customer, name, position, privacy, password_hash) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(org.as_str())
        .bind(c.id.as_str())
        .bind(area.name.as_str())
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(area.privacy.as_str())
        .bind(area.password_hash.as_ref().map(|h| h.as_str().to_owned()))
        .execute(&mut *conn)
        .await?;
    }
    seal_contents(conn, org, c, vault).await
}

/// Seals a customer's identity fields and area contents, if any.
async fn seal_contents(
    conn: &mut AnyConnection,
    org: &OrgSlug,
    c: &Customer,
    vault: Option<&Vault>,
) -> Result<()> {
    let identity = c.identity();
    let contents: Vec<(&AreaName, &AreaContent)> = c
        .areas
        .iter()
        .filter_map(|a| a.content.as_ref().map(|content| (&a.name, content)))
        .filter(|(_, content)| !content.is_empty())
        .collect();
    if identity.is_empty() && contents.is_empty() {
        return Ok(());
    }
    // INVARIANT: sealed fields are never written in clear; without a
    // vault the whole import fails.
    let vault = vault.ok_or_else(|| {
        Error::Vault(format!(
            "customer `{}` has sealed fields but no master key is loaded",
            c.id
        ))
    })?;
    if !identity.is_empty() {
        vault
            .seal(
                &mut *conn,
                org,
                &c.id,
                &Slot::Identity,
                &to_json(&identity)?.into_bytes(),
            )
            .await?;
    }
    for (area, content) in contents {
        vault
            .seal(
                &mut *conn,
                org,
                &c.id,
                &Slot::Area(area.clone()),
                &to_json(content)?.into_bytes(),
            )
            .await?;
    }
    Ok(())
}

pub(crate) const CUSTOMER_COLUMNS: &str = "id, name, email, privacy, existing_customer, consent_source, consent_date, opt_out_date, opt_out_channel, attributes, opt_out_offered_date, opt_out_offered_channel, restriction";

/// A customer without areas or assignments; the caller adds those.
pub(crate) fn customer_from_row(row: &dyn Columns) -> Result<Customer> {
    let consent = match (
        row.opt_text("consent_source")?,
        opt_date(row.opt_text("consent_date")?)?,
    ) {
        (Some(source), Some(date)) => Some(Consent { source, date }),
        _ => None,
    };
    let opt_out = match (
        opt_date(row.opt_text("opt_out_date")?)?,
        row.opt_text("opt_out_channel")?,
    ) {
        (Some(date), Some(channel)) => Some(OptOut { date, channel }),
        _ => None,
    };
    let opt_out_offered = match (
        opt_date(row.opt_text("opt_out_offered_date")?)?,
        row.opt_text("opt_out_offered_channel")?,
    ) {
        (Some(date), Some(channel)) => Some(OptOutOffer { date, channel }),
        _ => None,
    };
    let attributes: BTreeMap<String, String> = from_json(&row.text("attributes")?)?;
    Ok(Customer {
        id: CustomerId::new(row.text("id")?)?,
        name: row.text("name")?,
        tax_id: None,
        email: row.opt_text("email")?,
        phone: None,
        address: None,
        privacy: parse("privacy level", &row.text("privacy")?)?,
        assigned: Vec::new(),
        existing_customer: row.int("existing_customer")? != 0,
        communications: Communications {
            consent,
            opt_out,
            opt_out_offered,
        },
        attributes,
        areas: Vec::new(),
        // INVARIANT: an unknown restriction is corruption, never "none":
        // a blocked record must not open because its mark was altered.
        restriction: match row.opt_text("restriction")? {
            None => None,
            Some(text) => Some(
                Restriction::parse(&text)
                    .ok_or_else(|| Error::corrupt(format!("customer restriction `{text}`")))?,
            ),
        },
    })
}

pub(crate) fn area_from_row(row: &dyn Columns) -> Result<(CustomerId, Area)> {
    Ok((
        CustomerId::new(row.text("customer")?)?,
        Area {
            name: AreaName::new(row.text("name")?)?,
            privacy: parse("privacy level", &row.text("privacy")?)?,
            password_hash: row
                .opt_text("password_hash")?
                .map(PasswordHash::try_from)
                .transpose()?,
            content: None,
        },
    ))
}

pub(crate) async fn insert_document(
    conn: &mut AnyConnection,
    org: &OrgSlug,
    d: &Document,
) -> Result<()> {
    let kind = match d.location.kind {
        LocationKind::Local => "local",
        LocationKind::Share => "share",
        LocationKind::Cloud => "cloud",
    };
    sqlx::query(
        "INSERT INTO documents (org, id, customer, area, doc_type, title, location_kind, location_path,
             blob, size, media_type)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(org.as_str())
    .bind(d.id.as_str())
    .bind(d.customer.as_str())
    .bind(d.area.as_str())
    .bind(d.doc_type.as_str())
    .bind(&d.title)
    .bind(kind)
    .bind(&d.location.path)
    .bind(d.held.as_ref().map(|h| h.blob.clone()))
    .bind(d.held.as_ref().map(|h| i64::try_from(h.size).unwrap_or(i64::MAX)))
    .bind(d.held.as_ref().map(|h| h.media_type.clone()))
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) const DOCUMENT_COLUMNS: &str =
    "id, customer, area, doc_type, title, location_kind, location_path, blob, size, media_type";

pub(crate) fn document_from_row(row: &dyn Columns) -> Result<Document> {
    let kind = match row.text("location_kind")?.as_str() {
        "local" => LocationKind::Local,
        "share" => LocationKind::Share,
        "cloud" => LocationKind::Cloud,
        other => return Err(Error::corrupt(format!("location kind `{other}`"))),
    };
    Ok(Document {
        id: DocumentId::new(row.text("id")?)?,
        customer: CustomerId::new(row.text("customer")?)?,
        area: AreaName::new(row.text("area")?)?,
        doc_type: DocumentType::new(row.text("doc_type")?)?,
        title: row.text("title")?,
        location: Location {
            kind,
            path: row.text("location_path")?,
        },
        held: match (
            row.opt_text("blob")?,
            row.opt_int("size")?,
            row.opt_text("media_type")?,
        ) {
            (Some(blob), Some(size), Some(media_type)) => Some(Held {
                blob,
                size: u64::try_from(size).map_err(|_| Error::corrupt("negative document size"))?,
                media_type,
            }),
            _ => None,
        },
    })
}

pub(crate) async fn insert_register_entry(
    conn: &mut AnyConnection,
    org: &OrgSlug,
    kind: RegisterKind,
    id: &EntryId,
    body: &impl Serialize,
) -> Result<()> {
    sqlx::query("INSERT INTO register_entries (org, kind, id, body) VALUES ($1, $2, $3, $4)")
        .bind(org.as_str())
        .bind(kind.as_str())
        .bind(id.as_str())
        .bind(to_json(body)?)
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes every entry of every register.
pub(crate) async fn insert_registers(
    conn: &mut AnyConnection,
    org: &OrgSlug,
    r: &Registers,
) -> Result<()> {
    for entry in r.entries() {
        insert_register_entry(conn, org, entry.kind(), entry.id(), &entry).await?;
    }
    Ok(())
}
