//! The API's answers, assembled from a customer's statistics and timeline entries in the
//! shapes of the seed (`spec/customer360-seed.md`). Every answer's JSON is written here:
//! one customer's ([`CustomerView`]: profile, value, timeline) in this file, a timeline
//! entry's rendering in `entry.rs`, the lists (search hits, the audit trail, an erasure's
//! receipt) in `lists.rs`. The HTTP envelope around them (`success`, `data`, `error`) is
//! the API wing's.

mod entry;
mod lists;

pub use lists::{audit_answer, customer_hit, erase_answer, search_answer, AuditEntry, SearchHit};

use crate::ids::Identifier;
use crate::money::Fen;
use crate::prediction::{predict, StoreModel};
use crate::projection::insights::mode;
use crate::projection::{MemberInfo, ScopeStats, TimelineEntry};
use crate::time::{Millis, Zone};
use crate::value::{
    customer_value, monthly_spend, tags, CustomerValue, ReservationHabits, Thresholds,
};

/// How many dishes `guest_insights.favorite_dishes` lists.
pub const FAVORITE_DISHES: usize = 5;
use serde_json::{json, Map, Value};

/// Everything a read knows about one customer in one scope.
#[derive(Debug, Clone)]
pub struct CustomerView<'a> {
    /// The identifier as asked for, normalized.
    pub identifier: &'a Identifier,
    /// The scope's figures, summed over the customer's nodes.
    pub stats: &'a ScopeStats,
    /// Brand-wide loyalty data, shown in every scope that can see the customer.
    pub member: Option<&'a MemberInfo>,
    pub now: Millis,
    pub zone: &'a Zone,
    pub thresholds: &'a Thresholds,
    /// The scope's fitted churn and lifetime-value models, if calibrated.
    pub model: Option<&'a StoreModel>,
    pub monthly_discount_rate: f64,
}

impl CustomerView<'_> {
    fn stats_with_member(&self) -> ScopeStats {
        ScopeStats {
            member: self.member.cloned(),
            ..self.stats.clone()
        }
    }

    pub fn value(&self) -> CustomerValue {
        customer_value(self.stats, self.now, self.thresholds)
    }

    pub fn tags(&self) -> Vec<String> {
        tags(
            &self.stats_with_member(),
            &self.value(),
            self.now,
            self.thresholds,
        )
    }

    pub fn customer_value_json(&self) -> Value {
        let v = self.value();
        json!({
            "total_spent": v.total_spent.yuan(),
            "total_orders": v.total_orders,
            "avg_order_value": v.avg_order_value,
            "customer_lifetime_days": v.customer_lifetime_days,
            "order_frequency_per_month": v.order_frequency_per_month,
            "rfm_score": v.rfm_score,
            "customer_tier": v.tier.label(),
        })
    }

    /// `monthly_spend`: `[{"month": "YYYY-MM", "orders": n, "spent": yuan}]`, the last
    /// [`crate::value::SPEND_MONTHS`] local months oldest first ([`monthly_spend`]).
    pub fn monthly_spend_json(&self) -> Value {
        monthly_spend(self.stats, self.now, self.zone)
            .into_iter()
            .map(|m| json!({"month": m.month, "orders": m.orders, "spent": m.spend.yuan()}))
            .collect()
    }

    pub fn statistics_json(&self) -> Value {
        json!({
            "total_orders": self.stats.order_records,
            "total_reservations": self.stats.reservation_records,
            "total_pos_transactions": self.stats.pos_records,
            "total_activities": self.stats.activity_records,
        })
    }

    pub fn member_info_json(&self) -> Value {
        match self.member {
            None => Value::Null,
            Some(m) => json!({
                "member_id": m.member_id,
                "name": m.name,
                "phone": m.phone,
                "email": m.email,
                "level": m.level,
                "points": m.points.unwrap_or(0),
                "balance": Fen(m.balance_fen.unwrap_or(0)).yuan(),
                "store_id": m.store_id,
                "birthday": m.birthday,
                "registered_at": self.zone.format(m.registered_at),
            }),
        }
    }

    /// `guest_insights`: the guest's habits in this scope, from the projection's tallies
    /// ([`crate::projection::insights`]). Rates and shares are 0-1 rounded to 4 decimals,
    /// `null` without anything to divide by; times are RFC 3339 in the deployment's zone.
    /// - `favorite_dishes`: the top [`FAVORITE_DISHES`] dishes by counted orders containing
    ///   them (refunded and cancelled orders taken back out), then by recency:
    ///   `{dish_id, name, count, last_ordered_at}`;
    /// - `visits` (kept reservations: arrived or completed), `finished_reservations` (kept,
    ///   cancelled or no-show), `no_show_rate`, `cancellation_rate`, `party_size` (the median
    ///   of the party sizes booked, people);
    /// - `preferred_daypart` (`breakfast`, `lunch`, `afternoon`, `dinner`, `late_night`, of
    ///   counted orders and kept reservations; [`crate::projection::insights::Daypart`]),
    ///   with `daypart_counts`;
    /// - `preferred_order_type` with `order_type_shares` (of counted orders);
    /// - `payment_method_shares` (successful POS payments);
    /// - `favorite_store`: the store with the most visits (counted orders and kept
    ///   reservations); in a store scope, that store.
    ///
    /// The `preferred_*` and `favorite_*` figures take the largest count, ties to the smaller
    /// key.
    pub fn guest_insights_json(&self) -> Value {
        let ins = &self.stats.insights;
        let round4 = |x: f64| (x * 10_000.0).round() / 10_000.0;
        let shares = |map: &std::collections::BTreeMap<String, i64>| -> Value {
            let total: i64 = map.values().sum();
            map.iter()
                .map(|(k, n)| (k.clone(), json!(round4(*n as f64 / total as f64))))
                .collect::<Map<String, Value>>()
                .into()
        };
        let habits = ReservationHabits::of(self.stats);
        json!({
            "favorite_dishes": ins
                .favorite_dishes(FAVORITE_DISHES)
                .into_iter()
                .map(|(id, t)| json!({
                    "dish_id": id,
                    "name": t.name,
                    "count": t.orders,
                    "last_ordered_at": t.last.map(|l| self.zone.format(l)),
                }))
                .collect::<Vec<_>>(),
            "visits": habits.kept,
            "finished_reservations": habits.finished,
            "no_show_rate": habits.no_show_rate().map(round4),
            "cancellation_rate": habits.cancellation_rate().map(round4),
            "party_size": ins.median_party_size(),
            "preferred_daypart": mode(&ins.dayparts).map(|d| d.as_str()),
            "daypart_counts": ins
                .dayparts
                .iter()
                .map(|(d, n)| (d.as_str().to_string(), json!(n)))
                .collect::<Map<String, Value>>(),
            "preferred_order_type": mode(&ins.order_types),
            "order_type_shares": shares(&ins.order_types),
            "payment_method_shares": shares(&ins.payment_methods),
            "favorite_store": mode(&ins.stores),
        })
    }

    /// `predictions`, or `null` with `predictions_unavailable_reason`.
    fn add_predictions(&self, m: &mut Map<String, Value>) {
        match predict(self.stats, self.model, self.now, self.monthly_discount_rate) {
            Ok(p) => {
                m.insert(
                    "predictions".into(),
                    json!({
                        "p_alive": p.p_alive,
                        "churn_probability": p.churn_probability,
                        "expected_orders_90d": p.expected_orders_90d,
                        "predicted_clv_12m": p.predicted_clv_12m,
                        "model_fitted_at": self.zone.format(p.model_fitted_at),
                    }),
                );
            }
            Err(why) => {
                m.insert("predictions".into(), Value::Null);
                m.insert("predictions_unavailable_reason".into(), json!(why.reason()));
            }
        }
    }

    fn head(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("customer_identifier".into(), json!(self.identifier.value()));
        m.insert(
            "identifier_type".into(),
            json!(self.identifier.kind().as_str()),
        );
        m
    }

    /// `GET /profile`: `timeline`, `recent_orders` and `recent_reservations` newest first.
    pub fn profile(
        &self,
        timeline: &[TimelineEntry],
        recent_orders: &[TimelineEntry],
        recent_reservations: &[TimelineEntry],
    ) -> Value {
        let mut m = self.head();
        m.insert("member_info".into(), self.member_info_json());
        m.insert("customer_value".into(), self.customer_value_json());
        m.insert("customer_tags".into(), json!(self.tags()));
        m.insert("statistics".into(), self.statistics_json());
        m.insert("monthly_spend".into(), self.monthly_spend_json());
        self.add_predictions(&mut m);
        m.insert("guest_insights".into(), self.guest_insights_json());
        m.insert(
            "timeline".into(),
            timeline
                .iter()
                .map(|e| timeline_json(e, self.zone, false))
                .collect(),
        );
        m.insert(
            "recent_orders".into(),
            recent_orders
                .iter()
                .map(|e| record_json(e, "created_at", self.zone))
                .collect(),
        );
        m.insert(
            "recent_reservations".into(),
            recent_reservations
                .iter()
                .map(|e| record_json(e, "reserved_for", self.zone))
                .collect(),
        );
        m.insert("generated_at".into(), json!(self.zone.format(self.now)));
        Value::Object(m)
    }

    /// `GET /value`.
    pub fn value_answer(&self) -> Value {
        let mut m = self.head();
        m.insert("customer_value".into(), self.customer_value_json());
        m.insert("customer_tags".into(), json!(self.tags()));
        m.insert("statistics".into(), self.statistics_json());
        m.insert("monthly_spend".into(), self.monthly_spend_json());
        self.add_predictions(&mut m);
        m.insert("generated_at".into(), json!(self.zone.format(self.now)));
        Value::Object(m)
    }

    /// `GET /timeline`: one page, with the cursor of the next page when there is one.
    pub fn timeline_answer(&self, page: &[TimelineEntry], next_cursor: Option<String>) -> Value {
        let mut m = self.head();
        m.insert(
            "timeline".into(),
            page.iter()
                .map(|e| timeline_json(e, self.zone, true))
                .collect(),
        );
        m.insert("total_events".into(), json!(self.stats.records()));
        m.insert("next_cursor".into(), json!(next_cursor));
        m.insert("generated_at".into(), json!(self.zone.format(self.now)));
        Value::Object(m)
    }
}

pub fn timeline_json(e: &TimelineEntry, zone: &Zone, with_data: bool) -> Value {
    let mut m = Map::new();
    m.insert("event_type".into(), json!(e.event_type));
    m.insert("event_time".into(), json!(zone.format(e.at)));
    m.insert("title".into(), json!(e.title));
    m.insert("description".into(), json!(e.description));
    m.insert("status".into(), json!(e.status));
    if with_data {
        m.insert("data".into(), e.data.clone());
    }
    Value::Object(m)
}

/// A recent order or reservation: its data plus its status and time.
fn record_json(e: &TimelineEntry, time_field: &str, zone: &Zone) -> Value {
    let mut m = match &e.data {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    m.insert("status".into(), json!(e.status));
    m.insert(time_field.into(), json!(zone.format(e.at)));
    Value::Object(m)
}
