//! The properties rules read (`worker.level`, `resource.customer.id`),
//! defined once: Rhai's getters and the lowered rules ([`super::native`])
//! both read them here, so the two cannot disagree on what a name means.

use super::facts::Facts;
use crate::domain::{Area, Customer, Restriction};

/// The objects a rule can read properties of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Object {
    Worker,
    Resource,
    Customer,
    Context,
}

/// What a property holds.
#[derive(Debug, Clone)]
pub(crate) enum Read<'a> {
    Bool(bool),
    Int(i64),
    /// Borrowed from the facts.
    Str(&'a str),
    /// One of a worker's lists (departments, roles, specialties).
    Strings(&'a [String]),
    /// The resource's customer, as an object of its own.
    Customer,
}

macro_rules! properties {
    ($($variant:ident = $name:literal on $object:ident),* $(,)?) => {
        /// A property a rule may read, by object.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Property {
            $($variant),*
        }

        impl Property {
            pub(crate) const ALL: &[Property] = &[$(Property::$variant),*];

            /// The name rules write.
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(Property::$variant => $name),*
                }
            }

            /// The object the property belongs to.
            pub(crate) fn object(self) -> Object {
                match self {
                    $(Property::$variant => Object::$object),*
                }
            }
        }
    };
}

properties! {
    Login = "login" on Worker,
    Name = "name" on Worker,
    Level = "level" on Worker,
    Departments = "departments" on Worker,
    Roles = "roles" on Worker,
    Specialties = "specialties" on Worker,
    Active = "active" on Worker,
    Kind = "kind" on Resource,
    CustomerOf = "customer" on Resource,
    AreaName = "area" on Resource,
    AreaPrivacy = "area_privacy" on Resource,
    AreaLocked = "area_locked" on Resource,
    AreaUnlocked = "area_unlocked" on Resource,
    Specialty = "specialty" on Resource,
    DocType = "doc_type" on Resource,
    DocumentId = "document" on Resource,
    Id = "id" on Customer,
    Privacy = "privacy" on Customer,
    ExistingCustomer = "existing_customer" on Customer,
    AllowsMarketing = "allows_marketing" on Customer,
    OptedOut = "opted_out" on Customer,
    HasConsent = "has_consent" on Customer,
    OptOutOffered = "opt_out_offered" on Customer,
    Blocked = "blocked" on Customer,
    Restricted = "restricted" on Customer,
    SimilarProducts = "similar_products" on Context,
    Channel = "channel" on Context,
    Purpose = "purpose" on Context,
    Hour = "hour" on Context,
    Weekday = "weekday" on Context,
    Address = "address" on Context,
}

impl Property {
    /// The property called `name`, if rules may read one.
    pub(crate) fn named(name: &str) -> Option<Property> {
        Self::ALL.iter().copied().find(|p| p.name() == name)
    }

    /// Reads the property from a request's facts. A customer property of
    /// facts without a customer (the firm's own records) reads as the
    /// empty value of its type, as it always has.
    pub(crate) fn read(self, facts: &Facts) -> Read<'_> {
        use Property as P;
        let worker = &facts.worker;
        let context = &facts.context;
        let area = facts.area.as_ref();
        let customer =
            |read: fn(&Customer) -> bool| Read::Bool(facts.customer.as_ref().is_some_and(read));
        match self {
            P::Login => Read::Str(worker.login.as_str()),
            P::Name => Read::Str(&worker.name),
            P::Level => Read::Int(i64::from(worker.level.get())),
            P::Departments => Read::Strings(&worker.departments),
            P::Roles => Read::Strings(&worker.roles),
            P::Specialties => Read::Strings(&worker.specialties),
            P::Active => Read::Bool(worker.active),
            P::Kind => Read::Str(facts.kind.as_str()),
            P::CustomerOf => Read::Customer,
            P::AreaName => Read::Str(area.map_or("", |a| a.name.as_str())),
            P::AreaPrivacy => Read::Int(area.map_or(0, |a| a.privacy.rank())),
            P::AreaLocked => Read::Bool(area.is_some_and(Area::is_locked)),
            P::AreaUnlocked => Read::Bool(area.is_some_and(|a| context.unlocked.contains(&a.name))),
            P::Specialty => Read::Str(
                area.and_then(|a| a.name.as_str().strip_prefix("clinical:"))
                    .unwrap_or_default(),
            ),
            P::DocType => Read::Str(facts.document.as_ref().map_or("", |d| d.doc_type.as_str())),
            P::DocumentId => Read::Str(facts.document.as_ref().map_or("", |d| d.id.as_str())),
            P::Id => Read::Str(facts.customer.as_ref().map_or("", |c| c.id.as_str())),
            P::Privacy => Read::Int(facts.customer.as_ref().map_or(0, |c| c.privacy.rank())),
            P::ExistingCustomer => customer(|c| c.existing_customer),
            P::AllowsMarketing => customer(|c| c.communications.allows_marketing()),
            P::OptedOut => customer(|c| c.communications.opt_out.is_some()),
            P::HasConsent => customer(|c| c.communications.consent.is_some()),
            P::OptOutOffered => customer(|c| c.communications.opt_out_offered.is_some()),
            P::Blocked => customer(|c| c.restriction == Some(Restriction::Blocked)),
            P::Restricted => customer(|c| c.restriction == Some(Restriction::Restricted)),
            P::SimilarProducts => Read::Bool(context.similar_products),
            P::Channel => Read::Str(&context.channel),
            P::Purpose => Read::Str(context.purpose.as_deref().unwrap_or_default()),
            P::Hour => Read::Int(context.hour()),
            P::Weekday => Read::Int(context.weekday()),
            P::Address => Read::Str(context.address.as_deref().unwrap_or_default()),
        }
    }
}

/// Whether `items` holds `wanted`: `worker.has_role(...)` and its kin.
pub(crate) fn has(items: &[String], wanted: &str) -> bool {
    items.iter().any(|s| s == wanted)
}

/// Whether a worker's grants give `needed` access (`read` or `edit`) to
/// `scope`: `worker.has_grant(...)`.
pub(crate) fn grant_allows(worker: &crate::domain::Worker, scope: &str, needed: &str) -> bool {
    use crate::domain::GrantAccess;
    worker
        .grants
        .iter()
        .any(|g| g.scope == scope && (needed == "read" || g.access == GrantAccess::Edit))
}

/// Whether the request's customer is assigned to `worker`:
/// `resource.customer.is_assigned_to(worker)`; never for the firm's own
/// records.
pub(crate) fn assigned_to(facts: &Facts, worker: &crate::domain::Worker) -> bool {
    let customer = facts.customer.as_ref();
    customer.is_some_and(|c| c.is_assigned_to(&worker.login))
}

/// A sector attribute of the request's customer, `""` when it has none:
/// `resource.customer.attr(name)`.
pub(crate) fn customer_attribute<'a>(facts: &'a Facts, name: &str) -> &'a str {
    let customer = facts.customer.as_ref();
    let value = customer.and_then(|c| c.attributes.get(name));
    value.map_or("", String::as_str)
}

/// What a provider returned under `name`, if it ran and returned it:
/// `context.plugin(plugin, name)`.
pub(crate) fn plugin_attribute<'a>(
    attributes: &'a std::collections::BTreeMap<String, String>,
    plugin: &str,
    name: &str,
) -> Option<&'a str> {
    attributes
        .get(&plugin_key(plugin, name))
        .map(String::as_str)
}

/// The key under which a provider's attribute reaches the rules:
/// `context.plugin("office-hours", "open")` reads `office-hours.open`.
pub(crate) fn plugin_key(plugin: &str, name: &str) -> String {
    format!("{plugin}.{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_property_has_a_name_of_its_own() {
        for p in Property::ALL {
            assert_eq!(Property::named(p.name()), Some(*p), "{p:?}");
        }
    }
}
