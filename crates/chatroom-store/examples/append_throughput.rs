//! Measures group commit: N concurrent writers append M messages in total to one store, and we
//! print stored messages per second, transactions used, and append latency percentiles.
//!
//! `cargo run --release -p chatroom-store --example append_throughput -- \
//!     --db sqlite:///tmp/bench.db --writers 100 --messages 20000 [--rooms 10] [--text-bytes 100]`

use chatroom_core::{Cid, Limits, NewMessage, RoomName, UserName};
use chatroom_store::Store;
use std::error::Error;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

struct Args {
    db: String,
    writers: usize,
    messages: usize,
    rooms: usize,
    text_bytes: usize,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut args = Args {
        db: String::new(),
        writers: 100,
        messages: 20_000,
        rooms: 10,
        text_bytes: 100,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--db" => args.db = value()?,
            "--writers" => args.writers = value()?.parse()?,
            "--messages" => args.messages = value()?.parse()?,
            "--rooms" => args.rooms = value()?.parse()?,
            "--text-bytes" => args.text_bytes = value()?.parse()?,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    if args.db.is_empty() {
        return Err("--db URL is required (sqlite://FILE, postgres://..., memory)".into());
    }
    if args.writers == 0 || args.rooms == 0 {
        return Err("--writers and --rooms must be at least 1".into());
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    let (store, mut feed) = Store::open(&args.db).await?;
    let total = args.messages;
    let counter = tokio::spawn(async move {
        let (mut seen, mut last, mut ascending) = (0usize, 0i64, true);
        while seen < total {
            let Some(batch) = feed.recv().await else {
                break;
            };
            for m in &batch {
                ascending &= m.message.id > last;
                last = m.message.id;
            }
            seen += batch.len();
        }
        (seen, ascending)
    });

    let run = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let text = "x".repeat(args.text_bytes.max(1));
    let name = UserName::new("bench")?;
    let rooms: Vec<RoomName> = (0..args.rooms)
        .map(|r| RoomName::new(&format!("bench-{r}")))
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.writers);
    for w in 0..args.writers {
        let share = total / args.writers + usize::from(w < total % args.writers);
        let (store, name, text, room) = (
            store.clone(),
            name.clone(),
            text.clone(),
            rooms[w % rooms.len()].clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            for j in 0..share {
                let cid = Cid::new(&format!("{run:x}-{w}-{j}"))?;
                let msg = NewMessage::new(
                    room.clone(),
                    name.clone(),
                    text.clone(),
                    Some(cid),
                    &Limits::default(),
                    0,
                )?;
                let t = Instant::now();
                store.append(msg).await?;
                latencies.push(t.elapsed());
            }
            Ok::<_, Box<dyn Error + Send + Sync>>(latencies)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    for task in tasks {
        latencies.extend(task.await?.map_err(|e| e.to_string())?);
    }
    let elapsed = started.elapsed();
    let (delivered, ascending) = counter.await?;
    let stats = store.stats();
    store.close().await;

    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(i).copied().unwrap_or(Duration::ZERO)
    };
    let secs = elapsed.as_secs_f64();
    println!(
        "db={} writers={} messages={} text={}B",
        args.db, args.writers, total, args.text_bytes
    );
    println!(
        "stored {} in {:.2} s = {:.0} msg/s; {} transactions (avg {:.1} msgs each), {} failed",
        stats.stored,
        secs,
        stats.stored as f64 / secs,
        stats.transactions,
        stats.stored as f64 / stats.transactions.max(1) as f64,
        stats.failed_transactions
    );
    println!(
        "append latency p50 {:?} p99 {:?} max {:?}; feed delivered {} ({})",
        pct(0.50),
        pct(0.99),
        latencies.last().copied().unwrap_or(Duration::ZERO),
        delivered,
        if ascending {
            "ascending"
        } else {
            "NOT ascending"
        }
    );
    Ok(())
}
