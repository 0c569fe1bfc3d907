//! The Hatchet backend of mageflow.
