//! Durations written in task options: a whole number followed by a unit, `"500ms"`, `"30s"`, `"5m"`, `"2h"`.

/// What is wrong with a duration string; the caller turns it into a spanned error.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DurationError {
    /// Not `<digits><unit>`.
    Malformed,
    /// The digits are followed by something other than `ms`, `s`, `m` or `h`.
    UnknownUnit(String),
    /// More milliseconds than a `u64` holds.
    TooLong,
}

/// The units a duration may use, with their length in milliseconds.
const UNITS: [(&str, u64); 4] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)];

/// Parses `"30s"` into milliseconds.
pub(crate) fn parse_millis(text: &str) -> Result<u64, DurationError> {
    let digits_end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    if digits.is_empty() {
        return Err(DurationError::Malformed);
    }
    if unit.is_empty() {
        return Err(DurationError::UnknownUnit(String::new()));
    }
    let Some(&(_, per_unit)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(DurationError::UnknownUnit(unit.to_owned()));
    };
    let amount: u64 = digits.parse().map_err(|_| DurationError::TooLong)?;
    amount.checked_mul(per_unit).ok_or(DurationError::TooLong)
}

/// Writes milliseconds back in the largest unit that divides them exactly, for error messages: `60000` → `1m`.
pub(crate) fn display_millis(millis: u64) -> String {
    for &(name, per_unit) in UNITS.iter().rev() {
        if millis != 0 && millis.is_multiple_of(per_unit) {
            return format!("{}{name}", millis / per_unit);
        }
    }
    format!("{millis}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_parses() {
        assert_eq!(parse_millis("500ms"), Ok(500));
        assert_eq!(parse_millis("30s"), Ok(30_000));
        assert_eq!(parse_millis("5m"), Ok(300_000));
        assert_eq!(parse_millis("2h"), Ok(7_200_000));
        assert_eq!(parse_millis("0s"), Ok(0));
        assert_eq!(parse_millis("007s"), Ok(7_000));
    }

    #[test]
    fn malformed_durations_are_rejected() {
        assert_eq!(parse_millis(""), Err(DurationError::Malformed));
        assert_eq!(parse_millis("s"), Err(DurationError::Malformed));
        assert_eq!(parse_millis("-1s"), Err(DurationError::Malformed));
        assert_eq!(parse_millis("1.5s"), Err(DurationError::UnknownUnit(".5s".into())));
        assert_eq!(parse_millis("30"), Err(DurationError::UnknownUnit(String::new())));
        assert_eq!(parse_millis("30 s"), Err(DurationError::UnknownUnit(" s".into())));
        assert_eq!(parse_millis("30 parsecs"), Err(DurationError::UnknownUnit(" parsecs".into())));
        assert_eq!(parse_millis("30S"), Err(DurationError::UnknownUnit("S".into())));
        assert_eq!(parse_millis("1d"), Err(DurationError::UnknownUnit("d".into())));
    }

    #[test]
    fn overflow_is_rejected() {
        assert_eq!(parse_millis("18446744073709551615ms"), Ok(u64::MAX));
        assert_eq!(parse_millis("18446744073709551616ms"), Err(DurationError::TooLong));
        assert_eq!(parse_millis("18446744073709551615s"), Err(DurationError::TooLong));
    }

    #[test]
    fn durations_display_in_their_largest_unit() {
        assert_eq!(display_millis(60_000), "1m");
        assert_eq!(display_millis(90_000), "90s");
        assert_eq!(display_millis(1_500), "1500ms");
        assert_eq!(display_millis(7_200_000), "2h");
        assert_eq!(display_millis(0), "0ms");
    }
}
