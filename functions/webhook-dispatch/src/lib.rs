//! The webhook dispatcher, triggered by the dispatch queue: sends each delivery, signed per
//! Standard Webhooks, to addresses that passed the SSRF check; retries on a schedule; disables
//! a subscription whose receiver answers 410; dead-letters what cannot be delivered; and logs
//! every attempt for the job's owner (`GET /v1/jobs/{jobId}/webhooks`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::SqsMessage;
use horizon_app::events::{sign, Attempt, DeliveryMessage, Scope, Then};
use horizon_app::jobs::{self, Step};
use horizon_app::Services;
use horizon_domain::net::{is_allowed, Cidr};
use horizon_domain::{rfc3339, Subscription};
use horizon_domain::{Error, Result};
use horizon_runtime::lambda::{Handled, SqsHandler};

pub struct WebhookDispatcher {
    services: Services,
    /// The guarded client, or why it could not start (then every send fails, and is retried):
    /// never an unguarded fallback.
    http: std::result::Result<reqwest::Client, String>,
    /// Receivers (scheme, host and port) that lately gave no answer or could not be reached:
    /// until when their deliveries wait, and how often in a row they failed (each cool-off
    /// twice the last, up to [`COOL_OFF_MAX`]; an answer ends it). One tenant's hanging
    /// receiver holds a dispatcher once per cool-off, not once per delivery, and the others'
    /// deliveries go on.
    cooling: std::sync::Mutex<std::collections::HashMap<String, Cooling>>,
}

/// A receiver's cool-off.
#[derive(Clone, Copy)]
struct Cooling {
    until: time::OffsetDateTime,
    strikes: u32,
}

/// The longest a receiver cools off, however often it failed.
const COOL_OFF_MAX: Duration = Duration::from_secs(15 * 60);
/// How often one attempt is put off while its receiver cools off; then it is made (and counts).
const MAX_DEFERRALS: u32 = 8;
/// The longest wait a receiver's `Retry-After` may ask for.
const RETRY_AFTER_MAX: u64 = 10 * 3600;
/// How long a delivery is retried for trouble of our own (storage, the queue) before its
/// message is left to the dead-letter queue: a day.
const OWN_TROUBLE_MAX: i64 = 24 * 3600;

/// Resolves names for the HTTP client, keeping only the addresses the SSRF policy allows, so
/// the connection goes to an address that was checked (no second lookup in between).
struct GuardedResolver {
    allow: Vec<Cidr>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| is_allowed(a.ip(), &allow))
                .collect();
            if allowed.is_empty() {
                let ips: Vec<String> = found.iter().map(|a| a.ip().to_string()).collect();
                return Err(format!(
                    "blocked: {host} resolves only to internal addresses ({})",
                    ips.join(", ")
                )
                .into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// What to do after a failed attempt.
enum Retry {
    /// Try again on the schedule, and not before this many seconds (the receiver's Retry-After).
    After(u64),
    Never,
}

/// How one attempt went.
enum Sent {
    Answered {
        status: u16,
        retry_after: Option<u64>,
    },
    Failed {
        error: String,
        blocked: bool,
    },
}

impl WebhookDispatcher {
    pub fn new(services: Services) -> Self {
        let config = &services.config;
        // TLS with ring (the process's default provider; a second install keeps the first).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // Straight to the receiver: through a proxy, the guarded resolver would check the
            // proxy's address instead of the receiver's.
            .no_proxy()
            .timeout(config.webhooks.timeout)
            .connect_timeout(config.webhooks.timeout)
            .user_agent("Horizon-Webhooks/1")
            .dns_resolver(Arc::new(GuardedResolver {
                allow: config.webhooks.allow_cidrs.clone(),
            }))
            .build()
            .map_err(|e| {
                // Only a TLS back-end that cannot start gets here; every send will then fail
                // and be retried, which the delivery log shows.
                tracing::error!(error = %e, "webhook HTTP client");
                format!("the webhook HTTP client could not start: {e}")
            });
        WebhookDispatcher {
            services,
            http,
            cooling: Default::default(),
        }
    }
}

/// Deliveries of one batch made at once (an SQS batch holds at most 10 messages).
const DELIVERIES_AT_ONCE: usize = 10;

#[async_trait::async_trait]
impl SqsHandler for WebhookDispatcher {
    async fn handle_message(&self, message: &SqsMessage) -> Handled {
        let receives: u32 = message
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        match self.process(message).await {
            Ok(()) => Handled::Done,
            Err(e) => {
                // Trouble of our own (an outage of storage or the queue) is no attempt: the
                // message waits, longer each time, and before its last receive it is queued
                // anew, so that an outage does not send deliveries to the dead-letter queue
                // unlogged. Only after a day, or when it cannot be read, is it left to go there.
                let wait = horizon_app::retry::Backoff::OUTAGE.delay(receives.saturating_sub(1));
                if receives + 1 >= self.services.config.jobs.max_tries {
                    if let Some(()) = self.requeue(message, wait).await {
                        return Handled::Done;
                    }
                }
                tracing::warn!(error = %e, receives, wait_s = wait.as_secs(), "delivery not handled; it will be retried");
                Handled::Again(Some(wait))
            }
        }
    }

    async fn come_back_after(&self, receipt_handle: &str, wait: Duration) -> Result<()> {
        Ok(self
            .services
            .deliveries
            .retry_later(receipt_handle, wait)
            .await?)
    }

    /// A batch's deliveries go out together: each waits on its receiver.
    fn concurrency(&self) -> usize {
        DELIVERIES_AT_ONCE
    }
}

impl WebhookDispatcher {
    /// `Err` only for trouble of our own (storage, the queue): the message comes back.
    async fn process(&self, message: &SqsMessage) -> Result<()> {
        let body = message.body.as_deref().unwrap_or("");
        let Ok(delivery) = serde_json::from_str::<DeliveryMessage>(body) else {
            tracing::error!(message_id = ?message.message_id, "malformed delivery message; it will go to the dead-letter queue");
            return Err(Error::Internal("malformed delivery message".into()));
        };
        let span = horizon_runtime::telemetry::job_span(&delivery.job_id);
        span.record("account", tracing::field::display(&delivery.account));
        tracing::Instrument::instrument(self.deliver(delivery), span).await
    }

    /// Queues a message that kept failing on our own trouble as a new one, after `wait`
    /// (its receive count starts again), while it is less than [`OWN_TROUBLE_MAX`] past due.
    /// `None` when it is not queued anew.
    async fn requeue(&self, message: &SqsMessage, wait: Duration) -> Option<()> {
        let body = message.body.as_deref()?;
        let delivery: DeliveryMessage = serde_json::from_str(body).ok()?;
        let now = self.services.clock.now().unix_timestamp();
        if now - delivery.not_before > OWN_TROUBLE_MAX {
            tracing::error!(delivery_id = %delivery.delivery_id, "a delivery failed on our side for a day; it goes to the dead-letter queue");
            return self.dead_letter_logged(&delivery).await;
        }
        match self.services.deliveries.send(&delivery, wait).await {
            Ok(()) => {
                tracing::warn!(delivery_id = %delivery.delivery_id, wait_s = wait.as_secs(), "a delivery kept failing on our side; queued anew");
                Some(())
            }
            Err(e) => {
                tracing::warn!(delivery_id = %delivery.delivery_id, error = %e, "a delivery could not be queued anew");
                None
            }
        }
    }

    /// Dead-letters a delivery that was never attempted (a day of trouble on our side) through
    /// its delivery log, as an attempt is: a record with the dead letter to follow, which the
    /// outbox carries out, so that the dead letter is in the log. `None` when the record could
    /// not be written (the queue's own dead-letter queue then holds the message).
    async fn dead_letter_logged(&self, delivery: &DeliveryMessage) -> Option<()> {
        let attempt = Attempt {
            delivery_id: delivery.delivery_id.to_string(),
            subscription_id: delivery.subscription_id.to_string(),
            url: String::new(),
            event: delivery.event,
            attempt: delivery.attempt,
            replay: delivery.replay,
            at: rfc3339(self.services.clock.now()),
            status_code: None,
            latency_ms: 0,
            error: Some("not sent: our side could not handle it for a day".into()),
            outcome: "dead_lettered".into(),
            message: Some(delivery.clone()),
            then: Some(Then::DeadLetter {
                message: delivery.clone(),
            }),
        };
        match self
            .services
            .delivery_log
            .record(&delivery.job_id, &attempt)
            .await
        {
            Ok(_) => Some(()),
            Err(e) => {
                tracing::error!(delivery_id = %delivery.delivery_id, error = %e, "the dead letter could not be logged");
                None
            }
        }
    }

    /// One attempt of one delivery.
    async fn deliver(&self, delivery: DeliveryMessage) -> Result<()> {
        let now = self.services.clock.now().unix_timestamp();
        if delivery.not_before > now {
            // A wait longer than SQS's 15-minute delay: queue it again.
            let wait = Duration::from_secs((delivery.not_before - now) as u64);
            return Ok(self.services.deliveries.send(&delivery, wait).await?);
        }
        if self.services.delivery_log.recorded(&delivery).await? {
            // A message that came again (SQS, or the outbox queuing a sequel twice): this
            // attempt was made and what follows it is recorded.
            tracing::info!(delivery_id = %delivery.delivery_id, attempt = delivery.attempt, "attempt made already; message dropped");
            return Ok(());
        }
        let Some(sub) = self.subscription(&delivery).await? else {
            tracing::info!(delivery_id = %delivery.delivery_id, "subscription gone or disabled; delivery dropped");
            return Ok(());
        };
        let receiver = receiver_of(&sub.url);
        match self.cooling_for(&receiver) {
            Some(wait) if delivery.deferred < MAX_DEFERRALS => {
                // Not an attempt: the message waits out the receiver's cool-off (at least
                // twice its last wait), then comes back.
                let wait = wait.as_secs().max(1 << delivery.deferred.min(20));
                let later = DeliveryMessage {
                    not_before: now + wait as i64,
                    deferred: delivery.deferred + 1,
                    ..delivery.clone()
                };
                tracing::info!(delivery_id = %delivery.delivery_id, %receiver, wait_s = wait, deferred = later.deferred, "receiver cooling off after no answer; delivery deferred");
                return Ok(self
                    .services
                    .deliveries
                    .send(&later, Duration::from_secs(wait))
                    .await?);
            }
            // Put off often enough: this attempt is made, and counts.
            Some(_) | None => {}
        }
        let Some(blob) = self.services.blobs.get(&delivery.body_key).await? else {
            tracing::error!(delivery_id = %delivery.delivery_id, key = %delivery.body_key, "event body missing");
            return Ok(());
        };
        let started = Instant::now();
        let sent = self.send(&sub, &delivery, now, blob.bytes.to_vec()).await;
        if let Sent::Answered { .. } = sent {
            self.answered(&receiver);
        }
        let latency_ms = started.elapsed().as_millis() as u64;
        let schedule = &self.services.config.webhooks.schedule;
        let mut attempt = Attempt {
            delivery_id: delivery.delivery_id.to_string(),
            subscription_id: sub.id.to_string(),
            url: horizon_domain::net::redact_url(&sub.url),
            event: delivery.event,
            attempt: delivery.attempt,
            replay: delivery.replay,
            at: rfc3339(self.services.clock.now()),
            status_code: None,
            latency_ms,
            error: None,
            outcome: String::new(),
            message: Some(delivery.clone()),
            then: None,
        };
        // None: finished; Some(Retry::After(..)): retry on schedule; Some(Retry::Never): dead-letter.
        let retry = match sent {
            Sent::Answered { status, .. } if (200..300).contains(&status) => {
                attempt.status_code = Some(status);
                attempt.outcome = "delivered".into();
                None
            }
            Sent::Answered { status: 410, .. } => {
                attempt.status_code = Some(410);
                attempt.outcome = "disabled".into();
                self.disable(&delivery).await?;
                None
            }
            Sent::Answered {
                status,
                retry_after,
            } => {
                attempt.status_code = Some(status);
                attempt.error = Some(format!("the receiver answered {status}"));
                Some(Retry::After(retry_after.unwrap_or(0)))
            }
            // An address that is not allowed stays not allowed: no retries.
            Sent::Failed { error, blocked } => {
                if !blocked {
                    self.cool(receiver);
                }
                attempt.error = Some(error);
                Some(if blocked {
                    Retry::Never
                } else {
                    Retry::After(0)
                })
            }
        };
        // The next attempt (or the dead letter) is written with this one, in its record: the
        // outbox carries it out. A crash before the record means the message comes back and
        // the attempt is made again (same webhook-id); after it, nothing is lost or forked.
        if let Some(retry) = retry {
            let next_wait = match retry {
                Retry::After(at_least) => schedule
                    .get((delivery.attempt as usize).saturating_sub(1))
                    .map(|&wait| jitter(wait).max(at_least)),
                Retry::Never => None,
            };
            attempt.then = Some(match next_wait {
                Some(wait) => {
                    attempt.outcome = "retrying".into();
                    Then::Retry {
                        message: DeliveryMessage {
                            attempt: delivery.attempt + 1,
                            not_before: now + wait as i64,
                            ..delivery.clone()
                        },
                        delay_seconds: wait,
                    }
                }
                None => {
                    attempt.outcome = "dead_lettered".into();
                    Then::DeadLetter {
                        message: delivery.clone(),
                    }
                }
            });
        }
        tracing::info!(
            delivery_id = %attempt.delivery_id,
            job_id = %delivery.job_id,
            attempt = attempt.attempt,
            status = ?attempt.status_code,
            outcome = %attempt.outcome,
            error = ?attempt.error,
            latency_ms,
            "webhook attempt"
        );
        if !self
            .services
            .delivery_log
            .record(&delivery.job_id, &attempt)
            .await?
        {
            tracing::info!(delivery_id = %attempt.delivery_id, attempt = attempt.attempt, "a second copy of the message made this attempt too; the first one's record stands");
        }
        Ok(())
    }

    /// How long deliveries to `receiver` still wait, if it is cooling off.
    fn cooling_for(&self, receiver: &str) -> Option<Duration> {
        let cooling = self.cooling.lock().ok()?;
        let now = self.services.clock.now();
        cooling
            .get(receiver)
            .filter(|c| c.until > now)
            .and_then(|c| Duration::try_from(c.until - now).ok())
    }

    /// `receiver` gave no answer or could not be reached: its deliveries wait before this
    /// dispatcher tries it again, twice the receiver's time limit the first time, twice the
    /// last wait each time after, up to [`COOL_OFF_MAX`].
    fn cool(&self, receiver: String) {
        let now = self.services.clock.now();
        if let Ok(mut cooling) = self.cooling.lock() {
            // Forget receivers whose cool-off ended long ago (they are not failing any more).
            cooling.retain(|_, c| now - c.until < time::Duration::hours(1));
            let strikes = cooling.get(&receiver).map_or(0, |c| c.strikes) + 1;
            let off = (self.services.config.webhooks.timeout * 2)
                .saturating_mul(1 << (strikes - 1).min(16))
                .min(COOL_OFF_MAX);
            cooling.insert(
                receiver,
                Cooling {
                    until: now + off,
                    strikes,
                },
            );
        }
    }

    /// `receiver` answered (whatever it said): its cool-offs start again from the shortest.
    fn answered(&self, receiver: &str) {
        if let Ok(mut cooling) = self.cooling.lock() {
            cooling.remove(receiver);
        }
    }

    async fn subscription(&self, d: &DeliveryMessage) -> Result<Option<Subscription>> {
        let subs = match d.scope {
            Scope::Job => match self.services.jobs.get(&d.job_id).await? {
                Some(job) => job.webhooks().to_vec(),
                None => return Ok(None),
            },
            Scope::Account => self
                .services
                .accounts
                .webhook(&d.account, &d.subscription_id)
                .await?
                .into_iter()
                .collect(),
        };
        Ok(subs
            .into_iter()
            .find(|s| s.id == d.subscription_id && !s.disabled))
    }

    /// Sends one attempt: the exact bytes signed are the bytes sent.
    async fn send(&self, sub: &Subscription, d: &DeliveryMessage, ts: i64, body: Vec<u8>) -> Sent {
        // One signature per secret in use (two while a rotation lasts), space-separated, as
        // Standard Webhooks allows: a receiver with either secret verifies the delivery.
        let signatures: Option<Vec<String>> = sub
            .signing_secrets(self.services.clock.now())
            .into_iter()
            .map(|secret| sign(secret, d.delivery_id.as_str(), ts, &body))
            .collect();
        let Some(signature) = signatures.map(|s| s.join(" ")) else {
            return Sent::Failed {
                error: "the subscription's secret is not a whsec_ key".into(),
                blocked: true,
            };
        };
        // Names are checked by the resolver; a literal address here.
        match url::Url::parse(&sub.url) {
            Ok(url) => {
                let literal: Option<IpAddr> = match url.host() {
                    Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
                    Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
                    _ => None,
                };
                if let Some(ip) = literal {
                    if !is_allowed(ip, &self.services.config.webhooks.allow_cidrs) {
                        return Sent::Failed {
                            error: format!("blocked: {ip} is an internal address"),
                            blocked: true,
                        };
                    }
                }
            }
            Err(e) => {
                return Sent::Failed {
                    error: format!("the URL is not valid: {e}"),
                    blocked: true,
                }
            }
        }
        let http = match &self.http {
            Ok(http) => http,
            Err(error) => {
                return Sent::Failed {
                    error: error.clone(),
                    blocked: false,
                }
            }
        };
        let result = http
            .post(&sub.url)
            .header("content-type", "application/json")
            .header("webhook-id", d.delivery_id.as_str())
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        match result {
            Ok(resp) => Sent::Answered {
                status: resp.status().as_u16(),
                // At most RETRY_AFTER_MAX: a receiver cannot park a delivery for ever.
                retry_after: resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|s| s.min(RETRY_AFTER_MAX)),
            },
            Err(e) => {
                // Without the URL: its path and query may hold the receiver's token, and this
                // text goes to the log and the delivery log.
                let e = e.without_url();
                let text = error_chain(&e);
                Sent::Failed {
                    blocked: text.contains("blocked:"),
                    error: if e.is_timeout() {
                        format!(
                            "no answer within {} s",
                            self.services.config.webhooks.timeout.as_secs()
                        )
                    } else {
                        text
                    },
                }
            }
        }
    }

    /// The receiver answered 410 Gone: the subscription gets no more deliveries.
    async fn disable(&self, d: &DeliveryMessage) -> Result<()> {
        match d.scope {
            Scope::Job => {
                jobs::update(&self.services, &d.job_id, None, |current, now| {
                    Ok(match current {
                        Some(job) => Step::Write(job.without_webhook(&d.subscription_id, now), ()),
                        None => Step::Stop(()),
                    })
                })
                .await
            }
            Scope::Account => {
                let account = &d.account;
                let sub = self
                    .services
                    .accounts
                    .webhook(account, &d.subscription_id)
                    .await?;
                if let Some(mut sub) = sub {
                    sub.disabled = true;
                    self.services.accounts.update_webhook(account, &sub).await?;
                }
                Ok(())
            }
        }
    }
}

/// Who answers a URL: its scheme, host and port (its path and query are the tenant's to vary).
fn receiver_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}:{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port_or_known_default().unwrap_or(0)
        ),
        Err(_) => url.to_owned(),
    }
}

/// `seconds` ± 10%.
fn jitter(seconds: u64) -> u64 {
    let r = horizon_runtime::auth::random_bytes(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .unwrap_or(32_768) as f64
        / 65_535.0;
    ((seconds as f64) * (0.9 + 0.2 * r)).round() as u64
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::sqs::SqsEvent;
    use aws_lambda_events::sqs::SqsMessage;
    use horizon_app::memory::{queued_job, Memory};
    use horizon_app::ports::{Along, StoreError, StoreResult};
    use horizon_domain::{EventType, WebhookId};

    /// A job whose start is subscribed to at `url`, stored; its delivery's first message.
    async fn started_job(memory: &Memory, url: &str) -> DeliveryMessage {
        let now = memory.services.clock.now();
        let sub = Subscription {
            id: WebhookId::new(now),
            url: url.into(),
            events: vec![EventType::Processing],
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            created_at: rfc3339(now),
            disabled: false,
            previous: None,
        };
        let job = queued_job(now)
            .with_webhook(sub, now)
            .unwrap()
            .claimed(now, time::Duration::minutes(5))
            .unwrap();
        memory
            .services
            .jobs
            .create(&job, Along::Nothing)
            .await
            .unwrap();
        horizon_app::events::emit(&memory.services, &job)
            .await
            .unwrap();
        let queued = memory.queue.deliveries().unwrap();
        assert_eq!(queued.len(), 1);
        queued[0].0.clone()
    }

    fn event(message: &DeliveryMessage) -> SqsEvent {
        let mut record = SqsMessage::default();
        record.message_id = Some("m-1".into());
        record.body = Some(serde_json::to_string(message).unwrap());
        let mut event = SqsEvent::default();
        event.records = vec![record];
        event
    }

    /// A message that comes twice (SQS redelivers; the outbox queues a sequel twice) makes one
    /// attempt, logged once, and its sequel is queued once: the retry chain does not fork. The
    /// sequel is queued only from the attempt's record (the stream), never beside it.
    #[tokio::test]
    async fn an_attempt_and_what_follows_it_are_one_record() {
        let mut config = horizon_app::memory::test_config().unwrap();
        config.webhooks.allow_cidrs = horizon_domain::net::parse_cidrs("127.0.0.1/32").unwrap();
        config.webhooks.schedule = vec![7];
        config.webhooks.timeout = Duration::from_secs(2); // a cool-off of 4 s
        let memory = Services::in_memory(config);
        let dispatcher = WebhookDispatcher::new(memory.services.clone());
        // Nothing listens on port 1: every attempt fails, and is retried once.
        let first = started_job(&memory, "http://127.0.0.1:1/hook").await;
        memory.pump().await.unwrap(); // the job's own write: its counts

        for _ in 0..2 {
            let response = horizon_runtime::lambda::run_batch(&dispatcher, event(&first)).await;
            assert!(response.batch_item_failures.is_empty());
        }
        let log = memory.services.delivery_log.attempts(&first.job_id).await;
        let log = log.unwrap();
        assert_eq!(log.len(), 1, "{log:#?}");
        assert_eq!(log[0].outcome, "retrying");
        // Not queued by the dispatcher: only once its record is read from the stream.
        assert_eq!(memory.queue.deliveries().unwrap().len(), 1);
        memory.pump().await.unwrap();
        let queued = memory.queue.deliveries().unwrap();
        assert_eq!(queued.len(), 2, "{queued:#?}");
        let (second, delay) = &queued[1];
        assert_eq!(
            (second.attempt, second.delivery_id.clone()),
            (2, first.delivery_id.clone())
        );
        assert!((6..=8).contains(&delay.as_secs()), "{delay:?}");

        // The last attempt fails too: it is dead-lettered, once, from its record.
        memory.clock.advance(time::Duration::seconds(8));
        for _ in 0..2 {
            horizon_runtime::lambda::run_batch(&dispatcher, event(second)).await;
        }
        memory.pump().await.unwrap();
        assert_eq!(memory.queue.dead_letters().unwrap(), vec![second.clone()]);
        let log = memory.services.delivery_log.attempts(&first.job_id).await;
        let outcomes: Vec<String> = log.unwrap().into_iter().map(|a| a.outcome).collect();
        assert_eq!(outcomes, ["retrying", "dead_lettered"]);
        assert_eq!(memory.queue.deliveries().unwrap().len(), 2);
    }

    /// A receiver that answers `503` with `Retry-After: 999999999` gets its next attempt in
    /// at most 10 hours, not in thirty years (nor every 15 minutes for ever).
    #[tokio::test]
    async fn a_receivers_retry_after_is_clamped_to_ten_hours() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = vec![0u8; 65536];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 999999999\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            }
        });
        let mut config = horizon_app::memory::test_config().unwrap();
        config.webhooks.allow_cidrs = horizon_domain::net::parse_cidrs("127.0.0.1/32").unwrap();
        config.webhooks.schedule = vec![5, 60];
        let memory = Services::in_memory(config);
        let dispatcher = WebhookDispatcher::new(memory.services.clone());
        let first = started_job(&memory, &format!("http://127.0.0.1:{port}/hook")).await;
        horizon_runtime::lambda::run_batch(&dispatcher, event(&first)).await;
        let log = memory.services.delivery_log.attempts(&first.job_id).await;
        let log = log.unwrap();
        assert_eq!(log[0].status_code, Some(503));
        match &log[0].then {
            Some(Then::Retry { delay_seconds, .. }) => assert_eq!(*delay_seconds, 36_000),
            other => panic!("{other:?}"),
        }
    }

    /// Trouble of our own (storage down) is no attempt: the message comes back after a
    /// growing wait, and before its last receive it is queued anew rather than left to reach
    /// the dead-letter queue unlogged.
    #[tokio::test]
    async fn our_own_trouble_is_waited_out_not_dead_lettered() {
        let memory = Services::in_memory(horizon_app::memory::test_config().unwrap());
        let first = started_job(&memory, "https://hooks.example.com/h").await;
        let mut services = memory.services.clone();
        services.delivery_log = Arc::new(LogDown);
        let dispatcher = WebhookDispatcher::new(services);
        let max = memory.services.config.jobs.max_tries;
        let mut waits = Vec::new();
        for receives in 1..max {
            let mut message = event(&first).records.remove(0);
            message.receipt_handle = Some(format!("r-{receives}"));
            message
                .attributes
                .insert("ApproximateReceiveCount".into(), receives.to_string());
            waits.push(dispatcher.handle_message(&message).await);
        }
        let queued_before = memory.queue.deliveries().unwrap().len();
        assert!(
            matches!(waits[0], Handled::Again(Some(w)) if w == Duration::from_secs(5)),
            "{waits:?}"
        );
        // The receive before the last: queued anew (its count starts again), and done.
        assert!(matches!(waits.last(), Some(Handled::Done)), "{waits:?}");
        let (again, delay) = memory.queue.deliveries().unwrap().last().cloned().unwrap();
        assert_eq!(again, first);
        assert!(delay >= Duration::from_secs(5), "{delay:?}");
        assert_eq!(queued_before, 2);
        assert!(memory.queue.dead_letters().unwrap().is_empty());
    }

    /// A day of our own trouble (here: the log cannot say whether the attempt was made): the
    /// delivery, never attempted, is dead-lettered through its delivery log, so the dead letter
    /// is logged, instead of reaching the queue's dead-letter queue unlogged.
    #[tokio::test]
    async fn a_day_of_our_own_trouble_dead_letters_the_delivery_in_its_log() {
        let memory = Services::in_memory(horizon_app::memory::test_config().unwrap());
        let first = started_job(&memory, "https://hooks.example.com/h").await;
        let mut services = memory.services.clone();
        services.delivery_log = Arc::new(CannotTell(memory.services.delivery_log.clone()));
        let dispatcher = WebhookDispatcher::new(services);
        memory.clock.advance(time::Duration::hours(25));
        let mut message = event(&first).records.remove(0);
        let last_but_one = memory.services.config.jobs.max_tries - 1;
        message
            .attributes
            .insert("ApproximateReceiveCount".into(), last_but_one.to_string());
        assert!(matches!(
            dispatcher.handle_message(&message).await,
            Handled::Done
        ));
        let log = memory
            .services
            .delivery_log
            .attempts(&first.job_id)
            .await
            .unwrap();
        assert_eq!(log.len(), 1, "{log:?}");
        assert_eq!(log[0].outcome, "dead_lettered");
        assert!(log[0].error.as_deref().unwrap().contains("a day"));
        memory.pump().await.unwrap();
        assert_eq!(memory.queue.dead_letters().unwrap(), [first]);
    }

    /// A delivery log that records, but cannot say whether an attempt was recorded.
    struct CannotTell(Arc<dyn horizon_app::ports::DeliveryLog>);

    #[async_trait::async_trait]
    impl horizon_app::ports::DeliveryLog for CannotTell {
        async fn record(&self, job: &horizon_domain::JobId, a: &Attempt) -> StoreResult<bool> {
            self.0.record(job, a).await
        }
        async fn recorded(&self, _: &DeliveryMessage) -> StoreResult<bool> {
            Err(StoreError::Unavailable("DynamoDB: injected".into()))
        }
        async fn attempts(&self, job: &horizon_domain::JobId) -> StoreResult<Vec<Attempt>> {
            self.0.attempts(job).await
        }
    }

    /// A delivery log that is down.
    struct LogDown;

    #[async_trait::async_trait]
    impl horizon_app::ports::DeliveryLog for LogDown {
        async fn record(&self, _: &horizon_domain::JobId, _: &Attempt) -> StoreResult<bool> {
            Err(StoreError::Unavailable("DynamoDB: injected".into()))
        }
        async fn recorded(&self, _: &DeliveryMessage) -> StoreResult<bool> {
            Err(StoreError::Unavailable("DynamoDB: injected".into()))
        }
        async fn attempts(&self, _: &horizon_domain::JobId) -> StoreResult<Vec<Attempt>> {
            Err(StoreError::Unavailable("DynamoDB: injected".into()))
        }
    }

    /// A receiver that accepts connections and never answers holds a dispatcher for its time
    /// limit once; the next deliveries to it wait out a cool-off without being attempted, so
    /// they hold no dispatcher, and a message to another receiver goes at once.
    #[tokio::test]
    async fn a_hanging_receiver_holds_a_dispatcher_once_per_cool_off() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket); // never answered
            }
        });
        let mut config = horizon_app::memory::test_config().unwrap();
        config.webhooks.allow_cidrs = horizon_domain::net::parse_cidrs("127.0.0.1/32").unwrap();
        config.webhooks.timeout = Duration::from_secs(1);
        let memory = Services::in_memory(config);
        let dispatcher = WebhookDispatcher::new(memory.services.clone());
        let url = format!("http://127.0.0.1:{port}/hook");
        let first = started_job(&memory, &url).await;
        let took = Instant::now();
        horizon_runtime::lambda::run_batch(&dispatcher, event(&first)).await;
        assert!(took.elapsed() >= Duration::from_secs(1));

        // Another job's event to the same receiver: deferred, not attempted, at once.
        let second = DeliveryMessage {
            delivery_id: "msg_01JQZZZZZZZZZZZZZZZZZZZZZZ".parse().unwrap(),
            ..first.clone()
        };
        let took = Instant::now();
        assert!(
            horizon_runtime::lambda::run_batch(&dispatcher, event(&second))
                .await
                .batch_item_failures
                .is_empty()
        );
        assert!(
            took.elapsed() < Duration::from_millis(500),
            "{:?}",
            took.elapsed()
        );
        assert!(!memory
            .services
            .delivery_log
            .recorded(&second)
            .await
            .unwrap());
        let (deferred, delay) = memory.queue.deliveries().unwrap().last().cloned().unwrap();
        assert_eq!(
            (deferred.delivery_id.clone(), deferred.attempt),
            (second.delivery_id.clone(), 1)
        );
        assert!((1..=2).contains(&delay.as_secs()), "{delay:?}");

        // Put off again and again, it waits longer each time (at least 2^n s), and after
        // MAX_DEFERRALS it is made while the receiver still cools off.
        assert_eq!(deferred.deferred, 1);
        let due = memory.services.clock.now().unix_timestamp();
        let often = DeliveryMessage {
            deferred: 5,
            not_before: due,
            ..deferred.clone()
        };
        horizon_runtime::lambda::run_batch(&dispatcher, event(&often)).await;
        let (later, delay) = memory.queue.deliveries().unwrap().last().cloned().unwrap();
        assert_eq!((later.deferred, delay.as_secs()), (6, 32));
        let enough = DeliveryMessage {
            deferred: MAX_DEFERRALS,
            not_before: due,
            ..deferred.clone()
        };
        let took = Instant::now();
        horizon_runtime::lambda::run_batch(&dispatcher, event(&enough)).await;
        assert!(took.elapsed() >= Duration::from_secs(1), "attempted");
        assert!(memory
            .services
            .delivery_log
            .recorded(&enough)
            .await
            .unwrap());
        // No answer twice in a row: the receiver's cool-off doubled (4 s, not 2).
        let cooling = dispatcher.cooling_for(&receiver_of(&url)).unwrap();
        assert!(cooling > Duration::from_secs(3), "{cooling:?}");

        // After the cool-off a third job's delivery is attempted.
        let third = DeliveryMessage {
            delivery_id: "msg_01JQZZZZZZZZZZZZZZZZZZZZZX".parse().unwrap(),
            ..first.clone()
        };
        memory.clock.advance(time::Duration::seconds(5));
        horizon_runtime::lambda::run_batch(&dispatcher, event(&third)).await;
        assert!(memory.services.delivery_log.recorded(&third).await.unwrap());
    }
}
