//! The handshake: the `auth` object decides who a client is. First the sign-in `--auth`
//! demands (`crate::auth`: `auth.token`, refused with `unauthorized` or `token_expired`); with
//! a JWT, the token names the user and the rest of `auth` is ignored. Then bans
//! (`crate::moderation`: `banned`, or `banned until <time>`). Otherwise: no auth, or no `name` in it, makes
//! a seed client with a guest name; a valid `name` makes a v1 client. `identity`, the token a
//! previous `welcome` handed out, keeps the client the same user (same user id, its name back
//! at once even while its old connection is still timing out). Anything else is refused
//! with a `connect_error` whose message is the code: `bad_request` (auth that is not a JSON
//! object — malformed, nested past the parser's depth limit, or another type), `invalid_name`,
//! `invalid_identity` (a token this server did not sign), `name_taken` (another user holds
//! the name), `too_many_connections` (the client's address is at `--max-connections-per-ip`).
//! Every refusal is logged. On success the connection's [`Session`] and its ordered job queue
//! ([`crate::socket::inbox`]) are put in place before the client can send anything.

use crate::app::App;
use crate::auth::SignedIn;
use crate::moderation::check_ban;
use crate::net::ClientAddr;
use crate::protocol::{Claim, auth_token, parse_auth};
use crate::socket::PendingOutbox;
use crate::socket::inbox;
use crate::socket::session::{AddressSlot, Identity, Session};
use chatroom_core::{ChatError, Role, UserId, UserName};
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::{SocketRef, State, TryData};
use socketioxide::handler::{FromConnectParts, Value};
use socketioxide::socket::Socket;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

/// Why a connection was refused; its Display is the `connect_error` message clients see: the
/// error code, and for a ban with an end, `banned until <RFC 3339 time>`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HandshakeRefused(String);

impl From<&ChatError> for HandshakeRefused {
    fn from(error: &ChatError) -> Self {
        match error {
            ChatError::Banned {
                until_ms: Some(until),
            } => Self(format!(
                "{} until {}",
                error.code(),
                crate::moderation::rfc3339(*until)
            )),
            _ => Self(error.code().to_owned()),
        }
    }
}

/// The handshake's `auth`, as sent: absent, or decoded JSON (or why it could not be).
pub struct RawAuth(Option<Result<serde_json::Value, String>>);

impl FromConnectParts<LocalAdapter> for RawAuth {
    type Error = Infallible;
    fn from_connect_parts(s: &Arc<Socket>, auth: &Option<Value>) -> Result<Self, Infallible> {
        if auth.is_none() {
            return Ok(Self(None));
        }
        let TryData(decoded) = TryData::<serde_json::Value>::from_connect_parts(s, auth)?;
        Ok(Self(Some(decoded.map_err(|e| e.to_string()))))
    }
}

/// Guest names tried before a seed client is refused (65,536 exist; a crowd this size is
/// stopped by the per-address limit long before).
const GUEST_TRIES: usize = 32;

/// A fresh random user id.
fn new_user_id() -> Result<UserId, ChatError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|error| {
        tracing::error!(%error, "no randomness for a user id");
        ChatError::Unavailable
    })?;
    Ok(UserId::random(bytes))
}

/// Establishes who the client is (refusing banned users, names and addresses) and claims
/// its name.
fn identify(
    app: &App,
    socket: &SocketRef,
    claim: Claim,
    client: Option<ClientAddr>,
) -> Result<Identity, ChatError> {
    let sid = socket.id;
    match claim {
        Claim::Named(name, token) => {
            let user_id = match token {
                Some(token) => app
                    .identity
                    .verify(&token)
                    .map_err(|_| ChatError::InvalidIdentity)?,
                None => new_user_id()?,
            };
            check_ban(app, Some(&user_id), Some(&name), client)?;
            app.names().claim(&name, &user_id, sid)?;
            Ok(Identity {
                sid,
                user_id,
                name,
                seed: false,
                client,
                role: Role::User,
                expires_at_ms: None,
            })
        }
        Claim::Seed => {
            check_ban(app, None, None, client)?;
            let user_id = new_user_id()?;
            let mut names = app.names();
            for _ in 0..GUEST_TRIES {
                let name = UserName::guest(fastrand::u16(..));
                if names.claim(&name, &user_id, sid).is_ok() {
                    return Ok(Identity {
                        sid,
                        user_id,
                        name,
                        seed: true,
                        client,
                        role: Role::User,
                        expires_at_ms: None,
                    });
                }
            }
            Err(ChatError::NameTaken)
        }
    }
}

/// A client the JWT identified: its `sub`, name and role, its name claimed.
fn identify_signed_in(
    app: &App,
    socket: &SocketRef,
    user: SignedIn,
    client: Option<ClientAddr>,
) -> Result<Identity, ChatError> {
    check_ban(app, Some(&user.user_id), Some(&user.name), client)?;
    app.names().claim(&user.name, &user.user_id, socket.id)?;
    Ok(Identity {
        sid: socket.id,
        user_id: user.user_id,
        name: user.name,
        seed: false,
        client,
        role: user.role,
        expires_at_ms: Some(user.expires_at_ms),
    })
}

/// Connect middleware: builds the [`Session`] and its queue, or refuses.
pub async fn authenticate(
    socket: SocketRef,
    RawAuth(auth): RawAuth,
    State(app): State<App>,
) -> Result<(), HandshakeRefused> {
    let client = socket.req_parts().extensions.get::<ClientAddr>().copied();
    let refuse = |error: ChatError| {
        app.metrics.refused(error.code(), "connect");
        crate::refusal::refused(
            client,
            error.code(),
            format_args!("handshake refused: {error}"),
        );
        HandshakeRefused::from(&error)
    };
    let token = auth_token(&auth).map_err(refuse)?;
    let signed_in = app.config.auth.sign_in(token).map_err(|refused| {
        crate::refusal::refused(
            client,
            refused.error.code(),
            format_args!("handshake refused: {}", refused.why),
        );
        HandshakeRefused::from(&refused.error)
    })?;
    // With a JWT the token alone says who the client is; `name` and `identity` are ignored.
    let claim = match signed_in {
        Some(_) => None,
        None => Some(parse_auth(auth).map_err(refuse)?),
    };
    let slot = client
        .map(|client| AddressSlot::take(&app, client))
        .transpose()
        .map_err(refuse)?;
    let who = match (signed_in, claim) {
        (Some(user), _) => identify_signed_in(&app, &socket, user, client),
        (None, Some(claim)) => identify(&app, &socket, claim, client),
        (None, None) => Err(ChatError::Unauthorized),
    }
    .map_err(refuse)?;
    let session = Session::new(&app, who, slot);
    let (inbox, outbox) = inbox::channel(&app);
    socket.extensions.insert(session);
    socket.extensions.insert(inbox.clone());
    socket
        .extensions
        .insert(Arc::new(PendingOutbox(Mutex::new(Some(outbox)))));
    socket.on_fallback(inbox.clone());
    socket.on_disconnect(inbox);
    Ok(())
}
