//! Every AWS request a function makes is allowed by that function's role in the SAM template.
//! LocalStack enforces no IAM, so a missing permission would only show on a real deploy; here the
//! end-to-end run writes down what each request needs (the request meter, under
//! `HORIZON_IAM_LOG`, attributed to the function whose handler made it), and this test holds
//! each need against the role's statements: action, resource ARN (the stack's names put in),
//! and the `s3:prefix` condition of a listing. It also prints the permissions no request used.
//!
//! `scripts/test` runs it after the end-to-end tests, with `HORIZON_IAM_CHECK` naming the
//! directory they wrote to. Without it there is nothing to check: a plain test run skips it
//! (ignored), and run on its own it fails.
//!
//! Not seen here: the requests the event source mappings make for a function (receiving from
//! its queue, reading the stream: SAM adds those permissions itself), and Lambda's own API
//! (the dashboard's fleet reads it only on AWS).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml::Value;

/// One `Allow` statement of a role, resolved to ARN patterns.
#[derive(Debug)]
struct Statement {
    actions: Vec<String>,
    resources: Vec<String>,
    /// `StringLike` on `s3:prefix`, when the statement has it.
    prefixes: Option<Vec<String>>,
}

/// One permission a request needed, as the meter wrote it down.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Need {
    function: String,
    action: String,
    /// The resource's ARN with the stack's names as placeholders (`{table}`, `{bucket}`, …).
    arn: String,
    prefix: String,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The template's outputs of the resources stack (and its own resources), as ARN patterns.
fn output(name: &str) -> Option<String> {
    let sqs = |q: &str| format!("arn:aws:sqs:REGION:ACCOUNT:{{{q}}}");
    Some(match name {
        "Resources.Outputs.HorizonTableArn" => {
            "arn:aws:dynamodb:REGION:ACCOUNT:table/{table}".into()
        }
        "Resources.Outputs.HorizonTableStreamArn" => {
            "arn:aws:dynamodb:REGION:ACCOUNT:table/{table}/stream/*".into()
        }
        "Resources.Outputs.HorizonBucket" => "{bucket}".into(),
        "Resources.Outputs.HorizonExtractQueueArn" => sqs("extract"),
        "Resources.Outputs.HorizonExtractDlqArn" => sqs("extract-dlq"),
        "Resources.Outputs.HorizonWebhookQueueArn" => sqs("webhooks"),
        "Resources.Outputs.HorizonWebhookDlqArn" => sqs("webhooks-dlq"),
        "JobEventsFailureQueue.Arn" => sqs("job-events-failures"),
        other => {
            let function = other.strip_suffix("Function.Arn")?;
            format!("arn:aws:lambda:REGION:ACCOUNT:function:{function}")
        }
    })
}

/// A resource of a statement: `!GetAtt`, `!Sub` or a plain string, as an ARN pattern.
fn resolve(value: &Value) -> Vec<String> {
    match value {
        Value::Sequence(items) => items.iter().flat_map(resolve).collect(),
        Value::String(s) => vec![s.clone()],
        Value::Tagged(tagged) => {
            let inner = tagged.value.as_str().unwrap_or_default();
            match tagged.tag.to_string().as_str() {
                "!GetAtt" => vec![output(inner)
                    .unwrap_or_else(|| panic!("the test does not know !GetAtt {inner}"))],
                "!Sub" => {
                    let mut out = inner.to_owned();
                    while let Some(start) = out.find("${") {
                        let end = start + out[start..].find('}').expect("a closed ${...}");
                        let name = &out[start + 2..end];
                        let value = match name {
                            "AWS::Partition" => "aws".to_owned(),
                            "AWS::Region" => "REGION".to_owned(),
                            "AWS::AccountId" => "ACCOUNT".to_owned(),
                            "Stage" => "STAGE".to_owned(),
                            // A name given at deploy time: any.
                            "AdminKeyParameter" => "/*".to_owned(),
                            other => output(other)
                                .unwrap_or_else(|| panic!("the test does not know ${{{other}}}")),
                        };
                        out.replace_range(start..=end, &value);
                    }
                    vec![out]
                }
                other => panic!("the test does not know {other}"),
            }
        }
        other => panic!("a resource that is not a string: {other:?}"),
    }
}

/// Each function's role, by the name after `horizon-${Stage}-` (`jobs-api`, `uploads`, …).
fn roles() -> BTreeMap<String, Vec<Statement>> {
    let text = std::fs::read_to_string(root().join("infra/template.yaml")).unwrap();
    let template: Value = serde_yaml::from_str(&text).unwrap();
    let mut roles = BTreeMap::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let properties = &resource["Properties"];
        let name = resolve(&properties["FunctionName"])[0]
            .strip_prefix("horizon-STAGE-")
            .unwrap()
            .to_owned();
        let mut statements = Vec::new();
        for policy in properties["Policies"].as_sequence().into_iter().flatten() {
            let Some(list) = policy["Statement"].as_sequence() else {
                panic!("{name}: a policy that is not a Statement list (a SAM policy template?): the test cannot read it");
            };
            for s in list {
                assert_eq!(s["Effect"], "Allow", "{name}: {s:?}");
                let actions = match &s["Action"] {
                    Value::Sequence(a) => {
                        a.iter().map(|a| a.as_str().unwrap().to_owned()).collect()
                    }
                    Value::String(a) => vec![a.clone()],
                    other => panic!("{name}: an Action of {other:?}"),
                };
                let prefixes = s["Condition"]["StringLike"]["s3:prefix"]
                    .as_sequence()
                    .map(|p| p.iter().map(|p| p.as_str().unwrap().to_owned()).collect());
                statements.push(Statement {
                    actions,
                    resources: resolve(&s["Resource"]),
                    prefixes,
                });
            }
        }
        roles.insert(name, statements);
    }
    roles
}

/// The stack's name for a resource the meter named: `{table}` for the stack's table and the
/// tables the tests make after it, and so on.
fn placeholder(name: &str) -> String {
    let known = [
        ("-extract-dlq", "extract-dlq"),
        ("-extract", "extract"),
        ("-webhooks-dlq", "webhooks-dlq"),
        ("-webhooks", "webhooks"),
        ("-job-events-failures", "job-events-failures"),
    ];
    if let Some((_, q)) = known.iter().find(|(end, _)| name.ends_with(end)) {
        return format!("{{{q}}}");
    }
    name.to_owned()
}

fn need_arn(action: &str, resource: &str) -> String {
    let service = action.split(':').next().unwrap_or_default();
    match service {
        "dynamodb" => {
            let rest = resource.strip_prefix("table/").unwrap_or(resource);
            let (table, index) = rest.split_once('/').unwrap_or((rest, ""));
            // The stack's table is `<prefix>-jobs`; a test's own, `<prefix>-jobs-<ulid>`.
            let table = if table.ends_with("-jobs") || table.contains("-jobs-") {
                "{table}"
            } else {
                table
            };
            let index = if index.is_empty() {
                String::new()
            } else {
                format!("/{index}")
            };
            format!("arn:aws:dynamodb:REGION:ACCOUNT:table/{table}{index}")
        }
        "sqs" => format!("arn:aws:sqs:REGION:ACCOUNT:{}", placeholder(resource)),
        "ssm" => format!("arn:aws:ssm:REGION:ACCOUNT:{resource}"),
        "s3" => {
            let (bucket, key) = resource.split_once('/').unwrap_or((resource, ""));
            let bucket = if bucket.contains("-data-") {
                "{bucket}"
            } else {
                bucket
            };
            match key {
                "" => format!("arn:aws:s3:::{bucket}"),
                key => format!("arn:aws:s3:::{bucket}/{key}"),
            }
        }
        _ => resource.to_owned(),
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` any one.
fn matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Classic two-pointer match with backtracking to the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

fn allows(s: &Statement, need: &Need) -> bool {
    s.actions.iter().any(|a| matches(a, &need.action))
        && s.resources.iter().any(|r| matches(r, &need.arn))
        && match &s.prefixes {
            None => true,
            Some(prefixes) => prefixes.iter().any(|p| matches(p, &need.prefix)),
        }
}

fn needs(dir: &Path) -> BTreeSet<Need> {
    let mut needs = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            let [function, action, resource, prefix] = f[..] else {
                panic!("a line of the IAM log that is not four fields: {line:?}");
            };
            needs.insert(Need {
                function: function.into(),
                action: action.into(),
                arn: need_arn(action, resource),
                prefix: prefix.into(),
            });
        }
    }
    needs
}

#[test]
fn the_wildcards_match_as_iam_matches_them() {
    assert!(matches(
        "arn:aws:s3:::{bucket}/events/*",
        "arn:aws:s3:::{bucket}/events/job_1/a.json"
    ));
    assert!(!matches(
        "arn:aws:s3:::{bucket}/events/*",
        "arn:aws:s3:::{bucket}/results/job_1"
    ));
    assert!(matches("*", "anything"));
    assert!(matches("dynamodb:*Item", "dynamodb:GetItem"));
    assert!(!matches(
        "arn:aws:sqs:REGION:ACCOUNT:{extract}",
        "arn:aws:sqs:REGION:ACCOUNT:{extract-dlq}"
    ));
    assert!(matches("results/*", "results/job_1/"));
}

/// Ignored in a plain test run (nothing has been written down then): `scripts/test` runs it
/// on its own after the end-to-end tests (`--ignored`); without what they wrote, it fails.
#[test]
#[ignore = "needs HORIZON_IAM_CHECK: the requests an end-to-end run wrote down (scripts/test runs it)"]
fn every_request_of_every_function_is_allowed_by_its_role() {
    let dir = std::env::var_os("HORIZON_IAM_CHECK").expect(
        "HORIZON_IAM_CHECK names no directory: nothing to check (scripts/test runs this after \
         the end-to-end tests, with what they wrote down)",
    );
    let roles = roles();
    let needs = needs(Path::new(&dir));
    assert!(
        !needs.is_empty(),
        "the end-to-end run wrote down no request in {dir:?}"
    );

    let mut denied = Vec::new();
    let mut used: BTreeSet<(String, usize, String, String)> = BTreeSet::new();
    for need in &needs {
        let Some(role) = roles.get(&need.function) else {
            denied.push(format!(
                "{need:?}: no function of that name in the template"
            ));
            continue;
        };
        let allowing: Vec<usize> = (0..role.len())
            .filter(|&i| allows(&role[i], need))
            .collect();
        if allowing.is_empty() {
            denied.push(format!(
                "{}: {} on {}{}",
                need.function,
                need.action,
                need.arn,
                if need.prefix.is_empty() {
                    String::new()
                } else {
                    format!(" (s3:prefix {})", need.prefix)
                }
            ));
        }
        for i in allowing {
            let s = &role[i];
            for a in s.actions.iter().filter(|a| matches(a, &need.action)) {
                for r in s.resources.iter().filter(|r| matches(r, &need.arn)) {
                    used.insert((need.function.clone(), i, a.clone(), r.clone()));
                }
            }
        }
    }

    // What the roles grant that no request used: a candidate for removal, or a path the tests
    // do not take (printed, not failed: the list is read by a person).
    let mut unused = Vec::new();
    for (function, role) in &roles {
        for (i, s) in role.iter().enumerate() {
            for a in &s.actions {
                for r in &s.resources {
                    if !used.contains(&(function.clone(), i, a.clone(), r.clone())) {
                        unused.push(format!("{function}: {a} on {r}"));
                    }
                }
            }
        }
    }
    println!(
        "granted but not used by any request of the run ({}):",
        unused.len()
    );
    for u in &unused {
        println!("  {u}");
    }
    let seen: BTreeSet<&str> = needs.iter().map(|n| n.function.as_str()).collect();
    println!(
        "requests checked: {} distinct (function, action, resource), from {seen:?}",
        needs.len()
    );

    assert!(
        denied.is_empty(),
        "requests the template's roles do not allow:\n  {}",
        denied.join("\n  ")
    );
    let functions: BTreeSet<&str> = roles.keys().map(String::as_str).collect();
    assert_eq!(seen, functions, "every function's requests were seen");
}

/// Each function's extraction child fits in the function's memory beside its parent, as the
/// template sizes them (the check each function also makes at start,
/// `horizon_app::config::child_room`): a child allowed more would be killed by Lambda rather
/// than refused by its own limit.
#[test]
fn each_function_has_room_for_its_child() {
    let text = std::fs::read_to_string(root().join("infra/template.yaml")).unwrap();
    let template: Value = serde_yaml::from_str(&text).unwrap();
    let globals = &template["Globals"]["Function"];
    let mut checked = 0;
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let properties = &resource["Properties"];
        let size = properties["MemorySize"]
            .as_u64()
            .or(globals["MemorySize"].as_u64())
            .unwrap();
        let child = &properties["Environment"]["Variables"]["HORIZON_EXTRACT_MEMORY_MB"];
        let Some(child) = child.as_u64() else {
            continue;
        };
        assert!(
            child <= horizon_app::config::child_room(size),
            "{name:?}: a child of {child} MB does not fit in {size} MB"
        );
        checked += 1;
    }
    assert!(
        checked >= 4,
        "{checked} functions name their child's memory"
    );
}
