//! Prometheus metrics (`GET /metrics`): why it exists — an operator running several nodes
//! behind a load balancer needs per-node numbers (connections, traffic, latency, errors) that
//! a scraper can collect and alert on, which `/healthz`'s few counters are not.
//!
//! One [`Metrics`] per server, held by `App`, with its own `prometheus_client` registry: the
//! integration tests run several servers in one process, and a process-global recorder (the
//! `metrics` crate's facade, the `prometheus` crate's default registry) would mix their
//! numbers. Counters and histograms are lock-free atomics, cheap on the message path.
//!
//! Two gauges are sampled when scraped rather than kept up to date: connections by transport
//! (socketioxide tells no one when a polling session upgrades to WebSocket, but
//! `Socket::transport_type` always says what it is now) and rooms with members (the presence
//! table knows). [`Metrics::sample`] sets them just before encoding.
//!
//! The cluster relay (Redis) increments [`Metrics::relayed`], [`Metrics::redis_errors`] and
//! [`Metrics::relay_gaps_filled`]; they stay 0 on a single node.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the ack latency buckets: 1 ms … 5 s, roughly ×2.5 per step, so a
/// healthy group commit (a few ms) and a struggling database (seconds) are both resolved.
pub const ACK_LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Content type of the text [`Metrics::encode`] produces (OpenMetrics, which Prometheus reads).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Socket.IO transport of a connection.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Transport {
    /// A WebSocket (from the start or after an upgrade).
    Websocket,
    /// HTTP long-polling.
    Polling,
}

/// Label set of [`Metrics::connections`].
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransportLabel {
    /// The transport.
    pub transport: Transport,
}

/// Direction of a relayed message.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Direction {
    /// Published by this node for the others.
    Out,
    /// Received from another node.
    In,
}

impl EncodeLabelValue for Transport {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(match self {
            Self::Websocket => "websocket",
            Self::Polling => "polling",
        })
    }
}

impl EncodeLabelValue for Direction {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(match self {
            Self::Out => "out",
            Self::In => "in",
        })
    }
}

/// Label set of [`Metrics::relayed`].
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirectionLabel {
    /// In or out.
    pub direction: Direction,
}

/// Label set of [`Metrics::refusals`]: the stable refusal code (the one the client is told,
/// e.g. `rate_limited`) and where it happened: a wire event name (`send`, `join`, …),
/// `connect` (the Socket.IO handshake), `http` (an Engine.IO request) or `accept` (the TCP
/// connection).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabel {
    /// Refusal code.
    pub code: String,
    /// Event or stage.
    pub event: String,
}

/// Running totals kept by another part (the cluster relay's own atomics), for
/// [`Metrics::catch_up_relay`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayTotals {
    /// Messages published to other nodes.
    pub relayed_out: u64,
    /// Messages received from other nodes.
    pub relayed_in: u64,
    /// Messages read from the store to fill relay gaps.
    pub gaps_filled: u64,
    /// Failed Redis operations.
    pub redis_errors: u64,
}

/// Every metric of one server; see the module docs and docs/DEPLOY.md for their meaning.
pub struct Metrics {
    registry: Registry,
    /// Serializes [`Metrics::catch_up_relay`]: two scrapes at once must not add a delta twice.
    catch_up: Mutex<()>,
    /// Socket.IO connections by transport (sampled at scrape).
    pub connections: Family<TransportLabel, Gauge>,
    /// Rooms with at least one member on this node (sampled at scrape).
    pub rooms: Gauge,
    /// Messages committed to the store by this node.
    pub messages_stored: Counter,
    /// Messages handed to client send queues (one per receiving connection).
    pub messages_delivered: Counter,
    /// Messages relayed to (`out`) or from (`in`) other nodes.
    pub relayed: Family<DirectionLabel, Counter>,
    /// `send` received → its `ok` ack sent, in seconds (refusals, answered at once, would
    /// only hide the commit time).
    pub ack_latency: Histogram,
    /// Store operations that failed (a client was answered `unavailable`, a purge failed).
    pub store_errors: Counter,
    /// Redis operations that failed (cluster relay).
    pub redis_errors: Counter,
    /// Gaps in the relayed stream filled from the store (cluster relay).
    pub relay_gaps_filled: Counter,
    /// Refused client input, by code and event.
    pub refusals: Family<RefusalLabel, Counter>,
    /// Clients disconnected because their send queue stayed full.
    pub slow_disconnects: Counter,
    /// Messages removed by the retention purge.
    pub purged: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric at zero, registered under the `chatroom_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("chatroom");
        let connections = Family::<TransportLabel, Gauge>::default();
        let rooms = Gauge::default();
        let messages_stored = Counter::default();
        let messages_delivered = Counter::default();
        let relayed = Family::<DirectionLabel, Counter>::default();
        let ack_latency = Histogram::new(ACK_LATENCY_BUCKETS);
        let store_errors = Counter::default();
        let redis_errors = Counter::default();
        let relay_gaps_filled = Counter::default();
        let refusals = Family::<RefusalLabel, Counter>::default();
        let slow_disconnects = Counter::default();
        let purged = Counter::default();
        // Both transports and both directions appear from the start, at 0, so a dashboard's
        // query does not depend on the first event of each kind.
        for transport in [Transport::Websocket, Transport::Polling] {
            let _ = connections.get_or_create(&TransportLabel { transport });
        }
        for direction in [Direction::Out, Direction::In] {
            let _ = relayed.get_or_create(&DirectionLabel { direction });
        }
        registry.register(
            "connections",
            "Socket.IO connections by transport",
            connections.clone(),
        );
        registry.register("rooms", "Rooms with members on this node", rooms.clone());
        registry.register(
            "messages_stored",
            "Messages committed to the store by this node",
            messages_stored.clone(),
        );
        registry.register(
            "messages_delivered",
            "Messages handed to client send queues",
            messages_delivered.clone(),
        );
        registry.register(
            "messages_relayed",
            "Messages relayed to (out) or from (in) other cluster nodes",
            relayed.clone(),
        );
        registry.register_with_unit(
            "ack_latency",
            "Time from a send's arrival to its ack",
            Unit::Seconds,
            ack_latency.clone(),
        );
        registry.register(
            "store_errors",
            "Failed store operations",
            store_errors.clone(),
        );
        registry.register(
            "redis_errors",
            "Failed Redis operations (cluster relay)",
            redis_errors.clone(),
        );
        registry.register(
            "relay_gaps_filled",
            "Gaps in the relayed message stream filled from the store",
            relay_gaps_filled.clone(),
        );
        registry.register(
            "refusals",
            "Refused client input, by code and event",
            refusals.clone(),
        );
        registry.register(
            "slow_client_disconnects",
            "Clients disconnected because their send queue stayed full",
            slow_disconnects.clone(),
        );
        registry.register(
            "messages_purged",
            "Messages removed by the retention purge",
            purged.clone(),
        );
        Self {
            registry,
            catch_up: Mutex::new(()),
            connections,
            rooms,
            messages_stored,
            messages_delivered,
            relayed,
            ack_latency,
            store_errors,
            redis_errors,
            relay_gaps_filled,
            refusals,
            slow_disconnects,
            purged,
        }
    }

    /// Counts one relayed message in `direction` (for the cluster relay).
    pub fn relayed(&self, direction: Direction, messages: u64) {
        self.relayed
            .get_or_create(&DirectionLabel { direction })
            .inc_by(messages);
    }

    /// Counts one refusal of `code` at `event` (see [`RefusalLabel`]).
    pub fn refused(&self, code: &str, event: &str) {
        self.refusals
            .get_or_create(&RefusalLabel {
                code: code.to_owned(),
                event: event.to_owned(),
            })
            .inc();
    }

    /// Records one ack's latency.
    pub fn ack_sent(&self, latency: Duration) {
        self.ack_latency.observe(latency.as_secs_f64());
    }

    /// Sets the sampled gauges: connections per transport and rooms with members.
    pub fn sample(&self, websocket: usize, polling: usize, rooms: usize) {
        let set = |transport, n: usize| {
            self.connections
                .get_or_create(&TransportLabel { transport })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        };
        set(Transport::Websocket, websocket);
        set(Transport::Polling, polling);
        self.rooms.set(i64::try_from(rooms).unwrap_or(i64::MAX));
    }

    /// Brings the relay counters up to `totals`, for a relay that counts in its own atomics
    /// (called at scrape): each counter grows by what it lags behind, never shrinks. A relay
    /// that increments these counters directly needs no call.
    pub fn catch_up_relay(&self, totals: RelayTotals) {
        let _one_at_a_time = self.catch_up.lock().unwrap_or_else(|p| p.into_inner());
        let lift = |counter: &Counter, total: u64| {
            counter.inc_by(total.saturating_sub(counter.get()));
        };
        let direction = |direction| {
            self.relayed
                .get_or_create_owned(&DirectionLabel { direction })
        };
        lift(&direction(Direction::Out), totals.relayed_out);
        lift(&direction(Direction::In), totals.relayed_in);
        lift(&self.relay_gaps_filled, totals.gaps_filled);
        lift(&self.redis_errors, totals.redis_errors);
    }

    /// The registry in the OpenMetrics text format ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail; an encoder error would be a bug in a label.
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(%error, "metrics not encodable");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_exposed_with_its_labels() {
        let metrics = Metrics::new();
        metrics.messages_stored.inc_by(3);
        metrics.refused("rate_limited", "send");
        metrics.ack_sent(Duration::from_millis(3));
        metrics.relayed(Direction::In, 2);
        metrics.sample(4, 1, 2);
        let text = metrics.encode();
        for line in [
            "chatroom_connections{transport=\"websocket\"} 4",
            "chatroom_connections{transport=\"polling\"} 1",
            "chatroom_rooms 2",
            "chatroom_messages_stored_total 3",
            "chatroom_messages_relayed_total{direction=\"in\"} 2",
            "chatroom_messages_relayed_total{direction=\"out\"} 0",
            "chatroom_refusals_total{code=\"rate_limited\",event=\"send\"} 1",
            "chatroom_ack_latency_seconds_count 1",
            "chatroom_ack_latency_seconds_bucket{le=\"0.0025\"} 0",
            "chatroom_ack_latency_seconds_bucket{le=\"0.005\"} 1",
            "chatroom_store_errors_total 0",
            "chatroom_redis_errors_total 0",
            "chatroom_relay_gaps_filled_total 0",
            "chatroom_slow_client_disconnects_total 0",
            "chatroom_messages_purged_total 0",
            "chatroom_messages_delivered_total 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn relay_totals_are_caught_up_once() {
        let metrics = Metrics::new();
        let totals = RelayTotals {
            relayed_out: 5,
            relayed_in: 7,
            gaps_filled: 2,
            redis_errors: 1,
        };
        metrics.catch_up_relay(totals);
        metrics.catch_up_relay(totals);
        let text = metrics.encode();
        for line in [
            "chatroom_messages_relayed_total{direction=\"out\"} 5",
            "chatroom_messages_relayed_total{direction=\"in\"} 7",
            "chatroom_relay_gaps_filled_total 2",
            "chatroom_redis_errors_total 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
