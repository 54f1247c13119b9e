//! This module deals with the customer picker of the delivery and payment forms: every
//! customer by name, kept live, or only those taking new deliveries.

use leptos::prelude::*;

use crate::live::Live;

/// A required `<select>` of customers, "Choose…" first; its value is the customer's id.
#[component]
pub fn CustomerSelect(
    /// The chosen id as text, empty for none.
    value: RwSignal<String>,
    /// Lists only active customers (deactivated ones take no new deliveries).
    #[prop(optional)]
    active_only: bool,
    /// The element's `data-testid`.
    testid: &'static str,
) -> impl IntoView {
    let live = crate::context::<Live>();
    let customers = move || {
        live.customers.with(|m| {
            m.values()
                .filter(|c| c.active || !active_only)
                .map(|c| (c.id, c.name.clone()))
                .collect::<Vec<_>>()
        })
    };
    view! {
        <select required data-testid=testid prop:value=value on:change=move |e| value.set(event_target_value(&e))>
            <option value="">"Choose…"</option>
            <For each=customers key=|c| c.0 let:c>
                <option value=c.0.to_string()>{c.1}</option>
            </For>
        </select>
    }
}
