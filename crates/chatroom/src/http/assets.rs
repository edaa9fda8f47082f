//! Static assets embedded in the binary (one file to deploy, works offline): our own
//! Socket.IO browser client and the chat page's script and style.

use axum::http::header;
use axum::response::IntoResponse;

const CLIENT_JS: &str = include_str!("../../web/client/socket.io.js");
const CHAT_JS: &str = include_str!("../../web/app/chat.js");
const CHAT_CSS: &str = include_str!("../../web/app/chat.css");
const JS: &str = "application/javascript; charset=utf-8";

/// # GET /socket.io/socket.io.js
pub async fn client_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, JS),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        CLIENT_JS,
    )
}

/// # GET /app/chat.js
pub async fn chat_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, JS),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        CHAT_JS,
    )
}

/// # GET /app/chat.css
pub async fn chat_css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        CHAT_CSS,
    )
}
