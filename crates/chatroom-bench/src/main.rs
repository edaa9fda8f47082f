//! The `chatroom-bench` command: parses a scenario's flags, runs it, prints one JSON line per
//! result on stdout (appended to `--out` too) and a human summary on stderr.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use chatroom_bench::conns::{self, ConnConfig};
use chatroom_bench::load::{self, Group, LoadConfig, Pacing, Protocol};
use chatroom_bench::soak::{self, SoakConfig};
use chatroom_bench::{plot, report};

/// Load generator for chatroom and the Node.js baseline (see docs/BENCHMARKS.md).
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Everyone in one room: S senders, R receivers; deliveries/s, latency, losses.
    Fanout(FanoutArgs),
    /// Many small rooms (v1 only): each room has one sender and MEMBERS-1 receivers.
    Rooms(RoomsArgs),
    /// Open N connections and hold them: the server's memory per connection.
    Idle(ConnArgs),
    /// N connects as fast as the concurrency cap allows: connects/s, latency, errors.
    Storm(ConnArgs),
    /// Churn cycles of senders, dropped, never-reading and hostile clients for --duration;
    /// then checks every acked message is stored once, no ghost members, no leaked files,
    /// tasks or memory (see crates/chatroom-bench/src/soak.rs).
    Soak(SoakArgs),
    /// Search latency over a large store: `--seed N --db URL` fills a fresh store through the
    /// store's own writer; then `--url` measures `search` acks on a server running on it (or
    /// `--db` alone measures the store in-process). See crates/chatroom-bench/src/search.rs.
    Search(SearchArgs),
    /// Serve issue 10's engine experiment: a minimal Engine.IO v4 / Socket.IO server over
    /// WebSocket, one task per connection, `chat message` broadcast to all (see
    /// src/mini_engine.rs). Prints `listening on http://ADDR`; stops on SIGTERM.
    MiniEngine(MiniArgs),
    /// Draw SVG charts (ours vs Node) from JSON-lines result files.
    Plot {
        /// Result files (JSON lines).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Directory for the SVG files.
        #[arg(long, default_value = "docs/bench")]
        out_dir: PathBuf,
    },
    /// Print the ours-vs-Node Markdown table from JSON-lines result files.
    Report {
        /// Result files (JSON lines).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Args)]
struct Common {
    /// Server base URL. `fanout` and `rooms` take several (repeat the flag or give a comma list),
    /// the nodes of a cluster: clients are spread over them round-robin and cross-node
    /// deliveries get their own latency figures.
    #[arg(
        long,
        default_value = "http://127.0.0.1:3000",
        value_delimiter = ',',
        num_args = 1
    )]
    url: Vec<String>,
    /// Label of the server under test in the results (e.g. ours, node).
    #[arg(long, default_value = "server")]
    target: String,
    /// Name of this case in the results (defaults to a description of the parameters).
    #[arg(long)]
    case: Option<String>,
    /// Server process id: its CPU and memory are reported (`fanout`, `rooms`: repeatable or a
    /// comma list, summed over a cluster's nodes).
    #[arg(long, alias = "server-pid", value_delimiter = ',', num_args = 1)]
    pid: Vec<u32>,
    /// Append the JSON result line to this file as well.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Exit with status 1 if the run lost, duplicated or reordered messages, or any ack failed.
    #[arg(long)]
    check: bool,
    /// No progress line.
    #[arg(long, short)]
    quiet: bool,
    /// Extra KEY=VALUE fields for the result record (repeatable), e.g. `--label server_rev=abc123`.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
}

#[derive(Args)]
struct Pace {
    /// Closed loop: messages in flight per sender (default 1 unless --rate is given).
    #[arg(long, conflicts_with = "rate")]
    window: Option<usize>,
    /// Open loop: fixed total messages per second over all senders.
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds to wait for the last deliveries and acks after sending stops.
    #[arg(long, default_value_t = 5.0)]
    drain: f64,
    /// Message text length in bytes.
    #[arg(long, default_value_t = 64)]
    payload: usize,
    /// Connections opened at once during setup.
    #[arg(long, default_value_t = 100)]
    connect_concurrency: usize,
}

impl Pace {
    fn pacing(&self) -> Pacing {
        match (self.rate, self.window) {
            (Some(r), _) => Pacing::Rate(r),
            (None, w) => Pacing::Window(w.unwrap_or(1)),
        }
    }
    fn describe(&self) -> String {
        match self.pacing() {
            Pacing::Rate(r) => format!("{r}msg/s"),
            Pacing::Window(w) => format!("w{w}"),
        }
    }
}

#[derive(Args)]
struct FanoutArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    pace: Pace,
    /// Receiving clients.
    #[arg(long, default_value_t = 100)]
    receivers: usize,
    /// Sending clients.
    #[arg(long, default_value_t = 1)]
    senders: usize,
    /// seed: `chat message` strings; v1: `send` with ack, `message` events (chatroom only).
    #[arg(long, value_enum, default_value = "seed")]
    protocol: Protocol,
    /// Room (v1 only; `lobby` needs no join).
    #[arg(long, default_value = "lobby")]
    room: String,
}

#[derive(Args)]
struct RoomsArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    pace: Pace,
    /// Number of rooms.
    #[arg(long, default_value_t = 2000)]
    rooms: usize,
    /// Members per room (one of them sends).
    #[arg(long, default_value_t = 3)]
    members: usize,
}

#[derive(Args)]
struct ConnArgs {
    #[command(flatten)]
    common: Common,
    /// Connections to open.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Connects in flight at once.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// Seconds to hold the connections after the last one opened.
    #[arg(long, default_value_t = 2.0)]
    hold: f64,
    /// seed (no auth) or v1 (auth {name}).
    #[arg(long, value_enum, default_value = "seed")]
    protocol: Protocol,
}

#[derive(Args)]
struct MiniArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Port (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// hyper: hyper's HTTP/1 connection and upgrade, as the server; raw: no hyper.
    #[arg(long, value_enum, default_value = "hyper")]
    http: chatroom_bench::mini_engine::HttpMode,
    /// Engine.IO pingInterval, seconds.
    #[arg(long, default_value_t = 25.0)]
    ping_interval: f64,
    /// Engine.IO pingTimeout, seconds.
    #[arg(long, default_value_t = 20.0)]
    ping_timeout: f64,
    /// Broadcast ring size; a client this many messages behind is disconnected.
    #[arg(long, default_value_t = 1024)]
    queue: usize,
    /// WebSocket read chunk per connection, bytes (the server's is 1024).
    #[arg(long, default_value_t = 1024)]
    read_buffer: usize,
    /// Largest message accepted, bytes.
    #[arg(long, default_value_t = 1_000_000)]
    max_payload: usize,
}

#[derive(Args)]
struct SoakArgs {
    #[command(flatten)]
    common: Common,
    /// Seconds of churn: cycles start until this has passed (at least one runs).
    #[arg(long, default_value_t = 60.0)]
    duration: f64,
    /// Clients per cycle (2/5 senders, 1/5 each dropped, never-reading, hostile).
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Rooms the senders and never-readers use.
    #[arg(long, default_value_t = 4)]
    rooms: usize,
    /// Acked messages per sender per cycle.
    #[arg(long, default_value_t = 5)]
    messages: usize,
    /// Seconds the server may take to return to its baseline after the last cycle (the check
    /// ends as soon as it has; tasks of vanished peers may need the 45 s Engine.IO heartbeat).
    #[arg(long, default_value_t = 60.0)]
    settle: f64,
    /// Allowed RSS growth of the last third of the cycles over the middle third, in percent.
    #[arg(long, default_value_t = 15.0)]
    rss_growth_pct: f64,
    /// Allowed difference of the server's open files from the baseline.
    #[arg(long, default_value_t = 8)]
    fd_tolerance: u64,
    /// Allowed difference of the server's alive tasks from the baseline.
    #[arg(long, default_value_t = 8)]
    task_tolerance: u64,
}

#[derive(Args)]
struct SearchArgs {
    #[command(flatten)]
    common: Common,
    /// The store's database URL (as the server's `--db`): seeded with `--seed`; measured
    /// in-process with `--via store`.
    #[arg(long)]
    db: Option<String>,
    /// Store this many generated messages into `--db` first (it should be empty).
    #[arg(long)]
    seed: Option<usize>,
    /// `socket`: `search` acks from the server at `--url` (run it with `--search-rate off`);
    /// `store`: `Store::search` on `--db` in this process.
    #[arg(long, default_value = "socket", value_parser = ["socket", "store"])]
    via: String,
    /// Skip measuring (seed only).
    #[arg(long)]
    seed_only: bool,
    /// Rounds of the query mix (each round runs every kind once).
    #[arg(long, default_value_t = 100)]
    rounds: usize,
    /// Results per search.
    #[arg(long, default_value_t = 20)]
    limit: u32,
}

impl Common {
    /// The one server of a scenario that measures a single process (idle, storm, soak).
    fn single_server(&self, scenario: &str) -> anyhow::Result<(String, Option<u32>)> {
        let [url] = self.url.as_slice() else {
            bail!(
                "{scenario} takes one --url (it measures one server); got {}",
                self.url.len()
            );
        };
        if self.pid.len() > 1 {
            bail!("{scenario} takes one --pid; got {}", self.pid.len());
        }
        Ok((url.clone(), self.pid.first().copied()))
    }
}

fn secs(s: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s).with_context(|| format!("not a duration in seconds: {s}"))
}

fn emit(
    common: &Common,
    scenario: &str,
    default_case: String,
    body: Value,
) -> anyhow::Result<bool> {
    let mut rec = json!({
        "scenario": scenario,
        "case": common.case.clone().unwrap_or(default_case),
        "target": common.target,
        // One URL as it always was; a cluster's nodes comma-separated.
        "url": common.url.join(","),
        "unix_time": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    });
    if let (Some(obj), Value::Object(fields)) = (rec.as_object_mut(), body) {
        obj.extend(fields);
        for label in &common.labels {
            let (k, v) = label
                .split_once('=')
                .with_context(|| format!("--label {label:?} is not KEY=VALUE"))?;
            obj.insert(k.to_owned(), Value::String(v.to_owned()));
        }
    }
    let line = rec.to_string();
    println!("{line}");
    if let Some(path) = &common.out {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        writeln!(f, "{line}")?;
    }
    eprintln!("{}", report::summary_line(&rec));
    let problems = report::problems(&rec);
    if common.check {
        if problems.is_empty() {
            eprintln!("check: ok");
        } else {
            eprintln!("check: FAILED: {}", problems.join(", "));
            return Ok(false);
        }
    }
    Ok(true)
}

async fn run(cli: Cli) -> anyhow::Result<bool> {
    match cli.cmd {
        Cmd::Fanout(a) => {
            if a.protocol == Protocol::Seed && a.room != "lobby" {
                bail!("the seed protocol has only the lobby");
            }
            let cfg = LoadConfig {
                urls: a.common.url.clone(),
                protocol: a.protocol,
                groups: vec![Group {
                    room: a.room.clone(),
                    senders: a.senders,
                    receivers: a.receivers,
                }],
                pacing: a.pace.pacing(),
                duration: secs(a.pace.duration)?,
                drain: secs(a.pace.drain)?,
                connect_concurrency: a.pace.connect_concurrency,
                payload_bytes: a.pace.payload,
                server_pids: a.common.pid.clone(),
                progress: !a.common.quiet,
            };
            let name = format!(
                "fanout-{:?}-{}r-{}s-{}",
                a.protocol,
                a.receivers,
                a.senders,
                a.pace.describe()
            )
            .to_lowercase();
            let body = load::run(&cfg).await.context("fanout failed")?;
            emit(&a.common, "fanout", name, body)
        }
        Cmd::Rooms(a) => {
            if a.members < 2 {
                bail!("--members must be at least 2 (one sender, one receiver)");
            }
            let groups = (0..a.rooms)
                .map(|i| Group {
                    room: format!("bench-room-{i}"),
                    senders: 1,
                    receivers: a.members - 1,
                })
                .collect();
            let cfg = LoadConfig {
                urls: a.common.url.clone(),
                protocol: Protocol::V1,
                groups,
                pacing: a.pace.pacing(),
                duration: secs(a.pace.duration)?,
                drain: secs(a.pace.drain)?,
                connect_concurrency: a.pace.connect_concurrency,
                payload_bytes: a.pace.payload,
                server_pids: a.common.pid.clone(),
                progress: !a.common.quiet,
            };
            let name = format!("rooms-{}x{}-{}", a.rooms, a.members, a.pace.describe());
            let body = load::run(&cfg).await.context("rooms failed")?;
            emit(&a.common, "rooms", name, body)
        }
        Cmd::Idle(a) => {
            let cfg = conn_config(&a, "idle")?;
            let body = conns::idle(&cfg).await;
            let name = format!("idle-{}", a.connections);
            emit(&a.common, "idle", name, body)
        }
        Cmd::Storm(a) => {
            let cfg = conn_config(&a, "storm")?;
            let body = conns::storm(&cfg).await;
            let name = format!("storm-{}-c{}", a.connections, a.concurrency);
            emit(&a.common, "storm", name, body)
        }
        Cmd::Soak(a) => {
            let (url, server_pid) = a.common.single_server("soak")?;
            let cfg = SoakConfig {
                url,
                duration: secs(a.duration)?,
                clients: a.clients,
                rooms: a.rooms,
                messages: a.messages,
                settle: secs(a.settle)?,
                server_pid,
                rss_growth_pct: a.rss_growth_pct,
                fd_tolerance: a.fd_tolerance,
                task_tolerance: a.task_tolerance,
                progress: !a.common.quiet,
            };
            let body = soak::run(&cfg).await;
            let name = format!("soak-{}s-{}c", a.duration, a.clients);
            emit(&a.common, "soak", name, body)
        }
        Cmd::MiniEngine(a) => {
            chatroom_bench::mini_engine::serve(chatroom_bench::mini_engine::MiniConfig {
                addr: std::net::SocketAddr::new(a.host, a.port),
                http: a.http,
                ping_interval: secs(a.ping_interval)?,
                ping_timeout: secs(a.ping_timeout)?,
                queue: a.queue,
                read_buffer: a.read_buffer,
                max_payload: a.max_payload,
            })
            .await?;
            Ok(true)
        }
        Cmd::Plot { files, out_dir } => {
            let text = read_all(&files)?;
            let records = plot::parse_records(&text);
            std::fs::create_dir_all(&out_dir)
                .with_context(|| format!("cannot create {}", out_dir.display()))?;
            for spec in plot::CHARTS {
                let t = plot::table(&records, spec);
                if let Some(svg) = plot::render(spec, &t) {
                    let path = out_dir.join(format!("{}.svg", spec.file));
                    std::fs::write(&path, svg)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("wrote {}", path.display());
                }
            }
            Ok(true)
        }
        Cmd::Search(a) => {
            let mut body = json!({});
            if let Some(n) = a.seed {
                let db = a.db.as_deref().context("--seed needs --db")?;
                let (stored, secs) = chatroom_bench::search::seed(db, n, !a.common.quiet).await?;
                eprintln!(
                    "seeded {stored} messages in {secs:.1} s ({:.0}/s)",
                    stored as f64 / secs
                );
                body["seeded"] = json!(stored);
                body["seed_secs"] = json!((secs * 10.0).round() / 10.0);
            }
            if !a.seed_only {
                let (url, _) = a.common.single_server("search")?;
                let measured = chatroom_bench::search::measure(
                    (a.via == "socket").then_some(url.as_str()),
                    a.db.as_deref(),
                    a.rounds,
                    a.limit,
                )
                .await?;
                if let (Some(obj), Value::Object(fields)) = (body.as_object_mut(), measured) {
                    obj.extend(fields);
                }
                eprintln!("{}", serde_json::to_string_pretty(&body)?);
            }
            emit(&a.common, "search", format!("search r{}", a.rounds), body)
        }
        Cmd::Report { files } => {
            print!("{}", report::comparison_table(&read_all(&files)?));
            Ok(true)
        }
    }
}

fn conn_config(a: &ConnArgs, scenario: &str) -> anyhow::Result<ConnConfig> {
    let (url, server_pid) = a.common.single_server(scenario)?;
    Ok(ConnConfig {
        url,
        connections: a.connections,
        concurrency: a.concurrency,
        protocol: a.protocol,
        server_pid,
        hold: secs(a.hold)?,
        progress: !a.common.quiet,
    })
}

fn read_all(files: &[PathBuf]) -> anyhow::Result<String> {
    let mut text = String::new();
    for f in files {
        text.push_str(
            &std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?,
        );
        text.push('\n');
    }
    Ok(text)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Tens of thousands of sockets: lift the open-files soft limit to the hard limit.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("chatroom-bench: cannot raise the open-files limit: {e}");
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("chatroom-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("chatroom-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}
