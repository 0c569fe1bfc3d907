#![deny(warnings)]

use mageflow::TaskInput;
use serde::Deserialize;

#[derive(Deserialize, TaskInput)]
pub struct Plain {
    #[mageflow(return_value)]
    pub previous: u32,
    pub other: String,
}

#[derive(Deserialize, TaskInput)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
pub struct RenamedAll {
    pub other: String,
    #[mageflow(return_value)]
    pub previous_result: Vec<u8>,
}

#[derive(Deserialize, TaskInput)]
#[serde(rename_all = "camelCase")]
pub struct RenamedField {
    #[serde(rename(serialize = "out", deserialize = "in"))]
    #[mageflow(return_value)]
    pub previous_result: Option<String>,
}

#[derive(Deserialize, TaskInput)]
pub struct Generic<T> {
    #[mageflow(return_value)]
    pub r#type: T,
}

fn return_field<T: TaskInput>() -> &'static str {
    T::RETURN_FIELD
}

fn main() {
    assert_eq!(return_field::<Plain>(), "previous");
    assert_eq!(return_field::<RenamedAll>(), "PREVIOUS-RESULT");
    assert_eq!(return_field::<RenamedField>(), "in");
    assert_eq!(return_field::<Generic<bool>>(), "type");
    let _: <Generic<bool> as TaskInput>::ReturnValue = true;
    let _: <RenamedAll as TaskInput>::ReturnValue = vec![1u8];
}
