//! Who may see what, and how much of it: roles, the scope rules of `spec/api.md`, and
//! masking of phone numbers, emails and names (in answers and in free text such as logs).

use crate::ids::{fold_char, phone_char, Phone, PhoneChar, StoreId};
use crate::projection::Scope;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    SuperAdmin,
    StoreAdmin,
    Staff,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::SuperAdmin, Role::StoreAdmin, Role::Staff];

    pub fn parse(raw: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == raw)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::SuperAdmin => "super_admin",
            Role::StoreAdmin => "store_admin",
            Role::Staff => "staff",
        }
    }
    pub fn is_admin(self) -> bool {
        matches!(self, Role::SuperAdmin | Role::StoreAdmin)
    }
}

/// A caller whose token has been verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub sub: String,
    pub role: Role,
    /// The caller's own store; `None` only for a `super_admin`.
    pub store: Option<StoreId>,
}

/// Why a caller may not have what they asked for (HTTP 403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("Your role may only see your own store ({own}); `store_id` asks for another store.")]
    OtherStore { own: String },
    #[error("Your token carries no `store_id`, which your role needs.")]
    NoOwnStore,
    #[error("This endpoint is for {allowed} only.")]
    Role { allowed: &'static str },
}

impl Caller {
    /// The scope a read runs in: `super_admin` any store (all stores together without a
    /// `store_id`), everyone else only their own store, with or without `store_id`.
    pub fn scope(&self, requested: Option<StoreId>) -> Result<Scope, Denied> {
        match (self.role, requested) {
            (Role::SuperAdmin, None) => Ok(Scope::AllStores),
            (Role::SuperAdmin, Some(store)) => Ok(Scope::Store(store)),
            (_, requested) => {
                let own = self.store.clone().ok_or(Denied::NoOwnStore)?;
                match requested {
                    Some(store) if store != own => Err(Denied::OtherStore {
                        own: own.as_str().to_string(),
                    }),
                    _ => Ok(Scope::Store(own)),
                }
            }
        }
    }

    pub fn require_admin(&self) -> Result<(), Denied> {
        if self.role.is_admin() {
            Ok(())
        } else {
            Err(Denied::Role {
                allowed: "super_admin and store_admin",
            })
        }
    }

    pub fn require_super_admin(&self) -> Result<(), Denied> {
        if self.role == Role::SuperAdmin {
            Ok(())
        } else {
            Err(Denied::Role {
                allowed: "super_admin",
            })
        }
    }
}

/// Which fields a role sees masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Masking {
    #[serde(default)]
    pub phone: bool,
    #[serde(default)]
    pub email: bool,
    #[serde(default)]
    pub name: bool,
}

impl Masking {
    pub const ALL: Masking = Masking {
        phone: true,
        email: true,
        name: true,
    };
    pub const NONE: Masking = Masking {
        phone: false,
        email: false,
        name: false,
    };
    pub fn any(self) -> bool {
        self.phone || self.email || self.name
    }
}

/// Masking per role (`C360_MASKING`). Default: `staff` masked, admins clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskingConfig {
    #[serde(default = "clear")]
    pub super_admin: Masking,
    #[serde(default = "clear")]
    pub store_admin: Masking,
    #[serde(default = "masked")]
    pub staff: Masking,
}

fn clear() -> Masking {
    Masking::NONE
}
fn masked() -> Masking {
    Masking::ALL
}

impl Default for MaskingConfig {
    fn default() -> Self {
        MaskingConfig {
            super_admin: Masking::NONE,
            store_admin: Masking::NONE,
            staff: Masking::ALL,
        }
    }
}

impl MaskingConfig {
    pub fn for_role(&self, role: Role) -> Masking {
        match role {
            Role::SuperAdmin => self.super_admin,
            Role::StoreAdmin => self.store_admin,
            Role::Staff => self.staff,
        }
    }
}

/// `13800138000` → `138****8000`. Anything that is not 11 digits keeps only its last 4.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().collect();
    if digits.len() == 11 {
        let head: String = digits[..3].iter().collect();
        let tail: String = digits[7..].iter().collect();
        format!("{head}****{tail}")
    } else {
        let keep = digits.len().saturating_sub(4);
        let tail: String = digits[keep..].iter().collect();
        format!("****{tail}")
    }
}

/// `zhangsan@example.com` → `z***@example.com`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_string(),
    }
}

/// `张三` → `张*`, `欧阳娜娜` → `欧***`: the first character, the rest starred.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let rest = chars.count().max(1);
            format!("{first}{}", "*".repeat(rest))
        }
    }
}

/// Masks phone numbers (11 digits starting with 1, not part of a longer number) and email
/// addresses wherever they appear in free text: log lines, activity details, a search query.
pub fn redact_text(text: &str, phones: bool, emails: bool) -> String {
    let text = if emails {
        redact_emails(text)
    } else {
        text.to_string()
    };
    if phones {
        redact_phones(&text)
    } else {
        text
    }
}

/// Every spelling [`Phone::parse`] accepts (`199 1111 0004`, `+86-199-1111-0004`, full-width
/// digits) is a phone here too, as is any 11-digit run starting with 1. Only whole digit
/// groups are read, so a phone is never found inside a longer number; the match keeps its
/// spelling with the national number's 4th to 7th digits starred (`199 **** 0004`).
fn redact_phones(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let class: Vec<PhoneChar> = chars.iter().map(|c| phone_char(*c)).collect();
    let mut starred = vec![false; chars.len()];
    let mut i = 0;
    while i < chars.len() {
        if !matches!(class[i], PhoneChar::Digit(_) | PhoneChar::Plus) {
            i += 1;
            continue;
        }
        // A run of digits, pluses and separators, split into its digit groups.
        let start = i;
        while i < chars.len() && class[i] != PhoneChar::Other {
            i += 1;
        }
        let mut groups: Vec<(usize, usize)> = Vec::new();
        let mut j = start;
        while j < i {
            if matches!(class[j], PhoneChar::Digit(_)) {
                let g = j;
                while j < i && matches!(class[j], PhoneChar::Digit(_)) {
                    j += 1;
                }
                groups.push((g, j));
            } else {
                j += 1;
            }
        }
        let mut a = 0;
        while a < groups.len() {
            let found = (a..groups.len())
                .rev()
                .filter(|&b| groups[b].1 - groups[a].0 <= 40)
                .find(|&b| {
                    is_phone_spelling(&chars[groups[a].0..groups[b].1], &chars, groups[a].0)
                });
            match found {
                Some(b) => {
                    let digits: Vec<usize> = (groups[a].0..groups[b].1)
                        .filter(|&k| matches!(class[k], PhoneChar::Digit(_)))
                        .collect();
                    let national = &digits[digits.len().saturating_sub(11)..];
                    for &k in national.iter().skip(3).take(4) {
                        starred[k] = true;
                    }
                    a = b + 1;
                }
                None => a += 1,
            }
        }
    }
    chars
        .iter()
        .zip(starred)
        .map(|(c, star)| if star { '*' } else { *c })
        .collect()
}

/// Whether `span` (whole digit groups) spells a phone, with the `+` written just before it.
fn is_phone_spelling(span: &[char], text: &[char], at: usize) -> bool {
    let digits: String = span
        .iter()
        .filter_map(|c| match phone_char(*c) {
            PhoneChar::Digit(d) => Some(char::from(b'0' + d)),
            _ => None,
        })
        .collect();
    // One unbroken run, as the masking always read it: `13800138000`, `8613800138000`.
    let unbroken = span.len() == digits.len()
        && ((digits.len() == 11 && digits.starts_with('1'))
            || (digits.len() == 13 && digits.starts_with("861")));
    let plus = at > 0 && phone_char(text[at - 1]) == PhoneChar::Plus;
    let spelled: String = if plus {
        std::iter::once('+').chain(span.iter().copied()).collect()
    } else {
        span.iter().collect()
    };
    unbroken || Phone::parse(&spelled).is_ok()
}

/// A character of an email address as free text writes it, full-width forms folded.
fn is_email_char(c: char) -> bool {
    let c = fold_char(c);
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

fn redact_emails(text: &str) -> String {
    if !text.chars().any(|c| fold_char(c) == '@') {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < chars.len() {
        if fold_char(chars[i]) == '@' {
            let mut start = i;
            while start > copied && is_email_char(chars[start - 1]) {
                start -= 1;
            }
            let mut end = i + 1;
            while end < chars.len() && is_email_char(chars[end]) {
                end += 1;
            }
            let domain: String = chars[i + 1..end].iter().map(|c| fold_char(*c)).collect();
            if start < i && domain.contains('.') {
                out.extend(&chars[copied..start]);
                let local: String = chars[start..i].iter().map(|c| fold_char(*c)).collect();
                out.push_str(&mask_email(&format!("{local}@{domain}")));
                copied = end;
                i = end;
                continue;
            }
        }
        i += 1;
    }
    out.extend(&chars[copied..]);
    out
}

/// Masks an API answer for a role, in place: the person fields (`phone`, `email`, `name`)
/// of the objects that describe a customer, the asked-for identifier, and phone numbers,
/// emails and the customer's names wherever else they appear in text (activity details, a
/// search query echoed back). Dish names and other business data are left alone.
///
/// `names` are other names the customer goes by (the caller knows them; the answer may not
/// show them, e.g. a timeline page).
pub fn mask_answer(answer: &mut Value, masking: Masking, names: &[String]) {
    if !masking.any() {
        return;
    }
    let mut names = names.to_vec();
    collect_names(answer, &mut names);
    names.sort_by_key(|n: &String| std::cmp::Reverse(n.chars().count()));
    names.dedup();
    mask_value(answer, masking, &names);
}

/// Objects that describe a person: a profile or search hit (has `customer_identifier`) and
/// `member_info`.
fn is_person(obj: &serde_json::Map<String, Value>) -> bool {
    obj.contains_key("customer_identifier")
}

fn collect_names(v: &Value, names: &mut Vec<String>) {
    match v {
        Value::Object(obj) => {
            for (k, child) in obj {
                if k == "member_info" {
                    if let Some(Value::String(n)) = child.get("name") {
                        names.push(n.clone());
                    }
                }
                if is_person(obj) && k == "name" {
                    if let Value::String(n) = child {
                        names.push(n.clone());
                    }
                }
                collect_names(child, names);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| collect_names(c, names)),
        _ => {}
    }
}

fn mask_field(key: &str, value: &mut Value, masking: Masking) -> bool {
    let Value::String(s) = value else {
        return false;
    };
    let masked = match key {
        "phone" if masking.phone => mask_phone(s),
        "email" if masking.email => mask_email(s),
        "name" if masking.name => mask_name(s),
        _ => return false,
    };
    *s = masked;
    true
}

fn mask_value(v: &mut Value, masking: Masking, names: &[String]) {
    match v {
        Value::Object(obj) => {
            let person = is_person(obj);
            let id_kind = obj
                .get("identifier_type")
                .and_then(Value::as_str)
                .map(str::to_string);
            for (k, child) in obj.iter_mut() {
                if k == "member_info" {
                    if let Value::Object(m) = child {
                        for (mk, mv) in m.iter_mut() {
                            if !mask_field(mk, mv, masking) {
                                mask_value(mv, masking, names);
                            }
                        }
                    }
                    continue;
                }
                if person && mask_field(k, child, masking) {
                    continue;
                }
                if k == "customer_identifier" {
                    let field = match id_kind.as_deref() {
                        Some("phone") => "phone",
                        Some("email") => "email",
                        _ => "",
                    };
                    if mask_field(field, child, masking) {
                        continue;
                    }
                }
                mask_value(child, masking, names);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| mask_value(c, masking, names)),
        Value::String(s) => {
            let mut text = redact_text(s, masking.phone, masking.email);
            if masking.name {
                for n in names.iter().filter(|n| !n.is_empty()) {
                    if text.contains(n.as_str()) {
                        text = text.replace(n.as_str(), &mask_name(n));
                    }
                }
            }
            *s = text;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store(s: &str) -> StoreId {
        StoreId::parse(s).expect("store id")
    }

    fn caller(role: Role, own: Option<&str>) -> Caller {
        Caller {
            sub: "u1".into(),
            role,
            store: own.map(store),
        }
    }

    #[test]
    fn the_scope_rules_of_the_api() {
        let sa = caller(Role::SuperAdmin, None);
        assert_eq!(sa.scope(None), Ok(Scope::AllStores));
        assert_eq!(sa.scope(Some(store("S2"))), Ok(Scope::Store(store("S2"))));
        for role in [Role::StoreAdmin, Role::Staff] {
            let c = caller(role, Some("S1"));
            assert_eq!(c.scope(None), Ok(Scope::Store(store("S1"))));
            assert_eq!(c.scope(Some(store("S1"))), Ok(Scope::Store(store("S1"))));
            assert!(matches!(
                c.scope(Some(store("S2"))),
                Err(Denied::OtherStore { .. })
            ));
            assert_eq!(caller(role, None).scope(None), Err(Denied::NoOwnStore));
        }
    }

    #[test]
    fn admin_only_and_super_admin_only() {
        assert!(caller(Role::Staff, Some("S1")).require_admin().is_err());
        assert!(caller(Role::StoreAdmin, Some("S1")).require_admin().is_ok());
        assert!(caller(Role::StoreAdmin, Some("S1"))
            .require_super_admin()
            .is_err());
        assert!(caller(Role::SuperAdmin, None).require_super_admin().is_ok());
    }

    #[test]
    fn masks_as_the_api_says() {
        assert_eq!(mask_phone("13800138000"), "138****8000");
        assert_eq!(mask_email("zhangsan@example.com"), "z***@example.com");
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("李"), "李*");
    }

    #[test]
    fn redacts_phones_and_emails_in_free_text() {
        assert_eq!(
            redact_text(
                "call 13800138000 or +8613900000009, mail zhangsan@example.com; order 1234567890123456",
                true,
                true
            ),
            "call 138****8000 or +86139****0009, mail z***@example.com; order 1234567890123456"
        );
        assert_eq!(
            redact_text("a@b is not an email", true, true),
            "a@b is not an email"
        );
        assert_eq!(redact_text("13800138000", false, true), "13800138000");
    }

    #[test]
    fn masks_a_profile_but_not_dish_names() {
        let mut answer = json!({
            "customer_identifier": "13800138000",
            "identifier_type": "phone",
            "member_info": {"name": "张三", "phone": "13800138000", "email": "zs@example.com", "member_id": "M1"},
            "timeline": [{"description": "张三 留言: 请联系 13800138000", "data": {"items": [{"name": "宫保鸡丁"}]}}],
        });
        mask_answer(&mut answer, Masking::ALL, &[]);
        assert_eq!(answer["customer_identifier"], "138****8000");
        assert_eq!(answer["member_info"]["name"], "张*");
        assert_eq!(answer["member_info"]["phone"], "138****8000");
        assert_eq!(answer["member_info"]["email"], "z***@example.com");
        assert_eq!(answer["member_info"]["member_id"], "M1");
        assert_eq!(
            answer["timeline"][0]["description"],
            "张* 留言: 请联系 138****8000"
        );
        assert_eq!(
            answer["timeline"][0]["data"]["items"][0]["name"],
            "宫保鸡丁"
        );
    }

    #[test]
    fn masks_search_hits_and_the_echoed_query() {
        let mut answer = json!({
            "query": "13800138000",
            "results": [{"customer_identifier": "13800138000", "identifier_type": "phone", "name": "张三", "phone": "13800138000", "member_id": "M1"}],
        });
        let clear = answer.clone();
        mask_answer(&mut answer, Masking::NONE, &[]);
        assert_eq!(answer, clear, "clear roles see everything");
        mask_answer(&mut answer, Masking::ALL, &[]);
        assert_eq!(answer["query"], "138****8000");
        let hit = &answer["results"][0];
        assert_eq!(hit["customer_identifier"], "138****8000");
        assert_eq!(hit["name"], "张*");
        assert_eq!(hit["phone"], "138****8000");
    }

    #[test]
    fn only_the_configured_fields_are_masked() {
        let mut answer = json!({"customer_identifier": "zs@example.com", "identifier_type": "email",
            "member_info": {"name": "张三", "phone": "13800138000", "email": "zs@example.com"}});
        mask_answer(
            &mut answer,
            Masking {
                phone: true,
                email: false,
                name: false,
            },
            &[],
        );
        assert_eq!(answer["customer_identifier"], "zs@example.com");
        assert_eq!(answer["member_info"]["name"], "张三");
        assert_eq!(answer["member_info"]["phone"], "138****8000");
    }

    #[test]
    fn names_the_answer_does_not_show_are_masked_in_text_too() {
        let mut page = json!({"customer_identifier": "M1", "identifier_type": "member_id",
            "timeline": [{"description": "李四来电"}]});
        mask_answer(&mut page, Masking::ALL, &["李四".to_string()]);
        assert_eq!(page["timeline"][0]["description"], "李*来电");
    }

    /// Issue 11, item 3: every phone spelling `Phone::parse` accepts is masked in free text.
    #[test]
    fn phones_written_with_separators_or_full_width_are_masked_in_text() {
        assert_eq!(
            redact_text(
                "来电 199 1111 0004 改约，备用 +86-199-1111-0004，短信１９９１１１１０００４",
                true,
                true
            ),
            "来电 199 **** 0004 改约，备用 +86-199-****-0004，短信１９９****０００４"
        );
        assert_eq!(
            redact_text("(+86)199 1111 0003 / 199\u{a0}1111\u{a0}0003", true, false),
            "(+86)199 **** 0003 / 199\u{a0}****\u{a0}0003"
        );
        // Dates, amounts and long numbers around a phone stay as they are.
        assert_eq!(
            redact_text(
                "2024-01-02 13800138000 付 280.00 单号 6222 0202 1234 5678 901",
                true,
                false
            ),
            "2024-01-02 138****8000 付 280.00 单号 6222 0202 1234 5678 901"
        );
        let mut timeline = json!({"timeline": [{"data": {"detail": "来电 199 1111 0004 改约"}}]});
        mask_answer(&mut timeline, Masking::ALL, &[]);
        assert_eq!(
            timeline["timeline"][0]["data"]["detail"],
            "来电 199 **** 0004 改约"
        );
    }

    #[test]
    fn full_width_emails_are_masked_in_text() {
        assert_eq!(
            redact_text(
                "邮箱 ｚｈａｎｇｓａｎ＠ｅｘａｍｐｌｅ．ｃｏｍ。",
                false,
                true
            ),
            "邮箱 z***@example.com。"
        );
    }

    #[test]
    fn masking_config_defaults_and_parses() {
        let c = MaskingConfig::default();
        assert_eq!(c.for_role(Role::Staff), Masking::ALL);
        assert_eq!(c.for_role(Role::StoreAdmin), Masking::NONE);
        let c: MaskingConfig =
            serde_json::from_str(r#"{"store_admin":{"phone":true}}"#).expect("parses");
        assert!(c.for_role(Role::StoreAdmin).phone);
        assert!(!c.for_role(Role::StoreAdmin).name);
        assert_eq!(c.for_role(Role::Staff), Masking::ALL);
        assert!(serde_json::from_str::<MaskingConfig>(r#"{"cashier":{}}"#).is_err());
    }
}
