//! `search` (issue 11): how long a search takes over a large store. Two steps, because the
//! server must own the database while it is measured (SQLite has one writer per file):
//!
//! 1. `--seed N --db URL`: stores N messages into a fresh store through `Store::submit` — the
//!    server's own group-commit writer, so every message is indexed by the very code and
//!    transaction the server uses (FTS5 rows, tsvector column), ~1000 per transaction, many
//!    transactions in flight. Text: a Zipf-distributed vocabulary of English words and
//!    generated tail words, one message in six Chinese (two-character words, so bigrams), in
//!    100 rooms.
//! 2. `--url URL`: a real Socket.IO client (this crate's) sends `search` requests to the
//!    running server one at a time and records each ack's latency: transport, JSON, query
//!    rules and the database together, which is what a user waits for. Without `--url`,
//!    `--db URL` measures `Store::search` in-process instead (the index alone).
//!
//! The queries cycle through kinds that stress the index differently: a frequent word (many
//! matches, newest first: the index must stop early), a rare word, an AND of a frequent and a
//! mid word, a Chinese word, a frequent word in one room, the second page (`before`), and a
//! word that matches nothing.

use crate::client::Client;
use crate::stats::{latency_histogram, latency_json, record};
use anyhow::{Context, bail};
use chatroom_core::{Limits, NewMessage, RoomName, SearchQuery, UserName};
use chatroom_store::{SearchScope, Store};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::time::Instant;

/// Rooms the seeded messages are spread over.
pub const ROOMS: usize = 100;
/// Appends in flight while seeding (the writer batches up to 1000 per transaction).
const IN_FLIGHT: usize = 20_000;

/// Frequent English words (the head of the distribution), most frequent first.
const COMMON: &[&str] = &[
    "the",
    "to",
    "and",
    "a",
    "i",
    "is",
    "it",
    "you",
    "that",
    "in",
    "we",
    "for",
    "on",
    "this",
    "of",
    "be",
    "with",
    "have",
    "are",
    "not",
    "can",
    "do",
    "just",
    "so",
    "but",
    "if",
    "will",
    "what",
    "at",
    "my",
    "was",
    "there",
    "from",
    "now",
    "ok",
    "yes",
    "no",
    "think",
    "get",
    "deploy",
    "build",
    "test",
    "server",
    "fix",
    "bug",
    "release",
    "review",
    "merge",
    "branch",
    "meeting",
    "today",
    "tomorrow",
    "please",
    "thanks",
    "lunch",
    "coffee",
    "issue",
    "error",
    "database",
    "query",
    "latency",
    "cluster",
    "node",
    "config",
    "docs",
    "update",
    "check",
    "looks",
    "good",
    "done",
    "wait",
    "later",
    "morning",
    "team",
    "customer",
    "ticket",
    "ship",
    "rollback",
    "staging",
    "production",
    "alert",
    "disk",
    "memory",
    "cpu",
    "network",
    "login",
];

/// Common two-character Chinese words: a Chinese message is several of these run together
/// (no spaces), so a query word is found through its bigram.
const CHINESE: &[&str] = &[
    "技术", "讨论", "问题", "服务", "部署", "测试", "数据", "今天", "明天", "会议", "发布", "版本",
    "代码", "性能", "延迟", "集群", "配置", "文档", "更新", "检查", "客户", "项目", "团队", "系统",
    "网络", "内存", "磁盘", "错误", "修复", "上线", "下班", "午饭", "咖啡", "谢谢", "大家", "我们",
    "已经", "可以", "需要", "时候",
];

/// A small deterministic generator (xorshift64*): the same seed gives the same store.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Roughly Zipf over `0..n`: small indexes are much more likely (1/x through a log-uniform
    /// draw).
    fn zipf(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        let x = ((n as f64 + 1.0).ln() * u).exp() - 1.0;
        (x as usize).min(n - 1)
    }
}

/// A generated tail word: `w` + base-26 letters of `i` (never one of [`COMMON`]).
fn tail_word(i: usize) -> String {
    let mut s = String::from("w");
    let mut n = i;
    loop {
        s.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    s
}

/// Vocabulary size: the common words plus this many tail words.
const TAIL: usize = 20_000;

fn word(rng: &mut Rng) -> String {
    let i = rng.zipf(COMMON.len() + TAIL);
    match COMMON.get(i) {
        Some(w) => (*w).to_owned(),
        None => tail_word(i - COMMON.len()),
    }
}

/// One message text: 4–20 words, or (one in six) 3–8 Chinese words run together.
fn text(rng: &mut Rng) -> String {
    if rng.below(6) == 0 {
        let n = 3 + rng.below(6);
        (0..n).map(|_| CHINESE[rng.zipf(CHINESE.len())]).collect()
    } else {
        let n = 4 + rng.below(17);
        (0..n).map(|_| word(rng)).collect::<Vec<_>>().join(" ")
    }
}

/// Stores `n` generated messages into the store at `db` (which should be empty: the run is
/// measured against exactly what it seeded). Returns (messages stored, seconds).
pub async fn seed(db: &str, n: usize, progress: bool) -> anyhow::Result<(u64, f64)> {
    let (store, mut feed) = Store::open(db)
        .await
        .with_context(|| format!("cannot open {db}"))?;
    // Nobody delivers these: empty the committed feed so the writer never waits for it.
    let drain = tokio::spawn(async move { while feed.recv().await.is_some() {} });
    let rooms: Vec<RoomName> = (0..ROOMS)
        .map(|i| RoomName::new(&format!("room-{i}")))
        .collect::<Result<_, _>>()?;
    let names: Vec<UserName> = (0..50)
        .map(|i| UserName::new(&format!("user{i}")))
        .collect::<Result<_, _>>()?;
    let limits = Limits::default();
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    // A year of messages ending now, in id order.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let span = 365 * 24 * 3600 * 1000_i64;
    let started = Instant::now();
    let mut pending = VecDeque::with_capacity(IN_FLIGHT);
    let mut stored = 0u64;
    for i in 0..n {
        let ts = now - span + span / n as i64 * i as i64;
        let msg = NewMessage::new(
            rooms[rng.zipf(ROOMS)].clone(),
            names[rng.below(names.len())].clone(),
            text(&mut rng),
            None,
            &limits,
            ts,
        )?;
        pending.push_back(store.submit(msg).await?);
        if pending.len() >= IN_FLIGHT
            && let Some(first) = pending.pop_front()
        {
            first.await?;
            stored += 1;
        }
        if progress && i % 100_000 == 0 && i > 0 {
            eprintln!(
                "seeded {i} in {:.1} s ({:.0}/s)",
                started.elapsed().as_secs_f64(),
                i as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    while let Some(next) = pending.pop_front() {
        next.await?;
        stored += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    store.close().await;
    drain.await?;
    Ok((stored, secs))
}

/// One kind of query of the mix.
struct Kind {
    name: &'static str,
    query: String,
    room: Option<&'static str>,
    /// Ask for the second page (before = the first page's last id).
    second_page: bool,
}

fn kinds() -> Vec<Kind> {
    let k = |name, query: &str, room, second_page| Kind {
        name,
        query: query.to_owned(),
        room,
        second_page,
    };
    vec![
        k("frequent word", "deploy", None, false),
        k("rare word", &tail_word(15_000), None, false),
        k("AND of two words", "deploy latency", None, false),
        k("Chinese word", "技术", None, false),
        k("Chinese phrase", "技术讨论", None, false),
        k("frequent word, one room", "deploy", Some("room-42"), false),
        k("frequent word, page 2", "deploy", None, true),
        k("no match", "zzzznothing", None, false),
    ]
}

/// What one measured request needs to run.
enum Target {
    Socket(Box<Client>),
    Store(Store),
}

impl Target {
    /// One search; (result count, last result id, more).
    async fn search(
        &self,
        kind: &Kind,
        before: Option<i64>,
        limit: u32,
    ) -> anyhow::Result<(usize, Option<i64>, bool)> {
        match self {
            Target::Socket(client) => {
                let mut req = json!({ "query": kind.query, "limit": limit });
                if let Some(room) = kind.room {
                    req["room"] = json!(room);
                }
                if let Some(before) = before {
                    req["before"] = json!(before);
                }
                let ack = client.emit_with_ack("search", req).await?;
                if ack["ok"] != json!(true) {
                    bail!("search {:?} refused: {ack}", kind.query);
                }
                let results = ack["results"].as_array().map_or(&[][..], Vec::as_slice);
                Ok((
                    results.len(),
                    results.last().and_then(|m| m["id"].as_i64()),
                    ack["more"] == json!(true),
                ))
            }
            Target::Store(store) => {
                let query = SearchQuery::parse(&kind.query)?;
                let room = kind.room.map(RoomName::new).transpose()?;
                let scope = match &room {
                    Some(r) => SearchScope::Room(r),
                    None => SearchScope::Everywhere,
                };
                let page = store.search(&query, scope, &[], before, limit).await?;
                Ok((
                    page.messages.len(),
                    page.messages.last().map(|m| m.id),
                    page.more,
                ))
            }
        }
    }
}

/// Runs `rounds` rounds of every query kind one at a time against the server at `url`
/// (Socket.IO) or, without it, the store at `db`; per kind and overall p50/p99.
pub async fn measure(
    url: Option<&str>,
    db: Option<&str>,
    rounds: usize,
    limit: u32,
) -> anyhow::Result<Value> {
    let target = match (url, db) {
        (Some(url), _) => Target::Socket(Box::new(
            Client::connect(url, Some(json!({ "name": "searchbench" })))
                .await
                .with_context(|| format!("cannot connect to {url}"))?,
        )),
        (None, Some(db)) => Target::Store(Store::open(db).await?.0),
        (None, None) => bail!("give --url (a running server) or --db (the store itself)"),
    };
    let kinds = kinds();
    let mut overall = latency_histogram();
    let mut per_kind: Vec<_> = kinds.iter().map(|_| latency_histogram()).collect();
    let mut found: Vec<(usize, bool)> = vec![(0, false); kinds.len()];
    // One warm-up round (caches, prepared statements), not recorded.
    for round in 0..=rounds {
        for (i, kind) in kinds.iter().enumerate() {
            let before = if kind.second_page {
                target.search(kind, None, limit).await?.1
            } else {
                None
            };
            let started = Instant::now();
            let (n, _, more) = target.search(kind, before, limit).await?;
            let us = started.elapsed().as_micros() as u64;
            if round > 0 {
                record(&mut overall, us);
                record(&mut per_kind[i], us);
            }
            found[i] = (n, more);
        }
    }
    if let Target::Store(store) = &target {
        store.close().await;
    }
    let by_kind: Vec<Value> = kinds
        .iter()
        .zip(&per_kind)
        .zip(&found)
        .map(|((k, h), (n, more))| {
            json!({
                "kind": k.name,
                "query": k.query,
                "room": k.room,
                "results": n,
                "more": more,
                "latency_ms": latency_json(h),
            })
        })
        .collect();
    Ok(json!({
        "via": if url.is_some() { "socket.io" } else { "store" },
        "rounds": rounds,
        "limit": limit,
        "latency_ms": latency_json(&overall),
        "by_kind": by_kind,
    }))
}
