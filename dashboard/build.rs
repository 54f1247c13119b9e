//! With the `split` feature, the wasm binary keeps the linker's relocations: wasm-split
//! (scripts/split-dashboard.mjs, run by trunk) needs them to cut the pages loaded on demand
//! out of the main module.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "wasm32");
    if wasm && std::env::var_os("CARGO_FEATURE_SPLIT").is_some() {
        println!("cargo:rustc-link-arg-bins=--emit-relocs");
    }
}
