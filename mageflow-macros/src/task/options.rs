//! The options of `#[task(...)]`: `name`, `retries`, `timeout`, `backoff`, `backoff_factor` and `max_backoff`,
//! parsed and checked at compile time.

use crate::errors::Errors;
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::Parser;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ExprUnary, Lit, Token, UnOp};

use super::duration::{self, DurationError};
use super::kebab;

/// The options every task accepts, in the order the documentation lists them.
pub(crate) const KNOWN: [&str; 6] = ["name", "retries", "timeout", "backoff", "backoff_factor", "max_backoff"];

/// The runtime's default wait before the first retry (`Backoff::default().initial`), used to check `max_backoff`.
pub(crate) const DEFAULT_BACKOFF_MILLIS: u64 = 100;
/// The runtime's default longest wait (`Backoff::default().max`), used to check `backoff`.
pub(crate) const DEFAULT_MAX_BACKOFF_MILLIS: u64 = 60_000;

/// A value given in the attribute, with the span of the value for later checks.
#[derive(Debug, Clone)]
pub(crate) struct Given<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

/// The options as written; `None` where the runtime's default applies.
#[derive(Debug, Default, Clone)]
pub(crate) struct TaskOptions {
    /// `name = "send-receipt"`.
    pub(crate) name: Option<Given<String>>,
    /// `retries = 3`.
    pub(crate) retries: Option<u32>,
    /// `timeout = "30s"`, in milliseconds.
    pub(crate) timeout_millis: Option<u64>,
    /// `backoff = "500ms"`, in milliseconds.
    pub(crate) backoff_millis: Option<Given<u64>>,
    /// `backoff_factor = 2.0`.
    pub(crate) backoff_factor: Option<f64>,
    /// `max_backoff = "1m"`, in milliseconds.
    pub(crate) max_backoff_millis: Option<Given<u64>>,
}

/// Parses the attribute's arguments. Returns the options that were understood (defaults elsewhere) and one error
/// per mistake, so the task can still be emitted and no error follows from the first.
pub(crate) fn parse(args: TokenStream) -> (TaskOptions, Errors) {
    let mut options = TaskOptions::default();
    let mut errors = Errors::new();
    let args = match Punctuated::<OptionArg, Token![,]>::parse_terminated.parse2(args) {
        Ok(args) => args,
        Err(error) => {
            errors.push(error);
            return (options, errors);
        }
    };
    let mut seen: Vec<&str> = Vec::new();
    for arg in args {
        let key = arg.path.to_token_stream().to_string().replace(' ', "");
        let Some(&known) = KNOWN.iter().find(|known| **known == key) else {
            errors.push(syn::Error::new_spanned(&arg.path, unknown_option_message(&key)));
            continue;
        };
        if seen.contains(&known) {
            errors.push(syn::Error::new_spanned(
                &arg.path,
                format!("`{known}` is given twice; keep one `{known} = ...`"),
            ));
            continue;
        }
        seen.push(known);
        let Some(value) = &arg.value else {
            errors.push(syn::Error::new_spanned(
                &arg,
                format!("`{known}` needs a value: write `{known} = {}`", example(known)),
            ));
            continue;
        };
        if let Err(error) = apply(&mut options, known, value) {
            errors.push(error);
        }
    }
    if let Err(error) = check_backoff_bounds(&options) {
        errors.push(error);
    }
    (options, errors)
}

/// One `key = value` of the attribute. `key` alone and `key(...)` parse too, to be reported as missing a value.
struct OptionArg {
    path: syn::Path,
    /// `(...)` after the key, kept for the error's span.
    list: Option<proc_macro2::Group>,
    value: Option<Value>,
}

/// The value of an option: the expression, and the tokens it was written as (for spans that cover `-1` whole).
struct Value {
    expr: Expr,
    tokens: TokenStream,
}

impl Parse for OptionArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let path = input.call(syn::Path::parse_mod_style)?;
        if input.peek(syn::token::Paren) {
            return Ok(OptionArg { path, list: Some(input.parse()?), value: None });
        }
        if !input.peek(Token![=]) {
            return Ok(OptionArg { path, list: None, value: None });
        }
        input.parse::<Token![=]>()?;
        let mut tokens = TokenStream::new();
        while !input.is_empty() && !input.peek(Token![,]) {
            tokens.extend([input.parse::<proc_macro2::TokenTree>()?]);
        }
        if tokens.is_empty() {
            return Err(input.error(format!(
                "write a value after `=`, like `{} = {}`",
                path.to_token_stream(),
                KNOWN.iter().find(|known| path.is_ident(known)).map_or("...", |known| example(known))
            )));
        }
        let expr = syn::parse2::<Expr>(tokens.clone())?;
        Ok(OptionArg { path, list: None, value: Some(Value { expr, tokens }) })
    }
}

impl ToTokens for OptionArg {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.path.to_tokens(tokens);
        self.list.to_tokens(tokens);
        if let Some(value) = &self.value {
            value.to_tokens(tokens);
        }
    }
}

impl ToTokens for Value {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(self.tokens.clone());
    }
}

/// An example value of each option, as written in the attribute.
fn example(option: &str) -> &'static str {
    match option {
        "name" => "\"send-receipt\"",
        "retries" => "3",
        "timeout" => "\"30s\"",
        "backoff" => "\"500ms\"",
        "backoff_factor" => "2.0",
        _ => "\"1m\"",
    }
}

fn unknown_option_message(key: &str) -> String {
    let list = KNOWN.map(|known| format!("`{known}`")).join(", ");
    match crate::suggest::closest(key, &KNOWN) {
        Some(suggestion) => {
            format!("unknown task option `{key}`; did you mean `{suggestion}`? The options are {list}")
        }
        None => format!("unknown task option `{key}`; the options are {list}"),
    }
}

/// Stores one option's value, or says what is wrong with it.
fn apply(options: &mut TaskOptions, option: &str, value: &Value) -> syn::Result<()> {
    let span = first_span(value);
    match option {
        "name" => options.name = Some(Given { value: parse_name(value)?, span }),
        "retries" => options.retries = Some(parse_retries(value)?),
        "timeout" => {
            let millis = parse_duration(option, value)?;
            if millis == 0 {
                return Err(syn::Error::new_spanned(
                    value,
                    "a zero `timeout` would fail every attempt at once: give a positive duration like \
                     `timeout = \"30s\"`, or leave `timeout` out for no limit",
                ));
            }
            options.timeout_millis = Some(millis);
        }
        "backoff" => options.backoff_millis = Some(Given { value: parse_duration(option, value)?, span }),
        "backoff_factor" => options.backoff_factor = Some(parse_factor(value)?),
        _ => options.max_backoff_millis = Some(Given { value: parse_duration(option, value)?, span }),
    }
    Ok(())
}

fn first_span(value: &Value) -> Span {
    value.to_token_stream().into_iter().next().map_or_else(Span::call_site, |token| token.span())
}

/// The literal of `value`, and whether it is negative (`-1`, which syn reads either as a negative literal or as a
/// negation).
fn literal(value: &Expr) -> Option<(&Lit, bool)> {
    match value {
        Expr::Lit(ExprLit { lit, .. }) => {
            let negative = match lit {
                Lit::Int(int) => int.base10_digits().starts_with('-'),
                Lit::Float(float) => float.base10_digits().starts_with('-'),
                _ => false,
            };
            Some((lit, negative))
        }
        Expr::Unary(ExprUnary { op: UnOp::Neg(_), expr, .. }) => match &**expr {
            Expr::Lit(ExprLit { lit, .. }) => Some((lit, true)),
            _ => None,
        },
        Expr::Group(group) => literal(&group.expr),
        _ => None,
    }
}

fn parse_name(value: &Value) -> syn::Result<String> {
    let Some((Lit::Str(text), false)) = literal(&value.expr) else {
        return Err(syn::Error::new_spanned(value, "`name` takes a string: write `name = \"send-receipt\"`"));
    };
    let name = text.value();
    if name.is_empty() {
        return Err(syn::Error::new_spanned(
            value,
            "a task name cannot be empty: write one like `name = \"send-receipt\"`, or leave `name` out to use \
             the function's name in kebab-case",
        ));
    }
    if !kebab::is_kebab(&name) {
        let suggestion = kebab::to_kebab(&name);
        let message = if kebab::is_kebab(&suggestion) {
            format!(
                "task names are kebab-case (lowercase ASCII letters, digits and single hyphens): write \
                 `name = \"{suggestion}\"`"
            )
        } else {
            "task names are kebab-case (lowercase ASCII letters, digits and single hyphens), like \
             `name = \"send-receipt\"`"
                .to_owned()
        };
        return Err(syn::Error::new_spanned(value, message));
    }
    Ok(name)
}

fn parse_retries(value: &Value) -> syn::Result<u32> {
    match literal(&value.expr) {
        Some((Lit::Int(int), false)) if matches!(int.suffix(), "" | "u32") => int
            .base10_parse::<u32>()
            .map_err(|_| syn::Error::new_spanned(value, format!("`retries` must fit in a u32 (at most {})", u32::MAX))),
        Some((Lit::Int(_) | Lit::Float(_), true)) => Err(syn::Error::new_spanned(
            value,
            "`retries` cannot be negative: it counts the attempts after the first; `retries = 0` (the default) \
             means a single attempt",
        )),
        Some((Lit::Str(text), false)) if text.value().trim().parse::<u32>().is_ok() => Err(syn::Error::new_spanned(
            value,
            format!("`retries` takes an integer, not a string: write `retries = {}`", text.value().trim()),
        )),
        _ => Err(syn::Error::new_spanned(
            value,
            "`retries` takes the number of retries as an integer: write `retries = 3`",
        )),
    }
}

fn parse_duration(option: &str, value: &Value) -> syn::Result<u64> {
    let text = match literal(&value.expr) {
        Some((Lit::Str(text), false)) => text.value(),
        Some((Lit::Int(int), false)) => {
            return Err(syn::Error::new_spanned(
                value,
                format!(
                    "`{option}` takes a duration string with a unit: write `{option} = \"{}s\"` \
                     (units: ms, s, m, h)",
                    int.base10_digits()
                ),
            ));
        }
        _ => {
            return Err(syn::Error::new_spanned(
                value,
                format!("`{option}` takes a duration string: write `{option} = {}`", example(option)),
            ));
        }
    };
    duration::parse_millis(&text).map_err(|error| {
        let message = match error {
            DurationError::Malformed | DurationError::UnknownUnit(_) => format!(
                "\"{text}\" is not a duration: write a whole number followed by `ms`, `s`, `m` or `h`, \
                 like `{option} = {}`",
                example(option)
            ),
            DurationError::TooLong => format!("\"{text}\" is too long: durations are at most {}ms", u64::MAX),
        };
        syn::Error::new_spanned(value, message)
    })
}

fn parse_factor(value: &Value) -> syn::Result<f64> {
    let (factor, negative) = match literal(&value.expr) {
        Some((Lit::Float(float), negative)) if matches!(float.suffix(), "" | "f64" | "f32") => {
            (float.base10_parse::<f64>()?, negative)
        }
        Some((Lit::Int(int), negative)) if int.suffix().is_empty() => (int.base10_parse::<f64>()?, negative),
        _ => {
            return Err(syn::Error::new_spanned(
                value,
                "`backoff_factor` takes a number: write `backoff_factor = 2.0`",
            ));
        }
    };
    if !factor.is_finite() {
        return Err(syn::Error::new_spanned(value, "`backoff_factor` must be a finite number, like `2.0`"));
    }
    if negative || factor < 1.0 {
        return Err(syn::Error::new_spanned(
            value,
            "`backoff_factor` must be at least 1.0, so that waits never shrink: `1.0` keeps every wait equal to \
             `backoff`, `2.0` doubles it after each retry",
        ));
    }
    Ok(factor)
}

/// The first wait must not be longer than the longest wait, or every wait would silently be `max_backoff`.
fn check_backoff_bounds(options: &TaskOptions) -> syn::Result<()> {
    let initial = options.backoff_millis.as_ref().map_or(DEFAULT_BACKOFF_MILLIS, |given| given.value);
    let max = options.max_backoff_millis.as_ref().map_or(DEFAULT_MAX_BACKOFF_MILLIS, |given| given.value);
    if initial <= max {
        return Ok(());
    }
    let (initial_text, max_text) = (duration::display_millis(initial), duration::display_millis(max));
    let (span, message) = match (&options.backoff_millis, &options.max_backoff_millis) {
        (_, Some(given_max)) if options.backoff_millis.is_some() => (
            given_max.span,
            format!(
                "`max_backoff` ({max_text}) is shorter than `backoff` ({initial_text}): raise it to at least \
                 `max_backoff = \"{initial_text}\"`"
            ),
        ),
        (_, Some(given_max)) => (
            given_max.span,
            format!(
                "`max_backoff` ({max_text}) is shorter than the default `backoff` of {initial_text}: also give a \
                 shorter first wait, like `backoff = \"{max_text}\"`"
            ),
        ),
        (Some(given_initial), None) => (
            given_initial.span,
            format!(
                "`backoff` ({initial_text}) is longer than the default `max_backoff` of {max_text}: also give \
                 `max_backoff = \"{initial_text}\"` or longer"
            ),
        ),
        (None, None) => return Ok(()),
    };
    Err(syn::Error::new(span, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn ok(args: TokenStream) -> TaskOptions {
        let (options, errors) = parse(args);
        assert!(errors.messages().is_empty(), "unexpected errors: {:?}", errors.messages());
        options
    }

    fn errors(args: TokenStream) -> Vec<String> {
        parse(args).1.messages()
    }

    #[test]
    fn no_arguments_keep_every_default() {
        let options = ok(quote!());
        assert!(options.name.is_none());
        assert_eq!(options.retries, None);
        assert_eq!(options.timeout_millis, None);
        assert!(options.backoff_millis.is_none());
        assert_eq!(options.backoff_factor, None);
        assert!(options.max_backoff_millis.is_none());
    }

    #[test]
    fn every_option_parses() {
        let options = ok(quote!(
            name = "charge-card",
            retries = 3,
            timeout = "30s",
            backoff = "500ms",
            backoff_factor = 1.5,
            max_backoff = "2m",
        ));
        assert_eq!(options.name.map(|name| name.value), Some("charge-card".to_owned()));
        assert_eq!(options.retries, Some(3));
        assert_eq!(options.timeout_millis, Some(30_000));
        assert_eq!(options.backoff_millis.map(|given| given.value), Some(500));
        assert_eq!(options.backoff_factor, Some(1.5));
        assert_eq!(options.max_backoff_millis.map(|given| given.value), Some(120_000));
    }

    #[test]
    fn integer_factors_and_suffixes_are_accepted() {
        assert_eq!(ok(quote!(backoff_factor = 3)).backoff_factor, Some(3.0));
        assert_eq!(ok(quote!(backoff_factor = 1.0f64)).backoff_factor, Some(1.0));
        assert_eq!(ok(quote!(retries = 0u32)).retries, Some(0));
    }

    #[test]
    fn bad_values_say_what_to_write() {
        assert_eq!(errors(quote!(retries = "3")), ["`retries` takes an integer, not a string: write `retries = 3`"]);
        assert_eq!(
            errors(quote!(retries = -1)),
            ["`retries` cannot be negative: it counts the attempts after the first; `retries = 0` (the default) \
              means a single attempt"]
        );
        assert_eq!(errors(quote!(retries = 4294967296)), ["`retries` must fit in a u32 (at most 4294967295)"]);
        assert_eq!(
            errors(quote!(timeout = "30 parsecs")),
            ["\"30 parsecs\" is not a duration: write a whole number followed by `ms`, `s`, `m` or `h`, like \
              `timeout = \"30s\"`"]
        );
        assert_eq!(
            errors(quote!(timeout = 30)),
            ["`timeout` takes a duration string with a unit: write `timeout = \"30s\"` (units: ms, s, m, h)"]
        );
        assert_eq!(errors(quote!(backoff_factor = 0.5)).len(), 1);
        assert_eq!(errors(quote!(backoff_factor = -2.0)).len(), 1);
        assert_eq!(
            errors(quote!(backoff_factor = "2")),
            ["`backoff_factor` takes a number: write `backoff_factor = 2.0`"]
        );
        assert_eq!(errors(quote!(timeout = "0s")).len(), 1);
    }

    #[test]
    fn names_must_be_kebab_case() {
        assert_eq!(
            errors(quote!(name = "SendReceipt")),
            ["task names are kebab-case (lowercase ASCII letters, digits and single hyphens): write \
              `name = \"send-receipt\"`"]
        );
        assert_eq!(errors(quote!(name = "")).len(), 1);
        assert_eq!(errors(quote!(name = send_receipt)), ["`name` takes a string: write `name = \"send-receipt\"`"]);
    }

    #[test]
    fn unknown_duplicated_and_valueless_options_are_errors() {
        assert_eq!(
            errors(quote!(retry = 3)),
            ["unknown task option `retry`; did you mean `retries`? The options are `name`, `retries`, `timeout`, \
              `backoff`, `backoff_factor`, `max_backoff`"]
        );
        assert_eq!(
            errors(quote!(queue = "fast")),
            ["unknown task option `queue`; the options are `name`, `retries`, `timeout`, `backoff`, \
              `backoff_factor`, `max_backoff`"]
        );
        assert_eq!(errors(quote!(retries = 1, retries = 2)), ["`retries` is given twice; keep one `retries = ...`"]);
        assert_eq!(errors(quote!(retries)), ["`retries` needs a value: write `retries = 3`"]);
        assert_eq!(errors(quote!(timeout("30s"))), ["`timeout` needs a value: write `timeout = \"30s\"`"]);
    }

    #[test]
    fn a_first_wait_longer_than_the_longest_is_an_error() {
        assert_eq!(
            errors(quote!(backoff = "2m")),
            ["`backoff` (2m) is longer than the default `max_backoff` of 1m: also give `max_backoff = \"2m\"` or \
              longer"]
        );
        assert_eq!(
            errors(quote!(backoff = "2s", max_backoff = "1s")),
            ["`max_backoff` (1s) is shorter than `backoff` (2s): raise it to at least `max_backoff = \"2s\"`"]
        );
        assert_eq!(errors(quote!(max_backoff = "50ms")).len(), 1);
        ok(quote!(backoff = "2m", max_backoff = "2m"));
    }

    #[test]
    fn misspelt_options_find_their_closest_match() {
        assert_eq!(crate::suggest::closest("timout", &KNOWN), Some("timeout"));
        assert_eq!(crate::suggest::closest("backof_factor", &KNOWN), Some("backoff_factor"));
        assert_eq!(crate::suggest::closest("max_backof", &KNOWN), Some("max_backoff"));
        assert_eq!(crate::suggest::closest("queue", &KNOWN), None);
    }
}
