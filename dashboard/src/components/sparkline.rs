//! This module deals with a small inline SVG line of recent values (the RTT history).

use leptos::prelude::*;

use crate::chart::nice_ceiling;
use crate::format;

/// Polyline points for `values` in a `w`×`h` box, oldest on the left, zero at the bottom.
pub fn points(values: &[f64], w: f64, h: f64) -> String {
    let max = nice_ceiling(values.iter().copied().fold(0.0, f64::max));
    let n = values.len().max(2) - 1;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{},{}",
                format::fixed(i as f64 * w / n as f64, 1),
                format::fixed(h - v / max * h, 1)
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A sparkline.
#[component]
pub fn Sparkline(
    /// The values, oldest first.
    #[prop(into)]
    values: Signal<Vec<f64>>,
    /// What it shows, for screen readers.
    label: &'static str,
) -> impl IntoView {
    view! {
        <svg class="sparkline" viewBox="0 0 200 40" preserveAspectRatio="none" role="img" aria-label=label>
            <polyline points=move || points(&values.get(), 200.0, 38.0) fill="none" vector-effect="non-scaling-stroke" />
        </svg>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_scale_to_a_round_maximum() {
        assert_eq!(points(&[0.0, 5.0, 10.0], 100.0, 10.0), "0.0,10.0 50.0,5.0 100.0,0.0");
        assert_eq!(points(&[4.0], 100.0, 10.0), "0.0,2.0");
    }
}
