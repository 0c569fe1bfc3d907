// flow!(extract >> load, name = "etl", on_success = notify.bind(to = "ops") >> archive, on_error = alert)
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
        let __mageflow_flow10 = ::mageflow::__private_v0_1_0::named(
            __mageflow_flow10,
            "etl",
        );
        let __mageflow_binder12 = ({
            #[diagnostic::on_unimplemented(
                message = "`notify` is not a task, so it has no arguments to bind",
                label = "not a task",
                note = "`.bind(..)` binds fields of the input of a task made with `#[mageflow::task]`"
            )]
            trait Task: Sized {
                type Input;
                type Output;
                fn start(
                    self,
                ) -> ::mageflow::__private_v0_1_0::Binder<Self::Input, Self::Output, ()>;
            }
            #[diagnostic::do_not_recommend]
            impl<T: ::mageflow::__private_v0_1_0::Task> Task for T {
                type Input = T::Input;
                type Output = T::Output;
                fn start(
                    self,
                ) -> ::mageflow::__private_v0_1_0::Binder<T::Input, T::Output, ()> {
                    ::mageflow::__private_v0_1_0::Binder::new(&self)
                }
            }
            Task::start
        })(notify);
        let (__mageflow_fields11, __mageflow_binder12) = ({
            fn fields<I, O, S, F, U>(
                binder: ::mageflow::__private_v0_1_0::Binder<I, O, S>,
            ) -> (F, ::mageflow::__private_v0_1_0::Binder<I, O, U>)
            where
                I: ::mageflow::__private_v0_1_0::InputFields<Fields = F, Unbound = U>,
            {
                ::mageflow::__private_v0_1_0::InputFields::bind_fields(binder)
            }
            fields
        })(__mageflow_binder12);
        let __mageflow_route13 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_binder12,
        ))
            .route();
        let __mageflow_role14 = __mageflow_route13.role(&__mageflow_fields11.to);
        ({
            #[diagnostic::on_unimplemented(
                message = "`notify.bind(to = ..)`: `to` receives the output of the flow, so it cannot be bound",
                label = "`to` is fed by the previous step",
                note = "a task that follows another step gets that step's output in its \
                                    `#[mageflow(return_value)]` field: bind its other fields, or start the flow with \
                                    it to give that field in the flow's input"
            )]
            trait Bindable: Sized {
                fn field(_role: ::core::marker::PhantomData<Self>) {}
            }
            #[diagnostic::do_not_recommend]
            impl<M: ::mageflow::__private_v0_1_0::Unfed> Bindable for M {}
            Bindable::field
        })(__mageflow_role14);
        let __mageflow_binder12 = ::mageflow::__private_v0_1_0::bind(
            __mageflow_binder12,
            &__mageflow_fields11.to,
            &({
                #[diagnostic::on_unimplemented(
                    message = "`notify.bind(to = ..)`: the field `to` takes `{F}`, but this value is `{Self}`",
                    label = "expected `{F}`"
                )]
                trait Fits<F>: Sized {
                    fn value<M>(
                        _slot: &::mageflow::__private_v0_1_0::Slot<M, F>,
                        value: Self,
                    ) -> Self {
                        value
                    }
                }
                #[diagnostic::do_not_recommend]
                impl<F> Fits<F> for F {}
                #[diagnostic::do_not_recommend]
                impl Fits<::std::string::String> for &str {}
                #[diagnostic::do_not_recommend]
                impl<F> Fits<F> for &F {}
                Fits::value
            })(&__mageflow_fields11.to, "ops"),
        );
        let __mageflow_binding16 = __mageflow_binder12.binding();
        let __mageflow_missing17 = __mageflow_route13.missing(&__mageflow_binding16);
        ({
            #[diagnostic::on_unimplemented(
                message = "`notify` follows the flow, but its field `{Self}` is neither bound nor fed",
                label = "`{Self}` is required: bind it with `.bind({Self} = ...)`",
                note = "The output of the flow goes to the `#[mageflow(return_value)]` field of the input of `notify`; its other fields without a default must be bound"
            )]
            trait Bound: Sized {
                fn fields(_missing: ::core::marker::PhantomData<Self>) {}
            }
            #[diagnostic::do_not_recommend]
            impl Bound for ::mageflow::__private_v0_1_0::AllBound {}
            Bound::fields
        })(__mageflow_missing17);
        let __mageflow_node15 = ::mageflow::__private_v0_1_0::bound(__mageflow_binder12);
        let __mageflow_expected19 = __mageflow_route13.expected(&__mageflow_node15);
        let __mageflow_fed18 = ({
            #[diagnostic::on_unimplemented(
                message = "`notify` takes `{E}`, but the flow produces `{Self}`",
                label = "`notify` does not take `{Self}`",
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
            __mageflow_expected19,
            ::mageflow::__private_v0_1_0::output_of(&__mageflow_flow10),
            __mageflow_node15,
        );
        let __mageflow_seq20 = ::mageflow::__private_v0_1_0::seq(__mageflow_fed18);
        let (__mageflow_node21, __mageflow_binding22) = ({
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
        })(archive);
        let __mageflow_route23 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_node21,
        ))
            .route();
        let __mageflow_missing24 = __mageflow_route23.missing(&__mageflow_binding22);
        ({
            #[diagnostic::on_unimplemented(
                message = "`archive` follows `notify`, but its field `{Self}` is neither bound nor fed",
                label = "`{Self}` is required: bind it with `.bind({Self} = ...)`",
                note = "The output of `notify` goes to the `#[mageflow(return_value)]` field of the input of `archive`; its other fields without a default must be bound"
            )]
            trait Bound: Sized {
                fn fields(_missing: ::core::marker::PhantomData<Self>) {}
            }
            #[diagnostic::do_not_recommend]
            impl Bound for ::mageflow::__private_v0_1_0::AllBound {}
            Bound::fields
        })(__mageflow_missing24);
        let __mageflow_expected26 = __mageflow_route23.expected(&__mageflow_node21);
        let __mageflow_fed25 = ({
            #[diagnostic::on_unimplemented(
                message = "`archive` takes `{E}`, but `notify` produces `{Self}`",
                label = "`archive` does not take `{Self}`",
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
            __mageflow_expected26,
            ::mageflow::__private_v0_1_0::output_of(&__mageflow_seq20),
            __mageflow_node21,
        );
        let __mageflow_seq20 = ::mageflow::__private_v0_1_0::then(
            __mageflow_seq20,
            __mageflow_fed25,
        );
        let __mageflow_flow27 = ::mageflow::__private_v0_1_0::end(__mageflow_seq20);
        let __mageflow_flow10 = ::mageflow::__private_v0_1_0::on_success(
            __mageflow_flow10,
            __mageflow_flow27,
        );
        let (__mageflow_node28, __mageflow_binding29) = ({
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
        })(alert);
        let __mageflow_route30 = (&::mageflow::__private_v0_1_0::RouteProbe::of(
            &__mageflow_node28,
        ))
            .route();
        let __mageflow_missing31 = __mageflow_route30.missing(&__mageflow_binding29);
        ({
            #[diagnostic::on_unimplemented(
                message = "`alert` follows an error (it is an error callback), but its field `{Self}` is neither bound nor fed",
                label = "`{Self}` is required: bind it with `.bind({Self} = ...)`",
                note = "The failure report goes to the `#[mageflow(return_value)]` field of the input of `alert`; its other fields without a default must be bound"
            )]
            trait Bound: Sized {
                fn fields(_missing: ::core::marker::PhantomData<Self>) {}
            }
            #[diagnostic::do_not_recommend]
            impl Bound for ::mageflow::__private_v0_1_0::AllBound {}
            Bound::fields
        })(__mageflow_missing31);
        let __mageflow_expected33 = __mageflow_route30.expected(&__mageflow_node28);
        let __mageflow_fed32 = ({
            #[diagnostic::on_unimplemented(
                message = "`alert` takes `{Self}`, but an error callback receives a failure report (`mageflow::Failure`)",
                label = "`alert` does not take a `Failure`",
                note = "an error callback takes `mageflow::Failure<I>` (`I` the failed task's input, or \
                                    `serde_json::Value`) as its whole input, or in its `#[mageflow(return_value)]` \
                                    field"
            )]
            trait FailureReport: Sized {
                fn callback<B, O>(
                    _expected: ::core::marker::PhantomData<Self>,
                    next: ::mageflow::__private_v0_1_0::Flow<B, O>,
                ) -> ::mageflow::__private_v0_1_0::Flow<
                    ::mageflow::__private_v0_1_0::Failure<
                        ::mageflow::__private_v0_1_0::serde_json::Value,
                    >,
                    O,
                > {
                    ::mageflow::__private_v0_1_0::retype(next)
                }
            }
            #[diagnostic::do_not_recommend]
            impl<T: ::mageflow::__private_v0_1_0::FailureReport> FailureReport for T {}
            FailureReport::callback
        })(__mageflow_expected33, __mageflow_node28);
        let __mageflow_flow10 = ::mageflow::__private_v0_1_0::on_error(
            __mageflow_flow10,
            __mageflow_fed32,
        );
        __mageflow_flow10
    };
}
