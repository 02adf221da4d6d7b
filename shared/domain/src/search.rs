//! Search tokens: what a staff member can type to find a customer (`spec/api.md`, Search).
//! A node holds its tokens in a scope while it has records there.

use crate::ids::{Identifier, Phone};
use crate::projection::ScopeStats;
use std::collections::BTreeSet;

/// Longest name prefix indexed, in characters.
pub const MAX_NAME_PREFIX: usize = 8;

pub fn name_key(name: &str) -> String {
    format!("n:{}", name.trim().to_lowercase())
}

/// The tokens under which a node is found in a scope.
pub fn tokens(node: &Identifier, stats: &ScopeStats) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if stats.is_empty() {
        return out;
    }
    match node {
        Identifier::Phone(p) => {
            out.insert(format!("p:{}", p.as_str()));
            out.insert(format!("l4:{}", p.last4()));
        }
        Identifier::Member(m) => {
            out.insert(format!("m:{}", m.as_str().to_lowercase()));
        }
        Identifier::Email(e) => {
            out.insert(format!("e:{}", e.as_str()));
        }
    }
    for name in stats.names.keys() {
        let chars: Vec<char> = name.trim().to_lowercase().chars().collect();
        for end in 1..=chars.len().min(MAX_NAME_PREFIX) {
            out.insert(format!("n:{}", chars[..end].iter().collect::<String>()));
        }
    }
    out
}

/// The tokens to look up for what someone typed: a whole phone, 4 digits (尾号, or a member
/// id), a member id, an email, a name or the start of one.
pub fn query_tokens(query: &str) -> Vec<String> {
    let q = query.trim();
    if let Ok(p) = Phone::parse(q) {
        return vec![format!("p:{}", p.as_str())];
    }
    let lower = q.to_lowercase();
    let mut out = Vec::new();
    if lower.len() == 4 && lower.bytes().all(|b| b.is_ascii_digit()) {
        out.push(format!("l4:{lower}"));
    }
    if lower.contains('@') {
        out.push(format!("e:{lower}"));
    } else {
        if lower
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            out.push(format!("m:{lower}"));
        }
        let prefix: String = lower.chars().take(MAX_NAME_PREFIX).collect();
        out.push(format!("n:{prefix}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::MemberId;

    #[test]
    fn a_phone_node_is_found_by_number_tail_and_name_prefixes() {
        let node = Identifier::Phone(Phone::parse("13800138000").unwrap());
        let mut stats = ScopeStats {
            order_records: 1,
            ..ScopeStats::default()
        };
        stats.names.insert("张三".into(), 1);
        let t = tokens(&node, &stats);
        for want in ["p:13800138000", "l4:8000", "n:张", "n:张三"] {
            assert!(t.contains(want), "{want} in {t:?}");
        }
        assert!(tokens(&node, &ScopeStats::default()).is_empty());
    }

    #[test]
    fn queries_map_to_the_tokens_they_can_match() {
        assert_eq!(query_tokens("+86 138 0013 8000"), vec!["p:13800138000"]);
        assert_eq!(query_tokens("8000"), vec!["l4:8000", "m:8000", "n:8000"]);
        assert_eq!(query_tokens("M123456"), vec!["m:m123456", "n:m123456"]);
        assert_eq!(query_tokens("张"), vec!["n:张"]);
        let node = Identifier::Member(MemberId::parse("M123456").unwrap());
        let stats = ScopeStats {
            member_records: 1,
            ..ScopeStats::default()
        };
        assert!(tokens(&node, &stats).contains("m:m123456"));
    }
}
