//! `#[derive(InputFields)]` (also emitted by `#[derive(TaskInput)]`): the fields of a task input that `flow!` can
//! bind, each with its type and its name in JSON, and which of them must be bound when the task follows another
//! one.
//!
//! For `struct Noted { #[mageflow(return_value)] previous: Msg, note: String }` it emits, in an anonymous const:
//! - `NotedFields`, a struct with one `Slot<marker, type>` per field, that `flow!` reads as `fields.note` (so an
//!   unknown name is the compiler's "no field `x` on type `NotedFields`", listing the fields);
//! - `NotedBinding<S0, S1>`, a binding state with one `Bound` / `Unbound` parameter per field, and a `BindField`
//!   impl per field that marks it bound;
//! - per required field (not the return-value field, not an `Option`, no `#[serde(default)]`) a trait whose
//!   diagnostic names the field, required of its state parameter for the state to be `Ready<Field>`: so a task
//!   that follows another one without that field bound fails with "the field `note` of `Noted` is neither bound
//!   nor fed".

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

    let markers: Vec<Ident> =
        fields.iter().map(|field| format_ident!("__mageflow_field_{}", plain(field.ident))).collect();
    // one binding-state parameter per required field: the others may be bound or not
    let required: Vec<&Bindable> = fields.iter().filter(|field| field.required).collect();
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
        let position = required.iter().position(|required| required.ident == field.ident);
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

    let mut required_traits = Vec::new();
    let mut required_bounds = Vec::new();
    for (field, state) in required.iter().zip(&states) {
        let field_name = plain(field.ident);
        let trait_ident = format_ident!("__mageflow_required_{}", field_name);
        let message = format!("the field `{field_name}` of `{type_name}` is neither bound nor fed");
        let label = format!("`{field_name}` is required: bind it with `.bind({field_name} = ...)`");
        let note = match return_field {
            Some(fed) => format!(
                "the previous step's output goes to `{}`, the return-value field of `{type_name}`; its other fields \
                 without a default must be bound",
                plain(fed)
            ),
            None => format!("the fields of `{type_name}` without a default must be bound"),
        };
        required_traits.push(quote! {
            #[diagnostic::on_unimplemented(message = #message, label = #label, note = #note)]
            pub trait #trait_ident {}
            impl #trait_ident for #private::Bound {}
        });
        required_bounds.push(quote!(#state: #trait_ident));
    }

    let ready_impl = quote! {
        impl<#(#states),*> #private::Ready<#private::Field> for #binding_ident<#(#states),*>
        where #(#required_bounds,)*
        {}
    };
    let unbound = states.iter().map(|_| quote!(#private::Unbound));
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
                type Unbound = #binding_ident<#(#unbound),*>;

                fn fields() -> Self::Fields {
                    #fields_ident { #(#idents: #private::Slot::new(#names),)* #phantom_value }
                }
            }

            #(#bind_impls)*

            #(#required_traits)*

            #ready_impl
        };
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
            out.contains(
                "pub previous_msg : :: mageflow :: __private_v0_1_0 :: Slot < __mageflow_field_previous_msg , Msg >"
            ),
            "{out}"
        );
        assert!(out.contains("note_text : :: mageflow :: __private_v0_1_0 :: Slot :: new (\"noteText\")"), "{out}");
        assert!(!out.contains("cache"), "skipped fields cannot be bound: {out}");
        assert!(out.contains("type Unbound = NotedBinding < :: mageflow :: __private_v0_1_0 :: Unbound >"), "{out}");
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
        assert!(out.contains("pub trait __mageflow_required_note"), "{out}");
        assert_eq!(out.matches("pub trait __mageflow_required_").count(), 1, "{out}");
        assert!(out.contains("where __S0 : __mageflow_required_note ,"), "{out}");
        assert!(out.contains("the field `note` of `Noted` is neither bound nor fed"), "{out}");

        let out = expanded(
            parse_quote!(
                #[serde(default)]
                struct Defaults {
                    note: String,
                }
            ),
            None,
        );
        assert!(!out.contains("pub trait __mageflow_required_"), "a container default covers every field: {out}");
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
