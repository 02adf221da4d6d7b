//! Saved segments and who is in them: a segment's definition, the segment row (what a
//! customer's membership is evaluated from, stored per customer and scope), and the
//! evaluation of every saved segment against one row. `docs/adr/0009-segments.md` has the
//! storage and its cost.

use super::{Birthday, Filter, SegmentFigures};
use crate::ids::{Identifier, StoreId};
use crate::prediction::StoreModel;
use crate::projection::{MemberInfo, Scope, ScopeStats};
use crate::time::{Millis, Zone};
use crate::value::Thresholds;
use crate::view::{customer_hit, CustomerView};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;

/// At most this many saved segments: one row's membership change must fit one transaction of
/// 100 items (two per segment entered or left, the row, the checks of the cluster's nodes).
pub const MAX_SAVED_SEGMENTS: usize = 40;

/// A saved segment (`/api/v1/customer360/segments`).
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentDef {
    /// `seg_` and 12 hex digits, chosen at creation.
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub filter: Filter,
    /// 1 at creation, +1 per update (an update is conditioned on the version read).
    pub version: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// The `sub` of the admin who created it.
    pub created_by: Option<String>,
    /// The store whose admins may change or delete it: the store of the `store_admin` who
    /// created it. `None`: brand-wide (created by a `super_admin`, the demo's, or saved before
    /// segments had owners), changed by a `super_admin` only. Every admin may read and use any
    /// segment, each in their own scope.
    pub owner_store: Option<StoreId>,
    /// When a rescoring run that began after the last change (and after every ingest's
    /// cache of definitions had expired) finished: from then on its member items are
    /// complete. Until then the service evaluates it from the roster.
    pub built_at: Option<Millis>,
}

impl SegmentDef {
    /// The definition's JSON in answers: id, name, description, filter (JSON spelling),
    /// version, times in `zone`.
    pub fn json(&self, zone: &Zone) -> Value {
        serde_json::json!({
            "segment_id": self.id,
            "name": self.name,
            "description": self.description,
            "filter": self.filter.to_json(),
            "version": self.version,
            "created_at": zone.format(self.created_at),
            "updated_at": zone.format(self.updated_at),
            "created_by": self.created_by,
            "owner_store_id": self.owner_store.as_ref().map(StoreId::as_str),
            "materialized_at": self.built_at.map(|t| zone.format(t)),
        })
    }
}

/// Whether `id` is a well-formed segment id (`seg_` and 1 to 32 of `[0-9a-z_-]`): what a path
/// segment must be before it goes into a key.
pub fn is_segment_id(id: &str) -> bool {
    id.strip_prefix("seg_").is_some_and(|rest| {
        (1..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'_' || b == b'-')
    })
}

/// What a customer's segment memberships in one scope are evaluated from: its cluster, the
/// scope's figures summed over the cluster's nodes, and its brand-wide member info. Stored
/// whole in the customer's segment row and in each of its membership items, so that a list
/// page renders its hits without further reads.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SegmentRow {
    /// The customer's identifiers, sorted; the first is the canonical one the row is keyed by.
    pub cluster: Vec<Identifier>,
    pub stats: ScopeStats,
    pub member: Option<MemberInfo>,
}

/// The identifier a cluster's segment row and memberships are keyed by: its smallest.
pub fn canonical(cluster: &[Identifier]) -> Option<&Identifier> {
    cluster.iter().min()
}

/// The settings an evaluation needs besides the row: clock, zone, the scope's thresholds,
/// its fitted model and the CLV's discount rate.
#[derive(Debug, Clone, Copy)]
pub struct Evaluation<'a> {
    pub now: Millis,
    pub zone: &'a Zone,
    pub thresholds: &'a Thresholds,
    pub model: Option<&'a StoreModel>,
    /// Per month, as `Config::monthly_discount_rate`.
    pub monthly_discount_rate: f64,
}

impl SegmentRow {
    fn view<'a>(&'a self, e: &Evaluation<'a>) -> Option<CustomerView<'a>> {
        Some(CustomerView {
            identifier: canonical(&self.cluster)?,
            stats: &self.stats,
            member: self.member.as_ref(),
            now: e.now,
            zone: e.zone,
            thresholds: e.thresholds,
            model: e.model,
            monthly_discount_rate: e.monthly_discount_rate,
        })
    }

    /// The customer's figures in `scope` at `e.now` (predictions only when asked for).
    pub fn figures(
        &self,
        scope: &Scope,
        e: &Evaluation<'_>,
        with_predictions: bool,
    ) -> SegmentFigures {
        match self.view(e) {
            Some(view) => SegmentFigures::of_view(
                &view,
                scope,
                member_birthday(self.member.as_ref()),
                with_predictions,
            ),
            None => SegmentFigures::default(),
        }
    }

    /// The saved segments (of `defs`) the customer is in, in `scope` at `e.now`. A row with
    /// no figures in the scope (no record there) is in none.
    pub fn memberships(
        &self,
        defs: &[SegmentDef],
        scope: &Scope,
        e: &Evaluation<'_>,
    ) -> BTreeSet<String> {
        if self.stats.is_empty() || defs.is_empty() {
            return BTreeSet::new();
        }
        let with_predictions = defs.iter().any(|d| d.filter.needs_predictions());
        let figures = self.figures(scope, e, with_predictions);
        defs.iter()
            .filter(|d| d.filter.matches(&figures))
            .map(|d| d.id.clone())
            .collect()
    }

    /// The row as a hit in a member list: the search hit's shape
    /// ([`crate::view::customer_hit`]) with `rfm_score` (0-100) instead of `matched_by`.
    pub fn hit(&self, e: &Evaluation<'_>) -> Value {
        let mut hit = customer_hit(
            &self.cluster,
            &self.stats,
            self.member.as_ref(),
            e.thresholds,
            e.zone,
            e.now,
        );
        if let Some(obj) = hit.as_object_mut() {
            let value = crate::value::customer_value(&self.stats, e.now, e.thresholds);
            obj.insert("rfm_score".into(), serde_json::json!(value.rfm_score));
        }
        hit
    }
}

/// The month and day of a member's birthday, if it gave one.
fn member_birthday(member: Option<&MemberInfo>) -> Option<Birthday> {
    member.and_then(MemberInfo::birthday_month_day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Phone;

    #[test]
    fn segment_ids_are_checked_before_they_go_into_a_key() {
        assert!(is_segment_id("seg_0a1b2c3d4e5f"));
        for bad in [
            "",
            "seg_",
            "0a1b",
            "seg_A",
            "seg_a#b",
            "seg_a/b",
            &format!("seg_{}", "a".repeat(33)),
        ] {
            assert!(!is_segment_id(bad), "{bad}");
        }
    }

    #[test]
    fn a_row_without_figures_is_in_no_segment_even_one_that_matches_everyone() {
        let row = SegmentRow {
            cluster: vec![Identifier::Phone(Phone::parse("13800138000").unwrap())],
            ..SegmentRow::default()
        };
        let def = SegmentDef {
            id: "seg_all".into(),
            name: "everyone".into(),
            description: None,
            filter: Filter::all(),
            version: 1,
            created_at: Millis(0),
            updated_at: Millis(0),
            created_by: None,
            owner_store: None,
            built_at: None,
        };
        let zone = Zone::default();
        let thresholds = Thresholds::default();
        let e = Evaluation {
            now: Millis(0),
            zone: &zone,
            thresholds: &thresholds,
            model: None,
            monthly_discount_rate: 0.01,
        };
        assert!(row.memberships(&[def], &Scope::AllStores, &e).is_empty());
    }
}
