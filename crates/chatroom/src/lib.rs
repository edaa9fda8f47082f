//! chatroom: the Node.js Express + Socket.IO chat room, in Rust — drop-in for its page and its
//! clients, grown into rooms, names, presence, typing and durable history.
//!
//! One message's path (`send`): `socket::send` decodes → `chatroom_core` rules →
//! `chatroom_store::Store::append` (group commit) → the store's committed feed →
//! `socket::deliver` emits to the room; the ack goes back after the commit.
//!
//! - [`config`]: CLI/env/file → validated [`config::Config`].
//! - [`app`]: shared state handed to every handler.
//! - [`http`]: page, assets, our browser client, `/healthz`, `/readyz`, `/metrics`.
//! - [`metrics`]: the Prometheus metrics of one server.
//! - [`readiness`]: the named checks behind `/readyz`.
//! - [`socket`]: the handshake and one file per wire event; [`socket::deliver`] emits messages.
//! - [`identity`]: signed identity tokens, so a user keeps its id across reconnects.
//! - [`auth`]: who may connect (`--auth open|token|jwt`); [`moderation`]: roles' powers.
//! - [`net`]: the network edge — accept, timeouts, connection limits, client address.
//! - [`logging`]: tracing setup (text without colours off a terminal, or JSON lines).
//! - [`refusal`]: rate-limited logging of every refused input.
//! - [`protocol`]: event names and payload shapes (docs/PROTOCOL.md).
//! - [`retention`]: the purge loop of `--retention-days` / `--retention-per-room`.
//! - [`shutdown`]: SIGINT/SIGTERM, the drain state and the drain order.
//! - [`tls`]: `--tls-cert`/`--tls-key` → the rustls acceptor of the accept loop.
//! - [`cluster`]: `--redis`: relay, room order and presence across nodes.

pub mod app;
pub mod auth;
pub mod changes;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod http;
pub mod identity;
pub mod logging;
pub mod metrics;
pub mod moderation;
pub mod net;
pub mod protocol;
pub mod readiness;
pub mod refusal;
pub mod retention;
pub mod shutdown;
pub mod socket;
pub mod tls;

use app::App;
use chatroom_store::{Feed, Store, StoreError};
use config::Config;
use http::page::{Page, PageError};
use identity::IdentityKeys;
use socketioxide::SocketIo;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long clients get to close after a shutdown signal before the process exits anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Part of [`SHUTDOWN_GRACE`] spent waiting for answers owed (acks of commits under way)
/// before the transports close; the rest is for the closing itself.
pub const DRAIN_ANSWERS: Duration = Duration::from_secs(3);

/// Least time between the start of a drain and the closing of the transports, during which
/// every event read is answered `unavailable` at once. A client that stops sending on its
/// first `unavailable` (docs/PROTOCOL.md) has, by then, had every event it sent answered:
/// what it sent before that answer arrived was on the wire for one round trip, far less.
pub const DRAIN_SETTLE: Duration = Duration::from_millis(250);

/// Name of the store secret that signs identity tokens.
const IDENTITY_SECRET: &str = "identity";

/// Per-connection WebSocket read buffer; see `Server::serve`.
const WS_READ_BUFFER_BYTES: usize = 1024;

/// Pending connections the kernel queues before `accept` (Node uses 511; a connection storm
/// overflowed a smaller queue and clients waited a full second to retry the SYN).
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` with address reuse and a [`LISTEN_BACKLOG`]-deep accept queue.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store could not be opened.
    #[error("cannot open store: {0}")]
    Store(#[from] StoreError),
    /// The page template is broken.
    #[error(transparent)]
    Page(#[from] PageError),
    /// The TLS certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The cluster could not be joined.
    #[error(transparent)]
    Cluster(#[from] cluster::ClusterError),
    /// Serving failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// A server whose store is open and page rendered, ready to serve on a listener.
pub struct Server {
    app: App,
    feed: Feed,
    cluster: Option<cluster::Tasks>,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Server {
    /// Opens the store (running migrations) and renders the page. Errors here are operator
    /// errors: the binary prints them as one line and exits non-zero.
    pub async fn build(config: Config) -> Result<Self, ServerError> {
        let page = Page::render(&config.title, config.views.as_deref())?;
        // Before the store: a bad certificate should not wait for a database to answer.
        let tls = config.tls.as_ref().map(tls::acceptor).transpose()?;
        let (store, feed) = Store::open(&config.db).await?;
        let identity = IdentityKeys::new(&store.secret(IDENTITY_SECRET).await?);
        let bans = store.bans(clock::now_ms()).await?;
        let (cluster, tasks) = match &config.cluster {
            Some(settings) => {
                let (cluster, tasks) = cluster::Cluster::connect(settings.clone()).await?;
                (Some(cluster), Some(tasks))
            }
            None => (None, None),
        };
        let app = App::new(config, store, page, identity, cluster);
        if let Some(cluster) = app.cluster.clone() {
            // A node that lost Redis still serves its own clients, but misses the others'
            // messages until it is back: not ready for new ones.
            app.readiness.add("redis", move || {
                let up = cluster.redis_up();
                Box::pin(async move { up.then_some(()).ok_or_else(|| "not connected".to_owned()) })
            });
        }
        app.moderation.replace_bans(bans);
        Ok(Self {
            app,
            feed,
            tls,
            cluster: tasks,
        })
    }

    /// The shared state (metrics, readiness checks, drain) before serving starts, e.g. to add
    /// a readiness check.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Serves until `shutdown` resolves, then drains (see [`shutdown`]: not ready, stop
    /// accepting, give the answers owed, close every transport so clients reconnect
    /// elsewhere), flushes the store and returns (after at most [`SHUTDOWN_GRACE`]).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let Server {
            app,
            feed,
            tls,
            cluster,
        } = self;
        let config = &app.config;
        let (sio, io) = SocketIo::builder()
            .with_state(app.clone())
            .max_payload(config.max_message_bytes)
            .ws_max_message_size(usize::try_from(config.max_message_bytes).unwrap_or(usize::MAX))
            .ws_max_frame_size(usize::try_from(config.max_message_bytes).unwrap_or(usize::MAX))
            .max_buffer_size(config.send_queue)
            // Read chunk per WebSocket (default 4 KiB, allocated per connection): chat frames
            // are small, larger ones are simply read in several chunks.
            .ws_read_buffer_size(WS_READ_BUFFER_BYTES)
            // An Engine.IO session that never sends the Socket.IO CONNECT is closed.
            .connect_timeout(config.connect_timeout)
            .build_svc();
        socket::register(&io);
        app.moderation.attach(io.clone());
        let bans = tokio::spawn(moderation::refresh_bans(app.clone()));
        let deliver = match (&app.cluster, cluster) {
            (Some(handle), Some(tasks)) => {
                let tasks =
                    cluster::start(io.clone(), app.clone(), Arc::clone(handle), tasks, feed);
                // The lobby is every connection's first room: deliver it from the start.
                if let Err(error) = handle.watch(&chatroom_core::RoomName::lobby()).await {
                    tracing::warn!(%error, "cluster: lobby not watched yet; its first join will retry");
                }
                tasks
            }
            _ => vec![tokio::spawn(socket::deliver::run(
                io.clone(),
                app.clone(),
                feed,
            ))],
        };
        let crowd = tokio::spawn(socket::crowd::run(io.clone(), app.clone()));
        let purge = tokio::spawn(retention::run(app.clone()));
        let guard = net::guard::Guard::new(config, app.metrics.clone(), app.drain.clone());
        let router = http::with_safety_headers(
            http::router(app.clone(), io.clone())
                .fallback_service(sio)
                .layer(axum::middleware::from_fn_with_state(
                    guard,
                    net::guard::guard,
                )),
        );

        let (stopping, mut stopped) = tokio::sync::watch::channel(false);
        let drain_state = app.drain.clone();
        let stop = async move {
            shutdown.await;
            tracing::info!("shutting down: draining");
            drain_state.start();
            let _ = stopping.send(true); // the grace timer below is listening
        };
        let drain_state = app.drain.clone();
        let closing_io = io.clone();
        let drain = async move {
            let settled = tokio::time::sleep(DRAIN_SETTLE);
            if tokio::time::timeout(DRAIN_ANSWERS, drain_state.answered())
                .await
                .is_err()
            {
                tracing::warn!("answers still owed after {DRAIN_ANSWERS:?}; closing anyway");
            }
            settled.await;
            tracing::info!("answers given; closing client transports");
            // Engine.IO close, not Socket.IO DISCONNECT: clients reconnect (to another node).
            closing_io.close().await;
        };
        let edge = net::serve::Edge {
            router,
            connections: app.connections.clone(),
            settings: net::serve::EdgeSettings::from_config(config),
            tls,
            metrics: app.metrics.clone(),
        };
        let served = net::serve::run(listener, edge, stop, drain);
        tokio::select! {
            () = served => {}
            () = async { let _ = stopped.wait_for(|s| *s).await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
                tracing::warn!("clients did not close within {SHUTDOWN_GRACE:?}; exiting anyway");
            }
        }
        // Before closing the store: a round in progress holds a connection the close waits for.
        purge.abort();
        let _ = purge.await;
        bans.abort();
        let _ = bans.await;
        if let Some(cluster) = &app.cluster {
            cluster.leave(Duration::from_secs(1)).await;
        }
        app.store.close().await;
        for task in deliver {
            task.abort();
        }
        crowd.abort();
        tracing::info!("stopped");
        Ok(())
    }
}
