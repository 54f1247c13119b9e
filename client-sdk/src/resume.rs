//! This module deals with applying every event-log entry exactly once, whether it arrives
//! live, replayed after a reconnect, or from fallback polling: it remembers the last `seq`
//! applied, drops anything at or below it, and tells the server where to resume.

use pulse_protocol::events::is_logged;
use serde_json::Value;

/// The client's position in the tenant's event log.
#[derive(Debug, Clone, Default)]
pub struct Resume {
    last: Option<u64>,
}

impl Resume {
    /// The last `seq` applied.
    pub fn last_seq(&self) -> Option<u64> {
        self.last
    }

    /// Moves the position forward, e.g. after loading state over REST at log head `seq`.
    /// Never moves it back.
    pub fn advance_to(&mut self, seq: u64) {
        if self.last.is_none_or(|l| seq > l) {
            self.last = Some(seq);
        }
    }

    /// Whether a server event should be applied. Log entries at or below the position are
    /// duplicates; everything else (snapshots, non-Pulse events) passes.
    pub fn accept(&mut self, event: &str, args: &[Value]) -> bool {
        if !is_logged(event) {
            return true;
        }
        let Some(seq) = args.first().and_then(|a| a.get("seq")).and_then(Value::as_u64) else {
            return true;
        };
        if self.last.is_some_and(|l| seq <= l) {
            return false;
        }
        self.last = Some(seq);
        true
    }

    /// The CONNECT auth payload: the application's, plus `lastSeq` once something was applied.
    pub fn connect_auth(&self, auth: Option<&Value>) -> Option<Value> {
        match (auth, self.last) {
            (Some(Value::Object(m)), Some(seq)) => {
                let mut m = m.clone();
                m.insert("lastSeq".into(), seq.into());
                Some(Value::Object(m))
            }
            (None, Some(seq)) => Some(serde_json::json!({ "lastSeq": seq })),
            (auth, _) => auth.cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(seq: u64) -> Vec<Value> {
        vec![json!({ "seq": seq, "ts": 0, "data": {} })]
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
        assert!(r.accept("chat", &[json!("hi")]));
        assert!(r.accept("payment:added", &[json!("no envelope")]));
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
        let auth = json!({ "token": "t" });
        assert_eq!(r.connect_auth(Some(&auth)), Some(auth.clone()));
        assert_eq!(r.connect_auth(None), None);
        r.advance_to(42);
        assert_eq!(r.connect_auth(Some(&auth)), Some(json!({ "token": "t", "lastSeq": 42 })));
        assert_eq!(r.connect_auth(None), Some(json!({ "lastSeq": 42 })));
    }
}
