//! The chat page: a Jinja template (minijinja, autoescaped) rendered with the configured title,
//! like the Express original's `res.render('index', {title})`. The built-in template is
//! embedded; `--views DIR` swaps in an operator's `DIR/index.html`. Rendered once at start-up —
//! the title cannot change while running — so a template error stops the start, not a request.

use crate::app::App;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
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
}

/// The rendered page; cloning the bytes per request is a reference-count bump, not a copy.
#[derive(Debug, Clone)]
pub struct Page {
    html: Bytes,
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
            .and_then(|t| t.render(minijinja::context! { title }))
            .map_err(render_error)?;
        Ok(Self {
            html: Bytes::from(html),
        })
    }

    /// The HTML.
    pub fn html(&self) -> &[u8] {
        &self.html
    }
}

/// # GET /
pub async fn index(State(app): State<App>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        app.page.html.clone(),
    )
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
    fn broken_template_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "{{ title ").unwrap();
        assert!(matches!(
            Page::render("t", Some(dir.path())),
            Err(PageError::Render { .. })
        ));
    }
}
