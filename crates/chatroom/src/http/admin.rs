//! The operator's moderation API under `/api/admin/`, for scripts and back offices: the same
//! actions moderators have over Socket.IO (`crate::moderation`), plus the ban list and the
//! audit trail. Every request needs `Authorization: Bearer <--admin-token>`, compared in
//! constant time; without `--admin-token` the API refuses everything. Answers are JSON;
//! failures are `{"error": {"code", "message"}}` with a matching status (401, 400, 404, 503).
//!
//! | route | body | answer |
//! |---|---|---|
//! | `GET bans` | — | `{bans: [Ban]}` (in force) |
//! | `POST bans` | `{name \| ip, minutes?, reason?}` | 201 `{ban, kicked}` |
//! | `DELETE bans/{id}` | — | `{ban}` (lifted) |
//! | `DELETE messages/{id}` | — | `{message}` (the tombstone) |
//! | `POST kick` | `{name, reason?}` | `{kicked}` |
//! | `GET audit?before=ID&limit=N` | — | `{entries: [AuditEntry]}`, newest first |

use crate::app::App;
use crate::moderation::{self, Actor};
use crate::protocol::{BanReq, KickReq};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use chatroom_core::{ChatError, UserName};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

/// Audit entries per page without `limit`.
const DEFAULT_AUDIT_PAGE: u32 = 100;

/// A failed admin request, answered as JSON with a status that fits the code.
#[derive(Debug)]
pub struct AdminError(ChatError);

impl From<ChatError> for AdminError {
    fn from(error: ChatError) -> Self {
        Self(error)
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = match self.0 {
            ChatError::Unauthorized => StatusCode::UNAUTHORIZED,
            ChatError::Forbidden => StatusCode::FORBIDDEN,
            ChatError::NotFound(_) => StatusCode::NOT_FOUND,
            ChatError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        // 401s are logged with the address by `require_token`; the operator's other mistakes
        // here (a store failure is logged where it happens).
        if !matches!(self.0, ChatError::Unauthorized | ChatError::Unavailable) {
            crate::refusal::refused(
                None::<crate::net::ClientAddr>,
                self.0.code(),
                format_args!("admin API: {}", self.0),
            );
        }
        let body = Json(json!({"error": {"code": self.0.code(), "message": self.0.to_string()}}));
        if status == StatusCode::UNAUTHORIZED {
            return (
                status,
                [(header::WWW_AUTHENTICATE, "Bearer realm=\"chatroom-admin\"")],
                body,
            )
                .into_response();
        }
        (status, body).into_response()
    }
}

/// The routes, nested under `/api/admin` by [`super::router`].
pub fn routes(app: App) -> Router<App> {
    Router::new()
        .route("/bans", get(list_bans).post(add_ban))
        .route("/bans/{id}", delete(lift_ban))
        .route("/messages/{id}", delete(delete_message))
        .route("/kick", post(kick))
        .route("/audit", get(audit))
        .route_layer(axum::middleware::from_fn_with_state(app, require_token))
}

/// Lets a request through only with `Authorization: Bearer <--admin-token>`.
async fn require_token(
    State(app): State<App>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let offered = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let allowed = match (&app.config.admin_token, offered) {
        (Some(token), Some(offered)) => token.matches(offered.as_bytes()),
        _ => false,
    };
    if !allowed {
        let client = request
            .extensions()
            .get::<crate::net::ClientAddr>()
            .copied();
        crate::refusal::refused(
            client,
            "unauthorized",
            format_args!(
                "admin API: {} {} without a valid token",
                request.method(),
                request.uri().path()
            ),
        );
        return AdminError(ChatError::Unauthorized).into_response();
    }
    next.run(request).await
}

/// A JSON body decoded into `T`, `bad_request` otherwise.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ChatError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ChatError::BadRequest(format!("body is not JSON: {e}")))?;
    crate::protocol::decode(value)
}

/// A path id, `bad_request` if it is not a number.
fn id(raw: &str) -> Result<i64, ChatError> {
    raw.parse()
        .map_err(|_| ChatError::BadRequest(format!("{raw:?} is not an id")))
}

/// # GET /api/admin/bans
async fn list_bans(State(app): State<App>) -> Result<impl IntoResponse, AdminError> {
    let bans = app
        .store
        .bans(crate::clock::now_ms())
        .await
        .map_err(crate::socket::store_failed(&app))?;
    Ok(Json(json!({ "bans": bans })))
}

/// # POST /api/admin/bans
async fn add_ban(State(app): State<App>, bytes: Bytes) -> Result<impl IntoResponse, AdminError> {
    let req: BanReq = body(&bytes)?;
    let target = crate::socket::ban::target(req.name.as_deref(), req.ip.as_deref())?;
    let reason = moderation::reason(req.reason)?;
    let (ban, kicked) =
        moderation::ban(&app, &Actor::admin_api(), target, req.minutes, reason).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "ban": ban, "kicked": kicked })),
    ))
}

/// # DELETE /api/admin/bans/{id}
async fn lift_ban(
    State(app): State<App>,
    Path(raw): Path<String>,
) -> Result<impl IntoResponse, AdminError> {
    let ban = moderation::unban(&app, &Actor::admin_api(), id(&raw)?).await?;
    Ok(Json(json!({ "ban": ban })))
}

/// # DELETE /api/admin/messages/{id}
async fn delete_message(
    State(app): State<App>,
    Path(raw): Path<String>,
) -> Result<impl IntoResponse, AdminError> {
    let message = moderation::delete_message(&app, &Actor::admin_api(), id(&raw)?).await?;
    Ok(Json(json!({ "message": message })))
}

/// # POST /api/admin/kick
async fn kick(State(app): State<App>, bytes: Bytes) -> Result<impl IntoResponse, AdminError> {
    let req: KickReq = body(&bytes)?;
    let name = UserName::new(&req.name)?;
    let reason = moderation::reason(req.reason)?;
    let kicked = moderation::kick(&app, &Actor::admin_api(), &name, reason).await?;
    Ok(Json(json!({ "kicked": kicked })))
}

/// `?before=ID&limit=N` of `GET audit`.
#[derive(Debug, Deserialize)]
struct AuditQuery {
    before: Option<i64>,
    limit: Option<u32>,
}

/// # GET /api/admin/audit
async fn audit(
    State(app): State<App>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<impl IntoResponse, AdminError> {
    let Query(query) = query.map_err(|e| ChatError::BadRequest(e.body_text()))?;
    let entries = app
        .store
        .audit_log(
            query.before,
            query.limit.unwrap_or(DEFAULT_AUDIT_PAGE).max(1),
        )
        .await
        .map_err(crate::socket::store_failed(&app))?;
    Ok(Json(json!({ "entries": entries })))
}
