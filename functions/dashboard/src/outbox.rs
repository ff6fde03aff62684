//! The outbox's parked records (stream records that could not be applied: poison records, or
//! ones still failing after most of a day): listed, and replayed on an operator's request.

use axum::extract::State;
use axum::http::StatusCode;
use horizon_app::outbox::{self, PARKED_PAGE};
use horizon_app::ports::ParkedRecord;
use horizon_runtime::http::{ApiJson, ApiResult, Param};
use serde::Serialize;
use serde_json::json;

use crate::{audit, Dash, Op};

/// The parked records, oldest first.
#[derive(Serialize)]
pub struct Parked {
    pub records: Vec<ParkedRecord>,
}

/// How many parked records a replay asked for.
#[derive(Serialize)]
pub struct Replayed {
    pub asked: usize,
}

pub async fn parked(State(s): Dash) -> ApiResult<ApiJson<Parked>> {
    let records = s.parked.parked(PARKED_PAGE).await?;
    Ok(ApiJson(Parked { records }))
}

/// Every parked record replayed: `202`, the outbox applies each (or keeps it with its error).
pub async fn replay_all(
    State(s): Dash,
    axum::extract::Extension(op): Op,
) -> ApiResult<(StatusCode, ApiJson<Replayed>)> {
    let asked = outbox::replay_parked(&s, None).await?;
    audit(&op, "replay-parked", json!({ "records": asked }));
    Ok((StatusCode::ACCEPTED, ApiJson(Replayed { asked })))
}

/// One parked record replayed; `404` when it is not parked.
pub async fn replay_one(
    State(s): Dash,
    axum::extract::Extension(op): Op,
    Param(id): Param<String>,
) -> ApiResult<(StatusCode, ApiJson<Replayed>)> {
    let asked = outbox::replay_parked(&s, Some(&id)).await?;
    audit(&op, "replay-parked", json!({ "record": id }));
    Ok((StatusCode::ACCEPTED, ApiJson(Replayed { asked })))
}
