//! Search tokens: what a staff member can type to find a customer (`spec/api.md`, Search).
//!
//! A node holds its tokens in a scope while it has records there. Its tokens are those of
//! every identifier of its customer (its cluster: `identity.rs`), so an identifier no record
//! carries (a member's phone known only from the member record) is found wherever the
//! customer has records, plus the prefixes and pinyin initials of the names on the node's own
//! records in that scope. A [`Token`] is stored as `{prefix}:{text}`, its [`TokenKind`]'s
//! prefix first: `p` whole phone, `l4` its last 4 digits (尾号), `m` member id (lowercase), `e`
//! email, `n` name prefix (lowercase), `i` pinyin initials prefix (lowercase ASCII letters only).

use crate::ids::{Email, Identifier, Phone};
use crate::projection::ScopeStats;
use pinyin::ToPinyin;
use std::collections::BTreeSet;
use unicode_normalization::UnicodeNormalization;

/// Longest name prefix (and initials prefix) indexed, in characters.
pub const MAX_NAME_PREFIX: usize = 8;

/// What a search token finds a customer by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TokenKind {
    /// A whole phone number, 11 digits.
    Phone,
    /// The last 4 digits of a phone (尾号).
    PhoneLast4,
    /// A member id, lowercase.
    MemberId,
    /// An email address, normalized as `Email::parse` does.
    Email,
    /// A name or its start, folded (NFKC, lowercase), up to [`MAX_NAME_PREFIX`] characters.
    Name,
    /// The pinyin initials of a name or their start, lowercase ASCII.
    Initials,
}

impl TokenKind {
    pub const ALL: [TokenKind; 6] = [
        TokenKind::Phone,
        TokenKind::PhoneLast4,
        TokenKind::MemberId,
        TokenKind::Email,
        TokenKind::Name,
        TokenKind::Initials,
    ];

    /// The token's stored prefix, before `:`. Part of the key layout (`keys.rs` stores tokens
    /// whole): changing one would leave every stored token of that kind unfindable.
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Phone => "p",
            TokenKind::PhoneLast4 => "l4",
            TokenKind::MemberId => "m",
            TokenKind::Email => "e",
            TokenKind::Name => "n",
            TokenKind::Initials => "i",
        }
    }

    /// `matched_by` in a search hit (`spec/api.md`, Search).
    pub fn matched_by(self) -> &'static str {
        match self {
            TokenKind::Phone => "phone",
            TokenKind::PhoneLast4 => "phone_last4",
            TokenKind::MemberId => "member_id",
            TokenKind::Email => "email",
            TokenKind::Name => "name",
            TokenKind::Initials => "pinyin_initials",
        }
    }
}

/// A search token: its kind and its text, held as the stored form `{prefix}:{text}` (e.g.
/// `l4:8000`). Compared, ordered and hashed as that string, so a set of tokens can be asked
/// about a stored one ([`Borrow<str>`](std::borrow::Borrow)).
#[derive(Debug, Clone)]
pub struct Token {
    kind: TokenKind,
    stored: String,
}

impl Token {
    pub fn new(kind: TokenKind, text: &str) -> Token {
        Token {
            kind,
            stored: format!("{}:{text}", kind.prefix()),
        }
    }
    pub fn kind(&self) -> TokenKind {
        self.kind
    }
    /// The stored form, `{prefix}:{text}`.
    pub fn as_str(&self) -> &str {
        &self.stored
    }
    /// Reads a stored token back; `None` for an unknown prefix or no `:`.
    pub fn parse(stored: &str) -> Option<Token> {
        let (prefix, text) = stored.split_once(':')?;
        let kind = TokenKind::ALL.into_iter().find(|k| k.prefix() == prefix)?;
        Some(Token::new(kind, text))
    }
}

impl PartialEq for Token {
    fn eq(&self, other: &Token) -> bool {
        self.stored == other.stored
    }
}
impl Eq for Token {}
impl PartialOrd for Token {
    fn partial_cmp(&self, other: &Token) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Token {
    fn cmp(&self, other: &Token) -> std::cmp::Ordering {
        self.stored.cmp(&other.stored)
    }
}
impl std::hash::Hash for Token {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.stored.hash(state)
    }
}
impl std::borrow::Borrow<str> for Token {
    fn borrow(&self) -> &str {
        &self.stored
    }
}
impl PartialEq<&str> for Token {
    fn eq(&self, other: &&str) -> bool {
        self.stored == *other
    }
}
impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.stored)
    }
}

/// What names and queries are compared as: compatibility forms folded (NFKC: a full-width
/// `ＺＳ` is `ZS`, as `ids.rs` folds identifiers), trimmed, lower-cased.
fn fold(text: &str) -> String {
    text.nfkc().collect::<String>().trim().to_lowercase()
}

/// The tokens that find one identifier: a phone's whole number and last 4 digits, a member
/// id, an email.
pub fn identifier_tokens(id: &Identifier) -> Vec<Token> {
    match id {
        Identifier::Phone(p) => vec![
            Token::new(TokenKind::Phone, p.as_str()),
            Token::new(TokenKind::PhoneLast4, p.last4()),
        ],
        Identifier::Member(m) => vec![Token::new(TokenKind::MemberId, &m.as_str().to_lowercase())],
        Identifier::Email(e) => vec![Token::new(TokenKind::Email, e.as_str())],
    }
}

/// The tokens under which a node is found in a scope, given its stats there and the
/// identifiers of its customer (`cluster`, the node itself included or not).
pub fn tokens(node: &Identifier, cluster: &[Identifier], stats: &ScopeStats) -> BTreeSet<Token> {
    tokens_for(node, cluster, stats.is_empty(), stats.names.keys())
}

/// The tokens under which a customer is found in a scope (ADR 0014, search): those of every
/// identifier of its cluster and the prefixes and initials of every name on its records there
/// (`stats`: the scope's figures summed over the cluster, as in its segment row); none when it
/// has no records there. The union of its nodes' [`tokens`] in the scope, held once per
/// customer under its canonical node, so that a Query of one token yields each customer once.
pub fn customer_tokens(cluster: &[Identifier], stats: &ScopeStats) -> BTreeSet<Token> {
    match cluster.first() {
        Some(first) => tokens_for(first, cluster, stats.is_empty(), stats.names.keys()),
        None => BTreeSet::new(),
    }
}

/// [`tokens`] from what they depend on: whether the node has no records in the scope
/// (`empty`: no tokens) and the names on its records there.
pub fn tokens_for<'a>(
    node: &Identifier,
    cluster: &[Identifier],
    empty: bool,
    names: impl IntoIterator<Item = &'a String>,
) -> BTreeSet<Token> {
    let mut out = BTreeSet::new();
    if empty {
        return out;
    }
    for id in std::iter::once(node).chain(cluster) {
        out.extend(identifier_tokens(id));
    }
    for name in names {
        let chars: Vec<char> = fold(name).chars().collect();
        for end in 1..=chars.len().min(MAX_NAME_PREFIX) {
            out.insert(Token::new(
                TokenKind::Name,
                &chars[..end].iter().collect::<String>(),
            ));
        }
        if let Some(letters) = initials(name) {
            let letters: Vec<char> = letters.chars().collect();
            for end in 1..=letters.len().min(MAX_NAME_PREFIX) {
                out.insert(Token::new(
                    TokenKind::Initials,
                    &letters[..end].iter().collect::<String>(),
                ));
            }
        }
    }
    out
}

/// Surnames whose surname reading is not the character's most common one, and compound
/// (two-character) surnames, with the reading used in names. Readings as the 《现代汉语词典》
/// (第7版, 商务印书馆 2016) gives them for the character used as a surname (the entries
/// marked 姓); the compound surnames are those of the 《百家姓》. A surname read two ways
/// (乐 lè/yuè, 覃 qín/tán) is left to the pinyin crate's reading.
const SURNAMES: &[(&str, &[&str])] = &[
    // Compound surnames first: the longest match wins (单于 is chán yú, not shàn).
    ("欧阳", &["ou", "yang"]),
    ("司马", &["si", "ma"]),
    ("上官", &["shang", "guan"]),
    ("诸葛", &["zhu", "ge"]),
    ("东方", &["dong", "fang"]),
    ("皇甫", &["huang", "fu"]),
    ("尉迟", &["yu", "chi"]),
    ("公孙", &["gong", "sun"]),
    ("慕容", &["mu", "rong"]),
    ("长孙", &["zhang", "sun"]),
    ("宇文", &["yu", "wen"]),
    ("司徒", &["si", "tu"]),
    ("司空", &["si", "kong"]),
    ("夏侯", &["xia", "hou"]),
    ("令狐", &["ling", "hu"]),
    ("澹台", &["tan", "tai"]),
    ("万俟", &["mo", "qi"]),
    ("单于", &["chan", "yu"]),
    ("轩辕", &["xuan", "yuan"]),
    ("端木", &["duan", "mu"]),
    ("独孤", &["du", "gu"]),
    ("南宫", &["nan", "gong"]),
    ("闻人", &["wen", "ren"]),
    ("西门", &["xi", "men"]),
    ("呼延", &["hu", "yan"]),
    ("赫连", &["he", "lian"]),
    ("钟离", &["zhong", "li"]),
    ("宗政", &["zong", "zheng"]),
    ("濮阳", &["pu", "yang"]),
    ("淳于", &["chun", "yu"]),
    ("申屠", &["shen", "tu"]),
    ("公冶", &["gong", "ye"]),
    ("太叔", &["tai", "shu"]),
    ("仲孙", &["zhong", "sun"]),
    ("乐正", &["yue", "zheng"]),
    ("拓跋", &["tuo", "ba"]),
    // Single surnames read differently from the character's common reading.
    ("曾", &["zeng"]),
    ("单", &["shan"]),
    ("解", &["xie"]),
    ("查", &["zha"]),
    ("仇", &["qiu"]),
    ("区", &["ou"]),
    ("朴", &["piao"]),
    ("繁", &["po"]),
    ("盖", &["ge"]),
    ("缪", &["miao"]),
    ("翟", &["zhai"]),
    ("员", &["yun"]),
    ("秘", &["bi"]),
    ("祭", &["zhai"]),
    ("种", &["chong"]),
    ("重", &["chong"]),
    ("折", &["she"]),
    ("召", &["shao"]),
    ("长", &["chang"]),
    ("宿", &["su"]),
    ("句", &["gou"]),
    ("褚", &["chu"]),
    ("隗", &["wei"]),
    ("蕃", &["pi"]),
];

/// Characters a name may carry between its parts that are not read (spaces, the middle dot
/// of transliterated names such as 阿卜杜·热合曼).
fn unread(c: char) -> bool {
    c.is_whitespace() || matches!(c, '·' | '•' | '・' | '.' | '-')
}

/// The pinyin initials of a Chinese name, lowercase (`张三` → `zs`, `曾小明` → `zxm`,
/// `欧阳文` → `oyw`), reading the surname as a surname. `None` when some character of the
/// name has no pinyin (a name in Latin letters is found by its own prefixes instead).
pub fn initials(name: &str) -> Option<String> {
    let chars: Vec<char> = name.nfkc().filter(|c| !unread(*c)).collect();
    if chars.is_empty() {
        return None;
    }
    let text: String = chars.iter().collect();
    let mut out = String::new();
    let mut rest: &[char] = &chars;
    if let Some((surname, readings)) = SURNAMES.iter().find(|(s, _)| text.starts_with(s)) {
        for r in *readings {
            out.push(r.chars().next()?);
        }
        rest = &chars[surname.chars().count()..];
    }
    for c in rest {
        let letter = c.to_pinyin()?.plain().chars().next()?;
        out.push(letter);
    }
    out.chars().all(|c| c.is_ascii_lowercase()).then_some(out)
}

/// The tokens to look up for what someone typed: a whole phone, 4 digits (尾号, or a member
/// id), a member id, an email, a name or the start of one, pinyin initials (letters only).
/// A query of digits only is not a name (a guest's name is what a person is called; the
/// digits someone types are a phone or a card number), so it sends no name Query: `8000` is
/// two index Queries, not three. At most three, so a search is at most three index Queries
/// sent together. The text is
/// folded as names and identifiers are (`fold`, `Phone::parse`, `Email::parse`), so a
/// full-width `０００５` or `ｗｕ＠ｅｘａｍｐｌｅ．ｃｏｍ` finds what its plain spelling finds.
pub fn query_tokens(query: &str) -> Vec<Token> {
    if let Ok(p) = Phone::parse(query) {
        return vec![Token::new(TokenKind::Phone, p.as_str())];
    }
    let lower = fold(query);
    let mut out = Vec::new();
    if lower.len() == 4 && lower.bytes().all(|b| b.is_ascii_digit()) {
        out.push(Token::new(TokenKind::PhoneLast4, &lower));
    }
    if lower.contains('@') {
        match Email::parse(&lower) {
            Ok(e) => out.push(Token::new(TokenKind::Email, e.as_str())),
            Err(_) => out.push(Token::new(TokenKind::Email, &lower)),
        }
    } else {
        if lower
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            out.push(Token::new(TokenKind::MemberId, &lower));
        }
        let prefix: String = lower.chars().take(MAX_NAME_PREFIX).collect();
        if !lower.bytes().all(|b| b.is_ascii_digit()) {
            out.push(Token::new(TokenKind::Name, &prefix));
        }
        if !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_lowercase()) {
            out.push(Token::new(TokenKind::Initials, &prefix));
        }
    }
    out
}

#[cfg(test)]
mod tests;
