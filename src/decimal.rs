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

/// Parses a JSON number or decimal string into a canonical plain decimal.
/// Accepts an optional sign, digits, an optional fraction and an optional exponent.
/// Returns `None` for anything else (empty, "abc", "1.2.3", "NaN", ...).
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
            if e.abs() > 400 {
                return None; // absurd: no price needs it, and it would build a huge string
            }
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
            "", "abc", "1.2.3", "NaN", "Infinity", "$0.01", "1e", "-", ".", "0x10", "1e999",
        ] {
            assert_eq!(canonical_decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn prices() {
        assert_eq!(parse_price("-1"), Some(Price::Variable));
        assert_eq!(parse_price("-1.0"), Some(Price::Variable));
        assert_eq!(parse_price("-0.5"), None);
        assert_eq!(parse_price("0.01"), Some(Price::Exact("0.01".into())));
    }
}
