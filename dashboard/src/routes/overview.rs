//! This module deals with the overview page: today's headline figures, live.

use leptos::prelude::*;
use pulse_sdk::store::leptos::LiveSignals;

use crate::components::clock::Clock;
use crate::components::kpi_card::KpiCard;
use crate::format;

/// Today's KPIs, updated as `stats:updated` arrives, with when they last changed.
#[component]
pub fn Overview() -> impl IntoView {
    let live = expect_context::<LiveSignals>();
    let clock = expect_context::<Clock>();
    let stat = move |f: fn(&pulse_protocol::events::Stats) -> String| {
        Signal::derive(move || live.stats.with(|s| s.as_ref().map(|e| f(&e.data))))
    };
    let updated = move || match live.last_event_at.get() {
        Some(ts) => format!("Updated {}", format::ago(clock.wall_ms.get() - ts)),
        None => "Waiting for data…".to_owned(),
    };
    view! {
        <div class="page-head">
            <h1>"Today"</h1>
            <p class="muted" data-testid="last-updated">{updated}</p>
        </div>
        <div class="kpis">
            <KpiCard label="Liters delivered" testid="kpi-liters" value=stat(|s| format::liters(s.today_liters)) />
            <KpiCard label="Sales" testid="kpi-sales" value=stat(|s| format::money(s.today_sales)) />
            <KpiCard label="Collected" testid="kpi-collection" value=stat(|s| format::money(s.today_collection)) />
            <KpiCard label="Outstanding" testid="kpi-outstanding" value=stat(|s| format::money(s.outstanding)) />
            <KpiCard label="Active customers" testid="kpi-active" value=stat(|s| format::count(s.active_customers as u64)) />
            <KpiCard label="Deliveries" testid="kpi-deliveries" value=stat(|s| format::count(s.deliveries_today as u64)) />
        </div>
    }
}
