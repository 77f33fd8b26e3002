//! `GET /healthz`: liveness.

use hyper::{Response, StatusCode};

use super::{Body, json_response};

/// Returns 200 `{"status":"ok"}`.
pub(super) fn health() -> Response<Body> {
    json_response(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}
