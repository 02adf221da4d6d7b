//! The answers that list customers or accesses rather than show one customer: search hits,
//! the audit trail, an erasure's receipt. Built here with the profile's shapes
//! ([`super::CustomerView`]) so that every answer's JSON is written in this module.

use crate::ids::Identifier;
use crate::projection::{MemberInfo, ScopeStats};
use crate::search::TokenKind;
use crate::time::{Millis, Zone};
use crate::value::{customer_value, Thresholds};
use serde_json::{json, Value};

/// One customer found by a search, in a scope (`spec/api.md`, Search).
#[derive(Debug, Clone)]
pub struct SearchHit<'a> {
    /// The customer's identifiers (its cluster); the phone, else the first, is the one shown.
    pub cluster: &'a [Identifier],
    /// The kind of token that found the customer first.
    pub matched_by: TokenKind,
    /// The scope's figures, summed over the customer's nodes.
    pub stats: &'a ScopeStats,
    pub member: Option<&'a MemberInfo>,
}

impl SearchHit<'_> {
    /// The hit's JSON: [`customer_hit`] and `matched_by`.
    pub fn json(&self, thresholds: &Thresholds, zone: &Zone, now: Millis) -> Value {
        let mut hit = customer_hit(self.cluster, self.stats, self.member, thresholds, zone, now);
        if let Some(obj) = hit.as_object_mut() {
            obj.insert("matched_by".into(), json!(self.matched_by.matched_by()));
        }
        hit
    }
}

/// One customer in a list (a search hit, a segment member): identifier, name, phone, member
/// id and level, counted orders, spend (yuan), tier, last activity (in `zone`). `cluster` is
/// the customer's identifiers (the phone, else the first, is the one shown), `stats` the
/// scope's figures summed over them.
pub fn customer_hit(
    cluster: &[Identifier],
    stats: &ScopeStats,
    member: Option<&MemberInfo>,
    thresholds: &Thresholds,
    zone: &Zone,
    now: Millis,
) -> Value {
    let primary = cluster
        .iter()
        .find(|i| matches!(i, Identifier::Phone(_)))
        .or_else(|| cluster.first());
    let phone = cluster.iter().find_map(|i| match i {
        Identifier::Phone(p) => Some(p.as_str().to_string()),
        _ => None,
    });
    let member_id = cluster.iter().find_map(|i| match i {
        Identifier::Member(m) => Some(m.as_str().to_string()),
        _ => None,
    });
    let name = member
        .and_then(|m| m.name.clone())
        .or_else(|| stats.display_name().map(str::to_string));
    let value = customer_value(stats, now, thresholds);
    json!({
        "customer_identifier": primary.map(|p| p.value()),
        "identifier_type": primary.map(|p| p.kind().as_str()),
        "name": name,
        "phone": phone,
        "member_id": member_id,
        "member_level": member.and_then(|m| m.level.clone()),
        "total_orders": value.total_orders,
        "total_spent": value.total_spent.yuan(),
        "customer_tier": value.tier.label(),
        "last_activity_at": stats.last_event_at.map(|t| zone.format(t)),
    })
}

/// `GET /search`: the hits (already as JSON, best first) for what was typed.
pub fn search_answer(
    query: &str,
    hits: Vec<Value>,
    has_more: bool,
    zone: &Zone,
    now: Millis,
) -> Value {
    let total = hits.len();
    json!({
        "query": query,
        "results": hits,
        "total": total,
        "has_more": has_more,
        "generated_at": zone.format(now),
    })
}

/// One audited access to a customer, a row of the audit trail.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub at: Millis,
    pub sub: Option<&'a str>,
    pub role: Option<&'a str>,
    pub endpoint: &'a str,
    /// `all` or the store id the answer was scoped to.
    pub scope: Option<&'a str>,
    /// The HTTP status the caller got.
    pub status: u16,
    pub request_id: &'a str,
}

/// `GET /audit`: who looked at a customer, newest first: `count` accesses on this page, and
/// `next_cursor` (pass it as `cursor`) when older ones exist, else `null`.
pub fn audit_answer(
    id: &Identifier,
    accesses: &[AuditEntry],
    next_cursor: Option<String>,
    zone: &Zone,
) -> Value {
    let accesses: Vec<Value> = accesses
        .iter()
        .map(|a| {
            json!({
                "at": zone.format(a.at),
                "sub": a.sub,
                "role": a.role,
                "endpoint": a.endpoint,
                "scope": a.scope,
                "status": a.status,
                "request_id": a.request_id,
            })
        })
        .collect();
    json!({
        "customer_identifier": id.value(),
        "identifier_type": id.kind().as_str(),
        "count": accesses.len(),
        "accesses": accesses,
        "next_cursor": next_cursor,
    })
}

/// `DELETE /customer`: what an erasure removed, and whether every cached answer was dropped
/// after it (`cache_cleared`; `false` only when Redis was lost while the erasure ran: answers
/// computed meanwhile may then be served until their TTL).
pub fn erase_answer(
    id: &Identifier,
    identifiers_suppressed: usize,
    items_deleted: usize,
    cache_cleared: bool,
) -> Value {
    json!({
        "customer_identifier": id.value(),
        "identifier_type": id.kind().as_str(),
        "erased": true,
        "identifiers_suppressed": identifiers_suppressed,
        "items_deleted": items_deleted,
        "cache_cleared": cache_cleared,
    })
}
