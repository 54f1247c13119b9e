//! This module deals with the overview page: today's headline figures with their change
//! against this time yesterday, the live per-minute chart, the latest deliveries and
//! payments (updated in place), and the activity feed.

use crate::topics::use_topics;
use leptos::prelude::*;
use pulse_protocol::events::{Delivery, Payment, PaymentMethod, Stats};

use crate::api;
use crate::components::clock::{wall_ms, Clock};
use crate::components::kpi_card::{KpiCard, Trend};
use crate::components::minute_chart::MinuteChart;
use crate::figures::{outstanding_change, DayFigures};
use crate::format;
use crate::live::Live;
use crate::session::Auth;

/// Rows in each of the recent tables.
const RECENT_ROWS: usize = 8;
/// More of yesterday than this and the comparison is left out rather than guessed.
const YESTERDAY_PAGES: usize = 20;

/// Yesterday's figures up to this time of day, from REST (the server's stats carry today
/// only). `None` while loading or when yesterday was too large to sum here.
async fn yesterday(auth: Auth) -> Option<DayFigures> {
    let now = wall_ms();
    let day = format::yesterday_of(now);
    let (ds, dt) = api::get_pages::<Delivery>(
        auth,
        &format!("/api/deliveries?date={day}"),
        YESTERDAY_PAGES,
        |_| false,
    )
    .await
    .ok()?;
    let (ps, pt) = api::get_pages::<Payment>(
        auth,
        &format!("/api/payments?date={day}"),
        YESTERDAY_PAGES,
        |_| false,
    )
    .await
    .ok()?;
    if ds.len() as u64 != dt || ps.len() as u64 != pt {
        return None;
    }
    Some(DayFigures::until(&ds, &ps, now - 86_400_000))
}

/// The overview page.
#[component]
pub fn Overview() -> impl IntoView {
    use_topics(crate::route::Page::Overview.topics());
    let live = crate::context::<Live>();
    let clock = crate::context::<Clock>();
    let auth = crate::context::<Auth>();
    let offset = format::local_offset_min();
    // Yesterday's figures, once, for the deltas (a signal, not a resource: nothing here
    // suspends on them).
    let before = RwSignal::new(None::<DayFigures>);
    leptos::task::spawn_local(async move {
        if let Some(y) = yesterday(auth).await {
            // The page may be gone by now.
            let _ = before.try_set(Some(y));
        }
    });
    let stat = move |f: fn(&Stats) -> String| {
        Signal::derive(move || live.stats.with(|s| s.as_ref().map(|e| f(&e.data))))
    };
    let delta = move |now: fn(&Stats) -> f64, then: fn(&DayFigures) -> f64| {
        Signal::derive(move || {
            let today = live.stats.with(|s| s.as_ref().map(|e| now(&e.data)))?;
            let y = before.get()?;
            let y = then(&y);
            Some(match format::change_pct(today, y) {
                Some(p) => (format!("{p} vs yesterday"), Trend::of(today - y)),
                None if today > 0.0 => ("none yesterday by now".to_owned(), Trend::Flat),
                None => ("same as yesterday".to_owned(), Trend::Flat),
            })
        })
    };
    let outstanding_delta = Signal::derive(move || {
        let c = live.stats.with(|s| s.as_ref().map(|e| outstanding_change(&e.data)))?;
        let sign = if c < 0.0 { "\u{2212}" } else { "+" };
        Some((format!("{sign}{} since yesterday", format::money(c.abs())), Trend::of(c)))
    });
    let updated = move || match live.last_event_at.get() {
        Some(ts) => format!("Updated {}", format::ago(clock.wall_ms.get() - ts)),
        None => "Waiting for data…".to_owned(),
    };
    let deliveries =
        move || live.deliveries.with(|d| d.iter().take(RECENT_ROWS).cloned().collect::<Vec<_>>());
    let payments =
        move || live.payments.with(|p| p.iter().take(RECENT_ROWS).cloned().collect::<Vec<_>>());
    let activity = move || live.activity.with(|a| a.iter().take(15).cloned().collect::<Vec<_>>());
    view! {
        <div class="page-head">
            <h1>"Today"</h1>
            <p class="muted" data-testid="last-updated" aria-live="off">{updated}</p>
        </div>
        <div class="kpis">
            <KpiCard label="Liters delivered" testid="kpi-liters" value=stat(|s| format::liters(s.today_liters))
                delta=delta(|s| s.today_liters, |y| y.liters) />
            <KpiCard label="Sales" testid="kpi-sales" value=stat(|s| format::money(s.today_sales))
                delta=delta(|s| s.today_sales, |y| y.sales) />
            <KpiCard label="Collected" testid="kpi-collection" value=stat(|s| format::money(s.today_collection))
                delta=delta(|s| s.today_collection, |y| y.collection) />
            <KpiCard label="Outstanding" testid="kpi-outstanding" value=stat(|s| format::money(s.outstanding))
                delta=outstanding_delta />
            <KpiCard label="Active customers" testid="kpi-active" value=stat(|s| format::count(s.active_customers as u64))
                delta=delta(|s| s.active_customers as f64, |y| y.active_customers as f64) />
            <KpiCard label="Deliveries" testid="kpi-deliveries" value=stat(|s| format::count(s.deliveries_today as u64))
                delta=delta(|s| s.deliveries_today as f64, |y| y.deliveries as f64) />
        </div>
        <section class="card">
            <h2 class="card-title">"Sales and deliveries per minute"</h2>
            <MinuteChart buckets=live.chart />
        </section>
        <div class="grid-2">
            <section class="card" aria-labelledby="recent-deliveries">
                <div class="card-head">
                    <h2 class="card-title" id="recent-deliveries">"Recent deliveries"</h2>
                    <a href="/deliveries">"All deliveries"</a>
                </div>
                <table class="table" data-testid="recent-deliveries">
                    <thead><tr><th>"Time"</th><th>"Customer"</th><th class="num">"Liters"</th><th class="num">"Amount"</th></tr></thead>
                    <tbody>
                        {move || deliveries().into_iter().map(|d| view! {
                            <tr data-id=d.id>
                                <td class="mono">{format::time_of_day(d.updated_at, offset)}</td>
                                <td class="ellipsis">{d.customer_name}</td>
                                <td class="num">{format::liters(d.quantity)}</td>
                                <td class="num">{format::money(d.amount)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
            <section class="card" aria-labelledby="recent-payments">
                <div class="card-head">
                    <h2 class="card-title" id="recent-payments">"Recent payments"</h2>
                    <a href="/payments">"All payments"</a>
                </div>
                <table class="table" data-testid="recent-payments">
                    <thead><tr><th>"Time"</th><th>"Customer"</th><th>"Method"</th><th class="num">"Amount"</th></tr></thead>
                    <tbody>
                        {move || payments().into_iter().map(|p| view! {
                            <tr data-id=p.id>
                                <td class="mono">{format::time_of_day(p.created_at, offset)}</td>
                                <td class="ellipsis">{p.customer_name}</td>
                                <td>{method_name(p.method)}</td>
                                <td class="num">{format::money(p.amount)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        </div>
        <section class="card" aria-labelledby="activity-title">
            <h2 class="card-title" id="activity-title">"Activity"</h2>
            <ol class="feed" data-testid="activity">
                {move || activity().into_iter().map(|a| view! {
                    <li>
                        <time class="mono muted">{format::time_of_day_s(a.ts, offset)}</time>
                        <span class="feed-actor">{a.actor}</span>
                        <span class="feed-text">{a.summary}</span>
                    </li>
                }).collect_view()}
            </ol>
        </section>
    }
}

/// A payment method as people read it.
pub fn method_name(m: PaymentMethod) -> &'static str {
    match m {
        PaymentMethod::Cash => "Cash",
        PaymentMethod::Mobile => "Mobile",
        PaymentMethod::Bank => "Bank",
    }
}
