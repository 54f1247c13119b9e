//! This module deals with one headline figure: a label over a large value.

use leptos::prelude::*;

/// A KPI card. The value keeps a fixed-width font so updates do not shift the layout.
#[component]
pub fn KpiCard(
    /// What the figure is, e.g. "Today's liters".
    label: &'static str,
    /// The formatted figure; `None` while no data has arrived.
    #[prop(into)]
    value: Signal<Option<String>>,
    /// A stable name for tests and styling.
    testid: &'static str,
) -> impl IntoView {
    view! {
        <section class="kpi" data-testid=testid aria-label=label>
            <h3 class="kpi-label">{label}</h3>
            <p class="kpi-value">{move || value.get().unwrap_or_else(|| "—".to_owned())}</p>
        </section>
    }
}
