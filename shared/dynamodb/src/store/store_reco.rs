//! A scope's recommendation inputs: its dish statistics and its coupon baseline, computed by the
//! scheduled calibration from every customer and read by the recommendations endpoint (one
//! GetItem). Stored as the JSON the calibration gives; this crate does not read it.

use crate::keys::*;

use super::codec::*;
use super::{classify, Store, StoreError};

/// What the calibration stored for a scope, as JSON texts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreReco {
    /// `c360_recommend::StoreDishes`.
    pub dishes: Option<String>,
    /// `c360_domain::coupon::Baseline`.
    pub baseline: Option<String>,
}

impl Store {
    pub async fn put_store_reco(
        &self,
        scope: &c360_domain::Scope,
        reco: &StoreReco,
    ) -> Result<(), StoreError> {
        let mut item = key(store_reco_pk(scope), STORE_RECO_SK);
        if let Some(d) = &reco.dishes {
            item.insert("d".into(), s(d));
        }
        if let Some(b) = &reco.baseline {
            item.insert("b".into(), s(b));
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// The scope's stored inputs (empty before the first calibration).
    pub async fn store_reco(&self, scope: &c360_domain::Scope) -> Result<StoreReco, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(store_reco_pk(scope), STORE_RECO_SK)))
            .send()
            .await
            .map_err(classify)?;
        Ok(match resp.item() {
            None => StoreReco::default(),
            Some(item) => StoreReco {
                dishes: get_s(item, "d").map(str::to_string),
                baseline: get_s(item, "b").map(str::to_string),
            },
        })
    }
}

/// One counted order of a node in a scope, as the dish ranking reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct CountedBasket {
    pub order_id: String,
    pub at: c360_domain::Millis,
    pub dishes: Vec<String>,
}

impl Store {
    /// A node's newest orders in a scope (at most `limit`, one Query whatever the history),
    /// keeping the counted ones that list dishes: the baskets the dish ranking starts from.
    pub async fn recent_baskets(
        &self,
        node: &c360_domain::Identifier,
        scope: &c360_domain::Scope,
        limit: usize,
    ) -> Result<Vec<CountedBasket>, StoreError> {
        let kind = c360_domain::SourceKind::Orders;
        let resp = self
            .newest_of_kind(node, scope, kind)
            .limit(limit.clamp(1, 1000) as i32)
            .projection_expression(format!("sk, lk, lc, {DISHES_ATTR}"))
            .send()
            .await
            .map_err(classify)?;
        let prefix = scope_prefix(scope);
        let order_prefix = entry_sk(scope, kind, "");
        Ok(resp
            .items()
            .iter()
            .filter_map(|item| {
                let Some(aws_sdk_dynamodb::types::AttributeValue::Ss(dishes)) =
                    item.get(DISHES_ATTR)
                else {
                    return None;
                };
                Some(CountedBasket {
                    order_id: get_s(item, "sk")?.strip_prefix(&order_prefix)?.to_string(),
                    at: time_from_key(&prefix, get_s(item, "lc")?)?,
                    dishes: dishes.clone(),
                })
            })
            .collect())
    }
}
