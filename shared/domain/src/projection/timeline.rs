//! The timeline entry of a record: rendered once at ingest, so a read shows it as stored. How
//! it is rendered ([`TimelineEntry::of`]: title, description, `data`) is an answer's shape,
//! so it is written with the others, in `view/entry.rs`.

use crate::time::Millis;
use serde::{Deserialize, Serialize};

/// A timeline entry as stored: rendered once at ingest from the record's current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub event_type: String,
    pub at: Millis,
    pub title: String,
    pub description: String,
    pub status: Option<String>,
    pub data: serde_json::Value,
}
