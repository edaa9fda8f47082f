//! The message-load engine behind the `fanout` and `rooms` scenarios.
//!
//! Clients are arranged in groups (one room each: `lobby` for fanout, thousands of small rooms for
//! `rooms`); in each group some clients send and the others only receive. Every message text
//! carries `sender|seq|send-time-µs|`, so a receiver can measure latency and detect losses,
//! duplicates and per-sender reordering on its own, without any coordination.
//!
//! Against a cluster (several URLs) clients are spread over the nodes round-robin in planning order,
//! so every room has members on several nodes; each delivery is then counted as same-node or
//! cross-node (sender and receiver connected to different nodes) with a latency histogram of its own.
//!
//! Pacing is either a closed loop (each sender keeps `window` messages in flight; a message
//! completes when its ack arrives (v1) or when the sender receives its own broadcast (seed, which
//! has no acks)) or an open loop at a fixed total rate, whose latency is measured from the
//! *scheduled* send time so a stalled generator cannot hide server delays.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::client::{Client, ClientError, ConnectOptions, EventHook};
use crate::progress::Ticker;
use crate::stats::{self, CpuMeter, latency_histogram, now_us};

/// Which wire protocol the clients speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// The Node original: `chat message` with a string, broadcast to everyone.
    Seed,
    /// chatroom protocol v1: named clients, rooms, `send` with ack, `message` events.
    V1,
}

/// How senders pace themselves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// Closed loop: each sender keeps this many messages in flight.
    Window(usize),
    /// Open loop: this many messages per second in total, spread evenly over the senders.
    Rate(f64),
}

/// One room's worth of clients.
#[derive(Debug, Clone)]
pub struct Group {
    /// Room name (`lobby` needs no join; any other room is joined after connecting, v1 only).
    pub room: String,
    /// Clients that send (they receive too, but are not counted as receivers).
    pub senders: usize,
    /// Clients that only receive and are counted.
    pub receivers: usize,
}

/// Everything one message-load run needs.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Server base URLs, e.g. `http://127.0.0.1:3000`; with several (the nodes of a cluster)
    /// client `i` connects to `urls[i % urls.len()]`.
    pub urls: Vec<String>,
    /// Wire protocol.
    pub protocol: Protocol,
    /// The groups; the seed protocol has only the lobby, so it takes exactly one group.
    pub groups: Vec<Group>,
    /// Closed or open loop.
    pub pacing: Pacing,
    /// How long senders send.
    pub duration: Duration,
    /// How long to wait after sending stops for the last deliveries and acks.
    pub drain: Duration,
    /// Connections opened at once while setting up.
    pub connect_concurrency: usize,
    /// Message text length in bytes (at least the header, padded with `x`).
    pub payload_bytes: usize,
    /// Server processes to read CPU and memory from (summed over a cluster's nodes), if known.
    pub server_pids: Vec<u32>,
    /// Print progress to stderr.
    pub progress: bool,
}

/// How long a closed-loop sender waits for a completion before sending anyway (counted as a
/// stall): a lost message must not stop the sender for the rest of the run.
const STALL_AFTER: Duration = Duration::from_secs(2);
/// How long an ack may take before it counts as timed out.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds a message text: `sender|seq|t_us|` padded with `x` to `len` bytes.
pub fn make_text(sender: u32, seq: u64, t_us: u64, len: usize) -> String {
    let mut s = format!("{sender}|{seq}|{t_us}|");
    if s.len() < len {
        s.extend(std::iter::repeat_n('x', len - s.len()));
    }
    s
}

/// Parses a text made by [`make_text`]: `(sender, seq, t_us)`.
pub fn parse_text(s: &str) -> Option<(u32, u64, u64)> {
    let mut it = s.splitn(4, '|');
    let sender = it.next()?.parse().ok()?;
    let seq = it.next()?.parse().ok()?;
    let t = it.next()?.parse().ok()?;
    it.next()?;
    Some((sender, seq, t))
}

/// The bench text inside an incoming event, if it is a chat message of `protocol`.
fn event_text(protocol: Protocol, name: &str, args: &[Value]) -> Option<String> {
    match (protocol, name) {
        (Protocol::Seed, "chat message") => args.first()?.as_str().map(str::to_owned),
        (Protocol::V1, "message") => args.first()?.get("text")?.as_str().map(str::to_owned),
        _ => None,
    }
}

#[derive(Default)]
struct Track {
    max_seq: Option<u64>,
    seen: Vec<u64>,
}

impl Track {
    /// Marks `seq` seen; false if it was seen before.
    fn insert(&mut self, seq: u64) -> bool {
        let word = usize::try_from(seq / 64).unwrap_or(usize::MAX);
        if word >= self.seen.len() {
            if word > 1 << 24 {
                // Absurd sequence number (not from this run): do not allocate for it.
                return true;
            }
            self.seen.resize(word + 1, 0);
        }
        let bit = 1u64 << (seq % 64);
        let new = self.seen[word] & bit == 0;
        self.seen[word] |= bit;
        new
    }
}

/// What one receiving client observed.
#[derive(Default)]
struct RecvState {
    received: u64,
    duplicates: u64,
    order_violations: u64,
    last_us: u64,
    hist: Option<Histogram<u32>>,
    /// Cluster runs only: latencies of deliveries whose sender was on the receiver's node…
    same_node: Option<Histogram<u32>>,
    /// …and on another node.
    cross_node: Option<Histogram<u32>>,
    tracks: HashMap<u32, Track>,
}

/// Where a delivery's sender was connected, relative to its receiver (cluster runs only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// One server: nothing to tell apart.
    Single,
    SameNode,
    CrossNode,
}

impl RecvState {
    fn on_message(&mut self, sender: u32, seq: u64, sent_us: u64, now: u64, route: Route) {
        self.received += 1;
        self.last_us = now;
        let track = self.tracks.entry(sender).or_default();
        if !track.insert(seq) {
            self.duplicates += 1;
            return;
        }
        if track.max_seq.is_some_and(|m| seq < m) {
            self.order_violations += 1;
        }
        track.max_seq = Some(track.max_seq.map_or(seq, |m| m.max(seq)));
        let latency = now.saturating_sub(sent_us);
        stats::record(self.hist.get_or_insert_with(latency_histogram), latency);
        let by_route = match route {
            Route::Single => None,
            Route::SameNode => Some(&mut self.same_node),
            Route::CrossNode => Some(&mut self.cross_node),
        };
        if let Some(h) = by_route {
            stats::record(h.get_or_insert_with(latency_histogram), latency);
        }
    }
}

/// Counters of one sending client.
#[derive(Default)]
struct SendState {
    sent: AtomicU64,
    acks_ok: AtomicU64,
    acks_failed: AtomicU64,
    ack_timeouts: AtomicU64,
    stalls: AtomicU64,
    ack_hist: Mutex<Option<Histogram<u32>>>,
    first_error: Mutex<Option<String>>,
}

/// Run-wide counters for progress and the drain check.
#[derive(Default)]
struct Totals {
    sent: AtomicU64,
    received: AtomicU64,
    acks_done: AtomicU64,
}

enum Role {
    Receiver(Arc<Mutex<RecvState>>),
    Sender {
        id: u32,
        permits: Arc<Semaphore>,
        state: Arc<SendState>,
    },
}

struct Member {
    group: usize,
    /// Index into [`LoadConfig::urls`] of the node this member connects to.
    node: usize,
    role: Role,
}

/// Runs one message-load scenario and returns its result object (see `docs/BENCHMARKS.md`).
pub async fn run(cfg: &LoadConfig) -> Result<Value, ClientError> {
    let totals = Arc::new(Totals::default());
    let window = match cfg.pacing {
        Pacing::Window(w) => w.max(1),
        Pacing::Rate(_) => 0,
    };

    if cfg.urls.is_empty() {
        return Err(ClientError::Protocol("no server URL given".to_owned()));
    }
    let n_nodes = cfg.urls.len();
    let (members, sender_nodes) = plan(&cfg.groups, n_nodes, window);
    let sender_count = u32::try_from(sender_nodes.len()).unwrap_or(u32::MAX);
    let routes = (n_nodes > 1).then_some(&sender_nodes);

    let ticker = Ticker::start(cfg.progress, "connecting");
    let connect_started = Instant::now();
    let connected = Arc::new(AtomicU64::new(0));
    let join_retries = Arc::new(AtomicU64::new(0));
    {
        let connected = connected.clone();
        let total = members.len();
        ticker.set_status(move || format!("{}/{total}", connected.load(Ordering::Relaxed)));
    }
    let mut clients: Vec<(usize, Result<Client, ClientError>)> =
        futures_util::stream::iter(members.iter().enumerate().map(|(i, m)| {
            let hook = make_hook(cfg.protocol, m, &totals, routes);
            let url = &cfg.urls[m.node];
            let room = cfg.groups[m.group].room.clone();
            let connected = connected.clone();
            let join_retries = join_retries.clone();
            async move {
                let auth = match cfg.protocol {
                    Protocol::Seed => None,
                    Protocol::V1 => Some(json!({ "name": format!("bench{i}") })),
                };
                let client = Client::connect_with(
                    url,
                    ConnectOptions {
                        auth,
                        on_event: Some(hook),
                        timeout: Some(Duration::from_secs(30)),
                    },
                )
                .await
                .map_err(|e| ClientError::Protocol(format!("client {i}: connect: {e}")))?;
                if cfg.protocol == Protocol::V1 && room != "lobby" {
                    join_with_retry(&client, &room, &join_retries)
                        .await
                        .map_err(|e| ClientError::Protocol(format!("client {i}: join: {e}")))?;
                }
                connected.fetch_add(1, Ordering::Relaxed);
                Ok(client)
            }
            .map(move |r| (i, r))
        }))
        // Unordered: one slow connect must not hold up the other slots.
        .buffer_unordered(cfg.connect_concurrency.max(1))
        .collect()
        .await;
    clients.sort_by_key(|(i, _)| *i);
    let connect_s = connect_started.elapsed().as_secs_f64();
    let clients: Vec<Arc<Client>> = clients
        .into_iter()
        .map(|(_, c)| c.map(Arc::new))
        .collect::<Result<_, _>>()?;
    // Let the server finish its own connect handling (welcome, lobby membership) before load.
    tokio::time::sleep(Duration::from_millis(500)).await;

    ticker.set_phase("sending");
    {
        let totals = totals.clone();
        ticker.set_status(move || {
            format!(
                "sent {} received {}",
                totals.sent.load(Ordering::Relaxed),
                totals.received.load(Ordering::Relaxed)
            )
        });
    }

    let run_tag = run_tag();
    let gen_cpu = CpuMeter::start(None);
    let srv_cpu: Vec<CpuMeter> = cfg
        .server_pids
        .iter()
        .map(|&p| CpuMeter::start(Some(p)))
        .collect();
    let start = Instant::now();
    let deadline = start + cfg.duration;
    let n_senders = f64::from(sender_count.max(1));

    let mut tasks = Vec::new();
    for (m, client) in members.iter().zip(&clients) {
        let Role::Sender { id, permits, state } = &m.role else {
            continue;
        };
        let job = SenderJob {
            client: client.clone(),
            run: run_tag.clone(),
            id: *id,
            room: cfg.groups[m.group].room.clone(),
            protocol: cfg.protocol,
            pacing: cfg.pacing,
            permits: permits.clone(),
            state: state.clone(),
            totals: totals.clone(),
            pad: cfg.payload_bytes,
            start,
            deadline,
            n_senders,
        };
        tasks.push(tokio::spawn(job.run()));
    }
    for t in tasks {
        // A panicked sender task loses only its own counts; the rest of the run is still valid.
        let _ = t.await;
    }
    let send_s = start.elapsed().as_secs_f64();

    // Expected deliveries: each group's sent messages times its receivers.
    let mut sent_per_group = vec![0u64; cfg.groups.len()];
    for m in &members {
        if let Role::Sender { state, .. } = &m.role {
            sent_per_group[m.group] += state.sent.load(Ordering::Relaxed);
        }
    }
    let expected: u64 = sent_per_group
        .iter()
        .zip(&cfg.groups)
        .map(|(s, g)| s * g.receivers as u64)
        .sum();
    let sent: u64 = sent_per_group.iter().sum();

    ticker.set_phase("draining");
    let drain_deadline = Instant::now() + cfg.drain;
    let wants_acks = cfg.protocol == Protocol::V1;
    while Instant::now() < drain_deadline {
        let got = totals.received.load(Ordering::Relaxed);
        let acks = totals.acks_done.load(Ordering::Relaxed);
        if got >= expected && (!wants_acks || acks >= sent) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let gen_cpu_pct = gen_cpu.percent();
    // Summed over the nodes; unknown if any one cannot be read.
    let srv_cpu_pct = (!srv_cpu.is_empty())
        .then(|| srv_cpu.iter().map(CpuMeter::percent).sum::<Option<f64>>())
        .flatten()
        .map(stats::round1);
    ticker.finish();

    // Merge what every member saw.
    let mut hist = latency_histogram();
    let mut same_node = latency_histogram();
    let mut cross_node = latency_histogram();
    let mut ack_hist = latency_histogram();
    let (mut received, mut dups, mut order, mut last_us) = (0u64, 0u64, 0u64, 0u64);
    let (mut acks_ok, mut acks_failed, mut ack_timeouts, mut stalls) = (0u64, 0u64, 0u64, 0u64);
    let mut first_error = None;
    for m in &members {
        match &m.role {
            Role::Receiver(st) => {
                let st = st.lock().unwrap_or_else(|e| e.into_inner());
                received += st.received;
                dups += st.duplicates;
                order += st.order_violations;
                last_us = last_us.max(st.last_us);
                // Same bounds everywhere, so adding cannot fail.
                for (into, from) in [
                    (&mut hist, &st.hist),
                    (&mut same_node, &st.same_node),
                    (&mut cross_node, &st.cross_node),
                ] {
                    if let Some(h) = from {
                        let _ = into.add(h);
                    }
                }
            }
            Role::Sender { state, .. } => {
                acks_ok += state.acks_ok.load(Ordering::Relaxed);
                acks_failed += state.acks_failed.load(Ordering::Relaxed);
                ack_timeouts += state.ack_timeouts.load(Ordering::Relaxed);
                stalls += state.stalls.load(Ordering::Relaxed);
                if let Some(h) = &*state.ack_hist.lock().unwrap_or_else(|e| e.into_inner()) {
                    let _ = ack_hist.add(h);
                }
                if first_error.is_none() {
                    first_error = state
                        .first_error
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone();
                }
            }
        }
    }
    let disconnected = clients.iter().filter(|c| !c.is_connected()).count();
    let unique = received - dups;
    let start_us = u64::try_from(
        start
            .into_std()
            .saturating_duration_since(stats::epoch())
            .as_micros(),
    )
    .unwrap_or(0);
    let recv_window_s = (last_us.saturating_sub(start_us) as f64 / 1e6).max(send_s);
    let receivers: usize = cfg.groups.iter().map(|g| g.receivers).sum();

    let mut out = json!({
        "protocol": cfg.protocol,
        "rooms": cfg.groups.len(),
        "receivers": receivers,
        "senders": sender_count,
        "payload_bytes": cfg.payload_bytes,
        "duration_s": stats::round1(send_s),
        "connect_s": stats::round1(connect_s),
        "sent": sent,
        "sends_per_s": stats::round1(sent as f64 / send_s),
        "expected": expected,
        "received": unique,
        "lost": expected.saturating_sub(unique),
        "duplicates": dups,
        "order_violations": order,
        "disconnected": disconnected,
        "deliveries_per_s": stats::round1(unique as f64 / recv_window_s),
        "latency_ms": stats::latency_json(&hist),
        "stalls": stalls,
        "join_retries": join_retries.load(Ordering::Relaxed),
        "gen_cpu_pct": gen_cpu_pct,
        "server_cpu_pct": srv_cpu_pct,
        "server_rss_kib": rss_sum(&cfg.server_pids),
    });
    if n_nodes > 1 {
        out["nodes"] = json!(n_nodes);
        out["latency_same_node_ms"] = stats::latency_json(&same_node);
        out["latency_cross_node_ms"] = stats::latency_json(&cross_node);
    }
    match cfg.pacing {
        Pacing::Window(w) => out["window"] = json!(w),
        Pacing::Rate(r) => out["rate"] = json!(r),
    }
    if wants_acks {
        out["acks_ok"] = json!(acks_ok);
        out["acks_failed"] = json!(acks_failed);
        out["ack_timeouts"] = json!(ack_timeouts);
        out["ack_latency_ms"] = stats::latency_json(&ack_hist);
        if let Some(e) = first_error {
            out["first_error"] = json!(e);
        }
    }
    drop(clients);
    Ok(out)
}

/// Plans every member of every group and the node each one connects to; returns them with the
/// node of each sender id. Sender ids are global so message texts identify them across groups.
/// Nodes are handed out round-robin in planning order (a group's receivers, then its senders), so
/// a group's members sit on consecutive nodes and every room spans several nodes.
fn plan(groups: &[Group], n_nodes: usize, window: usize) -> (Vec<Member>, Arc<[usize]>) {
    let n_nodes = n_nodes.max(1);
    let mut members = Vec::new();
    let mut sender_nodes = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        for _ in 0..group.receivers {
            members.push(Member {
                group: g,
                node: members.len() % n_nodes,
                role: Role::Receiver(Arc::default()),
            });
        }
        for _ in 0..group.senders {
            let node = members.len() % n_nodes;
            members.push(Member {
                group: g,
                node,
                role: Role::Sender {
                    id: u32::try_from(sender_nodes.len()).unwrap_or(u32::MAX),
                    permits: Arc::new(Semaphore::new(window)),
                    state: Arc::default(),
                },
            });
            sender_nodes.push(node);
        }
    }
    (members, sender_nodes.into())
}

/// A tag unique to this run (wall-clock milliseconds and process id, base 36; a few characters).
fn run_tag() -> Arc<str> {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{}{}", base36(ms), base36(u128::from(std::process::id()))).into()
}

fn base36(mut n: u128) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Resident memory of the server processes together (unknown if any one cannot be read).
fn rss_sum(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&p| stats::rss_kib(p)).sum()
}

/// How long one `join` may take during setup before it is sent again.
const JOIN_TIMEOUT: Duration = Duration::from_secs(5);
/// `join` attempts per client during setup.
const JOIN_ATTEMPTS: u32 = 3;

/// Joins `room`, sending the (idempotent) `join` again if no ack comes within [`JOIN_TIMEOUT`]:
/// a server may drop an event that races its connect handler. Retries are counted and reported.
async fn join_with_retry(
    client: &Client,
    room: &str,
    retries: &AtomicU64,
) -> Result<(), ClientError> {
    let mut attempt = 1;
    loop {
        let rx = client.start_ack("join", &json!({ "room": room }))?;
        match tokio::time::timeout(JOIN_TIMEOUT, rx).await {
            Ok(Ok(args)) => {
                let ack = args.into_iter().next().unwrap_or(Value::Null);
                if ack.get("ok") == Some(&Value::Bool(true)) {
                    return Ok(());
                }
                return Err(ClientError::Protocol(format!("join {room} refused: {ack}")));
            }
            Ok(Err(_)) => return Err(ClientError::Closed),
            Err(_) if attempt < JOIN_ATTEMPTS => {
                attempt += 1;
                retries.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => return Err(ClientError::Timeout(JOIN_TIMEOUT * JOIN_ATTEMPTS)),
        }
    }
}

/// `sender_nodes` (cluster runs only): the node of each sender id, to tell a receiver's
/// same-node deliveries from cross-node ones.
fn make_hook(
    protocol: Protocol,
    m: &Member,
    totals: &Arc<Totals>,
    sender_nodes: Option<&Arc<[usize]>>,
) -> EventHook {
    match &m.role {
        Role::Receiver(st) => {
            let st = st.clone();
            let totals = totals.clone();
            let sender_nodes = sender_nodes.cloned();
            let my_node = m.node;
            Arc::new(move |name: &str, args: Vec<Value>| {
                let Some(text) = event_text(protocol, name, &args) else {
                    return;
                };
                let Some((sender, seq, t_us)) = parse_text(&text) else {
                    return;
                };
                let now = now_us();
                let route = match sender_nodes
                    .as_deref()
                    .map(|nodes| usize::try_from(sender).ok().and_then(|i| nodes.get(i)))
                {
                    None => Route::Single,
                    Some(Some(&node)) if node == my_node => Route::SameNode,
                    // A sender id this run never planned is not ours: counted as cross-node
                    // rather than flattering the same-node figure.
                    Some(_) => Route::CrossNode,
                };
                st.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .on_message(sender, seq, t_us, now, route);
                totals.received.fetch_add(1, Ordering::Relaxed);
            })
        }
        Role::Sender { id, permits, .. } => {
            let id = *id;
            let permits = permits.clone();
            Arc::new(move |name: &str, args: Vec<Value>| {
                // Seed closed loop: our own broadcast coming back completes one message.
                if protocol != Protocol::Seed {
                    return;
                }
                if let Some((sender, _, _)) = event_text(protocol, name, &args)
                    .as_deref()
                    .and_then(parse_text)
                    && sender == id
                {
                    permits.add_permits(1);
                }
            })
        }
    }
}

struct SenderJob {
    client: Arc<Client>,
    /// Tag of this run in every `cid`: the server de-duplicates by room + cid, so a second run
    /// against the same database (a cluster's PostgreSQL schema) must not reuse the first's.
    run: Arc<str>,
    id: u32,
    room: String,
    protocol: Protocol,
    pacing: Pacing,
    permits: Arc<Semaphore>,
    state: Arc<SendState>,
    totals: Arc<Totals>,
    pad: usize,
    start: Instant,
    deadline: Instant,
    n_senders: f64,
}

impl SenderJob {
    async fn run(self) {
        let mut seq = 0u64;
        // Open loop: this sender's share of the rate, its start staggered across the senders.
        let (period, mut next) = match self.pacing {
            Pacing::Rate(r) => {
                let period = Duration::from_secs_f64(self.n_senders / r.max(0.001));
                let offset = period.mul_f64(f64::from(self.id) / self.n_senders);
                (period, self.start + offset.min(period))
            }
            Pacing::Window(_) => (Duration::ZERO, self.start),
        };
        loop {
            let t_us = match self.pacing {
                Pacing::Window(_) => {
                    if Instant::now() >= self.deadline {
                        break;
                    }
                    let wait_until = (Instant::now() + STALL_AFTER).min(self.deadline);
                    match tokio::time::timeout_at(wait_until, self.permits.acquire()).await {
                        Ok(Ok(p)) => p.forget(),
                        Ok(Err(_)) => break,
                        Err(_) if Instant::now() >= self.deadline => break,
                        Err(_) => {
                            self.state.stalls.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    now_us()
                }
                Pacing::Rate(_) => {
                    if next >= self.deadline {
                        break;
                    }
                    tokio::time::sleep_until(next).await;
                    let scheduled = next
                        .into_std()
                        .saturating_duration_since(stats::epoch())
                        .as_micros();
                    next += period;
                    u64::try_from(scheduled).unwrap_or(0)
                }
            };
            let text = make_text(self.id, seq, t_us, self.pad);
            let ok = match self.protocol {
                Protocol::Seed => self
                    .client
                    .send_raw(format!("42[\"chat message\",\"{text}\"]"))
                    .is_ok(),
                Protocol::V1 => self.send_v1(text, seq),
            };
            if !ok {
                self.note_error("connection closed while sending".to_owned());
                break;
            }
            seq += 1;
            self.state.sent.fetch_add(1, Ordering::Relaxed);
            self.totals.sent.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn send_v1(&self, text: String, seq: u64) -> bool {
        let cid = format!("{}-{}-{seq}", self.run, self.id);
        let data = json!({ "room": self.room, "text": text, "cid": cid });
        let rx = match self.client.start_ack("send", &data) {
            Ok(rx) => rx,
            Err(_) => return false,
        };
        let state = self.state.clone();
        let totals = self.totals.clone();
        let permits = self.permits.clone();
        let closed_loop = matches!(self.pacing, Pacing::Window(_));
        let started = now_us();
        tokio::spawn(async move {
            match tokio::time::timeout(ACK_TIMEOUT, rx).await {
                Ok(Ok(args)) => {
                    let ack = args.first().cloned().unwrap_or(Value::Null);
                    if ack.get("ok") == Some(&Value::Bool(true)) {
                        state.acks_ok.fetch_add(1, Ordering::Relaxed);
                        let mut h = state.ack_hist.lock().unwrap_or_else(|e| e.into_inner());
                        stats::record(
                            h.get_or_insert_with(latency_histogram),
                            now_us().saturating_sub(started),
                        );
                    } else {
                        state.acks_failed.fetch_add(1, Ordering::Relaxed);
                        note(&state, format!("send refused: {ack}"));
                    }
                }
                Ok(Err(_)) => {
                    state.ack_timeouts.fetch_add(1, Ordering::Relaxed);
                    note(&state, "connection closed before the ack".to_owned());
                }
                Err(_) => {
                    state.ack_timeouts.fetch_add(1, Ordering::Relaxed);
                    note(&state, format!("no ack within {ACK_TIMEOUT:?}"));
                }
            }
            totals.acks_done.fetch_add(1, Ordering::Relaxed);
            if closed_loop {
                permits.add_permits(1);
            }
        });
        true
    }

    fn note_error(&self, e: String) {
        note(&self.state, e);
    }
}

fn note(state: &SendState, e: String) {
    let mut first = state.first_error.lock().unwrap_or_else(|e| e.into_inner());
    if first.is_none() {
        *first = Some(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_roundtrip() {
        let t = make_text(7, 42, 123_456, 64);
        assert_eq!(t.len(), 64);
        assert_eq!(parse_text(&t), Some((7, 42, 123_456)));
        assert_eq!(parse_text("hello"), None);
        assert_eq!(parse_text("1|2|3"), None);
    }

    #[test]
    fn receiver_counts_duplicates_and_reordering() {
        let mut st = RecvState::default();
        st.on_message(1, 0, 0, 10, Route::Single);
        st.on_message(1, 2, 0, 10, Route::Single);
        st.on_message(1, 1, 0, 10, Route::Single);
        st.on_message(1, 2, 0, 10, Route::Single);
        st.on_message(2, 0, 0, 10, Route::Single);
        assert_eq!(st.received, 5);
        assert_eq!(st.duplicates, 1);
        assert_eq!(st.order_violations, 1);
        assert!(st.same_node.is_none() && st.cross_node.is_none());
    }

    #[test]
    fn receiver_splits_latency_by_route() {
        let mut st = RecvState::default();
        st.on_message(1, 0, 0, 1_000, Route::SameNode);
        st.on_message(2, 0, 0, 5_000, Route::CrossNode);
        st.on_message(2, 1, 0, 7_000, Route::CrossNode);
        st.on_message(2, 1, 0, 9_000, Route::CrossNode); // duplicate: not a delivery
        assert_eq!(st.hist.as_ref().map(Histogram::len), Some(3));
        assert_eq!(st.same_node.as_ref().map(Histogram::len), Some(1));
        assert_eq!(st.cross_node.as_ref().map(Histogram::len), Some(2));
    }

    #[test]
    fn members_are_spread_round_robin() {
        let groups = [
            Group {
                room: "a".to_owned(),
                senders: 1,
                receivers: 2,
            },
            Group {
                room: "b".to_owned(),
                senders: 2,
                receivers: 1,
            },
        ];
        let (members, sender_nodes) = plan(&groups, 2, 1);
        let nodes: Vec<usize> = members.iter().map(|m| m.node).collect();
        assert_eq!(nodes, [0, 1, 0, 1, 0, 1]);
        assert_eq!(&*sender_nodes, &[0, 0, 1]);
        let (single, sender_nodes) = plan(&groups, 1, 1);
        assert!(single.iter().all(|m| m.node == 0));
        assert_eq!(&*sender_nodes, &[0, 0, 0]);
    }

    #[test]
    fn receiver_hook_tells_same_node_from_cross_node() {
        let totals = Arc::new(Totals::default());
        let nodes: Arc<[usize]> = vec![0, 1].into();
        let receiver = Member {
            group: 0,
            node: 1,
            role: Role::Receiver(Arc::default()),
        };
        let hook = make_hook(Protocol::V1, &receiver, &totals, Some(&nodes));
        let msg = |sender: u32, seq: u64| {
            vec![json!({ "room": "lobby", "text": make_text(sender, seq, 0, 32) })]
        };
        hook("message", msg(0, 0)); // sender 0 on node 0: cross-node
        hook("message", msg(1, 0)); // sender 1 on node 1: same node
        hook("message", msg(1, 1));
        hook("message", msg(9, 0)); // not a sender of this run: cross-node
        let Role::Receiver(st) = &receiver.role else {
            unreachable!("built as a receiver")
        };
        let st = st.lock().unwrap_or_else(|e| e.into_inner());
        assert_eq!(st.cross_node.as_ref().map(Histogram::len), Some(2));
        assert_eq!(st.same_node.as_ref().map(Histogram::len), Some(2));
        assert_eq!(totals.received.load(Ordering::Relaxed), 4);
    }
}
