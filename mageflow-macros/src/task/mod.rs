//! `#[task]`: turns `async fn charge(order: Order) -> Result<Receipt, E>` into a unit struct `charge` that
//! implements `Task`, with the function kept as the associated function `charge::call`.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Item, ItemFn};

mod duration;
mod kebab;
mod options;
mod signature;

use crate::errors::Errors;
use options::TaskOptions;
use signature::{ContextParam, Handler};

/// Expands `#[task(args)] item`.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let function = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(function)) => function,
        Ok(other) => return not_a_function(&other, item),
        // Syntax `syn` does not know: say so, and leave the item as written.
        Err(error) => {
            let error = error.to_compile_error();
            return quote!(#error #item);
        }
    };
    let (options, mut errors) = options::parse(args);

    // A method stays a method: a struct cannot be emitted inside an `impl` block.
    if let Some(receiver) = signature::receiver(&function.sig) {
        let error = syn::Error::new_spanned(
            receiver,
            "`#[task]` makes a task of a free `async fn`, not of a method: move the function out of the `impl` \
             block and pass what it needs from `self` in its input",
        )
        .to_compile_error();
        return quote!(#error #function);
    }

    let handler = signature::read(&function.sig, &mut errors);
    let name = task_name(&function, &options, &mut errors);
    let compile_errors = errors.into_compile_errors();
    let task = emit(&function, &handler, &options, &name);
    quote!(#compile_errors #task)
}

fn not_a_function(item: &Item, tokens: TokenStream) -> TokenStream {
    let keyword: TokenStream = match item {
        Item::Struct(item) => item.struct_token.to_token_stream(),
        Item::Enum(item) => item.enum_token.to_token_stream(),
        Item::Union(item) => item.union_token.to_token_stream(),
        Item::Trait(item) => item.trait_token.to_token_stream(),
        Item::Impl(item) => item.impl_token.to_token_stream(),
        Item::Mod(item) => item.mod_token.to_token_stream(),
        Item::Const(item) => item.const_token.to_token_stream(),
        Item::Static(item) => item.static_token.to_token_stream(),
        Item::Type(item) => item.type_token.to_token_stream(),
        Item::Use(item) => item.use_token.to_token_stream(),
        other => other.to_token_stream(),
    };
    let error = syn::Error::new_spanned(
        keyword,
        "`#[task]` goes on an `async fn`, like `#[task] async fn charge(order: Order) -> Result<Receipt, TaskError>`",
    )
    .to_compile_error();
    quote!(#error #tokens)
}

/// The explicit `name = "..."`, or the function's name in kebab-case.
fn task_name(function: &ItemFn, options: &TaskOptions, errors: &mut Errors) -> String {
    if let Some(name) = &options.name {
        return name.value.clone();
    }
    let ident = &function.sig.ident;
    let name = kebab::to_kebab(&ident.to_string());
    if !kebab::is_kebab(&name) {
        errors.push(syn::Error::new_spanned(
            ident,
            format!(
                "cannot make a kebab-case task name (lowercase ASCII letters, digits and hyphens) from `{ident}`: \
                 give one with `#[task(name = \"...\")]`"
            ),
        ));
    }
    name
}

/// The function's attributes, sorted by the items they go on.
struct Attributes<'a> {
    /// `#[doc ...]`: on the struct and on `call`.
    docs: Vec<&'a Attribute>,
    /// `#[cfg(...)]`: on every emitted item.
    cfgs: Vec<&'a Attribute>,
    /// `#[allow/warn/deny/forbid(...)]`: on the struct and on `call`.
    lints: Vec<&'a Attribute>,
    /// Everything else (`#[inline]`, `#[tracing::instrument]`, `#[expect(...)]`, ...): on `call`, the function.
    others: Vec<&'a Attribute>,
}

fn sort_attributes(attrs: &[Attribute]) -> Attributes<'_> {
    let mut sorted = Attributes { docs: Vec::new(), cfgs: Vec::new(), lints: Vec::new(), others: Vec::new() };
    for attr in attrs {
        let path = attr.path();
        if path.is_ident("doc") {
            sorted.docs.push(attr);
        } else if path.is_ident("cfg") {
            sorted.cfgs.push(attr);
        } else if ["allow", "warn", "deny", "forbid"].iter().any(|lint| path.is_ident(lint)) {
            sorted.lints.push(attr);
        } else {
            sorted.others.push(attr);
        }
    }
    sorted
}

/// The struct, the `call` function and the `Task` impl. When the signature has a reported mistake that `run` cannot
/// call through (`handler.complete == false`), `run` is a placeholder and unknown types are `()`, so that the one
/// error is the only one. Bad options fall back to the defaults and the rest stays as it would be.
fn emit(function: &ItemFn, handler: &Handler, options: &TaskOptions, name: &str) -> TokenStream {
    let ident = &function.sig.ident;
    let vis = &function.vis;
    let Attributes { docs, cfgs, lints, others } = sort_attributes(&function.attrs);

    let mut call_sig = function.sig.clone();
    call_sig.ident = format_ident!("call", span = ident.span());
    call_sig.asyncness = Some(syn::Token![async](call_sig.fn_token.span));
    call_sig.abi = None;
    let block = &function.block;
    let call_doc = format!(
        "Runs the `{ident}` handler directly, as written: `{ident}::call(input).await`. No retries, timeout or \
         flow; use the `Task` impl of `{ident}` for those."
    );
    let docs_separator = (!docs.is_empty()).then(|| quote!(#[doc = ""]));

    let unit = quote!(());
    let input = handler.input.as_ref().map_or_else(|| unit.clone(), ToTokens::to_token_stream);
    let output = handler.output.as_ref().map_or_else(|| unit.clone(), ToTokens::to_token_stream);
    let private = crate::private();
    let options_fn = emit_options(options);
    let run = match (&handler.error, handler.complete) {
        (Some(error), true) => {
            let (context_param, context_arg) = match handler.context {
                ContextParam::Absent => (quote!(_ctx), quote!()),
                ContextParam::Owned => (quote!(ctx), quote!(, ctx)),
                ContextParam::Borrowed => (quote!(ctx), quote!(, &ctx)),
            };
            // Reported at the error type, once, when it does not convert. `located_at` keeps the macro's hygiene,
            // so lints treat the code as generated.
            let error_into = quote_spanned!(Span::call_site().located_at(error.span())=>
                <#error as ::core::convert::Into<#private::TaskError>>::into(error)
            );
            // A handler returning `Next<O>` may continue with a flow; any other output is wrapped.
            let (written, wrap) = if handler.continues {
                (quote!(#private::Next<#output>), quote!())
            } else {
                (quote!(#output), quote!(.map(#private::Next::Output)))
            };
            // Reported at the function's name when the handler's future is not `Send`.
            let future = quote_spanned!(Span::call_site().located_at(ident.span())=>
                ::std::boxed::Box::pin(async move {
                    let result: ::core::result::Result<#written, #error> = Self::call(input #context_arg).await;
                    result.map_err(|error| #error_into) #wrap
                })
            );
            quote! {
                fn run(
                    &self,
                    input: Self::Input,
                    #context_param: #private::TaskContext,
                ) -> #private::BoxFuture<'static, ::core::result::Result<#private::Next<Self::Output>, #private::TaskError>> {
                    #future
                }
            }
        }
        _ => quote! {
            fn run(
                &self,
                _input: Self::Input,
                _ctx: #private::TaskContext,
            ) -> #private::BoxFuture<'static, ::core::result::Result<#private::Next<Self::Output>, #private::TaskError>> {
                // Placeholder for a handler with a reported mistake; it never compiles into a program.
                ::std::boxed::Box::pin(::core::future::pending::<
                    ::core::result::Result<#private::Next<Self::Output>, #private::TaskError>,
                >())
            }
        },
    };

    quote! {
        #(#docs)*
        #(#cfgs)*
        #(#lints)*
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, Default)]
        #vis struct #ident;

        #(#cfgs)*
        impl #ident {
            #(#docs)*
            #docs_separator
            #[doc = #call_doc]
            #(#lints)*
            #(#others)*
            #vis #call_sig #block
        }

        #(#cfgs)*
        impl #private::Task for #ident {
            type Input = #input;
            type Output = #output;

            fn name(&self) -> &'static str {
                #name
            }

            #options_fn

            fn return_field(&self) -> ::core::option::Option<&'static str> {
                #[allow(unused_imports)]
                use #private::{ReturnFieldOfTaskInput as _, ReturnFieldOfWholeInput as _};
                (&#private::ReturnFieldProbe::<Self::Input>::new()).return_field()
            }

            fn output_schema(&self) -> ::core::option::Option<#private::serde_json::Value> {
                #[allow(unused_imports)]
                use #private::{OutputSchemaOfJsonSchema as _, OutputSchemaUnknown as _};
                (&#private::OutputSchemaProbe::<Self::Output>::new()).output_schema()
            }

            #run
        }
    }
}

/// `Task::options`, emitted only when an option other than `name` was given.
fn emit_options(options: &TaskOptions) -> TokenStream {
    let private = crate::private();
    let backoff_given =
        options.backoff_millis.is_some() || options.backoff_factor.is_some() || options.max_backoff_millis.is_some();
    let all_given = options.retries.is_some()
        && options.timeout_millis.is_some()
        && options.backoff_millis.is_some()
        && options.backoff_factor.is_some()
        && options.max_backoff_millis.is_some();
    if options.retries.is_none() && options.timeout_millis.is_none() && !backoff_given {
        return TokenStream::new();
    }
    let millis = |millis: u64| {
        let millis = Literal::u64_suffixed(millis);
        quote!(#private::Duration::from_millis(#millis))
    };
    let retries = options.retries.map_or_else(
        || quote!(defaults.retries),
        |retries| {
            let retries = Literal::u32_suffixed(retries);
            quote!(#retries)
        },
    );
    let timeout = options.timeout_millis.map_or_else(
        || quote!(defaults.timeout),
        |timeout| {
            let timeout = millis(timeout);
            quote!(::core::option::Option::Some(#timeout))
        },
    );
    let backoff = if backoff_given {
        let initial = options
            .backoff_millis
            .as_ref()
            .map_or_else(|| quote!(defaults.backoff.initial), |given| millis(given.value));
        let factor = options.backoff_factor.map_or_else(
            || quote!(defaults.backoff.factor),
            |factor| {
                let factor = Literal::f64_suffixed(factor);
                quote!(#factor)
            },
        );
        let max = options
            .max_backoff_millis
            .as_ref()
            .map_or_else(|| quote!(defaults.backoff.max), |given| millis(given.value));
        quote!(#private::Backoff { initial: #initial, factor: #factor, max: #max })
    } else {
        quote!(defaults.backoff)
    };
    let defaults =
        (!all_given).then(|| quote!(let defaults = <#private::TaskOptions as ::core::default::Default>::default();));
    quote! {
        fn options(&self) -> #private::TaskOptions {
            #defaults
            #private::TaskOptions { retries: #retries, timeout: #timeout, backoff: #backoff }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::{ImplItem, Item};

    /// The items `#[task(args)] function` expands to, and the number of `compile_error!`s among them.
    fn expand_items(args: TokenStream, function: TokenStream) -> (Vec<Item>, usize) {
        let file: syn::File = syn::parse2(expand(args, function)).expect("the expansion parses as items");
        let errors = file.items.iter().filter(|item| matches!(item, Item::Macro(_))).count();
        let items = file.items.into_iter().filter(|item| !matches!(item, Item::Macro(_))).collect();
        (items, errors)
    }

    fn charge() -> TokenStream {
        quote!(
            /// Charges.
            pub async fn charge(order: Order) -> Result<Receipt, PaymentError> {
                Ok(bill(order)?)
            }
        )
    }

    /// The methods of the `Task` impl, by name, as text.
    fn task_methods(items: &[Item]) -> Vec<(String, String)> {
        let task_impl = items
            .iter()
            .find_map(|item| match item {
                Item::Impl(item) if item.trait_.is_some() => Some(item),
                _ => None,
            })
            .expect("a Task impl");
        task_impl
            .items
            .iter()
            .filter_map(|item| match item {
                ImplItem::Fn(method) => {
                    Some((method.sig.ident.to_string(), method.block.to_token_stream().to_string()))
                }
                _ => None,
            })
            .collect()
    }

    fn method<'a>(methods: &'a [(String, String)], name: &str) -> Option<&'a str> {
        methods.iter().find(|(method, _)| method == name).map(|(_, body)| body.as_str())
    }

    #[test]
    fn a_task_is_a_unit_struct_its_call_function_and_a_task_impl() {
        let (items, errors) = expand_items(quote!(), charge());
        assert_eq!(errors, 0);
        assert_eq!(items.len(), 3);
        let Item::Struct(unit) = &items[0] else { panic!("a struct first") };
        assert_eq!(unit.ident, "charge");
        assert!(matches!(unit.vis, syn::Visibility::Public(_)));
        assert!(matches!(unit.fields, syn::Fields::Unit));
        assert!(unit.attrs.iter().any(|attr| attr.to_token_stream().to_string().contains("Charges.")));

        let Item::Impl(inherent) = &items[1] else { panic!("an inherent impl second") };
        let Some(ImplItem::Fn(call)) = inherent.items.first() else { panic!("`call`") };
        assert_eq!(call.sig.ident, "call");
        assert!(call.sig.asyncness.is_some());
        assert_eq!(call.block.to_token_stream().to_string(), "{ Ok (bill (order) ?) }");

        let methods = task_methods(&items);
        assert_eq!(method(&methods, "name"), Some("{ \"charge\" }"));
        assert_eq!(method(&methods, "options"), None, "no options: the trait's default");
        assert!(method(&methods, "run").is_some_and(|run| run.contains("Self :: call (input)")));
    }

    #[test]
    fn options_given_in_full_need_no_defaults() {
        let args = quote!(retries = 2, timeout = "1s", backoff = "1s", backoff_factor = 2.0, max_backoff = "1m");
        let (items, errors) = expand_items(args, charge());
        assert_eq!(errors, 0);
        let methods = task_methods(&items);
        let options = method(&methods, "options").expect("options");
        assert!(!options.contains("defaults"), "{options}");
        assert!(options.contains("retries : 2u32"), "{options}");
        assert!(options.contains("from_millis (60000u64)"), "{options}");

        let (items, _) = expand_items(quote!(retries = 2), charge());
        let methods = task_methods(&items);
        let options = method(&methods, "options").expect("options");
        assert!(options.contains("timeout : defaults . timeout"), "{options}");
        assert!(options.contains("backoff : defaults . backoff"), "{options}");
    }

    #[test]
    fn a_bad_option_is_one_error_and_the_task_is_still_complete() {
        let (items, errors) = expand_items(quote!(retries = "3"), charge());
        assert_eq!(errors, 1);
        let methods = task_methods(&items);
        assert!(method(&methods, "run").is_some_and(|run| run.contains("Self :: call")));
    }

    #[test]
    fn a_missing_async_is_one_error_and_the_handler_is_made_async() {
        let (items, errors) = expand_items(
            quote!(),
            quote!(
                fn charge(order: Order) -> Result<R, E> {
                    todo()
                }
            ),
        );
        assert_eq!(errors, 1);
        let Item::Impl(inherent) = &items[1] else { panic!("an inherent impl") };
        let Some(ImplItem::Fn(call)) = inherent.items.first() else { panic!("`call`") };
        assert!(call.sig.asyncness.is_some());
    }

    #[test]
    fn a_broken_signature_gets_a_placeholder_run() {
        let (items, errors) = expand_items(
            quote!(),
            quote!(
                async fn charge() -> Result<R, E> {
                    todo()
                }
            ),
        );
        assert_eq!(errors, 1);
        let methods = task_methods(&items);
        assert!(method(&methods, "run").is_some_and(|run| run.contains("pending")));
    }

    #[test]
    fn a_method_is_left_a_method() {
        let (items, errors) = expand_items(
            quote!(),
            quote!(
                async fn charge(&self, x: u32) -> Result<R, E> {
                    todo()
                }
            ),
        );
        assert_eq!(errors, 1);
        assert_eq!(items.len(), 1);
        assert!(matches!(&items[0], Item::Fn(function) if function.sig.ident == "charge"));
    }

    #[test]
    fn the_default_name_is_kebab_case_and_an_explicit_one_wins() {
        let function = quote!(
            async fn send_receipt(x: u32) -> Result<u32, E> {
                Ok(x)
            }
        );
        let (items, _) = expand_items(quote!(), function.clone());
        assert_eq!(method(&task_methods(&items), "name"), Some("{ \"send-receipt\" }"));
        let (items, _) = expand_items(quote!(name = "mail-receipt"), function);
        assert_eq!(method(&task_methods(&items), "name"), Some("{ \"mail-receipt\" }"));
    }
}
