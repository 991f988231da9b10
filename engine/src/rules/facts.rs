//! Resolving a request into the facts rules see, from an organisation
//! file (pack tests, benchmarks) or from the store.

use super::request::{Action, Context, OfficeName, Request, ResourceKind, ResourceRef};
use crate::domain::{Area, AreaName, Customer, Document, Worker};
use crate::error::{Error, Result};
use crate::exchange::OrgFile;
use crate::store::OrgStore;

/// Everything a rule may know about a request, resolved from the store.
#[derive(Debug, Clone)]
pub struct Facts {
    pub worker: Worker,
    pub action: Action,
    pub kind: ResourceKind,
    /// The record's customer; `None` for the firm's own records
    /// ([`ResourceRef::Office`]).
    pub customer: Option<Customer>,
    /// The office object's name (`providers`, a campaign), when named.
    pub name: Option<OfficeName>,
    pub area: Option<Area>,
    pub document: Option<Document>,
    pub context: Context,
}

fn not_found(org: &str, kind: &'static str, id: &str) -> Error {
    Error::NotFound {
        org: org.to_owned(),
        kind,
        id: id.to_owned(),
    }
}

/// Puts the pieces together once they are found.
fn assemble(
    org: &str,
    request: &Request,
    worker: Worker,
    customer: Option<Customer>,
    document: Option<Document>,
) -> Result<Facts> {
    let area_name = match (&request.resource, &document) {
        (ResourceRef::Area(_, area), _) => Some(area.clone()),
        (_, Some(doc)) => Some(doc.area.clone()),
        _ => None,
    };
    let area = match (area_name, &customer) {
        (Some(name), Some(customer)) => Some(
            customer
                .area(&name)
                .cloned()
                .ok_or_else(|| not_found(org, "area", &format!("{}/{name}", customer.id)))?,
        ),
        _ => None,
    };
    Ok(Facts {
        worker,
        action: request.action,
        kind: request.resource.kind(),
        customer,
        name: match &request.resource {
            ResourceRef::Office(_, name) => name.clone(),
            _ => None,
        },
        area,
        document,
        context: request.context.clone(),
    })
}

impl Facts {
    /// The facts of `action` on the firm's own records of `kind`, for a
    /// worker already at hand: office objects carry no customer, so
    /// nothing more is read.
    pub fn office(worker: Worker, action: Action, kind: ResourceKind, context: Context) -> Facts {
        Facts {
            worker,
            action,
            kind,
            customer: None,
            name: None,
            area: None,
            document: None,
            context,
        }
    }

    /// The same worker, customer and context deciding `action` on one of
    /// the customer's documents: a page that decides many documents reads
    /// the store once. The document must belong to the customer of `org`.
    pub fn for_document(&self, org: &str, action: Action, document: Document) -> Result<Facts> {
        let customer = self.customer.as_ref().filter(|c| c.id == document.customer);
        let Some(customer) = customer else {
            return Err(not_found(org, "document", document.id.as_str()));
        };
        let resource = ResourceRef::Document(document.id.clone());
        self.derive(org, action, resource, customer, Some(document))
    }

    /// The same worker, customer and context viewing one of the
    /// customer's areas: a whole record is decided area by area from one
    /// read. The area must be one of the record's.
    pub fn for_area(&self, org: &str, area: &AreaName) -> Result<Facts> {
        let Some(customer) = &self.customer else {
            return Err(not_found(org, "area", area.as_str()));
        };
        let resource = ResourceRef::Area(customer.id.clone(), area.clone());
        self.derive(org, Action::View, resource, customer, None)
    }

    fn derive(
        &self,
        org: &str,
        action: Action,
        resource: ResourceRef,
        customer: &Customer,
        document: Option<Document>,
    ) -> Result<Facts> {
        let request = Request {
            worker: self.worker.login.clone(),
            action,
            resource,
            context: self.context.clone(),
        };
        assemble(
            org,
            &request,
            self.worker.clone(),
            Some(customer.clone()),
            document,
        )
    }

    /// Resolves a request against an in-memory organisation file.
    pub fn from_file(file: &OrgFile, request: &Request) -> Result<Facts> {
        let org = file.organisation.slug.as_str();
        let worker = file
            .workers
            .iter()
            .find(|w| w.login == request.worker)
            .cloned()
            .ok_or_else(|| not_found(org, "worker", request.worker.as_str()))?;
        let document = match &request.resource {
            ResourceRef::Document(id) => Some(
                file.documents
                    .iter()
                    .find(|d| &d.id == id)
                    .cloned()
                    .ok_or_else(|| not_found(org, "document", id.as_str()))?,
            ),
            _ => None,
        };
        let customer_id = match (&request.resource, &document) {
            (ResourceRef::Customer(id) | ResourceRef::Area(id, _), _) => id,
            (_, Some(doc)) => &doc.customer,
            (ResourceRef::Document(id), None) => {
                return Err(not_found(org, "document", id.as_str()));
            }
            (ResourceRef::Office(..), _) => return assemble(org, request, worker, None, None),
        };
        let customer = file
            .customers
            .iter()
            .find(|c| &c.id == customer_id)
            .cloned()
            .ok_or_else(|| not_found(org, "customer", customer_id.as_str()))?;
        assemble(org, request, worker, Some(customer), document)
    }

    /// Resolves a request against the store. The caller's `unlocked` set
    /// is replaced by the unlocks the store records as active.
    pub async fn from_store(org: &OrgStore, request: &Request) -> Result<Facts> {
        let worker = org.worker(&request.worker).await?;
        let document = match &request.resource {
            ResourceRef::Document(id) => Some(org.document(id).await?),
            _ => None,
        };
        let customer_id = match (&request.resource, &document) {
            (ResourceRef::Customer(id) | ResourceRef::Area(id, _), _) => id.clone(),
            (_, Some(doc)) => doc.customer.clone(),
            (ResourceRef::Document(id), None) => {
                return Err(not_found(org.slug().as_str(), "document", id.as_str()));
            }
            (ResourceRef::Office(..), _) => {
                return assemble(org.slug().as_str(), request, worker, None, None);
            }
        };
        let customer = org.customer(&customer_id).await?;
        let mut request = request.clone();
        request.context.unlocked = org
            .active_unlocks(&request.worker, &customer_id, request.context.time)
            .await?;
        assemble(
            org.slug().as_str(),
            &request,
            worker,
            Some(customer),
            document,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(resource: &str) -> Request {
        let time = "2026-11-23T10:00:00Z".parse().unwrap();
        Request {
            worker: "ana".parse().unwrap(),
            action: Action::View,
            resource: resource.parse().unwrap(),
            context: Context::new(time, "test"),
        }
    }

    #[test]
    fn an_area_derived_from_its_record_has_the_facts_a_read_of_the_area_has() {
        let world = crate::testkit::demo_org("bufete-ruiz.toml");
        let record = Facts::from_file(&world, &request("customer:C-1001")).unwrap();
        let area: AreaName = "personal".parse().unwrap();
        let derived = record.for_area("bufete-ruiz", &area).unwrap();
        let read = Facts::from_file(&world, &request("customer:C-1001/personal")).unwrap();
        assert_eq!(format!("{derived:?}"), format!("{read:?}"));
        let missing = record.for_area("bufete-ruiz", &"no-such-area".parse().unwrap());
        assert!(
            matches!(missing, Err(Error::NotFound { kind: "area", .. })),
            "{missing:?}"
        );
    }
}
