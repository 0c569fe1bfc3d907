//! `flow!`: parses a flow into an IR ([`ir`]), checks what the macro can check by itself ([`validate`]: option
//! values, names, sizes), and emits calls into `::mageflow::__private_v…` that make the compiler check the rest
//! ([`emit`]: which node takes which output, bound arguments, required fields). Every mistake is one error; the
//! flow is still emitted without what was wrong, so that no error follows from another.

mod emit;
mod ir;
mod validate;

use proc_macro2::TokenStream;

/// Expands `flow!(tokens)`.
pub(crate) fn expand(tokens: TokenStream) -> TokenStream {
    let (mut flow, mut errors) = ir::parse(tokens);
    validate::validate(&mut flow, &mut errors);
    emit::emit(&flow, errors)
}

#[cfg(test)]
mod snapshots;
