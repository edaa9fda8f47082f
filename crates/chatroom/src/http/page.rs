//! The chat page: a Jinja template (minijinja, autoescaped) rendered with the configured title,
//! like the Express original's `res.render('index', {title})`. The built-in template is
//! embedded; `--views DIR` swaps in an operator's `DIR/index.html`. Rendered once at start-up —
//! the title cannot change while running — so a template error stops the start, not a request.
//!
//! The template also gets `limits` (`name`, `room`, `text`: the longest name, room name and
//! message in code points) from chatroom-core, so the page checks what the user types against
//! the server's own numbers instead of copies in JavaScript that drift; the built-in template
//! puts them in `data-` attributes (an inline JSON block would cost a CSP hash).
//!
//! The page's Content-Security-Policy allows no inline script; an operator template may still
//! have inline `<script>` and `<style>` blocks (the seed page does): their SHA-256 hashes are
//! added to that page's policy at render time, so exactly those blocks run and nothing
//! injected does.

use crate::app::App;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::path::Path;

const BUILT_IN: &str = include_str!("../../web/templates/index.html");

/// A page that cannot be built from the configured template.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// `--views DIR/index.html` unreadable.
    #[error("cannot read template {path}: {source}")]
    Read {
        /// The template file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Template syntax or rendering error.
    #[error("invalid template {name}: {source}")]
    Render {
        /// Template name or path.
        name: String,
        /// Why.
        source: minijinja::Error,
    },
    /// The computed policy is not a valid header value (cannot happen: base64 and ASCII).
    #[error("cannot build the page's Content-Security-Policy")]
    Policy,
}

/// The limits the page needs, from the rules the server applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PageLimits {
    /// Longest display name ([`chatroom_core::name::MAX_NAME_CHARS`]).
    pub name: usize,
    /// Longest room name ([`chatroom_core::room::MAX_ROOM_CHARS`]).
    pub room: usize,
    /// Longest `send` text ([`chatroom_core::Limits`], as `send` applies it).
    pub text: usize,
}

impl PageLimits {
    /// The limits in force.
    pub fn current() -> Self {
        Self {
            name: chatroom_core::name::MAX_NAME_CHARS,
            room: chatroom_core::room::MAX_ROOM_CHARS,
            text: chatroom_core::Limits::default().max_text_chars,
        }
    }
}

/// The rendered page; cloning the bytes per request is a reference-count bump, not a copy.
#[derive(Debug, Clone)]
pub struct Page {
    html: Bytes,
    csp: HeaderValue,
}

impl Page {
    /// Renders the template (built-in or `views/index.html`) with `title`.
    pub fn render(title: &str, views: Option<&Path>) -> Result<Self, PageError> {
        let (name, source) = match views {
            None => ("index.html".to_owned(), BUILT_IN.to_owned()),
            Some(dir) => {
                let path = dir.join("index.html");
                let source = std::fs::read_to_string(&path).map_err(|source| PageError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                (path.display().to_string(), source)
            }
        };
        let mut env = minijinja::Environment::new();
        // Autoescape by the `.html` name, whatever the operator's path looks like.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        let render_error = |source| PageError::Render {
            name: name.clone(),
            source,
        };
        env.add_template("index.html", &source)
            .map_err(render_error)?;
        let html = env
            .get_template("index.html")
            .and_then(|t| t.render(minijinja::context! { title, limits => PageLimits::current() }))
            .map_err(render_error)?;
        let csp = content_security_policy(&html);
        let csp = HeaderValue::from_str(&csp).map_err(|_| PageError::Policy)?;
        Ok(Self {
            html: Bytes::from(html),
            csp,
        })
    }

    /// The page's Content-Security-Policy: the default plus its inline blocks' hashes.
    pub fn content_security_policy(&self) -> &HeaderValue {
        &self.csp
    }

    /// The HTML.
    pub fn html(&self) -> &[u8] {
        &self.html
    }
}

/// # GET /
pub async fn index(State(app): State<App>) -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CONTENT_SECURITY_POLICY, app.page.csp.clone()),
        ],
        app.page.html.clone(),
    )
}

/// [`crate::http::CONTENT_SECURITY_POLICY`] with `'sha256-…'` sources for each inline
/// `<script>` (in `script-src`) and `<style>` block (in `style-src`) of `html`.
fn content_security_policy(html: &str) -> String {
    let hashes = |tag| {
        inline_blocks(html, tag)
            .map(|text| {
                let digest = Sha256::digest(text.as_bytes());
                let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
                format!(" 'sha256-{b64}'")
            })
            .collect::<String>()
    };
    crate::http::CONTENT_SECURITY_POLICY
        .replacen(
            "script-src 'self'",
            &format!("script-src 'self'{}", hashes("script")),
            1,
        )
        .replacen(
            "style-src 'self'",
            &format!("style-src 'self'{}", hashes("style")),
            1,
        )
}

/// The text of each `<tag …>text</tag>` block of `html` without a `src` attribute.
fn inline_blocks<'a>(html: &'a str, tag: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    // ASCII lowercasing keeps byte offsets, so positions found in `lower` index `html`.
    let lower = html.to_ascii_lowercase();
    let open = format!("<{tag}");
    let close = format!("</{tag}");
    let mut blocks = Vec::new();
    let mut at = 0;
    while let Some(found) = lower[at..].find(&open) {
        let start = at + found + open.len();
        let Some(next) = lower[start..].chars().next() else {
            break;
        };
        if !(next == '>' || next.is_ascii_whitespace()) {
            at = start; // e.g. <scripts>
            continue;
        }
        let Some(tag_end) = lower[start..].find('>').map(|i| start + i) else {
            break;
        };
        let Some(body_end) = lower[tag_end..].find(&close).map(|i| tag_end + i) else {
            break;
        };
        let has_src = lower[start..tag_end]
            .split(|c: char| c.is_ascii_whitespace())
            .any(|attr| attr.split('=').next() == Some("src"));
        if !has_src {
            blocks.push(&html[tag_end + 1..body_end]);
        }
        at = body_end;
    }
    blocks.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_is_escaped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<h2>{{ title }}</h2>").unwrap();
        let page = Page::render("<b>技术</b>", Some(dir.path())).unwrap();
        assert_eq!(
            page.html(),
            "<h2>&lt;b&gt;技术&lt;&#x2f;b&gt;</h2>".as_bytes()
        );
    }

    #[test]
    fn inline_blocks_are_hashed_into_the_policy() {
        let built_in = Page::render("t", None).unwrap();
        assert_eq!(
            built_in.content_security_policy(),
            crate::http::CONTENT_SECURITY_POLICY
        );
        let html = "<script src=\"/a.js\"></script><SCRIPT>alert(1)</SCRIPT>\
                    <style>p{}</style><scripts>x</scripts>";
        let csp = content_security_policy(html);
        // sha256("alert(1)"), base64
        assert!(
            csp.contains("script-src 'self' 'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"),
            "{csp}"
        );
        assert_eq!(csp.matches("'sha256-").count(), 2, "{csp}");
        assert!(!csp.contains("unsafe-inline"));
    }

    #[test]
    fn limits_come_from_chatroom_core() {
        let page = Page::render("t", None).unwrap();
        let html = std::str::from_utf8(page.html()).unwrap();
        let l = PageLimits::current();
        assert_eq!((l.name, l.room, l.text), (32, 64, 4000));
        for attr in [
            format!("data-max-name=\"{}\"", l.name),
            format!("data-max-room=\"{}\"", l.room),
            format!("data-max-text=\"{}\"", l.text),
        ] {
            assert!(html.contains(&attr), "{attr} missing");
        }
    }

    #[test]
    fn broken_template_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "{{ title ").unwrap();
        assert!(matches!(
            Page::render("t", Some(dir.path())),
            Err(PageError::Render { .. })
        ));
    }
}
