//! Where an answer is kept in Redis: the key of its hash and the field naming everything the
//! answer depends on (`docs/adr/0006-cache.md`).

use super::PREFIX;
use c360_domain::access::Masking;
use c360_domain::projection::Scope;
use c360_domain::Identifier;
use sha2::{Digest, Sha256};

/// What the cache did for a request, for the request log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheUse {
    /// No cache configured, or an endpoint that is not cached.
    Off,
    Hit,
    Miss,
    /// Redis failed or the breaker is open: answered from DynamoDB alone.
    Bypass,
}

impl CacheUse {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheUse::Off => "off",
            CacheUse::Hit => "hit",
            CacheUse::Miss => "miss",
            CacheUse::Bypass => "bypass",
        }
    }
}

/// Where an answer is kept: the hash (one per identifier, or per scope for search) and the
/// field naming everything the answer depends on besides the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub(super) hash: String,
    pub(super) field: String,
}

impl Slot {
    /// A profile, value or timeline answer about `id`. `params` are the endpoint's other
    /// parameters (limit, cursor), in a fixed order.
    pub fn customer(
        endpoint: &str,
        id: &Identifier,
        scope: &Scope,
        role: &str,
        masking: Masking,
        params: &[&str],
    ) -> Slot {
        Slot {
            hash: id_hash(id),
            field: field(endpoint, scope, role, masking, params),
        }
    }

    /// A search answer in `scope`.
    pub fn search(scope: &Scope, role: &str, masking: Masking, params: &[&str]) -> Slot {
        Slot {
            hash: scope_hash(scope),
            field: field("search", scope, role, masking, params),
        }
    }
}

/// Identifiers are hashed in keys: a key listing shows no phone number or email.
pub(super) fn id_hash(id: &Identifier) -> String {
    let digest = Sha256::digest(id.key().as_bytes());
    format!("{PREFIX}:id:{}", hex::encode(&digest[..16]))
}

pub(super) fn scope_hash(scope: &Scope) -> String {
    format!("{PREFIX}:scope:{}", scope.key())
}

fn field(endpoint: &str, scope: &Scope, role: &str, m: Masking, params: &[&str]) -> String {
    let mask = format!(
        "{}{}{}",
        u8::from(m.phone),
        u8::from(m.email),
        u8::from(m.name)
    );
    let mut f = format!("{endpoint}|{}|{role}|{mask}", scope.key());
    for p in params {
        f.push('|');
        f.push_str(p);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use c360_domain::ids::Phone;
    use c360_domain::StoreId;

    fn phone(p: &str) -> Identifier {
        Identifier::Phone(Phone::parse(p).expect("a phone"))
    }

    #[test]
    fn keys_hide_identifiers_and_fields_name_everything_an_answer_depends_on() {
        let store = Scope::Store(StoreId::parse("store_sh_001").expect("a store"));
        let slot = Slot::customer(
            "profile",
            &phone("13800138000"),
            &store,
            "staff",
            Masking::ALL,
            &[],
        );
        assert!(!slot.hash.contains("13800138000"), "{}", slot.hash);
        assert_eq!(
            slot.hash,
            Slot::customer(
                "value",
                &phone("+86 138 0013 8000"),
                &Scope::AllStores,
                "super_admin",
                Masking::NONE,
                &[]
            )
            .hash
        );
        // Each differs from `slot` in one thing the answer depends on.
        let others: [(&str, &Scope, &str, Masking, &[&str]); 5] = [
            ("value", &store, "staff", Masking::ALL, &[]),
            ("profile", &Scope::AllStores, "staff", Masking::ALL, &[]),
            ("profile", &store, "store_admin", Masking::ALL, &[]),
            ("profile", &store, "staff", Masking::NONE, &[]),
            ("profile", &store, "staff", Masking::ALL, &["50"]),
        ];
        for (endpoint, scope, role, masking, params) in others {
            let other = Slot::customer(
                endpoint,
                &phone("13800138000"),
                scope,
                role,
                masking,
                params,
            );
            assert_ne!(slot.field, other.field, "{endpoint} {role}");
        }
    }
}
