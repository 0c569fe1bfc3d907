//! `#[derive(InputFields)]` (also emitted by `#[derive(TaskInput)]`): the fields of a task input that `flow!` can
//! bind, each with its type and its name in JSON, and which of them must be bound when the task follows another
//! one.
//!
//! For `struct Noted { #[mageflow(return_value)] previous: Msg, note: String }` it emits, in an anonymous const:
//! - `NotedFields`, a struct with one `Slot<marker, type>` per field, that `flow!` reads as `fields.note` (so an
//!   unknown name is the compiler's "no field `x` on type `NotedFields`", listing the fields);
//! - a marker type per field, named like the field (`enum note {}`), so that the diagnostics of `flow!` about a
//!   field name it;
//! - `NotedBinding<S0>`, a binding state with one parameter per required field (not the return-value field, not an
//!   `Option`, no `#[serde(default)]`): `Bound`, or the field's marker while it is not bound; a `BindField` impl per
//!   field that marks it bound; and `Binding::Missing`, the first required field not bound (`AllBound` if none),
//!   which `flow!` requires to be `AllBound` when the task follows another one: "`send` follows `charge`, but its
//!   field `note` is neither bound nor fed";
//! - `Unfed` for the marker of every field but the return-value field, which `flow!` requires of the fields bound
//!   on a task that follows another one: the return-value field receives the previous step's output.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Data, DeriveInput, Field, Fields, Ident, Type};

use super::serde_names;

/// Expands `#[derive(InputFields)]`.
pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    match named_fields(input) {
        Ok(_) => emit(input, None),
        Err(error) => error.to_compile_error(),
    }
}

/// The named fields of a struct, or the error for any other shape.
pub(crate) fn named_fields(input: &DeriveInput) -> syn::Result<&syn::FieldsNamed> {
    match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => Ok(fields),
            Fields::Unnamed(fields) => Err(syn::Error::new_spanned(
                fields,
                "`InputFields` needs a struct with named fields: `flow!` binds fields by name",
            )),
            Fields::Unit => Err(syn::Error::new_spanned(
                &input.ident,
                "`InputFields` needs a struct with named fields: `flow!` binds fields by name",
            )),
        },
        Data::Enum(data) => Err(syn::Error::new_spanned(
            data.enum_token,
            "`InputFields` can only be derived for a struct with named fields: `flow!` binds fields by name",
        )),
        Data::Union(data) => Err(syn::Error::new_spanned(
            data.union_token,
            "`InputFields` can only be derived for a struct with named fields",
        )),
    }
}

/// The name serde reads a field under.
pub(crate) fn serialized_name(input: &DeriveInput, field: &Field) -> String {
    let ident = field.ident.as_ref().map(ToString::to_string).unwrap_or_default();
    let ident = ident.strip_prefix("r#").unwrap_or(&ident).to_owned();
    serde_names::serde_value(&field.attrs, "rename")
        .or_else(|| {
            serde_names::serde_value(&input.attrs, "rename_all")
                .and_then(|rule| serde_names::apply_rename_all(&rule, &ident))
        })
        .unwrap_or(ident)
}

/// A field `flow!` can bind.
struct Bindable<'a> {
    ident: &'a Ident,
    ty: &'a Type,
    name: String,
    required: bool,
}

/// Whether the type is written `Option<..>` (serde reads a missing `Option` field as `None`).
fn is_option(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => {
            path.qself.is_none() && path.path.segments.last().is_some_and(|last| last.ident == "Option")
        }
        Type::Group(group) => is_option(&group.elem),
        Type::Paren(paren) => is_option(&paren.elem),
        _ => false,
    }
}

fn bindable<'a>(input: &DeriveInput, fields: &'a syn::FieldsNamed, return_field: Option<&Ident>) -> Vec<Bindable<'a>> {
    let container_default = serde_names::serde_flag(&input.attrs, &["default"]).is_some();
    fields
        .named
        .iter()
        .filter(|field| serde_names::serde_flag(&field.attrs, &["skip", "skip_deserializing", "flatten"]).is_none())
        .filter_map(|field| {
            let ident = field.ident.as_ref()?;
            let is_return = return_field == Some(ident);
            let defaulted = container_default || serde_names::serde_flag(&field.attrs, &["default"]).is_some();
            Some(Bindable {
                ident,
                ty: &field.ty,
                name: serialized_name(input, field),
                required: !is_return && !defaulted && !is_option(&field.ty),
            })
        })
        .collect()
}

/// The field's name without `r#`, for the names of generated items and messages.
fn plain(ident: &Ident) -> String {
    let text = ident.to_string();
    text.strip_prefix("r#").unwrap_or(&text).to_owned()
}

/// The `InputFields` impl and what it needs. `return_field` is the `#[mageflow(return_value)]` field of a
/// `TaskInput`, never required.
pub(crate) fn emit(input: &DeriveInput, return_field: Option<&Ident>) -> TokenStream {
    let Ok(fields) = named_fields(input) else {
        return TokenStream::new();
    };
    let private = crate::private();
    let ident = &input.ident;
    let type_name = plain(ident);
    let fields_ident = format_ident!("{}Fields", type_name, span = Span::call_site());
    let binding_ident = format_ident!("{}Binding", type_name, span = Span::call_site());
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    let generics = &input.generics;
    let fields = bindable(input, fields, return_field);

    let markers = markers(input, &fields);
    // one binding-state parameter per required field: the others may be bound or not
    let required: Vec<(&Bindable, &Ident)> = fields.iter().zip(&markers).filter(|(field, _)| field.required).collect();
    let states: Vec<Ident> = (0..required.len()).map(|index| format_ident!("__S{}", index)).collect();
    let idents: Vec<&Ident> = fields.iter().map(|field| field.ident).collect();
    let types: Vec<&Type> = fields.iter().map(|field| field.ty).collect();
    let names: Vec<&str> = fields.iter().map(|field| field.name.as_str()).collect();
    // a struct with generics keeps them used even when no bindable field mentions them
    let (phantom_field, phantom_value) = if generics.params.is_empty() {
        (quote!(), quote!())
    } else {
        (
            quote!(#[doc(hidden)] pub __mageflow_generics: ::core::marker::PhantomData<fn() -> #ident #type_generics>,),
            quote!(__mageflow_generics: ::core::marker::PhantomData,),
        )
    };

    let bind_impls = fields.iter().zip(&markers).map(|(field, marker)| {
        let position = required.iter().position(|(required, _)| required.ident == field.ident);
        let next = states
            .iter()
            .enumerate()
            .map(|(index, state)| if Some(index) == position { quote!(#private::Bound) } else { quote!(#state) });
        quote! {
            impl<#(#states),*> #private::BindField<#marker> for #binding_ident<#(#states),*> {
                type Next = #binding_ident<#(#next),*>;
            }
        }
    });
    // every field but the return-value field may be bound when the predecessor's output fills that one
    let unfed = fields
        .iter()
        .zip(&markers)
        .filter(|(field, _)| return_field != Some(field.ident))
        .map(|(_, marker)| quote!(impl #private::Unfed for #marker {}));
    // a required field that is not bound is its marker: the first one is what `Binding::Missing` names
    let unbound_markers: Vec<&Ident> = required.iter().map(|(_, marker)| *marker).collect();
    let missing = states
        .iter()
        .rev()
        .fold(quote!(#private::AllBound), |rest, state| quote!(<#state as #private::Unless<#rest>>::Then));
    let state_bounds = states.iter().enumerate().map(|(index, state)| {
        let rest = states[index + 1..]
            .iter()
            .rev()
            .fold(quote!(#private::AllBound), |rest, state| quote!(<#state as #private::Unless<#rest>>::Then));
        quote!(#state: #private::Unless<#rest>)
    });
    let doc = format!("The fields of `{type_name}` that `flow!` can bind.");
    quote! {
        #[allow(non_camel_case_types, non_snake_case, dead_code, unreachable_pub, clippy::all)]
        const _: () = {
            #[doc = #doc]
            pub struct #fields_ident #impl_generics #where_clause {
                #(pub #idents: #private::Slot<#markers, #types>,)*
                #phantom_field
            }

            #(pub enum #markers {})*

            pub struct #binding_ident<#(#states),*>(::core::marker::PhantomData<fn() -> (#(#states,)*)>);

            #[automatically_derived]
            impl #impl_generics #private::InputFields for #ident #type_generics #where_clause {
                type Fields = #fields_ident #type_generics;
                type Unbound = #binding_ident<#(#unbound_markers),*>;

                fn fields() -> Self::Fields {
                    #fields_ident { #(#idents: #private::Slot::new(#names),)* #phantom_value }
                }
            }

            #(#bind_impls)*

            #(impl<__R> #private::Unless<__R> for #unbound_markers { type Then = #unbound_markers; })*

            impl<#(#states),*> #private::Binding for #binding_ident<#(#states),*>
            where #(#state_bounds,)*
            {
                type Missing = #missing;
            }

            #(#unfed)*
        };
    }
}

/// The marker type of each field: named like the field, so that a diagnostic about the field (required, or fed by
/// the previous step) names it; unless that name also appears in the struct's types or generics, which the marker
/// would shadow inside the generated items.
fn markers(input: &DeriveInput, fields: &[Bindable]) -> Vec<Ident> {
    let mut taken = std::collections::HashSet::new();
    let (ident, generics) = (&input.ident, &input.generics);
    let where_clause = &generics.where_clause;
    collect_idents(quote!(#ident #generics #where_clause), &mut taken);
    for field in fields {
        let ty = field.ty;
        collect_idents(quote!(#ty), &mut taken);
    }
    fields
        .iter()
        .map(|field| {
            let name = plain(field.ident);
            // a keyword (a field written `r#type`) is no type name either
            if taken.contains(&name) || name.starts_with("__") || syn::parse_str::<Ident>(&name).is_err() {
                format_ident!("__mageflow_field_{}", name)
            } else {
                format_ident!("{}", name)
            }
        })
        .collect()
}

/// Every identifier in `tokens`.
fn collect_idents(tokens: TokenStream, out: &mut std::collections::HashSet<String>) {
    for token in tokens {
        match token {
            proc_macro2::TokenTree::Ident(ident) => {
                out.insert(ident.to_string());
            }
            proc_macro2::TokenTree::Group(group) => collect_idents(group.stream(), out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn expanded(input: DeriveInput, return_field: Option<&str>) -> String {
        let return_field = return_field.map(|name| Ident::new(name, Span::call_site()));
        emit(&input, return_field.as_ref()).to_string()
    }

    #[test]
    fn fields_have_slots_with_their_serialized_names_and_markers() {
        let out = expanded(
            parse_quote!(
                #[serde(rename_all = "camelCase")]
                struct Noted {
                    #[mageflow(return_value)]
                    previous_msg: Msg,
                    note_text: String,
                    #[serde(skip)]
                    cache: u32,
                }
            ),
            Some("previous_msg"),
        );
        assert!(
            out.contains("pub previous_msg : :: mageflow :: __private_v0_1_0 :: Slot < previous_msg , Msg >"),
            "the marker is named like the field, so that diagnostics name it: {out}"
        );
        assert!(out.contains("pub enum previous_msg { }"), "{out}");
        assert!(out.contains("note_text : :: mageflow :: __private_v0_1_0 :: Slot :: new (\"noteText\")"), "{out}");
        assert!(!out.contains("cache"), "skipped fields cannot be bound: {out}");
        assert!(out.contains("type Unbound = NotedBinding < note_text >"), "unbound, a field is its marker: {out}");
    }

    #[test]
    fn only_fields_without_defaults_other_than_the_return_field_are_required() {
        let out = expanded(
            parse_quote!(
                struct Noted {
                    previous: Msg,
                    note: String,
                    maybe: Option<u32>,
                    #[serde(default)]
                    count: u32,
                }
            ),
            Some("previous"),
        );
        assert!(out.contains("pub struct NotedBinding < __S0 >"), "one state for `note` only: {out}");
        assert!(out.contains("type Unbound = NotedBinding < note >"), "{out}");
        assert!(out.contains("impl < __R > :: mageflow :: __private_v0_1_0 :: Unless < __R > for note"), "{out}");
        assert_eq!(out.matches(":: Unless < __R > for").count(), 1, "{out}");
        assert!(
            out.contains(
                "type Missing = < __S0 as :: mageflow :: __private_v0_1_0 :: Unless < :: mageflow :: \
                 __private_v0_1_0 :: AllBound >> :: Then"
            ),
            "{out}"
        );

        let out = expanded(
            parse_quote!(
                #[serde(default)]
                struct Defaults {
                    note: String,
                }
            ),
            None,
        );
        assert!(out.contains("type Unbound = DefaultsBinding < >"), "a container default covers every field: {out}");
        assert!(out.contains("type Missing = :: mageflow :: __private_v0_1_0 :: AllBound"), "{out}");
    }

    #[test]
    fn every_field_but_the_return_field_may_be_bound_after_a_step() {
        let out = expanded(
            parse_quote!(
                struct Noted {
                    previous: Msg,
                    note: String,
                    maybe: Option<u32>,
                }
            ),
            Some("previous"),
        );
        assert!(out.contains(":: Unfed for note { }"), "{out}");
        assert!(out.contains(":: Unfed for maybe { }"), "{out}");
        assert!(!out.contains(":: Unfed for previous"), "the return field is fed: {out}");
    }

    #[test]
    fn a_marker_that_would_shadow_a_type_of_the_struct_or_is_a_keyword_is_renamed() {
        let out = expanded(
            parse_quote!(
                struct Odd {
                    bool: bool,
                    flag: flag::Kind,
                }
            ),
            None,
        );
        assert!(out.contains("Slot < __mageflow_field_bool , bool >"), "{out}");
        assert!(out.contains("Slot < __mageflow_field_flag , flag :: Kind >"), "{out}");

        let out = expanded(
            parse_quote!(
                struct Keyword {
                    r#type: String,
                }
            ),
            None,
        );
        assert!(
            out.contains("pub r#type : :: mageflow :: __private_v0_1_0 :: Slot < __mageflow_field_type , String >"),
            "{out}"
        );
    }

    #[test]
    fn generic_inputs_keep_their_generics() {
        let out = expanded(
            parse_quote!(
                struct Wrap<T: Clone> {
                    value: T,
                }
            ),
            None,
        );
        assert!(out.contains("pub struct WrapFields < T : Clone >"), "{out}");
        assert!(
            out.contains("impl < T : Clone > :: mageflow :: __private_v0_1_0 :: InputFields for Wrap < T >"),
            "{out}"
        );
        assert!(
            out.contains("__mageflow_generics : :: core :: marker :: PhantomData < fn () -> Wrap < T > >"),
            "{out}"
        );
    }

    #[test]
    fn other_shapes_are_refused() {
        let count = |input: DeriveInput| expand(&input).to_string().matches("compile_error").count();
        assert_eq!(
            count(parse_quote!(
                struct A(u32);
            )),
            1
        );
        assert_eq!(
            count(parse_quote!(
                struct A;
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
    }
}
