//! This module deals with money amounts as the wire carries them: numbers rounded to cents by
//! the server, which a client predicting a result (an optimistic row) must round the same way.

/// `x` rounded to cents, halves away from zero.
pub fn round_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_to_cents() {
        assert_eq!(round_cents(1.005_000_1), 1.01);
        assert_eq!(round_cents(12.344), 12.34);
        assert_eq!(round_cents(-2.345_1), -2.35);
    }
}
