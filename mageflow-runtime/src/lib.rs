//! The mageflow runtime.
