//! The `soak` scenario (Hostile clients #7): bounded churn cycles of well-behaved, abruptly
//! dropped, never-reading and hostile clients, then checks that nothing leaked or was lost.
//!
//! Each cycle connects `clients` v1 clients, in five roles by index: two of five join a room and
//! send acked `send`s (every acked id is recorded), one drops its TCP connection right after
//! connecting (no close frame; half of them before the connect answer, half after), one joins a room and then never reads again (small receive
//! buffer), one is hostile (garbage Engine.IO and Socket.IO frames, non-JSON and wrongly shaped
//! payloads, unknown events and namespaces, an oversized frame, an invalid name). Then all
//! disconnect. Between cycles the server's `/healthz`, `VmRSS` and open files are read.
//!
//! At the end, after a settle period, it verifies: every acked message is in its room's history
//! exactly once (`join` with `since` paging); the lobby holds only the checking client and no
//! other room has members (no ghosts); open files, tasks and presence are back near the
//! baseline; and RSS in the last third of the cycles has not grown past a tolerance over the
//! middle third. Each broken rule is one string in `violations`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::client::{Client, ClientError, ConnectOptions, websocket_url};
use crate::progress::Ticker;
use crate::stats;

/// Settings of a soak run.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// Server base URL (`http://host:port`).
    pub url: String,
    /// Cycles start until this much time has passed (at least one runs).
    pub duration: Duration,
    /// Clients connected per cycle.
    pub clients: usize,
    /// Rooms the senders and never-readers use (`soak-0` …).
    pub rooms: usize,
    /// Acked messages per sender per cycle.
    pub messages: usize,
    /// How long the server may take to get back to its baseline after the last cycle. Tasks of
    /// vanished peers may live until the Engine.IO heartbeat gives up (ping interval + timeout,
    /// 45 s by default), so a leak verdict needs more than that.
    pub settle: Duration,
    /// Server process for RSS and open files.
    pub server_pid: Option<u32>,
    /// Allowed RSS growth of the last third of the cycles over the middle third, in percent.
    pub rss_growth_pct: f64,
    /// Allowed open-file difference from the baseline after settling.
    pub fd_tolerance: u64,
    /// Allowed alive-task difference from the baseline after settling.
    pub task_tolerance: u64,
    /// Print progress to stderr.
    pub progress: bool,
}

/// Counters shared by the clients of all cycles.
#[derive(Default)]
struct Tally {
    connect_errors: AtomicU64,
    acks_failed: AtomicU64,
    ack_timeouts: AtomicU64,
    refused_as_expected: AtomicU64,
    hostile_frames: AtomicU64,
}

/// One acked message: where it went and how it can be recognised.
#[derive(Debug, Clone)]
struct Acked {
    id: i64,
    room: String,
    cid: String,
}

#[derive(Debug, Clone, Copy)]
enum Role {
    Sender,
    Dropper,
    NonReader,
    Hostile,
}

fn role(i: usize) -> Role {
    match i % 5 {
        0 | 1 => Role::Sender,
        2 => Role::Dropper,
        3 => Role::NonReader,
        _ => Role::Hostile,
    }
}

/// A reading of the server between cycles.
#[derive(Debug, Clone, Default)]
struct Reading {
    rss_kib: Option<u64>,
    fds: Option<u64>,
    tasks: Option<u64>,
    presence: Option<u64>,
}

impl Reading {
    async fn take(cfg: &SoakConfig) -> Self {
        let health = healthz(&cfg.url).await;
        let gauge = |k: &str| health.as_ref().and_then(|h| h[k].as_u64());
        Self {
            rss_kib: cfg.server_pid.and_then(stats::rss_kib),
            fds: cfg.server_pid.and_then(open_fds),
            tasks: gauge("tasks"),
            presence: gauge("presence_connections"),
        }
    }

    fn json(&self) -> Value {
        json!({
            "rss_kib": self.rss_kib,
            "fds": self.fds,
            "tasks": self.tasks,
            "presence_connections": self.presence,
        })
    }
}

/// Open file descriptors of `pid` (`/proc/<pid>/fd`).
pub fn open_fds(pid: u32) -> Option<u64> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    u64::try_from(dir.count()).ok()
}

/// `GET /healthz` as JSON (any status: a degraded server still reports its gauges).
pub async fn healthz(url: &str) -> Option<Value> {
    let host = url
        .strip_prefix("http://")?
        .trim_end_matches('/')
        .split('/')
        .next()?;
    let fetch = async {
        let mut stream = TcpStream::connect(host).await.ok()?;
        let request = format!("GET /healthz HTTP/1.0\r\nHost: {host}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.ok()?;
        let text = String::from_utf8_lossy(&response);
        let (_, body) = text.split_once("\r\n\r\n")?;
        serde_json::from_str(body).ok()
    };
    tokio::time::timeout(Duration::from_secs(5), fetch)
        .await
        .ok()
        .flatten()
}

fn quiet_options(name: &str) -> ConnectOptions {
    ConnectOptions {
        auth: Some(json!({ "name": name })),
        on_event: Some(Arc::new(|_: &str, _: Vec<Value>| {})),
        timeout: Some(Duration::from_secs(20)),
    }
}

fn ack_ok(ack: &Value) -> bool {
    ack["ok"] == Value::Bool(true)
}

/// A sender: joins its room, sends `messages` acked messages, records the acked ones, closes.
async fn run_sender(
    cfg: &SoakConfig,
    tally: &Tally,
    run_id: &str,
    cycle: usize,
    i: usize,
) -> Vec<Acked> {
    let mut acked = Vec::new();
    let room = format!("soak-{}", i % cfg.rooms.max(1));
    let client = match Client::connect_with(&cfg.url, quiet_options(&format!("s{cycle}-{i}"))).await
    {
        Ok(c) => c,
        Err(_) => {
            tally.connect_errors.fetch_add(1, Ordering::Relaxed);
            return acked;
        }
    };
    let count = |r: &Result<Value, ClientError>| match r {
        Ok(ack) if ack_ok(ack) => true,
        Err(ClientError::Timeout(_)) => {
            tally.ack_timeouts.fetch_add(1, Ordering::Relaxed);
            false
        }
        _ => {
            tally.acks_failed.fetch_add(1, Ordering::Relaxed);
            false
        }
    };
    if !count(&client.emit_with_ack("join", json!({ "room": room })).await) {
        client.close().await;
        return acked;
    }
    for m in 0..cfg.messages {
        let cid = format!("{run_id}-{cycle}-{i}-{m}");
        let text = format!("soak {cid} {}", "x".repeat(200));
        let r = client
            .emit_with_ack("send", json!({ "room": room, "text": text, "cid": cid }))
            .await;
        if count(&r)
            && let Ok(ack) = r
        {
            match ack["message"]["id"].as_i64() {
                Some(id) => acked.push(Acked {
                    id,
                    room: room.clone(),
                    cid,
                }),
                None => {
                    tally.acks_failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    client.close().await;
    acked
}

/// Drops the TCP connection abruptly (no Socket.IO disconnect, no close frame): every other
/// dropper right after its connect was accepted, the rest right after sending the connect.
async fn run_dropper(cfg: &SoakConfig, tally: &Tally, cycle: usize, i: usize) {
    let name = format!("d{cycle}-{i}");
    if (i / 5) % 2 == 1 {
        if drop_during_connect(&cfg.url, &name).await.is_none() {
            tally.connect_errors.fetch_add(1, Ordering::Relaxed);
        }
        return;
    }
    match Client::connect_with(&cfg.url, quiet_options(&name)).await {
        // Dropping a Client aborts its reader and writer: the socket closes without a goodbye.
        Ok(c) => drop(c),
        Err(_) => {
            tally.connect_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

type RawWs = tokio_tungstenite::WebSocketStream<TcpStream>;

/// A WebSocket to the server's Engine.IO endpoint, its OPEN packet read, nothing else sent.
/// `recv_buffer`: the kernel receive buffer, small for a client that will stop reading.
async fn raw_open(url: &str, recv_buffer: Option<u32>) -> Option<RawWs> {
    let ws_url = websocket_url(url).ok()?;
    let host = ws_url.strip_prefix("ws://")?.split('/').next()?.to_owned();
    let addr = tokio::net::lookup_host(&host).await.ok()?.next()?;
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .ok()?;
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size).ok()?;
    }
    let tcp = socket.connect(addr).await.ok()?;
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(ws_url, tcp, Some(config))
        .await
        .ok()?;
    loop {
        match ws.next().await? {
            Ok(WsMessage::Text(t)) if t.as_str().starts_with('0') => return Some(ws),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

/// Sends the Socket.IO CONNECT with `auth {name}` and drops the TCP connection without waiting
/// for the answer: the server's connect handling races the disconnect.
async fn drop_during_connect(url: &str, name: &str) -> Option<()> {
    let mut ws = raw_open(url, None).await?;
    let auth = json!({ "name": name });
    ws.send(WsMessage::text(format!("40{auth}"))).await.ok()?;
    drop(ws);
    Some(())
}

/// Connects as `name` with a small receive buffer, joins `room`, and returns the stream unread:
/// the server's deliveries to it pile up until the caller drops it.
async fn connect_non_reader(url: &str, name: &str, room: &str) -> Option<RawWs> {
    let mut ws = raw_open(url, Some(2048)).await?;
    let auth = json!({ "name": name });
    ws.send(WsMessage::text(format!("40{auth}"))).await.ok()?;
    loop {
        match ws.next().await? {
            Ok(WsMessage::Text(t)) if t.as_str().starts_with("40") => break,
            Ok(WsMessage::Text(t)) if t.as_str().starts_with("44") => return None,
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    let join = json!(["join", { "room": room }]);
    ws.send(WsMessage::text(format!("42{join}"))).await.ok()?;
    Some(ws)
}

/// Frames no well-behaved client sends, in an order that keeps the connection open as long as
/// the server tolerates it; the oversized one comes last because it should end the connection.
fn hostile_frames() -> Vec<String> {
    vec![
        "garbage".into(),
        "9".into(),
        "4".into(),
        "4garbage".into(),
        "42notjson".into(),
        "42[".into(),
        "42[]".into(),
        "42{}".into(),
        "42[1,2,3]".into(),
        r#"42["send","not an object"]"#.into(),
        r#"421["send",{"room":5,"text":[]}]"#.into(),
        r#"422["join",{"room":"a b"}]"#.into(),
        r#"423["history",{"room":"lobby","limit":"x"}]"#.into(),
        r#"424["no-such-event",{}]"#.into(),
        r#"425["send",{"room":"lobby","text":"a\u0000b"}]"#.into(),
        r#"42["typing"]"#.into(),
        "4299999999999999999999[\"rooms\"]".into(),
        "40/no-such-namespace,".into(),
        r#"46-["x",{"_placeholder":true,"num":0}]"#.into(),
        format!(
            r#"42["send",{{"room":"lobby","text":"{}"}}]"#,
            "y".repeat(2 << 20)
        ),
    ]
}

/// A hostile client: an invalid name first (must be refused), then garbage on a valid connection.
async fn run_hostile(cfg: &SoakConfig, tally: &Tally, cycle: usize, i: usize) {
    match Client::connect_with(&cfg.url, quiet_options("   ")).await {
        Err(ClientError::ConnectRefused(_)) => {
            tally.refused_as_expected.fetch_add(1, Ordering::Relaxed);
        }
        Ok(c) => drop(c),
        Err(_) => {
            tally.connect_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    let client = match Client::connect_with(&cfg.url, quiet_options(&format!("h{cycle}-{i}"))).await
    {
        Ok(c) => c,
        Err(_) => {
            tally.connect_errors.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    for frame in hostile_frames() {
        if client.send_raw(frame).is_err() {
            break;
        }
        tally.hostile_frames.fetch_add(1, Ordering::Relaxed);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(client);
}

/// One churn cycle: every client of every role, concurrently; returns the acked messages.
async fn cycle(cfg: &SoakConfig, tally: &Tally, run_id: &str, n: usize) -> Vec<Acked> {
    let non_readers = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let tasks = (0..cfg.clients).map(|i| {
        let non_readers = non_readers.clone();
        async move {
            match role(i) {
                Role::Sender => return run_sender(cfg, tally, run_id, n, i).await,
                Role::Dropper => run_dropper(cfg, tally, n, i).await,
                Role::NonReader => {
                    let room = format!("soak-{}", i % cfg.rooms.max(1));
                    match connect_non_reader(&cfg.url, &format!("n{n}-{i}"), &room).await {
                        Some(ws) => non_readers.lock().await.push(ws),
                        None => {
                            tally.connect_errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                Role::Hostile => run_hostile(cfg, tally, n, i).await,
            }
            Vec::new()
        }
    });
    let acked: Vec<Acked> = futures_util::stream::iter(tasks)
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect();
    // The never-readers go last, without a close frame, with deliveries still queued for them.
    drop(std::mem::take(&mut *non_readers.lock().await));
    acked
}

/// Every message of `room` with `since` paging: `(id, cid)` in the order received.
async fn room_history(
    client: &Client,
    room: &str,
) -> Result<Vec<(i64, Option<String>)>, ClientError> {
    let mut out = Vec::new();
    let mut since = 0i64;
    loop {
        let ack = client
            .emit_with_ack("join", json!({ "room": room, "since": since }))
            .await?;
        if !ack_ok(&ack) {
            return Err(ClientError::Protocol(format!("join {room} refused: {ack}")));
        }
        let msgs = ack["messages"].as_array().cloned().unwrap_or_default();
        for m in &msgs {
            let id = m["id"].as_i64().unwrap_or(-1);
            out.push((id, m["cid"].as_str().map(str::to_owned)));
            since = since.max(id);
        }
        if ack["more"] != Value::Bool(true) || msgs.is_empty() {
            return Ok(out);
        }
    }
}

fn mean(xs: &[u64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<u64>() as f64 / xs.len() as f64)
}

/// Growth in percent of the mean of the last third over the mean of the middle third; `None`
/// with fewer than three readings.
pub fn rss_growth_pct(per_cycle: &[u64]) -> Option<f64> {
    let third = per_cycle.len() / 3;
    if third == 0 {
        return None;
    }
    let middle = mean(&per_cycle[third..per_cycle.len() - third])?;
    let last = mean(&per_cycle[per_cycle.len() - third..])?;
    (middle > 0.0).then(|| stats::round1((last - middle) / middle * 100.0))
}

fn diff(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    Some(a?.abs_diff(b?))
}

/// Runs the soak and returns its result record; `violations` lists every broken rule.
pub async fn run(cfg: &SoakConfig) -> Value {
    let tally = Tally::default();
    let run_id = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    let baseline = Reading::take(cfg).await;
    let ticker = Ticker::start(cfg.progress, "soak");
    let cycles_done = Arc::new(AtomicU64::new(0));
    {
        let c = cycles_done.clone();
        ticker.set_status(move || format!("cycle {}", c.load(Ordering::Relaxed)));
    }
    let started = Instant::now();
    let mut acked: Vec<Acked> = Vec::new();
    let mut readings: Vec<Reading> = Vec::new();
    let mut n = 0;
    while n == 0 || started.elapsed() < cfg.duration {
        acked.extend(cycle(cfg, &tally, &run_id, n).await);
        n += 1;
        cycles_done.store(n as u64, Ordering::Relaxed);
        // A moment for the server to process the disconnects before it is measured.
        tokio::time::sleep(Duration::from_millis(500)).await;
        readings.push(Reading::take(cfg).await);
    }

    ticker.set_phase("settling");
    let settle_deadline = Instant::now() + cfg.settle;
    let mut end = Reading::take(cfg).await;
    loop {
        let settled = diff(end.fds, baseline.fds).is_none_or(|d| d <= cfg.fd_tolerance)
            && diff(end.tasks, baseline.tasks).is_none_or(|d| d <= cfg.task_tolerance)
            && end.presence == baseline.presence;
        if settled || Instant::now() >= settle_deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        end = Reading::take(cfg).await;
    }

    ticker.set_phase("verifying");
    let mut violations: Vec<String> = Vec::new();
    let checker_name = format!("soak-checker-{run_id}");
    let (lobby_members, other_rooms, missing, duplicates) =
        match Client::connect_with(&cfg.url, quiet_options(&checker_name)).await {
            Ok(checker) => {
                checker.set_timeout(Duration::from_secs(30));
                let verified = verify(&checker, &checker_name, &acked, &mut violations).await;
                checker.close().await;
                verified
            }
            Err(e) => {
                violations.push(format!("checker cannot connect: {e}"));
                (Value::Null, Value::Null, 0, 0)
            }
        };
    ticker.finish();

    let connect_errors = tally.connect_errors.load(Ordering::Relaxed);
    let acks_failed = tally.acks_failed.load(Ordering::Relaxed);
    let ack_timeouts = tally.ack_timeouts.load(Ordering::Relaxed);
    for (count, what) in [
        (connect_errors, "connect errors"),
        (acks_failed, "failed acks"),
        (ack_timeouts, "acks missing"),
    ] {
        if count > 0 {
            violations.push(format!("{count} {what}"));
        }
    }
    if acked.is_empty() {
        violations.push("no message was acked".to_owned());
    }
    if let Some(d) = diff(end.fds, baseline.fds).filter(|d| *d > cfg.fd_tolerance) {
        violations.push(format!(
            "open files {} -> {} (off by {d}, tolerance {})",
            baseline.fds.unwrap_or(0),
            end.fds.unwrap_or(0),
            cfg.fd_tolerance
        ));
    }
    if let Some(d) = diff(end.tasks, baseline.tasks).filter(|d| *d > cfg.task_tolerance) {
        violations.push(format!(
            "tasks {} -> {} (off by {d}, tolerance {})",
            baseline.tasks.unwrap_or(0),
            end.tasks.unwrap_or(0),
            cfg.task_tolerance
        ));
    }
    if end.presence != baseline.presence {
        violations.push(format!(
            "presence connections {:?} -> {:?} with every client gone",
            baseline.presence, end.presence
        ));
    }
    let rss_per_cycle: Vec<u64> = readings.iter().filter_map(|r| r.rss_kib).collect();
    let growth = rss_growth_pct(&rss_per_cycle);
    if let Some(g) = growth.filter(|g| *g > cfg.rss_growth_pct) {
        violations.push(format!(
            "RSS of the last third of the cycles is {g}% over the middle third (tolerance {}%)",
            cfg.rss_growth_pct
        ));
    }

    json!({
        "duration_s": stats::round1(started.elapsed().as_secs_f64()),
        "cycles": n,
        "clients_per_cycle": cfg.clients,
        "rooms": cfg.rooms,
        "acked": acked.len(),
        "missing": missing,
        "duplicated": duplicates,
        "connect_errors": connect_errors,
        "acks_failed": acks_failed,
        "ack_timeouts": ack_timeouts,
        "refused_as_expected": tally.refused_as_expected.load(Ordering::Relaxed),
        "hostile_frames": tally.hostile_frames.load(Ordering::Relaxed),
        "lobby_members": lobby_members,
        "other_rooms": other_rooms,
        "baseline": baseline.json(),
        "end": end.json(),
        "per_cycle": readings.iter().map(Reading::json).collect::<Vec<_>>(),
        "rss_start_kib": baseline.rss_kib,
        "rss_end_kib": end.rss_kib,
        "rss_growth_pct": growth,
        "violations": violations,
    })
}

/// The checks made through a fresh client: members of the lobby and of every other room (before
/// joining any), then each acked message exactly once in its room's history. Returns
/// `(lobby members, other rooms with members, missing, duplicates)`.
async fn verify(
    checker: &Client,
    checker_name: &str,
    acked: &[Acked],
    violations: &mut Vec<String>,
) -> (Value, Value, u64, u64) {
    let mut lobby_members = Value::Null;
    match checker
        .emit_with_ack("join", json!({ "room": "lobby" }))
        .await
    {
        Ok(ack) if ack_ok(&ack) => {
            lobby_members = ack["members"].clone();
            let ghosts: Vec<&Value> = ack["members"]
                .as_array()
                .map(|m| {
                    m.iter()
                        .filter(|n| n.as_str() != Some(checker_name))
                        .collect()
                })
                .unwrap_or_default();
            if !ghosts.is_empty() {
                violations.push(format!(
                    "{} ghost members in the lobby: {}",
                    ghosts.len(),
                    Value::from(ghosts.iter().take(10).cloned().cloned().collect::<Vec<_>>())
                ));
            }
        }
        other => violations.push(format!("checker join lobby failed: {other:?}")),
    }
    let mut other_rooms = Value::Null;
    match checker.emit_with_ack("rooms", json!({})).await {
        Ok(ack) if ack_ok(&ack) => {
            let rooms: Vec<Value> = ack["rooms"]
                .as_array()
                .map(|r| r.iter().filter(|r| r["name"] != "lobby").cloned().collect())
                .unwrap_or_default();
            if !rooms.is_empty() {
                violations.push(format!(
                    "{} rooms still have members with every client gone",
                    rooms.len()
                ));
            }
            other_rooms = Value::from(rooms);
        }
        other => violations.push(format!("checker rooms failed: {other:?}")),
    }

    let mut by_room: BTreeMap<&str, Vec<&Acked>> = BTreeMap::new();
    for a in acked {
        by_room.entry(a.room.as_str()).or_default().push(a);
    }
    let (mut missing, mut duplicates) = (0u64, 0u64);
    for (room, sent) in by_room {
        let history = match room_history(checker, room).await {
            Ok(h) => h,
            Err(e) => {
                violations.push(format!("cannot read the history of {room}: {e}"));
                continue;
            }
        };
        let mut ids: HashMap<i64, u64> = HashMap::new();
        let mut cids: HashMap<&str, u64> = HashMap::new();
        for (id, cid) in &history {
            *ids.entry(*id).or_default() += 1;
            if let Some(c) = cid {
                *cids.entry(c.as_str()).or_default() += 1;
            }
        }
        for a in sent {
            let by_id = ids.get(&a.id).copied().unwrap_or(0);
            let by_cid = cids.get(a.cid.as_str()).copied().unwrap_or(0);
            match by_id.max(by_cid) {
                0 => missing += 1,
                1 if by_id == 1 => {}
                1 => missing += 1,
                _ => duplicates += 1,
            }
        }
    }
    if missing > 0 {
        violations.push(format!("{missing} acked messages missing from history"));
    }
    if duplicates > 0 {
        violations.push(format!("{duplicates} acked messages stored more than once"));
    }
    (lobby_members, other_rooms, missing, duplicates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_growth_compares_last_third_with_middle_third() {
        assert_eq!(rss_growth_pct(&[100, 100]), None);
        assert_eq!(rss_growth_pct(&[50, 100, 110]), Some(10.0));
        assert_eq!(
            rss_growth_pct(&[10, 10, 100, 100, 100, 100, 120, 120]),
            Some(20.0)
        );
    }

    #[test]
    fn roles_cover_every_kind() {
        let roles: Vec<Role> = (0..5).map(role).collect();
        assert!(matches!(
            roles[..],
            [
                Role::Sender,
                Role::Sender,
                Role::Dropper,
                Role::NonReader,
                Role::Hostile
            ]
        ));
    }
}
