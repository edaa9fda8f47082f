//! Log output setup, kept out of `main`: human-readable lines with colours only when stderr is
//! a terminal (pm2 and journald files showed the escape codes as garbage), or one JSON object
//! per line for log shippers (`--log-format json`). `RUST_LOG` overrides the default filter.

use crate::config::limits::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// What is logged when `RUST_LOG` is not set.
pub const DEFAULT_FILTER: &str = "info,socketioxide=warn,engineioxide=warn,sqlx=warn";

/// Installs the global subscriber writing to stderr in `format`.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.with_ansi(false).json().init(),
    }
}
