//! chatroom-bench: a load generator for chatroom and for the Node.js baseline it replaces, and the
//! minimal Socket.IO client both it and the server's integration tests use.
//!
//! - [`client`]: Socket.IO v5 / Engine.IO v4 over WebSocket (`Client::connect`, `emit`,
//!   `emit_with_ack`, `next_event`), with timeouts on every wait.
//! - [`load`]: the message-load engine (`fanout`, `rooms`): latency, losses, duplicates, order.
//! - [`conns`]: the connection scenarios (`idle` memory per connection, `storm` connects/s).
//! - [`soak`]: churn cycles of dropped, never-reading and hostile clients; leak and loss checks.
//! - [`search`]: seeds a large store and measures `search` latency (issue 11).
//! - [`stats`]: clock, histograms, CPU and memory from `/proc`.
//! - [`report`]: one-line summaries, the smoke-test check, the ours-vs-Node table.
//! - [`mini_engine`]: issue 10's engine experiment, a one-task-per-connection Engine.IO server.
//! - [`plot`]: SVG bar charts from JSON-lines results (plotters' SVG backend).
//! - [`progress`]: progress on stderr (indicatif on a terminal).
//!
//! The binary (`src/main.rs`) maps subcommands onto these; `docs/BENCHMARKS.md` explains the
//! scenarios and their output fields.

pub mod client;
pub mod conns;
pub mod load;
pub mod mini_engine;
pub mod plot;
pub mod progress;
pub mod report;
pub mod search;
pub mod soak;
pub mod stats;

pub use client::{Client, ClientError, ConnectOptions};
