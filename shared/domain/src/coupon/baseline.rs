//! Store medians: what a rule may compare against, computed per scope by the calibration.

use super::*;

/// A figure whose median over a scope's customers a filter can compare against:
/// `{"store_median":"avg_order_value"}`.
///
/// `avg_order_value` and `total_spent` are yuan and compare with the money fields
/// (`total_spent`, `avg_order_value`, `predicted_clv_12m`); `total_orders` is a whole number
/// of orders and compares with `total_orders` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Median {
    AvgOrderValue,
    TotalSpent,
    TotalOrders,
}

impl Median {
    pub const ALL: [Median; 3] = [
        Median::AvgOrderValue,
        Median::TotalSpent,
        Median::TotalOrders,
    ];

    /// The name in `{"store_median": name}`, the same as the field's.
    pub fn name(self) -> &'static str {
        match self {
            Median::AvgOrderValue => "avg_order_value",
            Median::TotalSpent => "total_spent",
            Median::TotalOrders => "total_orders",
        }
    }

    pub fn parse(name: &str) -> Option<Median> {
        Median::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Whether a comparison on `field` can take this median as its value.
    pub fn compares_with(self, field: Field) -> bool {
        match self {
            Median::AvgOrderValue | Median::TotalSpent => matches!(
                field,
                Field::TotalSpent | Field::AvgOrderValue | Field::PredictedClv12m
            ),
            Median::TotalOrders => field == Field::TotalOrders,
        }
    }
}

impl fmt::Display for Median {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One scope's medians (a store's, or the whole chain's for the all-stores scope), which
/// `{"store_median": ...}` in a rule's filter stands for.
///
/// The baseline is computed by the weekly calibration ([`Baseline::of_figures`] over the
/// scope's customers, from the scan that fits the models: `c360_ingest::store_reco`; locally
/// `c360-dev calibrate`), so a fresh deployment has none ([`Baseline::unknown`]): a rule that
/// refers to an unknown median does not apply ([`RuleFilter::bind`]), the other rules do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Median of `avg_order_value` over the customers with a counted order, in fen.
    pub avg_order_value: Option<Fen>,
    /// Median of `total_spent` over the customers with the figure, in fen.
    pub total_spent: Option<Fen>,
    /// Median of `total_orders` (counted orders), a whole number of orders.
    pub total_orders: Option<i64>,
    /// When the medians were computed (ms since the epoch).
    pub computed_at: Millis,
}

impl Baseline {
    /// No median known (no calibration has run yet); `computed_at` is the epoch.
    pub fn unknown() -> Baseline {
        Baseline {
            avg_order_value: None,
            total_spent: None,
            total_orders: None,
            computed_at: Millis(0),
        }
    }

    /// The medians of one scope's customers' figures. Each median is over the customers that
    /// have the figure (a customer without a counted order has no `avg_order_value` and is
    /// left out of that median); `None` when no customer has it. With an even count, the
    /// median is the mean of the middle two, rounded half up to the fen (to the whole order
    /// for `total_orders`).
    pub fn of_figures<'a>(
        figures: impl IntoIterator<Item = &'a SegmentFigures>,
        computed_at: Millis,
    ) -> Baseline {
        let (mut avg, mut spent, mut orders) = (Vec::new(), Vec::new(), Vec::new());
        for f in figures {
            avg.extend(f.avg_order_value.map(|v| v.0));
            spent.extend(f.total_spent.map(|v| v.0));
            orders.extend(f.total_orders);
        }
        Baseline {
            avg_order_value: median(avg).map(Fen),
            total_spent: median(spent).map(Fen),
            total_orders: median(orders),
            computed_at,
        }
    }

    /// The median, if known.
    pub(super) fn get(&self, m: Median) -> Option<MedianValue> {
        match m {
            Median::AvgOrderValue => self.avg_order_value.map(MedianValue::Money),
            Median::TotalSpent => self.total_spent.map(MedianValue::Money),
            Median::TotalOrders => self.total_orders.map(MedianValue::Orders),
        }
    }

    /// A baseline where every median is known, to check the rules at load.
    pub(super) fn probe() -> Baseline {
        Baseline {
            avg_order_value: Some(Fen(1)),
            total_spent: Some(Fen(1)),
            total_orders: Some(1),
            computed_at: Millis(0),
        }
    }
}

/// The median of integers; even counts take the mean of the middle two, half up.
fn median(mut v: Vec<i64>) -> Option<i64> {
    v.sort_unstable();
    let n = v.len();
    if n == 0 {
        return None;
    }
    if n % 2 == 1 {
        return Some(v[n / 2]);
    }
    let sum = i128::from(v[n / 2 - 1]) + i128::from(v[n / 2]);
    i64::try_from((sum + 1).div_euclid(2)).ok()
}

#[derive(Debug, Clone, Copy)]
pub(super) enum MedianValue {
    Money(Fen),
    Orders(i64),
}

impl MedianValue {
    /// As a comparison's value in the segment JSON: money as an exact decimal string.
    pub(super) fn json(self, m: Median) -> Result<Value, CouponError> {
        match self {
            MedianValue::Money(f) if f.0 < 0 => Err(CouponError::UnusableMedian {
                median: m,
                value: format!("{} fen", f.0),
            }),
            MedianValue::Money(f) => Ok(Value::String(f.display_yuan())),
            MedianValue::Orders(n) => Ok(json!(n)),
        }
    }

    pub(super) fn text(self) -> String {
        match self {
            MedianValue::Money(f) => format!("{} yuan", f.display_yuan()),
            MedianValue::Orders(n) => format!("{n} orders"),
        }
    }
}
