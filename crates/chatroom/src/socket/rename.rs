//! `rename` `{name}`: a new display name, announced in every room the client is in
//! (`forbidden` under `--auth jwt`, where the token names the user).

use crate::cluster::wire::Change;
use crate::protocol::{self, RenameReq, Renamed};
use crate::socket::announce;
use crate::socket::inbox::Connection;
use crate::socket::reply::Reply;
use chatroom_core::{ChatError, UserName};

/// Handles `rename`.
pub async fn on_rename(cx: &Connection, data: Option<serde_json::Value>, reply: Reply) {
    reply.send(rename(cx, data).await);
}

async fn rename(cx: &Connection, data: Option<serde_json::Value>) -> Result<Renamed, ChatError> {
    // With JWT sign-in the name is the token's (`name` claim): it is not the client's to change.
    if cx.app.config.auth.names_from_token() {
        return Err(ChatError::Forbidden);
    }
    let req: RenameReq = protocol::decode(data.unwrap_or_default())?;
    let serde_json::Value::String(raw) = req.name else {
        return Err(ChatError::InvalidName);
    };
    let name = UserName::new(&raw)?;
    let old = cx.session.rename(name.clone())?;
    let rooms = {
        let mut presence = cx.app.presence();
        let rooms = presence.rename(&cx.socket.id, &name);
        cx.app.note(|| Change::Rename {
            sid: cx.socket.id,
            name: name.as_str().to_owned(),
        });
        rooms
    };
    for room in &rooms {
        announce::rename(cx, room, &name, &old).await;
    }
    Ok(Renamed {
        name: name.as_str().to_owned(),
    })
}
