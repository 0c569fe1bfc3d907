// flow!([resize, thumbnail; stop_after_failures = 2, max_items = 2])
fn flow() {
    let _ = {
        #[allow(unused_imports)]
        use ::mageflow::__private_v0_1_0::{
            RouteOfTaskInput as _, RouteOfWholeInput as _,
        };
        #[diagnostic::on_unimplemented(
            message = "`thumbnail` takes `{Self}`, but `resize` takes `{I}`: the members of a swarm that starts a flow all take the flow's input",
            label = "expected `{I}`"
        )]
        trait MageflowSameInput3<I> {}
        impl<T: ::mageflow::__private_v0_1_0::SameInput<I>, I> MageflowSameInput3<I>
        for T {}
        fn __mageflow_same_input_3<I, O0, B, O>(
            _first: &::mageflow::__private_v0_1_0::Flow<I, O0>,
            member: ::mageflow::__private_v0_1_0::Flow<B, O>,
        ) -> ::mageflow::__private_v0_1_0::Flow<I, O>
        where
            B: MageflowSameInput3<I>,
        {
            ::mageflow::__private_v0_1_0::retype(member)
        }
        let (__mageflow_node1, _) = ::mageflow::__private_v0_1_0::node(resize);
        let (__mageflow_node2, _) = ::mageflow::__private_v0_1_0::node(thumbnail);
        let __mageflow_member4 = __mageflow_same_input_3(
            &__mageflow_node1,
            __mageflow_node2,
        );
        let __mageflow_swarm5 = ::mageflow::__private_v0_1_0::swarm_outcomes(
            (__mageflow_node1, __mageflow_member4),
            ::mageflow::__private_v0_1_0::SwarmOptions {
                max_concurrency: ::core::option::Option::None,
                stop_after_failures: ::core::option::Option::Some(2),
                max_items: ::core::option::Option::Some(2),
            },
        );
        let __mageflow_flow6 = __mageflow_swarm5;
        __mageflow_flow6
    };
}
