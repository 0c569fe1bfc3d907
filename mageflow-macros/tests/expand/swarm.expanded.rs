// flow!(fetch >> [resize, thumbnail >> upload; max_concurrency = 4] >> publish)
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
        })(fetch);
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
        })(resize);
        let __mageflow_route5 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_node3,
        ))
            .route();
        let __mageflow_missing6 = __mageflow_route5.missing(&__mageflow_binding4);
        ({
            #[diagnostic::on_unimplemented(
                message = "`resize` follows `fetch`, but its field `{Self}` is neither bound nor fed",
                label = "`{Self}` is required: bind it with `.bind({Self} = ...)`",
                note = "The output of `fetch` goes to the `#[mageflow(return_value)]` field of the input of `resize`; its other fields without a default must be bound"
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
                message = "`resize` takes `{E}`, but `fetch` produces `{Self}`",
                label = "`resize` does not take `{Self}`",
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
        let (__mageflow_node9, __mageflow_binding10) = ({
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
        let __mageflow_route11 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_node9,
        ))
            .route();
        let __mageflow_missing12 = __mageflow_route11.missing(&__mageflow_binding10);
        ({
            #[diagnostic::on_unimplemented(
                message = "`thumbnail` follows `fetch`, but its field `{Self}` is neither bound nor fed",
                label = "`{Self}` is required: bind it with `.bind({Self} = ...)`",
                note = "The output of `fetch` goes to the `#[mageflow(return_value)]` field of the input of `thumbnail`; its other fields without a default must be bound"
            )]
            trait Bound: Sized {
                fn fields(_missing: ::core::marker::PhantomData<Self>) {}
            }
            #[diagnostic::do_not_recommend]
            impl Bound for ::mageflow::__private_v0_1_0::AllBound {}
            Bound::fields
        })(__mageflow_missing12);
        let __mageflow_expected14 = __mageflow_route11.expected(&__mageflow_node9);
        let __mageflow_fed13 = ({
            #[diagnostic::on_unimplemented(
                message = "`thumbnail` takes `{E}`, but `fetch` produces `{Self}`",
                label = "`thumbnail` does not take `{Self}`",
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
            __mageflow_expected14,
            ::mageflow::__private_v0_1_0::output_of(&__mageflow_seq2),
            __mageflow_node9,
        );
        let __mageflow_seq15 = ::mageflow::__private_v0_1_0::seq(__mageflow_fed13);
        let (__mageflow_node16, __mageflow_binding17) = ({
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
        })(upload);
        let __mageflow_route18 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_node16,
        ))
            .route();
        let __mageflow_missing19 = __mageflow_route18.missing(&__mageflow_binding17);
        ({
            #[diagnostic::on_unimplemented(
                message = "`upload` follows `thumbnail`, but its field `{Self}` is neither bound nor fed",
                label = "`{Self}` is required: bind it with `.bind({Self} = ...)`",
                note = "The output of `thumbnail` goes to the `#[mageflow(return_value)]` field of the input of `upload`; its other fields without a default must be bound"
            )]
            trait Bound: Sized {
                fn fields(_missing: ::core::marker::PhantomData<Self>) {}
            }
            #[diagnostic::do_not_recommend]
            impl Bound for ::mageflow::__private_v0_1_0::AllBound {}
            Bound::fields
        })(__mageflow_missing19);
        let __mageflow_expected21 = __mageflow_route18.expected(&__mageflow_node16);
        let __mageflow_fed20 = ({
            #[diagnostic::on_unimplemented(
                message = "`upload` takes `{E}`, but `thumbnail` produces `{Self}`",
                label = "`upload` does not take `{Self}`",
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
            __mageflow_expected21,
            ::mageflow::__private_v0_1_0::output_of(&__mageflow_seq15),
            __mageflow_node16,
        );
        let __mageflow_seq15 = ::mageflow::__private_v0_1_0::then(
            __mageflow_seq15,
            __mageflow_fed20,
        );
        let __mageflow_flow22 = ::mageflow::__private_v0_1_0::end(__mageflow_seq15);
        let __mageflow_swarm23 = ::mageflow::__private_v0_1_0::swarm(
            (__mageflow_fed7, __mageflow_flow22),
            ::mageflow::__private_v0_1_0::SwarmOptions {
                max_concurrency: ::core::option::Option::Some(4),
                stop_after_failures: ::core::option::Option::None,
                max_items: ::core::option::Option::None,
            },
        );
        let __mageflow_seq2 = ::mageflow::__private_v0_1_0::then(
            __mageflow_seq2,
            __mageflow_swarm23,
        );
        let (__mageflow_node24, __mageflow_binding25) = ({
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
        })(publish);
        let __mageflow_route26 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_node24,
        ))
            .route();
        let __mageflow_missing27 = __mageflow_route26.missing(&__mageflow_binding25);
        ({
            #[diagnostic::on_unimplemented(
                message = "`publish` follows the swarm `[resize, thumbnail >> upload]`, but its field `{Self}` is neither bound nor fed",
                label = "`{Self}` is required: bind it with `.bind({Self} = ...)`",
                note = "The output of the swarm `[resize, thumbnail >> upload]` goes to the `#[mageflow(return_value)]` field of the input of `publish`; its other fields without a default must be bound"
            )]
            trait Bound: Sized {
                fn fields(_missing: ::core::marker::PhantomData<Self>) {}
            }
            #[diagnostic::do_not_recommend]
            impl Bound for ::mageflow::__private_v0_1_0::AllBound {}
            Bound::fields
        })(__mageflow_missing27);
        let __mageflow_expected29 = __mageflow_route26.expected(&__mageflow_node24);
        let __mageflow_fed28 = ({
            #[diagnostic::on_unimplemented(
                message = "`publish` takes `{E}`, but the swarm `[resize, thumbnail >> upload]` produces `{Self}`",
                label = "`publish` does not take `{Self}`",
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
            __mageflow_expected29,
            ::mageflow::__private_v0_1_0::output_of(&__mageflow_seq2),
            __mageflow_node24,
        );
        let __mageflow_seq2 = ::mageflow::__private_v0_1_0::then(
            __mageflow_seq2,
            __mageflow_fed28,
        );
        let __mageflow_flow30 = ::mageflow::__private_v0_1_0::end(__mageflow_seq2);
        let __mageflow_flow31 = __mageflow_flow30;
        __mageflow_flow31
    };
}
