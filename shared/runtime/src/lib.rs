//! What every Customer360 Lambda needs besides its own wing, read once at cold start.
//!
//! - [`config`]: configuration from the environment, and the DynamoDB client built from it.
//! - [`telemetry`]: JSON logs with phone numbers redacted, and CloudWatch EMF metrics.
//! - [`cache`]: answers cached in Redis (cache-aside), read by the API wing and invalidated by
//!   the ingest wing.
//! - [`seal`]: `customer_ref`s and page cursors' cipher, keyed from `C360_AUDIT_HASH_KEY`.
//! - [`segments`]: saved segments' memberships kept current after each change, by the daily
//!   rescoring, and on erasure.

pub mod cache;
pub mod config;
pub mod seal;
pub mod segments;
pub mod telemetry;
