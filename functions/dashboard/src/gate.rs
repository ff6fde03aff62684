//! Who may see the dashboard: the admin key as a bearer token, or a session cookie signed with
//! it (set by `/horizon/login`, carrying the name the operator signed in under, which the audit
//! log records); everyone when the local runner binds to loopback.

use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use hmac::{Hmac, Mac};
use horizon_app::limits::Strikes;
use horizon_app::Services;
use horizon_domain::{Error, Result};
use horizon_runtime::auth::constant_time_eq;
use horizon_runtime::http::{ClientAddr, RawBody};
use sha2::Sha256;

const COOKIE: &str = "horizon_session";
const SESSION_SECONDS: i64 = 8 * 3600;
/// Failed sign-ins one client may make per minute; after that its sign-ins wait for the minute
/// to end (`429`), so that guessing the admin key costs at least a minute per ten tries, while
/// every other operator can still sign in.
const FAILED_SIGN_INS_PER_MINUTE: u32 = 10;

/// Failed sign-ins, and requests with a wrong admin key, per client address (counted by every
/// instance together).
static FAILED_SIGN_INS: std::sync::LazyLock<Strikes> =
    std::sync::LazyLock::new(|| Strikes::new("sign-in", FAILED_SIGN_INS_PER_MINUTE));

/// Who is acting: the name a session was signed in under, `admin key` for the bearer token, or
/// `local` on the loopback runner. The audit log's `actor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator(pub String);

/// Whether the request (its headers) may see the dashboard; `403` otherwise.
/// The operator a dashboard API request acts as ([`same_origin`], then [`check`]), or why not.
/// A request with a wrong admin key counts as a failed sign-in of its client, and a client with
/// too many of those this minute waits (`429`) without its key being looked at.
pub async fn admit(
    services: &Services,
    client: &str,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Operator> {
    let now = services.clock.now().unix_timestamp();
    if let Some(wait) = FAILED_SIGN_INS.wait(client, now) {
        return Err(Error::TooManyRequests {
            detail: format!("too many wrong admin keys from this address; retry in {wait} s"),
            retry_after: wait.max(1) as u64,
        });
    }
    same_origin(method, headers)?;
    let checked = check(services, headers);
    if checked.is_err() && headers.contains_key("authorization") {
        FAILED_SIGN_INS
            .strike(services.accounts.as_ref(), client, now)
            .await;
    }
    checked
}

pub fn check(services: &Services, headers: &HeaderMap) -> Result<Operator> {
    let config = &services.config;
    if config.dashboard.open {
        return Ok(Operator("local".into()));
    }
    let Some(admin) = &config.dashboard.admin_key else {
        return Err(Error::Forbidden(
            "the dashboard is closed: no admin key is configured (HORIZON_ADMIN_KEY)".into(),
        ));
    };
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer.is_some_and(|b| constant_time_eq(b.trim().as_bytes(), admin.as_bytes())) {
        return Ok(Operator("admin key".into()));
    }
    let now = services.clock.now().unix_timestamp();
    if let Some(name) = session_cookie(headers).and_then(|token| valid_session(admin, token, now)) {
        return Ok(Operator(name));
    }
    Err(Error::Forbidden(
        "the dashboard needs the admin key (Authorization: Bearer <key>) or a session from /horizon/login".into(),
    ))
}

/// Whether a request that changes something comes from the dashboard's own pages: a browser
/// says where a request comes from (`Sec-Fetch-Site`, else `Origin`), and a cross-site one is
/// refused (`403`), so that another site cannot act with an operator's session cookie. A
/// request without either header is not a browser's (a script with the admin key): it passes.
/// Reading (`GET`, `HEAD`) changes nothing and is not checked.
pub fn same_origin(method: &Method, headers: &HeaderMap) -> Result<()> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let refused = |why: String| {
        Err(Error::Forbidden(format!(
            "a cross-site request may not change the dashboard ({why})"
        )))
    };
    if let Some(site) = header("sec-fetch-site") {
        return match site {
            "same-origin" | "none" => Ok(()),
            other => refused(format!("Sec-Fetch-Site: {other}")),
        };
    }
    let Some(origin) = header("origin") else {
        return Ok(());
    };
    let host = header("x-forwarded-host").or(header("host")).unwrap_or("");
    let authority = url::Url::parse(origin).ok().and_then(|u| {
        let host = u.host_str()?.to_owned();
        Some(match u.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        })
    });
    match authority {
        Some(a) if !host.is_empty() && a.eq_ignore_ascii_case(host) => Ok(()),
        _ => refused(format!("Origin: {origin}, Host: {host}")),
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(&format!("{COOKIE}=")))
        .next()
}

fn signature(admin: &str, expires: i64, name: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(admin.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(format!("horizon-session:{expires}:{name}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A session for `name` until `expires` (unix seconds): `expires.hex(name).signature`.
pub fn session_token(admin: &str, expires: i64, name: &str) -> String {
    format!(
        "{expires}.{}.{}",
        hex::encode(name),
        signature(admin, expires, name)
    )
}

/// The operator's name when `token` is a session signed with `admin` that has not expired.
pub fn valid_session(admin: &str, token: &str, now: i64) -> Option<String> {
    let mut parts = token.split('.');
    let (expires, name, sig) = (parts.next()?, parts.next()?, parts.next()?);
    let expires = expires.parse::<i64>().ok()?;
    let name = String::from_utf8(hex::decode(name).ok()?).ok()?;
    (parts.next().is_none()
        && expires > now
        && constant_time_eq(sig.as_bytes(), signature(admin, expires, &name).as_bytes()))
    .then_some(name)
}

/// The name an operator signs in under: trimmed, at most 64 characters, printable; `operator`
/// when none is given.
fn operator_name(given: Option<String>) -> String {
    let name: String = given
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    if name.is_empty() {
        "operator".into()
    } else {
        name
    }
}

/// The sign-in form.
pub async fn login_form() -> SignIn {
    SignIn::Form(StatusCode::OK, None)
}

/// Signs an operator in with the admin key (a form post): a session cookie, or the form again.
pub async fn login(
    State(services): State<Services>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> SignIn {
    let now = services.clock.now().unix_timestamp();
    if same_origin(&Method::POST, &headers).is_err() {
        return SignIn::Form(
            StatusCode::FORBIDDEN,
            Some("Sign in from this site's own form."),
        );
    }
    if let Some(wait) = FAILED_SIGN_INS.wait(&client, now) {
        return SignIn::Wait(wait);
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let given = field("key");
    let name = operator_name(field("name"));
    let Some(admin) = &services.config.dashboard.admin_key else {
        let why = "No admin key is configured (HORIZON_ADMIN_KEY).";
        return SignIn::Form(StatusCode::FORBIDDEN, Some(why));
    };
    if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), admin.as_bytes())) {
        FAILED_SIGN_INS
            .strike(services.accounts.as_ref(), &client, now)
            .await;
        return SignIn::Form(StatusCode::FORBIDDEN, Some("That is not the admin key."));
    }
    let expires = now + SESSION_SECONDS;
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        == Some("https");
    tracing::info!(target: "horizon::audit", actor = %name, action = "sign-in", "an operator signed in");
    SignIn::Signed {
        token: session_token(admin, expires, &name),
        secure: https,
    }
}

/// What signing in answers.
pub enum SignIn {
    /// The form, with why it is shown again.
    Form(StatusCode, Option<&'static str>),
    /// Too many failed sign-ins: the form, and the seconds to wait.
    Wait(i64),
    /// Signed in: `303` to the dashboard with the session cookie (`Secure` behind HTTPS).
    Signed { token: String, secure: bool },
}

impl IntoResponse for SignIn {
    fn into_response(self) -> Response {
        match self {
            SignIn::Form(status, why) => (status, Html(login_html(why))).into_response(),
            SignIn::Wait(seconds) => (
                StatusCode::TOO_MANY_REQUESTS,
                [(RETRY_AFTER, seconds.to_string())],
                Html(login_html(Some(
                    "Too many failed sign-ins: try again in a minute.",
                ))),
            )
                .into_response(),
            SignIn::Signed { token, secure } => {
                let secure = if secure { "; Secure" } else { "" };
                let cookie = format!(
                    "{COOKIE}={token}; Path=/horizon; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECONDS}{secure}"
                );
                (
                    StatusCode::SEE_OTHER,
                    [
                        (LOCATION, "/horizon".to_owned()),
                        (SET_COOKIE, cookie),
                        (CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
                    ],
                    "signed in",
                )
                    .into_response()
            }
        }
    }
}

/// The sign-in form's page, with a message when there is one.
fn login_html(message: Option<&str>) -> String {
    let message = message
        .map(|m| format!("<p class=\"error\">{}</p>", html_escape(m)))
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Horizon: sign in</title>\
         <link rel=\"stylesheet\" href=\"/horizon/assets/app.css\"></head><body class=\"login\">\
         <form method=\"post\" action=\"/horizon/login\"><h1>Horizon</h1>{message}\
         <label>Your name (for the audit log) <input name=\"name\" autocomplete=\"username\" maxlength=\"64\"></label>\
         <label>Admin key <input type=\"password\" name=\"key\" autocomplete=\"current-password\" required></label>\
         <button type=\"submit\">Sign in</button></form></body></html>"
    )
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use horizon_runtime::http;
    use lambda_http::{Body, Request};

    #[test]
    fn sessions_expire_and_cannot_be_forged() {
        let key = "admin-key-0123456789";
        let token = session_token(key, 2_000, "Ada");
        assert_eq!(valid_session(key, &token, 1_999).as_deref(), Some("Ada"));
        assert_eq!(valid_session(key, &token, 2_000), None, "expired");
        assert_eq!(
            valid_session("another-key-0123456789", &token, 1_000),
            None,
            "other key"
        );
        let forged = token.replacen("2000", "9999", 1);
        assert_eq!(valid_session(key, &forged, 1_000), None, "extended");
        let renamed = token.replacen(&hex::encode("Ada"), &hex::encode("Bob"), 1);
        assert_eq!(valid_session(key, &renamed, 1_000), None, "renamed");
        assert_eq!(valid_session(key, "junk", 1_000), None);
        assert_eq!(operator_name(Some("  \u{7}Grace ".into())), "Grace");
        assert_eq!(operator_name(None), "operator");
    }

    /// The login form's body is form-encoded: `+` is a space, `%2B` a plus; only the admin
    /// key signs in, and its session cookie then opens the dashboard's API.
    #[tokio::test]
    async fn the_login_form_signs_in_with_the_admin_key_only() {
        use horizon_app::config::Secret;
        let mut config = horizon_app::memory::test_config().unwrap();
        config.dashboard.admin_key = Some(Secret("admin key+with plus 0123".into()));
        let memory = Services::in_memory(config);
        let app = http::service(crate::routes(memory.services.clone()));
        let post = |body: &str| {
            let mut req = Request::new(Body::Text(body.to_owned()));
            *req.method_mut() = lambda_http::http::Method::POST;
            *req.uri_mut() = "/horizon/login".parse().unwrap();
            req
        };
        let wrong = http::call(&app, post("key=admin+key%2Bwith+plus+0124")).await;
        assert_eq!(wrong.status(), 403);
        let right = http::call(&app, post("key=admin+key%2Bwith+plus+0123&x=1")).await;
        assert_eq!(right.status(), 303);
        let cookie = right.headers()["set-cookie"].to_str().unwrap();
        let session = cookie.split(';').next().unwrap().to_owned();
        let mut stats = Request::new(Body::Empty);
        *stats.uri_mut() = "/horizon/api/stats".parse().unwrap();
        assert_eq!(http::call(&app, stats).await.status(), 403);
        let mut stats = Request::new(Body::Empty);
        *stats.uri_mut() = "/horizon/api/nothing".parse().unwrap();
        stats
            .headers_mut()
            .insert("cookie", session.parse().unwrap());
        assert_eq!(http::call(&app, stats).await.status(), 404);

        // Guessing is slowed down: past ten failures in a minute even the right key waits.
        for _ in 0..FAILED_SIGN_INS_PER_MINUTE {
            http::call(&app, post("key=guess")).await;
        }
        let limited = http::call(&app, post("key=admin+key%2Bwith+plus+0123")).await;
        assert_eq!(limited.status(), 429);
        let wait: i64 = limited.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        // Another client is not locked out by the guesser.
        let mut other = post("key=admin+key%2Bwith+plus+0123");
        other.extensions_mut().insert(axum::extract::ConnectInfo(
            "192.0.2.7:5000".parse::<std::net::SocketAddr>().unwrap(),
        ));
        assert_eq!(http::call(&app, other).await.status(), 303);
    }

    /// A change asked for by another site (a form or a script on it, riding an operator's
    /// session cookie) is refused; the dashboard's own pages and scripts with the key are not.
    #[tokio::test]
    async fn another_sites_requests_may_not_change_anything() {
        let mut config = horizon_app::memory::test_config().unwrap();
        config.dashboard.open = true;
        let memory = Services::in_memory(config);
        let app = http::service(crate::routes(memory.services.clone()));
        let call = |headers: &[(&'static str, &'static str)]| {
            let mut req = Request::new(Body::Empty);
            *req.method_mut() = lambda_http::http::Method::POST;
            *req.uri_mut() = "/horizon/api/outbox/replay".parse().unwrap();
            req.headers_mut()
                .insert("host", "dash.example.com".parse().unwrap());
            for (k, v) in headers {
                req.headers_mut()
                    .insert(*k, v.parse::<lambda_http::http::HeaderValue>().unwrap());
            }
            http::call(&app, req)
        };
        for (headers, status) in [
            (vec![("sec-fetch-site", "cross-site")], 403),
            (vec![("sec-fetch-site", "same-site")], 403),
            (vec![("origin", "https://evil.example")], 403),
            (vec![("origin", "null")], 403),
            (vec![("sec-fetch-site", "same-origin")], 202),
            (vec![("origin", "https://dash.example.com")], 202),
            (vec![], 202),
        ] {
            let resp = call(&headers).await;
            assert_eq!(resp.status(), status, "{headers:?}");
            assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
        }
        let mut read = Request::new(Body::Empty);
        *read.uri_mut() = "/horizon/api/outbox".parse().unwrap();
        read.headers_mut()
            .insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert_eq!(http::call(&app, read).await.status(), 200, "reading");
    }
}
