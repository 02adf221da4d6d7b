//! The weekly calibration: fits BG/NBD and Gamma-Gamma per store (and for all stores) from
//! the projection, and stores each scope's parameters with their fit date and sample size;
//! from the same scan, each scope's recommendation inputs (`crate::store_reco`).
//!
//! Each customer is summarized by `c360_domain::prediction::summary`, the same rule as the
//! `c360-fit` command (purchase occasions are calendar days in the deployment's zone, spend is
//! averaged over the repeat occasions), with the same fit options but the penalizer: a store's
//! counted orders exported as `customer_id,date,amount` and fitted with
//! `c360-fit --calibration-end <today> --penalizer 0.0001` give the stored parameters.

use crate::store_reco::store_recos;
use c360_domain::identity::NodeLinks;
use c360_domain::prediction::{fit, summary, NoPrediction, StoreModel};
use c360_domain::projection::{Scope, ScopeStats};
use c360_domain::{Identifier, Millis, Zone};
use c360_dynamodb::store::{ScanRow, Store, StoreError};
use c360_runtime::cache::Cache;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub enum ScopeFit {
    Fitted(StoreModel),
    /// Not fitted, with the reason (too little data, no convergence); the previous model, if
    /// any, stays in place.
    Skipped {
        customers: usize,
        reason: String,
    },
}

/// Customers' summed figures per scope: nodes grouped into clusters, as the reads do.
pub fn customers_by_scope(rows: Vec<ScanRow>) -> BTreeMap<Scope, Vec<ScopeStats>> {
    let mut clusters: BTreeMap<Identifier, Identifier> = BTreeMap::new();
    let mut stats: Vec<(Identifier, Scope, ScopeStats)> = Vec::new();
    for row in rows {
        match row {
            ScanRow::Node {
                id,
                links: NodeLinks { cluster, .. },
            } => {
                let canonical = cluster.first().cloned().unwrap_or_else(|| id.clone());
                clusters.insert(id, canonical);
            }
            ScanRow::Stats {
                id,
                scope,
                stats: s,
            } => stats.push((id, scope, *s)),
            ScanRow::CountedOrder { .. } => {}
        }
    }
    let mut merged: BTreeMap<(Scope, Identifier), ScopeStats> = BTreeMap::new();
    for (id, scope, s) in stats {
        let customer = clusters.get(&id).cloned().unwrap_or(id);
        merged.entry((scope, customer)).or_default().merge(&s);
    }
    let mut out: BTreeMap<Scope, Vec<ScopeStats>> = BTreeMap::new();
    for ((scope, _), s) in merged {
        out.entry(scope).or_default().push(s);
    }
    out
}

/// [`calibrate_in`] the default zone (`+08:00`).
pub async fn calibrate(
    store: &Store,
    now: Millis,
) -> Result<BTreeMap<Scope, ScopeFit>, StoreError> {
    calibrate_in(store, now, &Zone::default()).await
}

/// Fits every scope at `now`, counting purchase occasions in the calendar days of `zone` (the
/// deployment's, the one the ingest recorded order days in), and stores what fitted. Returns
/// the outcome per scope.
pub async fn calibrate_in(
    store: &Store,
    now: Millis,
    zone: &Zone,
) -> Result<BTreeMap<Scope, ScopeFit>, StoreError> {
    let rows = store.scan_nodes_and_stats(4).await?;
    let mut outcomes = BTreeMap::new();
    let by_scope = customers_by_scope(rows.clone());
    // The recommendation inputs come from the same scan (no second pass over the table).
    let recos = store_recos(&rows, &by_scope, now, zone)
        .map_err(|e| StoreError::Failed(format!("recommendation inputs: {e}")))?;
    drop(rows);
    futures::future::try_join_all(
        recos
            .iter()
            .map(|(scope, reco)| store.put_store_reco(scope, reco)),
    )
    .await?;
    tracing::info!(scopes = recos.len(), "recommendation inputs stored");
    for (scope, customers) in by_scope {
        let mut days_not_recorded = 0usize;
        let summaries: Vec<_> = customers
            .iter()
            .filter_map(|s| match summary(s, now, zone) {
                Ok(c) => Some(c),
                Err(NoPrediction::DaysNotRecorded) => {
                    days_not_recorded += 1;
                    None
                }
                Err(_) => None,
            })
            .collect();
        if days_not_recorded > 0 {
            tracing::warn!(scope = %scope.key(), customers = days_not_recorded, "customers left out: orders projected before order days were recorded (rebuild the projection into a new table)");
        }
        let outcome = match fit(&summaries, now, zone) {
            Ok(model) => {
                store.put_model(&scope, &model).await?;
                ScopeFit::Fitted(model)
            }
            Err(e) => ScopeFit::Skipped {
                customers: summaries.len(),
                reason: e.to_string(),
            },
        };
        match &outcome {
            ScopeFit::Fitted(m) => {
                tracing::info!(scope = %scope.key(), customers = m.customers, repeat_customers = m.repeat_customers, excluded_zero_spend = m.excluded_zero_spend, "model fitted")
            }
            ScopeFit::Skipped { customers, reason } => {
                tracing::warn!(scope = %scope.key(), customers, reason = %reason, "model not fitted")
            }
        }
        outcomes.insert(scope, outcome);
    }
    Ok(outcomes)
}

/// [`calibrate_in`], then, if any scope got a new model, drops every cached answer: each
/// carries predictions from the models it was computed with (ADR 0006).
pub async fn recalibrate(
    store: &Store,
    cache: &Cache,
    now: Millis,
    zone: &Zone,
) -> Result<BTreeMap<Scope, ScopeFit>, StoreError> {
    let outcomes = calibrate_in(store, now, zone).await?;
    if outcomes.values().any(|o| matches!(o, ScopeFit::Fitted(_))) && !cache.invalidate_all().await
    {
        tracing::warn!("new models stored, but cached answers could not be dropped; they expire with their TTL");
    }
    Ok(outcomes)
}

/// The Lambda entry point of the calibration function (an EventBridge schedule invokes it).
pub async fn run() -> Result<(), lambda_runtime::Error> {
    c360_runtime::telemetry::init();
    let config = c360_runtime::config::Config::from_env()?;
    let clients = c360_runtime::config::Clients::from_env(&config, None).await;
    let cache = Cache::from_env().map_err(c360_runtime::config::ConfigError::new)?;
    let (store, zone, cache) = (&clients.store, &config.zone, &cache);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |_: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            let now = Millis(chrono::Utc::now().timestamp_millis());
            // Boxed: the calibration is a deep future; inline, the Lambda runtime's type of it
            // overflows rustc's query depth.
            let outcomes = Box::pin(recalibrate(store, cache, now, zone)).await?;
            let fitted = outcomes
                .values()
                .filter(|o| matches!(o, ScopeFit::Fitted(_)))
                .count();
            Ok::<_, lambda_runtime::Error>(
                serde_json::json!({ "scopes": outcomes.len(), "fitted": fitted }),
            )
        },
    ))
    .await
}
