//! The key layout of the customer360 and audit tables (`docs/adr/0001-table-design.md`): every
//! key, index key attribute value, cursor and checkpoint is formatted and parsed here, and no
//! other file spells a key prefix. A scope's own text (`A`, `S#{store}`) and an identifier's
//! (`phone#13800138000`) are the domain's (`Scope::key`, `Identifier::key`): they also name
//! cache entries and log fields.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | node | `N#{id}` | `#NODE` |
//! | stats | `N#{id}` | `STATS#{scope}` |
//! | newest orders, newest reservations | `N#{id}` | `RECENT#{scope}#{table}` |
//! | timeline entry | `N#{id}` | `R#{scope}#{table}#{source_id}` (index `gsi_cluster`: `cg` = the customer's key `{id}`, `lt`) |
//! | search token of a node (read by nothing since ADR 0014's search; dropped with `gsi_search`) | `N#{id}` | `T#{scope}#{token}` (index `gsi_search`: `gp` = `{scope}#{token}`, `gs` = `{id}`) |
//! | search token of a customer (beside its segment row) | `N#{id}` | `F#{scope}#{token}` (index `gsi_find`: `sp` = `{scope}#{token}`, `ss` = `{id}`, on the cluster's canonical node only) |
//! | anchor (record state) | `REC#{table}#{source_id}` | `REC` |
//! | prediction model | `MODEL#{scope}` | `MODEL` |
//! | suppression (erased) | `SUP#{id}` | `SUP` |
//! | rebuild checkpoint | `REBUILD` | `{table}#{segment}/{segments}` |
//! | segment row (a customer's figures in a scope) | `N#{id}` | `SEG#{scope}` (index `gsi_roster`: `rp` = `{scope}`, `rs` = `{id}`, on the cluster's canonical node only) |
//! | saved segment | `SEGDEF` | `{segment id}` |
//! | segment member | `SEGM#{segment id}#{scope}` | `{id}` (the cluster's canonical node) |
//! | segment member count | `SEGM#{segment id}#{scope}` | `#COUNT` |
//! | rescoring checkpoint | `RESCORE` | `{run}#{segment}/{segments}` |
//! | audit record | `C#{subject hash}` or `R#{request id}` | `{ms:015}#{request id}` |

use c360_domain::projection::Scope;
use c360_domain::search::Token;
use c360_domain::{Identifier, Millis, SourceKind, StoreId};

/// The timeline, newest first (`lt`, time keys).
pub const INDEX_TIME: &str = "lsi_time";
/// Recent orders and reservations (`lk`: scope, source table, time key).
pub const INDEX_KIND: &str = "lsi_kind";
/// Counted orders (`lc`, sparse).
pub const INDEX_COUNTED: &str = "lsi_counted";
/// A counted order's timeline entry: its dish ids (a string set), read back through
/// [`INDEX_KIND`] (which carries every attribute) when a dish's latest order is looked up.
pub const DISHES_ATTR: &str = "di";
/// Search tokens (`gp`, `gs`), keys only.
pub const INDEX_SEARCH: &str = "gsi_search";
/// A customer's search tokens (`sp`, `ss`), keys only: one item per customer, scope and
/// token, under the customer's canonical node beside its segment row (ADR 0014, search).
pub const INDEX_FIND: &str = "gsi_find";
/// The audit table's caller index (`by`, `sk`).
pub const INDEX_CALLER: &str = "gsi_caller";
/// Every customer of a scope (`rp`, `rs`): the canonical segment rows, whole.
pub const INDEX_ROSTER: &str = "gsi_roster";
/// A customer's timeline across its identifiers (`cg`, `lt`; ADR 0014): every entry, whole,
/// under its customer's key ([`c360_domain::identity::cluster_key`]).
pub const INDEX_CLUSTER: &str = "gsi_cluster";
/// An entry's customer key (`{id}` of the cluster key): [`INDEX_CLUSTER`]'s partition.
pub const CLUSTER_ATTR: &str = "cg";
/// A node item's record of the customer key all its entries carry (`{id}`): when it differs
/// from its cluster's key (a re-link changed the key, or the node predates the index), reads
/// of that customer use the per-node Queries until `Store::settle_entries` has re-keyed it.
pub const ENTRIES_KEY_ATTR: &str = "ek";

const NODE: &str = "N#";
pub const NODE_SK: &str = "#NODE";
const STATS: &str = "STATS#";
const RECENT: &str = "RECENT#";
const ENTRY: &str = "R#";
const TOKEN: &str = "T#";
const ANCHOR: &str = "REC#";
pub const ANCHOR_SK: &str = "REC";
const MODEL: &str = "MODEL#";
pub const MODEL_SK: &str = "MODEL";
const STORE_RECO: &str = "RECO#";
pub const STORE_RECO_SK: &str = "RECO";
const SUPPRESSION: &str = "SUP#";
pub const SUPPRESSION_SK: &str = "SUP";
/// The partition of the rebuild's checkpoints.
pub const CHECKPOINT_PK: &str = "REBUILD";
const SEGMENT_ROW: &str = "SEG#";
const FIND: &str = "F#";
pub const SEGMENT_DEF_PK: &str = "SEGDEF";
/// The item that counts the saved segments (attribute `n`), written in the transaction of
/// every creation and deletion, so that the limit on saved segments holds under concurrent
/// creations (`Store::create_segment_def`). Its own partition: listing the definitions never
/// meets it.
pub const SEGMENT_SET_PK: &str = "SEGSET";
pub const SEGMENT_SET_SK: &str = "SET";
const SEGMENT_MEMBER: &str = "SEGM#";
/// The count item's sort key in a segment's member partition; it sorts before every
/// identifier key (`email#`, `member#`, `phone#`).
pub const SEGMENT_COUNT_SK: &str = "#COUNT";
/// The partition of the rescoring's checkpoints.
pub const RESCORE_PK: &str = "RESCORE";
const AUDIT_SUBJECT: &str = "C#";
const AUDIT_REQUEST: &str = "R#";

pub fn node_pk(id: &Identifier) -> String {
    format!("{NODE}{}", id.key())
}

/// The identifier of a node partition key; `None` for any other key.
pub fn parse_node_pk(pk: &str) -> Option<Identifier> {
    Identifier::from_key(pk.strip_prefix(NODE)?).ok()
}

pub fn stats_sk(scope: &Scope) -> String {
    format!("{STATS}{}", scope.key())
}

/// The newest entries of one source (orders, reservations) of a node in a scope
/// ([`c360_domain::projection::replace_recent`]), beside its stats.
pub fn recent_sk(scope: &Scope, kind: SourceKind) -> String {
    format!("{RECENT}{}#{}", scope.key(), kind.table())
}

/// What every stats sort key begins with (for `begins_with` conditions).
pub fn stats_sk_prefix() -> &'static str {
    STATS
}

/// The scope of a stats sort key; `None` for any other key.
pub fn parse_stats_sk(sk: &str) -> Option<Scope> {
    Scope::from_key(sk.strip_prefix(STATS)?)
}

/// What every timeline entry's sort key begins with (a node's entries in every scope).
pub fn entry_sk_prefix() -> &'static str {
    ENTRY
}

pub fn entry_sk(scope: &Scope, kind: SourceKind, source_id: &str) -> String {
    format!("{ENTRY}{}#{}#{}", scope.key(), kind.table(), source_id)
}

/// The store and order id of an order's timeline entry in a store's scope; `None` for any
/// other key (another source, the all-stores scope).
pub fn parse_store_order_entry_sk(sk: &str) -> Option<(StoreId, String)> {
    let rest = sk.strip_prefix(ENTRY)?.strip_prefix("S#")?;
    let (store, rest) = rest.split_once('#')?;
    let order = rest
        .strip_prefix(SourceKind::Orders.table())?
        .strip_prefix('#')?;
    Some((StoreId::parse(store).ok()?, order.to_string()))
}

/// The source id of a timeline entry's sort key in `scope` of a `kind` record; `None` for any
/// other key.
pub fn entry_source_id<'a>(sk: &'a str, scope: &Scope, kind: SourceKind) -> Option<&'a str> {
    sk.strip_prefix(ENTRY)?
        .strip_prefix(scope.key().as_str())?
        .strip_prefix('#')?
        .strip_prefix(kind.table())?
        .strip_prefix('#')
}

/// The anchor key (pk, sk) of the record a timeline entry's sort key stands for; `None` for
/// any other key or an unknown source table.
pub fn anchor_of_entry_sk(sk: &str) -> Option<(String, String)> {
    let rest = sk.strip_prefix(ENTRY)?;
    // The scope is `A` or `S#{store}` (store ids hold no `#`).
    let rest = match rest.strip_prefix("A#") {
        Some(r) => r,
        None => rest.strip_prefix("S#")?.split_once('#')?.1,
    };
    let (table, source_id) = rest.split_once('#')?;
    let kind = SourceKind::from_table(table)?;
    Some((anchor_pk(kind, source_id), ANCHOR_SK.to_string()))
}

/// A search token's sort key under its node: `T#{scope}#{token}`, the token in its stored
/// form (`p:13800138000`, `c360_domain::search::Token`).
pub fn token_sk(scope: &Scope, token: &Token) -> String {
    format!("{TOKEN}{}#{}", scope.key(), token)
}

/// The search index's partition (`gp`) for a token in a scope.
pub fn token_partition(scope: &Scope, token: &Token) -> String {
    format!("{}#{}", scope.key(), token)
}

pub fn anchor_pk(kind: SourceKind, source_id: &str) -> String {
    format!("{ANCHOR}{}#{}", kind.table(), source_id)
}

/// Whether a partition key is a record's anchor (of any source).
pub fn is_anchor_pk(pk: &str) -> bool {
    pk.starts_with(ANCHOR)
}

/// Whether a partition key is an erased identifier's suppression.
pub fn is_suppression_pk(pk: &str) -> bool {
    pk.starts_with(SUPPRESSION)
}

/// Whether a partition key is an anchor of `kind`'s records.
pub fn is_anchor_of(pk: &str, kind: SourceKind) -> bool {
    pk.strip_prefix(ANCHOR)
        .and_then(|rest| rest.strip_prefix(kind.table()))
        .is_some_and(|rest| rest.starts_with('#'))
}

/// A scope's dish statistics and coupon baseline, written by the calibration
/// ([`crate::store::StoreReco`]).
pub fn store_reco_pk(scope: &Scope) -> String {
    format!("{STORE_RECO}{}", scope.key())
}

pub fn model_pk(scope: &Scope) -> String {
    format!("{MODEL}{}", scope.key())
}

/// Whether a partition key is a scope's fitted prediction model.
pub fn is_model_pk(pk: &str) -> bool {
    pk.starts_with(MODEL)
}

pub fn suppression_pk(id: &Identifier) -> String {
    format!("{SUPPRESSION}{}", id.key())
}

/// The timeline sort key (`lt`, and `lc` for counted orders): scope, then time (fixed width
/// so strings sort as numbers), then a tie-break that is unique and stable for the record.
pub fn time_key(scope: &Scope, at: Millis, kind: SourceKind, source_id: &str) -> String {
    format!(
        "{}#{:015}#{}#{}",
        scope.key(),
        at.0.max(0),
        kind.table(),
        source_id
    )
}

/// What every time key of `scope` begins with.
pub fn scope_prefix(scope: &Scope) -> String {
    format!("{}#", scope.key())
}

/// The time in a time key of the scope whose prefix is `prefix`.
pub fn time_from_key(prefix: &str, key: &str) -> Option<Millis> {
    key.strip_prefix(prefix)?
        .get(..15)?
        .parse()
        .ok()
        .map(Millis)
}

/// The recent-records sort key (`lk`): scope, source table, then the time key's time and
/// tie-break, so one source's entries sort by time within a scope.
pub fn kind_key(scope: &Scope, kind: SourceKind, time_key: &str) -> String {
    let rest = time_key
        .strip_prefix(&scope_prefix(scope))
        .unwrap_or(time_key);
    format!("{}{rest}", kind_prefix(scope, kind))
}

/// What every `lk` of one source in one scope begins with.
pub fn kind_prefix(scope: &Scope, kind: SourceKind) -> String {
    format!("{}#{}#", scope.key(), kind.table())
}

/// A rebuild checkpoint's sort key: one per source table and scan segment.
pub fn checkpoint_sk(table: &str, segment: i32, segments: i32) -> String {
    format!("{table}#{segment}/{segments}")
}

/// A customer's segment row in a scope, under one of its nodes.
pub fn segment_row_sk(scope: &Scope) -> String {
    format!("{SEGMENT_ROW}{}", scope.key())
}

/// What every segment row's sort key begins with.
pub fn segment_row_prefix() -> &'static str {
    SEGMENT_ROW
}

/// The scope of a segment row's sort key; `None` for any other key.
pub fn parse_segment_row_sk(sk: &str) -> Option<Scope> {
    Scope::from_key(sk.strip_prefix(SEGMENT_ROW)?)
}

/// A customer's search token in a scope, beside its segment row (index [`INDEX_FIND`]).
pub fn find_sk(scope: &Scope, token: &str) -> String {
    format!("{FIND}{}#{token}", scope.key())
}

/// What every customer search token's sort key begins with, in `scope`.
pub fn find_sk_prefix(scope: &Scope) -> String {
    format!("{FIND}{}#", scope.key())
}

/// The customer search index's partition (`sp`) of a token in a scope; its sort key (`ss`)
/// is the canonical identifier's key.
pub fn find_partition(scope: &Scope, token: &str) -> String {
    format!("{}#{token}", scope.key())
}

/// The roster index's partition (`rp`) of a scope.
pub fn roster_partition(scope: &Scope) -> String {
    scope.key()
}

/// The partition holding a saved segment's members in a scope, and their count.
pub fn segment_member_pk(segment: &str, scope: &Scope) -> String {
    format!("{SEGMENT_MEMBER}{segment}#{}", scope.key())
}

/// Whether a partition key holds segment members (of any segment and scope).
pub fn is_segment_member_pk(pk: &str) -> bool {
    pk.starts_with(SEGMENT_MEMBER)
}

/// A rescoring checkpoint's sort key: one per run and scan segment.
pub fn rescore_checkpoint_sk(run: &str, segment: i32, segments: i32) -> String {
    format!("{run}#{segment}/{segments}")
}

/// An audit record's partition: the keyed hash of the customer asked about, or the request
/// id when there was none (a 400 or 401).
pub fn audit_pk(subject: Option<&str>, request_id: &str) -> String {
    match subject {
        Some(h) => audit_subject_pk(h),
        None => format!("{AUDIT_REQUEST}{request_id}"),
    }
}

/// The audit partition of one customer (by the keyed hash of an identifier).
pub fn audit_subject_pk(hash: &str) -> String {
    format!("{AUDIT_SUBJECT}{hash}")
}

/// An audit record's sort key: time (ms, fixed width), then the request id.
pub fn audit_sk(at: Millis, request_id: &str) -> String {
    format!("{:015}#{}", at.0.max(0), request_id)
}

/// Whether `key` has the shape of [`audit_sk`] (what an audit page's cursor must hold).
pub fn is_audit_sk(key: &str) -> bool {
    key.len() > 16
        && key.as_bytes()[..15].iter().all(u8::is_ascii_digit)
        && key.as_bytes()[15] == b'#'
}

#[cfg(test)]
mod tests {
    use super::*;
    use c360_domain::ids::Phone;
    use c360_domain::StoreId;

    fn store(s: &str) -> Scope {
        Scope::Store(StoreId::parse(s).unwrap())
    }

    #[test]
    fn time_keys_sort_by_time_within_a_scope() {
        let scope = store("s1");
        let a = time_key(&scope, Millis(999), SourceKind::Orders, "z");
        let b = time_key(&scope, Millis(1000), SourceKind::Orders, "a");
        assert!(a < b);
        assert_eq!(time_from_key(&scope_prefix(&scope), &b), Some(Millis(1000)));
        assert!(a.starts_with(&scope_prefix(&scope)));
        // A store whose id extends another's never shares its prefix.
        assert!(!time_key(&store("s10"), Millis(1), SourceKind::Orders, "x")
            .starts_with(&scope_prefix(&scope)));
    }

    #[test]
    fn every_key_parses_back_to_what_made_it() {
        let id = Identifier::Phone(Phone::parse("13800138000").unwrap());
        assert_eq!(parse_node_pk(&node_pk(&id)), Some(id.clone()));
        assert_eq!(parse_node_pk(&suppression_pk(&id)), None);
        assert!(is_suppression_pk(&suppression_pk(&id)) && !is_suppression_pk(&node_pk(&id)));
        for scope in [Scope::AllStores, store("store_001")] {
            assert_eq!(parse_stats_sk(&stats_sk(&scope)), Some(scope.clone()));
            assert_eq!(
                parse_stats_sk(&entry_sk(&scope, SourceKind::Orders, "o")),
                None
            );
            for (kind, source_id) in [(SourceKind::Orders, "o-1"), (SourceKind::MemberSync, "M#1")]
            {
                assert_eq!(
                    anchor_of_entry_sk(&entry_sk(&scope, kind, source_id)),
                    Some((anchor_pk(kind, source_id), ANCHOR_SK.to_string()))
                );
                assert!(is_anchor_of(&anchor_pk(kind, source_id), kind));
                assert!(is_anchor_pk(&anchor_pk(kind, source_id)));
            }
            assert_eq!(
                parse_segment_row_sk(&segment_row_sk(&scope)),
                Some(scope.clone())
            );
            assert_eq!(parse_segment_row_sk(&stats_sk(&scope)), None);
            assert!(is_segment_member_pk(&segment_member_pk("seg_1", &scope)));
            assert!(SEGMENT_COUNT_SK < "email#" && SEGMENT_COUNT_SK < "member#");
            let tk = time_key(&scope, Millis(42), SourceKind::Orders, "o-1");
            let lk = kind_key(&scope, SourceKind::Orders, &tk);
            assert!(
                lk.starts_with(&kind_prefix(&scope, SourceKind::Orders)),
                "{lk}"
            );
            assert!(lk.ends_with("000000000000042#orders#o-1"), "{lk}");
        }
        assert!(!is_anchor_of(
            &anchor_pk(SourceKind::PosTransactions, "p"),
            SourceKind::Orders
        ));
        assert_eq!(anchor_of_entry_sk(&stats_sk(&Scope::AllStores)), None);
        assert_eq!(anchor_of_entry_sk("R#A#unknown#x"), None);
        let sk = audit_sk(Millis(1_767_225_600_000), "req-12");
        assert!(is_audit_sk(&sk) && !is_audit_sk("x#1") && !is_audit_sk("000000000000001#"));
        assert_ne!(audit_pk(Some("ab"), "r1"), audit_pk(None, "r1"));
        assert_eq!(audit_pk(Some("ab"), "r1"), audit_subject_pk("ab"));
        assert!(audit_sk(Millis(2), "r") > audit_sk(Millis(1), "r"));
    }

    #[test]
    fn entries_lead_to_their_records_anchors() {
        assert_eq!(
            anchor_of_entry_sk("R#A#orders#o-1"),
            Some(("REC#orders#o-1".to_string(), "REC".to_string()))
        );
        assert_eq!(
            anchor_of_entry_sk("R#S#store_001#member_sync#M#1"),
            Some(("REC#member_sync#M#1".to_string(), "REC".to_string()))
        );
        assert_eq!(anchor_of_entry_sk("STATS#A"), None);
        assert_eq!(anchor_of_entry_sk("R#A#unknown#x"), None);
    }
}
