//! The reconciler, run on a schedule beside the reaper: the counts kept beside the jobs (each
//! account's active jobs, which its limit is held against, and its jobs processing, which its
//! cap is held against; the dashboard's pending gauge) are recounted from the jobs in the table,
//! and a count that drifted is repaired and logged.
//!
//! A count follows the table with the stream's lag, so the two differ for a moment after any
//! change: a count is repaired only once it has not changed for [`SETTLE`], and only if it still
//! has not changed when it is written (a conditional write). An account whose jobs keep coming
//! is left to its own counting, which is exact; the drift this repairs is what an idle account
//! kept (a job removed before its end was read, a record given up, data from before a fix).

use time::OffsetDateTime;

use crate::ports::{CountOf, KeptCount};
use crate::services::Services;
use horizon_domain::error::Result;

/// How long a count must have been still before it is repaired.
pub const SETTLE: time::Duration = time::Duration::minutes(5);

/// What one run found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Reconciled {
    /// Counts compared with the table.
    pub checked: usize,
    /// Counts that differed and were repaired.
    pub repaired: usize,
    /// Counts that differed but changed lately (or while being repaired): left for a later run.
    pub unsettled: usize,
}

/// Recounts and repairs (see the module's documentation).
pub async fn reconcile(services: &Services) -> Result<Reconciled> {
    let census = services.metrics.census().await?;
    let mut kept = services.metrics.kept_counts().await?;
    // An account with jobs and no count at all: its count is 0, never changed.
    let counted = census
        .active
        .keys()
        .map(|a| CountOf::Active(a.clone()))
        .chain(
            census
                .processing
                .keys()
                .map(|a| CountOf::Processing(a.clone())),
        );
    for of in counted.collect::<Vec<_>>() {
        if !kept.iter().any(|k| k.of == of) {
            kept.push(KeptCount {
                of,
                value: 0,
                changed_at: None,
            });
        }
    }
    let now = services.clock.now();
    let mut done = Reconciled::default();
    for count in &kept {
        done.checked += 1;
        let actual = match &count.of {
            CountOf::Active(account) => census.active.get(account).copied().unwrap_or(0),
            CountOf::Processing(account) => census.processing.get(account).copied().unwrap_or(0),
            CountOf::Pending => census.queued,
        };
        if actual == count.value {
            continue;
        }
        if !settled(count.changed_at, now) || !services.metrics.repair(count, actual).await? {
            done.unsettled += 1;
            continue;
        }
        done.repaired += 1;
        tracing::warn!(count = ?count.of, kept = count.value, actual, "a kept count drifted from the table; repaired");
    }
    Ok(done)
}

fn settled(changed_at: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    changed_at.is_none_or(|at| now - at >= SETTLE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{queued_job, test_config};
    use crate::ports::{Along, Clock};
    use horizon_domain::AccountId;

    /// An account whose count says two active jobs while one is in the table (the other's
    /// end was lost) is repaired once the count has been still for a while, not before; a
    /// count that is right is left alone, and so is the gauge when it is right.
    #[tokio::test]
    async fn a_count_that_drifted_is_repaired_once_it_is_still() {
        let m = crate::Services::in_memory(test_config().unwrap());
        let s = &m.services;
        let job = queued_job(m.clock.now());
        s.jobs.create(&job, Along::Nothing).await.unwrap();
        m.pump().await.unwrap();
        let lost = queued_job(m.clock.now() + time::Duration::milliseconds(1));
        s.jobs.create(&lost, Along::Nothing).await.unwrap();
        m.pump().await.unwrap();
        // Its record goes without the outbox hearing of it (as a record given up would).
        m.store.forget(lost.id()).unwrap();
        let account = AccountId("acct_a".into());
        assert_eq!(s.metrics.active_jobs(&account).await.unwrap(), 2);

        let early = reconcile(s).await.unwrap();
        assert_eq!((early.repaired, early.unsettled), (0, 2), "{early:?}");
        assert_eq!(s.metrics.active_jobs(&account).await.unwrap(), 2);

        m.clock.advance(SETTLE);
        let run = reconcile(s).await.unwrap();
        assert_eq!((run.repaired, run.unsettled), (2, 0), "{run:?}");
        assert_eq!(s.metrics.active_jobs(&account).await.unwrap(), 1);
        assert_eq!(s.dashboard.pending_count().await.unwrap(), 1);
        let again = reconcile(s).await.unwrap();
        assert_eq!((again.repaired, again.unsettled), (0, 0), "{again:?}");
    }

    /// An account's count of jobs processing that says two while one job is processing (the
    /// other's end was never counted) is repaired once still, so that its cap is not held
    /// against a job that is gone; changed lately, it is left alone.
    #[tokio::test]
    async fn a_processing_count_that_drifted_is_repaired_once_it_is_still() {
        use crate::ports::ProcessingChange;
        let m = crate::Services::in_memory(test_config().unwrap());
        let s = &m.services;
        let lease = time::Duration::minutes(1);
        let mut claimed = Vec::new();
        for i in 0..2 {
            let job = queued_job(m.clock.now() + time::Duration::milliseconds(i));
            s.jobs.create(&job, Along::Nothing).await.unwrap();
            let running = job.claimed(m.clock.now(), lease).unwrap();
            s.jobs
                .replace_counting(&running, ProcessingChange::Take(None))
                .await
                .unwrap();
            claimed.push(running);
        }
        m.pump().await.unwrap();
        m.store.forget(claimed[1].id()).unwrap();
        let account = AccountId("acct_a".into());
        assert_eq!(s.metrics.processing_jobs(&account).await.unwrap(), 2);

        let early = reconcile(s).await.unwrap();
        assert_eq!(early.repaired, 0, "{early:?}");
        assert_eq!(s.metrics.processing_jobs(&account).await.unwrap(), 2);

        m.clock.advance(SETTLE);
        reconcile(s).await.unwrap();
        assert_eq!(s.metrics.processing_jobs(&account).await.unwrap(), 1);
        let census = s.metrics.census().await.unwrap();
        assert_eq!(census.processing.get(&account), Some(&1));
    }
}
