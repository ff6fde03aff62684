//! Per-account request limits ([`RateLimits`]) and per-client failure limits ([`Strikes`]).
//!
//! Per-account request limits: one token bucket for each account, shared by every instance
//! (in the table: [`AccountStore::rate_bucket`]). A burst of up to `burst` requests passes;
//! after that, `per_second` a second, however many instances serve the account. Over it, a
//! request is refused with `429` and the seconds until the next would pass (`Retry-After`).
//!
//! An instance does not write the shared bucket for each request: it takes a few tokens at a
//! time (a tenth of a second's worth) and spends them itself for up to [`LEASE`]; tokens it
//! leaves unspent are lost, never added, so the shared limit is never passed. When the table
//! cannot be reached, each instance limits by its own bucket meanwhile.

use std::collections::HashMap;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

use crate::ports::{AccountStore, StoreError, StoredBucket};
use horizon_domain::error::{Error, Result};
use horizon_domain::AccountId;

/// Buckets and leases kept before the idle ones are dropped.
const KEEP: usize = 10_000;

/// How long an instance may spend tokens it took from the shared bucket.
pub const LEASE: Duration = Duration::seconds(10);

/// Tries of one compare-and-set on the shared bucket before this instance's own is used.
const TRIES: usize = 4;

pub struct RateLimits {
    per_second: f64,
    burst: f64,
    /// Tokens this instance took from each account's shared bucket, and until when it may
    /// spend them.
    leases: Mutex<HashMap<AccountId, (u32, OffsetDateTime)>>,
    /// This instance's own buckets: the limit while the shared one cannot be reached.
    local: Mutex<HashMap<AccountId, (f64, OffsetDateTime)>>,
    /// One refill of an account's lease at a time in this instance: its other requests wait
    /// for it rather than contend for the shared bucket.
    refills: Mutex<HashMap<AccountId, std::sync::Arc<tokio::sync::Mutex<()>>>>,
}

/// A bucket's tokens at `now`: refilled at `per_second` since it was written, up to `burst`.
fn refill(
    tokens: f64,
    at: OffsetDateTime,
    now: OffsetDateTime,
    per_second: f64,
    burst: f64,
) -> f64 {
    let elapsed = (now - at).as_seconds_f64().max(0.0);
    (tokens + elapsed * per_second).min(burst)
}

impl RateLimits {
    /// A rate of 0 turns the limit off.
    pub fn new(per_second: u32, burst: u32) -> Self {
        RateLimits {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            leases: Mutex::new(HashMap::new()),
            local: Mutex::new(HashMap::new()),
            refills: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one of `account`'s requests at `now`, or says how long to wait.
    pub async fn take(
        &self,
        store: &dyn AccountStore,
        account: &AccountId,
        now: OffsetDateTime,
    ) -> Result<()> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        if self.spend_leased(account, now) {
            return Ok(());
        }
        let refill_lock = self.refill_lock(account);
        let _refilling = refill_lock.lock().await;
        // Another request may have refilled the lease meanwhile.
        if self.spend_leased(account, now) {
            return Ok(());
        }
        // A tenth of a second's worth at a time: few writes to the shared bucket, and little
        // left unspent when this instance gets no more of the account's requests.
        let want = (self.per_second / 10.0).ceil().clamp(1.0, self.burst) as u32;
        for _ in 0..TRIES {
            let seen = match store.rate_bucket(account).await {
                Ok(seen) => seen,
                Err(e) => return self.take_locally(account, now, &e),
            };
            let tokens = seen.as_ref().map_or(self.burst, |b| {
                refill(b.tokens, b.at, now, self.per_second, self.burst)
            });
            if tokens < 1.0 {
                return Err(self.too_many(tokens));
            }
            let granted = (tokens.floor() as u32).min(want);
            let next = StoredBucket {
                tokens: tokens - f64::from(granted),
                // Never before the time it was refilled to (this request's `now` was taken
                // before it waited for the lock and the table).
                at: seen.as_ref().map_or(now, |b| b.at.max(now)),
                version: seen.as_ref().map_or(1, |b| b.version + 1),
            };
            match store
                .put_rate_bucket(account, &next, seen.map(|b| b.version))
                .await
            {
                Ok(()) => {
                    self.lease(account, granted - 1, now);
                    return Ok(());
                }
                // Another instance took tokens meanwhile: read again.
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return self.take_locally(account, now, &e),
            }
        }
        // Instances contending for the account's bucket: the account is sending as fast as
        // it may. Come back in a moment (its own buckets would let each instance pass a burst).
        Err(Error::TooManyRequests {
            detail: "this account's requests are arriving faster than its limit; retry in 1 s"
                .into(),
            retry_after: 1,
        })
    }

    fn refill_lock(&self, account: &AccountId) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        let Ok(mut refills) = self.refills.lock() else {
            return Default::default();
        };
        if refills.len() > KEEP {
            // Locks no request holds (only the map refers to them).
            refills.retain(|_, lock| std::sync::Arc::strong_count(lock) > 1);
        }
        refills.entry(account.clone()).or_default().clone()
    }

    /// Spends one leased token of `account`'s, if this instance holds one still valid.
    fn spend_leased(&self, account: &AccountId, now: OffsetDateTime) -> bool {
        let Ok(mut leases) = self.leases.lock() else {
            return false;
        };
        match leases.get_mut(account) {
            Some((tokens, until)) if *tokens > 0 && now < *until => {
                *tokens -= 1;
                true
            }
            _ => false,
        }
    }

    fn lease(&self, account: &AccountId, tokens: u32, now: OffsetDateTime) {
        if let Ok(mut leases) = self.leases.lock() {
            if leases.len() > KEEP {
                leases.retain(|_, (left, until)| *left > 0 && now < *until);
            }
            leases.insert(account.clone(), (tokens, now + LEASE));
        }
    }

    fn too_many(&self, tokens: f64) -> Error {
        let wait = ((1.0 - tokens) / self.per_second).ceil().max(1.0) as u64;
        Error::TooManyRequests {
            detail: format!(
                "this account may send {} requests a second (bursts of {}); retry in {wait} s",
                self.per_second, self.burst
            ),
            retry_after: wait,
        }
    }

    /// This instance's own bucket for `account`, while the shared one cannot be used.
    fn take_locally(
        &self,
        account: &AccountId,
        now: OffsetDateTime,
        why: &StoreError,
    ) -> Result<()> {
        tracing::warn!(error = %why, "the shared rate limit is not reachable: this instance's own applies");
        let Ok(mut buckets) = self.local.lock() else {
            return Ok(()); // a poisoned lock limits nobody rather than everybody
        };
        let refilled = |(tokens, at): (f64, OffsetDateTime)| {
            refill(tokens, at, now, self.per_second, self.burst)
        };
        if buckets.len() > KEEP {
            buckets.retain(|_, b| refilled(*b) < self.burst);
        }
        let tokens = buckets.get(account).map_or(self.burst, |b| refilled(*b));
        if tokens >= 1.0 {
            buckets.insert(account.clone(), (tokens - 1.0, now));
            return Ok(());
        }
        buckets.insert(account.clone(), (tokens, now));
        Err(self.too_many(tokens))
    }
}

/// Failures per client (its network address) per minute, counted by every instance together
/// (in the table: [`AccountStore::strike`]): after `per_minute` failures in a minute, the
/// client's next tries wait for the minute to end. Guessing (keys, the admin key) gets slow for
/// the guesser alone: other clients go on.
///
/// Each failure is added to the shared count, and the count that comes back is kept here: the
/// check before a try reads only this instance's memory (no read per request). An instance
/// learns of failures made at others with the client's next failure at it, so a guesser spread
/// over `n` instances gets at most `per_minute + n` tries a minute. When the table cannot be
/// reached, the instance counts alone meanwhile.
pub struct Strikes {
    scope: &'static str,
    per_minute: u32,
    clients: Mutex<HashMap<String, (i64, u32)>>,
}

/// Clients whose failures an instance keeps; past it, only this minute's are kept.
const CLIENTS_KEPT: usize = 10_000;

impl Strikes {
    /// Failures of one kind (`scope`: `keys`, `sign-in`), `per_minute` for each client.
    pub fn new(scope: &'static str, per_minute: u32) -> Self {
        Strikes {
            scope,
            per_minute,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds `client` waits before trying again at `now` (unix seconds), if its failures
    /// this minute are used up. A limit of 0 holds nobody back.
    pub fn wait(&self, client: &str, now: i64) -> Option<i64> {
        if self.per_minute == 0 {
            return None;
        }
        let failed = match self.clients.lock() {
            Ok(clients) => clients.get(client).copied().unwrap_or((0, 0)),
            Err(_) => (now / 60, u32::MAX),
        };
        (failed.0 == now / 60 && failed.1 >= self.per_minute).then(|| 60 - now % 60)
    }

    /// Counts one failure of `client` at `now` (unix seconds), here and in `store`.
    pub async fn strike(&self, store: &dyn AccountStore, client: &str, now: i64) {
        if self.per_minute == 0 {
            return;
        }
        let shared = match store.strike(self.scope, client, now / 60).await {
            Ok(count) => count,
            Err(e) => {
                tracing::warn!(error = %e, scope = self.scope, "failures not shared; counted by this instance alone");
                0
            }
        };
        if let Ok(mut clients) = self.clients.lock() {
            if clients.len() >= CLIENTS_KEPT {
                clients.retain(|_, (minute, _)| *minute == now / 60);
            }
            let entry = clients.entry(client.to_owned()).or_insert((now / 60, 0));
            let here = if entry.0 == now / 60 {
                entry.1.saturating_add(1)
            } else {
                1
            };
            *entry = (now / 60, here.max(shared));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_client_that_keeps_failing_waits_for_the_minute_and_others_do_not() {
        let store = store();
        let strikes = Strikes::new("keys", 3);
        let t = 1_700_000_010; // 30 s into its minute
        for _ in 0..3 {
            assert_eq!(strikes.wait("a", t), None);
            strikes.strike(&store, "a", t).await;
        }
        assert_eq!(strikes.wait("a", t), Some(30));
        assert_eq!(strikes.wait("b", t), None, "another client");
        assert_eq!(strikes.wait("a", t + 30), None, "the next minute");
    }

    /// A guesser spread over three instances: each instance learns the shared count with the
    /// client's next failure at it, so the client waits everywhere after 3 + 3 tries at most
    /// (6 of 30 tried), not 3 at each (9); with the table down, each instance counts alone.
    #[tokio::test]
    async fn failures_are_counted_across_instances() {
        let store = store();
        let instances: Vec<Strikes> = (0..3).map(|_| Strikes::new("keys", 3)).collect();
        let t = 1_700_000_010;
        let mut tried = 0;
        for i in 0..30 {
            let at = &instances[i % 3];
            if at.wait("a", t).is_none() {
                tried += 1;
                at.strike(&store, "a", t).await;
            }
        }
        assert!(tried <= 6, "{tried} tries passed");
        assert!(instances.iter().all(|s| s.wait("a", t).is_some()));
        // Another scope's count is its own.
        let sign_ins = Strikes::new("sign-in", 3);
        sign_ins.strike(&store, "a", t).await;
        assert_eq!(sign_ins.wait("a", t), None);

        store.set_rate_buckets_down(true);
        let alone = Strikes::new("keys", 3);
        for _ in 0..3 {
            alone.strike(&store, "b", t).await;
        }
        assert_eq!(alone.wait("b", t), Some(30));
    }

    fn store() -> crate::memory::MemoryStore {
        crate::memory::MemoryStore::new(std::sync::Arc::new(crate::ports::SystemClock))
    }

    fn wait_of(result: Result<()>) -> Option<u64> {
        match result {
            Err(Error::TooManyRequests { retry_after, .. }) => Some(retry_after),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_burst_passes_then_the_rate_and_each_account_has_its_own() {
        let store = store();
        let limits = RateLimits::new(2, 3);
        let (a, b) = (AccountId("acct_a".into()), AccountId("acct_b".into()));
        let t0 = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        for _ in 0..3 {
            limits.take(&store, &a, t0).await.unwrap();
        }
        assert_eq!(wait_of(limits.take(&store, &a, t0).await), Some(1));
        limits
            .take(&store, &b, t0)
            .await
            .expect("another account is not limited");
        // Half a second later one more request has been earned: two a second.
        let half = t0 + Duration::milliseconds(500);
        limits.take(&store, &a, half).await.unwrap();
        assert!(limits.take(&store, &a, half).await.is_err());
        // A long pause refills the burst, no more.
        let later = t0 + Duration::minutes(5);
        for _ in 0..3 {
            limits.take(&store, &a, later).await.unwrap();
        }
        assert!(limits.take(&store, &a, later).await.is_err());
    }

    #[tokio::test]
    async fn instances_share_one_limit() {
        // Three instances serving one account, each asked 100 times a second: together they
        // pass the burst and the rate once, not three times. At 50 a second an instance takes
        // 5 tokens at a time.
        let store = store();
        let instances: Vec<RateLimits> = (0..3).map(|_| RateLimits::new(50, 60)).collect();
        let a = AccountId("acct_a".into());
        let t0 = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let mut passed = 0;
        for tick in 0..50 {
            let now = t0 + Duration::milliseconds(tick * 100);
            for instance in &instances {
                for _ in 0..10 {
                    if instance.take(&store, &a, now).await.is_ok() {
                        passed += 1;
                    }
                }
            }
        }
        // At most the burst and 50 a second for the 4.9 s after the first request (305); tokens
        // an instance took and could not spend are lost, a few.
        assert!((280..=305).contains(&passed), "{passed} passed");
    }

    #[tokio::test]
    async fn without_the_shared_bucket_each_instance_limits_by_its_own() {
        let store = store();
        store.set_rate_buckets_down(true);
        let limits = RateLimits::new(2, 3);
        let a = AccountId("acct_a".into());
        let t0 = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        for _ in 0..3 {
            limits.take(&store, &a, t0).await.unwrap();
        }
        assert_eq!(wait_of(limits.take(&store, &a, t0).await), Some(1));
    }

    #[tokio::test]
    async fn a_rate_of_zero_limits_nobody() {
        let store = store();
        let limits = RateLimits::new(0, 1);
        let a = AccountId("acct_a".into());
        let t0 = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        for _ in 0..1000 {
            limits.take(&store, &a, t0).await.unwrap();
        }
    }
}
