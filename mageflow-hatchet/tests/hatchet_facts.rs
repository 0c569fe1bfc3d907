//! The fake engine behaves as Hatchet does wherever a client can tell (issue 12's list of facts).

mod common;
