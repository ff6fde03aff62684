//! The OpenAPI 3.1 document of `/v1` and `/api`, served at `/v1/openapi.json`: this base (title,
//! tags, security, shared schemas) with the operations of the job API's routes
//! ([`crate::api`]) and of the uploads function's ([`horizon_uploads::UploadsDoc`]), each
//! declared by its handler's `#[utoipa::path]`. Schemas are derived from the very types the
//! handlers serialise and parse.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use horizon_api::requests::{ExtractOptions, ExtractRequest, PresignRequest};
use horizon_api::schemas::{
    Attempt, BlockRef, Chunk, ChunkStrategy, Chunking, EventType, ExtractMode, FieldError,
    JobError, JobStatus, JobType, OcrMode, Problem, Progress, SelectionMark, SelectionState,
    TableCell,
};
use horizon_api::views::{
    ApiKeyView, ChunkPage, DeliveryLogView, JobList, JobView, PresignView, ReplayView, ResultView,
    SubscriptionView, UploadView, WebhookList,
};
use horizon_api::webhooks::WebhookInput;
use horizon_uploads::{Binary, UploadForm, UploadsDoc};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Horizon",
        description = "Asynchronous document extraction: upload a PDF or an image, start a job, \
            poll it (or receive a webhook) and read the document as typed chunks in reading order \
            (headings, paragraphs, lists, tables with their cells) or as Markdown; scans and images \
            are read with OCR. Errors are RFC 9457 problem details.",
        version = "1.0.0"
    ),
    components(schemas(
        JobView, ResultView, ChunkPage, JobList, Chunk, BlockRef, Chunking, ChunkStrategy, TableCell, SelectionMark, SelectionState, OcrMode, ExtractMode, JobError, Progress, JobStatus, JobType,
        EventType, ExtractRequest, ExtractOptions, WebhookInput, SubscriptionView, WebhookList,
        UploadView, PresignRequest, PresignView, Problem, FieldError, Binary, UploadForm,
        DeliveryLogView, Attempt, ApiKeyView, ReplayView
    )),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "jobs", description = "Extraction jobs"),
        (name = "webhooks", description = "Account-level webhook subscriptions"),
        (name = "keys", description = "The account's API keys: create another, revoke one"),
        (name = "uploads", description = "Uploads and retrieval")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some("An API key: Authorization: Bearer hzn_..."))
                        .build(),
                ),
            );
        }
    }
}

/// The whole document: the job API's operations, then the uploads function's.
pub fn document() -> &'static serde_json::Value {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let (_, mut doc) = crate::api().split_for_parts();
        doc.merge(UploadsDoc::openapi());
        serde_json::to_value(doc).unwrap_or_else(|e| {
            tracing::error!(error = %e, "OpenAPI document");
            serde_json::Value::Null
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The clients build their types from `clients/openapi.json`: it must be this document.
    /// `HORIZON_UPDATE_OPENAPI=1 cargo test -p horizon-jobs-api openapi` writes it anew.
    #[test]
    fn the_clients_copy_of_the_document_is_current() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients/openapi.json");
        let current = serde_json::to_string_pretty(document()).unwrap() + "\n";
        if std::env::var_os("HORIZON_UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &current).unwrap();
        }
        let copy = std::fs::read_to_string(&path).unwrap_or_default();
        let parsed: serde_json::Value = serde_json::from_str(&copy).unwrap_or_default();
        assert!(
            &parsed == document(),
            "clients/openapi.json is not the API's document: run HORIZON_UPDATE_OPENAPI=1 cargo test -p horizon-jobs-api openapi, then rebuild the TypeScript client (npm run build in clients/typescript)"
        );
    }

    #[test]
    fn the_document_states_the_one_tag_rule() {
        let text = document().to_string();
        let pattern = serde_json::to_string(horizon_domain::TAG_PATTERN).unwrap();
        assert!(text.contains(&pattern), "the tag pattern is not {pattern}");
    }

    #[test]
    fn the_document_is_openapi_3_1_with_every_operation() {
        let doc = document();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let mut ops: Vec<String> = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                ops.push(format!("{} {path}", method.to_uppercase()));
            }
        }
        ops.sort();
        let mut expected = vec![
            "POST /v1/extract/pdf",
            "POST /v1/extract/image",
            "POST /v1/extract/document",
            "GET /v1/jobs/{jobId}/markdown",
            "GET /v1/jobs/{jobId}/pages/{page}",
            "GET /v1/jobs",
            "GET /v1/jobs/{jobId}",
            "GET /v1/jobs/{jobId}/chunks",
            "POST /v1/jobs/{jobId}/cancel",
            "POST /v1/jobs/{jobId}/webhooks",
            "GET /v1/jobs/{jobId}/webhooks",
            "POST /v1/jobs/{jobId}/webhooks/deliveries/{deliveryId}/replay",
            "POST /v1/webhooks",
            "GET /v1/webhooks",
            "DELETE /v1/webhooks/{webhookId}",
            "POST /v1/webhooks/{webhookId}/rotate",
            "POST /v1/keys",
            "DELETE /v1/keys/{keyId}",
            "GET /v1/openapi.json",
            "POST /api/upload",
            "POST /api/uploads",
            "GET /api/images/{id}",
            "DELETE /api/uploads/{id}",
            "DELETE /v1/jobs/{jobId}",
        ];
        expected.sort();
        assert_eq!(ops, expected);
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
