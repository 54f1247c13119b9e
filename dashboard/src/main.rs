//! Mounts the dashboard; everything else is in the library so tests can mount parts.

fn main() {
    #[cfg(target_arch = "wasm32")]
    {
        console_error_panic_hook::set_once();
        leptos::mount::mount_to_body(pulse_dashboard::App);
    }
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("pulse-dashboard runs in the browser: build it with `trunk build --release`.");
}
