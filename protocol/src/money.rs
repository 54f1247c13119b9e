//! This module deals with money amounts as the wire carries them: numbers rounded to cents by
//! the server, which a client predicting a result (an optimistic row) must round the same way.

/// The amount from which a payment is notable: the server notifies every user of the tenant
/// (a persisted notification, so those offline see it later), and it is where a dashboard's
/// own, adjustable, large-payment toast starts by default.
pub const LARGE_PAYMENT: f64 = 100.0;

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
