//! The single-page app's files, embedded in the function.

use horizon_domain::Error;
use horizon_runtime::http::{self, ApiResult, Param};
use lambda_http::{Body, Response};

const INDEX: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");
const DOCUMENT_JS: &str = include_str!("../assets/document.js");
const PLAYGROUND: &str = include_str!("../assets/playground.html");
const PLAYGROUND_JS: &str = include_str!("../assets/playground.js");

/// The app: every view path serves the same page. It talks to its own origin only.
pub fn page() -> Response<Body> {
    html(INDEX, "'self'")
}

/// The playground for API users: open to all (it asks for an API key, and speaks only the
/// public API with it). Besides its origin it sends large files to presigned S3 URLs, and
/// follows a large document's Markdown to one.
pub async fn playground() -> Response<Body> {
    html(
        PLAYGROUND,
        "'self' https: http://localhost:* http://127.0.0.1:*",
    )
}

fn html(page: &'static str, connect: &str) -> Response<Body> {
    let mut resp = http::with_body(200, "text/html; charset=utf-8", Body::Text(page.into()));
    http::set_header(&mut resp, "cache-control", "no-store");
    // Scripts and styles of this origin only; pictures may be blob URLs (pages drawn from the API).
    http::set_header(
        &mut resp,
        "content-security-policy",
        &format!(
            "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; \
             connect-src {connect}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        ),
    );
    resp
}

/// One of the app's scripts or styles.
pub async fn asset(Param(name): Param<String>) -> ApiResult<Response<Body>> {
    let (body, content_type) = match name.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        "document.js" => (DOCUMENT_JS, "text/javascript; charset=utf-8"),
        "playground.js" => (PLAYGROUND_JS, "text/javascript; charset=utf-8"),
        other => return Err(Error::NotFound(format!("no asset {other:?}")).into()),
    };
    let mut resp = http::with_body(200, content_type, Body::Text(body.into()));
    http::set_header(&mut resp, "cache-control", "no-cache");
    Ok(resp)
}
