//! Erasure (PIPL/GDPR right to erasure) of a customer from Customer360.
//!
//! Order matters, because the streams keep flowing: first every identifier of the customer
//! is suppressed (the projector then drops their records, and a change that read "not
//! suppressed" before fails its transaction and re-reads), then everything under the
//! customer's nodes and the anchors of their records is deleted. Running it again finds
//! nothing left and changes nothing. The source systems keep their own copies.

use crate::reads::ReadError;
use crate::store::{anchor_pk, Store, ANCHOR_SK, NODE_SK};
use c360_domain::{Identifier, Millis, SourceKind};
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erased {
    /// The customer's identifiers, now suppressed.
    pub identifiers: Vec<Identifier>,
    /// Items deleted from the customer360 table.
    pub items_deleted: usize,
}

/// The anchor of the record a timeline entry (`R#{scope}#{source}#{source_id}`) stands for.
fn anchor_of_entry(sk: &str) -> Option<(String, String)> {
    let rest = sk.strip_prefix("R#")?;
    let rest = match rest.strip_prefix("A#") {
        Some(r) => r,
        None => {
            let r = rest.strip_prefix("S#")?;
            r.split_once('#')?.1
        }
    };
    let (table, source_id) = rest.split_once('#')?;
    let kind = SourceKind::from_table(table)?;
    Some((anchor_pk(kind, source_id), ANCHOR_SK.to_string()))
}

pub async fn erase(store: &Store, id: &Identifier, now: Millis) -> Result<Erased, ReadError> {
    let node = store.get_node(id).await?.ok_or(ReadError::NotFound)?;
    let mut cluster: BTreeSet<Identifier> = node.links.cluster.into_iter().collect();
    cluster.extend(node.links.adjacent);
    cluster.insert(id.clone());
    let identifiers: Vec<Identifier> = cluster.into_iter().collect();

    store.put_suppressions(&identifiers, now).await?;

    let per_node =
        futures::future::try_join_all(identifiers.iter().map(|n| store.node_item_keys(n))).await?;
    let mut keys: BTreeSet<(String, String)> = BTreeSet::new();
    for (pk, sk) in per_node.into_iter().flatten() {
        if let Some(anchor) = anchor_of_entry(&sk) {
            keys.insert(anchor);
        }
        keys.insert((pk, sk));
    }
    // The node items go last: a run that fails part-way can be repeated, because the node
    // that leads to the rest is still there.
    let (nodes, rest): (Vec<_>, Vec<_>) = keys.into_iter().partition(|(_, sk)| sk == NODE_SK);
    let keys: Vec<(String, String)> = rest.into_iter().chain(nodes).collect();
    store.delete_keys(&keys).await?;
    Ok(Erased {
        identifiers,
        items_deleted: keys.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_lead_to_their_records_anchors() {
        assert_eq!(
            anchor_of_entry("R#A#orders#o-1"),
            Some(("REC#orders#o-1".to_string(), "REC".to_string()))
        );
        assert_eq!(
            anchor_of_entry("R#S#store_001#member_sync#M#1"),
            Some(("REC#member_sync#M#1".to_string(), "REC".to_string()))
        );
        assert_eq!(anchor_of_entry("STATS#A"), None);
        assert_eq!(anchor_of_entry("R#A#unknown#x"), None);
    }
}
