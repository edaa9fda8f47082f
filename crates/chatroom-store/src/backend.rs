//! The seam between the writer/readers and the storage engines: one trait, implemented by the
//! memory, SQLite and PostgreSQL backends, and the de-duplication [`Plan`] they all share.
//! Native `async fn`-style methods (no `dyn`): the writer task is generic over the backend, and
//! [`crate::Store`] dispatches through `AnyBackend` (beside `Store::open`, which picks it), so
//! the server sees one non-generic type.

use crate::retention::{PurgeReport, RetentionPolicy};
use crate::{NewAudit, Page, StoreError};
use chatroom_core::change::{MAX_REACTIONS, ReactionRow, fold_reactions};
use chatroom_core::{ChangeKind, ChatError, Message, MessageId, NewMessage, RoomSeq, UserId};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;

/// One stored request of a batch: the message now in the store (the original one for a
/// duplicate) and whether it was a duplicate.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub message: Arc<Message>,
    pub duplicate: bool,
    /// For a change: its target as it is after the change (or as it is, for a change that
    /// changed nothing).
    pub target: Option<Arc<Message>>,
}

/// One request's answer from a batch: stored, or refused for what the batch found (a change of
/// a message that does not exist, was deleted, has too many reactions). A refusal stores
/// nothing and does not fail its neighbours.
pub(crate) type Answer = Result<Stored, ChatError>;

/// A change's target as a batch sees it: the message in its current state and its reactions.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub message: Message,
    pub reactions: Vec<ReactionRow>,
}

impl Target {
    /// `message` with `rows` as its reactions.
    pub(crate) fn new(mut message: Message, reactions: Vec<ReactionRow>) -> Self {
        message.reactions = fold_reactions(&reactions);
        Target { message, reactions }
    }
}

/// Which page of a room's history to read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Window {
    /// The newest messages.
    Latest,
    /// The newest messages with id < the given one.
    Before(MessageId),
    /// The oldest messages with id > the given one.
    Since(MessageId),
    /// The oldest messages with seq > the given one (a cluster node filling a relay gap).
    SinceSeq(RoomSeq),
}

/// What a storage engine must do. Everything is `Send` so the writer can run on any worker.
pub(crate) trait Backend: Clone + Send + Sync + 'static {
    /// Stores `batch` in ONE transaction, in order; each request's result, in the same order.
    /// A request whose (room, cid) is already stored (earlier, or earlier in this batch) is
    /// answered with the stored message and `duplicate: true`. A change is checked against its
    /// target's state in the transaction ([`Plan::outcomes`]) and, if it applies, stored as a
    /// row and applied to the target in the same transaction. `audits` (request index, entry)
    /// are written with their request, if it stored a row. All or nothing: on `Err`, nothing
    /// of the batch is stored.
    fn insert_batch(
        &self,
        batch: &[NewMessage],
        audits: &[(usize, NewAudit)],
    ) -> impl Future<Output = Result<Vec<Answer>, StoreError>> + Send;

    /// The message (kind 'message') with this id, in its current state, if there is one.
    fn message(
        &self,
        id: MessageId,
    ) -> impl Future<Output = Result<Option<Message>, StoreError>> + Send;

    /// Up to `limit` messages of `room` in `window`, oldest first, and whether more lie beyond.
    fn page(
        &self,
        room: &str,
        window: Window,
        limit: u32,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send;

    /// The value stored under `name` in `settings`; if there is none, `fresh` is stored first
    /// (insert-if-absent, so concurrent callers on one database all get the first one stored).
    fn setting_or_insert(
        &self,
        name: &str,
        fresh: &[u8],
    ) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;

    /// One purge round: removes what `policy` does not keep, at most `batch` rows per
    /// transaction with a pause in between, and records each room's purged-through id.
    fn purge(
        &self,
        policy: &RetentionPolicy,
        batch: u32,
    ) -> impl Future<Output = Result<PurgeReport, StoreError>> + Send;

    /// Each of `rooms`' sequence head (its newest message's seq; rooms never written are
    /// absent), in one read, any order ([`crate::Store::heads`] sorts).
    fn heads(
        &self,
        rooms: &[&str],
    ) -> impl Future<Output = Result<Vec<(String, RoomSeq)>, StoreError>> + Send;

    /// Whether new messages enter the search index after their commit ([`Self::index_pending`])
    /// rather than inside it.
    fn indexes_after_commit(&self) -> bool {
        false
    }

    /// Brings the search index up to date with every committed message; how many rows it
    /// looked at. Only the writer calls it (between batches), and `open` (after a crash).
    fn index_pending(&self) -> impl Future<Output = Result<usize, StoreError>> + Send {
        std::future::ready(Ok(0))
    }

    /// A cheap round trip to the database.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Closes the connections (after the writer has finished).
    fn close(&self) -> impl Future<Output = ()> + Send;
}

/// Turns `limit + 1` fetched rows into a page of at most `limit`, oldest first. `rows` come
/// newest first for `Latest`/`Before` and oldest first for `Since`, as the SQL reads them.
/// `purged`: the room's purged-through id, read AFTER the rows (so a purge between the two
/// reads can only make `truncated` true needlessly, never hide a gap).
pub(crate) fn into_page(
    mut rows: Vec<Message>,
    window: Window,
    limit: u32,
    purged: Option<MessageId>,
) -> Page {
    let limit = limit as usize;
    let more = rows.len() > limit;
    rows.truncate(limit);
    if !matches!(window, Window::Since(_) | Window::SinceSeq(_)) {
        rows.reverse();
    }
    let through = rows.last().map(|m| m.id);
    let (changes, messages) = rows.into_iter().partition(|m| m.change.is_some());
    Page {
        messages,
        changes,
        more,
        truncated: crate::retention::truncated(window, more, purged),
        through,
    }
}

/// What becomes of one request of a batch, decided before anything is written.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Its (room, cid) was stored by an earlier batch: answer with that message.
    Existing(Arc<Message>),
    /// A new row.
    New,
    /// Its (room, cid) repeats the request at this earlier index of the batch, which is `New`.
    Repeat(usize),
    /// A change that applies: a new row; its target as it is after the change.
    Changed(Arc<Message>),
    /// A change that changes nothing (a reaction given twice, or removed when not given): no
    /// row; its target as it is.
    Unchanged(Arc<Message>),
    /// A change refused for its target's state: no row.
    Refused(ChatError),
}

impl Outcome {
    /// Whether this request becomes a new row (taking an id and a seq).
    fn is_new(&self) -> bool {
        matches!(self, Outcome::New | Outcome::Changed(_))
    }
}

/// Plans a batch without touching the database: the distinct (room, cid) pairs to look up, then
/// (given what the lookup found) each request's [`Outcome`]. With one writer and the lookup in
/// the same transaction as the insert, no row can appear in between from this process; another
/// process inserting the same (room, cid) or id makes the insert fail on the unique constraint
/// (a data error: the batch is retried one message at a time, and the lookup then finds it).
/// Then the rooms whose sequence counters grow ([`Plan::new_rooms`]) and, given the ids and the
/// counters' new values, every answer with its id and seq ([`Plan::answers`]).
pub(crate) struct Plan<'a> {
    batch: &'a [NewMessage],
}

impl<'a> Plan<'a> {
    pub(crate) fn new(batch: &'a [NewMessage]) -> Self {
        Plan { batch }
    }

    /// The distinct (room, cid) pairs of the batch, in first-seen order.
    pub(crate) fn keys(&self) -> Vec<(&'a str, &'a str)> {
        let mut seen = HashSet::new();
        self.batch
            .iter()
            .filter_map(|m| Some((m.room.as_str(), m.cid.as_ref()?.as_str())))
            .filter(|k| seen.insert(*k))
            .collect()
    }

    /// The distinct targets of the batch's changes, ascending (the order a backend locks them
    /// in, so two batches cannot deadlock on them).
    pub(crate) fn targets(&self) -> Vec<MessageId> {
        let mut ids: Vec<MessageId> = self
            .batch
            .iter()
            .filter_map(|m| Some(m.change?.target))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Each request's outcome, given the stored messages the lookup of [`Plan::keys`] found
    /// and the [`Plan::targets`] found (in their state before this batch; absent: no such
    /// message). Changes are applied to `targets` in batch order, so a change sees the ones
    /// before it in the same batch.
    pub(crate) fn outcomes(
        &self,
        existing: Vec<Message>,
        mut targets: HashMap<MessageId, Target>,
    ) -> Vec<Outcome> {
        let stored: HashMap<(String, String), Arc<Message>> = existing
            .into_iter()
            .filter_map(|m| Some(((m.room.clone(), m.cid.clone()?), Arc::new(m))))
            .collect();
        let mut first_new: HashMap<(&str, &str), usize> = HashMap::new();
        let mut out = Vec::with_capacity(self.batch.len());
        for (i, m) in self.batch.iter().enumerate() {
            if m.change.is_some() {
                out.push(apply(m, &mut targets));
                continue;
            }
            let Some(key) = m.cid.as_ref().map(|c| (m.room.as_str(), c.as_str())) else {
                out.push(Outcome::New);
                continue;
            };
            if let Some(original) = stored.get(&(key.0.to_owned(), key.1.to_owned())) {
                out.push(Outcome::Existing(Arc::clone(original)));
            } else if let Some(&first) = first_new.get(&key) {
                out.push(Outcome::Repeat(first));
            } else {
                first_new.insert(key, i);
                out.push(Outcome::New);
            }
        }
        out
    }

    /// The rooms that get new rows, in ascending (byte) order, each with how many: what a
    /// backend adds to the rooms' sequence counters, in that order.
    pub(crate) fn new_rooms(&self, outcomes: &[Outcome]) -> Vec<(&'a str, i64)> {
        let mut counts: BTreeMap<&'a str, i64> = BTreeMap::new();
        for (m, outcome) in self.batch.iter().zip(outcomes) {
            if outcome.is_new() {
                *counts.entry(m.room.as_str()).or_default() += 1;
            }
        }
        counts.into_iter().collect()
    }

    /// The answers, given the id of each `New` outcome in batch order (`ids` must have exactly
    /// one per `New`, ascending, so ids follow the order the requests were queued) and each
    /// room's counter after adding its [`Plan::new_rooms`] count (`heads`, any order): a room
    /// with `n` new rows and head `h` gets seqs `h-n+1 ..= h`, in batch order.
    ///
    /// `Err` if `ids` or `heads` do not match the outcomes (a backend bug, reported rather than
    /// storing messages under wrong numbers).
    pub(crate) fn answers(
        &self,
        outcomes: Vec<Outcome>,
        ids: &[MessageId],
        heads: &[(String, RoomSeq)],
    ) -> Result<Vec<Answer>, StoreError> {
        let new_rooms = self.new_rooms(&outcomes);
        let wanted: usize = new_rooms.iter().map(|(_, n)| *n as usize).sum();
        if ids.len() != wanted || heads.len() != new_rooms.len() {
            return Err(mismatch(format!(
                "{wanted} new messages in {} rooms, got {} ids and {} room heads",
                new_rooms.len(),
                ids.len(),
                heads.len()
            )));
        }
        let mut next_seq: HashMap<&str, RoomSeq> = HashMap::with_capacity(heads.len());
        for (room, count) in &new_rooms {
            let head = heads
                .iter()
                .find(|(r, _)| r == room)
                .map(|(_, h)| *h)
                .ok_or_else(|| mismatch(format!("no sequence head for room {room:?}")))?;
            next_seq.insert(room, head - count + 1);
        }
        let mut ids = ids.iter().copied();
        let mut out: Vec<Answer> = Vec::with_capacity(self.batch.len());
        let mut number = |new: &NewMessage| -> Result<Arc<Message>, StoreError> {
            let id = ids.next().ok_or_else(|| mismatch("too few ids".into()))?;
            let seq = next_seq
                .get_mut(new.room.as_str())
                .ok_or_else(|| mismatch("room without a head".into()))?;
            let message = Arc::new(Message::stored(id, *seq, new));
            *seq += 1;
            Ok(message)
        };
        for (new, outcome) in self.batch.iter().zip(outcomes) {
            let answer = match outcome {
                Outcome::Existing(message) => Ok(Stored {
                    message,
                    duplicate: true,
                    target: None,
                }),
                Outcome::New => Ok(Stored {
                    message: number(new)?,
                    duplicate: false,
                    target: None,
                }),
                Outcome::Repeat(first) => {
                    let message = match &out[first] {
                        Ok(stored) => Arc::clone(&stored.message),
                        Err(_) => return Err(mismatch("repeat of a refusal".into())),
                    };
                    Ok(Stored {
                        message,
                        duplicate: true,
                        target: None,
                    })
                }
                Outcome::Changed(target) => Ok(Stored {
                    message: number(new)?,
                    duplicate: false,
                    target: Some(target),
                }),
                Outcome::Unchanged(target) => Ok(Stored {
                    message: Arc::clone(&target),
                    duplicate: true,
                    target: Some(target),
                }),
                Outcome::Refused(error) => Err(error),
            };
            out.push(answer);
        }
        Ok(out)
    }
}

/// A backend handed [`Plan::answers`] numbers that do not fit the batch.
fn mismatch(what: String) -> StoreError {
    sqlx::Error::Protocol(format!("batch numbering: {what}")).into()
}

/// Number of outcomes that become rows (messages and changes that apply).
pub(crate) fn count_new(outcomes: &[Outcome]) -> usize {
    outcomes.iter().filter(|o| o.is_new()).count()
}

/// The rows an answered batch inserts (new messages and changes), in batch order.
pub(crate) fn new_rows(answers: &[Answer]) -> impl Iterator<Item = &Message> {
    answers
        .iter()
        .filter_map(|a| a.as_ref().ok())
        .filter(|s| !s.duplicate)
        .map(|s| &*s.message)
}

/// Checks change `m` against its target's state and applies it there: the outcome.
fn apply(m: &NewMessage, targets: &mut HashMap<MessageId, Target>) -> Outcome {
    let not_found = || Outcome::Refused(ChatError::NotFound("message"));
    let Some(change) = m.change else {
        return Outcome::New;
    };
    let Some(t) = targets.get_mut(&change.target) else {
        return not_found();
    };
    if t.message.room != m.room.as_str() || t.message.change.is_some() || t.message.deleted {
        return not_found();
    }
    match change.kind {
        ChangeKind::Edit => {
            t.message.text.clone_from(&m.text);
            t.message.edited = Some(m.ts);
        }
        ChangeKind::Delete => {
            t.message = t.message.clone().into_tombstone();
            t.reactions.clear();
        }
        ChangeKind::React | ChangeKind::Unreact => {
            let Some(user) = m.user_id.as_ref().map(UserId::as_str) else {
                return Outcome::Refused(ChatError::BadRequest("a reaction needs a user".into()));
            };
            let given = t
                .reactions
                .iter()
                .position(|r| r.emoji == m.text && r.user_id == user);
            match (change.kind, given) {
                (ChangeKind::React, Some(_)) | (ChangeKind::Unreact, None) => {
                    return Outcome::Unchanged(Arc::new(t.message.clone()));
                }
                (ChangeKind::Unreact, Some(at)) => {
                    t.reactions.remove(at);
                }
                _ => {
                    let distinct: HashSet<&str> =
                        t.reactions.iter().map(|r| r.emoji.as_str()).collect();
                    if distinct.len() >= MAX_REACTIONS && !distinct.contains(m.text.as_str()) {
                        return Outcome::Refused(ChatError::TooManyReactions {
                            max: MAX_REACTIONS,
                        });
                    }
                    t.reactions.push(ReactionRow {
                        emoji: m.text.clone(),
                        user_id: user.to_owned(),
                        name: m.name.as_str().to_owned(),
                        ts: m.ts,
                    });
                }
            }
            t.message.reactions = fold_reactions(&t.reactions);
        }
    }
    Outcome::Changed(Arc::new(t.message.clone()))
}

#[cfg(test)]
mod tests {
    use super::{Outcome, Plan, Stored, Target, count_new};
    use chatroom_core::{
        Change, ChangeKind, ChatError, Cid, Limits, Message, NewMessage, RoomName, UserId, UserName,
    };
    use std::collections::HashMap;

    fn msg(room: &str, cid: Option<&str>) -> NewMessage {
        NewMessage::new(
            RoomName::new(room).unwrap(),
            UserName::new("a").unwrap(),
            format!("in {room}"),
            cid.map(|c| Cid::new(c).unwrap()),
            &Limits::default(),
            7,
        )
        .unwrap()
    }

    #[test]
    fn plan_dedups_against_store_and_within_batch() {
        let batch = [
            msg("r1", Some("a")), // already stored
            msg("r1", Some("b")), // new
            msg("r2", Some("b")), // new: other room
            msg("r1", Some("b")), // repeat of index 1
            msg("r1", None),      // new: no cid never conflicts
            msg("r1", None),      // new
            msg("r1", Some("a")), // already stored
        ];
        let plan = Plan::new(&batch);
        assert_eq!(plan.keys(), vec![("r1", "a"), ("r1", "b"), ("r2", "b")]);
        let original = Message {
            text: "original".into(),
            ..Message::stored(3, 1, &batch[0])
        };
        let outcomes = plan.outcomes(vec![original.clone()], HashMap::new());
        assert_eq!(count_new(&outcomes), 4);
        assert!(matches!(outcomes[3], Outcome::Repeat(1)));
        assert_eq!(plan.new_rooms(&outcomes), vec![("r1", 3), ("r2", 1)]);
        // r1 had 1 before this batch (head now 4); r2 is new (head 1).
        let heads = [("r2".to_owned(), 1), ("r1".to_owned(), 4)];
        let answers: Vec<Stored> = plan
            .answers(outcomes, &[10, 11, 12, 13], &heads)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let got: Vec<(i64, i64, bool)> = answers
            .iter()
            .map(|s| (s.message.id, s.message.seq, s.duplicate))
            .collect();
        assert_eq!(
            got,
            [
                (3, 1, true),
                (10, 2, false),
                (11, 1, false),
                (10, 2, true),
                (12, 3, false),
                (13, 4, false),
                (3, 1, true)
            ]
        );
        assert_eq!(*answers[0].message, original);
        assert_eq!(answers[3].message.room, "r1");
        assert_eq!(answers[2].message.room, "r2");
    }

    #[test]
    fn plan_refuses_numbers_that_do_not_fit() {
        let batch = [msg("r1", None), msg("r2", None)];
        let plan = Plan::new(&batch);
        let heads = [("r1".to_owned(), 1), ("r2".to_owned(), 1)];
        assert!(
            plan.answers(plan.outcomes(vec![], HashMap::new()), &[1], &heads)
                .is_err()
        );
        let wrong_room = [("r1".to_owned(), 1), ("r3".to_owned(), 1)];
        assert!(
            plan.answers(plan.outcomes(vec![], HashMap::new()), &[1, 2], &wrong_room)
                .is_err()
        );
        assert!(
            plan.answers(plan.outcomes(vec![], HashMap::new()), &[1, 2], &heads)
                .is_ok()
        );
    }

    fn change(kind: ChangeKind, target: i64, text: &str, user: u8) -> NewMessage {
        NewMessage::change(
            RoomName::new("r1").unwrap(),
            UserName::new("a").unwrap(),
            Change { kind, target },
            text.into(),
            &Limits::default(),
            7,
        )
        .unwrap()
        .by(UserId::random([user; 16]))
    }

    #[test]
    fn changes_see_the_ones_before_them_in_the_batch() {
        let original = Message::stored(5, 1, &msg("r1", None));
        let targets = || HashMap::from([(5, Target::new(original.clone(), vec![]))]);
        let batch = [
            change(ChangeKind::React, 5, "👍", 1),   // applies
            change(ChangeKind::React, 5, "👍", 1),   // the same again: no row
            change(ChangeKind::Unreact, 5, "🎉", 1), // never given: no row
            change(ChangeKind::Edit, 5, "new", 1),   // applies
            change(ChangeKind::Edit, 6, "new", 1),   // no such message
            change(ChangeKind::Delete, 5, "", 1),    // applies
            change(ChangeKind::React, 5, "👍", 2),   // deleted meanwhile
        ];
        let plan = Plan::new(&batch);
        assert_eq!(plan.targets(), vec![5, 6]);
        let outcomes = plan.outcomes(vec![], targets());
        assert_eq!(count_new(&outcomes), 3);
        let Outcome::Changed(after) = &outcomes[0] else {
            panic!("{:?}", outcomes[0]);
        };
        assert_eq!(after.reactions[0].emoji, "👍");
        assert!(matches!(&outcomes[1], Outcome::Unchanged(t) if t.reactions.len() == 1));
        assert!(matches!(&outcomes[2], Outcome::Unchanged(_)));
        assert!(
            matches!(&outcomes[3], Outcome::Changed(t) if t.text == "new" && t.edited == Some(7))
        );
        let not_found = ChatError::NotFound("message");
        assert!(matches!(&outcomes[4], Outcome::Refused(e) if *e == not_found));
        assert!(matches!(&outcomes[5], Outcome::Changed(t) if t.deleted && t.reactions.is_empty()));
        assert!(matches!(&outcomes[6], Outcome::Refused(e) if *e == not_found));
        let answers = plan
            .answers(outcomes, &[10, 11, 12], &[("r1".into(), 4)])
            .unwrap();
        let rows: Vec<(i64, i64)> = super::new_rows(&answers).map(|m| (m.id, m.seq)).collect();
        assert_eq!(rows, [(10, 2), (11, 3), (12, 4)]);
    }

    #[test]
    fn at_most_twenty_distinct_emoji() {
        let original = Message::stored(5, 1, &msg("r1", None));
        let emoji = [
            "😀", "😃", "😄", "😁", "😆", "😅", "🤣", "😂", "🙂", "🙃", "😉", "😊", "😇", "🥰",
            "😍", "🤩", "😘", "😗", "😚", "😙", "🥲",
        ];
        let mut batch: Vec<NewMessage> = emoji
            .iter()
            .map(|e| change(ChangeKind::React, 5, e, 1))
            .collect();
        // An emoji already given may still be added by someone else.
        batch.push(change(ChangeKind::React, 5, emoji[0], 2));
        let plan = Plan::new(&batch);
        let targets = HashMap::from([(5, Target::new(original, vec![]))]);
        let outcomes = plan.outcomes(vec![], targets);
        assert_eq!(count_new(&outcomes), 21);
        assert!(matches!(
            &outcomes[20],
            Outcome::Refused(ChatError::TooManyReactions { max: 20 })
        ));
        assert!(matches!(&outcomes[21], Outcome::Changed(t) if t.reactions[0].count == 2));
    }
}
