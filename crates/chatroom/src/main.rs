//! The `chatroom` binary: arguments → config → logging → bind → serve. Every operator error is
//! one line on stderr and a non-zero exit.

use chatroom::config::{Cli, Config};
use chatroom::{Server, shutdown};
use clap::Parser;
use clap::error::ErrorKind;
use std::io::Write;
use std::process::ExitCode;

/// jemalloc rather than glibc malloc: glibc keeps the heap of a burst of connections after they
/// close (RSS grew 164, 183, 188 MB over three rounds of 5,000); jemalloc's background threads
/// (the `background_threads` feature) purge it back to the OS within seconds, at the same cost
/// per connection. Figures and the bound promised: docs/BENCHMARKS.md, "Memory after churn".
/// Without the `jemalloc` feature (heap profiling only) the system allocator is used.
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print(); // stdout closed: nothing more useful to do
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            let line = text.lines().next().unwrap_or_default();
            eprintln!("chatroom: {}", line.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    let config = match Config::from_cli(cli) {
        Ok(config) => config,
        Err(e) => return fail(&e, 2),
    };
    chatroom::logging::init(config.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start runtime: {e}"), 1),
    };
    runtime.block_on(async {
        let addr = config.addr;
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let server = match Server::build(config).await {
            Ok(server) => server,
            Err(e) => return fail(&e, 1),
        };
        let listener = match chatroom::bind(addr) {
            Ok(listener) => listener,
            Err(e) => return fail(&format!("cannot bind {addr}: {e}"), 1),
        };
        let bound = listener.local_addr().unwrap_or(addr);
        let stop = shutdown::signal(); // before the line below: a SIGTERM right after it is clean
        println!("listening on {scheme}://{bound}");
        let _ = std::io::stdout().flush(); // harnesses read this line; nothing to do if closed
        tracing::info!(%bound, scheme, "chatroom listening");
        match server.serve(listener, stop).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e, 1),
        }
    })
}

fn fail(error: &dyn std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("chatroom: {error}");
    ExitCode::from(code)
}
