//! chatroom: the Node.js Express + Socket.IO chat room, in Rust — drop-in for its page and its
//! clients, grown into rooms, names, presence, typing and durable history.
//!
//! One message's path (`send`): `socket::send` decodes → `chatroom_core` rules →
//! `chatroom_store::Store::append` (group commit) → the store's committed feed →
//! `socket::deliver` emits to the room; the ack goes back after the commit.
//!
//! - [`config`]: CLI/env/file → validated [`config::Config`].
//! - [`app`]: shared state handed to every handler.
//! - [`http`]: page, assets, our browser client, `/healthz`.
//! - [`socket`]: the handshake and one file per wire event; [`socket::deliver`] emits messages.
//! - [`identity`]: signed identity tokens, so a user keeps its id across reconnects.
//! - [`auth`]: who may connect (`--auth open|token|jwt`); [`moderation`]: roles' powers.
//! - [`net`]: the network edge — accept, timeouts, connection limits, client address.
//! - [`logging`]: tracing setup (text without colours off a terminal, or JSON lines).
//! - [`refusal`]: rate-limited logging of every refused input.
//! - [`protocol`]: event names and payload shapes (docs/PROTOCOL.md).
//! - [`retention`]: the purge loop of `--retention-days` / `--retention-per-room`.
//! - [`shutdown`]: SIGINT/SIGTERM and the drain order.
//! - [`cluster`]: `--redis`: relay, room order and presence across nodes.

pub mod app;
pub mod auth;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod http;
pub mod identity;
pub mod logging;
pub mod moderation;
pub mod net;
pub mod protocol;
pub mod refusal;
pub mod retention;
pub mod shutdown;
pub mod socket;

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
}

impl Server {
    /// Opens the store (running migrations) and renders the page. Errors here are operator
    /// errors: the binary prints them as one line and exits non-zero.
    pub async fn build(config: Config) -> Result<Self, ServerError> {
        let page = Page::render(&config.title, config.views.as_deref())?;
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
        app.moderation.replace_bans(bans);
        Ok(Self {
            app,
            feed,
            cluster: tasks,
        })
    }

    /// Serves until `shutdown` resolves, then closes every client, flushes the store and
    /// returns (after at most [`SHUTDOWN_GRACE`] for clients to go).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let Server { app, feed, cluster } = self;
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
        let guard = net::guard::Guard::new(config);
        let router =
            http::with_safety_headers(http::router(app.clone()).fallback_service(sio).layer(
                axum::middleware::from_fn_with_state(guard, net::guard::guard),
            ));

        let (stopping, mut stopped) = tokio::sync::watch::channel(false);
        let stop = async move {
            shutdown.await;
            tracing::info!("shutting down: closing clients");
            let _ = stopping.send(true); // the grace timer below is listening
        };
        let served = net::serve::run(
            listener,
            router,
            app.connections.clone(),
            net::serve::EdgeSettings::from_config(config),
            stop,
            io.close(),
        );
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
