//! The adapters' contract: what every implementation of a port must do, as the handlers rely on
//! it. The same checks run against the in-memory adapters (`tests/contracts.rs`, no stack
//! needed) and against DynamoDB and S3 on the local stack (the e2e test `contracts`), so the fast
//! unit tests stand on adapters that behave like the real ones.
//!
//! Every check makes its own account and ids, so it can run on a shared table beside other
//! tests. A broken promise panics with what differed.

use bytes::Bytes;
use horizon_app::ports::{
    AccountStore, Along, BlobStore, Counts, DashboardStore, IdempotencyKey, JobFilter, JobMeasure,
    JobStore, MetricsStore, StoreError, UploadStore,
};
use horizon_app::Services;
use horizon_domain::keys::new_key;
use horizon_domain::{
    AccountId, EventType, Job, JobError, JobId, JobStatus, JobType, KeyId, Subscription, Upload,
    UploadId, WebhookId,
};
use time::{Duration, OffsetDateTime};

/// Every check, on the adapters behind `services`.
pub async fn all(services: &Services) {
    let now = services.clock.now();
    job_store(&*services.jobs, now).await;
    account_store(&*services.accounts, now).await;
    upload_store(&*services.uploads, now).await;
    blob_store(&*services.blobs).await;
    dashboard_store(&*services.dashboard, &*services.jobs, now).await;
    metrics_store(&*services.metrics, &*services.dashboard, now).await;
}

/// Counts are added once per write, however often and in whatever company they come: a batch
/// may hold writes that add to the same time bucket (an arrival and a finish) and a write
/// applied already.
pub async fn metrics_store(
    metrics: &dyn MetricsStore,
    dashboard: &dyn DashboardStore,
    now: OffsetDateTime,
) {
    let kind = format!("contract{}", ulid::Ulid::new()).to_lowercase();
    let account = fresh_account();
    let write = |version: u64, tally: Option<(&'static str, i64)>, failed: bool| Counts {
        job: JobId::new(now),
        version,
        keep_until: now + Duration::hours(1),
        tally: tally.map(|(field, gauge)| (field, now, gauge)),
        measure: Some((
            kind.clone(),
            format!("{kind}-queue"),
            JobMeasure {
                failed,
                runtime_ms: 100,
                wait_ms: 10,
            },
        )),
        active: tally.map(|(_, gauge)| (account.clone(), gauge)),
        processing: None,
    };
    let arrived = write(1, Some(("pushed", 1)), false);
    let finished = write(3, Some(("completed", -1)), false);
    let failed = write(3, Some(("failed", -1)), true);
    let batch = [
        arrived.clone(),
        finished.clone(),
        failed.clone(),
        arrived.clone(),
    ];
    assert_eq!(ok("apply a batch", metrics.apply(&batch).await), 3);
    assert_eq!(ok("apply it again", metrics.apply(&batch).await), 0);
    let later = write(2, None, false);
    assert_eq!(
        ok(
            "apply with one applied",
            metrics.apply(&[finished, later]).await
        ),
        1
    );
    let counters = ok("counters", dashboard.counters().await);
    let mine = counters
        .iter()
        .find(|c| c.metric.name == kind)
        .expect("the job type's counter");
    assert_eq!((mine.processed, mine.failed, mine.runtime_ms), (4, 1, 400));
    // The account's active jobs: one arrived, two finished (each applied once), so the count
    // went below zero (drift the reconciler repairs): it reads as none.
    assert_eq!(ok("active jobs", metrics.active_jobs(&account).await), 0);
}

/// An account no other test uses.
fn fresh_account() -> AccountId {
    AccountId(format!("acct_contract{}", ulid::Ulid::new()).to_lowercase())
}

fn job(account: &AccountId, now: OffsetDateTime, job_type: JobType) -> Job {
    Job::new_queued(
        JobId::new(now),
        job_type,
        account.clone(),
        UploadId::new(now),
        now,
        Duration::hours(1),
    )
}

fn ok<T, E: std::fmt::Display>(what: &str, r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Creating, reading and the version-checked replace; listing an account's jobs newest first,
/// filtered, in pages; idempotency keys.
pub async fn job_store(jobs: &dyn JobStore, now: OffsetDateTime) {
    let account = fresh_account();
    let first = job(&account, now, JobType::ExtractPdf);
    ok("create", jobs.create(&first, Along::Nothing).await);
    let read = ok("get", jobs.get(first.id()).await);
    assert_eq!(
        read.as_ref(),
        Some(&first),
        "a created job reads back as written"
    );
    assert!(
        matches!(
            jobs.create(&first, Along::Nothing).await,
            Err(StoreError::Conflict(_))
        ),
        "creating an existing id is a Conflict"
    );
    assert_eq!(ok("get unknown", jobs.get(&JobId::new(now)).await), None);

    // Replace: only over the version it read, and only once per version.
    let claimed = ok("claim", first.claimed(now, Duration::seconds(90)));
    assert_eq!(claimed.version(), first.version() + 1);
    ok("replace", jobs.replace(&claimed).await);
    assert_eq!(ok("get", jobs.get(first.id()).await), Some(claimed.clone()));
    assert!(
        matches!(jobs.replace(&claimed).await, Err(StoreError::Stale(_))),
        "a second write over the same version is Stale"
    );
    let failed = ok(
        "fail",
        claimed.failed(JobError::new("contract", "a test failure"), now),
    );
    ok("replace again", jobs.replace(&failed).await);
    let stored = ok("get", jobs.get(first.id()).await).expect("the job");
    assert_eq!(stored.status(), JobStatus::Failed);
    assert_eq!(
        stored.error(),
        failed.error(),
        "the error is stored with the job"
    );

    // List: newest first, only the account's, filtered, in pages that join up.
    let later = now + Duration::milliseconds(5);
    let second = job(&account, later, JobType::ExtractImage).as_requested(
        vec!["contract".to_owned()],
        None,
        Default::default(),
        Vec::new(),
    );
    ok("create second", jobs.create(&second, Along::Nothing).await);
    ok(
        "another account's job",
        jobs.create(
            &job(&fresh_account(), later, JobType::ExtractPdf),
            Along::Nothing,
        )
        .await,
    );
    let all = JobFilter::default();
    let (page, next) = ok("list", jobs.list(&account, &all, None, 10).await);
    let ids: Vec<&JobId> = page.iter().map(|j| j.id()).collect();
    assert_eq!(
        ids,
        [second.id(), first.id()],
        "the account's jobs, newest first"
    );
    assert_eq!(next, None, "no next page after the last");
    let (page, next) = ok("first page", jobs.list(&account, &all, None, 1).await);
    assert_eq!(page.len(), 1);
    let next = next.expect("a cursor while jobs remain");
    let (rest, _) = ok(
        "second page",
        jobs.list(&account, &all, Some(&next), 1).await,
    );
    assert_eq!(
        rest.first().map(|j| j.id()),
        Some(first.id()),
        "pages join up"
    );
    for (filter, want) in [
        (
            JobFilter {
                status: Some(JobStatus::Failed),
                ..JobFilter::default()
            },
            first.id(),
        ),
        (
            JobFilter {
                job_type: Some(JobType::ExtractImage),
                ..JobFilter::default()
            },
            second.id(),
        ),
        (
            JobFilter {
                tag: Some("contract".to_owned()),
                ..JobFilter::default()
            },
            second.id(),
        ),
    ] {
        let (page, _) = ok(
            "filtered list",
            jobs.list(&account, &filter, None, 10).await,
        );
        let ids: Vec<&JobId> = page.iter().map(|j| j.id()).collect();
        assert_eq!(ids, [want], "{filter:?}");
    }

    // Idempotency: a key is written with the job its request made, in one transaction; a second
    // job under a live key is refused and nothing of it is written.
    let until = now + Duration::hours(1);
    let owner = fresh_account(); // its own: the listing below counts the first account's jobs
    assert_eq!(ok("no key yet", jobs.idempotency(&owner, "k1").await), None);
    let keyed = job(&owner, now, JobType::ExtractPdf);
    let key = IdempotencyKey {
        account: owner.clone(),
        key: "k1".into(),
        request_hash: "h1".into(),
        expires_at: until,
    };
    ok(
        "create with key",
        jobs.create(&keyed, Along::Key(&key)).await,
    );
    let seen = ok("the key", jobs.idempotency(&owner, "k1").await).expect("its record");
    assert_eq!(
        (seen.request_hash.as_str(), &seen.job_id),
        ("h1", keyed.id())
    );
    let refused = job(&owner, now, JobType::ExtractPdf);
    assert!(matches!(
        jobs.create(&refused, Along::Key(&key)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(ok("refused job", jobs.get(refused.id()).await), None);
    let elsewhere = IdempotencyKey {
        account: fresh_account(),
        ..key.clone()
    };
    ok(
        "the same key in another account",
        jobs.create(&refused, Along::Key(&elsewhere)).await,
    );
    // A retry and its original's note land together, or neither does.
    let original = ok("read", jobs.get(keyed.id()).await).expect("the keyed job");
    let retry = job(&owner, now, JobType::ExtractPdf);
    let noted = original.touched(now);
    ok("retry", jobs.create(&retry, Along::Replacing(&noted)).await);
    assert_eq!(ok("noted", jobs.get(keyed.id()).await), Some(noted.clone()));
    let late = job(&owner, now, JobType::ExtractPdf);
    assert!(matches!(
        jobs.create(&late, Along::Replacing(&noted)).await,
        Err(StoreError::Stale(_))
    ));
    assert_eq!(ok("late retry", jobs.get(late.id()).await), None);

    // Deleting: gone at once, from reads and lists, and deleting again is no error.
    ok("delete", jobs.delete(second.id()).await);
    assert_eq!(ok("get deleted", jobs.get(second.id()).await), None);
    ok("delete again", jobs.delete(second.id()).await);
    let (page, _) = ok(
        "list after delete",
        jobs.list(&account, &all, None, 10).await,
    );
    assert_eq!(
        page.iter().map(|j| j.id()).collect::<Vec<_>>(),
        [first.id()]
    );
}

/// API keys by hash, revoked only by their owner; account webhooks.
pub async fn account_store(accounts: &dyn AccountStore, now: OffsetDateTime) {
    let account = fresh_account();
    let (_, key) = ok("new key", new_key(account.clone(), now));
    ok("put key", accounts.put_key(&key).await);
    assert_eq!(
        ok("by hash", accounts.key_by_hash(&key.hash).await),
        Some(key.clone())
    );
    assert_eq!(ok("unknown hash", accounts.key_by_hash("00").await), None);
    assert!(
        !ok(
            "revoke by another",
            accounts.revoke_key(&key.id, Some(&fresh_account())).await
        ),
        "only the owner revokes a key"
    );
    assert!(ok(
        "revoke",
        accounts.revoke_key(&key.id, Some(&account)).await
    ));
    let revoked = ok("by hash", accounts.key_by_hash(&key.hash).await).expect("still stored");
    assert!(revoked.revoked, "a revoked key reads as revoked");
    assert!(!ok(
        "revoke unknown",
        accounts.revoke_key(&KeyId::new(now), None).await
    ));

    let sub = Subscription {
        id: WebhookId::new(now),
        url: "https://example.com/hook".to_owned(),
        events: vec![EventType::Completed],
        secret: "whsec_contract".to_owned(),
        created_at: "2026-01-01T00:00:00Z".to_owned(),
        disabled: false,
        previous: None,
    };
    ok("put webhook", accounts.put_webhook(&account, &sub).await);
    assert_eq!(
        ok("webhooks", accounts.webhooks(&account).await),
        std::slice::from_ref(&sub)
    );
    assert!(ok("others'", accounts.webhooks(&fresh_account()).await).is_empty());
    assert_eq!(
        ok("one webhook", accounts.webhook(&account, &sub.id).await),
        Some(sub.clone())
    );
    assert_eq!(
        ok(
            "another's",
            accounts.webhook(&fresh_account(), &sub.id).await
        ),
        None
    );
    let disabled = Subscription {
        disabled: true,
        ..sub.clone()
    };
    ok("update", accounts.update_webhook(&account, &disabled).await);
    assert_eq!(
        ok("webhooks", accounts.webhooks(&account).await),
        [disabled]
    );
    assert!(!ok(
        "delete by another",
        accounts.delete_webhook(&fresh_account(), &sub.id).await
    ));
    assert!(ok(
        "delete",
        accounts.delete_webhook(&account, &sub.id).await
    ));
    assert!(ok("webhooks", accounts.webhooks(&account).await).is_empty());
    assert_eq!(ok("gone", accounts.webhook(&account, &sub.id).await), None);
}

/// Upload records: pending until completed with what the bytes turned out to be.
pub async fn upload_store(uploads: &dyn UploadStore, now: OffsetDateTime) {
    let pending = Upload {
        id: UploadId::new(now),
        account: fresh_account(),
        pending: true,
        content_type: String::new(),
        size: 0,
        sha256: String::new(),
        filename: Some("scan.png".to_owned()),
        width: None,
        height: None,
        pages: None,
        created_at: now,
        expires_at: (now + Duration::hours(1))
            .replace_nanosecond(0)
            .unwrap_or(now),
    };
    ok("put", uploads.put(&pending).await);
    assert_eq!(
        ok("get", uploads.get(&pending.id).await),
        Some(pending.clone())
    );
    let ready = Upload {
        pending: false,
        content_type: "image/png".to_owned(),
        size: 1234,
        sha256: "ab".repeat(32),
        width: Some(40),
        height: Some(30),
        ..pending.clone()
    };
    ok("complete", uploads.complete(&ready).await);
    assert_eq!(ok("get", uploads.get(&pending.id).await), Some(ready));
    assert_eq!(
        ok("get unknown", uploads.get(&UploadId::new(now)).await),
        None
    );
    ok("delete", uploads.delete(&pending.id).await);
    assert_eq!(ok("get deleted", uploads.get(&pending.id).await), None);
    ok("delete again", uploads.delete(&pending.id).await);
}

/// Objects by key, whole or by inclusive byte range, with their content type.
pub async fn blob_store(blobs: &dyn BlobStore) {
    let key = format!("contract/{}", ulid::Ulid::new());
    let bytes = Bytes::from_static(b"0123456789");
    ok("put", blobs.put(&key, bytes.clone(), "text/plain").await);
    let blob = ok("get", blobs.get(&key).await).expect("the object");
    assert_eq!(blob.bytes, bytes);
    assert_eq!(blob.content_type.as_deref(), Some("text/plain"));
    let part = ok("range", blobs.get_range(&key, 2, 5).await).expect("the range");
    assert_eq!(&part.bytes[..], b"2345", "ranges include both ends");
    assert!(
        matches!(
            blobs.get_range(&key, 10, 12).await,
            Err(StoreError::Range(_))
        ),
        "a range that starts past the end is refused"
    );
    assert!(ok("missing", blobs.get(&format!("{key}-none")).await).is_none());
    // Deleting by prefix takes what is under it, and only that.
    let dir = format!("contract/{}/", ulid::Ulid::new());
    for name in ["a", "b", "c/d"] {
        ok(
            "put",
            blobs
                .put(&format!("{dir}{name}"), bytes.clone(), "text/plain")
                .await,
        );
    }
    assert_eq!(ok("delete prefix", blobs.delete_prefix(&dir).await), 3);
    assert!(ok("deleted", blobs.get(&format!("{dir}a")).await).is_none());
    assert_eq!(ok("nothing left", blobs.delete_prefix(&dir).await), 0);
    assert!(ok("others kept", blobs.get(&key).await).is_some());
    assert!(ok(
        "missing range",
        blobs.get_range(&format!("{key}-none"), 0, 1).await
    )
    .is_none());
}

/// Monitored tags and their jobs, paused queues.
pub async fn dashboard_store(
    dashboard: &dyn DashboardStore,
    jobs: &dyn JobStore,
    now: OffsetDateTime,
) {
    let tag = format!("contract-{}", ulid::Ulid::new()).to_lowercase();
    ok("monitor", dashboard.monitor(&tag, now).await);
    let monitored = ok("monitored", dashboard.monitored().await);
    assert!(monitored.iter().any(|(t, _)| *t == tag), "{monitored:?}");
    let account = fresh_account();
    let tagged = job(&account, now, JobType::ExtractPdf);
    ok("create", jobs.create(&tagged, Along::Nothing).await);
    ok(
        "tag job",
        dashboard
            .tag_job(&tag, tagged.id(), now + Duration::hours(1))
            .await,
    );
    let since = (now - Duration::minutes(1)).unix_timestamp() * 1000;
    assert_eq!(
        ok("tagged count", dashboard.tagged_count(&tag, since).await),
        1
    );
    let (ids, more) = ok("tagged", dashboard.tagged(&tag, since, None, 10).await);
    assert_eq!((ids, more), (vec![tagged.id().clone()], false));
    let later = (now + Duration::minutes(1)).unix_timestamp() * 1000;
    assert_eq!(
        ok(
            "tagged count since later",
            dashboard.tagged_count(&tag, later).await
        ),
        0,
        "only jobs created since the instant count"
    );
    let read = ok(
        "jobs",
        dashboard.jobs(std::slice::from_ref(tagged.id())).await,
    );
    assert_eq!(
        read.iter().map(|j| j.id()).collect::<Vec<_>>(),
        [tagged.id()]
    );
    assert!(ok("unmonitor", dashboard.unmonitor(&tag).await));
    let monitored = ok("monitored", dashboard.monitored().await);
    assert!(!monitored.iter().any(|(t, _)| *t == tag), "{monitored:?}");
    assert!(!ok("unmonitor again", dashboard.unmonitor(&tag).await));

    let queue = format!("contract-{}", ulid::Ulid::new()).to_lowercase();
    ok("pause", dashboard.set_paused(&queue, true).await);
    assert!(ok("paused", dashboard.paused().await).contains(&queue));
    ok("resume", dashboard.set_paused(&queue, false).await);
    assert!(!ok("paused", dashboard.paused().await).contains(&queue));
}
