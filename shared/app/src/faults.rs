//! Fault injection for the reliability tests and the load run's fault mode. Never read from the
//! environment: only code that builds its own [`crate::Config`] (a test, a benchmark) can switch it
//! on, and only in a build with the feature `test-support` (the tests and the local runner): in
//! a Lambda artefact no fault can strike, and the code that injects them is not there. Each fault is a probability, rolled per occasion, and
//! counted when it fires so that a run can say how many it survived.

use std::sync::atomic::{AtomicU64, Ordering};

/// What to break, and how often (each a probability between 0 and 1; all 0 by default).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// An extraction worker stops dead right after claiming a job: it writes nothing more and
    /// neither deletes nor re-times its message, as when its Lambda is killed.
    pub kill_after_claim: f64,
    /// The local poller hands a received message to a second worker at the same time, as SQS's
    /// at-least-once delivery may.
    pub duplicate_delivery: f64,
    /// A versioned write of a job is refused as if someone else had written first (DynamoDB's
    /// `ConditionalCheckFailedException`), without reaching DynamoDB.
    pub conflict: f64,
    /// A DynamoDB or S3 request is answered with a throttling error (`ThrottlingException`,
    /// `SlowDown`) without reaching the service; the SDK's retries see it as the real thing.
    pub throttle: f64,
    /// DynamoDB can be taken down and brought back ([`set_outage`]): while it is down, every
    /// DynamoDB and DynamoDB Streams request is answered `InternalServerError` (HTTP 500)
    /// without reaching the service, as in an outage of the service.
    pub outages: bool,
}

static OUTAGE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Takes DynamoDB down (`true`) or brings it back, for the services of this process built with
/// [`Faults::outages`].
#[cfg(feature = "test-support")]
pub fn set_outage(down: bool) {
    OUTAGE.store(down, Ordering::SeqCst);
}

/// Whether DynamoDB is down now (see [`Faults::outages`]).
pub fn in_outage(faults: &Faults) -> bool {
    faults.outages && OUTAGE.load(Ordering::SeqCst)
}

/// The kinds of fault, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Kill,
    Duplicate,
    Conflict,
    Throttle,
}

static FIRED: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

impl Faults {
    pub fn any(&self) -> bool {
        *self != Faults::default()
    }

    /// Whether `fault` strikes this time; counted when it does. Never without `test-support`.
    #[cfg(not(feature = "test-support"))]
    pub fn strikes(&self, _fault: Fault) -> bool {
        false
    }

    /// Whether `fault` strikes this time; counted when it does.
    #[cfg(feature = "test-support")]
    pub fn strikes(&self, fault: Fault) -> bool {
        let p = match fault {
            Fault::Kill => self.kill_after_claim,
            Fault::Duplicate => self.duplicate_delivery,
            Fault::Conflict => self.conflict,
            Fault::Throttle => self.throttle,
        };
        let hit = p > 0.0 && fastrand::f64() < p;
        if hit {
            FIRED[fault as usize].fetch_add(1, Ordering::Relaxed);
        }
        hit
    }
}

/// How many faults of each kind have struck in this process so far.
pub fn fired(fault: Fault) -> u64 {
    FIRED[fault as usize].load(Ordering::Relaxed)
}

#[cfg(all(test, feature = "test-support"))]
mod tests {
    use super::*;

    #[test]
    fn no_faults_by_default_and_certain_ones_always_strike() {
        let none = Faults::default();
        assert!(!none.any());
        assert!((0..1000).all(|_| !none.strikes(Fault::Conflict)));
        let always = Faults {
            throttle: 1.0,
            ..Faults::default()
        };
        assert!(always.any());
        let before = fired(Fault::Throttle);
        assert!((0..10).all(|_| always.strikes(Fault::Throttle)));
        assert!(fired(Fault::Throttle) >= before + 10);
    }

    #[test]
    fn a_probability_strikes_about_that_often() {
        let some = Faults {
            duplicate_delivery: 0.25,
            ..Faults::default()
        };
        let hits = (0..20_000)
            .filter(|_| some.strikes(Fault::Duplicate))
            .count();
        assert!((4_000..6_000).contains(&hits), "{hits} of 20,000");
    }
}
