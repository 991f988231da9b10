//! A record's sealed contents, read and written through the vault.

use super::OrgStore;
use super::rows::{from_json, to_json};
use crate::audit::Change;
use crate::domain::*;
use crate::error::{Error, Result};
use crate::vault::Slot;

impl OrgStore {
    /// Fills in a customer's sealed identity fields and area contents, only
    /// for the `slots` given (every slot when empty). Callers decide first:
    /// this is what the rules protect.
    pub async fn unseal(&self, customer: &mut Customer, slots: &[Slot]) -> Result<()> {
        let vault = self.store().vault()?;
        let items = vault
            .open_items(self.store().pool(), self.slug(), &customer.id, slots)
            .await?;
        for (slot, plain) in &items {
            let text = std::str::from_utf8(plain).map_err(|_| self.tampered(customer, slot))?;
            if slot == "identity" {
                customer.set_identity(from_json(text).map_err(|_| self.tampered(customer, slot))?);
            } else if let Some(name) = slot.strip_prefix("area/") {
                let content: AreaContent =
                    from_json(text).map_err(|_| self.tampered(customer, slot))?;
                if let Some(a) = customer.areas.iter_mut().find(|a| a.name.as_str() == name) {
                    a.content = Some(content);
                }
            }
        }
        Ok(())
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

    fn tampered(&self, customer: &Customer, slot: &str) -> Error {
        Error::Tampered {
            org: self.slug().to_string(),
            customer: customer.id.to_string(),
            slot: slot.to_owned(),
        }
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
