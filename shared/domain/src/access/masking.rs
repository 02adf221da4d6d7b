//! Which fields each role sees masked (`C360_MASKING`), and the masking of a whole API answer.

use super::text::{mask_email, mask_name, mask_phone, redact_text};
use super::Role;
use crate::segment::Birthday;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// Masks an API answer for a role, in place: the person fields (`phone`, `email`, `name`)
/// of the objects that describe a customer, a birthday (`member_info.birthday`: month and
/// day only, `--03-01`, for any role that masks a field, `spec/api.md`; it has no switch of
/// its own in `C360_MASKING`), the asked-for identifier, and phone numbers,
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
    let Value::String(s) = &*value else {
        return false;
    };
    let masked = match key {
        "phone" if masking.phone => mask_phone(s).into(),
        "email" if masking.email => mask_email(s).into(),
        "name" if masking.name => mask_name(s).into(),
        // Text that is no birthday shows nothing rather than risk showing a year.
        "birthday" if masking.any() => {
            Birthday::parse(s).map_or(Value::Null, |b| b.to_string().into())
        }
        _ => return false,
    };
    *value = masked;
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
                // Opaque handles: a sealed `customer_ref`, a page's sealed `next_cursor`
                // (ciphertext in base64url). They show nothing, and a name or number pattern
                // replaced inside one would break it (an ASCII name `M` inside `MDAw`).
                if k == "customer_ref" || k == "next_cursor" {
                    continue;
                }
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
