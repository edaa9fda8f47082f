//! The handshake: `auth.name` decides who a client is. A valid name makes a v1 client, no name a
//! seed client with a guest name, anything else refuses the connection with `invalid_name`.

use crate::app::App;
use crate::socket::session::Session;
use chatroom_core::{ChatError, UserName};
use socketioxide::extract::{SocketRef, State, TryData};

/// Why a connection was refused; its Display is the `connect_error` message clients see.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HandshakeRefused(&'static str);

/// Connect middleware: builds the [`Session`] or refuses.
pub async fn authenticate(
    socket: SocketRef,
    TryData(auth): TryData<serde_json::Value>,
    State(app): State<App>,
) -> Result<(), HandshakeRefused> {
    let name = match auth.ok().as_ref().and_then(|a| a.get("name")) {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(raw)) => Some(UserName::new(raw)),
        Some(_) => Some(Err(ChatError::InvalidName)),
    };
    let session = match name {
        None => Session::new(
            UserName::guest(fastrand::u16(..)),
            true,
            app.config.rate_limit,
        ),
        Some(Ok(name)) => Session::new(name, false, app.config.rate_limit),
        Some(Err(e)) => {
            tracing::debug!(sid = %socket.id, "handshake refused: invalid name");
            return Err(HandshakeRefused(e.code()));
        }
    };
    session.reserve_connect_turn();
    socket.extensions.insert(session);
    crate::socket::register_events(&socket);
    Ok(())
}
