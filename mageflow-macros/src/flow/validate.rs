//! What `flow!` checks by itself, before the compiler checks the types: option values written as literals, the
//! name of a flow, the size of swarms. A bad option is reported and left out (a bad `stop_after_failures` is
//! kept as `1`, so the swarm keeps its type), so the rest of the flow is still emitted.

use crate::errors::Errors;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ExprUnary, Lit, LitInt, UnOp};

use super::ir::{FlowInput, Node, Seq, SwarmNode};

/// The most members a typed swarm has (the runtime's `MAX_MEMBERS`).
const MAX_MEMBERS: usize = 16;

pub(crate) fn validate(flow: &mut FlowInput, errors: &mut Errors) {
    check_name(flow, errors);
    visit_seq(&mut flow.seq, errors);
    for callback in [&mut flow.options.on_success, &mut flow.options.on_error].into_iter().flatten() {
        visit_seq(callback, errors);
    }
}

fn check_name(flow: &mut FlowInput, errors: &mut Errors) {
    let Some(name) = &flow.options.name else { return };
    let problem = match unwrap_group(name) {
        Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) if text.value().trim().is_empty() => {
            Some("a flow's name cannot be empty".to_owned())
        }
        Expr::Lit(ExprLit { lit: Lit::Str(_), .. }) => None,
        Expr::Lit(ExprLit { lit, .. }) => {
            Some(format!("`name` takes a string, like `name = \"etl\"`; found {}", kind(lit)))
        }
        _ => None,
    };
    let problem = problem.or_else(|| {
        single_task(&flow.seq).map(|task| {
            format!(
                "`name` names a chain or a swarm, but this flow is the single task `{task}`, which is named by its \
                 task: remove `name`, or name a flow of several steps"
            )
        })
    });
    if let Some(problem) = problem {
        errors.push(syn::Error::new_spanned(name, problem));
        flow.options.name = None;
    }
}

/// The task a sequence is, when it is one task (possibly in parentheses).
fn single_task(seq: &Seq) -> Option<String> {
    match seq.nodes.as_slice() {
        [Node::Task(task)] => Some(quote::ToTokens::to_token_stream(&task.path).to_string().replace(' ', "")),
        [Node::Bind(bind)] => Some(quote::ToTokens::to_token_stream(&bind.path).to_string().replace(' ', "")),
        [Node::Group(group)] => single_task(&group.seq),
        _ => None,
    }
}

fn visit_seq(seq: &mut Seq, errors: &mut Errors) {
    for node in &mut seq.nodes {
        match node {
            Node::Swarm(swarm) => {
                check_swarm(swarm, errors);
                for member in &mut swarm.members {
                    visit_seq(member, errors);
                }
            }
            Node::Group(group) => visit_seq(&mut group.seq, errors),
            Node::Task(_) | Node::Bind(_) | Node::Escape(_) => {}
        }
    }
}

fn check_swarm(swarm: &mut SwarmNode, errors: &mut Errors) {
    if swarm.members.len() > MAX_MEMBERS {
        errors.push(syn::Error::new(
            swarm.span,
            format!(
                "a swarm of `flow!` has at most {MAX_MEMBERS} members, and this one has {}: nest swarms \
                 (`[[a, b], [c, d]]`), or build the swarm at run time with `client.swarm(..)`",
                swarm.members.len()
            ),
        ));
        swarm.members.truncate(MAX_MEMBERS);
    }
    let options = &mut swarm.options;
    if let Some(value) = &options.max_concurrency
        && let Err(error) = whole_number(value, "max_concurrency", "u32", u64::from(u32::MAX), 0)
    {
        errors.push(error);
        options.max_concurrency = None;
    }
    if let Some(value) = &options.stop_after_failures
        && let Err(error) = whole_number(value, "stop_after_failures", "u32", u64::from(u32::MAX), 1)
    {
        errors.push(error);
        // keeps the swarm's type (a tuple of outcomes)
        let one = LitInt::new("1", value.span());
        options.stop_after_failures = Some(Expr::Lit(ExprLit { attrs: Vec::new(), lit: Lit::Int(one) }));
    }
    if let Some(value) = &options.max_items {
        let members = swarm.members.len() as u64;
        match whole_number(value, "max_items", "u64", u64::MAX, 1) {
            Ok(Some(max)) if max < members => {
                errors.push(syn::Error::new_spanned(
                    value,
                    format!("the swarm has {members} members, more than `max_items = {max}`"),
                ));
                options.max_items = None;
            }
            Ok(_) => {}
            Err(error) => {
                errors.push(error);
                options.max_items = None;
            }
        }
    }
}

fn unwrap_group(expr: &Expr) -> &Expr {
    match expr {
        Expr::Group(group) => unwrap_group(&group.expr),
        Expr::Paren(paren) => unwrap_group(&paren.expr),
        other => other,
    }
}

fn kind(lit: &Lit) -> &'static str {
    match lit {
        Lit::Str(_) => "a string",
        Lit::ByteStr(_) | Lit::CStr(_) => "a byte string",
        Lit::Byte(_) => "a byte",
        Lit::Char(_) => "a character",
        Lit::Int(_) => "a whole number",
        Lit::Float(_) => "a number with a fraction",
        Lit::Bool(_) => "a boolean",
        _ => "a literal",
    }
}

/// A literal option value's number, `None` for an expression (the compiler checks its type).
fn whole_number(value: &Expr, key: &str, ty: &str, max: u64, min: u64) -> syn::Result<Option<u64>> {
    let expected = format!("`{key}` takes a whole number (`{ty}`), like `{key} = {}`", min.max(3));
    match unwrap_group(value) {
        Expr::Lit(ExprLit { lit: Lit::Int(int), .. }) => {
            if !int.suffix().is_empty() && int.suffix() != ty {
                return Err(syn::Error::new_spanned(value, format!("{expected}, not a `{}`", int.suffix())));
            }
            let number = int
                .base10_parse::<u64>()
                .ok()
                .filter(|number| *number <= max)
                .ok_or_else(|| syn::Error::new_spanned(value, format!("`{key}` is at most {max}")))?;
            if number < min {
                return Err(syn::Error::new_spanned(
                    value,
                    match key {
                        "stop_after_failures" => "`stop_after_failures = 0` would fail the swarm before any member \
                                                  fails: give at least 1"
                            .to_owned(),
                        _ => format!("`{key}` is at least {min}"),
                    },
                ));
            }
            Ok(Some(number))
        }
        Expr::Lit(ExprLit { lit, .. }) => {
            Err(syn::Error::new_spanned(value, format!("{expected}; found {}", kind(lit))))
        }
        Expr::Unary(ExprUnary { op: UnOp::Neg(_), expr, .. }) if matches!(unwrap_group(expr), Expr::Lit(_)) => {
            Err(syn::Error::new_spanned(value, format!("{expected}; it cannot be negative")))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use super::*;
    use crate::flow::ir;

    fn errors(tokens: TokenStream) -> Vec<String> {
        let (mut flow, mut errors) = ir::parse(tokens);
        assert!(errors.messages().is_empty(), "{errors:?}");
        validate(&mut flow, &mut errors);
        errors.messages()
    }

    #[test]
    fn literal_option_values_are_checked() {
        assert!(errors(quote!(a >> [b, c; max_concurrency = 0, stop_after_failures = 2, max_items = 2u64])).is_empty());
        assert!(errors(quote!(a >> [b; max_concurrency = limit, stop_after_failures = n + 1])).is_empty());
        assert_eq!(
            errors(quote!([b; max_concurrency = "ten"])),
            ["`max_concurrency` takes a whole number (`u32`), like `max_concurrency = 3`; found a string"]
        );
        assert_eq!(
            errors(quote!([b; max_concurrency = -1])),
            ["`max_concurrency` takes a whole number (`u32`), like `max_concurrency = 3`; it cannot be negative"]
        );
        assert_eq!(
            errors(quote!([b; max_concurrency = 3u8])),
            ["`max_concurrency` takes a whole number (`u32`), like `max_concurrency = 3`, not a `u8`"]
        );
        assert_eq!(errors(quote!([b; max_concurrency = 4294967296])), ["`max_concurrency` is at most 4294967295"]);
        assert_eq!(
            errors(quote!([b; stop_after_failures = 0])),
            ["`stop_after_failures = 0` would fail the swarm before any member fails: give at least 1"]
        );
        assert_eq!(errors(quote!([b, c; max_items = 1])), ["the swarm has 2 members, more than `max_items = 1`"]);
        assert_eq!(
            errors(quote!([b; max_items = 1.5])),
            ["`max_items` takes a whole number (`u64`), like `max_items = 3`; found a number with a fraction"]
        );
    }

    #[test]
    fn a_bad_threshold_keeps_the_swarm_tolerant() {
        let (mut flow, mut errors) = ir::parse(quote!([b; stop_after_failures = "x", max_concurrency = true]));
        validate(&mut flow, &mut errors);
        assert_eq!(errors.messages().len(), 2);
        let Node::Swarm(swarm) = &flow.seq.nodes[0] else { panic!("a swarm") };
        assert_eq!(quote::ToTokens::to_token_stream(&swarm.options.stop_after_failures).to_string(), "1");
        assert!(swarm.options.max_concurrency.is_none());
    }

    #[test]
    fn names_are_strings_of_chains_and_swarms() {
        assert!(errors(quote!(a >> b, name = "etl")).is_empty());
        assert!(errors(quote!([a, b], name = format!("etl-{}", day))).is_empty());
        assert_eq!(
            errors(quote!(a >> b, name = 3)),
            ["`name` takes a string, like `name = \"etl\"`; found a whole number"]
        );
        assert_eq!(errors(quote!(a >> b, name = " ")), ["a flow's name cannot be empty"]);
        assert_eq!(
            errors(quote!((a.bind(x = 1)), name = "x")),
            ["`name` names a chain or a swarm, but this flow is the single task `a`, which is named by its task: \
             remove `name`, or name a flow of several steps"]
        );
    }

    #[test]
    fn swarms_have_at_most_sixteen_members() {
        let (mut flow, mut errors) =
            ir::parse(quote!([a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17]));
        validate(&mut flow, &mut errors);
        assert_eq!(errors.messages().len(), 1);
        assert!(
            errors.messages()[0]
                .to_string()
                .starts_with("a swarm of `flow!` has at most 16 members, and this one has 17")
        );
        let Node::Swarm(swarm) = &flow.seq.nodes[0] else { panic!("a swarm") };
        assert_eq!(swarm.members.len(), 16);
    }
}
