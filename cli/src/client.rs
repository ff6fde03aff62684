//! The HTTP side: one reqwest client with the key, JSON in and out, and every non-2xx answer
//! turned into a [`Failure`] that carries the API's problem+json.

use serde_json::Value;

use crate::Failure;

pub struct Client {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
}

impl Client {
    pub fn new(endpoint: &str, key: Option<&str>) -> Result<Self, Failure> {
        let base = endpoint.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Failure::File(format!(
                "the endpoint must be an http(s) URL, not {endpoint:?}"
            )));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("horizon-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(300))
            .build()
            .map_err(|e| Failure::Unavailable(format!("cannot make an HTTP client: {e}")))?;
        Ok(Client {
            http,
            base,
            key: key.map(str::to_owned),
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value, Failure> {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    /// A text body (Markdown, say), following a redirect to where it is stored.
    pub async fn get_text(&self, path: &str) -> Result<String, Failure> {
        self.send_text(self.request(reqwest::Method::GET, path))
            .await
    }

    pub async fn get_query(&self, path: &str, query: &[(&str, String)]) -> Result<Value, Failure> {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.base), query)
            .map_err(|e| Failure::File(format!("not a URL: {e}")))?;
        self.send(self.authorize(self.http.get(url))).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, Failure> {
        self.send(self.request(reqwest::Method::POST, path).json(body))
            .await
    }

    /// `multipart/form-data` with the file and its name (the name is kept with the upload).
    pub async fn post_file(
        &self,
        path: &str,
        content_type: &str,
        filename: &str,
        bytes: Vec<u8>,
    ) -> Result<Value, Failure> {
        let (boundary, body) = multipart(content_type, filename, &bytes);
        let req = self
            .request(reqwest::Method::POST, path)
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        self.send(req).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value, Failure> {
        self.send(self.request(reqwest::Method::DELETE, path)).await
    }

    /// PUTs the bytes to a presigned URL (no key: the URL is the permission).
    pub async fn put_presigned(
        &self,
        url: &str,
        headers: &[(String, String)],
        bytes: Vec<u8>,
    ) -> Result<(), Failure> {
        let mut put = self.http.put(url);
        for (name, value) in headers {
            put = put.header(name, value);
        }
        let resp = put
            .body(bytes)
            .send()
            .await
            .map_err(|e| unreachable(url, e))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(Failure::Unavailable(format!(
                "the presigned upload was refused: {}",
                resp.status()
            )))
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.authorize(self.http.request(method, format!("{}{path}", self.base)))
    }

    fn authorize(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.key {
            Some(key) => req.bearer_auth(key),
            None => req,
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value, Failure> {
        self.send_text(req).await.map(json)
    }

    /// The body of a 2xx answer as text; any other answer as a failure. A `429` (this account
    /// sent too many requests) is tried again after its `Retry-After`, a few times.
    async fn send_text(&self, req: reqwest::RequestBuilder) -> Result<String, Failure> {
        let mut resp = None;
        for _ in 0..5 {
            // A request whose body cannot be cloned (a streamed file) is sent once.
            let Some(attempt) = req.try_clone() else {
                break;
            };
            let answer = attempt
                .send()
                .await
                .map_err(|e| unreachable(&self.base, e))?;
            if answer.status() != reqwest::StatusCode::TOO_MANY_REQUESTS {
                resp = Some(answer);
                break;
            }
            let wait = answer
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .unwrap_or(1)
                .clamp(1, 60);
            eprintln!("rate limited: trying again in {wait} s");
            tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
        }
        let resp = match resp {
            Some(resp) => resp,
            None => req.send().await.map_err(|e| unreachable(&self.base, e))?,
        };
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| Failure::Unavailable(format!("the response broke off: {e}")))?;
        match status {
            200..=299 => Ok(text),
            _ => self.fail(status, text),
        }
    }

    /// A non-2xx answer as a failure, with the API's problem+json.
    fn fail<T>(&self, status: u16, text: String) -> Result<T, Failure> {
        let body = json(text);
        Err(match status {
            400..=499 => Failure::Refused {
                status,
                problem: body,
            },
            _ => Failure::Unavailable(crate::output::problem(status, &body)),
        })
    }
}

/// A body as JSON (a string when it is not JSON; null when empty).
fn json(text: String) -> Value {
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

fn unreachable(base: &str, e: reqwest::Error) -> Failure {
    // reqwest's message is terse; its sources say why (refused, DNS, TLS).
    let mut why = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        why = format!("{why}: {s}");
        source = s.source();
    }
    Failure::Unavailable(format!(
        "cannot reach {base} ({why}); check --endpoint or HORIZON_ENDPOINT"
    ))
}

/// A form with a `file` part and a `filename` part, and a boundary that is not in the bytes.
fn multipart(content_type: &str, filename: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let boundary = loop {
        let candidate = format!("horizon-{seed:032x}");
        if !bytes
            .windows(candidate.len())
            .any(|w| w == candidate.as_bytes())
        {
            break candidate;
        }
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    };
    let mut body = Vec::with_capacity(bytes.len() + 512);
    if !filename.is_empty() {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"filename\"\r\n\r\n{filename}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (boundary, body)
}

#[cfg(test)]
mod tests {
    #[test]
    fn multipart_bodies_frame_the_file_with_a_boundary_it_does_not_contain() {
        let (boundary, body) = super::multipart("application/pdf", "a \"b\".pdf", b"%PDF-1.4\n");
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.contains("name=\"filename\"\r\n\r\na \"b\".pdf\r\n"));
        assert!(text.contains("Content-Type: application/pdf\r\n\r\n%PDF-1.4\n\r\n"));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
    }
}
