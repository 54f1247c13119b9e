//! This module deals with one headline figure: a label over a large value, and its change
//! against yesterday.

use leptos::prelude::*;

/// Which way a change points, for its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    /// Up.
    Up,
    /// Down.
    Down,
    /// No change.
    Flat,
}

impl Trend {
    /// The trend of `x`.
    pub fn of(x: f64) -> Trend {
        if x > 1e-9 {
            Trend::Up
        } else if x < -1e-9 {
            Trend::Down
        } else {
            Trend::Flat
        }
    }

    fn name(self) -> &'static str {
        match self {
            Trend::Up => "up",
            Trend::Down => "down",
            Trend::Flat => "flat",
        }
    }
}

/// A KPI card. The value keeps tabular figures and a fixed line box, so updates do not shift
/// the layout.
#[component]
pub fn KpiCard(
    /// What the figure is, e.g. "Liters delivered".
    label: &'static str,
    /// The formatted figure; `None` while no data has arrived.
    #[prop(into)]
    value: Signal<Option<String>>,
    /// The change and its direction, e.g. `("+12.0% vs yesterday", Up)`; `None` hides it.
    #[prop(into, optional)]
    delta: Option<Signal<Option<(String, Trend)>>>,
    /// A stable name for tests and styling.
    testid: &'static str,
) -> impl IntoView {
    let delta_view = delta.map(|d| {
        view! {
            <p
                class="kpi-delta"
                data-testid=format!("{testid}-delta")
                data-trend=move || d.get().map_or("none", |(_, t)| t.name())
            >
                {move || d.get().map(|(s, _)| s).unwrap_or_else(|| "\u{a0}".to_owned())}
            </p>
        }
    });
    view! {
        <section class="kpi" data-testid=testid aria-label=label>
            <h3 class="kpi-label">{label}</h3>
            <p class="kpi-value">{move || value.get().unwrap_or_else(|| "—".to_owned())}</p>
            {delta_view}
        </section>
    }
}
