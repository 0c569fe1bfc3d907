//! One way to report mistakes, like serde's `Ctxt`: every check pushes what is wrong into an [`Errors`], which
//! becomes one `compile_error!` per mistake at the tokens it concerns. An `Errors` must be consumed
//! ([`into_compile_errors`](Errors::into_compile_errors) or [`into_result`](Errors::into_result)); dropping one
//! that holds errors would lose them, so it panics: that is a bug of the macro, not of its input.

use proc_macro2::TokenStream;

/// The mistakes found so far in one macro input.
#[derive(Default)]
pub(crate) struct Errors {
    errors: Vec<syn::Error>,
    consumed: std::cell::Cell<bool>,
}

impl Errors {
    pub fn new() -> Self {
        Errors::default()
    }

    /// Records a mistake.
    pub fn push(&mut self, error: syn::Error) {
        self.errors.push(error);
    }

    /// How many mistakes were found so far.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// One `compile_error!` per mistake.
    pub fn into_compile_errors(self) -> TokenStream {
        self.into_each().into_iter().collect()
    }

    /// One `compile_error!` per mistake, each on its own (to place as statements).
    pub fn into_each(mut self) -> Vec<TokenStream> {
        self.consumed.set(true);
        std::mem::take(&mut self.errors).iter().map(syn::Error::to_compile_error).collect()
    }

    /// `Ok` when nothing is wrong, else every mistake in one `syn::Error`.
    pub fn into_result(mut self) -> syn::Result<()> {
        self.consumed.set(true);
        let mut errors = std::mem::take(&mut self.errors).into_iter();
        match errors.next() {
            None => Ok(()),
            Some(mut first) => {
                errors.for_each(|error| first.combine(error));
                Err(first)
            }
        }
    }

    /// The mistakes so far followed by `error`, in one `syn::Error`: for a mistake after which nothing more can be
    /// checked.
    pub fn into_error_with(mut self, error: syn::Error) -> syn::Error {
        self.push(error);
        self.into_result().err().unwrap_or_else(|| unreachable!("an error was just pushed"))
    }

    /// The messages, for tests (which count as reporting them).
    #[cfg(test)]
    pub fn messages(&self) -> Vec<String> {
        self.consumed.set(true);
        self.errors.iter().map(ToString::to_string).collect()
    }
}

impl Drop for Errors {
    fn drop(&mut self) {
        if !self.consumed.get() && !self.errors.is_empty() && !std::thread::panicking() {
            panic!("mageflow-macros found {} mistake(s) but never reported them", self.errors.len());
        }
    }
}

impl std::fmt::Debug for Errors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.errors.iter().map(ToString::to_string)).finish()
    }
}
