//! Suggestions for misspelt names: the known name closest to what was written.

/// The known name closest to `word`, if one is close (at most two edits away, or half of the name's length).
pub(crate) fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|known| (edit_distance(word, known), *known))
        .filter(|(distance, known)| *distance <= 2.max(known.len() / 2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known)
}

/// Levenshtein distance.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_suggested_and_far_ones_are_not() {
        assert_eq!(closest("retry", &["retries", "timeout"]), Some("retries"));
        assert_eq!(closest("max_concurency", &["max_concurrency", "max_items"]), Some("max_concurrency"));
        assert_eq!(closest("queue", &["retries", "timeout"]), None);
    }
}
