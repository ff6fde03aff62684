//! The job API under `/v1`: start an extraction job, read its status and result.
//!
//! - `POST /v1/extract/pdf` `{uploadId}` → `202` with the job and a `Location` header
//! - `GET /v1/jobs/{jobId}` → the job, in the seed's shape

use std::str::FromStr;

use horizon_shared::domain::{AccountId, Job, JobError, JobId, JobType, UploadId};
use horizon_shared::http::{self, parse_json, segments};
use horizon_shared::lambda::HttpHandler;
use horizon_shared::ports::WorkMessage;
use horizon_shared::views::{job_path, JobView};
use horizon_shared::{uploads, Error, Result, Services};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

pub struct JobsApi {
    services: Services,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExtractRequest {
    upload_id: String,
}

impl JobsApi {
    pub fn new(services: Services) -> Self {
        JobsApi { services }
    }
}

#[async_trait::async_trait]
impl HttpHandler for JobsApi {
    /// Answers one request; errors become problem+json responses here.
    async fn handle(&self, req: Request) -> Response<Body> {
        match self.route(&req).await {
            Ok(resp) => resp,
            Err(e) => http::problem(&e, req.uri().path()),
        }
    }
}

impl JobsApi {
    async fn route(&self, req: &Request) -> Result<Response<Body>> {
        let method = req.method().as_str();
        match segments(req).as_slice() {
            ["v1", "extract", "pdf"] => match method {
                "POST" => self.create_extract_job(req).await,
                _ => Err(Error::MethodNotAllowed("use POST".into())),
            },
            ["v1", "jobs", id] => match method {
                "GET" => self.get_job(req, id).await,
                _ => Err(Error::MethodNotAllowed("use GET".into())),
            },
            _ => Err(Error::NotFound(format!(
                "no route for {method} {}",
                req.uri().path()
            ))),
        }
    }

    async fn create_extract_job(&self, req: &Request) -> Result<Response<Body>> {
        let body: ExtractRequest = parse_json(req)?;
        let upload_id = UploadId::from_str(&body.upload_id)
            .map_err(|_| Error::field("uploadId", "is not a well-formed upload id (upl_...)"))?;
        let account = AccountId::default_account();
        let upload = uploads::resolve(&self.services, &upload_id, &account)
            .await
            .map_err(|e| match e {
                Error::NotFound(detail) => Error::unprocessable("uploadId", detail),
                other => other,
            })?;
        if upload.content_type != "application/pdf" {
            return Err(Error::unprocessable(
                "uploadId",
                format!(
                    "upload {upload_id} is {}; extract/pdf needs a PDF",
                    upload.content_type
                ),
            ));
        }
        let now = self.services.clock.now();
        let retention = time::Duration::try_from(self.services.config.retention)
            .unwrap_or(time::Duration::days(1));
        let job = Job::new_queued(
            JobId::new(now),
            JobType::ExtractPdf,
            account,
            upload_id,
            now,
            retention,
        );
        self.services.jobs.create(&job).await?;
        let message = WorkMessage {
            job_id: job.id.to_string(),
        };
        if let Err(e) = self.services.queue.enqueue(&message).await {
            // Never leave a job queued that no worker will see.
            let error = JobError::new(
                "enqueue_failed",
                "the job could not be queued; submit it again",
            );
            if let Ok(failed) = job.failed(error, self.services.clock.now()) {
                let _ = self.services.jobs.replace(&failed).await;
            }
            return Err(e);
        }
        tracing::info!(job_id = %job.id, upload_id = %job.upload_id, "job queued");
        let base = http::base_url(req, &self.services.config);
        let mut resp = http::json(202, &JobView::of(&job, &base));
        http::set_header(&mut resp, "location", &job_path(&job));
        http::set_header(&mut resp, "retry-after", "1");
        Ok(resp)
    }

    async fn get_job(&self, req: &Request, id: &str) -> Result<Response<Body>> {
        let id = JobId::from_str(id)?;
        let account = AccountId::default_account();
        let job = self
            .services
            .jobs
            .get(&id)
            .await?
            .filter(|j| j.account == account)
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "no job {id}; jobs are kept for {} hours, so it may have expired",
                    self.services.config.retention.as_secs() / 3600
                ))
            })?;
        let base = http::base_url(req, &self.services.config);
        Ok(http::json(200, &JobView::of(&job, &base)))
    }
}
