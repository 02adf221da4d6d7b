//! Customer360's domain: pure functions and types, no I/O and no clock (time is passed in).
//!
//! - [`ids`]: identifiers and their normalization; [`money`]: integer fen; [`time`]: times.
//! - [`source`]: the five source records.
//! - [`projection`]: what a record contributes and how statistics change.
//! - [`plan`]: what one source change writes (the ingest rule, load → plan → commit).
//! - [`identity`]: the identity graph and its clusters.
//! - [`value`]: a customer's value: spend, RFM score, tier, tags.
//! - [`prediction`]: churn probability and 12-month CLV from the fitted models.
//! - [`search`]: the tokens a customer is found by.
//! - [`view`]: the API's answers, assembled from statistics and timeline entries.
//! - [`access`]: roles, scope rules and masking.
//! - [`segment`]: the segment filter language and the figures it reads.
//! - [`coupon`]: coupon rules (segment filters paired with offers) and the offers that apply.

pub mod access;
pub mod coupon;
pub mod identity;
pub mod ids;
pub mod money;
pub mod plan;
pub mod prediction;
pub mod projection;
pub mod search;
pub mod segment;
pub mod source;
pub mod time;
pub mod value;
pub mod view;

// The types nearly every caller names, at the root; the rest by their module's path.
pub use ids::{Identifier, IdentifierType, Phone, StoreId};
pub use money::Fen;
pub use projection::{Scope, SeqNo};
pub use source::{SourceKind, SourceRecord};
pub use time::{Millis, Zone};
