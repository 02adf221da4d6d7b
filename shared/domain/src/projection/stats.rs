//! One record's contribution to its node, and the statistics of one node in one scope that
//! contributions add to, are taken from and merge across a customer's nodes.

use super::insights::{Habits, Insights};
use crate::money::Fen;
use crate::segment::Birthday;
use crate::source::{SourceKind, SourceRecord};
use crate::time::{Millis, Zone};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// `YYYY-MM-DD`, or `--MM-DD` when the member gave no year, as the member record gave it
    /// (`spec/sources.md`; [`crate::source::birthday_text`]). Omitted from storage when absent,
    /// so items stored before it existed read as `None` and members without one are stored as
    /// before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
    pub registered_at: Millis,
    pub synced_at: Option<Millis>,
}

impl MemberInfo {
    /// The birthday's month and day, for [`crate::segment::SegmentFigures::of_view`]'s
    /// countdown; `None` without a birthday.
    pub fn birthday_month_day(&self) -> Option<Birthday> {
        self.birthday.as_deref().and_then(Birthday::parse)
    }
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
    /// What the record adds to the guest insights; omitted from storage when empty, so records
    /// stored before insights existed read as adding none.
    #[serde(default, skip_serializing_if = "Habits::is_empty")]
    pub habits: Habits,
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
                birthday: m.birthday.clone(),
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
            habits: Habits::of(record, zone),
        }
    }
}

/// An extreme (earliest or latest time) that a removal may have invalidated; the caller
/// looks the replacement up among the node's other records in that scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Extreme {
    FirstCountedOrder,
    LastCountedOrder,
    LastEvent,
    /// The latest counted order containing this dish (id).
    DishLastOrdered(String),
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
    /// The guest-insight tallies (dishes, reservation outcomes, dayparts, ...): see
    /// [`Insights`] for what they hold and how big they get. Omitted from storage when empty.
    #[serde(skip_serializing_if = "Insights::is_empty")]
    pub insights: Insights,
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
    /// How many records of one source count here.
    pub fn records_of(&self, kind: SourceKind) -> i64 {
        match kind {
            SourceKind::Orders => self.order_records,
            SourceKind::Reservations => self.reservation_records,
            SourceKind::PosTransactions => self.pos_records,
            SourceKind::MemberSync => self.member_records,
            SourceKind::Activity => self.activity_records,
        }
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
        self.insights.count(&c.habits, c.at, sign);
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
                Extreme::DishLastOrdered(_) => true,
            });
            let dishes = self.insights.lost_dishes(&old.habits, old.at);
            lost.extend(dishes.into_iter().map(Extreme::DishLastOrdered));
        }
        if self.counted_orders == 0 {
            self.first_counted_at = None;
            self.last_counted_at = None;
            lost.retain(|e| matches!(e, Extreme::LastEvent));
        }
        if self.records() == 0 {
            self.last_event_at = None;
            lost.clear();
        }
        lost
    }

    /// Folds in the extreme found among the other records.
    pub fn restore(&mut self, extreme: &Extreme, found: Option<Millis>) {
        match extreme {
            Extreme::FirstCountedOrder => {
                self.first_counted_at = min_opt(self.first_counted_at, found)
            }
            Extreme::LastCountedOrder => {
                self.last_counted_at = max_opt(self.last_counted_at, found)
            }
            Extreme::LastEvent => self.last_event_at = max_opt(self.last_event_at, found),
            Extreme::DishLastOrdered(dish) => self.insights.restore_dish(dish, found),
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
        self.insights.merge(&other.insights);
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
