// flow!(extract >> load >>)
fn flow() {
    let _ = {
        ::core::compile_error! {
            "a dangling `>>`: expected a task, `task.bind(..)`, a swarm `[..]`, a group `(..)` or a flow in braces `{ .. }` after it, or remove it"
        };
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
        })(extract);
        let __mageflow_seq2 = ::mageflow::__private_v0_1_0::seq(__mageflow_node1);
        let (__mageflow_node3, __mageflow_binding4) = ({
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
        })(load);
        let __mageflow_route5 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_node3,
        ))
            .route();
        let __mageflow_missing6 = __mageflow_route5.missing(&__mageflow_binding4);
        ({
            #[diagnostic::on_unimplemented(
                message = "`load` follows `extract`, but its field `{Self}` is neither bound nor fed",
                label = "`{Self}` is required: bind it with `.bind({Self} = ...)`",
                note = "The output of `extract` goes to the `#[mageflow(return_value)]` field of the input of `load`; its other fields without a default must be bound"
            )]
            trait Bound: Sized {
                fn fields(_missing: ::core::marker::PhantomData<Self>) {}
            }
            #[diagnostic::do_not_recommend]
            impl Bound for ::mageflow::__private_v0_1_0::AllBound {}
            Bound::fields
        })(__mageflow_missing6);
        let __mageflow_expected8 = __mageflow_route5.expected(&__mageflow_node3);
        let __mageflow_fed7 = ({
            #[diagnostic::on_unimplemented(
                message = "`load` takes `{E}`, but `extract` produces `{Self}`",
                label = "`load` does not take `{Self}`",
                note = "a step takes the previous step's output as its whole input, or in the \
                                    `#[mageflow(return_value)]` field of an input that derives `TaskInput`"
            )]
            trait Fits<E>: Sized {
                fn step<B, O>(
                    _expected: ::core::marker::PhantomData<E>,
                    _output: ::core::marker::PhantomData<Self>,
                    next: ::mageflow::__private_v0_1_0::Flow<B, O>,
                ) -> ::mageflow::__private_v0_1_0::Flow<Self, O> {
                    ::mageflow::__private_v0_1_0::retype(next)
                }
            }
            #[diagnostic::do_not_recommend]
            impl<T> Fits<T> for T {}
            Fits::step
        })(
            __mageflow_expected8,
            ::mageflow::__private_v0_1_0::output_of(&__mageflow_seq2),
            __mageflow_node3,
        );
        let __mageflow_seq2 = ::mageflow::__private_v0_1_0::then(
            __mageflow_seq2,
            __mageflow_fed7,
        );
        let __mageflow_flow9 = ::mageflow::__private_v0_1_0::end(__mageflow_seq2);
        let __mageflow_flow10 = __mageflow_flow9;
        __mageflow_flow10
    };
}
