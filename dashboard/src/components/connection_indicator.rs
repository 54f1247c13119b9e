//! This module deals with the always-visible connection indicator: live (green), connecting
//! or reconnecting with a countdown (amber), polling fallback (amber), offline (red), with the
//! RTT when known, and saying so when the live session runs on long-polling (a proxy refused
//! the WebSocket).

use crate::live::Live;
use leptos::prelude::*;
use pulse_sdk::{Status, Transport};
use web_time::Instant;

use super::clock::Clock;
use crate::format;

/// The indicator's state name (also its `data-state`, which styles and tests key on) and its
/// label.
pub fn describe(
    status: &Status,
    rtt_ms: Option<u32>,
    transport: Option<Transport>,
    now: Instant,
) -> (&'static str, String) {
    match status {
        Status::Live => {
            let mut label = "Live".to_owned();
            if transport == Some(Transport::Polling) {
                label.push_str(" · long-polling");
            }
            if let Some(ms) = rtt_ms {
                label.push_str(&format!(" · {ms} ms"));
            }
            ("live", label)
        }
        Status::Connecting => ("connecting", "Connecting…".to_owned()),
        Status::Reconnecting { attempt, retry_at: Some(at) } => (
            "reconnecting",
            format!(
                "Reconnecting {} (attempt {attempt})",
                format::countdown(at.saturating_duration_since(now))
            ),
        ),
        Status::Reconnecting { attempt, retry_at: None } => {
            ("reconnecting", format!("Reconnecting… (attempt {attempt})"))
        }
        Status::Polling { every, .. } => {
            ("polling", format!("Polling every {} s", every.as_secs().max(1)))
        }
        Status::Offline => ("offline", "Offline".to_owned()),
    }
}

/// Shows the connection state; announced politely to screen readers when it changes.
#[component]
pub fn ConnectionIndicator() -> impl IntoView {
    let live = crate::context::<Live>();
    let clock = crate::context::<Clock>();
    let described = Memo::new(move |_| {
        let now = clock.instant.get();
        live.status.with(|s| describe(s, live.rtt_ms.get(), live.transport.get(), now))
    });
    view! {
        <div
            class="conn"
            data-testid="connection"
            data-state=move || described.with(|d| d.0)
            role="status"
            aria-live="polite"
        >
            <span class="conn-dot" aria-hidden="true"></span>
            <span class="conn-label">{move || described.with(|d| d.1.clone())}</span>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn describes_each_state() {
        let now = Instant::now();
        assert_eq!(describe(&Status::Live, Some(12), None, now), ("live", "Live · 12 ms".into()));
        assert_eq!(describe(&Status::Live, None, None, now).1, "Live");
        let ws = Some(Transport::WebSocket);
        assert_eq!(describe(&Status::Live, Some(12), ws, now).1, "Live · 12 ms");
        let polled = describe(&Status::Live, Some(40), Some(Transport::Polling), now);
        assert_eq!(polled, ("live", "Live · long-polling · 40 ms".into()));
        assert_eq!(describe(&Status::Offline, None, None, now).0, "offline");
        let r =
            Status::Reconnecting { attempt: 2, retry_at: Some(now + Duration::from_millis(2500)) };
        assert_eq!(
            describe(&r, None, None, now),
            ("reconnecting", "Reconnecting in 3 s (attempt 2)".into())
        );
        let p = Status::Polling { attempt: 2, retry_at: None, every: Duration::from_secs(10) };
        assert_eq!(describe(&p, None, None, now), ("polling", "Polling every 10 s".into()));
        let r = Status::Reconnecting { attempt: 3, retry_at: None };
        assert_eq!(describe(&r, None, None, now).1, "Reconnecting… (attempt 3)");
    }
}
