//! Emits a checked `flow!`: a block of `let`s that build the flow through `::mageflow::__private_v…`, with a check
//! next to every node that takes a predecessor's output.
//!
//! The checks are functions bounded by traits declared in the block, one per check, whose
//! `#[diagnostic::on_unimplemented]` message names the user's nodes ("`send_email` takes `Receipt`, but `charge`
//! produces `Charge`"); each call is located at the node it checks. Each such trait is implemented for exactly the
//! types that follow the runtime's rule (`Accepts`, `AcceptsFailure`, `SameInput`, `BindAs` in
//! `mageflow_runtime::__private`): the rules live in the runtime, the macro only names the nodes.
//!
//! Every local the block declares is hygienic (`Span::mixed_site`), so the user's expressions neither see nor
//! shadow them.

use crate::errors::Errors;
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::Ident;

use super::ir::{BindNode, FlowInput, Node, Seq, SwarmNode};

fn private() -> TokenStream {
    crate::private()
}

/// Where a node's input comes from.
enum Ctx<'a> {
    /// The flow's own input, as is.
    Entry,
    /// The output of `producer` (a `Seq` or a `Flow` in scope), described as `desc` in messages.
    Fed { producer: &'a Ident, desc: String },
    /// A failure report: the node is an error callback.
    Failure,
}

/// Builds the block.
pub(crate) fn emit(flow: &FlowInput, errors: Errors) -> TokenStream {
    let errors = errors.into_each();
    let p = private();
    if flow.seq.nodes.is_empty() {
        return quote! {{
            #(#errors;)*
            #p::placeholder()
        }};
    }
    let mut emitter = Emitter::default();
    let result = emitter.flow(flow);
    let Emitter { items, stmts, .. } = emitter;
    quote! {{
        #(#errors;)*
        #[allow(unused_imports)]
        use #p::{RouteOfTaskInput as _, RouteOfWholeInput as _};
        #(#items)*
        #(#stmts)*
        #result
    }}
}

#[derive(Default)]
struct Emitter {
    next: usize,
    items: Vec<TokenStream>,
    stmts: Vec<TokenStream>,
}

/// A local of the block, hygienic.
fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// The same local, located at `span` (so that an error about the argument points at the user's tokens).
fn local_at(ident: &Ident, span: Span) -> Ident {
    Ident::new(&ident.to_string(), Span::mixed_site().located_at(span))
}

/// The span generated code takes when an error about it should point at the user's tokens at `span`.
fn site(span: Span) -> Span {
    Span::call_site().located_at(span)
}

/// Escapes text for a `#[diagnostic::on_unimplemented]` string, where braces are format arguments.
fn escape(text: &str) -> String {
    text.replace('{', "{{").replace('}', "}}")
}

impl Emitter {
    fn number(&mut self) -> usize {
        self.next += 1;
        self.next
    }

    fn fresh(&mut self, base: &str) -> Ident {
        let number = self.number();
        local(&format!("__mageflow_{base}{number}"))
    }

    fn flow(&mut self, flow: &FlowInput) -> Ident {
        let p = private();
        let body = self.seq(&flow.seq, &Ctx::Entry);
        let result = self.fresh("flow");
        self.stmts.push(quote!(let #result = #body;));
        if let Some(name) = &flow.options.name {
            self.stmts.push(quote!(let #result = #p::named(#result, #name);));
        }
        if let Some(callback) = &flow.options.on_success {
            let ctx = Ctx::Fed { producer: &result, desc: "the flow".to_owned() };
            let callback = self.seq(callback, &ctx);
            self.stmts.push(quote!(let #result = #p::on_success(#result, #callback);));
        }
        if let Some(callback) = &flow.options.on_error {
            let callback = self.seq(callback, &Ctx::Failure);
            self.stmts.push(quote!(let #result = #p::on_error(#result, #callback);));
        }
        result
    }

    /// A sequence as a flow: its only node, or a chain.
    fn seq(&mut self, seq: &Seq, ctx: &Ctx) -> Ident {
        let p = private();
        let first = self.node(&seq.nodes[0], ctx);
        if seq.nodes.len() == 1 {
            return first;
        }
        let steps = self.fresh("seq");
        self.stmts.push(quote!(let #steps = #p::seq(#first);));
        for pair in seq.nodes.windows(2) {
            let ctx = Ctx::Fed { producer: &steps, desc: describe_output(&pair[0]) };
            let next = self.node(&pair[1], &ctx);
            self.stmts.push(quote!(let #steps = #p::then(#steps, #next);));
        }
        let flow = self.fresh("flow");
        self.stmts.push(quote!(let #flow = #p::end(#steps);));
        flow
    }

    fn node(&mut self, node: &Node, ctx: &Ctx) -> Ident {
        match node {
            Node::Task(task) => {
                let path = &task.path;
                self.leaf(path.to_token_stream(), &path_text(path), path.span_first(), ctx)
            }
            Node::Escape(escape) => {
                // braces of the macro's (at the user's place), so that `unused_braces` does not fire on them
                let mut group = proc_macro2::Group::new(proc_macro2::Delimiter::Brace, escape.body.clone());
                group.set_span(site(escape.span));
                self.leaf(group.into_token_stream(), &escape_text(escape.span, &escape.body), node.span(), ctx)
            }
            Node::Bind(bind) => self.bind(bind, ctx),
            Node::Group(group) => self.seq(&group.seq, ctx),
            Node::Swarm(swarm) => self.swarm(swarm, ctx),
        }
    }

    /// A task or a flow given as a value.
    fn leaf(&mut self, value: TokenStream, name: &str, span: Span, ctx: &Ctx) -> Ident {
        let p = private();
        let flow = self.fresh("node");
        let flow_at = local_at(&flow, span);
        if let Ctx::Entry = ctx {
            self.stmts.push(quote_spanned!(site(span)=> let (#flow, _) = #p::node(#value);));
            return flow;
        }
        let binding = self.fresh("binding");
        let binding_at = local_at(&binding, span);
        let route = self.fresh("route");
        self.stmts.push(quote_spanned!(site(span)=> let (#flow, #binding) = #p::node(#value);));
        self.stmts.push(quote!(let #route = (&#p::RouteProbe::of(&#flow)).route();));
        self.stmts.push(quote_spanned!(site(span)=> #p::check_ready(&#route, &#binding_at);));
        self.fed(flow_at, &route, name, span, ctx)
    }

    /// A task with bound arguments.
    fn bind(&mut self, bind: &BindNode, ctx: &Ctx) -> Ident {
        let p = private();
        let span = bind.path.span_first();
        let path = &bind.path;
        let task = path_text(path);
        let fields = self.fresh("fields");
        let binder = self.fresh("binder");
        self.stmts.push(quote_spanned!(site(span)=> let (#fields, #binder) = #p::bind_start(#path);));
        for arg in &bind.args {
            let number = self.number();
            let check = format_ident!("MageflowBind{}", number);
            let check_fn = format_ident!("__mageflow_bind_{}", number);
            let field = &arg.field;
            let message = format!(
                "`{}.bind({field} = ..)`: the field `{field}` takes `{{F}}`, but this value is `{{Self}}`",
                escape(&task)
            );
            self.items.push(quote! {
                #[diagnostic::on_unimplemented(message = #message, label = "expected `{F}`")]
                trait #check<F, K> {}
                impl<V: #p::BindAs<F, K>, F, K> #check<F, K> for V {}
                fn #check_fn<I, O, S, M, F, V, K>(
                    binder: #p::Binder<I, O, S>,
                    slot: #p::Slot<M, F>,
                    value: V,
                ) -> #p::Binder<I, O, <S as #p::BindField<M>>::Next>
                where
                    S: #p::BindField<M>,
                    V: #check<F, K> + #p::serde::Serialize,
                {
                    #p::bind(binder, slot, &value)
                }
            });
            let value = &arg.value;
            let value_span = syn::spanned::Spanned::span(value);
            self.stmts.push(quote_spanned!(site(value_span)=>
                let #binder = #check_fn(#binder, #fields.#field, #value);
            ));
        }
        let flow = self.fresh("node");
        if let Ctx::Entry = ctx {
            self.stmts.push(quote!(let #flow = #p::bound(#binder);));
            return flow;
        }
        let route = self.fresh("route");
        let binder_at = local_at(&binder, span);
        self.stmts.push(quote!(let #route = (&#p::RouteProbe::of(&#binder)).route();));
        self.stmts.push(quote_spanned!(site(span)=> #p::check_ready(&#route, &#binder_at.binding());));
        self.stmts.push(quote!(let #flow = #p::bound(#binder);));
        self.fed(local_at(&flow, span), &route, &task, span, ctx)
    }

    /// Checks that a node takes what it is fed, and gives it the fed type as its input type.
    fn fed(&mut self, flow: Ident, route: &Ident, name: &str, span: Span, ctx: &Ctx) -> Ident {
        let p = private();
        let number = self.number();
        let result = local(&format!("__mageflow_fed{number}"));
        match ctx {
            // the flow's input is not checked here: it is the flow's input type
            Ctx::Entry => return flow,
            Ctx::Fed { producer, desc } => {
                let check = format_ident!("MageflowStep{}", number);
                let check_fn = format_ident!("__mageflow_step_{}", number);
                let (name, desc) = (escape(name), escape(desc));
                let message = format!("`{name}` takes `{{Self}}`, but {desc} produces `{{A}}`");
                let label = format!("`{name}` does not take `{{A}}`");
                self.items.push(quote! {
                    #[diagnostic::on_unimplemented(
                        message = #message,
                        label = #label,
                        note = "a step takes the previous step's output as its whole input, or in the \
                                `#[mageflow(return_value)]` field of an input that derives `TaskInput`"
                    )]
                    trait #check<A, R> {}
                    impl<T: #p::Accepts<A, R>, A, R> #check<A, R> for T {}
                    fn #check_fn<R, P: #p::Produces, B, O>(
                        _route: R,
                        _producer: &P,
                        next: #p::Flow<B, O>,
                    ) -> #p::Flow<<P as #p::Produces>::Output, O>
                    where
                        B: #check<<P as #p::Produces>::Output, R>,
                    {
                        #p::retype(next)
                    }
                });
                let producer = local_at(producer, span);
                let route = local_at(route, span);
                self.stmts.push(quote_spanned!(site(span)=> let #result = #check_fn(#route, &#producer, #flow);));
            }
            Ctx::Failure => {
                let check = format_ident!("MageflowOnError{}", number);
                let check_fn = format_ident!("__mageflow_on_error_{}", number);
                let name = escape(name);
                let message = format!(
                    "`{name}` takes `{{Self}}`, but an error callback receives a failure report (`mageflow::Failure`)"
                );
                let label = format!("`{name}` does not take a `Failure`");
                self.items.push(quote! {
                    #[diagnostic::on_unimplemented(
                        message = #message,
                        label = #label,
                        note = "an error callback takes `mageflow::Failure<I>` (`I` the failed task's input, or \
                                `serde_json::Value`) as its whole input, or in its `#[mageflow(return_value)]` field"
                    )]
                    trait #check<R, X> {}
                    impl<T: #p::AcceptsFailure<R, X>, R, X> #check<R, X> for T {}
                    fn #check_fn<R, X, B, O>(
                        _route: R,
                        next: #p::Flow<B, O>,
                    ) -> #p::Flow<#p::Failure<#p::serde_json::Value>, O>
                    where
                        B: #check<R, X>,
                    {
                        #p::retype(next)
                    }
                });
                let route = local_at(route, span);
                self.stmts.push(quote_spanned!(site(span)=> let #result = #check_fn(#route, #flow);));
            }
        }
        result
    }

    fn swarm(&mut self, swarm: &SwarmNode, ctx: &Ctx) -> Ident {
        let p = private();
        let mut members: Vec<Ident> = swarm.members.iter().map(|member| self.seq(member, ctx)).collect();
        if let Ctx::Entry = ctx {
            // the members of a swarm that starts a flow all take the flow's input as is
            let first_name = escape(&entry_name(&swarm.members[0].nodes[0]));
            for (index, member) in swarm.members.iter().enumerate().skip(1) {
                let number = self.number();
                let check = format_ident!("MageflowSameInput{}", number);
                let check_fn = format_ident!("__mageflow_same_input_{}", number);
                let first_node = &member.nodes[0];
                let message = format!(
                    "`{}` takes `{{Self}}`, but `{first_name}` takes `{{I}}`: the members of a swarm that starts a \
                     flow all take the flow's input",
                    escape(&entry_name(first_node))
                );
                self.items.push(quote! {
                    #[diagnostic::on_unimplemented(message = #message, label = "expected `{I}`")]
                    trait #check<I> {}
                    impl<T: #p::SameInput<I>, I> #check<I> for T {}
                    fn #check_fn<I, O0, B, O>(_first: &#p::Flow<I, O0>, member: #p::Flow<B, O>) -> #p::Flow<I, O>
                    where
                        B: #check<I>,
                    {
                        #p::retype(member)
                    }
                });
                let span = entry_span(first_node);
                let checked = self.fresh("member");
                let first = local_at(&members[0], span);
                let member = local_at(&members[index], span);
                self.stmts.push(quote_spanned!(site(span)=> let #checked = #check_fn(&#first, #member);));
                members[index] = checked;
            }
        }
        let options = &swarm.options;
        let some = |value: &Option<syn::Expr>| match value {
            Some(value) => quote!(::core::option::Option::Some(#value)),
            None => quote!(::core::option::Option::None),
        };
        let (max_concurrency, stop_after_failures, max_items) =
            (some(&options.max_concurrency), some(&options.stop_after_failures), some(&options.max_items));
        let build = if options.stop_after_failures.is_some() { quote!(swarm_outcomes) } else { quote!(swarm) };
        let flow = self.fresh("swarm");
        self.stmts.push(quote! {
            let #flow = #p::#build(
                (#(#members,)*),
                #p::SwarmOptions {
                    max_concurrency: #max_concurrency,
                    stop_after_failures: #stop_after_failures,
                    max_items: #max_items,
                },
            );
        });
        flow
    }
}

trait SpanFirst {
    fn span_first(&self) -> Span;
}

impl SpanFirst for syn::Path {
    /// The span of the path's first segment (stable spans cannot be joined).
    fn span_first(&self) -> Span {
        match (&self.leading_colon, self.segments.first()) {
            (Some(colon), _) => colon.spans[0],
            (None, Some(segment)) => segment.ident.span(),
            (None, None) => Span::call_site(),
        }
    }
}

fn path_text(path: &syn::Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

/// Source text with its whitespace collapsed, or the tokens when the source is unknown (in unit tests).
fn source(span: Span, tokens: impl FnOnce() -> String) -> String {
    match span.source_text() {
        Some(text) => text.split_whitespace().collect::<Vec<_>>().join(" "),
        None => tokens(),
    }
}

fn escape_text(span: Span, body: &TokenStream) -> String {
    source(span, || format!("{{ {body} }}"))
}

/// How messages name the output of a node: the last task of a sequence, or the swarm.
fn describe_output(node: &Node) -> String {
    match node {
        Node::Task(task) => format!("`{}`", path_text(&task.path)),
        Node::Bind(bind) => format!("`{}`", path_text(&bind.path)),
        Node::Escape(escape) => format!("`{}`", escape_text(escape.span, &escape.body)),
        Node::Group(group) => group.seq.nodes.last().map(describe_output).unwrap_or_default(),
        Node::Swarm(swarm) => format!("the swarm `{}`", source(swarm.span, || render_swarm(swarm))),
    }
}

fn render_seq(seq: &Seq) -> String {
    seq.nodes.iter().map(render).collect::<Vec<_>>().join(" >> ")
}

fn render(node: &Node) -> String {
    match node {
        Node::Task(task) => path_text(&task.path),
        Node::Bind(bind) => format!("{}.bind(..)", path_text(&bind.path)),
        Node::Escape(_) => "{ .. }".to_owned(),
        Node::Group(group) => format!("({})", render_seq(&group.seq)),
        Node::Swarm(swarm) => render_swarm(swarm),
    }
}

fn render_swarm(swarm: &SwarmNode) -> String {
    format!("[{}]", swarm.members.iter().map(render_seq).collect::<Vec<_>>().join(", "))
}

/// The node that receives a sequence's input: its first task (inside groups).
fn entry_node(node: &Node) -> &Node {
    match node {
        Node::Group(group) => entry_node(&group.seq.nodes[0]),
        other => other,
    }
}

fn entry_name(node: &Node) -> String {
    match entry_node(node) {
        Node::Task(task) => path_text(&task.path),
        Node::Bind(bind) => path_text(&bind.path),
        Node::Escape(escape) => escape_text(escape.span, &escape.body),
        Node::Swarm(swarm) => source(swarm.span, || render_swarm(swarm)),
        Node::Group(group) => render_seq(&group.seq),
    }
}

fn entry_span(node: &Node) -> Span {
    match entry_node(node) {
        Node::Task(task) => task.path.span_first(),
        Node::Bind(bind) => bind.path.span_first(),
        other => other.span(),
    }
}
