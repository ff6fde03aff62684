//! Per-account request limits ([`RateLimits`]) and per-client failure limits ([`Strikes`]).
//!
//! Per-account request limits: a token bucket for each account, in each instance. A burst of up
//! to `burst` requests passes; after that, `per_second` a second. Over it, a request is refused
//! with `429` and the seconds until the next would pass (`Retry-After`). In Lambda every
//! instance keeps its own buckets, so an account's ceiling grows with the instances serving it;
//! the reserved concurrency of the API functions bounds that.

use std::collections::HashMap;
use std::sync::Mutex;

use time::OffsetDateTime;

use horizon_domain::error::{Error, Result};
use horizon_domain::AccountId;

/// Buckets kept before the full ones (idle accounts) are dropped.
const KEEP: usize = 10_000;

pub struct RateLimits {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<AccountId, (f64, OffsetDateTime)>>,
}

impl RateLimits {
    /// A rate of 0 turns the limit off.
    pub fn new(per_second: u32, burst: u32) -> Self {
        RateLimits {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one of `account`'s requests at `now`, or says how long to wait.
    pub fn take(&self, account: &AccountId, now: OffsetDateTime) -> Result<()> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(()); // a poisoned lock limits nobody rather than everybody
        };
        let refill = |(tokens, at): (f64, OffsetDateTime)| {
            let elapsed = (now - at).as_seconds_f64().max(0.0);
            (tokens + elapsed * self.per_second).min(self.burst)
        };
        if buckets.len() > KEEP {
            buckets.retain(|_, b| refill(*b) < self.burst);
        }
        let tokens = buckets.get(account).map_or(self.burst, |b| refill(*b));
        if tokens >= 1.0 {
            buckets.insert(account.clone(), (tokens - 1.0, now));
            return Ok(());
        }
        buckets.insert(account.clone(), (tokens, now));
        let wait = ((1.0 - tokens) / self.per_second).ceil().max(1.0) as u64;
        Err(Error::TooManyRequests {
            detail: format!(
                "this account may send {} requests a second (bursts of {}); retry in {wait} s",
                self.per_second, self.burst
            ),
            retry_after: wait,
        })
    }
}

/// Failures per client (its network address) per minute, in this instance: after `per_minute`
/// failures in a minute, the client's next tries wait for the minute to end. Guessing (keys,
/// the admin key) gets slow for the guesser alone: other clients go on.
pub struct Strikes {
    per_minute: u32,
    clients: Mutex<HashMap<String, (i64, u32)>>,
}

/// Clients whose failures an instance keeps; past it, only this minute's are kept.
const CLIENTS_KEPT: usize = 10_000;

impl Strikes {
    pub fn new(per_minute: u32) -> Self {
        Strikes {
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

    /// Counts one failure of `client` at `now` (unix seconds).
    pub fn strike(&self, client: &str, now: i64) {
        if let Ok(mut clients) = self.clients.lock() {
            if clients.len() >= CLIENTS_KEPT {
                clients.retain(|_, (minute, _)| *minute == now / 60);
            }
            let entry = clients.entry(client.to_owned()).or_insert((now / 60, 0));
            *entry = if entry.0 == now / 60 {
                (entry.0, entry.1.saturating_add(1))
            } else {
                (now / 60, 1)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_that_keeps_failing_waits_for_the_minute_and_others_do_not() {
        let strikes = Strikes::new(3);
        let t = 1_700_000_010; // 30 s into its minute
        for _ in 0..3 {
            assert_eq!(strikes.wait("a", t), None);
            strikes.strike("a", t);
        }
        assert_eq!(strikes.wait("a", t), Some(30));
        assert_eq!(strikes.wait("b", t), None, "another client");
        assert_eq!(strikes.wait("a", t + 30), None, "the next minute");
    }

    #[test]
    fn a_burst_passes_then_the_rate_and_each_account_has_its_own() {
        let limits = RateLimits::new(2, 3);
        let (a, b) = (AccountId("acct_a".into()), AccountId("acct_b".into()));
        let t0 = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        for _ in 0..3 {
            limits.take(&a, t0).unwrap();
        }
        match limits.take(&a, t0) {
            Err(Error::TooManyRequests { retry_after, .. }) => assert_eq!(retry_after, 1),
            other => panic!("{other:?}"),
        }
        limits.take(&b, t0).expect("another account is not limited");
        // Half a second later one more request has been earned: two a second.
        limits
            .take(&a, t0 + time::Duration::milliseconds(500))
            .unwrap();
        assert!(limits
            .take(&a, t0 + time::Duration::milliseconds(500))
            .is_err());
        // A long pause refills the burst, no more.
        let later = t0 + time::Duration::minutes(5);
        for _ in 0..3 {
            limits.take(&a, later).unwrap();
        }
        assert!(limits.take(&a, later).is_err());
    }

    #[test]
    fn a_rate_of_zero_limits_nobody() {
        let limits = RateLimits::new(0, 1);
        let a = AccountId("acct_a".into());
        let t0 = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        for _ in 0..1000 {
            limits.take(&a, t0).unwrap();
        }
    }
}
