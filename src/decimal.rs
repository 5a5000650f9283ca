//! Exact decimal handling for prices. The API sends prices as decimal strings ("0.000015");
//! they stay text until Postgres reads them as `numeric`, never passing through `f64`.

/// A price as the API states it, after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Price {
    /// A non-negative exact decimal in canonical form (no exponent, no superfluous zeros).
    Exact(String),
    /// The API's "-1": the router decides the price per request.
    Variable,
}

/// numeric's limits (PostgreSQL's numeric.c; the same in every major since 9.x): a value is
/// refused with "value overflows numeric format" when its display scale (digits after the
/// point as written, less the exponent) exceeds 16383 (14 bits), when its first non-zero
/// digit lies 131072 or more places before the point (a base-10000 weight above 32767, an
/// int16), or when its exponent reaches INT_MAX / 2 in magnitude (set_var_from_str). jsonb
/// numbers are numeric, so jsonb_in refuses the same.
pub const NUMERIC_MAX_DSCALE: i64 = 16383;
/// Digits before the decimal point numeric can hold (`(i16::MAX + 1) * 4`).
pub const NUMERIC_MAX_INT_DIGITS: i64 = 131_072;
/// The |exponent| at which numeric_in starts refusing (`INT_MAX / 2`; see exponent_out_of_range).
pub const NUMERIC_MAX_EXPONENT: i64 = i32::MAX as i64 / 2;

/// Whether numeric_in refuses an exponent outright. PostgreSQL 15 refuses INT_MAX / 2
/// itself (`exponent >= INT_MAX / 2`); 16 rewrote set_var_from_str and refuses only what lies
/// beyond (`exponent > PG_INT32_MAX / 2`): `0e1073741823` is 0 there, an error on 15.
pub fn exponent_out_of_range(exp: i64) -> bool {
    if cfg!(feature = "pg15") {
        !(1 - NUMERIC_MAX_EXPONENT..NUMERIC_MAX_EXPONENT).contains(&exp)
    } else {
        !(-NUMERIC_MAX_EXPONENT..=NUMERIC_MAX_EXPONENT).contains(&exp)
    }
}

/// Whether numeric_in accepts a number in JSON syntax whose digits are `int_len` digits
/// before the point, then `frac_len` after it, times ten to `exp`, where the first non-zero
/// of those digits is at index `first_nonzero` (None for zero).
pub fn numeric_accepts(
    int_len: usize,
    frac_len: usize,
    exp: i64,
    first_nonzero: Option<usize>,
) -> bool {
    if exponent_out_of_range(exp) {
        return false;
    }
    if (frac_len as i64).saturating_sub(exp).max(0) > NUMERIC_MAX_DSCALE {
        return false;
    }
    // The power of ten of the first non-zero digit; the smallest one possible is bounded by
    // the scale checked above.
    first_nonzero.is_none_or(|p| (int_len as i64 - 1 - p as i64 + exp) < NUMERIC_MAX_INT_DIGITS)
}

/// Parses a JSON number or decimal string into a canonical plain decimal.
/// Accepts an optional sign, digits, an optional fraction and an optional exponent.
/// Returns `None` for anything else (empty, "abc", "1.2.3", "NaN", ...), and for a number
/// numeric cannot hold (see `numeric_accepts`): stored, it would fail every later sync.
pub fn canonical_decimal(text: &str) -> Option<String> {
    let t = text.trim();
    let (negative, rest) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => {
            let e: i64 = rest[i + 1..].parse().ok()?;
            (&rest[..i], e)
        }
        None => (rest, 0),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // All digits, and where the decimal point sits after them.
    let digits: String = format!("{int_part}{frac_part}");
    // Out of numeric's range (which also bounds the text built below): no number at all.
    let first = digits.bytes().position(|b| b != b'0');
    if !numeric_accepts(int_part.len(), frac_part.len(), exponent, first) {
        return None;
    }
    let point = int_part.len() as i64 + exponent;
    let digits = digits.trim_start_matches('0');
    // Leading zeros removed: the point moves relative to the remaining digits.
    let removed = (int_part.len() + frac_part.len()) as i64 - digits.len() as i64;
    let point = point - removed;
    let digits = digits.trim_end_matches('0').to_string();
    if digits.is_empty() {
        return Some("0".to_string());
    }
    let len = digits.len() as i64;
    let body = if point <= 0 {
        format!("0.{}{}", "0".repeat((-point) as usize), digits)
    } else if point >= len {
        format!("{}{}", digits, "0".repeat((point - len) as usize))
    } else {
        format!(
            "{}.{}",
            &digits[..point as usize],
            &digits[point as usize..]
        )
    };
    Some(if negative { format!("-{body}") } else { body })
}

/// Interprets one price value: "-1" (or -1) is variable, any other negative is invalid.
pub fn parse_price(text: &str) -> Option<Price> {
    let canonical = canonical_decimal(text)?;
    if canonical == "-1" {
        Some(Price::Variable)
    } else if canonical.starts_with('-') {
        None
    } else {
        Some(Price::Exact(canonical))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical_decimal("0.000015").as_deref(), Some("0.000015"));
        assert_eq!(canonical_decimal("0.0000150").as_deref(), Some("0.000015"));
        assert_eq!(canonical_decimal("0").as_deref(), Some("0"));
        assert_eq!(canonical_decimal("0.0").as_deref(), Some("0"));
        assert_eq!(canonical_decimal("-1").as_deref(), Some("-1"));
        assert_eq!(canonical_decimal("1e-7").as_deref(), Some("0.0000001"));
        assert_eq!(canonical_decimal("2.5E3").as_deref(), Some("2500"));
        assert_eq!(canonical_decimal("0.024").as_deref(), Some("0.024"));
        assert_eq!(canonical_decimal("120").as_deref(), Some("120"));
        assert_eq!(canonical_decimal(".5").as_deref(), Some("0.5"));
        assert_eq!(
            canonical_decimal("0.00000008333333333333334").as_deref(),
            Some("0.00000008333333333333334")
        );
    }

    #[test]
    fn garbage_is_rejected() {
        for bad in [
            "", "abc", "1.2.3", "NaN", "Infinity", "$0.01", "1e", "-", ".", "0x10", "1e131072",
            "1e-16384",
        ] {
            assert_eq!(canonical_decimal(bad), None, "{bad:?}");
        }
    }

    /// numeric's limits, as PostgreSQL 15 answers `'<text>'::numeric` (checked on a cluster:
    /// 1e131071 and 0.<16382 zeros>1 are accepted, one more digit either way overflows).
    #[test]
    fn numeric_range_is_postgres_range() {
        let ok = |t: &str| canonical_decimal(t).is_some();
        assert!(ok("1e-16383") && !ok("1e-16384"));
        assert!(ok(&format!("0.{}1", "0".repeat(16382))));
        assert!(!ok(&format!("0.{}1", "0".repeat(16383))));
        // Trailing zeros after the point count as written (numeric keeps them as its scale).
        assert!(!ok(&format!("0.1{}", "0".repeat(20_000))));
        let digits = |n: usize| format!("1{}", "0".repeat(n - 1));
        assert!(ok(&digits(131_072)) && !ok(&digits(131_073)));
        // A 20,000-digit fraction (what the issue saw fail every sync) is no price.
        assert!(parse_price(&format!("0.{}", "3".repeat(20_000))).is_none());
        assert!(numeric_accepts(1, 0, NUMERIC_MAX_EXPONENT - 1, None));
        // INT_MAX / 2 itself: refused by 15, read from 16 on (exponent_out_of_range).
        assert_eq!(
            numeric_accepts(1, 0, NUMERIC_MAX_EXPONENT, None),
            !cfg!(feature = "pg15")
        );
        assert!(!numeric_accepts(1, 0, NUMERIC_MAX_EXPONENT + 1, None));
        assert!(!numeric_accepts(1, 0, -16384, None));
        assert!(numeric_accepts(1, 0, -16383, Some(0)));
        assert!(numeric_accepts(1, 0, 131_071, Some(0)));
        assert!(!numeric_accepts(1, 0, 131_072, Some(0)));
        assert!(numeric_accepts(2, 0, 131_071, Some(1))); // 01e131071, i.e. 1e131071
    }

    #[test]
    fn prices() {
        assert_eq!(parse_price("-1"), Some(Price::Variable));
        assert_eq!(parse_price("-1.0"), Some(Price::Variable));
        assert_eq!(parse_price("-0.5"), None);
        assert_eq!(parse_price("0.01"), Some(Price::Exact("0.01".into())));
    }
}
