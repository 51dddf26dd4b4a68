use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;
use crate::dto::HealthResponse;

/// Liveness
///
/// 200 while the process runs; checks nothing else.
#[utoipa::path(get, path = "/health/live", tag = "operations", operation_id = "get_liveness",
    responses((status = 200, description = "Alive", body = HealthResponse, example = json!({"status": "ok", "checks": {}}))))]
pub async fn live() -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok",
        checks: BTreeMap::new(),
    })
}

/// Readiness
///
/// 200 when the database and the identity provider answer, else 503 naming which is down.
/// The file store (images) is reported under `file_store` but does not make the service
/// unready: every instance shares it, and the catalog and orders work without it. Nor does a
/// read replica (`DATABASE_READ_URL`), reported under `database_replica` as `up`, `lagging` or
/// `down`: while it is not up, its reads go to the primary.
/// Once the instance is stopping (SIGTERM), it answers 503 with `status: "stopping"` while it
/// still serves requests (see `SHUTDOWN_DRAIN_SECONDS`).
#[utoipa::path(get, path = "/health/ready", tag = "operations", operation_id = "get_readiness",
    responses(
        (status = 200, description = "Ready", body = HealthResponse,
            example = json!({"status": "ok", "checks": {"database": "up", "identity_provider": "up", "file_store": "up"}})),
        (status = 503, description = "A dependency is down, or the instance is stopping", body = HealthResponse,
            example = json!({"status": "unavailable", "checks": {"database": "down", "identity_provider": "up", "file_store": "up"}})),
    ))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<HealthResponse>) {
    let timeout = std::time::Duration::from_secs(3);
    let (db, identity, files) = tokio::join!(
        tokio::time::timeout(timeout, state.database.check()),
        tokio::time::timeout(timeout, state.identity.check()),
        tokio::time::timeout(timeout, state.files.check()),
    );
    let mut checks = BTreeMap::new();
    let db_up = matches!(db, Ok(Ok(())));
    let identity_up = matches!(identity, Ok(Ok(())));
    checks.insert("database", if db_up { "up" } else { "down" });
    checks.insert("identity_provider", if identity_up { "up" } else { "down" });
    let files_up = matches!(files, Ok(Ok(())));
    checks.insert("file_store", if files_up { "up" } else { "down" });
    if let Some(replica) = state.metrics.replica() {
        checks.insert("database_replica", replica.state);
    }
    if db_up && identity_up {
        (
            StatusCode::OK,
            Json(HealthResponse {
                status: "ok",
                checks,
            }),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(HealthResponse {
                status: "unavailable",
                checks,
            }),
        )
    }
}
