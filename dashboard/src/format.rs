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
    fn countdown_rounds_up() {
        assert_eq!(countdown(Duration::ZERO), "now");
        assert_eq!(countdown(Duration::from_millis(1)), "in 1 s");
        assert_eq!(countdown(Duration::from_millis(2001)), "in 3 s");
    }
}
