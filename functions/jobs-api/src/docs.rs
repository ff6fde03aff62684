//! The API reference for people, made from the OpenAPI document ([`crate::openapi::document`]):
//! `/docs`, one self-contained HTML page (no scripts, nothing fetched from elsewhere), and
//! `/docs/collection.json`, a Postman collection (v2.1) of every operation.

use serde_json::{json, Map, Value};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Every operation, in the document's order: (method, path, operation).
fn operations(doc: &Value) -> Vec<(&'static str, &str, &Value)> {
    let mut out = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in METHODS {
                if let Some(op) = item.get(method) {
                    out.push((method, path.as_str(), op));
                }
            }
        }
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The name a `$ref` points at (`#/components/schemas/JobView` is `JobView`).
fn ref_name(v: &Value) -> Option<&str> {
    v["$ref"].as_str().and_then(|r| r.rsplit('/').next())
}

/// A schema in a few words: a link to a named one, or its type.
fn schema_summary(schema: &Value) -> String {
    if let Some(name) = ref_name(schema) {
        return format!("<a href=\"#schema-{0}\">{0}</a>", escape(name));
    }
    if let Some(items) = schema.get("items") {
        return format!("array of {}", schema_summary(items));
    }
    if let Some(any) = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)
    {
        return any
            .iter()
            .map(schema_summary)
            .collect::<Vec<_>>()
            .join(" or ");
    }
    match &schema["type"] {
        Value::String(t) => escape(t),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "object".into(),
    }
}

fn anchor(method: &str, path: &str) -> String {
    format!(
        "{method}-{}",
        path.trim_matches('/')
            .replace(['/', '{', '}', '.'], "-")
            .trim_matches('-')
    )
}

/// The reference page.
pub fn html(doc: &Value) -> String {
    let title = doc["info"]["title"].as_str().unwrap_or("API");
    let version = doc["info"]["version"].as_str().unwrap_or("");
    let ops = operations(doc);
    let mut out = String::new();
    out.push_str(&format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t} reference</title><style>{STYLE}</style></head><body><nav><h1>{t} <small>{v}</small></h1><p><a href=\"/v1/openapi.json\">OpenAPI document</a> · <a href=\"/docs/collection.json\" download=\"horizon.postman_collection.json\">Get Postman Collection</a></p><ul>",
        t = escape(title),
        v = escape(version)
    ));
    for (method, path, _) in &ops {
        out.push_str(&format!(
            "<li><a href=\"#{}\"><b class=\"m {method}\">{}</b> {}</a></li>",
            anchor(method, path),
            method.to_uppercase(),
            escape(path)
        ));
    }
    out.push_str("</ul></nav><main>");
    if let Some(description) = doc["info"]["description"].as_str() {
        out.push_str(&format!("<p class=\"intro\">{}</p>", escape(description)));
    }
    out.push_str("<p>Every route but this reference and the OpenAPI document needs <code>Authorization: Bearer &lt;API key&gt;</code>. Errors are <code>application/problem+json</code> (RFC 9457).</p>");
    for (method, path, op) in &ops {
        out.push_str(&format!(
            "<section id=\"{}\"><h2><b class=\"m {method}\">{}</b> <code>{}</code></h2>",
            anchor(method, path),
            method.to_uppercase(),
            escape(path)
        ));
        for key in ["summary", "description"] {
            if let Some(text) = op[key].as_str() {
                out.push_str(&format!("<p>{}</p>", escape(text)));
            }
        }
        if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
            out.push_str("<h3>Parameters</h3><table><tr><th>Name</th><th>In</th><th>Type</th><th>Description</th></tr>");
            for p in params {
                out.push_str(&format!(
                    "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(p["name"].as_str().unwrap_or("")),
                    if p["required"] == true { " *" } else { "" },
                    escape(p["in"].as_str().unwrap_or("")),
                    schema_summary(&p["schema"]),
                    escape(p["description"].as_str().unwrap_or(""))
                ));
            }
            out.push_str("</table>");
        }
        if let Some(content) = op["requestBody"]["content"].as_object() {
            out.push_str("<h3>Request body</h3><ul>");
            for (media, body) in content {
                out.push_str(&format!(
                    "<li><code>{}</code>: {}</li>",
                    escape(media),
                    schema_summary(&body["schema"])
                ));
            }
            out.push_str("</ul>");
        }
        if let Some(responses) = op["responses"].as_object() {
            out.push_str("<h3>Responses</h3><table><tr><th>Status</th><th>Description</th><th>Body</th></tr>");
            for (status, r) in responses {
                let body = r["content"]
                    .as_object()
                    .map(|c| {
                        c.iter()
                            .map(|(media, b)| {
                                format!(
                                    "<code>{}</code> {}",
                                    escape(media),
                                    schema_summary(&b["schema"])
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("<br>")
                    })
                    .unwrap_or_default();
                out.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{body}</td></tr>",
                    escape(status),
                    escape(r["description"].as_str().unwrap_or(""))
                ));
            }
            out.push_str("</table>");
        }
        out.push_str("</section>");
    }
    if let Some(schemas) = doc["components"]["schemas"].as_object() {
        out.push_str("<h2 class=\"schemas\">Schemas</h2>");
        for (name, schema) in schemas {
            out.push_str(&format!(
                "<section id=\"schema-{0}\"><h3>{0}</h3>",
                escape(name)
            ));
            if let Some(d) = schema["description"].as_str() {
                out.push_str(&format!("<p>{}</p>", escape(d)));
            }
            if let Some(props) = schema["properties"].as_object() {
                let required: Vec<&str> = schema["required"]
                    .as_array()
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                out.push_str("<table><tr><th>Field</th><th>Type</th><th>Description</th></tr>");
                for (field, p) in props {
                    out.push_str(&format!(
                        "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
                        escape(field),
                        if required.contains(&field.as_str()) {
                            " *"
                        } else {
                            ""
                        },
                        schema_summary(p),
                        escape(p["description"].as_str().unwrap_or(""))
                    ));
                }
                out.push_str("</table>");
            } else if let Some(values) = schema["enum"].as_array() {
                let values: Vec<String> = values
                    .iter()
                    .map(|v| format!("<code>{}</code>", escape(&v.to_string())))
                    .collect();
                out.push_str(&format!("<p>One of {}</p>", values.join(", ")));
            }
            out.push_str("</section>");
        }
    }
    out.push_str("</main></body></html>");
    out
}

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;margin:0;display:flex;color:#1f2937}nav{width:22rem;height:100vh;overflow:auto;position:sticky;top:0;background:#f3f4f6;padding:1rem;box-sizing:border-box}nav ul{list-style:none;padding:0}nav li a{display:block;padding:.15rem 0;text-decoration:none;color:#111827;font-size:13px}main{flex:1;padding:1rem 2rem;max-width:60rem}section{border-top:1px solid #e5e7eb;padding:.5rem 0}table{border-collapse:collapse;width:100%}td,th{border:1px solid #e5e7eb;padding:.25rem .5rem;text-align:left;vertical-align:top}.m{display:inline-block;min-width:3.5rem;font-size:12px;color:#fff;border-radius:3px;text-align:center;padding:0 .25rem}.get{background:#2563eb}.post{background:#059669}.delete{background:#dc2626}.put,.patch{background:#d97706}h1 small{font-size:12px;color:#6b7280}";

/// An example request body for `schema`, from its examples, defaults and required fields.
fn example(doc: &Value, schema: &Value, depth: usize) -> Value {
    if depth > 4 {
        return Value::Null;
    }
    if let Some(name) = ref_name(schema) {
        return example(doc, &doc["components"]["schemas"][name], depth + 1);
    }
    if let Some(e) = schema.get("example").or_else(|| schema.get("default")) {
        return e.clone();
    }
    if let Some(e) = schema["examples"].as_array().and_then(|e| e.first()) {
        return e.clone();
    }
    let Some(props) = schema["properties"].as_object() else {
        return match schema["type"].as_str() {
            Some("string") => json!(""),
            Some("integer" | "number") => json!(0),
            Some("boolean") => json!(false),
            Some("array") => json!([]),
            _ => Value::Null,
        };
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = Map::new();
    for (field, p) in props {
        if required.contains(&field.as_str()) {
            out.insert(field.clone(), example(doc, p, depth + 1));
        }
    }
    Value::Object(out)
}

/// The Postman collection (schema v2.1.0): a folder per tag, a request per operation, the base
/// URL and the API key as collection variables, bearer authentication on every request that
/// needs it.
pub fn postman(doc: &Value, base_url: &str) -> Value {
    let mut folders: Vec<(String, Vec<Value>)> = Vec::new();
    for (method, path, op) in operations(doc) {
        let tag = op["tags"][0].as_str().unwrap_or("other").to_owned();
        let segments: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(var) => format!(":{var}"),
                    None => s.to_owned(),
                },
            )
            .collect();
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let of =
            |place: &str| -> Vec<&Value> { params.iter().filter(|p| p["in"] == place).collect() };
        let mut request = json!({
            "method": method.to_uppercase(),
            "description": op["description"].as_str().or(op["summary"].as_str()).unwrap_or(""),
            "url": {
                "raw": format!("{{{{baseUrl}}}}/{}", segments.join("/")),
                "host": ["{{baseUrl}}"],
                "path": segments,
                "variable": of("path").iter().map(|p| json!({
                    "key": p["name"], "value": "", "description": p["description"].as_str().unwrap_or(""),
                })).collect::<Vec<_>>(),
                "query": of("query").iter().map(|p| json!({
                    "key": p["name"], "value": "", "disabled": true,
                    "description": p["description"].as_str().unwrap_or(""),
                })).collect::<Vec<_>>(),
            },
            "header": of("header").iter().map(|p| json!({
                "key": p["name"], "value": "", "disabled": true,
                "description": p["description"].as_str().unwrap_or(""),
            })).collect::<Vec<_>>(),
        });
        if op["security"]
            .as_array()
            .is_some_and(|s| s.iter().all(|r| r.as_object().is_some_and(Map::is_empty)))
        {
            request["auth"] = json!({ "type": "noauth" });
        }
        if let Some(schema) = op["requestBody"]["content"]["application/json"].get("schema") {
            request["body"] = json!({
                "mode": "raw",
                "raw": serde_json::to_string_pretty(&example(doc, schema, 0)).unwrap_or_default(),
                "options": { "raw": { "language": "json" } },
            });
            if let Some(headers) = request["header"].as_array_mut() {
                headers.push(json!({ "key": "Content-Type", "value": "application/json" }));
            }
        } else if let Some(media) = op["requestBody"]["content"]
            .as_object()
            .and_then(|c| c.keys().next())
        {
            request["body"] = json!({ "mode": "file", "file": {} });
            if let Some(headers) = request["header"].as_array_mut() {
                headers.push(json!({ "key": "Content-Type", "value": media }));
            }
        }
        let item = json!({
            "name": op["summary"].as_str().map(str::to_owned)
                .unwrap_or_else(|| format!("{} {path}", method.to_uppercase())),
            "request": request,
        });
        match folders.iter_mut().find(|(t, _)| *t == tag) {
            Some((_, items)) => items.push(item),
            None => folders.push((tag, vec![item])),
        }
    }
    json!({
        "info": {
            "name": doc["info"]["title"].as_str().unwrap_or("API"),
            "description": doc["info"]["description"].as_str().unwrap_or(""),
            "version": doc["info"]["version"].as_str().unwrap_or(""),
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "auth": { "type": "bearer", "bearer": [{ "key": "token", "value": "{{apiKey}}", "type": "string" }] },
        "variable": [
            { "key": "baseUrl", "value": base_url },
            { "key": "apiKey", "value": "", "description": "An API key (horizon-local keys create)" },
        ],
        "item": folders.into_iter().map(|(name, item)| json!({ "name": name, "item": item })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_the_collection_cover_every_operation() {
        let doc = crate::openapi::document();
        let ops = operations(doc);
        assert!(ops.len() >= 12, "{} operations", ops.len());
        let page = html(doc);
        let collection = postman(doc, "https://api.example.com");
        let requests: Vec<&Value> = collection["item"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|f| f["item"].as_array().unwrap())
            .collect();
        assert_eq!(requests.len(), ops.len());
        for (method, path, _) in &ops {
            assert!(
                page.contains(&format!("id=\"{}\"", anchor(method, path))),
                "{method} {path} missing from the page"
            );
            let raw = format!("{{{{baseUrl}}}}{}", path.replace('{', ":").replace('}', ""));
            assert!(
                requests
                    .iter()
                    .any(|r| r["request"]["method"] == method.to_uppercase()
                        && r["request"]["url"]["raw"] == raw),
                "{method} {raw} missing from the collection"
            );
        }
        assert_eq!(
            collection["variable"][0]["value"],
            "https://api.example.com"
        );
        assert!(collection["info"]["schema"]
            .as_str()
            .unwrap()
            .contains("v2.1.0"));
        // The extraction request carries a body with its required field.
        let extract = requests
            .iter()
            .find(|r| r["request"]["url"]["raw"] == "{{baseUrl}}/v1/extract/pdf")
            .unwrap();
        let body: Value =
            serde_json::from_str(extract["request"]["body"]["raw"].as_str().unwrap()).unwrap();
        assert!(body.get("uploadId").is_some(), "{body}");
    }

    #[test]
    fn text_from_the_document_is_escaped() {
        let doc = json!({"info": {"title": "<script>x</script>"}, "paths": {}});
        let page = html(&doc);
        assert!(!page.contains("<script>x"));
        assert!(page.contains("&lt;script&gt;x"));
    }
}
