//! Deterministic demo data for the five source tables (`docs/spec/sources.md`).
//!
//! [`generate`] builds a year of a restaurant chain's operational records (orders,
//! reservations, POS transactions, member syncs, activities) for a population of
//! customers with a realistic mix of behaviours: weekly regulars, monthly customers,
//! one-timers, customers who churned 4-8 months ago, newcomers, big spenders,
//! reservation-heavy customers and sleeping ones. The output only depends on
//! [`DemoConfig::seed`] and [`DemoConfig::now`]; nothing reads the clock.
//!
//! It always contains the seed customer of the product description: 张三,
//! `13800138000`, member `M123456` (金卡, 1500 points, ¥200.00), a weekly regular at
//! `store_sh_001`.
//!
//! Records are shaped like the operational systems write them, warts included:
//! phone numbers in several spellings, times with and without offsets, members'
//! records that carry only the member id, only the phone or both, optional
//! attributes sometimes absent and sometimes NULL, and two records that belong to
//! nobody (a walk-in order and the cash payment that settles it).
//!
//! [`load`] writes the data through `BatchWriteItem`.

mod activities;
#[cfg(test)]
mod customer_tests;
mod gen;
mod load;
mod members;
mod menu;
mod names;
mod orders;
mod people;
mod pos;
mod reservations;
#[cfg(test)]
mod tests;
mod times;
mod visits;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, FixedOffset, Utc};

use gen::Gen;
pub use load::load;

/// One DynamoDB item, as the SDK takes it.
pub type Item = HashMap<String, AttributeValue>;

/// The source names, in the order [`DemoData::tables`] returns them.
pub const SOURCES: [&str; 5] = [
    "orders",
    "reservations",
    "pos_transactions",
    "member_sync",
    "audit_log",
];

/// The seed customer's phone (张三 in the product description).
pub const SEED_PHONE: &str = "13800138000";
/// The seed customer's member id.
pub const SEED_MEMBER_ID: &str = "M123456";
/// The seed customer's name.
pub const SEED_NAME: &str = "张三";
/// The seed customer's email.
pub const SEED_EMAIL: &str = "zhangsan@example.com";
/// The seed customer's home store (where they registered as a member).
pub const SEED_STORE: &str = "store_sh_001";
/// The seed used by [`DemoConfig::default`].
pub const DEFAULT_SEED: u64 = 20_260_218;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoConfig {
    /// Seeds the random generator: same seed and same `now`, same data.
    pub seed: u64,
    /// Number of distinct customers (distinct phone numbers), the seed customer
    /// included. Default 500.
    pub customers: usize,
    /// Store ids. Default `store_sh_001`, `store_sh_002`, `store_bj_001`; an empty
    /// list means the default.
    pub stores: Vec<String>,
    /// How far back the history goes, in days. Default 365.
    pub days_of_history: i64,
    /// The end of the history. Records are expressed in `+08:00` (Asia/Shanghai)
    /// whatever offset this carries. Only future reservations lie after it.
    pub now: DateTime<FixedOffset>,
}

impl DemoConfig {
    /// The defaults, with an explicit seed and `now` (fully deterministic).
    pub fn new(seed: u64, now: DateTime<FixedOffset>) -> Self {
        Self {
            seed,
            customers: 500,
            stores: default_stores(),
            days_of_history: 365,
            now,
        }
    }
}

impl Default for DemoConfig {
    /// [`DEFAULT_SEED`] and the current time in `+08:00`. The only place this module
    /// reads the clock: use [`DemoConfig::new`] for reproducible data.
    fn default() -> Self {
        Self::new(DEFAULT_SEED, Utc::now().with_timezone(&shanghai()))
    }
}

fn default_stores() -> Vec<String> {
    ["store_sh_001", "store_sh_002", "store_bj_001"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The generated items of the five source tables.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DemoData {
    pub orders: Vec<Item>,
    pub reservations: Vec<Item>,
    pub pos_transactions: Vec<Item>,
    /// `member_sync` items.
    pub members: Vec<Item>,
    /// `audit_log` items.
    pub activities: Vec<Item>,
}

impl DemoData {
    /// Number of items over all tables.
    pub fn len(&self) -> usize {
        self.tables().iter().map(|(_, items)| items.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(source name, items)` for each table, source names as in `sources.md`.
    pub fn tables(&self) -> [(&'static str, &[Item]); 5] {
        [
            (SOURCES[0], &self.orders),
            (SOURCES[1], &self.reservations),
            (SOURCES[2], &self.pos_transactions),
            (SOURCES[3], &self.members),
            (SOURCES[4], &self.activities),
        ]
    }
}

/// Generates the data. Deterministic: same config, same data.
pub fn generate(config: &DemoConfig) -> DemoData {
    Gen::new(config).run()
}

fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}
