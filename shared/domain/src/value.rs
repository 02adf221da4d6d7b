//! A customer's value (`customer_value` in the answers): spend, RFM score, tier and tags,
//! exactly as `spec/api.md` defines them.
//! Every threshold is configuration ([`Thresholds`]) with the documented default, and can be
//! overridden per store ([`ValueConfig`]).

use crate::money::Fen;
use crate::prediction::local_day;
use crate::projection::{Scope, ScopeStats};
use crate::time::{whole_days_between, Millis, Zone};
use chrono::Datelike;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How the RFM score is computed. Each component is a saturating curve in [0, 1) that only
/// grows with a better input, so the weighted score (0-100) is monotone:
/// - R = 1 / (1 + days_since_last_counted_order / recency_half_life_days) (0 with no order)
/// - F = f / (f + frequency_half_per_month), f = order_frequency_per_month
/// - M = s / (s + monetary_half_yuan), s = total_spent in yuan
///
/// The half-points are where a component reaches 0.5. Fixed curves rather than per-store
/// quantiles: a customer's score does not move because other customers changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    pub recency_weight: f64,
    pub frequency_weight: f64,
    pub monetary_weight: f64,
    pub recency_half_life_days: f64,
    pub frequency_half_per_month: f64,
    pub monetary_half_yuan: f64,
    pub vip_min_score: f64,
    pub high_value_min_score: f64,
    pub mid_value_min_score: f64,
    /// 流失风险: quiet for more than this many days after having value...
    pub churn_quiet_days: i64,
    /// ...where "had value" is at least this many counted orders...
    pub churn_min_orders: i64,
    /// ...or at least this much spend.
    pub churn_min_spend_yuan: f64,
    pub high_frequency_per_month: f64,
    pub high_ticket_yuan: f64,
    pub frequent_booker_reservations: i64,
    pub active_max_days: i64,
    pub dormant_max_days: i64,
    /// 爽约风险: no-shows over finished reservations (kept, cancelled or no-show) at or above
    /// this rate (0-1)...
    pub no_show_risk_rate: f64,
    /// ...over at least this many finished reservations (one missed table is not a habit).
    pub no_show_risk_min_reservations: i64,
    /// 外卖偏好: delivery orders over counted orders at or above this share (0-1)...
    pub delivery_preference_share: f64,
    /// ...over at least this many counted orders.
    pub delivery_preference_min_orders: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            recency_weight: 0.35,
            frequency_weight: 0.35,
            monetary_weight: 0.30,
            recency_half_life_days: 30.0,
            frequency_half_per_month: 2.0,
            monetary_half_yuan: 2000.0,
            vip_min_score: 85.0,
            high_value_min_score: 70.0,
            mid_value_min_score: 50.0,
            churn_quiet_days: 90,
            churn_min_orders: 3,
            churn_min_spend_yuan: 1000.0,
            high_frequency_per_month: 4.0,
            high_ticket_yuan: 300.0,
            frequent_booker_reservations: 5,
            active_max_days: 30,
            dormant_max_days: 90,
            no_show_risk_rate: 0.3,
            no_show_risk_min_reservations: 3,
            delivery_preference_share: 0.6,
            delivery_preference_min_orders: 5,
        }
    }
}

/// Defaults plus per-store overrides (each override is a whole [`Thresholds`], missing
/// fields taking the defaults).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValueConfig {
    pub defaults: Thresholds,
    pub stores: BTreeMap<String, Thresholds>,
}

impl ValueConfig {
    pub fn for_scope(&self, scope: &Scope) -> &Thresholds {
        match scope {
            Scope::Store(s) => self.stores.get(s.as_str()).unwrap_or(&self.defaults),
            Scope::AllStores => &self.defaults,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tier {
    Vip,
    High,
    Mid,
    Low,
    ChurnRisk,
}

impl Tier {
    pub fn label(self) -> &'static str {
        match self {
            Tier::Vip => "VIP",
            Tier::High => "高价值",
            Tier::Mid => "中价值",
            Tier::Low => "低价值",
            Tier::ChurnRisk => "流失风险",
        }
    }
}

/// A customer's value in one scope, as `customer_value` in the answers (`spec/api.md`).
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerValue {
    /// Counted orders' totals (`paid`, `completed`), in fen.
    pub total_spent: Fen,
    /// Counted orders.
    pub total_orders: i64,
    /// Yuan, 2 decimals, rounded half up; 0 without orders.
    pub avg_order_value: f64,
    /// Whole days from the first counted order to now; 0 without one.
    pub customer_lifetime_days: i64,
    /// Counted orders per 30 days of lifetime (counted as at least 30 days), 2 decimals.
    pub order_frequency_per_month: f64,
    /// Days since the last counted order; `None` without one.
    pub recency_days: Option<i64>,
    /// 0 to 100, one decimal ([`rfm_score`]).
    pub rfm_score: f64,
    pub tier: Tier,
}

/// The RFM score, 0 to 100 at one decimal: a weighted sum of three saturating curves,
/// recency `1 / (1 + days / half_life)` (0 without an order), frequency `f / (f + half)`
/// (orders a month) and spend `m / (m + half)` (yuan), weights and half-points from
/// [`Thresholds`] (`spec/api.md`: 30 days, 2 a month, 2,000 yuan; 0.35/0.35/0.30).
pub fn rfm_score(
    recency_days: Option<i64>,
    frequency_per_month: f64,
    spent_yuan: f64,
    t: &Thresholds,
) -> f64 {
    let r = match recency_days {
        Some(d) => 1.0 / (1.0 + d.max(0) as f64 / t.recency_half_life_days),
        None => 0.0,
    };
    let f = frequency_per_month.max(0.0);
    let f = f / (f + t.frequency_half_per_month);
    let m = spent_yuan.max(0.0);
    let m = m / (m + t.monetary_half_yuan);
    let weights = t.recency_weight + t.frequency_weight + t.monetary_weight;
    let score =
        100.0 * (t.recency_weight * r + t.frequency_weight * f + t.monetary_weight * m) / weights;
    (score * 10.0).round() / 10.0
}

/// The customer's value in a scope from its summed statistics at `now` (ms since the epoch).
pub fn customer_value(stats: &ScopeStats, now: Millis, t: &Thresholds) -> CustomerValue {
    let total_orders = stats.counted_orders;
    let total_spent = Fen(stats.spend_fen);
    let avg_order_value = total_spent
        .div_round_half_up(total_orders)
        .map_or(0.0, Fen::yuan);
    let customer_lifetime_days = stats
        .first_counted_at
        .map(|f| whole_days_between(f, now))
        .unwrap_or(0);
    let order_frequency_per_month =
        ((total_orders as f64 / customer_lifetime_days.max(30) as f64 * 30.0) * 100.0).round()
            / 100.0;
    let recency_days = stats.last_counted_at.map(|l| whole_days_between(l, now));
    let rfm_score = rfm_score(
        recency_days,
        order_frequency_per_month,
        total_spent.yuan(),
        t,
    );
    let had_value =
        total_orders >= t.churn_min_orders || total_spent.yuan() >= t.churn_min_spend_yuan;
    let tier = if had_value && recency_days.is_some_and(|d| d > t.churn_quiet_days) {
        Tier::ChurnRisk
    } else if rfm_score >= t.vip_min_score {
        Tier::Vip
    } else if rfm_score >= t.high_value_min_score {
        Tier::High
    } else if rfm_score >= t.mid_value_min_score {
        Tier::Mid
    } else {
        Tier::Low
    };
    CustomerValue {
        total_spent,
        total_orders,
        avg_order_value,
        customer_lifetime_days,
        order_frequency_per_month,
        recency_days,
        rfm_score,
        tier,
    }
}

/// The activity tag for a number of days since the last activity of any kind.
pub fn activity_tag(days_since_last_activity: i64, t: &Thresholds) -> &'static str {
    if days_since_last_activity <= t.active_max_days {
        "活跃用户"
    } else if days_since_last_activity <= t.dormant_max_days {
        "沉睡用户"
    } else {
        "流失用户"
    }
}

/// A customer's finished reservations (kept, cancelled, no-show) in a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservationHabits {
    pub kept: i64,
    pub cancelled: i64,
    pub no_shows: i64,
    pub finished: i64,
}

impl ReservationHabits {
    pub fn of(stats: &ScopeStats) -> ReservationHabits {
        let (kept, cancelled, no_shows) = (
            stats.fulfilled_reservations,
            stats.insights.cancelled,
            stats.insights.no_shows,
        );
        ReservationHabits {
            kept,
            cancelled,
            no_shows,
            finished: kept + cancelled + no_shows,
        }
    }
    /// No-shows over finished reservations, 0-1; `None` without a finished one.
    pub fn no_show_rate(&self) -> Option<f64> {
        (self.finished > 0).then(|| self.no_shows as f64 / self.finished as f64)
    }
    /// Cancellations over finished reservations, 0-1; `None` without a finished one.
    pub fn cancellation_rate(&self) -> Option<f64> {
        (self.finished > 0).then(|| self.cancelled as f64 / self.finished as f64)
    }
}

/// Tags in a fixed order: membership, tier, habits, activity.
pub fn tags(stats: &ScopeStats, value: &CustomerValue, now: Millis, t: &Thresholds) -> Vec<String> {
    let mut tags = Vec::new();
    if let Some(member) = &stats.member {
        tags.push("会员".to_string());
        if let Some(level) = &member.level {
            tags.push(format!("会员等级:{level}"));
        }
    }
    tags.push(value.tier.label().to_string());
    if value.order_frequency_per_month >= t.high_frequency_per_month {
        tags.push("高频消费".to_string());
    }
    if value.total_orders > 0 && value.avg_order_value >= t.high_ticket_yuan {
        tags.push("高客单价".to_string());
    }
    if stats.fulfilled_reservations >= t.frequent_booker_reservations {
        tags.push("预订常客".to_string());
    }
    let habits = ReservationHabits::of(stats);
    if habits.finished >= t.no_show_risk_min_reservations.max(1)
        && habits
            .no_show_rate()
            .is_some_and(|r| r >= t.no_show_risk_rate)
    {
        tags.push("爽约风险".to_string());
    }
    let delivery = stats
        .insights
        .order_types
        .get("delivery")
        .copied()
        .unwrap_or(0);
    let typed: i64 = stats.insights.order_types.values().sum();
    if typed >= t.delivery_preference_min_orders.max(1)
        && delivery as f64 >= t.delivery_preference_share * typed as f64
    {
        tags.push("外卖偏好".to_string());
    }
    if let Some(last) = stats.last_event_at {
        tags.push(activity_tag(whole_days_between(last, now), t).to_string());
    }
    tags
}

/// How many calendar months [`monthly_spend`] covers: the current one and the 11 before, the
/// span of the spend-by-month chart a guest card shows.
pub const SPEND_MONTHS: usize = 12;

/// One local calendar month of a customer's counted orders (`monthly_spend` in the answers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthSpend {
    /// The month in the deployment's zone, `YYYY-MM`.
    pub month: String,
    /// Counted orders (`paid`/`completed`, refunds and cancellations taken back out) placed in it.
    pub orders: i64,
    /// Their totals, in fen.
    pub spend: Fen,
}

/// Counted orders and spend per local calendar month for the [`SPEND_MONTHS`] months ending
/// with `now`'s, oldest first, every month present (0 when nothing was ordered).
///
/// Summed from `stats.order_days` (counted orders by local day, kept exactly by the
/// projection whatever the delivery order; `crate::prediction`), so it equals a recount of
/// the source records over those months. Counted orders stored before the projection recorded
/// their day are missing here until a rebuild (as for the predictions, `docs/adr/0003`).
pub fn monthly_spend(stats: &ScopeStats, now: Millis, zone: &Zone) -> Vec<MonthSpend> {
    let month_of_day = |day: i64| {
        chrono::DateTime::from_timestamp(day.saturating_mul(86_400), 0)
            .map(|t| (t.year(), t.month()))
    };
    let Some((mut year, mut month)) = month_of_day(local_day(now, zone)) else {
        return Vec::new();
    };
    let mut months: Vec<(i32, u32)> = Vec::with_capacity(SPEND_MONTHS);
    for _ in 0..SPEND_MONTHS {
        months.push((year, month));
        (year, month) = if month == 1 {
            (year - 1, 12)
        } else {
            (year, month - 1)
        };
    }
    months.reverse();
    let mut out: Vec<MonthSpend> = months
        .iter()
        .map(|(y, m)| MonthSpend {
            month: format!("{y:04}-{m:02}"),
            orders: 0,
            spend: Fen(0),
        })
        .collect();
    for (day, tally) in &stats.order_days {
        if let Some(i) = month_of_day(*day).and_then(|ym| months.iter().position(|m| *m == ym)) {
            out[i].orders += tally.orders;
            out[i].spend = Fen(out[i].spend.0 + tally.spend_fen);
        }
    }
    out
}

#[cfg(test)]
mod tests;
