//! Procedural macros of mageflow.
