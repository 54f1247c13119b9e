//! This module deals with the banner shown while live updates are paused: on REST polling
//! fallback (data still refreshes every N s), or offline with nothing arriving at all.

use leptos::prelude::*;
use pulse_sdk::Status;

use super::clock::Clock;
use crate::format;
use crate::live::Live;

/// The banner; absent while live.
#[component]
pub fn FallbackBanner() -> impl IntoView {
    let live = expect_context::<Live>();
    let clock = expect_context::<Clock>();
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
    move || {
        text().map(|(kind, t)| {
            view! {
                <div class="banner" data-kind=kind data-testid="fallback-banner" role="status">
                    {t}
                </div>
            }
        })
    }
}
