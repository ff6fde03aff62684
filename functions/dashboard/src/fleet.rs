//! The workers and their queues: the headline figures, each queue's load, the deployments and
//! their supervisors, and the operator's pause, continue and purge.

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use horizon_api::horizon::{
    MasterView, Periods, Purged, QueueLoad, QueueState, Stats, SupervisorConfig, SupervisorOptions,
    SupervisorView,
};
use horizon_app::dashboard::{self, ListName, MetricId, MetricKind, Search, Width};
use horizon_app::ports::QueueDepth;
use horizon_app::{jobs, Services};
use horizon_domain::{Error, JobError, JobStatus, Result};
use horizon_runtime::http::{ApiJson, ApiResult, Param};
use serde_json::json;

use crate::{audit, now_ms, Dash, Op, BULK_TIME};

/// The live workers, queues and their configuration, read once per request.
struct Fleet {
    supervisors: Vec<dashboard::Supervisor>,
    heartbeats: Vec<dashboard::Heartbeat>,
    depths: HashMap<String, QueueDepth>,
    /// Average seconds per job, per queue: this interval's counters, else the last snapshot.
    runtimes: HashMap<String, f64>,
    max_tries: HashMap<String, Option<u32>>,
}

impl Fleet {
    async fn read(s: &Services) -> Result<Fleet> {
        let since = now_ms(s) - dashboard::HEARTBEAT_TTL.as_millis() as i64;
        let (supervisors, heartbeats, counters) = tokio::try_join!(
            s.fleet.supervisors(),
            s.dashboard.heartbeats(since),
            s.dashboard.counters(),
        )?;
        let mut depths = HashMap::new();
        let mut runtimes = HashMap::new();
        let mut max_tries = HashMap::new();
        for sup in &supervisors {
            let (depth, tries) = tokio::try_join!(
                s.queues.depth(&sup.queue_url),
                s.queues.max_receive_count(&sup.queue_url)
            )?;
            depths.insert(sup.queue.clone(), depth);
            max_tries.insert(sup.queue.clone(), tries);
            let metric = MetricId {
                kind: MetricKind::Queue,
                name: sup.queue.clone(),
            };
            let runtime = match counters
                .iter()
                .find(|c| c.metric == metric && c.processed > 0)
            {
                Some(c) => c.runtime(),
                None => s
                    .dashboard
                    .snapshots(&metric)
                    .await?
                    .iter()
                    .rev()
                    .find(|snap| snap.throughput > 0)
                    .map(|snap| snap.runtime)
                    .unwrap_or(0.0),
            };
            runtimes.insert(sup.queue.clone(), runtime);
        }
        Ok(Fleet {
            supervisors,
            heartbeats,
            depths,
            runtimes,
            max_tries,
        })
    }

    fn processes(&self, queue: &str) -> u64 {
        self.heartbeats.iter().filter(|h| h.queue == queue).count() as u64
    }

    fn length(&self, queue: &str) -> u64 {
        self.depths
            .get(queue)
            .map(|d| d.visible + d.delayed)
            .unwrap_or(0)
    }

    fn wait(&self, queue: &str) -> u64 {
        dashboard::wait_seconds(
            self.length(queue),
            self.runtimes.get(queue).copied().unwrap_or(0.0),
            self.processes(queue),
        )
    }

    fn all_paused(&self) -> bool {
        !self.supervisors.is_empty() && self.supervisors.iter().all(|s| !s.enabled)
    }
}

pub async fn stats(State(s): Dash) -> ApiResult<ApiJson<Stats>> {
    let now = s.clock.now();
    let c = &s.config;
    let (rw, rfirst, _) = Width::window(c.dashboard.recent_minutes, now);
    let (fw, ffirst, _) = Width::window(c.dashboard.failed_minutes, now);
    let stored = async {
        Ok::<_, Error>(tokio::try_join!(
            s.dashboard.tallies(rw, rfirst),
            s.dashboard.tallies(fw, ffirst),
            s.dashboard.counters(),
            s.dashboard.last_snapshot_at(),
        )?)
    };
    let ((recent, failed, counters, last_snapshot), fleet) =
        tokio::try_join!(stored, Fleet::read(&s))?;
    // Jobs processed since the last snapshot, per minute since then (at least one minute).
    let job_counters: Vec<_> = counters
        .iter()
        .filter(|c| c.metric.kind == MetricKind::Job)
        .collect();
    let processed: u64 = job_counters.iter().map(|c| c.processed).sum();
    let since = last_snapshot.or_else(|| {
        job_counters
            .iter()
            .filter(|c| c.processed > 0)
            .map(|c| c.since_ms)
            .min()
    });
    let minutes = since
        .map(|ms| ((now_ms(&s) - ms) as f64 / 60_000.0).max(1.0))
        .unwrap_or(1.0);
    let jobs_per_minute = (processed as f64 / minutes * 100.0).round() / 100.0;

    let mut max_runtime: Option<(String, f64)> = None;
    let mut max_throughput: Option<(String, u64)> = None;
    for name in s.dashboard.metric_names(MetricKind::Queue).await? {
        let metric = MetricId {
            kind: MetricKind::Queue,
            name: name.clone(),
        };
        if let Some(last) = s.dashboard.snapshots(&metric).await?.pop() {
            if max_runtime.as_ref().is_none_or(|(_, r)| last.runtime > *r) {
                max_runtime = Some((name.clone(), last.runtime));
            }
            if max_throughput
                .as_ref()
                .is_none_or(|(_, t)| last.throughput > *t)
            {
                max_throughput = Some((name, last.throughput));
            }
        }
    }
    let worst = fleet
        .supervisors
        .iter()
        .map(|sup| (format!("sqs:{}", sup.queue), fleet.wait(&sup.queue)))
        .max_by_key(|(_, w)| *w);
    let status = if fleet.heartbeats.is_empty() {
        "inactive"
    } else if fleet.all_paused() {
        "paused"
    } else {
        "running"
    };
    Ok(ApiJson(Stats {
        jobs_per_minute,
        processes: fleet.heartbeats.len(),
        queue_with_max_runtime: max_runtime.map(|(n, _)| n),
        queue_with_max_throughput: max_throughput.map(|(n, _)| n),
        recent_jobs: recent.pushed,
        failed_jobs: failed.failed,
        recently_failed: failed.failed,
        status,
        wait: worst.into_iter().collect(),
        periods: Periods {
            recent_jobs: c.dashboard.recent_minutes,
            failed_jobs: c.dashboard.failed_minutes,
        },
        paused_masters: u8::from(status == "paused"),
    }))
}

pub async fn workload(State(s): Dash) -> ApiResult<ApiJson<Vec<QueueLoad>>> {
    let fleet = Fleet::read(&s).await?;
    let mut rows: Vec<QueueLoad> = fleet
        .supervisors
        .iter()
        .map(|sup| QueueLoad {
            name: sup.queue.clone(),
            length: fleet.length(&sup.queue),
            wait: fleet.wait(&sup.queue),
            processes: fleet.processes(&sup.queue),
            split_queues: None,
            paused: !sup.enabled,
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(ApiJson(rows))
}

pub async fn masters(State(s): Dash) -> ApiResult<ApiJson<BTreeMap<String, MasterView>>> {
    let fleet = Fleet::read(&s).await?;
    let config = &s.config;
    let mut names: Vec<String> = fleet.heartbeats.iter().map(|h| h.master.clone()).collect();
    names.push(config.dashboard.master.clone());
    names.sort();
    names.dedup();
    let mut masters = BTreeMap::new();
    for master in names {
        let beats: Vec<_> = fleet
            .heartbeats
            .iter()
            .filter(|h| h.master == master)
            .collect();
        // This deployment's supervisors come from its configuration; another deployment's only
        // from its heartbeats.
        let mut supervisors = Vec::new();
        let own = master == config.dashboard.master;
        for sup in fleet.supervisors.iter().filter(|_| own) {
            let live = beats.iter().filter(|h| h.supervisor == sup.name).count();
            supervisors.push(SupervisorView {
                name: format!("{master}:{}", sup.name),
                master: master.clone(),
                pid: beats
                    .iter()
                    .find(|h| h.supervisor == sup.name)
                    .map(|h| h.pid),
                status: if !sup.enabled {
                    "paused"
                } else if live == 0 {
                    "inactive"
                } else {
                    "running"
                },
                processes: BTreeMap::from([(format!("sqs:{}", sup.queue), live)]),
                options: SupervisorOptions {
                    queue: sup.queue.clone(),
                    connection: "sqs",
                    config: Some(SupervisorConfig {
                        balance: if config.stack.extract_function.is_some() {
                            "lambda"
                        } else {
                            "local-pollers"
                        },
                        max_processes: sup.max_processes,
                        min_processes: sup.min_processes,
                        max_tries: fleet.max_tries.get(&sup.queue).copied().flatten(),
                        timeout: sup.timeout,
                        memory: sup.memory,
                        sleep: sup.sleep,
                        batch_size: sup.batch_size,
                    }),
                },
            });
        }
        if !own {
            let mut by_sup: BTreeMap<(&str, &str), usize> = BTreeMap::new();
            for h in &beats {
                *by_sup.entry((&h.supervisor, &h.queue)).or_default() += 1;
            }
            for ((sup, queue), live) in by_sup {
                supervisors.push(SupervisorView {
                    name: format!("{master}:{sup}"),
                    master: master.clone(),
                    pid: None,
                    status: "running",
                    processes: BTreeMap::from([(format!("sqs:{queue}"), live)]),
                    options: SupervisorOptions {
                        queue: queue.to_owned(),
                        connection: "sqs",
                        config: None,
                    },
                });
            }
        }
        let status = if beats.is_empty() {
            "inactive"
        } else if own && fleet.all_paused() {
            "paused"
        } else {
            "running"
        };
        masters.insert(
            master.clone(),
            MasterView {
                environment: master.split(':').next().map(str::to_owned),
                pid: beats.first().map(|h| h.pid),
                name: master,
                status,
                supervisors,
            },
        );
    }
    Ok(ApiJson(masters))
}

pub async fn pause(
    State(s): Dash,
    axum::Extension(op): Op,
    Param(queue): Param<String>,
) -> ApiResult<ApiJson<QueueState>> {
    Ok(set_paused(&s, &op, queue, true).await?)
}

pub async fn resume(
    State(s): Dash,
    axum::Extension(op): Op,
    Param(queue): Param<String>,
) -> ApiResult<ApiJson<QueueState>> {
    Ok(set_paused(&s, &op, queue, false).await?)
}

async fn set_paused(
    s: &Services,
    op: &crate::Operator,
    queue: String,
    paused: bool,
) -> Result<ApiJson<QueueState>> {
    let known = s
        .fleet
        .supervisors()
        .await?
        .into_iter()
        .any(|sup| sup.queue == queue);
    if !known {
        return Err(Error::NotFound(format!(
            "no worker reads a queue {queue:?}"
        )));
    }
    s.fleet.set_paused(&queue, paused).await?;
    audit(
        op,
        if paused { "pause" } else { "continue" },
        json!({ "queue": queue }),
    );
    Ok(ApiJson(QueueState { queue, paused }))
}

/// Empties a queue: its jobs still queued fail as `purged` (their clients hear of it), then
/// every message goes (SQS's PurgeQueue). Jobs already processing finish.
pub async fn purge(
    State(s): Dash,
    axum::Extension(op): Op,
    Param(queue): Param<String>,
) -> ApiResult<ApiJson<Purged>> {
    let sup = s
        .fleet
        .supervisors()
        .await?
        .into_iter()
        .find(|sup| sup.queue == queue)
        .ok_or_else(|| Error::NotFound(format!("no worker reads a queue {queue:?}")))?;
    let depth = s.queues.depth(&sup.queue_url).await?;
    let messages = depth.visible + depth.delayed;
    // Messages first: SQS refuses a second purge within a minute, and then nothing changed.
    let started = std::time::Instant::now();
    let at_ms = now_ms(&s);
    s.queues.purge(&sup.queue_url).await?;
    audit(
        &op,
        "purge",
        json!({ "queue": queue, "messages": messages }),
    );
    // Then the jobs that waited in it (made before the purge, still queued) fail as purged: no
    // message will run them now.
    let mut cancelled = 0usize;
    let mut left = false;
    if sup.queue_url == s.config.stack.extract_queue_url {
        let waiting = Search {
            status: Some(JobStatus::Queued),
            until_ms: Some(at_ms + 1),
            ..Search::default()
        };
        let mut after: Option<String> = None;
        loop {
            let (page, next) = s
                .dashboard
                .list(ListName::Pending, None, &waiting, after.as_deref(), 100)
                .await?;
            for (job, _) in page {
                let error = JobError::new(
                    "purged",
                    format!("the queue {queue} was purged by an operator before the job ran"),
                );
                match jobs::cancel(&s, job.id(), error, |j| {
                    j.ok_or_else(|| Error::NotFound("gone".into()))
                })
                .await
                {
                    Ok(_) => cancelled += 1,
                    // It started, finished or went meanwhile: nothing to purge.
                    Err(Error::Conflict(_) | Error::NotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            match next {
                Some(_) if started.elapsed() > BULK_TIME => {
                    left = true;
                    break;
                }
                Some(cursor) => after = Some(cursor),
                None => break,
            }
        }
    }
    audit(
        &op,
        "purge-jobs",
        json!({ "queue": queue, "jobsFailed": cancelled, "more": left }),
    );
    Ok(ApiJson(Purged {
        queue,
        messages,
        jobs_failed: cancelled,
        more: left,
    }))
}
