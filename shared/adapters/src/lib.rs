//! Customer360's adapters: everything that touches AWS, the network or the clock, around the
//! pure domain crate.
//!
//! - [`decode`]: stream images to source records.
//! - [`store`]: the customer360 table on DynamoDB.
//! - [`projector`]: one source change, one conditional transaction.
//! - [`ingest`]: the stream Lambda (partial batch responses).
//! - [`reads`] and [`http`]: the API endpoints; [`auth`], [`audit`] and [`erase`]: who may
//!   call, the audit log, and erasure.
//! - [`cache`]: answers cached in Redis (cache-aside), invalidated by the ingest.
//! - [`rebuild`]: the projection rebuilt from the source tables.

pub mod audit;
pub mod auth;
pub mod cache;
pub mod calibrate;
pub mod config;
pub mod counter;
pub mod decode;
pub mod erase;
pub mod http;
pub mod ingest;
pub mod keys;
pub mod projector;
pub mod reads;
pub mod rebuild;
pub mod schema;
pub mod store;
pub mod telemetry;

pub use c360_domain as domain;
pub use {aws_lambda_events, aws_sdk_dynamodb, lambda_http};
