//! `#[derive(TaskInput)]`: the input field that receives a predecessor's result, marked
//! `#[mageflow(return_value)]`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Field, Fields};

use super::fields as input_fields;
use super::serde_names;
use crate::errors::Errors;

/// Expands the derive, or returns the compile errors (the struct itself stays as written, so nothing follows).
pub(crate) fn expand(input: DeriveInput) -> TokenStream {
    match return_field(&input) {
        Ok((field, name)) => {
            let ident = &input.ident;
            let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
            let ty = &field.ty;
            let return_value = quote_spanned!(ty.span()=> #ty);
            let fields = input_fields::emit(&input, field.ident.as_ref());
            let private = crate::private();
            quote! {
                #[automatically_derived]
                impl #impl_generics #private::TaskInput for #ident #type_generics #where_clause {
                    const RETURN_FIELD: &'static str = #name;
                    type ReturnValue = #return_value;
                }

                #fields
            }
        }
        Err(error) => error.to_compile_error(),
    }
}

/// The field marked `#[mageflow(return_value)]` and its serialized name.
fn return_field(input: &DeriveInput) -> syn::Result<(&Field, String)> {
    let mut errors = Errors::new();
    for attr in input.attrs.iter().filter(|attr| attr.path().is_ident("mageflow")) {
        errors.push(syn::Error::new_spanned(
            attr,
            "`#[mageflow(return_value)]` goes on the field that receives the previous task's result, not on the \
             struct",
        ));
    }
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => fields,
            Fields::Unnamed(_) | Fields::Unit => {
                let span_source: &dyn quote::ToTokens = match &data.fields {
                    Fields::Unnamed(fields) => fields,
                    _ => &input.ident,
                };
                return Err(errors.into_error_with(syn::Error::new_spanned(
                    span_source,
                    format!(
                        "`TaskInput` needs a struct with named fields, since a predecessor's result is written \
                         into one field by name: write `struct {} {{ #[mageflow(return_value)] previous: T, ... }}`",
                        input.ident
                    ),
                )));
            }
        },
        Data::Enum(data) => {
            return Err(errors.into_error_with(syn::Error::new_spanned(
                data.enum_token,
                "`TaskInput` can only be derived for a struct with named fields: a predecessor's result is written \
                 into one field by name; wrap the enum in a struct field instead",
            )));
        }
        Data::Union(data) => {
            return Err(errors.into_error_with(syn::Error::new_spanned(
                data.union_token,
                "`TaskInput` can only be derived for a struct with named fields",
            )));
        }
    };

    let mut marked: Vec<(&Field, &syn::Attribute)> = Vec::new();
    for field in &fields.named {
        let mut field_marked = None;
        for attr in field.attrs.iter().filter(|attr| attr.path().is_ident("mageflow")) {
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("return_value") {
                    if field_marked.is_some() {
                        return Err(meta.error("`return_value` is given twice on this field; keep one"));
                    }
                    field_marked = Some(attr);
                    if !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
                        return Err(meta.error("`return_value` takes no value: write `#[mageflow(return_value)]`"));
                    }
                    Ok(())
                } else {
                    let name = quote::ToTokens::to_token_stream(&meta.path).to_string().replace(' ', "");
                    Err(meta.error(format!(
                        "unknown `mageflow` argument `{name}`; the only one is `return_value`: write \
                         `#[mageflow(return_value)]`"
                    )))
                }
            });
            if let Err(error) = parsed {
                errors.push(error);
            }
        }
        if let Some(attr) = field_marked {
            marked.push((field, attr));
        }
    }

    let field = match marked.as_slice() {
        // A misspelt argument is the one mistake: do not also report the missing mark.
        [] => {
            // A misspelt argument is the one mistake: the missing mark follows from it.
            errors.into_result()?;
            return Err(syn::Error::new_spanned(
                &input.ident,
                format!(
                    "mark the field of `{}` that receives the previous task's result with \
                     `#[mageflow(return_value)]`",
                    input.ident
                ),
            ));
        }
        [(field, _)] => *field,
        [(first, _), rest @ ..] => {
            for (_, attr) in rest {
                errors.push(syn::Error::new_spanned(
                    attr,
                    format!(
                        "only one field can receive the previous task's result, and `{}` already does: remove this \
                         `#[mageflow(return_value)]`",
                        first.ident.as_ref().map(ToString::to_string).unwrap_or_default()
                    ),
                ));
            }
            *first
        }
    };
    if let Some(flag) = serde_names::serde_flag(&field.attrs, &["flatten", "skip", "skip_deserializing"]) {
        let flag_name = quote::ToTokens::to_token_stream(&flag).to_string();
        errors.push(syn::Error::new_spanned(
            flag,
            format!(
                "the field that receives the previous task's result is read from the input by its name, so it \
                 cannot be `#[serde({flag_name})]`: remove `{flag_name}`, or mark another field"
            ),
        ));
    }
    errors.into_result()?;
    let ident = field.ident.as_ref().map(ToString::to_string).unwrap_or_default();
    let ident = ident.strip_prefix("r#").unwrap_or(&ident).to_owned();
    let name = serde_names::serde_value(&field.attrs, "rename")
        .or_else(|| {
            serde_names::serde_value(&input.attrs, "rename_all")
                .and_then(|rule| serde_names::apply_rename_all(&rule, &ident))
        })
        .unwrap_or(ident);
    Ok((field, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn expanded(input: DeriveInput) -> String {
        expand(input).to_string()
    }

    #[test]
    fn the_return_field_is_the_serialized_name() {
        let out = expanded(parse_quote!(
            #[serde(rename_all = "camelCase")]
            struct Notify<T> {
                #[mageflow(return_value)]
                previous_receipt: Receipt,
                other: T,
            }
        ));
        assert!(out.contains("impl < T > :: mageflow :: __private_v0_1_0 :: TaskInput for Notify < T >"), "{out}");
        assert!(out.contains("const RETURN_FIELD : & 'static str = \"previousReceipt\""), "{out}");
        assert!(out.contains("type ReturnValue = Receipt"), "{out}");
    }

    #[test]
    fn a_field_rename_wins_over_rename_all() {
        let out = expanded(parse_quote!(
            #[serde(rename_all = "camelCase")]
            struct Notify {
                #[mageflow(return_value)]
                #[serde(rename = "prev")]
                previous_receipt: Receipt,
            }
        ));
        assert!(out.contains("= \"prev\""), "{out}");
    }

    #[test]
    fn each_mistake_is_one_error() {
        let count = |input: DeriveInput| expanded(input).matches("compile_error").count();
        assert_eq!(
            count(parse_quote!(
                struct A {
                    a: u32,
                }
            )),
            1
        );
        assert_eq!(
            count(parse_quote!(
                struct A {
                    #[mageflow(return_value)]
                    a: u32,
                    #[mageflow(return_value)]
                    b: u32,
                }
            )),
            1
        );
        assert_eq!(
            count(parse_quote!(
                struct A {
                    #[mageflow(return_valu)]
                    a: u32,
                }
            )),
            1
        );
        assert_eq!(
            count(parse_quote!(
                struct A(#[mageflow(return_value)] u32);
            )),
            1
        );
        assert_eq!(
            count(parse_quote!(
                enum A {
                    B,
                }
            )),
            1
        );
        assert_eq!(
            count(parse_quote!(
                struct A {
                    #[mageflow(return_value)]
                    #[serde(skip)]
                    a: u32,
                }
            )),
            1
        );
    }
}
