//! Member-list cursors, sealed. A list is ordered by the members' canonical identifiers and a
//! cursor names the last one shown, which may be a phone number or an email that the caller
//! sees masked: so the cursor is encrypted and authenticated (AES-256-GCM, the `aes-gcm`
//! crate, a random 96-bit nonce per cursor, the key derived from `C360_AUDIT_HASH_KEY`), and
//! one that was not made here, or was altered, opens to nothing (a 400).

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use c360_domain::Identifier;

const NONCE_BYTES: usize = 12;

pub(super) struct CursorSeal(Aes256Gcm);

impl CursorSeal {
    pub(super) fn new(key: [u8; 32]) -> Self {
        CursorSeal(Aes256Gcm::new(&key.into()))
    }

    /// The cursor after `id`: base64url of nonce and ciphertext; `None` only if encryption
    /// failed (it does not, for inputs this small).
    pub(super) fn seal(&self, id: &Identifier) -> Option<String> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self.0.encrypt(&nonce, id.key().as_bytes()).ok()?;
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The identifier a cursor of ours stands for; `None` for anything else.
    pub(super) fn open(&self, cursor: &str) -> Option<Identifier> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cursor.trim())
            .ok()?;
        if bytes.len() <= NONCE_BYTES {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let plain = self.0.decrypt(Nonce::from_slice(nonce), sealed).ok()?;
        Identifier::from_key(std::str::from_utf8(&plain).ok()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use c360_domain::ids::Phone;

    #[test]
    fn a_cursor_hides_the_identifier_and_opens_only_with_its_key_unaltered() {
        let seal = CursorSeal::new([7; 32]);
        let id = Identifier::Phone(Phone::parse("13800138000").unwrap());
        let cursor = seal.seal(&id).unwrap();
        assert_eq!(seal.open(&cursor), Some(id.clone()));
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&cursor)
            .unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("13800138000"));
        assert!(!cursor.contains("13800138000"));
        // Another key, an altered byte, garbage: nothing.
        assert_eq!(CursorSeal::new([8; 32]).open(&cursor), None);
        let mut bad = raw.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let bad = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bad);
        assert_eq!(seal.open(&bad), None);
        assert_eq!(seal.open("!!"), None);
        assert_eq!(seal.open(""), None);
    }
}
