//! Text for messages: pure helpers shared by errors, fetching and mapping.

/// At most `max` characters of `s`, control characters blanked, `...` where cut.
pub fn excerpt(s: &str, max: usize) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() <= max {
        clean
    } else {
        let cut: String = clean.chars().take(max).collect();
        format!("{cut}...")
    }
}
