//! Static assets embedded in the binary (one file to deploy, works offline): our own
//! Socket.IO browser client and the chat page's ES modules and style. The page is plain ES
//! modules without a build step, so every file under `web/app/` is served as it is, listed in
//! [`APP`]; a test checks that the list and the directory agree, so a new module cannot be
//! forgotten.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const CLIENT_JS: &str = include_str!("../../web/client/socket.io.js");
const JS: &str = "application/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file of `web/app/`: path under `/app/`, content type, contents.
const APP: &[(&str, &str, &str)] = &[
    ("chat.css", CSS, include_str!("../../web/app/chat.css")),
    ("chat.js", JS, include_str!("../../web/app/chat.js")),
    ("main.js", JS, include_str!("../../web/app/main.js")),
    ("notify.js", JS, include_str!("../../web/app/notify.js")),
    ("protocol.js", JS, include_str!("../../web/app/protocol.js")),
    ("rules.js", JS, include_str!("../../web/app/rules.js")),
    ("state.js", JS, include_str!("../../web/app/state.js")),
    ("text.js", JS, include_str!("../../web/app/text.js")),
    ("util.js", JS, include_str!("../../web/app/util.js")),
    (
        "views/conversations.js",
        JS,
        include_str!("../../web/app/views/conversations.js"),
    ),
    (
        "views/dom.js",
        JS,
        include_str!("../../web/app/views/dom.js"),
    ),
    (
        "views/messages.js",
        JS,
        include_str!("../../web/app/views/messages.js"),
    ),
    (
        "views/search.js",
        JS,
        include_str!("../../web/app/views/search.js"),
    ),
    (
        "views/sidebar.js",
        JS,
        include_str!("../../web/app/views/sidebar.js"),
    ),
];

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

/// # GET /app/{path}
///
/// A module of the page or its style; 404 for anything not in [`APP`] (no file system access,
/// so no path can reach outside it).
pub async fn app_file(Path(path): Path<String>) -> Response {
    match APP.iter().find(|(name, _, _)| *name == path) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn files(dir: &std::path::Path, prefix: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            if entry.file_type().unwrap().is_dir() {
                files(&entry.path(), &format!("{prefix}{name}/"), out);
            } else {
                out.push(format!("{prefix}{name}"));
            }
        }
    }

    #[test]
    fn every_file_of_web_app_is_served_and_nothing_else() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web/app");
        let mut on_disk = Vec::new();
        files(&dir, "", &mut on_disk);
        on_disk.sort();
        let mut served: Vec<String> = APP.iter().map(|(n, _, _)| (*n).to_owned()).collect();
        served.sort();
        assert_eq!(served, on_disk);
        for (name, content_type, _) in APP {
            let want = if name.ends_with(".css") { CSS } else { JS };
            assert_eq!(*content_type, want, "{name}");
        }
    }

    #[tokio::test]
    async fn unknown_paths_are_404() {
        for path in ["nope.js", "../assets.rs", "views", ""] {
            let r = app_file(Path(path.to_owned())).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        }
        let r = app_file(Path("views/dom.js".to_owned())).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_TYPE], JS);
    }
}
