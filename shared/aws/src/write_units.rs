//! The write units of this process's DynamoDB writes, per partition key of the table and of each
//! of its indexes, as DynamoDB bills them (feature `test-support`: `scripts/bench capacity`).
//!
//! DynamoDB serves at most 1,000 write units a second on one partition key value, of a table or
//! of an index, whatever the table's capacity: the busiest key is the platform's ceiling. The
//! request meter hands every write request here ([`record`]); the tally is read with
//! [`write_units`]. The rules, from DynamoDB's documentation:
//! - a write costs one unit per started KB of the item (for a put, of the larger of the old and
//!   the new item), twice that inside a transaction; a condition check in a transaction costs as
//!   a transactional write;
//! - an index is written when an item enters it, leaves it (its key attributes removed), moves in
//!   it (a key attribute changes: a delete and a put), or changes an attribute the index projects;
//!   each at one unit per started KB of the projected entry; index writes are never doubled.
//!
//! An update's new item is not in its request: its size is taken as the item's last known one
//! (or a small item's), and which attributes it changes from its expression. The items are
//! remembered from the writes seen (a fresh table, written by this process alone, is seen whole).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde_json::{Map, Value};

/// What one index projects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Projection {
    All,
    KeysOnly,
    Include(Vec<String>),
}

/// One global secondary index: its name, key attributes and projection.
#[derive(Debug, Clone)]
pub struct Index {
    pub name: String,
    pub pk: String,
    pub sk: Option<String>,
    pub projection: Projection,
}

/// The table whose writes are counted: its name, key attributes and indexes.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub pk: String,
    pub sk: String,
    pub indexes: Vec<Index>,
}

/// An item as last seen: its size, and its entry in each index (partition key, sort key, the
/// projected attributes, and the entry's size).
struct Seen {
    size: u64,
    item: Map<String, Value>,
}

#[derive(Default)]
struct Ledger {
    table: Option<Table>,
    items: HashMap<(String, String), Seen>,
    /// Units per key: `<pk>` for the table's, `<index> <pk>` for an index's.
    units: BTreeMap<String, u64>,
}

static LEDGER: Mutex<Option<Ledger>> = Mutex::new(None);

/// Starts counting the writes to `table` (from zero).
pub fn watch(table: Table) {
    if let Ok(mut ledger) = LEDGER.lock() {
        *ledger = Some(Ledger {
            table: Some(table),
            ..Ledger::default()
        });
    }
}

/// Starts counting the writes to the DynamoDB table `name`, as it is described (its indexes).
pub async fn watch_table(name: &str) -> Result<(), String> {
    use aws_sdk_dynamodb::types::{KeyType, ProjectionType};
    let client = crate::dynamodb_client(&crate::sdk_config().await);
    let out = client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(|e| format!("DescribeTable {name}: {e:?}"))?;
    let description = out.table.ok_or("DescribeTable: no table")?;
    let keys = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| {
        let of = |kind: KeyType| {
            schema
                .iter()
                .find(|k| k.key_type == kind)
                .map(|k| k.attribute_name.clone())
        };
        (of(KeyType::Hash).unwrap_or_default(), of(KeyType::Range))
    };
    let (pk, sk) = keys(description.key_schema());
    let indexes = description
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            let (pk, sk) = keys(g.key_schema());
            let projection = g.projection();
            let projection = match projection.and_then(|p| p.projection_type.clone()) {
                Some(ProjectionType::KeysOnly) => Projection::KeysOnly,
                Some(ProjectionType::Include) => Projection::Include(
                    projection
                        .map(|p| p.non_key_attributes().to_vec())
                        .unwrap_or_default(),
                ),
                _ => Projection::All,
            };
            Index {
                name: g.index_name.clone().unwrap_or_default(),
                pk,
                sk,
                projection,
            }
        })
        .collect();
    watch(Table {
        name: name.to_owned(),
        pk,
        sk: sk.unwrap_or_default(),
        indexes,
    });
    Ok(())
}

/// The write units counted so far, per key: a table partition key as it is, an index's as
/// `<index> <partition key>`.
pub fn write_units() -> BTreeMap<String, u64> {
    LEDGER
        .lock()
        .ok()
        .and_then(|l| l.as_ref().map(|l| l.units.clone()))
        .unwrap_or_default()
}

/// Counts one DynamoDB request (its operation and JSON body), if it writes the watched table.
pub fn record(operation: &str, body: &[u8]) {
    let Ok(mut guard) = LEDGER.lock() else {
        return;
    };
    let Some(ledger) = guard.as_mut() else {
        return;
    };
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    ledger.request(operation, &body);
}

impl Ledger {
    fn request(&mut self, operation: &str, body: &Value) {
        let Some(name) = self.table.as_ref().map(|t| t.name.clone()) else {
            return;
        };
        match operation {
            "PutItem" | "UpdateItem" | "DeleteItem" if body["TableName"] == name.as_str() => {
                self.write(operation, body, 1)
            }
            "TransactWriteItems" => {
                for item in body["TransactItems"].as_array().into_iter().flatten() {
                    let Some((kind, write)) = item.as_object().and_then(|o| o.iter().next()) else {
                        continue;
                    };
                    if write["TableName"] != name.as_str() {
                        continue;
                    }
                    let operation = match kind.as_str() {
                        "Put" => "PutItem",
                        "Update" => "UpdateItem",
                        "Delete" => "DeleteItem",
                        _ => "ConditionCheck",
                    };
                    self.write(operation, write, 2);
                }
            }
            "BatchWriteItem" => {
                let requests = body["RequestItems"][name.as_str()].as_array();
                for request in requests.into_iter().flatten() {
                    if let Some(put) = request.get("PutRequest") {
                        self.write("PutItem", put, 1);
                    } else if let Some(delete) = request.get("DeleteRequest") {
                        self.write("DeleteItem", delete, 1);
                    }
                }
            }
            _ => {}
        }
    }

    /// One write (`times`: 2 inside a transaction).
    fn write(&mut self, operation: &str, write: &Value, times: u64) {
        let Some(table) = self.table.clone() else {
            return;
        };
        let key_of = |v: &Value| -> Option<(String, String)> {
            Some((
                plain(v.get(&table.pk)?)?,
                plain(v.get(&table.sk)?).unwrap_or_default(),
            ))
        };
        let (key, new) = match operation {
            "PutItem" => {
                let Some(item) = write["Item"].as_object().cloned() else {
                    return;
                };
                let Some(key) = key_of(&write["Item"]) else {
                    return;
                };
                (key, Some(item))
            }
            "UpdateItem" => {
                let Some(key) = key_of(&write["Key"]) else {
                    return;
                };
                let mut item = self
                    .items
                    .get(&key)
                    .map(|s| s.item.clone())
                    .or_else(|| write["Key"].as_object().cloned())
                    .unwrap_or_default();
                apply_update(&mut item, write);
                (key, Some(item))
            }
            _ => {
                let Some(key) = key_of(&write["Key"]) else {
                    return;
                };
                (key, None)
            }
        };
        let old = self.items.get(&key);
        let old_size = old.map(|s| s.size).unwrap_or(0);
        let new_size = new.as_ref().map(item_size).unwrap_or(0);
        let table_units = match operation {
            "PutItem" => kb(old_size.max(new_size)),
            "UpdateItem" => kb(new_size),
            _ => kb(old_size),
        };
        let mut adds = vec![(key.0.clone(), table_units * times)];
        if operation != "ConditionCheck" {
            for index in &table.indexes {
                let before = old.and_then(|s| entry(&table, index, &s.item));
                let after = new.as_ref().and_then(|i| entry(&table, index, i));
                let name = |pk: &str| format!("{} {pk}", index.name);
                match (before, after) {
                    (None, None) => {}
                    (Some((pk, _, size, _)), None) => adds.push((name(&pk), kb(size))),
                    (None, Some((pk, _, size, _))) => adds.push((name(&pk), kb(size))),
                    (Some((opk, osk, osize, oproj)), Some((npk, nsk, nsize, nproj))) => {
                        if (&opk, &osk) != (&npk, &nsk) {
                            adds.push((name(&opk), kb(osize)));
                            adds.push((name(&npk), kb(nsize)));
                        } else if oproj != nproj {
                            adds.push((name(&npk), kb(nsize)));
                        }
                    }
                }
            }
        }
        for (k, units) in adds {
            *self.units.entry(k).or_default() += units;
        }
        match new {
            Some(item) if operation != "ConditionCheck" => {
                let size = item_size(&item);
                self.items.insert(key, Seen { size, item });
            }
            Some(_) => {}
            None => {
                if operation == "DeleteItem" {
                    self.items.remove(&key);
                }
            }
        }
    }
}

/// An item's entry in `index`, if it has one: partition key, sort key, size, and the projected
/// attributes.
fn entry(
    table: &Table,
    index: &Index,
    item: &Map<String, Value>,
) -> Option<(String, String, u64, Map<String, Value>)> {
    let pk = plain(item.get(&index.pk)?)?;
    let sk = match &index.sk {
        Some(sk) => plain(item.get(sk)?)?,
        None => String::new(),
    };
    let keys = [&table.pk, &table.sk, &index.pk]
        .into_iter()
        .chain(index.sk.as_ref());
    let projected: Map<String, Value> = item
        .iter()
        .filter(|(name, _)| match &index.projection {
            Projection::All => true,
            Projection::KeysOnly => keys.clone().any(|k| k == *name),
            Projection::Include(more) => {
                keys.clone().any(|k| k == *name) || more.iter().any(|m| m == *name)
            }
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // The index's entry adds 100 bytes of overhead to the projected attributes.
    let size = item_size(&projected) + 100;
    Some((pk, sk, size, projected))
}

/// A string or number attribute's value as text.
fn plain(value: &Value) -> Option<String> {
    let v = value.get("S").or_else(|| value.get("N"))?;
    v.as_str().map(str::to_owned)
}

fn kb(bytes: u64) -> u64 {
    bytes.div_ceil(1024).max(1)
}

/// An item's size as DynamoDB counts it: each attribute's name and value.
fn item_size(item: &Map<String, Value>) -> u64 {
    item.iter()
        .map(|(name, value)| name.len() as u64 + value_size(value))
        .sum()
}

fn value_size(value: &Value) -> u64 {
    let Some((kind, v)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 1;
    };
    match kind.as_str() {
        "S" => v.as_str().map_or(0, |s| s.len() as u64),
        // About one byte per two digits, plus one.
        "N" => v.as_str().map_or(1, |s| s.len().div_ceil(2) as u64 + 1),
        // Base64 on the wire: three bytes per four characters.
        "B" => v.as_str().map_or(0, |s| (s.len() * 3 / 4) as u64),
        "SS" | "NS" | "BS" => v
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e.as_str().map_or(0, |s| s.len() as u64))
            .sum(),
        "M" => {
            3 + v.as_object().map_or(0, |m| {
                m.iter()
                    .map(|(k, e)| k.len() as u64 + value_size(e) + 1)
                    .sum()
            })
        }
        "L" => {
            3 + v
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| value_size(e) + 1)
                .sum::<u64>()
        }
        _ => 1, // BOOL, NULL
    }
}

/// Applies an update's expression to `item`, as far as sizes and index entries need: `SET` and
/// `ADD` set the attribute to the value named (an `ADD` of a number adds it), `REMOVE` removes.
/// An expression it cannot follow leaves the attribute as it was.
fn apply_update(item: &mut Map<String, Value>, write: &Value) {
    let expression = write["UpdateExpression"].as_str().unwrap_or_default();
    let names = write["ExpressionAttributeNames"].as_object();
    let values = write["ExpressionAttributeValues"].as_object();
    let name = |token: &str| -> String {
        let token = token.trim();
        names
            .and_then(|n| n.get(token))
            .and_then(Value::as_str)
            .unwrap_or(token)
            .to_owned()
    };
    let value = |token: &str| values.and_then(|v| v.get(token.trim())).cloned();
    for (clause, body) in clauses(expression) {
        for part in split_top(body) {
            match clause.as_str() {
                "SET" => {
                    let Some((path, rhs)) = part.split_once('=') else {
                        continue;
                    };
                    let rhs = rhs.trim();
                    // `if_not_exists(a, :v)`: the value, when the attribute is new.
                    let set = if let Some(inner) = rhs.strip_prefix("if_not_exists(") {
                        let v = inner.trim_end_matches(')').split(',').nth(1).unwrap_or("");
                        (!item.contains_key(&name(path)))
                            .then(|| value(v))
                            .flatten()
                    } else {
                        value(rhs)
                    };
                    if let Some(v) = set {
                        item.insert(name(path), v);
                    }
                }
                "ADD" => {
                    let mut words = part.split_whitespace();
                    let (Some(path), Some(v)) = (words.next(), words.next()) else {
                        continue;
                    };
                    let (path, Some(by)) = (name(path), value(v)) else {
                        continue;
                    };
                    let sum = match (
                        item.get(&path).and_then(|o| o["N"].as_str()),
                        by["N"].as_str(),
                    ) {
                        (Some(a), Some(b)) => match (a.parse::<f64>(), b.parse::<f64>()) {
                            (Ok(a), Ok(b)) => serde_json::json!({ "N": (a + b).to_string() }),
                            _ => by.clone(),
                        },
                        _ => by.clone(),
                    };
                    item.insert(path, sum);
                }
                "REMOVE" => {
                    item.remove(&name(part));
                }
                _ => {}
            }
        }
    }
}

/// An update expression's clauses: (`SET`, its text), (`ADD`, …).
fn clauses(expression: &str) -> Vec<(String, &str)> {
    let mut starts: Vec<(usize, String)> = Vec::new();
    let mut at = 0;
    for word in expression.split_inclusive(char::is_whitespace) {
        let w = word.trim().to_uppercase();
        if ["SET", "ADD", "REMOVE", "DELETE"].contains(&w.as_str()) {
            starts.push((at, w));
        }
        at += word.len();
    }
    starts
        .iter()
        .enumerate()
        .map(|(i, (start, clause))| {
            let end = starts.get(i + 1).map_or(expression.len(), |(e, _)| *e);
            (clause.clone(), &expression[start + clause.len()..end])
        })
        .collect()
}

/// `text` split at its commas outside parentheses.
fn split_top(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut from) = (Vec::new(), 0, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[from..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table() -> Table {
        Table {
            name: "t".into(),
            pk: "pk".into(),
            sk: "sk".into(),
            indexes: vec![
                Index {
                    name: "lists".into(),
                    pk: "lpk".into(),
                    sk: Some("lsk".into()),
                    projection: Projection::Include(vec!["status".into()]),
                },
                Index {
                    name: "all".into(),
                    pk: "apk".into(),
                    sk: None,
                    projection: Projection::All,
                },
            ],
        }
    }

    fn ledger() -> Ledger {
        Ledger {
            table: Some(table()),
            ..Ledger::default()
        }
    }

    fn put(item: Value) -> Value {
        json!({ "TableName": "t", "Item": item })
    }

    #[test]
    fn puts_count_the_table_and_each_index_entry_they_write_move_or_change() {
        let mut l = ledger();
        let big = "x".repeat(1500);
        let item = |status: &str, list: &str| {
            json!({ "pk": {"S": "J1"}, "sk": {"S": "JOB"}, "status": {"S": status},
                    "lpk": {"S": list}, "lsk": {"S": "1"}, "apk": {"S": "A"}, "blob": {"S": big} })
        };
        l.request("PutItem", &put(item("queued", "pending")));
        // 2 KB item: 2 units; its list entry (keys and status) 1; the ALL index 2.
        assert_eq!(l.units["J1"], 2);
        assert_eq!(l.units["lists pending"], 1);
        assert_eq!(l.units["all A"], 2);
        // The same keys, a projected attribute changed: one index write each.
        l.request("PutItem", &put(item("processing", "pending")));
        assert_eq!(l.units["lists pending"], 2);
        assert_eq!(l.units["all A"], 4);
        // Nothing changed: the table is written, the indexes not.
        l.request("PutItem", &put(item("processing", "pending")));
        assert_eq!(l.units["J1"], 6);
        assert_eq!(l.units["lists pending"], 2);
        // A move: out of one list, into another.
        l.request("PutItem", &put(item("completed", "completed")));
        assert_eq!(l.units["lists pending"], 3);
        assert_eq!(l.units["lists completed"], 1);
    }

    #[test]
    fn transactions_double_the_table_units_and_updates_follow_their_expression() {
        let mut l = ledger();
        let update = json!({ "TransactItems": [{ "Update": {
            "TableName": "t", "Key": { "pk": {"S": "TALLY#3"}, "sk": {"S": "gauge"} },
            "UpdateExpression": "ADD #f :by SET changedAt = :c, lpk = :l, lsk = :z",
            "ExpressionAttributeNames": { "#f": "pending" },
            "ExpressionAttributeValues": { ":by": {"N": "1"}, ":c": {"N": "5"},
                                           ":l": {"S": "COUNTED"}, ":z": {"N": "0"} } } }] });
        l.request("TransactWriteItems", &update);
        assert_eq!(l.units["TALLY#3"], 2);
        assert_eq!(l.units["lists COUNTED"], 1);
        // The same keys again, nothing projected changed: no index write.
        l.request("TransactWriteItems", &update);
        assert_eq!(l.units["TALLY#3"], 4);
        assert_eq!(l.units["lists COUNTED"], 1);
        let key = &(String::from("TALLY#3"), String::from("gauge"));
        assert_eq!(l.items[key].item["pending"], json!({"N": "2"}));
    }

    #[test]
    fn deletes_take_the_entries_out_and_other_tables_are_not_counted() {
        let mut l = ledger();
        l.request(
            "PutItem",
            &put(json!({ "pk": {"S": "J"}, "sk": {"S": "JOB"}, "apk": {"S": "A"} })),
        );
        l.request(
            "DeleteItem",
            &json!({ "TableName": "t", "Key": { "pk": {"S": "J"}, "sk": {"S": "JOB"} } }),
        );
        assert_eq!(l.units["J"], 2);
        assert_eq!(l.units["all A"], 2);
        l.request(
            "PutItem",
            &json!({ "TableName": "other", "Item": { "pk": {"S": "J"}, "sk": {"S": "JOB"} } }),
        );
        assert_eq!(l.units["J"], 2);
    }

    #[test]
    fn expressions_split_into_clauses_and_parts() {
        let c = clauses("ADD #a :x, #b :y SET c = if_not_exists(c, :n), d = :d REMOVE e");
        let names: Vec<&str> = c.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["ADD", "SET", "REMOVE"]);
        assert_eq!(split_top(c[1].1).len(), 2);
    }
}
