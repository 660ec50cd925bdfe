//! The limits of contract §12 the simulator enforces: at most `max_calls_in_flight` calls of
//! one session at once ("≤ 5 parallel request threads per session") and at most
//! `max_logins_per_minute` login calls ("≤ 300 calls/min"). SBIS's answer to either is not
//! documented (HTTP 429 was never observed): the simulator answers a non-fatal error (HTTP 500,
//! `1AA` classid), as the contract's error mapping proposes for throttling [I].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::rpc::RpcError;

/// Calls in flight per session, and the switch that holds calls so a test can pile them up.
pub(crate) struct Calls {
    in_flight: Mutex<HashMap<String, usize>>,
    hold: watch::Sender<bool>,
}

/// One call's place among its session's calls in flight; freed when dropped.
pub(crate) struct Slot {
    calls: Arc<Calls>,
    sid: String,
}

impl Calls {
    pub fn new() -> Arc<Calls> {
        Arc::new(Calls { in_flight: Mutex::new(HashMap::new()), hold: watch::Sender::new(false) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.in_flight.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a place for a call of session `sid`, or refuses it when `max` are in flight.
    pub fn enter(self: &Arc<Calls>, sid: &str, max: usize) -> Result<Slot, RpcError> {
        let mut in_flight = self.lock();
        let count = in_flight.entry(sid.to_owned()).or_insert(0);
        if *count >= max {
            return Err(RpcError::temporary(
                format!("Превышено число одновременных запросов в сессии (не более {max})"),
                "Повторите попытку позже",
            ));
        }
        *count += 1;
        Ok(Slot { calls: self.clone(), sid: sid.to_owned() })
    }

    /// Calls in flight now, over every session.
    pub fn in_flight(&self) -> usize {
        self.lock().values().sum()
    }

    /// Holds (or releases) every work call after it took its place, until released.
    pub fn set_hold(&self, hold: bool) {
        self.hold.send_replace(hold);
    }

    /// Waits while calls are held.
    pub async fn released(&self) {
        let mut hold = self.hold.subscribe();
        // The sender lives as long as `self`, so this only ends on release.
        let _ = hold.wait_for(|held| !*held).await;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut in_flight = self.calls.lock();
        if let Some(count) = in_flight.get_mut(&self.sid) {
            *count -= 1;
            if *count == 0 {
                in_flight.remove(&self.sid);
            }
        }
    }
}

/// Login calls of the last minute.
#[derive(Default)]
pub(crate) struct Logins {
    recent: VecDeque<DateTime<Utc>>,
}

impl Logins {
    /// Counts a login call at `now`, or refuses it when `max` were made in the minute before.
    pub fn admit(&mut self, now: DateTime<Utc>, max: usize) -> Result<(), RpcError> {
        let minute_ago = now - chrono::Duration::minutes(1);
        while self.recent.front().is_some_and(|at| *at <= minute_ago) {
            self.recent.pop_front();
        }
        if self.recent.len() >= max {
            return Err(RpcError::temporary(
                format!("Превышен лимит вызовов аутентификации: не более {max} в минуту"),
                "Повторите попытку позже",
            ));
        }
        self.recent.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbis::rpc::TEMPORARY_CLASSID;

    #[test]
    fn a_session_has_at_most_max_calls_in_flight() {
        let calls = Calls::new();
        let slots: Vec<Slot> = (0..5).map(|_| calls.enter("s", 5).unwrap()).collect();
        assert_eq!(calls.enter("s", 5).err().and_then(|e| e.classid), Some(TEMPORARY_CLASSID));
        assert!(calls.enter("other", 5).is_ok(), "another session has its own count");
        drop(slots);
        assert_eq!(calls.in_flight(), 0);
        assert!(calls.enter("s", 5).is_ok());
    }

    #[test]
    fn logins_are_limited_per_rolling_minute() {
        let mut logins = Logins::default();
        let start = Utc::now();
        for n in 0..3 {
            logins.admit(start + chrono::Duration::seconds(n), 3).unwrap();
        }
        assert!(logins.admit(start + chrono::Duration::seconds(59), 3).is_err());
        // The first login left the window.
        logins.admit(start + chrono::Duration::seconds(61), 3).unwrap();
    }
}
