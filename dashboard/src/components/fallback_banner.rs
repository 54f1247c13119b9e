//! This module deals with the banners shown while live updates are paused: on REST polling
//! fallback (data still refreshes every N s), or offline with nothing arriving at all; and
//! while the figures shown are this browser's last snapshot, with their time.

use leptos::prelude::*;
use pulse_sdk::Status;

use super::clock::Clock;
use crate::format;
use crate::live::Live;

/// The banner; absent while live.
#[component]
pub fn FallbackBanner() -> impl IntoView {
    let live = crate::context::<Live>();
    let clock = crate::context::<Clock>();
    let text = move || {
        let now = clock.instant.get();
        live.status.with(|s| match s {
            Status::Polling { every, retry_at, .. } => {
                let retry = retry_at
                    .map(|at| format!(" Reconnecting {}.", format::countdown(at.saturating_duration_since(now))))
                    .unwrap_or_else(|| " Reconnecting now.".to_owned());
                Some((
                    "polling",
                    format!(
                        "Live updates are paused: the connection is down, so data refreshes every {} s.{retry}",
                        every.as_secs().max(1)
                    ),
                ))
            }
            Status::Offline => Some((
                "offline",
                "Offline: nothing is being updated. Actions you make are kept and sent when the connection is back."
                    .to_owned(),
            )),
            _ => None,
        })
    };
    let stale = move || {
        live.stale_since.get().map(|at| {
            let time = format::time_of_day(at, format::local_offset_min());
            view! {
                <div class="banner" data-kind="stale" data-testid="stale-banner" role="status">
                    {format!("Showing the figures from {time}, when this browser last saw them: they are not current.")}
                </div>
            }
        })
    };
    view! {
        {move || {
            text().map(|(kind, t)| {
                view! {
                    <div class="banner" data-kind=kind data-testid="fallback-banner" role="status">
                        {t}
                    </div>
                }
            })
        }}
        {stale}
    }
}
