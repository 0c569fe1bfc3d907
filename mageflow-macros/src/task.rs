//! `#[task]`: turns `async fn charge(order: Order) -> Result<Receipt, E>` into a unit struct `charge` that
//! implements `Task`, with the function kept as the associated function `charge::call`.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Item, ItemFn};

use crate::kebab;
use crate::options::{self, TaskOptions};
use crate::signature::{self, ContextParam, Handler};

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
    let compile_errors: TokenStream = errors.iter().map(syn::Error::to_compile_error).collect();
    let task = emit(&function, &handler, &options, &name, errors.is_empty());
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
fn task_name(function: &ItemFn, options: &TaskOptions, errors: &mut Vec<syn::Error>) -> String {
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

/// The struct, the `call` function and the `Task` impl. With `runnable == false` (a reported mistake), `run` is a
/// placeholder, so that the one error is the only one.
fn emit(function: &ItemFn, handler: &Handler, options: &TaskOptions, name: &str, runnable: bool) -> TokenStream {
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
    let private = quote!(::mageflow::__private);
    let options_fn = emit_options(options);
    let run = match (&handler.error, runnable && handler.complete) {
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
            // Reported at the function's name when the handler's future is not `Send`.
            let future = quote_spanned!(Span::call_site().located_at(ident.span())=>
                ::std::boxed::Box::pin(async move {
                    let result: ::core::result::Result<#output, #error> = Self::call(input #context_arg).await;
                    result.map_err(|error| #error_into)
                })
            );
            quote! {
                fn run(
                    &self,
                    input: Self::Input,
                    #context_param: #private::TaskContext,
                ) -> #private::BoxFuture<'static, ::core::result::Result<Self::Output, #private::TaskError>> {
                    #future
                }
            }
        }
        _ => quote! {
            fn run(
                &self,
                _input: Self::Input,
                _ctx: #private::TaskContext,
            ) -> #private::BoxFuture<'static, ::core::result::Result<Self::Output, #private::TaskError>> {
                // Placeholder for a handler with a reported mistake; it never compiles into a program.
                ::std::boxed::Box::pin(::core::future::pending::<
                    ::core::result::Result<Self::Output, #private::TaskError>,
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

            #run
        }
    }
}

/// `Task::options`, emitted only when an option other than `name` was given.
fn emit_options(options: &TaskOptions) -> TokenStream {
    let private = quote!(::mageflow::__private);
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
