//! This module deals with exposing [`LiveState`] to Leptos: one signal per field, so a
//! component that shows the RTT does not re-render when stats arrive.

use leptos::prelude::*;
use pulse_protocol::events::Stats;
use pulse_protocol::Envelope;

use super::LiveState;
use crate::client::{Client, Subscription};
use crate::connection::Status;

/// Leptos signals mirroring a client's [`LiveState`]. Copy it into components freely.
#[derive(Debug, Clone, Copy)]
pub struct LiveSignals {
    /// Latest statistics.
    pub stats: RwSignal<Option<Envelope<Stats>>>,
    /// Connection status.
    pub status: RwSignal<Status>,
    /// Last health-ping round trip, ms.
    pub rtt_ms: RwSignal<Option<u32>>,
    /// Server time of the last event, ms since the epoch.
    pub last_event_at: RwSignal<Option<i64>>,
}

impl LiveSignals {
    /// Creates the signals and keeps them in sync with `client` while the returned
    /// subscription lives.
    pub fn attach(client: &Client) -> (LiveSignals, Subscription) {
        let initial = LiveState { status: client.status(), ..LiveState::default() };
        let signals = LiveSignals {
            stats: RwSignal::new(None),
            status: RwSignal::new(initial.status.clone()),
            rtt_ms: RwSignal::new(None),
            last_event_at: RwSignal::new(None),
        };
        let state = std::sync::Mutex::new(initial);
        let sub = client.on_any(move |event| {
            let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
            let before = s.clone();
            if !s.apply(event) {
                return;
            }
            if s.stats != before.stats {
                signals.stats.set(s.stats.clone());
            }
            if s.status != before.status {
                signals.status.set(s.status.clone());
            }
            if s.rtt_ms != before.rtt_ms {
                signals.rtt_ms.set(s.rtt_ms);
            }
            if s.last_event_at != before.last_event_at {
                signals.last_event_at.set(s.last_event_at);
            }
        });
        (signals, sub)
    }
}
