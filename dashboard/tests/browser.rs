//! The dashboard's number text in a real headless Chromium: in the browser, parsing and the
//! shortest form are JavaScript's (see `format`), and must read and write what Rust's own
//! `parse` and `to_string` do, which the native tests cannot see.
#![cfg(target_arch = "wasm32")]

use pulse_dashboard::format::{fixed, number, positive, shortest};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Screen-sized values, the edges of rounding, and a spread of magnitudes from a fixed-seed
/// generator (the same values every run).
fn samples() -> Vec<f64> {
    let mut v = vec![
        0.0,
        0.1,
        0.2,
        0.3,
        2.5,
        1.25,
        0.25,
        3.0,
        12.75,
        999.99,
        1e-6,
        123_456.789,
        1e20,
        -0.5,
        -42.0,
        9_007_199_254_740_993.0,
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..5_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend([(x % 1_000_000_000) as f64 / 1000.0, (x % 100_000) as f64 / 64.0]);
        let y = f64::from_bits(x);
        // The range in which JavaScript writes no exponent.
        if y.is_finite() && (1e-6..1e21).contains(&y.abs()) {
            v.push(y);
        }
    }
    v
}

#[wasm_bindgen_test]
fn the_shortest_form_is_rusts_and_reads_back() {
    for x in samples() {
        assert_eq!(shortest(x), x.to_string(), "{x:e}");
        assert_eq!(number(&shortest(x)).map(f64::to_bits), Some(x.to_bits()), "{x:e}");
    }
}

#[wasm_bindgen_test]
fn fixed_decimals_are_formats() {
    for x in samples() {
        for d in 0..=4u32 {
            assert_eq!(fixed(x, d), format!("{x:.p$}", p = d as usize), "{x:e} with {d}");
        }
    }
}

#[wasm_bindgen_test]
fn parsing_reads_what_rust_reads_and_nothing_else() {
    let good = [
        "12",
        " 12.5 ",
        "-0.5",
        "+3",
        ".5",
        "5.",
        "1.5e3",
        "1E-3",
        "0.1",
        "007",
        "1e-400",
        "123456789.123456789",
        "2.2250738585072011e-308",
    ];
    for t in good {
        assert_eq!(number(t), t.trim().parse::<f64>().ok(), "{t:?}");
    }
    let bad = [
        "",
        "  ",
        "0x1A",
        "0b11",
        "0o7",
        "Infinity",
        "-Infinity",
        "inf",
        "NaN",
        "1e400",
        "1,5",
        "12abc",
        ".",
        "e5",
        "1e",
        "--1",
        "1_000",
    ];
    for t in bad {
        assert_eq!(number(t), None, "{t:?}");
    }
    assert_eq!(positive("0"), None);
    assert_eq!(positive("2.5"), Some(2.5));
}

#[wasm_bindgen_test]
fn case_folding_is_rusts() {
    use pulse_dashboard::format::lower;
    for t in ["Amina", "ÉCOLE Dupré", "ΟΔΟΣ Σ", "İstanbul", "ǅemal", "Straße 7", "MİLK ﬀ", ""]
    {
        assert_eq!(lower(t), t.to_lowercase(), "{t:?}");
    }
}
