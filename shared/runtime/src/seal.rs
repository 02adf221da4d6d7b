//! The seal of identifiers and page keys shown to callers who see identifiers masked
//! (`customer_ref`, ADR 0011; page cursors, `c360_api::seal`), and the per-purpose keys it is
//! keyed with, derived from `C360_AUDIT_HASH_KEY`. Here rather than in the API wing because the
//! ingest, rebuild and rescoring functions name customers too: the `segment_membership` log
//! line carries the customer's `customer_ref`, which a campaign tool opens through the API.
//!
//! The cipher is AES-256-GCM-SIV (RFC 8452, the `aes-gcm-siv` crate) with a fixed nonce:
//! deterministic authenticated encryption (RFC 8452 section 9 allows nonce reuse, at the cost
//! of showing when two plaintexts are equal). So a customer's ref is the same in every answer
//! and every log line.

use aes_gcm_siv::aead::{Aead, KeyInit};
use aes_gcm_siv::{Aes256GcmSiv, Nonce};
use base64::Engine;
use c360_domain::Identifier;
use hmac::{Hmac, Mac};

/// The one nonce (deterministic encryption, see the module's doc). It is part of the format:
/// a text sealed under another nonce does not open.
const NONCE: [u8; 12] = *b"c360-seal-v1";

/// A key for one purpose ([`derive_key`]: `customer-ref`, `timeline-cursor`, ...).
pub struct Seal(Aes256GcmSiv);

impl Seal {
    pub fn new(key: [u8; 32]) -> Self {
        Seal(Aes256GcmSiv::new(&key.into()))
    }

    /// `id`, sealed: base64url (no padding) of the ciphertext and its 16-byte tag, 30 to 110
    /// characters; the same every time for the same identifier and key. `None` only if
    /// encryption failed (it does not, for inputs this small).
    pub fn seal(&self, id: &Identifier) -> Option<String> {
        self.seal_text(&id.key())
    }

    /// The identifier a sealed text of this key stands for; `None` for anything else.
    pub fn open(&self, sealed: &str) -> Option<Identifier> {
        Identifier::from_key(&self.open_text(sealed)?).ok()
    }

    /// `text`, sealed (base64url, no padding): what [`Seal::seal`] does for an identifier's
    /// key, for any short text (a page cursor's owner digest and key).
    pub fn seal_text(&self, text: &str) -> Option<String> {
        let sealed = self
            .0
            .encrypt(Nonce::from_slice(&NONCE), text.as_bytes())
            .ok()?;
        Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed))
    }

    /// The text a [`Seal::seal_text`] of this key stands for; `None` for anything else.
    pub fn open_text(&self, sealed: &str) -> Option<String> {
        // A client's base64 library may pad what it copies back; padding adds nothing here.
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sealed.trim().trim_end_matches('='))
            .ok()?;
        let plain = self
            .0
            .decrypt(Nonce::from_slice(&NONCE), bytes.as_slice())
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

/// The purpose `customer_ref`s are sealed with ([`derive_key`]).
pub const CUSTOMER_REF: &str = "customer-ref";

/// A 256-bit key for `purpose`, derived from the deployment's secret (`C360_AUDIT_HASH_KEY`)
/// as HMAC-SHA-256 of the purpose's label: one key per purpose, so a text sealed for one
/// purpose opens for no other.
pub fn derive_key(secret: &[u8], purpose: &str) -> [u8; 32] {
    // HMAC accepts keys of any length; the error branch cannot happen.
    let Ok(mut mac) = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret) else {
        return [0; 32];
    };
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The `customer_ref` seal of a deployment whose secret is `secret` (`C360_AUDIT_HASH_KEY`):
/// the refs it makes open in that deployment's API (`identifier_type=customer_ref`).
pub fn customer_refs(secret: &[u8]) -> Seal {
    Seal::new(derive_key(secret, CUSTOMER_REF))
}

/// [`customer_refs`] of `C360_AUDIT_HASH_KEY` when it is set (at least 16 characters, as the
/// API requires); `None` otherwise, and the functions' log lines then name customers by their
/// masked identifier alone.
pub fn customer_refs_from_env() -> Option<Seal> {
    let secret = std::env::var("C360_AUDIT_HASH_KEY").ok()?;
    if secret.trim().chars().count() < 16 {
        tracing::warn!(
            "C360_AUDIT_HASH_KEY is shorter than 16 characters: log lines carry no customer_ref"
        );
        return None;
    }
    Some(customer_refs(secret.as_bytes()))
}
