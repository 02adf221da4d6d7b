//! The audit log: one record per query, success or failure (`spec/api.md`, Audit). It holds
//! a keyed hash of the identifier asked for, never the identifier, and expires with a TTL.
//!
//! Table `customer360-audit` (`C360_AUDIT_TABLE`): records keyed by the customer asked about
//! (or the request, when there was none) and time; GSI `gsi_caller` on `by` (the caller's
//! `sub`) and `sk`; TTL `expires_at`. Keys: `keys.rs`.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use c360_domain::{Identifier, Millis, StoreId};
use c360_dynamodb::keys;
use c360_dynamodb::store::{classify, StoreError};
use hmac::{Hmac, Mac};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use c360_runtime::seal::derive_key;

/// Keyed hashes of identifiers (HMAC-SHA256 with `C360_AUDIT_HASH_KEY`): the same customer
/// always hashes the same, so the log can be searched by customer, but a hash cannot be
/// turned back into a phone number without the key.
#[derive(Clone)]
pub struct SubjectHasher {
    key: Arc<Vec<u8>>,
    /// The `customer_ref` seal, keyed once here rather than on every request.
    refs: Arc<crate::seal::Seal>,
    /// The timeline's and the audit trail's page cursors, keyed once here too.
    timeline_cursors: Arc<crate::seal::PageCursors>,
    audit_cursors: Arc<crate::seal::PageCursors>,
}

impl SubjectHasher {
    pub fn new(key: &[u8]) -> Self {
        SubjectHasher {
            key: Arc::new(key.to_vec()),
            refs: Arc::new(c360_runtime::seal::customer_refs(key)),
            timeline_cursors: Arc::new(crate::seal::PageCursors::new(derive_key(
                key,
                crate::seal::TIMELINE_CURSOR,
            ))),
            audit_cursors: Arc::new(crate::seal::PageCursors::new(derive_key(
                key,
                crate::seal::AUDIT_CURSOR,
            ))),
        }
    }
    /// What seals and opens the timeline's `next_cursor`s ([`crate::seal::TIMELINE_CURSOR`]).
    pub fn timeline_cursors(&self) -> &crate::seal::PageCursors {
        &self.timeline_cursors
    }
    /// What seals and opens the audit trail's `next_cursor`s ([`crate::seal::AUDIT_CURSOR`]).
    pub fn audit_cursors(&self) -> &crate::seal::PageCursors {
        &self.audit_cursors
    }
    /// What seals and opens `customer_ref`s (ADR 0011): the key derived for
    /// [`crate::seal::CUSTOMER_REF`].
    pub fn customer_refs(&self) -> &crate::seal::Seal {
        &self.refs
    }
    /// [`SubjectHasher::customer_refs`], to keep beside this hasher (the segment upkeep's
    /// log lines name customers by the refs the API opens).
    pub fn shared_customer_refs(&self) -> Arc<crate::seal::Seal> {
        self.refs.clone()
    }
    fn hash(&self, text: &str) -> String {
        // HMAC accepts keys of any length; the error branch cannot happen.
        let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(&self.key) else {
            return String::new();
        };
        mac.update(text.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
    /// A 256-bit key for `purpose`, derived from the same secret (HMAC-SHA-256 of the label):
    /// what seals the segment-list cursors and the `customer_ref`s (`crate::seal`).
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        derive_key(&self.key, purpose)
    }
    /// A normalized identifier: every spelling of a phone number hashes the same.
    pub fn identifier(&self, id: &Identifier) -> String {
        self.hash(&id.key())
    }
    /// Input that is not a valid identifier (a 400), or a search query.
    pub fn raw(&self, what: &str, text: &str) -> String {
        self.hash(&format!("{what}#{text}"))
    }
}

/// One audited query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub at: Millis,
    pub request_id: String,
    /// The caller's `sub` and role; `None` when the request was not authenticated.
    pub sub: Option<String>,
    pub role: Option<String>,
    pub endpoint: String,
    pub identifier_type: Option<String>,
    /// Keyed hash of what was asked about.
    pub subject: Option<String>,
    /// `all` or the store id the answer was scoped to; `None` before a scope was decided.
    pub scope: Option<String>,
    pub status: u16,
    /// What else identifies the access (a segment export: `segment=seg_… rows=N`).
    pub detail: Option<String>,
}

impl AuditRecord {
    fn pk(&self) -> String {
        keys::audit_pk(self.subject.as_deref(), &self.request_id)
    }
    fn sk(&self) -> String {
        keys::audit_sk(self.at, &self.request_id)
    }
}

/// Where audit records go: DynamoDB, or memory for unit tests of the HTTP layer.
#[derive(Clone)]
pub enum AuditLog {
    DynamoDb {
        client: Client,
        table: String,
        retention_days: i64,
    },
    Memory(Arc<Mutex<Vec<AuditRecord>>>),
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

impl AuditLog {
    /// Writes the record; a second write of the same request replaces the first (the
    /// status is corrected once the read is done).
    pub async fn write(&self, record: &AuditRecord) -> Result<(), StoreError> {
        match self {
            AuditLog::Memory(records) => {
                let mut records = records
                    .lock()
                    .map_err(|_| StoreError::Failed("audit memory poisoned".into()))?;
                records.retain(|r| r.request_id != record.request_id);
                records.push(record.clone());
                Ok(())
            }
            AuditLog::DynamoDb {
                client,
                table,
                retention_days,
            } => {
                let mut item: HashMap<String, AttributeValue> = HashMap::from([
                    ("pk".into(), s(record.pk())),
                    ("sk".into(), s(record.sk())),
                    (
                        "by".into(),
                        s(record.sub.clone().unwrap_or_else(|| "-".into())),
                    ),
                    ("endpoint".into(), s(&record.endpoint)),
                    ("request_id".into(), s(&record.request_id)),
                    ("at".into(), AttributeValue::N(record.at.0.to_string())),
                    (
                        "status".into(),
                        AttributeValue::N(record.status.to_string()),
                    ),
                    (
                        "expires_at".into(),
                        AttributeValue::N(
                            (record.at.0 / 1000 + retention_days * 86_400).to_string(),
                        ),
                    ),
                ]);
                for (name, value) in [
                    ("role", &record.role),
                    ("identifier_type", &record.identifier_type),
                    ("subject", &record.subject),
                    ("scope", &record.scope),
                    ("detail", &record.detail),
                ] {
                    if let Some(v) = value {
                        item.insert(name.into(), s(v));
                    }
                }
                client
                    .put_item()
                    .table_name(table)
                    .set_item(Some(item))
                    .send()
                    .await
                    .map_err(classify)?;
                Ok(())
            }
        }
    }

    /// The newest `limit` records about any of `subjects`, optionally only those scoped to one
    /// store, older than `before` (an audit sort key, `{ms:015}#{request id}`, from
    /// [`AuditPage::next`] of the previous page). One Query per subject, `limit + 1` records
    /// each at most, so the page knows whether more exist.
    pub async fn list(
        &self,
        subjects: &[String],
        store: Option<&StoreId>,
        limit: usize,
        before: Option<&str>,
    ) -> Result<AuditPage, StoreError> {
        let scope_ok = |r: &AuditRecord| match store {
            None => true,
            Some(s) => r.scope.as_deref() == Some(s.as_str()),
        };
        let mut out: Vec<AuditRecord> = match self {
            AuditLog::Memory(records) => records
                .lock()
                .map_err(|_| StoreError::Failed("audit memory poisoned".into()))?
                .iter()
                .filter(|r| r.subject.as_ref().is_some_and(|h| subjects.contains(h)))
                .filter(|r| before.is_none_or(|b| r.sk().as_str() < b))
                .cloned()
                .collect(),
            AuditLog::DynamoDb { client, table, .. } => {
                let pages = futures::future::try_join_all(
                    subjects
                        .iter()
                        .map(|h| query_subject(client, table, h, store, limit + 1, before)),
                )
                .await?;
                pages.into_iter().flatten().collect()
            }
        };
        out.retain(scope_ok);
        out.sort_by(|a, b| (b.at, &b.request_id).cmp(&(a.at, &a.request_id)));
        out.dedup_by(|a, b| a.request_id == b.request_id);
        let more = out.len() > limit;
        out.truncate(limit);
        let next = more.then(|| out.last().map(AuditRecord::sk)).flatten();
        Ok(AuditPage { records: out, next })
    }
}

/// A page of audit records, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditPage {
    pub records: Vec<AuditRecord>,
    /// The sort key of the page's last record when older records exist: pass it back as
    /// `before` for the next page. `None` on the last page.
    pub next: Option<String>,
}

async fn query_subject(
    client: &Client,
    table: &str,
    hash: &str,
    store: Option<&StoreId>,
    limit: usize,
    before: Option<&str>,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut q = client
        .query()
        .table_name(table)
        .expression_attribute_values(":pk", s(keys::audit_subject_pk(hash)))
        .scan_index_forward(false);
    q = match before {
        None => q.key_condition_expression("pk = :pk"),
        Some(b) => q
            .key_condition_expression("pk = :pk AND sk < :before")
            .expression_attribute_values(":before", s(b)),
    };
    if let Some(store) = store {
        q = q
            .filter_expression("#scope = :scope")
            .expression_attribute_names("#scope", "scope")
            .expression_attribute_values(":scope", s(store.as_str()));
    }
    let mut items = q.into_paginator().items().send();
    let mut out = Vec::new();
    while out.len() < limit {
        match items.next().await {
            Some(item) => out.push(parse(&item.map_err(classify)?)),
            None => break,
        }
    }
    Ok(out)
}

fn parse(item: &HashMap<String, AttributeValue>) -> AuditRecord {
    let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
    let num = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
    };
    AuditRecord {
        at: Millis(num("at").unwrap_or(0)),
        request_id: text("request_id").unwrap_or_default(),
        sub: text("by").filter(|b| b != "-"),
        role: text("role"),
        endpoint: text("endpoint").unwrap_or_default(),
        identifier_type: text("identifier_type"),
        subject: text("subject"),
        scope: text("scope"),
        detail: text("detail"),
        status: num("status")
            .and_then(|n| u16::try_from(n).ok())
            .unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use c360_domain::IdentifierType;

    #[test]
    fn hashes_are_keyed_and_normalized() {
        let h = SubjectHasher::new(b"key-one");
        let a = Identifier::parse(IdentifierType::Phone, "+86 138-0013-8000").expect("phone");
        let b = Identifier::parse(IdentifierType::Phone, "13800138000").expect("phone");
        assert_eq!(h.identifier(&a), h.identifier(&b));
        assert_eq!(h.identifier(&a).len(), 32);
        assert!(!h.identifier(&a).contains("13800138000"));
        assert_ne!(
            h.identifier(&a),
            SubjectHasher::new(b"key-two").identifier(&a)
        );
    }
}
