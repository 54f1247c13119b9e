//! This module deals with the overview's live chart: deliveries per minute as bars and their
//! value per minute as a line, over the last hour, in plain SVG. It re-renders at most once
//! per animation frame, when the coalesced series changes.

use leptos::prelude::*;

use crate::chart::{nice_ceiling, Bucket};
use crate::format;

const W: f64 = 600.0;
const H: f64 = 160.0;

/// The chart.
#[component]
pub fn MinuteChart(
    /// The hour, oldest minute first.
    #[prop(into)]
    buckets: Signal<Vec<Bucket>>,
) -> impl IntoView {
    let offset = format::local_offset_min();
    let scales = Memo::new(move |_| {
        buckets.with(|b| {
            let count = nice_ceiling(b.iter().map(|x| x.deliveries as f64).fold(0.0, f64::max));
            let sales = nice_ceiling(b.iter().map(|x| x.sales).fold(0.0, f64::max));
            let total_d: u32 = b.iter().map(|x| x.deliveries).sum();
            let total_s: f64 = b.iter().map(|x| x.sales).sum();
            (count, sales, total_d, total_s)
        })
    });
    let bars = move || {
        let (count_max, _, _, _) = scales.get();
        buckets.with(|b| {
            let slot = W / b.len().max(1) as f64;
            b.iter()
                .enumerate()
                .filter(|(_, x)| x.deliveries > 0)
                .map(|(i, x)| {
                    let h = x.deliveries as f64 / count_max * H;
                    let tip = format!(
                        "{} · {} deliveries · {}",
                        format::time_of_day(x.minute * 60_000, offset),
                        x.deliveries,
                        format::money(x.sales)
                    );
                    view! {
                        <rect class="bar" x=format::fixed(i as f64 * slot + 1.0, 1) y=format::fixed(H - h, 1)
                            width=format::fixed((slot - 2.0).max(1.0), 1) height=format::fixed(h, 1)>
                            <title>{tip}</title>
                        </rect>
                    }
                })
                .collect_view()
        })
    };
    let line = move || {
        let (_, sales_max, _, _) = scales.get();
        buckets.with(|b| {
            let slot = W / b.len().max(1) as f64;
            b.iter()
                .enumerate()
                .map(|(i, x)| {
                    format!(
                        "{},{}",
                        format::fixed(i as f64 * slot + slot / 2.0, 1),
                        format::fixed(H - x.sales / sales_max * H, 1)
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
    };
    let summary = move || {
        let (c, s, d, t) = scales.get();
        format!(
            "Last hour: {} deliveries worth {}. Scale: up to {} deliveries and {} per minute.",
            format::count(d as u64),
            format::money(t),
            format::shortest(c),
            format::money(s)
        )
    };
    view! {
        <figure class="chart" data-testid="minute-chart">
            <div class="chart-legend">
                <span class="legend-item"><i class="swatch swatch-bars"></i>"Deliveries / min"
                    <span class="muted">" (max " {move || format::shortest(scales.get().0)} ")"</span></span>
                <span class="legend-item"><i class="swatch swatch-line"></i>"Sales / min"
                    <span class="muted">" (max " {move || format::money(scales.get().1)} ")"</span></span>
            </div>
            <svg viewBox=format!("0 0 {} {}", format::shortest(W), format::shortest(H)) preserveAspectRatio="none" role="img" aria-label=summary>
                <line class="grid" x1="0" x2=format::shortest(W) y1=format::shortest(H / 2.0) y2=format::shortest(H / 2.0) />
                <line class="axis" x1="0" x2=format::shortest(W) y1=format::shortest(H - 0.5) y2=format::shortest(H - 0.5) />
                <g>{bars}</g>
                <polyline class="line" points=line fill="none" vector-effect="non-scaling-stroke" />
            </svg>
            <figcaption class="chart-axis">
                <span>"60 min ago"</span>
                <span>"30 min"</span>
                <span>"now"</span>
            </figcaption>
        </figure>
    }
}
