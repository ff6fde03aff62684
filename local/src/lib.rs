//! The local runner: the whole service on one machine, through the very handlers the Lambda
//! functions run.
//!
//! - HTTP: every route on one address (default `127.0.0.1:3000`), `/v1/...` to the job API,
//!   `/api/...` to uploads, `/horizon...` to the dashboard and `/docs` (the API reference) to the job API, as API Gateway routes them in AWS.
//!   Bound to loopback, the dashboard needs no credentials; otherwise it needs the admin key.
//! - Timers: the reaper and the metrics snapshot, as EventBridge schedules run them in AWS.
//! - SQS: pollers receive batches from each queue and call the worker handlers with real
//!   `SqsEvent`s, deleting only the messages not listed in `batchItemFailures`; the others come
//!   back after the queue's visibility timeout, exactly as Lambda's event source mapping behaves.
//!   Each poller sends a heartbeat while it runs, and stops receiving while its queue is paused.
//! - The job table's stream: read as Lambda's DynamoDB event source mapping reads it, handed to
//!   the job-events handler (every side effect of a job's write), see [`stream`].

pub mod fleet;
pub mod stream;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use horizon_app::Services;
use horizon_extract_worker::ExtractWorker;
use horizon_runtime::lambda::SqsHandler;
use horizon_webhook_dispatch::WebhookDispatcher;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use horizon_app::dashboard::{LOCAL_BATCH_SIZE as BATCH_SIZE, LOCAL_POLL_WAIT_SECONDS};

/// A running local service; dropping it does not stop it, [`Running::shutdown`] does.
pub struct Running {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting requests and polling, and waits for in-flight batches to finish.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Starts the HTTP server and the queue pollers: the whole service.
pub async fn start(services: Services) -> std::io::Result<Running> {
    start_parts(services, true, true).await
}

/// Starts only the HTTP server (jobs are queued, but nothing here consumes them).
pub async fn start_http(services: Services) -> std::io::Result<Running> {
    start_parts(services, true, false).await
}

/// Starts only the queue pollers, `config.local.workers` per queue.
pub async fn start_workers(services: Services) -> std::io::Result<Running> {
    start_parts(services, false, true).await
}

async fn start_parts(services: Services, http: bool, workers: bool) -> std::io::Result<Running> {
    let mut services = fleet::with_local_fleet(services);
    // The dashboard is open without credentials only on loopback (like Horizon's local
    // environment); anywhere else it needs the admin key.
    if services.config.local.bind.is_loopback() && !services.config.dashboard.open {
        let mut config = (*services.config).clone();
        config.dashboard.open = true;
        services.config = Arc::new(config);
    }
    let config = services.config.clone();
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut addr = SocketAddr::from((config.local.bind, 0));
    if http {
        // The three HTTP functions' routes, as API Gateway puts them behind one address.
        let app = horizon_runtime::http::service(
            as_function("jobs-api", horizon_jobs_api::routes(services.clone()))
                .merge(as_function(
                    "uploads",
                    horizon_uploads::routes(services.clone()),
                ))
                .merge(as_function(
                    "dashboard",
                    horizon_dashboard::routes(services.clone()),
                )),
        );
        let listener = TcpListener::bind((config.local.bind, config.local.port)).await?;
        addr = listener.local_addr()?;
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.changed().await;
            };
            // With each connection's peer: the dashboard limits failed sign-ins per client.
            let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(error = %e, "the HTTP server stopped");
            }
        }));
    }
    if workers {
        // Metered like every client: the pollers stand in for Lambda's event source mapping,
        // whose requests are billed too.
        let sqs = horizon_aws::sqs_client(&horizon_aws::sdk_config().await);
        let queues: [(&str, &str, Arc<dyn SqsHandler>); 2] = [
            (
                "extract-worker",
                &config.stack.extract_queue_url,
                Arc::new(ExtractWorker::new(services.clone())),
            ),
            (
                "webhook-dispatch",
                &config.stack.webhook_queue_url,
                Arc::new(WebhookDispatcher::new(services.clone())),
            ),
        ];
        tasks.push(tokio::spawn(stream::poll_stream(
            services.clone(),
            stopped.clone(),
        )));
        tasks.push(tokio::spawn(reap_every(services.clone(), stopped.clone())));
        tasks.push(tokio::spawn(snapshot_every(
            services.clone(),
            stopped.clone(),
        )));
        for (supervisor, url, handler) in queues {
            let crew = Arc::new(Crew::default());
            for n in 0..config.local.workers {
                tasks.push(tokio::spawn(poll_queue(
                    Poller {
                        sqs: sqs.clone(),
                        services: services.clone(),
                        supervisor,
                        instance: format!("{}-{n}", std::process::id()),
                        queue_url: url.to_owned(),
                        handler: handler.clone(),
                        lead: n == 0,
                        crew: crew.clone(),
                    },
                    stopped.clone(),
                )));
            }
        }
    }
    Ok(Running { addr, stop, tasks })
}

/// A function's routes, whose AWS requests are written down as that function's (the IAM test).
fn as_function(name: &'static str, routes: axum::Router) -> axum::Router {
    routes.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            horizon_aws::meter::as_function(name, next.run(request))
        },
    ))
}

/// The reaper on a timer, as EventBridge runs it in AWS (the extract worker's schedule).
async fn reap_every(services: Services, stopped: watch::Receiver<bool>) {
    let interval = services.config.jobs.reaper_interval;
    every(interval, stopped, "reaper", || async {
        let r = horizon_extract_worker::reaper::reap(&services).await?;
        if r.requeued + r.failed > 0 {
            tracing::info!(requeued = r.requeued, failed = r.failed, "reaper ran");
        }
        Ok(())
    })
    .await
}

/// The metrics snapshot (`HORIZON_SNAPSHOT_SECONDS`), then the reconciler of the kept counts,
/// on a timer, as EventBridge's `rate(5 minutes)` runs them in AWS; several runners take each
/// interval's snapshot once.
async fn snapshot_every(services: Services, stopped: watch::Receiver<bool>) {
    let interval = services.config.dashboard.snapshot_interval;
    every(
        interval,
        stopped,
        "metrics snapshot and reconciler",
        || async {
            horizon_app::dashboard::snapshot(&services).await?;
            let r = horizon_app::reconcile::reconcile(&services).await?;
            if r.repaired > 0 {
                tracing::info!(repaired = r.repaired, checked = r.checked, "reconciler ran");
            }
            Ok(())
        },
    )
    .await
}

/// Runs `task` every `interval` (not at start-up) as the extract worker's schedules run in AWS
/// (metered as that function), until `stopped`; a failed run is logged and the next one comes.
async fn every<F, Fut>(
    interval: std::time::Duration,
    mut stopped: watch::Receiver<bool>,
    what: &str,
    task: F,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = horizon_domain::Result<()>>,
{
    let mut timer = tokio::time::interval(interval);
    timer.tick().await; // not at start-up
    loop {
        tokio::select! {
            _ = timer.tick() => {}
            _ = stopped.changed() => return,
        }
        if let Err(e) = horizon_aws::meter::as_function("extract-worker", task()).await {
            tracing::warn!(error = %e, "{what} failed; it runs again later");
        }
    }
}

/// One polling loop of a worker (one of Horizon's processes).
pub struct Poller {
    pub sqs: aws_sdk_sqs::Client,
    pub services: Services,
    /// The worker function it stands in for, e.g. `extract-worker`.
    pub supervisor: &'static str,
    pub instance: String,
    pub queue_url: String,
    pub handler: Arc<dyn SqsHandler>,
    /// Whether it polls while its queue is empty. The others (of the same queue) wait after an
    /// empty receive until a poller that received work calls one of them in, or [`PARKED`] has
    /// passed, as an event source mapping scales down to one poller: an idle runner asks little
    /// of SQS.
    pub lead: bool,
    pub crew: Arc<Crew>,
}

/// How long a poller that is not the lead waits after an empty receive, unless work comes.
const PARKED: Duration = Duration::from_secs(15);

/// What the pollers of one queue share: the queue's pause, read for all of them at most every
/// 2 s while it is paused (to resume soon) and every 10 s while it runs (a batch received after
/// a pause goes straight back, so nothing waits on this read but the saving of a receive); and
/// the call to a parked poller when work comes.
#[derive(Default)]
pub struct Crew {
    paused: tokio::sync::Mutex<Option<(bool, std::time::Instant)>>,
    work: tokio::sync::Notify,
}

impl Crew {
    /// Whether the queue is paused, as last read (read again when that is old).
    async fn paused(&self, services: &Services, queue: &str) -> bool {
        let mut state = self.paused.lock().await;
        let stale = match *state {
            None => true,
            Some((paused, at)) => at.elapsed() >= Duration::from_secs(if paused { 2 } else { 10 }),
        };
        if stale {
            let known = state.map(|s| s.0);
            let now = match services.dashboard.paused().await {
                Ok(list) => list.iter().any(|q| q == queue),
                Err(_) => known.unwrap_or(false), // keep the last known state
            };
            *state = Some((now, std::time::Instant::now()));
        }
        state.is_some_and(|s| s.0)
    }

    /// A receive found the queue paused: the others stop at once too.
    async fn saw_pause(&self) {
        *self.paused.lock().await = Some((true, std::time::Instant::now()));
    }
}

/// One poller, as an event source mapping: receive a batch, hand it to the handler as an
/// `SqsEvent`, delete what succeeded; messages in `batchItemFailures` stay for redelivery. Sends
/// its heartbeat every few seconds; receives nothing while its queue is paused. Runs until
/// `stopped` turns true.
pub async fn poll_queue(poller: Poller, stopped: watch::Receiver<bool>) {
    let Poller {
        sqs,
        services,
        supervisor,
        instance,
        queue_url,
        handler,
        lead,
        crew,
    } = poller;
    let queue_name = queue_url.rsplit('/').next().unwrap_or("").to_owned();
    while !*stopped.borrow() {
        horizon_app::dashboard::beat(&services, supervisor, &queue_name, &instance).await;
        if crew.paused(&services, &queue_name).await {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        // A receive is never abandoned half-way: the queue would count its messages as delivered
        // and hide them for the visibility timeout. On shutdown the current long poll (at most
        // 2 s) finishes and its messages are handled.
        // As many messages as the handler takes at once, so that none waits behind another in
        // its batch (the extract worker's takes one, as its mapping's `BatchSize: 1`).
        let batch = (handler.concurrency() as i32).clamp(1, BATCH_SIZE);
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(batch)
            .wait_time_seconds(LOCAL_POLL_WAIT_SECONDS)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await;
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(queue = %queue_name, error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "receive failed; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if messages.is_empty() {
            if !lead {
                let mut stopping = stopped.clone();
                tokio::select! {
                    _ = crew.work.notified() => {}
                    _ = tokio::time::sleep(PARKED) => {}
                    _ = stopping.changed() => {}
                }
            }
            continue;
        }
        // Paused while this receive waited: its messages go back to the queue at once, so that
        // nothing sent after a pause is taken up, however late a poller reads the pause.
        if services
            .dashboard
            .paused()
            .await
            .is_ok_and(|list| list.contains(&queue_name))
        {
            crew.saw_pause().await;
            for m in &messages {
                if let Some(handle) = &m.receipt_handle {
                    let _ = sqs
                        .change_message_visibility()
                        .queue_url(&queue_url)
                        .receipt_handle(handle)
                        .visibility_timeout(0)
                        .send()
                        .await;
                }
            }
            continue;
        }
        // Work: one parked poller comes in to poll while this one handles the batch (and, if
        // it finds work too, calls in the next).
        crew.work.notify_one();
        let mut event = SqsEvent::default();
        event.records = messages
            .iter()
            .map(|m| to_event_message(m, &queue_name))
            .collect();
        // Under fault injection, some messages also go to a second worker at the same time, as
        // SQS's at-least-once delivery may hand one message to two consumers.
        for record in &event.records {
            if services
                .config
                .faults
                .strikes(horizon_app::faults::Fault::Duplicate)
            {
                let (h, mut twin) = (handler.clone(), SqsEvent::default());
                twin.records = vec![record.clone()];
                tokio::spawn(horizon_aws::meter::as_function(supervisor, async move {
                    horizon_runtime::lambda::run_batch(&*h, twin).await
                }));
            }
        }
        // Like a Lambda invocation, a handler that panics fails the whole batch.
        let h = handler.clone();
        let request_id = ulid::Ulid::new().to_string();
        let failed: HashSet<String> = match tokio::spawn(horizon_aws::meter::as_function(
            supervisor,
            async move { horizon_runtime::lambda::handle_batch(&*h, event, &request_id).await },
        ))
        .await
        {
            Ok(resp) => resp
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect(),
            Err(e) => {
                tracing::error!(queue = %queue_name, error = %e, "handler crashed; the whole batch will be redelivered");
                messages
                    .iter()
                    .filter_map(|m| m.message_id.clone())
                    .collect()
            }
        };
        let done: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| m.message_id.as_ref().is_some_and(|id| !failed.contains(id)))
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .set_receipt_handle(m.receipt_handle.clone())
                    .build()
                    .ok()
            })
            .collect();
        if !done.is_empty() {
            if let Err(e) = sqs
                .delete_message_batch()
                .queue_url(&queue_url)
                .set_entries(Some(done))
                .send()
                .await
            {
                // Not deleted means redelivered: the handlers are idempotent, so that is safe.
                tracing::warn!(queue = %queue_name, error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "delete failed; messages will be redelivered");
            }
        }
    }
}

fn to_event_message(m: &Message, queue_name: &str) -> SqsMessage {
    let mut out = SqsMessage::default();
    out.message_id = m.message_id.clone();
    out.receipt_handle = m.receipt_handle.clone();
    out.body = m.body.clone();
    out.md5_of_body = m.md5_of_body.clone();
    out.attributes = m
        .attributes
        .iter()
        .flatten()
        .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
        .collect();
    out.event_source = Some("aws:sqs".to_owned());
    out.event_source_arn = Some(format!("arn:aws:sqs:local:000000000000:{queue_name}"));
    out
}
