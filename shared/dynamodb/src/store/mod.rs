//! The customer360 table on DynamoDB. Its key layout is `keys.rs` (and
//! `docs/adr/0001-table-design.md`); `writes.rs` turns a plan into one transaction, `reads.rs`
//! loads what a change or an answer needs, `maintenance.rs` scans and deletes, `segments.rs`
//! keeps segment definitions, rows, members and counts.

mod codec;
mod maintenance;
mod reads;
mod rekey;
mod segment_defs;
mod segments;
mod store_reco;
mod writes;

pub use reads::Keys;
pub use rekey::ClusterPage;
pub use segment_defs::Created;
pub use segments::{NewRow, RescoreCheckpoint, RowWrite, StoredRow};
pub use store_reco::{CountedBasket, StoreReco};
pub use writes::WriteSet;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use c360_domain::identity::NodeLinks;
use c360_domain::prediction::StoreModel;
use c360_domain::projection::{AppliedRecord, Scope, ScopeStats};
use c360_domain::Identifier;
use std::collections::{BTreeMap, HashMap};

type Item = HashMap<String, AttributeValue>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer changed what we read: re-read and try again.
    #[error("a concurrent change won the race")]
    Conflict,
    /// DynamoDB could not be reached or throttled us: the caller may retry later.
    #[error("DynamoDB is unavailable: {0}")]
    Unavailable(String),
    /// Concurrent changes to the same items kept winning the race for this many attempts (the
    /// caller's retry budget): nothing is wrong with DynamoDB, the work is retried later (an
    /// ingest reports the record failed and it is redelivered).
    #[error(
        "concurrent changes to the same customer kept winning for {0} attempts; retried later"
    )]
    Contended(u32),
    /// A request was refused or an item could not be read: a bug or a broken table.
    #[error("DynamoDB request failed: {0}")]
    Failed(String),
}

/// Sorts an SDK error into [`StoreError`]: timeouts, dispatch and response failures (and
/// throttling) are `Unavailable`, so callers answer 503 or retry the batch; a failed condition
/// or a conflicting transaction is `Conflict`; the rest `Failed`.
/// Shared by every wing that sends its own DynamoDB requests (audit log, rebuild scans).
pub fn classify<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!("{err}"))
        }
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("");
            let msg = format!("{code}: {}", se.err().message().unwrap_or(""));
            match code {
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "InternalServerError"
                | "ServiceUnavailable" => StoreError::Unavailable(msg),
                "TransactionConflictException" | "ConditionalCheckFailedException" => {
                    StoreError::Conflict
                }
                _ => StoreError::Failed(msg),
            }
        }
        _ => StoreError::Failed(format!("{err}")),
    }
}

/// A node as read, with the version its write must be conditioned on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredNode {
    pub links: NodeLinks,
    pub version: i64,
    /// The customer key all this node's entries carry ([`crate::keys::ENTRIES_KEY_ATTR`]);
    /// `None` for a node written before the customer-keyed index existed.
    pub entries_key: Option<Identifier>,
}

impl StoredNode {
    /// Whether every entry of this node is in the customer-keyed index under its cluster's
    /// key: a read of the customer may then take one Query of that index for this node.
    pub fn entries_settled(&self, id: &Identifier) -> bool {
        self.entries_key.as_ref()
            == Some(c360_domain::identity::cluster_key(id, &self.links.cluster))
    }
}

#[derive(Debug, Default)]
pub struct Loaded {
    pub anchor: Option<AppliedRecord>,
    pub models: BTreeMap<Scope, StoreModel>,
    pub nodes: BTreeMap<Identifier, StoredNode>,
    pub stats: BTreeMap<(Identifier, Scope), StoredStats>,
    /// The recent lists asked for and found.
    pub recent: BTreeMap<
        (Identifier, Scope, c360_domain::SourceKind),
        Vec<c360_domain::projection::RecentEntry>,
    >,
    /// Those of the asked-for identifiers that an erasure suppressed.
    pub suppressed: Vec<Identifier>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ScanRow {
    Node {
        id: Identifier,
        links: NodeLinks,
    },
    Stats {
        id: Identifier,
        scope: Scope,
        stats: Box<ScopeStats>,
    },
    /// A counted order's timeline entry in a store's scope that lists its dishes.
    CountedOrder {
        id: Identifier,
        store: c360_domain::StoreId,
        /// The order's id (its entry's sort key ends with it).
        order: String,
        at: c360_domain::Millis,
        dishes: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredStats {
    pub stats: ScopeStats,
    pub version: i64,
}

#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Store {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}
