//! The transitions of a job read in parts (see [`crate::parts`]): divided, each part claimed,
//! read or handed back, and the assembly claimed once every part is read.

use time::OffsetDateTime;

use crate::error::Error;
use crate::job::{Job, JobStatus};
use crate::parts::{ranges, Part, PartState};
use crate::Progress;

fn millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

impl Job {
    /// The job's parts, in page order (none: it is read in one piece).
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The processing job divided into `parts` (each a list of page numbers), all queued; the
    /// job's own lease becomes the parts' heartbeat (see [`Job::part_claimed`]).
    pub fn split(
        &self,
        parts: &[Vec<u32>],
        now: OffsetDateTime,
        lease: time::Duration,
    ) -> Result<Job, Error> {
        if self.status != JobStatus::Processing || !self.parts.is_empty() {
            return Err(Error::Conflict(format!(
                "job {} is {} and cannot be divided",
                self.id, self.status
            )));
        }
        let mut next = self.clone();
        next.parts = parts
            .iter()
            .map(|pages| Part {
                pages: ranges(pages),
                count: pages.len() as u32,
                state: PartState::Queued,
                attempts: 0,
                lease_until: None,
                started_at: None,
                finished_at: None,
                worker: None,
            })
            .collect();
        next.progress = Some(Progress {
            pages_done: 0,
            pages_total: parts.iter().map(|p| p.len() as u32).sum(),
        });
        next.lease_until = Some(now + lease);
        next.updated_at = now;
        next.version = self.version + 1;
        Ok(next)
    }

    /// The parts whose messages may be queued: the first `done + at_once` of them, where
    /// `done` are the parts read. A job thus keeps at most `at_once` of its parts queued or
    /// running, and other jobs have their turn (`0`: all at once).
    pub fn parts_released(&self, at_once: usize) -> usize {
        let done = self
            .parts
            .iter()
            .filter(|p| p.state == PartState::Done)
            .count();
        if at_once == 0 {
            self.parts.len()
        } else {
            (done + at_once).min(self.parts.len())
        }
    }

    /// Whether every part is read (and the job is to be assembled).
    pub fn parts_read(&self) -> bool {
        !self.parts.is_empty() && self.parts.iter().all(|p| p.state == PartState::Done)
    }

    fn part(&self, index: usize) -> Result<&Part, Error> {
        self.parts
            .get(index)
            .ok_or_else(|| Error::Conflict(format!("job {} has no part {index}", self.id)))
    }

    /// Whether a worker may claim part `index` now: the job is processing and the part queued,
    /// or its holder's lease ran out.
    pub fn part_claimable(&self, index: usize, now: OffsetDateTime) -> bool {
        self.status == JobStatus::Processing
            && self.part(index).is_ok_and(|p| match p.state {
                PartState::Queued => true,
                PartState::Running => p.lease_until.is_none_or(|until| until <= millis(now)),
                PartState::Done => false,
            })
    }

    /// The job after a worker's claim of part `index`, leased until `now + lease`; the job's
    /// own lease lasts at least as long, so that the reaper leaves a job with live parts alone.
    pub fn part_claimed(
        &self,
        index: usize,
        now: OffsetDateTime,
        lease: time::Duration,
        worker: &str,
    ) -> Result<Job, Error> {
        if !self.part_claimable(index, now) {
            return Err(Error::Conflict(format!(
                "part {index} of job {} cannot be claimed",
                self.id
            )));
        }
        let mut next = self.touched(now);
        let until = now + lease;
        let part = &mut next.parts[index];
        part.state = PartState::Running;
        part.attempts += 1;
        part.lease_until = Some(millis(until));
        part.started_at = Some(millis(now));
        part.worker = Some(worker.to_owned());
        next.lease_until = next.lease_until.max(Some(until));
        Ok(next)
    }

    /// The job with part `index` read, on its attempt `attempt`: its pages count as done.
    pub fn part_read(
        &self,
        index: usize,
        attempt: u32,
        now: OffsetDateTime,
        lease: time::Duration,
    ) -> Result<Job, Error> {
        let part = self.part(index)?;
        if self.status != JobStatus::Processing
            || part.state != PartState::Running
            || part.attempts != attempt
        {
            return Err(Error::Conflict(format!(
                "part {index} of job {} is no longer this worker's",
                self.id
            )));
        }
        let mut next = self.touched(now);
        let part = &mut next.parts[index];
        part.state = PartState::Done;
        part.lease_until = None;
        part.finished_at = Some(millis(now));
        let count = part.count;
        if let Some(p) = next.progress.as_mut() {
            p.pages_done = (p.pages_done + count).min(p.pages_total);
        }
        next.lease_until = next.lease_until.max(Some(now + lease));
        Ok(next)
    }

    /// Whether the job's assembly may be claimed now: every part is read, and no assembly
    /// holds a live lease (the first claim of the job is its division; each assembly's claim is
    /// one more attempt of the job).
    pub fn assembly_claimable(&self, now: OffsetDateTime) -> bool {
        self.status == JobStatus::Processing
            && self.parts_read()
            && (self.attempts <= 1 || self.lease_until.is_none_or(|until| until <= now))
    }

    /// How many times the job's assembly was claimed.
    pub fn assembly_attempts(&self) -> u32 {
        if self.parts_read() {
            self.attempts.saturating_sub(1)
        } else {
            0
        }
    }

    /// The job after a worker's claim of its assembly, leased until `now + lease`: only the
    /// latest claim's result is written (its attempt is the job's).
    pub fn assembly_claimed(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
    ) -> Result<Job, Error> {
        if !self.assembly_claimable(now) {
            return Err(Error::Conflict(format!(
                "the assembly of job {} cannot be claimed",
                self.id
            )));
        }
        let mut next = self.touched(now);
        next.attempts += 1;
        next.lease_until = Some(now + lease);
        Ok(next)
    }

    /// Part `index` handed back (its worker hit a transient error, or its lease ran out).
    pub fn part_requeued(&self, index: usize, now: OffsetDateTime) -> Result<Job, Error> {
        if self.part(index)?.state != PartState::Running {
            return Ok(self.clone());
        }
        let mut next = self.touched(now);
        next.parts[index].state = PartState::Queued;
        next.parts[index].lease_until = None;
        Ok(next)
    }

    /// The parts not read whose lease ran out, handed back; the job's heartbeat renewed for
    /// `lease` (the reaper's repair of a job whose parts stopped).
    pub fn parts_requeued(&self, now: OffsetDateTime, lease: time::Duration) -> Job {
        let mut next = self.touched(now);
        for p in next.parts.iter_mut().filter(|p| {
            p.state == PartState::Running && p.lease_until.is_none_or(|u| u <= millis(now))
        }) {
            p.state = PartState::Queued;
            p.lease_until = None;
        }
        next.lease_until = Some(now + lease);
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AccountId, JobId, JobType, UploadId};
    use time::macros::datetime;

    fn processing() -> Job {
        let now = datetime!(2026-01-01 0:00 UTC);
        Job::new_queued(
            JobId::new(now),
            JobType::ExtractPdf,
            AccountId("acct".into()),
            UploadId::new(now),
            now,
            time::Duration::days(1),
        )
        .claimed(now, time::Duration::seconds(90))
        .unwrap()
    }

    #[test]
    fn a_part_is_claimed_read_and_released_once() {
        let now = datetime!(2026-01-01 0:01 UTC);
        let lease = time::Duration::seconds(60);
        let job = processing()
            .split(&[vec![1, 2], vec![3, 4], vec![5]], now, lease)
            .unwrap();
        assert_eq!(job.parts().len(), 3);
        assert_eq!(job.progress().unwrap().pages_total, 5);
        assert_eq!(job.parts_released(2), 2);
        assert_eq!(job.parts_released(0), 3);
        assert!(job.split(&[vec![1]], now, lease).is_err(), "divided once");

        let claimed = job.part_claimed(1, now, lease, "w1").unwrap();
        assert_eq!(claimed.parts()[1].state, PartState::Running);
        assert!(!claimed.part_claimable(1, now), "its lease holds");
        assert!(claimed.part_claimable(1, now + lease), "until it runs out");
        // Taken over after the lease: the first holder's result is refused.
        let taken = claimed.part_claimed(1, now + lease, lease, "w2").unwrap();
        assert!(taken.part_read(1, 1, now + lease, lease).is_err());
        let read = taken.part_read(1, 2, now + lease, lease).unwrap();
        assert_eq!(read.progress().unwrap().pages_done, 2);
        assert_eq!(read.parts_released(2), 3, "one read lets the next go");
        assert!(!read.parts_read());
        assert!(
            !read.part_claimable(1, now + lease * 3),
            "a read part stays read"
        );

        let mut all = read;
        for i in [0, 2] {
            all = all
                .part_claimed(i, now, lease, "w")
                .unwrap()
                .part_read(i, 1, now, lease)
                .unwrap();
        }
        assert!(all.parts_read());
        assert_eq!(all.progress().unwrap().pages_done, 5);

        // The assembly: claimed once at a time, each claim an attempt of the job.
        assert!(all.assembly_claimable(now));
        let assembling = all.assembly_claimed(now, lease).unwrap();
        assert_eq!(assembling.assembly_attempts(), 1);
        assert!(!assembling.assembly_claimable(now), "its lease holds");
        let again = assembling.assembly_claimed(now + lease, lease).unwrap();
        assert_eq!(again.assembly_attempts(), 2);
        assert_eq!(again.attempts(), assembling.attempts() + 1);
    }

    #[test]
    fn stopped_parts_are_handed_back() {
        let now = datetime!(2026-01-01 0:01 UTC);
        let lease = time::Duration::seconds(60);
        let job = processing()
            .split(&[vec![1], vec![2]], now, lease)
            .unwrap()
            .part_claimed(0, now, lease, "w")
            .unwrap();
        let later = now + lease * 2;
        let repaired = job.parts_requeued(later, lease);
        assert_eq!(repaired.parts()[0].state, PartState::Queued);
        assert_eq!(repaired.lease_until(), Some(later + lease));
        let released = job.part_requeued(0, now).unwrap();
        assert!(released.part_claimable(0, now));
    }
}
