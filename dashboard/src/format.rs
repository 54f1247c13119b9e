//! This module deals with how numbers, times and durations read on screen. Pure functions, so
//! they are unit-tested natively.

use std::time::Duration;

/// `1234.5` → `"1,234.50"`: money with thousands separators and two decimals.
pub fn money(x: f64) -> String {
    let sign = if x < 0.0 { "-" } else { "" };
    let cents = (x.abs() * 100.0).round() as u64;
    format!("{sign}{}.{:02}", group(cents / 100), cents % 100)
}

/// `1234.5` → `"1,234.5 L"`: liters with one decimal.
pub fn liters(x: f64) -> String {
    let tenths = (x.abs() * 10.0).round() as u64;
    let sign = if x < 0.0 { "-" } else { "" };
    format!("{sign}{}.{} L", group(tenths / 10), tenths % 10)
}

/// `12345` → `"12,345"`.
pub fn count(n: u64) -> String {
    group(n)
}

fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// How long ago, in words: "just now", "12 s ago", "3 min ago", "2 h ago".
pub fn ago(elapsed_ms: i64) -> String {
    let s = elapsed_ms.max(0) / 1000;
    match s {
        0..=1 => "just now".to_owned(),
        2..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        _ => format!("{} h ago", s / 3600),
    }
}

/// A countdown rounded up to whole seconds: "in 3 s", or "now" when due.
pub fn countdown(left: Duration) -> String {
    let secs = u64::try_from(left.as_millis()).unwrap_or(u64::MAX).div_ceil(1000);
    if secs == 0 {
        "now".to_owned()
    } else {
        format!("in {secs} s")
    }
}

/// The UTC calendar day of `ms` since the epoch, `YYYY-MM-DD`: the server keeps days in UTC,
/// so "today" here must be the server's today.
pub use pulse_protocol::calendar::day_of;
use pulse_protocol::calendar::DAY_MS;

/// The day before `ms`'s UTC day.
pub fn yesterday_of(ms: i64) -> String {
    day_of(ms - DAY_MS)
}

/// `HH:MM` of `ms` in a zone `offset_min` minutes east of UTC (the browser's zone in the app).
pub fn time_of_day(ms: i64, offset_min: i32) -> String {
    let local = ms + i64::from(offset_min) * 60_000;
    let mins = local.rem_euclid(DAY_MS) / 60_000;
    format!("{:02}:{:02}", mins / 60, mins % 60)
}

/// `HH:MM:SS`, like [`time_of_day`].
pub fn time_of_day_s(ms: i64, offset_min: i32) -> String {
    let local = ms + i64::from(offset_min) * 60_000;
    let secs = local.rem_euclid(DAY_MS) / 1000;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// The browser's zone offset east of UTC, in minutes (0 off the browser).
pub fn local_offset_min() -> i32 {
    #[cfg(target_arch = "wasm32")]
    {
        // JS reports minutes *west* of UTC.
        -(js_sys::Date::new_0().get_timezone_offset() as i32)
    }
    #[cfg(not(target_arch = "wasm32"))]
    0
}

/// The change of `now` against `before` as a signed percentage, e.g. `"+12.5%"`, `"−3.0%"`.
/// `None` when there is nothing to compare with (`before` is zero).
pub fn change_pct(now: f64, before: f64) -> Option<String> {
    if before.abs() < 1e-9 {
        return None;
    }
    let pct = (now - before) / before.abs() * 100.0;
    let tenths = (pct.abs() * 10.0).round() as u64;
    let sign = if tenths == 0 {
        "±"
    } else if pct > 0.0 {
        "+"
    } else {
        "\u{2212}"
    };
    Some(format!("{sign}{}.{}%", group(tenths / 10), tenths % 10))
}

/// `text` in lower case, to match without regard to case. In the browser this is the
/// browser's own `toLowerCase` (the same Unicode mapping), which keeps Rust's case tables
/// (about 15 KB of the wasm bundle) out.
pub fn lower(text: &str) -> String {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::JsString::from(text).to_lower_case().into()
    }
    #[cfg(not(target_arch = "wasm32"))]
    text.to_lowercase()
}

/// A form field holding a finite number above zero, e.g. liters, prices, amounts.
pub fn positive(text: &str) -> Option<f64> {
    number(text).filter(|x| *x > 0.0)
}

// Numbers to and from text without Rust's float formatting and parsing code (with their
// tables, about 30 KB of the wasm bundle): fixed decimals are computed from the exact binary
// value here, and the shortest form and parsing are the browser's, which are exact too.

/// A finite decimal number (`12`, `-0.5`, `1.5e3`), surrounding whitespace allowed; `None`
/// for anything else, `inf` and `NaN` included.
pub fn number(text: &str) -> Option<f64> {
    let t = text.trim();
    // The browser's parser also reads `0x1A`, `Infinity` and an empty string (as 0): only
    // the characters of a decimal number go to either parser, so both read the same.
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit() || b".eE+-".contains(&b)) {
        return None;
    }
    #[cfg(target_arch = "wasm32")]
    let x = t.parse::<js_sys::Number>().map_or(f64::NAN, |n| n.value_of());
    #[cfg(not(target_arch = "wasm32"))]
    let x = t.parse::<f64>().unwrap_or(f64::NAN);
    x.is_finite().then_some(x)
}

/// `x` in its shortest form that reads back the same, as `x.to_string()` writes it (`2.5`,
/// `3`, `0.1`). In the browser, outside 1e-6 ≤ |x| < 1e21 (never a quantity or a price) it is
/// written with an exponent (`1e+21`), which a number field and [`number`] read back.
pub fn shortest(x: f64) -> String {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Number::from(x).to_string_with_radix(10).map(String::from).unwrap_or_default()
    }
    #[cfg(not(target_arch = "wasm32"))]
    x.to_string()
}

/// `x` with `decimals` (at most 4) decimals, as `format!("{x:.p$}")` writes it with
/// `p = decimals`: the exact binary value rounded to the nearest, ties to even (`0.25` → `0.2`).
pub fn fixed(x: f64, decimals: u32) -> String {
    let sign = if x.is_sign_negative() && !x.is_nan() { "-" } else { "" };
    let a = x.abs();
    if !a.is_finite() {
        return format!("{sign}{}", if a.is_nan() { "NaN" } else { "inf" });
    }
    let scale = 10u128.pow(decimals.min(4));
    let bits = a.to_bits();
    let exp = (bits >> 52) as i32; // the sign bit is clear
    let frac = u128::from(bits & ((1 << 52) - 1));
    // a = m · 2^e exactly.
    let (m, e) = if exp == 0 { (frac, -1074) } else { (frac | 1 << 52, exp - 1075) };
    let n = if e >= 0 {
        // A whole number: no decimals to round.
        match m.checked_shl(e as u32).filter(|v| v >> e == m).and_then(|v| v.checked_mul(scale)) {
            Some(v) => v,
            None => return huge(x, decimals),
        }
    } else {
        // m < 2^53 and scale < 2^14: m · scale < 2^67, so below 2^-68 it rounds to 0.
        let s = (-e) as u32;
        if s > 68 {
            0
        } else {
            let v = m * scale;
            let (q, r, half) = (v >> s, v & ((1 << s) - 1), 1u128 << (s - 1));
            q + u128::from(r > half || (r == half && q & 1 == 1))
        }
    };
    // Written as a u64: formatting a u128 would bring its own code (and 128-bit division).
    let Ok(n) = u64::try_from(n) else { return huge(x, decimals) };
    let scale = scale as u64;
    if decimals == 0 {
        format!("{sign}{n}")
    } else {
        let w = decimals.min(4) as usize;
        format!("{sign}{}.{:0w$}", n / scale, n % scale)
    }
}

/// [`fixed`] from 2^64 / 10^`decimals` up (about 1.8 · 10^15 with four decimals): where the
/// number is too coarse to have a tie to round, so JavaScript's `toFixed` (which rounds ties
/// up, not to even) writes the same digits. No screen here shows such a number.
fn huge(x: f64, decimals: u32) -> String {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Number::from(x)
            .to_fixed(decimals.min(4) as u8)
            .map(String::from)
            .unwrap_or_default()
    }
    #[cfg(not(target_arch = "wasm32"))]
    format!("{x:.p$}", p = decimals.min(4) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values the charts and forms meet, the ties and edges of rounding, and a spread of
    /// magnitudes from a fixed-seed generator (no randomness between runs).
    fn samples() -> Vec<f64> {
        let mut v = vec![
            0.0,
            -0.0,
            0.05,
            0.15,
            0.25,
            0.35,
            0.45,
            1.25,
            2.5,
            -0.25,
            -0.01,
            0.95,
            0.999_99,
            9.95,
            99.95,
            160.0,
            600.0,
            599.999,
            1e-7,
            5e-324,
            1e15 + 0.3,
            2f64.powi(53),
            2f64.powi(70) + 2f64.powi(18),
            1e30,
            1e40,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let y = f64::from_bits(x);
            if y.is_finite() {
                // Both raw bit patterns (any magnitude) and screen-sized values.
                v.extend([y, (x % 1_000_000_000) as f64 / 1000.0, (x % 100_000) as f64 / 64.0]);
            }
        }
        v
    }

    #[test]
    fn fixed_writes_what_format_writes() {
        for x in samples() {
            for d in 0..=4u32 {
                assert_eq!(fixed(x, d), format!("{x:.p$}", p = d as usize), "{x:e} with {d}");
            }
        }
    }

    #[test]
    fn numbers_read_back_and_reject_what_is_not_decimal() {
        for x in samples().into_iter().filter(|x| x.is_finite()) {
            assert_eq!(number(&shortest(x)).map(f64::to_bits), Some(x.to_bits()), "{x:e}");
        }
        assert_eq!(number(" 12.5 "), Some(12.5));
        assert_eq!(number("1.5e3"), Some(1500.0));
        assert_eq!(number("-.5"), Some(-0.5));
        for bad in ["", " ", "0x1A", "Infinity", "inf", "NaN", "1e400", "1,5", "12abc", "."] {
            assert_eq!(number(bad), None, "{bad:?}");
        }
        assert_eq!(positive("0"), None);
        assert_eq!(positive("2.5"), Some(2.5));
    }

    #[test]
    fn money_groups_and_rounds() {
        assert_eq!(money(0.0), "0.00");
        assert_eq!(money(1234.5), "1,234.50");
        assert_eq!(money(1_000_000.005), "1,000,000.01");
        assert_eq!(money(-12.3), "-12.30");
        assert_eq!(money(999.999), "1,000.00");
    }

    #[test]
    fn liters_have_one_decimal() {
        assert_eq!(liters(3.0), "3.0 L");
        assert_eq!(liters(12345.67), "12,345.7 L");
    }

    #[test]
    fn counts_group() {
        assert_eq!(count(7), "7");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(123456), "123,456");
    }

    #[test]
    fn ago_buckets() {
        assert_eq!(ago(-5), "just now");
        assert_eq!(ago(1500), "just now");
        assert_eq!(ago(12_000), "12 s ago");
        assert_eq!(ago(185_000), "3 min ago");
        assert_eq!(ago(7_300_000), "2 h ago");
    }

    #[test]
    fn days_are_utc_calendar_days() {
        assert_eq!(day_of(0), "1970-01-01");
        assert_eq!(day_of(1_700_000_000_000), "2023-11-14");
        assert_eq!(day_of(951_782_400_000), "2000-02-29");
        assert_eq!(yesterday_of(951_782_400_000), "2000-02-28");
        assert_eq!(day_of(-1), "1969-12-31");
    }

    #[test]
    fn times_of_day_follow_the_offset() {
        // 2023-11-14 22:13:20 UTC.
        assert_eq!(time_of_day(1_700_000_000_000, 0), "22:13");
        assert_eq!(time_of_day(1_700_000_000_000, 120), "00:13");
        assert_eq!(time_of_day(1_700_000_000_000, -330), "16:43");
        assert_eq!(time_of_day_s(1_700_000_000_000, 0), "22:13:20");
    }

    #[test]
    fn changes_are_signed_percentages() {
        assert_eq!(change_pct(110.0, 100.0).as_deref(), Some("+10.0%"));
        assert_eq!(change_pct(97.0, 100.0).as_deref(), Some("\u{2212}3.0%"));
        assert_eq!(change_pct(100.0, 100.0).as_deref(), Some("±0.0%"));
        assert_eq!(change_pct(5000.0, 10.0).as_deref(), Some("+49,900.0%"));
        assert_eq!(change_pct(5.0, 0.0), None);
    }

    #[test]
    fn countdown_rounds_up() {
        assert_eq!(countdown(Duration::ZERO), "now");
        assert_eq!(countdown(Duration::from_millis(1)), "in 1 s");
        assert_eq!(countdown(Duration::from_millis(2001)), "in 3 s");
    }

    #[test]
    fn positive_accepts_only_finite_numbers_above_zero() {
        assert_eq!(positive(" 2.5 "), Some(2.5));
        for bad in ["", "0", "-1", "abc", "inf", "NaN"] {
            assert_eq!(positive(bad), None, "{bad:?}");
        }
    }
}
