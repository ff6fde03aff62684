//! Trying again: one backoff for every loop that waits and tries once more (a store that
//! throttles, a batch that leaves items unprocessed, a write that lost a race, a message queued
//! again), and one runner for batches that never drops what is left over.

use std::future::Future;
use std::time::Duration;

use crate::ports::{StoreError, StoreResult};

/// Waits that double from `first` up to `cap`, for at most `tries` tries in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub cap: Duration,
    pub tries: u32,
}

impl Backoff {
    /// A store that throttles or leaves a batch half done: about 6 s of waits in all.
    pub const STORE: Backoff = Backoff {
        first: Duration::from_millis(25),
        cap: Duration::from_secs(2),
        tries: 8,
    };

    /// A version-checked write that lost a race: read again after a moment, waiting a little
    /// longer each time, so that writers who collided do not collide again.
    pub const RACE: Backoff = Backoff {
        first: Duration::from_millis(1),
        cap: Duration::from_millis(100),
        tries: 6,
    };

    /// A message that failed on our own trouble (an outage of storage or a queue): it comes
    /// back after 5 s, then 10, 20, … at most every 15 minutes.
    pub const OUTAGE: Backoff = Backoff {
        first: Duration::from_secs(5),
        cap: Duration::from_secs(900),
        tries: u32::MAX,
    };

    /// The wait before try `attempt + 1` (the first retry is `attempt` 0): `first`, doubling, at
    /// most `cap`.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.first
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.cap)
    }

    /// Sleeps before try `attempt + 1`: [`Backoff::delay`] with full jitter in its upper half,
    /// so that callers who failed together do not try again together.
    pub async fn wait(&self, attempt: u32) {
        let half = self.delay(attempt) / 2;
        tokio::time::sleep(half + half.mul_f64(fastrand::f64())).await;
    }

    /// Calls `op` until it succeeds, trying again while it fails with
    /// [`StoreError::Unavailable`]; the last failure is returned.
    pub async fn retry<T, F, Fut>(&self, what: &str, mut op: F) -> StoreResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = StoreResult<T>>,
    {
        let mut attempt = 0;
        loop {
            match op().await {
                Err(StoreError::Unavailable(why)) if attempt + 1 < self.tries => {
                    tracing::debug!(%why, what, attempt, "unavailable; trying again");
                    self.wait(attempt).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Runs a batch to the end: `step` takes the items left and gives what it got for the ones
    /// it handled and the ones it left (a store's unprocessed items), which it is given again
    /// after a wait. Items still left after the last try are an
    /// [`StoreError::Unavailable`] that says how many: never dropped in silence.
    pub async fn drain<T, R, F, Fut>(
        &self,
        what: &str,
        items: Vec<T>,
        mut step: F,
    ) -> StoreResult<Vec<R>>
    where
        F: FnMut(Vec<T>) -> Fut,
        Fut: Future<Output = StoreResult<(Vec<R>, Vec<T>)>>,
    {
        let mut got = Vec::new();
        let mut left = items;
        for attempt in 0..self.tries {
            if left.is_empty() {
                return Ok(got);
            }
            if attempt > 0 {
                self.wait(attempt - 1).await;
            }
            let (done, rest) = step(left).await?;
            got.extend(done);
            left = rest;
        }
        if left.is_empty() {
            Ok(got)
        } else {
            Err(StoreError::Unavailable(format!(
                "{what}: {} items still unprocessed after {} tries",
                left.len(),
                self.tries
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Backoff = Backoff {
        first: Duration::from_millis(1),
        cap: Duration::from_millis(4),
        tries: 4,
    };

    #[test]
    fn delays_double_up_to_the_cap() {
        let delays: Vec<_> = (0..5).map(|a| FAST.delay(a).as_millis()).collect();
        assert_eq!(delays, [1, 2, 4, 4, 4]);
        assert_eq!(Backoff::STORE.delay(40), Backoff::STORE.cap);
    }

    #[tokio::test]
    async fn a_batch_is_tried_again_until_nothing_is_left() {
        let mut calls = 0;
        let got = FAST
            .drain("write", vec![1, 2, 3], |left: Vec<i32>| {
                calls += 1;
                // Each call handles the first item and leaves the rest.
                async move { Ok((left[..1].to_vec(), left[1..].to_vec())) }
            })
            .await
            .unwrap();
        assert_eq!(got, [1, 2, 3]);
        assert_eq!(calls, 3);
    }

    #[tokio::test]
    async fn items_left_after_the_last_try_are_an_error_not_a_loss() {
        let err = FAST
            .drain("get", vec![1, 2], |left: Vec<i32>| async move {
                Ok((Vec::<i32>::new(), left))
            })
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Unavailable(m) if m.contains("2 items")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn only_unavailability_is_tried_again() {
        let mut calls = 0;
        let out: StoreResult<()> = FAST
            .retry("put", || {
                calls += 1;
                async { Err(StoreError::Unavailable("throttled".into())) }
            })
            .await;
        assert!(out.is_err());
        assert_eq!(calls, FAST.tries);
        let mut calls = 0;
        let out: StoreResult<()> = FAST
            .retry("put", || {
                calls += 1;
                async { Err(StoreError::Conflict("exists".into())) }
            })
            .await;
        assert!(matches!(out, Err(StoreError::Conflict(_))));
        assert_eq!(calls, 1);
    }
}
