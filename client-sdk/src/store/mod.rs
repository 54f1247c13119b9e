//! This module deals with the live state an application shows: the latest stats, the
//! connection status and its RTT. [`LiveState::apply`] folds [`Event`]s into it; it is plain
//! data, so any UI framework can wrap it (Leptos signals behind the `leptos` feature).

#[cfg(feature = "leptos")]
pub mod leptos;

use pulse_protocol::events::{Stats, STATS_UPDATED};
use pulse_protocol::Envelope;

use crate::connection::{Event, Status};

/// The live view of one tenant's business and of the connection.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveState {
    /// The latest statistics and the log position they reflect.
    pub stats: Option<Envelope<Stats>>,
    /// Connection status.
    pub status: Status,
    /// Last measured round trip of the health ping, in milliseconds.
    pub rtt_ms: Option<u32>,
    /// Server time of the last event applied, milliseconds since the Unix epoch.
    pub last_event_at: Option<i64>,
    /// Events received that did not decode as their catalogue type.
    pub malformed: u64,
}

impl Default for LiveState {
    fn default() -> Self {
        LiveState {
            stats: None,
            status: Status::Offline,
            rtt_ms: None,
            last_event_at: None,
            malformed: 0,
        }
    }
}

impl LiveState {
    /// Folds one event in. Returns whether anything changed, so wrappers can skip
    /// notifying.
    pub fn apply(&mut self, event: &Event) -> bool {
        match event {
            Event::Status(s) => {
                self.status = s.clone();
                true
            }
            Event::Rtt(d) => {
                self.rtt_ms = Some(d.as_millis().min(u32::MAX as u128) as u32);
                true
            }
            Event::Message(m) if m.event == STATS_UPDATED => {
                match m.args.first().cloned().map(serde_json::from_value::<Envelope<Stats>>) {
                    Some(Ok(env)) => {
                        // An older snapshot (e.g. replayed late) must not overwrite a newer one.
                        if self.stats.as_ref().is_some_and(|s| s.seq > env.seq) {
                            return false;
                        }
                        self.last_event_at = Some(env.ts);
                        self.stats = Some(env);
                    }
                    _ => self.malformed += 1,
                }
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Message;
    use serde_json::json;
    use std::time::Duration;

    fn stats_msg(seq: u64, liters: f64) -> Event {
        Event::Message(Message {
            event: STATS_UPDATED.into(),
            args: vec![json!({ "seq": seq, "ts": 1000 + seq as i64, "data": {
                "today_liters": liters, "today_sales": 0.0, "today_collection": 0.0,
                "outstanding": 0.0, "active_customers": 0, "deliveries_today": 0 } })],
            attachments: vec![],
            ack_id: None,
        })
    }

    #[test]
    fn applies_stats_status_and_rtt() {
        let mut s = LiveState::default();
        assert!(s.apply(&Event::Status(Status::Live)));
        assert!(s.apply(&Event::Rtt(Duration::from_millis(12))));
        assert!(s.apply(&stats_msg(3, 10.5)));
        assert_eq!(s.status, Status::Live);
        assert_eq!(s.rtt_ms, Some(12));
        assert_eq!(s.stats.as_ref().unwrap().data.today_liters, 10.5);
        assert_eq!(s.last_event_at, Some(1003));
    }

    #[test]
    fn older_snapshots_do_not_win() {
        let mut s = LiveState::default();
        s.apply(&stats_msg(5, 50.0));
        assert!(!s.apply(&stats_msg(4, 40.0)));
        assert_eq!(s.stats.as_ref().unwrap().seq, 5);
    }

    #[test]
    fn malformed_stats_are_counted_not_applied() {
        let mut s = LiveState::default();
        let bad = Event::Message(Message {
            event: STATS_UPDATED.into(),
            args: vec![json!("nope")],
            attachments: vec![],
            ack_id: None,
        });
        s.apply(&bad);
        assert_eq!((s.stats.is_none(), s.malformed), (true, 1));
    }
}
