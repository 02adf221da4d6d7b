//! Who may see what, and how much of it: roles, the scope rules of `spec/api.md`, and
//! masking of phone numbers, emails and names (in answers and in free text such as logs).
//!
//! Files: `text.rs` (masking one value, and phones and emails in free text), `masking.rs`
//! (what each role sees masked, and masking a whole answer), this file the roles and the
//! scope rules.

mod masking;
#[cfg(test)]
mod tests;
mod text;

pub use masking::{mask_answer, Masking, MaskingConfig};
pub use text::{mask_email, mask_name, mask_phone, redact_text};

use crate::ids::StoreId;
use crate::projection::Scope;
use serde::{Deserialize, Serialize};

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
