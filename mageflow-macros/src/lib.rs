//! Procedural macros of mageflow: `#[task]`, `flow!`, `#[derive(TaskInput)]` and `#[derive(InputFields)]`.
//!
//! Use them through the `mageflow` crate (`mageflow::task`, `mageflow::TaskInput`): the code they generate refers
//! to `::mageflow::__private_v<version>` only, named for this crate's version, which the facade pins exactly: a
//! mismatched pair fails to compile at once instead of misbehaving.
#![warn(missing_docs)]

mod errors;
mod flow;
mod input;
mod suggest;
mod task;

use proc_macro::TokenStream;

/// The path of the items generated code uses: `::mageflow::__private_v0_1_0` for version 0.1.0.
pub(crate) fn private() -> proc_macro2::TokenStream {
    let module = quote::format_ident!("__private_v{}", env!("CARGO_PKG_VERSION").replace(['.', '-', '+'], "_"));
    quote::quote!(::mageflow::#module)
}

/// Turns an `async fn` into a task: a value of the same name that implements `mageflow::Task`.
///
/// ```text
/// /// Charges the card of an order.
/// #[mageflow::task(retries = 3, timeout = "30s")]
/// pub async fn charge(order: Order) -> Result<Receipt, PaymentError> { ... }
/// ```
///
/// generates
///
/// - `pub struct charge;`, a unit struct (`Clone`, `Copy`, `Debug`, `Default`) with the function's visibility and
///   doc comments, so `charge` is a value to register (`builder.task(charge)`) and to use in `flow!`;
/// - `impl Task for charge` with `type Input = Order`, `type Output = Receipt`, `name()` (`"charge"`),
///   `options()`, `return_field()` (the input's `#[mageflow(return_value)]` field when it derives `TaskInput`)
///   and `run()`, which calls the function and converts its error with `Into<TaskError>`;
/// - `charge::call(order)`: the function itself, unchanged, as an associated function (call it in unit tests:
///   `charge::call(order).await`). The function's other attributes (`#[tracing::instrument]`, `#[inline]`, ...)
///   stay on it; `#[cfg]` goes on every generated item, lint levels on the struct and on `call`.
///
/// The handler takes its input, and optionally the run's context as a second parameter (`ctx: TaskContext` or
/// `ctx: &TaskContext`). It returns `Result<O, E>` where `E: Into<TaskError>`: `TaskError` itself, or any
/// `std::error::Error + Send + Sync + 'static`.
///
/// # Options
///
/// | option | example | meaning |
/// | --- | --- | --- |
/// | `name` | `name = "charge-card"` | the registered name, kebab-case; default: the function's name in kebab-case |
/// | `retries` | `retries = 3` | retries after a failed attempt (`u32`, default 0) |
/// | `timeout` | `timeout = "30s"` | how long one attempt may run (default: no limit) |
/// | `backoff` | `backoff = "500ms"` | the wait before the first retry (default 100ms) |
/// | `backoff_factor` | `backoff_factor = 2.0` | each later wait is multiplied by it (at least 1.0, default 2.0) |
/// | `max_backoff` | `max_backoff = "1m"` | the longest wait (default 1m) |
///
/// Durations are a whole number followed by `ms`, `s`, `m` or `h`. Every option is checked at compile time.
#[proc_macro_attribute]
pub fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    task::expand(args.into(), item.into()).into()
}

/// Marks the field of a task input that receives the previous task's result: implements `mageflow::TaskInput`.
///
/// ```text
/// #[derive(Serialize, Deserialize, JsonSchema, TaskInput)]
/// #[serde(rename_all = "camelCase")]
/// struct SendReceipt {
///     #[mageflow(return_value)]
///     receipt: Receipt,
///     template: String,
/// }
/// ```
///
/// It also derives [`InputFields`](derive@InputFields), so that `flow!` can bind the other fields and knows which
/// of them must be bound when the task follows another one.
///
/// `RETURN_FIELD` is the field's name as serde deserializes it (honouring `#[serde(rename)]` on the field and
/// `#[serde(rename_all)]` on the struct), and `ReturnValue` is its type. Exactly one field of a struct with named
/// fields carries `#[mageflow(return_value)]`.
#[proc_macro_derive(TaskInput, attributes(mageflow))]
pub fn derive_task_input(input: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(input) {
        Ok(input) => input::task_input::expand(input).into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// Lists the fields of a task input, so that `flow!` can bind them: implements `mageflow::InputFields`.
///
/// ```text
/// #[derive(Serialize, Deserialize, JsonSchema, InputFields)]
/// struct Resize { width: u32, height: u32, #[serde(default)] sharpen: bool }
///
/// flow!(fetch >> resize.bind(width = 640, height = 480))
/// ```
///
/// `flow!` checks that a bound field exists and that the value has the field's type (a `&str` may be bound to a
/// `String` field, and `&T` to a `T` field), and binds it under its serde name. Fields with `#[serde(skip)]`,
/// `skip_deserializing` or `flatten` cannot be bound. `#[derive(TaskInput)]` includes this derive.
#[proc_macro_derive(InputFields)]
pub fn derive_input_fields(input: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(input) {
        Ok(input) => input::fields::expand(&input).into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// A flow whose pieces the compiler checks fit: `flow!(extract >> clean.bind(strict = true) >> [load_a, load_b])`
/// is a `mageflow::Flow<In, Out>`, run with `client.run(flow, input)`.
///
/// ```text
/// flow!(a >> b >> [c, d >> e; max_concurrency = 2] >> f, name = "etl", on_success = notify, on_error = alert)
/// ```
///
/// - `a >> b`: `b` runs with `a`'s output, which must be `b`'s input type, or the type of the
///   `#[mageflow(return_value)]` field of `b`'s input (a `TaskInput`, whose other required fields must then be
///   bound);
/// - `[c, d >> e]`: a swarm; its members (sequences) run in parallel with the same input, and its output is the
///   tuple of their outputs. It fails at its first failed member; with `stop_after_failures = n` it tolerates
///   failures and its output is the tuple of the members' `Outcome`s. Options after `;`: `max_concurrency`,
///   `stop_after_failures`, `max_items`. The members of a swarm that starts a flow all take the flow's input;
/// - `(a >> b)`: a group (a chain inside the flow), `{ expr }`: any expression that yields a flow (a `Flow` of any
///   kind, such as `client.sign(task)`, or a task);
/// - `task.bind(field = value, ..)`: bound arguments, each a field of the task's input (derive `InputFields` or
///   `TaskInput` on it) with the field's type;
/// - options after the sequence: `name = "etl"` (a chain's or a swarm's name), `on_success = node` (takes the
///   flow's output), `on_error = node` (takes a `mageflow::Failure`).
///
/// Any delimiter works: `flow!(..)`, `flow![..]`, `flow!{..}`. Mistakes are compile errors at the tokens they
/// concern, one per mistake.
#[proc_macro]
pub fn flow(tokens: TokenStream) -> TokenStream {
    flow::expand(tokens.into()).into()
}
