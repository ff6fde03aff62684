//! Job events for webhooks: when a job reaches a state with subscribers, one delivery per
//! matching subscription goes on the dispatch queue. The body of an event is written once (to
//! S3) and is the same bytes on every attempt; deliveries are signed per Standard Webhooks.

use bytes::Bytes;

use crate::services::Services;
use horizon_api::views::{ChunkPage, JobView};
use horizon_domain::error::{Error, Result};
use horizon_domain::{rfc3339, Job};

pub use horizon_domain::deliveries::{
    delivery_id, event_for, sign, Attempt, DeliveryMessage, Scope, Then,
};

/// Queues the deliveries of `job`'s current status to its subscribers (the job's own and its
/// account's). The body is `{type, timestamp, data}` where `data` is exactly what
/// `GET /v1/jobs/{jobId}` returns at this moment.
pub async fn emit(services: &Services, job: &Job) -> Result<usize> {
    let Some(event) = event_for(job.status()) else {
        return Ok(0);
    };
    let account_subs = services.accounts.webhooks(job.account()).await?;
    let targets: Vec<(Scope, &horizon_domain::Subscription)> = job
        .webhooks()
        .iter()
        .map(|s| (Scope::Job, s))
        .chain(account_subs.iter().map(|s| (Scope::Account, s)))
        .filter(|(_, s)| !s.disabled && s.events.contains(&event))
        .collect();
    deliver(services, job, event, &targets).await
}

/// A subscription added to a job that has already finished: the job's terminal event goes to
/// it alone, at once, like any other delivery (signed, retried, in the delivery log).
pub async fn emit_to(
    services: &Services,
    job: &Job,
    subscription: &horizon_domain::Subscription,
) -> Result<usize> {
    match event_for(job.status()) {
        Some(event) if !subscription.disabled && subscription.events.contains(&event) => {
            deliver(services, job, event, &[(Scope::Job, subscription)]).await
        }
        _ => Ok(0),
    }
}

/// Writes the event's body once and queues one delivery per target.
async fn deliver(
    services: &Services,
    job: &Job,
    event: horizon_domain::EventType,
    targets: &[(Scope, &horizon_domain::Subscription)],
) -> Result<usize> {
    if targets.is_empty() {
        return Ok(0);
    }
    let first_page = match &job.result() {
        Some(r) => {
            let chunks = services
                .results
                .chunks(job.id(), r.chunk_count, 0, 100)
                .await?;
            Some(ChunkPage::of(chunks, 0, r.chunk_count))
        }
        None => None,
    };
    let base = services.config.api.public_url.clone().unwrap_or_default();
    let now = services.clock.now();
    // The body is a function of the job's version (its time is the write's), so that an event
    // emitted again from the same write is the same bytes under the same delivery ids.
    let body = serde_json::json!({
        "type": event.as_str(),
        "timestamp": rfc3339(job.updated_at()),
        "data": JobView::of(job, &base, first_page),
    });
    let body_key = format!(
        "{}{}-{}.json",
        bodies_prefix(job.id()),
        event.as_str(),
        job.version()
    );
    services
        .blobs
        .put(&body_key, Bytes::from(body.to_string()), "application/json")
        .await?;
    for (scope, sub) in targets {
        let message = DeliveryMessage {
            delivery_id: delivery_id(job.id(), job.created_at(), event, job.attempts(), &sub.id),
            job_id: job.id().clone(),
            account: job.account().clone(),
            subscription_id: sub.id.clone(),
            scope: *scope,
            event,
            body_key: body_key.clone(),
            attempt: 1,
            not_before: now.unix_timestamp(),
            replay: 0,
            deferred: 0,
        };
        services
            .deliveries
            .send(&message, std::time::Duration::ZERO)
            .await?;
    }
    tracing::info!(job_id = %job.id(), event = event.as_str(), deliveries = targets.len(), "webhook deliveries queued");
    Ok(targets.len())
}

/// Where the bodies of a job's events are kept in the blob store.
pub fn bodies_prefix(job: &horizon_domain::JobId) -> String {
    format!("events/{job}/")
}

/// Sends delivery `delivery` of `job` again, as a new first attempt with the same `webhook-id`,
/// in a new round of attempts logged apart from the earlier ones. `404` for a delivery the job
/// never had.
pub async fn replay(services: &Services, job: &Job, delivery: &str) -> Result<()> {
    let attempts = services.delivery_log.attempts(job.id()).await?;
    let message = attempts
        .iter()
        .rev()
        .filter(|a| a.delivery_id == delivery)
        .find_map(|a| a.message.clone())
        .ok_or_else(|| Error::NotFound(format!("no delivery {delivery} of job {}", job.id())))?;
    let rounds = attempts
        .iter()
        .filter(|a| a.delivery_id == delivery)
        .map(|a| a.replay)
        .max()
        .unwrap_or(0);
    let replay = DeliveryMessage {
        attempt: 1,
        not_before: services.clock.now().unix_timestamp(),
        replay: rounds + 1,
        deferred: 0,
        ..message
    };
    services
        .deliveries
        .send(&replay, std::time::Duration::ZERO)
        .await?;
    Ok(())
}
