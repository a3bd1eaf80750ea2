//! Proxy sessions: the table behind the session cookie, and the clock that ages them.
//!
//! Each virtual proxy owns one [`SessionTable`] behind its own `RwLock`: looking a cookie up
//! takes the read lock and refreshes the idle time with an atomic store, so the request path of
//! one virtual proxy never waits on another's, and cookie-only requests never wait on each other.
//! Memory stays bounded: expired sessions are swept when the table is full, and the oldest
//! sessions are evicted past `capacity`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
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
    last_seen_ms: AtomicI64,
}

/// Why a session was not created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionLimitReached {
    /// The user's live sessions.
    pub(crate) live: usize,
}

#[derive(Default)]
struct Tables {
    by_id: HashMap<String, Arc<Session>>,
    by_user: HashMap<UserKey, Vec<String>>,
    /// Session ids in creation order, for eviction; may hold ids already removed.
    order: VecDeque<String>,
}

impl Tables {
    fn remove(&mut self, id: &str) -> Option<Arc<Session>> {
        let s = self.by_id.remove(id)?;
        if let Some(ids) = self.by_user.get_mut(&s.user) {
            ids.retain(|i| i != id);
            if ids.is_empty() {
                self.by_user.remove(&s.user);
            }
        }
        Some(s)
    }

    fn sweep(&mut self, now_ms: i64, timeout_ms: i64) {
        let expired: Vec<String> = self
            .by_id
            .values()
            .filter(|s| now_ms - s.last_seen_ms.load(Ordering::Relaxed) > timeout_ms)
            .map(|s| s.id.clone())
            .collect();
        for id in expired {
            self.remove(&id);
        }
        let by_id = &self.by_id;
        self.order.retain(|id| by_id.contains_key(id));
    }
}

/// The sessions of one virtual proxy (or of the Qlik Cloud tenant).
pub(crate) struct SessionTable {
    tables: RwLock<Tables>,
    timeout_ms: i64,
    capacity: usize,
}

impl SessionTable {
    /// A table whose sessions die after `timeout` without requests; at most `capacity` live.
    pub(crate) fn new(timeout: Duration, capacity: usize) -> Self {
        Self {
            tables: RwLock::new(Tables::default()),
            timeout_ms: i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX),
            capacity: capacity.max(1),
        }
    }

    fn expired(&self, s: &Session, now_ms: i64) -> bool {
        now_ms.saturating_sub(s.last_seen_ms.load(Ordering::Relaxed)) > self.timeout_ms
    }

    /// The live session with this id, refreshed; an expired one is removed.
    pub(crate) fn touch(&self, id: &str, now_ms: i64) -> Option<Arc<Session>> {
        let found = {
            let tables = self.tables.read().unwrap_or_else(PoisonError::into_inner);
            tables.by_id.get(id).cloned()
        }?;
        if self.expired(&found, now_ms) {
            self.tables
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(id);
            return None;
        }
        found.last_seen_ms.fetch_max(now_ms, Ordering::Relaxed);
        Some(found)
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
        });
        let mut tables = self.tables.write().unwrap_or_else(PoisonError::into_inner);
        if max_per_user > 0 {
            let ids = tables
                .by_user
                .get(&session.user)
                .cloned()
                .unwrap_or_default();
            let mut live = 0;
            for id in ids {
                let dead = tables
                    .by_id
                    .get(&id)
                    .is_none_or(|s| self.expired(s, now_ms));
                if dead {
                    tables.remove(&id);
                } else {
                    live += 1;
                }
            }
            if live >= max_per_user as usize {
                return Err(SessionLimitReached { live });
            }
        }
        if tables.by_id.len() >= self.capacity {
            tables.sweep(now_ms, self.timeout_ms);
            while tables.by_id.len() >= self.capacity {
                let Some(oldest) = tables.order.pop_front() else {
                    break;
                };
                tables.remove(&oldest);
            }
        }
        if tables.order.len() > 2 * tables.by_id.len() + 1024 {
            let by_id = &tables.by_id;
            let kept: VecDeque<String> = tables
                .order
                .iter()
                .filter(|id| by_id.contains_key(*id))
                .cloned()
                .collect();
            tables.order = kept;
        }
        tables.order.push_back(session.id.clone());
        tables
            .by_user
            .entry(session.user.clone())
            .or_default()
            .push(session.id.clone());
        tables
            .by_id
            .insert(session.id.clone(), Arc::clone(&session));
        Ok(session)
    }

    /// Ends every session of `user`; returns how many there were.
    pub(crate) fn remove_user(&self, user: &UserKey) -> usize {
        let mut tables = self.tables.write().unwrap_or_else(PoisonError::into_inner);
        let ids = tables.by_user.get(user).cloned().unwrap_or_default();
        ids.iter().filter(|id| tables.remove(id).is_some()).count()
    }

    /// The number of sessions held (live or not yet swept).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.tables
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_id
            .len()
    }
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

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = MockClock::manual(1_000);
        assert_eq!(clock.now_s(), 1_000);
        clock.advance(Duration::from_millis(1_500));
        assert_eq!(clock.now_ms(), 1_001_500);
        assert_eq!(clock.now_s(), 1_001);
    }
}
