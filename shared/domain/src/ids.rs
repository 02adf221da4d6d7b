//! Customer identifiers and their normalization.
//!
//! Every spelling of a mainland mobile number that the sources use (`13800138000`,
//! `+86 138 0013 8000`, `86-13800138000`, `0086 138...`) normalizes to the same 11 digits;
//! emails compare case-insensitively; member and store ids are trimmed opaque tokens.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("`{0}` is not a plausible mainland mobile number (11 digits starting with 1, optionally with +86)")]
    Phone(String),
    #[error("`{0}` is not a valid email address")]
    Email(String),
    #[error("`{0}` is not a valid member id (1-64 letters, digits, `-` or `_`)")]
    Member(String),
    #[error("`{0}` is not a valid store id (1-64 letters, digits, `-` or `_`)")]
    Store(String),
    #[error("`{0}` is not a known identifier type; use phone, member_id or email")]
    Kind(String),
}

/// A normalized mainland mobile number: exactly 11 ASCII digits, `1[3-9]xxxxxxxxx`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Phone(String);

/// How one character of a phone spelling reads once its compatibility form is folded
/// (Unicode NFKC: full-width `１` is `1`, `＋` is `+`, the ideographic space is a space).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PhoneChar {
    Digit(u8),
    Plus,
    /// Any Unicode space (`White_Space`), dash (general category `Pd`, and the minus sign),
    /// bracket or dot: people group digits with them; they carry no meaning.
    Separator,
    Other,
}

/// `c` in its compatibility form (Unicode NFKC) when that is one character: `１` → `1`,
/// `＠` → `@`, `\u{a0}` → ` `; `None` when it folds to several (`⑴` is `(1)`).
fn fold(c: char) -> Option<char> {
    use unicode_normalization::UnicodeNormalization;
    if c.is_ascii() {
        return Some(c);
    }
    let mut nfkc = std::iter::once(c).nfkc();
    match (nfkc.next(), nfkc.next()) {
        (Some(f), None) => Some(f),
        _ => None,
    }
}

/// `c` folded to its one-character compatibility form, or itself.
pub(crate) fn fold_char(c: char) -> char {
    fold(c).unwrap_or(c)
}

pub(crate) fn phone_char(c: char) -> PhoneChar {
    use unicode_general_category::{get_general_category, GeneralCategory};
    let Some(folded) = fold(c) else {
        return PhoneChar::Other;
    };
    match folded {
        '0'..='9' => PhoneChar::Digit(folded as u8 - b'0'),
        '+' => PhoneChar::Plus,
        '(' | ')' | '.' | '\u{2212}' => PhoneChar::Separator,
        f if f.is_whitespace() => PhoneChar::Separator,
        f if get_general_category(f) == GeneralCategory::DashPunctuation => PhoneChar::Separator,
        _ => PhoneChar::Other,
    }
}

impl Phone {
    /// Reads any spelling of a mainland mobile number that people and systems write: digits
    /// in any width (`１９９…`), grouped by any Unicode space or dash or by brackets
    /// (`(+86)199 1111 0003`, `199\u{a0}1111\u{a0}0003`, `138-0013-8000`), with an optional
    /// country code `+86`, `86` or `0086` before the 11 national digits.
    ///
    /// The one normalization for queries, source records and the masking of free text.
    ///
    /// # Errors
    /// [`IdError::Phone`] when the digits are not 11 starting with `1[3-9]` (after the country
    /// code), or when the text holds anything else (letters, a second `+`, a `+` after digits).
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let mut digits = String::with_capacity(raw.len());
        let mut plus = false;
        for c in raw.chars() {
            match phone_char(c) {
                PhoneChar::Digit(d) => digits.push(char::from(b'0' + d)),
                PhoneChar::Plus if !plus && digits.is_empty() => plus = true,
                PhoneChar::Separator => {}
                PhoneChar::Plus | PhoneChar::Other => return Err(IdError::Phone(raw.to_string())),
            }
        }
        let national = if digits.len() == 15 && digits.starts_with("0086") {
            &digits[4..]
        } else if digits.len() == 13 && digits.starts_with("86") {
            &digits[2..]
        } else {
            &digits[..]
        };
        let bytes = national.as_bytes();
        if bytes.len() == 11 && bytes[0] == b'1' && (b'3'..=b'9').contains(&bytes[1]) {
            Ok(Phone(national.to_string()))
        } else {
            Err(IdError::Phone(raw.to_string()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// 尾号: the last four digits, which staff search by.
    pub fn last4(&self) -> &str {
        &self.0[7..]
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// A member id from the loyalty system, kept as given (trimmed).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MemberId(String);

impl MemberId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let v = raw.trim();
        if v.is_empty() || v.len() > 64 || !v.chars().all(is_token_char) {
            return Err(IdError::Member(raw.to_string()));
        }
        Ok(MemberId(v.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address, lower-cased: the sources treat emails case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    /// Folds compatibility forms first (NFKC: a full-width `ｚｓ＠ｅｘａｍｐｌｅ．ｃｏｍ` is
    /// `zs@example.com`), then lower-cases.
    ///
    /// # Errors
    /// [`IdError::Email`] without one `@` between a non-empty local part and a dotted domain.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        use unicode_normalization::UnicodeNormalization;
        let v = raw.nfkc().collect::<String>().trim().to_lowercase();
        let valid = match v.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !v.chars().any(|c| c.is_whitespace() || c == '#')
                    && v.len() <= 254
                    && !domain.contains('@')
            }
            None => false,
        };
        if valid {
            Ok(Email(v))
        } else {
            Err(IdError::Email(raw.to_string()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A store (tenant) id. It appears inside keys, so its alphabet is restricted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct StoreId(String);

impl StoreId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let v = raw.trim();
        if v.is_empty() || v.len() > 64 || !v.chars().all(is_token_char) {
            return Err(IdError::Store(raw.to_string()));
        }
        Ok(StoreId(v.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierType {
    Phone,
    MemberId,
    Email,
}

impl IdentifierType {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        match raw {
            "phone" => Ok(Self::Phone),
            "member_id" => Ok(Self::MemberId),
            "email" => Ok(Self::Email),
            other => Err(IdError::Kind(other.to_string())),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Phone => "phone",
            Self::MemberId => "member_id",
            Self::Email => "email",
        }
    }
}

/// One identifier of a customer: a node of the identity graph.
///
/// Ordering matters: it decides which node a record lives under (see
/// [`crate::source::SourceRecord::home`]) and the canonical node of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Identifier {
    Member(MemberId),
    Phone(Phone),
    Email(Email),
}

impl Identifier {
    pub fn parse(kind: IdentifierType, raw: &str) -> Result<Self, IdError> {
        Ok(match kind {
            IdentifierType::Phone => Identifier::Phone(Phone::parse(raw)?),
            IdentifierType::MemberId => Identifier::Member(MemberId::parse(raw)?),
            IdentifierType::Email => Identifier::Email(Email::parse(raw)?),
        })
    }
    pub fn kind(&self) -> IdentifierType {
        match self {
            Identifier::Phone(_) => IdentifierType::Phone,
            Identifier::Member(_) => IdentifierType::MemberId,
            Identifier::Email(_) => IdentifierType::Email,
        }
    }
    pub fn value(&self) -> &str {
        match self {
            Identifier::Phone(p) => p.as_str(),
            Identifier::Member(m) => m.as_str(),
            Identifier::Email(e) => e.as_str(),
        }
    }
    /// The stable textual key, `phone#13800138000`, used inside storage keys.
    pub fn key(&self) -> String {
        format!("{}#{}", self.kind().as_str(), self.value())
    }
    pub fn from_key(key: &str) -> Result<Self, IdError> {
        let (kind, value) = key
            .split_once('#')
            .ok_or_else(|| IdError::Kind(key.to_string()))?;
        Identifier::parse(IdentifierType::parse(kind)?, value)
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phone_spelling_in_the_sources_is_one_number() {
        for raw in [
            "13800138000",
            "+86 138 0013 8000",
            "86-13800138000",
            "+86 138-0013-8000",
            "138-0013-8000",
            "0086 13800138000",
            " 138 0013 8000 ",
            "+8613800138000",
        ] {
            assert_eq!(Phone::parse(raw).unwrap().as_str(), "13800138000", "{raw}");
        }
    }

    /// Issue 11, item 2: spellings from the field that were rejected (or, in a source record,
    /// silently dropped) are the same mainland number.
    #[test]
    fn full_width_bracketed_and_unicode_spaced_phones_are_one_number() {
        for raw in [
            "１９９１１１１０００３",
            "(+86)199 1111 0003",
            "199\u{a0}1111\u{a0}0003",
            "＋８６ １９９ １１１１ ０００３",
            "（+86）199-1111-0003",
            "199\u{2009}1111\u{2009}0003",
            "199\u{2013}1111\u{2014}0003",
            "199\u{2212}1111\u{2212}0003",
            "\u{3000}19911110003\u{3000}",
            "0086 199 1111 0003",
        ] {
            assert_eq!(
                Phone::parse(raw).map(|p| p.as_str().to_string()),
                Ok("19911110003".to_string()),
                "{raw:?}"
            );
        }
        for raw in [
            "199 1111 000３x",
            "86+19911110003",
            "199_1111_0003",
            "⑴9911110003",
        ] {
            assert!(Phone::parse(raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn full_width_emails_fold_to_the_ascii_address() {
        assert_eq!(
            Email::parse("ＺＳ＠ｅｘａｍｐｌｅ．ｃｏｍ").map(|e| e.as_str().to_string()),
            Ok("zs@example.com".to_string())
        );
    }

    #[test]
    fn implausible_phones_are_rejected() {
        for raw in [
            "",
            "12345",
            "23800138000",
            "12800138000",
            "1380013800a",
            "138001380001",
            "86",
            "++8613800138000",
            "021-12345678",
        ] {
            assert!(Phone::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn last4_is_the_tail() {
        assert_eq!(Phone::parse("13800138000").unwrap().last4(), "8000");
    }

    #[test]
    fn emails_compare_case_insensitively() {
        assert_eq!(
            Email::parse(" ZhangSan@Example.COM ").unwrap(),
            Email::parse("zhangsan@example.com").unwrap()
        );
        for bad in ["", "a", "a@b", "@b.com", "a@.com", "a b@c.com", "a@b.com."] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn member_and_store_ids_are_restricted_tokens() {
        assert_eq!(MemberId::parse(" M123456 ").unwrap().as_str(), "M123456");
        assert!(MemberId::parse("M#1").is_err());
        assert!(StoreId::parse("store_sh_001").is_ok());
        assert!(StoreId::parse("a#b").is_err());
        assert!(StoreId::parse("").is_err());
    }

    #[test]
    fn identifier_keys_round_trip() {
        for id in [
            Identifier::Phone(Phone::parse("13800138000").unwrap()),
            Identifier::Member(MemberId::parse("M1").unwrap()),
            Identifier::Email(Email::parse("a@b.cn").unwrap()),
        ] {
            assert_eq!(Identifier::from_key(&id.key()).unwrap(), id);
        }
        assert!(IdentifierType::parse("foo").is_err());
    }
}
