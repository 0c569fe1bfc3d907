//! The small part of Hatchet's REST API the fake serves: reading a run and its status, which SDKs
//! poll for results (the Rust `hatchet-sdk` crate's `run()` does).
//!
//! - `GET /api/v1/stable/workflow-runs/{id}`: the run, its tasks, their outputs and errors
//! - `GET /api/v1/stable/workflow-runs/{id}/status`: the run's status as a JSON string
//!
//! Requests need `Authorization: Bearer <token>` like the gRPC services. Errors use Hatchet's
//! shape: `{"errors": [{"description": "..."}]}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::services::Shared;
use crate::config::decode_token_claims;

/// The REST routes, sharing the engine with the gRPC services.
pub(crate) fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new()
        .route("/api/v1/stable/workflow-runs/{id}", get(run_details))
        .route("/api/v1/stable/workflow-runs/{id}/status", get(run_status))
        .fallback(not_served)
        .with_state(shared)
}

/// A REST error: its status and description.
type Failure = (StatusCode, String);

fn error((status, description): Failure) -> Response {
    (status, Json(json!({"errors": [{"description": description}]}))).into_response()
}

fn fail(status: StatusCode, description: impl Into<String>) -> Failure {
    (status, description.into())
}

fn authorize(headers: &HeaderMap) -> Result<(), Failure> {
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| fail(StatusCode::UNAUTHORIZED, "missing Authorization: Bearer <token>"))?;
    let token = header
        .trim()
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| fail(StatusCode::UNAUTHORIZED, "the Authorization header must be `Bearer <token>`"))?;
    decode_token_claims(token).map_err(|e| fail(StatusCode::UNAUTHORIZED, e.to_string()))?;
    Ok(())
}

fn lookup(shared: &Shared, headers: &HeaderMap, id: &str) -> Result<Value, Failure> {
    authorize(headers)?;
    let id = uuid::Uuid::parse_str(id)
        .map_err(|_| fail(StatusCode::BAD_REQUEST, format!("{id:?} is not a valid workflow run id (a UUID)")))?;
    shared
        .engine()
        .rest_run(&id.to_string())
        .ok_or_else(|| fail(StatusCode::NOT_FOUND, format!("workflow run {id} not found")))
}

async fn run_details(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match lookup(&shared, &headers, &id) {
        Ok(run) => Json(run).into_response(),
        Err(failure) => error(failure),
    }
}

async fn run_status(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match lookup(&shared, &headers, &id) {
        Ok(run) => Json(run["run"]["status"].clone()).into_response(),
        Err(failure) => error(failure),
    }
}

async fn not_served() -> Response {
    error(fail(
        StatusCode::NOT_IMPLEMENTED,
        "the fake Hatchet engine serves only GET /api/v1/stable/workflow-runs/{id} and .../{id}/status",
    ))
}
