//! [`Cause`]: the underlying error that a store or backend error keeps as its source.

/// The underlying error of a store or backend failure (a `fred`, `mlua`, `tonic` or I/O error), kept so that
/// [`source()`](std::error::Error::source) reaches it and can downcast it. Cloning shares it, so that one failed
/// call can be reported to each of the callers it served.
#[derive(Clone, Debug)]
pub struct Cause(std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>);

impl Cause {
    /// Keeps `error`.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Cause(std::sync::Arc::new(error))
    }
}

impl std::ops::Deref for Cause {
    type Target = dyn std::error::Error + Send + Sync + 'static;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}
