//! API keys: a key is `hzn_` + 43 characters of URL-safe base64 (32 random bytes); only its
//! SHA-256 is stored. Also the randomness and constant-time comparison the keys and webhook
//! secrets rely on.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::{AccountId, KeyId};

/// A stored API key: never the key itself, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// `key_<ULID>`: names the key for revocation and logs, says nothing about its value.
    pub id: KeyId,
    pub account: AccountId,
    pub hash: String,
    pub created_at: OffsetDateTime,
    pub revoked: bool,
}

/// A new random key and its stored form.
pub fn new_key(account: AccountId, now: OffsetDateTime) -> Result<(String, ApiKey)> {
    let key = format!("hzn_{}", random_b64url(32)?);
    let record = key_record(&key, account, now);
    Ok((key, record))
}

/// The stored form of a given key (the local runner registers `HORIZON_DEV_API_KEY` this way).
pub fn key_record(key: &str, account: AccountId, now: OffsetDateTime) -> ApiKey {
    ApiKey {
        id: KeyId::new(now),
        account,
        hash: hash(key),
        created_at: now,
        revoked: false,
    }
}

pub fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// `n` random bytes (from the operating system), URL-safe base64 without padding.
pub fn random_b64url(n: usize) -> Result<String> {
    use base64::Engine;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(n)?))
}

pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    Ok(buf)
}

/// Equality that takes the same time wherever the inputs differ (`subtle`, the RustCrypto
/// crates' own; only a difference in length shows).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// Keys found valid recently, by hash, so that a busy client does not cost a DynamoDB read per
/// request. Only successful lookups are kept, for `HORIZON_KEY_CACHE_SECONDS` (30; 0 turns it
/// off): a revoked key stops working within that time.
pub struct KeyCache {
    ttl: std::time::Duration,
    entries: std::sync::Mutex<std::collections::HashMap<String, (AccountId, std::time::Instant)>>,
}

impl KeyCache {
    pub fn new(ttl: std::time::Duration) -> Self {
        KeyCache {
            ttl,
            entries: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    pub fn get(&self, hash: &str) -> Option<AccountId> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(hash)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(account, _)| account.clone())
    }

    pub fn put(&self, hash: String, account: AccountId) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= 10_000 {
                entries.retain(|_, (_, at)| at.elapsed() < self.ttl);
            }
            entries.insert(hash, (account, std::time::Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_stored_as_hashes() {
        let now = OffsetDateTime::now_utc();
        let (a, rec_a) = new_key(AccountId("acct_a".into()), now).unwrap();
        let (b, _) = new_key(AccountId("acct_a".into()), now).unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("hzn_") && a.len() == 4 + 43, "{a}");
        assert_eq!(rec_a.hash, hash(&a));
        assert!(!rec_a.hash.contains(&a[4..]));
        assert!(rec_a.id.as_str().starts_with("key_"));
    }

    /// Equality, wherever the difference lies (the timing is `subtle`'s: a timed test would
    /// measure this machine's noise, not the comparison).
    #[test]
    fn constant_time_eq_is_equality_wherever_the_inputs_differ() {
        let key = hash("hzn_some_key");
        assert!(constant_time_eq(key.as_bytes(), key.as_bytes()));
        for at in [0, key.len() / 2, key.len() - 1] {
            let mut other = key.clone().into_bytes();
            other[at] ^= 1;
            assert!(!constant_time_eq(key.as_bytes(), &other), "differs at {at}");
        }
        assert!(!constant_time_eq(key.as_bytes(), &key.as_bytes()[1..]));
        assert!(constant_time_eq(b"", b""));
    }
}
