//! The input derives: `#[derive(TaskInput)]` (the return-value field) and `#[derive(InputFields)]` (the fields
//! `flow!` can bind), which share how serde names fields.

pub(crate) mod fields;
mod serde_names;
pub(crate) mod task_input;
