//! The name serde gives a struct field, from `#[serde(rename = "...")]` on the field and
//! `#[serde(rename_all = "...")]` on the struct, so `TaskInput::RETURN_FIELD` is the name in the JSON.
//!
//! Where serialize and deserialize names differ, the deserialize name is the one that counts: a predecessor's
//! result is written into the input JSON under it and deserialized from there.

use syn::{Attribute, LitStr, Token};

/// The `rename_all` rules serde knows, applied to a field name as serde does.
pub(crate) fn apply_rename_all(rule: &str, field: &str) -> Option<String> {
    let pascal = || {
        let mut pascal = String::with_capacity(field.len());
        let mut capitalize = true;
        for ch in field.chars() {
            if ch == '_' {
                capitalize = true;
            } else if capitalize {
                pascal.push(ch.to_ascii_uppercase());
                capitalize = false;
            } else {
                pascal.push(ch);
            }
        }
        pascal
    };
    Some(match rule {
        "lowercase" | "snake_case" => field.to_owned(),
        "UPPERCASE" | "SCREAMING_SNAKE_CASE" => field.to_ascii_uppercase(),
        "PascalCase" => pascal(),
        "camelCase" => {
            let pascal = pascal();
            let mut chars = pascal.chars();
            match chars.next() {
                Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
                None => pascal,
            }
        }
        "kebab-case" => field.replace('_', "-"),
        "SCREAMING-KEBAB-CASE" => field.to_ascii_uppercase().replace('_', "-"),
        _ => return None,
    })
}

/// The deserialize name given by `key = "..."` or `key(deserialize = "...")` in the `#[serde(...)]` attributes,
/// e.g. `rename` on a field or `rename_all` on a struct. Attributes serde itself would reject are ignored here:
/// serde's derive reports them.
pub(crate) fn serde_value(attrs: &[Attribute], key: &str) -> Option<String> {
    let mut found = None;
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("serde")) {
        // Errors are serde's to report; an unparsable attribute just gives no name.
        let _ = attr.parse_nested_meta(|meta| {
            if !meta.path.is_ident(key) {
                skip_value(&meta)?;
                return Ok(());
            }
            if meta.input.peek(Token![=]) {
                found = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if meta.input.peek(syn::token::Paren) {
                meta.parse_nested_meta(|inner| {
                    if inner.path.is_ident("deserialize") {
                        found = Some(inner.value()?.parse::<LitStr>()?.value());
                    } else {
                        skip_value(&inner)?;
                    }
                    Ok(())
                })?;
            }
            Ok(())
        });
    }
    found
}

/// The `#[serde(...)]` flag among `keys` that the field carries, such as `flatten` or `skip`, with its path for
/// the error's span.
pub(crate) fn serde_flag(attrs: &[Attribute], keys: &[&str]) -> Option<syn::Path> {
    let mut found = None;
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if found.is_none() && keys.iter().any(|key| meta.path.is_ident(key)) {
                found = Some(meta.path.clone());
            }
            skip_value(&meta)
        });
    }
    found
}

/// Consumes `= value` or `(...)` after a `#[serde(...)]` key we do not look at.
fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.input.parse::<proc_macro2::Group>()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn rename_all_rules_match_serde() {
        let field = "receipt_id";
        assert_eq!(apply_rename_all("lowercase", field).as_deref(), Some("receipt_id"));
        assert_eq!(apply_rename_all("snake_case", field).as_deref(), Some("receipt_id"));
        assert_eq!(apply_rename_all("UPPERCASE", field).as_deref(), Some("RECEIPT_ID"));
        assert_eq!(apply_rename_all("SCREAMING_SNAKE_CASE", field).as_deref(), Some("RECEIPT_ID"));
        assert_eq!(apply_rename_all("PascalCase", field).as_deref(), Some("ReceiptId"));
        assert_eq!(apply_rename_all("camelCase", field).as_deref(), Some("receiptId"));
        assert_eq!(apply_rename_all("kebab-case", field).as_deref(), Some("receipt-id"));
        assert_eq!(apply_rename_all("SCREAMING-KEBAB-CASE", field).as_deref(), Some("RECEIPT-ID"));
        assert_eq!(apply_rename_all("Title Case", field), None);
    }

    #[test]
    fn renames_are_read_from_serde_attributes() {
        let attrs: Vec<Attribute> = vec![parse_quote!(#[serde(default, rename = "previous")])];
        assert_eq!(serde_value(&attrs, "rename").as_deref(), Some("previous"));

        let attrs: Vec<Attribute> =
            vec![parse_quote!(#[serde(rename(serialize = "out", deserialize = "in"), skip_serializing_if = "x")])];
        assert_eq!(serde_value(&attrs, "rename").as_deref(), Some("in"));

        let attrs: Vec<Attribute> =
            vec![parse_quote!(#[doc = "x"]), parse_quote!(#[serde(deny_unknown_fields, rename_all = "camelCase")])];
        assert_eq!(serde_value(&attrs, "rename_all").as_deref(), Some("camelCase"));
        assert_eq!(serde_value(&attrs, "rename"), None);
    }

    #[test]
    fn flags_are_found() {
        let attrs: Vec<Attribute> = vec![parse_quote!(#[serde(rename = "x", flatten)])];
        let flag =
            serde_flag(&attrs, &["flatten", "skip"]).map(|path| quote::ToTokens::to_token_stream(&path).to_string());
        assert_eq!(flag.as_deref(), Some("flatten"));
        let attrs: Vec<Attribute> = vec![parse_quote!(#[serde(default)])];
        assert!(serde_flag(&attrs, &["flatten", "skip"]).is_none());
    }
}
