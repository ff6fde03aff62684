//! The domain: identifiers, jobs and their legal status transitions, chunks, uploads, accounts,
//! tags, API keys, webhook deliveries, the dashboard's measures and the address rules of webhook
//! receivers. Pure types and functions: no I/O here, and no Horizon crate but the layout (a
//! chunk's kind is its block's).

pub mod deliveries;
pub mod error;
pub mod keys;
pub mod monitoring;
pub mod net;
pub mod parts;

mod chunks;
mod ids;
mod job;
mod job_parts;
mod selection;
mod tags;
mod upload;

pub use chunks::*;
pub use ids::*;
pub use job::*;
pub use selection::*;
pub use tags::*;
pub use upload::*;

pub use error::{Error, Result};

use time::OffsetDateTime;

/// RFC 3339 in UTC with second precision, as the API shows every timestamp.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&fmt)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_stored_name_is_an_unknown_value_of_its_kind() {
        assert_eq!("failed".parse::<JobStatus>(), Ok(JobStatus::Failed));
        let e = "sleeping".parse::<JobStatus>().unwrap_err();
        assert_eq!((e.kind, e.value.as_str()), ("job status", "sleeping"));
        assert_eq!(
            "extract/word".parse::<JobType>().unwrap_err().kind,
            "job type"
        );
    }
    use time::macros::datetime;

    #[test]
    fn page_selections() {
        let sel: PageSelection = "1-3, 7,10-".parse().unwrap();
        for (page, inside) in [
            (1, true),
            (3, true),
            (4, false),
            (7, true),
            (9, false),
            (10, true),
            (999, true),
        ] {
            assert_eq!(sel.contains(page), inside, "page {page}");
        }
        for bad in ["", "0", "3-1", "a", "1-b", "-3", "1,,2"] {
            assert!(bad.parse::<PageSelection>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_illegal_transition_is_rejected() {
        use JobStatus::*;
        let legal = [
            (Queued, Processing),
            (Queued, Failed),
            (Processing, Processing),
            (Processing, Queued),
            (Processing, Completed),
            (Processing, Failed),
        ];
        for from in JobStatus::ALL {
            for to in JobStatus::ALL {
                let expected = legal.contains(&(from, to));
                assert_eq!(from.can_become(to), expected, "{from} -> {to}");
                match from.transition(to) {
                    Ok(next) => assert!(expected && next == to, "{from} -> {to} accepted"),
                    Err(Error::IllegalTransition { from: f, to: t }) => {
                        assert!(!expected, "{from} -> {to} refused");
                        assert_eq!((f, t), (from.as_str(), to.as_str()));
                    }
                    Err(other) => panic!("unexpected error {other:?}"),
                }
            }
        }
    }

    #[test]
    fn terminal_states_have_no_way_out() {
        for from in [JobStatus::Completed, JobStatus::Failed] {
            assert!(from.is_terminal());
            for to in JobStatus::ALL {
                assert!(from.transition(to).is_err(), "{from} -> {to}");
            }
        }
    }

    fn job(now: OffsetDateTime) -> Job {
        Job::new_queued(
            JobId::new(now),
            JobType::ExtractPdf,
            AccountId::default_account(),
            UploadId::new(now),
            now,
            time::Duration::hours(24),
        )
    }

    /// A job's history is its timeline: each change of status with its time and attempt, and
    /// the worker of each claim; a long one keeps its first step and its latest.
    #[test]
    fn the_history_keeps_each_step_and_who_claimed() {
        let now = datetime!(2026-11-23 10:00 UTC);
        let lease = time::Duration::minutes(5);
        let later = |s: i64| now + time::Duration::seconds(s);
        let j = job(now)
            .claimed_by(later(1), lease, "w1")
            .unwrap()
            .requeued(later(2))
            .unwrap()
            .claimed_by(later(3), lease, "w2")
            .unwrap()
            .failed(JobError::new("x", "y"), later(4))
            .unwrap();
        let steps: Vec<(JobStatus, i64, u32, Option<&str>)> = j
            .history()
            .iter()
            .map(|h| (h.status, h.at, h.attempt, h.worker.as_deref()))
            .collect();
        let ms = |s: i64| (now.unix_timestamp() + s) * 1000;
        assert_eq!(
            steps,
            [
                (JobStatus::Queued, ms(0), 0, None),
                (JobStatus::Processing, ms(1), 1, Some("w1")),
                (JobStatus::Queued, ms(2), 1, None),
                (JobStatus::Processing, ms(3), 2, Some("w2")),
                (JobStatus::Failed, ms(4), 2, None),
            ]
        );
        let mut long = job(now);
        for i in 0..HISTORY_MAX as i64 {
            long = long
                .claimed_by(later(2 * i + 1), lease, "w")
                .unwrap()
                .requeued(later(2 * i + 2))
                .unwrap();
        }
        assert_eq!(long.history().len(), HISTORY_MAX);
        assert_eq!(long.history()[0].status, JobStatus::Queued);
        assert_eq!(long.history()[0].at, ms(0), "the first step stays");
        assert_eq!(
            long.history().last().unwrap().at,
            ms(2 * HISTORY_MAX as i64)
        );
    }

    #[test]
    fn claim_leases_and_bumps_version_and_attempts() {
        let now = datetime!(2026-11-23 10:00 UTC);
        let j = job(now);
        let c = j.claimed(now, time::Duration::minutes(5)).unwrap();
        assert_eq!(c.status, JobStatus::Processing);
        assert_eq!(c.version, 2);
        assert_eq!(c.attempts, 1);
        assert_eq!(c.lease_until, Some(now + time::Duration::minutes(5)));
        // A live lease cannot be taken; an expired one can.
        assert!(c
            .claimed(now + time::Duration::minutes(1), time::Duration::minutes(5))
            .is_err());
        let again = c
            .claimed(now + time::Duration::minutes(6), time::Duration::minutes(5))
            .unwrap();
        assert_eq!(again.attempts, 2);
        assert_eq!(again.version, 3);
    }

    #[test]
    fn finished_jobs_cannot_be_claimed_or_finished_again() {
        let now = datetime!(2026-11-23 10:00 UTC);
        let done = job(now)
            .claimed(now, time::Duration::minutes(5))
            .unwrap()
            .completed(JobResult::default(), now)
            .unwrap();
        assert!(!done.claimable(now + time::Duration::days(1)));
        assert!(done.failed(JobError::new("x", "y"), now).is_err());
        assert!(done.completed(JobResult::default(), now).is_err());
        // A queued job cannot complete without being claimed first.
        assert!(job(now).completed(JobResult::default(), now).is_err());
    }

    #[test]
    fn ids_round_trip_and_refuse_malformed_input() {
        let now = datetime!(2026-11-23 10:00 UTC);
        let id = JobId::new(now);
        assert!(id.as_str().starts_with("job_"));
        assert_eq!(id.as_str().parse::<JobId>().unwrap(), id);
        for bad in [
            "",
            "job_",
            "job_../../etc/passwd",
            "upl_01JAAAAAAAAAAAAAAAAAAAAAAA",
            "job_01jaaaaaaaaaaaaaaaaaaaaaaa",
            "job_01JAAAAAAAAAAAAAAAAAAAAAAAA",
            &format!("job_{}", "A".repeat(500)),
            "job_01JAAAAAAAAAAAAAAAAAAAAA/A",
        ] {
            assert!(bad.parse::<JobId>().is_err(), "{bad:?} accepted");
        }
        let a = JobId::new(now);
        let b = JobId::new(now);
        assert_ne!(a, b, "two ids made in the same millisecond collide");
    }

    #[test]
    fn only_failed_jobs_are_retried_and_the_retry_copies_the_request() {
        let now = datetime!(2026-11-23 10:00 UTC);
        let mut original = job(now);
        original.tags = vec!["batch-7".into()];
        original.metadata = Some(serde_json::json!({"k": 1}));
        assert!(original
            .retry(JobId::new(now), now, time::Duration::hours(1))
            .is_err());
        let failed = original
            .claimed(now, time::Duration::minutes(5))
            .unwrap()
            .failed(JobError::new("x", "y"), now)
            .unwrap();
        let retry = failed
            .retry(JobId::new(now), now, time::Duration::hours(1))
            .unwrap();
        assert_eq!(retry.status, JobStatus::Queued);
        assert_eq!(retry.retry_of.as_ref(), Some(&failed.id));
        assert_eq!((retry.attempts, retry.version), (0, 1));
        assert_eq!(retry.tags, failed.tags);
        assert_eq!(retry.metadata, failed.metadata);
        assert_eq!(retry.upload_id, failed.upload_id);
        let noted = failed.retried_as(&retry, now);
        assert_eq!(noted.status, JobStatus::Failed);
        assert_eq!(noted.version, failed.version + 1);
        assert_eq!(noted.retried_by.len(), 1);
        assert_eq!(noted.retried_by[0].id, retry.id.to_string());
        assert_eq!(noted.retried_by[0].status, JobStatus::Queued);
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = datetime!(2026-11-23 10:00:01.5 +02:00);
        assert_eq!(rfc3339(t), "2026-11-23T08:00:01.500Z");
    }
}
