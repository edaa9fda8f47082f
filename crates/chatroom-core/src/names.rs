//! Who holds which display name. A name (compared by [`NameKey`], so "Alice" and "ALICE" are one
//! name) is held by one user at a time, possibly through several connections of that user (two
//! tabs); it is free again when the last of them lets go. Pure bookkeeping, generic over the
//! connection id, so the transport can key it by socket id and tests by integers.

use crate::{ChatError, NameKey, UserId, UserName};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;

/// Names in use, each with its holder and the holder's connections that use it.
///
/// Invariants: every held name has exactly one holder and at least one connection.
#[derive(Debug, Clone)]
pub struct NameRegistry<C> {
    held: HashMap<NameKey, Holding<C>>,
}

#[derive(Debug, Clone)]
struct Holding<C> {
    user: UserId,
    conns: HashSet<C>,
}

impl<C> Default for NameRegistry<C> {
    fn default() -> Self {
        Self {
            held: HashMap::new(),
        }
    }
}

impl<C: Eq + Hash + Clone> NameRegistry<C> {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// `conn` of `user` takes `name`. `Err(NameTaken)` if another user holds it (nothing
    /// changes); if `user` already holds it, `conn` is added to its connections.
    pub fn claim(&mut self, name: &UserName, user: &UserId, conn: C) -> Result<(), ChatError> {
        match self.held.entry(name.key()) {
            Entry::Occupied(mut e) => {
                let holding = e.get_mut();
                if holding.user != *user {
                    return Err(ChatError::NameTaken);
                }
                holding.conns.insert(conn);
            }
            Entry::Vacant(e) => {
                e.insert(Holding {
                    user: user.clone(),
                    conns: HashSet::from([conn]),
                });
            }
        }
        Ok(())
    }

    /// `conn` lets go of `name`; the name is free once no connection holds it. Releasing a
    /// name `conn` does not hold does nothing.
    pub fn release(&mut self, name: &UserName, conn: &C) {
        if let Entry::Occupied(mut e) = self.held.entry(name.key()) {
            e.get_mut().conns.remove(conn);
            if e.get().conns.is_empty() {
                e.remove();
            }
        }
    }

    /// `conn` of `user` moves from `old` to `new`: claims `new`, then releases `old` for `conn`.
    /// All or nothing: on `Err(NameTaken)` nothing changes. Renaming to a name with the same key
    /// (a change of case) keeps holding it.
    pub fn rename(
        &mut self,
        old: &UserName,
        new: &UserName,
        user: &UserId,
        conn: C,
    ) -> Result<(), ChatError> {
        if old.key() == new.key() {
            return self.claim(new, user, conn);
        }
        self.claim(new, user, conn.clone())?;
        self.release(old, &conn);
        Ok(())
    }

    /// The user holding `name` (or a name with the same key), if any.
    pub fn holder(&self, name: &UserName) -> Option<&UserId> {
        self.held.get(&name.key()).map(|h| &h.user)
    }

    /// Number of names held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether no name is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// How many connections hold `name` (0 if it is free).
    pub fn connections(&self, name: &UserName) -> usize {
        self.held.get(&name.key()).map_or(0, |h| h.conns.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn name(s: &str) -> UserName {
        UserName::new(s).unwrap()
    }

    fn user(n: u8) -> UserId {
        UserId::random([n; 16])
    }

    #[test]
    fn one_user_per_name_across_case_and_width() {
        let mut r = NameRegistry::new();
        r.claim(&name("Alice"), &user(1), 1).unwrap();
        for other in ["alice", "ALICE", "Ａｌｉｃｅ"] {
            assert_eq!(
                r.claim(&name(other), &user(2), 2),
                Err(ChatError::NameTaken),
                "{other}"
            );
        }
        assert_eq!(r.holder(&name("aLiCe")), Some(&user(1)));
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn two_tabs_of_one_user_share_a_name() {
        let mut r = NameRegistry::new();
        r.claim(&name("bob"), &user(1), 1).unwrap();
        r.claim(&name("Bob"), &user(1), 2).unwrap();
        assert_eq!(r.connections(&name("bob")), 2);
        r.release(&name("bob"), &1);
        assert_eq!(r.holder(&name("bob")), Some(&user(1)));
        assert_eq!(
            r.claim(&name("bob"), &user(2), 3),
            Err(ChatError::NameTaken)
        );
        r.release(&name("bob"), &2);
        assert!(r.is_empty());
        r.claim(&name("bob"), &user(2), 3).unwrap();
        assert_eq!(r.holder(&name("bob")), Some(&user(2)));
    }

    #[test]
    fn releasing_what_is_not_held_does_nothing() {
        let mut r = NameRegistry::new();
        r.release(&name("nobody"), &1);
        r.claim(&name("carol"), &user(1), 1).unwrap();
        r.release(&name("carol"), &9);
        assert_eq!(r.connections(&name("carol")), 1);
    }

    #[test]
    fn rename_is_all_or_nothing() {
        let mut r = NameRegistry::new();
        r.claim(&name("alice"), &user(1), 1).unwrap();
        r.claim(&name("bob"), &user(2), 2).unwrap();
        assert_eq!(
            r.rename(&name("alice"), &name("BOB"), &user(1), 1),
            Err(ChatError::NameTaken)
        );
        assert_eq!(r.holder(&name("alice")), Some(&user(1)));
        assert_eq!(r.holder(&name("bob")), Some(&user(2)));

        r.rename(&name("alice"), &name("carol"), &user(1), 1)
            .unwrap();
        assert_eq!(r.holder(&name("alice")), None);
        assert_eq!(r.holder(&name("carol")), Some(&user(1)));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn rename_to_other_case_keeps_the_name() {
        let mut r = NameRegistry::new();
        r.claim(&name("dave"), &user(1), 1).unwrap();
        r.rename(&name("dave"), &name("Dave"), &user(1), 1).unwrap();
        assert_eq!(r.holder(&name("DAVE")), Some(&user(1)));
        assert_eq!(r.connections(&name("dave")), 1);
    }

    #[test]
    fn rename_in_one_tab_leaves_the_other_tab_its_name() {
        let mut r = NameRegistry::new();
        r.claim(&name("erin"), &user(1), 1).unwrap();
        r.claim(&name("erin"), &user(1), 2).unwrap();
        r.rename(&name("erin"), &name("frank"), &user(1), 1)
            .unwrap();
        assert_eq!(r.connections(&name("erin")), 1);
        assert_eq!(r.connections(&name("frank")), 1);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Claim(usize, u8, u8),
        Release(usize, u8),
        Rename(usize, usize, u8, u8),
    }

    /// A few names that collide in pairs by case or width.
    const NAMES: [&str; 6] = ["ann", "ANN", "ｂｅｎ", "Ben", "cy", "Straße"];

    fn op() -> impl Strategy<Value = Op> {
        let n = 0..NAMES.len();
        prop_oneof![
            (n.clone(), 0..3u8, 0..6u8).prop_map(|(n, u, c)| Op::Claim(n, u, c)),
            (n.clone(), 0..6u8).prop_map(|(n, c)| Op::Release(n, c)),
            (n.clone(), n, 0..3u8, 0..6u8).prop_map(|(a, b, u, c)| Op::Rename(a, b, u, c)),
        ]
    }

    proptest! {
        #[test]
        fn invariants_hold_after_any_sequence(ops in prop::collection::vec(op(), 0..60)) {
            let mut r: NameRegistry<u8> = NameRegistry::new();
            let mut used: HashSet<(usize, u8)> = HashSet::new();
            for op in ops {
                match op {
                    Op::Claim(n, u, c) => {
                        let before = r.holder(&name(NAMES[n])).cloned();
                        let result = r.claim(&name(NAMES[n]), &user(u), c);
                        prop_assert_eq!(result.is_err(), before.is_some_and(|h| h != user(u)));
                        if result.is_ok() {
                            used.insert((n, c));
                        }
                    }
                    Op::Release(n, c) => r.release(&name(NAMES[n]), &c),
                    Op::Rename(a, b, u, c) => {
                        let snapshot: Vec<_> = NAMES
                            .iter()
                            .map(|s| (r.holder(&name(s)).cloned(), r.connections(&name(s))))
                            .collect();
                        if r.rename(&name(NAMES[a]), &name(NAMES[b]), &user(u), c).is_err() {
                            let after: Vec<_> = NAMES
                                .iter()
                                .map(|s| (r.holder(&name(s)).cloned(), r.connections(&name(s))))
                                .collect();
                            prop_assert_eq!(snapshot, after, "failed rename changed something");
                        } else {
                            used.insert((b, c));
                        }
                    }
                }
                for h in r.held.values() {
                    prop_assert!(!h.conns.is_empty());
                }
                let keys: HashSet<NameKey> = NAMES.iter().map(|s| name(s).key()).collect();
                prop_assert!(r.len() <= keys.len());
            }
            for (n, c) in used {
                r.release(&name(NAMES[n]), &c);
            }
            prop_assert!(r.is_empty());
        }
    }
}
