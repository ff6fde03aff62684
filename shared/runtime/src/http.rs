//! HTTP helpers shared by the API functions: JSON in and out, problem+json errors, links.

use lambda_http::http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use horizon_app::config::Config;
use horizon_app::ports::StoreError;
use horizon_app::Services;
use horizon_domain::error::{Error, Result};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A handler's error on its way out: the domain's [`Error`], carried by the response until
/// [`service`]'s problem layer renders it as problem+json with the request's path (once, and
/// logged there when it is the server's fault).
#[derive(Debug)]
pub struct ApiError(pub Error);

/// What a handler returns.
pub type ApiResult<T> = std::result::Result<T, ApiError>;

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        ApiError(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError(e.into())
    }
}

impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let mut resp = axum::response::Response::new(axum::body::Body::empty());
        resp.extensions_mut()
            .insert(Failure(std::sync::Arc::new(self.0)));
        resp
    }
}

/// The error a response carries to the problem layer.
#[derive(Clone)]
struct Failure(std::sync::Arc<Error>);

/// A response with the given status, content type and body.
pub fn with_body(status: u16, content_type: &str, body: Body) -> Response<Body> {
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(CONTENT_TYPE, v);
    }
    resp
}

/// Adds a header; values that are not valid header text are skipped (and logged), never a panic.
pub fn set_header(resp: &mut Response<Body>, name: &'static str, value: &str) {
    match HeaderValue::from_str(value) {
        Ok(v) => {
            resp.headers_mut().insert(HeaderName::from_static(name), v);
        }
        Err(_) => tracing::warn!(header = name, "skipping a header value that is not valid"),
    }
}

/// The error as an RFC 9457 `application/problem+json` response about `instance` (the request
/// path). Server-side errors are logged here, once, with their detail.
pub fn problem(err: &Error, instance: &str) -> Response<Body> {
    let p = err.problem(instance);
    if p.status >= 500 {
        tracing::error!(error = %err, path = instance, "request failed");
    }
    let text = serde_json::to_string(&p).unwrap_or_else(|_| {
        format!(
            r#"{{"title":"Internal Server Error","status":{}}}"#,
            p.status
        )
    });
    let mut resp = with_body(p.status, PROBLEM_JSON, Body::Text(text));
    match err {
        Error::TooManyRequests { retry_after, .. } => {
            set_header(&mut resp, "retry-after", &retry_after.to_string())
        }
        _ if p.status == 503 => set_header(&mut resp, "retry-after", "5"),
        _ => {}
    }
    if let Error::MethodNotAllowed(allowed) = err {
        set_header(&mut resp, "allow", allowed);
    }
    if p.status == 401 {
        set_header(&mut resp, "www-authenticate", r#"Bearer realm="horizon""#);
    }
    resp
}

/// `bytes` parsed as a JSON object into `T`; a malformed body is a `400` naming the field.
pub fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::field("body", "is empty; a JSON object is expected"));
    }
    // Every request body of this API is an object; serde would also read a struct from an
    // array, by position, which no client means.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Error::field("body", "must be a JSON object"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        // "missing field `uploadId` at line 1 column 2": the field is named in the message.
        let field = match msg.split('`').nth(1) {
            Some(name) if msg.starts_with("missing field") => name.to_owned(),
            _ if inner.is_syntax() || inner.is_eof() => "body".to_owned(),
            _ if path == "." || path == "?" || path.is_empty() => "body".to_owned(),
            _ => path,
        };
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("is not valid JSON ({inner})")
        } else {
            strip_position(&msg).to_owned()
        };
        Error::field(field, message)
    })
}

fn strip_position(msg: &str) -> &str {
    msg.split(" at line ").next().unwrap_or(msg)
}

fn base_url_of(headers: &lambda_http::http::HeaderMap, config: &Config) -> String {
    if let Some(url) = &config.api.public_url {
        return url.clone();
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let host = header("host").unwrap_or("localhost");
    let proto = header("x-forwarded-proto").unwrap_or(
        if host.starts_with("127.0.0.1") || host.starts_with("localhost") {
            "http"
        } else {
            "https"
        },
    );
    format!("{proto}://{host}")
}

/// The query string read into `T` (its fields are the parameters, camelCase as documented): a
/// parameter given twice, or one of the wrong type, is a `400` naming it. Parameters `T` does
/// not name are ignored.
pub fn from_query<T: DeserializeOwned>(raw: &str) -> Result<T> {
    let pairs = url::form_urlencoded::parse(raw.as_bytes());
    let mut seen = std::collections::BTreeSet::new();
    for (name, _) in pairs {
        if !seen.insert(name.clone()) {
            return Err(Error::field(name, "is given more than once"));
        }
    }
    let de = serde_urlencoded::Deserializer::new(pairs);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." || path == "?" || path.is_empty() {
            "query".to_owned()
        } else {
            path
        };
        Error::field(field, e.into_inner().to_string())
    })
}

/// API Gateway's HTTP API refuses request bodies over 10 MB; so does every router here.
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

/// A function's routes made into its service: a path no route declares is a `404`, a declared
/// path asked with another method a `405` naming the methods it has, every error a problem+json
/// response about the request's path (rendered here, once), and one log line per request inside
/// its `request` span, and `X-Content-Type-Options: nosniff` on every response (a browser
/// never reads a body as another type than the one it is sent as). Lambda runs it with
/// `lambda_http::run`; the local runner serves the same routers, merged, with `axum::serve`.
pub fn service(routes: axum::Router) -> axum::Router {
    use axum::http::header::{HeaderValue, X_CONTENT_TYPE_OPTIONS};
    use tower::Layer;
    // Around the router, not inside it (`Router::layer` would wrap each route, before the
    // method router adds its `Allow` header).
    let answered = axum::middleware::from_fn(problems).layer(routes.fallback(no_route));
    axum::Router::new()
        .fallback_service(answered)
        .layer(axum::middleware::from_fn(logged))
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}

async fn no_route(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError(Error::NotFound(format!(
        "no route for {method} {}",
        uri.path()
    )))
}

/// Renders handler errors, and axum's own `405` (with its `Allow` list), as problem+json.
async fn problems(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    let error = match resp.extensions().get::<Failure>() {
        Some(Failure(e)) => e.clone(),
        None if resp.status() == StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = resp
                .headers()
                .get(axum::http::header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .split(',')
                .collect::<Vec<_>>()
                .join(", ");
            std::sync::Arc::new(Error::MethodNotAllowed(allowed))
        }
        None => return resp,
    };
    problem(&error, &path).map(axum::body::Body::new)
}

/// The request's span (with Lambda's request id, or a fresh one locally) and its log line.
async fn logged(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use lambda_http::RequestExt;
    use tracing::Instrument;
    let request_id = req
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_else(|| ulid::Ulid::new().to_string());
    let span = crate::telemetry::request_span(&request_id, req.method().as_str(), req.uri().path());
    let started = std::time::Instant::now();
    let resp = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = resp.status().as_u16(),
            millis = started.elapsed().as_millis() as u64,
            "request"
        )
    });
    resp
}

/// Answers one request in-process with a router made by [`service`], the response body
/// collected: how the tests and the fixture-event checks call a function without a server.
pub async fn call(app: &axum::Router, req: Request) -> Response<Body> {
    use tower::ServiceExt;
    let resp = match app.clone().oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    };
    let (parts, body) = resp.into_parts();
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) if bytes.is_empty() => Response::from_parts(parts, Body::Empty),
        Ok(bytes) => Response::from_parts(parts, Body::Binary(bytes.to_vec())),
        Err(e) => problem(&Error::Internal(format!("reading a response: {e}")), ""),
    }
}

/// The request's body, at most [`MAX_REQUEST_BYTES`] (more is a `413`).
async fn body_bytes(body: axum::body::Body) -> Result<axum::body::Bytes> {
    axum::body::to_bytes(body, MAX_REQUEST_BYTES)
        .await
        .map_err(|_| {
            Error::PayloadTooLarge(format!(
                "request bodies are limited to {MAX_REQUEST_BYTES} bytes; use the presigned upload flow"
            ))
        })
}

/// The request's body as it came, for bodies that are not JSON (an upload's bytes); at most
/// [`MAX_REQUEST_BYTES`] (more is a `413`).
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, _: &S) -> ApiResult<Self> {
        Ok(RawBody(body_bytes(req.into_body()).await?))
    }
}

/// JSON in and out. As an extractor, the body read into `T` ([`from_json`]: a JSON object, or a
/// `400` naming the field at fault). As a response, `T` serialised with
/// `Content-Type: application/json` (status `200`; pair it with a [`StatusCode`] for another).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, _: &S) -> ApiResult<Self> {
        let bytes = body_bytes(req.into_body()).await?;
        Ok(ApiJson(from_json(&bytes)?))
    }
}

impl<T: Serialize> axum::response::IntoResponse for ApiJson<T> {
    fn into_response(self) -> axum::response::Response {
        match serde_json::to_vec(&self.0) {
            Ok(bytes) => (
                [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                bytes,
            )
                .into_response(),
            Err(e) => {
                ApiError(Error::Internal(format!("serialising a response: {e}"))).into_response()
            }
        }
    }
}

/// The query string read into `T` ([`from_query`]: a parameter given twice, or of the wrong
/// type, is a `400` naming it).
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> ApiResult<Self> {
        Ok(ApiQuery(from_query(parts.uri.query().unwrap_or(""))?))
    }
}

/// The base URL clients reach us at ([`base_url`]), for the links a response carries.
pub struct BaseUrl(pub String);

impl axum::extract::FromRequestParts<Services> for BaseUrl {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        services: &Services,
    ) -> ApiResult<Self> {
        Ok(BaseUrl(base_url_of(&parts.headers, &services.config)))
    }
}

/// Who sent the request, as far as the network says: the source address API Gateway saw, or
/// locally the connection's peer; `unknown` when neither is known. Not a header the client
/// writes (`X-Forwarded-For` is anyone's to forge).
pub struct ClientAddr(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        use lambda_http::request::RequestContext;
        let gateway = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(c)) => c.http.source_ip.clone(),
            _ => None,
        };
        let peer = || {
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string())
        };
        Ok(ClientAddr(
            gateway.or_else(peer).unwrap_or_else(|| "unknown".into()),
        ))
    }
}

/// The account behind the request's API key (`Authorization: Bearer <key>`); `401` without one.
pub struct Account(pub horizon_domain::AccountId);

impl axum::extract::FromRequestParts<Services> for Account {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        services: &Services,
    ) -> ApiResult<Self> {
        // A client that keeps sending keys that are not valid waits (without a read).
        let Ok(ClientAddr(client)) = ClientAddr::from_request_parts(parts, services).await;
        let authorization = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let now = services.clock.now().unix_timestamp();
        if let Some(wait) = services.bad_keys.wait(&client, now) {
            return Err(Error::TooManyRequests {
                detail: format!(
                    "too many requests with a key that is not valid from this address; retry in {wait} s"
                ),
                retry_after: wait.max(1) as u64,
            }
            .into());
        }
        let account = match crate::auth::authenticate(services, authorization).await {
            Ok(account) => account,
            Err(e @ Error::Unauthorized(_)) => {
                if authorization.is_some() {
                    (services.bad_keys)
                        .strike(services.accounts.as_ref(), &client, now)
                        .await;
                }
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        services
            .rate_limits
            .take(services.accounts.as_ref(), &account, services.clock.now())
            .await?;
        Ok(Account(account))
    }
}

/// One path parameter, percent-decoded; a segment that is not UTF-8 once decoded is a `400`.
pub struct Param<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for Param<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> ApiResult<Self> {
        use axum::extract::Path;
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| Param(v))
            .map_err(|e| ApiError(Error::field("path", e.body_text())))
    }
}

/// A typed id from the path (`JobId`, `WebhookId`, …): percent-decoded like [`Param`], then
/// parsed, so that a malformed id is its type's own `400` before any storage call.
pub struct Id<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for Id<T>
where
    S: Send + Sync,
    T: std::str::FromStr<Err = Error> + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> ApiResult<Self> {
        let Param(raw) = Param::<String>::from_request_parts(parts, state).await?;
        Ok(Id(raw.parse::<T>()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Body1 {
        upload_id: String,
        options: Option<Opts>,
    }
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Opts {
        max_chunk_chars: u32,
    }

    fn req(body: &str) -> Request {
        let mut r = Request::new(Body::Text(body.to_owned()));
        *r.uri_mut() = "/v1/extract/pdf".parse().unwrap();
        r
    }

    fn field_of(body: &str) -> String {
        match from_json::<Body1>(req(body).body().as_ref()).unwrap_err() {
            Error::BadRequest { errors, .. } => errors[0].field.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_bodies_name_the_field() {
        assert_eq!(field_of("{}"), "uploadId");
        assert_eq!(field_of(r#"{"uploadId": 5}"#), "uploadId");
        assert_eq!(
            field_of(r#"{"uploadId": "u", "options": {"maxChunkChars": "x"}}"#),
            "options.maxChunkChars"
        );
        assert_eq!(field_of("{not json"), "body");
        assert_eq!(field_of(""), "body");
        assert_eq!(field_of("[]"), "body");
        assert_eq!(field_of(r#"["upl_x", null]"#), "body");
        assert_eq!(field_of("[null]"), "body");
    }

    /// A client that keeps sending keys that are not valid gets `429` after its minute's
    /// allowance, without a read; another client still gets its `401`.
    #[tokio::test]
    async fn a_client_guessing_keys_waits_and_others_do_not() {
        let mut config = horizon_app::memory::test_config().unwrap();
        config.api.bad_keys_per_minute = 3;
        let memory = Services::in_memory(config);
        async fn whose(Account(account): Account) -> String {
            account.0
        }
        let app = service(
            axum::Router::new()
                .route("/who", axum::routing::get(whose))
                .with_state(memory.services.clone()),
        );
        let from = |client: &str| {
            let mut req = Request::new(Body::Empty);
            *req.uri_mut() = "/who".parse().unwrap();
            req.headers_mut()
                .insert("authorization", "Bearer hzn_guess".parse().unwrap());
            req.extensions_mut().insert(axum::extract::ConnectInfo(
                format!("{client}:4000")
                    .parse::<std::net::SocketAddr>()
                    .unwrap(),
            ));
            req
        };
        for _ in 0..3 {
            assert_eq!(call(&app, from("192.0.2.1")).await.status(), 401);
        }
        let waits = call(&app, from("192.0.2.1")).await;
        assert_eq!(waits.status(), 429);
        assert!(waits.headers().contains_key("retry-after"));
        assert_eq!(call(&app, from("192.0.2.2")).await.status(), 401);
    }

    #[test]
    fn problems_are_problem_json() {
        let r = problem(&Error::NotFound("no such job".into()), "/v1/jobs/x");
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()[CONTENT_TYPE], PROBLEM_JSON);
    }
}
