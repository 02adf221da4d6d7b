//! How one source record contributes to a customer, and how the per-scope statistics
//! change when a record appears, changes or disappears.
//!
//! The projection is kept per identifier node and per scope (all stores, or one store):
//! a record lives under one node (its [`home`](crate::source::Identities::home)) and counts
//! in the all-stores scope and in its own store's scope. A customer is a cluster of nodes
//! (see [`crate::identity`]); its figures are the sum of its nodes' figures, so linking or
//! unlinking identifiers never moves or recounts a record.

use crate::ids::{Identifier, StoreId};
use crate::money::Fen;
use crate::source::{SourceKind, SourceRecord};
use crate::time::{Millis, Zone};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// A scope: every store together, or one store. Part of every storage key, so a store-scoped
/// read cannot see another store's figures.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Scope {
    AllStores,
    Store(StoreId),
}

impl Scope {
    pub fn key(&self) -> String {
        match self {
            Scope::AllStores => "A".to_string(),
            Scope::Store(s) => format!("S#{}", s.as_str()),
        }
    }
    pub fn from_key(key: &str) -> Option<Scope> {
        match key {
            "A" => Some(Scope::AllStores),
            _ => StoreId::parse(key.strip_prefix("S#")?)
                .ok()
                .map(Scope::Store),
        }
    }
    /// The scopes a record with this store counts in.
    pub fn of_record(store: Option<&StoreId>) -> Vec<Scope> {
        let mut v = vec![Scope::AllStores];
        if let Some(s) = store {
            v.push(Scope::Store(s.clone()));
        }
        v
    }
}

/// A DynamoDB stream sequence number: a decimal integer of up to 40 digits, increasing for
/// the changes of one item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SeqNo(String);

impl SeqNo {
    pub fn parse(raw: &str) -> Option<SeqNo> {
        let t = raw.trim();
        if t.is_empty() || t.len() > 64 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let stripped = t.trim_start_matches('0');
        Some(SeqNo(if stripped.is_empty() {
            "0".into()
        } else {
            stripped.into()
        }))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The sequence number of a record applied from a scan of its source table (a rebuild):
    /// below every stream sequence number, so any stream delivery of the record wins over it.
    pub fn scanned() -> SeqNo {
        SeqNo("0".into())
    }
    pub fn is_scanned(&self) -> bool {
        self.0 == "0"
    }
}

impl Ord for SeqNo {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}
impl PartialOrd for SeqNo {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// What a member record says about the customer (brand-wide loyalty data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    pub member_id: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub level: Option<String>,
    pub points: Option<i64>,
    pub balance_fen: Option<i64>,
    pub store_id: Option<String>,
    pub registered_at: Millis,
    pub synced_at: Option<Millis>,
}

/// One record's share of its node's statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contribution {
    pub kind: SourceKind,
    pub at: Millis,
    /// The order's total while the order counts (paid or completed).
    pub counted_spend: Option<Fen>,
    /// The calendar day of a counted order in the deployment's zone (days since 1970-01-01,
    /// see [`crate::prediction::local_day`]): the models count purchase occasions in days.
    /// Absent on records stored before the models counted days (see
    /// [`ScopeStats::order_days`]); omitted from storage when absent, so records that are not
    /// counted orders are stored as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted_day: Option<i64>,
    /// A reservation the guest came to (arrived or completed).
    pub fulfilled: bool,
    pub name: Option<String>,
    pub member: Option<MemberInfo>,
}

impl Contribution {
    /// `zone` decides the calendar day a counted order falls on.
    pub fn of(record: &SourceRecord, zone: &Zone) -> Contribution {
        let (counted_spend, fulfilled) = match record {
            SourceRecord::Order(o) => (o.status.is_counted().then_some(o.total), false),
            SourceRecord::Reservation(r) => (None, r.status.is_fulfilled()),
            _ => (None, false),
        };
        let member = match record {
            SourceRecord::Member(m) => Some(MemberInfo {
                member_id: m.member_id.as_str().to_string(),
                name: m.name.clone(),
                phone: m.phone.as_ref().map(|p| p.as_str().to_string()),
                email: m.email.as_ref().map(|e| e.as_str().to_string()),
                level: m.level.clone().filter(|l| !l.trim().is_empty()),
                points: m.points,
                balance_fen: m.balance.map(|b| b.0),
                store_id: m.store.as_ref().map(|s| s.as_str().to_string()),
                registered_at: m.registered_at,
                synced_at: m.synced_at,
            }),
            _ => None,
        };
        let at = record.timeline_time();
        Contribution {
            kind: record.kind(),
            at,
            counted_spend,
            counted_day: counted_spend
                .as_ref()
                .map(|_| crate::prediction::local_day(at, zone)),
            fulfilled,
            name: record.customer_name().map(str::to_string),
            member,
        }
    }
}

/// An extreme (earliest or latest time) that a removal may have invalidated; the caller
/// looks the replacement up among the node's other records in that scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Extreme {
    FirstCountedOrder,
    LastCountedOrder,
    LastEvent,
}

/// The figures of one node in one scope. Sums and counts add and subtract exactly; the
/// extremes are restored from the index when the record holding one goes away. All fields
/// are fixed-size except `names` and `order_days`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScopeStats {
    pub order_records: i64,
    pub counted_orders: i64,
    pub spend_fen: i64,
    pub first_counted_at: Option<Millis>,
    pub last_counted_at: Option<Millis>,
    pub reservation_records: i64,
    pub fulfilled_reservations: i64,
    pub pos_records: i64,
    pub activity_records: i64,
    pub member_records: i64,
    pub last_event_at: Option<Millis>,
    /// Names seen on this node's records in this scope, with how many records carry each.
    pub names: BTreeMap<String, i64>,
    pub member: Option<MemberInfo>,
    /// Counted orders by calendar day in the deployment's zone (days since 1970-01-01): the
    /// purchase occasions of the BG/NBD and Gamma-Gamma models (see `crate::prediction`).
    /// A day is there while at least one counted order falls on it. Kept as sums so that it
    /// adds, subtracts and merges across nodes exactly and in any order, like the counters.
    ///
    /// It grows with the customer's distinct order days, about 27 bytes of stored JSON per
    /// day (`"20089":{"n":1,"f":12800},`): a customer who ate here every day for a year adds
    /// about 10 KB, far below DynamoDB's 400 KB item limit (some 15,000 distinct days), but
    /// every write of the item bills its whole size (1 WCU per KB).
    ///
    /// Items stored before it existed read as empty; their counted orders carry no day, and
    /// the models then give this customer no prediction until the projection is rebuilt into
    /// a new table (`docs/adr/0004-rebuild.md`; a rebuild into the live table leaves records a
    /// stream delivery applied as they are).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub order_days: BTreeMap<i64, OrderDay>,
}

/// The counted orders of one calendar day: one purchase occasion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDay {
    /// Counted orders on the day; the day is dropped when it reaches 0.
    #[serde(rename = "n")]
    pub orders: i64,
    /// Their totals summed, in fen (a free meal adds 0).
    #[serde(rename = "f")]
    pub spend_fen: i64,
}

impl ScopeStats {
    pub fn records(&self) -> i64 {
        self.order_records
            + self.reservation_records
            + self.pos_records
            + self.activity_records
            + self.member_records
    }
    pub fn is_empty(&self) -> bool {
        self.records() == 0
    }

    fn count(&mut self, c: &Contribution, sign: i64) {
        match c.kind {
            SourceKind::Orders => self.order_records += sign,
            SourceKind::Reservations => self.reservation_records += sign,
            SourceKind::PosTransactions => self.pos_records += sign,
            SourceKind::MemberSync => self.member_records += sign,
            SourceKind::Activity => self.activity_records += sign,
        }
        if let Some(spend) = c.counted_spend {
            self.counted_orders += sign;
            self.spend_fen += sign * spend.0;
            if let Some(day) = c.counted_day {
                add_day(
                    &mut self.order_days,
                    day,
                    OrderDay {
                        orders: sign,
                        spend_fen: sign * spend.0,
                    },
                );
            }
        }
        if c.fulfilled {
            self.fulfilled_reservations += sign;
        }
        if let Some(name) = &c.name {
            let n = self.names.entry(name.clone()).or_insert(0);
            *n += sign;
            if *n <= 0 {
                self.names.remove(name);
            }
        }
    }

    /// Replaces `old` by `new` (either may be absent). Returns the extremes that `old`
    /// held and that must be looked up again among the other records; until then they
    /// reflect only `new`.
    pub fn replace(
        &mut self,
        old: Option<&Contribution>,
        new: Option<&Contribution>,
    ) -> Vec<Extreme> {
        let mut lost = Vec::new();
        if let Some(old) = old {
            self.count(old, -1);
            if old.counted_spend.is_some() {
                if self.first_counted_at == Some(old.at) {
                    self.first_counted_at = None;
                    lost.push(Extreme::FirstCountedOrder);
                }
                if self.last_counted_at == Some(old.at) {
                    self.last_counted_at = None;
                    lost.push(Extreme::LastCountedOrder);
                }
            }
            if self.last_event_at == Some(old.at) {
                self.last_event_at = None;
                lost.push(Extreme::LastEvent);
            }
            if old.member.is_some() {
                self.member = None;
            }
        }
        if let Some(new) = new {
            self.count(new, 1);
            if new.counted_spend.is_some() {
                self.first_counted_at = min_opt(self.first_counted_at, Some(new.at));
                self.last_counted_at = max_opt(self.last_counted_at, Some(new.at));
            }
            self.last_event_at = max_opt(self.last_event_at, Some(new.at));
            if new.member.is_some() {
                self.member = new.member.clone();
            }
        }
        // An extreme the new contribution equals or beats is known again.
        if let Some(old) = old {
            lost.retain(|e| match e {
                Extreme::FirstCountedOrder => self.first_counted_at.is_none_or(|t| t > old.at),
                Extreme::LastCountedOrder => self.last_counted_at.is_none_or(|t| t < old.at),
                Extreme::LastEvent => self.last_event_at.is_none_or(|t| t < old.at),
            });
        }
        if self.counted_orders == 0 {
            self.first_counted_at = None;
            self.last_counted_at = None;
            lost.retain(|e| *e == Extreme::LastEvent);
        }
        if self.records() == 0 {
            self.last_event_at = None;
            lost.clear();
        }
        lost
    }

    /// Folds in the extreme found among the other records.
    pub fn restore(&mut self, extreme: Extreme, found: Option<Millis>) {
        match extreme {
            Extreme::FirstCountedOrder => {
                self.first_counted_at = min_opt(self.first_counted_at, found)
            }
            Extreme::LastCountedOrder => {
                self.last_counted_at = max_opt(self.last_counted_at, found)
            }
            Extreme::LastEvent => self.last_event_at = max_opt(self.last_event_at, found),
        }
    }

    /// The customer's figures are the sum of its nodes' figures.
    pub fn merge(&mut self, other: &ScopeStats) {
        self.order_records += other.order_records;
        self.counted_orders += other.counted_orders;
        self.spend_fen += other.spend_fen;
        self.first_counted_at = min_opt(self.first_counted_at, other.first_counted_at);
        self.last_counted_at = max_opt(self.last_counted_at, other.last_counted_at);
        self.reservation_records += other.reservation_records;
        self.fulfilled_reservations += other.fulfilled_reservations;
        self.pos_records += other.pos_records;
        self.activity_records += other.activity_records;
        self.member_records += other.member_records;
        self.last_event_at = max_opt(self.last_event_at, other.last_event_at);
        for (name, n) in &other.names {
            *self.names.entry(name.clone()).or_insert(0) += n;
        }
        self.member = pick_member(self.member.take(), other.member.clone());
        for (&day, &d) in &other.order_days {
            add_day(&mut self.order_days, day, d);
        }
    }

    /// The name most records carry (ties: the smallest), for display.
    pub fn display_name(&self) -> Option<&str> {
        self.names
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(n, _)| n.as_str())
    }
}

/// Adds `delta` to a day, dropping the day when no counted order is left on it.
fn add_day(days: &mut BTreeMap<i64, OrderDay>, day: i64, delta: OrderDay) {
    let d = days.entry(day).or_default();
    d.orders += delta.orders;
    d.spend_fen += delta.spend_fen;
    if d.orders <= 0 {
        days.remove(&day);
    }
}

/// When a cluster holds several member records (a phone shared by two memberships), the most
/// recently synced one is shown; ties go to the smaller member id so the choice is stable.
fn pick_member(a: Option<MemberInfo>, b: Option<MemberInfo>) -> Option<MemberInfo> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let ka = (
                a.synced_at.unwrap_or(a.registered_at),
                std::cmp::Reverse(a.member_id.clone()),
            );
            let kb = (
                b.synced_at.unwrap_or(b.registered_at),
                std::cmp::Reverse(b.member_id.clone()),
            );
            Some(if kb > ka { b } else { a })
        }
        (a, b) => a.or(b),
    }
}

fn min_opt(a: Option<Millis>, b: Option<Millis>) -> Option<Millis> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn max_opt(a: Option<Millis>, b: Option<Millis>) -> Option<Millis> {
    a.max(b)
}

/// A timeline entry as stored: rendered once at ingest from the record's current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub event_type: String,
    pub at: Millis,
    pub title: String,
    pub description: String,
    pub status: Option<String>,
    pub data: serde_json::Value,
}

fn pos_method_label(m: &str) -> &str {
    match m {
        "wechat" => "微信支付",
        "alipay" => "支付宝",
        "cash" => "现金",
        "card" => "银行卡",
        "member_balance" => "会员余额",
        other => other,
    }
}

fn activity_label(a: &str) -> &str {
    match a {
        "login" => "登录",
        "redeem_points" => "积分兑换",
        "recharge" => "充值",
        "coupon_claimed" => "领取优惠券",
        other => other,
    }
}

impl TimelineEntry {
    pub fn of(record: &SourceRecord, zone: &Zone) -> TimelineEntry {
        use serde_json::json;
        let store = record.store().map(|s| s.as_str().to_string());
        let (title, description, status, data) = match record {
            SourceRecord::Order(o) => (
                format!("订单 {}", o.order_number.as_deref().unwrap_or(&o.order_id)),
                format!("{} - ¥{}", o.order_type.label(), o.total.display_yuan()),
                Some(o.status.as_str().to_string()),
                json!({
                    "order_id": o.order_id,
                    "order_number": o.order_number,
                    "store_id": store,
                    "order_type": o.order_type.as_str(),
                    "total": o.total.yuan(),
                    "items": o.items.iter().map(|l| json!({
                        "dish_id": l.dish_id, "name": l.name, "quantity": l.quantity,
                        "price": l.price.map(|p| p.yuan()),
                    })).collect::<Vec<_>>(),
                }),
            ),
            SourceRecord::Reservation(r) => (
                match r.party_size {
                    Some(n) => format!("预订 - {n}人"),
                    None => "预订".to_string(),
                },
                format!("状态: {}", r.status.as_str()),
                Some(r.status.as_str().to_string()),
                json!({
                    "reservation_id": r.reservation_id,
                    "store_id": store,
                    "party_size": r.party_size,
                    "reserved_for": zone.format(r.reserved_for),
                    "source": r.source,
                    "external_id": r.external_id,
                }),
            ),
            SourceRecord::Pos(p) => (
                format!("POS交易 ¥{}", p.amount.display_yuan()),
                match &p.payment_method {
                    Some(m) => format!("{} - {}", pos_method_label(m), p.status.as_str()),
                    None => p.status.as_str().to_string(),
                },
                Some(p.status.as_str().to_string()),
                json!({
                    "transaction_id": p.transaction_id,
                    "store_id": store,
                    "order_number": p.order_number,
                    "amount": p.amount.yuan(),
                    "payment_method": p.payment_method,
                }),
            ),
            SourceRecord::Member(m) => (
                "会员注册".to_string(),
                match &m.level {
                    Some(level) => format!("会员等级: {level}"),
                    None => "会员".to_string(),
                },
                None,
                json!({
                    "member_id": m.member_id.as_str(),
                    "store_id": store,
                    "level": m.level,
                }),
            ),
            SourceRecord::Activity(a) => (
                format!("会员活动: {}", activity_label(&a.action)),
                a.detail.clone().unwrap_or_default(),
                None,
                json!({
                    "log_id": a.log_id,
                    "store_id": store,
                    "action": a.action,
                }),
            ),
        };
        TimelineEntry {
            event_type: record.kind().event_type().to_string(),
            at: record.timeline_time(),
            title,
            description,
            status,
            data,
        }
    }
}

/// What the projection remembers of one source record: the last change applied (by stream
/// sequence number) and, unless the record is gone, where and how it counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppliedRecord {
    pub seq: SeqNo,
    pub state: Option<RecordState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordState {
    pub home: Identifier,
    pub store: Option<StoreId>,
    pub contribution: Contribution,
    pub links: Vec<Identifier>,
    pub timeline: TimelineEntry,
}

impl RecordState {
    /// `None` when the record belongs to no customer (no identifiers at all).
    pub fn of(record: &SourceRecord, zone: &Zone) -> Option<RecordState> {
        Some(RecordState {
            home: record.home()?,
            store: record.store().cloned(),
            contribution: Contribution::of(record, zone),
            links: record.links(),
            timeline: TimelineEntry::of(record, zone),
        })
    }
    pub fn scopes(&self) -> Vec<Scope> {
        Scope::of_record(self.store.as_ref())
    }
}

/// One change read from a source stream.
// Lives for one apply and is never stored in bulk: boxing the record would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// INSERT or MODIFY: the record's new state.
    Upsert(SourceRecord),
    /// REMOVE by a person or service: the record no longer exists.
    Remove,
    /// REMOVE by DynamoDB's TTL: retention in the source, the history stays.
    Expire,
}

/// What applying a change to a record does.
#[allow(clippy::large_enum_variant)] // as for `Change`
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Already applied (a duplicate or an older delivery): nothing to write.
    Stale,
    /// Remember the sequence number; the projection keeps what it has.
    Advance,
    /// Move the record from `before` to `after` (either may be absent).
    Apply {
        before: Option<RecordState>,
        after: Option<RecordState>,
    },
}

/// Decides what a change does given what was applied before. Pure, so it is tested once here
/// and every adapter (DynamoDB, memory) shares it.
pub fn decide(
    previous: Option<&AppliedRecord>,
    seq: &SeqNo,
    change: &Change,
    zone: &Zone,
) -> Decision {
    if let Some(prev) = previous {
        if prev.seq >= *seq {
            return Decision::Stale;
        }
    }
    let before = previous.and_then(|p| p.state.clone());
    let after = match change {
        Change::Upsert(record) => RecordState::of(record, zone),
        Change::Remove => None,
        Change::Expire => return Decision::Advance,
    };
    if before == after {
        return Decision::Advance;
    }
    Decision::Apply { before, after }
}

/// Decides what applying a record read by a scan of its source table does (a rebuild; see
/// `docs/adr/0004-rebuild.md`). A scan carries no sequence number, so it never competes with
/// the stream: where a stream delivery of the record was applied, the stream's state stands
/// (it is as new as the scan's or newer, and the stream delivers whatever is newer still).
/// Otherwise the record moves to the scanned state, unless it is there already.
pub fn decide_scanned(
    previous: Option<&AppliedRecord>,
    record: &SourceRecord,
    zone: &Zone,
) -> Decision {
    if previous.is_some_and(|p| !p.seq.is_scanned()) {
        return Decision::Stale;
    }
    let before = previous.and_then(|p| p.state.clone());
    let after = RecordState::of(record, zone);
    match (previous, before == after) {
        (Some(_), true) => Decision::Stale,
        (None, true) => Decision::Advance,
        (_, false) => Decision::Apply { before, after },
    }
}

/// For each (node, scope): the contribution to take out and the one to put in.
pub type StatDeltas<'a> =
    BTreeMap<(Identifier, Scope), (Option<&'a Contribution>, Option<&'a Contribution>)>;

/// The (node, scope) statistics a move from `before` to `after` touches.
pub fn stat_deltas<'a>(
    before: Option<&'a RecordState>,
    after: Option<&'a RecordState>,
) -> StatDeltas<'a> {
    let mut out = StatDeltas::new();
    if let Some(b) = before {
        for scope in b.scopes() {
            out.entry((b.home.clone(), scope)).or_default().0 = Some(&b.contribution);
        }
    }
    if let Some(a) = after {
        for scope in a.scopes() {
            out.entry((a.home.clone(), scope)).or_default().1 = Some(&a.contribution);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Order o1 of store s1 by phone 13800138000, dine-in, with no lines.
    fn phone_order(
        status: crate::source::OrderStatus,
        total: i64,
        created_at: Millis,
    ) -> SourceRecord {
        use crate::source::{Identities, Order, OrderType};
        SourceRecord::Order(Order {
            order_id: "o1".into(),
            order_number: None,
            store: StoreId::parse("s1").unwrap(),
            ids: Identities {
                member: None,
                phone: Some(crate::Phone::parse("13800138000").unwrap()),
                email: None,
            },
            customer_name: None,
            order_type: OrderType::DineIn,
            status,
            total: Fen(total),
            items: Vec::new(),
            created_at,
        })
    }

    fn order(at: i64, spend: Option<i64>) -> Contribution {
        Contribution {
            kind: SourceKind::Orders,
            at: Millis(at),
            counted_spend: spend.map(Fen),
            counted_day: spend.map(|_| at.div_euclid(crate::time::DAY_MS)),
            fulfilled: false,
            name: Some("张三".into()),
            member: None,
        }
    }

    #[test]
    fn sequence_numbers_compare_numerically() {
        let s = |x: &str| SeqNo::parse(x).unwrap();
        assert!(s("9") < s("10"));
        assert!(s("1100000000017454423009") < s("1100000000017454423010"));
        assert_eq!(s("007"), s("7"));
        assert!(SeqNo::parse("12a").is_none());
    }

    #[test]
    fn adding_then_removing_restores_the_stats() {
        let mut s = ScopeStats::default();
        s.replace(None, Some(&order(10, Some(100))));
        let snapshot = s.clone();
        s.replace(None, Some(&order(20, Some(50))));
        assert_eq!(s.counted_orders, 2);
        assert_eq!(s.last_counted_at, Some(Millis(20)));
        let lost = s.replace(Some(&order(20, Some(50))), None);
        assert_eq!(lost, vec![Extreme::LastCountedOrder, Extreme::LastEvent]);
        s.restore(Extreme::LastCountedOrder, Some(Millis(10)));
        s.restore(Extreme::LastEvent, Some(Millis(10)));
        assert_eq!(s, snapshot);
    }

    #[test]
    fn order_days_count_occasions_and_sum_exactly_across_nodes_in_any_order() {
        const H: i64 = 3_600_000;
        let day = |d: i64| d * crate::time::DAY_MS;
        // Node 1: two orders on day 10, one on day 12. Node 2 (the same customer's member
        // id): one more on day 10, one free meal on day 20.
        let one = [
            order(day(10) + H, Some(4_500)),
            order(day(10) + 5 * H, Some(1_000)),
            order(day(12), Some(800)),
        ];
        let two = [order(day(10) + 9 * H, Some(300)), order(day(20), Some(0))];
        let build = |orders: &[Contribution]| {
            let mut s = ScopeStats::default();
            for o in orders {
                s.replace(None, Some(o));
            }
            s
        };
        let (n1, n2) = (build(&one), build(&two));
        let mut merged = n1.clone();
        merged.merge(&n2);
        let mut other_way = n2.clone();
        other_way.merge(&n1);
        assert_eq!(merged.order_days, other_way.order_days);
        let all: Vec<Contribution> = two.iter().chain(one.iter()).cloned().collect();
        assert_eq!(merged.order_days, build(&all).order_days);
        let day_of = |n: i64, f: i64| OrderDay {
            orders: n,
            spend_fen: f,
        };
        assert_eq!(
            merged.order_days,
            BTreeMap::from([
                (10, day_of(3, 5_800)),
                (12, day_of(1, 800)),
                (20, day_of(1, 0))
            ])
        );
        // A refund takes its order out of the day; the day goes when its last order does,
        // even a free one.
        let mut s = build(&all);
        s.replace(Some(&one[1]), Some(&order(day(10) + 5 * H, None)));
        s.replace(Some(&two[1]), None);
        s.replace(Some(&one[2]), None);
        assert_eq!(s.order_days, BTreeMap::from([(10, day_of(2, 4_800))]));
    }

    #[test]
    fn a_counted_orders_day_is_its_calendar_day_in_the_deployments_zone() {
        use crate::source::OrderStatus;
        let zone = Zone::default();
        let order =
            |created: &str, status| phone_order(status, 100, zone.parse_time(created).unwrap());
        // 00:30 in Shanghai is still the previous day in UTC.
        let c = Contribution::of(
            &order("2024-03-02T00:30:00+08:00", OrderStatus::Paid),
            &zone,
        );
        assert_eq!(
            c.counted_day,
            Some(c360_predict::date::days_from_civil(2024, 3, 2))
        );
        let c = Contribution::of(
            &order("2024-03-02T00:30:00+08:00", OrderStatus::Paid),
            &Zone::parse("Z").unwrap(),
        );
        assert_eq!(
            c.counted_day,
            Some(c360_predict::date::days_from_civil(2024, 3, 1))
        );
        // An order that does not count has no occasion day, and none is stored.
        let c = Contribution::of(
            &order("2024-03-02T00:30:00+08:00", OrderStatus::Pending),
            &zone,
        );
        assert_eq!(c.counted_day, None);
        assert!(!serde_json::to_string(&c).unwrap().contains("counted_day"));
    }

    #[test]
    fn refund_uncounts_but_keeps_the_record() {
        let mut s = ScopeStats::default();
        s.replace(None, Some(&order(10, Some(100))));
        let lost = s.replace(Some(&order(10, Some(100))), Some(&order(10, None)));
        assert!(lost.is_empty(), "{lost:?}");
        assert_eq!((s.order_records, s.counted_orders, s.spend_fen), (1, 0, 0));
        assert_eq!(
            (s.first_counted_at, s.last_counted_at, s.last_event_at),
            (None, None, Some(Millis(10)))
        );
    }

    #[test]
    fn stale_and_duplicate_changes_do_nothing() {
        let zone = Zone::default();
        let prev = AppliedRecord {
            seq: SeqNo::parse("5").unwrap(),
            state: None,
        };
        assert_eq!(
            decide(
                Some(&prev),
                &SeqNo::parse("5").unwrap(),
                &Change::Remove,
                &zone
            ),
            Decision::Stale
        );
        assert_eq!(
            decide(
                Some(&prev),
                &SeqNo::parse("4").unwrap(),
                &Change::Remove,
                &zone
            ),
            Decision::Stale
        );
        assert_eq!(
            decide(
                Some(&prev),
                &SeqNo::parse("6").unwrap(),
                &Change::Remove,
                &zone
            ),
            Decision::Advance
        );
        assert_eq!(
            decide(None, &SeqNo::parse("6").unwrap(), &Change::Expire, &zone),
            Decision::Advance
        );
    }

    #[test]
    fn a_scanned_record_never_overrides_a_stream_delivery_and_applies_once() {
        use crate::source::OrderStatus;
        let zone = Zone::default();
        let order = |total: i64| phone_order(OrderStatus::Paid, total, Millis(1_000));
        let state = |total| RecordState::of(&order(total), &zone);
        // Nothing applied yet: the scan applies.
        assert_eq!(
            decide_scanned(None, &order(10), &zone),
            Decision::Apply {
                before: None,
                after: state(10)
            }
        );
        // A stream delivery was applied, whatever its state: the stream wins.
        for stream_state in [state(10), state(20), None] {
            let streamed = AppliedRecord {
                seq: SeqNo::parse("100").unwrap(),
                state: stream_state,
            };
            assert_eq!(
                decide_scanned(Some(&streamed), &order(10), &zone),
                Decision::Stale
            );
        }
        // Applied by an earlier scan: the same state is a no-op, a newer one moves it.
        let scanned = AppliedRecord {
            seq: SeqNo::scanned(),
            state: state(10),
        };
        assert_eq!(
            decide_scanned(Some(&scanned), &order(10), &zone),
            Decision::Stale
        );
        assert_eq!(
            decide_scanned(Some(&scanned), &order(20), &zone),
            Decision::Apply {
                before: state(10),
                after: state(20)
            }
        );
        // And any stream delivery after a scan applies over it.
        assert!(SeqNo::scanned() < SeqNo::parse("1").unwrap());
        assert!(matches!(
            decide(
                Some(&scanned),
                &SeqNo::parse("1").unwrap(),
                &Change::Upsert(order(30)),
                &zone
            ),
            Decision::Apply { .. }
        ));
    }
}
