//! Tokens encrypted at rest: XChaCha20-Poly1305 with a random 192-bit nonce per write.
//!
//! Stored form: `[format = 1][key id][nonce: 24 bytes][ciphertext + tag]`. The key id is the
//! first byte of SHA-256 of the key, so an operator names keys only by their value; old keys
//! listed in [`StoreOptions::previous_token_keys`](crate::StoreOptions) still decrypt. The
//! associated data binds a ciphertext to its user: a row copied to another user does not decrypt.

use std::fmt;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use troupe_domain::UserId;
use troupe_domain::auth::AccessToken;
use troupe_ports::StoreError;

const FORMAT: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 2 + NONCE_LEN;

/// Why a configured token key is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenKeyError {
    #[error("the token key is not valid base64 (expected 32 random bytes, base64-encoded)")]
    NotBase64,
    #[error("the token key must be 32 bytes, found {found} bytes after base64 decoding")]
    WrongLength { found: usize },
    #[error("the operating system gave no random bytes: {0}")]
    Random(String),
}

/// A 32-byte key for the token cipher, configured as base64 (`TROUPE_TOKEN_KEY`). Its `Debug`
/// shows only the key id.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenKey {
    id: u8,
    key: [u8; 32],
}

impl TokenKey {
    /// Parses 32 bytes written in base64 (standard or URL-safe alphabet, padding optional;
    /// surrounding whitespace ignored).
    pub fn parse(raw: &str) -> Result<Self, TokenKeyError> {
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        let raw = raw.trim();
        let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(raw).ok())
            .ok_or(TokenKeyError::NotBase64)?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| TokenKeyError::WrongLength { found: bytes.len() })?;
        Ok(Self::from_bytes(key))
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(key: [u8; 32]) -> Self {
        let id = Sha256::digest(key)[0];
        Self { id, key }
    }

    /// A new random key (for `troupe keygen` and tests).
    pub fn generate() -> Result<Self, TokenKeyError> {
        let mut key = [0u8; 32];
        getrandom::getrandom(&mut key).map_err(|e| TokenKeyError::Random(e.to_string()))?;
        Ok(Self::from_bytes(key))
    }

    /// The key in standard base64, as [`Self::parse`] reads it.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.key)
    }

    /// The one-byte key id stored with every ciphertext.
    pub fn id(&self) -> u8 {
        self.id
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.key).into())
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenKey(id={:02x})", self.id)
    }
}

/// The configured keys: the current one encrypts, every one decrypts.
#[derive(Debug, Clone, Default)]
pub(crate) struct TokenCipher {
    current: Option<TokenKey>,
    previous: Vec<TokenKey>,
}

fn aad(user: UserId) -> [u8; 23] {
    let mut out = [0u8; 23];
    out[..15].copy_from_slice(b"troupe-token-v1");
    out[15..].copy_from_slice(&user.get().to_be_bytes());
    out
}

impl TokenCipher {
    pub(crate) fn new(current: Option<TokenKey>, previous: Vec<TokenKey>) -> Self {
        Self { current, previous }
    }

    pub(crate) fn current_key_id(&self) -> Option<u8> {
        self.current.as_ref().map(TokenKey::id)
    }

    /// Encrypts `token` for `user` with the current key.
    pub(crate) fn encrypt(&self, user: UserId, token: &AccessToken) -> Result<Vec<u8>, StoreError> {
        let key = self.current.as_ref().ok_or_else(|| {
            StoreError::Unexpected(
                "no token key configured: set TROUPE_TOKEN_KEY (32 random bytes, base64) to store tokens"
                    .into(),
            )
        })?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::getrandom(&mut nonce)
            .map_err(|e| StoreError::Unexpected(format!("no random nonce available: {e}")))?;
        let sealed = key
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: token.expose().as_bytes(),
                    aad: &aad(user),
                },
            )
            .map_err(|_| StoreError::Unexpected("token encryption failed".into()))?;
        let mut out = Vec::with_capacity(HEADER_LEN + sealed.len());
        out.push(FORMAT);
        out.push(key.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The key id a stored ciphertext names, when it is in a known format.
    pub(crate) fn key_id_of(blob: &[u8]) -> Option<u8> {
        (blob.len() >= HEADER_LEN + TAG_LEN && blob[0] == FORMAT).then(|| blob[1])
    }

    /// Decrypts a stored token of `user`. Errors name the problem, never the token.
    pub(crate) fn decrypt(&self, user: UserId, blob: &[u8]) -> Result<AccessToken, StoreError> {
        let Some(id) = Self::key_id_of(blob) else {
            return Err(StoreError::Unexpected(format!(
                "the stored token of user {user} is not in a known encrypted format"
            )));
        };
        let mut candidates = self
            .current
            .iter()
            .chain(self.previous.iter())
            .filter(|k| k.id == id)
            .peekable();
        if candidates.peek().is_none() {
            let configured = if self.current.is_none() {
                "no token key is configured (TROUPE_TOKEN_KEY)".to_owned()
            } else {
                "it is neither the current TROUPE_TOKEN_KEY nor a configured previous key"
                    .to_owned()
            };
            return Err(StoreError::Unexpected(format!(
                "the stored token of user {user} was encrypted with key id {id:02x}; {configured}"
            )));
        }
        let nonce = XNonce::from_slice(&blob[2..HEADER_LEN]);
        let payload = &blob[HEADER_LEN..];
        let plain = candidates
            .find_map(|k| {
                k.cipher()
                    .decrypt(
                        nonce,
                        Payload {
                            msg: payload,
                            aad: &aad(user),
                        },
                    )
                    .ok()
            })
            .ok_or_else(|| {
                StoreError::Unexpected(format!(
                    "the stored token of user {user} cannot be decrypted: wrong key (id {id:02x}) or tampered data"
                ))
            })?;
        let text = String::from_utf8(plain).map_err(|_| {
            StoreError::Unexpected(format!(
                "the decrypted token of user {user} is not valid text"
            ))
        })?;
        AccessToken::parse(&text).map_err(|e| {
            StoreError::Unexpected(format!(
                "the decrypted token of user {user} is invalid: {e}"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u64) -> UserId {
        UserId::new(n).unwrap()
    }

    #[test]
    fn keys_parse_from_32_bytes_of_base64_and_refuse_anything_else() {
        let key = TokenKey::generate().unwrap();
        assert_eq!(TokenKey::parse(&key.to_base64()).unwrap(), key);
        assert_eq!(
            TokenKey::parse(&format!("  {}\n", key.to_base64())).unwrap(),
            key
        );
        assert_eq!(
            TokenKey::parse("not base64 !!"),
            Err(TokenKeyError::NotBase64)
        );
        assert_eq!(
            TokenKey::parse(""),
            Err(TokenKeyError::WrongLength { found: 0 })
        );
        assert_eq!(
            TokenKey::parse("AAAA"),
            Err(TokenKeyError::WrongLength { found: 3 })
        );
        assert!(!format!("{key:?}").contains(&key.to_base64()));
    }

    #[test]
    fn a_token_round_trips_and_each_write_uses_a_fresh_nonce() {
        let cipher = TokenCipher::new(Some(TokenKey::generate().unwrap()), vec![]);
        let token = AccessToken::parse("secret-token-123").unwrap();
        let a = cipher.encrypt(user(1), &token).unwrap();
        let b = cipher.encrypt(user(1), &token).unwrap();
        assert_ne!(a, b);
        assert!(!a.windows(6).any(|w| w == b"secret"));
        assert_eq!(cipher.decrypt(user(1), &a).unwrap(), token);
    }

    #[test]
    fn a_ciphertext_does_not_decrypt_for_another_user_or_with_another_key() {
        let cipher = TokenCipher::new(Some(TokenKey::generate().unwrap()), vec![]);
        let token = AccessToken::parse("secret-token-123").unwrap();
        let blob = cipher.encrypt(user(1), &token).unwrap();
        let err = cipher.decrypt(user(2), &blob).unwrap_err().to_string();
        assert!(err.contains("cannot be decrypted"), "{err}");
        let other = TokenCipher::new(Some(TokenKey::generate().unwrap()), vec![]);
        let err = other.decrypt(user(1), &blob).unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");
        assert!(cipher.decrypt(user(1), b"garbage").is_err());
        assert!(cipher.decrypt(user(1), &[]).is_err());
    }

    #[test]
    fn previous_keys_still_decrypt_after_a_rotation() {
        let old = TokenKey::generate().unwrap();
        let token = AccessToken::parse("tok").unwrap();
        let blob = TokenCipher::new(Some(old.clone()), vec![])
            .encrypt(user(1), &token)
            .unwrap();
        let rotated = TokenCipher::new(Some(TokenKey::generate().unwrap()), vec![old]);
        assert_eq!(rotated.decrypt(user(1), &blob).unwrap(), token);
    }

    #[test]
    fn encrypting_without_a_key_is_a_clear_error() {
        let err = TokenCipher::default()
            .encrypt(user(1), &AccessToken::parse("tok").unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("no token key configured"), "{err}");
    }
}
