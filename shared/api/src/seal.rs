//! Identifiers sealed for callers who see them masked: the segment member lists' cursors (a
//! list is ordered by the members' canonical identifiers and a cursor names the last one
//! shown) and the `customer_ref` of search hits, segment members and customer answers (a
//! handle a masked caller can open the customer with, ADR 0011). Either may stand for a phone
//! number or an email the caller sees masked, so it is encrypted and authenticated, and one
//! that was not made here with that purpose's key, or was altered, opens to nothing (a 400).
//!
//! The cipher is AES-256-GCM-SIV (RFC 8452, the `aes-gcm-siv` crate) with a fixed nonce, one
//! key per purpose derived from `C360_AUDIT_HASH_KEY`: deterministic authenticated encryption
//! (RFC 8452 section 9 allows nonce reuse, at the cost of showing when two plaintexts are
//! equal). So a customer's ref is the same in every answer: an answer served from the cache
//! equals a fresh one, and a client may use the ref as a key (a console's URL of a guest
//! card). What it shows is only that two refs are the same customer, which the rows show
//! anyway. The cipher itself ([`Seal`]) is `c360_runtime::seal`'s, shared with the functions
//! that log customers (`segment_membership` lines carry the same `customer_ref`).

use c360_domain::{Identifier, IdentifierType};
pub use c360_runtime::seal::{Seal, CUSTOMER_REF};
use serde_json::Value;

/// The purposes of page cursors ([`PageCursors`]): one customer's timeline and audit trail, a
/// segment's (or an inline filter's) member list.
pub const TIMELINE_CURSOR: &str = "timeline-cursor";
pub const AUDIT_CURSOR: &str = "audit-cursor";
pub const SEGMENT_MEMBER_CURSOR: &str = "segment-member-cursor";

/// Page cursors bound to the list they page: the key the next page starts from, sealed with a
/// digest of the list's owner (a customer's identifier as the request named it; a segment or
/// an inline filter, and the scope). A cursor opens only for the owner it was made for,
/// unaltered and made here for this purpose: one copied from another customer's or another
/// list's pages, edited, or forged is a 400 rather than a page of someone else from that
/// point. Deterministic like [`Seal`], so a page served from the cache carries the same
/// cursor as a fresh one. About 60 to 150 characters, base64url.
pub struct PageCursors(Seal);

impl PageCursors {
    pub fn new(key: [u8; 32]) -> Self {
        PageCursors(Seal::new(key))
    }

    /// The first 12 bytes of SHA-256 of the owner, hex: binds the cursor without carrying a
    /// long owner (an inline filter) inside it.
    fn digest(owner: &str) -> String {
        use sha2::Digest;
        sha2::Sha256::digest(owner.as_bytes())[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The cursor for the page after `key` of `owner`'s list; `None` only if encryption
    /// failed (it does not, for inputs this small).
    pub fn seal(&self, owner: &str, key: &str) -> Option<String> {
        self.0.seal_text(&format!("{}\n{key}", Self::digest(owner)))
    }

    /// The key in a cursor made by [`PageCursors::seal`] for `owner`; `None` for a cursor of
    /// another owner or purpose, an altered one, or anything else.
    pub fn open(&self, owner: &str, cursor: &str) -> Option<String> {
        let plain = self.0.open_text(cursor)?;
        let (digest, key) = plain.split_once('\n')?;
        (digest == Self::digest(owner)).then(|| key.to_string())
    }
}

/// Puts a `customer_ref` (the object's identifier, sealed) beside every `customer_identifier`
/// whose `identifier_type` is `phone`, `member_id` or `email`, at any depth of `answer`: a
/// customer answer, each search hit, each segment member. Done before masking, which leaves
/// `customer_ref` alone, so a caller who sees `138****8000` can still open that customer
/// (`identifier_type=customer_ref`) without ever seeing the number.
pub fn add_customer_refs(answer: &mut Value, seal: &Seal) {
    match answer {
        Value::Object(obj) => {
            let id = match (
                obj.get("customer_identifier").and_then(Value::as_str),
                obj.get("identifier_type").and_then(Value::as_str),
            ) {
                (Some(raw), Some(kind)) => IdentifierType::parse(kind)
                    .and_then(|k| Identifier::parse(k, raw))
                    .ok(),
                _ => None,
            };
            if let Some(sealed) = id.and_then(|id| seal.seal(&id)) {
                obj.insert("customer_ref".into(), Value::String(sealed));
            }
            obj.values_mut().for_each(|v| add_customer_refs(v, seal));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| add_customer_refs(v, seal)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use c360_domain::ids::Phone;

    #[test]
    fn a_seal_hides_the_identifier_and_opens_only_with_its_key_unaltered() {
        let seal = Seal::new([7; 32]);
        let id = Identifier::Phone(Phone::parse("13800138000").unwrap());
        let cursor = seal.seal(&id).unwrap();
        assert_eq!(seal.open(&cursor), Some(id.clone()));
        // Deterministic: the same identifier seals the same, another one differently.
        assert_eq!(seal.seal(&id), Some(cursor.clone()));
        let other = Identifier::Phone(Phone::parse("13800138001").unwrap());
        assert_ne!(seal.seal(&other), Some(cursor.clone()));
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&cursor)
            .unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("13800138000"));
        assert!(!cursor.contains("13800138000"));
        // Another key, an altered byte, garbage: nothing.
        assert_eq!(Seal::new([8; 32]).open(&cursor), None);
        let mut bad = raw.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let bad = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bad);
        assert_eq!(seal.open(&bad), None);
        assert_eq!(seal.open("!!"), None);
        assert_eq!(seal.open(""), None);
    }

    #[test]
    fn a_page_cursor_opens_only_for_its_customer_and_list() {
        let phone = |p| Identifier::Phone(Phone::parse(p).unwrap()).key();
        let timeline = PageCursors::new([7; 32]);
        let key = "S#s1#000001795837867000#orders#o1";
        let cursor = timeline.seal(&phone("13800138000"), key).unwrap();
        assert_eq!(
            timeline.open(&phone("13800138000"), &cursor).as_deref(),
            Some(key)
        );
        // Field report: a client that pads base64 got a 400 for its own next_cursor.
        assert_eq!(
            timeline
                .open(&phone("13800138000"), &format!("{cursor}=="))
                .as_deref(),
            Some(key)
        );
        // Opaque: not the time key in base64 (which named the store and the order).
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&cursor)
            .unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("orders#o1"));
        // Another customer's, another list's, an unsealed time key, garbage: nothing.
        assert_eq!(timeline.open(&phone("13800138001"), &cursor), None);
        assert_eq!(
            PageCursors::new([8; 32]).open(&phone("13800138000"), &cursor),
            None
        );
        let plain = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key);
        assert_eq!(timeline.open(&phone("13800138000"), &plain), None);
        assert_eq!(timeline.open(&phone("13800138000"), "!!"), None);
    }

    #[test]
    fn every_customer_in_an_answer_gets_a_ref_that_opens_to_its_identifier() {
        let seal = Seal::new([7; 32]);
        let mut answer = serde_json::json!({
            "customer_identifier": "13800138000", "identifier_type": "phone",
            "results": [
                {"customer_identifier": "M123456", "identifier_type": "member_id"},
                {"customer_identifier": "zs@example.com", "identifier_type": "email"},
                {"customer_identifier": "whatever", "identifier_type": "query"}
            ]
        });
        add_customer_refs(&mut answer, &seal);
        let opened = |v: &Value| v["customer_ref"].as_str().and_then(|r| seal.open(r));
        assert_eq!(
            opened(&answer),
            Some(Identifier::Phone(Phone::parse("13800138000").unwrap()))
        );
        assert_eq!(
            opened(&answer["results"][0]).map(|i| i.key()),
            Identifier::parse(IdentifierType::MemberId, "M123456")
                .ok()
                .map(|i| i.key())
        );
        assert!(opened(&answer["results"][1]).is_some());
        // Not an identifier: no ref rather than a wrong one.
        assert_eq!(answer["results"][2].get("customer_ref"), None);
    }
}
