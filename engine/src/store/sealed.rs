//! A record's sealed contents, read and written through the vault.

use super::Bind;
use super::OrgStore;
use super::rows::{from_json, to_json};
use crate::audit::Change;
use crate::domain::*;
use crate::error::{Error, Result};
use crate::vault::{SealedItem, Slot};

impl super::Store {
    /// Fills in a customer's sealed identity fields and area contents, only
    /// for the `slots` given (every slot when empty). Callers decide first:
    /// this is what the rules protect.
    pub async fn unseal(
        &self,
        org: &OrgSlug,
        customer: &mut Customer,
        slots: &[Slot],
    ) -> Result<()> {
        let binds = [Bind::Text(org.as_str()), Bind::Text(customer.id.as_str())];
        let rows = self
            .fetch(crate::vault::ITEMS_SQL, &binds, SealedItem::decode)
            .await?;
        let items = self.vault()?.open_items(org, &customer.id, slots, rows)?;
        let tampered = |slot: &str| Error::Tampered {
            org: org.to_string(),
            customer: customer.id.to_string(),
            slot: slot.to_owned(),
        };
        let mut identity = None;
        let mut contents = Vec::new();
        for (slot, plain) in &items {
            let text = std::str::from_utf8(plain).map_err(|_| tampered(slot))?;
            if slot == "identity" {
                identity = Some(from_json::<Identity>(text).map_err(|_| tampered(slot))?);
            } else if let Some(name) = slot.strip_prefix("area/") {
                let content: AreaContent = from_json(text).map_err(|_| tampered(slot))?;
                contents.push((name.to_owned(), content));
            }
        }
        if let Some(identity) = identity {
            customer.set_identity(identity);
        }
        for (name, content) in contents {
            if let Some(a) = customer.areas.iter_mut().find(|a| a.name.as_str() == name) {
                a.content = Some(content);
            }
        }
        Ok(())
    }
}

impl OrgStore {
    /// [`super::Store::unseal`] in this organisation.
    pub async fn unseal(&self, customer: &mut Customer, slots: &[Slot]) -> Result<()> {
        self.store().unseal(self.slug(), customer, slots).await
    }

    /// Every customer with its sealed contents, for a whole-organisation
    /// export (`custodia export`), which must lose nothing.
    pub async fn customers_unsealed(&self) -> Result<Vec<Customer>> {
        let mut customers = self.customers().await?;
        for customer in &mut customers {
            self.unseal(customer, &[]).await?;
        }
        Ok(customers)
    }

    /// Seals new contents for one area in the change's transaction and
    /// returns the keyed hashes (old, new) its audit event carries: never
    /// the values, which a plain hash would let anyone guess.
    pub async fn seal_area(
        &self,
        change: &mut Change,
        customer: &Customer,
        area: &AreaName,
        content: &AreaContent,
    ) -> Result<(String, String)> {
        let old = customer
            .area(area)
            .and_then(|a| a.content.as_ref())
            .map(to_json)
            .transpose()?
            .unwrap_or_default();
        let slot = Slot::Area(area.clone());
        self.reseal(change, &customer.id, &slot, &old, &to_json(content)?)
            .await
    }

    /// Seals new identity fields in the change's transaction; returns the
    /// keyed hashes (old, new), as [`OrgStore::seal_area`].
    pub async fn seal_identity(
        &self,
        change: &mut Change,
        customer: &CustomerId,
        old: &Identity,
        new: &Identity,
    ) -> Result<(String, String)> {
        self.reseal(
            change,
            customer,
            &Slot::Identity,
            &to_json(old)?,
            &to_json(new)?,
        )
        .await
    }

    async fn reseal(
        &self,
        change: &mut Change,
        customer: &CustomerId,
        slot: &Slot,
        old: &str,
        new: &str,
    ) -> Result<(String, String)> {
        let vault = self.store().vault()?;
        let tx = change.tx();
        vault
            .seal(tx, self.slug(), customer, slot, new.as_bytes())
            .await?;
        let old_hash = vault.keyed_hash(tx, self.slug(), old).await?;
        let new_hash = vault.keyed_hash(tx, self.slug(), new).await?;
        Ok((old_hash, new_hash))
    }
}

impl OrgStore {
    /// Adds documents with their bytes: each sealed under its customer's
    /// key into `blobs`, indexed here, with one audit event, all in one
    /// transaction. A failure leaves no document indexed; blobs already
    /// written stay unreferenced (sealed, so unreadable without a row).
    pub async fn import_documents(
        &self,
        documents: &[(Document, Vec<u8>)],
        blobs: &crate::vault::blob::BlobStore,
        event: crate::audit::AuditEvent,
    ) -> Result<usize> {
        let vault = self.store().vault()?;
        let mut change = Change::begin(self.store(), self.slug()).await?;
        for (document, bytes) in documents {
            let slot = Slot::Document(document.id.clone());
            let sealed = vault
                .seal_bytes(change.tx(), self.slug(), &document.customer, &slot, bytes)
                .await?;
            let blob = blobs.put(sealed).await?;
            let mut held = document.clone();
            held.held = Some(Held {
                blob,
                size: bytes.len() as u64,
                media_type: media_type(&document.location.path).to_owned(),
            });
            super::rows::insert_document(change.tx(), self.slug(), &held).await?;
        }
        change.record(event);
        change.commit().await?;
        Ok(documents.len())
    }

    /// A held document's bytes, unsealed. Callers decide first.
    pub async fn document_bytes(
        &self,
        document: &Document,
        blobs: &crate::vault::blob::BlobStore,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        let held = document.held.as_ref().ok_or_else(|| {
            Error::Vault(format!(
                "document `{}` is indexed but its bytes are not held by Custodia",
                document.id
            ))
        })?;
        let sealed = blobs.get(&held.blob).await?;
        self.store()
            .vault()?
            .open_bytes(
                self.store().pool(),
                self.slug(),
                &document.customer,
                &Slot::Document(document.id.clone()),
                &sealed,
            )
            .await
    }
}

/// The media type of a file, from its extension.
pub fn media_type(path: &str) -> &'static str {
    let ext = path
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "odt" => "application/vnd.oasis.opendocument.text",
        _ => "application/octet-stream",
    }
}
