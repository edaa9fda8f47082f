//! The chat domain, pure: what a valid name, room and message are, which errors a client can get,
//! and who is in which room. No tokio, axum, socketioxide or sqlx here, so every rule is tested
//! in milliseconds and the transport and storage crates share one definition of each.
//!
//! - [`name`]: [`UserName`], validated display names, and their comparison [`NameKey`].
//! - [`names`]: [`NameRegistry`], which user holds which name.
//! - [`user`]: [`UserId`], who a user is across renames and reconnects.
//! - [`room`]: [`RoomName`], validated room names.
//! - [`message`]: [`NewMessage`] (checked input), [`Message`] (stored), [`Cid`].
//! - [`change`]: [`Change`]s of stored messages (edit, delete, reactions), emoji rule.
//! - [`error`]: [`ChatError`] and its wire codes.
//! - [`presence`]: room membership bookkeeping.
//! - [`role`]: [`Role`], what a signed-in user may do besides chatting.
//! - [`dm`]: direct-message room names ([`dm_room`], the reserved `dm:` prefix).
//! - [`mention`]: when a message's text mentions a user.
//! - [`search`]: the search tokeniser and [`SearchQuery`].

pub mod change;
pub mod dm;
pub mod error;
pub mod mention;
pub mod message;
pub mod name;
pub mod names;
pub mod presence;
pub mod role;
pub mod room;
pub mod search;
pub mod user;

pub use change::{Change, ChangeKind, Reaction};
pub use dm::{dm_room, is_dm_room};
pub use error::ChatError;
pub use message::{Cid, Limits, Message, MessageId, NewMessage, RoomSeq};
pub use name::{NameKey, UserName};
pub use names::NameRegistry;
pub use presence::Presence;
pub use role::Role;
pub use room::RoomName;
pub use search::SearchQuery;
pub use user::UserId;

/// The room every client is in from the moment it connects.
pub const LOBBY: &str = "lobby";
