//! Webhook deliveries: the message queued for each attempt, the delivery log's record, and the
//! Standard Webhooks signature.

use serde::{Deserialize, Serialize};

use crate::{AccountId, DeliveryId, EventType, JobId, JobStatus, WebhookId};

/// Where a subscription lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Job,
    Account,
}

/// One delivery of one event to one subscription, as queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryMessage {
    /// `msg_<ULID>`: the `webhook-id`, the same on every attempt.
    pub delivery_id: DeliveryId,
    pub job_id: JobId,
    pub account: AccountId,
    pub subscription_id: WebhookId,
    pub scope: Scope,
    pub event: EventType,
    /// Where the body is.
    pub body_key: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Unix seconds before which it must not be sent (waits longer than SQS's 15 minutes).
    pub not_before: i64,
    /// 0 for the delivery the job's write queued; `n` for its `n`th replay by its owner.
    #[serde(default)]
    pub replay: u32,
    /// How often this attempt was put off, unmade, while its receiver cooled off (each wait
    /// longer than the last; after a cap it is made).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deferred: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl DeliveryMessage {
    /// The key of this attempt's record in the delivery log: one record per attempt, however
    /// often its message arrives.
    pub fn log_key(&self) -> String {
        log_key(self.delivery_id.as_str(), self.replay, self.attempt)
    }
}

fn log_key(delivery: &str, replay: u32, attempt: u32) -> String {
    format!("{delivery}#{replay:03}#{attempt:03}")
}

/// What follows an attempt that did not deliver. It is written in the attempt's record, and the
/// record's stream (the outbox) carries it out: an attempt and its sequel are one write, so a
/// dispatcher that crashes in between neither loses the retry nor forks the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "then", rename_all = "camelCase")]
pub enum Then {
    /// Queue the next attempt, to be sent after `delay_seconds`.
    #[serde(rename_all = "camelCase")]
    Retry {
        message: DeliveryMessage,
        delay_seconds: u64,
    },
    /// No more attempts: the message goes to the dead-letter queue.
    DeadLetter { message: DeliveryMessage },
}

/// One attempt in a job's delivery log (`GET /v1/jobs/{jobId}/webhooks`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub delivery_id: String,
    pub subscription_id: String,
    /// The receiver, without its path and query (where tokens live): `https://host/…`.
    pub url: String,
    pub event: EventType,
    pub attempt: u32,
    /// 0 for the delivery the job's write queued; `n` for its `n`th replay.
    #[serde(default)]
    pub replay: u32,
    pub at: String,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
    /// `delivered`, `retrying`, `dead_lettered` or `disabled` (the receiver answered 410).
    pub outcome: String,
    #[serde(skip)]
    pub message: Option<DeliveryMessage>,
    /// What follows this attempt (carried out from the log's stream).
    #[serde(skip)]
    pub then: Option<Then>,
}

impl Attempt {
    /// The key of its record in the delivery log (see [`DeliveryMessage::log_key`]).
    pub fn log_key(&self) -> String {
        log_key(&self.delivery_id, self.replay, self.attempt)
    }
}

/// The event a job's new status stands for, if any.
pub fn event_for(status: JobStatus) -> Option<EventType> {
    match status {
        JobStatus::Processing => Some(EventType::Processing),
        JobStatus::Completed => Some(EventType::Completed),
        JobStatus::Failed => Some(EventType::Failed),
        JobStatus::Queued => None,
    }
}

/// The `webhook-signature` header value: `v1,` + base64 of HMAC-SHA256 over
/// `{id}.{timestamp}.{body}` with the key that the `whsec_` secret encodes.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    use base64::Engine;
    use hmac::{Mac, SimpleHmac};
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(secret.strip_prefix("whsec_")?).ok()?;
    let mut mac = SimpleHmac::<sha2::Sha256>::new_from_slice(&key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!("v1,{}", b64.encode(mac.finalize().into_bytes())))
}

/// The id of the delivery of `event` of a job (made at `job_created`, claimed `attempts` times)
/// to one subscription: `msg_` + a ULID whose time is the job's creation and whose rest is a
/// hash of (job, event, attempts, subscription). The same transition emitted again (a message
/// redelivered, an emission retried) gets the same id, so that receivers that keep `webhook-id`s
/// see a repeat, not a new event.
pub fn delivery_id(
    job: &JobId,
    job_created: time::OffsetDateTime,
    event: EventType,
    attempts: u32,
    subscription: &WebhookId,
) -> DeliveryId {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(
        format!("{job}\n{}\n{attempts}\n{subscription}", event.as_str()).as_bytes(),
    );
    let mut random = [0u8; 16];
    random[6..].copy_from_slice(&digest[..10]); // ULIDs carry 80 random bits
    let millis = (job_created.unix_timestamp_nanos() / 1_000_000).max(0) as u64;
    let ulid = ulid::Ulid::from_parts(millis, u128::from_be_bytes(random));
    DeliveryId(format!("msg_{ulid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rotated subscription signs with its new secret, and with the old one until the
    /// overlap ends; then with the new one alone.
    #[test]
    fn a_rotation_signs_with_both_secrets_until_its_overlap_ends() {
        use crate::{EventType, Subscription, WebhookId};
        let now = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let sub = Subscription {
            id: WebhookId::new(now),
            url: "https://hooks.example.com/h".into(),
            events: vec![EventType::Completed],
            secret: "whsec_old".into(),
            created_at: crate::rfc3339(now),
            disabled: false,
            previous: None,
        };
        assert_eq!(sub.signing_secrets(now), ["whsec_old"]);
        let rotated = sub.rotated("whsec_new".into(), now, time::Duration::hours(24));
        assert_eq!(rotated.signing_secrets(now), ["whsec_new", "whsec_old"]);
        let later = now + time::Duration::hours(24);
        assert_eq!(rotated.signing_secrets(later), ["whsec_new"]);
    }

    #[test]
    fn a_delivery_id_is_the_same_for_the_same_transition_and_subscription_only() {
        let at = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let job = JobId::new(at);
        let (a, b) = (WebhookId::new(at), WebhookId::new(at));
        let id = |event, attempts, sub| delivery_id(&job, at, event, attempts, sub);
        let first = id(EventType::Completed, 1, &a);
        assert_eq!(first, id(EventType::Completed, 1, &a));
        assert!(first.as_str().parse::<DeliveryId>().is_ok(), "{first}");
        // Its ULID carries the job's creation time, so ids sort with their jobs.
        assert_eq!(&first.as_str()[4..14], &job.as_str()[4..14]);
        assert_ne!(first, id(EventType::Completed, 1, &b));
        assert_ne!(first, id(EventType::Failed, 1, &a));
        assert_ne!(
            id(EventType::Processing, 1, &a),
            id(EventType::Processing, 2, &a)
        );
        let other = JobId::new(at);
        assert_ne!(first, delivery_id(&other, at, EventType::Completed, 1, &a));
    }

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The example of the Standard Webhooks specification's reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let sig = sign(
            secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(sign("not-a-secret", "x", 1, b"").is_none());
    }
}
