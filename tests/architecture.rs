//! The code's shape: the crates depend one way, in layers, and no crate of the workspace has an
//! import cycle between its modules.
//!
//! Each crate's top-level modules are the nodes; a module depends on another when its code
//! (tests aside) names it through `crate::`, directly or through a name the crate root
//! re-exports. A cycle means two modules cannot be understood, changed or moved apart, so the
//! test names it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The crates' source folders, from the workspace's members.
fn crate_sources(root: &Path) -> Vec<PathBuf> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("workspace manifest");
    let members = manifest
        .split("members = [")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .expect("workspace members");
    members
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .filter(|m| !m.is_empty())
        .map(|m| root.join(m).join("src"))
        .filter(|src| src.is_dir())
        .collect()
}

/// Every `.rs` file under `dir`, with its path relative to `src`.
fn files(src: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("source folder")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(src, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(src).expect("inside src");
            let text = std::fs::read_to_string(&path).expect("readable source");
            out.push((rel.to_string_lossy().replace('\\', "/"), text));
        }
    }
}

/// The top-level module a file belongs to (`None` for the crate root and binaries).
fn module_of(rel: &str) -> Option<String> {
    let first = rel.split('/').next()?;
    let name = first.trim_end_matches(".rs");
    (!matches!(name, "lib" | "main" | "bin")).then(|| name.to_owned())
}

/// A file's code without its comments and its test module.
fn code(text: &str) -> String {
    let body = text.split("#[cfg(test)]").next().unwrap_or(text);
    body.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path segments after each `crate::`, a `{…}` group counted segment by segment.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for part in code.split("crate::").skip(1) {
        let ident = |s: &str| {
            s.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        };
        if let Some(group) = part.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 || c != '{' {
                    item.push(c);
                }
            }
            out.insert(ident(item.trim()));
        } else {
            out.insert(ident(part));
        }
    }
    out.remove("");
    out
}

/// The module graph of one crate's files.
fn graph(files: &[(String, String)]) -> Graph {
    let modules: BTreeSet<String> = files.iter().filter_map(|(f, _)| module_of(f)).collect();
    // Names the crate root re-exports: `pub use config::Config;` makes `crate::Config` config's.
    let mut reexports: BTreeMap<String, String> = BTreeMap::new();
    for (file, text) in files.iter().filter(|(f, _)| module_of(f).is_none()) {
        if file.contains('/') {
            continue;
        }
        for line in code(text).lines() {
            let Some(rest) = line.trim().strip_prefix("pub use ") else {
                continue;
            };
            let Some((module, names)) = rest.split_once("::") else {
                continue;
            };
            for name in names.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
                if !name.is_empty() {
                    reexports.insert(name.to_owned(), module.to_owned());
                }
            }
        }
    }
    let mut g = Graph::new();
    for (file, text) in files {
        let Some(from) = module_of(file) else {
            continue;
        };
        let deps = g.entry(from.clone()).or_default();
        for name in crate_paths(&code(text)) {
            let to = reexports.get(&name).cloned().unwrap_or(name);
            if to != from && modules.contains(&to) {
                deps.insert(to);
            }
        }
    }
    g
}

/// A cycle of the graph, if it has one: the modules around it, the first repeated at the end.
fn cycle(g: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        g: &Graph,
        node: &str,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = path.iter().position(|n| n == node).unwrap_or(0);
                let mut found = path[start..].to_vec();
                found.push(node.to_owned());
                return Some(found);
            }
            None => {}
        }
        marks.insert(node.to_owned(), Mark::Open);
        path.push(node.to_owned());
        for next in g.get(node).into_iter().flatten() {
            if let Some(found) = visit(g, next, marks, path) {
                return Some(found);
            }
        }
        path.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    g.keys()
        .find_map(|node| visit(g, node, &mut marks, &mut Vec::new()))
}

#[test]
fn no_crate_has_an_import_cycle_between_its_modules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let sources = crate_sources(&root);
    assert!(sources.len() >= 10, "workspace members not found");
    let mut cycles = Vec::new();
    for src in sources {
        let mut found = Vec::new();
        files(&src, &src, &mut found);
        if let Some(c) = cycle(&graph(&found)) {
            cycles.push(format!("{}: {}", src.display(), c.join(" -> ")));
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

/// The workspace's crates, bottom up: a crate may depend only on crates of lower layers. The
/// domain knows only the layout; the application knows no AWS; no shared crate knows a
/// function (and `FORBIDDEN` keeps AWS and HTTP crates out of the lower layers).
const LAYERS: &[&[&str]] = &[
    &["horizon-layout"],
    &["horizon-pdf", "horizon-ocr", "horizon-formats"],
    &["horizon-domain"],
    &["horizon-api"],
    &["horizon-app"],
    &["horizon-aws"],
    &["horizon-runtime"],
    &[
        "horizon-uploads",
        "horizon-extract-worker",
        "horizon-webhook-dispatch",
        "horizon-dashboard",
        "horizon-job-events",
    ],
    // The job API's OpenAPI document includes the uploads routes (`horizon_uploads::UploadsDoc`).
    &["horizon-jobs-api"],
    &["horizon-local"],
    &["horizon-cli", "horizon-tests"],
];

/// A manifest's package name and every crate it depends on (tests and benchmarks too).
fn dependencies(manifest: &str) -> (String, BTreeSet<String>) {
    let mut name = String::new();
    let mut deps = BTreeSet::new();
    let mut section = "";
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        let key = line.split(['=', '.', ' ']).next().unwrap_or("");
        if section == "[package]" && key == "name" {
            name = line.split('"').nth(1).unwrap_or("").to_owned();
        } else if section.ends_with("dependencies]") && !key.is_empty() && !key.starts_with('#') {
            deps.insert(key.to_owned());
        }
    }
    (name, deps)
}

/// A manifest's package name and the Horizon crates it depends on.
fn horizon_dependencies(manifest: &str) -> (String, BTreeSet<String>) {
    let (name, deps) = dependencies(manifest);
    let ours = deps
        .into_iter()
        .filter(|d| d.starts_with("horizon-"))
        .collect();
    (name, ours)
}

/// Crates that speak AWS (its SDKs, Lambda's runtime and events).
const AWS_CRATES: &[&str] = &[
    "aws-config",
    "aws-sdk-",
    "aws-smithy-",
    "aws_lambda_events",
    "lambda_http",
    "lambda_runtime",
    "serde_dynamo",
];

/// Crates of HTTP: servers, clients, requests and responses.
const HTTP_CRATES: &[&str] = &[
    "axum",
    "http",
    "hyper",
    "tower",
    "reqwest",
    "lambda_http",
    "utoipa-axum",
    "multer",
];

/// What each crate below the adapters may not depend on, and why: the AWS adapters
/// (`horizon-aws`) are the first crate that knows AWS, the runtime the first that serves HTTP.
const FORBIDDEN: &[(&str, &[&str], &str)] = &[
    ("horizon-layout", AWS_CRATES, "reads documents"),
    ("horizon-pdf", AWS_CRATES, "reads documents"),
    ("horizon-ocr", AWS_CRATES, "reads documents"),
    ("horizon-formats", AWS_CRATES, "reads documents"),
    ("horizon-domain", AWS_CRATES, "is the domain"),
    ("horizon-api", AWS_CRATES, "is the API's types"),
    (
        "horizon-app",
        AWS_CRATES,
        "is the application: it knows ports, not AWS",
    ),
    ("horizon-layout", HTTP_CRATES, "reads documents"),
    ("horizon-pdf", HTTP_CRATES, "reads documents"),
    ("horizon-ocr", HTTP_CRATES, "reads documents"),
    ("horizon-formats", HTTP_CRATES, "reads documents"),
    ("horizon-domain", HTTP_CRATES, "is the domain"),
    (
        "horizon-domain",
        &["utoipa"],
        "is the domain: the wire format's schemas are horizon-api's",
    ),
    (
        "horizon-api",
        HTTP_CRATES,
        "is the API's types, not its transport",
    ),
    (
        "horizon-app",
        HTTP_CRATES,
        "is the application: HTTP is the runtime's",
    ),
];

/// Whether `dep` is one of `crates` (an entry ending in `-` is a prefix: `aws-sdk-`).
fn is_one_of(dep: &str, crates: &[&str]) -> bool {
    crates
        .iter()
        .any(|c| dep == *c || (c.ends_with('-') && dep.starts_with(c)))
}

/// The dependencies of `name` (from its manifest) that [`FORBIDDEN`] refuses it.
fn forbidden_dependencies(manifest: &str) -> Vec<String> {
    let (name, deps) = dependencies(manifest);
    let mut wrong = Vec::new();
    for (krate, crates, why) in FORBIDDEN.iter().filter(|(k, _, _)| *k == name) {
        for dep in deps.iter().filter(|d| is_one_of(d, crates)) {
            wrong.push(format!("{krate} -> {dep}: {krate} {why}"));
        }
    }
    wrong
}

#[test]
fn crates_below_the_adapters_know_no_aws_and_no_http() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut wrong = Vec::new();
    for src in crate_sources(&root) {
        let manifest = std::fs::read_to_string(src.join("../Cargo.toml")).expect("manifest");
        wrong.extend(forbidden_dependencies(&manifest));
    }
    assert!(
        wrong.is_empty(),
        "external dependencies against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn an_aws_or_http_crate_in_the_domain_is_found() {
    let wrong = forbidden_dependencies(
        "[package]\nname = \"horizon-domain\"\n\n[dependencies]\naws-sdk-s3.workspace = true\naxum-core = \"0.5\"\naxum = { workspace = true }\nserde.workspace = true\n",
    );
    assert_eq!(wrong.len(), 2, "{wrong:?}");
    assert!(
        wrong[0].starts_with("horizon-domain -> aws-sdk-s3"),
        "{wrong:?}"
    );
    assert!(wrong[1].starts_with("horizon-domain -> axum"), "{wrong:?}");
    assert!(forbidden_dependencies(
        "[package]\nname = \"horizon-runtime\"\n[dependencies]\naxum.workspace = true\n"
    )
    .is_empty());
}

#[test]
fn crates_depend_only_on_lower_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let layer = |name: &str| LAYERS.iter().position(|l| l.contains(&name));
    let mut wrong = Vec::new();
    for src in crate_sources(&root) {
        let manifest = std::fs::read_to_string(src.join("../Cargo.toml")).expect("manifest");
        let (name, deps) = horizon_dependencies(&manifest);
        let Some(own) = layer(&name) else {
            wrong.push(format!("{name} is in no layer"));
            continue;
        };
        for dep in deps {
            if layer(&dep).is_none_or(|l| l >= own) {
                wrong.push(format!("{name} -> {dep}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn a_dependency_on_a_higher_layer_is_read_from_the_manifest() {
    let (name, deps) = horizon_dependencies(
        "[package]\nname = \"horizon-app\"\n\n[dependencies]\nhorizon-domain.workspace = true\nhorizon-aws = { workspace = true }\nserde = \"1\"\n\n[dev-dependencies]\nhorizon-runtime.workspace = true\n",
    );
    assert_eq!(name, "horizon-app");
    assert_eq!(
        deps.into_iter().collect::<Vec<_>>(),
        ["horizon-aws", "horizon-domain", "horizon-runtime"]
    );
}

#[test]
fn a_cycle_through_a_re_export_or_a_group_is_found() {
    let files = |b: &str| {
        vec![
            (
                "lib.rs".to_owned(),
                "pub mod a;\npub mod b;\npub use a::Thing;\n".to_owned(),
            ),
            (
                "a.rs".to_owned(),
                "use crate::b::other;\npub struct Thing;\n".to_owned(),
            ),
            ("b.rs".to_owned(), b.to_owned()),
            ("b/inner.rs".to_owned(), "// use crate::a;\n".to_owned()),
        ]
    };
    let through_root = graph(&files("use crate::Thing;\npub fn other() {}\n"));
    assert_eq!(cycle(&through_root).unwrap(), ["a", "b", "a"]);
    let grouped = graph(&files("use crate::{error::E, a::{self, Thing}};\n"));
    assert!(cycle(&grouped).is_some());
    let only_in_tests = graph(&files(
        "pub fn other() {}\n#[cfg(test)]\nmod t { use crate::a; }\n",
    ));
    assert_eq!(cycle(&only_in_tests), None);
}
