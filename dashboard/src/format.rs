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
    let secs = left.as_millis().div_ceil(1000);
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
    text.trim().parse::<f64>().ok().filter(|x| *x > 0.0 && x.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

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
