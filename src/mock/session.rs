//! Proxy sessions: the table behind the session cookie, and the clock that ages them.
//!
//! Each virtual proxy owns one [`SessionTable`], sharded by session id with a second index by
//! user: creating, finding and evicting a session are O(1) and take one shard's lock, so the
//! request path of one virtual proxy never waits on another's, and requests on many cores
//! rarely wait on each other. Memory is bounded by the table's capacity: past it, a clock
//! (second-chance LRU) evicts idle sessions first.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher as _, RandomState};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value};

/// The emulator's clock, in milliseconds since the Unix epoch. Tests use [`MockClock::manual`]
/// and [`MockClock::advance`] to age sessions and tokens without sleeping.
#[derive(Debug, Clone, Default)]
pub struct MockClock {
    manual: Option<Arc<AtomicI64>>,
}

impl MockClock {
    /// The system clock.
    #[must_use]
    pub fn system() -> Self {
        Self { manual: None }
    }

    /// A clock that stands still at `unix_s` seconds until advanced.
    #[must_use]
    pub fn manual(unix_s: i64) -> Self {
        Self {
            manual: Some(Arc::new(AtomicI64::new(unix_s.saturating_mul(1000)))),
        }
    }

    /// Moves a manual clock forward (no effect on the system clock).
    pub fn advance(&self, by: Duration) {
        if let Some(ms) = &self.manual {
            ms.fetch_add(
                i64::try_from(by.as_millis()).unwrap_or(i64::MAX),
                Ordering::SeqCst,
            );
        }
    }

    /// Now, in milliseconds since the Unix epoch.
    #[must_use]
    pub fn now_ms(&self) -> i64 {
        match &self.manual {
            Some(ms) => ms.load(Ordering::SeqCst),
            None => chrono::Utc::now().timestamp_millis(),
        }
    }

    /// Now, in whole seconds since the Unix epoch (what `exp` and `nbf` compare against).
    #[must_use]
    pub fn now_s(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// Who a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct UserKey {
    /// The user directory (empty on Qlik Cloud).
    pub(crate) directory: String,
    /// The user ID (the subject on Qlik Cloud).
    pub(crate) user_id: String,
}

/// One live session.
#[derive(Debug)]
pub(crate) struct Session {
    /// The cookie value (a GUID, as the real proxy issues).
    pub(crate) id: String,
    /// The user.
    pub(crate) user: UserKey,
    /// Mapped claims kept as attributes (and, on Qlik Cloud, name and email).
    pub(crate) attributes: Map<String, Value>,
    /// The CSRF token handed out by `/qps/csrftoken` or `/api/v1/csrf-token`.
    pub(crate) csrf_token: String,
    /// Milliseconds since the Unix epoch of the last request that used it.
    last_seen_ms: AtomicI64,
    /// Set by every use and cleared by the eviction clock's hand: a session used since the
    /// hand last passed gets a second chance.
    referenced: AtomicBool,
    /// False once the session is removed from the table (entries in the eviction ring and in
    /// the user's list are dropped lazily when they are found dead).
    alive: AtomicBool,
}

impl Session {
    fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed)
    }
}

/// Why a session was not created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionLimitReached {
    /// The user's live sessions.
    pub(crate) live: usize,
}

/// How many sessions the eviction clock's hand looks at, at most, before it evicts the oldest
/// one regardless: this bounds the work of one `create`.
const CLOCK_STEPS: usize = 8;

/// Capacity per shard below which the table is not split (a small table stays exact).
const MIN_SHARD_CAPACITY: usize = 1024;

/// The most shards: enough that creates on many cores rarely meet on one lock.
const MAX_SHARDS: usize = 64;

/// One shard of the sessions, by id.
#[derive(Default)]
struct IdShard {
    by_id: HashMap<String, Arc<Session>>,
    /// Sessions in the order the clock's hand visits them (creation order, with second-chance
    /// sessions moved to the back); may hold dead sessions, dropped when the hand meets them.
    ring: VecDeque<Arc<Session>>,
}

impl IdShard {
    /// Removes `id`; returns the session if it was here.
    fn remove(&mut self, id: &str) -> Option<Arc<Session>> {
        let s = self.by_id.remove(id)?;
        s.alive.store(false, Ordering::Relaxed);
        Some(s)
    }

    /// Frees one place: the clock's hand skips dead entries, gives a session used since its
    /// last pass a second chance, and evicts an expired or unused one; after [`CLOCK_STEPS`]
    /// second chances it evicts the session under the hand. Returns the evicted session.
    fn evict_one(&mut self, now_ms: i64, timeout_ms: i64) -> Option<Arc<Session>> {
        let mut chances = 0;
        while let Some(s) = self.ring.pop_front() {
            if !s.is_alive() {
                continue;
            }
            let idle = now_ms.saturating_sub(s.last_seen_ms.load(Ordering::Relaxed));
            if chances < CLOCK_STEPS
                && idle <= timeout_ms
                && s.referenced.swap(false, Ordering::Relaxed)
            {
                chances += 1;
                self.ring.push_back(s);
                continue;
            }
            self.remove(&s.id);
            return Some(s);
        }
        None
    }

    /// Drops dead entries from the ring once they outnumber the live ones: amortized O(1),
    /// and the ring never holds more than about twice the shard's sessions.
    fn compact(&mut self) {
        if self.ring.len() > 2 * self.by_id.len() + 64 {
            self.ring.retain(|s| s.is_alive());
        }
    }
}

/// The sessions of one user: how many are live, and which (only kept when sessions per user
/// are limited or a user logs out, see [`UserShard`]).
#[derive(Default)]
struct UserEntry {
    /// Sessions in the table (alive, possibly idle past the timeout until someone looks).
    live: usize,
    /// The user's sessions in creation order; may hold dead ones, dropped lazily.
    sessions: VecDeque<Arc<Session>>,
}

impl UserEntry {
    /// Drops dead sessions once they outnumber the live ones.
    fn compact(&mut self) {
        if self.sessions.len() > 2 * self.live + 8 {
            self.sessions.retain(|s| s.is_alive());
        }
    }
}

/// One shard of the per-user index, by user.
#[derive(Default)]
struct UserShard {
    users: HashMap<UserKey, UserEntry>,
}

/// The sessions of one virtual proxy (or of the Qlik Cloud tenant).
///
/// Sessions are sharded by id (the cookie value is random, so creates and lookups on many
/// cores spread over the shards' locks even when every request comes from one user, as in
/// bearer-mode load); a second index, sharded by user, keeps each user's live count and list
/// for the per-user limit and for logout. Every operation is O(1) (amortized where dead
/// entries are dropped lazily) except the ones whose answer is a list: logout ends the
/// user's sessions one by one, and creating a session past the per-user limit looks at the
/// user's own sessions (at most about twice the limit).
///
/// Memory is bounded by the capacity: each id shard holds at most its share of it, evicting
/// with a clock (second-chance LRU) when full; dead entries in the eviction ring and in the
/// users' lists are dropped once they outnumber the live ones; a user with no session has no
/// entry. Locks: a user shard may be held while an id shard is taken, never the other way.
///
/// An evicted session is counted out of its user after the locks are released, so when the
/// same user logs out and signs in again in between, the new entry is counted down once too
/// many: a transient miscount of that user's live sessions, never a leak.
pub(crate) struct SessionTable {
    ids: Box<[Mutex<IdShard>]>,
    users: Box<[Mutex<UserShard>]>,
    /// Each id shard's capacity.
    shard_capacity: Box<[usize]>,
    timeout_ms: i64,
    hasher: RandomState,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SessionTable {
    /// A table whose sessions die after `timeout` without requests; at most `capacity` live.
    pub(crate) fn new(timeout: Duration, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let shards = (capacity / MIN_SHARD_CAPACITY).clamp(1, MAX_SHARDS);
        // Split the capacity exactly: the first `capacity % shards` shards take one more.
        let shard_capacity = (0..shards)
            .map(|i| capacity / shards + usize::from(i < capacity % shards))
            .collect();
        Self {
            ids: (0..shards).map(|_| Mutex::default()).collect(),
            users: (0..shards).map(|_| Mutex::default()).collect(),
            shard_capacity,
            timeout_ms: i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX),
            hasher: RandomState::new(),
        }
    }

    fn id_shard(&self, id: &str) -> usize {
        shard_of(self.hasher.hash_one(id), self.ids.len())
    }

    fn user_shard(&self, user: &UserKey) -> usize {
        shard_of(self.hasher.hash_one(user), self.users.len())
    }

    fn expired(&self, s: &Session, now_ms: i64) -> bool {
        now_ms.saturating_sub(s.last_seen_ms.load(Ordering::Relaxed)) > self.timeout_ms
    }

    /// Counts `gone` (already removed from its id shard) out of its user's entry.
    fn forget(&self, gone: &Session) {
        let mut shard = lock(&self.users[self.user_shard(&gone.user)]);
        if let Some(entry) = shard.users.get_mut(&gone.user) {
            entry.live = entry.live.saturating_sub(1);
            if entry.live == 0 {
                shard.users.remove(&gone.user);
            } else {
                entry.compact();
            }
        }
    }

    /// The live session with this id, refreshed; an expired one is removed.
    pub(crate) fn touch(&self, id: &str, now_ms: i64) -> Option<Arc<Session>> {
        let removed = {
            let mut shard = lock(&self.ids[self.id_shard(id)]);
            let found = shard.by_id.get(id)?;
            if !self.expired(found, now_ms) {
                found.last_seen_ms.fetch_max(now_ms, Ordering::Relaxed);
                found.referenced.store(true, Ordering::Relaxed);
                return Some(Arc::clone(found));
            }
            let removed = shard.remove(id);
            shard.compact();
            removed
        };
        if let Some(gone) = removed {
            self.forget(&gone);
        }
        None
    }

    /// Creates a session, unless the user already holds `max_per_user` live ones (0: no limit).
    pub(crate) fn create(
        &self,
        user: UserKey,
        attributes: Map<String, Value>,
        now_ms: i64,
        max_per_user: u32,
    ) -> Result<Arc<Session>, SessionLimitReached> {
        let session = Arc::new(Session {
            id: uuid::Uuid::new_v4().to_string(),
            user,
            attributes,
            csrf_token: random_token(),
            last_seen_ms: AtomicI64::new(now_ms),
            referenced: AtomicBool::new(false),
            alive: AtomicBool::new(true),
        });
        let limit = max_per_user as usize;
        if limit == 0 {
            // No limit to check: the session goes into its id shard first and is counted for
            // its user afterwards, so that a single user's creates (bearer-mode load) hold the
            // user's lock only for the count, not for the insert and eviction.
            let evicted = self.insert(&session, now_ms);
            {
                let mut users = lock(&self.users[self.user_shard(&session.user)]);
                let entry = users.users.entry(session.user.clone()).or_default();
                entry.live += 1;
                entry.sessions.push_back(Arc::clone(&session));
                entry.compact();
            }
            self.forget_all(&evicted);
            return Ok(session);
        }
        let evicted = {
            let mut users = lock(&self.users[self.user_shard(&session.user)]);
            let entry = users.users.entry(session.user.clone()).or_default();
            if entry.live >= limit {
                // Only here are the user's sessions looked at: idle ones past the timeout
                // no longer count (they are removed, as the real proxy forgets them).
                let mut expired = Vec::new();
                entry.sessions.retain(|s| {
                    let keep = s.is_alive() && !self.expired(s, now_ms);
                    if !keep && s.is_alive() {
                        expired.push(Arc::clone(s));
                    }
                    keep
                });
                for s in &expired {
                    if lock(&self.ids[self.id_shard(&s.id)])
                        .remove(&s.id)
                        .is_some()
                    {
                        entry.live = entry.live.saturating_sub(1);
                    }
                }
                if entry.live >= limit {
                    return Err(SessionLimitReached { live: entry.live });
                }
            }
            entry.live += 1;
            entry.sessions.push_back(Arc::clone(&session));
            entry.compact();
            // Inserted while the user's lock is held, so that a concurrent create of the same
            // user sees the count and a concurrent logout sees the session.
            self.insert(&session, now_ms)
        };
        self.forget_all(&evicted);
        Ok(session)
    }

    /// Puts `session` into its id shard, evicting while the shard is full; returns the
    /// evicted sessions (their users are counted down by [`Self::forget_all`], after every
    /// lock is released: a user shard is never taken while an id shard is held).
    fn insert(&self, session: &Arc<Session>, now_ms: i64) -> Vec<Arc<Session>> {
        let at = self.id_shard(&session.id);
        let mut ids = lock(&self.ids[at]);
        let mut evicted = Vec::new();
        while ids.by_id.len() >= self.shard_capacity[at] {
            match ids.evict_one(now_ms, self.timeout_ms) {
                Some(gone) => evicted.push(gone),
                None => break,
            }
        }
        ids.ring.push_back(Arc::clone(session));
        ids.by_id.insert(session.id.clone(), Arc::clone(session));
        ids.compact();
        evicted
    }

    fn forget_all(&self, gone: &[Arc<Session>]) {
        for s in gone {
            self.forget(s);
        }
    }

    /// Ends every session of `user`; returns how many there were.
    pub(crate) fn remove_user(&self, user: &UserKey) -> usize {
        let mut users = lock(&self.users[self.user_shard(user)]);
        let Some(entry) = users.users.remove(user) else {
            return 0;
        };
        entry
            .sessions
            .iter()
            .filter(|s| s.is_alive())
            .filter(|s| {
                lock(&self.ids[self.id_shard(&s.id)])
                    .remove(&s.id)
                    .is_some()
            })
            .count()
    }

    /// The number of sessions held (live or not yet found idle past the timeout).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ids.iter().map(|s| lock(s).by_id.len()).sum()
    }

    /// The number of users with at least one session held.
    #[cfg(test)]
    fn users(&self) -> usize {
        self.users.iter().map(|s| lock(s).users.len()).sum()
    }
}

/// Maps a hash onto `n` shards (the high bits: `RandomState` mixes them well).
fn shard_of(hash: u64, n: usize) -> usize {
    // `n` is at most MAX_SHARDS, so the product's high word is below `n`.
    usize::try_from((u128::from(hash) * n as u128) >> 64).unwrap_or(0)
}

/// 32 random alphanumeric characters: CSRF tokens and cookie signatures.
pub(crate) fn random_token() -> String {
    use rand::Rng;
    use rand::distr::Alphanumeric;
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> UserKey {
        UserKey {
            directory: "ACME".to_owned(),
            user_id: "alice".to_owned(),
        }
    }

    #[test]
    fn session_is_found_until_the_idle_timeout() {
        let table = SessionTable::new(Duration::from_secs(60), 100);
        let s = table
            .create(alice(), Map::new(), 0, 5)
            .expect("under the limit");
        assert!(table.touch(&s.id, 59_000).is_some());
        // The touch above refreshed it: 60 s after that it is still alive, 61 s after it is not.
        assert!(table.touch(&s.id, 119_000).is_some());
        assert!(table.touch(&s.id, 180_001).is_none());
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn sixth_session_of_a_user_is_refused_and_expired_ones_do_not_count() {
        let table = SessionTable::new(Duration::from_secs(10), 100);
        for _ in 0..5 {
            table
                .create(alice(), Map::new(), 0, 5)
                .expect("under the limit");
        }
        assert_eq!(
            table.create(alice(), Map::new(), 1_000, 5).err(),
            Some(SessionLimitReached { live: 5 })
        );
        assert!(table.create(alice(), Map::new(), 20_000, 5).is_ok());
    }

    #[test]
    fn zero_turns_the_session_limit_off() {
        let table = SessionTable::new(Duration::from_secs(10), 100);
        for _ in 0..20 {
            table.create(alice(), Map::new(), 0, 0).expect("no limit");
        }
        assert_eq!(table.len(), 20);
    }

    #[test]
    fn remove_user_ends_only_that_users_sessions() {
        let table = SessionTable::new(Duration::from_secs(10), 100);
        let a = table.create(alice(), Map::new(), 0, 0).expect("created");
        let bob = UserKey {
            directory: "ACME".to_owned(),
            user_id: "bob".to_owned(),
        };
        let b = table.create(bob, Map::new(), 0, 0).expect("created");
        assert_eq!(table.remove_user(&alice()), 1);
        assert!(table.touch(&a.id, 1).is_none());
        assert!(table.touch(&b.id, 1).is_some());
    }

    #[test]
    fn table_never_holds_more_than_its_capacity() {
        let table = SessionTable::new(Duration::from_secs(3600), 50);
        for i in 0..500 {
            let user = UserKey {
                directory: "D".to_owned(),
                user_id: format!("u{i}"),
            };
            table.create(user, Map::new(), i, 0).expect("created");
        }
        assert_eq!(table.len(), 50);
    }

    fn user(i: usize) -> UserKey {
        UserKey {
            directory: "D".to_owned(),
            user_id: format!("u{i}"),
        }
    }

    #[test]
    fn sharded_table_holds_exactly_its_capacity() {
        // 10,000 is split over several shards; the shares add up to the capacity.
        let table = SessionTable::new(Duration::from_secs(3600), 10_000);
        assert!(table.ids.len() > 1);
        for i in 0..30_000 {
            table.create(user(i), Map::new(), 0, 0).expect("created");
        }
        assert!(table.len() <= 10_000);
        assert!(table.len() > 9_000, "{}", table.len());
        // Every evicted session's user entry is gone: users are bounded by sessions.
        assert_eq!(table.users(), table.len());
    }

    #[test]
    fn full_table_evicts_unused_sessions_before_used_ones() {
        let table = SessionTable::new(Duration::from_secs(3600), 100);
        let kept = table.create(alice(), Map::new(), 0, 0).expect("created");
        for i in 0..99 {
            table.create(user(i), Map::new(), 0, 0).expect("created");
        }
        // The first session is in use; 200 more creates cycle the unused ones out.
        for i in 100..300 {
            assert!(table.touch(&kept.id, 1).is_some(), "evicted at create {i}");
            table.create(user(i), Map::new(), 1, 0).expect("created");
        }
        assert_eq!(table.len(), 100);
    }

    #[test]
    fn one_users_sessions_past_capacity_stay_bounded_and_logout_ends_them() {
        // Bearer-mode load: one user, a new session per request, no per-user limit.
        let table = SessionTable::new(Duration::from_secs(3600), 2_048);
        for i in 0..20_000 {
            table.create(alice(), Map::new(), i, 0).expect("created");
        }
        assert!(table.len() <= 2_048);
        let shard = lock(&table.users[table.user_shard(&alice())]);
        let entry = shard.users.get(&alice()).expect("alice has sessions");
        assert_eq!(entry.live, table.len());
        // Dead sessions in the user's list are dropped once they outnumber the live ones.
        assert!(entry.sessions.len() <= 2 * entry.live + 8);
        drop(shard);
        let ring: usize = table.ids.iter().map(|s| lock(s).ring.len()).sum();
        assert!(ring <= 2 * table.len() + 64 * table.ids.len());
        let live = table.len();
        assert_eq!(table.remove_user(&alice()), live);
        assert_eq!(table.len(), 0);
        assert_eq!(table.users(), 0);
    }

    #[test]
    fn idle_sessions_removed_on_touch_are_counted_out_of_their_user() {
        let table = SessionTable::new(Duration::from_secs(10), 100);
        let s = table.create(alice(), Map::new(), 0, 5).expect("created");
        assert!(table.touch(&s.id, 20_000).is_none());
        assert_eq!(table.users(), 0);
        for _ in 0..5 {
            table
                .create(alice(), Map::new(), 20_000, 5)
                .expect("under the limit");
        }
    }

    #[test]
    fn concurrent_creates_and_touches_keep_the_counts_consistent() {
        let table = Arc::new(SessionTable::new(Duration::from_secs(3600), 4_096));
        let workers: Vec<_> = (0..4)
            .map(|t| {
                let table = Arc::clone(&table);
                std::thread::spawn(move || {
                    for i in 0..5_000 {
                        let s = table
                            .create(user(i % 7 + t * 10), Map::new(), 0, 0)
                            .expect("no limit");
                        let _ = table.touch(&s.id, 1);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().expect("worker finished");
        }
        assert!(table.len() <= 4_096);
        let counted: usize = table
            .users
            .iter()
            .map(|s| lock(s).users.values().map(|e| e.live).sum::<usize>())
            .sum();
        assert_eq!(counted, table.len());
    }

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = MockClock::manual(1_000);
        assert_eq!(clock.now_s(), 1_000);
        clock.advance(Duration::from_millis(1_500));
        assert_eq!(clock.now_ms(), 1_001_500);
        assert_eq!(clock.now_s(), 1_001);
    }
}
