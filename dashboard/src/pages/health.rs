//! This module deals with the system health page (at `/system`: the server owns `/health`): this tab's connection (state, transport,
//! session id, RTT history, reconnections, last event) and the server's figures from
//! `/health` and `/metrics` (connections, events per second), sampled every few seconds
//! while the page is open.

use std::time::Duration;

use leptos::prelude::*;
use pulse_protocol::rest::Health;
use pulse_sdk::{Status, Transport};

use crate::api;
use crate::components::clock::{wall_ms, Clock};
use crate::components::connection_indicator::describe;
use crate::components::sparkline::Sparkline;
use crate::format;
use crate::live::Live;

const SAMPLE: Duration = Duration::from_secs(3);

/// The sum of every sample of counter `name` in a Prometheus text exposition.
pub fn counter_total(text: &str, name: &str) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name) else { continue };
        if !(rest.starts_with('{') || rest.starts_with(' ')) {
            continue; // a longer name with the same prefix
        }
        if let Some(v) = rest.rsplit(' ').next().and_then(format::number) {
            *found.get_or_insert(0.0) += v;
        }
    }
    found
}

/// Events per second between two counter samples taken `ms` apart.
pub fn rate(before: f64, after: f64, ms: i64) -> f64 {
    if ms <= 0 || after < before {
        return 0.0;
    }
    (after - before) * 1000.0 / ms as f64
}

/// Where this tab's data flows: the Engine.IO transport while live, the REST fallback's
/// polls of the event log while the socket is down.
fn transport(s: &Status, t: Option<Transport>) -> &'static str {
    match (s, t) {
        (Status::Live, Some(Transport::Polling)) => "HTTP long-polling",
        (Status::Live, _) => "WebSocket",
        (Status::Polling { .. }, _) => "REST polling (fallback)",
        _ => "none",
    }
}

/// The cluster's nodes as `/health` lists them, or the one node.
fn peers(h: &Health) -> String {
    if h.peers.is_empty() {
        return h.node.clone();
    }
    h.peers.iter().map(|p| p.node.as_str()).collect::<Vec<_>>().join(", ")
}

/// The health page.
#[component]
pub fn HealthPage() -> impl IntoView {
    let live = crate::context::<Live>();
    let clock = crate::context::<Clock>();
    let offset = format::local_offset_min();
    let health = RwSignal::new(None::<Result<Health, String>>);
    let server_rate = RwSignal::new(None::<f64>);
    let client_rate = RwSignal::new(None::<f64>);
    let last = StoredValue::new(None::<(i64, f64, u64)>);
    let sample = move || {
        leptos::task::spawn_local(async move {
            let h = api::public::<Health>("GET", "/health", None::<&()>)
                .await
                .map_err(|e| e.to_string());
            health.try_set(Some(h));
            let metrics = api::public_text("/metrics").await.ok();
            let emitted =
                metrics.as_deref().and_then(|m| counter_total(m, "pulse_events_emitted_total"));
            let now = wall_ms();
            // The page may be gone by now.
            let Some(events) = live.link.try_with_untracked(|l| l.events) else { return };
            if let (Some(e), Some((t, before, ev_before))) =
                (emitted, last.try_get_value().flatten())
            {
                server_rate.try_set(Some(rate(before, e, now - t)));
                client_rate.try_set(Some(rate(ev_before as f64, events as f64, now - t)));
            }
            if let Some(e) = emitted {
                last.try_set_value(Some((now, e, events)));
            }
        });
    };
    sample();
    crate::components::clock::every(SAMPLE, sample);
    let state = move || {
        live.status
            .with(|s| describe(s, live.rtt_ms.get(), live.transport.get(), clock.instant.get()))
    };
    let rtts = Signal::derive(move || {
        live.link.with(|l| l.rtt_history.iter().map(|&r| r as f64).collect::<Vec<_>>())
    });
    let rtt_text = move || {
        live.link.with(|l| {
            if l.rtt_history.is_empty() {
                "no sample yet (one every 30 s)".to_owned()
            } else {
                let min = l.rtt_history.iter().min().copied().unwrap_or(0);
                let max = l.rtt_history.iter().max().copied().unwrap_or(0);
                format!(
                    "last {} ms · min {min} · max {max} ({} samples)",
                    l.rtt_history.back().copied().unwrap_or(0),
                    l.rtt_history.len()
                )
            }
        })
    };
    let ago = move |t: Option<i64>| {
        t.map(|t| {
            format!(
                "{} ({})",
                format::time_of_day_s(t, offset),
                format::ago(clock.wall_ms.get() - t)
            )
        })
        .unwrap_or_else(|| "—".into())
    };
    let fmt_rate = |r: Option<f64>| {
        r.map(|r| format!("{} / s", format::fixed(r, 1))).unwrap_or_else(|| "measuring…".into())
    };
    view! {
        <div class="page-head"><h1>"System health"</h1></div>
        <div class="grid-2">
            <section class="card" aria-labelledby="conn-title" data-testid="health-connection">
                <h2 class="card-title" id="conn-title">"This connection"</h2>
                <dl class="facts">
                    <dt>"State"</dt><dd data-testid="health-state" data-state=move || state().0>{move || state().1}</dd>
                    <dt>"Transport"</dt><dd data-testid="health-transport">{move || live.status.with(|s| transport(s, live.transport.get()))}</dd>
                    <dt>"Session"</dt><dd class="mono ellipsis">{move || live.link.with(|l| l.sid.clone()).unwrap_or_else(|| "—".into())}</dd>
                    <dt>"Round trip"</dt><dd>{rtt_text}</dd>
                    <dt>"Connected since"</dt><dd>{move || ago(live.link.with(|l| l.connected_at))}</dd>
                    <dt>"Connections"</dt><dd>{move || live.link.with(|l| l.connects)}</dd>
                    <dt>"Reconnect attempts"</dt><dd data-testid="health-reconnects">{move || live.link.with(|l| l.reconnect_attempts)}</dd>
                    <dt>"Last disconnect"</dt><dd>{move || live.link.with(|l| l.last_disconnect.clone()).unwrap_or_else(|| "—".into())}</dd>
                    <dt>"Last event"</dt><dd data-testid="health-last-event">{move || ago(live.last_event_at.get())}</dd>
                    <dt>"Events received"</dt><dd>{move || format::count(live.link.with(|l| l.events))} " · " {move || fmt_rate(client_rate.get())}</dd>
                </dl>
                <h3 class="sub-title">"Round-trip history"</h3>
                <Sparkline values=rtts label="Round-trip times, oldest to newest" />
            </section>
            <section class="card" aria-labelledby="server-title" data-testid="health-server">
                <h2 class="card-title" id="server-title">"Server"</h2>
                {move || match health.get() {
                    None => view! { <p class="muted">"Asking the server…"</p> }.into_any(),
                    Some(Err(e)) => view! { <p class="form-error" role="alert">{format!("The server does not answer: {e}")}</p> }.into_any(),
                    Some(Ok(h)) => view! {
                        <dl class="facts">
                            <dt>"Status"</dt><dd data-testid="server-status">{h.status.clone()}</dd>
                            <dt>"Serving this tab"</dt><dd data-testid="server-node" class="mono">{h.node.clone()}{if h.leader { " (leader)" } else { "" }}</dd>
                            <dt>"Nodes"</dt><dd data-testid="server-peers" class="mono">{peers(&h)}</dd>
                            <dt>"Database"</dt><dd>{format!("{} · {}", h.backend, h.database)}</dd>
                            <dt>"Redis"</dt><dd>{h.redis.clone().unwrap_or_else(|| "not used (one node)".into())}</dd>
                            <dt>"Socket connections"</dt><dd data-testid="server-connections">{h.connections}</dd>
                            <dt>"Events emitted"</dt><dd data-testid="server-rate">{move || fmt_rate(server_rate.get())}</dd>
                            <dt>"Uptime"</dt><dd>{format!("{} h {} min", h.uptime_s / 3600, h.uptime_s / 60 % 60)}</dd>
                            <dt>"Version"</dt><dd>{h.version.clone()}</dd>
                        </dl>
                    }.into_any(),
                }}
            </section>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum_over_labels_and_skip_longer_names() {
        let text = "# TYPE pulse_events_emitted_total counter\n\
            pulse_events_emitted_total{event=\"a\"} 10\n\
            pulse_events_emitted_total{event=\"b\"} 5.5\n\
            pulse_events_emitted_total_other 99\n";
        assert_eq!(counter_total(text, "pulse_events_emitted_total"), Some(15.5));
        assert_eq!(counter_total(text, "missing"), None);
    }

    #[test]
    fn rates_per_second() {
        assert_eq!(rate(10.0, 40.0, 3_000), 10.0);
        assert_eq!(rate(40.0, 10.0, 3_000), 0.0, "a restarted server resets its counters");
        assert_eq!(rate(0.0, 5.0, 0), 0.0);
    }
}
