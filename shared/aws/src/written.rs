//! Writes with effects, as this process sees them: a stream reader in the same process (the
//! local runner's) waits on [`WRITTEN`] instead of polling often while idle.

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// Rung when this process has written something the stream's filter lets through (a job's
/// record, or a delivery attempt with a sequel): a stream reader in the same process (the local
/// runner's) reads at once instead of at its next poll, and so may poll seldom while idle.
pub static WRITTEN: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Whether an item with these attributes (its keys, or the whole item) is one that the
/// stream's filter lets through (`stream::passes_filter`): the same rule, seen from the
/// writer's side, who rings [`WRITTEN`] once such a write has landed.
pub(crate) fn streamed(item: &HashMap<String, AttributeValue>) -> bool {
    matches!(item.get("sk"), Some(AttributeValue::S(sk)) if sk == "JOB")
        || item.contains_key("then")
        || item.contains_key(REPLAY_AT)
}

/// The partition of the outbox's parked records (`outbox`).
pub(crate) const PARKED: &str = "OUTBOX#PARKED";
/// The attribute a replay request sets on a parked record: its write goes through the filter.
pub(crate) const REPLAY_AT: &str = "replayAt";
