//! The small part of Hatchet's REST API the fake serves: reading a run and its status, which SDKs
//! poll for results (the Rust `hatchet-sdk` crate's `run()` does).
//!
//! - `GET /api/v1/stable/workflow-runs/{id}`: the run, its tasks, their outputs and errors
//! - `GET /api/v1/stable/workflow-runs/{id}/status`: the run's status as a JSON string
//!
//! Requests need `Authorization: Bearer <token>` like the gRPC services. Errors use Hatchet's
//! shape: `{"errors": [{"description": "..."}]}`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

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

/// Formats a time as RFC 3339 in UTC with milliseconds (`2026-01-31T12:00:00.000Z`).
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rest = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_formats_utc_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap_day = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
        assert_eq!(rfc3339(leap_day), "2024-02-29T12:34:56.789Z");
        let year_end = UNIX_EPOCH + Duration::from_secs(1_767_225_599);
        assert_eq!(rfc3339(year_end), "2025-12-31T23:59:59.000Z");
    }
}
