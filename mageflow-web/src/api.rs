//! The routes: the pages and their assets, and the JSON API they use.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mageflow_runtime::{FlowCursor, FlowFilter, SignatureId, Status};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::assets;
use crate::error::ApiError;
use crate::guard;
use crate::live;
use crate::view::{FlowPageView, FlowView};

/// Flows per page at most.
const MAX_LIMIT: usize = 500;

pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(assets::index))
        .route("/flows/{id}", get(assets::index))
        .route("/assets/app.js", get(assets::script))
        .route("/assets/app.css", get(assets::style))
        .route("/api/config", get(config))
        .route("/api/flows", get(flows))
        .route("/api/flows/{id}", get(flow))
        .route("/api/flows/{id}/events", get(events))
        .route("/api/flows/{id}/{action}", post(action))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), guard::loopback_hosts))
        .layer(middleware::from_fn(guard::security_headers))
        .with_state(state)
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "no page or API route `{method} {}`: the pages are / and /flows/ID, the API is under /api/flows",
        uri.path()
    ))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        format!("`{}` does not take {method}: lifecycle actions are POST, everything else GET", uri.path()),
    )
}

async fn config(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(json!({
        "read_only": state.read_only,
        "token_required": state.token.is_some() && !state.read_only,
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// The query of `GET /api/flows`.
#[derive(Deserialize)]
struct ListQuery {
    /// Statuses, comma-separated.
    status: Option<String>,
    name: Option<String>,
    /// An age: `90s`, `15m`, `2h`, `7d`, or seconds.
    younger_than: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

const STATUSES: [Status; 7] = [
    Status::Pending,
    Status::Active,
    Status::Done,
    Status::Failed,
    Status::Suspended,
    Status::Interrupted,
    Status::Canceled,
];

fn parse_status(text: &str) -> Result<Status, ApiError> {
    STATUSES.into_iter().find(|status| status.as_str() == text).ok_or_else(|| {
        let known: Vec<&str> = STATUSES.iter().map(|status| status.as_str()).collect();
        ApiError::bad_request(format!("unknown status `{text}`: use one or more of {}", known.join(", ")))
    })
}

/// `90s`, `15m`, `2h`, `7d`, or a number of seconds.
pub(crate) fn parse_age(text: &str) -> Result<Duration, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "`{text}` is not an age: use a number with s, m, h or d (`90s`, `15m`, `2h`, `7d`), or seconds"
        ))
    };
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((at, unit)) if unit.is_ascii_alphabetic() => (&text[..at], unit),
        _ => (text, 's'),
    };
    let number: u64 = number.trim().parse().map_err(|_| bad())?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    number.checked_mul(seconds).map(Duration::from_secs).ok_or_else(bad)
}

async fn flows(
    State(state): State<Arc<AppState>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<FlowPageView>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    let mut filter = FlowFilter::new();
    for status in query.status.iter().flat_map(|list| list.split(',')).map(str::trim).filter(|s| !s.is_empty()) {
        filter = filter.status(parse_status(status)?);
    }
    if let Some(name) = query.name.as_deref().map(str::trim).filter(|name| !name.is_empty()) {
        filter = filter.name(name);
    }
    if let Some(age) = query.younger_than.as_deref().filter(|age| !age.trim().is_empty()) {
        filter = filter.younger_than(parse_age(age)?);
    }
    if let Some(limit) = query.limit.as_deref().filter(|limit| !limit.trim().is_empty()) {
        let limit: usize = limit.trim().parse().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
            ApiError::bad_request(format!("`limit` must be a number from 1 to {MAX_LIMIT}, not `{limit}`"))
        })?;
        filter = filter.limit(limit);
    }
    if let Some(after) = query.after.as_deref().filter(|after| !after.trim().is_empty()) {
        let cursor: FlowCursor = after.trim().parse().map_err(|error: mageflow_runtime::Error| {
            ApiError::bad_request(format!("bad `after`: {error}; pass the `next` of the previous page"))
        })?;
        filter = filter.after(cursor);
    }
    Ok(Json(state.client.flows(&filter).await?.into()))
}

/// A signature id from the path; a malformed one names no flow, so it is a 404 too.
pub(crate) fn signature_id(text: &str) -> Result<SignatureId, ApiError> {
    SignatureId::parse(text).ok_or_else(|| {
        ApiError::not_found(format!(
            "no flow `{text}`: that is not a signature id (1 to 64 letters, digits, `-` or `_`)"
        ))
    })
}

async fn flow(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Json<FlowView>, ApiError> {
    let id = signature_id(&id)?;
    Ok(Json(FlowView::new(state.client.tree(&id).await?)))
}

async fn events(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = signature_id(&id)?;
    let first = state.client.tree(&id).await?;
    Ok(live::events(state, id, first).into_response())
}

/// The lifecycle actions, by their name in the path.
#[derive(Clone, Copy, Debug)]
enum Action {
    Suspend,
    Interrupt,
    Resume,
    Cancel,
}

impl Action {
    fn parse(text: &str) -> Option<Action> {
        Some(match text {
            "suspend" => Action::Suspend,
            "interrupt" => Action::Interrupt,
            "resume" => Action::Resume,
            "cancel" => Action::Cancel,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Action::Suspend => "suspend",
            Action::Interrupt => "interrupt",
            Action::Resume => "resume",
            Action::Cancel => "cancel",
        }
    }
}

async fn action(
    State(state): State<Arc<AppState>>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let action = Action::parse(&action).ok_or_else(|| {
        ApiError::not_found(format!("no action `{action}`: the actions are suspend, interrupt, resume and cancel"))
    })?;
    guard::authorize_action(&state, &headers)?;
    let id = signature_id(&id)?;
    let client = &state.client;
    match action {
        Action::Suspend => client.suspend(&id).await?,
        Action::Interrupt => client.interrupt(&id).await?,
        Action::Resume => client.resume(&id).await?,
        Action::Cancel => client.cancel(&id).await?,
    }
    state.changed.notify_waiters();
    let status = client.status(&id).await?.status;
    tracing::info!(signature = %id, action = action.as_str(), %status, "lifecycle action from the web view");
    Ok(Json(json!({ "id": id.to_string(), "action": action.as_str(), "status": status })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_age("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_age("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_age("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_age("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse_age("30").unwrap(), Duration::from_secs(30));
        assert_eq!(
            parse_age("2w").unwrap_err().message,
            "`2w` is not an age: use a number with s, m, h or d (`90s`, `15m`, `2h`, `7d`), or seconds"
        );
        assert!(parse_age("h").is_err());
        assert!(parse_age("-1h").is_err());
    }
}
