//! Accounts and API keys. A key is `hzn_` + 43 characters of URL-safe base64 (32 random bytes);
//! only its SHA-256 is stored. Requests carry it as `Authorization: Bearer <key>`; it is found by
//! its hash (so lookup time says nothing about the key) and the stored hash is compared in
//! constant time.

use horizon_app::services::Services;
use horizon_domain::error::{Error, Result};
use horizon_domain::AccountId;

pub use horizon_domain::keys::{
    constant_time_eq, hash, key_record, new_key, random_b64url, random_bytes, ApiKey, KeyCache,
};

/// The account behind the request's `Authorization: Bearer <key>`; `401` otherwise.
pub async fn authenticate(services: &Services, authorization: Option<&str>) -> Result<AccountId> {
    let unauthorized = |why: &str| Error::Unauthorized(why.to_owned());
    let value = authorization
        .ok_or_else(|| unauthorized("an API key is required: send Authorization: Bearer <key>"))?;
    let key = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200)
        .ok_or_else(|| unauthorized("the Authorization header must be: Bearer <key>"))?;
    let digest = hash(key);
    if let Some(account) = services.key_cache.get(&digest) {
        crate::telemetry::record_account(&account);
        return Ok(account);
    }
    let record = services
        .accounts
        .key_by_hash(&digest)
        .await?
        .filter(|r| constant_time_eq(r.hash.as_bytes(), digest.as_bytes()))
        .ok_or_else(|| unauthorized("the API key is not valid"))?;
    if record.revoked {
        return Err(unauthorized("the API key has been revoked"));
    }
    services.key_cache.put(digest, record.account.clone());
    crate::telemetry::record_account(&record.account);
    Ok(record.account)
}
