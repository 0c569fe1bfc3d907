// flow!([resize, thumbnail; stop_after_failures = 2, max_items = 2])
fn flow() {
    let _ = {
        #[allow(unused_imports)]
        use ::mageflow::__private_v0_1_0::{
            RouteOfTaskInput as _, RouteOfWholeInput as _,
        };
        let (__mageflow_node1, _) = ({
            fn node<N, I, O, B>(
                node: N,
            ) -> (
                ::mageflow::__private_v0_1_0::Flow<I, O>,
                ::core::marker::PhantomData<B>,
            )
            where
                N: ::mageflow::__private_v0_1_0::IntoFlow<
                    Input = I,
                    Output = O,
                    Binding = B,
                >,
            {
                (
                    ::mageflow::__private_v0_1_0::IntoFlow::into_flow(node),
                    ::core::marker::PhantomData,
                )
            }
            node
        })(resize);
        let (__mageflow_node2, _) = ({
            fn node<N, I, O, B>(
                node: N,
            ) -> (
                ::mageflow::__private_v0_1_0::Flow<I, O>,
                ::core::marker::PhantomData<B>,
            )
            where
                N: ::mageflow::__private_v0_1_0::IntoFlow<
                    Input = I,
                    Output = O,
                    Binding = B,
                >,
            {
                (
                    ::mageflow::__private_v0_1_0::IntoFlow::into_flow(node),
                    ::core::marker::PhantomData,
                )
            }
            node
        })(thumbnail);
        let __mageflow_member3 = ({
            #[diagnostic::on_unimplemented(
                message = "`thumbnail` takes `{Self}`, but `resize` takes `{I}`: the members of a swarm that starts a flow all take the flow's input",
                label = "expected `{I}`"
            )]
            trait Fits<I>: Sized {
                fn member<O0, O>(
                    _first: &::mageflow::__private_v0_1_0::Flow<I, O0>,
                    member: ::mageflow::__private_v0_1_0::Flow<Self, O>,
                ) -> ::mageflow::__private_v0_1_0::Flow<I, O> {
                    ::mageflow::__private_v0_1_0::retype(member)
                }
            }
            #[diagnostic::do_not_recommend]
            impl<T> Fits<T> for T {}
            Fits::member
        })(&__mageflow_node1, __mageflow_node2);
        let __mageflow_swarm4 = ::mageflow::__private_v0_1_0::swarm_outcomes(
            (__mageflow_node1, __mageflow_member3),
            ::mageflow::__private_v0_1_0::SwarmOptions {
                max_concurrency: ::core::option::Option::None,
                stop_after_failures: ::core::option::Option::Some(2),
                max_items: ::core::option::Option::Some(2),
            },
        );
        let __mageflow_flow5 = __mageflow_swarm4;
        __mageflow_flow5
    };
}
