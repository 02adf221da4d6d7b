//! One customer's figures in one scope, as filters read them, and days until a birthday.

use super::*;
use crate::money::Fen;
use crate::prediction::predict;
use crate::projection::Scope;
use crate::time::{whole_days_between, Millis, Zone};
use crate::value::Tier;
use crate::view::CustomerView;
use crate::StoreId;
use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use std::fmt;

/// One customer's figures in one scope, as a filter reads them; `None` is a missing figure
/// (see the module's documentation). Build it with [`SegmentFigures::of_view`], or by hand.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SegmentFigures {
    /// 0-100.
    pub rfm_score: Option<f64>,
    pub customer_tier: Option<Tier>,
    /// As the profile shows them; never missing (empty when there are none).
    pub tags: Vec<String>,
    pub total_spent: Option<Fen>,
    /// Counted orders.
    pub total_orders: Option<i64>,
    /// `total_spent / total_orders` rounded half-up to the fen; missing without a counted
    /// order (the profile shows 0 then, but "average below 50 yuan" should not select
    /// customers who never paid).
    pub avg_order_value: Option<Fen>,
    /// Whole days since the last counted order; missing without one.
    pub days_since_last_order: Option<i64>,
    /// Whole days since the last record of any kind (what the activity tag counts).
    pub days_since_last_activity: Option<i64>,
    pub member_level: Option<String>,
    /// 0-1.
    pub churn_probability: Option<f64>,
    /// Yuan rounded to the fen, held as fen.
    pub predicted_clv_12m: Option<Fen>,
    pub expected_orders_90d: Option<f64>,
    /// Days to the next birthday, 0 today ([`days_until_birthday`]).
    pub days_until_birthday: Option<i64>,
    /// The scope's store; missing in the all-stores scope.
    pub store_id: Option<StoreId>,
}

impl SegmentFigures {
    /// The figures of the customer of `view` (its scope's stats, member record, clock, zone
    /// and thresholds), computed as the profile computes them ([`CustomerView::value`],
    /// [`CustomerView::tags`]). `scope` is the scope of `view.stats`; `birthday` the member's
    /// ([`crate::projection::MemberInfo::birthday_month_day`]; its countdown counts days in
    /// `view.zone`). The predictions are computed only when
    /// `with_predictions` (pass [`Filter::needs_predictions`]); otherwise they are missing.
    pub fn of_view(
        view: &CustomerView<'_>,
        scope: &Scope,
        birthday: Option<Birthday>,
        with_predictions: bool,
    ) -> SegmentFigures {
        let value = view.value();
        let predictions = if with_predictions {
            predict(view.stats, view.model, view.now, view.monthly_discount_rate).ok()
        } else {
            None
        };
        SegmentFigures {
            rfm_score: Some(value.rfm_score),
            customer_tier: Some(value.tier),
            tags: view.tags(),
            total_spent: Some(value.total_spent),
            total_orders: Some(value.total_orders),
            avg_order_value: if value.total_orders > 0 {
                value.total_spent.div_round_half_up(value.total_orders)
            } else {
                None
            },
            days_since_last_order: value.recency_days,
            days_since_last_activity: view
                .stats
                .last_event_at
                .map(|t| whole_days_between(t, view.now)),
            member_level: view.member.and_then(|m| m.level.clone()),
            churn_probability: predictions.as_ref().map(|p| p.churn_probability),
            predicted_clv_12m: predictions
                .as_ref()
                .and_then(|p| p.predicted_clv_12m)
                .filter(|v| v.is_finite())
                .map(|v| Fen((v * 100.0).round() as i64)),
            expected_orders_90d: predictions.as_ref().map(|p| p.expected_orders_90d),
            days_until_birthday: birthday
                .map(|b| days_until_birthday(b, local_date(view.now, view.zone))),
            store_id: match scope {
                Scope::Store(s) => Some(s.clone()),
                Scope::AllStores => None,
            },
        }
    }

    pub(super) fn figure(&self, field: Field) -> Option<Figure<'_>> {
        let number = |v: Option<f64>| v.filter(|n| n.is_finite()).map(Figure::Number);
        match field {
            Field::RfmScore => number(self.rfm_score),
            Field::CustomerTier => self.customer_tier.map(Figure::Tier),
            Field::Tags => None,
            Field::TotalSpent => self.total_spent.map(Figure::Money),
            Field::TotalOrders => self.total_orders.map(Figure::Integer),
            Field::AvgOrderValue => self.avg_order_value.map(Figure::Money),
            Field::DaysSinceLastOrder => self.days_since_last_order.map(Figure::Integer),
            Field::DaysSinceLastActivity => self.days_since_last_activity.map(Figure::Integer),
            Field::MemberLevel => self.member_level.as_deref().map(Figure::Text),
            Field::ChurnProbability => number(self.churn_probability),
            Field::PredictedClv12m => self.predicted_clv_12m.map(Figure::Money),
            Field::ExpectedOrders90d => number(self.expected_orders_90d),
            Field::DaysUntilBirthday => self.days_until_birthday.map(Figure::Integer),
            Field::StoreId => self.store_id.as_ref().map(|s| Figure::Text(s.as_str())),
        }
    }
}

/// A birthday's month and day (the year plays no part in the countdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Birthday {
    month: u32,
    day: u32,
}

impl Birthday {
    /// A month (1-12) and day that exist in some year (29 February included).
    pub fn new(month: u32, day: u32) -> Option<Birthday> {
        // 2000 is a leap year: every real month-day exists in it.
        NaiveDate::from_ymd_opt(2000, month, day).map(|_| Birthday { month, day })
    }

    /// Reads `member_sync`'s `birthday`: `YYYY-MM-DD`, or `--MM-DD` when the member gave no
    /// year. `None` for anything else, or a date that does not exist (`2001-02-29`).
    pub fn parse(raw: &str) -> Option<Birthday> {
        let s = raw.trim();
        if let Some(md) = s.strip_prefix("--") {
            let (m, d) = md.split_once('-')?;
            if m.len() != 2 || d.len() != 2 {
                return None;
            }
            return Birthday::new(m.parse().ok()?, d.parse().ok()?);
        }
        let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        Birthday::new(date.month(), date.day())
    }

    pub fn month(self) -> u32 {
        self.month
    }

    pub fn day(self) -> u32 {
        self.day
    }

    /// The birthday's date in `year`: 29 February is kept on 28 February in common years.
    fn in_year(self, year: i32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(year, self.month, self.day)
            .or_else(|| NaiveDate::from_ymd_opt(year, self.month, self.day - 1))
    }
}

/// `--MM-DD`: the shape `spec/sources.md` gives a birthday without its year, and all of a
/// birthday that a masked role sees (`spec/api.md`).
impl fmt::Display for Birthday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "--{:02}-{:02}", self.month, self.day)
    }
}

/// Days from `today` (a local date in the deployment's zone: [`local_date`]) to the next
/// birthday, 0 when it is today. A member born on 29 February has the birthday on
/// 28 February in common years, on the 29th in leap years.
pub fn days_until_birthday(birthday: Birthday, today: NaiveDate) -> i64 {
    let year = today.year();
    [year, year + 1]
        .into_iter()
        .filter_map(|y| birthday.in_year(y))
        .find(|d| *d >= today)
        .map_or(0, |d| (d - today).num_days())
}

/// The calendar date of `now` in `zone`.
pub fn local_date(now: Millis, zone: &Zone) -> NaiveDate {
    Utc.timestamp_millis_opt(now.0)
        .single()
        .map(|t| t.with_timezone(&zone.0).date_naive())
        .unwrap_or_default()
}
