//! This module deals with applying every event-log entry exactly once, whether it arrives
//! live, replayed after a reconnect, or from fallback polling: it remembers the last `seq`
//! applied and the log's epoch, drops anything at or below that `seq`, and tells the server
//! where to resume. A position belongs to one log: when the server's log has another epoch
//! (`connection:status`), or the server answers `RESYNC_REQUIRED`, the position is dropped,
//! so entries of the new log are not mistaken for duplicates; the application reloads its
//! state and sets the position again.

use pulse_protocol::events::{is_logged, ConnectAuth, CONNECTION_STATUS, ERROR};
use pulse_protocol::{ErrorCode, WireError};
use serde_json::Value;

use crate::codec::Json;

/// The `seq` of a log entry `{ seq, ts, data }`, read from its text without building the rest:
/// every logged event passes here.
fn seq_of(entry: &Json) -> Option<u64> {
    crate::codec::scan::as_u64(entry.member("seq")?)
}

/// The client's position in the tenant's event log.
#[derive(Debug, Clone, Default)]
pub struct Resume {
    last: Option<u64>,
    epoch: Option<String>,
}

impl Resume {
    /// The last `seq` applied.
    pub fn last_seq(&self) -> Option<u64> {
        self.last
    }

    /// The epoch of the log the position belongs to, once the server said it.
    pub fn epoch(&self) -> Option<&str> {
        self.epoch.as_deref()
    }

    /// Takes up a position saved earlier (e.g. across a page reload): `seq` of the log
    /// `epoch`. If the server's log turns out to be another one, the position is dropped and
    /// the server asks for a resync, as for any stale position.
    pub fn restore(&mut self, seq: u64, epoch: Option<&str>) {
        self.last = Some(seq);
        self.epoch = epoch.filter(|e| !e.is_empty()).map(str::to_owned);
    }

    /// Moves the position forward, e.g. after loading state over REST at log head `seq`.
    /// Never moves it back.
    pub fn advance_to(&mut self, seq: u64) {
        if self.last.is_none_or(|l| seq > l) {
            self.last = Some(seq);
        }
    }

    /// Notes the log's epoch; a different one than known drops the position. Returns whether
    /// the log changed under a position.
    pub fn learn_epoch(&mut self, epoch: &str) -> bool {
        if epoch.is_empty() || self.epoch.as_deref() == Some(epoch) {
            return false;
        }
        let changed = self.epoch.is_some();
        self.epoch = Some(epoch.to_owned());
        if changed {
            self.last = None;
        }
        changed
    }

    /// Drops the position (the server asked for a resync): what comes next is applied.
    pub fn reset(&mut self) {
        self.last = None;
    }

    /// Whether a server event should be applied. Log entries at or below the position are
    /// duplicates; everything else (snapshots, non-Pulse events) passes. Also follows the
    /// log's identity (`connection:status`) and resync requests (`error` RESYNC_REQUIRED).
    pub fn accept(&mut self, event: &str, args: &[Json]) -> bool {
        if event == CONNECTION_STATUS {
            let status = args.first().map(Json::value).unwrap_or_default();
            if let Some(e) = status["data"]["epoch"].as_str() {
                self.learn_epoch(e);
            }
            return true;
        }
        if event == ERROR {
            let code = args.first().and_then(|a| WireError::from_wire(&a.value())).map(|e| e.code);
            if code == Some(ErrorCode::ResyncRequired) {
                self.reset();
            }
            return true;
        }
        if !is_logged(event) {
            return true;
        }
        let Some(seq) = args.first().and_then(seq_of) else {
            return true;
        };
        self.accept_seq(seq)
    }

    /// Whether log entry `seq` is new (then it is the last applied) or was applied before.
    pub fn accept_seq(&mut self, seq: u64) -> bool {
        if self.last.is_some_and(|l| seq <= l) {
            return false;
        }
        self.last = Some(seq);
        true
    }

    /// The CONNECT auth payload: the application's credentials, plus `lastSeq` (and the
    /// `epoch` it belongs to) once something was applied.
    pub fn connect_auth(&self, auth: Option<&ConnectAuth>) -> Option<Value> {
        if auth.is_none() && self.last.is_none() {
            return None;
        }
        let mut a = auth.cloned().unwrap_or_default();
        if let Some(seq) = self.last {
            a.last_seq = Some(seq);
            if let Some(e) = &self.epoch {
                a.epoch = Some(e.clone());
            }
        }
        // Built by hand, as the serde derive writes it (see `codec::object`); destructured,
        // so a new field is a compile error here.
        let ConnectAuth { token, last_seq, epoch, topics } = a;
        let mut m = serde_json::Map::new();
        if let Some(t) = token {
            m.insert("token".into(), t.into());
        }
        if let Some(s) = last_seq {
            m.insert("lastSeq".into(), s.into());
        }
        if let Some(e) = epoch {
            m.insert("epoch".into(), e.into());
        }
        if let Some(t) = topics {
            m.insert("topics".into(), t.iter().map(|t| Value::from(t.as_str())).collect());
        }
        Some(Value::Object(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulse_protocol::events::{Topic, Topics};
    use serde_json::json;

    fn entry(seq: u64) -> Vec<Json> {
        vec![json!({ "seq": seq, "ts": 0, "data": {} }).into()]
    }

    #[test]
    fn applies_each_seq_once() {
        let mut r = Resume::default();
        assert!(r.accept("payment:added", &entry(1)));
        assert!(r.accept("payment:added", &entry(2)));
        assert!(!r.accept("payment:added", &entry(2)), "duplicate");
        assert!(!r.accept("delivery:updated", &entry(1)), "replayed");
        assert!(r.accept("delivery:updated", &entry(5)), "gaps are fine (other users' entries)");
        assert_eq!(r.last_seq(), Some(5));
    }

    #[test]
    fn snapshots_and_foreign_events_pass() {
        let mut r = Resume::default();
        r.advance_to(10);
        assert!(r.accept("stats:updated", &entry(3)));
        assert!(r.accept("chat", &[json!("hi").into()]));
        assert!(r.accept("payment:added", &[json!("no envelope").into()]));
    }

    #[test]
    fn a_restored_position_resumes_with_its_epoch_until_the_log_changes() {
        let mut r = Resume::default();
        r.restore(41, Some("e1"));
        let auth = r.connect_auth(Some(&ConnectAuth::with_token("t"))).unwrap();
        assert_eq!(auth, json!({ "token": "t", "lastSeq": 41, "epoch": "e1" }));
        assert!(!r.accept("payment:added", &entry(41)), "already applied before the reload");
        assert!(!r.learn_epoch("e1"), "the same log");
        assert_eq!(r.last_seq(), Some(41));
        assert!(r.learn_epoch("e2"), "another log");
        assert_eq!(r.last_seq(), None);
        assert!(r.accept("payment:added", &entry(1)));
    }

    #[test]
    fn connect_auth_is_written_as_its_serde_derive_writes_it() {
        let topics: Topics = [Topic::Payments, Topic::Deliveries].into_iter().collect();
        let mut r = Resume::default();
        for auth in [
            None,
            Some(ConnectAuth::default()),
            Some(ConnectAuth { topics: Some(topics), ..ConnectAuth::with_token("t") }),
            Some(ConnectAuth { topics: Some(Topics::NONE), ..ConnectAuth::default() }),
        ] {
            for (seq, epoch) in [(None, None), (Some(41), None), (Some(42), Some("e1"))] {
                if let Some(seq) = seq {
                    r.restore(seq, epoch);
                }
                let mut expected = auth.clone().unwrap_or_default();
                expected.last_seq = seq;
                expected.epoch = epoch.map(str::to_owned);
                let written = r.connect_auth(auth.as_ref());
                match written {
                    Some(v) => assert_eq!(v, serde_json::to_value(&expected).unwrap()),
                    None => assert!(auth.is_none() && seq.is_none()),
                }
            }
            r = Resume::default();
        }
    }

    #[test]
    fn advance_never_goes_back() {
        let mut r = Resume::default();
        r.advance_to(7);
        r.advance_to(3);
        assert_eq!(r.last_seq(), Some(7));
    }

    #[test]
    fn connect_auth_carries_last_seq() {
        let mut r = Resume::default();
        let auth = ConnectAuth::with_token("t");
        assert_eq!(r.connect_auth(Some(&auth)), Some(json!({ "token": "t" })));
        assert_eq!(r.connect_auth(None), None);
        r.advance_to(42);
        assert_eq!(r.connect_auth(Some(&auth)), Some(json!({ "token": "t", "lastSeq": 42 })));
        assert_eq!(r.connect_auth(None), Some(json!({ "lastSeq": 42 })));
    }

    #[test]
    fn connect_auth_carries_the_epoch_once_known() {
        let mut r = Resume::default();
        r.advance_to(42);
        assert!(!r.learn_epoch("e1"));
        assert_eq!(r.connect_auth(None), Some(json!({ "lastSeq": 42, "epoch": "e1" })));
    }

    fn status(epoch: &str, head: u64) -> Vec<Json> {
        vec![json!({ "seq": head, "ts": 0, "data": { "epoch": epoch, "head": head, "node": "n" } })
            .into()]
    }

    #[test]
    fn another_log_drops_the_position_so_its_entries_apply() {
        let mut r = Resume::default();
        assert!(r.accept("connection:status", &status("old", 0)));
        assert!(r.accept("payment:added", &entry(500)));
        // The database was wiped: the new log starts again at 1.
        assert!(r.accept("connection:status", &status("new", 3)));
        assert_eq!(r.last_seq(), None);
        assert!(r.accept("payment:added", &entry(4)), "not mistaken for a duplicate");
        assert_eq!(r.epoch(), Some("new"));
        // The same log again keeps the position.
        assert!(r.accept("connection:status", &status("new", 4)));
        assert_eq!(r.last_seq(), Some(4));
    }

    #[test]
    fn a_resync_request_drops_the_position() {
        let mut r = Resume::default();
        r.advance_to(900);
        let err = vec![json!({ "code": "RESYNC_REQUIRED", "message": "ahead" }).into()];
        assert!(r.accept("error", &err));
        assert_eq!(r.last_seq(), None);
        assert!(r.accept("payment:added", &entry(301)));
        let other = vec![json!({ "code": "RATE_LIMITED", "message": "slow down" }).into()];
        assert!(r.accept("error", &other));
        assert_eq!(r.last_seq(), Some(301));
    }
}
