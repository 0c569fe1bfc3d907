// flow!()
fn flow() {
    let _ = {
        ::core::compile_error! {
            "an empty flow: `flow!` needs at least one task, like `flow!(charge >> send_receipt)`"
        };
        ::mageflow::__private_v0_1_0::placeholder()
    };
}
