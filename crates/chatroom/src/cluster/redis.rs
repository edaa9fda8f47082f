//! The two Redis connections of a node: one publishing (pipelined, in queue order), one
//! subscribed to the cluster's channel. Each reconnects by itself with a capped backoff; while
//! one is down the node keeps serving its own sockets, and what the others miss meanwhile is
//! repaired after the reconnect (see [`super::order`] and [`super::members`]).

use super::members::Event;
use super::wire::{Body, Envelope};
use super::{Cluster, ClusterError, Inbound, Outgoing};
use futures_util::StreamExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a connection attempt or a command may take.
const TIMEOUT: Duration = Duration::from_secs(3);
/// First wait before reconnecting; doubled up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Envelopes sent in one pipeline.
const PIPELINE: usize = 256;

/// `url` without a password, for messages.
pub fn redact(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://…@{}", &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// Opens a client for `url` and checks that Redis answers a PING within [`TIMEOUT`].
pub async fn check(url: &str) -> Result<redis::Client, ClusterError> {
    let unreachable = |cause: String| ClusterError::Unreachable {
        url: redact(url),
        cause,
    };
    let client = redis::Client::open(url).map_err(|e| unreachable(e.to_string()))?;
    let ping = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    match tokio::time::timeout(TIMEOUT, ping).await {
        Ok(Ok(_)) => Ok(client),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable(format!("no answer within {TIMEOUT:?}"))),
    }
}

/// Publishes queued envelopes in order until the queue closes. A pipeline that fails is lost
/// (counted, logged); the connection is then made again.
pub async fn publish(
    cluster: Arc<Cluster>,
    client: redis::Client,
    mut outbox: mpsc::Receiver<Outgoing>,
) {
    let channel = cluster.channel();
    let mut backoff = MIN_BACKOFF;
    let mut batch = Vec::with_capacity(PIPELINE);
    let mut conn = None;
    loop {
        let Some(connection) = conn.as_mut() else {
            match tokio::time::timeout(TIMEOUT, client.get_multiplexed_async_connection()).await {
                Ok(Ok(c)) => {
                    if !cluster.publishing.swap(true, Ordering::Relaxed) {
                        tracing::info!(node = cluster.node(), "cluster: publishing to Redis");
                    }
                    conn = Some(c);
                    backoff = MIN_BACKOFF;
                }
                Ok(Err(error)) => {
                    lost("publisher", &cluster, &error.to_string(), &mut backoff).await;
                }
                Err(_) => lost("publisher", &cluster, "connect timed out", &mut backoff).await,
            }
            continue;
        };
        if outbox.recv_many(&mut batch, PIPELINE).await == 0 {
            return;
        }
        let mut pipe = redis::pipe();
        let mut flushes = Vec::new();
        for item in batch.drain(..) {
            match item {
                Outgoing::Envelope(bytes) => {
                    pipe.publish(&channel, bytes).ignore();
                }
                Outgoing::Flush(done) => flushes.push(done),
            }
        }
        let sent = if pipe.is_empty() {
            Ok(Ok(())) // only flush requests: nothing to send
        } else {
            tokio::time::timeout(TIMEOUT, pipe.query_async::<()>(connection)).await
        };
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                conn = None;
                lost("publisher", &cluster, &error.to_string(), &mut backoff).await;
            }
            Err(_) => {
                conn = None;
                lost("publisher", &cluster, "publish timed out", &mut backoff).await;
            }
        }
        for done in flushes {
            let _ = done.send(()); // the waiter may have given up
        }
    }
}

/// Reads the cluster's channel: messages go to the order task, everything else to the members
/// task; our own envelopes are skipped. Resubscribes by itself, and tells both tasks each time
/// the subscription is (re)made, so they can repair what was missed.
pub async fn subscribe(
    cluster: Arc<Cluster>,
    client: redis::Client,
    inbound: mpsc::Sender<Inbound>,
    members: mpsc::Sender<Event>,
) {
    let channel = cluster.channel();
    let mut backoff = MIN_BACKOFF;
    loop {
        let connect = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let mut pubsub = match tokio::time::timeout(TIMEOUT, connect).await {
            Ok(Ok(pubsub)) => pubsub,
            Ok(Err(error)) => {
                lost("subscriber", &cluster, &error.to_string(), &mut backoff).await;
                continue;
            }
            Err(_) => {
                lost("subscriber", &cluster, "subscribe timed out", &mut backoff).await;
                continue;
            }
        };
        cluster.subscribed.store(true, Ordering::Relaxed);
        backoff = MIN_BACKOFF;
        tracing::info!(node = cluster.node(), %channel, "cluster: subscribed");
        if inbound.send(Inbound::Resubscribed).await.is_err()
            || members.send(Event::Resubscribed).await.is_err()
        {
            return;
        }
        let mut stream = pubsub.on_message();
        while let Some(msg) = stream.next().await {
            let envelope: Envelope = match serde_json::from_slice(msg.get_payload_bytes()) {
                Ok(envelope) => envelope,
                Err(error) => {
                    cluster.counters.redis_error();
                    tracing::warn!(%error, "cluster: unreadable envelope on the channel; ignored");
                    continue;
                }
            };
            if envelope.node == cluster.node() && envelope.epoch == cluster.epoch {
                continue;
            }
            let sent = match envelope.body {
                Body::Messages { items } => {
                    cluster
                        .counters
                        .relayed_in
                        .fetch_add(items.len() as u64, Ordering::Relaxed);
                    inbound.send(Inbound::Messages(items)).await.is_ok()
                }
                _ => members.send(Event::Bus(Box::new(envelope))).await.is_ok(),
            };
            if !sent {
                return;
            }
        }
        cluster.subscribed.store(false, Ordering::Relaxed);
        lost("subscriber", &cluster, "connection closed", &mut backoff).await;
    }
}

/// Marks the connection down, counts and logs it (a warning on the first failure, then at
/// debug level until it works again), and waits `backoff` before the next try.
async fn lost(which: &'static str, cluster: &Cluster, cause: &str, backoff: &mut Duration) {
    cluster.counters.redis_error();
    let flag = match which {
        "publisher" => &cluster.publishing,
        _ => &cluster.subscribed,
    };
    let was_up = flag.swap(false, Ordering::Relaxed);
    if was_up || *backoff == MIN_BACKOFF {
        tracing::warn!(
            node = cluster.node(),
            which,
            cause,
            "cluster: Redis connection lost; retrying"
        );
    } else {
        tracing::debug!(which, cause, "cluster: Redis still unreachable");
    }
    tokio::time::sleep(*backoff).await;
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(redact("redis://:secret@h:6379/0"), "redis://…@h:6379/0");
        assert_eq!(redact("redis://h:6379"), "redis://h:6379");
    }
}
