//! Socket.IO glue: the handshake, one ordered job queue per connection ([`inbox`]) and one file
//! per wire event (named after the event). Handlers decode, apply `chatroom-core` rules, call
//! the store and answer through [`reply::Reply`]; only [`deliver`] emits stored messages.

pub mod announce;
pub mod auth;
pub mod ban;
pub mod chat_message;
pub mod conversations;
pub mod crowd;
pub mod delete;
pub mod deliver;
pub mod dm;
pub mod edit;
pub mod history;
pub mod inbox;
pub mod join;
pub mod kick;
pub mod leave;
pub mod members;
pub mod mute;
pub mod react;
pub mod read;
pub mod rename;
pub mod reply;
pub mod rooms;
pub mod search;
pub mod send;
pub mod session;
pub mod typing;

use crate::cluster::wire::Change;
use crate::protocol::{CHAT_MESSAGE, Welcome, inbound, out};
use chatroom_core::{ChatError, LOBBY, RoomName};
use chatroom_store::StoreError;
use inbox::{Connection, Outbox};
use reply::Reply;
use session::SessionRef;
use socketioxide::SocketIo;
use socketioxide::extract::{Extension, SocketRef, State};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::DisconnectReason;
use std::sync::Mutex;

/// Registers the default namespace: the handshake middleware, then the connection's task.
pub fn register(io: &SocketIo) {
    io.ns("/", on_connect.with(auth::authenticate));
}

/// The receiving end of a connection's queue, left in the socket's extensions by the
/// handshake for the connect handler to take.
pub struct PendingOutbox(pub Mutex<Option<Outbox>>);

/// Runs after the client was told it is connected: becomes the connection's task.
async fn on_connect(
    socket: SocketRef,
    State(app): State<crate::app::App>,
    Extension(session): Extension<SessionRef>,
    Extension(inbox): Extension<inbox::Inbox>,
    Extension(pending): Extension<std::sync::Arc<PendingOutbox>>,
) {
    let outbox = pending.0.lock().unwrap_or_else(|p| p.into_inner()).take();
    let Some(outbox) = outbox else {
        return;
    };
    let connection = Connection {
        socket,
        app,
        session,
        inbox,
    };
    connection.run(outbox).await;
}

/// Every wire event and its handler; anything else is refused as `bad_request`.
pub async fn dispatch(cx: &Connection, event: &str, data: Option<serde_json::Value>, reply: Reply) {
    match event {
        CHAT_MESSAGE => chat_message::on_chat_message(cx, data, reply).await,
        inbound::JOIN => join::on_join(cx, data, reply).await,
        inbound::LEAVE => leave::on_leave(cx, data, reply).await,
        inbound::SEND => send::on_send(cx, data, reply).await,
        inbound::HISTORY => history::on_history(cx, data, reply).await,
        inbound::TYPING => typing::on_typing(cx, data, reply).await,
        inbound::ROOMS => rooms::on_rooms(cx, data, reply).await,
        inbound::RENAME => rename::on_rename(cx, data, reply).await,
        inbound::DELETE => delete::on_delete(cx, data, reply).await,
        inbound::EDIT => edit::on_edit(cx, data, reply).await,
        inbound::REACT => react::on_react(cx, data, reply).await,
        inbound::UNREACT => react::on_unreact(cx, data, reply).await,
        inbound::KICK => kick::on_kick(cx, data, reply).await,
        inbound::BAN => ban::on_ban(cx, data, reply).await,
        inbound::MUTE => mute::on_mute(cx, data, reply).await,
        inbound::DM => dm::on_dm(cx, data, reply).await,
        inbound::CONVERSATIONS => conversations::on_conversations(cx, data, reply).await,
        inbound::READ => read::on_read(cx, data, reply).await,
        inbound::SEARCH => search::on_search(cx, data, reply).await,
        _ => reply.send::<crate::protocol::Done>(Err(ChatError::BadRequest(format!(
            "unknown event {:?}",
            event.chars().take(64).collect::<String>()
        )))),
    }
}

/// The connection's first job: the lobby, the welcome, the announcement.
pub async fn connect(cx: &Connection) {
    let Connection {
        socket,
        app,
        session,
        ..
    } = cx;
    let lobby = RoomName::lobby();
    let name = session.name();
    if let Some(cluster) = &app.cluster
        && let Err(error) = cluster.watch(&lobby).await
    {
        tracing::warn!(%error, "cluster: lobby not delivered here yet");
    }
    {
        let mut presence = app.presence();
        if presence.join(&lobby, socket.id, name.clone()) {
            app.note(|| Change::Join {
                sid: socket.id,
                room: LOBBY.to_owned(),
                name: name.as_str().to_owned(),
                seed: session.seed,
            });
        }
    }
    app.members().join(socket, session, LOBBY);
    if session.seed {
        app.members().join(socket, session, announce::SEED_ROOM);
    }
    let welcome = Welcome {
        name: name.as_str(),
        user_id: session.user_id.as_str(),
        // A JWT's `sub` already is a stable identity; the token itself proves it next time.
        identity: (!session.seed && !app.config.auth.names_from_token())
            .then(|| app.identity.issue(&session.user_id)),
        rooms: vec![LOBBY],
        role: session.role.as_str(),
        expires_at: session.expires_at_ms,
    };
    if let Err(error) = socket.emit(out::WELCOME, &welcome) {
        tracing::debug!(sid = %socket.id, %error, "welcome not sent");
    }
    if let Some(expires_at_ms) = session.expires_at_ms {
        session.set_expiry(expire_at(socket.clone(), expires_at_ms));
    }
    if !session.seed {
        announce::presence(cx, &lobby, &name, "join").await;
    }
    tracing::debug!(sid = %socket.id, name = %name, seed = session.seed, "connected");
}

/// Ends the session at `expires_at_ms` (its JWT's `exp`): `session_expired`, then the
/// disconnect. A timer of its own, not a queued job, so a flooded queue cannot delay it.
fn expire_at(
    socket: socketioxide::extract::SocketRef,
    expires_at_ms: i64,
) -> tokio::task::JoinHandle<()> {
    let wait = u64::try_from(expires_at_ms.saturating_sub(crate::clock::now_ms())).unwrap_or(0);
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        if !socket.connected() {
            return;
        }
        tracing::info!(sid = %socket.id, "sign-in expired; disconnecting");
        let _ = socket.emit(
            crate::moderation::events::SESSION_EXPIRED,
            &serde_json::json!({}),
        );
        if let Err(error) = socket.disconnect() {
            tracing::debug!(%error, "expired client not disconnected");
        }
    })
}

/// The connection's last job: out of every room, with the others told.
pub async fn disconnect(cx: &Connection, reason: Option<DisconnectReason>) {
    cx.session.stop_expiry();
    cx.session.release_name();
    let rooms = {
        let mut presence = cx.app.presence();
        let rooms = presence.leave_all(&cx.socket.id);
        if !rooms.is_empty() {
            cx.app.note(|| Change::Gone { sid: cx.socket.id });
        }
        rooms
    };
    for room in &rooms {
        leave::left(cx, room).await;
    }
    // Rooms outside presence (the seed room), and any a late `join` job added meanwhile.
    cx.app.members().leave_all(&cx.socket);
    if let Some((code, why)) = reason.and_then(refused_by_transport) {
        cx.app.metrics.refused(code, "transport");
        crate::refusal::refused(
            cx.session.client,
            code,
            format_args!("sid {} disconnected: {why}", cx.socket.id),
        );
    }
    tracing::debug!(sid = %cx.socket.id, ?reason, "disconnected");
}

/// Disconnects that mean the transport refused the client's input, with a reason code. A
/// WebSocket message over `--max-message-bytes` reaches us as a transport error, the same as a
/// connection reset (a phone losing its network), so it is not logged as a refusal (see
/// docs/SECURITY.md, known gaps); polling payloads over the limit are (`net::guard`).
fn refused_by_transport(reason: DisconnectReason) -> Option<(&'static str, &'static str)> {
    match reason {
        DisconnectReason::PacketParsingError => Some(("bad_packet", "malformed packet")),
        DisconnectReason::MultipleHttpPollingError => {
            Some(("bad_packet", "overlapping polling requests"))
        }
        _ => None,
    }
}

/// A store failure as the client sees it: `.map_err(store_failed(&app))`. The cause is logged
/// and counted here, once.
pub fn store_failed(app: &crate::app::App) -> impl Fn(StoreError) -> ChatError + '_ {
    move |error| {
        app.metrics.store_errors.inc();
        tracing::warn!(%error, "message store failed");
        ChatError::Unavailable
    }
}
