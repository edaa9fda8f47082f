//! Socket.IO glue: the handshake, then one handler per wire event, one file each (named after
//! the event). Handlers decode, apply `chatroom-core` rules, call the store and answer through
//! [`reply::Reply`]; only [`deliver`] emits stored messages.

pub mod announce;
pub mod auth;
pub mod chat_message;
pub mod deliver;
pub mod history;
pub mod join;
pub mod leave;
pub mod rename;
pub mod reply;
pub mod rooms;
pub mod send;
pub mod session;
pub mod turn;
pub mod typing;

use crate::app::App;
use crate::protocol::{CHAT_MESSAGE, Welcome, inbound, out};
use chatroom_core::{ChatError, LOBBY, RoomName};
use chatroom_store::StoreError;
use session::SessionRef;
use socketioxide::SocketIo;
use socketioxide::extract::{Extension, SocketRef, State};
use socketioxide::handler::ConnectHandler;

/// Registers the default namespace: handshake middleware, then every event.
pub fn register(io: &SocketIo) {
    io.ns("/", on_connect.with(auth::authenticate));
}

/// Every wire event and its handler. Called by the handshake middleware, before the client is
/// told it is connected: socketioxide spawns `on_connect` as a task, and an event that arrived
/// before it had registered the handlers was silently dropped (about 1 `join` in 300 under a
/// connection storm). Events wait for `on_connect` through the connection's first turn.
pub fn register_events(socket: &SocketRef) {
    socket.on(CHAT_MESSAGE, chat_message::on_chat_message);
    socket.on(inbound::JOIN, join::on_join);
    socket.on(inbound::LEAVE, leave::on_leave);
    socket.on(inbound::SEND, send::on_send);
    socket.on(inbound::HISTORY, history::on_history);
    socket.on(inbound::TYPING, typing::on_typing);
    socket.on(inbound::ROOMS, rooms::on_rooms);
    socket.on(inbound::RENAME, rename::on_rename);
    socket.on_disconnect(on_disconnect);
}

async fn on_connect(
    socket: SocketRef,
    State(app): State<App>,
    Extension(session): Extension<SessionRef>,
) {
    // Holds the connection's first turn (taken by the handshake) until the lobby is joined,
    // so early events see the client in the lobby.
    let _connected = turn::TurnGuard::connect(&session);
    let lobby = RoomName::lobby();
    let name = session.name();
    app.presence().join(&lobby, socket.id, name.clone());
    socket.join(LOBBY);
    if session.seed {
        socket.join(announce::SEED_ROOM);
    }
    let welcome = Welcome {
        name: name.as_str(),
        rooms: vec![LOBBY],
    };
    if let Err(error) = socket.emit(out::WELCOME, &welcome) {
        tracing::debug!(sid = %socket.id, %error, "welcome not sent");
    }
    if !session.seed {
        announce::presence(&socket, &lobby, &name, "join").await;
    }
    tracing::debug!(sid = %socket.id, name = %name, seed = session.seed, "connected");
}

async fn on_disconnect(
    socket: SocketRef,
    State(app): State<App>,
    Extension(session): Extension<SessionRef>,
) {
    let rooms = app.presence().leave_all(&socket.id);
    for room in &rooms {
        leave::left(&socket, room, &session).await;
    }
    tracing::debug!(sid = %socket.id, "disconnected");
}

/// A store failure as the client sees it; the cause is logged here, once.
pub fn store_failed(error: StoreError) -> ChatError {
    tracing::warn!(%error, "message store failed");
    ChatError::Unavailable
}
