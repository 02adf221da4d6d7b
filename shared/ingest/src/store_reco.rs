//! A scope's recommendation inputs, computed by the calibration from the same scan: the dish
//! statistics the recommendations endpoint ranks with (`c360_recommend::StoreDishes`: every
//! customer's counted orders of the last year, their dishes read from the timeline entries)
//! and the coupon rules' baseline (`c360_domain::coupon::Baseline`: the medians of the scope's
//! customers' figures).

use c360_domain::coupon::Baseline;
use c360_domain::projection::insights::Daypart;
use c360_domain::projection::{Scope, ScopeStats};
use c360_domain::segment::SegmentFigures;
use c360_domain::{Fen, Identifier, Millis, Zone};
use c360_dynamodb::store::{ScanRow, StoreReco};
use c360_recommend::{Basket, Params, StoreDishesBuilder, TimedBasket};
use std::collections::BTreeMap;

/// Every scope's inputs from the scan's rows and the customers' summed figures per scope
/// ([`crate::calibrate::customers_by_scope`]), as of `now`. Orders are grouped by customer
/// (nodes into clusters, as the reads do); a scope without counted orders gets no dish
/// statistics, one without customers no baseline.
pub fn store_recos(
    rows: &[ScanRow],
    customers: &BTreeMap<Scope, Vec<ScopeStats>>,
    now: Millis,
    zone: &Zone,
) -> Result<BTreeMap<Scope, StoreReco>, serde_json::Error> {
    let mut canonical: BTreeMap<&Identifier, &Identifier> = BTreeMap::new();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for row in rows {
        match row {
            ScanRow::Node { id, links } => {
                canonical.insert(id, links.cluster.first().unwrap_or(id));
            }
            ScanRow::Stats { stats, .. } => {
                for (dish, t) in &stats.insights.dishes {
                    if let Some(name) = &t.name {
                        names.entry(dish.clone()).or_insert_with(|| name.clone());
                    }
                }
            }
            ScanRow::CountedOrder { .. } => {}
        }
    }
    let mut orders: BTreeMap<(Scope, &Identifier), Vec<TimedBasket>> = BTreeMap::new();
    for row in rows {
        let ScanRow::CountedOrder {
            id,
            store,
            order,
            at,
            dishes,
        } = row
        else {
            continue;
        };
        let customer = canonical.get(id).copied().unwrap_or(id);
        let timed = TimedBasket {
            basket: Basket {
                order_id: order.clone(),
                // RFC 3339 in one offset: sorts in time order, as the ranking needs.
                ordered_at: zone.format(*at),
                dishes: dishes.clone(),
            },
            at_ms: at.0,
            daypart: Daypart::of(*at, zone).as_str().to_string(),
        };
        for scope in [Scope::AllStores, Scope::Store(store.clone())] {
            orders
                .entry((scope, customer))
                .or_default()
                .push(timed.clone());
        }
    }
    let mut builders: BTreeMap<Scope, StoreDishesBuilder> = BTreeMap::new();
    for ((scope, _), baskets) in &orders {
        builders
            .entry(scope.clone())
            .or_insert_with(|| StoreDishesBuilder::new(now.0))
            .add_customer(baskets);
    }
    let support = Params::default().min_pair_support;
    let mut out: BTreeMap<Scope, StoreReco> = BTreeMap::new();
    for (scope, builder) in builders {
        out.entry(scope).or_default().dishes = Some(serde_json::to_string(
            &builder.finish(support, names.clone()),
        )?);
    }
    for (scope, stats) in customers {
        let figures: Vec<SegmentFigures> = stats.iter().map(money_figures).collect();
        let baseline = Baseline::of_figures(&figures, now);
        out.entry(scope.clone()).or_default().baseline = Some(serde_json::to_string(&baseline)?);
    }
    Ok(out)
}

/// The figures a baseline takes medians of, as `SegmentFigures::of_view` computes them.
fn money_figures(s: &ScopeStats) -> SegmentFigures {
    SegmentFigures {
        total_spent: Some(Fen(s.spend_fen)),
        total_orders: Some(s.counted_orders),
        avg_order_value: if s.counted_orders > 0 {
            Fen(s.spend_fen).div_round_half_up(s.counted_orders)
        } else {
            None
        },
        ..SegmentFigures::default()
    }
}
