//! The IR of `flow!`, and its parser. The parser never stops at the first mistake: it records one error per
//! mistake, leaves out what it could not read (a node, an option) and carries on, so that the rest of the flow is
//! still emitted and no error follows from another.
//!
//! ```text
//! flow     := sequence ("," option ("," option)* ","?)?
//! sequence := node (">>" node)*
//! node     := path | path ".bind" "(" field "=" expr ("," field "=" expr)* ","? ")"
//!           | "[" sequence ("," sequence)* ","? (";" option ("," option)* ","?)? "]"
//!           | "(" sequence ")" | "{" expr "}"
//! option   := ident "=" value   (flow: name = expr, on_success = sequence, on_error = sequence;
//!                                swarm: max_concurrency = expr, stop_after_failures = expr, max_items = expr)
//! ```

use crate::errors::Errors;
use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Expr, Ident, Token, braced, bracketed, parenthesized};

/// A whole `flow!`: its sequence and options.
pub(crate) struct FlowInput {
    /// The nodes joined by `>>`; empty when nothing could be read.
    pub(crate) seq: Seq,
    pub(crate) options: FlowOptions,
}

/// Nodes joined by `>>`, each taking the previous one's output.
#[derive(Default)]
pub(crate) struct Seq {
    pub(crate) nodes: Vec<Node>,
}

/// One node of a sequence.
#[allow(clippy::large_enum_variant)] // a few per flow, built once at compile time
pub(crate) enum Node {
    /// A task (or a flow held in a variable) by its path: `charge`, `billing::charge`.
    Task(TaskNode),
    /// A task with bound arguments: `send_email.bind(template = "receipt")`.
    Bind(BindNode),
    /// Members that run in parallel: `[c, d >> e; max_concurrency = 2]`.
    Swarm(SwarmNode),
    /// A parenthesised sequence: `(a >> b)`.
    Group(GroupNode),
    /// Any expression that yields a flow: `{ sub_flow() }`.
    Escape(EscapeNode),
}

/// See [`Node`].
pub(crate) struct TaskNode {
    pub(crate) path: syn::Path,
}

/// See [`Node`].
pub(crate) struct BindNode {
    pub(crate) path: syn::Path,
    pub(crate) args: Vec<BindArg>,
}

/// `field = value` in `.bind(..)`.
pub(crate) struct BindArg {
    pub(crate) field: Ident,
    pub(crate) value: Expr,
}

/// See [`Node`].
pub(crate) struct SwarmNode {
    pub(crate) span: Span,
    pub(crate) members: Vec<Seq>,
    pub(crate) options: SwarmOptions,
}

/// See [`Node`].
pub(crate) struct GroupNode {
    pub(crate) span: Span,
    pub(crate) seq: Seq,
}

/// See [`Node`].
pub(crate) struct EscapeNode {
    pub(crate) span: Span,
    pub(crate) body: TokenStream,
}

/// The options after a flow's sequence.
#[derive(Default)]
pub(crate) struct FlowOptions {
    pub(crate) name: Option<Expr>,
    pub(crate) on_success: Option<Seq>,
    pub(crate) on_error: Option<Seq>,
}

/// The options after `;` in a swarm.
#[derive(Default)]
pub(crate) struct SwarmOptions {
    pub(crate) max_concurrency: Option<Expr>,
    pub(crate) stop_after_failures: Option<Expr>,
    pub(crate) max_items: Option<Expr>,
}

pub(crate) const FLOW_OPTIONS: [&str; 3] = ["name", "on_success", "on_error"];
pub(crate) const SWARM_OPTIONS: [&str; 3] = ["max_concurrency", "stop_after_failures", "max_items"];

impl Node {
    /// The span errors about the node point at: its path, or its opening delimiter.
    pub(crate) fn span(&self) -> Span {
        match self {
            Node::Task(node) => node.path.span(),
            Node::Bind(node) => node.path.span(),
            Node::Swarm(node) => node.span,
            Node::Group(node) => node.span,
            Node::Escape(node) => node.span,
        }
    }
}

const EXPECTED_NODE: &str = "a task, `task.bind(..)`, a swarm `[..]`, a group `(..)` or a flow in braces `{ .. }`";

/// Parses a whole `flow!`; returns the IR (without what could not be read) and the errors.
pub(crate) fn parse(tokens: TokenStream) -> (FlowInput, Errors) {
    let mut errors = Errors::new();
    let parsed = (|input: ParseStream| Ok(parse_flow(input, &mut errors))).parse2(tokens);
    match parsed {
        Ok(flow) => (flow, errors),
        // the parser records its errors and never fails; a failure here is syn's "unexpected token" at the end
        Err(error) => {
            errors.push(error);
            (FlowInput { seq: Seq::default(), options: FlowOptions::default() }, errors)
        }
    }
}

fn parse_flow(input: ParseStream, errors: &mut Errors) -> FlowInput {
    let mut flow = FlowInput { seq: Seq::default(), options: FlowOptions::default() };
    if input.is_empty() {
        errors.push(syn::Error::new(
            Span::call_site(),
            "an empty flow: `flow!` needs at least one task, like `flow!(charge >> send_receipt)`",
        ));
        return flow;
    }
    flow.seq = parse_seq(input, errors);
    if input.is_empty() {
        return flow;
    }
    if !input.peek(Token![,]) {
        errors.push(unexpected(input, "`>>`, or `,` before the flow's options"));
        skip_rest(input);
        return flow;
    }
    let _ = input.parse::<Token![,]>();
    parse_options(input, errors, &FLOW_OPTIONS, "a flow", &mut |key, input, errors| match key.to_string().as_str() {
        "name" => set_once(&mut flow.options.name, key, parse_expr(input, errors, key), errors),
        "on_success" => set_once(&mut flow.options.on_success, key, parse_callback(input, errors, key), errors),
        _ => set_once(&mut flow.options.on_error, key, parse_callback(input, errors, key), errors),
    });
    flow
}

/// A sequence: nodes joined by `>>`, up to (not including) `,`, `;` or the end.
fn parse_seq(input: ParseStream, errors: &mut Errors) -> Seq {
    let mut seq = Seq::default();
    loop {
        if let Some(node) = parse_node(input, errors) {
            seq.nodes.push(node);
        }
        if !input.peek(Token![>>]) {
            return seq;
        }
        let arrow: Token![>>] = match input.parse() {
            Ok(arrow) => arrow,
            Err(error) => {
                errors.push(error);
                return seq;
            }
        };
        if input.is_empty() || input.peek(Token![,]) || input.peek(Token![;]) {
            errors.push(syn::Error::new_spanned(
                arrow,
                format!("a dangling `>>`: expected {EXPECTED_NODE} after it, or remove it"),
            ));
            return seq;
        }
    }
}

/// One node; `None` (with the error recorded and its tokens skipped) when it cannot be read.
fn parse_node(input: ParseStream, errors: &mut Errors) -> Option<Node> {
    let node = if input.peek(syn::token::Bracket) {
        parse_swarm(input, errors)
    } else if input.peek(syn::token::Paren) {
        parse_group(input, errors)
    } else if input.peek(syn::token::Brace) {
        parse_escape(input)
    } else if input.peek(Ident::peek_any) || input.peek(Token![::]) {
        parse_path_node(input, errors)
    } else if input.peek(Token![>>]) {
        Err(syn::Error::new(input.span(), format!("expected {EXPECTED_NODE} before `>>`")))
    } else {
        Err(unexpected(input, EXPECTED_NODE))
    };
    match node {
        Ok(node) => node,
        Err(error) => {
            errors.push(error);
            skip_node(input);
            None
        }
    }
}

fn parse_swarm(input: ParseStream, errors: &mut Errors) -> syn::Result<Option<Node>> {
    let content;
    let bracket = bracketed!(content in input);
    let span = bracket.span.join();
    let errors_before = errors.len();
    let mut members = Vec::new();
    while !content.is_empty() && !content.peek(Token![;]) {
        let member = parse_seq(&content, errors);
        if !member.nodes.is_empty() {
            members.push(member);
        }
        if content.peek(Token![,]) {
            let _ = content.parse::<Token![,]>();
        } else if !content.is_empty() && !content.peek(Token![;]) {
            errors.push(unexpected(&content, "`>>`, `,` between members, or `;` before the swarm's options"));
            skip_to(&content, |input| input.peek(Token![,]) || input.peek(Token![;]));
        }
    }
    let mut options = SwarmOptions::default();
    if content.peek(Token![;]) {
        let semi: Token![;] = content.parse()?;
        if content.is_empty() {
            errors.push(syn::Error::new_spanned(
                semi,
                "expected the swarm's options after `;`, like `max_concurrency = 10`, or remove the `;`",
            ));
        }
        parse_options(&content, errors, &SWARM_OPTIONS, "a swarm", &mut |key, input, errors| {
            let value = parse_expr(input, errors, key);
            match key.to_string().as_str() {
                "max_concurrency" => set_once(&mut options.max_concurrency, key, value, errors),
                "stop_after_failures" => set_once(&mut options.stop_after_failures, key, value, errors),
                _ => set_once(&mut options.max_items, key, value, errors),
            }
        });
    }
    if members.is_empty() {
        // an empty swarm is left out, so that the flow around it is still checked
        if errors.len() == errors_before {
            errors.push(syn::Error::new(
                span,
                "an empty swarm: a swarm `[..]` needs at least one member, like `[resize, thumbnail]`",
            ));
        }
        return Ok(None);
    }
    Ok(Some(Node::Swarm(SwarmNode { span, members, options })))
}

fn parse_group(input: ParseStream, errors: &mut Errors) -> syn::Result<Option<Node>> {
    let content;
    let paren = parenthesized!(content in input);
    let span = paren.span.join();
    if content.is_empty() {
        return Err(syn::Error::new(span, "empty parentheses: a group holds a sequence, like `(a >> b)`"));
    }
    let seq = parse_seq(&content, errors);
    if !content.is_empty() {
        errors
            .push(unexpected(&content, "`>>` or `)`: a group holds one sequence (for parallel members, use `[a, b]`)"));
        skip_rest(&content);
    }
    if seq.nodes.is_empty() {
        return Ok(None);
    }
    Ok(Some(Node::Group(GroupNode { span, seq })))
}

fn parse_escape(input: ParseStream) -> syn::Result<Option<Node>> {
    let content;
    let brace = braced!(content in input);
    let span = brace.span.join();
    let body: TokenStream = content.parse()?;
    if body.is_empty() {
        return Err(syn::Error::new(span, "empty braces: `{ .. }` holds an expression that yields a flow"));
    }
    Ok(Some(Node::Escape(EscapeNode { span, body })))
}

fn parse_path_node(input: ParseStream, errors: &mut Errors) -> syn::Result<Option<Node>> {
    let path = input.call(syn::Path::parse_mod_style)?;
    if !input.peek(Token![.]) {
        return Ok(Some(Node::Task(TaskNode { path })));
    }
    let dot: Token![.] = input.parse()?;
    let method: Ident = match input.call(Ident::parse_any) {
        Ok(method) if method == "bind" => method,
        Ok(other) => {
            return Err(syn::Error::new_spanned(
                other,
                "expected `bind` after `.`: a task's arguments are bound with `task.bind(field = value)`",
            ));
        }
        Err(_) => {
            return Err(syn::Error::new_spanned(
                dot,
                "expected `bind` after `.`: a task's arguments are bound with `task.bind(field = value)`",
            ));
        }
    };
    if !input.peek(syn::token::Paren) {
        return Err(syn::Error::new_spanned(method, "expected `(` after `bind`: write `.bind(field = value)`"));
    }
    let content;
    let paren = parenthesized!(content in input);
    let mut args: Vec<BindArg> = Vec::new();
    if content.is_empty() {
        return Err(syn::Error::new(
            paren.span.join(),
            "`.bind()` binds nothing: give arguments, like `.bind(template = \"receipt\")`, or remove it",
        ));
    }
    while !content.is_empty() {
        match parse_bind_arg(&content) {
            Ok(arg) => {
                if args.iter().any(|other| other.field == arg.field) {
                    errors
                        .push(syn::Error::new_spanned(&arg.field, format!("`{}` is bound twice; keep one", arg.field)));
                } else {
                    args.push(arg);
                }
            }
            Err(error) => {
                errors.push(error);
                skip_to(&content, |input| input.peek(Token![,]));
            }
        }
        if content.peek(Token![,]) {
            let _ = content.parse::<Token![,]>();
        } else if !content.is_empty() {
            errors.push(unexpected(&content, "`,` between bound arguments"));
            skip_rest(&content);
        }
    }
    Ok(Some(Node::Bind(BindNode { path, args })))
}

fn parse_bind_arg(input: ParseStream) -> syn::Result<BindArg> {
    let field: Ident = if input.peek(Ident::peek_any) {
        input.parse()?
    } else {
        return Err(unexpected(input, "a field name, like `template = \"receipt\"`"));
    };
    if !input.peek(Token![=]) || input.peek(Token![==]) {
        return Err(syn::Error::new_spanned(&field, format!("expected `=` and a value after `{field}`")));
    }
    let _ = input.parse::<Token![=]>()?;
    if input.is_empty() || input.peek(Token![,]) {
        return Err(syn::Error::new_spanned(&field, format!("expected a value after `{field} =`")));
    }
    let value: Expr = input.parse()?;
    Ok(BindArg { field, value })
}

/// Options: `key = value` separated by commas. `set` reads one known option's value.
fn parse_options(
    input: ParseStream,
    errors: &mut Errors,
    known: &[&str],
    owner: &str,
    set: &mut dyn FnMut(&Ident, ParseStream, &mut Errors),
) {
    while !input.is_empty() {
        let key = match input.call(Ident::parse_any) {
            Ok(key) => key,
            Err(_) => {
                errors.push(unexpected(input, &format!("an option of {owner}, like `{} = ..`", known[0])));
                skip_rest(input);
                return;
            }
        };
        if !input.peek(Token![=]) || input.peek(Token![==]) {
            let hint = if owner == "a flow" {
                "; a flow is one sequence: to run flows in parallel, write a swarm like `[a, b]`"
            } else {
                ""
            };
            errors.push(syn::Error::new_spanned(&key, format!("expected `=` and a value after `{key}`{hint}")));
            skip_to(input, |input| input.peek(Token![,]));
        } else if known.iter().any(|known| key == known) {
            let _ = input.parse::<Token![=]>();
            set(&key, input, errors);
        } else {
            errors.push(unknown_option(&key, known, owner));
            skip_to(input, |input| input.peek(Token![,]));
        }
        if input.peek(Token![,]) {
            let _ = input.parse::<Token![,]>();
        } else if !input.is_empty() {
            errors.push(unexpected(input, "`,` between options"));
            skip_rest(input);
        }
    }
}

fn unknown_option(key: &Ident, known: &[&str], owner: &str) -> syn::Error {
    let list = match known {
        [first, second, last] => format!("`{first}`, `{second}` and `{last}`"),
        _ => known.iter().map(|option| format!("`{option}`")).collect::<Vec<_>>().join(", "),
    };
    let hint = if owner == "a flow" && SWARM_OPTIONS.iter().any(|option| key == option) {
        format!("; `{key}` is an option of a swarm: write it in its brackets after `;`, like `[a, b; {key} = 10]`")
    } else if owner == "a swarm" && FLOW_OPTIONS.iter().any(|option| key == option) {
        format!(
            "; `{key}` is an option of the whole flow: write it after the sequence, like `flow!(a >> [b, c], {key} = ..)`"
        )
    } else {
        String::new()
    };
    let name = key.to_string();
    let suggestion =
        crate::suggest::closest(&name, known).map(|known| format!("did you mean `{known}`? ")).unwrap_or_default();
    syn::Error::new_spanned(key, format!("unknown option `{key}` of {owner}; {suggestion}its options are {list}{hint}"))
}

fn set_once<T>(slot: &mut Option<T>, key: &Ident, value: Option<T>, errors: &mut Errors) {
    let Some(value) = value else { return };
    if slot.is_some() {
        errors.push(syn::Error::new_spanned(key, format!("`{key}` is given twice; keep one")));
    } else {
        *slot = Some(value);
    }
}

/// An option's value as an expression, up to the next `,`.
fn parse_expr(input: ParseStream, errors: &mut Errors, key: &Ident) -> Option<Expr> {
    if input.is_empty() || input.peek(Token![,]) {
        errors.push(syn::Error::new_spanned(key, format!("expected a value after `{key} =`")));
        return None;
    }
    match input.parse::<Expr>() {
        Ok(value) => Some(value),
        Err(error) => {
            errors.push(error);
            skip_to(input, |input| input.peek(Token![,]));
            None
        }
    }
}

/// A callback: a sequence.
fn parse_callback(input: ParseStream, errors: &mut Errors, key: &Ident) -> Option<Seq> {
    if input.is_empty() || input.peek(Token![,]) {
        errors.push(syn::Error::new_spanned(key, format!("expected a task (or a flow) after `{key} =`")));
        return None;
    }
    let seq = parse_seq(input, errors);
    if seq.nodes.is_empty() { None } else { Some(seq) }
}

/// "expected X, found `token`", at the next token (or at the end).
fn unexpected(input: ParseStream, expected: &str) -> syn::Error {
    match input.fork().parse::<TokenTree>() {
        Ok(token) => {
            let text = token.to_token_stream().to_string();
            let text = if text.chars().count() > 30 {
                format!("{}...", text.chars().take(30).collect::<String>())
            } else {
                text
            };
            syn::Error::new(token.span(), format!("expected {expected}, found `{text}`"))
        }
        Err(_) => input.error(format!("expected {expected}")),
    }
}

fn skip_to(input: ParseStream, stop: impl Fn(ParseStream) -> bool) {
    while !input.is_empty() && !stop(input) {
        if input.parse::<TokenTree>().is_err() {
            return;
        }
    }
}

/// Skips what is left of a node that could not be read.
fn skip_node(input: ParseStream) {
    skip_to(input, |input| input.peek(Token![>>]) || input.peek(Token![,]) || input.peek(Token![;]));
}

fn skip_rest(input: ParseStream) {
    skip_to(input, |_| false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parsed(tokens: TokenStream) -> FlowInput {
        let (flow, errors) = parse(tokens);
        assert!(errors.messages().is_empty(), "unexpected errors: {:?}", errors.messages());
        flow
    }

    fn errors(tokens: TokenStream) -> Vec<String> {
        parse(tokens).1.messages()
    }

    /// The IR as a compact text: `a >> [b, c >> d; max_concurrency] >> (e >> f) >> g.bind(x) >> {..}`.
    fn shape(seq: &Seq) -> String {
        seq.nodes
            .iter()
            .map(|node| match node {
                Node::Task(node) => node.path.to_token_stream().to_string().replace(' ', ""),
                Node::Bind(node) => format!(
                    "{}.bind({})",
                    node.path.to_token_stream().to_string().replace(' ', ""),
                    node.args.iter().map(|arg| arg.field.to_string()).collect::<Vec<_>>().join(", ")
                ),
                Node::Swarm(node) => {
                    let members = node.members.iter().map(shape).collect::<Vec<_>>().join(", ");
                    let options: Vec<&str> = [
                        ("max_concurrency", node.options.max_concurrency.is_some()),
                        ("stop_after_failures", node.options.stop_after_failures.is_some()),
                        ("max_items", node.options.max_items.is_some()),
                    ]
                    .into_iter()
                    .filter_map(|(name, given)| given.then_some(name))
                    .collect();
                    if options.is_empty() {
                        format!("[{members}]")
                    } else {
                        format!("[{members}; {}]", options.join(", "))
                    }
                }
                Node::Group(node) => format!("({})", shape(&node.seq)),
                Node::Escape(_) => "{..}".to_owned(),
            })
            .collect::<Vec<_>>()
            .join(" >> ")
    }

    #[test]
    fn sequences_swarms_groups_binds_and_escapes() {
        let flow = parsed(quote!(
            extract >> billing::charge.bind(template = "receipt", retries = 2,)
                >> [resize, thumb >> (upload >> notify), [a, b; max_items = 2],; max_concurrency = 3, stop_after_failures = 1]
                >> { sub_flow() }
        ));
        assert_eq!(
            shape(&flow.seq),
            "extract >> billing::charge.bind(template, retries) >> [resize, thumb >> (upload >> notify), [a, b; \
             max_items]; max_concurrency, stop_after_failures] >> {..}"
        );
        assert!(flow.options.name.is_none() && flow.options.on_success.is_none() && flow.options.on_error.is_none());
    }

    #[test]
    fn options_follow_the_sequence() {
        let flow =
            parsed(quote!(a >> b, name = "etl", on_success = notify.bind(to = "ops") >> archive, on_error = alert,));
        assert_eq!(shape(&flow.seq), "a >> b");
        assert_eq!(flow.options.name.to_token_stream().to_string(), "\"etl\"");
        assert_eq!(shape(flow.options.on_success.as_ref().unwrap()), "notify.bind(to) >> archive");
        assert_eq!(shape(flow.options.on_error.as_ref().unwrap()), "alert");
    }

    #[test]
    fn a_single_node_is_a_flow() {
        assert_eq!(shape(&parsed(quote!(charge)).seq), "charge");
        assert_eq!(shape(&parsed(quote!([a])).seq), "[a]");
        assert_eq!(shape(&parsed(quote! { ((a)) }).seq), "((a))");
    }

    #[test]
    fn each_mistake_is_one_error_and_the_rest_is_kept() {
        assert_eq!(
            errors(quote!()),
            ["an empty flow: `flow!` needs at least one task, like `flow!(charge >> send_receipt)`"]
        );

        let (flow, errors) = parse(quote!(a >> b >>));
        assert_eq!(errors.len(), 1);
        assert!(errors.messages()[0].to_string().starts_with("a dangling `>>`"), "{}", errors.messages()[0]);
        assert_eq!(shape(&flow.seq), "a >> b");

        let (flow, errors) = parse(quote!(a >> [] >> c));
        assert_eq!(errors.len(), 1);
        assert!(errors.messages()[0].to_string().starts_with("an empty swarm"), "{}", errors.messages()[0]);
        assert_eq!(shape(&flow.seq), "a >> c");

        let (flow, errors) = parse(quote!(a >> b, nme = "x", on_success = c));
        assert_eq!(
            errors.messages(),
            [
                "unknown option `nme` of a flow; did you mean `name`? its options are `name`, `on_success` and `on_error`"
            ]
        );
        assert_eq!(shape(flow.options.on_success.as_ref().unwrap()), "c");

        let (flow, errors) = parse(quote!(a >> [b, c; max_concurrency = 2, max_concurrency = 3]));
        assert_eq!(errors.messages(), ["`max_concurrency` is given twice; keep one"]);
        assert_eq!(shape(&flow.seq), "a >> [b, c; max_concurrency]");

        let (flow, errors) = parse(quote!(a >> 3 >> c));
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors.messages()[0].to_string(),
            "expected a task, `task.bind(..)`, a swarm `[..]`, a group `(..)` or a flow in braces `{ .. }`, found `3`"
        );
        assert_eq!(shape(&flow.seq), "a >> c");

        let (flow, errors) = parse(quote!(a.bind(x = 1, x = 2, y) >> b));
        assert_eq!(errors.messages(), ["`x` is bound twice; keep one", "expected `=` and a value after `y`"]);
        assert_eq!(shape(&flow.seq), "a.bind(x) >> b");

        assert_eq!(
            errors_of(quote!(a.bnd(x = 1))),
            ["expected `bind` after `.`: a task's arguments are bound with `task.bind(field = value)`"]
        );
        assert_eq!(
            errors_of(quote!(a, b)),
            ["expected `=` and a value after `b`; a flow is one sequence: to run flows in parallel, write a swarm \
             like `[a, b]`"]
        );
        assert_eq!(errors_of(quote!(a b)), ["expected `>>`, or `,` before the flow's options, found `b`"]);
        assert_eq!(
            errors_of(quote!(a >> [b, c], max_concurrency = 3)),
            ["unknown option `max_concurrency` of a flow; its options are `name`, `on_success` and `on_error`; \
             `max_concurrency` is an option of a swarm: write it in its brackets after `;`, like `[a, b; \
             max_concurrency = 10]`"]
        );
        assert_eq!(
            errors_of(quote!(a >> [b; name = "x"])),
            ["unknown option `name` of a swarm; its options are `max_concurrency`, `stop_after_failures` and \
             `max_items`; `name` is an option of the whole flow: write it after the sequence, like `flow!(a >> \
             [b, c], name = ..)`"]
        );
        assert_eq!(errors_of(quote!(a >> ())), ["empty parentheses: a group holds a sequence, like `(a >> b)`"]);
        assert_eq!(errors_of(quote!(a >> {})), ["empty braces: `{ .. }` holds an expression that yields a flow"]);
        assert_eq!(
            errors_of(quote!(a.bind())),
            ["`.bind()` binds nothing: give arguments, like `.bind(template = \"receipt\")`, or remove it"]
        );
        assert_eq!(
            errors_of(quote!(>> a)),
            [
                "expected a task, `task.bind(..)`, a swarm `[..]`, a group `(..)` or a flow in braces `{ .. }` before `>>`"
            ]
        );
    }

    fn errors_of(tokens: TokenStream) -> Vec<String> {
        errors(tokens)
    }
}
