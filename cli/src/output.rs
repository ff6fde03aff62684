//! Text for people: one line per thing, the id first (easy to copy and to `cut`).

use serde_json::Value;

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// A problem+json answer as the user should read it: status, title, detail, and each field error.
pub fn problem(status: u16, body: &Value) -> String {
    let mut text = format!("HTTP {status}");
    match body {
        Value::Object(_) => {
            for key in ["title", "detail"] {
                if let Some(part) = body[key].as_str().filter(|p| !p.is_empty()) {
                    text.push_str(": ");
                    text.push_str(part);
                }
            }
            for e in body["errors"].as_array().into_iter().flatten() {
                let field = e["field"]
                    .as_str()
                    .or_else(|| e["pointer"].as_str())
                    .unwrap_or("?");
                let message = e["message"]
                    .as_str()
                    .or_else(|| e["detail"].as_str())
                    .unwrap_or("");
                text.push_str(&format!("\n  {field}: {message}"));
            }
        }
        Value::String(raw) if !raw.is_empty() => {
            text.push_str(": ");
            text.push_str(&raw.chars().take(500).collect::<String>());
        }
        _ => {}
    }
    text
}

pub fn upload(u: &Value) -> String {
    let mut what = format!("{}, {} bytes", s(&u["contentType"]), u["size"]);
    if let Some(pages) = u["pages"].as_u64() {
        what.push_str(&format!(", {pages} pages"));
    }
    if let (Some(w), Some(h)) = (u["width"].as_u64(), u["height"].as_u64()) {
        what.push_str(&format!(", {w}x{h}"));
    }
    format!("{}\t{what}\t{}\n", s(&u["id"]), s(&u["url"]))
}

/// A job on one line (id, status, what it holds), and its error on a second when it failed.
pub fn job(j: &Value) -> String {
    let status = s(&j["status"]);
    let detail = match status {
        "completed" => format!(
            "{} pages, {} chunks",
            j["result"]["pages"], j["result"]["chunkCount"]
        ),
        "processing" => match (
            j["progress"]["pagesDone"].as_u64(),
            j["progress"]["pagesTotal"].as_u64(),
        ) {
            (Some(d), Some(t)) => format!("{d}/{t} pages"),
            _ => String::new(),
        },
        _ => String::new(),
    };
    let tags = j["tags"]
        .as_array()
        .map(|t| t.iter().map(s).collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    let mut line = format!(
        "{}\t{status}\t{detail}\t{}\t{tags}",
        s(&j["jobId"]),
        s(&j["createdAt"])
    );
    line = line.trim_end().to_owned();
    line.push('\n');
    if let Some(e) = j.get("error").filter(|e| !e.is_null()) {
        line.push_str(&format!(
            "  error {}: {}\n",
            s(&e["code"]),
            s(&e["message"])
        ));
    }
    line
}

pub fn job_list(list: &Value) -> String {
    let mut text: String = list["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(job)
        .collect();
    if let Some(next) = list["nextCursor"].as_str() {
        text.push_str(&format!("(more: --cursor {next})\n"));
    }
    text
}

pub fn webhook(w: &Value) -> String {
    let events = w["events"]
        .as_array()
        .map(|e| e.iter().map(s).collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    let mut text = format!("{}\t{}\t{events}\n", s(&w["id"]), s(&w["url"]));
    if let Some(secret) = w["secret"].as_str() {
        text.push_str(&format!("signing secret (shown only now): {secret}\n"));
    }
    text
}

pub fn webhook_list(list: &Value) -> String {
    list["webhooks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(webhook)
        .collect()
}

pub fn key(k: &Value) -> String {
    format!(
        "{}\t{}\nkey (shown only now; it is stored as a hash): {}\n",
        s(&k["id"]),
        s(&k["account"]),
        s(&k["key"])
    )
}

/// The chunks' text in order: a blank line between chunks, a form feed between pages (as
/// pdftotext does), so `horizon extract f.pdf --wait > f.txt` gives readable text.
pub fn chunks_text(chunks: &[Value]) -> String {
    let mut text = String::new();
    let mut page = None;
    for c in chunks {
        let this = c["page"].as_u64();
        match page {
            None => {}
            Some(p) if Some(p) != this => text.push_str("\n\x0c"),
            Some(_) => text.push_str("\n\n"),
        }
        page = this;
        text.push_str(s(&c["text"]));
    }
    if !text.is_empty() {
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chunks_are_separated_by_blank_lines_and_pages_by_form_feeds() {
        let chunks = [
            json!({"text": "a", "page": 1}),
            json!({"text": "b", "page": 1}),
            json!({"text": "c", "page": 2}),
        ];
        assert_eq!(chunks_text(&chunks), "a\n\nb\n\x0cc\n");
        assert_eq!(chunks_text(&[]), "");
    }

    #[test]
    fn a_failed_job_shows_its_error() {
        let text = job(
            &json!({"jobId": "job_1", "status": "failed", "createdAt": "t",
            "error": {"code": "encrypted", "message": "the PDF is encrypted"}}),
        );
        assert_eq!(
            text,
            "job_1\tfailed\t\tt\n  error encrypted: the PDF is encrypted\n"
        );
    }

    #[test]
    fn a_plain_text_error_body_is_shown_too() {
        assert_eq!(problem(502, &json!("Bad Gateway")), "HTTP 502: Bad Gateway");
    }
}
