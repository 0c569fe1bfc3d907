//! Kebab-case task names: the default name derived from a function name, and the check of explicit names.

/// Converts an identifier to kebab-case: `send_receipt` → `send-receipt`, `SendReceipt` → `send-receipt`,
/// `r#match` → `match`. Runs of `_` become one `-`; leading and trailing `_` are dropped.
pub(crate) fn to_kebab(ident: &str) -> String {
    let ident = ident.strip_prefix("r#").unwrap_or(ident);
    let chars: Vec<char> = ident.chars().collect();
    let mut out = String::with_capacity(ident.len() + 4);
    for (i, &ch) in chars.iter().enumerate() {
        if ch == '_' || ch == '-' || ch.is_whitespace() {
            if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            continue;
        }
        if ch.is_uppercase() && !out.is_empty() && !out.ends_with('-') {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|next| next.is_lowercase());
            // `sendReceipt`, `send2Receipt`, and the last capital of an acronym: `HTTPServer` → `http-server`.
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_is_lower) {
                out.push('-');
            }
        }
        out.extend(ch.to_lowercase());
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Whether `name` is a kebab-case task name: one or more words of lowercase ASCII letters and digits, joined by
/// single hyphens.
pub(crate) fn is_kebab(name: &str) -> bool {
    !name.is_empty()
        && name
            .split('-')
            .all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_becomes_kebab_case() {
        assert_eq!(to_kebab("charge"), "charge");
        assert_eq!(to_kebab("send_receipt"), "send-receipt");
        assert_eq!(to_kebab("step2_load"), "step2-load");
        assert_eq!(to_kebab("_private__name_"), "private-name");
        assert_eq!(to_kebab("r#match"), "match");
    }

    #[test]
    fn other_cases_become_kebab_case() {
        assert_eq!(to_kebab("SendReceipt"), "send-receipt");
        assert_eq!(to_kebab("sendReceipt"), "send-receipt");
        assert_eq!(to_kebab("HTTPServer"), "http-server");
        assert_eq!(to_kebab("SEND_RECEIPT"), "send-receipt");
        assert_eq!(to_kebab("send receipt"), "send-receipt");
        assert_eq!(to_kebab("Send-Receipt"), "send-receipt");
    }

    #[test]
    fn kebab_names_are_recognised() {
        assert!(is_kebab("charge"));
        assert!(is_kebab("send-receipt"));
        assert!(is_kebab("v2-load-3"));
        assert!(!is_kebab(""));
        assert!(!is_kebab("-charge"));
        assert!(!is_kebab("charge-"));
        assert!(!is_kebab("send--receipt"));
        assert!(!is_kebab("send_receipt"));
        assert!(!is_kebab("SendReceipt"));
        assert!(!is_kebab("send receipt"));
        assert!(!is_kebab("café"));
    }
}
