//! Customer360's DynamoDB crate, shared by the API and ingest wings: everything that knows
//! the table's layout.
//!
//! - [`keys`]: every key, index name, cursor and checkpoint, formatted and parsed in one place.
//! - [`schema`]: the tables' definitions, compared with `infra/template.yaml` by
//!   `scripts/check-infra`.
//! - [`store`]: the customer360 table: typed reads, the writes of one transaction, and the
//!   scans and deletes of maintenance (rebuild, erasure).
//! - [`counter`]: counts the requests a client sends, for the request-count tests.

pub mod counter;
pub mod keys;
pub mod schema;
pub mod store;
