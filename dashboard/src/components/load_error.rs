//! This module deals with the line a page shows when its list could not be loaded.

use leptos::prelude::*;

/// "Could not load …: why", while there is an error.
#[component]
pub fn LoadError(
    /// What was being loaded, e.g. "deliveries".
    what: &'static str,
    /// Why it failed, if it did.
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    move || {
        error.get().map(|e| {
            view! { <p class="form-error" role="alert">{format!("Could not load {what}: {e}")}</p> }
        })
    }
}
