//! The wire: event names and payload shapes, mirroring docs/PROTOCOL.md. Wire strings appear
//! here and in `ChatError::code()` only. Requests are decoded from a raw JSON value so a shape
//! error becomes a `bad_request` answer instead of a silently skipped handler.

use chatroom_core::{ChatError, Message, MessageId, UserName};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Seed protocol: the only event of the Node original, both directions.
pub const CHAT_MESSAGE: &str = "chat message";
/// Server → client events.
pub mod out {
    /// Sent once to each client on connect.
    pub const WELCOME: &str = "welcome";
    /// A stored message, to v1 clients in its room.
    pub const MESSAGE: &str = "message";
    /// Someone joined, left or was renamed.
    pub const PRESENCE: &str = "presence";
    /// Someone started or stopped typing.
    pub const TYPING: &str = "typing";
    /// A failure of an event sent without an ack callback.
    pub const ERROR: &str = "error";
    /// Someone opened a direct conversation with you: `{room, with: {name, uid}}`.
    pub const DM: &str = "dm";
    /// You (on another connection) read up to a message: `{room, id}`.
    pub const READ: &str = "read";
}
/// Client → server events of protocol v1.
pub mod inbound {
    /// Join a room.
    pub const JOIN: &str = "join";
    /// Leave a room.
    pub const LEAVE: &str = "leave";
    /// Send a message.
    pub const SEND: &str = "send";
    /// Page back through a room's history.
    pub const HISTORY: &str = "history";
    /// Typing indicator.
    pub const TYPING: &str = "typing";
    /// List rooms.
    pub const ROOMS: &str = "rooms";
    /// Change one's name.
    pub const RENAME: &str = "rename";
    /// The author (or a moderator): turn a message into a tombstone.
    pub const DELETE: &str = "delete";
    /// The author: change a message's text.
    pub const EDIT: &str = "edit";
    /// Add an emoji reaction to a message.
    pub const REACT: &str = "react";
    /// Take one's emoji reaction back.
    pub const UNREACT: &str = "unreact";
    /// Moderators: disconnect a user.
    pub const KICK: &str = "kick";
    /// Moderators: ban a name or an address.
    pub const BAN: &str = "ban";
    /// Moderators: stop a user writing for a while.
    pub const MUTE: &str = "mute";
    /// Open (or find) the direct conversation with a user.
    pub const DM: &str = "dm";
    /// List one's direct conversations.
    pub const CONVERSATIONS: &str = "conversations";
    /// Store one's read position in a room.
    pub const READ: &str = "read";
    /// Search the messages the user may read.
    pub const SEARCH: &str = "search";
}

/// Decodes a request payload, mapping any shape error to `bad_request`.
pub fn decode<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ChatError> {
    if !value.is_object() {
        return Err(ChatError::BadRequest("payload must be an object".into()));
    }
    serde_json::from_value(value).map_err(|e| ChatError::BadRequest(e.to_string()))
}

/// `join` `{room, since?}`.
#[derive(Debug, Deserialize)]
pub struct JoinReq {
    /// Room name (validated by the handler).
    pub room: String,
    /// Last message id the client has.
    pub since: Option<MessageId>,
}

/// `leave` `{room}` and other room-only requests.
#[derive(Debug, Deserialize)]
pub struct RoomReq {
    /// Room name.
    pub room: String,
}

/// `send` `{room, text, cid?}`.
#[derive(Debug, Deserialize)]
pub struct SendReq {
    /// Room name.
    pub room: String,
    /// Message text.
    pub text: String,
    /// Client id for idempotent retries.
    pub cid: Option<String>,
}

/// `history` `{room, before?, limit?}`.
#[derive(Debug, Deserialize)]
pub struct HistoryReq {
    /// Room name.
    pub room: String,
    /// Only messages with a smaller id.
    pub before: Option<MessageId>,
    /// 1–100, default 50.
    pub limit: Option<i64>,
}

/// `search` `{query, room?, before?, limit?}`.
#[derive(Debug, Deserialize)]
pub struct SearchReq {
    /// What to look for (checked by `chatroom_core::SearchQuery`).
    pub query: String,
    /// Only this room.
    pub room: Option<String>,
    /// Only messages with a smaller id (the previous page's last result).
    pub before: Option<MessageId>,
    /// 1–50, default 20.
    pub limit: Option<i64>,
}

/// `search` answer.
#[derive(Debug, Serialize)]
pub struct SearchResults {
    /// Matching messages, newest first.
    pub results: Vec<Message>,
    /// More matches are older than the last one: ask again with `before` = its id.
    pub more: bool,
}

/// `typing` `{room, typing}`.
#[derive(Debug, Deserialize)]
pub struct TypingReq {
    /// Room name.
    pub room: String,
    /// Started (true) or stopped (false).
    pub typing: bool,
}

/// `rename` `{name}`.
#[derive(Debug, Deserialize)]
pub struct RenameReq {
    /// New name, validated by the handler.
    pub name: serde_json::Value,
}

/// `delete` `{id}`.
#[derive(Debug, Deserialize)]
pub struct DeleteReq {
    /// The message's id.
    pub id: MessageId,
}

/// `edit` `{id, text}`.
#[derive(Debug, Deserialize)]
pub struct EditReq {
    /// The message's id.
    pub id: MessageId,
    /// Its new text (the `send` rules apply).
    pub text: String,
}

/// `react` and `unreact` `{id, emoji}`.
#[derive(Debug, Deserialize)]
pub struct ReactReq {
    /// The message's id.
    pub id: MessageId,
    /// One emoji.
    pub emoji: String,
}

/// `kick` `{name, reason?}`.
#[derive(Debug, Deserialize)]
pub struct KickReq {
    /// Who (a connected user's name).
    pub name: String,
    /// Why, shown to the user.
    pub reason: Option<String>,
}

/// `ban` `{name | ip, minutes?, reason?}`.
#[derive(Debug, Deserialize)]
pub struct BanReq {
    /// A name (connected or not).
    pub name: Option<String>,
    /// Or a client address.
    pub ip: Option<String>,
    /// Length; absent: permanent.
    pub minutes: Option<u64>,
    /// Why.
    pub reason: Option<String>,
}

/// `mute` `{name, room?, minutes}`.
#[derive(Debug, Deserialize)]
pub struct MuteReq {
    /// Who (a connected user's name).
    pub name: String,
    /// Only in this room; absent: everywhere.
    pub room: Option<String>,
    /// Length.
    pub minutes: u64,
}

/// `dm` `{to}`.
#[derive(Debug, Deserialize)]
pub struct DmReq {
    /// A user id, or the name a connected user holds.
    pub to: String,
}

/// `read` `{room, id}`.
#[derive(Debug, Deserialize)]
pub struct ReadReq {
    /// Room name.
    pub room: String,
    /// The last message id read.
    pub id: MessageId,
}

/// The other side of a direct conversation.
#[derive(Debug, Clone, Serialize)]
pub struct Peer {
    /// Their name (now, or when last seen).
    pub name: String,
    /// Their user id.
    pub uid: String,
}

/// `dm` answer, and the `dm` event to the recipient.
#[derive(Debug, Serialize)]
pub struct DmOpened {
    /// The conversation's room (`dm:` + 32 hex digits); join it to talk.
    pub room: String,
    /// Who it is with.
    pub with: Peer,
}

/// One entry of the `conversations` answer.
#[derive(Debug, Serialize)]
pub struct ConversationInfo {
    /// The DM room.
    pub room: String,
    /// The other participant.
    pub with: Peer,
    /// The newest message, or `null`.
    pub last: Option<Message>,
    /// The stored read position, or `null`.
    pub read: Option<MessageId>,
    /// Messages after it from the other side (not deleted), at most 1000.
    pub unread: u32,
    /// How many of those mention the user.
    pub mentions: u32,
}

/// `conversations` answer.
#[derive(Debug, Serialize)]
pub struct ConversationList {
    /// Newest activity first.
    pub conversations: Vec<ConversationInfo>,
}

/// `read` answer and event.
#[derive(Debug, Serialize)]
pub struct ReadAt {
    /// Room.
    pub room: String,
    /// The stored read position (never lower than before); `null` if the room has no
    /// messages and nothing was stored.
    pub id: Option<MessageId>,
}

/// `welcome` payload.
#[derive(Debug, Serialize)]
pub struct Welcome<'a> {
    /// The client's name (generated for seed clients).
    pub name: &'a str,
    /// The client's stable user id (the same after a reconnect with `identity`).
    pub user_id: &'a str,
    /// Token to send back as `auth.identity` on reconnect to stay the same user (v1 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Rooms it is in.
    pub rooms: Vec<&'a str>,
    /// `user`, `moderator` or `admin` (from a JWT sign-in; `user` otherwise).
    pub role: &'a str,
    /// When the sign-in ends (a JWT's `exp`), ms since the Unix epoch; absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// `presence` payload.
#[derive(Debug, Serialize)]
pub struct Presence<'a> {
    /// Room concerned.
    pub room: &'a str,
    /// Who (new name on rename); absent on `count`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    /// `join`, `leave`, `rename`, or `count` (a crowded room's size instead of each join/leave).
    pub action: &'static str,
    /// Previous name, on rename.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<&'a str>,
    /// Connections in the room, on `count`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
}

/// `typing` payload (server → client).
#[derive(Debug, Serialize)]
pub struct Typing<'a> {
    /// Room concerned.
    pub room: &'a str,
    /// Who.
    pub name: &'a str,
    /// Typing now or not.
    pub typing: bool,
}

/// `join` answer.
#[derive(Debug, Serialize)]
pub struct Joined {
    /// Room joined.
    pub room: String,
    /// Distinct member names (in a crowded room only the first `--presence-crowd`).
    pub members: Vec<String>,
    /// Connections in the room, the joiner included.
    pub count: usize,
    /// History or missed messages, oldest first.
    pub messages: Vec<Message>,
    /// Whether more exist (older without `since`, newer with it).
    pub more: bool,
    /// Retention removed messages this answer would otherwise hold: with `since`, some after
    /// it are gone; without, these are the oldest kept and older ones existed.
    pub truncated: bool,
    /// With `since` only: the changes (edits, deletes, reactions) after it, ascending, each
    /// `{event, ...the live event's payload}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Vec<serde_json::Value>>,
    /// The highest id (message or change) this answer covers: continue or reconnect with
    /// `since = through`. Without `since`: the newest message's id (`null` in an empty room).
    pub through: Option<MessageId>,
    /// The joiner's stored read position in the room, or `null`.
    pub read: Option<MessageId>,
    /// Messages after it not written by the joiner and not deleted (at most 1000).
    pub unread: u32,
    /// How many of those mention the joiner's current name.
    pub mentions: u32,
}

/// `send` answer.
#[derive(Debug, Serialize)]
pub struct Sent {
    /// The stored message (the original one for a repeated `cid`).
    pub message: Message,
}

/// `history` answer.
#[derive(Debug, Serialize)]
pub struct HistoryPage {
    /// Messages, oldest first.
    pub messages: Vec<Message>,
    /// Whether older ones exist.
    pub more: bool,
    /// This page ends at the oldest kept message and older ones were removed by retention
    /// (always with `more: false`).
    pub truncated: bool,
}

/// `rooms` answer entry.
#[derive(Debug, Serialize)]
pub struct RoomInfo {
    /// Room name.
    pub name: String,
    /// Connections in it now.
    pub members: usize,
}

/// `rooms` answer.
#[derive(Debug, Serialize)]
pub struct RoomList {
    /// Non-empty rooms, by name, one page.
    pub rooms: Vec<RoomInfo>,
    /// More rooms follow: ask again with `after` = the last name.
    pub more: bool,
}

/// `rooms` `{after?}`.
#[derive(Debug, Default, Deserialize)]
pub struct RoomsReq {
    /// Only rooms named after this one (the previous page's last name).
    pub after: Option<String>,
}

/// `rename` answer.
#[derive(Debug, Serialize)]
pub struct Renamed {
    /// The new (trimmed) name.
    pub name: String,
}

/// An answer with nothing but `ok`.
#[derive(Debug, Serialize)]
pub struct Done {}

/// The `error` object of a failed answer or `error` event.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// Stable code, see `ChatError::code`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// When to retry, for `rate_limited`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_ms: Option<u64>,
}

impl From<&ChatError> for ErrorBody {
    fn from(e: &ChatError) -> Self {
        Self {
            code: e.code(),
            message: e.to_string(),
            retry_ms: e.retry_ms(),
        }
    }
}

/// `{ok: true, ...body}` or `{ok: false, error}`: every v1 answer has this shape.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Ack<T> {
    /// Success; `body`'s fields sit beside `ok`.
    Ok {
        /// Always true.
        ok: bool,
        /// The answer.
        #[serde(flatten)]
        body: T,
    },
    /// Failure.
    Err {
        /// Always false.
        ok: bool,
        /// What went wrong.
        error: ErrorBody,
    },
}

impl<T> From<Result<T, ChatError>> for Ack<T> {
    fn from(result: Result<T, ChatError>) -> Self {
        match result {
            Ok(body) => Ack::Ok { ok: true, body },
            Err(e) => Ack::Err {
                ok: false,
                error: ErrorBody::from(&e),
            },
        }
    }
}

/// Who the client says it is.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// Seed protocol: no name given.
    Seed,
    /// Protocol v1 under this name, with the identity token it was given before, if any.
    Named(UserName, Option<String>),
}

/// The handshake's `auth.token` (the sign-in of `--auth token|jwt`): `Ok(None)` if absent,
/// `Unauthorized` if it is there but not a string.
pub fn auth_token(
    auth: &Option<Result<serde_json::Value, String>>,
) -> Result<Option<&str>, ChatError> {
    let Some(Ok(serde_json::Value::Object(fields))) = auth else {
        return Ok(None);
    };
    match fields.get("token") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(token)) => Ok(Some(token)),
        Some(_) => Err(ChatError::Unauthorized),
    }
}

/// Reads the handshake's `auth`: `None` if the client sent none, else the decoded JSON or the
/// parser's complaint. Pure, so the rules are unit-tested and fuzzed without a socket.
pub fn parse_auth(auth: Option<Result<serde_json::Value, String>>) -> Result<Claim, ChatError> {
    let auth = match auth {
        None => return Ok(Claim::Seed),
        Some(Err(e)) => return Err(ChatError::BadRequest(format!("auth is not JSON: {e}"))),
        Some(Ok(auth)) => auth,
    };
    let fields = match &auth {
        serde_json::Value::Null => return Ok(Claim::Seed),
        serde_json::Value::Object(fields) => fields,
        _ => return Err(ChatError::BadRequest("auth must be an object".into())),
    };
    let identity = match fields.get("identity") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(token)) => Some(token.clone()),
        Some(_) => return Err(ChatError::BadRequest("identity must be a string".into())),
    };
    match fields.get("name") {
        None | Some(serde_json::Value::Null) => Ok(Claim::Seed),
        Some(serde_json::Value::String(raw)) => {
            UserName::new(raw).map(|name| Claim::Named(name, identity))
        }
        Some(_) => Err(ChatError::InvalidName),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ack_shapes() {
        let ok: Ack<Renamed> = Ok(Renamed { name: "a".into() }).into();
        assert_eq!(
            serde_json::to_value(ok).unwrap(),
            json!({"ok": true, "name": "a"})
        );
        let err: Ack<Done> = Err(ChatError::RateLimited { retry_ms: 9 }).into();
        assert_eq!(
            serde_json::to_value(err).unwrap(),
            json!({"ok": false, "error": {"code": "rate_limited", "message": "too many messages; retry in 9 ms", "retry_ms": 9}})
        );
    }

    #[test]
    fn decode_rejects_non_objects_and_wrong_types() {
        assert_eq!(
            decode::<RoomReq>(json!("x")).unwrap_err().code(),
            "bad_request"
        );
        assert_eq!(
            decode::<RoomReq>(json!({"room": 1})).unwrap_err().code(),
            "bad_request"
        );
        assert_eq!(
            decode::<TypingReq>(json!({"room": "a", "typing": "yes"}))
                .unwrap_err()
                .code(),
            "bad_request"
        );
        assert_eq!(decode::<RoomReq>(json!({"room": "a"})).unwrap().room, "a");
    }

    #[test]
    fn auth_rules() {
        assert_eq!(parse_auth(None), Ok(Claim::Seed));
        assert_eq!(parse_auth(Some(Ok(json!(null)))), Ok(Claim::Seed));
        assert_eq!(parse_auth(Some(Ok(json!({})))), Ok(Claim::Seed));
        assert_eq!(parse_auth(Some(Ok(json!({"name": null})))), Ok(Claim::Seed));
        assert!(matches!(
            parse_auth(Some(Ok(json!({"name": "ann"})))),
            Ok(Claim::Named(n, None)) if n.as_str() == "ann"
        ));
        assert_eq!(
            parse_auth(Some(Ok(json!({"name": 5})))),
            Err(ChatError::InvalidName)
        );
        assert!(matches!(
            parse_auth(Some(Ok(json!({"name": "ann", "identity": "v1.x.y"})))),
            Ok(Claim::Named(_, Some(t))) if t == "v1.x.y"
        ));
        assert!(matches!(
            parse_auth(Some(Ok(json!({"name": "ann", "identity": 7})))),
            Err(ChatError::BadRequest(_))
        ));
        for bad in [json!("ann"), json!([1]), json!(3), json!(true)] {
            assert!(matches!(
                parse_auth(Some(Ok(bad))),
                Err(ChatError::BadRequest(_))
            ));
        }
        assert!(matches!(
            parse_auth(Some(Err("eof".into()))),
            Err(ChatError::BadRequest(_))
        ));
    }

    #[test]
    fn auth_token_rules() {
        assert_eq!(auth_token(&None), Ok(None));
        assert_eq!(auth_token(&Some(Ok(json!({"name": "a"})))), Ok(None));
        assert_eq!(auth_token(&Some(Ok(json!({"token": null})))), Ok(None));
        assert_eq!(auth_token(&Some(Ok(json!({"token": "t"})))), Ok(Some("t")));
        assert_eq!(
            auth_token(&Some(Ok(json!({"token": 5})))),
            Err(ChatError::Unauthorized)
        );
        assert_eq!(auth_token(&Some(Ok(json!("x")))), Ok(None));
    }
}
