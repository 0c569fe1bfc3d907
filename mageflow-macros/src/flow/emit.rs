//! Emits a checked `flow!`: a block of `let`s that build the flow through `::mageflow::__private_v…`, with a check
//! next to every node that takes a predecessor's output.
//!
//! Each check is a block of its own that declares a trait whose `#[diagnostic::on_unimplemented]` message names the
//! user's nodes ("`send_email` takes `Receipt`, but `charge` produces `Charge`"), implements it (with
//! `#[diagnostic::do_not_recommend]`, so that an error is about that trait and not about the runtime's items it is
//! built on) and evaluates to the trait function that checks, called outside the block at the node's place. The
//! types it compares come from the runtime (`Whole` / `Field` in `mageflow_runtime::__private` say what a node
//! takes, which required field is missing, which field the predecessor fills): the rules live in the runtime, the
//! macro only names the nodes. So each mistake is one error, which names only the user's nodes, types and fields.
//!
//! Every local the block declares is hygienic (`Span::mixed_site`), so the user's expressions neither see nor
//! shadow them; the code about a node is located at the node, so that the errors point there.

use crate::errors::Errors;
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
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

/// The same local, located at `span`: generated code about a node is located at the node, so that an error about
/// it, and the errors that follow from the same mistake, point at the user's tokens (and are reported once).
fn at(ident: &Ident, span: Span) -> Ident {
    Ident::new(&ident.to_string(), Span::mixed_site().located_at(span))
}

/// Generated tokens located at `span`, each keeping its hygiene.
fn relocate(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let proc_macro2::TokenTree::Group(group) = &token {
                let mut relocated = proc_macro2::Group::new(group.delimiter(), relocate(group.stream(), span));
                relocated.set_span(group.span().located_at(span));
                token = proc_macro2::TokenTree::Group(relocated);
            } else {
                token.set_span(token.span().located_at(span));
            }
            token
        })
        .collect()
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
        let p = relocate(private(), span);
        let flow = at(&self.fresh("node"), span);
        // a function with the types as parameters (not a trait function returning projections), so that a node that
        // is not one is a single error
        let items = quote! {
            fn node<N, I, O, B>(node: N) -> (#p::Flow<I, O>, ::core::marker::PhantomData<B>)
            where
                N: #p::IntoFlow<Input = I, Output = O, Binding = B>,
            {
                (#p::IntoFlow::into_flow(node), ::core::marker::PhantomData)
            }
        };
        let node = check_block(span, items, quote!(node));
        if let Ctx::Entry = ctx {
            self.stmts.push(quote_spanned!(site(span)=> let (#flow, _) = #node(#value);));
            return flow;
        }
        let binding = at(&self.fresh("binding"), span);
        let route = at(&self.fresh("route"), span);
        self.stmts.push(quote_spanned!(site(span)=> let (#flow, #binding) = #node(#value);));
        self.stmts.push(quote_spanned!(site(span)=> let #route = (&#p::RouteProbe::of(&#flow)).route();));
        self.ready(&route, quote_spanned!(site(span)=> &#binding), name, span, ctx);
        self.fed(&flow, &route, name, span, ctx)
    }

    /// A task with bound arguments.
    fn bind(&mut self, bind: &BindNode, ctx: &Ctx) -> Ident {
        let span = bind.path.span_first();
        let p = relocate(private(), span);
        let path = &bind.path;
        let task = path_text(path);
        let fields = at(&self.fresh("fields"), span);
        let binder = at(&self.fresh("binder"), span);
        let message = format!("`{}` is not a task, so it has no arguments to bind", escape(&task));
        let start = check_block(
            span,
            quote! {
                #[diagnostic::on_unimplemented(
                    message = #message,
                    label = "not a task",
                    note = "`.bind(..)` binds fields of the input of a task made with `#[mageflow::task]`"
                )]
                trait Task: Sized {
                    type Input;
                    type Output;
                    fn start(self) -> #p::Binder<Self::Input, Self::Output, ()>;
                }
                #[diagnostic::do_not_recommend]
                impl<T: #p::Task> Task for T {
                    type Input = T::Input;
                    type Output = T::Output;
                    fn start(self) -> #p::Binder<T::Input, T::Output, ()> {
                        #p::Binder::new(&self)
                    }
                }
            },
            quote!(Task::start),
        );
        let items = quote! {
            fn fields<I, O, S, F, U>(binder: #p::Binder<I, O, S>) -> (F, #p::Binder<I, O, U>)
            where
                I: #p::InputFields<Fields = F, Unbound = U>,
            {
                #p::InputFields::bind_fields(binder)
            }
        };
        let start_fields = check_block(span, items, quote!(fields));
        self.stmts.push(quote_spanned!(site(span)=> let #binder = #start(#path);));
        self.stmts.push(quote_spanned!(site(span)=> let (#fields, #binder) = #start_fields(#binder);));
        let route = match ctx {
            Ctx::Entry => None,
            Ctx::Fed { .. } | Ctx::Failure => {
                let route = at(&self.fresh("route"), span);
                self.stmts.push(quote_spanned!(site(span)=> let #route = (&#p::RouteProbe::of(&#binder)).route();));
                Some(route)
            }
        };
        for arg in &bind.args {
            let field = &arg.field;
            let value = &arg.value;
            let value_span = syn::spanned::Spanned::span(value);
            let message = format!(
                "`{}.bind({field} = ..)`: the field `{field}` takes `{{F}}`, but this value is `{{Self}}`",
                escape(&task)
            );
            let fits = check_block(
                value_span,
                quote! {
                    #[diagnostic::on_unimplemented(message = #message, label = "expected `{F}`")]
                    trait Fits<F>: Sized {
                        fn value<M>(_slot: &#p::Slot<M, F>, value: Self) -> Self {
                            value
                        }
                    }
                    #[diagnostic::do_not_recommend]
                    impl<F> Fits<F> for F {}
                    #[diagnostic::do_not_recommend]
                    impl Fits<::std::string::String> for &str {}
                    #[diagnostic::do_not_recommend]
                    impl<F> Fits<F> for &F {}
                },
                quote!(Fits::value),
            );
            if let (Some(route), Ctx::Fed { .. } | Ctx::Failure) = (&route, ctx) {
                // the return-value field receives the previous step's output: binding it would replace that
                let role = at(&self.fresh("role"), field.span());
                let (route, fields) = (at(route, field.span()), at(&fields, field.span()));
                let (task_text, field_text) = (escape(&task), escape(&field.to_string()));
                let message = format!(
                    "`{task_text}.bind({field_text} = ..)`: `{field_text}` receives {}, so it cannot be bound",
                    escape(&describe_fed(ctx))
                );
                let label = format!("`{field_text}` is fed by the previous step");
                let unfed = check_block(
                    field.span(),
                    quote! {
                        #[diagnostic::on_unimplemented(
                            message = #message,
                            label = #label,
                            note = "a task that follows another step gets that step's output in its \
                                    `#[mageflow(return_value)]` field: bind its other fields, or start the flow with \
                                    it to give that field in the flow's input"
                        )]
                        trait Bindable: Sized {
                            fn field(_role: ::core::marker::PhantomData<Self>) {}
                        }
                        #[diagnostic::do_not_recommend]
                        impl<M: #p::Unfed> Bindable for M {}
                    },
                    quote!(Bindable::field),
                );
                self.stmts.push(quote_spanned!(site(field.span())=> let #role = #route.role(&#fields.#field);));
                self.stmts.push(quote_spanned!(site(field.span())=> #unfed(#role);));
            }
            let (binder, fields) = (at(&binder, value_span), at(&fields, value_span));
            let p = relocate(private(), value_span);
            self.stmts.push(quote_spanned!(site(value_span)=>
                let #binder = #p::bind(#binder, &#fields.#field, &#fits(&#fields.#field, #value));
            ));
        }
        let flow = at(&self.fresh("node"), span);
        let Some(route) = route else {
            self.stmts.push(quote_spanned!(site(span)=> let #flow = #p::bound(#binder);));
            return flow;
        };
        let binding = at(&self.fresh("binding"), span);
        self.stmts.push(quote_spanned!(site(span)=> let #binding = #binder.binding();));
        self.ready(&route, quote_spanned!(site(span)=> &#binding), &task, span, ctx);
        self.stmts.push(quote_spanned!(site(span)=> let #flow = #p::bound(#binder);));
        self.fed(&flow, &route, &task, span, ctx)
    }

    /// Checks that a node that follows another one has its required fields bound (when the predecessor's output
    /// goes to its return-value field, the others must be given).
    fn ready(&mut self, route: &Ident, binding: TokenStream, name: &str, span: Span, ctx: &Ctx) {
        let p = private();
        let missing = at(&self.fresh("missing"), span);
        let route = at(route, span);
        let name = escape(name);
        let message =
            format!("`{name}` follows {}, but its field `{{Self}}` is neither bound nor fed", describe_from(ctx));
        let note = format!(
            "{} goes to the `#[mageflow(return_value)]` field of the input of `{name}`; its other fields without a \
             default must be bound",
            escape(&capitalize(&describe_fed(ctx)))
        );
        let check = check_block(
            span,
            quote! {
                #[diagnostic::on_unimplemented(
                    message = #message,
                    label = "`{Self}` is required: bind it with `.bind({Self} = ...)`",
                    note = #note
                )]
                trait Bound: Sized {
                    fn fields(_missing: ::core::marker::PhantomData<Self>) {}
                }
                #[diagnostic::do_not_recommend]
                impl Bound for #p::AllBound {}
            },
            quote!(Bound::fields),
        );
        self.stmts.push(quote_spanned!(site(span)=> let #missing = #route.missing(#binding);));
        self.stmts.push(quote_spanned!(site(span)=> #check(#missing);));
    }

    /// Checks that a node takes what it is fed, and gives it the fed type as its input type.
    fn fed(&mut self, flow: &Ident, route: &Ident, name: &str, span: Span, ctx: &Ctx) -> Ident {
        let p = private();
        let number = self.number();
        let result = at(&local(&format!("__mageflow_fed{number}")), span);
        let expected = at(&self.fresh("expected"), span);
        let (flow, route) = (at(flow, span), at(route, span));
        if let Ctx::Entry = ctx {
            return flow;
        }
        self.stmts.push(quote_spanned!(site(span)=> let #expected = #route.expected(&#flow);));
        match ctx {
            // the flow's input is not checked here: it is the flow's input type
            Ctx::Entry => return flow,
            Ctx::Fed { producer, desc } => {
                let (name, desc) = (escape(name), escape(desc));
                let message = format!("`{name}` takes `{{E}}`, but {desc} produces `{{Self}}`");
                let label = format!("`{name}` does not take `{{Self}}`");
                let check = check_block(
                    span,
                    quote! {
                        #[diagnostic::on_unimplemented(
                            message = #message,
                            label = #label,
                            note = "a step takes the previous step's output as its whole input, or in the \
                                    `#[mageflow(return_value)]` field of an input that derives `TaskInput`"
                        )]
                        trait Fits<E>: Sized {
                            fn step<B, O>(
                                _expected: ::core::marker::PhantomData<E>,
                                _output: ::core::marker::PhantomData<Self>,
                                next: #p::Flow<B, O>,
                            ) -> #p::Flow<Self, O> {
                                #p::retype(next)
                            }
                        }
                        #[diagnostic::do_not_recommend]
                        impl<T> Fits<T> for T {}
                    },
                    quote!(Fits::step),
                );
                let producer = at(producer, span);
                let p = relocate(p, span);
                self.stmts.push(quote_spanned!(site(span)=>
                    let #result = #check(#expected, #p::output_of(&#producer), #flow);
                ));
            }
            Ctx::Failure => {
                let name = escape(name);
                let message = format!(
                    "`{name}` takes `{{Self}}`, but an error callback receives a failure report (`mageflow::Failure`)"
                );
                let label = format!("`{name}` does not take a `Failure`");
                let check = check_block(
                    span,
                    quote! {
                        #[diagnostic::on_unimplemented(
                            message = #message,
                            label = #label,
                            note = "an error callback takes `mageflow::Failure<I>` (`I` the failed task's input, or \
                                    `serde_json::Value`) as its whole input, or in its `#[mageflow(return_value)]` \
                                    field"
                        )]
                        trait FailureReport: Sized {
                            fn callback<B, O>(
                                _expected: ::core::marker::PhantomData<Self>,
                                next: #p::Flow<B, O>,
                            ) -> #p::Flow<#p::Failure<#p::serde_json::Value>, O> {
                                #p::retype(next)
                            }
                        }
                        #[diagnostic::do_not_recommend]
                        impl<T: #p::FailureReport> FailureReport for T {}
                    },
                    quote!(FailureReport::callback),
                );
                self.stmts.push(quote_spanned!(site(span)=> let #result = #check(#expected, #flow);));
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
                let first_node = &member.nodes[0];
                let message = format!(
                    "`{}` takes `{{Self}}`, but `{first_name}` takes `{{I}}`: the members of a swarm that starts a \
                     flow all take the flow's input",
                    escape(&entry_name(first_node))
                );
                let span = entry_span(first_node);
                let check = check_block(
                    span,
                    quote! {
                        #[diagnostic::on_unimplemented(message = #message, label = "expected `{I}`")]
                        trait Fits<I>: Sized {
                            fn member<O0, O>(_first: &#p::Flow<I, O0>, member: #p::Flow<Self, O>) -> #p::Flow<I, O> {
                                #p::retype(member)
                            }
                        }
                        #[diagnostic::do_not_recommend]
                        impl<T> Fits<T> for T {}
                    },
                    quote!(Fits::member),
                );
                let checked = at(&self.fresh("member"), span);
                let (first, member) = (at(&members[0], span), at(&members[index], span));
                self.stmts.push(quote_spanned!(site(span)=> let #checked = #check(&#first, #member);));
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

/// A check: a block that declares the trait whose diagnostic names the user's nodes and its impls (marked
/// `do_not_recommend`, so that an error is about that trait and not about what it is built on), and evaluates to
/// the trait function `path` that checks, located at `span` where the error points. It is called outside the block,
/// so that the user's expressions never see the block's items.
fn check_block(span: Span, items: TokenStream, path: TokenStream) -> TokenStream {
    let path = relocate(path, span);
    let mut group = proc_macro2::Group::new(proc_macro2::Delimiter::Brace, quote!(#items #path));
    group.set_span(site(span));
    // in parentheses, so that a statement that calls it does not start with a block
    let mut parens = proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, group.into_token_stream());
    parens.set_span(site(span));
    parens.into_token_stream()
}

/// What a node that follows another one receives, for messages: "the output of `charge`", "a failure report".
fn describe_fed(ctx: &Ctx) -> String {
    match ctx {
        Ctx::Fed { desc, .. } => format!("the output of {desc}"),
        Ctx::Failure => "the failure report".to_owned(),
        Ctx::Entry => "the flow's input".to_owned(),
    }
}

/// What a node follows, for messages: "`charge`", "an error".
fn describe_from(ctx: &Ctx) -> String {
    match ctx {
        Ctx::Fed { desc, .. } => desc.clone(),
        Ctx::Failure => "an error (it is an error callback)".to_owned(),
        Ctx::Entry => "nothing".to_owned(),
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
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
