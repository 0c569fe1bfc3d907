//! Compile-time behaviour of the macros: what compiles, and the error each mistake gives (`tests/ui/**/*.stderr`).
//! Regenerate the expected errors with `TRYBUILD=overwrite cargo test --test ui`, then read every one.

#[test]
fn task() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/task/pass_*.rs");
    cases.compile_fail("tests/ui/task/fail_*.rs");
}

#[test]
fn task_input() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/task_input/pass_*.rs");
    cases.compile_fail("tests/ui/task_input/fail_*.rs");
}

#[test]
fn flow() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/flow/pass_*.rs");
    cases.compile_fail("tests/ui/flow/fail_*.rs");
}
