// flow!(extract >> (clean >> dedupe) >> { load_flow(day) })
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
        })(clean);
        let __mageflow_route5 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_node3,
        ))
            .route();
        let __mageflow_missing6 = __mageflow_route5.missing(&__mageflow_binding4);
        ({
            #[diagnostic::on_unimplemented(
                message = "`clean` follows `extract`, but its field `{Self}` is neither bound nor fed",
                label = "`{Self}` is required: bind it with `.bind({Self} = ...)`",
                note = "The output of `extract` goes to the `#[mageflow(return_value)]` field of the input of `clean`; its other fields without a default must be bound"
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
                message = "`clean` takes `{E}`, but `extract` produces `{Self}`",
                label = "`clean` does not take `{Self}`",
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
        let __mageflow_seq9 = ::mageflow::__private_v0_1_0::seq(__mageflow_fed7);
        let (__mageflow_node10, __mageflow_binding11) = ({
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
        })(dedupe);
        let __mageflow_route12 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_node10,
        ))
            .route();
        let __mageflow_missing13 = __mageflow_route12.missing(&__mageflow_binding11);
        ({
            #[diagnostic::on_unimplemented(
                message = "`dedupe` follows `clean`, but its field `{Self}` is neither bound nor fed",
                label = "`{Self}` is required: bind it with `.bind({Self} = ...)`",
                note = "The output of `clean` goes to the `#[mageflow(return_value)]` field of the input of `dedupe`; its other fields without a default must be bound"
            )]
            trait Bound: Sized {
                fn fields(_missing: ::core::marker::PhantomData<Self>) {}
            }
            #[diagnostic::do_not_recommend]
            impl Bound for ::mageflow::__private_v0_1_0::AllBound {}
            Bound::fields
        })(__mageflow_missing13);
        let __mageflow_expected15 = __mageflow_route12.expected(&__mageflow_node10);
        let __mageflow_fed14 = ({
            #[diagnostic::on_unimplemented(
                message = "`dedupe` takes `{E}`, but `clean` produces `{Self}`",
                label = "`dedupe` does not take `{Self}`",
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
            __mageflow_expected15,
            ::mageflow::__private_v0_1_0::output_of(&__mageflow_seq9),
            __mageflow_node10,
        );
        let __mageflow_seq9 = ::mageflow::__private_v0_1_0::then(
            __mageflow_seq9,
            __mageflow_fed14,
        );
        let __mageflow_flow16 = ::mageflow::__private_v0_1_0::end(__mageflow_seq9);
        let __mageflow_seq2 = ::mageflow::__private_v0_1_0::then(
            __mageflow_seq2,
            __mageflow_flow16,
        );
        let (__mageflow_node17, __mageflow_binding18) = ({
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
        })({ load_flow(day) });
        let __mageflow_route19 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_node17,
        ))
            .route();
        let __mageflow_missing20 = __mageflow_route19.missing(&__mageflow_binding18);
        ({
            #[diagnostic::on_unimplemented(
                message = "`{{ load_flow (day) }}` follows `dedupe`, but its field `{Self}` is neither bound nor fed",
                label = "`{Self}` is required: bind it with `.bind({Self} = ...)`",
                note = "The output of `dedupe` goes to the `#[mageflow(return_value)]` field of the input of `{{ load_flow (day) }}`; its other fields without a default must be bound"
            )]
            trait Bound: Sized {
                fn fields(_missing: ::core::marker::PhantomData<Self>) {}
            }
            #[diagnostic::do_not_recommend]
            impl Bound for ::mageflow::__private_v0_1_0::AllBound {}
            Bound::fields
        })(__mageflow_missing20);
        let __mageflow_expected22 = __mageflow_route19.expected(&__mageflow_node17);
        let __mageflow_fed21 = ({
            #[diagnostic::on_unimplemented(
                message = "`{{ load_flow (day) }}` takes `{E}`, but `dedupe` produces `{Self}`",
                label = "`{{ load_flow (day) }}` does not take `{Self}`",
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
            __mageflow_expected22,
            ::mageflow::__private_v0_1_0::output_of(&__mageflow_seq2),
            __mageflow_node17,
        );
        let __mageflow_seq2 = ::mageflow::__private_v0_1_0::then(
            __mageflow_seq2,
            __mageflow_fed21,
        );
        let __mageflow_flow23 = ::mageflow::__private_v0_1_0::end(__mageflow_seq2);
        let __mageflow_flow24 = __mageflow_flow23;
        __mageflow_flow24
    };
}
