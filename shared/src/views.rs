//! What clients see: the JSON shapes of the API (and, later, of webhook payloads).

use serde::Serialize;

use crate::domain::{rfc3339, Job, JobError, JobResult, JobStatus, JobType};

/// `GET /v1/jobs/{jobId}`, in the seed's shape: exactly these names, RFC 3339 UTC timestamps.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobView<'a> {
    pub job_id: String,
    pub job_type: JobType,
    pub status: JobStatus,
    pub created_at: String,
    pub updated_at: String,
    pub status_url: String,
    pub webhook_url: Option<String>,
    pub result: Option<&'a JobResult>,
    pub error: Option<&'a JobError>,
    pub events: Vec<String>,
}

impl<'a> JobView<'a> {
    /// The view of `job`, with links under `base_url` (scheme and host, no trailing slash).
    pub fn of(job: &'a Job, base_url: &str) -> Self {
        JobView {
            job_id: job.id.to_string(),
            job_type: job.job_type,
            status: job.status,
            created_at: rfc3339(job.created_at),
            updated_at: rfc3339(job.updated_at),
            status_url: format!("{base_url}{}", job_path(job)),
            webhook_url: None,
            result: job.result.as_ref(),
            error: job.error.as_ref(),
            events: Vec::new(),
        }
    }
}

/// The job's status resource path.
pub fn job_path(job: &Job) -> String {
    format!("/v1/jobs/{}", job.id)
}
