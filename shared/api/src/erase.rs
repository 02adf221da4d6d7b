//! Erasure (PIPL/GDPR right to erasure) of a customer from Customer360.
//!
//! Order matters, because the streams keep flowing: first every identifier of the customer
//! is suppressed (the projector then drops their records, and a change that read "not
//! suppressed" before fails its transaction and re-reads), then everything under the
//! customer's nodes and the anchors of their records is deleted, except the segment rows and
//! node items; then the segment rows go with the memberships they hold (a reconcile racing
//! with the erasure finds no statistics and writes none back); the node items last. Running
//! it again finds nothing left and changes nothing. The source systems keep their own copies.

use crate::reads::ReadError;
use c360_domain::{Identifier, Millis};
use c360_dynamodb::keys::{anchor_of_entry_sk, parse_segment_row_sk, NODE_SK};
use c360_runtime::segments::Segments;
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erased {
    /// The customer's identifiers, now suppressed.
    pub identifiers: Vec<Identifier>,
    /// Items deleted from the customer360 table.
    pub items_deleted: usize,
}

pub async fn erase(segments: &Segments, id: &Identifier, now: Millis) -> Result<Erased, ReadError> {
    let store = segments.store();
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
        if let Some(anchor) = anchor_of_entry_sk(&sk) {
            keys.insert(anchor);
        }
        keys.insert((pk, sk));
    }
    // The node items go last: a run that fails part-way can be repeated, because the node
    // that leads to the rest is still there.
    let (nodes, rest): (Vec<_>, Vec<_>) = keys.into_iter().partition(|(_, sk)| sk == NODE_SK);
    let (rows, rest): (Vec<_>, Vec<_>) = rest
        .into_iter()
        .partition(|(_, sk)| parse_segment_row_sk(sk).is_some());
    store.delete_keys(&rest).await?;
    segments.forget(&identifiers).await?;
    store.delete_keys(&nodes).await?;
    Ok(Erased {
        identifiers,
        items_deleted: rest.len() + rows.len() + nodes.len(),
    })
}
