//! Mounts the dashboard; everything else is in the library so tests can mount parts.

// talc in place of Rust's default dlmalloc: smaller, and faster per event (bench/ANALYSIS.md).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

fn main() {
    #[cfg(target_arch = "wasm32")]
    {
        console_error_panic_hook::set_once();
        leptos::mount::mount_to_body(pulse_dashboard::App);
    }
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("pulse-dashboard runs in the browser: build it with `trunk build --release`.");
}
