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
    /// Receivers (scheme, host and port) that lately gave no answer or could not be reached,
    /// and until when their deliveries wait: one tenant's hanging receiver holds a dispatcher
    /// once per cool-off, not once per delivery, and the others' deliveries go on.
    cooling: std::sync::Mutex<std::collections::HashMap<String, time::OffsetDateTime>>,
}

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
        match self.process(message).await {
            Ok(()) => Handled::Done,
            Err(e) => {
                tracing::warn!(error = %e, "delivery not handled; it will be retried");
                Handled::Again(None)
            }
        }
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
        if let Some(wait) = self.cooling_for(&receiver) {
            // Not an attempt: the message waits out the receiver's cool-off, then comes back.
            let wait = wait.as_secs().max(1);
            let later = DeliveryMessage {
                not_before: now + wait as i64,
                ..delivery.clone()
            };
            tracing::info!(delivery_id = %delivery.delivery_id, %receiver, wait_s = wait, "receiver cooling off after no answer; delivery deferred");
            return Ok(self
                .services
                .deliveries
                .send(&later, Duration::from_secs(wait))
                .await?);
        }
        let Some(blob) = self.services.blobs.get(&delivery.body_key).await? else {
            tracing::error!(delivery_id = %delivery.delivery_id, key = %delivery.body_key, "event body missing");
            return Ok(());
        };
        let started = Instant::now();
        let sent = self.send(&sub, &delivery, now, blob.bytes.to_vec()).await;
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
        let mut cooling = self.cooling.lock().ok()?;
        let now = self.services.clock.now();
        cooling.retain(|_, until| *until > now);
        cooling
            .get(receiver)
            .and_then(|until| Duration::try_from(*until - now).ok())
    }

    /// `receiver` gave no answer or could not be reached: its deliveries wait twice the
    /// receiver's time limit before this dispatcher tries it again.
    fn cool(&self, receiver: String) {
        let off = self.services.config.webhooks.timeout * 2;
        let until = self.services.clock.now() + off;
        if let Ok(mut cooling) = self.cooling.lock() {
            cooling.insert(receiver, until);
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
        let Some(signature) = sign(&sub.secret, d.delivery_id.as_str(), ts, &body) else {
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
                retry_after: resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok()),
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
    use horizon_app::ports::Along;
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
            (deferred.delivery_id, deferred.attempt),
            (second.delivery_id.clone(), 1)
        );
        assert!((1..=2).contains(&delay.as_secs()), "{delay:?}");

        // After the cool-off it is attempted.
        memory.clock.advance(time::Duration::seconds(3));
        horizon_runtime::lambda::run_batch(&dispatcher, event(&second)).await;
        assert!(memory
            .services
            .delivery_log
            .recorded(&second)
            .await
            .unwrap());
    }
}
