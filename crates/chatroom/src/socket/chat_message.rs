//! Seed protocol `chat message` (a string): stored as a lobby message under the client's name,
//! then delivered by `deliver` like any other message. Refusals go back as an `error` event,
//! since seed clients send no ack callback.

use crate::app::App;
use crate::socket::turn::{Turn, TurnGuard};
use crate::socket::{reply, session::SessionRef, store_failed};
use chatroom_core::{ChatError, NewMessage};
use socketioxide::extract::{Extension, SocketRef, State, TryData};

/// Handles one `chat message`.
pub async fn on_chat_message(
    socket: SocketRef,
    TryData(data): TryData<serde_json::Value>,
    State(app): State<App>,
    Extension(session): Extension<SessionRef>,
    turn: Turn,
) {
    let turn = turn.wait().await;
    if let Err(error) = store_seed_message(data.ok(), &app, &session, turn).await {
        reply::send_error(&socket, &error);
    }
}

async fn store_seed_message(
    data: Option<serde_json::Value>,
    app: &App,
    session: &SessionRef,
    turn: TurnGuard,
) -> Result<(), ChatError> {
    let Some(serde_json::Value::String(text)) = data else {
        return Err(ChatError::BadRequest(
            "chat message must be a string".into(),
        ));
    };
    let message = NewMessage::seed(session.name(), text, crate::clock::now_ms())?;
    session.check_rate()?;
    let committed = app.store.submit(message).await.map_err(store_failed)?;
    drop(turn);
    committed.await.map_err(store_failed)?;
    Ok(())
}
