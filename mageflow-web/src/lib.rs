//! A live web view of mageflow flows, on axum: the list of flows (filtered by status, name and age, a page at a
//! time), each flow's graph (chains as sequences, swarms as groups with their progress, nested flows and callbacks,
//! coloured by status, every node's result or error), live updates over server-sent events, and lifecycle buttons
//! (suspend, interrupt, resume, cancel) that ask for confirmation. The page, its script and its style are embedded
//! in the binary: the view needs no network beyond the store.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use mageflow_runtime::Mageflow;
//! use mageflow_web::WebOptions;
//!
//! let client = Mageflow::builder().redis_url("redis://127.0.0.1:6379").recovery(None, Default::default()).build().await?;
//! // http://127.0.0.1:8642 by default; elsewhere, lifecycle actions need a token (or `read_only`)
//! mageflow_web::serve(client, WebOptions::new()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! The client the view gets decides how lifecycle actions reach the workers: `resume` dispatches the runs it
//! restarts through the client's backend, so a view that runs no task handlers should use a backend that leaves
//! them to the workers (as the `mageflow` command does) rather than the in-process default, and no recovery sweep
//! (`MageflowBuilder::recovery(None, ..)`).
//!
//! # The HTTP API
//!
//! The page uses a small JSON API that scripts may use too. Every error is JSON, `{"error": "<what went wrong and
//! what to do>"}`, with a fitting status code (400 for a bad filter, 401 for a missing or wrong token, 403 in
//! read-only mode, 404 for an unknown or malformed id or route, 503 when the store does not answer).
//!
//! | request | answers |
//! |---|---|
//! | `GET /api/config` | `{"read_only": bool, "token_required": bool, "version": "..."}` |
//! | `GET /api/flows?status=active,failed&name=etl&younger_than=2h&limit=50&after=CURSOR` | `{"flows": [{"id", "name", "status", "created_at", "finished_at"}], "next": CURSOR or null}`, newest first; times in ms since the epoch |
//! | `GET /api/flows/ID` | `{"root": NODE, "finished": bool}`: the whole flow under any signature id |
//! | `GET /api/flows/ID/events` | server-sent events: `tree` (the same JSON, whenever it changes), `problem` (the store failed; the stream goes on), `gone` (the flow expired) |
//! | `POST /api/flows/ID/suspend` (`interrupt`, `resume`, `cancel`) | `{"id", "action", "status"}`: the status after the action |
//!
//! A `NODE` is `{"id", "kind", "name", "status", "previous_status", "attempt", "position", "created_at",
//! "finished_at", "args", "message", "result", "error": {"kind", "message", "attempt", "task", "signature_id"},
//! "swarm": {"items", "running", "succeeded", "failed", "closed", "max_concurrency"}, "children": [NODE],
//! "hidden_children", "success_callbacks": [NODE], "error_callbacks": [NODE]}`; JSON values over 4 KB are cut to a
//! preview, and a container shows its first 500 children (`hidden_children` counts the rest).
//!
//! # Who may do what
//!
//! - The view binds `127.0.0.1` by default. There it answers only requests addressed to a loopback name
//!   (`localhost`, `127.0.0.1`, `[::1]`), so that a web site cannot reach it through DNS rebinding.
//! - Bound to any other address, it refuses to start without a [`token`](WebOptions::token) unless it is
//!   [`read_only`](WebOptions::read_only). With a token (wherever it binds), each lifecycle action must send it as
//!   `Authorization: Bearer <token>`; the page asks for it once and keeps it in the browser's local storage. Reading
//!   needs no token.
//! - Read-only, it shows no lifecycle buttons and refuses every action with 403.
//! - An action sent from another origin (a form on another site) is refused with 403.
#![warn(missing_docs)]

mod api;
mod assets;
mod error;
mod guard;
mod live;
mod view;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use mageflow_runtime::Mageflow;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

pub use error::WebError;

/// The port the view listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 8642;

/// How the web view is served: where it binds, the token its lifecycle actions need, whether it is read-only.
#[derive(Clone)]
#[non_exhaustive]
pub struct WebOptions {
    /// The address to listen on; `127.0.0.1:8642` by default.
    pub bind: SocketAddr,
    /// The token lifecycle actions must send (`Authorization: Bearer <token>`). Required when `bind` is not a
    /// loopback address, unless `read_only`.
    pub token: Option<String>,
    /// Shows flows only: no lifecycle buttons, and every action is refused.
    pub read_only: bool,
    /// How often an open flow page's state is read again when no notification arrived (a signature's finish is
    /// notified at once; a run that begins, or a change made elsewhere, shows within this interval). 1 s by default.
    pub refresh: Duration,
}

impl Default for WebOptions {
    fn default() -> Self {
        WebOptions {
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), DEFAULT_PORT),
            token: None,
            read_only: false,
            refresh: Duration::from_secs(1),
        }
    }
}

impl std::fmt::Debug for WebOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebOptions")
            .field("bind", &self.bind)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("read_only", &self.read_only)
            .field("refresh", &self.refresh)
            .finish()
    }
}

impl WebOptions {
    /// The defaults: `127.0.0.1:8642`, no token, lifecycle actions allowed, refreshed every second.
    pub fn new() -> Self {
        Self::default()
    }

    /// Listens on this address (port 0: any free port, see [`Server::local_addr`]).
    pub fn bind(mut self, address: SocketAddr) -> Self {
        self.bind = address;
        self
    }

    /// Requires this token for lifecycle actions.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Serves read-only (`true`): no lifecycle actions.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Reads an open flow's state again at least this often (at least every 50 ms).
    pub fn refresh(mut self, interval: Duration) -> Self {
        self.refresh = interval;
        self
    }

    /// Checks the rules on binding: an empty token is refused, and so is a non-loopback address without a token
    /// unless read-only.
    pub fn check(&self) -> Result<(), WebError> {
        if self.token.as_deref().is_some_and(|token| token.trim().is_empty()) {
            return Err(WebError::EmptyToken);
        }
        if !self.bind.ip().is_loopback() && self.token.is_none() && !self.read_only {
            return Err(WebError::TokenRequired { bind: self.bind });
        }
        Ok(())
    }
}

/// What every handler shares.
pub(crate) struct AppState {
    pub client: Mageflow,
    pub read_only: bool,
    pub token: Option<String>,
    /// Bound to a loopback address: only loopback host names are answered.
    pub loopback: bool,
    pub refresh: Duration,
    /// Woken after each lifecycle action, so that open pages read their flow again at once.
    pub changed: Notify,
    /// Becomes `true` when the server stops, which ends the event streams.
    pub stopping: watch::Sender<bool>,
}

fn state(client: Mageflow, options: &WebOptions) -> Arc<AppState> {
    Arc::new(AppState {
        client,
        read_only: options.read_only,
        token: options.token.clone(),
        loopback: options.bind.ip().is_loopback(),
        refresh: options.refresh.max(Duration::from_millis(50)),
        changed: Notify::new(),
        stopping: watch::Sender::new(false),
    })
}

/// The web view as an axum [`Router`](axum::Router): the pages, their assets and the JSON API (see the crate's
/// docs), for serving it yourself or nesting it in another application. It applies the token and read-only rules
/// of `options`, and answers only loopback host names when `options.bind` is a loopback address; it does not check
/// the binding rule (see [`WebOptions::check`], which [`serve`] and [`Server::bind`] apply).
pub fn router(client: Mageflow, options: WebOptions) -> axum::Router {
    api::router(state(client, &options))
}

/// A bound web view, not yet serving: [`local_addr`](Self::local_addr) tells where it listens.
pub struct Server {
    listener: TcpListener,
    state: Arc<AppState>,
    address: SocketAddr,
}

impl Server {
    /// Checks `options` ([`WebOptions::check`]) and binds its address.
    pub async fn bind(client: Mageflow, options: WebOptions) -> Result<Server, WebError> {
        options.check()?;
        let listener =
            TcpListener::bind(options.bind).await.map_err(|source| WebError::Bind { bind: options.bind, source })?;
        let address = listener.local_addr().map_err(|source| WebError::Bind { bind: options.bind, source })?;
        Ok(Server { listener, state: state(client, &options), address })
    }

    /// The address it listens on (with the port chosen when the options asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// The view's address as a URL, `http://127.0.0.1:8642/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// Serves until the process ends.
    pub async fn run(self) -> Result<(), WebError> {
        self.run_until(std::future::pending()).await
    }

    /// Serves until `shutdown` completes, then ends the live streams and waits for open requests to finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), WebError> {
        let state = self.state.clone();
        let signal = async move {
            shutdown.await;
            state.stopping.send_replace(true);
        };
        axum::serve(self.listener, api::router(self.state))
            .with_graceful_shutdown(signal)
            .await
            .map_err(WebError::Serve)
    }
}

/// Serves the web view until the process ends: [`Server::bind`], then [`Server::run`].
pub async fn serve(client: Mageflow, options: WebOptions) -> Result<(), WebError> {
    let server = Server::bind(client, options).await?;
    tracing::info!(url = %server.url(), "serving the mageflow web view");
    server.run().await
}
