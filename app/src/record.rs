//! A customer record read and edited through the rules: each part is
//! decided (and audited) before the vault opens it, masked fields never
//! leave this module, and an edit commits with an event that carries keyed
//! hashes of the old and new contents, never the contents.

use std::collections::BTreeMap;

use custodia_engine::audit::{AuditEvent, Change, Durable, EventKind, Receipt};
use custodia_engine::rules::pack::FieldType;
use custodia_engine::rules::{Action, Context, Decision, Facts, Request, ResourceRef, RuleEffect};
use custodia_engine::vault::Slot;
use custodia_engine::{
    AreaContent, AreaName, Customer, CustomerId, OrgSlug, PrivacyLevel, WorkerLogin,
};
use serde::Serialize;

use crate::Custodia;
use crate::error::{Error, Result};

/// The rule whose denial means "closed by a password", which an unlock opens.
const PASSWORD_RULE: &str = "password-closed-area";

/// What a worker sees of one value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Shown {
    Shown { value: String },
    Masked { reason: String },
    Empty,
}

impl Shown {
    /// The value, or how it is hidden, for one line of text.
    pub fn text(&self) -> String {
        match self {
            Shown::Shown { value } => value.clone(),
            Shown::Masked { reason } => format!("[masked: {reason}]"),
            Shown::Empty => "-".into(),
        }
    }
}

/// One field as a worker sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldView {
    pub name: String,
    #[serde(flatten)]
    pub shown: Shown,
}

/// Whether an area opened, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum AreaState {
    Open {
        fields: Vec<FieldView>,
        notes: Shown,
    },
    /// Closed by a password the worker has not entered (an unlock opens it).
    Locked {
        reason: String,
    },
    Denied {
        reason: String,
    },
}

/// One area as a worker sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AreaView {
    pub name: AreaName,
    pub privacy: PrivacyLevel,
    #[serde(flatten)]
    pub state: AreaState,
    /// The audit event of this area's decision.
    pub audit: Receipt,
}

/// An area read whose audit event is on its way to disk
/// ([`Custodia::read_area_enqueued`]).
#[derive(Debug)]
#[must_use = "the view is given only once its audit event is durable"]
pub struct PendingArea {
    name: AreaName,
    privacy: PrivacyLevel,
    state: AreaState,
    durable: Durable,
}

impl PendingArea {
    /// The view, once its audit event is durable; an error (and no view)
    /// if the audit log failed it.
    pub async fn wait(self) -> Result<AreaView> {
        Ok(AreaView {
            audit: self.durable.wait().await?,
            name: self.name,
            privacy: self.privacy,
            state: self.state,
        })
    }
}

impl AreaView {
    /// Whether the worker sees the contents.
    pub fn is_open(&self) -> bool {
        matches!(self.state, AreaState::Open { .. })
    }
}

/// A record as a worker sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordView {
    pub customer: CustomerId,
    pub fields: Vec<FieldView>,
    pub areas: Vec<AreaView>,
    /// The audit event of the record's decision.
    pub audit: Receipt,
}

/// Who reads, from where: the parts of a request that are not the resource.
#[derive(Debug, Clone)]
pub struct Reader {
    pub worker: WorkerLogin,
    pub context: Context,
}

impl Reader {
    fn request(&self, action: Action, resource: ResourceRef) -> Request {
        Request {
            worker: self.worker.clone(),
            action,
            resource,
            context: self.context.clone(),
        }
    }
}

/// What an edit changes in one area: fields to set (as text, parsed by
/// the pack's type), fields to clear, and the notes.
#[derive(Debug, Clone, Default)]
pub struct AreaEdit {
    pub set: Vec<(String, String)>,
    pub clear: Vec<String>,
    pub notes: Option<String>,
}

/// How a masked field is hidden: the reason of the first mask naming it.
fn mask_reason(decision: &Decision, field: &str) -> Option<String> {
    let group = field.split_once('.').map(|(g, _)| g);
    decision
        .reasons
        .iter()
        .filter(|r| r.effect == RuleEffect::Mask)
        .find(|r| {
            r.fields
                .iter()
                .any(|f| f == field || Some(f.as_str()) == group)
        })
        .map(|r| r.message.clone())
}

pub(crate) fn show(decision: &Decision, name: &str, value: Option<String>) -> FieldView {
    let shown = match (mask_reason(decision, name), value) {
        (Some(reason), Some(_)) => Shown::Masked { reason },
        (None, Some(value)) => Shown::Shown { value },
        (_, None) => Shown::Empty,
    };
    FieldView {
        name: name.to_owned(),
        shown,
    }
}

/// Whether the one thing between the worker and the area is its password.
fn only_password_closes(decision: &Decision) -> bool {
    let mut denials = decision
        .reasons
        .iter()
        .filter(|r| matches!(r.effect, RuleEffect::Deny | RuleEffect::Error))
        .peekable();
    denials.peek().is_some() && denials.all(|r| r.rule == PASSWORD_RULE)
}

/// The denial's reasons as one sentence.
fn why(decision: &Decision) -> String {
    decision
        .reasons
        .iter()
        .filter(|r| matches!(r.effect, RuleEffect::Deny | RuleEffect::Error))
        .map(|r| r.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

fn identity_fields(decision: &Decision, c: &Customer) -> Vec<FieldView> {
    let mut fields = vec![
        show(decision, "name", Some(c.name.clone())),
        show(decision, "email", c.email.clone()),
    ];
    for (name, value) in c.identity().fields() {
        fields.push(show(decision, name, value.map(str::to_owned)));
    }
    for (key, value) in &c.attributes {
        fields.push(show(
            decision,
            &format!("attributes.{key}"),
            Some(value.clone()),
        ));
    }
    fields
}

/// `error`, once the events of the areas already decided are durable.
// INVARIANT: a whole-record read answers nothing, not even its failure,
// before every area event it enqueued is on disk.
async fn after_events(decided: Vec<(AreaName, Decision, Durable)>, error: Error) -> Error {
    for (_, _, durable) in decided {
        if let Err(e) = durable.wait().await {
            return e.into();
        }
    }
    error
}

/// An area's privacy and state once decided; its contents must have been
/// unsealed when the decision allows it, and are shown only then.
fn area_state(
    record: &Customer,
    area: &AreaName,
    decision: &Decision,
) -> (PrivacyLevel, AreaState) {
    let privacy = record.area(area).map(|a| a.privacy).unwrap_or_default();
    let state = if decision.is_allowed() {
        let content = record
            .area(area)
            .and_then(|a| a.content.clone())
            .unwrap_or_default();
        let (fields, notes) = area_fields(decision, &content);
        AreaState::Open { fields, notes }
    } else if only_password_closes(decision) {
        AreaState::Locked {
            reason: why(decision),
        }
    } else {
        AreaState::Denied {
            reason: why(decision),
        }
    };
    (privacy, state)
}

fn area_fields(decision: &Decision, content: &AreaContent) -> (Vec<FieldView>, Shown) {
    let fields = content
        .fields
        .iter()
        .map(|(name, value)| show(decision, name, Some(value.to_string())))
        .collect();
    let notes = show(decision, "notes", content.notes.clone()).shown;
    (fields, notes)
}

impl Custodia {
    /// Reads a whole record: the record's decision, then each area's, each
    /// audited; only what is allowed is unsealed. A denied record is an
    /// error with the rules' reasons. The areas are decided from the
    /// record's own read, and their events commit together with the
    /// record's (one group commit instead of one per area).
    pub async fn read_record(
        &self,
        org: &OrgSlug,
        reader: &Reader,
        customer: &CustomerId,
    ) -> Result<RecordView> {
        let request = reader.request(Action::View, ResourceRef::Customer(customer.clone()));
        crate::check_free_text(&request)?;
        let (decision, facts, durable) = self.access.decide_enqueued(org, &request).await?;
        let opened = match (&facts, decision.is_allowed()) {
            (
                Some(
                    facts @ Facts {
                        customer: Some(record),
                        ..
                    },
                ),
                true,
            ) => {
                self.open_record(org, reader, record.clone(), facts, &decision)
                    .await
            }
            _ => Err(denied(&request, &decision)),
        };
        // INVARIANT: nothing, not even a refusal, is answered before the
        // record's event is durable, and no area before its own event is.
        let audit = durable.wait().await?;
        let (fields, pending) = opened?;
        let mut areas = Vec::with_capacity(pending.len());
        for area in pending {
            areas.push(area.wait().await?);
        }
        Ok(RecordView {
            customer: customer.clone(),
            fields,
            areas,
            audit,
        })
    }

    /// A record's identity fields, and each area decided and opened, its
    /// event on its way to disk.
    async fn open_record(
        &self,
        org: &OrgSlug,
        reader: &Reader,
        mut record: Customer,
        facts: &Facts,
        decision: &Decision,
    ) -> Result<(Vec<FieldView>, Vec<PendingArea>)> {
        let scope = self.store().org(org).await?;
        let sectors = &scope.organisation().sectors;
        let mut decided = Vec::with_capacity(record.areas.len());
        for area in &record.areas {
            let resource = ResourceRef::Area(record.id.clone(), area.name.clone());
            let request = reader.request(Action::View, resource);
            let area_decided = async {
                let area_facts = facts.for_area(org.as_str(), &area.name)?;
                self.access
                    .decide_on(org, sectors, &request, &area_facts)
                    .await
            }
            .await;
            match area_decided {
                Ok((decision, durable)) => decided.push((area.name.clone(), decision, durable)),
                Err(e) => return Err(after_events(decided, e.into()).await),
            }
        }
        // One read of the sealed items for the identity and every area
        // allowed; the others stay sealed.
        let slots: Vec<Slot> = std::iter::once(Slot::Identity)
            .chain(
                decided
                    .iter()
                    .filter(|(_, decision, _)| decision.is_allowed())
                    .map(|(name, _, _)| Slot::Area(name.clone())),
            )
            .collect();
        if let Err(e) = scope.unseal(&mut record, &slots).await {
            return Err(after_events(decided, e.into()).await);
        }
        let fields = identity_fields(decision, &record);
        let pending = decided
            .into_iter()
            .map(|(name, decision, durable)| {
                let (privacy, state) = area_state(&record, &name, &decision);
                PendingArea {
                    name,
                    privacy,
                    state,
                    durable,
                }
            })
            .collect();
        Ok((fields, pending))
    }

    /// Reads one area: decided and audited; open, locked or denied. The
    /// decision's own facts give the record, so it is read once.
    pub async fn read_area(
        &self,
        org: &OrgSlug,
        reader: &Reader,
        customer: &CustomerId,
        area: &AreaName,
    ) -> Result<AreaView> {
        self.read_area_enqueued(org, reader, customer, area)
            .await?
            .wait()
            .await
    }

    /// [`Custodia::read_area`] up to the audit event's enqueue: decided,
    /// unsealed, its event handed to the writer, and reachable only through
    /// [`PendingArea::wait`], once the event is durable.
    pub async fn read_area_enqueued(
        &self,
        org: &OrgSlug,
        reader: &Reader,
        customer: &CustomerId,
        area: &AreaName,
    ) -> Result<PendingArea> {
        let request = reader.request(
            Action::View,
            ResourceRef::Area(customer.clone(), area.clone()),
        );
        crate::check_free_text(&request)?;
        let (decision, facts, unaudited) = self.access.decide_unaudited(org, &request).await?;
        let Some(mut record) = facts.and_then(|f| f.customer) else {
            // No such record or area: the attempt is audited as denied.
            self.access.enqueue(unaudited).await?.wait().await?;
            return Err(denied(&request, &decision));
        };
        // The area is unsealed before its event goes to the writer, while
        // the writer is idle: behind a commit on the other core it took
        // three times as long. INVARIANT: whatever happens here, nothing
        // reaches the caller before the decision's event is durable.
        let unsealed = if decision.is_allowed() {
            let slots = [Slot::Area(area.clone())];
            self.store().unseal(org, &mut record, &slots).await
        } else {
            Ok(())
        };
        let durable = self.access.enqueue(unaudited).await?;
        if let Err(e) = unsealed {
            durable.wait().await?;
            return Err(e.into());
        }
        let (privacy, state) = area_state(&record, area, &decision);
        Ok(PendingArea {
            name: area.clone(),
            privacy,
            state,
            durable,
        })
    }

    /// Edits one area's contents: decided (`edit`, audited), checked
    /// against the fields the packs declare, sealed, and committed with an
    /// `edit` event carrying keyed hashes of the old and new contents.
    pub async fn edit_area(
        &self,
        org: &OrgSlug,
        reader: &Reader,
        customer: &CustomerId,
        area: &AreaName,
        edit: &AreaEdit,
    ) -> Result<Receipt> {
        let resource = ResourceRef::Area(customer.clone(), area.clone());
        let request = reader.request(Action::Edit, resource.clone());
        self.require(org, &request).await?;
        let scope = self.store().org(org).await?;
        let mut record = scope.customer(customer).await?;
        scope
            .unseal(&mut record, &[Slot::Area(area.clone())])
            .await?;
        let declared = self
            .rules()
            .area_fields(&scope.organisation().sectors, area.as_str());
        let old = record
            .area(area)
            .and_then(|a| a.content.clone())
            .unwrap_or_default();
        let new = apply_edit(&old, edit, &declared, area)?;
        let mut change = Change::begin(self.store(), org).await?;
        let (old_hash, new_hash) = scope.seal_area(&mut change, &record, area, &new).await?;
        let mut event = AuditEvent::new(EventKind::Edit, chrono::Utc::now());
        event.worker = Some(reader.worker.to_string());
        event.action = Some(Action::Edit.to_string());
        event.resource = Some(resource.to_string());
        event.customer = Some(customer.to_string());
        event.area = Some(area.to_string());
        event.channel = Some(reader.context.channel.clone());
        event.detail = Some(format!(
            "changed: {}; old hmac-sha256 {old_hash}; new hmac-sha256 {new_hash}",
            changed_names(&old, &new).join(", ")
        ));
        change.record(event);
        change.commit().await?.pop().ok_or_else(|| {
            custodia_engine::Error::Audit("an edit committed without its event".into()).into()
        })
    }
}

fn denied(request: &Request, decision: &Decision) -> Error {
    Error::Denied {
        worker: request.worker.to_string(),
        action: request.action.to_string(),
        resource: request.resource.to_string(),
        why: why(decision),
    }
}

/// The contents after an edit; every field must be declared for the area
/// and its value must fit the declared type.
pub fn apply_edit(
    old: &AreaContent,
    edit: &AreaEdit,
    declared: &BTreeMap<String, FieldType>,
    area: &AreaName,
) -> Result<AreaContent> {
    let undeclared = |field: &str| custodia_engine::Error::InvalidValue {
        kind: "field",
        value: format!("{area}.{field}"),
        reason: "the packs declare no such field for this area",
    };
    let mut new = old.clone();
    for (field, text) in &edit.set {
        let kind = declared.get(field).ok_or_else(|| undeclared(field))?;
        let value = kind.parse(text).map_err(|reason| Error::Field {
            field: format!("{area}.{field}"),
            reason,
        })?;
        new.fields.insert(field.clone(), value);
    }
    for field in &edit.clear {
        if !declared.contains_key(field) {
            return Err(undeclared(field).into());
        }
        new.fields.remove(field);
    }
    if let Some(notes) = &edit.notes {
        new.notes = (!notes.is_empty()).then(|| notes.clone());
    }
    Ok(new)
}

/// The names of the fields (and `notes`) whose values differ.
fn changed_names(old: &AreaContent, new: &AreaContent) -> Vec<String> {
    let mut names: Vec<String> = old
        .fields
        .keys()
        .chain(new.fields.keys())
        .filter(|k| old.fields.get(*k) != new.fields.get(*k))
        .cloned()
        .collect();
    names.dedup();
    if old.notes != new.notes {
        names.push("notes".into());
    }
    names
}

/// Checks imported contents against the fields the packs declare.
pub fn check_contents(
    customers: &[Customer],
    fields: impl Fn(&str) -> BTreeMap<String, FieldType>,
) -> Result<()> {
    for customer in customers {
        for area in &customer.areas {
            let Some(content) = &area.content else {
                continue;
            };
            let declared = fields(area.name.as_str());
            for (name, value) in &content.fields {
                let at = || {
                    format!(
                        "customer `{}`, area `{}`, field `{name}`",
                        customer.id, area.name
                    )
                };
                let kind = declared.get(name).ok_or_else(|| Error::Field {
                    field: at(),
                    reason: format!(
                        "not declared by the packs for this area (declared: {})",
                        declared.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                })?;
                kind.check(value).map_err(|reason| Error::Field {
                    field: at(),
                    reason,
                })?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use custodia_engine::FieldValue;

    fn declared() -> BTreeMap<String, FieldType> {
        BTreeMap::from([
            ("children".to_owned(), FieldType::Number),
            ("marital_status".to_owned(), FieldType::Text),
        ])
    }

    #[test]
    fn an_edit_sets_typed_fields_and_refuses_undeclared_ones() {
        let area: AreaName = "personal".parse().expect("area");
        let edit = AreaEdit {
            set: vec![("children".into(), "2".into())],
            ..AreaEdit::default()
        };
        let new = apply_edit(&AreaContent::default(), &edit, &declared(), &area).expect("edit");
        assert_eq!(new.fields.get("children"), Some(&FieldValue::Number(2)));
        let bad = AreaEdit {
            set: vec![("children".into(), "two".into())],
            ..AreaEdit::default()
        };
        let err = apply_edit(&new, &bad, &declared(), &area).expect_err("typed");
        assert!(err.to_string().contains("personal.children"), "{err}");
        let unknown = AreaEdit {
            set: vec![("religion".into(), "x".into())],
            ..AreaEdit::default()
        };
        assert!(apply_edit(&new, &unknown, &declared(), &area).is_err());
        assert_eq!(
            changed_names(&AreaContent::default(), &new),
            vec!["children"]
        );
    }
}
