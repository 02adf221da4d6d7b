//! Item codec: attribute values in and out, state JSON, and the parsers of anchors, nodes and
//! timeline entries.

use aws_sdk_dynamodb::types::AttributeValue;
use c360_domain::identity::NodeLinks;
use c360_domain::projection::{AppliedRecord, TimelineEntry};
use c360_domain::Identifier;
use std::collections::HashMap;

use super::{Item, StoreError, StoredNode};

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
pub(super) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
pub(super) fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}
pub(super) fn get_s<'a>(item: &'a Item, attr: &str) -> Option<&'a str> {
    item.get(attr)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}
pub(super) fn get_n(item: &Item, attr: &str) -> Option<i64> {
    item.get(attr)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}
pub(super) fn decode<T: serde::de::DeserializeOwned>(
    item: Item,
    what: &str,
) -> Result<T, StoreError> {
    serde_dynamo::from_item(item)
        .map_err(|e| StoreError::Failed(format!("cannot read {what} item: {e}")))
}
/// Record states and timeline entries are stored as JSON text: they are read whole, never
/// queried by attribute, and JSON keeps `188.0` a float where a DynamoDB map would not.
pub(super) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Failed(format!("cannot write item: {e}")))
}
pub(super) fn from_json<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Failed(format!("cannot read {what}: {e}")))
}
pub(super) fn encode<T: serde::Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Failed(format!("cannot write item: {e}")))
}

pub(super) fn parse_anchor(item: Item) -> Result<AppliedRecord, StoreError> {
    let seq = get_s(&item, "seq")
        .and_then(c360_domain::SeqNo::parse)
        .ok_or_else(|| StoreError::Failed("anchor without a sequence number".into()))?;
    let state = get_s(&item, "state")
        .map(|j| from_json(j, "anchor"))
        .transpose()?;
    Ok(AppliedRecord { seq, state })
}

pub(super) fn parse_node(item: &Item) -> Result<StoredNode, StoreError> {
    let ids = |attr: &str| -> Vec<Identifier> {
        item.get(attr)
            .and_then(|v| v.as_l().ok())
            .map(|l| {
                l.iter()
                    .filter_map(|v| v.as_s().ok())
                    .filter_map(|k| Identifier::from_key(k).ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(StoredNode {
        links: NodeLinks {
            adjacent: ids("adj").into_iter().collect(),
            cluster: ids("cluster"),
        },
        version: get_n(item, "ver").unwrap_or(0),
        entries_key: get_s(item, crate::keys::ENTRIES_KEY_ATTR)
            .and_then(|k| Identifier::from_key(k).ok()),
    })
}

pub(super) fn parse_entry(item: &Item) -> Result<TimelineEntry, StoreError> {
    get_s(item, "e")
        .map(|j| from_json(j, "timeline entry"))
        .unwrap_or_else(|| Err(StoreError::Failed("timeline entry without content".into())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use c360_domain::projection::{MemberInfo, ScopeStats};
    use c360_domain::Millis;

    fn stats(birthday: Option<&str>) -> ScopeStats {
        ScopeStats {
            member_records: 1,
            member: Some(MemberInfo {
                member_id: "M1".into(),
                name: Some("张三".into()),
                phone: Some("13800138000".into()),
                email: None,
                level: Some("金卡".into()),
                points: Some(1500),
                balance_fen: Some(20_000),
                store_id: Some("s1".into()),
                birthday: birthday.map(str::to_string),
                registered_at: Millis(1_767_225_600_000),
                synced_at: None,
            }),
            ..ScopeStats::default()
        }
    }

    fn member_map(item: &Item) -> &HashMap<String, AttributeValue> {
        item["member"].as_m().expect("member is a map")
    }

    #[test]
    fn a_stats_item_keeps_the_member_birthday() {
        for birthday in ["1990-03-01", "--02-29"] {
            let item = encode(&stats(Some(birthday))).unwrap();
            assert_eq!(member_map(&item)["birthday"], s(birthday));
            let back: ScopeStats = decode(item, "stats").unwrap();
            assert_eq!(back, stats(Some(birthday)));
        }
    }

    /// Members without a birthday are stored as before it existed, and items stored before
    /// it existed read as no birthday.
    #[test]
    fn a_stats_item_without_a_birthday_is_stored_and_read_as_before() {
        let item = encode(&stats(None)).unwrap();
        assert!(!member_map(&item).contains_key("birthday"), "{item:?}");
        let back: ScopeStats = decode(item, "stats").unwrap();
        assert_eq!(back.member.unwrap().birthday, None);
    }

    /// The anchor's record state (JSON) holds the member info too: a state written before the
    /// birthday existed reads as none, and one without a birthday is written as before.
    #[test]
    fn a_member_state_without_a_birthday_reads_as_none() {
        let old = r#"{"member_id":"M1","name":null,"phone":"13800138000","email":null,"level":"金卡","points":1500,"balance_fen":20000,"store_id":"s1","registered_at":1767225600000,"synced_at":null}"#;
        let member: MemberInfo = from_json(old, "state").unwrap();
        assert_eq!(member.birthday, None);
        let mut dated = member.clone();
        dated.birthday = Some("1990-03-01".into());
        let text = to_json(&dated).unwrap();
        assert!(text.contains(r#""birthday":"1990-03-01""#), "{text}");
        assert_eq!(from_json::<MemberInfo>(&text, "state").unwrap(), dated);
        assert_eq!(to_json(&member).unwrap(), old, "written as before");
    }
}
