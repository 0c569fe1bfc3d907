//! What `#[task]` accepts as a handler: `async fn name(input: T [, ctx: TaskContext]) -> Result<O, E>`, read from
//! the function's signature, with one spanned error per mistake.

use crate::errors::Errors;
use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{FnArg, GenericArgument, PathArguments, ReturnType, Signature, Type};

/// How the handler takes the run's context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ContextParam {
    /// No context parameter.
    Absent,
    /// `ctx: TaskContext`.
    Owned,
    /// `ctx: &TaskContext`.
    Borrowed,
}

/// The parts of the signature the `Task` impl is made of. A `None` type is one that was reported as an error;
/// `complete` says whether the handler can be called from `Task::run` as it is.
pub(crate) struct Handler {
    pub(crate) input: Option<Type>,
    pub(crate) context: ContextParam,
    /// The task's output: `O` of `Result<O, E>`, or `T` when the handler returns `Result<Next<T>, E>`.
    pub(crate) output: Option<Type>,
    /// Whether the handler returns `Next<T>` (it may continue with a flow) rather than its output itself.
    pub(crate) continues: bool,
    pub(crate) error: Option<Type>,
    pub(crate) complete: bool,
}

/// Reads the signature. Errors are pushed to `errors`; the handler is returned for a placeholder either way.
pub(crate) fn read(sig: &Signature, errors: &mut Errors) -> Handler {
    let mut handler = Handler {
        input: None,
        context: ContextParam::Absent,
        output: None,
        continues: false,
        error: None,
        complete: true,
    };
    let name = &sig.ident;

    if sig.asyncness.is_none() {
        // Recoverable: the handler is emitted as an `async fn` anyway, so its body's `.await`s still compile.
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            format!("a task is an `async fn`: write `async fn {name}(...)`"),
        ));
    }
    if let Some(unsafety) = &sig.unsafety {
        handler.complete = false;
        errors.push(syn::Error::new_spanned(
            unsafety,
            "a task cannot be an `unsafe fn`: the runtime calls it with any input; remove `unsafe` and use \
             `unsafe { ... }` blocks inside",
        ));
    }
    if let Some(abi) = &sig.abi {
        handler.complete = false;
        errors.push(syn::Error::new_spanned(abi, "a task is a Rust `async fn`: remove the `extern` ABI"));
    }
    let generic = !sig.generics.params.is_empty() || sig.generics.where_clause.is_some();
    if generic {
        handler.complete = false;
        let spanned: TokenStream = if sig.generics.params.is_empty() {
            sig.generics.where_clause.to_token_stream()
        } else {
            sig.generics.to_token_stream()
        };
        errors.push(syn::Error::new_spanned(
            spanned,
            "a task cannot be generic: it is registered and called by name with one concrete input and output \
             type; remove the generics, or write one task per type",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        handler.complete = false;
        errors.push(syn::Error::new_spanned(variadic, "a task takes one input: remove `...`"));
    }

    read_inputs(sig, generic, &mut handler, errors);
    read_output(sig, generic, &mut handler, errors);
    handler
}

/// The `self` receiver of a method, which `#[task]` cannot turn into a task.
pub(crate) fn receiver(sig: &Signature) -> Option<&syn::Receiver> {
    sig.inputs.iter().find_map(|arg| match arg {
        FnArg::Receiver(receiver) => Some(receiver),
        FnArg::Typed(_) => None,
    })
}

fn read_inputs(sig: &Signature, generic: bool, handler: &mut Handler, errors: &mut Errors) {
    let params: Vec<&syn::PatType> = sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(param) => Some(param),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let Some(first) = params.first() else {
        handler.complete = false;
        errors.push(syn::Error::new(
            sig.paren_token.span.join(),
            format!(
                "a task takes its input as a parameter: write `async fn {}(input: T)`, with a serde type `T` \
                 (`input: ()` for a task without input)",
                sig.ident
            ),
        ));
        return;
    };
    if context_param(&first.ty) != ContextParam::Absent {
        handler.complete = false;
        errors.push(syn::Error::new_spanned(
            &first.ty,
            format!(
                "the first parameter of a task is its input, and the context comes second: write \
                 `async fn {}(input: T, ctx: TaskContext)` (`input: ()` for a task without input)",
                sig.ident
            ),
        ));
        return;
    }
    match owned_type_problem(&first.ty, "input", "deserialized from JSON") {
        Some(error) => {
            handler.complete = false;
            errors.push(error);
        }
        None if !generic => handler.input = Some((*first.ty).clone()),
        None => {}
    }

    let rest = &params[1..];
    let Some(second) = rest.first() else { return };
    let context = context_param(&second.ty);
    if context == ContextParam::Absent {
        handler.complete = false;
        errors.push(syn::Error::new_spanned(
            span_of_all(rest),
            "a task takes one input: put these values into the input struct (one type deriving `Serialize`, \
             `Deserialize` and `JsonSchema`); only a `TaskContext` may follow the input",
        ));
        return;
    }
    handler.context = context;
    if rest.len() > 1 {
        handler.complete = false;
        errors.push(syn::Error::new_spanned(
            span_of_all(&rest[1..]),
            "a task takes its input and a `TaskContext`, nothing more: put these values into the input struct",
        ));
    }
}

/// Tokens whose first and last span cover all of `params`, for an error that underlines them together.
fn span_of_all(params: &[&syn::PatType]) -> TokenStream {
    let first = params.first().map(|param| param.to_token_stream());
    let last = params.last().filter(|_| params.len() > 1).map(|param| param.to_token_stream());
    quote!(#first #last)
}

fn read_output(sig: &Signature, generic: bool, handler: &mut Handler, errors: &mut Errors) {
    let ty = match &sig.output {
        ReturnType::Type(_, ty) => ty,
        ReturnType::Default => {
            handler.complete = false;
            errors.push(syn::Error::new(
                sig.paren_token.span.close(),
                "a task returns a `Result`: add a return type like `-> Result<Receipt, TaskError>` (any error \
                 type that converts into `TaskError` will do)",
            ));
            return;
        }
    };
    let Some((output, error)) = result_types(ty) else {
        handler.complete = false;
        let message = match result_alias_output(ty) {
            Some(output) => format!(
                "write both types of the `Result`, like `-> Result<{}, TaskError>`: `#[task]` reads the output \
                 and error types from the signature, and cannot see through a `Result` alias",
                pretty(output)
            ),
            None => format!(
                "a task returns a `Result`: write `-> Result<{}, TaskError>` (any error type that converts into \
                 `TaskError` will do)",
                pretty(ty)
            ),
        };
        errors.push(syn::Error::new_spanned(ty, message));
        return;
    };
    match owned_type_problem(output, "output", "serialized to JSON") {
        Some(error) => {
            handler.complete = false;
            errors.push(error);
        }
        None if !generic => match next_output(output) {
            Some(inner) => {
                handler.output = Some(inner.clone());
                handler.continues = true;
            }
            None => handler.output = Some(output.clone()),
        },
        None => {}
    }
    if let Some(impl_trait) = find_type(error, &|ty| matches!(ty, Type::ImplTrait(_))) {
        handler.complete = false;
        errors.push(syn::Error::new_spanned(
            impl_trait,
            "name the error type of a task, like `TaskError`: `impl Trait` cannot be converted into `TaskError`",
        ));
    } else if !generic {
        handler.error = Some(error.clone());
    }
}

/// The `T` of `Next<T>` (any path ending in `Next` with one type argument): a handler that may continue with a
/// flow.
fn next_output(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = strip_groups(ty) else { return None };
    let last = path.path.segments.last()?;
    match &last.arguments {
        PathArguments::AngleBracketed(args) if last.ident == "Next" && args.args.len() == 1 => {
            match args.args.first() {
                Some(GenericArgument::Type(output)) => Some(output),
                _ => None,
            }
        }
        _ => None,
    }
}

/// `Result<O, E>` (any path ending in `Result`) split into `O` and `E`.
fn result_types(ty: &Type) -> Option<(&Type, &Type)> {
    let args = result_arguments(ty)?;
    let mut types = args.args.iter().filter_map(|arg| match arg {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    });
    match (types.next(), types.next(), types.next()) {
        (Some(output), Some(error), None) if args.args.len() == 2 => Some((output, error)),
        _ => None,
    }
}

/// The `T` of a one-parameter `Result` alias such as `io::Result<T>` or `TaskResult<T>` (a path ending in
/// `Result`).
fn result_alias_output(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = strip_groups(ty) else { return None };
    let last = path.path.segments.last()?;
    match &last.arguments {
        PathArguments::AngleBracketed(args) if last.ident.to_string().ends_with("Result") && args.args.len() == 1 => {
            match args.args.first() {
                Some(GenericArgument::Type(output)) => Some(output),
                _ => None,
            }
        }
        _ => None,
    }
}

fn result_arguments(ty: &Type) -> Option<&syn::AngleBracketedGenericArguments> {
    let Type::Path(path) = strip_groups(ty) else { return None };
    let last = path.path.segments.last()?;
    match &last.arguments {
        PathArguments::AngleBracketed(args) if last.ident == "Result" && path.qself.is_none() => Some(args),
        _ => None,
    }
}

/// A type as a user would write it: `Vec<u8>`, not `Vec < u8 >`.
pub(crate) fn pretty(ty: &Type) -> String {
    let mut text = ty.to_token_stream().to_string();
    for (from, to) in [(" <", "<"), ("< ", "<"), (" >", ">"), (" ::", "::"), (":: ", "::"), (" ,", ","), ("& ", "&")] {
        text = text.replace(from, to);
    }
    text
}

/// Whether a parameter's type is the run's context: any path ending in `TaskContext`, or a shared reference to one.
pub(crate) fn context_param(ty: &Type) -> ContextParam {
    match strip_groups(ty) {
        Type::Path(path) if path.qself.is_none() => match path.path.segments.last() {
            Some(last) if last.ident == "TaskContext" && last.arguments.is_none() => ContextParam::Owned,
            _ => ContextParam::Absent,
        },
        Type::Reference(reference) if reference.mutability.is_none() => match context_param(&reference.elem) {
            ContextParam::Owned => ContextParam::Borrowed,
            _ => ContextParam::Absent,
        },
        _ => ContextParam::Absent,
    }
}

fn strip_groups(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => strip_groups(&group.elem),
        Type::Paren(paren) => strip_groups(&paren.elem),
        _ => ty,
    }
}

/// Inputs and outputs cross the wire as JSON, so they must be concrete types that own their data.
fn owned_type_problem(ty: &Type, what: &str, how: &str) -> Option<syn::Error> {
    if let Some(impl_trait) = find_type(ty, &|ty| matches!(ty, Type::ImplTrait(_))) {
        return Some(syn::Error::new_spanned(
            impl_trait,
            format!(
                "a task's {what} must be a concrete type, since it is {how}: name the type instead of `impl Trait`"
            ),
        ));
    }
    if let Some(borrowed) = find_type(ty, &|ty| matches!(ty, Type::Reference(_))) {
        return Some(syn::Error::new_spanned(
            borrowed,
            format!(
                "a task's {what} is {how}, so it must own its data: use an owned type (`String` for `&str`, \
                 `Vec<T>` for `&[T]`)"
            ),
        ));
    }
    if let Some(lifetime) = find_lifetime(ty) {
        return Some(syn::Error::new_spanned(
            lifetime,
            format!("a task's {what} is {how}, so it must own its data: use a type without lifetimes"),
        ));
    }
    if let Some(infer) = find_type(ty, &|ty| matches!(ty, Type::Infer(_))) {
        return Some(syn::Error::new_spanned(infer, format!("name the {what} type of the task in full")));
    }
    None
}

/// The first type inside `ty` (itself included) that `matches`.
fn find_type<'a>(ty: &'a Type, matches: &dyn Fn(&Type) -> bool) -> Option<&'a Type> {
    if matches(ty) {
        return Some(ty);
    }
    match ty {
        Type::Array(array) => find_type(&array.elem, matches),
        Type::Group(group) => find_type(&group.elem, matches),
        Type::Paren(paren) => find_type(&paren.elem, matches),
        Type::Ptr(ptr) => find_type(&ptr.elem, matches),
        Type::Reference(reference) => find_type(&reference.elem, matches),
        Type::Slice(slice) => find_type(&slice.elem, matches),
        Type::Tuple(tuple) => tuple.elems.iter().find_map(|elem| find_type(elem, matches)),
        Type::Path(path) => {
            let qself = path.qself.as_ref().and_then(|qself| find_type(&qself.ty, matches));
            qself.or_else(|| {
                path.path.segments.iter().find_map(|segment| match &segment.arguments {
                    PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
                        GenericArgument::Type(ty) => find_type(ty, matches),
                        _ => None,
                    }),
                    PathArguments::Parenthesized(_) | PathArguments::None => None,
                })
            })
        }
        _ => None,
    }
}

/// The first lifetime named inside `ty`, such as `Cow<'a, str>`'s `'a`.
fn find_lifetime(ty: &Type) -> Option<&syn::Lifetime> {
    match ty {
        Type::Path(path) => path.path.segments.iter().find_map(|segment| match &segment.arguments {
            PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
                GenericArgument::Lifetime(lifetime) if lifetime.ident != "static" => Some(lifetime),
                GenericArgument::Type(ty) => find_lifetime(ty),
                _ => None,
            }),
            _ => None,
        }),
        Type::Array(array) => find_lifetime(&array.elem),
        Type::Group(group) => find_lifetime(&group.elem),
        Type::Paren(paren) => find_lifetime(&paren.elem),
        Type::Slice(slice) => find_lifetime(&slice.elem),
        Type::Tuple(tuple) => tuple.elems.iter().find_map(find_lifetime),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn text(ty: &Option<Type>) -> Option<String> {
        ty.as_ref().map(|ty| ty.to_token_stream().to_string())
    }

    fn errors_of(sig: Signature) -> Vec<String> {
        let mut errors = Errors::new();
        read(&sig, &mut errors);
        errors.messages()
    }

    #[test]
    fn a_well_formed_handler_is_read() {
        let mut errors = Errors::new();
        let handler = read(&parse_quote!(async fn charge(order: Order) -> Result<Receipt, PaymentError>), &mut errors);
        assert!(errors.messages().is_empty());
        assert!(handler.complete);
        assert_eq!(text(&handler.input).as_deref(), Some("Order"));
        assert_eq!(text(&handler.output).as_deref(), Some("Receipt"));
        assert_eq!(text(&handler.error).as_deref(), Some("PaymentError"));
        assert_eq!(handler.context, ContextParam::Absent);
    }

    #[test]
    fn the_context_may_follow_the_input() {
        let mut errors = Errors::new();
        let handler = read(
            &parse_quote!(async fn charge(order: Order, ctx: mageflow::TaskContext) -> std::result::Result<(), E>),
            &mut errors,
        );
        assert!(errors.messages().is_empty());
        assert_eq!(handler.context, ContextParam::Owned);
        let handler =
            read(&parse_quote!(async fn charge(order: Order, ctx: &TaskContext) -> Result<(), E>), &mut errors);
        assert!(errors.messages().is_empty());
        assert_eq!(handler.context, ContextParam::Borrowed);
    }

    #[test]
    fn types_print_as_written() {
        assert_eq!(pretty(&parse_quote!(Vec<u8>)), "Vec<u8>");
        assert_eq!(
            pretty(&parse_quote!(std::collections::HashMap<String, Vec<u8>>)),
            "std::collections::HashMap<String, Vec<u8>>"
        );
        assert_eq!(pretty(&parse_quote!(&'a mut [u8])), "&'a mut [u8]");
    }

    #[test]
    fn each_mistake_is_one_error() {
        assert_eq!(errors_of(parse_quote!(fn charge(order: Order) -> Result<(), E>)).len(), 1);
        assert_eq!(errors_of(parse_quote!(async fn charge() -> Result<(), E>)).len(), 1);
        assert_eq!(errors_of(parse_quote!(async fn charge(a: A, b: B, c: C) -> Result<(), E>)).len(), 1);
        assert_eq!(errors_of(parse_quote!(async fn charge(a: A, ctx: TaskContext, c: C) -> Result<(), E>)).len(), 1);
        assert_eq!(errors_of(parse_quote!(async fn charge<T>(a: T) -> Result<T, E>)).len(), 1);
        assert_eq!(errors_of(parse_quote!(async fn charge(a: A) -> Receipt)).len(), 1);
        assert_eq!(errors_of(parse_quote!(async fn charge(a: A))).len(), 1);
        assert_eq!(errors_of(parse_quote!(async fn charge(a: A) -> Result<R>)).len(), 1);
        assert_eq!(errors_of(parse_quote!(async fn charge(a: &str) -> Result<R, E>)).len(), 1);
        assert_eq!(errors_of(parse_quote!(async fn charge(a: Cow<'static, str>) -> Result<R, E>)).len(), 0);
        assert_eq!(errors_of(parse_quote!(async fn charge(a: Vec<Cow<'a, str>>) -> Result<R, E>)).len(), 1);
        assert_eq!(errors_of(parse_quote!(async fn charge(a: impl Tr) -> Result<R, E>)).len(), 1);
        assert_eq!(errors_of(parse_quote!(async fn charge(ctx: TaskContext) -> Result<R, E>)).len(), 1);
    }
}
