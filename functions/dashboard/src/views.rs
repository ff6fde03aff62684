//! The single-page app's files, embedded in the function.

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Response};
use horizon_domain::Error;
use horizon_runtime::http::{ApiResult, Param};

const INDEX: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");
const DOCUMENT_JS: &str = include_str!("../assets/document.js");
const PLAYGROUND: &str = include_str!("../assets/playground.html");
const PLAYGROUND_JS: &str = include_str!("../assets/playground.js");
/// The TypeScript client as built (`clients/typescript`): the playground speaks to the API
/// through it.
const CLIENT_JS: &str = include_str!("../../../clients/typescript/dist/index.js");

/// A page of the app, with what it may connect to (its `Content-Security-Policy`).
pub struct Page {
    html: &'static str,
    connect: &'static str,
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        // Scripts and styles of this origin only; pictures may be blob URLs (pages drawn from
        // the API).
        let policy = format!(
            "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; \
             connect-src {}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            self.connect
        );
        (
            [
                (CACHE_CONTROL, "no-store".to_owned()),
                (CONTENT_SECURITY_POLICY, policy),
            ],
            Html(self.html),
        )
            .into_response()
    }
}

/// The app: every view path serves the same page. It talks to its own origin only.
pub fn page() -> Page {
    Page {
        html: INDEX,
        connect: "'self'",
    }
}

/// The playground for API users: open to all (it asks for an API key, and speaks only the
/// public API with it). Besides its origin it sends large files to presigned S3 URLs, and
/// follows a large document's Markdown to one.
pub async fn playground() -> Page {
    Page {
        html: PLAYGROUND,
        connect: "'self' https: http://localhost:* http://127.0.0.1:*",
    }
}

/// One of the app's scripts or styles.
pub struct Asset {
    body: &'static str,
    content_type: &'static str,
}

impl IntoResponse for Asset {
    fn into_response(self) -> Response {
        (
            [
                (CONTENT_TYPE, self.content_type),
                (CACHE_CONTROL, "no-cache"),
            ],
            self.body,
        )
            .into_response()
    }
}

/// One of the app's scripts or styles, by name.
pub async fn asset(Param(name): Param<String>) -> ApiResult<Asset> {
    let (body, content_type) = match name.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        "document.js" => (DOCUMENT_JS, "text/javascript; charset=utf-8"),
        "playground.js" => (PLAYGROUND_JS, "text/javascript; charset=utf-8"),
        "horizon-client.js" => (CLIENT_JS, "text/javascript; charset=utf-8"),
        other => return Err(Error::NotFound(format!("no asset {other:?}")).into()),
    };
    Ok(Asset { body, content_type })
}
