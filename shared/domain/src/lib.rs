//! Customer360's domain: pure functions and types, no I/O and no clock (time is passed in).
//!
//! - [`ids`]: identifiers and their normalization; [`money`]: integer fen; [`time`]: times.
//! - [`source`]: the five source records.
//! - [`projection`]: what a record contributes and how statistics change.
//! - [`identity`]: the identity graph and its clusters.
//! - [`value`]: value metrics, RFM, tiers, tags.
//! - [`view`]: the API's answers, assembled from statistics and timeline entries.
//! - [`access`]: roles, scope rules and masking.
//! - [`segment`]: the segment filter language and the figures it reads.

pub mod access;
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

pub use ids::{Email, IdError, Identifier, IdentifierType, MemberId, Phone, StoreId};
pub use money::Fen;
pub use projection::{
    AppliedRecord, Change, Contribution, Decision, RecordState, Scope, ScopeStats, SeqNo,
    TimelineEntry,
};
pub use source::{SourceKind, SourceRecord};
pub use time::{Millis, Zone};
